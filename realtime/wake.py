"""A renderer for pages that re-fetch their own live sections, so that an event is only a wake-up.

Such a page is cheap to read again, so its topic sends no fragments of its own: each event sends one
hidden element, non-empty so that the page's `sse:update` trigger fires, and swapped nowhere (the page's
sink swaps nothing). No area has to know how another area's page draws what changed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ops.events import EventRecord
from realtime.hub import View


class WakePage:
    """Renderer for a page's topic: each event whose type starts with one of `event_prefixes` wakes it.

    An area configures it in a subclass: `page` names the hidden element (`<page>-changed`)."""

    page: ClassVar[str]
    event_prefixes: ClassVar[tuple[str, ...]] = ("",)

    @property
    def changed(self) -> str:
        return f'<span class="{self.page}-changed" hidden></span>'

    async def load(self, records: list[EventRecord], topic: str) -> list[Any]:
        return [None] * len(records)

    async def render(self, loaded: Any, record: EventRecord, view: View) -> str:
        return self.changed if record.type.startswith(self.event_prefixes) else ""
