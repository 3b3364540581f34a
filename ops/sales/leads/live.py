"""The pipeline board's cards as the browser shows them, and its live updates (the `sales` topic).

A board holds hundreds of cards, so the card template (templates/sales/leads/_cards.html) does no work
of its own: every label is looked up and escaped once per language (`board_text`), what differs per
card (its text, money, dates, days in stage, the score's reasons) is prepared and escaped here in
Python (`card_display`), and the template is rendered by a plain Jinja environment rather than the
app's async one, whose per-value overhead was most of a board's render time (bench/pipeline_board.py).
That environment does not escape again: what the template prints is an id, a number, a code from a
fixed list or Markup made here, and escaping each of some 35 values a card again was a third of the
cards' render time. The same template renders the page's columns, the mover's answer and every live
update.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

from jinja2 import Environment, Template
from jinja2_fragments import render_block_async
from markupsafe import Markup, escape

from ops.auth.actor import PERMISSIONS, Actor
from ops.db import Database, utcnow
from ops.events import EventRecord
from ops.i18n import current_currency, current_locale, format_date, format_money, ngettext, tenant_today
from ops.i18n import gettext as _
from ops.pages import kept_on_environment
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
    """Every label a card uses, in one language; those the card template prints come escaped."""

    stages: dict[str, str]
    sources: dict[str, str]
    lost_reasons: dict[str, str]
    # The move menu's options for a card in each stage; `_without_quote` for a lead with no accepted
    # quote, whose Won is shown but disabled, with the reason.
    move_options: dict[str, Markup]
    move_options_without_quote: dict[str, Markup]
    budget: Markup
    no_budget: Markup
    owner: Markup
    unassigned: Markup
    next_action: Markup
    no_next_action: Markup
    overdue: Markup
    in_stage: Markup
    score: Markup
    move_to: Markup
    move: Markup
    no_leads: Markup


@cache
def _board_text(locale: str) -> BoardText:
    stages = stage_labels()
    option = Markup('<option value="{}">{}</option>')
    won_needs_quote = Markup('<option value="WON" disabled>{} ({})</option>').format(
        stages["WON"], _("needs an accepted quote")
    )

    def options(stage: str, can_win: bool) -> Markup:
        return Markup("").join(
            option.format(target, stages[target]) if target != "WON" or can_win else won_needs_quote
            for target in allowed_moves(stage)
        )

    return BoardText(
        stages=stages,
        sources=source_labels(),
        lost_reasons=lost_reason_labels(),
        move_options={stage: options(stage, True) for stage in BOARD_STAGES},
        move_options_without_quote={stage: options(stage, False) for stage in BOARD_STAGES},
        budget=escape(_("Budget")),
        no_budget=escape(_("No budget")),
        owner=escape(_("Owner")),
        unassigned=escape(_("Unassigned")),
        next_action=escape(_("Next action")),
        no_next_action=escape(_("No next action")),
        overdue=escape(_("overdue")),
        in_stage=escape(_("In stage")),
        score=escape(_("Score")),
        move_to=escape(_("Move to…")),
        move=escape(_("Move")),
        no_leads=escape(_("No leads")),
    )


def board_text() -> BoardText:
    """The labels in the current locale, built once per language (they never change while running)."""
    return _board_text(current_locale.get())


@lru_cache(maxsize=2048)
def _days_text(locale: str, days: int) -> Markup:
    return escape(ngettext("%(num)d day", "%(num)d days", days))


@cache
def _rule_labels(locale: str) -> dict[str, str]:
    return score_rule_labels()


@lru_cache(maxsize=4096)
def _money(locale: str, currency: str, amount: Decimal) -> Markup:
    return escape(format_money(amount, currency))


@lru_cache(maxsize=2048)
def _day(locale: str, day: date) -> Markup:
    return escape(format_date(day, "medium"))


@dataclass(frozen=True, slots=True)
class CardDisplay:
    """Everything a card prints, ready to print: ids, numbers and codes, and Markup for text."""

    id: int
    stage: str
    version: int
    # The card's owner and source as the board filter compares them (data-owner, data-source).
    owner: str
    source: str
    name: Markup
    interest: Markup
    owner_name: Markup
    next_action: Markup
    points: int
    budget: Markup
    next_on: Markup
    overdue: bool
    days_in_stage: Markup
    # A colour band for the score badge: 60 and up high, 30 and up medium, else low.
    band: str
    reasons: Markup
    # The stages the card may move to, for drag and drop (data-allowed): without Won when the lead has
    # no accepted quote, so that the Won column reads as refused while the card is dragged.
    allowed: str
    # The move menu's options: Won disabled, with the reason, when the lead has no accepted quote.
    move_options: Markup


@lru_cache(maxsize=4096)
def _reasons(locale: str, reasons: tuple[ScoreReason, ...]) -> Markup:
    """The score's reasons as the card's list items; cards share a few combinations, so each is built once."""
    labels = _rule_labels(locale)
    return Markup(
        "".join(
            f'<li class="{"minus" if reason.points < 0 else "plus"}">{reason.points:+d} '
            f"{escape(labels.get(reason.label_key, reason.rule))}</li>"
            for reason in reasons
        )
    )


@cache
def _allowed(stage: str, can_win: bool) -> str:
    return " ".join(target for target in allowed_moves(stage) if target != "WON" or can_win)


NO_TEXT = Markup("")


def card_display(card: Card, today: date, now: datetime, text: BoardText) -> CardDisplay:
    locale, currency = current_locale.get(), current_currency.get()
    points = card.score.points
    return CardDisplay(
        id=card.id,
        stage=card.stage,
        version=card.version,
        owner=str(card.owner_id) if card.owner_id is not None else "none",
        source=card.source,
        name=escape(card.customer_name),
        interest=escape(card.interest),
        owner_name=escape(card.owner_name) if card.owner_name else text.unassigned,
        next_action=escape(card.next_action),
        points=points,
        budget=_money(locale, currency, card.budget) if card.budget is not None else NO_TEXT,
        next_on=_day(locale, card.next_action_on) if card.next_action_on else NO_TEXT,
        overdue=card.next_action_on is not None
        and card.next_action_on < today
        and card.stage not in ("WON", "LOST"),
        days_in_stage=_days_text(locale, max(0, (now - card.stage_changed_at).days)),
        band="high" if points >= 60 else "medium" if points >= 30 else "low",
        reasons=_reasons(locale, card.score.reasons),
        allowed=_allowed(card.stage, card.has_accepted_quote),
        move_options=(text.move_options if card.has_accepted_quote else text.move_options_without_quote)[
            card.stage
        ],
    )


def displays(cards: Iterable[Card]) -> list[CardDisplay]:
    now = utcnow()
    today = tenant_today()
    text = board_text()
    return [card_display(card, today, now, text) for card in cards]


@kept_on_environment
def _cards_template(env: Environment) -> Template:
    """The card template in a plain (not async, not escaping) environment sharing the app's template
    folder: the values it prints come escaped from `card_display` and `board_text`."""
    plain = Environment(
        loader=env.loader, autoescape=False, trim_blocks=True, lstrip_blocks=True, auto_reload=env.auto_reload
    )
    return plain.get_template(CARDS_TEMPLATE)


def render_cards(env: Environment, cards: list[Card], *, can_move: bool, csrf: str | None) -> Markup:
    """The `<li>` of each card, in order, as the board's lists hold them."""
    if not cards:
        return Markup("")
    return Markup(
        _cards_template(env).render(
            cards=displays(cards), text=board_text(), can_move=can_move, csrf=escape(csrf) if csrf else None
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
    message_field: str | None = None,
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
        message_field=message_field,
    )


def _lead_of(record: EventRecord) -> int | None:
    """The lead whose card an event changes: its own events, and a quote's acceptance (Won opens up)."""
    if record.type.startswith("lead."):
        return int(record.payload["id"])
    if record.type == "quote.accepted":
        return int(record.payload["lead_id"])
    return None


class SalesBoardLive:
    """Renderer for the `sales` topic: move (or redraw) the card, update every column count, announce."""

    def __init__(self, db: Database, env: Environment) -> None:
        self.db = db
        self.env = env

    async def load(self, records: list[EventRecord], topic: str) -> list[Any]:
        """The cards the events touched and the column counts: one round of queries for the batch.

        Every event of the batch shows the counts as they are now, so the last one leaves them right."""
        lead_ids = [_lead_of(record) for record in records]
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
