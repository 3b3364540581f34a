"""Payments taken through the payment provider (PaymentIntents, refunds) and their provider events.

Rules that must hold when the provider and people act at once are decided by the database:
- a provider event is stored once per tenant and event id (`provider_events` unique), and its effect
  commits in the same transaction, so the same event sent three times (or three times at once) moves
  money state once;
- a PaymentIntent belongs to one payment row (`payments.provider_intent_id` unique), and the row's
  id is the idempotency key of its creation, so a retried request is the same request to the provider.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ops.db import Base, BigId, TenantScoped, utcnow

# What a payment is for.
PAYMENT_PURPOSES = ("DEAL_DEPOSIT", "INVOICE")
# REQUESTING: our row exists, the provider has not confirmed the PaymentIntent yet (retried while the
# provider is unavailable); AWAITING_PAYMENT: the customer may pay; then SUCCEEDED or FAILED.
PAYMENT_STATUSES = ("REQUESTING", "AWAITING_PAYMENT", "SUCCEEDED", "FAILED")
OPEN_PAYMENT_STATUSES = ("REQUESTING", "AWAITING_PAYMENT")
# PENDING: owed, not yet accepted by the provider (retried); SUBMITTED: accepted, money on its way;
# SUCCEEDED: the provider confirmed it; FAILED: the provider refused it (the message says why).
REFUND_STATUSES = ("PENDING", "SUBMITTED", "SUCCEEDED", "FAILED")
# How a payment outside the provider came in (invoices; a deal's manual deposit stays MANUAL).
MANUAL_METHODS = ("CASH", "BANK_TRANSFER")


class Payment(TenantScoped, Base):
    """One card payment asked of a customer through the provider: a deal's deposit or an invoice."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    purpose: Mapped[str] = mapped_column(String(16))
    deal_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("deals.id", ondelete="CASCADE"), default=None, index=True
    )
    invoice_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("invoices.id", ondelete="CASCADE"), default=None, index=True
    )
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    provider: Mapped[str] = mapped_column(String(20), default="stripe")
    provider_intent_id: Mapped[str | None] = mapped_column(String(255), default=None, unique=True)
    status: Mapped[str] = mapped_column(String(20), default="REQUESTING", index=True)
    # The provider's own words for a declined card ("Your card was declined.").
    failure_message: Mapped[str] = mapped_column(String(300), default="")
    # Why the last call to the provider did not get through; cleared when one does.
    last_error: Mapped[str] = mapped_column(String(300), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    requested_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def idempotency_key(self) -> str:
        return f"pitwall-payment-{self.tenant_id}-{self.id}"


class PaymentRefund(TenantScoped, Base):
    """Money given back through the provider; sent by the worker (or right after the commit)."""

    __tablename__ = "payment_refunds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    payment_id: Mapped[int] = mapped_column(BigId, ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    reason: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(12), default="PENDING", index=True)
    provider_refund_id: Mapped[str | None] = mapped_column(String(255), default=None)
    failure_message: Mapped[str] = mapped_column(String(300), default="")
    last_error: Mapped[str] = mapped_column(String(300), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    requested_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def idempotency_key(self) -> str:
        return f"pitwall-refund-{self.tenant_id}-{self.id}"


class ProviderEvent(TenantScoped, Base):
    """A provider's webhook event exactly as it arrived (the raw body), once per event id."""

    __tablename__ = "provider_events"
    __table_args__ = (UniqueConstraint("tenant_id", "provider", "event_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(80))
    raw_body: Mapped[str] = mapped_column(Text)
    # What it did: "applied", "ignored: <why>".
    outcome: Mapped[str] = mapped_column(String(300), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
