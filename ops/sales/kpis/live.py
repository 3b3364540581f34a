"""The `kpi` topic: figures changed somewhere (a deal moved, a tenant's totals), so KPI panels and the
deal list re-read themselves. The message only wakes them up; it carries nothing to show."""

from __future__ import annotations

from typing import Any

from ops.auth.actor import Actor
from ops.events import EventRecord
from realtime.hub import View

# Non-empty, so the page's `sse:update` trigger fires; the page's sink swaps nothing.
CHANGED = '<span class="kpi-changed" hidden></span>'


class KpiLive:
    """Renderer for the `kpi` topic."""

    async def load(self, records: list[EventRecord], topic: str) -> list[Any]:
        return [None] * len(records)

    async def render(self, loaded: Any, record: EventRecord, view: View) -> str:
        return CHANGED


async def guard_kpi_topic(actor: Actor, argument: str) -> bool:
    """Anyone who sees a KPI panel or the deal list; the messages hold no figures."""
    return argument == "" and any(actor.can(name) for name in ("sales_kpi.view", "kpi.view", "deal.view"))
