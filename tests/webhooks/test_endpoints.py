"""Endpoints: the secret, validation, private-network targets (SSRF), permissions, tenants, versions, and
the secret rotation's overlap, checked by the receiver's own Standard Webhooks library."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from integrations.webhooks import TargetPolicy, WebhookSender
from ops.auth.actor import Actor, Conflict, NotFound, PermissionDenied
from ops.db import utcnow
from ops.events import Event
from ops.runtime import Runtime
from ops.webhooks.models import WebhookEndpoint
from ops.webhooks.service import (
    EndpointInvalid,
    create_endpoint,
    get_endpoint,
    list_endpoints,
    rotate_secret,
    update_endpoint,
)
from tests.factories import TenantFactory
from tests.webhooks.helpers import LOCAL_POLICY, Receiver, attempts_of, run_webhooks, subscribe

NO_PRIVATE = TargetPolicy(allow_private=False, require_https=False)


async def _endpoint_count(runtime: Runtime, tenant_id: int) -> int:
    async with runtime.db.read(tenant_id) as session:
        return await session.scalar(select(func.count()).select_from(WebhookEndpoint)) or 0


async def test_the_secret_is_a_standard_webhooks_secret_and_no_event_carries_it(
    runtime: Runtime, factory: TenantFactory
) -> None:
    """The admin copies a whsec_ secret of 24 random bytes; the audit trail never holds it."""
    tenant = await factory.tenant()
    async with runtime.db.uow(tenant.admin.actor) as uow:
        endpoint, secret = await create_endpoint(
            uow, "http://127.0.0.1:9/hooks", ["work_order.created"], "ERP", policy=LOCAL_POLICY
        )

    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
    async with runtime.db.read(tenant.id) as session:
        assert [e.url for e in await list_endpoints(session)] == ["http://127.0.0.1:9/hooks"]
        payloads = (
            await session.scalars(select(Event.payload).where(Event.type.like("webhook_endpoint.%")))
        ).all()
    assert payloads and all(secret not in str(payload) for payload in payloads)
    assert endpoint.description == "ERP"


@pytest.mark.parametrize(
    ("url", "types", "field", "message"),
    [
        ("", ["*"], "url", "Enter the URL"),
        ("ftp://partner.example.com/x", ["*"], "url", "use an http:// or https:// URL"),
        ("http://user:pw@127.0.0.1/x", ["*"], "url", "user name or password"),
        ("http://127.0.0.1:9/x", [], "event_types", "Choose at least one"),
        ("http://127.0.0.1:9/x", ["work_order.exploded"], "event_types", "work_order.exploded"),
    ],
)
async def test_a_bad_endpoint_is_refused_with_the_field_named(
    runtime: Runtime, factory: TenantFactory, url: str, types: list[str], field: str, message: str
) -> None:
    """The form says which field is wrong and what to do, and nothing is saved."""
    tenant = await factory.tenant()
    with pytest.raises(EndpointInvalid) as refused:
        async with runtime.db.uow(tenant.admin.actor) as uow:
            await create_endpoint(uow, url, types, "", policy=LOCAL_POLICY)
    assert message in refused.value.errors[field]
    assert await _endpoint_count(runtime, tenant.id) == 0


async def test_production_wants_https(runtime: Runtime, factory: TenantFactory) -> None:
    """In production a plain http:// URL is refused (the default policy of the service)."""
    tenant = await factory.tenant()
    with pytest.raises(EndpointInvalid) as refused:
        async with runtime.db.uow(tenant.admin.actor) as uow:
            await create_endpoint(uow, "http://partner.example.com/hooks", ["*"])
    assert "https://" in refused.value.errors["url"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://localhost/hooks",
        "http://10.1.2.3/hooks",
        "http://192.168.1.20/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
        "http://[::ffff:10.0.0.1]/hooks",
        "http://0.0.0.0/hooks",
        "http://224.0.0.1/hooks",
    ],
)
async def test_private_network_targets_are_refused_unless_allowed(
    runtime: Runtime, factory: TenantFactory, url: str
) -> None:
    """SSRF: with private targets not allowed, an endpoint cannot point inside the network."""
    tenant = await factory.tenant()
    with pytest.raises(EndpointInvalid) as refused:
        async with runtime.db.uow(tenant.admin.actor) as uow:
            await create_endpoint(uow, url, ["*"], policy=NO_PRIVATE)
    assert "private network" in refused.value.errors["url"]


async def test_a_target_that_turned_private_is_refused_when_delivering(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """The address is checked again on every attempt: a target refused now gets nothing, the log says why."""
    tenant = await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver, ["work_order.created"])
    await tenant.work_order()

    await run_webhooks(runtime.db, sender, utcnow(), policy=NO_PRIVATE)

    assert receiver.raw == []
    [attempt] = await attempts_of(runtime.db, tenant.id, endpoint_id)
    assert not attempt.succeeded and "private network" in attempt.error


async def test_only_a_tenant_admin_or_a_partner_with_the_scope_manages_endpoints(
    runtime: Runtime, factory: TenantFactory
) -> None:
    """A service advisor cannot subscribe endpoints; a partner token with webhooks:write can."""
    tenant = await factory.tenant()
    advisor = await tenant.user("service_advisor")
    with pytest.raises(PermissionDenied):
        async with runtime.db.uow(advisor.actor) as uow:
            await create_endpoint(uow, "http://127.0.0.1:9/x", ["*"], policy=LOCAL_POLICY)
    partner = Actor(
        tenant.id, None, "ERP token", "viewer", kind="partner", scopes=frozenset({"webhooks:write"})
    )
    async with runtime.db.uow(partner) as uow:
        await create_endpoint(uow, "http://127.0.0.1:9/x", ["*"], policy=LOCAL_POLICY)
    assert await _endpoint_count(runtime, tenant.id) == 1


async def test_another_tenants_endpoint_is_not_found(runtime: Runtime, factory: TenantFactory) -> None:
    """An admin of one dealership cannot read or change another's endpoint: it does not exist for them."""
    ours, theirs = await factory.tenant(), await factory.tenant()
    async with runtime.db.uow(theirs.admin.actor) as uow:
        endpoint, _secret = await create_endpoint(uow, "http://127.0.0.1:9/x", ["*"], policy=LOCAL_POLICY)
    async with runtime.db.read(ours.id) as session:
        with pytest.raises(NotFound):
            await get_endpoint(session, endpoint.id)
    with pytest.raises(NotFound):
        async with runtime.db.uow(ours.admin.actor) as uow:
            await rotate_secret(uow, endpoint.id)


async def test_two_admins_saving_the_same_version_one_is_told_it_changed(
    runtime: Runtime, factory: TenantFactory
) -> None:
    """Both save the endpoint they loaded at once: one wins, the other gets a conflict, not an overwrite."""
    tenant = await factory.tenant()
    second_admin = await tenant.user("admin")
    async with runtime.db.uow(tenant.admin.actor) as uow:
        endpoint, _secret = await create_endpoint(uow, "http://127.0.0.1:9/a", ["*"], policy=LOCAL_POLICY)

    async def save(actor: Actor, url: str) -> str:
        try:
            async with runtime.db.uow(actor) as uow:
                await update_endpoint(
                    uow,
                    endpoint.id,
                    url=url,
                    event_types=["*"],
                    version=endpoint.version,
                    policy=LOCAL_POLICY,
                )
        except Conflict:
            return "conflict"
        return url

    results = await asyncio.gather(
        save(tenant.admin.actor, "http://127.0.0.1:9/first"),
        save(second_admin.actor, "http://127.0.0.1:9/second"),
    )

    assert sorted(results, key=lambda r: r == "conflict")[1] == "conflict"
    winner = next(r for r in results if r != "conflict")
    async with runtime.db.read(tenant.id) as session:
        saved = await get_endpoint(session, endpoint.id)
    assert (saved.url, saved.version) == (winner, 2)


async def test_during_a_rotation_both_secrets_verify_and_afterwards_only_the_new(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """A receiver still on the old secret and one already on the new both accept requests for 24 hours."""
    tenant = await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver, ["work_order.created"])
    old_secret = receiver.secret
    now = utcnow()
    async with runtime.db.uow(tenant.admin.actor) as uow:
        _endpoint, new_secret = await rotate_secret(uow, endpoint_id, now)
    await tenant.work_order()

    await run_webhooks(runtime.db, sender, now + timedelta(hours=23))
    body, headers = receiver.raw[-1]
    Webhook(old_secret).verify(body, headers)
    Webhook(new_secret).verify(body, headers)

    receiver.secret = new_secret
    await tenant.work_order()
    await run_webhooks(runtime.db, sender, now + timedelta(hours=25))
    body, headers = receiver.raw[-1]
    Webhook(new_secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(body, headers)
    assert receiver.rejected == 0 and len(receiver.processed) == 2
