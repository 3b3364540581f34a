"""Who may call the partner API: tokens, scopes, tenants, the error shape and the rate limits."""

from __future__ import annotations

import pytest

from ops.auth.service import create_api_token, revoke_api_token
from tests.api.helpers import call, issue_token
from tests.conftest import make_settings

ERROR_KEYS = {"code", "message", "details", "timestamp", "path"}


@pytest.fixture
def settings(backend, tmp_path):  # type: ignore[no-untyped-def]
    # Small windows so a test can reach them: 6 requests, of which 3 writes.
    return make_settings(backend, tmp_path, api_requests_per_window=6, api_writes_per_window=3)


async def test_no_token_or_a_bad_one_answers_401_in_the_error_shape(factory, client):
    """A partner without a valid token learns why, and gets nothing."""
    tenant = await factory.tenant()
    await issue_token(tenant)

    for headers in ({}, {"Authorization": "Bearer pw_wrong"}, {"Authorization": "Basic abc"}):
        response = await client.get("/api/v1/customers", headers=headers)
        body = await response.get_json()
        assert response.status_code == 401
        assert set(body) == ERROR_KEYS and body["code"] == "unauthorized"
        assert body["path"] == "/api/v1/customers"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.headers["X-Correlation-ID"]


async def test_a_revoked_token_stops_working_at_once(factory, client, runtime):
    """The admin revokes a leaked token; the next request with it is refused."""
    tenant = await factory.tenant()
    async with runtime.db.uow(tenant.admin.actor) as uow:
        issued = await create_api_token(uow, name="Leaky", scopes=["customers:read"])
    assert (await call(client, "GET", "/api/v1/customers", issued.raw))[0] == 200

    async with runtime.db.uow(tenant.admin.actor) as uow:
        await revoke_api_token(uow, issued.token.id)

    status, body, _ = await call(client, "GET", "/api/v1/customers", issued.raw)
    assert status == 401 and body["code"] == "unauthorized"


async def test_a_missing_scope_answers_403_and_write_includes_read(factory, client):
    """A token for stock cannot read customers; a customers:write token reads them too."""
    tenant = await factory.tenant()
    stock_only = await issue_token(tenant, ["stock:read"])
    customers_write = await issue_token(tenant, ["customers:write"])

    status, body, _ = await call(client, "GET", "/api/v1/customers", stock_only)
    assert status == 403 and body["code"] == "forbidden"
    status, body, _ = await call(
        client, "POST", "/api/v1/customers", stock_only, {"first_name": "A", "last_name": "B"}
    )
    assert status == 403
    assert (await call(client, "GET", "/api/v1/customers", customers_write))[0] == 200
    assert (await call(client, "GET", "/api/v1/stock-units", stock_only))[0] == 200


async def test_another_dealerships_ids_answer_404(factory, client):
    """Dealership A's partner cannot see or change B's customer, not even learn that it exists."""
    dealership_a, dealership_b = await factory.tenant(), await factory.tenant()
    token_a = await issue_token(dealership_a)
    token_b = await issue_token(dealership_b)
    _, customer_b, _ = await call(
        client, "POST", "/api/v1/customers", token_b, {"first_name": "Bea", "last_name": "Berger"}
    )
    work_order_b = await dealership_b.work_order()

    for path in (
        f"/api/v1/customers/{customer_b['id']}",
        f"/api/v1/work-orders/{work_order_b.id}",
        f"/api/v1/vehicles/{work_order_b.vehicle_id}",
    ):
        status, body, _ = await call(client, "GET", path, token_a)
        assert status == 404 and body["code"] == "not_found", path
    status, _, _ = await call(
        client, "PATCH", f"/api/v1/customers/{customer_b['id']}", token_a, {"version": 1, "city": "Bern"}
    )
    assert status == 404
    status, _, _ = await call(
        client,
        "POST",
        f"/api/v1/work-orders/{work_order_b.id}/move",
        token_a,
        {"status": "CANCELLED", "version": 1},
    )
    assert status == 404
    _, listed, _ = await call(client, "GET", "/api/v1/customers", token_a)
    assert listed["meta"]["total"] == 0


async def test_unknown_paths_and_methods_answer_in_the_api_error_shape(factory, client):
    tenant = await factory.tenant()
    token = await issue_token(tenant)

    status, body, _ = await call(client, "GET", "/api/v1/nothing-here", token)
    assert status == 404 and set(body) == ERROR_KEYS
    status, body, _ = await call(client, "PUT", "/api/v1/customers", token)
    assert status == 405 and set(body) == ERROR_KEYS


async def test_the_rate_limit_answers_429_with_retry_after(factory, client):
    """A partner that hammers the API is slowed down, and told for how long; other tokens carry on."""
    tenant = await factory.tenant()
    token = await issue_token(tenant)
    other = await issue_token(tenant)

    statuses = [(await call(client, "GET", "/api/v1/customers", token))[0] for _ in range(6)]
    assert statuses == [200] * 6
    status, body, headers = await call(client, "GET", "/api/v1/customers", token)
    assert status == 429 and body["code"] == "rate_limited"
    assert 1 <= int(headers["Retry-After"]) <= 900
    assert (await call(client, "GET", "/api/v1/customers", other))[0] == 200
    document = await (await client.get("/api/v1/openapi.json")).get_json()
    assert "6 requests per 15 minutes, of which 3 may be writes" in document["info"]["description"]


async def test_writes_are_limited_more_tightly_than_reads(factory, client):
    """Three writes per window here: the fourth is refused while reads still pass."""
    tenant = await factory.tenant()
    token = await issue_token(tenant)

    for number in range(3):
        status, _, _ = await call(
            client, "POST", "/api/v1/customers", token, {"first_name": "Writer", "last_name": f"N{number}"}
        )
        assert status == 201
    status, body, headers = await call(
        client, "POST", "/api/v1/customers", token, {"first_name": "Writer", "last_name": "Four"}
    )
    assert status == 429 and body["code"] == "rate_limited" and int(headers["Retry-After"]) >= 1
    assert (await call(client, "GET", "/api/v1/customers", token))[0] == 200
