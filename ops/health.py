"""`/healthz` (the process answers), `/readyz` (its database and Redis answer), `/metrics`."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Blueprint
from sqlalchemy import text

from ops.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
async def healthz() -> Any:
    return {"status": "ok"}


@bp.get("/readyz")
async def readyz() -> Any:
    checks: dict[str, str] = {}
    try:
        async with runtime().db.system() as session:
            await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"unavailable: {type(error).__name__}"
    if runtime().settings.redis_url:
        try:
            await runtime().live_log.head()
            checks["redis"] = "ok"
        except Exception as error:
            checks["redis"] = f"unavailable: {type(error).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


@bp.get("/metrics")
async def metrics() -> Any:
    return generate_latest(), 200, {"Content-Type": CONTENT_TYPE_LATEST}
