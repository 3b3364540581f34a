"""The pipeline board's cards as the browser shows them, and its live updates (the `sales` topic).

A board holds hundreds of cards, so the card template (templates/sales/leads/_cards.html) does no work
of its own: every label is looked up once per language (`board_text`), what differs per card (money,
dates, days in stage, the score's reasons) is prepared here in Python (`card_display`), and the
template is rendered by a plain Jinja environment rather than the app's async one, whose per-value
overhead was most of a board's render time (bench/pipeline_board.py). The same template renders the
page's columns, the mover's answer and every live update.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, Template
from jinja2_fragments import render_block_async
from markupsafe import Markup, escape

from ops.auth.actor import PERMISSIONS, Actor
from ops.db import Database, utcnow
from ops.events import EventRecord
from ops.i18n import current_currency, current_locale, current_timezone, format_date, format_money, ngettext
from ops.i18n import gettext as _
from ops.sales.leads import queries
from ops.sales.leads.queries import Card
from ops.sales.leads.service import (
    BOARD_STAGES,
    ScoreReason,
    allowed_moves,
    lost_reason_labels,
    score_rule_labels,
    source_labels,
    stage_labels,
)
from realtime.hub import View

BOARD_TEMPLATE = "sales/leads/board.html"
CARDS_TEMPLATE = "sales/leads/_cards.html"


@dataclass(frozen=True)
class BoardText:
    """Every label a card uses, in one language."""

    stages: dict[str, str]
    sources: dict[str, str]
    lost_reasons: dict[str, str]
    # The move menu's options for a card in each stage.
    move_options: dict[str, Markup]
    budget: str
    no_budget: str
    owner: str
    unassigned: str
    next_action: str
    no_next_action: str
    overdue: str
    in_stage: str
    score: str
    move_to: str
    move: str
    no_leads: str


@cache
def _board_text(locale: str) -> BoardText:
    stages = stage_labels()
    move_options = {
        stage: Markup("").join(
            Markup('<option value="{}">{}</option>').format(target, stages[target])
            for target in allowed_moves(stage)
        )
        for stage in BOARD_STAGES
    }
    return BoardText(
        stages=stages,
        sources=source_labels(),
        lost_reasons=lost_reason_labels(),
        move_options=move_options,
        budget=_("Budget"),
        no_budget=_("No budget"),
        owner=_("Owner"),
        unassigned=_("Unassigned"),
        next_action=_("Next"),
        no_next_action=_("No next action"),
        overdue=_("overdue"),
        in_stage=_("In stage"),
        score=_("Score"),
        move_to=_("Move to…"),
        move=_("Move"),
        no_leads=_("No leads"),
    )


def board_text() -> BoardText:
    """The labels in the current locale, built once per language (they never change while running)."""
    return _board_text(current_locale.get())


@lru_cache(maxsize=2048)
def _days_text(locale: str, days: int) -> str:
    return ngettext("%(num)d day", "%(num)d days", days)


@cache
def _rule_labels(locale: str) -> dict[str, str]:
    return score_rule_labels()


@lru_cache(maxsize=4096)
def _money(locale: str, currency: str, amount: Decimal) -> str:
    return format_money(amount, currency)


@lru_cache(maxsize=2048)
def _day(locale: str, day: date) -> str:
    return format_date(day, "medium")


@dataclass(frozen=True)
class CardDisplay:
    budget: str
    next_on: str
    overdue: bool
    days_in_stage: str
    # A colour band for the score badge: 60 and up high, 30 and up medium, else low.
    band: str
    reasons: Markup
    # The stages the card may move to, for drag and drop (data-allowed).
    allowed: str


@lru_cache(maxsize=4096)
def _reasons(locale: str, reasons: tuple[ScoreReason, ...]) -> Markup:
    """The score's reasons as the card's list items; cards share a few combinations, so each is built once."""
    labels = _rule_labels(locale)
    return Markup(
        "".join(
            f'<li class="{"minus" if reason.points < 0 else "plus"}">{reason.points:+d} '
            f"{escape(labels.get(reason.rule, reason.rule))}</li>"
            for reason in reasons
        )
    )


@cache
def _allowed(stage: str) -> str:
    return " ".join(allowed_moves(stage))


def tenant_today() -> date:
    return utcnow().astimezone(ZoneInfo(current_timezone.get())).date()


def card_display(card: Card, today: date, now: datetime) -> CardDisplay:
    locale, currency = current_locale.get(), current_currency.get()
    points = card.score.points
    return CardDisplay(
        budget=_money(locale, currency, card.budget) if card.budget is not None else "",
        next_on=_day(locale, card.next_action_on) if card.next_action_on else "",
        overdue=card.next_action_on is not None
        and card.next_action_on < today
        and card.stage not in ("WON", "LOST"),
        days_in_stage=_days_text(locale, max(0, (now - card.stage_changed_at).days)),
        band="high" if points >= 60 else "medium" if points >= 30 else "low",
        reasons=_reasons(locale, card.score.reasons),
        allowed=_allowed(card.stage),
    )


def displays(cards: Iterable[Card]) -> dict[int, CardDisplay]:
    now = utcnow()
    today = tenant_today()
    return {card.id: card_display(card, today, now) for card in cards}


@lru_cache(maxsize=4)
def _cards_template(env: Environment) -> Template:
    """The card template in a plain (not async) environment sharing the app's template folder."""
    plain = Environment(
        loader=env.loader, autoescape=True, trim_blocks=True, lstrip_blocks=True, auto_reload=env.auto_reload
    )
    return plain.get_template(CARDS_TEMPLATE)


def render_cards(env: Environment, cards: list[Card], *, can_move: bool, csrf: str | None) -> Markup:
    """The `<li>` of each card, in order, as the board's lists hold them."""
    if not cards:
        return Markup("")
    return Markup(
        _cards_template(env).render(
            cards=cards, display=displays(cards), text=board_text(), can_move=can_move, csrf=csrf
        )
    )


def announcement_for(record: EventRecord, card: Card | None) -> str:
    """A sentence for screen readers; the actor is the one recorded with the event."""
    # Translators: stands for the person in "moved ... by %(who)s" when the event names nobody.
    who = record.actor_name or _("someone")
    customer = card.customer_name if card is not None else ""
    if record.type == "lead.moved":
        stage = stage_labels().get(record.payload.get("to", ""), "")
        return _(
            "Lead of %(customer)s moved to %(stage)s by %(who)s.", customer=customer, stage=stage, who=who
        )
    if record.type == "lead.created":
        return _("New lead of %(customer)s captured by %(who)s.", customer=customer, who=who)
    return ""


async def render_board_update(
    env: Environment,
    *,
    lead_id: int,
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
        lead_id=lead_id,
        card=card,
        card_html=render_cards(env, [card], can_move=view.role in PERMISSIONS["lead.edit"], csrf=None)
        if card is not None
        else "",
        counts=counts,
        announcement=announcement,
        message=message,
        message_kind=message_kind,
    )


class SalesBoardLive:
    """Renderer for the `sales` topic: move the card, update every column count, announce."""

    def __init__(self, db: Database, env: Environment) -> None:
        self.db = db
        self.env = env

    async def load(self, records: list[EventRecord], topic: str) -> list[Any]:
        """The cards the events touched and the column counts: one round of queries for the batch.

        Every event of the batch shows the counts as they are now, so the last one leaves them right."""
        lead_ids = [
            int(record.payload["id"]) if record.type.startswith("lead.") else None for record in records
        ]
        wanted = [lead_id for lead_id in lead_ids if lead_id is not None]
        if not wanted:
            return [None] * len(records)
        now = utcnow()
        # A topic belongs to one tenant, so every record of the batch does too.
        async with self.db.read(records[0].tenant_id) as session:
            cards = await queries.cards_by_id(session, wanted, now)
            counts = await queries.column_counts(session, now)
        return [None if lead_id is None else (lead_id, cards.get(lead_id), counts) for lead_id in lead_ids]

    async def render(self, loaded: Any, record: EventRecord, view: View) -> str:
        if loaded is None:
            return ""
        lead_id, card, counts = loaded
        return await render_board_update(
            self.env,
            lead_id=lead_id,
            card=card,
            counts=counts,
            view=view,
            announcement=announcement_for(record, card),
        )


async def guard_sales_topic(actor: Actor, argument: str) -> bool:
    return argument == "" and actor.can("lead.view")
