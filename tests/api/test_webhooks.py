"""Webhook subscriptions through the partner API, on top of the webhooks area's own service."""

from __future__ import annotations

import pytest

from tests.api.helpers import call, issue_token
from tests.conftest import make_settings


@pytest.fixture
def settings(backend, tmp_path):  # type: ignore[no-untyped-def]
    # The receiver here is on 127.0.0.1, which the SSRF guard refuses unless allowed.
    return make_settings(backend, tmp_path, webhook_allow_private_targets=True)


async def test_a_partner_subscribes_lists_and_deletes_an_endpoint(factory, client):
    """The secret comes back once, on creation; the list never shows it."""
    tenant = await factory.tenant()
    token = await issue_token(tenant, ["webhooks:write"])

    status, created, _ = await call(
        client,
        "POST",
        "/api/v1/webhooks",
        token,
        {
            "url": "http://127.0.0.1:9/hooks/pitwall",
            "event_types": ["work_order.created"],
            "description": "DMS",
        },
    )
    assert status == 201
    assert created["secret"].startswith("whsec_") and created["enabled"] is True
    _, listed, _ = await call(client, "GET", "/api/v1/webhooks", token)
    assert [row["id"] for row in listed["data"]] == [created["id"]]
    assert "secret" not in listed["data"][0] and listed["meta"]["total"] == 1

    status, _, _ = await call(client, "DELETE", f"/api/v1/webhooks/{created['id']}", token)
    assert status == 204
    _, listed, _ = await call(client, "GET", "/api/v1/webhooks", token)
    assert listed["data"] == []
    assert (await call(client, "DELETE", f"/api/v1/webhooks/{created['id']}", token))[0] == 404


async def test_bad_subscriptions_name_the_field_and_scopes_are_enforced(factory, client):
    tenant = await factory.tenant()
    writer = await issue_token(tenant, ["webhooks:write"])
    reader = await issue_token(tenant, ["webhooks:read"])

    status, body, _ = await call(
        client,
        "POST",
        "/api/v1/webhooks",
        writer,
        {"url": "http://127.0.0.1:9/x", "event_types": ["no.such_event"]},
    )
    assert status == 422 and body["details"][0]["field"] == "event_types"
    status, body, _ = await call(
        client, "POST", "/api/v1/webhooks", writer, {"url": "ftp://127.0.0.1/x", "event_types": ["*"]}
    )
    assert status == 422 and body["details"][0]["field"] == "url"
    assert (await call(client, "GET", "/api/v1/webhooks", reader))[0] == 200
    status, _, _ = await call(
        client, "POST", "/api/v1/webhooks", reader, {"url": "http://127.0.0.1:9/x", "event_types": ["*"]}
    )
    assert status == 403
