"""Vehicles and telematics: the tracked cars' daily readings and open alerts, the maintenance schedules
and what each car last had done."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from ops.auth.actor import Actor
from ops.db import Database, utcnow
from ops.sales.models import Deal
from ops.seed.data import MODELS, VEHICLES, in_service_since, odometer_at
from ops.seed.showroom import CATALOG
from ops.tenants.models import Tenant
from ops.vehicles.health import refresh_health
from ops.vehicles.maintenance.service import applies_to, refresh_maintenance
from ops.vehicles.models import (
    MaintenanceSchedule,
    TelematicsDevice,
    TelemetryReading,
    Vehicle,
    VehicleAlert,
    VehicleMaintenance,
)
from ops.vehicles.telemetry.thresholds import effective_thresholds
from ops.workshop.models import WorkOrder, WorkOrderCategory

FLEETS = (
    (
        "Alpenblick Ersatzwagen",
        "Unsere Ersatzwagen für Kundinnen und Kunden, deren Auto in der Werkstatt steht.",
    ),
    ("Taxi Zürisee GmbH", "Die Taxis der Taxi Zürisee GmbH, gewartet im Rahmen eines Flottenvertrags."),
)
TAXI_COMPANY = "Taxi Zürisee GmbH"
FLEET_SIZE = 6
TRACKED_VEHICLES = 10
TELEMETRY_DAYS = 90
# (service, interval km, interval months, work-order category); the oil change only for cars with an engine.
OIL_CHANGE = ("Ölwechsel", 15_000, 12, "Oil Change")
SCHEDULES = (
    ("Service", None, 24, "Inspection"),
    ("Reifen ersetzen", 40_000, None, "Tire Service"),
)
# Open alerts on the tracked cars as the demo starts: condition, severity, value, the threshold it crossed,
# and whether only a car with an engine can raise it (overheating, a catalytic converter's code).
DEMO_ALERTS = (
    ("engine_temp_high", "CRITICAL", 118.0, "engine_temp_high_c", True),
    ("tyre_rl_low", "HIGH", 176.0, "tyre_low_kpa", False),
    ("battery_low", "MEDIUM", 11.9, "battery_low_v", False),
    ("dtc:P0420", "MEDIUM", None, None, True),
)


def oil_change_scopes() -> list[tuple[str, str | None]]:
    """(make, model) of the oil-change schedules: a whole make when none of its cars here is electric,
    else each of its models with an engine."""
    cars = {(make, model, fuel) for make, model, fuel, _wmi, _year in MODELS} | {
        (entry[0], entry[1], entry[5]) for entry in CATALOG
    }
    electric_makes = {make for make, _model, fuel in cars if fuel == "ELECTRIC"}
    scopes = {
        (make, model if make in electric_makes else None) for make, model, fuel in cars if fuel != "ELECTRIC"
    }
    return sorted(scopes, key=lambda scope: (scope[0], scope[1] or ""))


async def seed_fleet(db: Database, tenant: Tenant, manager: Actor, rng: random.Random) -> None:
    """Ten tracked cars of both fleets and the customers with 90 days of daily readings (one silent for
    three days), open alerts (one critical), and the schedules with some cars due or overdue. Every
    odometer figure (readings, services, check-ins) follows one rule per car, so none goes back in time."""
    zone = ZoneInfo(tenant.timezone)
    now = utcnow()
    today = now.astimezone(zone).date()
    async with db.uow(manager) as uow:
        session = uow.session
        vehicles = list((await session.scalars(select(Vehicle).order_by(Vehicle.id))).all())
        delivered: dict[int, date] = {}
        for vehicle_id, at in await session.execute(
            select(Deal.vehicle_id, Deal.delivered_at).where(Deal.vehicle_id.is_not(None))
        ):
            assert vehicle_id is not None and at is not None
            delivered[vehicle_id] = at.astimezone(zone).date()
        since = {
            vehicle.id: delivered.get(vehicle.id) or in_service_since(vehicle.year) for vehicle in vehicles
        }
        current_km = {vehicle.id: vehicle.odometer_km for vehicle in vehicles}

        def km_at(vehicle: Vehicle, at: datetime) -> int:
            return int(odometer_at(current_km[vehicle.id], since[vehicle.id], now, at))

        # The tracked cars: three loan cars, the taxis and a customer's car.
        tracked = vehicles[FLEET_SIZE - 3 : FLEET_SIZE - 3 + TRACKED_VEHICLES]
        readings: list[dict[str, Any]] = []
        for number, vehicle in enumerate(tracked):
            # The last tracked car stopped reporting three days ago.
            silent_days = 3 if number == TRACKED_VEHICLES - 1 else 0
            rows = _daily_readings(tenant.id, vehicle, now, silent_days, rng)
            for row in rows:
                row["odometer_m"] = int(
                    odometer_at(current_km[vehicle.id], since[vehicle.id], now, row["recorded_at"]) * 1000
                )
            readings += rows
            last = rows[-1]
            vehicle.odometer_m = last["odometer_m"]
            vehicle.odometer_km = vehicle.odometer_m // 1000
            vehicle.last_reading_at = last["recorded_at"]
            session.add(
                TelematicsDevice(
                    vehicle_id=vehicle.id,
                    kind="TRACCAR",
                    unique_id=f"demo-tracker-{number + 1:02d}",
                    created_at=now - timedelta(days=TELEMETRY_DAYS + 1),
                    # Seen when its last reading came in, as ingestion records it.
                    last_seen_at=last["received_at"],
                )
            )
        # The latest reading of each car with an alert shows what raised it; the silent car raises none.
        latest = {row["vehicle_id"]: row for row in readings}
        candidates = list(tracked[:-1])
        alerted: list[Vehicle] = []
        thresholds = effective_thresholds(None)
        for position, (condition, severity, value, threshold, needs_engine) in enumerate(DEMO_ALERTS):
            vehicle = next(car for car in candidates if not needs_engine or car.fuel_type != "ELECTRIC")
            candidates.remove(vehicle)
            alerted.append(vehicle)
            row = latest[vehicle.id]
            if condition == "engine_temp_high":
                row["engine_temp_c"] = value
            elif condition == "tyre_rl_low":
                row["tyre_rl_kpa"] = value
            elif condition == "battery_low":
                row["battery_v"] = value
            else:
                row["dtc_codes"] = [condition.removeprefix("dtc:")]
            session.add(
                VehicleAlert(
                    vehicle_id=vehicle.id,
                    condition=condition,
                    severity=severity,
                    value=value,
                    threshold=None if threshold is None else thresholds[threshold],
                    opened_at=now - timedelta(hours=2 + position * 5),
                    last_seen_at=now - timedelta(minutes=20),
                )
            )
        # One statement for all readings: the seed stays fast.
        await session.execute(insert(TelemetryReading), readings)
        categories = {
            str(name): int(category_id)
            for category_id, name in await session.execute(
                select(WorkOrderCategory.id, WorkOrderCategory.name)
            )
        }
        service, interval_km, interval_months, category = OIL_CHANGE
        schedules = [
            MaintenanceSchedule(
                service_type=service,
                make=make,
                model=model,
                interval_km=interval_km,
                interval_months=interval_months,
                category_id=categories.get(category),
            )
            for make, model in oil_change_scopes()
        ] + [
            MaintenanceSchedule(
                service_type=service,
                interval_km=interval_km,
                interval_months=interval_months,
                category_id=categories.get(category),
            )
            for service, interval_km, interval_months, category in SCHEDULES
        ]
        session.add_all(schedules)
        await session.flush()
        # When each service was last done: mostly well within the interval, about one in eight near or
        # past it, so the board has a few cars due and overdue; never before the car was on the road.
        # The regular customers keep to their services (one in fifty is near or past due): else their
        # thousand cars would bury the fleet board.
        done: dict[tuple[int, int], VehicleMaintenance] = {}
        for position, vehicle in enumerate(vehicles):
            near_due = 0.12 if position < VEHICLES else 0.02
            for schedule in schedules:
                days = (schedule.interval_months or 24) * 30
                share = rng.uniform(0.9, 1.08) if rng.random() < near_due else rng.uniform(0.05, 0.75)
                done_on = today - timedelta(days=int(days * share))
                if not applies_to(schedule, vehicle.make, vehicle.model) or done_on < since[vehicle.id]:
                    continue
                done[(vehicle.id, schedule.id)] = VehicleMaintenance(
                    vehicle_id=vehicle.id,
                    schedule_id=schedule.id,
                    last_done_on=done_on,
                    last_done_km=km_at(vehicle, datetime.combine(done_on, time(12), zone)),
                )
        # A completed job counts as the services of its category, as completing one does in Pitwall.
        by_id = {vehicle.id: vehicle for vehicle in vehicles}
        completed = await session.execute(
            select(
                WorkOrder.vehicle_id, WorkOrder.category_id, WorkOrder.completed_at, WorkOrder.odometer_in_km
            )
            .where(WorkOrder.completed_at.is_not(None))
            .order_by(WorkOrder.completed_at)
        )
        for vehicle_id, category_id, completed_at, odometer_in_km in completed:
            assert completed_at is not None
            vehicle = by_id[vehicle_id]
            completed_on = completed_at.astimezone(zone).date()
            vehicle.last_service_on = max(vehicle.last_service_on or completed_on, completed_on)
            for schedule in schedules:
                if schedule.category_id != category_id or not applies_to(
                    schedule, vehicle.make, vehicle.model
                ):
                    continue
                record = done.get((vehicle.id, schedule.id))
                if record is None:
                    record = done[(vehicle.id, schedule.id)] = VehicleMaintenance(
                        vehicle_id=vehicle.id, schedule_id=schedule.id
                    )
                elif record.last_done_on is not None and record.last_done_on > completed_on:
                    continue
                record.last_done_on = completed_on
                record.last_done_km = odometer_in_km or km_at(vehicle, completed_at)
        session.add_all(done.values())
        # The vehicle's last service is the latest of them.
        for (vehicle_id, _schedule_id), record in done.items():
            vehicle = by_id[vehicle_id]
            if record.last_done_on is not None and (
                vehicle.last_service_on is None or record.last_done_on > vehicle.last_service_on
            ):
                vehicle.last_service_on = record.last_done_on
        await session.flush()
        # One pass over every car, which also scores the health of each whose standing changed; the
        # cars with an alert are scored besides (every other car keeps its full score).
        await refresh_maintenance(uow, vehicles, today)
        for vehicle in alerted:
            await refresh_health(uow, vehicle)
        await uow.commit()


def _daily_readings(
    tenant_id: int, vehicle: Vehicle, now: datetime, silent_days: int, rng: random.Random
) -> list[dict[str, Any]]:
    """A reading a day for 90 days, in SI units: a daily drive, a battery that ages, tyres that lose air.
    An electric car reports its state of charge and nothing of an engine. The caller sets the odometer."""
    rows: list[dict[str, Any]] = []
    electric = vehicle.fuel_type == "ELECTRIC"
    base_efficiency = rng.uniform(5.2, 8.4)
    for day in range(TELEMETRY_DAYS, silent_days, -1):
        age = (TELEMETRY_DAYS - day) / TELEMETRY_DAYS
        tyre = 235.0 - 18 * age + rng.uniform(-3, 3)
        level = round(rng.uniform(0.15, 0.95), 2)
        rows.append(
            {
                "tenant_id": tenant_id,
                "vehicle_id": vehicle.id,
                "recorded_at": now - timedelta(days=day - 1, hours=rng.randint(1, 6)),
                "received_at": now - timedelta(days=day - 1),
                "source": "TRACCAR",
                "fuel_level": None if electric else level,
                "state_of_charge": level if electric else None,
                "fuel_l_per_100km": None if electric else round(base_efficiency + rng.uniform(-0.6, 0.9), 2),
                "engine_load": None if electric else round(rng.uniform(0.22, 0.55), 2),
                "engine_temp_c": None if electric else round(rng.uniform(86, 96), 1),
                "battery_v": round(12.7 - 0.3 * age + rng.uniform(-0.1, 0.1), 2),
                "odometer_m": None,
                "tyre_fl_kpa": round(tyre + rng.uniform(-2, 2), 1),
                "tyre_fr_kpa": round(tyre + rng.uniform(-2, 2), 1),
                "tyre_rl_kpa": round(tyre + rng.uniform(-2, 2), 1),
                "tyre_rr_kpa": round(tyre + rng.uniform(-2, 2), 1),
                "latitude": round(47.37 + rng.uniform(-0.08, 0.08), 5),
                "longitude": round(8.54 + rng.uniform(-0.12, 0.12), 5),
                "speed_mps": round(rng.uniform(0, 25), 1),
                "rpm": None if electric else rng.randint(800, 2800),
                "dtc_codes": [],
            }
        )
    return rows
