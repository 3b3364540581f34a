"""Shared fixtures. Storage-dependent tests run twice: on the embedded default (SQLite + in-process log)
and on PostgreSQL + Redis. A backend that cannot be reached fails the run; it is never skipped.

Environment:
- PITWALL_TEST_BACKENDS  comma list, default "embedded,postgres"
- TEST_DATABASE_URL      a PostgreSQL server to create throw-away databases on
                         (default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres)
- TEST_REDIS_URL         default redis://127.0.0.1:6379/15
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import pytest
import redis.asyncio as redis
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart

from ops.app import create_app
from ops.config import Settings, normalise_database_url
from ops.migrate import upgrade_to_head
from ops.runtime import Runtime
from tests.factories import TenantFactory

if TYPE_CHECKING:
    from tests.mail.smtp import SmtpServer

ADMIN_DATABASE_URL = normalise_database_url(
    os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _backends() -> list[str]:
    names = [
        b.strip()
        for b in os.environ.get("PITWALL_TEST_BACKENDS", "embedded,postgres").split(",")
        if b.strip()
    ]
    unknown = set(names) - {"embedded", "postgres"}
    if unknown:
        raise pytest.UsageError(f"unknown PITWALL_TEST_BACKENDS: {unknown}")
    return names


# For tests about Redis itself (a restart, sharing between processes): parametrize `backend` with these
# (indirect=True) so they run on the PostgreSQL + Redis backend instead of being skipped on the other.
REDIS_BACKENDS = [name for name in _backends() if name == "postgres"]


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    redis_url: str | None
    redis_prefix: str

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgres"


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _create_postgres_database() -> str:
    name = f"pitwall_test_{secrets.token_hex(4)}"
    try:
        connection = await asyncpg.connect(_asyncpg_dsn(ADMIN_DATABASE_URL), timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        raise RuntimeError(f"PostgreSQL is not reachable at {ADMIN_DATABASE_URL}: {error}") from error
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base, _, _ = ADMIN_DATABASE_URL.rpartition("/")
    return f"{base}/{name}"


async def _drop_postgres_database(url: str) -> None:
    name = url.rpartition("/")[2]
    connection = await asyncpg.connect(_asyncpg_dsn(ADMIN_DATABASE_URL), timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def _check_redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as error:
        raise RuntimeError(f"Redis is not reachable at {url}: {error}") from error
    finally:
        await client.aclose()


async def _delete_redis_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(scope="session", params=_backends())
async def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Backend]:
    prefix = f"pitwall-test-{secrets.token_hex(4)}"
    if request.param == "embedded":
        path = tmp_path_factory.mktemp("embedded") / "pitwall.db"
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade_to_head(url)
        yield Backend("embedded", url, None, prefix)
        return
    await _check_redis(TEST_REDIS_URL)
    url = await _create_postgres_database()
    try:
        await upgrade_to_head(url)
        yield Backend("postgres", url, TEST_REDIS_URL, prefix)
    finally:
        await _drop_postgres_database(url)
        await _delete_redis_prefix(TEST_REDIS_URL, prefix)


def make_settings(backend: Backend, data_dir: Path, **overrides: object) -> Settings:
    settings = Settings(
        env="test",
        data_dir=data_dir,
        database_url=backend.database_url,
        redis_url=backend.redis_url,
        secret_key="test-secret-key-not-for-production",
        # Tests drive the relay themselves unless they ask for the background worker.
        embedded_worker=False,
        redis_prefix=backend.redis_prefix,
        relay_grace_seconds=0.0,
        login_attempts_per_window=1000,
    )
    return settings.with_(**overrides) if overrides else settings


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    return make_settings(backend, tmp_path)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    application = create_app(settings)
    async with application.test_app():
        yield application


@pytest.fixture
def runtime(app: Quart) -> Runtime:
    return app.extensions["pitwall"]  # type: ignore[no-any-return]


@pytest.fixture
def client(app: Quart):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def factory(runtime: Runtime) -> TenantFactory:
    return TenantFactory(runtime.db)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    app: Quart
    url: str

    @property
    def runtime(self) -> Runtime:
        return self.app.extensions["pitwall"]  # type: ignore[no-any-return]


async def start_live_server(
    settings: Settings, listener: socket.socket | None = None
) -> tuple[LiveServer, asyncio.Event, asyncio.Task[None]]:
    """Serve a new app on a free port, or on `listener` (a bound socket the caller tuned)."""
    application = create_app(settings)
    config = Config()
    if listener is None:
        port = free_port()
        config.bind = [f"127.0.0.1:{port}"]
    else:
        port = listener.getsockname()[1]
        config.bind = [f"fd://{listener.detach()}"]
    config.graceful_timeout = 1
    config.loglevel = "WARNING"
    stop = asyncio.Event()
    task = asyncio.create_task(serve(application, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    for _ in range(200):
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.025)
    else:
        raise RuntimeError("live server did not start")
    return LiveServer(application, f"http://127.0.0.1:{port}"), stop, task


@pytest.fixture
async def live_server(settings: Settings) -> AsyncIterator[LiveServer]:
    """The real app on Hypercorn on a free port, in the test's event loop."""
    server, stop, task = await start_live_server(settings)
    try:
        yield server
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


# A real SMTP server (aiosmtpd) on 127.0.0.1 for the tests that follow a mail to its inbox.
@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    from tests.mail.smtp import SmtpServer  # it imports free_port from here

    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
