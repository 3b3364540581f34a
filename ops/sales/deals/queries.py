"""Read models for the deal pages: the list with its filters, one deal with everything around it, and
the accepted quotes still waiting to become deals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ops.auth.models import User
from ops.customers.models import Customer
from ops.events import Event
from ops.paging import Page
from ops.sales.models import CatalogTrim, Deal, DealPayment, Quote, StockUnit
from ops.sales.stock.queries import Choice, person_name

PAGE_SIZE = 20
TIMELINE_LIMIT = 100


def _unit_title(make: str | None, model: str | None, year: int | None, trim: str | None) -> str:
    return " ".join(str(part) for part in (make, model, year, trim) if part)


# --- The list ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DealRow:
    id: int
    code: str
    status: str
    customer_id: int
    customer_name: str
    unit_title: str
    vin: str
    rep_name: str
    total: Decimal
    deposit_due: Decimal
    financed: bool
    created_at: datetime
    delivery_scheduled_at: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class DealList:
    rows: list[DealRow]
    page: Page


def _deal_query() -> Any:
    return (
        select(
            Deal,
            Customer.first_name,
            Customer.last_name,
            Customer.company_name,
            StockUnit.vin,
            CatalogTrim.make,
            CatalogTrim.model,
            CatalogTrim.year,
            CatalogTrim.trim,
            User.name.label("rep_name"),
        )
        .join(Customer, Customer.id == Deal.customer_id)
        .join(Quote, Quote.id == Deal.quote_id)
        .outerjoin(StockUnit, StockUnit.id == Deal.stock_unit_id)
        # A configured order's deal has no unit until its car arrives: its title is the quoted trim.
        .outerjoin(CatalogTrim, CatalogTrim.id == func.coalesce(StockUnit.trim_id, Quote.trim_id))
        .outerjoin(User, User.id == Deal.rep_id)
    )


def _row(row: Any) -> DealRow:
    deal: Deal = row.Deal
    return DealRow(
        id=deal.id,
        code=deal.code,
        status=deal.status,
        customer_id=deal.customer_id,
        customer_name=person_name(row.first_name, row.last_name, row.company_name),
        unit_title=_unit_title(row.make, row.model, row.year, row.trim),
        vin=row.vin or "",
        rep_name=row.rep_name or "",
        total=deal.total,
        deposit_due=deal.deposit_due,
        financed=deal.financed,
        created_at=deal.created_at,
        delivery_scheduled_at=deal.delivery_scheduled_at,
        delivered_at=deal.delivered_at,
    )


async def deal_list(
    session: AsyncSession, *, status: str = "", rep_id: int | None = None, page: int = 1
) -> DealList:
    """Newest first; filtered by status and by rep."""
    conditions = []
    if status:
        conditions.append(Deal.status == status)
    if rep_id is not None:
        conditions.append(Deal.rep_id == rep_id)
    total = await session.scalar(select(func.count()).select_from(Deal).where(*conditions)) or 0
    current = Page.of(page, total, PAGE_SIZE)
    rows = await session.execute(
        _deal_query()
        .where(*conditions)
        .order_by(Deal.created_at.desc(), Deal.id.desc())
        .limit(current.size)
        .offset(current.offset)
    )
    return DealList([_row(row) for row in rows], current)


# --- One deal ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentRow:
    id: int
    kind: str
    amount: Decimal
    method: str
    reference: str
    recorded_by: str
    at: datetime
    note: str


@dataclass(frozen=True)
class TimelineEntry:
    type: str
    at: datetime
    actor_name: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class DealDetail:
    deal: Deal
    row: DealRow
    customer: Customer
    unit: StockUnit | None
    quote: Quote
    payments: list[PaymentRow]
    timeline: list[TimelineEntry]

    @property
    def paid_in(self) -> Decimal:
        """Deposits taken minus refunds made."""
        return sum((p.amount if p.kind == "DEPOSIT" else -p.amount for p in self.payments), Decimal(0))


async def deal_exists(session: AsyncSession, deal_id: int) -> bool:
    return await session.scalar(select(Deal.id).where(Deal.id == deal_id)) is not None


async def deal_detail(session: AsyncSession, deal_id: int) -> DealDetail | None:
    row = (await session.execute(_deal_query().where(Deal.id == deal_id))).one_or_none()
    if row is None:
        return None
    deal: Deal = row.Deal
    customer = (await session.execute(select(Customer).where(Customer.id == deal.customer_id))).scalar_one()
    quote = (await session.execute(select(Quote).where(Quote.id == deal.quote_id))).scalar_one()
    unit = None
    if deal.stock_unit_id is not None:
        unit = await session.scalar(select(StockUnit).where(StockUnit.id == deal.stock_unit_id))
    recorder = aliased(User)
    payments = [
        PaymentRow(
            id=payment.id,
            kind=payment.kind,
            amount=payment.amount,
            method=payment.method,
            reference=payment.reference,
            recorded_by=name or "",
            at=payment.at,
            note=payment.note,
        )
        for payment, name in await session.execute(
            select(DealPayment, recorder.name)
            .outerjoin(recorder, recorder.id == DealPayment.recorded_by_id)
            .where(DealPayment.deal_id == deal.id)
            .order_by(DealPayment.at, DealPayment.id)
        )
    ]
    # The events are the audit trail: who moved the deal, when, and with what.
    events = await session.scalars(
        select(Event)
        .where(Event.type.like("deal.%"), Event.payload["deal_id"].as_integer() == deal.id)
        .order_by(Event.id)
        .limit(TIMELINE_LIMIT)
    )
    timeline = [TimelineEntry(e.type, e.created_at, e.actor_name, dict(e.payload)) for e in events]
    return DealDetail(deal, _row(row), customer, unit, quote, payments, timeline)


# --- Accepted quotes without a deal -----------------------------------------------------------------------


async def quotes_ready_for_a_deal(session: AsyncSession, limit: int = 200) -> list[Choice]:
    """Accepted quotes (of a stock unit or a configured order) with no deal yet, newest first."""
    rows = await session.execute(
        select(
            Quote.id,
            Quote.number,
            Quote.total,
            Customer.first_name,
            Customer.last_name,
            Customer.company_name,
            CatalogTrim.make,
            CatalogTrim.model,
        )
        .join(Customer, Customer.id == Quote.customer_id)
        .outerjoin(StockUnit, StockUnit.id == Quote.stock_unit_id)
        .join(CatalogTrim, CatalogTrim.id == func.coalesce(StockUnit.trim_id, Quote.trim_id))
        .outerjoin(Deal, Deal.quote_id == Quote.id)
        .where(Quote.status == "ACCEPTED", Deal.id.is_(None))
        .order_by(Quote.accepted_at.desc(), Quote.id.desc())
        .limit(limit)
    )
    return [
        Choice(
            row.id,
            f"Q-{row.number:06d} · {person_name(row.first_name, row.last_name, row.company_name)}"
            f" · {row.make} {row.model}",
            extra={"total": row.total},
        )
        for row in rows
    ]


async def deal_of_quote(session: AsyncSession, quote_id: int) -> tuple[int, str] | None:
    """The deal a quote became, if it did: (id, code)."""
    row = (await session.execute(select(Deal.id, Deal.number).where(Deal.quote_id == quote_id))).one_or_none()
    return None if row is None else (row.id, f"D-{row.number:06d}")


@dataclass(frozen=True)
class UnitChoice:
    id: int
    vin: str
    colour: str
    status: str


async def assignable_units(session: AsyncSession, trim_id: int | None) -> list[UnitChoice]:
    """Units that can become a configured order's car: its trim, in no deal, held by nobody; the
    earliest arrival first (the car that has waited longest)."""
    if trim_id is None:
        return []
    rows = await session.execute(
        select(StockUnit.id, StockUnit.vin, StockUnit.colour, StockUnit.status)
        .where(
            StockUnit.trim_id == trim_id,
            StockUnit.deal_id.is_(None),
            StockUnit.held_by_reservation_id.is_(None),
            StockUnit.status.in_(("INCOMING", "AVAILABLE")),
        )
        .order_by(StockUnit.arrived_on.asc().nulls_last(), StockUnit.id)
    )
    return [UnitChoice(row.id, row.vin, row.colour or "", row.status) for row in rows]
