"""Telemetry use cases: readings in, and what they change. The only code that writes readings and alerts.

One request (a Traccar forward, an OsmAnd report, a partner's batch) is one transaction:
1. every reading is checked first (no time more than 5 minutes ahead, every device or VIN known), so
   a bad reading refuses the whole request and nothing is stored;
2. the vehicles concerned are locked in id order (FOR UPDATE on PostgreSQL, the write lock taken at
   BEGIN IMMEDIATE on SQLite), so two requests for one vehicle are processed one after the other and
   never deadlock;
3. the readings go in with one INSERT .. ON CONFLICT (vehicle_id, recorded_at) DO NOTHING, so a replay
   stores nothing and processes nothing;
4. per vehicle: the odometer takes the largest value reported (a late reading never turns it back);
   the newest reading, if it is newer than the vehicle's last one, opens and closes alerts (a late
   reading never does); maintenance is recomputed, in one go for the request, for the vehicles whose
   whole kilometres changed; then the health score, and one `telemetry.reading_recorded` event per
   vehicle carries the latest values.
Alerts open with INSERT .. ON CONFLICT DO NOTHING on the partial unique index (one OPEN alert per
vehicle and condition), so even a burst of identical readings cannot open a condition twice.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from integrations.telematics.readings import DeviceReading
from ops.auth.actor import Actor, NotFound, RuleViolation
from ops.auth.models import User
from ops.db import Database, UnitOfWork, utcnow
from ops.events import record
from ops.i18n import gettext as _
from ops.mail.service import queue_mail, render_mail, valid_address, written_for
from ops.tenants.models import Tenant
from ops.vehicles.health import refresh_health
from ops.vehicles.maintenance.service import refresh_maintenance
from ops.vehicles.models import (
    DEVICE_KINDS,
    TelematicsDevice,
    TelemetryReading,
    Vehicle,
    VehicleAlert,
    vehicle_topics,
)
from ops.vehicles.telemetry.queries import IngestTenant, ingest_tenant
from ops.vehicles.telemetry.thresholds import (
    DEFAULT_THRESHOLDS,
    ORDERED_PAIRS,
    STOPPED_REPORTING,
    STOPPED_REPORTING_SEVERITY,
    Evaluation,
    Finding,
    effective_thresholds,
    evaluate,
    is_trouble_code,
)

MAX_FUTURE = timedelta(minutes=5)
MAX_BATCH = 1000
STOPPED_REPORTING_AFTER = timedelta(hours=24)
# Who hears about a critical alert by mail (when the dealership has email notifications on).
ALERT_MAIL_ROLES = ("workshop_manager", "admin")
READING_FIELDS = (
    "fuel_level",
    "state_of_charge",
    "fuel_l_per_100km",
    "engine_load",
    "engine_temp_c",
    "battery_v",
    "odometer_m",
    "tyre_fl_kpa",
    "tyre_fr_kpa",
    "tyre_rl_kpa",
    "tyre_rr_kpa",
    "latitude",
    "longitude",
    "speed_mps",
    "rpm",
)
SEVERITY_RANK = {"LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def alert_label(condition: str) -> str:
    """What an alert's condition means, in the reader's language."""
    if is_trouble_code(condition):
        return _("Trouble code %(code)s", code=condition.partition(":")[2])
    labels = {
        "tyre_fl_low": _("Front left tyre pressure low"),
        "tyre_fr_low": _("Front right tyre pressure low"),
        "tyre_rl_low": _("Rear left tyre pressure low"),
        "tyre_rr_low": _("Rear right tyre pressure low"),
        "tyre_fl_high": _("Front left tyre pressure high"),
        "tyre_fr_high": _("Front right tyre pressure high"),
        "tyre_rl_high": _("Rear left tyre pressure high"),
        "tyre_rr_high": _("Rear right tyre pressure high"),
        "engine_temp_high": _("Engine overheating"),
        "engine_temp_low": _("Engine running cold"),
        "battery_low": _("Battery voltage low"),
        "battery_high": _("Battery voltage high (overcharging)"),
        STOPPED_REPORTING: _("Stopped reporting"),
    }
    return labels.get(condition, condition)


def severity_label(severity: str) -> str:
    labels = {"LOW": _("Low"), "MEDIUM": _("Medium"), "HIGH": _("High"), "CRITICAL": _("Critical")}
    return labels.get(severity, severity)


# --- Errors ---------------------------------------------------------------------------------------------


class ReadingRefused(RuleViolation):
    """One reading of a request cannot be taken; `index` is its place in the request (0 for single ones)."""

    def __init__(self, message: str, index: int, field: str) -> None:
        super().__init__(message, field=field)
        self.index = index


class UnknownSource(ReadingRefused):
    """No registered device with that id, or no vehicle with that VIN, in this dealership."""


# --- Ingestion ------------------------------------------------------------------------------------------


@dataclass
class IngestResult:
    received: int
    stored: int = 0
    vehicle_ids: list[int] = field(default_factory=list)
    alerts_raised: int = 0
    alerts_cleared: int = 0

    @property
    def duplicates(self) -> int:
        return self.received - self.stored


@dataclass
class _VehicleBatch:
    """One vehicle's new readings in a request, and whether the newest of them is its newest ever."""

    vehicle: Vehicle
    readings: list[DeviceReading] = field(default_factory=list)
    is_newest: bool = False

    def latest(self) -> DeviceReading:
        return max(self.readings, key=lambda reading: reading.recorded_at)


def telemetry_actor(tenant_id: int, source: str) -> Actor:
    """Who a device's reading is recorded as: the provider, on the dealership's behalf."""
    return Actor.system(tenant_id, name=source)


async def ingest_readings(
    uow: UnitOfWork,
    readings: Sequence[DeviceReading],
    *,
    source: str,
    now: datetime | None = None,
    tenant: IngestTenant | None = None,
) -> IngestResult:
    """Store and process readings in one transaction and commit it; refuse all of them if one is bad.

    `tenant`: the dealership's settings when the caller has just read them (a device's hook), else read here.
    """
    uow.actor.require("telemetry.ingest")
    now = now or utcnow()
    result = IngestResult(received=len(readings))
    if not readings:
        return result
    if len(readings) > MAX_BATCH:
        raise ReadingRefused(
            _("At most %(max)s readings per request.", max=MAX_BATCH), index=MAX_BATCH, field="readings"
        )
    for index, reading in enumerate(readings):
        if reading.recorded_at > now + MAX_FUTURE:
            raise ReadingRefused(
                _("This reading's time is more than 5 minutes in the future; check the device's clock."),
                index=index,
                field="time",
            )
    vehicle_ids, batches, device_ids = await _lock_vehicles(uow, readings)

    stored = await _insert_readings(uow, readings, vehicle_ids, device_ids, source, now)
    result.stored = len(stored)
    for index in stored:
        batches[vehicle_ids[index]].readings.append(readings[index])
    active = [batch for batch in batches.values() if batch.readings]
    if active:
        if tenant is None or tenant.id != uow.actor.tenant_id:
            tenant = await ingest_tenant(uow.session, uow.actor.tenant_id)
        processor = _Processor(uow, tenant, now)
        await processor.load_open_alerts([batch.vehicle.id for batch in active])
        await processor.process(active)
        result.alerts_raised, result.alerts_cleared = processor.raised, processor.cleared
        await processor.mail_critical_alerts()
    result.vehicle_ids = [batch.vehicle.id for batch in active]
    await uow.commit()
    return result


# Statements built once (the hot path spent much of its time constructing them); values come as parameters.
DEVICES_BY_UNIQUE_ID = select(
    TelematicsDevice.unique_id, TelematicsDevice.id, TelematicsDevice.vehicle_id
).where(TelematicsDevice.unique_id.in_(bindparam("unique_ids", expanding=True)))
# SQLite leaves FOR UPDATE out: there the write lock is taken by BEGIN IMMEDIATE.
VEHICLES_TO_LOCK = (
    select(Vehicle)
    .where(
        or_(
            Vehicle.id.in_(bindparam("ids", expanding=True)),
            Vehicle.vin.in_(bindparam("vins", expanding=True)),
        )
    )
    .order_by(Vehicle.id)
    .with_for_update()
    .execution_options(populate_existing=True)
)
# Readings named only by device (Traccar, OsmAnd): the devices and their vehicles, locked, in one query.
VEHICLES_OF_DEVICES_TO_LOCK = (
    select(Vehicle, TelematicsDevice.unique_id, TelematicsDevice.id)
    .join(TelematicsDevice, TelematicsDevice.vehicle_id == Vehicle.id)
    .where(TelematicsDevice.unique_id.in_(bindparam("unique_ids", expanding=True)))
    .order_by(Vehicle.id)
    .with_for_update(of=Vehicle)
    .execution_options(populate_existing=True)
)
DEVICES_SEEN = (
    update(TelematicsDevice)
    .where(TelematicsDevice.id.in_(bindparam("ids", expanding=True)))
    .values(last_seen_at=bindparam("seen_at"))
    .execution_options(synchronize_session=False)
)
OPEN_ALERTS = select(VehicleAlert).where(
    VehicleAlert.vehicle_id.in_(bindparam("vehicle_ids", expanding=True)), VehicleAlert.status == "OPEN"
)


# SQLite: the rows as a list of parameters, sent as multi-row INSERTs ("insertmanyvalues").
INSERT_NEW_READINGS = (
    sqlite.insert(TelemetryReading)
    .on_conflict_do_nothing(index_elements=["vehicle_id", "recorded_at"])
    .returning(TelemetryReading.vehicle_id, TelemetryReading.recorded_at)
)
# PostgreSQL: one parameter per column instead of one per value, so the driver encodes 18 arrays where
# SQLAlchemy would process 2,100 parameters one by one for a batch of 100. The same statement marks the
# reporting devices seen (a round trip less for every Traccar position).
INSERT_NEW_READINGS_FROM_ARRAYS = text(
    """
    WITH seen AS (
        UPDATE telematics_devices SET last_seen_at = CAST(:received_at AS timestamptz)
        WHERE id = ANY(CAST(:device_ids AS bigint[])) AND tenant_id = CAST(:tenant_id AS bigint)
    )
    INSERT INTO telemetry_readings (
        tenant_id, received_at, source, vehicle_id, recorded_at, fuel_level, state_of_charge,
        fuel_l_per_100km, engine_load, engine_temp_c, battery_v, odometer_m, tyre_fl_kpa, tyre_fr_kpa,
        tyre_rl_kpa, tyre_rr_kpa, latitude, longitude, speed_mps, rpm, dtc_codes
    )
    SELECT CAST(:tenant_id AS bigint), CAST(:received_at AS timestamptz), CAST(:source AS varchar),
        r.vehicle_id, r.recorded_at, r.fuel_level, r.state_of_charge, r.fuel_l_per_100km,
        r.engine_load, r.engine_temp_c, r.battery_v, r.odometer_m, r.tyre_fl_kpa, r.tyre_fr_kpa,
        r.tyre_rl_kpa, r.tyre_rr_kpa, r.latitude, r.longitude, r.speed_mps, r.rpm,
        CAST(r.dtc_codes AS json)
    FROM unnest(
        CAST(:vehicle_id AS bigint[]), CAST(:recorded_at AS timestamptz[]),
        CAST(:fuel_level AS float8[]), CAST(:state_of_charge AS float8[]),
        CAST(:fuel_l_per_100km AS float8[]), CAST(:engine_load AS float8[]),
        CAST(:engine_temp_c AS float8[]), CAST(:battery_v AS float8[]), CAST(:odometer_m AS bigint[]),
        CAST(:tyre_fl_kpa AS float8[]), CAST(:tyre_fr_kpa AS float8[]), CAST(:tyre_rl_kpa AS float8[]),
        CAST(:tyre_rr_kpa AS float8[]), CAST(:latitude AS float8[]), CAST(:longitude AS float8[]),
        CAST(:speed_mps AS float8[]), CAST(:rpm AS integer[]), CAST(:dtc_codes AS text[])
    ) AS r (
        vehicle_id, recorded_at, fuel_level, state_of_charge, fuel_l_per_100km, engine_load,
        engine_temp_c, battery_v, odometer_m, tyre_fl_kpa, tyre_fr_kpa, tyre_rl_kpa, tyre_rr_kpa,
        latitude, longitude, speed_mps, rpm, dtc_codes
    )
    ON CONFLICT (vehicle_id, recorded_at) DO NOTHING
    RETURNING vehicle_id, recorded_at
    """
)


async def _lock_vehicles(
    uow: UnitOfWork, readings: Sequence[DeviceReading]
) -> tuple[list[int], dict[int, _VehicleBatch], list[int]]:
    """Lock the readings' vehicles in id order (one query); returns the vehicle id of every reading, the
    vehicles, and the ids of the devices that reported. An unknown device or VIN refuses the request."""
    session = uow.session
    unique_ids = {r.device_id for r in readings if r.device_id}
    vins = {r.vin.strip().upper() for r in readings if r.vin and not r.device_id}
    devices: dict[str, tuple[int, int]] = {}
    vehicles: list[Vehicle] = []
    if unique_ids and not vins:
        locked = await session.execute(VEHICLES_OF_DEVICES_TO_LOCK, {"unique_ids": list(unique_ids)})
        for vehicle, unique_id, device_id in locked:
            devices[unique_id] = (device_id, vehicle.id)
            if not vehicles or vehicles[-1] is not vehicle:
                vehicles.append(vehicle)
    else:
        if unique_ids:
            rows = await session.execute(DEVICES_BY_UNIQUE_ID, {"unique_ids": list(unique_ids)})
            devices = {row.unique_id: (row.id, row.vehicle_id) for row in rows}
        ids = [vehicle_id for _device, vehicle_id in devices.values()]
        vehicles = list((await session.scalars(VEHICLES_TO_LOCK, {"ids": ids, "vins": list(vins)})).all())
    by_vin = {vehicle.vin: vehicle.id for vehicle in vehicles}
    vehicle_ids: list[int] = []
    for index, reading in enumerate(readings):
        if reading.device_id:
            found = devices.get(reading.device_id)
            if found is None:
                raise UnknownSource(
                    _("No device %(id)s is registered with this dealership.", id=reading.device_id),
                    index=index,
                    field="device_id",
                )
            vehicle_ids.append(found[1])
        elif reading.vin:
            vehicle_id = by_vin.get(reading.vin.strip().upper())
            if vehicle_id is None:
                raise UnknownSource(
                    _("No vehicle with VIN %(vin)s in this dealership.", vin=reading.vin),
                    index=index,
                    field="vin",
                )
            vehicle_ids.append(vehicle_id)
        else:
            raise UnknownSource(_("Give the vehicle's VIN or the device id."), index=index, field="vin")
    batches = {vehicle.id: _VehicleBatch(vehicle) for vehicle in vehicles}
    return vehicle_ids, batches, sorted({device_id for device_id, _vehicle in devices.values()})


def _dialect_insert(uow: UnitOfWork, table: Any) -> Any:
    module = sqlite if uow.db.is_sqlite else postgresql
    return module.insert(table)


async def _insert_readings(
    uow: UnitOfWork,
    readings: Sequence[DeviceReading],
    vehicle_ids: list[int],
    device_ids: list[int],
    source: str,
    now: datetime,
) -> list[int]:
    """Insert the readings that are new and mark the devices seen (a replay too); the indexes of the
    readings stored (a replay stores none)."""
    first_index: dict[tuple[int, datetime], int] = {}
    for index, reading in enumerate(readings):
        first_index.setdefault((vehicle_ids[index], reading.recorded_at), index)
    kept = [readings[index] for index in first_index.values()]
    tenant_id = uow.actor.tenant_id
    connection = await uow.session.connection()
    if uow.db.is_sqlite:
        rows = [
            {name: getattr(reading, name) for name in READING_FIELDS}
            | {
                "tenant_id": tenant_id,
                "vehicle_id": vehicle_id,
                "recorded_at": recorded_at,
                "received_at": now,
                "source": source,
                "dtc_codes": list(reading.dtc_codes or ()),
            }
            for (vehicle_id, recorded_at), reading in zip(first_index, kept, strict=True)
        ]
        if device_ids:
            await uow.session.execute(DEVICES_SEEN, {"ids": device_ids, "seen_at": now})
        inserted = await connection.execute(INSERT_NEW_READINGS, rows)
    else:
        columns: dict[str, Any] = {
            name: [getattr(reading, name) for reading in kept] for name in READING_FIELDS
        }
        columns.update(
            tenant_id=tenant_id,
            received_at=now,
            source=source,
            device_ids=device_ids,
            vehicle_id=[vehicle_id for vehicle_id, _time in first_index],
            recorded_at=[recorded_at for _vehicle, recorded_at in first_index],
            dtc_codes=[json.dumps(list(reading.dtc_codes or ())) for reading in kept],
        )
        inserted = await connection.execute(INSERT_NEW_READINGS_FROM_ARRAYS, columns)
    return sorted(first_index[(row.vehicle_id, row.recorded_at)] for row in inserted)


class _Processor:
    """Applies the rules to each vehicle's new readings within the request's transaction."""

    def __init__(self, uow: UnitOfWork, tenant: IngestTenant, now: datetime) -> None:
        self.uow = uow
        self.tenant = tenant
        self.now = now
        self.thresholds = effective_thresholds(tenant.telemetry_thresholds)
        self.open_alerts: dict[int, dict[str, VehicleAlert]] = {}
        self.critical: list[tuple[Vehicle, VehicleAlert]] = []
        self.raised = 0
        self.cleared = 0

    async def load_open_alerts(self, vehicle_ids: list[int]) -> None:
        alerts = await self.uow.session.scalars(OPEN_ALERTS, {"vehicle_ids": vehicle_ids})
        for alert in alerts:
            self.open_alerts.setdefault(alert.vehicle_id, {})[alert.condition] = alert

    async def process(self, batches: list[_VehicleBatch]) -> None:
        """Odometer and alerts per vehicle, then maintenance for all whose odometer moved, then per
        vehicle its health and its `telemetry.reading_recorded` event with the final values."""
        moved: list[Vehicle] = []
        alerts_changed: set[int] = set()
        for batch in batches:
            vehicle = batch.vehicle
            latest = batch.latest()
            if _raise_odometer(vehicle, batch.readings):
                moved.append(vehicle)
            batch.is_newest = vehicle.last_reading_at is None or latest.recorded_at > vehicle.last_reading_at
            if batch.is_newest:
                vehicle.last_reading_at = latest.recorded_at
                if await self._apply(vehicle, latest, evaluate(latest, self.thresholds)):
                    alerts_changed.add(vehicle.id)
        if moved:
            # Recomputes due, overdue and predicted dates, and the health score if a state changed.
            await refresh_maintenance(self.uow, moved, self._today())
        for batch in batches:
            vehicle = batch.vehicle
            if vehicle.id in alerts_changed:
                await refresh_health(self.uow, vehicle)
            self._record_reading(batch)

    def _record_reading(self, batch: _VehicleBatch) -> None:
        vehicle, latest = batch.vehicle, batch.latest()
        values = {name: getattr(latest, name) for name in READING_FIELDS}
        values["dtc_codes"] = list(latest.dtc_codes or ())
        record(
            self.uow,
            "telemetry.reading_recorded",
            {
                "vehicle_id": vehicle.id,
                "recorded_at": latest.recorded_at.isoformat(),
                "readings": len(batch.readings),
                "latest": values,
                "is_newest": batch.is_newest,
                "odometer_m": vehicle.odometer_m,
                "health_score": vehicle.health_score,
                "health_reasons": vehicle.health_reasons,
            },
            vehicle_topics(vehicle.id, vehicle.fleet_id),
        )

    async def _apply(self, vehicle: Vehicle, reading: DeviceReading, evaluation: Evaluation) -> bool:
        """Open, escalate and close this vehicle's alerts from its newest reading; True if any changed."""
        open_alerts = self.open_alerts.setdefault(vehicle.id, {})
        changed = False
        for condition, finding in evaluation.findings.items():
            alert = open_alerts.get(condition)
            if alert is None:
                opened = await open_alert(self.uow, vehicle, finding, reading.recorded_at)
                if opened is not None:
                    open_alerts[condition] = opened
                    self.raised += 1
                    changed = True
                    if opened.severity == "CRITICAL":
                        self.critical.append((vehicle, opened))
                continue
            alert.last_seen_at = reading.recorded_at
            alert.value = finding.value
            if SEVERITY_RANK[finding.severity] > SEVERITY_RANK.get(alert.severity, 0):
                # A low tyre that goes flat: the same alert, now critical, announced again.
                alert.severity = finding.severity
                alert.threshold = finding.threshold
                _record_alert(self.uow, "telemetry.alert_raised", vehicle, alert)
                self.raised += 1
                changed = True
                if alert.severity == "CRITICAL":
                    self.critical.append((vehicle, alert))
        to_close = set(evaluation.normal) | {STOPPED_REPORTING}
        if reading.dtc_codes is not None:
            to_close |= {c for c in open_alerts if is_trouble_code(c) and c not in evaluation.findings}
        for condition in sorted(to_close & set(open_alerts)):
            alert = open_alerts.pop(condition)
            close_alert(self.uow, vehicle, alert, reading, self.now)
            self.cleared += 1
            changed = True
        return changed

    def _today(self) -> date:
        return datetime.now(ZoneInfo(self.tenant.timezone)).date()

    async def mail_critical_alerts(self) -> None:
        """Queue one mail per critical alert to the workshop managers and admins (same transaction)."""
        if not self.critical or not self.tenant.email_notifications:
            return
        recipients = (
            await self.uow.session.execute(
                select(User.email, User.locale).where(User.role.in_(ALERT_MAIL_ROLES), User.active.is_(True))
            )
        ).all()
        for vehicle, alert in self.critical:
            for recipient in recipients:
                if valid_address(recipient.email) is None:
                    continue
                locale = recipient.locale or self.tenant.locale
                with written_for(locale, self.tenant.timezone, self.tenant.currency):
                    subject, text, html = _alert_mail(vehicle, alert)
                queue_mail(self.uow, recipient.email, subject, text, html, language=locale.split("_")[0])


def _alert_mail(vehicle: Vehicle, alert: VehicleAlert) -> tuple[str, str, str]:
    name = vehicle_name(vehicle)
    subject = _("Critical alert: %(alert)s on %(vehicle)s", alert=alert_label(alert.condition), vehicle=name)
    text, html = render_mail(
        "vehicle_alert",
        vehicle=vehicle,
        vehicle_name=name,
        alert=alert,
        alert_label=alert_label(alert.condition),
        severity=severity_label(alert.severity),
    )
    return subject, text, html


def vehicle_name(vehicle: Vehicle) -> str:
    plate = f" ({vehicle.plate})" if vehicle.plate else ""
    return f"{vehicle.make} {vehicle.model}{plate}"


def _raise_odometer(vehicle: Vehicle, readings: list[DeviceReading]) -> bool:
    """The odometer takes the largest reported value: a late reading can never turn it back.

    True when the whole kilometres changed: schedules count in km, so maintenance is recomputed then
    and not for every few metres a device reports.
    """
    reported = [r.odometer_m for r in readings if r.odometer_m is not None]
    # The workshop writes whole kilometres at check-in and completion; a tracker behind that reading
    # (fitted later, or counting from another start) must not take the car's odometer back.
    known_m = max(vehicle.odometer_m or 0, vehicle.odometer_km * 1000)
    if not reported or max(reported) <= known_m:
        return False
    before_km = vehicle.odometer_km
    vehicle.odometer_m = max(reported)
    vehicle.odometer_km = max(before_km, vehicle.odometer_m // 1000)
    return vehicle.odometer_km != before_km


async def open_alert(
    uow: UnitOfWork, vehicle: Vehicle, finding: Finding, seen_at: datetime
) -> VehicleAlert | None:
    """Open an alert unless one is open for the condition (the partial unique index decides)."""
    table = VehicleAlert.__table__
    statement = (
        _dialect_insert(uow, table)
        .values(
            tenant_id=vehicle.tenant_id,
            vehicle_id=vehicle.id,
            condition=finding.condition,
            severity=finding.severity,
            status="OPEN",
            value=finding.value,
            threshold=finding.threshold,
            opened_at=seen_at,
            last_seen_at=seen_at,
        )
        .on_conflict_do_nothing(
            index_elements=["vehicle_id", "condition"], index_where=table.c.status == "OPEN"
        )
        .returning(table.c.id)
    )
    alert_id = (await uow.session.execute(statement)).scalar_one_or_none()
    if alert_id is None:
        return None
    alert = await uow.session.get(VehicleAlert, alert_id)
    assert alert is not None
    _record_alert(uow, "telemetry.alert_raised", vehicle, alert)
    return alert


def close_alert(
    uow: UnitOfWork, vehicle: Vehicle, alert: VehicleAlert, reading: DeviceReading | None, now: datetime
) -> None:
    alert.status = "CLOSED"
    alert.closed_at = reading.recorded_at if reading is not None else now
    if reading is not None and alert.condition != STOPPED_REPORTING and not is_trouble_code(alert.condition):
        alert.value = _measured_value(alert.condition, reading)
    _record_alert(uow, "telemetry.alert_cleared", vehicle, alert)


def _measured_value(condition: str, reading: DeviceReading) -> float | None:
    if condition.startswith("tyre_"):
        value: float | None = getattr(reading, f"tyre_{condition.split('_')[1]}_kpa", None)
        return value
    if condition.startswith("engine_temp"):
        return reading.engine_temp_c
    if condition.startswith("battery"):
        return reading.battery_v
    return None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _record_alert(uow: UnitOfWork, type: str, vehicle: Vehicle, alert: VehicleAlert) -> None:
    record(
        uow,
        type,
        {
            "vehicle_id": vehicle.id,
            "alert_id": alert.id,
            "condition": alert.condition,
            "severity": alert.severity,
            "value": alert.value,
            "threshold": alert.threshold,
            "vehicle": vehicle_name(vehicle),
            "fleet_id": vehicle.fleet_id,
        },
        vehicle_topics(vehicle.id, vehicle.fleet_id),
    )


# --- Vehicles that stopped reporting (worker timer) ----------------------------------------------------


async def mark_stopped_reporting(
    db: Database, now: datetime, silence: timedelta = STOPPED_REPORTING_AFTER
) -> int:
    """Open a `stopped_reporting` alert (and event) for each vehicle silent for `silence` that has a
    device; the vehicle's next reading closes it. Safe in any number of workers (the unique index)."""
    cutoff = now - silence
    async with db.system() as session:
        candidates = (
            await session.execute(
                select(Vehicle.tenant_id, Vehicle.id)
                .join(TelematicsDevice, TelematicsDevice.vehicle_id == Vehicle.id)
                .outerjoin(
                    VehicleAlert,
                    and_(
                        VehicleAlert.vehicle_id == Vehicle.id,
                        VehicleAlert.condition == STOPPED_REPORTING,
                        VehicleAlert.status == "OPEN",
                    ),
                )
                .where(
                    VehicleAlert.id.is_(None),
                    Vehicle.status.not_in(("SOLD", "RETIRED")),
                    or_(
                        Vehicle.last_reading_at < cutoff,
                        and_(Vehicle.last_reading_at.is_(None), TelematicsDevice.created_at < cutoff),
                    ),
                )
                .distinct()
                .order_by(Vehicle.tenant_id, Vehicle.id)
            )
        ).all()
    marked = 0
    for tenant_id, vehicle_id in candidates:
        async with db.uow(telemetry_actor(tenant_id, "Pitwall")) as uow:
            vehicle = await uow.session.get(Vehicle, vehicle_id)
            if vehicle is None:
                continue
            hours = silence.total_seconds() / 3600
            finding = Finding(STOPPED_REPORTING, STOPPED_REPORTING_SEVERITY, None, hours)
            alert = await open_alert(uow, vehicle, finding, now)
            if alert is None:
                continue
            record(
                uow,
                "vehicle.stopped_reporting",
                {
                    "vehicle_id": vehicle.id,
                    "alert_id": alert.id,
                    "vehicle": vehicle_name(vehicle),
                    "last_reading_at": _iso(vehicle.last_reading_at),
                    "fleet_id": vehicle.fleet_id,
                },
                vehicle_topics(vehicle.id, vehicle.fleet_id),
            )
            await refresh_health(uow, vehicle)
            await uow.commit()
            marked += 1
    return marked


# --- Settings: secrets, devices, thresholds ------------------------------------------------------------


async def _tenant(uow: UnitOfWork) -> Tenant:
    tenant = await uow.session.get(Tenant, uow.actor.tenant_id, with_for_update=not uow.db.is_sqlite)
    if tenant is None:
        raise NotFound("tenant")
    return tenant


async def rotate_traccar_secret(uow: UnitOfWork) -> str:
    """A new secret for Traccar's forward header; only its hash is kept, the old one stops working."""
    uow.actor.require("fleet.manage")
    tenant = await _tenant(uow)
    secret = secrets.token_urlsafe(32)
    tenant.traccar_secret_hash = sha256_hex(secret)
    record(uow, "telemetry.traccar_secret_rotated", {}, [])
    await uow.commit()
    return secret


async def rotate_signing_secret(uow: UnitOfWork) -> str:
    """A new Standard Webhooks secret (`whsec_` + 32 random bytes, base64) for partners' batches."""
    uow.actor.require("fleet.manage")
    tenant = await _tenant(uow)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    tenant.telemetry_signing_secret = secret
    record(uow, "telemetry.signing_secret_rotated", {}, [])
    await uow.commit()
    return secret


async def register_device(
    uow: UnitOfWork, vehicle_id: int, kind: str, unique_id: str
) -> tuple[TelematicsDevice, str | None]:
    """Register a device for a vehicle; an OsmAnd device gets a token, returned once (None otherwise)."""
    uow.actor.require("fleet.manage")
    if kind not in DEVICE_KINDS:
        raise RuleViolation(_("Choose the kind of device."), field="kind")
    unique_id = (unique_id or "").strip()
    if not unique_id:
        raise RuleViolation(_("Enter the device's identifier."), field="unique_id")
    if len(unique_id) > 64 or any(ch.isspace() for ch in unique_id):
        raise RuleViolation(
            _("A device identifier has at most 64 characters and no spaces."), field="unique_id"
        )
    vehicle = await uow.session.get(Vehicle, vehicle_id)
    if vehicle is None:
        raise NotFound("vehicle")
    taken = await uow.session.scalar(
        select(TelematicsDevice.vehicle_id).where(TelematicsDevice.unique_id == unique_id)
    )
    if taken is not None:
        raise RuleViolation(
            _("Device %(id)s is already registered for another vehicle.", id=unique_id)
            if taken != vehicle_id
            else _("Device %(id)s is already registered for this vehicle.", id=unique_id),
            field="unique_id",
        )
    token = secrets.token_urlsafe(24) if kind == "OSMAND" else None
    device = TelematicsDevice(
        vehicle_id=vehicle.id,
        kind=kind,
        unique_id=unique_id,
        token_hash=sha256_hex(token) if token else None,
    )
    uow.session.add(device)
    await uow.session.flush()
    record(
        uow,
        "telemetry.device_registered",
        {"vehicle_id": vehicle.id, "device_id": device.id, "kind": kind, "unique_id": unique_id},
        [f"vehicle:{vehicle.id}"],
    )
    await uow.commit()
    return device, token


async def remove_device(uow: UnitOfWork, device_id: int) -> None:
    uow.actor.require("fleet.manage")
    device = await uow.session.get(TelematicsDevice, device_id)
    if device is None:
        raise NotFound("device")
    await uow.session.delete(device)
    record(
        uow,
        "telemetry.device_removed",
        {"vehicle_id": device.vehicle_id, "device_id": device.id, "unique_id": device.unique_id},
        [f"vehicle:{device.vehicle_id}"],
    )
    await uow.commit()


class ThresholdsInvalid(RuleViolation):
    """One or more threshold fields are wrong; `errors` has a message per field."""

    def __init__(self, errors: dict[str, str]) -> None:
        name, message = next(iter(errors.items()))
        super().__init__(message, field=name)
        self.errors = errors


def validate_thresholds(values: dict[str, float | None]) -> dict[str, float]:
    """SI thresholds from a form: every one given, positive, each low below its high."""
    errors: dict[str, str] = {}
    checked: dict[str, float] = {}
    for name in DEFAULT_THRESHOLDS:
        value = values.get(name)
        if value is None:
            errors[name] = _("Enter a number.")
        elif not value > 0 or value > 10_000:
            errors[name] = _("Enter a number above zero.")
        else:
            checked[name] = float(value)
    for low, high in ORDERED_PAIRS:
        if low in checked and high in checked and not checked[low] < checked[high] and high not in errors:
            errors[high] = _("This must be above the value before it.")
    if errors:
        raise ThresholdsInvalid(errors)
    return checked


async def update_thresholds(uow: UnitOfWork, values: dict[str, float | None]) -> dict[str, float]:
    """Store the tenant's thresholds (SI); they apply to the next reading."""
    uow.actor.require("fleet.manage")
    checked = validate_thresholds(values)
    tenant = await _tenant(uow)
    before = dict(tenant.telemetry_thresholds or {})
    tenant.telemetry_thresholds = checked
    record(uow, "telemetry.thresholds_changed", {"before": before, "after": checked}, [])
    await uow.commit()
    return checked
