"""Work orders and their categories. The workshop issue adds lines, bays, time clock and parts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ops.db import Base, BigId, TenantScoped, utcnow
from ops.i18n import N_

# Stored in English as every new tenant's categories; pages show them in the reader's language.
DEFAULT_CATEGORIES = (
    N_("Preventive Maintenance"),
    N_("Repair"),
    N_("Inspection"),
    N_("Tire Service"),
    N_("Oil Change"),
    N_("Brake Service"),
    N_("Engine Repair"),
    N_("Transmission Service"),
    N_("Body Work"),
    N_("Electrical"),
)


class WorkOrderCategory(TenantScoped, Base):
    __tablename__ = "work_order_categories"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(60))


class WorkOrder(TenantScoped, Base):
    __tablename__ = "work_orders"
    __table_args__ = (UniqueConstraint("tenant_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[int] = mapped_column(Integer)
    vehicle_id: Mapped[int] = mapped_column(BigId, ForeignKey("vehicles.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("customers.id"), default=None)
    category_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("work_order_categories.id"), default=None
    )
    complaint: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(10), default="NORMAL")
    status: Mapped[str] = mapped_column(String(20), default="NEW", index=True)
    technician_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None)
    service_advisor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None)
    promised_at: Mapped[datetime | None] = mapped_column(default=None)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def code(self) -> str:
        return format_work_order_number(self.number)


def format_work_order_number(number: int) -> str:
    return f"WO-{number:06d}"
