"""Live updates for the approvals queue (`approvals`) and a quote's page (`quote:<id>`).

Both pages are cheap to read again, so a message only wakes them up and they re-fetch their live
section: a quote put up for approval appears on every manager's open queue, a decision takes it off,
and an open quote page shows the new status and figures. The rep's toast with the decision comes on
their own `user:<id>` topic (ops/notices.py), not from here.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from markupsafe import escape

from ops.auth.actor import Actor
from ops.db import Database
from ops.events import EventRecord
from ops.i18n import gettext as _
from ops.sales.quotes import queries
from realtime.hub import View
from realtime.wake import WakePage

# A positive id that fits the id columns (BIGINT), so a long number is refused and not a database error.
QUOTE_ID = re.compile(r"[1-9][0-9]{0,17}")
# Non-empty, so the page's `sse:update` trigger fires; swapped nowhere (the page's sink swaps nothing).
CHANGED = '<span class="quote-changed" hidden></span>'


def announcement_for(record: EventRecord) -> str:
    """A sentence for screen readers on the managers' queue."""
    payload = record.payload
    who = record.actor_name or _("someone")
    if record.type == "quote.approval_requested":
        return _("%(who)s asks for approval of %(number)s.", who=who, number=payload.get("number", ""))
    if record.type == "quote.approval_decided":
        if payload.get("to") == "APPROVED":
            return _("%(who)s approved %(number)s.", who=who, number=payload.get("number", ""))
        return _("%(who)s rejected %(number)s.", who=who, number=payload.get("number", ""))
    if record.type == "quote.updated":
        return _("%(number)s was changed and left the queue.", number=payload.get("number", ""))
    return ""


class ApprovalsLive:
    """Renderer for the `approvals` topic: a wake-up for the queue, with an announcement."""

    async def load(self, records: list[EventRecord], topic: str) -> list[Any]:
        return [None] * len(records)

    async def render(self, loaded: Any, record: EventRecord, view: View) -> str:
        if not record.type.startswith("quote."):
            return ""
        sentence = announcement_for(record)
        if not sentence:
            return CHANGED
        return CHANGED + f'<div id="announcer" hx-swap-oob="innerHTML">{escape(sentence)}</div>'


class QuoteLive(WakePage):
    """Renderer for `quote:<id>`: every change of the quote wakes its open pages."""

    page = "quote"
    event_prefixes = ("quote.",)


async def guard_approvals_topic(actor: Actor, argument: str) -> bool:
    return argument == "" and actor.can("quote.approve")


def quote_topic_guard(db: Database) -> Callable[[Actor, str], Awaitable[bool]]:
    """`quote:<id>` may be watched only by those who may see quotes, for one of their tenant."""

    async def guard(actor: Actor, argument: str) -> bool:
        if not QUOTE_ID.fullmatch(argument) or not actor.can("quote.view"):
            return False
        async with db.read(actor.tenant_id) as session:
            return await queries.quote_exists(session, int(argument))

    return guard
