"""Read models for the pipeline board and the lead page: cards with their scores, column counts, one
lead with its history, and the choices of the lead form."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Row,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ops.auth.models import User
from ops.customers.models import Customer
from ops.customers.service import format_phone
from ops.db import tenant_scoped
from ops.sales.leads.service import (
    BOARD_STAGES,
    CLOSED_STAGES,
    OPEN_STAGES,
    SALES_ROLES,
    Score,
    ScoreContext,
    allowed_moves,
    closed_since,
    score_lead,
    tenant_score_weights,
)
from ops.sales.models import CatalogTrim, Lead, LeadStageChange, Quote, Reservation, StockUnit, TestDrive

# Cards a column shows before "Show all": a wall screen cannot show more, and the board stays fast.
COLUMN_LIMIT = 15


def person_name(first: str | None, last: str | None, company: str | None) -> str:
    return str(company) if company else f"{first or ''} {last or ''}".strip()


def trim_label(make: str | None, model: str | None, trim: str | None) -> str:
    return " ".join(part for part in (make, model, trim) if part)


def interest_label(trim: str, note: str) -> str:
    return f"{trim} · {note}" if trim and note else trim or note


NO_SCORE = Score(0, ())


@dataclass(slots=True)
class Card:
    id: int
    stage: str
    version: int
    customer_id: int
    customer_name: str
    interest: str
    budget: Decimal | None
    owner_id: int | None
    owner_name: str | None
    source: str
    next_action: str
    next_action_on: date | None
    stage_changed_at: datetime
    created_at: datetime
    last_contact_at: datetime | None
    trade_in_offered: bool
    financing_preapproved: bool
    # Won needs an accepted quote: the move menu offers Won only then.
    has_accepted_quote: bool
    score: Score = NO_SCORE

    @property
    def allowed_moves(self) -> tuple[str, ...]:
        return allowed_moves(self.stage)


@functools.cache
def _card_query() -> Select[*tuple[Any, ...]]:
    # Built once: statements are immutable, so every caller can extend it.
    test_drive_done = (
        exists()
        .where(TestDrive.lead_id == Lead.id, TestDrive.status == "RETURNED")
        .correlate(Lead)
        .label("test_drive_done")
    )
    has_accepted_quote = (
        exists()
        .where(Quote.lead_id == Lead.id, Quote.status == "ACCEPTED")
        .correlate(Lead)
        .label("has_accepted_quote")
    )
    # The score's "budget fits stock": the unit the lead names must itself be available and in
    # budget; else the cheapest available unit of the trim it names, or of any trim.
    interest_unit = aliased(StockUnit)
    cheapest = select(func.min(StockUnit.list_price)).where(StockUnit.status == "AVAILABLE")
    budget_fits_stock = case(
        (
            Lead.interest_unit_id.is_not(None),
            and_(interest_unit.status == "AVAILABLE", interest_unit.list_price <= Lead.budget),
        ),
        (
            Lead.interest_trim_id.is_not(None),
            cheapest.where(StockUnit.trim_id == Lead.interest_trim_id).correlate(Lead).scalar_subquery()
            <= Lead.budget,
        ),
        else_=cheapest.scalar_subquery() <= Lead.budget,
    ).label("budget_fits_stock")
    return (
        select(
            Lead.id,
            Lead.stage,
            Lead.version,
            Lead.customer_id,
            Customer.first_name,
            Customer.last_name,
            Customer.company_name,
            Customer.type.label("customer_type"),
            Customer.uid,
            Lead.interest_note,
            CatalogTrim.make,
            CatalogTrim.model,
            CatalogTrim.trim,
            Lead.budget,
            Lead.owner_id,
            User.name.label("owner_name"),
            Lead.source,
            Lead.next_action,
            Lead.next_action_on,
            Lead.stage_changed_at,
            Lead.created_at,
            Lead.last_contact_at,
            Lead.trade_in_offered,
            Lead.financing_preapproved,
            test_drive_done,
            budget_fits_stock,
            has_accepted_quote,
        )
        .join(Customer, Customer.id == Lead.customer_id)
        .outerjoin(CatalogTrim, CatalogTrim.id == Lead.interest_trim_id)
        .outerjoin(interest_unit, interest_unit.id == Lead.interest_unit_id)
        .outerjoin(User, User.id == Lead.owner_id)
    )


async def _cards(
    session: AsyncSession, rows: Sequence[Row[Any]], now: datetime, weights: dict[str, int] | None = None
) -> list[Card]:
    """Cards with their scores from rows of `_card_query()`; the tenant's score weights are read unless
    given. Rows are unpacked by position: looking columns up by name was a third of a board's card
    work."""
    if weights is None:
        weights = await tenant_score_weights(session)
    cards = []
    for row in rows:
        (
            id_,
            stage,
            version,
            customer_id,
            first_name,
            last_name,
            company_name,
            customer_type,
            uid,
            interest_note,
            make,
            model,
            trim,
            budget,
            owner_id,
            owner_name,
            source,
            next_action,
            next_action_on,
            stage_changed_at,
            created_at,
            last_contact_at,
            trade_in_offered,
            financing_preapproved,
            test_drive_done,
            budget_fits_stock,
            has_accepted_quote,
        ) = tuple(row)
        card = Card(
            id=id_,
            stage=stage,
            version=version,
            customer_id=customer_id,
            customer_name=person_name(first_name, last_name, company_name),
            interest=interest_label(trim_label(make, model, trim), interest_note or ""),
            budget=budget,
            owner_id=owner_id,
            owner_name=owner_name,
            source=source,
            next_action=next_action or "",
            next_action_on=next_action_on,
            stage_changed_at=stage_changed_at,
            created_at=created_at,
            last_contact_at=last_contact_at,
            trade_in_offered=bool(trade_in_offered),
            financing_preapproved=bool(financing_preapproved),
            has_accepted_quote=bool(has_accepted_quote),
        )
        context = ScoreContext(
            weights=weights,
            now=now,
            budget_fits_stock=bool(budget_fits_stock),
            test_drive_done=bool(test_drive_done),
            customer_type=customer_type,
            customer_uid=uid,
        )
        card.score = score_lead(card, context)
        cards.append(card)
    return cards


@dataclass(frozen=True)
class BoardFilter:
    """Whose leads (one owner) and from which source. The same rule runs in the browser on live updates
    (static/js/app.js, "board filter"), from the data attributes of each card."""

    owner_id: int | None = None
    source: str | None = None

    @property
    def active(self) -> bool:
        return self != BoardFilter()

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.owner_id is not None:
            conditions.append(Lead.owner_id == self.owner_id)
        if self.source is not None:
            conditions.append(Lead.source == self.source)
        return conditions


# The closed leads' cut-off, 30 days back (`closed_since(now)`): a parameter, so that the board's
# statements are built and tenant-scoped once (ops/db.py `tenant_scoped`).
_CLOSED_SINCE = bindparam("closed_since", type_=Lead.closed_at.type)
_NEWEST_FIRST = (Lead.stage_changed_at.desc(), Lead.id.desc())


def _on_board() -> ColumnElement[bool]:
    """Open leads, and leads closed since `closed_since`."""
    return or_(
        Lead.stage.in_(OPEN_STAGES),
        and_(Lead.stage.in_(CLOSED_STAGES), Lead.closed_at >= _CLOSED_SINCE),
    )


def _in_column(stage: str) -> list[ColumnElement[bool]]:
    """The leads of one column: `_on_board` for one stage."""
    if stage in CLOSED_STAGES:
        return [Lead.stage == stage, Lead.closed_at >= _CLOSED_SINCE]
    return [Lead.stage == stage]


@functools.lru_cache(maxsize=256)
def _columns_query(board_filter: BoardFilter, expand: str | None) -> CompoundSelect:
    """The ids of each column's newest COLUMN_LIMIT leads (all of `expand`'s) with the column's count,
    one branch per column reading its newest leads in order from ix_leads_board (migration 0010) and
    stopping at the limit; an empty column has no row and counts 0. Built once per filter and expanded
    column, like `_card_query()`: building this statement cost more than running it."""
    branches = []
    for stage in BOARD_STAGES:
        in_column = (*_in_column(stage), *board_filter.conditions())
        newest = (
            select(Lead.id, Lead.stage)
            .where(*in_column)
            .order_by(*_NEWEST_FIRST)
            .limit(None if stage == expand else COLUMN_LIMIT)
            .subquery()
        )
        total = select(func.count()).select_from(Lead).where(*in_column).scalar_subquery()
        branches.append(select(newest.c.id, newest.c.stage, total))
    return tenant_scoped(union_all(*branches))


@functools.cache
def _board_cards_query() -> Select[*tuple[Any, ...]]:
    return tenant_scoped(
        _card_query().where(Lead.id.in_(bindparam("ids", expanding=True))).order_by(*_NEWEST_FIRST)
    )


@functools.cache
def _cards_by_id_query() -> Select[*tuple[Any, ...]]:
    # The live updates' and the move answer's read.
    return tenant_scoped(_card_query().where(Lead.id.in_(bindparam("ids", expanding=True)), _on_board()))


@functools.lru_cache(maxsize=256)
def _column_counts_query(board_filter: BoardFilter) -> Select[str, int]:
    return tenant_scoped(
        select(Lead.stage, func.count()).where(_on_board(), *board_filter.conditions()).group_by(Lead.stage)
    )


@dataclass(frozen=True)
class Board:
    columns: dict[str, list[Card]]
    counts: dict[str, int]


async def board(
    session: AsyncSession,
    now: datetime,
    board_filter: BoardFilter | None = None,
    *,
    expand: str | None = None,
    weights: dict[str, int] | None = None,
) -> Board:
    """The board's columns, newest move first (live updates insert at the top), each cut at
    COLUMN_LIMIT cards except `expand`; the counts are of every lead in the column that passes the
    filter. `weights`: the tenant's score weights when the caller has them at hand."""
    # First the ids to show with their columns' counts (numbering every lead of the board with a
    # window function read and sorted them all: 3 ms of SQLite for 1,100 leads, against 0.1 ms), then
    # their cards by primary key: the cards' six tables in each of eight branches made the statement
    # and its tenant scoping cost more than the reading.
    since = closed_since(now)
    shown = (
        await session.execute(_columns_query(board_filter or BoardFilter(), expand), {"closed_since": since})
    ).all()
    counts = dict.fromkeys(BOARD_STAGES, 0)
    counts.update({stage: total for _id, stage, total in shown})
    ids = [id_ for id_, _stage, _total in shown]
    rows = (await session.execute(_board_cards_query(), {"ids": ids})).all() if ids else []
    columns: dict[str, list[Card]] = {stage: [] for stage in BOARD_STAGES}
    for card in await _cards(session, rows, now, weights):
        columns[card.stage].append(card)
    return Board(columns, counts)


async def column_counts(
    session: AsyncSession, now: datetime, board_filter: BoardFilter | None = None
) -> dict[str, int]:
    rows = await session.execute(
        _column_counts_query(board_filter or BoardFilter()), {"closed_since": closed_since(now)}
    )
    counts = dict.fromkeys(BOARD_STAGES, 0)
    counts.update({str(stage): int(count) for stage, count in rows})
    return counts


async def cards_by_id(session: AsyncSession, ids: list[int], now: datetime) -> dict[int, Card]:
    """The cards of these leads as the board shows them; a lead off the board (closed long ago) is absent."""
    rows = (
        await session.execute(_cards_by_id_query(), {"ids": ids, "closed_since": closed_since(now)})
    ).all()
    return {card.id: card for card in await _cards(session, rows, now)}


async def lead(session: AsyncSession, lead_id: int) -> Lead | None:
    return await session.scalar(select(Lead).where(Lead.id == lead_id))


async def lead_exists(session: AsyncSession, lead_id: int) -> bool:
    return await session.scalar(select(Lead.id).where(Lead.id == lead_id)) is not None


# --- One lead -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageChange:
    from_stage: str | None
    to_stage: str
    actor_name: str
    at: datetime


@dataclass(frozen=True)
class QuoteRow:
    id: int
    code: str
    status: str
    total: Decimal
    valid_until: date | None


@dataclass(frozen=True)
class DriveRow:
    id: int
    status: str
    starts_at: datetime
    unit_label: str


@dataclass(frozen=True)
class HoldRow:
    id: int
    unit_id: int
    status: str
    expires_at: datetime | None
    unit_label: str


@dataclass(frozen=True)
class LeadDetail:
    lead: Lead
    card: Card
    customer: Customer
    interest_unit_label: str | None
    history: list[StageChange]
    quotes: list[QuoteRow]
    drives: list[DriveRow]
    holds: list[HoldRow]
    has_accepted_quote: bool
    weights: dict[str, int]


def _unit_label(make: str, model: str, trim: str, vin: str) -> str:
    return f"{trim_label(make, model, trim)} · {vin[-6:]}"


async def lead_detail(session: AsyncSession, lead_id: int, now: datetime) -> LeadDetail | None:
    lead = await session.scalar(select(Lead).where(Lead.id == lead_id))
    if lead is None:
        return None
    cards = await _cards(session, (await session.execute(_card_query().where(Lead.id == lead_id))).all(), now)
    customer = (await session.execute(select(Customer).where(Customer.id == lead.customer_id))).scalar_one()
    unit_label = None
    if lead.interest_unit_id is not None:
        row = (
            await session.execute(
                select(CatalogTrim.make, CatalogTrim.model, CatalogTrim.trim, StockUnit.vin)
                .join(CatalogTrim, CatalogTrim.id == StockUnit.trim_id)
                .where(StockUnit.id == lead.interest_unit_id)
            )
        ).one()
        unit_label = _unit_label(*row)
    history = [
        StageChange(change.from_stage, change.to_stage, change.actor_name, change.at)
        for change in await session.scalars(
            select(LeadStageChange)
            .where(LeadStageChange.lead_id == lead_id)
            .order_by(LeadStageChange.at.desc(), LeadStageChange.id.desc())
        )
    ]
    quotes = [
        QuoteRow(quote.id, quote.code, quote.status, quote.total, quote.valid_until)
        for quote in await session.scalars(
            select(Quote).where(Quote.lead_id == lead_id).order_by(Quote.created_at.desc(), Quote.id.desc())
        )
    ]
    unit_columns = (CatalogTrim.make, CatalogTrim.model, CatalogTrim.trim, StockUnit.vin)
    drive_rows = await session.execute(
        select(TestDrive.id, TestDrive.status, TestDrive.starts_at, *unit_columns)
        .join(StockUnit, StockUnit.id == TestDrive.stock_unit_id)
        .join(CatalogTrim, CatalogTrim.id == StockUnit.trim_id)
        .where(TestDrive.lead_id == lead_id)
        .order_by(TestDrive.starts_at.desc())
    )
    drives = [DriveRow(row[0], row[1], row[2], _unit_label(*row[3:])) for row in drive_rows]
    hold_rows = await session.execute(
        select(
            Reservation.id,
            Reservation.stock_unit_id,
            Reservation.status,
            Reservation.expires_at,
            *unit_columns,
        )
        .join(StockUnit, StockUnit.id == Reservation.stock_unit_id)
        .join(CatalogTrim, CatalogTrim.id == StockUnit.trim_id)
        .where(Reservation.lead_id == lead_id)
        .order_by(Reservation.created_at.desc())
    )
    holds = [HoldRow(row[0], row[1], row[2], row[3], _unit_label(*row[4:])) for row in hold_rows]
    return LeadDetail(
        lead=lead,
        card=cards[0],
        customer=customer,
        interest_unit_label=unit_label,
        history=history,
        quotes=quotes,
        drives=drives,
        holds=holds,
        has_accepted_quote=any(quote.status == "ACCEPTED" for quote in quotes),
        weights=await tenant_score_weights(session),
    )


# --- The lead form's choices ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    id: int
    label: str
    price: Decimal | None = None
    # What tells two customers of the same name apart: email, phone, city.
    detail: str = ""


@dataclass(frozen=True)
class FormChoices:
    trims: list[Choice]
    units: list[Choice]
    owners: list[Choice]


# Units a lead can be about: not yet sold.
INTEREST_UNIT_STATUSES = ("INCOMING", "AVAILABLE", "RESERVED", "DEMO")


async def form_choices(session: AsyncSession, keep_unit_id: int | None = None) -> FormChoices:
    trims = await session.execute(
        select(CatalogTrim.id, CatalogTrim.make, CatalogTrim.model, CatalogTrim.year, CatalogTrim.trim)
        .where(CatalogTrim.active.is_(True))
        .order_by(CatalogTrim.make, CatalogTrim.model, CatalogTrim.year.desc(), CatalogTrim.trim)
    )
    unit_condition: ColumnElement[bool] = StockUnit.status.in_(INTEREST_UNIT_STATUSES)
    if keep_unit_id is not None:
        unit_condition = or_(unit_condition, StockUnit.id == keep_unit_id)
    units = await session.execute(
        select(
            StockUnit.id,
            StockUnit.list_price,
            CatalogTrim.make,
            CatalogTrim.model,
            CatalogTrim.trim,
            StockUnit.vin,
        )
        .join(CatalogTrim, CatalogTrim.id == StockUnit.trim_id)
        .where(unit_condition)
        .order_by(CatalogTrim.make, CatalogTrim.model, StockUnit.list_price, StockUnit.id)
        .limit(500)
    )
    owners = await session.execute(
        select(User.id, User.name)
        .where(User.active.is_(True), User.role.in_(SALES_ROLES))
        .order_by(User.name, User.id)
    )
    return FormChoices(
        trims=[Choice(int(row.id), f"{row.make} {row.model} {row.year} {row.trim}") for row in trims],
        units=[
            Choice(int(row.id), _unit_label(row.make, row.model, row.trim, row.vin), Decimal(row.list_price))
            for row in units
        ],
        owners=[Choice(int(id_), str(name)) for id_, name in owners],
    )


async def customer_choice(session: AsyncSession, customer_id: int) -> Choice | None:
    row = (
        await session.execute(
            select(Customer).where(Customer.id == customer_id, Customer.erased_at.is_(None))
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    detail = " · ".join(part for part in (row.email, format_phone(row.phone), row.city) if part)
    return Choice(row.id, person_name(row.first_name, row.last_name, row.company_name), detail=detail)
