"""Live updates for the inventory pages.

The part list and a part's page are cheap to read again, and a filtered, paginated list cannot be
patched row by row (a part that falls below its reorder point must appear in the "needs reorder" list),
so their pages re-fetch their live section when a message arrives. The message itself carries only what
a screen reader should hear: that a part fell to its reorder point.
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
from ops.workshop.parts import queries
from realtime.hub import View

# A positive id that fits the id columns (BIGINT), so a long number is refused and not a database error.
PART_ID = re.compile(r"[1-9][0-9]{0,17}")
# Non-empty, so the page's `sse:update` trigger fires; swapped nowhere (the page's sink swaps nothing).
CHANGED = '<span class="part-changed" hidden></span>'


class PartsLive:
    """Renderer for the `parts` and `part:<id>` topics."""

    async def load(self, records: list[EventRecord], topic: str) -> list[Any]:
        return [None] * len(records)

    async def render(self, loaded: Any, record: EventRecord, view: View) -> str:
        if not record.type.startswith("part."):
            return ""
        if record.type != "part.below_reorder_point":
            return CHANGED
        payload = record.payload
        sentence = _(
            "%(sku)s %(name)s is at or below its reorder point.", sku=payload["sku"], name=payload["name"]
        )
        return f'<div id="announcer" hx-swap-oob="innerHTML">{escape(sentence)}</div>'


async def guard_parts_topic(actor: Actor, argument: str) -> bool:
    return argument == "" and actor.can("parts.view")


def part_topic_guard(db: Database) -> Callable[[Actor, str], Awaitable[bool]]:
    """`part:<id>` may be watched only for a part of the watcher's own tenant."""

    async def guard(actor: Actor, argument: str) -> bool:
        if not PART_ID.fullmatch(argument) or not actor.can("parts.view"):
            return False
        async with db.read(actor.tenant_id) as session:
            return await queries.part_exists(session, int(argument))

    return guard
