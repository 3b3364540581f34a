"""Production shape: two `pitwall serve` processes and a `pitwall worker` on PostgreSQL and Redis.

A move made through one web process reaches a board open on the other; Redis restarting empty in the
middle costs no committed change: open boards are told to reset and keep receiving moves, a board that
was closed during the outage is reset on its return, and the worker's relay publishes every event.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis
from sqlalchemy import func, select

from ops.db import Database
from ops.events import Event
from ops.migrate import upgrade_to_head
from ops.workshop import queries
from tests.conftest import _create_postgres_database, _drop_postgres_database, free_port
from tests.factories import TenantFactory, TenantHandle
from tests.web import SseMessage, SseStream, http_sign_in, open_sse
from tests.workshop.order_helpers import give_bay

pytestmark = pytest.mark.slow

PITWALL = Path(sys.executable).with_name("pitwall")


@dataclass
class Processes:
    """Every process this test starts, so that all of them are stopped whatever happens."""

    folder: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.folder / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    async def stop(self, name: str) -> None:
        process = self.running.pop(name)
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait, 10)

    async def stop_all(self) -> None:
        for name in list(self.running):
            await self.stop(name)

    def logs(self) -> str:
        parts = []
        for path in sorted(self.folder.glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()[-30:]
            parts.append(f"--- {path.name}\n" + "\n".join(lines))
        return "\n".join(parts)


async def start_redis(processes: Processes, port: int) -> None:
    """A Redis of our own that keeps nothing: stopping it loses the stream, like a crash."""
    processes.start(
        "redis",
        [
            "redis-server",
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(processes.folder),
        ],
    )  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    try:
        for _ in range(200):
            with contextlib.suppress(redis.ConnectionError):
                if await client.ping():
                    return
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()
    raise RuntimeError(f"redis-server did not start on port {port}")


async def wait_for_http(url: str, wait: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + wait
    async with httpx.AsyncClient(timeout=2) as client:
        while asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def version_of(db: Database, shop: TenantHandle, work_order_id: int) -> int:
    async with db.read(shop.id) as session:
        card = await queries.card(session, work_order_id)
    assert card is not None
    return card.version


async def move_through(
    client: httpx.AsyncClient, token: str, db: Database, shop: TenantHandle, work_order_id: int, status: str
) -> None:
    """A staff member moves a card in their browser: the POST the board's move menu sends."""
    response = await client.post(
        f"/workshop/work-orders/{work_order_id}/move",
        data={"status": status, "version": str(await version_of(db, shop, work_order_id))},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert response.status_code == 200, response.text


def shows_move(message: SseMessage, work_order_id: int, status: str) -> bool:
    return (
        message.event == "update"
        and f'id="wo-{work_order_id}"' in message.data
        and f'hx-swap-oob="afterbegin:#cards-{status}"' in message.data
    )


async def read_until_move(
    stream: SseStream, work_order_id: int, status: str, wait: float = 20
) -> tuple[SseMessage, list[str]]:
    """Read until the board shows the move; returns that message and the events seen on the way."""
    seen: list[str] = []

    async def scan() -> SseMessage:
        while True:
            message = await stream.next(wait=wait)
            seen.append(message.event)
            if shows_move(message, work_order_id, status):
                return message

    return await asyncio.wait_for(scan(), wait), seen


async def unpublished_events(db: Database) -> int:
    async with db.system() as session:
        return int(await session.scalar(select(func.count()).where(Event.published_at.is_(None))) or 0)


@contextlib.asynccontextmanager
async def production(tmp_path: Path) -> AsyncIterator[tuple[Processes, int, str]]:
    """A throw-away database and a Redis of our own, removed afterwards whatever happened."""
    processes = Processes(tmp_path)
    redis_port = free_port()
    database_url = await _create_postgres_database()
    try:
        await upgrade_to_head(database_url)
        await start_redis(processes, redis_port)
        yield processes, redis_port, database_url
    except BaseException:
        print(processes.logs())
        raise
    finally:
        await processes.stop_all()
        await _drop_postgres_database(database_url)


async def test_moves_cross_web_processes_and_survive_a_redis_restart(tmp_path):
    async with production(tmp_path) as (processes, redis_port, database_url):
        port_a, port_b = free_port(), free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "PITWALL_DATA_DIR": str(tmp_path / "data"),
            "PITWALL_SECRET_KEY": secrets.token_urlsafe(32),
            "PITWALL_EMBEDDED_WORKER": "0",
            "PITWALL_ENV": "test",
        }
        processes.start("web-a", [str(PITWALL), "serve", "--port", str(port_a)], env)
        processes.start("web-b", [str(PITWALL), "serve", "--port", str(port_b)], env)
        processes.start("worker", [str(PITWALL), "worker"], env)
        url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"

        db = Database(database_url)
        try:
            shop = await TenantFactory(db).tenant()
            advisor = await shop.user("service_advisor")
            tech = await shop.user("technician")
            # It goes into work, on a bay.
            card = (await give_bay(shop, await shop.work_order())).id
            await asyncio.gather(wait_for_http(url_a), wait_for_http(url_b))

            async with (
                http_sign_in(url_a, advisor.email) as (browser_a, token),
                http_sign_in(url_b, tech.email) as (browser_b, _token),
                open_sse(browser_b, "workshop") as board_b,
            ):
                # A second board on B that will be closed during the outage.
                async with open_sse(browser_b, "workshop") as closed_later:
                    await asyncio.sleep(0.2)
                    await move_through(browser_a, token, db, shop, card, "SCHEDULED")
                    await read_until_move(board_b, card, "SCHEDULED")
                    last_seen = (await read_until_move(closed_later, card, "SCHEDULED"))[0].id

                # Redis crashes and comes back empty; a move made in between is committed anyway.
                await processes.stop("redis")
                await move_through(browser_a, token, db, shop, card, "CHECKED_IN")
                await start_redis(processes, redis_port)

                _message, seen = await read_until_move(board_b, card, "CHECKED_IN")
                assert "reset" in seen, f"the open board was not told to reset: {seen}"
                await move_through(browser_a, token, db, shop, card, "IN_PROGRESS")
                await read_until_move(board_b, card, "IN_PROGRESS")

                async with open_sse(browser_b, "workshop", last_event_id=last_seen) as returning:
                    first = await returning.next(wait=20)
                    assert first.event == "reset", f"a board back from the outage got {first}"

            for _ in range(200):
                if await unpublished_events(db) == 0:
                    break
                await asyncio.sleep(0.1)
            assert await unpublished_events(db) == 0, "a committed event was never published"
            async with db.system() as session:
                moves = await session.scalar(
                    select(func.count()).where(Event.tenant_id == shop.id, Event.type == "work_order.moved")
                )
            assert moves == 3
        finally:
            await db.dispose()
