"""Vehicle profiles shared by sales and the workshop. The telematics issue extends them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ops.db import Base, BigId, TenantScoped, utcnow

VEHICLE_STATUSES = ("ACTIVE", "IN_SERVICE", "OUT_OF_SERVICE", "SOLD", "RETIRED")
FUEL_TYPES = ("GASOLINE", "DIESEL", "ELECTRIC", "HYBRID", "PLUGIN_HYBRID", "HYDROGEN")


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
    colour: Mapped[str | None] = mapped_column(String(30), default=None)
    odometer_km: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), default=None, index=True
    )
    last_service_on: Mapped[date | None] = mapped_column(Date, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
