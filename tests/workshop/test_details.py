"""Correcting a work order's details in the service: complaint, category, priority and promised time,
with the version the advisor saw, recorded in the history and as an event, or not at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from ops.auth.actor import Conflict, NotFound, PermissionDenied, RuleViolation
from ops.db import utcnow
from ops.events import Event
from ops.workshop.models import WorkOrder, WorkOrderCategory
from ops.workshop.service import WorkOrderDetails, update_work_order_details
from tests.workshop.order_helpers import event_types, history, stored

ZURICH = ZoneInfo("Europe/Zurich")


async def _edit(shop, work_order, by=None, version=None, **changes):  # type: ignore[no-untyped-def]
    """The work order's details as they are, with `changes`, saved by `by` (the admin by default)."""
    details = {
        "complaint": work_order.complaint,
        "priority": work_order.priority,
        "category_id": work_order.category_id,
        "promised_at": work_order.promised_at,
        **changes,
    }
    async with shop.db.uow(by or shop.admin.actor) as uow:
        return await update_work_order_details(
            uow,
            work_order.id,
            WorkOrderDetails(**details),
            work_order.version if version is None else version,
        )


async def _category(shop, name: str) -> int:  # type: ignore[no-untyped-def]
    async with shop.db.read(shop.id) as session:
        return (
            await session.scalars(select(WorkOrderCategory.id).where(WorkOrderCategory.name == name))
        ).one()


async def _promised(shop, work_order, promised_at: datetime) -> WorkOrder:  # type: ignore[no-untyped-def]
    """The job with a promise written straight into the row (one made earlier, since passed)."""
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(WorkOrder).where(WorkOrder.id == work_order.id).values(promised_at=promised_at)
        )
        await uow.commit()
    return await stored(shop.db, shop.id, WorkOrder, work_order.id)


async def _updates(shop) -> list[Event]:  # type: ignore[no-untyped-def]
    async with shop.db.read(shop.id) as session:
        return list(await session.scalars(select(Event).where(Event.type == "work_order.updated")))


async def test_the_corrected_details_are_saved_with_who_and_what_in_the_history_and_an_event(
    runtime, factory
):
    """The customer calls: the car is needed by Friday noon, and it is the brakes, not the clutch."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", name="Sara Advisor")
    work_order = await shop.work_order(status="SCHEDULED", complaint="Clutch slips")
    brakes = await _category(shop, "Brake Service")
    friday_noon = datetime(2031, 3, 7, 11, 0, tzinfo=UTC)

    saved = await _edit(
        shop,
        work_order,
        by=advisor.actor,
        complaint="Brakes squeal when cold",
        category_id=brakes,
        priority="HIGH",
        promised_at=friday_noon,
    )

    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.complaint, row.category_id, row.priority, row.promised_at, row.status) == (
        "Brakes squeal when cold",
        brakes,
        "HIGH",
        friday_noon,
        "SCHEDULED",
    )
    assert row.version == saved.version == work_order.version + 1
    entry = (await history(runtime.db, shop.id, work_order.id))[-1]
    assert (entry.from_status, entry.to_status, entry.actor_id, entry.actor_name, entry.changes) == (
        "SCHEDULED",
        "SCHEDULED",
        advisor.actor.user_id,
        "Sara Advisor",
        ["complaint", "category_id", "priority", "promised_at"],
    )
    [event] = await _updates(shop)
    assert event.topics == ["workshop", f"wo:{work_order.id}"]
    assert event.actor_id == advisor.actor.user_id
    assert event.payload == {
        "id": work_order.id,
        "number": work_order.code,
        "changed": ["complaint", "category_id", "priority", "promised_at"],
        "before": {
            "complaint": "Clutch slips",
            "category_id": None,
            "priority": "NORMAL",
            "promised_at": None,
        },
        "after": {
            "complaint": "Brakes squeal when cold",
            "category_id": brakes,
            "priority": "HIGH",
            "promised_at": friday_noon.isoformat(),
        },
        "version": row.version,
    }


async def test_only_what_changed_is_named(runtime, factory):
    shop = await factory.tenant()
    work_order = await shop.work_order()

    await _edit(shop, work_order, priority="URGENT")

    assert (await history(runtime.db, shop.id, work_order.id))[-1].changes == ["priority"]
    [event] = await _updates(shop)
    assert (event.payload["before"], event.payload["after"]) == (
        {"priority": "NORMAL"},
        {"priority": "URGENT"},
    )


async def test_saving_the_details_unchanged_records_nothing(runtime, factory):
    """A history full of "changed" entries that changed nothing, and every screen redrawn for it."""
    shop = await factory.tenant()
    work_order = await _promised(shop, await shop.work_order(), datetime(2031, 3, 7, 11, 0, 27, tzinfo=UTC))
    events_before = await event_types(runtime.db, shop.id)

    # The form shows the promise to the minute in Zurich; sent back as shown, it is the same promise.
    saved = await _edit(shop, work_order, promised_at=datetime(2031, 3, 7, 12, 0, tzinfo=ZURICH))

    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.version, row.promised_at) == (work_order.version, work_order.promised_at)
    assert saved.version == work_order.version
    assert [entry.to_status for entry in await history(runtime.db, shop.id, work_order.id)] == ["NEW"]
    assert await event_types(runtime.db, shop.id) == events_before


async def test_a_new_promise_in_the_past_is_refused_and_changes_nothing(runtime, factory):
    """A slip of the day or year made the job overdue at once, as on the New work order form."""
    shop = await factory.tenant()
    work_order = await shop.work_order()

    with pytest.raises(RuleViolation) as refused:
        await _edit(shop, work_order, priority="HIGH", promised_at=utcnow() - timedelta(hours=1))

    assert (str(refused.value), refused.value.field) == (
        "The promised time has already passed.",
        "promised_at",
    )
    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.priority, row.promised_at, row.version) == ("NORMAL", None, work_order.version)
    assert await _updates(shop) == []


async def test_a_promise_made_a_minute_ago_is_still_taken(runtime, factory):
    """The form was filled in slowly: five minutes' grace, as when creating."""
    shop = await factory.tenant()
    work_order = await shop.work_order()
    promised = (utcnow() - timedelta(minutes=2)).replace(microsecond=0)

    await _edit(shop, work_order, promised_at=promised)

    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).promised_at == promised


async def test_a_job_whose_promise_has_passed_keeps_it_while_its_other_details_are_corrected(
    runtime, factory
):
    """Only a promise being made is checked: a late job's complaint could not be corrected at all."""
    shop = await factory.tenant()
    passed = datetime(2020, 5, 4, 16, 0, tzinfo=UTC)
    work_order = await _promised(shop, await shop.work_order(status="IN_PROGRESS"), passed)

    await _edit(shop, work_order, complaint="Brakes squeal, also on the right")

    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.complaint, row.promised_at) == ("Brakes squeal, also on the right", passed)


async def test_a_promise_can_be_cleared_and_the_history_says_so(runtime, factory):
    """A promise typed on the wrong job has to go; who took it away stays on record."""
    shop = await factory.tenant()
    passed = datetime(2020, 5, 4, 16, 0, tzinfo=UTC)
    work_order = await _promised(shop, await shop.work_order(), passed)

    await _edit(shop, work_order, promised_at=None)

    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).promised_at is None
    assert (await history(runtime.db, shop.id, work_order.id))[-1].changes == ["promised_at"]
    [event] = await _updates(shop)
    assert (event.payload["before"], event.payload["after"]) == (
        {"promised_at": passed.isoformat()},
        {"promised_at": None},
    )


async def test_a_stale_version_is_a_conflict_and_overwrites_nothing(runtime, factory):
    """Two advisors on the phone with the same customer: the second would silently undo the first."""
    shop = await factory.tenant()
    work_order = await shop.work_order()
    await _edit(shop, work_order, priority="URGENT")

    with pytest.raises(Conflict, match="changed by someone else"):
        await _edit(shop, work_order, complaint="Something else")

    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.complaint, row.priority, row.version) == (
        work_order.complaint,
        "URGENT",
        work_order.version + 1,
    )
    assert len(await _updates(shop)) == 1


@pytest.mark.parametrize("role", ["technician", "viewer"])
async def test_a_technician_or_viewer_may_not_change_the_details(runtime, factory, role):
    shop = await factory.tenant()
    user = await shop.user(role)
    work_order = await shop.work_order()

    with pytest.raises(PermissionDenied):
        await _edit(shop, work_order, by=user.actor, priority="URGENT")

    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).priority == "NORMAL"


@pytest.mark.parametrize("role", ["service_advisor", "workshop_manager"])
async def test_the_roles_that_open_work_orders_correct_them(runtime, factory, role):
    shop = await factory.tenant()
    user = await shop.user(role)
    work_order = await shop.work_order()

    await _edit(shop, work_order, by=user.actor, priority="LOW")

    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).priority == "LOW"


@pytest.mark.parametrize("status", ["READY", "CLOSED", "CANCELLED"])
async def test_a_finished_or_cancelled_job_keeps_its_details(runtime, factory, status):
    """A ready job is invoiced: what it was for and when it was promised are its record."""
    shop = await factory.tenant()
    work_order = await shop.work_order(status=status)

    with pytest.raises(RuleViolation, match="its details can no longer change"):
        await _edit(shop, work_order, complaint="Rewritten afterwards")

    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).complaint == work_order.complaint


async def test_another_dealerships_job_and_category_are_not_found(runtime, factory):
    shop, other = await factory.tenant(), await factory.tenant()
    theirs = await other.work_order()
    mine = await shop.work_order()

    with pytest.raises(NotFound):
        await _edit(shop, theirs, priority="URGENT")
    with pytest.raises(RuleViolation, match="Choose one of the categories"):
        await _edit(shop, mine, category_id=await _category(other, "Repair"))

    assert (await stored(runtime.db, other.id, WorkOrder, theirs.id)).priority == "NORMAL"
    assert (await stored(runtime.db, shop.id, WorkOrder, mine.id)).category_id is None
