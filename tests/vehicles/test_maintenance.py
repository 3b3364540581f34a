"""Maintenance due, overdue and predicted (DOMAIN.md "Maintenance schedule"), the schedules page, the
daily timer, and a completed work order counting as the service done."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from ops.db import utcnow
from ops.vehicles.maintenance.service import (
    DUE_MARGIN_DAYS,
    DUE_MARGIN_KM,
    ScheduleData,
    add_months,
    create_schedule,
    refresh_all_maintenance,
    standing,
)
from ops.vehicles.models import VehicleMaintenance
from ops.workshop.models import WorkOrderCategory
from ops.workshop.service import NewWorkOrder, check_in_work_order, create_work_order, move_work_order
from tests.factories import TenantHandle
from tests.vehicles import helpers
from tests.workshop.order_helpers import give_bay

TODAY = date(2026, 6, 15)


def test_due_by_distance_by_date_and_overdue_once_past():
    """An oil change every 15,000 km or 12 months: whichever comes first decides."""
    common = {
        "interval_km": 15_000,
        "interval_months": 12,
        "last_done_on": date(2026, 1, 10),
        "last_done_km": 30_000,
    }
    ok = standing(**common, odometer_km=40_000, today=TODAY, daily_km=0)
    assert (ok.state, ok.due_km, ok.due_on) == ("OK", 45_000, date(2027, 1, 10))
    assert standing(**common, odometer_km=45_000 - DUE_MARGIN_KM, today=TODAY, daily_km=0).state == "DUE"
    assert standing(**common, odometer_km=45_000, today=TODAY, daily_km=0).state == "DUE"
    assert standing(**common, odometer_km=45_001, today=TODAY, daily_km=0).state == "OVERDUE"
    near = date(2027, 1, 10) - timedelta(days=DUE_MARGIN_DAYS)
    assert standing(**common, odometer_km=40_000, today=near, daily_km=0).state == "DUE"
    assert standing(**common, odometer_km=40_000, today=date(2027, 1, 11), daily_km=0).state == "OVERDUE"


def test_the_prediction_follows_the_daily_distance():
    """50 km a day and 5,000 km to go: due in 100 days, before the 12 months are up."""
    result = standing(
        interval_km=15_000,
        interval_months=12,
        last_done_on=date(2026, 1, 10),
        last_done_km=30_000,
        odometer_km=40_000,
        today=TODAY,
        daily_km=50,
    )
    assert result.predicted_on == TODAY + timedelta(days=100)
    idle = standing(
        interval_km=15_000,
        interval_months=12,
        last_done_on=date(2026, 1, 10),
        last_done_km=30_000,
        odometer_km=40_000,
        today=TODAY,
        daily_km=0,
    )
    assert idle.predicted_on == date(2027, 1, 10)
    by_date_only = standing(
        interval_km=None,
        interval_months=24,
        last_done_on=date(2025, 8, 31),
        last_done_km=0,
        odometer_km=1,
        today=TODAY,
        daily_km=80,
    )
    assert by_date_only.predicted_on == date(2027, 8, 31) and by_date_only.due_km is None


def test_months_end_on_the_last_day_of_a_shorter_month():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2023, 8, 31), 6) == date(2024, 2, 29)
    assert add_months(date(2026, 11, 15), 14) == date(2028, 1, 15)


intervals = st.one_of(
    st.tuples(st.integers(1, 100_000), st.none()),
    st.tuples(st.none(), st.integers(1, 120)),
    st.tuples(st.integers(1, 100_000), st.integers(1, 120)),
)


@given(
    interval=intervals,
    last_km=st.integers(0, 500_000),
    driven=st.integers(0, 200_000),
    days_since=st.integers(0, 4000),
    daily_km=st.floats(0, 2000, allow_nan=False),
)
def test_properties_of_due_and_predicted(interval, last_km, driven, days_since, daily_km):
    interval_km, interval_months = interval
    last_on = date(2020, 1, 1)
    today = last_on + timedelta(days=days_since)
    result = standing(
        interval_km=interval_km,
        interval_months=interval_months,
        last_done_on=last_on,
        last_done_km=last_km,
        odometer_km=last_km + driven,
        today=today,
        daily_km=daily_km,
    )
    limits_passed = (result.due_km is not None and last_km + driven > result.due_km) or (
        result.due_on is not None and today > result.due_on
    )
    # Overdue exactly when a limit is passed; never OK within the margin.
    assert (result.state == "OVERDUE") == limits_passed
    if result.due_km is not None and last_km + driven >= result.due_km - DUE_MARGIN_KM:
        assert result.state != "OK"
    # The prediction is never later than the due date, never before today unless the date has passed,
    # and a vehicle past its distance is due today.
    reached = result.due_km is not None and last_km + driven >= result.due_km
    # Without a date limit, a date comes only from the distance: reached, or driven towards it.
    if result.due_on is None and not reached and daily_km == 0:
        assert result.predicted_on is None
        return
    if result.due_on is None and not reached:
        assert result.predicted_on is None or result.predicted_on > today
        return
    assert result.predicted_on is not None
    if result.due_on is not None:
        assert result.predicted_on <= result.due_on
    if result.due_on is None or result.due_on >= today:
        assert result.predicted_on >= today
    if result.due_km is not None and last_km + driven >= result.due_km:
        assert result.predicted_on <= today


async def _oil_schedule(shop: TenantHandle, make: str | None = "Skoda") -> int:
    async with shop.db.read(shop.id) as session:
        category = await session.scalar(
            select(WorkOrderCategory.id).where(WorkOrderCategory.name == "Oil Change")
        )
    async with shop.db.uow(shop.admin.actor) as uow:
        schedule = await create_schedule(
            uow, ScheduleData("Oil change", make or "", "", 15_000, 12, category), date.today()
        )
    return schedule.id


async def _state(shop: TenantHandle, vehicle_id: int) -> VehicleMaintenance:
    async with shop.db.read(shop.id) as session:
        return (
            await session.execute(
                select(VehicleMaintenance).where(VehicleMaintenance.vehicle_id == vehicle_id)
            )
        ).scalar_one()


async def test_a_schedule_puts_an_overdue_vehicle_on_the_board_and_costs_health(factory):
    """A car 2,000 km past its oil change must show on the board and lose 15 health points."""
    shop = await factory.tenant()
    car = await helpers.vehicle(shop, make="Skoda", odometer_km=17_000)
    other = await helpers.vehicle(shop, make="Toyota", odometer_km=17_000)
    await _oil_schedule(shop)
    state = await _state(shop, car.id)
    assert (state.state, state.due_km) == ("OVERDUE", 15_000)
    assert (await helpers.reload(shop.db, shop.id, car.id)).health_score == 85
    async with shop.db.read(shop.id) as session:
        untouched = await session.scalar(
            select(VehicleMaintenance).where(VehicleMaintenance.vehicle_id == other.id)
        )
    assert untouched is None
    changes = await helpers.events(shop.db, shop.id, "maintenance.due_changed")
    assert [(event.payload["from"], event.payload["to"]) for event in changes] == [("OK", "OVERDUE")]
    assert "fleet" in changes[0].topics and f"vehicle:{car.id}" in changes[0].topics


async def test_the_daily_timer_moves_a_vehicle_to_due_by_date_once(factory):
    shop = await factory.tenant()
    car = await helpers.vehicle(shop, odometer_km=100, last_service_on=date.today() - timedelta(days=300))
    await _oil_schedule(shop)
    assert (await _state(shop, car.id)).state == "OK"
    await refresh_all_maintenance(shop.db, date.today() + timedelta(days=40))
    assert (await _state(shop, car.id)).state == "DUE"
    await refresh_all_maintenance(shop.db, date.today() + timedelta(days=41))
    # A second pass with nothing new records nothing new.
    changes = await helpers.events(shop.db, shop.id, "maintenance.due_changed")
    assert [event.payload["to"] for event in changes] == ["DUE"]


async def test_telemetry_distance_brings_the_predicted_date_forward(factory):
    shop = await factory.tenant()
    car = await helpers.vehicle(shop, odometer_km=10_000)
    now = utcnow()
    # 100 km a day over the last 20 days.
    await helpers.readings(
        shop,
        car.id,
        [
            {"recorded_at": now - timedelta(days=day), "odometer_m": (10_000 - day * 100) * 1000}
            for day in range(21)
        ],
    )
    await _oil_schedule(shop)
    state = await _state(shop, car.id)
    assert state.predicted_on == date.today() + timedelta(days=50)


async def test_completing_the_work_order_counts_as_the_service_done(factory):
    """After the oil change the car must leave the overdue list, counted from the new odometer."""
    shop = await factory.tenant()
    car = await helpers.vehicle(shop, odometer_km=17_000)
    schedule_category = await _oil_schedule(shop)
    assert schedule_category
    async with shop.db.read(shop.id) as session:
        category = await session.scalar(
            select(WorkOrderCategory.id).where(WorkOrderCategory.name == "Oil Change")
        )
    actor = shop.admin.actor
    async with shop.db.uow(actor) as uow:
        work_order = await create_work_order(
            uow, NewWorkOrder(vehicle_id=car.id, complaint="Oil", category_id=category)
        )
    async with shop.db.uow(actor) as uow:
        work_order = await check_in_work_order(uow, work_order.id, 17_200, work_order.version)
    work_order = await give_bay(shop, work_order)
    for step in ("IN_PROGRESS", "QUALITY_CHECK", "READY"):
        async with shop.db.uow(actor) as uow:
            work_order = await move_work_order(uow, work_order.id, step, work_order.version)
    state = await _state(shop, car.id)
    assert (state.state, state.last_done_km, state.due_km) == ("OK", 17_200, 32_200)
    assert (await helpers.reload(shop.db, shop.id, car.id)).health_score == 100


async def test_the_schedules_page_adds_edits_and_refuses_a_schedule_without_interval(app, client, factory):
    shop = await factory.tenant()
    token = await helpers.sign_in_as(client, shop, "workshop_manager")
    empty = await (await client.get("/fleet/maintenance")).get_data(as_text=True)
    assert "No maintenance schedules yet" in empty
    refused = await client.post(
        "/fleet/maintenance",
        form={"service_type": "Inspection", "make": "", "model": "", "csrf_token": token},
    )
    assert refused.status_code == 422
    assert "Give an interval in distance, in months, or both." in await refused.get_data(as_text=True)
    added = await client.post(
        "/fleet/maintenance",
        form={
            "service_type": "Inspection",
            "make": "",
            "model": "",
            "interval_months": "24",
            "csrf_token": token,
        },
    )
    assert added.status_code == 302
    page = await (await client.get("/fleet/maintenance")).get_data(as_text=True)
    assert "Inspection" in page and "24 months" in page and "Every vehicle" in page
    viewer = app.test_client()
    viewer_token = await helpers.sign_in_as(viewer, shop, "viewer")
    denied = await viewer.post(
        "/fleet/maintenance", form={"service_type": "X", "interval_km": "5", "csrf_token": viewer_token}
    )
    assert denied.status_code == 403
