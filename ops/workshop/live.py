"""Live fragments for workshop topics: what a board watcher's browser swaps in when a work order changes."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from jinja2 import Environment
from jinja2_fragments import render_block_async

from ops.auth.actor import PERMISSIONS, Actor
from ops.db import Database
from ops.events import EventRecord
from ops.i18n import gettext as _
from ops.workshop import queries
from ops.workshop.queries import Card
from ops.workshop.service import status_label
from realtime.hub import View

BOARD_TEMPLATE = "workshop/board.html"
# A positive id that fits the id columns (BIGINT), so a long number is a 404 and not a database error.
WORK_ORDER_ID = re.compile(r"[1-9][0-9]{0,17}")


def announcement_for(record: EventRecord) -> str:
    """A sentence for screen readers; the actor is the one recorded with the event."""
    payload = record.payload
    # Translators: stands for the person in "moved ... by %(who)s" when the event names nobody.
    who = record.actor_name or _("someone")
    if record.type == "work_order.moved":
        return _(
            "%(number)s moved to %(status)s by %(who)s.",
            number=payload["number"],
            status=status_label(payload["to"]),
            who=who,
        )
    if record.type == "work_order.created":
        return _("%(number)s created by %(who)s.", number=payload["number"], who=who)
    if record.type == "work_order.scheduled" and not payload.get("status_changed"):
        return _("%(number)s scheduled by %(who)s.", number=payload["number"], who=who)
    if record.type == "work_order.assigned":
        return _("%(number)s reassigned by %(who)s.", number=payload["number"], who=who)
    return ""


async def render_board_update(
    env: Environment,
    *,
    work_order_id: int,
    card: Card | None,
    counts: dict[str, int],
    view: View,
    announcement: str = "",
    message: str | None = None,
    message_kind: str = "error",
) -> str:
    return await render_block_async(
        env,
        BOARD_TEMPLATE,
        "live_update",
        work_order_id=work_order_id,
        card=card,
        counts=counts,
        can_move=view.role in PERMISSIONS["work_order.move"],
        can_assign=view.role in PERMISSIONS["work_order.assign"],
        announcement=announcement,
        message=message,
        message_kind=message_kind,
    )


class WorkshopBoardLive:
    """Renderer for the `workshop` topic: move the card, update both counts, announce."""

    def __init__(self, db: Database, env: Environment) -> None:
        self.db = db
        self.env = env

    async def load(self, records: list[EventRecord], topic: str) -> list[Any]:
        """The cards the events touched and the column counts: two queries for the whole batch.

        Every event of the batch shows the counts as they are now, so the last one leaves the
        board's counts right even when the batch moved cards between the same columns many times.
        """
        work_order_ids = [
            int(record.payload["id"]) if record.type.startswith("work_order.") else None for record in records
        ]
        wanted = [work_order_id for work_order_id in work_order_ids if work_order_id is not None]
        if not wanted:
            return [None] * len(records)
        # A topic belongs to one tenant, so every record of the batch does too.
        async with self.db.read(records[0].tenant_id) as session:
            cards = await queries.cards_by_id(session, wanted)
            counts = await queries.column_counts(session)
        return [
            None if work_order_id is None else (work_order_id, cards.get(work_order_id), counts)
            for work_order_id in work_order_ids
        ]

    async def render(self, loaded: Any, record: EventRecord, view: View) -> str:
        if loaded is None:
            return ""
        work_order_id, card, counts = loaded
        return await render_board_update(
            self.env,
            work_order_id=work_order_id,
            card=card if card is not None and card.status in counts else None,
            counts=counts,
            view=view,
            announcement=announcement_for(record),
        )


async def guard_workshop_topic(actor: Actor, argument: str) -> bool:
    return argument == "" and actor.can("workshop.view")


def work_order_topic_guard(db: Database) -> Callable[[Actor, str], Awaitable[bool]]:
    """`wo:<id>` may be watched only for a work order of the watcher's own tenant."""

    async def guard(actor: Actor, argument: str) -> bool:
        if not WORK_ORDER_ID.fullmatch(argument) or not actor.can("workshop.view"):
            return False
        async with db.read(actor.tenant_id) as session:
            return await queries.work_order_exists(session, int(argument))

    return guard
