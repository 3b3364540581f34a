"""Deliveries to a real receiver on 127.0.0.1 that verifies signatures with the standardwebhooks package:
signatures, retries with the same webhook-id, a receiver that is down and comes back, timeouts, redirects,
send again and the test event. The worker's passes run at an explicit `now` instead of sleeping."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Text, type_coerce, update

from integrations.webhooks import WebhookSender
from ops.db import utcnow
from ops.runtime import Runtime
from ops.sealing import SecretBox
from ops.webhooks.models import WebhookEndpoint
from ops.webhooks.service import UNREADABLE_SECRET, send_again, send_test_event
from tests.factories import TenantFactory
from tests.webhooks.helpers import (
    Receiver,
    attempts_of,
    close_breakers,
    deliveries_of,
    run_webhooks,
    subscribe,
)


async def test_a_work_order_reaches_the_partner_signed(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """A partner subscribed to work orders gets the new work order, with a signature their library accepts."""
    tenant = await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver, ["work_order.created"])
    work_order = await tenant.work_order(status="CHECKED_IN")

    report = await run_webhooks(runtime.db, sender, utcnow())

    assert report.succeeded == 1
    assert receiver.rejected == 0
    # Subscribed to one type: the moves that checked the car in are not sent.
    assert receiver.types() == ["work_order.created"]
    assert receiver.processed[0].data["id"] == work_order.id
    [delivery] = await deliveries_of(runtime.db, tenant.id, endpoint_id)
    assert delivery.status == "SUCCEEDED"
    assert receiver.processed[0].webhook_id == delivery.webhook_id
    [attempt] = await attempts_of(runtime.db, tenant.id, endpoint_id)
    assert attempt.status_code == 200 and attempt.succeeded and attempt.response_excerpt == '{"ok": true}'


async def test_a_failed_delivery_is_retried_with_the_same_webhook_id(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """A receiver that answered 500 gets the same delivery again later, with the same webhook-id to dedupe."""
    tenant = await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver, ["work_order.created"])
    await tenant.work_order()
    receiver.status = 500
    now = utcnow()

    first = await run_webhooks(runtime.db, sender, now)
    too_early = await run_webhooks(runtime.db, sender, now + timedelta(seconds=4))
    receiver.status = 200
    second = await run_webhooks(runtime.db, sender, now + timedelta(seconds=7))

    assert (first.failed, too_early.failed + too_early.succeeded, second.succeeded) == (1, 0, 1)
    [delivery] = await deliveries_of(runtime.db, tenant.id, endpoint_id)
    assert receiver.seen_ids == [delivery.webhook_id, delivery.webhook_id]
    assert len(receiver.processed) == 1
    attempts = await attempts_of(runtime.db, tenant.id, endpoint_id)
    assert [(a.status_code, a.succeeded) for a in attempts] == [(500, False), (200, True)]
    assert attempts[0].error == "HTTP 500"


async def test_a_receiver_that_is_down_for_a_while_gets_everything_in_order(
    runtime: Runtime, factory: TenantFactory, sender: WebhookSender
) -> None:
    """Refused connections, then 500s, then back: every event arrives, each processed once, in order."""
    receiver = Receiver()
    tenant = await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver, ["work_order.created"])
    created = [(await tenant.work_order(complaint=f"Job {n}")).id for n in range(4)]
    now = utcnow()

    for _ in range(3):
        await run_webhooks(runtime.db, sender, now)
        now += timedelta(hours=3)
        close_breakers()
    await receiver.start()
    try:
        receiver.status = 500
        await run_webhooks(runtime.db, sender, now)
        now += timedelta(hours=6)
        created.append((await tenant.work_order(complaint="While it was failing")).id)
        receiver.status = 200
        for _ in range(3):
            close_breakers()
            await run_webhooks(runtime.db, sender, now)
            now += timedelta(hours=11)
    finally:
        await receiver.stop()

    assert receiver.rejected == 0
    assert [item.data["id"] for item in receiver.processed] == created
    deliveries = await deliveries_of(runtime.db, tenant.id, endpoint_id)
    assert {d.status for d in deliveries} == {"SUCCEEDED"}
    assert sorted(set(receiver.seen_ids)) == sorted(d.webhook_id for d in deliveries)
    attempts = await attempts_of(runtime.db, tenant.id, endpoint_id)
    errors = [a.error for a in attempts if not a.succeeded]
    assert errors[0].startswith("could not connect") and errors[-1] == "HTTP 500"


async def test_a_slow_receiver_is_a_timeout(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """A receiver that does not answer within the limit is a failed attempt, tried again later."""
    tenant = await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver, ["work_order.created"])
    await tenant.work_order()
    receiver.stall_seconds = 3.0

    report = await run_webhooks(runtime.db, sender, utcnow())

    assert report.failed == 1
    [attempt] = await attempts_of(runtime.db, tenant.id, endpoint_id)
    assert attempt.status_code is None and attempt.error == "timed out"
    assert 900 <= attempt.latency_ms < 2500
    [delivery] = await deliveries_of(runtime.db, tenant.id, endpoint_id)
    assert delivery.status == "PENDING" and delivery.next_attempt_at > utcnow()


async def test_a_redirect_is_not_followed(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """A 302 is a failed attempt, and the address it points to never gets the request."""
    elsewhere = Receiver()
    await elsewhere.start()
    try:
        tenant = await factory.tenant()
        endpoint_id = await subscribe(tenant, receiver, ["work_order.created"])
        elsewhere.secret = receiver.secret
        receiver.redirect_to = elsewhere.url
        await tenant.work_order()

        report = await run_webhooks(runtime.db, sender, utcnow())
    finally:
        await elsewhere.stop()

    assert report.failed == 1
    assert elsewhere.raw == []
    [attempt] = await attempts_of(runtime.db, tenant.id, endpoint_id)
    assert attempt.status_code == 302 and not attempt.succeeded
    assert attempt.error == f"redirect to {elsewhere.url} not followed"


async def test_send_again_repeats_a_delivery_with_its_webhook_id(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """An admin's "send again" posts the delivery again with the same id; a deduping receiver ignores it."""
    tenant = await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver, ["work_order.created"])
    await tenant.work_order()
    await run_webhooks(runtime.db, sender, utcnow())
    [delivery] = await deliveries_of(runtime.db, tenant.id, endpoint_id)

    async with runtime.db.uow(tenant.admin.actor) as uow:
        await send_again(uow, endpoint_id, delivery.id)
    await run_webhooks(runtime.db, sender, utcnow())

    assert receiver.seen_ids == [delivery.webhook_id, delivery.webhook_id]
    assert len(receiver.processed) == 1
    assert len(await attempts_of(runtime.db, tenant.id, endpoint_id)) == 2


async def test_a_test_event_goes_to_that_endpoint_only(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """ "Send a test event" reaches the chosen endpoint as webhook.test, and no other endpoint."""
    other = Receiver()
    await other.start()
    try:
        tenant = await factory.tenant()
        endpoint_id = await subscribe(tenant, receiver)
        await subscribe(tenant, other)
        async with runtime.db.uow(tenant.admin.actor) as uow:
            await send_test_event(uow, endpoint_id)
        await run_webhooks(runtime.db, sender, utcnow())
    finally:
        await other.stop()

    assert receiver.types() == ["webhook.test"]
    assert receiver.processed[0].data["endpoint_id"] == endpoint_id
    assert other.raw == []


async def test_one_tenants_events_never_reach_another_tenants_endpoint(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """Two dealerships with endpoints: each partner hears only about its own dealership's work orders."""
    theirs = Receiver()
    await theirs.start()
    try:
        ours, other = await factory.tenant(), await factory.tenant()
        await subscribe(ours, receiver)
        await subscribe(other, theirs)
        our_job = await ours.work_order()
        await run_webhooks(runtime.db, sender, utcnow())
    finally:
        await theirs.stop()

    assert receiver.types() == ["work_order.created"]
    assert receiver.processed[0].data["id"] == our_job.id
    assert theirs.raw == []


async def test_an_endpoint_whose_secret_no_key_opens_is_not_sent_to_and_the_log_says_why(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """After PITWALL_SECRET_KEY changed without the old key named, nothing goes out unsigned or signed
    with a wrong secret: the attempt fails with the way out (rotate the secret), and the delivery waits."""
    tenant = await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver, ["work_order.created"])
    sealed_elsewhere = SecretBox(["a key this server never had"]).seal(receiver.secret)
    async with runtime.db.system(write=True) as session:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values({type_coerce(WebhookEndpoint.secret, Text()): sealed_elsewhere})
        )
        await session.commit()
    await tenant.work_order()

    report = await run_webhooks(runtime.db, sender, utcnow())

    assert (report.succeeded, report.failed) == (0, 1)
    assert receiver.raw == []
    [attempt] = await attempts_of(runtime.db, tenant.id, endpoint_id)
    assert (attempt.status_code, attempt.error) == (None, UNREADABLE_SECRET)
    [delivery] = await deliveries_of(runtime.db, tenant.id, endpoint_id)
    assert delivery.status == "PENDING"
