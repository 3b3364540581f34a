"""The mail outbox: a row per message, written in the transaction of the change that causes it.

A mail is sent if and only if that change committed. The worker claims due rows, sends them, and
either marks them SENT or schedules the next attempt; after a day of failures a mail is FAILED with
the last error kept for whoever looks into it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ops.db import Base, BigId, TenantScoped, utcnow

MAIL_STATUSES = ("QUEUED", "SENT", "FAILED")


class OutgoingMail(TenantScoped, Base):
    __tablename__ = "outgoing_mail"
    # The worker's question, "what is due now?", is answered from this index alone.
    __table_args__ = (Index("ix_outgoing_mail_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text, default=None)
    # The language the mail is written in (en, de, ...), for the Content-Language header and support.
    language: Mapped[str] = mapped_column(String(5), default="de")
    status: Mapped[str] = mapped_column(String(10), default="QUEUED")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    work_order_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("work_orders.id", ondelete="SET NULL"), default=None, index=True
    )
