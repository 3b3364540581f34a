"""What operators and their load balancer rely on: /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from quart import Quart

from ops.app import create_app
from ops.config import Settings
from tests.conftest import free_port
from tests.factories import TenantFactory
from tests.web import http_sign_in, open_sse


@asynccontextmanager
async def _app_with(tmp_path: Path, database_url: str, redis_url: str | None) -> AsyncIterator[Quart]:
    """An app wired to the given (possibly unreachable) services; readiness needs no tables."""
    settings = Settings(
        env="test",
        data_dir=tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        secret_key="test-secret-key-not-for-production",
        embedded_worker=False,
    )
    application = create_app(settings)
    async with application.test_app():
        yield application


def _closed_port_url(scheme: str) -> str:
    return f"{scheme}://postgres@127.0.0.1:{free_port()}/pitwall"


def _sample(text: str, name: str, **labels: str) -> float | None:
    """One sample of the Prometheus text exposition, read with the Prometheus client's own parser."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


async def _metrics(client) -> str:  # type: ignore[no-untyped-def]
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return str(await response.get_data(as_text=True))


async def test_healthz_answers_while_the_process_lives(client):
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok"}


async def test_readyz_is_ready_when_the_database_and_redis_answer(client, backend):
    response = await client.get("/readyz")

    assert response.status_code == 200
    expected = {"database": "ok", "redis": "ok"} if backend.is_postgres else {"database": "ok"}
    assert await response.get_json() == {"status": "ok", "checks": expected}


async def test_readyz_takes_the_process_out_of_rotation_when_the_database_is_unreachable(tmp_path):
    async with _app_with(tmp_path, _closed_port_url("postgresql+asyncpg"), None) as application:
        client = application.test_client()
        started = time.monotonic()
        ready = await client.get("/readyz")
        elapsed = time.monotonic() - started
        alive = await client.get("/healthz")

    assert ready.status_code == 503
    body = await ready.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("unavailable")
    # The process itself is fine: restarting it would not help, so liveness stays green.
    assert alive.status_code == 200
    assert elapsed < 10


async def test_readyz_takes_the_process_out_of_rotation_when_redis_is_unreachable(tmp_path):
    database = f"sqlite+aiosqlite:///{tmp_path / 'ready.db'}"
    async with _app_with(tmp_path, database, f"redis://127.0.0.1:{free_port()}/0") as application:
        ready = await application.test_client().get("/readyz")

    assert ready.status_code == 503
    body = await ready.get_json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unavailable")


async def test_metrics_count_requests_by_route_and_status_with_their_latency(client):
    before = await _metrics(client)
    for _ in range(3):
        await client.get("/healthz")
    await client.get("/no-such-page-1")
    await client.get("/no-such-page-2")
    after = await _metrics(client)

    def delta(name: str, **labels: str) -> float:
        return (_sample(after, name, **labels) or 0) - (_sample(before, name, **labels) or 0)

    ok = {"route": "/healthz", "method": "GET", "status": "200"}
    assert delta("pitwall_http_requests_total", **ok) == 3
    # Unknown paths share one label, so a scanner cannot blow up the number of series.
    assert delta("pitwall_http_requests_total", route="unmatched", method="GET", status="404") == 2
    assert "/no-such-page-1" not in after
    assert delta("pitwall_http_request_seconds_count", route="/healthz") == 3
    assert delta("pitwall_http_request_seconds_bucket", route="/healthz", le="+Inf") == 3
    assert _sample(after, "pitwall_http_request_seconds_bucket", route="/healthz", le="0.005") is not None


async def test_metrics_show_every_live_series_even_before_anything_happened(client):
    text = await _metrics(client)

    for kind in ("sse", "ws"):
        assert _sample(text, "pitwall_live_connections", kind=kind) is not None, kind
    for path in ("commit", "relay"):
        assert _sample(text, "pitwall_events_published_total", path=path) is not None, path
    assert _sample(text, "pitwall_relay_lag_seconds") is not None


async def _live_connections(base_url: str) -> float:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as plain:
        return _sample((await plain.get("/metrics")).text, "pitwall_live_connections", kind="sse") or 0


async def _eventually(check, expected: float) -> float:  # type: ignore[no-untyped-def]
    """The checked value once it equals `expected`, or whatever it is after a generous wait."""
    deadline = time.monotonic() + 10
    value = await check()
    while value != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        value = await check()
    return float(value)


async def test_metrics_follow_live_connections_and_published_events(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    tech = await shop.user("technician")
    idle = await _live_connections(live_server.url)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as plain:
        published_before = _sample(
            (await plain.get("/metrics")).text, "pitwall_events_published_total", path="commit"
        )

    async with http_sign_in(live_server.url, tech.email) as (client, _token), open_sse(client, "workshop"):
        assert await _eventually(lambda: _live_connections(live_server.url), idle + 1) == idle + 1
        await shop.work_order()  # creating it publishes its event after commit
    assert await _eventually(lambda: _live_connections(live_server.url), idle) == idle

    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as plain:
        published_after = _sample(
            (await plain.get("/metrics")).text, "pitwall_events_published_total", path="commit"
        )
    assert (published_after or 0) > (published_before or 0)
