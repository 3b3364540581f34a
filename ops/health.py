"""`/healthz` (the process answers), `/readyz` (its database and Redis answer), `/metrics`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Blueprint
from sqlalchemy import text

from ops.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
async def healthz() -> Any:
    return {"status": "ok"}


# A load balancer waits for the answer: a dependency that hangs counts as down, not as a hung probe.
CHECK_TIMEOUT_SECONDS = 3.0


async def _check(probe: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
    except Exception as error:
        return f"unavailable: {type(error).__name__}"
    return "ok"


async def _database_answers() -> None:
    async with runtime().db.system() as session:
        await session.execute(text("SELECT 1"))


@bp.get("/readyz")
async def readyz() -> Any:
    checks = {"database": await _check(_database_answers())}
    if runtime().settings.redis_url:
        checks["redis"] = await _check(runtime().live_log.head())
    ready = all(value == "ok" for value in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


@bp.get("/metrics")
async def metrics() -> Any:
    return generate_latest(), 200, {"Content-Type": CONTENT_TYPE_LATEST}
