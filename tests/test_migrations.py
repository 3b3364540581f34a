"""Alembic migrations: the migrated schema is the models' schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from ops.db import Base, Database, import_all_models
from ops.migrate import alembic_config
from ops.sales.quotes.service import create_quote
from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.factories import TenantFactory
from tests.sales.quotes.helpers import configurable_trim, lead_for, showroom, with_terms


@pytest.fixture
async def empty_database(backend, tmp_path: Path) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """A database of the backend under test that no migration has touched yet."""
    if not backend.is_postgres:
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    url = await _create_postgres_database()
    try:
        yield url
    finally:
        await _drop_postgres_database(url)


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _inspect(url: str) -> tuple[list[Any], set[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_differences), await connection.run_sync(_tables)
    finally:
        await engine.dispose()


async def _alembic(url: str, action: str, revision: str) -> None:
    # Alembic's env.py runs its own event loop, so it cannot run on this one.
    await asyncio.to_thread(getattr(command, action), alembic_config(url), revision)


def test_the_migration_history_is_one_line_with_one_head():
    """Two heads would make `pitwall migrate` refuse to run after a merge."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert [r.down_revision for r in revisions][-1] is None
    assert all(not r.is_merge_point for r in revisions)


async def test_the_migrated_schema_matches_the_models(empty_database):
    """A model change without its migration would break the first deployment that runs it."""
    import_all_models()

    await _alembic(empty_database, "upgrade", "head")

    differences, tables = await _inspect(empty_database)
    assert differences == []
    assert set(Base.metadata.tables) <= tables


async def test_downgrade_to_base_and_upgrade_again_works(empty_database):
    """An operator rolling back a release would be stuck with a half-dropped schema."""
    import_all_models()
    await _alembic(empty_database, "upgrade", "head")

    await _alembic(empty_database, "downgrade", "base")
    _, tables_after_downgrade = await _inspect(empty_database)
    await _alembic(empty_database, "upgrade", "head")
    differences, tables_after_upgrade = await _inspect(empty_database)

    assert tables_after_downgrade <= {"alembic_version"}
    assert differences == []
    assert set(Base.metadata.tables) <= tables_after_upgrade


async def _stored_costs(url: str) -> dict[int, Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT id, vehicle_cost FROM quotes"))
            return {row.id: row.vehicle_cost for row in rows}
    finally:
        await engine.dispose()


async def test_a_configured_vehicle_s_unknown_cost_goes_from_0_to_null_and_back(empty_database):
    """0018: before it, 0 stood for "not entered yet"; a rollback must not lose which quotes had no cost."""
    import_all_models()
    await _alembic(empty_database, "upgrade", "head")
    db = Database(empty_database)
    try:
        room = await showroom(await TenantFactory(db).tenant())
        trim = await configurable_trim(room.shop)
        leads = [await lead_for(room), await lead_for(room)]
        async with db.uow(room.rep.actor) as uow:
            unknown = await create_quote(uow, leads[0].id, trim_id=trim.id, option_codes=["WHITE"])
        async with db.uow(room.rep.actor) as uow:
            entered = await create_quote(uow, leads[1].id, trim_id=trim.id, option_codes=["WHITE"])
        await with_terms(room, entered, vehicle_cost="36000")
    finally:
        await db.dispose()
    assert await _stored_costs(empty_database) == {unknown.id: None, entered.id: 36000}

    await _alembic(empty_database, "downgrade", "0017")
    assert await _stored_costs(empty_database) == {unknown.id: 0, entered.id: 36000}

    await _alembic(empty_database, "upgrade", "head")
    assert await _stored_costs(empty_database) == {unknown.id: None, entered.id: 36000}
