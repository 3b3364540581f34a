"""The workshop's tables: work orders and their lines, history and notes, bays, technicians, the time
clock, parts with their stock ledger, and invoices.

Quantities and money are Numeric (Decimal in Python), never float. Rules that must hold under
concurrency are constraints here, so that two requests racing cannot both win:
- a technician is clocked onto one job at a time (a unique index over the running entries);
- a bay holds one job at a time (`work_orders.occupied_bay_id` is unique while the job is in the bay);
- stock never goes negative (check constraints on `parts`);
- a part has one open purchase request at a time (a unique index over the open requests).
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
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
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        # The job board's column counts read only this index (one dealership's open jobs by status),
        # and its columns their newest jobs in this order (migration 0011).
        Index("ix_work_orders_board", "tenant_id", "status", "status_changed_at", "id"),
    )

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
    # Scheduling: the bay and the technician's slot.
    bay_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("bays.id"), default=None, index=True)
    scheduled_start: Mapped[datetime | None] = mapped_column(default=None)
    scheduled_end: Mapped[datetime | None] = mapped_column(default=None)
    # Set to bay_id while the job physically holds the bay (checked in until ready); unique, so a
    # bay holds one job at a time even when two people move jobs into it at once.
    occupied_bay_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("bays.id"), default=None, unique=True
    )
    odometer_in_km: Mapped[int | None] = mapped_column(Integer, default=None)
    checked_in_at: Mapped[datetime | None] = mapped_column(default=None)
    # The earlier completed job on the same vehicle that this one repeats within 30 days.
    comeback_of_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("work_orders.id"), default=None, index=True
    )
    # The estimate sent to the customer: a new nonce invalidates every earlier link.
    estimate_nonce: Mapped[str | None] = mapped_column(String(32), default=None)
    estimate_sent_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def code(self) -> str:
        return format_work_order_number(self.number)


def format_work_order_number(number: int) -> str:
    return f"WO-{number:06d}"


BAY_KINDS = ("LIFT", "ALIGNMENT", "EV", "DIAGNOSTICS", "WASH")
SKILLS = ("ENGINE", "TRANSMISSION", "ELECTRICAL", "DIAGNOSTICS", "AC", "EV_HIGH_VOLTAGE", "BODY", "TIRES")
LINE_KINDS = ("LABOUR", "PART")
# A line is PENDING until the customer decides on it in an estimate (APPROVED or DECLINED); DECLINED
# lines are kept as declined work, never invoiced. A pending line that no estimate has asked about is the
# workshop's own work: it is billed like an approved one.
LINE_APPROVALS = ("PENDING", "APPROVED", "DECLINED")
MOVEMENT_KINDS = ("RECEIVE", "RESERVE", "RELEASE", "CONSUME", "ADJUST", "RETURN")


class Bay(TenantScoped, Base):
    __tablename__ = "bays"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16), default="LIFT")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TechnicianProfile(TenantScoped, Base):
    """What a technician user can do and when they work (for scheduling and utilisation)."""

    __tablename__ = "technician_profiles"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    skills: Mapped[list[str]] = mapped_column(default=list)
    shift_start: Mapped[time] = mapped_column(Time, default=time(7, 30))
    shift_end: Mapped[time] = mapped_column(Time, default=time(16, 30))


class WorkOrderLine(TenantScoped, Base):
    """Labour (operation, hours x rate) or a part (quantity x unit price) on a work order."""

    __tablename__ = "work_order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("reserved_quantity >= 0", name="reserved_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    work_order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(String(200))
    part_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("parts.id"), default=None, index=True)
    # Hours for labour, pieces or litres for parts.
    quantity: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    # Rate per hour for labour, price per unit for parts, without VAT.
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # How much of a part line is held in stock for this job (may be less than quantity when short).
    reserved_quantity: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"))
    # Parts the technician marked as used on the car.
    used: Mapped[bool] = mapped_column(Boolean, default=False)
    approval: Mapped[str] = mapped_column(String(10), default="APPROVED")
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkOrderHistory(TenantScoped, Base):
    """Every status change of a work order: who moved it, from where to where, when; every correction
    of its details (complaint, category, priority, promised time): who, which, when; and a status an
    order kept where it was expected to move, with the reason (from and to the same status)."""

    __tablename__ = "work_order_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    work_order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(20), default=None)
    to_status: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(BigId, default=None)
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # The details a correction changed (field names); None for a status change. A correction keeps
    # the status: from_status and to_status are both the status it was made in.
    changes: Mapped[list[str] | None] = mapped_column(default=None)
    # One of ops.workshop.service.STAY_REASONS when the order kept its status; None for a move.
    reason: Mapped[str | None] = mapped_column(String(40), default=None)


class WorkOrderNote(TenantScoped, Base):
    """A note on a job, optionally with a photo (stored in the database so every process serves it)."""

    __tablename__ = "work_order_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    work_order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None)
    body: Mapped[str] = mapped_column(Text, default="")
    photo: Mapped[bytes | None] = mapped_column(LargeBinary, default=None, deferred=True)
    photo_type: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TimeEntry(TenantScoped, Base):
    """A technician clocked on a job; `ended_at` is empty while the clock runs."""

    __tablename__ = "time_entries"
    __table_args__ = (
        # One running clock per technician, enforced by the database under concurrent clock-ons.
        Index(
            "uq_time_entries_running",
            "technician_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    technician_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), index=True)
    work_order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class Part(TenantScoped, Base):
    """A stocked part. available = on_hand - reserved; both change only through the stock ledger."""

    __tablename__ = "parts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sku"),
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    on_hand: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"))
    reserved: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"))
    reorder_point: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"))
    cost: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    supplier: Mapped[str | None] = mapped_column(String(120), default=None)
    unit: Mapped[str] = mapped_column(String(10), default="pc")
    version: Mapped[int] = mapped_column(Integer, default=1)

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved

    @property
    def below_reorder_point(self) -> bool:
        return self.available <= self.reorder_point


class StockMovement(TenantScoped, Base):
    """One change to a part's stock, with the levels after it: the ledger every level is explained by."""

    __tablename__ = "stock_movements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    part_id: Mapped[int] = mapped_column(BigId, ForeignKey("parts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    on_hand_change: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"))
    reserved_change: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"))
    on_hand_after: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    reserved_after: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    reason: Mapped[str] = mapped_column(String(200), default="")
    work_order_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("work_orders.id", ondelete="SET NULL"), default=None, index=True
    )
    actor_id: Mapped[int | None] = mapped_column(BigId, default=None)
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PurchaseRequest(TenantScoped, Base):
    """A request to reorder one part, raised here and pushed to the ERP, which does the purchasing.

    Not a stock movement: the shelf changes only when the goods arrive, and that receipt (a RECEIVE
    movement here, or a rise in the ERP's stock on a parts pull) closes the request. A parts manager may
    cancel an open request instead (the supplier dropped the part, it was raised by mistake), saying
    why. One open request per part, enforced by the database under concurrent clicks; a closed one
    frees the part for the next.
    """

    __tablename__ = "purchase_requests"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index(
            "uq_purchase_requests_one_open_per_part",
            "part_id",
            unique=True,
            postgresql_where=text("status = 'OPEN'"),
            sqlite_where=text("status = 'OPEN'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[int] = mapped_column(Integer)
    part_id: Mapped[int] = mapped_column(BigId, ForeignKey("parts.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    status: Mapped[str] = mapped_column(String(10), default="OPEN")  # OPEN | RECEIVED | CANCELLED
    requested_by_id: Mapped[int | None] = mapped_column(BigId, default=None)
    requested_by_name: Mapped[str] = mapped_column(String(120), default="")
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_at: Mapped[datetime | None] = mapped_column(default=None)
    # Who cancelled it, when and why; set only on a CANCELLED request.
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_by_id: Mapped[int | None] = mapped_column(BigId, default=None)
    cancelled_by_name: Mapped[str | None] = mapped_column(String(120), default=None)
    cancel_reason: Mapped[str | None] = mapped_column(String(200), default=None)


def format_purchase_request_number(number: int) -> str:
    return f"PR-{number:06d}"


class Invoice(TenantScoped, Base):
    """Created by completion; immutable afterwards. Lines are a snapshot (amounts as strings)."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("tenant_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[int] = mapped_column(Integer)
    work_order_id: Mapped[int] = mapped_column(BigId, ForeignKey("work_orders.id"), unique=True)
    customer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("customers.id"), default=None)
    currency: Mapped[str] = mapped_column(String(3))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    labour_net: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    parts_net: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    net: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    vat: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The dealership's payment terms when the invoice was issued: it is due this many days later.
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    # Payment (ops/payments): ISSUED until paid once, by card through the provider or by hand.
    payment_status: Mapped[str] = mapped_column(String(12), default="ISSUED", server_default="ISSUED")
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    # CARD, CASH or BANK_TRANSFER; the reference is the PaymentIntent, receipt or transfer number.
    payment_method: Mapped[str] = mapped_column(String(16), default="", server_default="")
    payment_reference: Mapped[str] = mapped_column(String(255), default="", server_default="")
    paid_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None)

    @property
    def code(self) -> str:
        return format_invoice_number(self.number)


def format_invoice_number(number: int) -> str:
    return f"INV-{number:06d}"


def awaits_customer(approval: str, line_created_at: datetime, estimate_sent_at: datetime | None) -> bool:
    """A line the customer has been asked about in the estimate sent and not answered yet: its part is
    not fitted before the answer, since a declined part once fitted cannot be billed."""
    return approval == "PENDING" and estimate_sent_at is not None and line_created_at <= estimate_sent_at
