"""Test drives: booking without overlaps (also when two reps book at once), check-out with the licence
seen and the odometer read, return with the odometer read again, cancel and no-show."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from ops.auth.actor import PermissionDenied, RuleViolation
from ops.db import utcnow
from ops.sales.stock.service import (
    DriveOverlap,
    UnitHeld,
    UnitInDeal,
    book_test_drive,
    cancel_test_drive,
    check_out_test_drive,
    mark_no_show,
    mark_unit_sold,
    reserve_unit,
    return_test_drive,
)
from tests.sales.stock.helpers import drives, events, new_deal, unit_state


def _slot(hours_from_now: float, minutes: int = 60) -> tuple[datetime, datetime]:
    start = (utcnow() + timedelta(hours=hours_from_now)).replace(microsecond=0)
    return start, start + timedelta(minutes=minutes)


async def _book(shop, rep, unit_id, lead_id, slot, rep_id=None):  # type: ignore[no-untyped-def]
    async with shop.db.uow(rep.actor) as uow:
        return await book_test_drive(uow, unit_id, lead_id, *slot, rep_id=rep_id)


async def _check_out(shop, rep, drive_id, odometer, licence="ZH-123456", checked=True):  # type: ignore[no-untyped-def]
    async with shop.db.uow(rep.actor) as uow:
        return await check_out_test_drive(
            uow, drive_id, licence_number=licence, licence_checked=checked, odometer_out_km=odometer
        )


async def _return(shop, rep, drive_id, odometer):  # type: ignore[no-untyped-def]
    async with shop.db.uow(rep.actor) as uow:
        return await return_test_drive(uow, drive_id, odometer)


async def test_a_rep_books_a_demo_car_for_a_lead(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    unit = await shop.stock_unit(status="DEMO")
    lead = await shop.lead(owner=rep)
    slot = _slot(2)

    drive = await _book(shop, rep, unit.id, lead.id, slot)

    assert (drive.status, drive.rep_id, drive.starts_at, drive.ends_at) == (
        "SCHEDULED",
        rep.actor.user_id,
        *slot,
    )
    (event,) = await events(runtime.db, shop.id, "test_drive.booked")
    assert event.topics == ["stock", "sales", f"customer:{lead.customer_id}"]
    assert event.payload["drive_id"] == drive.id and event.payload["unit_id"] == unit.id


async def test_overlapping_drives_of_one_car_are_refused_and_the_message_names_the_booked_slot(
    runtime, factory
):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    unit, other_car = await shop.stock_unit(status="DEMO"), await shop.stock_unit(status="DEMO")
    lead = await shop.lead(owner=rep)
    booked = await _book(shop, rep, unit.id, lead.id, _slot(3, 60))

    for slot in (_slot(3, 60), _slot(2.5, 60), _slot(3.5, 30), _slot(2, 180)):
        with pytest.raises(DriveOverlap, match="already booked from") as refused:
            await _book(shop, rep, unit.id, lead.id, slot)
        assert refused.value.drive_id == booked.id and refused.value.field == "starts_at"
    # Back to back is no overlap; another car at the same time is none either.
    await _book(shop, rep, unit.id, lead.id, (booked.ends_at, booked.ends_at + timedelta(minutes=30)))
    await _book(shop, rep, unit.id, lead.id, (booked.starts_at - timedelta(minutes=30), booked.starts_at))
    await _book(shop, rep, other_car.id, lead.id, (booked.starts_at, booked.ends_at))
    # A cancelled drive frees its slot.
    async with shop.db.uow(rep.actor) as uow:
        await cancel_test_drive(uow, booked.id)
    await _book(shop, rep, unit.id, lead.id, (booked.starts_at, booked.ends_at))
    assert len(await drives(runtime.db, shop.id, unit.id)) == 4


async def test_two_reps_booking_the_same_car_at_once_get_one_drive_between_them(runtime, factory):
    """Two customers would turn up for the same car at the same time."""
    shop = await factory.tenant()
    reps = [await shop.user("sales_rep") for _ in range(4)]
    unit = await shop.stock_unit(status="DEMO")
    leads = [await shop.lead(owner=rep) for rep in reps]
    # Every pair overlaps (all four hold 5:30-5:45), so whoever books first, the rest are refused.
    slots = [_slot(5, 60), _slot(5.25, 60), _slot(4.75, 60), _slot(5.5, 60)]

    async def attempt(index: int) -> str:
        try:
            await _book(shop, reps[index], unit.id, leads[index].id, slots[index])
        except DriveOverlap:
            return "refused"
        return "booked"

    outcomes = await asyncio.gather(*(attempt(index) for index in range(4)))

    assert sorted(outcomes) == ["booked", "refused", "refused", "refused"]
    assert len(await drives(runtime.db, shop.id, unit.id)) == 1


async def test_a_unit_held_for_a_lead_is_driven_by_that_lead_only(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", name="Rita Rep")
    holder, other = await shop.lead(owner=rep, last_name="Holder"), await shop.lead(owner=rep)
    unit = await shop.stock_unit()
    async with shop.db.uow(rep.actor) as uow:
        await reserve_unit(uow, unit.id, holder.id)

    with pytest.raises(UnitHeld, match="Rita Rep already holds this unit for Lea Holder"):
        await _book(shop, rep, unit.id, other.id, _slot(1))
    drive = await _book(shop, rep, unit.id, holder.id, _slot(1))
    assert drive.status == "SCHEDULED"


async def test_a_sold_unit_cannot_be_booked_or_checked_out(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    lead = await shop.lead(owner=rep)
    unit = await shop.stock_unit()
    drive = await _book(shop, rep, unit.id, lead.id, _slot(1))
    deal = await new_deal(shop, lead.id, lead.customer_id)
    async with shop.db.uow(shop.admin.actor) as uow:
        await mark_unit_sold(uow, unit.id, deal.id)
        await uow.commit()

    with pytest.raises(UnitInDeal, match="D-000001, so it cannot be test-driven"):
        await _book(shop, rep, unit.id, lead.id, _slot(3))
    with pytest.raises(UnitInDeal):
        await _check_out(shop, rep, drive.id, 12)
    assert [d.status for d in await drives(runtime.db, shop.id, unit.id)] == ["SCHEDULED"]


@pytest.mark.parametrize("status", ["INCOMING", "LOANER"])
async def test_only_demo_and_available_cars_are_test_driven(runtime, factory, status):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    unit = await shop.stock_unit(status=status)

    with pytest.raises(RuleViolation, match="only demo cars and available units"):
        await _book(shop, rep, unit.id, (await shop.lead()).id, _slot(1))


async def test_a_slot_must_end_after_it_starts_last_at_most_8_hours_and_not_be_over(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    unit = await shop.stock_unit(status="DEMO")
    lead = await shop.lead()
    start = utcnow() + timedelta(hours=1)

    for slot, field, text in (
        ((start, start), "ends_at", "end after it starts"),
        ((start, start + timedelta(hours=9)), "ends_at", "at most 8 hours"),
        ((start - timedelta(hours=3), start - timedelta(hours=2)), "starts_at", "slot is over"),
    ):
        with pytest.raises(RuleViolation, match=text) as refused:
            await _book(shop, rep, unit.id, lead.id, slot)
        assert refused.value.field == field
    with pytest.raises(RuleViolation, match="Choose someone from sales") as bad_rep:
        await _book(
            shop, rep, unit.id, lead.id, _slot(1), rep_id=(await shop.user("technician")).actor.user_id
        )
    assert bad_rep.value.field == "rep_id"
    assert await drives(runtime.db, shop.id, unit.id) == []


async def test_check_out_needs_the_licence_number_seen_and_an_odometer_not_below_the_units_mileage(
    runtime, factory
):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    unit = await shop.stock_unit(status="DEMO", mileage_km=5210)
    drive = await _book(shop, rep, unit.id, (await shop.lead()).id, _slot(0.5))

    for kwargs, field in (
        ({"licence": "  "}, "licence_number"),
        ({"checked": False}, "licence_checked"),
        ({"odometer": 5209}, "odometer_out_km"),
        ({"odometer": None}, "odometer_out_km"),
        ({"odometer": 9000}, "odometer_out_km"),
    ):
        arguments = {"odometer": 5210, **kwargs}
        with pytest.raises(RuleViolation) as refused:
            await _check_out(shop, rep, drive.id, **arguments)
        assert refused.value.field == field, kwargs
    assert [d.status for d in await drives(runtime.db, shop.id, unit.id)] == ["SCHEDULED"]

    out = await _check_out(shop, rep, drive.id, 5212)

    assert (out.status, out.licence_number, out.odometer_out_km) == ("CHECKED_OUT", "ZH-123456", 5212)
    assert out.licence_checked_at is not None
    with pytest.raises(RuleViolation, match="out on the road"):
        await _check_out(shop, rep, drive.id, 5212)


async def test_return_needs_an_odometer_at_least_the_one_at_check_out_and_updates_the_units_mileage(
    runtime, factory
):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    unit = await shop.stock_unit(status="DEMO", mileage_km=5210)
    drive = await _book(shop, rep, unit.id, (await shop.lead()).id, _slot(0.5))
    with pytest.raises(RuleViolation, match="scheduled"):
        await _return(shop, rep, drive.id, 5300)
    await _check_out(shop, rep, drive.id, 5210)

    with pytest.raises(RuleViolation, match="less than at check-out") as below:
        await _return(shop, rep, drive.id, 5209)
    with pytest.raises(RuleViolation, match="check the reading"):
        await _return(shop, rep, drive.id, 9000)
    assert below.value.field == "odometer_in_km"
    returned = await _return(shop, rep, drive.id, 5247)

    assert (returned.status, returned.odometer_in_km) == ("RETURNED", 5247)
    state = await unit_state(runtime.db, shop.id, unit.id)
    assert state.mileage_km == 5247 and state.version == unit.version + 1
    (event,) = await events(runtime.db, shop.id, "test_drive.returned")
    assert event.payload["km_driven"] == 37
    # The next drive starts from the new mileage.
    second = await _book(shop, rep, unit.id, (await shop.lead()).id, _slot(2))
    with pytest.raises(RuleViolation, match="5,247 km"):
        await _check_out(shop, rep, second.id, 5246)


async def test_one_car_cannot_be_out_twice(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    unit = await shop.stock_unit(status="DEMO")
    first = await _book(shop, rep, unit.id, (await shop.lead()).id, _slot(0.1, 30))
    second = await _book(shop, rep, unit.id, (await shop.lead()).id, _slot(1, 30))
    await _check_out(shop, rep, first.id, 12)

    with pytest.raises(RuleViolation, match="still out on another test drive"):
        await _check_out(shop, rep, second.id, 12)


async def test_no_show_only_once_the_slot_has_begun_and_cancel_only_while_scheduled(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    unit = await shop.stock_unit(status="DEMO")
    lead = await shop.lead()
    later = await _book(shop, rep, unit.id, lead.id, _slot(2))
    now = await _book(
        shop, rep, unit.id, lead.id, (utcnow() - timedelta(minutes=5), utcnow() + timedelta(minutes=25))
    )

    async with shop.db.uow(rep.actor) as uow:
        with pytest.raises(RuleViolation, match="not started yet"):
            await mark_no_show(uow, later.id)
    async with shop.db.uow(rep.actor) as uow:
        missed = await mark_no_show(uow, now.id)
    async with shop.db.uow(rep.actor) as uow:
        with pytest.raises(RuleViolation, match="no-show"):
            await cancel_test_drive(uow, now.id)

    assert missed.status == "NO_SHOW"
    assert {e.type for e in await events(runtime.db, shop.id, "test_drive.no_show")} == {"test_drive.no_show"}


async def test_only_sales_roles_run_test_drives(runtime, factory):
    shop = await factory.tenant()
    unit = await shop.stock_unit(status="DEMO")
    lead = await shop.lead()
    for role in ("viewer", "technician", "service_advisor", "workshop_manager"):
        user = await shop.user(role)
        with pytest.raises(PermissionDenied):
            await _book(shop, user, unit.id, lead.id, _slot(1))
    manager = await shop.user("sales_manager")
    assert (await _book(shop, manager, unit.id, lead.id, _slot(1))).status == "SCHEDULED"
