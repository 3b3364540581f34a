"""Tenants (dealership groups), their plan and settings, and per-tenant counters."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ops.db import Base, BigId, TenantScoped, utcnow
from ops.sealing import Sealed

# The plans' prices are Pitwall's own price list, from the design documents (DOMAIN.md), whose figures
# are in US dollars (their defaults are US ones: USD, America/New_York). They are shown in that currency
# for every dealership: in the dealership's own currency "99" would read CHF 99, a price nobody set.
PLAN_CURRENCY = "USD"
PLANS = {
    # plan: (max users, max vehicles, storage GB, monthly price in PLAN_CURRENCY); None = unlimited
    "STARTER": (5, 25, 10, 99),
    "PROFESSIONAL": (20, 100, 50, 299),
    "ENTERPRISE": (None, None, 500, 999),
}
TENANT_STATUSES = ("ACTIVE", "SUSPENDED", "DELETION_SCHEDULED")


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    plan: Mapped[str] = mapped_column(String(20), default="STARTER")
    status: Mapped[str] = mapped_column(String(20), default="ACTIVE")
    country: Mapped[str] = mapped_column(String(2), default="US")
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    date_format: Mapped[str] = mapped_column(String(20), default="medium")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    locale: Mapped[str] = mapped_column(String(10), default="en")
    distance_unit: Mapped[str] = mapped_column(String(10), default="miles")
    fuel_unit: Mapped[str] = mapped_column(String(10), default="gallons")
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    # The workshop's default labour rate per hour, without VAT.
    labour_rate: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("120"))
    # A quote whose discount is above this share of the vehicle price, or whose gross margin is
    # below the floor, waits for a sales manager's approval.
    discount_approval_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("5"))
    margin_floor_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("3"))
    quote_valid_days: Mapped[int] = mapped_column(default=7)
    # Lead score weights by rule name (ops/sales lead scoring); empty = the documented defaults.
    lead_score_weights: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Telemetry alert thresholds by name in SI units (ops.vehicles.telemetry); empty = DOMAIN.md's.
    telemetry_thresholds: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Traccar forwards with a static header: sha256 (hex) of the tenant's secret, None = not set up.
    traccar_secret_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    # The Standard Webhooks secret (`whsec_...`) telematics partners sign telemetry batches with.
    # Secrets the server uses again are stored sealed (ops/sealing.py).
    telemetry_signing_secret: Mapped[str | None] = mapped_column(Sealed, default=None)
    # Stripe (ops/payments): the secret API key and the webhook endpoint's signing secret (`whsec_...`).
    stripe_secret_key: Mapped[str | None] = mapped_column(Sealed, default=None)
    stripe_webhook_secret: Mapped[str | None] = mapped_column(Sealed, default=None)
    # The garage's postal address and Swiss VAT number (UID with MWST), printed on its invoices.
    street: Mapped[str | None] = mapped_column(String(120), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(12), default=None)
    city: Mapped[str | None] = mapped_column(String(80), default=None)
    vat_number: Mapped[str | None] = mapped_column(String(24), default=None)
    # An invoice is due this many days after it is issued.
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    maintenance_reminders: Mapped[bool] = mapped_column(Boolean, default=True)
    email_notifications: Mapped[bool] = mapped_column(Boolean, default=True)
    auto_work_order_numbering: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped by each save of the settings page, so two admins saving at once cannot overwrite each other.
    version: Mapped[int] = mapped_column(default=1)


class Counter(TenantScoped, Base):
    """Per-tenant gap-free sequences (work-order numbers); incremented under a row lock."""

    __tablename__ = "counters"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(40))
    value: Mapped[int] = mapped_column(BigId, default=0)
