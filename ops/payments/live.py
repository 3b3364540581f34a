"""Live updates for the invoice page (topic `invoice:<id>`): its payment status changes when a card
payment succeeds or fails, or someone records a payment at the desk.

As on the customer page, every event is only a signal: the page re-fetches its payment section, which
is cheap, and no renderer has to know how the section draws itself.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from ops.auth.actor import Actor
from ops.db import Database
from ops.workshop.models import Invoice
from realtime.wake import WakePage

INVOICE_ID = re.compile(r"[1-9][0-9]{0,17}")


class InvoicePaymentLive(WakePage):
    """Renderer for `invoice:<id>`: every event wakes the invoice page."""

    page = "invoice"


def invoice_topic_guard(db: Database) -> Callable[[Actor, str], Awaitable[bool]]:
    """`invoice:<id>` may be watched by those who may see invoices, for one of their tenant's."""

    async def guard(actor: Actor, argument: str) -> bool:
        if not INVOICE_ID.fullmatch(argument) or not actor.can("invoice.view"):
            return False
        async with db.read(actor.tenant_id) as session:
            return await session.scalar(select(Invoice.id).where(Invoice.id == int(argument))) is not None

    return guard
