"""Workshop KPIs, the technician leaderboard and its badges, computed from the work orders, the time
clock and the invoices. The sums run in SQL (one grouped query per figure); Python only divides, so a
month of a busy workshop is a handful of queries whatever its size.

Definitions (the KPI page shows the same words next to each figure):
- A job is *completed* in a period when its completed_at falls in it and it is READY or CLOSED.
- *Period so far*: from the period's start (tenant timezone; weeks start on Monday) until now.
- *Available hours*: each active technician's shift (TechnicianProfile.shift_start..shift_end, the
  model's 07:30-16:30 without a profile) on Monday to Friday, within the period so far.
- *Clocked hours*: time-clock entries within the period so far (a running clock counts until now).
- *Cost per repair* uses each part's cost price and the tenant's labour rate for the clocked hours:
  the schema has no separate internal labour cost rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, and_, case, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from ops.auth.models import User
from ops.db import UtcDateTime
from ops.workshop.models import (
    Invoice,
    Part,
    TechnicianProfile,
    TimeEntry,
    WorkOrder,
    WorkOrderLine,
    format_work_order_number,
)
from ops.workshop.queries import column_counts
from ops.workshop.service import OPEN_STATUSES

PERIODS = ("today", "week", "month")
COMPLETED_STATUSES = ("READY", "CLOSED")
DEFAULT_SHIFT = (time(7, 30), time(16, 30))
HOUR = Decimal(3600)

# Targets from DOMAIN.md.
FIRST_TIME_FIX_TARGET = Decimal("0.90")
UTILISATION_TARGET = Decimal("0.85")
MEAN_TIME_TO_REPAIR_TARGET_HOURS = Decimal(2)
JOBS_PER_TECHNICIAN_DAY_TARGET = Decimal(5)
COST_PER_REPAIR_TARGET = Decimal(200)

# Badge rules (the leaderboard prints them next to the badges).
FIRST_TIME_FIXER_JOBS = 10
SPEEDSTER_HOURS = Decimal(2)
SPEEDSTER_MIN_JOBS = 5
IRON_MAN_UTILISATION = Decimal("0.85")
LEADERBOARD_SIZE = 10
# Jobs past their promised time listed by name (the count covers all of them).
OVERDUE_LISTED = 5


class seconds_between(FunctionElement[float]):
    """Seconds from `start` to `end` (two timestamps) on both backends."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    end, start = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    end, start = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


def _whole_seconds(value: float | None) -> Decimal:
    # Date arithmetic comes back as a float (SQLite's julianday is a day fraction): whole seconds are
    # exact enough for any KPI and keep sums like 1.5 h + 3 h from drifting to 4.4999999 h.
    return Decimal(round(value or 0))


def _at(value: datetime) -> ColumnElement[datetime]:
    # Typed, so SQLite compares it in the stored text format and PostgreSQL as a timestamp.
    return literal(value, UtcDateTime())


def _later(a: Any, b: Any) -> ColumnElement[datetime]:
    return case((a > b, a), else_=b)


def _earlier(a: Any, b: Any) -> ColumnElement[datetime]:
    return case((a < b, a), else_=b)


# --- periods ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    key: str  # today | week | month
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    until: datetime  # the period so far ends here: now, or the end of a period that is over
    timezone: ZoneInfo

    @property
    def first_day(self) -> date:
        return self.start.astimezone(self.timezone).date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).astimezone(self.timezone).date()


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def period_for(key: str, now: datetime, timezone: str) -> Period:
    """Today, this week (Monday to Sunday) or this month, in the tenant's timezone."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    if key == "today":
        first, after = today, today + timedelta(days=1)
    elif key == "week":
        first = today - timedelta(days=today.weekday())
        after = first + timedelta(days=7)
    elif key == "month":
        first = today.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(key)
    start, end = _local_midnight(first, zone), _local_midnight(after, zone)
    return Period(key, start, end, min(end, now), zone)


# --- technicians and their shifts ---------------------------------------------------------------


@dataclass(frozen=True)
class Technician:
    id: int
    name: str
    shift_start: time
    shift_end: time

    def available_seconds(self, period: Period) -> Decimal:
        """Shift time on working days (Monday to Friday) within the period so far."""
        total = Decimal(0)
        day = period.start.astimezone(period.timezone).date()
        last = period.until.astimezone(period.timezone).date()
        while day <= last:
            if day.weekday() < 5:
                shift_from = datetime.combine(day, self.shift_start, period.timezone).astimezone(UTC)
                shift_to = datetime.combine(day, self.shift_end, period.timezone).astimezone(UTC)
                begin, end = max(shift_from, period.start), min(shift_to, period.until)
                if end > begin:
                    total += Decimal(int((end - begin).total_seconds()))
            day += timedelta(days=1)
        return total

    def working_days(self, period: Period) -> int:
        """Working days of the period so far on which this technician's shift had begun."""
        days = 0
        day = period.start.astimezone(period.timezone).date()
        last = period.until.astimezone(period.timezone).date()
        while day <= last:
            shift_from = datetime.combine(day, self.shift_start, period.timezone).astimezone(UTC)
            if day.weekday() < 5 and shift_from < period.until:
                days += 1
            day += timedelta(days=1)
        return days


async def technicians(session: AsyncSession) -> list[Technician]:
    rows = await session.execute(
        select(User.id, User.name, TechnicianProfile.shift_start, TechnicianProfile.shift_end)
        .outerjoin(TechnicianProfile, TechnicianProfile.user_id == User.id)
        .where(User.role == "technician", User.active.is_(True))
        .order_by(User.name)
    )
    return [
        Technician(
            id=row.id,
            name=row.name,
            shift_start=row.shift_start or DEFAULT_SHIFT[0],
            shift_end=row.shift_end or DEFAULT_SHIFT[1],
        )
        for row in rows
    ]


# --- the sums -----------------------------------------------------------------------------------


@dataclass
class CompletedStats:
    """Jobs completed in a period, for one technician or the whole workshop."""

    completed: int = 0
    with_comeback: int = 0
    repaired: int = 0  # completed jobs with a check-in time (the ones MTTR can measure)
    repair_seconds: Decimal = Decimal(0)

    def add(self, other: CompletedStats) -> None:
        self.completed += other.completed
        self.with_comeback += other.with_comeback
        self.repaired += other.repaired
        self.repair_seconds += other.repair_seconds

    @property
    def first_time_fixes(self) -> int:
        return self.completed - self.with_comeback


def _completed_in(period: Period) -> ColumnElement[bool]:
    return and_(
        WorkOrder.status.in_(COMPLETED_STATUSES),
        WorkOrder.completed_at >= _at(period.start),
        WorkOrder.completed_at < _at(period.end),
    )


def _has_comeback() -> ColumnElement[bool]:
    later_job = aliased(WorkOrder)
    return exists().where(later_job.comeback_of_id == WorkOrder.id, later_job.status != "CANCELLED")


async def completed_by_technician(session: AsyncSession, period: Period) -> dict[int | None, CompletedStats]:
    repair_seconds = seconds_between(WorkOrder.completed_at, WorkOrder.checked_in_at)
    rows = await session.execute(
        select(
            WorkOrder.technician_id,
            func.count(),
            func.sum(case((_has_comeback(), 1), else_=0)),
            func.count(WorkOrder.checked_in_at),
            func.sum(case((WorkOrder.checked_in_at.is_not(None), repair_seconds), else_=0.0)),
        )
        .where(_completed_in(period))
        .group_by(WorkOrder.technician_id)
    )
    return {
        technician_id: CompletedStats(
            completed=int(count),
            with_comeback=int(comebacks or 0),
            repaired=int(repaired or 0),
            repair_seconds=_whole_seconds(seconds),
        )
        for technician_id, count, comebacks, repaired, seconds in rows
    }


async def clocked_by_technician(session: AsyncSession, period: Period) -> dict[int, Decimal]:
    """Clocked seconds within the period so far; a running clock counts until then."""
    start, until = _at(period.start), _at(period.until)
    ended = func.coalesce(TimeEntry.ended_at, until)
    overlap = seconds_between(_earlier(ended, until), _later(TimeEntry.started_at, start))
    rows = await session.execute(
        select(TimeEntry.technician_id, func.sum(overlap))
        .where(
            TimeEntry.started_at < until,
            (TimeEntry.ended_at.is_(None)) | (TimeEntry.ended_at > start),
        )
        .group_by(TimeEntry.technician_id)
    )
    return {technician_id: _whole_seconds(seconds) for technician_id, seconds in rows}


async def _clocked_on_orders(session: AsyncSession, order_ids: Any, now: datetime) -> Decimal:
    """Every clocked second on the given work orders, whenever it was clocked."""
    duration = seconds_between(func.coalesce(TimeEntry.ended_at, _at(now)), TimeEntry.started_at)
    seconds = await session.scalar(select(func.sum(duration)).where(TimeEntry.work_order_id.in_(order_ids)))
    return _whole_seconds(seconds)


async def _parts_cost_of_completed(session: AsyncSession, period: Period) -> Decimal:
    cost = await session.scalar(
        select(func.sum(WorkOrderLine.quantity * Part.cost))
        .join(Part, Part.id == WorkOrderLine.part_id)
        .join(WorkOrder, WorkOrder.id == WorkOrderLine.work_order_id)
        .where(WorkOrderLine.kind == "PART", WorkOrderLine.approval != "DECLINED", _completed_in(period))
    )
    return Decimal(str(cost or 0)).quantize(Decimal("0.01"))


async def _billed_labour(session: AsyncSession, period: Period, now: datetime) -> tuple[Decimal, Decimal]:
    """Labour hours billed on the period's invoices, and the hours clocked on those jobs."""
    rows = (
        await session.execute(
            select(Invoice.work_order_id, Invoice.lines).where(
                Invoice.issued_at >= _at(period.start), Invoice.issued_at < _at(period.end)
            )
        )
    ).all()
    billed = sum(
        (
            Decimal(str(line.get("quantity", "0")))
            for _order, lines in rows
            for line in lines
            if line.get("kind") == "LABOUR"
        ),
        Decimal(0),
    )
    if not rows:
        return billed, Decimal(0)
    invoiced = select(Invoice.work_order_id).where(
        Invoice.issued_at >= _at(period.start), Invoice.issued_at < _at(period.end)
    )
    return billed, await _clocked_on_orders(session, invoiced.scalar_subquery(), now)


# --- the panel ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """A KPI: numerator / denominator, or no data when there is nothing to divide by."""

    numerator: Decimal
    denominator: Decimal

    @property
    def value(self) -> Decimal | None:
        return None if not self.denominator else self.numerator / self.denominator


@dataclass(frozen=True)
class OverdueJob:
    id: int
    code: str
    status: str
    promised_at: datetime


@dataclass
class KpiPanel:
    period: Period
    first_time_fix: Ratio
    utilisation: Ratio  # clocked seconds / available seconds
    mean_time_to_repair: Ratio  # repair seconds / repaired jobs (in seconds)
    jobs_per_technician_day: Ratio
    cost_per_repair: Ratio
    efficiency: Ratio  # billed labour hours / clocked hours on the invoiced jobs
    parts_cost: Decimal
    labour_cost: Decimal
    labour_rate: Decimal
    wip: dict[str, int]
    overdue_count: int
    overdue: list[OverdueJob]
    technician_count: int

    @property
    def mean_time_to_repair_hours(self) -> Decimal | None:
        value = self.mean_time_to_repair.value
        return None if value is None else value / HOUR

    def meets(self, kpi: str) -> bool | None:
        """Whether a KPI meets its DOMAIN.md target; None when it has no data or no target."""
        checks = {
            "first_time_fix": lambda v: v > FIRST_TIME_FIX_TARGET,
            "utilisation": lambda v: v > UTILISATION_TARGET,
            "mean_time_to_repair": lambda v: v / HOUR < MEAN_TIME_TO_REPAIR_TARGET_HOURS,
            "jobs_per_technician_day": lambda v: v > JOBS_PER_TECHNICIAN_DAY_TARGET,
            "cost_per_repair": lambda v: v < COST_PER_REPAIR_TARGET,
        }
        value = getattr(self, kpi).value
        check = checks.get(kpi)
        return None if value is None or check is None else bool(check(value))


def _total(stats: dict[Any, CompletedStats]) -> CompletedStats:
    total = CompletedStats()
    for item in stats.values():
        total.add(item)
    return total


async def kpi_panel(session: AsyncSession, period: Period, labour_rate: Decimal, now: datetime) -> KpiPanel:
    team = await technicians(session)
    completed = _total(await completed_by_technician(session, period))
    clocked = await clocked_by_technician(session, period)
    team_ids = {technician.id for technician in team}
    clocked_seconds = sum((s for tid, s in clocked.items() if tid in team_ids), Decimal(0))
    available_seconds = sum((t.available_seconds(period) for t in team), Decimal(0))
    technician_days = sum(t.working_days(period) for t in team)

    parts_cost = await _parts_cost_of_completed(session, period)
    completed_orders = select(WorkOrder.id).where(_completed_in(period)).scalar_subquery()
    repair_hours = await _clocked_on_orders(session, completed_orders, now) / HOUR
    labour_cost = (repair_hours * labour_rate).quantize(Decimal("0.01"))
    billed_hours, invoiced_clocked_seconds = await _billed_labour(session, period, now)

    overdue_filter = and_(
        WorkOrder.status.in_([status for status in OPEN_STATUSES if status != "READY"]),
        WorkOrder.promised_at < _at(now),
    )
    overdue_count = await session.scalar(select(func.count()).select_from(WorkOrder).where(overdue_filter))
    overdue_rows = await session.execute(
        select(WorkOrder.id, WorkOrder.number, WorkOrder.status, WorkOrder.promised_at)
        .where(overdue_filter)
        .order_by(WorkOrder.promised_at)
        .limit(OVERDUE_LISTED)
    )
    return KpiPanel(
        period=period,
        first_time_fix=Ratio(Decimal(completed.first_time_fixes), Decimal(completed.completed)),
        utilisation=Ratio(clocked_seconds, available_seconds),
        mean_time_to_repair=Ratio(completed.repair_seconds, Decimal(completed.repaired)),
        jobs_per_technician_day=Ratio(Decimal(completed.completed), Decimal(technician_days)),
        cost_per_repair=Ratio(parts_cost + labour_cost, Decimal(completed.completed)),
        efficiency=Ratio(billed_hours, invoiced_clocked_seconds / HOUR),
        parts_cost=parts_cost,
        labour_cost=labour_cost,
        labour_rate=labour_rate,
        wip=await column_counts(session),
        overdue_count=int(overdue_count or 0),
        overdue=[
            OverdueJob(row.id, format_work_order_number(row.number), row.status, row.promised_at)
            for row in overdue_rows
        ],
        technician_count=len(team),
    )


# --- leaderboard and badges ---------------------------------------------------------------------

BADGES = ("first_time_fixer", "speedster", "iron_man")
# The period each badge's rule counts over. A list shows only the badges of its own period: a month's
# badge next to one job this week would read as if that one job had earned it.
BADGE_PERIODS = {"first_time_fixer": "month", "speedster": "month", "iron_man": "week"}


@dataclass
class LeaderboardEntry:
    technician_id: int
    name: str
    completed: int
    badges: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Leaderboard:
    week: list[LeaderboardEntry]
    month: list[LeaderboardEntry]
    # Every technician holding each badge, on the lists or not.
    holders: dict[str, list[str]]


def badges_for(month: CompletedStats, week_utilisation: Ratio) -> list[str]:
    """The badges a technician has earned, by the rules printed on the leaderboard."""
    earned = []
    if month.completed >= FIRST_TIME_FIXER_JOBS and month.with_comeback == 0:
        earned.append("first_time_fixer")
    if (
        month.repaired >= SPEEDSTER_MIN_JOBS
        and month.repair_seconds / month.repaired < SPEEDSTER_HOURS * HOUR
    ):
        earned.append("speedster")
    utilisation = week_utilisation.value
    if utilisation is not None and utilisation > IRON_MAN_UTILISATION:
        earned.append("iron_man")
    return earned


async def leaderboard(session: AsyncSession, now: datetime, timezone: str) -> Leaderboard:
    """Top technicians by completed jobs this week and this month, each with the badges of that period."""
    week, month = period_for("week", now, timezone), period_for("month", now, timezone)
    team = await technicians(session)
    week_stats = await completed_by_technician(session, week)
    month_stats = await completed_by_technician(session, month)
    week_clocked = await clocked_by_technician(session, week)
    badges = {
        t.id: badges_for(
            month_stats.get(t.id, CompletedStats()),
            Ratio(week_clocked.get(t.id, Decimal(0)), t.available_seconds(week)),
        )
        for t in team
    }

    def ranking(stats: dict[int | None, CompletedStats], period: str) -> list[LeaderboardEntry]:
        entries = [
            LeaderboardEntry(
                t.id,
                t.name,
                stats[t.id].completed,
                [badge for badge in badges[t.id] if BADGE_PERIODS[badge] == period],
            )
            for t in team
            if t.id in stats and stats[t.id].completed > 0
        ]
        # Most jobs first; equal counts by name, so the order does not flicker between re-reads.
        entries.sort(key=lambda entry: (-entry.completed, entry.name, entry.technician_id))
        return entries[:LEADERBOARD_SIZE]

    holders: dict[str, list[str]] = {badge: [] for badge in BADGES}
    for technician in team:
        for badge in badges[technician.id]:
            holders[badge].append(technician.name)
    return Leaderboard(week=ranking(week_stats, "week"), month=ranking(month_stats, "month"), holders=holders)
