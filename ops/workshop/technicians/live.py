"""The `technicians` live topic: clock changes, for pages that re-fetch themselves when one arrives.

The technician view and "My jobs" are cheap to re-read, so the message only has to wake them up
(`hx-trigger="sse:update"`); what it carries is a sentence for a screen reader, never a page part.
"""

from __future__ import annotations

from html import escape
from typing import Any

from ops.auth.actor import Actor
from ops.events import EventRecord
from ops.i18n import gettext as _
from realtime.hub import View


def clock_sentence(record: EventRecord) -> str:
    payload = record.payload
    if record.type == "technician.clocked_on":
        return _("%(name)s clocked on %(number)s.", name=payload["technician_name"], number=payload["number"])
    if record.type == "technician.clocked_off":
        return _(
            "%(name)s clocked off %(number)s.", name=payload["technician_name"], number=payload["number"]
        )
    return ""


class TechniciansLive:
    """Renderer for the `technicians` topic: one short message per clock change."""

    async def load(self, records: list[EventRecord], topic: str) -> list[Any]:
        return [None] * len(records)

    async def render(self, loaded: Any, record: EventRecord, view: View) -> str:
        sentence = clock_sentence(record)
        return f'<span class="clock-change">{escape(sentence)}</span>' if sentence else ""


async def guard_technicians_topic(actor: Actor, argument: str) -> bool:
    return argument == "" and actor.can("workshop.view")
