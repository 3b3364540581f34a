"""The PostgreSQL connection pool: dead connections are replaced, live ones are not pinged for nothing."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

import ops.db
from ops.db import Database
from tests.conftest import REDIS_BACKENDS

# A file database has no server connection to lose and no pool ping: these run on PostgreSQL only.
POSTGRES_ONLY = pytest.mark.parametrize("backend", REDIS_BACKENDS, indirect=True)


@POSTGRES_ONLY
async def test_a_pooled_connection_that_died_while_idle_is_replaced_before_a_query_gets_it(
    runtime, factory, monkeypatch
):
    """After a database restart or an idle timeout, the first request must not fail on a dead
    connection: one that sat in the pool is checked on its way out and replaced."""
    tenant = await factory.tenant()
    monkeypatch.setattr(ops.db, "PING_AFTER_IDLE", 0.05)
    # A pool of its own: the app's background tasks would otherwise meet the dead connection first.
    db = Database(runtime.db.url)
    async with db.read(tenant.id) as session:
        pooled = await session.scalar(text("select pg_backend_pid()"))
    # From outside the pool, end that connection's server session, as a restart would.
    outsider = await asyncpg.connect(db.url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        assert await outsider.fetchval("select pg_terminate_backend($1)", pooled)
    finally:
        await outsider.close()
    await asyncio.sleep(0.1)
    try:
        async with db.read(tenant.id) as session:
            assert await session.scalar(text("select pg_backend_pid()")) != pooled
    finally:
        await db.dispose()


@POSTGRES_ONLY
async def test_a_connection_in_steady_use_is_not_pinged_before_each_query(runtime, factory, monkeypatch):
    """A busy process saves the round trip: no ping for a connection that was just in use."""
    db = runtime.db
    tenant = await factory.tenant()
    pings: list[object] = []
    ping = db.engine.dialect.do_ping

    def counted_ping(connection: object) -> bool:
        pings.append(connection)
        return ping(connection)

    monkeypatch.setattr(db.engine.dialect, "do_ping", counted_ping)
    for _ in range(3):
        async with db.read(tenant.id) as session:
            assert await session.scalar(text("select 1")) == 1
    assert pings == []
