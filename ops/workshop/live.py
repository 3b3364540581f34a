"""Live fragments for workshop topics: what a board watcher's browser swaps in when a work order changes."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from jinja2 import Environment
from jinja2_fragments import render_block
from markupsafe import Markup

from ops.auth.actor import PERMISSIONS, Actor
from ops.db import Database
from ops.events import EventRecord
from ops.i18n import current_locale, current_timezone, format_datetime
from ops.i18n import gettext as _
from ops.pages import kept_on_environment
from ops.workshop import queries
from ops.workshop.queries import Card
from ops.workshop.service import OPEN_STATUSES, PRIORITIES, TRANSITIONS, priority_label, status_label
from realtime.hub import View

BOARD_TEMPLATE = "workshop/board.html"
# A positive id that fits the id columns (BIGINT), so a long number is a 404 and not a database error.
WORK_ORDER_ID = re.compile(r"[1-9][0-9]{0,17}")


@dataclass(frozen=True)
class BoardText:
    """Every label of the board in one language, made once per language: a card only places them.

    The board draws up to hundreds of cards per request and a card per live event per watcher;
    translating each label per card (status_label builds its dict per call) was most of the time.
    """

    statuses: dict[str, str]
    priorities: dict[str, str]
    # The move menu's options for a card in each status.
    move_options: dict[str, Markup]
    technician: str
    bay: str
    promised: str
    unassigned: str
    comeback: str
    comeback_title: str
    # "Move %(number)s to": the card fills in its number.
    move_card_to: str
    move_to: str
    move: str
    assign: str
    choose_assignment: str
    no_work_orders: str


@cache
def _board_text(locale: str) -> BoardText:
    statuses = {status: status_label(status) for status in TRANSITIONS}
    return BoardText(
        statuses=statuses,
        priorities={priority: priority_label(priority) for priority in PRIORITIES},
        move_options={
            status: Markup("").join(
                Markup('<option value="{}">{}</option>').format(target, statuses[target])
                for target in TRANSITIONS[status]
            )
            for status in OPEN_STATUSES
        },
        technician=_("Technician"),
        bay=_("Bay"),
        promised=_("Promised"),
        unassigned=_("Unassigned"),
        comeback=_("Comeback"),
        comeback_title=_("A repeat repair within 30 days of a completed job on this vehicle"),
        # Filled in per card with %, so the lookup keeps its placeholder.
        move_card_to=_("Move %(number)s to", number="%(number)s"),
        move_to=_("Move to…"),
        move=_("Move"),
        assign=_("Assign"),
        choose_assignment=_("Choose technician and bay"),
        no_work_orders=_("No work orders"),
    )


def board_text() -> BoardText:
    """The board's labels in the current locale (they never change while the server runs)."""
    return _board_text(current_locale.get())


@lru_cache(maxsize=4096)
def _promised_text(locale: str, timezone: str, promised_at: datetime) -> str:
    return format_datetime(promised_at)


def promised_texts(cards: Iterable[Card]) -> dict[int, str]:
    """Each card's promised time as the reader reads it (Babel takes ~60 µs a date; promises repeat)."""
    locale, timezone = current_locale.get(), current_timezone.get()
    return {
        card.id: _promised_text(locale, timezone, card.promised_at)
        for card in cards
        if card.promised_at is not None
    }


@kept_on_environment
def _synchronous(env: Environment) -> Environment:
    # The app's environment is async: each value a template prints is awaited and every piece of
    # output passes up a chain of async generators, which made 500 cards cost more than the rest of
    # the request. The cards call nothing that awaits, so they render in a synchronous overlay of it
    # (same loader, globals and filters; its own cache, as compiled templates differ between the two).
    return env.overlay(enable_async=False, cache_size=100)


def render_cards(
    env: Environment,
    cards: list[Card],
    *,
    can_move: bool,
    can_assign: bool,
    csrf: str | None = None,
) -> Markup:
    """The `cards` block of the board: a column's cards on the page, or a live update's one card."""
    return Markup(
        render_block(
            _synchronous(env),
            BOARD_TEMPLATE,
            "cards",
            cards=cards,
            text=board_text(),
            promised=promised_texts(cards),
            can_move=can_move,
            can_assign=can_assign,
            csrf=csrf,
        )
    )


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
    if record.type == "work_order.assigned" and not payload.get("status_changed"):
        return _("%(number)s reassigned by %(who)s.", number=payload["number"], who=who)
    if record.type == "work_order.updated":
        return _("%(number)s: details changed by %(who)s.", number=payload["number"], who=who)
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
    message_field: str | None = None,
) -> str:
    card_html = None
    if card is not None:
        card_html = render_cards(
            env,
            [card],
            can_move=view.role in PERMISSIONS["work_order.move"],
            can_assign=view.role in PERMISSIONS["work_order.assign"],
        )
    return render_block(
        _synchronous(env),
        BOARD_TEMPLATE,
        "live_update",
        work_order_id=work_order_id,
        card=card,
        card_html=card_html,
        counts=counts,
        announcement=announcement,
        message=message,
        message_kind=message_kind,
        message_field=message_field,
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
