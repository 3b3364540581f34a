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
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from ops.db import Base, import_all_models
from ops.migrate import alembic_config
from tests.conftest import _create_postgres_database, _drop_postgres_database


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
