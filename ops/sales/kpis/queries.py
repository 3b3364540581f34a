"""Sales KPIs, computed from leads, test drives, quotes, stock units and deals. Each figure is one
grouped query; Python only divides, and a figure with nothing to divide by is "no data".

Definitions (the KPI page shows the same words next to each figure):
- *Period*: today, this week (Monday to Sunday) or this month in the tenant's timezone.
- *Leads by source*: the leads captured in the period (created_at), by their source.
- *Leads by stage*: the open leads captured in the period, by the stage they are in now; and the leads
  closed (won or lost) in the period (closed_at), whenever they were captured. The won and lost counts
  are the conversion's own: a lead captured last month and won this month counts in this month's both.
- *Conversion*: leads won ÷ leads closed (won or lost) in the period (closed_at). Doc baseline 18 %,
  target 25 %.
- *Average days to won*: mean of (closed_at - created_at) in days over the leads won in the period.
  Doc: 45 days before, target 27.
- *Pipeline value by stage*: the open leads now; each counts with its latest quote's total when it has
  a quote, else with its budget; leads with neither are counted but add nothing.
- *Test drives today*: drives whose slot starts today, not cancelled (whatever the period).
- *Quotes awaiting approval*: quotes in PENDING_APPROVAL now.
- *Stock aging*: units on the premises now (available, reserved, demo, loaner) by days since arrival.
- *Gross profit per deal*: the deals delivered in the period, their gross profit (the accepted quote's
  margin) ÷ their number.
- *Revenue per rep*: the same deals' net amounts (the quote's net, without VAT) per deal rep.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from ops.auth.models import User
from ops.db import UtcDateTime
from ops.sales.models import LEAD_SOURCES, LEAD_STAGES, Deal, Lead, Quote, StockUnit, TestDrive
from ops.sales.stock.queries import AGE_BANDS
from ops.workshop.kpis.queries import PERIODS, Period, Ratio, period_for

__all__ = ["PERIODS", "Period", "Ratio", "period_for"]

CONVERSION_BASELINE = Decimal("0.18")
CONVERSION_TARGET = Decimal("0.25")
DAYS_TO_WON_BEFORE = Decimal(45)
DAYS_TO_WON_TARGET = Decimal(27)
OPEN_STAGES = LEAD_STAGES[:6]
CLOSED_STAGES = LEAD_STAGES[6:]
ON_PREMISES = ("AVAILABLE", "RESERVED", "DEMO", "LOANER")
DAY_SECONDS = Decimal(86400)


def _at(value: datetime) -> ColumnElement[datetime]:
    # Typed, so SQLite compares it in the stored text format and PostgreSQL as a timestamp.
    return literal(value, UtcDateTime())


def _within(column: ColumnElement[datetime] | object, period: Period) -> list[ColumnElement[bool]]:
    return [column >= _at(period.start), column < _at(period.end)]


@dataclass(frozen=True)
class StageValue:
    stage: str
    leads: int
    value: Decimal
    # Leads of the stage valued by a quote, by a budget, and with neither.
    by_quote: int
    by_budget: int
    without_value: int


@dataclass(frozen=True)
class RepRevenue:
    rep_id: int | None
    name: str
    deals: int
    revenue: Decimal


@dataclass(frozen=True)
class SalesKpis:
    period: Period
    leads_by_source: dict[str, int]
    # Open leads captured in the period, by their stage now.
    open_by_stage: dict[str, int]
    # Leads closed in the period: WON and LOST, the counts the conversion divides.
    closed_by_stage: dict[str, int]
    days_to_won: Ratio
    pipeline: list[StageValue]
    test_drives_today: int
    quotes_awaiting_approval: int
    stock_aging: dict[str, int]
    stock_without_arrival: int
    gross_profit_per_deal: Ratio
    revenue_per_rep: list[RepRevenue]

    @property
    def conversion(self) -> Ratio:
        won, lost = self.closed_by_stage.get("WON", 0), self.closed_by_stage.get("LOST", 0)
        return Ratio(Decimal(won), Decimal(won + lost))

    @property
    def leads_captured(self) -> int:
        return sum(self.leads_by_source.values())

    @property
    def pipeline_value(self) -> Decimal:
        return sum((stage.value for stage in self.pipeline), Decimal(0))

    @property
    def days_to_won_value(self) -> Decimal | None:
        value = self.days_to_won.value
        return None if value is None else value / DAY_SECONDS

    def meets(self, key: str) -> bool | None:
        """On target, off target, or None without data."""
        if key == "conversion":
            value = self.conversion.value
            return None if value is None else value >= CONVERSION_TARGET
        if key == "days_to_won":
            days = self.days_to_won_value
            return None if days is None else days <= DAYS_TO_WON_TARGET
        raise KeyError(key)


async def _leads_captured(session: AsyncSession, period: Period) -> tuple[dict[str, int], dict[str, int]]:
    """The leads captured in the period: by source, and the open ones by their stage now."""
    rows = (
        await session.execute(
            select(Lead.source, Lead.stage, func.count())
            .where(*_within(Lead.created_at, period))
            .group_by(Lead.source, Lead.stage)
        )
    ).all()
    by_source: Counter[str] = Counter()
    by_stage: Counter[str] = Counter()
    for source, stage, count in rows:
        by_source[source] += count
        by_stage[stage] += count
    return (
        {source: by_source[source] for source in LEAD_SOURCES if by_source[source]},
        {stage: by_stage[stage] for stage in OPEN_STAGES if by_stage[stage]},
    )


async def _closed_by_stage(session: AsyncSession, period: Period) -> dict[str, int]:
    """The leads closed in the period, won and lost, whenever they were captured."""
    rows = dict(
        (
            await session.execute(
                select(Lead.stage, func.count())
                .where(Lead.stage.in_(CLOSED_STAGES), *_within(Lead.closed_at, period))
                .group_by(Lead.stage)
            )
        ).all()
    )
    return {stage: int(rows[stage]) for stage in CLOSED_STAGES if rows.get(stage)}


async def _days_to_won(session: AsyncSession, period: Period) -> Ratio:
    """Seconds from capture to won, summed, over the leads won in the period."""
    rows = (
        await session.execute(
            select(Lead.created_at, Lead.closed_at).where(
                Lead.stage == "WON", *_within(Lead.closed_at, period)
            )
        )
    ).all()
    seconds = sum(
        (Decimal(int((closed - created).total_seconds())) for created, closed in rows if closed), Decimal(0)
    )
    return Ratio(seconds, Decimal(len(rows)))


async def _pipeline(session: AsyncSession) -> list[StageValue]:
    latest_quote = (
        select(Quote.lead_id, func.max(Quote.id).label("quote_id")).group_by(Quote.lead_id).subquery()
    )
    rows = (
        await session.execute(
            select(Lead.stage, Lead.budget, Quote.total)
            .outerjoin(latest_quote, latest_quote.c.lead_id == Lead.id)
            .outerjoin(Quote, Quote.id == latest_quote.c.quote_id)
            .where(Lead.stage.in_(OPEN_STAGES))
        )
    ).all()
    leads: Counter[str] = Counter()
    values = dict.fromkeys(OPEN_STAGES, Decimal(0))
    by_quote: Counter[str] = Counter()
    by_budget: Counter[str] = Counter()
    for stage, budget, quote_total in rows:
        leads[stage] += 1
        if quote_total is not None:
            values[stage] += quote_total
            by_quote[stage] += 1
        elif budget is not None:
            values[stage] += budget
            by_budget[stage] += 1
    return [
        StageValue(
            stage,
            leads[stage],
            values[stage],
            by_quote[stage],
            by_budget[stage],
            leads[stage] - by_quote[stage] - by_budget[stage],
        )
        for stage in OPEN_STAGES
    ]


async def _test_drives_today(session: AsyncSession, now: datetime, timezone: str) -> int:
    today = period_for("today", now, timezone)
    count = await session.scalar(
        select(func.count())
        .select_from(TestDrive)
        .where(TestDrive.status != "CANCELLED", *_within(TestDrive.starts_at, today))
    )
    return int(count or 0)


async def _stock_aging(session: AsyncSession, today: date) -> tuple[dict[str, int], int]:
    rows = (
        await session.execute(select(StockUnit.arrived_on).where(StockUnit.status.in_(ON_PREMISES)))
    ).all()
    bands = dict.fromkeys(AGE_BANDS, 0)
    without_arrival = 0
    for (arrived_on,) in rows:
        if arrived_on is None:
            without_arrival += 1
            continue
        age = max(0, (today - arrived_on).days)
        for band, (low, high) in AGE_BANDS.items():
            if age >= low and (high is None or age <= high):
                bands[band] += 1
                break
    return bands, without_arrival


async def _delivered_deals(session: AsyncSession, period: Period) -> tuple[Ratio, list[RepRevenue]]:
    rows = (
        await session.execute(
            select(Deal.rep_id, User.name, func.count(), func.sum(Deal.gross_profit), func.sum(Quote.net))
            .join(Quote, Quote.id == Deal.quote_id)
            .outerjoin(User, User.id == Deal.rep_id)
            .where(Deal.status == "DELIVERED", *_within(Deal.delivered_at, period))
            .group_by(Deal.rep_id, User.name)
        )
    ).all()
    deals = sum(int(count) for _rep, _name, count, _profit, _net in rows)
    profit = sum((Decimal(str(p or 0)) for _rep, _name, _count, p, _net in rows), Decimal(0))
    per_rep = [
        RepRevenue(rep_id, name or "", int(count), Decimal(str(net or 0)).quantize(Decimal("0.01")))
        for rep_id, name, count, _profit, net in rows
    ]
    per_rep.sort(key=lambda rep: (-rep.revenue, rep.name))
    return Ratio(profit, Decimal(deals)), per_rep


async def sales_kpis(session: AsyncSession, period: Period, now: datetime, timezone: str) -> SalesKpis:
    by_source, open_by_stage = await _leads_captured(session, period)
    aging, without_arrival = await _stock_aging(session, now.astimezone(period.timezone).date())
    gross_profit, per_rep = await _delivered_deals(session, period)
    awaiting = await session.scalar(
        select(func.count()).select_from(Quote).where(Quote.status == "PENDING_APPROVAL")
    )
    return SalesKpis(
        period=period,
        leads_by_source=by_source,
        open_by_stage=open_by_stage,
        closed_by_stage=await _closed_by_stage(session, period),
        days_to_won=await _days_to_won(session, period),
        pipeline=await _pipeline(session),
        test_drives_today=await _test_drives_today(session, now, timezone),
        quotes_awaiting_approval=int(awaiting or 0),
        stock_aging=aging,
        stock_without_arrival=without_arrival,
        gross_profit_per_deal=gross_profit,
        revenue_per_rep=per_rep,
    )
