"""The showroom's tables: catalog and options, stock units and their holds, leads and their stage
history, test drives, quotes, deals and their payments.

Money is Numeric (Decimal), never float. Rules that must hold when two people act at once are
enforced by the database or by one conditional UPDATE:
- a unit is held for at most one lead at a time (unique `stock_units.held_by_reservation_id`, and the
  status change AVAILABLE -> RESERVED is a conditional UPDATE);
- quote and deal numbers come from the tenant's counters (ops/tenants/models.py Counter).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ops.db import Base, BigId, TenantScoped, utcnow

BODY_STYLES = ("SEDAN", "SUV", "TRUCK", "VAN", "COUPE", "HATCHBACK", "WAGON")
TRANSMISSIONS = ("AUTOMATIC", "MANUAL", "CVT", "SEMI_AUTOMATIC")
DRIVETRAINS = ("FWD", "RWD", "AWD", "4WD")
UNIT_STATUSES = ("INCOMING", "AVAILABLE", "RESERVED", "SOLD", "DELIVERED", "DEMO", "LOANER")
RESERVATION_STATUSES = ("ACTIVE", "EXPIRED", "RELEASED", "CONVERTED")
LEAD_SOURCES = ("WALK_IN", "PHONE", "WEB", "EMAIL", "REFERRAL", "PARTNER", "EVENT", "FLEET_TENDER")
LEAD_STAGES = ("NEW", "CONTACTED", "QUALIFIED", "TEST_DRIVE", "QUOTE", "NEGOTIATION", "WON", "LOST")
LOST_REASONS = (
    "PRICE",
    "FINANCING_DECLINED",
    "BOUGHT_ELSEWHERE",
    "NO_RESPONSE",
    "VEHICLE_UNAVAILABLE",
    "OTHER",
)
TEST_DRIVE_STATUSES = ("SCHEDULED", "CHECKED_OUT", "RETURNED", "CANCELLED", "NO_SHOW")
QUOTE_STATUSES = (
    "DRAFT",
    "PENDING_APPROVAL",
    "APPROVED",
    "REJECTED",
    "SENT",
    "ACCEPTED",
    "DECLINED",
    "EXPIRED",
)
DEAL_STATUSES = ("OPEN", "DEPOSIT_PAID", "FINANCING_APPROVED", "READY_FOR_DELIVERY", "DELIVERED", "CANCELLED")
PAYMENT_KINDS = ("DEPOSIT", "REFUND")


class CatalogTrim(TenantScoped, Base):
    """One buildable version of a model: make, model, year, trim and its base price (MSRP)."""

    __tablename__ = "catalog_trims"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    make: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(60))
    year: Mapped[int] = mapped_column(Integer)
    trim: Mapped[str] = mapped_column(String(60))
    body_style: Mapped[str] = mapped_column(String(10))
    fuel_type: Mapped[str] = mapped_column(String(16))
    transmission: Mapped[str] = mapped_column(String(16))
    drivetrain: Mapped[str] = mapped_column(String(4))
    msrp: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class OptionGroup(TenantScoped, Base):
    """Options a buyer picks between, with how many of them may or must be chosen."""

    __tablename__ = "option_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    trim_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("catalog_trims.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(60))
    min_select: Mapped[int] = mapped_column(Integer, default=0)
    max_select: Mapped[int] = mapped_column(Integer, default=1)
    position: Mapped[int] = mapped_column(Integer, default=0)


class CatalogOption(TenantScoped, Base):
    """An option; `requires` and `conflicts` name other options of the same trim by code."""

    __tablename__ = "catalog_options"
    __table_args__ = (UniqueConstraint("group_id", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("option_groups.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    cost: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    requires: Mapped[list[str]] = mapped_column(default=list)
    conflicts: Mapped[list[str]] = mapped_column(default=list)


class StockUnit(TenantScoped, Base):
    """One physical vehicle for sale. Aging = days since `arrived_on`."""

    __tablename__ = "stock_units"
    __table_args__ = (UniqueConstraint("tenant_id", "vin"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    vin: Mapped[str] = mapped_column(String(17))
    trim_id: Mapped[int] = mapped_column(BigId, ForeignKey("catalog_trims.id"), index=True)
    colour: Mapped[str] = mapped_column(String(40), default="")
    mileage_km: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    list_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    location: Mapped[str] = mapped_column(String(60), default="")
    arrived_on: Mapped[date | None] = mapped_column(Date, default=None)
    status: Mapped[str] = mapped_column(String(10), default="AVAILABLE", index=True)
    # The hold that has the unit now; unique, so two reps cannot both hold it. No foreign keys on
    # these two: reservations and deals point at the unit, and a cycle of keys breaks SQLite's
    # table rebuilds in migrations.
    held_by_reservation_id: Mapped[int | None] = mapped_column(BigId, default=None, unique=True)
    deal_id: Mapped[int | None] = mapped_column(BigId, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reservation(TenantScoped, Base):
    """A hold of a unit for a lead: expires after 48 hours unless a deposit is paid."""

    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    stock_unit_id: Mapped[int] = mapped_column(BigId, ForeignKey("stock_units.id"), index=True)
    lead_id: Mapped[int] = mapped_column(BigId, ForeignKey("leads.id"), index=True)
    rep_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None)
    status: Mapped[str] = mapped_column(String(10), default="ACTIVE", index=True)
    expires_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class Lead(TenantScoped, Base):
    __tablename__ = "leads"
    # The pipeline board reads each column's newest leads in this order and stops at its limit.
    __table_args__ = (Index("ix_leads_board", "tenant_id", "stage", "stage_changed_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), index=True)
    interest_trim_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("catalog_trims.id"), default=None)
    interest_unit_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("stock_units.id"), default=None)
    interest_note: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(12))
    owner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None, index=True)
    stage: Mapped[str] = mapped_column(String(12), default="NEW", index=True)
    lost_reason: Mapped[str | None] = mapped_column(String(20), default=None)
    lost_note: Mapped[str] = mapped_column(String(200), default="")
    budget: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), default=None)
    trade_in_offered: Mapped[bool] = mapped_column(Boolean, default=False)
    financing_preapproved: Mapped[bool] = mapped_column(Boolean, default=False)
    next_action: Mapped[str] = mapped_column(String(200), default="")
    next_action_on: Mapped[date | None] = mapped_column(Date, default=None)
    last_contact_at: Mapped[datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    stage_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the lead was won or lost (conversion and days-to-won are computed from these).
    closed_at: Mapped[datetime | None] = mapped_column(default=None, index=True)


class LeadStageChange(TenantScoped, Base):
    """Every stage move of a lead, steps back included: who, when, from where to where."""

    __tablename__ = "lead_stage_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    lead_id: Mapped[int] = mapped_column(BigId, ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(12), default=None)
    to_stage: Mapped[str] = mapped_column(String(12))
    actor_id: Mapped[int | None] = mapped_column(BigId, default=None)
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TestDrive(TenantScoped, Base):
    __tablename__ = "test_drives"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    lead_id: Mapped[int] = mapped_column(BigId, ForeignKey("leads.id"), index=True)
    stock_unit_id: Mapped[int] = mapped_column(BigId, ForeignKey("stock_units.id"), index=True)
    rep_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), default="SCHEDULED")
    licence_number: Mapped[str | None] = mapped_column(String(40), default=None)
    licence_checked_at: Mapped[datetime | None] = mapped_column(default=None)
    odometer_out_km: Mapped[int | None] = mapped_column(Integer, default=None)
    odometer_in_km: Mapped[int | None] = mapped_column(Integer, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Quote(TenantScoped, Base):
    """A priced offer. Amounts are stored as computed by ops/sales quote arithmetic (Decimal)."""

    __tablename__ = "quotes"
    __table_args__ = (UniqueConstraint("tenant_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[int] = mapped_column(Integer)
    lead_id: Mapped[int] = mapped_column(BigId, ForeignKey("leads.id"), index=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), index=True)
    stock_unit_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("stock_units.id"), default=None)
    trim_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("catalog_trims.id"), default=None)
    status: Mapped[str] = mapped_column(String(18), default="DRAFT", index=True)
    vehicle_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # None while unknown: the catalog knows no dealer cost of a configured trim, and the rep enters it
    # before the quote can go out. A stock unit's quote has the unit's cost.
    vehicle_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), default=None)
    # Option codes chosen in the configurator; accessories and fees as [{name, price}] (strings).
    option_codes: Mapped[list[str]] = mapped_column(default=list)
    accessories: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    fees: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    discount: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    trade_in_allowance: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    trade_in_payoff: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    net: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    vat: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    down_payment: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    apr_percent: Mapped[Decimal | None] = mapped_column(Numeric(6, 3), default=None)
    term_months: Mapped[int | None] = mapped_column(Integer, default=None)
    amount_financed: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    monthly_payment: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), default=None)
    gross_margin: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    valid_until: Mapped[date | None] = mapped_column(Date, default=None)
    approval_requested_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None)
    decided_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None)
    approval_reason: Mapped[str] = mapped_column(String(200), default="")
    decision_comment: Mapped[str] = mapped_column(String(500), default="")
    link_nonce: Mapped[str | None] = mapped_column(String(32), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def code(self) -> str:
        return f"Q-{self.number:06d}"


class Deal(TenantScoped, Base):
    __tablename__ = "deals"
    __table_args__ = (UniqueConstraint("tenant_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[int] = mapped_column(Integer)
    quote_id: Mapped[int] = mapped_column(BigId, ForeignKey("quotes.id"), unique=True)
    lead_id: Mapped[int] = mapped_column(BigId, ForeignKey("leads.id"), index=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), index=True)
    stock_unit_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("stock_units.id"), default=None)
    rep_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None, index=True)
    status: Mapped[str] = mapped_column(String(20), default="OPEN", index=True)
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    gross_profit: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    deposit_due: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    financed: Mapped[bool] = mapped_column(Boolean, default=False)
    delivery_scheduled_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    # The customer's vehicle profile created at delivery.
    vehicle_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("vehicles.id"), default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def code(self) -> str:
        return f"D-{self.number:06d}"


class DealPayment(TenantScoped, Base):
    """Money in (deposit) or out (refund) for a deal; `method` MANUAL until a payment provider lands."""

    __tablename__ = "deal_payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    deal_id: Mapped[int] = mapped_column(BigId, ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    method: Mapped[str] = mapped_column(String(12), default="MANUAL")
    reference: Mapped[str] = mapped_column(String(120), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
