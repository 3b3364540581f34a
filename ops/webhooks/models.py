"""Outbound webhooks: a tenant's endpoints, one delivery per event and endpoint, each attempt, and the
dispatch cursor that remembers how far the events table has been turned into deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ops.db import Base, BigId, TenantScoped, utcnow
from ops.sealing import Sealed

DELIVERY_STATUSES = ("PENDING", "SUCCEEDED", "FAILED")


class WebhookEndpoint(TenantScoped, Base):
    """A partner's URL that receives the tenant's events of the chosen types, signed with `secret`."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    # Event type names, or ["*"] for every type.
    event_types: Mapped[list[str]]
    secret: Mapped[str] = mapped_column(Sealed)
    # After a rotation the old secret keeps signing (beside the new one) until it expires.
    previous_secret: Mapped[str | None] = mapped_column(Sealed, default=None)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    disabled_reason: Mapped[str] = mapped_column(String(300), default="")
    # The current run of failed attempts: when it began and how long it is (0 after any success).
    failing_since: Mapped[datetime | None] = mapped_column(default=None)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class WebhookDelivery(TenantScoped, Base):
    """One event for one endpoint. `body` is stored as sent, so every retry sends the same bytes."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_endpoint_status", "endpoint_id", "status", "id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    # None for a test event sent from the settings page.
    event_id: Mapped[int | None] = mapped_column(BigId, default=None)
    event_type: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    # Position in the retry schedule; "send again" starts it over.
    schedule_step: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    succeeded_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def webhook_id(self) -> str:
        return message_id(self.id)


def message_id(delivery_id: int) -> str:
    """The `webhook-id` header: the delivery's id, the same on every attempt."""
    return f"msg_{delivery_id}"


class WebhookAttempt(TenantScoped, Base):
    """One HTTP request to an endpoint and what came back (or why nothing did)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_endpoint", "endpoint_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(String(500), default="")
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)


class WebhookDispatchCursor(Base):
    """The one row that says which events have been turned into deliveries (system-wide, not per tenant).

    Every event with `id <= last_event_id` is done. `horizon_event_id`/`horizon_seen_at` remember a gap in
    the ids seen at a moment (see ops/webhooks/service.py `dispatch_events`).
    """

    __tablename__ = "webhook_dispatch_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigId, default=0)
    horizon_event_id: Mapped[int | None] = mapped_column(BigId, default=None)
    horizon_seen_at: Mapped[datetime | None] = mapped_column(default=None)
