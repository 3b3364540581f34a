"""Settings > Webhooks as an admin uses it: add an endpoint and copy its secret once, read the delivery
log, send a test event and a delivery again, rotate the secret, enable a disabled endpoint, delete; and
who may do so."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import update

from integrations.webhooks import WebhookSender
from ops.app import create_app
from ops.config import Settings
from ops.db import utcnow
from ops.runtime import Runtime
from ops.webhooks.models import WebhookEndpoint
from ops.webhooks.service import list_endpoints
from tests.factories import TenantFactory, TenantHandle
from tests.web import sign_in
from tests.webhooks.helpers import Receiver, deliveries_of, run_webhooks, subscribe


async def english_admin(tenant: TenantHandle) -> str:
    """Another admin of the tenant who reads English (the test tenant's own language is German)."""
    return (await tenant.user("admin", locale="en")).email


SECRET = re.compile(r'value="(whsec_[A-Za-z0-9+/=]+)"')


async def test_an_admin_adds_an_endpoint_and_sees_the_secret_once(
    client: Client, runtime: Runtime, factory: TenantFactory, receiver: Receiver
) -> None:
    """The secret is on the answer to the form (not cached) and nowhere afterwards."""
    tenant = await factory.tenant()
    csrf = await sign_in(client, await english_admin(tenant))
    empty = await client.get("/settings/webhooks")
    assert "No endpoints yet" in await empty.get_data(as_text=True)

    response = await client.post(
        "/settings/webhooks",
        # Two ticked boxes of one name: the test client's `form=` would send only the first.
        data=urlencode(
            [
                ("csrf_token", csrf),
                ("url", receiver.url),
                ("description", "ERP"),
                ("event_types", "work_order.created"),
                ("event_types", "deal.created"),
            ]
        ),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    html = await response.get_data(as_text=True)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    match = SECRET.search(html)
    assert match is not None
    async with runtime.db.read(tenant.id) as session:
        [endpoint] = await list_endpoints(session)
    assert endpoint.secret == match.group(1)
    assert sorted(endpoint.event_types) == ["deal.created", "work_order.created"]
    page = await (await client.get(f"/settings/webhooks/{endpoint.id}")).get_data(as_text=True)
    listing = await (await client.get("/settings/webhooks")).get_data(as_text=True)
    assert endpoint.secret not in page + listing
    assert (
        receiver.url in listing
        and "5 s · 5 min · 35 min · 2 h 35 min · 7 h 35 min · 17 h 35 min · 27 h 35 min" in listing
    )


async def test_a_bad_form_names_the_field_and_saves_nothing(
    client: Client, runtime: Runtime, factory: TenantFactory
) -> None:
    """No event type chosen and a URL that is no URL: 422, both fields marked, no endpoint."""
    tenant = await factory.tenant()
    csrf = await sign_in(client, await english_admin(tenant))

    response = await client.post(
        "/settings/webhooks", form={"csrf_token": csrf, "url": "partner.example.com"}
    )

    html = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="url-error"' in html and 'id="event_types-error"' in html
    assert "Choose at least one event type." in html
    async with runtime.db.read(tenant.id) as session:
        assert await list_endpoints(session) == []


async def test_a_private_address_is_refused_when_the_installation_does_not_allow_it(
    settings: Settings, factory: TenantFactory
) -> None:
    """SSRF on the form: with private targets not allowed, 127.0.0.1 is refused with the reason."""
    app = create_app(settings.with_(webhook_allow_private_targets=False))
    async with app.test_app():
        runtime: Runtime = app.extensions["pitwall"]
        tenant = await TenantFactory(runtime.db).tenant()
        client = app.test_client()
        csrf = await sign_in(client, await english_admin(tenant))
        response = await client.post(
            "/settings/webhooks",
            form={"csrf_token": csrf, "url": "http://127.0.0.1:8080/hooks", "event_types": "*"},
        )
        html = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert "resolves to 127.0.0.1, an address inside a private network" in html


async def test_the_log_shows_each_attempt_and_send_again_and_test_event_work(
    client: Client,
    runtime: Runtime,
    factory: TenantFactory,
    receiver: Receiver,
    sender: WebhookSender,
) -> None:
    """A failed then repeated delivery shows both attempts with status, latency and the answer's text."""
    tenant = await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver, ["work_order.created"])
    await tenant.work_order()
    receiver.status = 500
    await run_webhooks(runtime.db, sender, utcnow())
    [delivery] = await deliveries_of(runtime.db, tenant.id, endpoint_id)
    csrf = await sign_in(client, await english_admin(tenant))

    # A pending delivery waits for its retry: it has no "send again" button yet.
    page = await (await client.get(f"/settings/webhooks/{endpoint_id}")).get_data(as_text=True)
    assert 'webhook-failed">500</span>' in page and "{&#34;ok&#34;: false}" in page and "next try" in page
    assert f"/deliveries/{delivery.id}/resend" not in page

    receiver.status = 200
    await run_webhooks(runtime.db, sender, utcnow() + timedelta(minutes=1))
    resend = await client.post(
        f"/settings/webhooks/{endpoint_id}/deliveries/{delivery.id}/resend", form={"csrf_token": csrf}
    )
    test = await client.post(f"/settings/webhooks/{endpoint_id}/test", form={"csrf_token": csrf})
    assert (resend.status_code, test.status_code) == (303, 303)
    await run_webhooks(runtime.db, sender, utcnow() + timedelta(minutes=1))

    assert receiver.seen_ids[:3] == [delivery.webhook_id] * 3 and len(receiver.seen_ids) == 4
    assert receiver.types() == ["work_order.created", "webhook.test"]
    page = await (await client.get(f"/settings/webhooks/{endpoint_id}")).get_data(as_text=True)
    assert page.count("webhook.test") >= 1 and page.count('<span class="badge webhook-ok">200</span>') == 3


async def test_rotating_shows_the_new_secret_and_the_overlap(
    client: Client, runtime: Runtime, factory: TenantFactory, receiver: Receiver
) -> None:
    tenant = await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver)
    csrf = await sign_in(client, await english_admin(tenant))

    response = await client.post(f"/settings/webhooks/{endpoint_id}/rotate", form={"csrf_token": csrf})

    html = await response.get_data(as_text=True)
    match = SECRET.search(html)
    assert match is not None and match.group(1) != receiver.secret
    assert "For the next 24 hours every request is signed with the old and the new secret" in html
    page = await (await client.get(f"/settings/webhooks/{endpoint_id}")).get_data(as_text=True)
    assert "the previous secret also signs until" in page


async def test_a_disabled_endpoint_says_so_and_is_enabled_again(
    client: Client, runtime: Runtime, factory: TenantFactory, receiver: Receiver
) -> None:
    """The automatic disable is visible with its reason; "Enable again" turns the endpoint back on."""
    tenant = await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver)
    async with runtime.db.system(write=True) as session:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(enabled=False, disabled_reason="FAILURES", disabled_at=utcnow(), consecutive_failures=100)
        )
        await session.commit()
    csrf = await sign_in(client, await english_admin(tenant))

    page = await (await client.get(f"/settings/webhooks/{endpoint_id}")).get_data(as_text=True)
    assert "Disabled automatically: every attempt failed for 5 days" in page and "Enable again" in page
    refused = await client.post(f"/settings/webhooks/{endpoint_id}/test", form={"csrf_token": csrf})
    assert refused.status_code == 422
    assert "Enable the endpoint before sending it a test event." in await refused.get_data(as_text=True)

    enabled = await client.post(f"/settings/webhooks/{endpoint_id}/enable", form={"csrf_token": csrf})

    assert enabled.status_code == 303
    async with runtime.db.read(tenant.id) as session:
        [endpoint] = await list_endpoints(session)
    assert endpoint.enabled and endpoint.consecutive_failures == 0 and endpoint.failing_since is None


async def test_edit_and_delete(
    client: Client, runtime: Runtime, factory: TenantFactory, receiver: Receiver
) -> None:
    tenant = await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver)
    csrf = await sign_in(client, await english_admin(tenant))
    form = await (await client.get(f"/settings/webhooks/{endpoint_id}/edit")).get_data(as_text=True)
    assert 'name="version" value="1"' in form

    saved = await client.post(
        f"/settings/webhooks/{endpoint_id}",
        form={"csrf_token": csrf, "url": receiver.url, "event_types": "deal.created", "version": "1"},
    )
    stale = await client.post(
        f"/settings/webhooks/{endpoint_id}",
        form={"csrf_token": csrf, "url": receiver.url, "event_types": "lead.created", "version": "1"},
    )
    assert (saved.status_code, stale.status_code) == (303, 409)
    async with runtime.db.read(tenant.id) as session:
        [endpoint] = await list_endpoints(session)
    # The unticked "enabled" box disabled it; the stale save changed nothing.
    assert endpoint.event_types == ["deal.created"] and not endpoint.enabled

    confirm = await (await client.get(f"/settings/webhooks/{endpoint_id}/delete")).get_data(as_text=True)
    assert "This cannot be undone" in confirm
    deleted = await client.post(f"/settings/webhooks/{endpoint_id}/delete", form={"csrf_token": csrf})
    assert deleted.status_code == 303
    async with runtime.db.read(tenant.id) as session:
        assert await list_endpoints(session) == []


async def test_only_admins_see_the_settings_and_other_tenants_endpoints_are_not_found(
    app: Quart, client: Client, factory: TenantFactory, receiver: Receiver
) -> None:
    """A sales manager is refused; another dealership's admin gets 404 for the endpoint and its actions."""
    tenant, other = await factory.tenant(), await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver)
    manager = await tenant.user("sales_manager")
    await sign_in(client, manager.email)
    assert (await client.get("/settings/webhooks")).status_code == 403
    assert (await client.get(f"/settings/webhooks/{endpoint_id}")).status_code == 403

    other_admin = app.test_client()
    csrf = await sign_in(other_admin, await english_admin(other))
    assert (await other_admin.get(f"/settings/webhooks/{endpoint_id}")).status_code == 404
    rotate = await other_admin.post(f"/settings/webhooks/{endpoint_id}/rotate", form={"csrf_token": csrf})
    assert rotate.status_code == 404
