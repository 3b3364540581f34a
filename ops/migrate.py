"""Run Alembic migrations from code (`pitwall migrate`, tests, the demo command)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


async def upgrade_to_head(database_url: str) -> None:
    """Alembic's env runs its own event loop, so it runs in a thread when called from async code."""
    await asyncio.to_thread(_upgrade, database_url)


def upgrade_to_head_sync(database_url: str) -> None:
    _upgrade(database_url)
