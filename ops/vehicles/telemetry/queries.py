"""Telemetry read models: daily trends, average daily distance, silent vehicles, devices, settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.db import Database, utcnow
from ops.tenants.models import Tenant
from ops.vehicles.models import TelematicsDevice, TelemetryReading, Vehicle
from ops.vehicles.telemetry.thresholds import effective_thresholds

SECONDS_PER_DAY = 86_400
DEVICES_PAGE_SIZE = 50


def _is_sqlite(session: AsyncSession) -> bool:
    bind = session.bind
    return bind is not None and bind.dialect.name == "sqlite"


def _utc_day(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, in SQL, on both backends."""
    if _is_sqlite(session):
        # SQLite stores UTC text ("2026-11-22 14:00:00.000000"); date() reads its day.
        return func.date(column)
    return func.date(func.timezone("UTC", column))


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@dataclass(frozen=True)
class DailyTrend:
    """One UTC day of a vehicle's readings, averaged (SI; None = nothing measured that day)."""

    day: date
    fuel_l_per_100km_avg: float | None
    engine_load_avg: float | None
    state_of_charge_avg: float | None
    battery_v_avg: float | None
    tyre_kpa_avg: float | None


async def daily_trends(
    session: AsyncSession, vehicle_id: int, days: int, now: datetime | None = None
) -> list[DailyTrend]:
    """Daily averages over the last `days` days, oldest first; days without readings are left out.

    The tyre figure is the mean of the four tyres' daily averages (tyres not reported are left out).
    """
    now = now or utcnow()
    day = _utc_day(session, TelemetryReading.recorded_at).label("day")
    rows = await session.execute(
        select(
            day,
            func.avg(TelemetryReading.fuel_l_per_100km),
            func.avg(TelemetryReading.engine_load),
            func.avg(TelemetryReading.state_of_charge),
            func.avg(TelemetryReading.battery_v),
            func.avg(TelemetryReading.tyre_fl_kpa),
            func.avg(TelemetryReading.tyre_fr_kpa),
            func.avg(TelemetryReading.tyre_rl_kpa),
            func.avg(TelemetryReading.tyre_rr_kpa),
        )
        .where(
            TelemetryReading.vehicle_id == vehicle_id,
            TelemetryReading.recorded_at >= now - timedelta(days=days),
            TelemetryReading.recorded_at <= now,
        )
        .group_by(day)
        .order_by(day)
    )
    trends = []
    for row in rows:
        tyres = [float(value) for value in row[5:9] if value is not None]
        trends.append(
            DailyTrend(
                day=_as_date(row[0]),
                fuel_l_per_100km_avg=_float(row[1]),
                engine_load_avg=_float(row[2]),
                state_of_charge_avg=_float(row[3]),
                battery_v_avg=_float(row[4]),
                tyre_kpa_avg=sum(tyres) / len(tyres) if tyres else None,
            )
        )
    return trends


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


async def daily_distance_km(
    session: AsyncSession, vehicle_id: int, days: int = 30, now: datetime | None = None
) -> float | None:
    """Average distance per day over the last `days` days (see daily_distances_km)."""
    return (await daily_distances_km(session, [vehicle_id], days, now)).get(vehicle_id)


def _window_edge(column: Any, *, newest: bool) -> Any:
    """`column` of the vehicle's first (or newest) reading with an odometer in the window: one probe of
    the (vehicle_id, recorded_at) index, however many readings the window holds."""
    order = TelemetryReading.recorded_at.desc() if newest else TelemetryReading.recorded_at.asc()
    return (
        select(column)
        .where(
            TelemetryReading.vehicle_id == Vehicle.id,
            TelemetryReading.odometer_m.is_not(None),
            TelemetryReading.recorded_at >= bindparam("since"),
            TelemetryReading.recorded_at <= bindparam("until"),
        )
        .order_by(order)
        .limit(1)
        .correlate(Vehicle)
        .scalar_subquery()
    )


# Built once: maintenance asks it whenever a reading moves a vehicle's odometer to the next kilometre.
ODOMETER_EDGES = select(
    Vehicle.id,
    _window_edge(TelemetryReading.odometer_m, newest=False),
    _window_edge(TelemetryReading.recorded_at, newest=False),
    _window_edge(TelemetryReading.odometer_m, newest=True),
    _window_edge(TelemetryReading.recorded_at, newest=True),
).where(Vehicle.id.in_(bindparam("vehicle_ids", expanding=True)))


async def daily_distances_km(
    session: AsyncSession, vehicle_ids: list[int], days: int = 30, now: datetime | None = None
) -> dict[int, float]:
    """Average distance per day over the last `days` days, per vehicle, from the readings' odometer.

    The distance between the first and the newest odometer reading in the window, divided by the days
    between them (at least one day, so a single busy afternoon is not taken for a daily habit). A
    vehicle with fewer than two odometer readings in the window, or whose odometer went back (a swapped
    device), is left out. Reading the window's two ends, not aggregating it, keeps the cost flat as
    history grows: a month of readings every 30 seconds took 369 ms to aggregate per kilometre.
    """
    now = now or utcnow()
    rows = await session.execute(
        ODOMETER_EDGES, {"vehicle_ids": vehicle_ids, "since": now - timedelta(days=days), "until": now}
    )
    distances = {}
    for vehicle_id, first_m, first, last_m, last in rows:
        if first is None or last is None or first_m is None or last_m is None:
            continue
        first_at, last_at = _as_datetime(first), _as_datetime(last)
        if last_at <= first_at or last_m < first_m:
            continue
        elapsed_days = max(1.0, (last_at - first_at).total_seconds() / SECONDS_PER_DAY)
        distances[vehicle_id] = (int(last_m) - int(first_m)) / 1000 / elapsed_days
    return distances


def _as_datetime(value: Any) -> datetime:
    """Aggregates skip the column type on SQLite and come back as text."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


@dataclass(frozen=True)
class SilentVehicle:
    vehicle_id: int
    vin: str
    plate: str | None
    make: str
    model: str
    fleet_id: int | None
    last_reading_at: datetime | None


async def stopped_reporting(session: AsyncSession, now: datetime, hours: int = 24) -> list[SilentVehicle]:
    """Vehicles with a registered device and no reading for `hours` (never reported counts from the
    device's registration), longest silent first."""
    cutoff = now - timedelta(hours=hours)
    with_device = select(TelematicsDevice.vehicle_id)
    registered_before = select(TelematicsDevice.vehicle_id).where(TelematicsDevice.created_at < cutoff)
    rows = await session.execute(
        select(
            Vehicle.id,
            Vehicle.vin,
            Vehicle.plate,
            Vehicle.make,
            Vehicle.model,
            Vehicle.fleet_id,
            Vehicle.last_reading_at,
        )
        .where(
            Vehicle.id.in_(with_device),
            or_(
                Vehicle.last_reading_at < cutoff,
                and_(Vehicle.last_reading_at.is_(None), Vehicle.id.in_(registered_before)),
            ),
            Vehicle.status.not_in(("SOLD", "RETIRED")),
        )
        .order_by(Vehicle.last_reading_at.asc().nulls_first(), Vehicle.id)
    )
    return [SilentVehicle(*row) for row in rows]


async def latest_reading(session: AsyncSession, vehicle_id: int) -> TelemetryReading | None:
    """The vehicle's newest reading (by the time it was taken, not received)."""
    return await session.scalar(
        select(TelemetryReading)
        .where(TelemetryReading.vehicle_id == vehicle_id)
        .order_by(TelemetryReading.recorded_at.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class DeviceRow:
    id: int
    vehicle_id: int
    vehicle: str
    kind: str
    unique_id: str
    last_seen_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class DevicePage:
    devices: list[DeviceRow]
    page: int
    total: int
    total_pages: int


async def devices(session: AsyncSession, *, vehicle_id: int | None = None, page: int = 1) -> DevicePage:
    """Registered devices with their vehicle, newest first; one vehicle's when `vehicle_id` is given."""
    filters = [TelematicsDevice.vehicle_id == vehicle_id] if vehicle_id is not None else []
    total = int(await session.scalar(select(func.count(TelematicsDevice.id)).where(*filters)) or 0)
    total_pages = max(1, -(-total // DEVICES_PAGE_SIZE))
    page = max(1, min(page, total_pages))
    rows = await session.execute(
        select(TelematicsDevice, Vehicle.make, Vehicle.model, Vehicle.plate)
        .join(Vehicle, and_(Vehicle.id == TelematicsDevice.vehicle_id))
        .where(*filters)
        .order_by(TelematicsDevice.created_at.desc(), TelematicsDevice.id.desc())
        .limit(DEVICES_PAGE_SIZE)
        .offset((page - 1) * DEVICES_PAGE_SIZE)
    )
    result = []
    for device, make, model, plate in rows:
        label = f"{make} {model}" + (f" ({plate})" if plate else "")
        result.append(
            DeviceRow(
                device.id,
                device.vehicle_id,
                label,
                device.kind,
                device.unique_id,
                device.last_seen_at,
                device.created_at,
            )
        )
    return DevicePage(result, page, total, total_pages)


@dataclass(frozen=True)
class TelemetrySettings:
    traccar_configured: bool
    signing_configured: bool
    thresholds: dict[str, float]
    tenant_slug: str


async def telemetry_settings(session: AsyncSession, tenant_id: int) -> TelemetrySettings:
    tenant = await session.get(Tenant, tenant_id)
    assert tenant is not None
    return TelemetrySettings(
        traccar_configured=tenant.traccar_secret_hash is not None,
        signing_configured=tenant.telemetry_signing_secret is not None,
        thresholds=effective_thresholds(tenant.telemetry_thresholds),
        tenant_slug=tenant.slug,
    )


async def vehicle_label(session: AsyncSession, vehicle_id: int) -> str | None:
    query = select(Vehicle.make, Vehicle.model, Vehicle.plate).where(Vehicle.id == vehicle_id)
    row = (await session.execute(query)).first()
    if row is None:
        return None
    return f"{row.make} {row.model}" + (f" ({row.plate})" if row.plate else "")


@dataclass(frozen=True)
class IngestTenant:
    """What processing readings needs of their dealership: thresholds, calendar, language, mail."""

    id: int
    timezone: str
    locale: str
    currency: str
    email_notifications: bool
    telemetry_thresholds: dict[str, Any] | None


@dataclass(frozen=True)
class HookTenant(IngestTenant):
    """What a device's request needs to know about the dealership it names."""

    slug: str
    traccar_secret_hash: str | None
    telemetry_signing_secret: str | None


# Built once: every device request asks these, and building a statement costs more than running it.
INGEST_TENANT_COLUMNS = (
    Tenant.id,
    Tenant.timezone,
    Tenant.locale,
    Tenant.currency,
    Tenant.email_notifications,
    Tenant.telemetry_thresholds,
)
INGEST_TENANT = select(*INGEST_TENANT_COLUMNS).where(Tenant.id == bindparam("tenant_id"))
HOOK_TENANT = select(
    *INGEST_TENANT_COLUMNS, Tenant.slug, Tenant.traccar_secret_hash, Tenant.telemetry_signing_secret
).where(Tenant.slug == bindparam("slug"), Tenant.status == "ACTIVE")
DEVICE_AUTH = select(TelematicsDevice.id, TelematicsDevice.kind, TelematicsDevice.token_hash).where(
    TelematicsDevice.unique_id == bindparam("unique_id")
)


async def hook_tenant(db: Database, slug: str) -> HookTenant | None:
    """The active dealership with this slug (devices name it in the URL; no one is signed in)."""
    async with db.system() as session:
        row = (await session.execute(HOOK_TENANT, {"slug": slug})).first()
    return None if row is None else HookTenant(*row)


async def ingest_tenant(session: AsyncSession, tenant_id: int) -> IngestTenant:
    row = (await session.execute(INGEST_TENANT, {"tenant_id": tenant_id})).one()
    return IngestTenant(*row)


@dataclass(frozen=True)
class DeviceAuth:
    id: int
    kind: str
    token_hash: str | None


async def device_auth(db: Database, tenant_id: int, unique_id: str) -> DeviceAuth | None:
    async with db.read(tenant_id) as session:
        row = (await session.execute(DEVICE_AUTH, {"unique_id": unique_id})).first()
    return None if row is None else DeviceAuth(*row)
