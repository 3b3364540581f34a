"""ERP sync jobs: one row per document pushed to (or pulled from) the ERP, with its status.

A row is the sync status the deal, invoice, part and purchase request pages show. Kinds: `sales_order`
(a deal), `invoice` (a work order's invoice), `purchase_request` (a part's reorder), `pr_cancellation`
(that reorder cancelled: the ERP is to cancel its order; `local_id` is the request's id), `parts_pull`
(the tenant's scheduled pull of part levels, one row per tenant with `local_id` 0) and `part` (how the
last pull went for one part). The worker claims due pushes and pulls with a lease (`claimed_until`), so
a crashed worker's job is picked up again. A push whose document was cancelled before it was sent is
WITHDRAWN: never sent again, and its cancellation tells the ERP whatever it needs to hear.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ops.db import Base, BigId, TenantScoped, utcnow

SYNC_KINDS = ("sales_order", "invoice", "purchase_request", "pr_cancellation", "parts_pull", "part")
# The documents Pitwall pushes; each one is retried, shown and sent again by hand the same way.
PUSH_KINDS = ("sales_order", "invoice", "purchase_request", "pr_cancellation")
SYNC_STATUSES = ("PENDING", "SYNCED", "FAILED", "WITHDRAWN")


class ErpSyncJob(TenantScoped, Base):
    __tablename__ = "erp_sync_jobs"
    __table_args__ = (
        # One job per document: an event read twice (a replay, two workers) queues nothing twice.
        UniqueConstraint("tenant_id", "kind", "local_id"),
        Index("ix_erp_sync_jobs_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    local_id: Mapped[int] = mapped_column(BigId)
    document_number: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(10), default="PENDING")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    # The last attempt could not reach the ERP (as opposed to the ERP refusing the document).
    unavailable: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    # The ERP's name for the record it made ("S00042").
    external_ref: Mapped[str] = mapped_column(String(120), default="")
    synced_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ErpEventCursor(Base):
    """How far the ERP's reader got in the events table (one row, shared by every worker)."""

    __tablename__ = "erp_event_cursor"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigId, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
