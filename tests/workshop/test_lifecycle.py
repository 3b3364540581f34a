"""A work order's life in the services: history, scheduling, reassigning, check-in, bays, the end of a
job (READY only to CLOSED, cancelling), and comebacks."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from ops.auth.actor import PermissionDenied, RuleViolation
from ops.db import utcnow
from ops.i18n import current_locale
from ops.vehicles.models import Vehicle
from ops.workshop.models import Part, StockMovement, TimeEntry, WorkOrder, WorkOrderLine
from ops.workshop.service import (
    NewWorkOrder,
    assign_work_order,
    change_status,
    check_in_work_order,
    close_work_order,
    create_work_order,
    load_for_change,
    move_work_order,
    schedule_work_order,
)
from ops.workshop.technicians.service import clock_on
from tests.workshop.order_helpers import (
    add_bay,
    add_line,
    add_part,
    event_types,
    history,
    hours,
    move,
    snapshot,
    stored,
)


async def _schedule(shop, work_order, bay, technician, slot, by=None):  # type: ignore[no-untyped-def]
    async with shop.db.uow(by or shop.admin.actor) as uow:
        return await schedule_work_order(
            uow, work_order.id, bay.id, technician.actor.user_id, slot[0], slot[1], work_order.version
        )


async def _refusal(call) -> RuleViolation:  # type: ignore[no-untyped-def]
    with pytest.raises(RuleViolation) as refused:
        await call
    return refused.value


# --- History ---------------------------------------------------------------------------------------------


async def test_every_status_change_is_recorded_with_who_and_when_from_creation_on(runtime, factory):
    """Nobody could say who took a car off the lift or when a job was opened."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", name="Sara Advisor")
    technician = await shop.user("technician", name="Luca Brunner")
    vehicle = await shop.vehicle()
    before = utcnow()
    async with runtime.db.uow(advisor.actor) as uow:
        work_order = await create_work_order(uow, NewWorkOrder(vehicle_id=vehicle.id, complaint="Noise"))
    work_order = await move(shop, work_order, "CHECKED_IN", by=advisor.actor)
    work_order = await move(shop, work_order, "IN_PROGRESS", by=technician.actor)

    rows = await history(runtime.db, shop.id, work_order.id)

    assert [(r.from_status, r.to_status, r.actor_id, r.actor_name) for r in rows] == [
        (None, "NEW", advisor.actor.user_id, "Sara Advisor"),
        ("NEW", "CHECKED_IN", advisor.actor.user_id, "Sara Advisor"),
        ("CHECKED_IN", "IN_PROGRESS", technician.actor.user_id, "Luca Brunner"),
    ]
    assert all(before <= r.at <= utcnow() for r in rows)
    assert rows[0].at <= rows[1].at <= rows[2].at


async def test_a_refused_or_stale_move_writes_no_history(runtime, factory):
    """The history would show moves that never happened."""
    shop = await factory.tenant()
    work_order = await shop.work_order()

    await _refusal(move(shop, work_order, "READY"))
    with pytest.raises(Exception, match="changed by someone else"):
        async with runtime.db.uow(shop.admin.actor) as uow:
            await move_work_order(uow, work_order.id, "SCHEDULED", work_order.version + 5)

    assert [r.to_status for r in await history(runtime.db, shop.id, work_order.id)] == ["NEW"]


# --- Scheduling --------------------------------------------------------------------------------------------


async def test_scheduling_books_a_bay_and_a_technician_and_makes_a_new_job_scheduled(runtime, factory):
    """The advisor could not plan the day: the job would stay NEW with no bay or mechanic."""
    shop = await factory.tenant()
    technician = await shop.user("technician")
    bay = await add_bay(shop)
    work_order = await shop.work_order()
    slot = hours(1, 3)

    scheduled = await _schedule(shop, work_order, bay, technician, slot)

    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.status, row.bay_id, row.technician_id) == ("SCHEDULED", bay.id, technician.actor.user_id)
    assert (row.scheduled_start, row.scheduled_end) == slot
    assert row.version == scheduled.version == work_order.version + 1
    # Booked, not yet on the lift.
    assert row.occupied_bay_id is None
    assert [r.to_status for r in await history(runtime.db, shop.id, work_order.id)] == ["NEW", "SCHEDULED"]
    assert (await event_types(runtime.db, shop.id))[-2:] == ["work_order.moved", "work_order.scheduled"]


async def test_rescheduling_a_checked_in_job_keeps_its_status(runtime, factory):
    shop = await factory.tenant()
    technician = await shop.user("technician")
    bay = await add_bay(shop)
    work_order = await shop.work_order(status="CHECKED_IN")

    await _schedule(shop, work_order, bay, technician, hours(2, 4))

    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.status, row.scheduled_start) == ("CHECKED_IN", hours(2, 4)[0])
    assert [r.to_status for r in await history(runtime.db, shop.id, work_order.id)][-1] == "CHECKED_IN"


@pytest.mark.parametrize("shared", ["bay", "technician"])
async def test_a_slot_overlapping_another_open_job_of_the_same_bay_or_technician_is_refused(
    runtime, factory, shared
):
    """Two cars would be booked onto one lift, or one mechanic into two jobs at once."""
    shop = await factory.tenant()
    first_tech, second_tech = await shop.user("technician"), await shop.user("technician")
    first_bay, second_bay = await add_bay(shop, "Lift 1"), await add_bay(shop, "Lift 2")
    booked = await _schedule(shop, await shop.work_order(), first_bay, first_tech, hours(1, 3))
    newcomer = await shop.work_order()
    bay = first_bay if shared == "bay" else second_bay
    technician = first_tech if shared == "technician" else second_tech
    before = await stored(runtime.db, shop.id, WorkOrder, newcomer.id)

    refused = await _refusal(_schedule(shop, newcomer, bay, technician, hours(2, 4)))

    assert refused.field == ("bay_id" if shared == "bay" else "technician_id")
    name = "Lift 1" if shared == "bay" else first_tech.actor.name
    assert str(refused).startswith(f"{name} is booked for {booked.code} from ")
    after = await stored(runtime.db, shop.id, WorkOrder, newcomer.id)
    assert (after.status, after.version, after.bay_id, after.scheduled_start) == (
        before.status,
        before.version,
        None,
        None,
    )


async def test_back_to_back_slots_other_bays_and_finished_jobs_do_not_clash(runtime, factory):
    """Planning would be refused for slots that are in fact free."""
    shop = await factory.tenant()
    technician = await shop.user("technician")
    bay = await add_bay(shop)
    await _schedule(shop, await shop.work_order(), bay, technician, hours(1, 3))
    cancelled = await _schedule(shop, await shop.work_order(), bay, technician, hours(4, 6))
    await move(shop, cancelled, "CANCELLED")

    await _schedule(shop, await shop.work_order(), bay, technician, hours(3, 4))
    await _schedule(shop, await shop.work_order(), bay, technician, hours(4, 5))
    await _schedule(shop, await shop.work_order(), bay, technician, hours(0, 1))


async def test_a_job_moved_back_to_new_frees_its_slot(runtime, factory):
    shop = await factory.tenant()
    technician = await shop.user("technician")
    bay = await add_bay(shop)
    unplanned = await move(
        shop, await _schedule(shop, await shop.work_order(), bay, technician, hours(1, 3)), "NEW"
    )

    await _schedule(shop, await shop.work_order(), bay, technician, hours(1, 3))

    row = await stored(runtime.db, shop.id, WorkOrder, unplanned.id)
    assert (row.status, row.scheduled_start, row.scheduled_end) == ("NEW", None, None)


async def test_scheduling_refuses_an_out_of_service_bay_a_non_technician_and_an_empty_slot(runtime, factory):
    shop = await factory.tenant()
    technician = await shop.user("technician")
    advisor = await shop.user("service_advisor")
    closed_bay = await add_bay(shop, "Old lift", active=False)
    bay = await add_bay(shop, "Lift 1")
    other_shop = await factory.tenant()
    foreign_bay = await add_bay(other_shop, "Their lift")
    work_order = await shop.work_order()

    out_of_service = await _refusal(_schedule(shop, work_order, closed_bay, technician, hours(1, 2)))
    foreign = await _refusal(_schedule(shop, work_order, foreign_bay, technician, hours(1, 2)))
    not_a_technician = await _refusal(_schedule(shop, work_order, bay, advisor, hours(1, 2)))
    backwards = await _refusal(_schedule(shop, work_order, bay, technician, hours(2, 1)))

    assert (out_of_service.field, str(out_of_service)) == (
        "bay_id",
        "Old lift is out of service; choose another bay.",
    )
    assert (foreign.field, str(foreign)) == ("bay_id", "Choose one of the bays.")
    assert (not_a_technician.field, str(not_a_technician)) == (
        "technician_id",
        "Choose one of the technicians.",
    )
    assert (backwards.field, str(backwards)) == ("end", "The end must be after the start.")
    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).status == "NEW"


async def test_a_technician_cannot_schedule(runtime, factory):
    shop = await factory.tenant()
    technician = await shop.user("technician")
    bay = await add_bay(shop)
    work_order = await shop.work_order()

    with pytest.raises(PermissionDenied):
        await _schedule(shop, work_order, bay, technician, hours(1, 2), by=technician.actor)


async def test_two_advisors_booking_one_slot_at_once_one_gets_it(runtime, factory):
    """Two advisors at the counter would both promise the same lift for the same hour."""
    shop = await factory.tenant()
    technician = await shop.user("technician")
    bay = await add_bay(shop)
    first, second = await shop.work_order(), await shop.work_order()

    async def book(work_order):  # type: ignore[no-untyped-def]
        try:
            await _schedule(shop, work_order, bay, technician, hours(1, 3))
            return "booked"
        except RuleViolation as refused:
            return str(refused)

    results = await asyncio.gather(book(first), book(second))

    assert results.count("booked") == 1
    refusal = next(result for result in results if result != "booked")
    winner = first if results[0] == "booked" else second
    assert refusal.startswith(f"Lift 1 is booked for {winner.code} from ")
    statuses = [(await stored(runtime.db, shop.id, WorkOrder, w.id)).status for w in (first, second)]
    assert sorted(statuses) == ["NEW", "SCHEDULED"]


# --- Bays: one job at a time ---------------------------------------------------------------------------


async def _in_bay(shop, bay, status="CHECKED_IN"):  # type: ignore[no-untyped-def]
    """A job assigned to `bay` (not scheduled), at `status`."""
    work_order = await shop.work_order(status=status)
    async with shop.db.uow(shop.admin.actor) as uow:
        return await assign_work_order(uow, work_order.id, None, bay.id, work_order.version)


async def test_a_job_holds_its_bay_while_it_is_worked_on_and_frees_it_when_ready(runtime, factory):
    """The bay view would show a lift free while a car is on it, or busy after the car left."""
    shop = await factory.tenant()
    bay = await add_bay(shop)
    work_order = await _in_bay(shop, bay)
    held = {}

    for status in (
        "IN_PROGRESS",
        "WAITING_PARTS",
        "IN_PROGRESS",
        "WAITING_APPROVAL",
        "QUALITY_CHECK",
        "READY",
    ):
        work_order = await move(shop, work_order, status)
        held[status] = (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).occupied_bay_id

    assert held == {
        "IN_PROGRESS": bay.id,
        "WAITING_PARTS": bay.id,
        "WAITING_APPROVAL": bay.id,
        "QUALITY_CHECK": bay.id,
        "READY": None,
    }


async def test_an_estimate_sent_before_work_starts_leaves_the_bay_free(runtime, factory):
    """A car waiting in the yard for the customer's yes would block a lift another job needs."""
    shop = await factory.tenant()
    bay = await add_bay(shop)
    waiting = await move(shop, await _in_bay(shop, bay), "WAITING_APPROVAL")
    working = await move(shop, await _in_bay(shop, bay), "IN_PROGRESS")

    assert (await stored(runtime.db, shop.id, WorkOrder, waiting.id)).occupied_bay_id is None
    assert (await stored(runtime.db, shop.id, WorkOrder, working.id)).occupied_bay_id == bay.id
    # Once approved, the waiting job needs the bay and is told who has it.
    refused = await _refusal(move(shop, waiting, "IN_PROGRESS"))
    assert str(refused).startswith(f"Lift 1 is taken by {working.code}")


async def test_a_second_job_cannot_enter_an_occupied_bay_and_is_told_which_job_holds_it(runtime, factory):
    shop = await factory.tenant()
    bay = await add_bay(shop)
    holder = await move(shop, await _in_bay(shop, bay), "IN_PROGRESS")
    second = await _in_bay(shop, bay)

    refused = await _refusal(move(shop, second, "IN_PROGRESS"))

    assert refused.field == "bay_id"
    assert str(refused) == (
        f"Lift 1 is taken by {holder.code}: a bay holds one job at a time. Move {second.code} to another "
        f"bay or wait until {holder.code} leaves it."
    )
    row = await stored(runtime.db, shop.id, WorkOrder, second.id)
    assert (row.status, row.occupied_bay_id, row.version) == ("CHECKED_IN", None, second.version)
    # When the first job is done, the bay is free for the second.
    await move(shop, holder, "QUALITY_CHECK", "READY")
    await move(shop, second, "IN_PROGRESS")
    assert (await stored(runtime.db, shop.id, WorkOrder, second.id)).occupied_bay_id == bay.id


async def test_two_jobs_entering_one_bay_at_the_same_moment_exactly_one_gets_it(runtime, factory):
    """Two technicians starting jobs at once would both put a car on the same lift."""
    shop = await factory.tenant()
    first_tech, second_tech = await shop.user("technician"), await shop.user("technician")
    bay = await add_bay(shop)
    first, second = await _in_bay(shop, bay), await _in_bay(shop, bay)

    async def start(work_order, technician):  # type: ignore[no-untyped-def]
        try:
            await move(shop, work_order, "IN_PROGRESS", by=technician.actor)
            return None
        except RuleViolation as refused:
            return str(refused)

    results = await asyncio.gather(start(first, first_tech), start(second, second_tech))

    assert results.count(None) == 1
    winner, loser = (first, second) if results[0] is None else (second, first)
    refusal = results[1] if results[0] is None else results[0]
    assert refusal is not None and refusal.startswith(f"Lift 1 is taken by {winner.code}")
    rows = {w.id: await stored(runtime.db, shop.id, WorkOrder, w.id) for w in (first, second)}
    assert (rows[winner.id].status, rows[winner.id].occupied_bay_id) == ("IN_PROGRESS", bay.id)
    assert (rows[loser.id].status, rows[loser.id].occupied_bay_id) == ("CHECKED_IN", None)
    assert [r.to_status for r in await history(runtime.db, shop.id, loser.id)][-1] == "CHECKED_IN"


async def test_a_job_waiting_on_a_bay_that_another_job_is_entering_is_told_who_won(runtime, factory):
    """The same race, decided by the database: the second job's write waits for the first's
    transaction and is then refused by the unique bay constraint (on PostgreSQL; SQLite queues the
    whole second transaction), and still hears which job has the bay."""
    shop = await factory.tenant()
    bay = await add_bay(shop)
    first, second = await _in_bay(shop, bay), await _in_bay(shop, bay)

    async with runtime.db.uow(shop.admin.actor) as uow:
        entering = await load_for_change(uow, first.id, "work_order.move", first.version)
        await change_status(uow, entering, "IN_PROGRESS")
        contender = asyncio.create_task(_refusal(move(shop, second, "IN_PROGRESS")))
        await asyncio.sleep(0.5)
        assert not contender.done(), "the second job did not wait for the first"
        await uow.commit()
    refused = await contender

    assert refused.field == "bay_id"
    assert str(refused).startswith(f"Lift 1 is taken by {first.code}")
    assert (await stored(runtime.db, shop.id, WorkOrder, second.id)).status == "CHECKED_IN"


# --- Reassigning -------------------------------------------------------------------------------------------


async def _assign(shop, work_order, technician_id, bay_id, by=None):  # type: ignore[no-untyped-def]
    async with shop.db.uow(by or shop.admin.actor) as uow:
        return await assign_work_order(uow, work_order.id, technician_id, bay_id, work_order.version)


async def test_reassigning_changes_technician_and_bay_and_keeps_the_status(runtime, factory):
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager")
    first_tech, second_tech = await shop.user("technician"), await shop.user("technician")
    first_bay, second_bay = await add_bay(shop, "Lift 1"), await add_bay(shop, "Lift 2")
    work_order = await move(shop, await _in_bay(shop, first_bay), "IN_PROGRESS")
    async with runtime.db.uow(shop.admin.actor) as uow:
        work_order = await assign_work_order(
            uow, work_order.id, first_tech.actor.user_id, first_bay.id, work_order.version
        )

    async with runtime.db.uow(manager.actor) as uow:
        await assign_work_order(
            uow, work_order.id, second_tech.actor.user_id, second_bay.id, work_order.version
        )

    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.status, row.technician_id, row.bay_id) == (
        "IN_PROGRESS",
        second_tech.actor.user_id,
        second_bay.id,
    )
    # The car moved with the job: the old lift is free, the new one is taken.
    assert row.occupied_bay_id == second_bay.id
    assert (await event_types(runtime.db, shop.id))[-1] == "work_order.assigned"
    assert [r.to_status for r in await history(runtime.db, shop.id, work_order.id)][-1] == "IN_PROGRESS"


async def test_reassigning_a_job_on_a_lift_into_an_occupied_bay_is_refused(runtime, factory):
    shop = await factory.tenant()
    first_bay, second_bay = await add_bay(shop, "Lift 1"), await add_bay(shop, "Lift 2")
    holder = await move(shop, await _in_bay(shop, second_bay), "IN_PROGRESS")
    work_order = await move(shop, await _in_bay(shop, first_bay), "IN_PROGRESS")

    refused = await _refusal(_assign(shop, work_order, None, second_bay.id))

    assert str(refused).startswith(f"Lift 2 is taken by {holder.code}")
    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).occupied_bay_id == first_bay.id


async def test_a_job_in_work_keeps_its_bay_and_removing_the_bay_is_refused(runtime, factory):
    """Taking the bay away would show the lift free while the car is still on it."""
    shop = await factory.tenant()
    bay = await add_bay(shop, "Achsvermessung")
    technician = await shop.user("technician")
    work_order = await move(shop, await _in_bay(shop, bay), "IN_PROGRESS")

    refused = await _refusal(_assign(shop, work_order, technician.actor.user_id, None))

    assert str(refused) == (
        f"{work_order.code} is being worked on in Achsvermessung and keeps that bay while it is In progress. "
        "Choose another free bay, or move the job out of work first."
    )
    assert refused.field == "bay_id"
    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.bay_id, row.occupied_bay_id, row.technician_id) == (bay.id, bay.id, work_order.technician_id)
    # Out of work the car may leave the bay, and the bay is free again.
    work_order = await move(shop, work_order, "WAITING_PARTS", "IN_PROGRESS", "QUALITY_CHECK", "READY")
    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).occupied_bay_id is None


async def test_reassigning_a_scheduled_job_to_a_technician_busy_in_its_slot_is_refused(runtime, factory):
    shop = await factory.tenant()
    busy, free = await shop.user("technician", name="Busy Tech"), await shop.user("technician")
    first_bay, second_bay = await add_bay(shop, "Lift 1"), await add_bay(shop, "Lift 2")
    other = await _schedule(shop, await shop.work_order(), first_bay, busy, hours(1, 3))
    work_order = await _schedule(shop, await shop.work_order(), second_bay, free, hours(2, 4))

    refused = await _refusal(_assign(shop, work_order, busy.actor.user_id, second_bay.id))

    assert refused.field == "technician_id"
    assert str(refused).startswith(f"Busy Tech is booked for {other.code}")


async def test_a_technician_cannot_reassign_and_a_finished_job_is_not_reassigned(runtime, factory):
    shop = await factory.tenant()
    technician = await shop.user("technician")
    work_order = await shop.work_order()
    ready = await shop.work_order(status="READY")

    with pytest.raises(PermissionDenied):
        await _assign(shop, work_order, technician.actor.user_id, None, by=technician.actor)
    refused = await _refusal(_assign(shop, ready, technician.actor.user_id, None))

    assert "cannot be reassigned" in str(refused)


# --- Check-in -------------------------------------------------------------------------------------------


async def _check_in(shop, work_order, odometer):  # type: ignore[no-untyped-def]
    async with shop.db.uow(shop.admin.actor) as uow:
        return await check_in_work_order(uow, work_order.id, odometer, work_order.version)


async def _vehicle_at(shop, work_order, odometer_km):  # type: ignore[no-untyped-def]
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(Vehicle).where(Vehicle.id == work_order.vehicle_id).values(odometer_km=odometer_km)
        )
        await uow.commit()


async def test_check_in_records_the_odometer_and_the_time_and_moves_to_checked_in(runtime, factory):
    shop = await factory.tenant()
    work_order = await shop.work_order(status="SCHEDULED")
    await _vehicle_at(shop, work_order, 48_000)
    before = utcnow()

    await _check_in(shop, work_order, 48_000)

    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.status, row.odometer_in_km) == ("CHECKED_IN", 48_000)
    assert row.checked_in_at is not None and before <= row.checked_in_at <= utcnow()
    assert (await event_types(runtime.db, shop.id))[-2:] == ["work_order.moved", "work_order.checked_in"]
    assert [r.to_status for r in await history(runtime.db, shop.id, work_order.id)][-1] == "CHECKED_IN"


async def test_the_vehicle_shows_the_check_in_reading_before_the_job_is_done(runtime, factory):
    """The work order's vehicle panel showed the reading from before the visit until completion."""
    shop = await factory.tenant()
    work_order = await shop.work_order(status="SCHEDULED")
    await _vehicle_at(shop, work_order, 78_588)

    await _check_in(shop, work_order, 78_900)

    vehicle = await stored(runtime.db, shop.id, Vehicle, work_order.vehicle_id)
    assert (vehicle.odometer_km, vehicle.odometer_m) == (78_900, 78_900_000)


async def test_an_odometer_below_the_vehicles_last_reading_is_refused_and_says_why(runtime, factory):
    """A typo (4,800 for 48,000) would roll the car's odometer back on the invoice and the history."""
    shop = await factory.tenant()
    work_order = await shop.work_order()
    await _vehicle_at(shop, work_order, 48_000)

    refused = await _refusal(_check_in(shop, work_order, 4_800))
    negative = await _refusal(_check_in(shop, work_order, -1))

    assert refused.field == "odometer_km"
    assert str(refused) == (
        "The odometer reading 4,800 km is below the 48,000 km already recorded for this vehicle; "
        "check the reading."
    )
    assert negative.field == "odometer_km"
    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.status, row.odometer_in_km, row.checked_in_at, row.version) == (
        "NEW",
        None,
        None,
        work_order.version,
    )


async def test_the_refused_readings_are_written_as_the_page_writes_them(runtime, factory):
    """The page writes the odometer in the reader's locale (177\u2019053 km); the refusal said 177053 km."""
    shop = await factory.tenant()
    work_order = await shop.work_order()
    await _vehicle_at(shop, work_order, 177_053)

    token = current_locale.set("de_CH")
    try:
        refused = await _refusal(_check_in(shop, work_order, 17_705))
    finally:
        current_locale.reset(token)

    assert "17\u2019705 km" in str(refused) and "177\u2019053 km" in str(refused)


async def test_a_job_already_in_work_cannot_be_checked_in_again(runtime, factory):
    shop = await factory.tenant()
    work_order = await shop.work_order(status="IN_PROGRESS")

    refused = await _refusal(_check_in(shop, work_order, 10))

    assert str(refused) == f"{work_order.code} cannot move from In progress to Checked in."


# --- The end of a job ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["IN_PROGRESS", "QUALITY_CHECK", "CANCELLED", "NEW"])
async def test_a_ready_job_is_invoiced_and_only_moves_on_to_closed(runtime, factory, target):
    """An invoiced job reopened would change work the customer was already billed for."""
    shop = await factory.tenant()
    ready = await shop.work_order(status="READY")

    refused = await _refusal(move(shop, ready, target))

    assert str(refused) == (
        f"{ready.code} is ready and invoiced: an invoiced job is not reopened, it can only be closed. "
        "Open a new work order for more work."
    )
    assert (await stored(runtime.db, shop.id, WorkOrder, ready.id)).status == "READY"


async def test_closing_a_ready_job_records_when(runtime, factory):
    shop = await factory.tenant()
    ready = await shop.work_order(status="READY")
    in_progress = await shop.work_order(status="IN_PROGRESS")

    async with runtime.db.uow(shop.admin.actor) as uow:
        await close_work_order(uow, ready.id, ready.version)
    with pytest.raises(RuleViolation, match="Only a job that is ready can be closed"):
        async with runtime.db.uow(shop.admin.actor) as uow:
            await close_work_order(uow, in_progress.id, in_progress.version)

    row = await stored(runtime.db, shop.id, WorkOrder, ready.id)
    assert row.status == "CLOSED" and row.closed_at is not None
    assert [r.to_status for r in await history(runtime.db, shop.id, ready.id)][-2:] == ["READY", "CLOSED"]
    assert (await event_types(runtime.db, shop.id))[-2:] == ["work_order.moved", "work_order.closed"]


async def test_cancelling_a_job_gives_its_reserved_parts_back_to_the_shelf(runtime, factory):
    """Parts held for a job that will never happen would look out of stock for every other job."""
    shop = await factory.tenant()
    work_order = await shop.work_order(status="CHECKED_IN")
    pads = await add_part(shop, "BP-1", "Brake pads", on_hand="4")
    oil = await add_part(shop, "OIL-5W30", "Engine oil", on_hand="20")
    await add_line(shop, work_order, kind="PART", part=pads, quantity="2", reserved="2")
    await add_line(shop, work_order, kind="PART", part=oil, quantity="5", reserved="4.5")
    await add_line(shop, work_order, kind="LABOUR", quantity="1.5")

    await move(shop, work_order, "CANCELLED")

    async with runtime.db.read(shop.id) as session:
        parts = {p.sku: (p.on_hand, p.reserved) for p in await session.scalars(select(Part))}
        lines = [line.reserved_quantity for line in await session.scalars(select(WorkOrderLine))]
        movements = [
            (m.kind, m.reserved_change, m.work_order_id)
            for m in await session.scalars(select(StockMovement).order_by(StockMovement.id))
        ]
    assert parts == {"BP-1": (Decimal("4"), Decimal("0")), "OIL-5W30": (Decimal("20"), Decimal("0"))}
    assert lines == [0, 0, 0]
    assert sorted(movements) == [
        ("RELEASE", Decimal("-4.5"), work_order.id),
        ("RELEASE", Decimal("-2"), work_order.id),
    ]


# --- Comebacks ------------------------------------------------------------------------------------------


async def _completed_days_ago(shop, days: int, status: str = "CLOSED"):  # type: ignore[no-untyped-def]
    """A job on a fresh vehicle, completed `days` ago and collected (CLOSED) or not yet (READY)."""
    done = await shop.work_order(status=status)
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(WorkOrder)
            .where(WorkOrder.id == done.id)
            .values(completed_at=utcnow() - timedelta(days=days))
        )
        await uow.commit()
    return done


async def _new_job_on(shop, vehicle_id: int):  # type: ignore[no-untyped-def]
    async with shop.db.uow(shop.admin.actor) as uow:
        return await create_work_order(uow, NewWorkOrder(vehicle_id=vehicle_id, complaint="Same noise again"))


async def test_a_repair_within_30_days_of_a_completed_one_on_the_same_car_is_a_comeback(runtime, factory):
    """A repeat repair would count as a first-time fix and never show on the board."""
    shop = await factory.tenant()
    recent = await _completed_days_ago(shop, 29)
    old = await _completed_days_ago(shop, 31)
    open_job = await shop.work_order(status="IN_PROGRESS")
    not_collected = await _completed_days_ago(shop, 1, status="READY")

    again = await _new_job_on(shop, recent.vehicle_id)
    long_after = await _new_job_on(shop, old.vehicle_id)
    while_open = await _new_job_on(shop, open_job.vehicle_id)
    while_waiting_for_pick_up = await _new_job_on(shop, not_collected.vehicle_id)
    other_car = await shop.work_order()

    assert again.comeback_of_id == recent.id
    assert (await stored(runtime.db, shop.id, WorkOrder, again.id)).comeback_of_id == recent.id
    assert long_after.comeback_of_id is None
    assert while_open.comeback_of_id is None
    # The car has not left the workshop yet, so it has not come back.
    assert while_waiting_for_pick_up.comeback_of_id is None
    assert other_car.comeback_of_id is None


# --- A job in work has a bay ---------------------------------------------------------------------------


async def test_a_job_whose_bay_was_cleared_at_check_in_does_not_go_into_work(runtime, factory):
    """The Assign form clears the bay of a checked-in job; moved on, it was in work on no bay, and every
    lift showed free while its car was on one."""
    shop = await factory.tenant()
    work_order = await _in_bay(shop, await add_bay(shop))
    work_order = await _assign(shop, work_order, None, None)
    before = await snapshot(runtime.db, shop.id, work_order.id)

    refused = await _refusal(move_work_order_as_admin(shop, work_order, "IN_PROGRESS"))

    assert str(refused) == (
        f"{work_order.code} has no bay: a job is worked on in a bay. Assign a bay to it first, then move "
        "it to In progress."
    )
    assert refused.field == "bay_id"
    assert await snapshot(runtime.db, shop.id, work_order.id) == before


async def test_a_job_waiting_for_approval_in_the_yard_does_not_go_into_work_without_a_bay(runtime, factory):
    """Its estimate went out at check-in, before it had a bay: neither work nor the quality check
    happen on no bay."""
    shop = await factory.tenant()
    work_order = await move_work_order_as_admin(
        shop, await shop.work_order(status="CHECKED_IN"), "WAITING_APPROVAL"
    )
    before = await snapshot(runtime.db, shop.id, work_order.id)

    for to_status, label in (("IN_PROGRESS", "In progress"), ("QUALITY_CHECK", "Quality check")):
        refused = await _refusal(move_work_order_as_admin(shop, work_order, to_status))

        assert str(refused).endswith(f"Assign a bay to it first, then move it to {label}.")
        assert await snapshot(runtime.db, shop.id, work_order.id) == before


async def test_a_technician_clocking_on_a_job_without_a_bay_is_refused_and_no_clock_runs(runtime, factory):
    shop = await factory.tenant()
    technician = await shop.user("technician")
    work_order = await shop.work_order(status="CHECKED_IN")
    work_order = await _assign(shop, work_order, technician.actor.user_id, None)
    before = await snapshot(runtime.db, shop.id, work_order.id)

    async with runtime.db.uow(technician.actor) as uow:
        refused = await _refusal(clock_on(uow, work_order.id))

    assert str(refused).startswith(f"{work_order.code} has no bay")
    assert await snapshot(runtime.db, shop.id, work_order.id) == before
    async with runtime.db.read(shop.id) as session:
        assert await session.scalar(select(func.count()).select_from(TimeEntry)) == 0


async def test_with_a_bay_assigned_the_job_goes_into_work_on_it(runtime, factory):
    shop = await factory.tenant()
    bay = await add_bay(shop, "Hebebühne 2")
    work_order = await shop.work_order(status="CHECKED_IN")
    work_order = await _assign(shop, work_order, None, bay.id)

    work_order = await move_work_order_as_admin(shop, work_order, "IN_PROGRESS")

    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.status, row.occupied_bay_id) == ("IN_PROGRESS", bay.id)


async def move_work_order_as_admin(shop, work_order, to_status):  # type: ignore[no-untyped-def]
    """The board's move itself, with no help from the test helpers."""
    async with shop.db.uow(shop.admin.actor) as uow:
        return await move_work_order(uow, work_order.id, to_status, work_order.version)
