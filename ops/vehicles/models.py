"""Vehicle profiles shared by sales and the workshop, fleets, telemetry, alerts and maintenance.

Telemetry is stored in SI units (metres, metres per second, kilopascals, degrees Celsius, volts, litres
per 100 km for fuel efficiency, fractions 0 to 1 for levels and load) and converted to the tenant's
units only when shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ops.db import Base, BigId, TenantScoped, utcnow

VEHICLE_STATUSES = ("ACTIVE", "IN_SERVICE", "OUT_OF_SERVICE", "SOLD", "RETIRED")
FUEL_TYPES = ("GASOLINE", "DIESEL", "ELECTRIC", "HYBRID", "PLUGIN_HYBRID", "HYDROGEN")


@dataclass(frozen=True)
class Powertrain:
    """What a fuel type's car has, so its pages show only the readings and charts that fit it: an
    electric car has no engine temperature, load or fuel; a combustion car no state of charge."""

    engine: bool  # a combustion engine: its temperature, load, rpm and fuel efficiency
    tank: bool  # a fuel tank (petrol, diesel or hydrogen): its fuel level
    traction_battery: bool  # a battery that drives the car: its state of charge


def powertrain(fuel_type: str) -> Powertrain:
    return Powertrain(
        engine=fuel_type in ("GASOLINE", "DIESEL", "HYBRID", "PLUGIN_HYBRID"),
        tank=fuel_type != "ELECTRIC",
        traction_battery=fuel_type in ("ELECTRIC", "HYBRID", "PLUGIN_HYBRID"),
    )


TRANSMISSIONS = ("AUTOMATIC", "MANUAL", "CVT", "SEMI_AUTOMATIC")
ALERT_SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
ALERT_STATUSES = ("OPEN", "CLOSED")
DEVICE_KINDS = ("TRACCAR", "OSMAND", "PARTNER")


class Fleet(TenantScoped, Base):
    __tablename__ = "fleets"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserFleet(TenantScoped, Base):
    """A user with any rows here sees only the vehicles of those fleets; none = every vehicle."""

    __tablename__ = "user_fleets"
    __table_args__ = (UniqueConstraint("user_id", "fleet_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    fleet_id: Mapped[int] = mapped_column(BigId, ForeignKey("fleets.id", ondelete="CASCADE"), index=True)


class Vehicle(TenantScoped, Base):
    __tablename__ = "vehicles"
    __table_args__ = (UniqueConstraint("tenant_id", "vin"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    vin: Mapped[str] = mapped_column(String(17))
    plate: Mapped[str | None] = mapped_column(String(20), default=None, index=True)
    make: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(60))
    year: Mapped[int] = mapped_column(Integer)
    fuel_type: Mapped[str] = mapped_column(String(16), default="GASOLINE")
    transmission: Mapped[str | None] = mapped_column(String(16), default=None)
    colour: Mapped[str | None] = mapped_column(String(30), default=None)
    engine_number: Mapped[str | None] = mapped_column(String(40), default=None)
    odometer_km: Mapped[int] = mapped_column(Integer, default=0)
    # The precise odometer from telemetry (metres); odometer_km follows it, rounded down.
    odometer_m: Mapped[int] = mapped_column(BigId, default=0)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), default=None, index=True
    )
    fleet_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("fleets.id", ondelete="SET NULL"), default=None, index=True
    )
    last_service_on: Mapped[date | None] = mapped_column(Date, default=None)
    # Kept current by telemetry processing, so lists and boards need no aggregation.
    health_score: Mapped[int] = mapped_column(Integer, default=100)
    health_reasons: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    last_reading_at: Mapped[datetime | None] = mapped_column(default=None)
    next_service_on: Mapped[date | None] = mapped_column(Date, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TelematicsDevice(TenantScoped, Base):
    """A tracker or telematics unit that reports for one vehicle, known by its provider's device id."""

    __tablename__ = "telematics_devices"
    __table_args__ = (UniqueConstraint("tenant_id", "unique_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    vehicle_id: Mapped[int] = mapped_column(BigId, ForeignKey("vehicles.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="TRACCAR")
    unique_id: Mapped[str] = mapped_column(String(64))
    # OsmAnd clients authenticate per device: sha256 of the token, hex.
    token_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TelemetryReading(TenantScoped, Base):
    __tablename__ = "telemetry_readings"
    __table_args__ = (
        UniqueConstraint("vehicle_id", "recorded_at"),
        Index("ix_telemetry_readings_vehicle_time", "tenant_id", "vehicle_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    vehicle_id: Mapped[int] = mapped_column(BigId, ForeignKey("vehicles.id", ondelete="CASCADE"))
    recorded_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(10), default="PARTNER")
    fuel_level: Mapped[float | None] = mapped_column(Float, default=None)
    state_of_charge: Mapped[float | None] = mapped_column(Float, default=None)
    fuel_l_per_100km: Mapped[float | None] = mapped_column(Float, default=None)
    engine_load: Mapped[float | None] = mapped_column(Float, default=None)
    engine_temp_c: Mapped[float | None] = mapped_column(Float, default=None)
    battery_v: Mapped[float | None] = mapped_column(Float, default=None)
    odometer_m: Mapped[int | None] = mapped_column(BigId, default=None)
    tyre_fl_kpa: Mapped[float | None] = mapped_column(Float, default=None)
    tyre_fr_kpa: Mapped[float | None] = mapped_column(Float, default=None)
    tyre_rl_kpa: Mapped[float | None] = mapped_column(Float, default=None)
    tyre_rr_kpa: Mapped[float | None] = mapped_column(Float, default=None)
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    longitude: Mapped[float | None] = mapped_column(Float, default=None)
    speed_mps: Mapped[float | None] = mapped_column(Float, default=None)
    rpm: Mapped[int | None] = mapped_column(Integer, default=None)
    dtc_codes: Mapped[list[str]] = mapped_column(default=list)


class VehicleAlert(TenantScoped, Base):
    """One condition on one vehicle (`tyre_fl_low`, `dtc:P0300`); at most one open per condition."""

    __tablename__ = "vehicle_alerts"
    __table_args__ = (
        Index(
            "uq_vehicle_alerts_one_open_per_condition",
            "vehicle_id",
            "condition",
            unique=True,
            postgresql_where=text("status = 'OPEN'"),
            sqlite_where=text("status = 'OPEN'"),
        ),
        Index("ix_vehicle_alerts_open", "tenant_id", "status", "severity"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    vehicle_id: Mapped[int] = mapped_column(BigId, ForeignKey("vehicles.id", ondelete="CASCADE"), index=True)
    condition: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(6), default="OPEN")
    # The reading that opened it and the latest one that kept it open (SI units, as stored).
    value: Mapped[float | None] = mapped_column(Float, default=None)
    threshold: Mapped[float | None] = mapped_column(Float, default=None)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    work_order_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("work_orders.id", ondelete="SET NULL"), default=None
    )


class MaintenanceSchedule(TenantScoped, Base):
    """A service type for a make and model (model None = every model of the make; make None = all)."""

    __tablename__ = "maintenance_schedules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    service_type: Mapped[str] = mapped_column(String(80))
    make: Mapped[str | None] = mapped_column(String(40), default=None)
    model: Mapped[str | None] = mapped_column(String(60), default=None)
    interval_km: Mapped[int | None] = mapped_column(Integer, default=None)
    interval_months: Mapped[int | None] = mapped_column(Integer, default=None)
    category_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("work_order_categories.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VehicleMaintenance(TenantScoped, Base):
    """Where one vehicle stands on one schedule: last done, due, and the predicted due date."""

    __tablename__ = "vehicle_maintenance"
    __table_args__ = (UniqueConstraint("vehicle_id", "schedule_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    vehicle_id: Mapped[int] = mapped_column(BigId, ForeignKey("vehicles.id", ondelete="CASCADE"))
    schedule_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("maintenance_schedules.id", ondelete="CASCADE"), index=True
    )
    last_done_on: Mapped[date | None] = mapped_column(Date, default=None)
    last_done_km: Mapped[int | None] = mapped_column(Integer, default=None)
    due_on: Mapped[date | None] = mapped_column(Date, default=None)
    due_km: Mapped[int | None] = mapped_column(Integer, default=None)
    predicted_on: Mapped[date | None] = mapped_column(Date, default=None)
    # OK, DUE or OVERDUE, kept current by telemetry and a daily timer.
    state: Mapped[str] = mapped_column(String(8), default="OK", index=True)
    work_order_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("work_orders.id", ondelete="SET NULL"), default=None
    )


class VehicleDocument(TenantScoped, Base):
    __tablename__ = "vehicle_documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    vehicle_id: Mapped[int] = mapped_column(BigId, ForeignKey("vehicles.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    # Path under the data directory; the bytes live on disk like technicians' photos.
    storage_key: Mapped[str] = mapped_column(String(200))
    uploaded_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


def vehicle_topics(vehicle_id: int, fleet_id: int | None) -> list[str]:
    """Where a vehicle's events go: its page, and the fleet board of everyone allowed to see it.

    A user limited to some fleets watches `fleet:<id>` for each of them, never `fleet`, so a vehicle's
    event reaches exactly the boards that may show it.
    """
    topics = ["fleet", f"vehicle:{vehicle_id}"]
    if fleet_id is not None:
        topics.append(f"fleet:{fleet_id}")
    return topics
