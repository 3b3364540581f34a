"""Deliveries to a real receiver on 127.0.0.1 that verifies signatures with the standardwebhooks package."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from integrations.webhooks import WebhookSender
from ops.db import utcnow
from ops.runtime import Runtime
from tests.factories import TenantFactory
from tests.webhooks.helpers import (
    Receiver,
    attempts_of,
    deliveries_of,
    run_webhooks,
    subscribe,
)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    await found.start()
    yield found
    await found.stop()


@pytest.fixture
async def sender() -> AsyncIterator[WebhookSender]:
    # Short, so the timeout test does not wait the real 10 s.
    client = WebhookSender(timeout=1.0)
    yield client
    await client.close()


async def test_a_work_order_reaches_the_partner_signed(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """A partner subscribed to work orders gets the new work order, with a signature their library accepts."""
    tenant = await factory.tenant()
    endpoint_id = await subscribe(tenant, receiver, ["work_order.created"])
    work_order = await tenant.work_order()

    report = await run_webhooks(runtime.db, sender, utcnow())

    assert report.succeeded == 1
    assert receiver.rejected == 0
    assert receiver.types() == ["work_order.created"]
    assert receiver.processed[0].data["id"] == work_order.id
    [delivery] = await deliveries_of(runtime.db, tenant.id, endpoint_id)
    assert delivery.status == "SUCCEEDED"
    assert receiver.processed[0].webhook_id == delivery.webhook_id
    [attempt] = await attempts_of(runtime.db, tenant.id, endpoint_id)
    assert attempt.status_code == 204 and attempt.succeeded
