"""Customers (CRM): people and companies, their consent per channel, and their interactions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ops.db import Base, BigId, TenantScoped, utcnow

CUSTOMER_TYPES = ("INDIVIDUAL", "BUSINESS", "FLEET", "GOVERNMENT")
CUSTOMER_STATUSES = ("PROSPECT", "ACTIVE", "INACTIVE", "BLACKLISTED")
CONSENT_CHANNELS = ("EMAIL", "SMS", "PHONE", "POST")
INTERACTION_TYPES = (
    "CALL",
    "EMAIL",
    "MEETING",
    "TEST_DRIVE",
    "QUOTE",
    "PURCHASE",
    "SERVICE",
    "COMPLAINT",
    "NOTE",
)
INTERACTION_CHANNELS = ("PHONE", "EMAIL", "IN_PERSON", "WEB", "SMS", "CHAT", "SOCIAL")
INTERACTION_STATUSES = ("OPEN", "IN_PROGRESS", "FOLLOW_UP_REQUIRED", "RESOLVED", "CLOSED")


class Customer(TenantScoped, Base):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("tenant_id", "email"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(12), default="INDIVIDUAL")
    status: Mapped[str] = mapped_column(String(12), default="ACTIVE")
    first_name: Mapped[str] = mapped_column(String(50))
    last_name: Mapped[str] = mapped_column(String(50))
    company_name: Mapped[str | None] = mapped_column(String(120), default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    preferred_language: Mapped[str] = mapped_column(String(2), default="de")
    address_line: Mapped[str | None] = mapped_column(String(200), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(12), default=None)
    city: Mapped[str | None] = mapped_column(String(80), default=None)
    region: Mapped[str | None] = mapped_column(String(40), default=None)
    country: Mapped[str] = mapped_column(String(2), default="CH")
    # Swiss enterprise id, stored formatted: CHE-123.456.789.
    uid: Mapped[str | None] = mapped_column(String(20), default=None)
    budget_min: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), default=None)
    budget_max: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), default=None)
    vehicle_interests: Mapped[list[str]] = mapped_column(default=list)
    # Overrides every consent: nobody contacts this customer for marketing.
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None, index=True)
    # Set when the customer's personal fields were anonymised on request; deals and invoices stay.
    erased_at: Mapped[datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def display_name(self) -> str:
        person = f"{self.first_name} {self.last_name}"
        return f"{self.company_name} ({person})" if self.company_name else person


class Consent(TenantScoped, Base):
    """Marketing consent for one channel: given or withdrawn, when and how (the latest row counts)."""

    __tablename__ = "customer_consents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(8))
    granted: Mapped[bool] = mapped_column(Boolean)
    # How it was given: "signed form in the showroom", "web form", "phone call".
    source: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Interaction(TenantScoped, Base):
    """A call, mail, meeting or note with a customer; a follow-up date puts it on the owner's to-do list."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    lead_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("leads.id"), default=None, index=True)
    type: Mapped[str] = mapped_column(String(12))
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="OPEN")
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    follow_up_on: Mapped[date | None] = mapped_column(Date, default=None, index=True)
    owner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
