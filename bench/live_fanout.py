"""Live fan-out benchmark: C browsers watch the job board of ONE web process while a writer moves cards.

    .venv/bin/python bench/live_fanout.py --clients 100,1000 --rates 20,50 \
        --backends embedded,postgres --duration 10 --saturation

For each backend it creates a throw-away deployment (a data folder; for `postgres` also a fresh
PostgreSQL database and Redis key prefix), migrates and seeds it, and for each (clients, rate) cell:

1. starts one `pitwall serve` (and for `postgres` one `pitwall worker`),
2. signs in once and opens C SSE connections to `/live?topic=workshop` from separate load-generator
   processes (raw asyncio protocols: de-chunk, split messages, one dict look-up per message),
3. POSTs card moves at R per second over HTTP, the way the board's move menu does (CSRF token, version),
4. matches every SSE message to its event by work-order id and `data-version` of the card it carries,
   and measures latency from the event's `created_at` in the events table (the commit, same clock) to
   the moment the message arrived at the client.

Reported per cell: moves and deliveries per second, latency p50/p99/max, lost deliveries (expected =
moves x clients, minus unique received), duplicated deliveries, server CPU (one core = 100 %) and peak
RSS, and the move POST's own p99. `--saturation` then raises the rate at the largest C until p99 goes
over 100 ms, a delivery is lost, or the server no longer keeps up with the writer.

Everything runs on 127.0.0.1; all processes, the database and the Redis keys are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import redis.asyncio as redis
from sqlalchemy import func, select, update

from ops.auth.actor import Actor
from ops.auth.models import User
from ops.config import load_settings
from ops.db import Database, utcnow
from ops.events import Event
from ops.migrate import upgrade_to_head
from ops.seed import DEMO_PASSWORD, seed_demo
from ops.vehicles.models import Vehicle
from ops.workshop.models import WorkOrder
from ops.workshop.service import NewWorkOrder, create_work_order

ROOT = Path(__file__).resolve().parent.parent
PITWALL = str(Path(sys.executable).with_name("pitwall"))
ADMIN_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
WRITER_EMAIL = "workshop.manager@demo.test"
WATCHER_EMAIL = "advisor@demo.test"
# Cards that cycle NEW <-> SCHEDULED. Enough that one card moves again only long after its previous
# move was fanned out: the live fragment shows the card as it is at render time.
CYCLING_CARDS = 600
NEXT_STATUS = {"NEW": "SCHEDULED", "SCHEDULED": "NEW"}
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
CARD_IN_MESSAGE = re.compile(rb'<li class="card[^>]*? id="wo-(\d+)"[^>]*? data-version="(\d+)"')
P99_LIMIT_MS = 100.0


# -- the load generator (runs in its own processes) ---------------------------------------------------

Key = tuple[int, int]  # (work order id, version)


class Tally:
    """What one generator process received, over all its connections."""

    def __init__(self) -> None:
        self.keys: dict[bytes, Key | None] = {}
        self.arrivals: dict[Key, list[float]] = {}
        self.duplicates = 0
        self.resets = 0
        self.closed_early = 0
        self.unique = 0

    def key_of(self, message: bytes) -> Key | None:
        # Every client receives the same bytes for an event, so each distinct message is parsed once.
        try:
            return self.keys[message]
        except KeyError:
            pass
        key: Key | None = None
        match = CARD_IN_MESSAGE.search(message)
        if match is not None:
            key = (int(match.group(1)), int(match.group(2)))
        elif b"event: reset" in message:
            self.resets += 1
            return None
        self.keys[message] = key
        return key


class SseClient(asyncio.Protocol):
    """One browser's /live connection, parsed just enough: HTTP head, chunked framing, SSE messages."""

    def __init__(self, tally: Tally, request: bytes, connected: asyncio.Future[bool]) -> None:
        self.tally = tally
        self.request = request
        self.connected = connected
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.in_body = False
        self.raw = b""
        self.chunk_left = 0
        self.crlf_left = 0
        self.text = b""
        self.seen: set[Key] = set()
        self.stopping = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            status = self.head.split(b" ", 2)[1]
            if not self.connected.done():
                self.connected.set_result(status == b"200")
            data, self.head, self.in_body = self.head[end + 4 :], b"", True
        self.text += self._dechunk(data)
        end = self.text.rfind(b"\n\n")
        if end < 0:
            return
        complete, self.text = self.text[: end + 2], self.text[end + 2 :]
        tally, seen = self.tally, self.seen
        for message in complete.split(b"\n\n"):
            key = tally.key_of(message) if message else None
            if key is None:
                continue
            if key in seen:
                tally.duplicates += 1
                continue
            seen.add(key)
            tally.unique += 1
            arrivals = tally.arrivals.get(key)
            if arrivals is None:
                tally.arrivals[key] = [now]
            else:
                arrivals.append(now)

    def _dechunk(self, data: bytes) -> bytes:
        buffer = self.raw + data if self.raw else data
        out: list[bytes] = []
        position, size = 0, len(buffer)
        while position < size:
            if self.crlf_left:
                skip = min(self.crlf_left, size - position)
                self.crlf_left -= skip
                position += skip
                continue
            if self.chunk_left:
                take = min(self.chunk_left, size - position)
                out.append(buffer[position : position + take])
                self.chunk_left -= take
                position += take
                if not self.chunk_left:
                    self.crlf_left = 2
                continue
            line_end = buffer.find(b"\r\n", position)
            if line_end < 0:
                break
            self.chunk_left = int(buffer[position:line_end].split(b";")[0], 16)
            position = line_end + 2
            if not self.chunk_left:
                break  # the last chunk: the server ended the stream
        self.raw = buffer[position:]
        return b"".join(out)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.connected.done():
            self.connected.set_result(False)
        if not self.stopping:
            self.tally.closed_early += 1


async def _open_clients(port: int, cookie: str, count: int, tally: Tally) -> list[SseClient]:
    request = (
        f"GET /live?topic=workshop HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
        f"Cache-Control: no-cache\r\nCookie: pitwall_session={cookie}\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    clients: list[SseClient] = []

    async def open_one() -> None:
        for attempt in range(20):
            connected: asyncio.Future[bool] = loop.create_future()
            client = SseClient(tally, request, connected)
            try:
                await loop.create_connection(lambda c=client: c, "127.0.0.1", port)  # type: ignore[misc]
                if await asyncio.wait_for(connected, 30):
                    clients.append(client)
                    return
            except (OSError, TimeoutError):
                pass
            client.stopping = True
            if client.transport is not None:
                client.transport.close()
            await asyncio.sleep(0.05 * (attempt + 1))
        raise RuntimeError("could not open an SSE connection")

    # Waves, so that the server's listen backlog is never the thing being measured.
    for start in range(0, count, 50):
        await asyncio.gather(*(open_one() for _ in range(min(50, count - start))))
    return clients


async def _generator(pipe: Connection, port: int, cookie: str, count: int) -> None:
    tally = Tally()
    clients = await _open_clients(port, cookie, count, tally)
    pipe.send(("ready", len(clients)))
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        if command == "count":
            pipe.send(tally.unique)
        elif command == "stop":
            for client in clients:
                client.stopping = True
                if client.transport is not None:
                    client.transport.close()
            pipe.send(
                {
                    "arrivals": tally.arrivals,
                    "duplicates": tally.duplicates,
                    "resets": tally.resets,
                    "closed_early": tally.closed_early,
                }
            )
            return


def generator_process(pipe: Connection, port: int, cookie: str, count: int) -> None:
    """Entry point of one load-generator process."""
    _raise_open_files_limit()
    try:
        asyncio.run(_generator(pipe, port, cookie, count))
    except Exception as error:  # report, so the parent does not wait forever
        pipe.send(("error", repr(error)))


# -- the deployment under test -------------------------------------------------------------------------


def _raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 65_536), hard), hard))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Deployment:
    """A fresh data folder (and database and Redis prefix) with the demo tenant and cycling cards."""

    backend: str
    data_dir: Path
    env: dict[str, str]
    database_url: str
    redis_prefix: str | None = None
    tenant_id: int = 0

    def server_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """What a Database of this deployment needs to store partner secrets (ops/sealing.py)."""
        return (self.env["PITWALL_SECRET_KEY"],)


async def _create_deployment(backend: str) -> Deployment:
    data_dir = Path(tempfile.mkdtemp(prefix="pitwall-bench-"))
    env = {
        "PITWALL_DATA_DIR": str(data_dir),
        "PITWALL_SECRET_KEY": secrets.token_urlsafe(32),
        "PITWALL_LOG_LEVEL": "WARNING",
    }
    redis_prefix = None
    if backend == "postgres":
        name = f"pitwall_bench_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(ADMIN_DATABASE_URL, timeout=5)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        redis_prefix = f"pitwall-bench-{secrets.token_hex(4)}"
        env |= {
            "DATABASE_URL": f"{ADMIN_DATABASE_URL.rpartition('/')[0]}/{name}",
            "REDIS_URL": REDIS_URL,
            "PITWALL_REDIS_PREFIX": redis_prefix,
            "PITWALL_EMBEDDED_WORKER": "0",
        }
    settings = load_settings(env)
    deployment = Deployment(backend, data_dir, env, settings.database_url, redis_prefix)
    try:
        await upgrade_to_head(settings.database_url)
        deployment.tenant_id = await _seed(settings.database_url, deployment.secret_keys)
    except BaseException:
        await _remove_deployment(deployment)
        raise
    return deployment


async def _seed(database_url: str, secret_keys: tuple[str, ...]) -> int:
    # The demo stores its payment provider's keys sealed, as the server does.
    db = Database(database_url, secret_keys)
    try:
        tenant, _created = await seed_demo(db)
        async with db.read(tenant.id) as session:
            vehicle_ids = list((await session.scalars(select(Vehicle.id))).all())
            advisor_id = await session.scalar(select(User.id).where(User.email == WATCHER_EMAIL))
        advisor = Actor(tenant.id, advisor_id, "Bench", "service_advisor", locale="en")
        for index in range(CYCLING_CARDS):
            async with db.uow(advisor) as uow:
                await create_work_order(
                    uow,
                    NewWorkOrder(
                        vehicle_id=vehicle_ids[index % len(vehicle_ids)],
                        complaint=f"Bench card {index}: rattling noise from the front axle.",
                    ),
                )
        # Nobody watches yet; the relay need not re-send the seed's events at the first server start.
        async with db.system(write=True) as session:
            await session.execute(update(Event).values(published_at=utcnow()))
            await session.commit()
        await db.refresh_statistics()
        return int(tenant.id)
    finally:
        await db.dispose()


async def _remove_deployment(deployment: Deployment) -> None:
    shutil.rmtree(deployment.data_dir, ignore_errors=True)
    if deployment.backend != "postgres":
        return
    name = deployment.database_url.rpartition("/")[2]
    admin = await asyncpg.connect(ADMIN_DATABASE_URL, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{deployment.redis_prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@dataclass
class Servers:
    web: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes] | None
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _spawn_servers(deployment: Deployment) -> Servers:
    port = free_port()
    log_path = deployment.data_dir / f"serve-{port}.log"
    with log_path.open("wb") as log_file:
        web = subprocess.Popen(
            [PITWALL, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=deployment.server_env(),
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        worker = None
        if deployment.backend == "postgres":
            worker = subprocess.Popen(
                [PITWALL, "worker"],
                env=deployment.server_env(),
                cwd=ROOT,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
    return Servers(web, worker, port, log_path)


async def _start_servers(deployment: Deployment) -> Servers:
    servers = _spawn_servers(deployment)
    web, log_path = servers.web, servers.log_path
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(300):
            if web.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{servers.url}/readyz")).status_code == 200:
                    return servers
            await asyncio.sleep(0.1)
    _stop_servers(servers)
    raise RuntimeError(f"pitwall serve did not start:\n{log_path.read_text()[-3000:]}")


def _stop_servers(servers: Servers) -> None:
    for process in (servers.web, servers.worker):
        if process is None or process.poll() is not None:
            continue
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# -- one measurement -------------------------------------------------------------------------------


@dataclass
class Card:
    id: int
    status: str
    version: int
    moving: bool = False


@dataclass
class Result:
    backend: str
    clients: int
    rate: float
    duration: float = 0.0
    moves: int = 0
    move_errors: int = 0
    deliveries: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    lost: int = 0
    duplicates: int = 0
    resets: int = 0
    closed_early: int = 0
    cpu_percent: float = 0.0
    rss_mb: float = 0.0
    post_ms: list[float] = field(default_factory=list)
    generator_cpu_percent: float = 0.0
    move_statuses: dict[str, int] = field(default_factory=dict)

    def percentile(self, values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    @property
    def p50(self) -> float:
        return self.percentile(self.latencies_ms, 0.50)

    @property
    def p99(self) -> float:
        return self.percentile(self.latencies_ms, 0.99)

    @property
    def max(self) -> float:
        return max(self.latencies_ms, default=float("nan"))

    @property
    def moves_per_second(self) -> float:
        return self.moves / self.duration if self.duration else 0.0

    @property
    def kept_up(self) -> bool:
        """No loss, p99 within the limit, and the writer got the rate it asked for."""
        return (
            self.lost == 0
            and self.duplicates == 0
            and self.p99 <= P99_LIMIT_MS
            and self.moves_per_second >= 0.95 * self.rate
            and self.move_errors == 0
        )


async def _sign_in(client: httpx.AsyncClient, email: str) -> str:
    page = await client.get("/login")
    token = CSRF_META.search(page.text)
    assert token, "the sign-in page has no CSRF token"
    response = await client.post(
        "/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
    )
    if response.status_code != 302:
        raise RuntimeError(f"sign-in as {email} failed: {response.status_code}")
    board = await client.get("/workshop/board")
    token = CSRF_META.search(board.text)
    assert token, "the board has no CSRF token"
    return token.group(1)


async def _cycling_cards(db: Database, tenant_id: int) -> list[Card]:
    async with db.read(tenant_id) as session:
        rows = await session.execute(
            select(WorkOrder.id, WorkOrder.status, WorkOrder.version)
            .where(WorkOrder.status.in_(tuple(NEXT_STATUS)))
            .order_by(WorkOrder.id)
        )
        return [Card(int(id_), str(status), int(version)) for id_, status, version in rows]


async def _moves_since(db: Database, first_event: int) -> int:
    async with db.system() as session:
        count = await session.scalar(
            select(func.count()).where(Event.id > first_event, Event.type == "work_order.moved")
        )
        return int(count or 0)


async def _last_event_id(db: Database) -> int:
    async with db.system() as session:
        return int(await session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0)


class Writer:
    """Moves cards over HTTP at a steady rate, like people using the board's move menu."""

    def __init__(self, client: httpx.AsyncClient, csrf: str, cards: list[Card]) -> None:
        self.client = client
        self.csrf = csrf
        self.cards = cards
        self.next_card = 0
        self.moves = 0
        self.errors = 0
        self.post_ms: list[float] = []
        self.statuses: dict[str, int] = {}
        self.in_flight: set[asyncio.Task[None]] = set()

    async def move(self, card: Card) -> None:
        target = NEXT_STATUS[card.status]
        started = time.perf_counter()
        try:
            response = await self.client.post(
                f"/workshop/work-orders/{card.id}/move",
                data={"status": target, "version": str(card.version)},
                headers={"X-CSRF-Token": self.csrf, "HX-Request": "true"},
            )
        except httpx.HTTPError as error:
            # Whether it committed is unknown, so its version is too: this card stays out of rotation.
            self.errors += 1
            self.statuses[type(error).__name__] = self.statuses.get(type(error).__name__, 0) + 1
            return
        self.post_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code == 200:
            card.status, card.version = target, card.version + 1
            self.moves += 1
        else:
            self.errors += 1
            code = str(response.status_code)
            self.statuses[code] = self.statuses.get(code, 0) + 1
        card.moving = False

    def start_one(self) -> None:
        for _ in range(len(self.cards)):
            card = self.cards[self.next_card]
            self.next_card = (self.next_card + 1) % len(self.cards)
            if not card.moving:
                card.moving = True
                task = asyncio.create_task(self.move(card))
                self.in_flight.add(task)
                task.add_done_callback(self.in_flight.discard)
                return
        # Every card is still being moved: the server is far behind.
        self.errors += 1
        self.statuses["no free card"] = self.statuses.get("no free card", 0) + 1

    async def run(self, rate: float, seconds: float) -> float:
        """Open loop: a move every 1/rate seconds whatever the answers do. Returns the elapsed time."""
        started = time.perf_counter()
        total = round(rate * seconds)
        for index in range(total):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            self.start_one()
        await asyncio.sleep(max(0.0, started + seconds - time.perf_counter()))
        elapsed = time.perf_counter() - started
        if self.in_flight:
            await asyncio.wait(self.in_flight, timeout=150)
        return elapsed


class ProcessSampler:
    """CPU time and peak RSS of the web process while the writer runs."""

    def __init__(self, pids: list[int]) -> None:
        self.processes = [psutil.Process(pid) for pid in pids]
        self.peak_rss = [0] * len(pids)
        self._cpu_start: list[float] = []
        self._wall_start = 0.0
        self._task: asyncio.Task[None] | None = None

    def _cpu(self) -> list[float]:
        return [sum(p.cpu_times()[:2]) for p in self.processes]

    async def _sample(self) -> None:
        while True:
            for index, process in enumerate(self.processes):
                self.peak_rss[index] = max(self.peak_rss[index], process.memory_info().rss)
            await asyncio.sleep(0.5)

    def start(self) -> None:
        self._cpu_start, self._wall_start = self._cpu(), time.perf_counter()
        self._task = asyncio.create_task(self._sample())

    async def stop(self) -> list[float]:
        """CPU percent of each process since start (100 = one core busy)."""
        wall = time.perf_counter() - self._wall_start
        used = [end - start for start, end in zip(self._cpu_start, self._cpu(), strict=True)]
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return [100 * u / wall for u in used]


def _ask_all(pipes: list[Connection], command: str) -> list[Any]:
    for pipe in pipes:
        pipe.send(command)
    answers = [pipe.recv() for pipe in pipes]
    for answer in answers:
        if isinstance(answer, tuple) and answer[0] == "error":
            raise RuntimeError(f"load generator failed: {answer[1]}")
    return answers


async def measure(
    deployment: Deployment, clients: int, rate: float, duration: float, generators: int
) -> Result:
    result = Result(deployment.backend, clients, rate)
    servers = await _start_servers(deployment)
    db = Database(deployment.database_url)
    context = multiprocessing.get_context("spawn")
    processes: list[multiprocessing.process.BaseProcess] = []
    pipes: list[Connection] = []
    try:
        # Idle connections are dropped before Hypercorn's 5 s keep-alive would close them under a request.
        limits = httpx.Limits(max_connections=100, keepalive_expiry=2)
        async with httpx.AsyncClient(base_url=servers.url, timeout=120, limits=limits) as writer_client:
            csrf = await _sign_in(writer_client, WRITER_EMAIL)
            async with httpx.AsyncClient(base_url=servers.url, timeout=30) as watcher:
                await _sign_in(watcher, WATCHER_EMAIL)
                cookie = watcher.cookies["pitwall_session"]
            shares = [
                clients // generators + (1 if i < clients % generators else 0) for i in range(generators)
            ]
            for share in shares:
                parent_end, child_end = context.Pipe()
                process = context.Process(
                    target=generator_process, args=(child_end, servers.port, cookie, share), daemon=True
                )
                process.start()
                processes.append(process)
                pipes.append(parent_end)
            ready = await asyncio.to_thread(lambda: [pipe.recv() for pipe in pipes])
            for answer in ready:
                if answer[0] != "ready":
                    raise RuntimeError(f"load generator failed: {answer[1]}")
            writer = Writer(writer_client, csrf, await _cycling_cards(db, deployment.tenant_id))
            # Warm up templates, connections and caches; these moves are not counted.
            await writer.run(rate=10, seconds=1)
            await asyncio.sleep(1)
            first_event = await _last_event_id(db)
            writer.moves, writer.errors, writer.post_ms, writer.statuses = 0, 0, [], {}

            before = sum(await asyncio.to_thread(_ask_all, pipes, "count"))
            sampler = ProcessSampler([servers.web.pid, *(p.pid for p in processes if p.pid)])
            sampler.start()
            result.duration = await writer.run(rate, duration)
            cpu = await sampler.stop()
            result.cpu_percent = cpu[0]
            result.generator_cpu_percent = sum(cpu[1:])
            result.rss_mb = sampler.peak_rss[0] / 2**20
            # Drain: wait until every committed move reached every client, or nothing has arrived
            # for a while. The events table says what committed, answered or not.
            last_total, last_change, deadline = -1, time.monotonic(), time.monotonic() + 60
            while time.monotonic() < deadline and time.monotonic() - last_change < 5:
                total = sum(await asyncio.to_thread(_ask_all, pipes, "count")) - before
                if total != last_total:
                    last_total, last_change = total, time.monotonic()
                if total >= clients * await _moves_since(db, first_event):
                    break
                await asyncio.sleep(0.2)
            reports = await asyncio.to_thread(_ask_all, pipes, "stop")
            result.moves, result.move_errors, result.post_ms = writer.moves, writer.errors, writer.post_ms
            result.move_statuses = writer.statuses

        async with db.system() as session:
            rows = await session.execute(
                select(Event.payload, Event.created_at).where(
                    Event.id > first_event,
                    Event.type == "work_order.moved",
                    Event.tenant_id == deployment.tenant_id,
                )
            )
            committed = {(int(p["id"]), int(p["version"])): at.timestamp() for p, at in rows}
        received = 0
        for report in reports:
            result.duplicates += report["duplicates"]
            result.resets += report["resets"]
            result.closed_early += report["closed_early"]
            for key, arrivals in report["arrivals"].items():
                committed_at = committed.get(key)
                if committed_at is None:
                    continue  # a warm-up move
                received += len(arrivals)
                result.latencies_ms.extend((arrived - committed_at) * 1000 for arrived in arrivals)
        result.deliveries = received
        result.lost = clients * len(committed) - received
        # The events table is the truth: a move whose answer was lost still committed and was sent.
        result.moves = len(committed)
        return result
    finally:
        for process in processes:
            process.join(5)
            if process.is_alive():
                process.terminate()
                process.join(5)
        _stop_servers(servers)
        await db.dispose()
        server_log = servers.log_path.read_text(errors="replace")
        if "Traceback" in server_log or " ERROR " in server_log:
            print(f"--- server log ({servers.log_path.name}):\n{server_log[-4000:]}", file=sys.stderr)


# -- the command -----------------------------------------------------------------------------------


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _row(result: Result) -> list[str]:
    return [
        result.backend,
        str(result.clients),
        f"{result.rate:g}",
        f"{result.moves_per_second:.1f}",
        f"{result.deliveries / result.duration if result.duration else 0:,.0f}",
        f"{result.p50:.1f}",
        f"{result.p99:.1f}",
        f"{result.max:.1f}",
        str(result.lost),
        str(result.duplicates),
        f"{result.cpu_percent:.0f}",
        f"{result.rss_mb:.0f}",
        f"{result.percentile(result.post_ms, 0.99):.0f}",
        f"{result.generator_cpu_percent:.0f}",
        _notes(result),
    ]


def _notes(result: Result) -> str:
    notes = [f"move {status}: {count}" for status, count in sorted(result.move_statuses.items())]
    if result.resets:
        notes.append(f"resets: {result.resets}")
    if result.closed_early:
        notes.append(f"closed early: {result.closed_early}")
    return ", ".join(notes)


HEADER = [
    "backend",
    "C",
    "R/s",
    "moves/s",
    "deliv/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "lost",
    "dup",
    "CPU %",
    "RSS MB",
    "POST p99",
    "gen CPU %",
    "notes",
]


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(HEADER, widths, strict=True)) + " |",
        "|" + "|".join("-" * (width + 2) for width in widths) + "|",
    ]
    for row in rows:
        cells = [
            cell.rjust(width) if index else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _progress(text: str) -> None:
    print(f"... {text}", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> int:
    results: list[Result] = []
    saturation: list[str] = []
    for backend in args.backends.split(","):
        _progress(f"{backend}: creating, migrating and seeding a fresh deployment")
        deployment = await _create_deployment(backend)
        try:
            for clients in _numbers(args.clients):
                for rate in _numbers(args.rates):
                    _progress(f"{backend}: C={clients} R={rate}/s for {args.duration:g}s")
                    result = await measure(deployment, clients, rate, args.duration, args.generators)
                    results.append(result)
                    print(format_table([_row(result)]).splitlines()[-1], file=sys.stderr, flush=True)
            if args.saturation:
                clients = max(_numbers(args.clients))
                passed: Result | None = None
                failed: Result | None = None
                for rate in _numbers(args.saturation_rates):
                    _progress(f"{backend}: saturation C={clients} R={rate}/s")
                    result = await measure(
                        deployment, clients, rate, args.saturation_duration, args.generators
                    )
                    results.append(result)
                    print(format_table([_row(result)]).splitlines()[-1], file=sys.stderr, flush=True)
                    if not result.kept_up:
                        failed = result
                        break
                    passed = result
                kept = f"{passed.rate:g} moves/s" if passed else "none of the rates tried"
                broke = f", not at {failed.rate:g}" if failed else " (the highest rate tried)"
                saturation.append(
                    f"{backend}, C={clients}: keeps up (no loss, p99 <= {P99_LIMIT_MS:g} ms) at {kept}{broke}"
                )
        finally:
            await _remove_deployment(deployment)
    print(format_table([_row(r) for r in results]))
    for line in saturation:
        print(line)
    print(
        "latency: event created_at (commit) -> message at the client; CPU: server process, 100 = one core;"
        " gen CPU: load generators"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="embedded,postgres", help="embedded, postgres or both")
    parser.add_argument("--clients", default="100,1000", help="SSE connections, comma list")
    parser.add_argument("--rates", default="20,50", help="moves per second, comma list")
    parser.add_argument("--duration", type=float, default=10, help="seconds of writing per cell")
    parser.add_argument("--generators", type=int, default=2, help="load-generator processes")
    parser.add_argument("--saturation", action="store_true", help="also raise the rate until it breaks")
    parser.add_argument("--saturation-rates", default="20,30,40,50,75,100,150,200")
    parser.add_argument("--saturation-duration", type=float, default=6)
    args = parser.parse_args()
    _raise_open_files_limit()
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
