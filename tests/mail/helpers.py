"""Reading what the outbox holds and delivering it, for the mail tests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from integrations.mail import Mailer
from ops.db import Database
from ops.mail.models import OutgoingMail
from ops.mail.service import deliver_due_mail


async def mails_to(db: Database, tenant_id: int, recipient: str) -> list[OutgoingMail]:
    """The dealership's queued and sent mails to `recipient`, oldest first."""
    async with db.read(tenant_id) as session:
        rows = await session.scalars(
            select(OutgoingMail).where(OutgoingMail.recipient == recipient).order_by(OutgoingMail.id)
        )
        return list(rows.all())


async def deliver_all(db: Database, mailer: Mailer, now: datetime, **options: str) -> None:
    """Passes until nothing due is left: other tests' queued mail shares the database, a batch a pass."""
    while True:
        report = await deliver_due_mail(db, mailer, now, **options)
        if not (report.sent or report.retrying or report.failed):
            return
