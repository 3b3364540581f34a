"""Maintenance schedules and where each vehicle stands on them: due, overdue, predicted.

The rules (DOMAIN.md "Maintenance schedule"):
- A schedule applies to a vehicle when its make (and model, when set) match, ignoring case; a schedule
  without a make applies to every vehicle.
- From the last time the service was done (date and odometer; never done: the vehicle's last service,
  else the day its profile was created, and 0 km), it is due again after `interval_km` and/or
  `interval_months`, whichever comes first.
- The state is OVERDUE once either limit is passed, DUE once either is within the margin
  (DUE_MARGIN_KM or DUE_MARGIN_DAYS) or reached, OK otherwise.
- The predicted date is when the first limit will be reached: the due date, or sooner if the
  vehicle's average daily distance over the last 30 days takes it to `due_km` first.
A change of state records `maintenance.due_changed` for the fleet board and the vehicle's page, and
the health score is recomputed (overdue maintenance costs 15 points).
"""

from __future__ import annotations

import calendar
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.auth.actor import Actor, NotFound, RuleViolation
from ops.db import Database, UnitOfWork
from ops.events import record
from ops.i18n import gettext as _
from ops.tenants.models import Tenant
from ops.vehicles.health import refresh_health
from ops.vehicles.models import MaintenanceSchedule, Vehicle, VehicleMaintenance, vehicle_topics
from ops.vehicles.telemetry.queries import daily_distances_km
from ops.workshop.models import WorkOrder, WorkOrderCategory

log = logging.getLogger(__name__)

DUE_MARGIN_KM = 1_000
DUE_MARGIN_DAYS = 30
MAX_INTERVAL_KM = 1_000_000
MAX_INTERVAL_MONTHS = 240
STATES = ("OK", "DUE", "OVERDUE")
# A car that barely moves has no distance-based date worth showing (and none a calendar can hold).
MAX_PREDICTION_DAYS = 50 * 365
# Vehicles that no longer run need no service reminders.
RETIRED_STATUSES = ("SOLD", "RETIRED")


def state_label(state: str) -> str:
    labels = {"OK": _("OK"), "DUE": _("Due"), "OVERDUE": _("Overdue")}
    return labels.get(state, state)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Standing:
    """Where a vehicle stands on one schedule."""

    due_on: date | None
    due_km: int | None
    state: str
    predicted_on: date | None


def standing(
    *,
    interval_km: int | None,
    interval_months: int | None,
    last_done_on: date,
    last_done_km: int,
    odometer_km: int,
    today: date,
    daily_km: float,
) -> Standing:
    """The rule itself, without the database: due limits, state and predicted date."""
    due_km = last_done_km + interval_km if interval_km else None
    due_on = add_months(last_done_on, interval_months) if interval_months else None
    overdue = (due_km is not None and odometer_km > due_km) or (due_on is not None and today > due_on)
    due = (due_km is not None and odometer_km >= due_km - DUE_MARGIN_KM) or (
        due_on is not None and today >= due_on - timedelta(days=DUE_MARGIN_DAYS)
    )
    state = "OVERDUE" if overdue else "DUE" if due else "OK"
    candidates = [due_on] if due_on is not None else []
    if due_km is not None:
        remaining = due_km - odometer_km
        if remaining <= 0:
            candidates.append(today)
        elif daily_km > 0 and remaining / daily_km <= MAX_PREDICTION_DAYS:
            # Whole days: the limit is reached during the day the distance adds up to it.
            candidates.append(today + timedelta(days=math.ceil(remaining / daily_km)))
    return Standing(due_on, due_km, state, min(candidates) if candidates else None)


def applies_to(schedule: MaintenanceSchedule, make: str, model: str) -> bool:
    if schedule.make is not None and schedule.make.casefold() != make.casefold():
        return False
    return schedule.model is None or schedule.model.casefold() == model.casefold()


def _due_changed(
    uow: UnitOfWork, vehicle: Vehicle, row: VehicleMaintenance, service_type: str, before: str
) -> None:
    record(
        uow,
        "maintenance.due_changed",
        {
            "id": row.id,
            "vehicle_id": vehicle.id,
            "schedule_id": row.schedule_id,
            "service_type": service_type,
            "from": before,
            "to": row.state,
            "due_on": None if row.due_on is None else row.due_on.isoformat(),
            "due_km": row.due_km,
        },
        vehicle_topics(vehicle.id, vehicle.fleet_id),
    )


async def refresh_vehicle_maintenance(uow: UnitOfWork, vehicle: Vehicle, today: date) -> int:
    """Recompute one vehicle's standing (see refresh_maintenance); returns how many states changed."""
    return await refresh_maintenance(uow, [vehicle], today)


# Built once: telemetry refreshes maintenance whenever a reading moves an odometer to the next kilometre.
SCHEDULES = select(MaintenanceSchedule).order_by(MaintenanceSchedule.id)
STANDINGS_TO_LOCK = (
    select(VehicleMaintenance)
    .where(VehicleMaintenance.vehicle_id.in_(bindparam("vehicle_ids", expanding=True)))
    .order_by(VehicleMaintenance.id)
    .with_for_update()
)


async def refresh_maintenance(uow: UnitOfWork, vehicles: Sequence[Vehicle], today: date) -> int:
    """Recompute the vehicles' standing on every schedule that applies (no commit); returns how many
    states changed.

    Rows of schedules that no longer apply (the make or model changed, the car was retired) are removed;
    each change of state records `maintenance.due_changed`; the health score follows. The schedules, the
    vehicles' rows and their daily distances are read with one query each, however many vehicles.
    """
    session = uow.session
    schedules = (await session.scalars(SCHEDULES)).all()
    vehicle_ids = [vehicle.id for vehicle in vehicles]
    rows: dict[int, dict[int, VehicleMaintenance]] = {vehicle_id: {} for vehicle_id in vehicle_ids}
    for row in await session.scalars(STANDINGS_TO_LOCK, {"vehicle_ids": vehicle_ids}):
        rows[row.vehicle_id][row.schedule_id] = row
    applying = {
        vehicle.id: {
            schedule.id: schedule
            for schedule in schedules
            if vehicle.status not in RETIRED_STATUSES and applies_to(schedule, vehicle.make, vehicle.model)
        }
        for vehicle in vehicles
    }
    measured = [vehicle_id for vehicle_id, applied in applying.items() if applied]
    daily_km = await daily_distances_km(session, measured) if measured else {}
    changes = 0
    for vehicle in vehicles:
        changes += await _refresh_standing(
            uow, vehicle, applying[vehicle.id], rows[vehicle.id], daily_km.get(vehicle.id, 0.0), today
        )
    return changes


async def _refresh_standing(
    uow: UnitOfWork,
    vehicle: Vehicle,
    schedules: dict[int, MaintenanceSchedule],
    rows: dict[int, VehicleMaintenance],
    daily_km: float,
    today: date,
) -> int:
    session = uow.session
    changes = 0
    for schedule_id, row in rows.items():
        if schedule_id not in schedules:
            await session.delete(row)
            if row.state != "OK":
                before, row.state = row.state, "OK"
                _due_changed(uow, vehicle, row, "", before)
                changes += 1
    baseline_on = vehicle.last_service_on or vehicle.created_at.date()
    current: list[VehicleMaintenance] = []
    for schedule in schedules.values():
        found = rows.get(schedule.id)
        if found is None:
            row = VehicleMaintenance(vehicle_id=vehicle.id, schedule_id=schedule.id, state="OK")
            session.add(row)
        else:
            row = found
        now = standing(
            interval_km=schedule.interval_km,
            interval_months=schedule.interval_months,
            last_done_on=row.last_done_on or baseline_on,
            last_done_km=row.last_done_km or 0,
            odometer_km=vehicle.odometer_km,
            today=today,
            daily_km=daily_km,
        )
        before = row.state
        row.due_on, row.due_km, row.state, row.predicted_on = (
            now.due_on,
            now.due_km,
            now.state,
            now.predicted_on,
        )
        if before != now.state:
            await session.flush()
            _due_changed(uow, vehicle, row, schedule.service_type, before)
            changes += 1
        current.append(row)
    upcoming = [day for row in current if (day := row.predicted_on or row.due_on) is not None]
    vehicle.next_service_on = min(upcoming) if upcoming else None
    if changes:
        await session.flush()
        await refresh_health(uow, vehicle)
    return changes


async def mark_done_for_work_order(uow: UnitOfWork, work_order: WorkOrder, today: date) -> None:
    """A completed work order counts as the service it was made for, or as every service of its category.

    Runs inside the completion's transaction (ops/workshop/service.py); the odometer is the one read at
    check-in, else the vehicle's.
    """
    session = uow.session
    vehicle = (
        await session.execute(
            select(Vehicle)
            .where(Vehicle.id == work_order.vehicle_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    matching = select(VehicleMaintenance).join(
        MaintenanceSchedule, MaintenanceSchedule.id == VehicleMaintenance.schedule_id
    )
    conditions = [VehicleMaintenance.work_order_id == work_order.id]
    if work_order.category_id is not None:
        conditions.append(MaintenanceSchedule.category_id == work_order.category_id)
    rows = (
        await session.scalars(matching.where(VehicleMaintenance.vehicle_id == vehicle.id, or_(*conditions)))
    ).all()
    if not rows and work_order.category_id is not None:
        # The first service of a schedule has no row yet: create them, then match again.
        await refresh_vehicle_maintenance(uow, vehicle, today)
        rows = (
            await session.scalars(
                matching.where(VehicleMaintenance.vehicle_id == vehicle.id, or_(*conditions))
            )
        ).all()
    if not rows:
        return
    odometer = max(work_order.odometer_in_km or 0, vehicle.odometer_km)
    for row in rows:
        row.last_done_on = today
        row.last_done_km = odometer
        row.work_order_id = None
    await session.flush()
    await refresh_vehicle_maintenance(uow, vehicle, today)


async def refresh_all_maintenance(db: Database, today: date | None = None) -> int:
    """The daily timer: every tenant's vehicles, each tenant in its own transaction, on its own calendar
    day (or `today` for all).

    Returns how many states changed. Safe to run in several workers at once: each vehicle's rows
    are locked while recomputed, and a state records its event only when it changes.
    """
    async with db.system() as session:
        tenants = (
            await session.execute(select(Tenant.id, Tenant.timezone).where(Tenant.status == "ACTIVE"))
        ).all()
    changed = 0
    for tenant_id, timezone in tenants:
        tenant_today = today or datetime.now(ZoneInfo(timezone)).date()
        async with db.uow(Actor.system(tenant_id, "maintenance timer")) as uow:
            vehicles = (
                await uow.session.scalars(
                    select(Vehicle).where(Vehicle.status.not_in(RETIRED_STATUSES)).order_by(Vehicle.id)
                )
            ).all()
            for vehicle in vehicles:
                changed += await refresh_vehicle_maintenance(uow, vehicle, tenant_today)
            await uow.commit()
    return changed


# --- Schedules -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleData:
    service_type: str
    make: str
    model: str
    interval_km: int | None
    interval_months: int | None
    category_id: int | None


class ScheduleInvalid(RuleViolation):
    def __init__(self, errors: dict[str, str]) -> None:
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = errors


async def _validated(session: AsyncSession, data: ScheduleData) -> dict[str, object]:
    errors: dict[str, str] = {}
    service_type = " ".join(data.service_type.split())
    if not service_type:
        errors["service_type"] = _("This field is required.")
    elif len(service_type) > 80:
        errors["service_type"] = _("Use at most %(max)s characters.", max=80)
    make, model = " ".join(data.make.split()), " ".join(data.model.split())
    if len(make) > 40:
        errors["make"] = _("Use at most %(max)s characters.", max=40)
    if len(model) > 60:
        errors["model"] = _("Use at most %(max)s characters.", max=60)
    if model and not make:
        errors["make"] = _("Name the make of this model.")
    if data.interval_km is None and data.interval_months is None:
        errors["interval_km"] = _("Give an interval in distance, in months, or both.")
    if data.interval_km is not None and not 1 <= data.interval_km <= MAX_INTERVAL_KM:
        errors["interval_km"] = _("Enter a distance from 1 to %(max)s km.", max=MAX_INTERVAL_KM)
    if data.interval_months is not None and not 1 <= data.interval_months <= MAX_INTERVAL_MONTHS:
        errors["interval_months"] = _("Enter from 1 to %(max)s months.", max=MAX_INTERVAL_MONTHS)
    if data.category_id is not None and not await session.scalar(
        select(WorkOrderCategory.id).where(WorkOrderCategory.id == data.category_id)
    ):
        errors["category_id"] = _("Choose one of the categories.")
    if errors:
        raise ScheduleInvalid(errors)
    return {
        "service_type": service_type,
        "make": make or None,
        "model": model or None,
        "interval_km": data.interval_km,
        "interval_months": data.interval_months,
        "category_id": data.category_id,
    }


async def _refresh_matching(uow: UnitOfWork, makes: set[str | None], today: date) -> None:
    """Recompute the vehicles a schedule change touches (all of them for a schedule without a make)."""
    query = select(Vehicle).where(Vehicle.status.not_in(RETIRED_STATUSES))
    if None not in makes:
        query = query.where(func.lower(Vehicle.make).in_([make.lower() for make in makes if make]))
    for vehicle in (await uow.session.scalars(query.order_by(Vehicle.id))).all():
        await refresh_vehicle_maintenance(uow, vehicle, today)


async def create_schedule(uow: UnitOfWork, data: ScheduleData, today: date) -> MaintenanceSchedule:
    uow.actor.require("fleet.manage")
    schedule = MaintenanceSchedule(**await _validated(uow.session, data))
    uow.session.add(schedule)
    await uow.session.flush()
    record(
        uow,
        "maintenance.schedule_created",
        {"id": schedule.id, "service_type": schedule.service_type},
        ["fleet"],
    )
    await _refresh_matching(uow, {schedule.make}, today)
    await uow.commit()
    return schedule


async def _schedule(session: AsyncSession, schedule_id: int) -> MaintenanceSchedule:
    schedule = await session.scalar(select(MaintenanceSchedule).where(MaintenanceSchedule.id == schedule_id))
    if schedule is None:
        raise NotFound(schedule_id)
    return schedule


async def update_schedule(
    uow: UnitOfWork, schedule_id: int, data: ScheduleData, today: date
) -> MaintenanceSchedule:
    schedule = await _schedule(uow.session, schedule_id)
    uow.actor.require("fleet.manage")
    old_make = schedule.make
    for name, value in (await _validated(uow.session, data)).items():
        setattr(schedule, name, value)
    await uow.session.flush()
    record(
        uow,
        "maintenance.schedule_updated",
        {"id": schedule.id, "service_type": schedule.service_type},
        ["fleet"],
    )
    await _refresh_matching(uow, {old_make, schedule.make}, today)
    await uow.commit()
    return schedule


async def delete_schedule(uow: UnitOfWork, schedule_id: int, today: date) -> None:
    schedule = await _schedule(uow.session, schedule_id)
    uow.actor.require("fleet.manage")
    make = schedule.make
    await uow.session.delete(schedule)
    await uow.session.flush()
    record(
        uow,
        "maintenance.schedule_deleted",
        {"id": schedule.id, "service_type": schedule.service_type},
        ["fleet"],
    )
    await _refresh_matching(uow, {make}, today)
    await uow.commit()
