"""Security plumbing every response goes through: headers, correlation ids, size limits, hidden errors."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from quart import Quart

from ops.app import create_app
from ops.logs import CorrelationFilter
from ops.workshop.models import WorkOrder
from tests.conftest import make_settings
from tests.web import sign_in

SECRET_DETAIL = "database password is hunter2"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
async def failing_app(backend, tmp_path) -> AsyncIterator[Quart]:  # type: ignore[no-untyped-def]
    """The real app with one extra route that fails the way a bug would."""
    application = create_app(make_settings(backend, tmp_path, max_request_bytes=64 * 1024))

    @application.get("/test-only/boom")
    async def boom() -> str:
        raise RuntimeError(SECRET_DETAIL)

    async with application.test_app():
        yield application


@contextmanager
def captured_log_lines() -> Iterator[io.StringIO]:
    """What the app's own log handler (the one with the correlation filter) writes."""
    handler = next(
        h for h in logging.getLogger().handlers if any(isinstance(f, CorrelationFilter) for f in h.filters)
    )
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def _csp(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    directives = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_security_headers(response) -> None:  # type: ignore[no-untyped-def]
    csp = _csp(response)
    script_sources = csp.get("script-src", csp["default-src"])
    assert script_sources == ["'self'"], script_sources
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


async def test_every_kind_of_html_page_carries_the_security_headers(failing_app, factory):
    shop = await factory.tenant()
    client = failing_app.test_client()
    pages = {"sign-in": await client.get("/login")}
    await sign_in(client, shop.admin.email)
    pages["board"] = await client.get("/workshop/board")
    pages["fragment"] = await client.get("/workshop/board", headers={"HX-Request": "true"})
    pages["not found"] = await client.get("/workshop/work-orders/999999999/nothing")
    pages["forbidden"] = await client.post("/logout")
    pages["server error"] = await client.get("/test-only/boom")
    pages["too large"] = await client.post("/login", data="x" * (65 * 1024))

    for name, response in pages.items():
        assert response.content_type.startswith("text/html"), name
        assert_security_headers(response)
        assert "Strict-Transport-Security" not in response.headers, name


async def test_https_is_pinned_with_hsts_only_in_production(backend, tmp_path, client):
    production = create_app(make_settings(backend, tmp_path, env="production"))
    async with production.test_app():
        in_production = await production.test_client().get("/login")
    in_development = await client.get("/login")

    assert in_production.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in in_development.headers
    assert_security_headers(in_production)


async def test_no_page_needs_inline_script_so_the_policy_can_forbid_it(client, factory):
    shop = await factory.tenant()
    await shop.work_order()
    await sign_in(client, shop.admin.email)

    for path in ("/login", "/workshop/board", "/workshop/work-orders/new"):
        html = await (await client.get(path)).get_data(as_text=True)
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], path
        assert re.findall(r"\son[a-z]+\s*=", html) == [], path


async def test_a_callers_correlation_id_is_echoed_so_a_request_can_be_followed(client):
    for path in ("/login", "/healthz", "/no-such-page", "/"):
        response = await client.get(path, headers={"X-Correlation-ID": "lb-7f3a.42"})
        assert response.headers["X-Correlation-ID"] == "lb-7f3a.42", path


async def test_every_response_gets_its_own_correlation_id_when_none_was_sent(client):
    responses = [
        await client.get("/login"),
        await client.get("/login"),
        await client.get("/healthz"),
        await client.get("/static/css/app.css"),
        await client.get("/no-such-page"),
        await client.post("/logout"),
    ]

    ids = [response.headers["X-Correlation-ID"] for response in responses]
    assert all(GENERATED_ID.fullmatch(value) for value in ids), ids
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("sent", ["two words", "x" * 200, "id\u00e9", "<script>", ""])
async def test_a_correlation_id_that_could_forge_or_flood_log_lines_is_replaced(client, sent):
    response = await client.get("/login", headers={"X-Correlation-ID": sent})

    assert GENERATED_ID.fullmatch(response.headers["X-Correlation-ID"])


async def test_an_unexpected_error_shows_a_reference_and_never_the_stack_trace(failing_app):
    client = failing_app.test_client()
    with captured_log_lines() as log:
        response = await client.get("/test-only/boom", headers={"X-Correlation-ID": "incident-4711"})

    assert response.status_code == 500
    html = await response.get_data(as_text=True)
    assert "Something went wrong" in html
    assert "<code>incident-4711</code>" in html
    for leak in (SECRET_DETAIL, "Traceback", "RuntimeError", "ops/app.py", ".py"):
        assert leak not in html, leak
    assert response.headers["X-Correlation-ID"] == "incident-4711"
    # The operator finds the whole story in the log under the reference the user reads out.
    lines = log.getvalue()
    assert "[incident-4711] ops.app: unhandled error on GET /test-only/boom" in lines
    assert SECRET_DETAIL in lines
    assert "Traceback" in lines


async def test_an_unexpected_error_during_a_live_action_shows_a_toast_without_details(failing_app):
    response = await failing_app.test_client().get("/test-only/boom", headers={"HX-Request": "true"})

    assert response.status_code == 500
    html = await response.get_data(as_text=True)
    assert 'role="alert"' in html
    assert SECRET_DETAIL not in html
    assert "Traceback" not in html


async def test_every_log_line_of_a_request_carries_its_correlation_id(failing_app):
    client = failing_app.test_client()
    with captured_log_lines() as log:
        await client.get("/test-only/boom", headers={"X-Correlation-ID": "first-request"})
        await client.get("/test-only/boom", headers={"X-Correlation-ID": "second-request"})

    records = [line for line in log.getvalue().splitlines() if "unhandled error" in line]
    assert len(records) == 2
    assert "[first-request]" in records[0]
    assert "[second-request]" in records[1]


async def test_a_request_body_over_the_limit_is_refused_with_413_before_it_is_used(
    failing_app, factory, runtime
):
    shop = await factory.tenant(country="US")
    admin = failing_app.test_client()
    await sign_in(admin, shop.admin.email)
    work_order = await shop.work_order()

    too_large = await admin.post(
        f"/workshop/work-orders/{work_order.id}/move",
        form={"status": "SCHEDULED", "version": str(work_order.version), "padding": "x" * (65 * 1024)},
    )
    sign_in_flood = await failing_app.test_client().post(
        "/login", form={"email": shop.admin.email, "password": "x" * (65 * 1024)}
    )

    assert too_large.status_code == sign_in_flood.status_code == 413
    assert "The request is larger than allowed." in await too_large.get_data(as_text=True)
    assert too_large.headers["X-Correlation-ID"]
    async with runtime.db.read(shop.id) as session:
        assert (await session.get_one(WorkOrder, work_order.id)).status == "NEW"
