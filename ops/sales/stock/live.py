"""Live updates for the stock pages (the `stock` topic).

The stock list, a unit's page and the test-drive calendar are cheap to read again, and a filtered,
sorted, paginated list cannot be patched row by row (a unit that is reserved leaves the "available"
filter), so the pages re-fetch their live section when a message arrives. The message only has to wake
them up; what it carries is a sentence for screen readers when there is one worth saying.
"""

from __future__ import annotations

from typing import Any

from markupsafe import escape

from ops.auth.actor import Actor
from ops.events import EventRecord
from ops.i18n import gettext as _
from realtime.hub import View

# Non-empty, so the page's `sse:update` trigger fires; the page's sink swaps nothing.
CHANGED = '<span class="stock-changed" hidden></span>'
STOCK_EVENT_PREFIXES = ("unit.", "test_drive.")


def announcement_for(record: EventRecord) -> str:
    who = record.actor_name or _("someone")
    if record.type == "unit.reserved":
        return _("%(who)s reserved a unit.", who=who)
    if record.type == "unit.hold_expired":
        return _("A hold expired; its unit is available again.")
    if record.type == "unit.hold_released":
        return _("%(who)s released a hold.", who=who)
    if record.type == "unit.sold":
        return _("A unit was sold.")
    return ""


class StockLive:
    """Renderer for the `stock` topic: a wake-up for re-fetching pages, with an announcement."""

    async def load(self, records: list[EventRecord], topic: str) -> list[Any]:
        return [None] * len(records)

    async def render(self, loaded: Any, record: EventRecord, view: View) -> str:
        if not record.type.startswith(STOCK_EVENT_PREFIXES):
            return ""
        sentence = announcement_for(record)
        if not sentence:
            return CHANGED
        return CHANGED + f'<div id="announcer" hx-swap-oob="innerHTML">{escape(sentence)}</div>'


async def guard_stock_topic(actor: Actor, argument: str) -> bool:
    return argument == "" and actor.can("stock.view")
