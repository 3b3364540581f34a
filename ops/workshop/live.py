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
        announcement=announcement,
        message=message,
        message_kind=message_kind,
    )


class WorkshopBoardLive:
    """Renderer for the `workshop` topic: move the card, update both counts, announce."""

    def __init__(self, db: Database, env: Environment) -> None:
        self.db = db
        self.env = env

    async def load(self, record: EventRecord, topic: str) -> Any:
        if not record.type.startswith("work_order."):
            return None
        work_order_id = int(record.payload["id"])
        async with self.db.read(record.tenant_id) as session:
            card = await queries.card(session, work_order_id)
            counts = await queries.column_counts(session)
        return work_order_id, card, counts

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
