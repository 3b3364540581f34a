"""From events to deliveries: an event whose id commits after a higher one is not skipped, a rolled-back
id does not hold the queue up, and the event types partners may choose are the ones the services record."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from integrations.webhooks import WebhookSender
from ops.db import utcnow
from ops.events import record
from ops.runtime import Runtime
from ops.webhooks.models import WebhookDispatchCursor
from ops.webhooks.service import EVENT_TYPES, GAP_PATIENCE, INTERNAL_EVENT_PREFIXES
from tests.conftest import REDIS_BACKENDS
from tests.factories import TenantFactory
from tests.webhooks.helpers import Receiver, run_webhooks, subscribe

OPS = Path(__file__).resolve().parents[2] / "ops"
# `record(uow, "area.thing", ...)` and the areas' wrappers of it (`_record_alert(uow, "...", ...)`).
RECORDED_TYPE = re.compile(
    r'\b\w*(?:record|event|commit_unique)\w*\(\s*(?:[\w.]+,\s*){1,2}"([a-z_]+\.[a-z_]+)"'
)


@pytest.mark.parametrize("backend", REDIS_BACKENDS, indirect=True)
async def test_an_event_that_commits_after_a_later_one_is_still_delivered_first(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """PostgreSQL: a slow transaction took the lower id; the partner still gets its event, and first."""
    tenant = await factory.tenant()
    await subscribe(tenant, receiver, ["work_order.created"])
    async with runtime.db.uow(tenant.admin.actor) as slow:
        record(slow, "work_order.created", {"id": -1, "complaint": "slow"}, ["workshop"])
        await slow.session.flush()
        quick = await tenant.work_order()

        await run_webhooks(runtime.db, sender, utcnow())
        await run_webhooks(runtime.db, sender, utcnow())
        assert receiver.processed == []

        await slow.commit()
    await run_webhooks(runtime.db, sender, utcnow())

    assert [item.data["id"] for item in receiver.processed] == [-1, quick.id]


async def test_a_rolled_back_event_does_not_hold_the_deliveries_up(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """A change that failed and rolled back leaves a gap in the ids; the next events still go out."""
    tenant = await factory.tenant()
    await subscribe(tenant, receiver, ["work_order.created"])
    async with runtime.db.uow(tenant.admin.actor) as failed:
        record(failed, "work_order.created", {"id": -2}, ["workshop"])
        await failed.session.flush()
    work_order = await tenant.work_order()

    # The first pass notes the gap; the next one sees that no transaction that could fill it is open.
    await run_webhooks(runtime.db, sender, utcnow())
    await run_webhooks(runtime.db, sender, utcnow())

    assert [item.data["id"] for item in receiver.processed] == [work_order.id]


def test_every_recorded_event_type_is_offered_or_internal() -> None:
    """The settings page offers exactly the event types the services record (none missing, none stale)."""
    recorded: set[str] = set()
    for path in OPS.rglob("*.py"):
        source = path.read_text()
        recorded.update(RECORDED_TYPE.findall(source))
        # The quote's answer is chosen in one call: "quote.accepted" if ... else "quote.declined".
        recorded.update(re.findall(r'"(quote\.(?:accepted|declined))"', source))
    offered = set(EVENT_TYPES)
    internal = {name for name in recorded if name.startswith(INTERNAL_EVENT_PREFIXES)}
    assert sorted(recorded - offered - internal) == [], "add the new event types to ops/webhooks/service.py"
    assert sorted(offered - recorded) == [], "these offered event types are no longer recorded"


@pytest.mark.parametrize("backend", REDIS_BACKENDS, indirect=True)
async def test_a_transaction_left_open_holds_dispatch_up_for_minutes_not_for_ever(
    runtime: Runtime, factory: TenantFactory, receiver: Receiver, sender: WebhookSender
) -> None:
    """PostgreSQL: a session left open mid-transaction delays the partners' events by GAP_PATIENCE at most."""
    tenant = await factory.tenant()
    await subscribe(tenant, receiver, ["work_order.created"])
    async with runtime.db.uow(tenant.admin.actor) as stuck:
        record(stuck, "work_order.created", {"id": -3}, ["workshop"])
        await stuck.session.flush()
        work_order = await tenant.work_order()
        await run_webhooks(runtime.db, sender, utcnow())
        assert receiver.processed == []

        # The gap was noticed longer ago than the dispatcher waits.
        async with runtime.db.system(write=True) as session:
            cursor = (await session.scalars(select(WebhookDispatchCursor))).one()
            assert cursor.horizon_seen_at is not None
            cursor.horizon_seen_at -= GAP_PATIENCE + timedelta(seconds=1)
            await session.commit()
        await run_webhooks(runtime.db, sender, utcnow())

    assert [item.data["id"] for item in receiver.processed] == [work_order.id]
