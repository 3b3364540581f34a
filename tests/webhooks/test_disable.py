"""An endpoint that keeps failing is disabled with a mail to the tenant's admins, and enabling it again
sends what was queued, in order."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from integrations.webhooks import WebhookSender
from ops.db import utcnow
from ops.events import Event
from ops.mail.models import OutgoingMail
from ops.runtime import Runtime
from ops.webhooks.models import WebhookDelivery, WebhookEndpoint
from ops.webhooks.service import (
    DISABLED_FOR_FAILURES,
    get_endpoint,
    send_test_event,
    set_endpoint_enabled,
)
from tests.factories import TenantFactory
from tests.webhooks.helpers import Receiver, close_breakers, deliveries_of, run_webhooks, subscribe


async def test_five_days_of_failures_disable_the_endpoint_and_mail_the_admins(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """Every attempt fails for 5 days: the endpoint is disabled, the admin is mailed, the queue is kept."""
    tenant = await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver)
    for _ in range(6):
        async with runtime.db.uow(tenant.admin.actor) as uow:
            await send_test_event(uow, endpoint_id)
    receiver.status = 503
    started = now = utcnow()

    for _ in range(60):
        close_breakers()
        await run_webhooks(runtime.db, sender, now)
        async with runtime.db.read(tenant.id) as session:
            endpoint = await get_endpoint(session, endpoint_id)
            head = await session.scalar(
                select(WebhookDelivery.next_attempt_at)
                .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "PENDING")
                .order_by(WebhookDelivery.id)
            )
        if not endpoint.enabled or head is None:
            break
        now = head + timedelta(seconds=1)

    assert not endpoint.enabled and endpoint.disabled_reason == DISABLED_FOR_FAILURES
    assert timedelta(days=5) <= now - started < timedelta(days=6)
    async with runtime.db.read(tenant.id) as session:
        # The tenant's other mail (a welcome mail) is not about the endpoint.
        mails = (
            await session.scalars(select(OutgoingMail).where(OutgoingMail.subject.ilike("%webhook%")))
        ).all()
        disabled_events = (
            await session.scalars(select(Event.payload).where(Event.type == "webhook_endpoint.disabled"))
        ).all()
    assert [mail.recipient for mail in mails] == [tenant.admin.email]
    assert receiver.url in mails[0].subject and receiver.url in mails[0].text and mails[0].html
    assert [payload["id"] for payload in disabled_events] == [endpoint_id]

    # Disabled: nothing more is tried, however much time passes.
    tried = len(receiver.raw)
    close_breakers()
    await run_webhooks(runtime.db, sender, now + timedelta(days=1))
    assert len(receiver.raw) == tried

    receiver.status = 200
    async with runtime.db.uow(tenant.admin.actor) as uow:
        await set_endpoint_enabled(uow, endpoint_id, True)
    await run_webhooks(runtime.db, sender, now + timedelta(days=1))

    deliveries = await deliveries_of(runtime.db, tenant.id, endpoint_id)
    given_up = [d for d in deliveries if d.status == "FAILED"]
    delivered = [d.webhook_id for d in deliveries if d.status == "SUCCEEDED"]
    assert given_up and delivered and len(given_up) + len(delivered) == 6
    assert [item.webhook_id for item in receiver.processed] == delivered


async def test_a_hundred_failures_in_a_row_disable_the_endpoint(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """An endpoint that failed 99 times in a row is disabled by the hundredth failure, whenever it comes."""
    tenant = await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver)
    async with runtime.db.system(write=True) as session:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(consecutive_failures=99, failing_since=utcnow())
        )
        await session.commit()
    async with runtime.db.uow(tenant.admin.actor) as uow:
        await send_test_event(uow, endpoint_id)
    receiver.status = 500

    report = await run_webhooks(runtime.db, sender, utcnow())

    assert report.disabled == [endpoint_id]
    async with runtime.db.read(tenant.id) as session:
        endpoint = await get_endpoint(session, endpoint_id)
    assert not endpoint.enabled and endpoint.consecutive_failures == 100
