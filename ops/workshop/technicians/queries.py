"""Read models for the technician's "My jobs" page and the manager's technician view."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ops.auth.models import User
from ops.customers.models import Customer
from ops.db import utcnow
from ops.vehicles.models import Vehicle
from ops.workshop.models import (
    Bay,
    Part,
    TechnicianProfile,
    TimeEntry,
    WorkOrder,
    WorkOrderLine,
    WorkOrderNote,
    awaits_customer,
    format_work_order_number,
)
from ops.workshop.service import TRANSITIONS
from ops.workshop.technicians.service import CLOCKABLE_STATUSES, LINES_FROZEN_STATUSES, TECHNICIAN_MOVES

# A technician's open jobs: everything assigned that is not finished (READY waits for the customer).
QUEUE_STATUSES = (
    "NEW",
    "SCHEDULED",
    "CHECKED_IN",
    "IN_PROGRESS",
    "WAITING_PARTS",
    "WAITING_APPROVAL",
    "QUALITY_CHECK",
)
# Photo types every browser shows in an <img>; HEIC is offered as a download instead.
INLINE_PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
NOTES_PER_JOB = 20
_AnySelect = TypeVar("_AnySelect", bound=Select[*tuple[Any, ...]])
_PRIORITY_RANK = case({"URGENT": 0, "HIGH": 1, "NORMAL": 2, "LOW": 3}, value=WorkOrder.priority, else_=4)


def elapsed_seconds(started_at: datetime, until: datetime | None = None) -> int:
    return max(0, int(((until or utcnow()) - started_at).total_seconds()))


def format_elapsed(seconds: int) -> str:
    """A running clock as a stopwatch shows it: 0:07:05, 12:30:00."""
    hours, rest = divmod(max(0, int(seconds)), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def day_bounds(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Today in the dealership's timezone, as UTC instants [start, end)."""
    zone = ZoneInfo(timezone)
    local_day = now.astimezone(zone).date()
    start = datetime.combine(local_day, time(0), tzinfo=zone)
    end = datetime.combine(local_day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


@dataclass(frozen=True)
class RunningClock:
    work_order_id: int
    code: str
    started_at: datetime

    @property
    def seconds(self) -> int:
        return elapsed_seconds(self.started_at)


@dataclass(frozen=True)
class NoteView:
    id: int
    body: str
    author_name: str | None
    created_at: datetime
    photo_type: str | None

    @property
    def photo_inline(self) -> bool:
        return self.photo_type in INLINE_PHOTO_TYPES


@dataclass(frozen=True)
class PartUse:
    id: int
    description: str
    sku: str | None
    quantity: Decimal
    unit: str
    used: bool
    # Asked about in the estimate sent and not answered yet: not fitted before the answer.
    awaits_customer: bool


@dataclass(frozen=True)
class Operation:
    """A labour line: the work the technician is to do and the hours it is estimated at."""

    id: int
    description: str
    hours: Decimal
    awaits_customer: bool


@dataclass
class MyJob:
    id: int
    code: str
    status: str
    version: int
    priority: str
    complaint: str
    plate: str | None
    make: str
    model: str
    customer_name: str | None
    bay_name: str | None
    scheduled_start: datetime | None
    promised_at: datetime | None
    clock: RunningClock | None = None
    notes: list[NoteView] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)
    parts: list[PartUse] = field(default_factory=list)

    @property
    def can_clock_on(self) -> bool:
        return self.status in CLOCKABLE_STATUSES

    @property
    def moves(self) -> tuple[str, ...]:
        """The moves a technician can make from the phone, in the order of the work."""
        # A checked-in job starts with the clock (Clock on), not with a move.
        return tuple(
            status
            for status in TECHNICIAN_MOVES
            if status in TRANSITIONS[self.status]
            and not (self.status == "CHECKED_IN" and status == "IN_PROGRESS")
        )

    @property
    def waits_for_check_in(self) -> bool:
        return self.status in ("NEW", "SCHEDULED")

    @property
    def parts_editable(self) -> bool:
        return self.status not in LINES_FROZEN_STATUSES

    @property
    def is_overdue(self) -> bool:
        return self.promised_at is not None and self.promised_at < utcnow()


@dataclass(frozen=True)
class MyDay:
    jobs: list[MyJob]
    # The technician's running clock, also when it runs on a job no longer in their list.
    running: RunningClock | None


def _queue_order(query: _AnySelect) -> _AnySelect:
    """Scheduled start first, then priority, then promised time: the order a technician works in."""
    return query.order_by(
        WorkOrder.scheduled_start.is_(None),
        WorkOrder.scheduled_start,
        _PRIORITY_RANK,
        WorkOrder.promised_at.is_(None),
        WorkOrder.promised_at,
        WorkOrder.id,
    )


def _todays_open_jobs(day_end: datetime) -> Any:
    """Open jobs that are due to be worked on by the end of today (or are not scheduled at all)."""
    return (
        WorkOrder.status.in_(QUEUE_STATUSES),
        or_(WorkOrder.scheduled_start.is_(None), WorkOrder.scheduled_start < day_end),
    )


async def running_clock(session: AsyncSession, technician_id: int) -> RunningClock | None:
    row = (
        await session.execute(
            select(TimeEntry.work_order_id, WorkOrder.number, TimeEntry.started_at)
            .join(WorkOrder, WorkOrder.id == TimeEntry.work_order_id)
            .where(TimeEntry.technician_id == technician_id, TimeEntry.ended_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    return RunningClock(int(row[0]), format_work_order_number(int(row[1])), row[2])


async def my_day(session: AsyncSession, technician_id: int, day_end: datetime) -> MyDay:
    """The technician's open jobs for today, in working order, with clock, notes and parts."""
    rows: Any = await session.execute(
        _queue_order(
            select(
                WorkOrder.id,
                WorkOrder.number,
                WorkOrder.status,
                WorkOrder.version,
                WorkOrder.priority,
                WorkOrder.complaint,
                Vehicle.plate,
                Vehicle.make,
                Vehicle.model,
                Customer.first_name,
                Customer.last_name,
                Customer.company_name,
                Bay.name,
                WorkOrder.scheduled_start,
                WorkOrder.promised_at,
            )
            .join(Vehicle, Vehicle.id == WorkOrder.vehicle_id)
            .outerjoin(Customer, Customer.id == WorkOrder.customer_id)
            .outerjoin(Bay, Bay.id == WorkOrder.bay_id)
            .where(WorkOrder.technician_id == technician_id, *_todays_open_jobs(day_end))
        )
    )
    jobs = []
    for row in rows:
        first, last, company = row[9], row[10], row[11]
        customer = (str(company) if company else f"{first} {last}") if first is not None else None
        jobs.append(
            MyJob(
                id=int(row[0]),
                code=format_work_order_number(int(row[1])),
                status=str(row[2]),
                version=int(row[3]),
                priority=str(row[4]),
                complaint=str(row[5]),
                plate=row[6],
                make=str(row[7]),
                model=str(row[8]),
                customer_name=customer,
                bay_name=row[12],
                scheduled_start=row[13],
                promised_at=row[14],
            )
        )
    running = await running_clock(session, technician_id)
    if not jobs:
        return MyDay(jobs, running)
    by_id = {job.id: job for job in jobs}
    if running is not None and running.work_order_id in by_id:
        by_id[running.work_order_id].clock = running
    for work_order_id, note in await _notes(session, list(by_id)):
        by_id[work_order_id].notes.append(note)
    for work_order_id, line in await _lines_to_do(session, list(by_id)):
        job = by_id[work_order_id]
        if isinstance(line, Operation):
            job.operations.append(line)
        else:
            job.parts.append(line)
    return MyDay(jobs, running)


async def _notes(session: AsyncSession, work_order_ids: list[int]) -> list[tuple[int, NoteView]]:
    """The newest notes of each job, newest first."""
    author = aliased(User)
    rows = await session.execute(
        select(
            WorkOrderNote.work_order_id,
            WorkOrderNote.id,
            WorkOrderNote.body,
            author.name,
            WorkOrderNote.created_at,
            WorkOrderNote.photo_type,
        )
        .outerjoin(author, author.id == WorkOrderNote.author_id)
        .where(WorkOrderNote.work_order_id.in_(work_order_ids))
        .order_by(WorkOrderNote.created_at.desc(), WorkOrderNote.id.desc())
    )
    per_job: dict[int, int] = defaultdict(int)
    notes = []
    for row in rows:
        work_order_id = int(row[0])
        per_job[work_order_id] += 1
        if per_job[work_order_id] > NOTES_PER_JOB:
            continue
        notes.append((work_order_id, NoteView(int(row[1]), str(row[2]), row[3], row[4], row[5])))
    return notes


async def _lines_to_do(
    session: AsyncSession, work_order_ids: list[int]
) -> list[tuple[int, Operation | PartUse]]:
    """The labour and parts of each job in the order's line order; a line the customer declined is
    not to be done, so it is left out."""
    rows = await session.execute(
        select(
            WorkOrderLine.work_order_id,
            WorkOrderLine.id,
            WorkOrderLine.kind,
            WorkOrderLine.description,
            Part.sku,
            WorkOrderLine.quantity,
            Part.unit,
            WorkOrderLine.used,
            WorkOrderLine.approval,
            WorkOrderLine.created_at,
            WorkOrder.estimate_sent_at,
        )
        .join(WorkOrder, WorkOrder.id == WorkOrderLine.work_order_id)
        .outerjoin(Part, Part.id == WorkOrderLine.part_id)
        .where(WorkOrderLine.work_order_id.in_(work_order_ids), WorkOrderLine.approval != "DECLINED")
        .order_by(WorkOrderLine.position, WorkOrderLine.id)
    )
    lines: list[tuple[int, Operation | PartUse]] = []
    for row in rows:
        line_id, description, quantity = int(row[1]), str(row[3]), Decimal(row[5])
        waiting = awaits_customer(str(row[8]), row[9], row[10])
        if row[2] == "LABOUR":
            lines.append((int(row[0]), Operation(line_id, description, quantity, waiting)))
        else:
            part = PartUse(line_id, description, row[4], quantity, str(row[6] or ""), bool(row[7]), waiting)
            lines.append((int(row[0]), part))
    return lines


async def note_photo(session: AsyncSession, note_id: int) -> tuple[bytes, str] | None:
    row = (
        await session.execute(
            select(WorkOrderNote.photo, WorkOrderNote.photo_type).where(
                WorkOrderNote.id == note_id, WorkOrderNote.photo.is_not(None)
            )
        )
    ).first()
    if row is None or row[0] is None:
        return None
    return bytes(row[0]), str(row[1])


# -- the technician view ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QueuedJob:
    id: int
    code: str
    status: str
    version: int
    priority: str
    plate: str | None
    make: str
    model: str
    bay_id: int | None
    scheduled_start: datetime | None


@dataclass
class TechnicianRow:
    id: int
    name: str
    skills: list[str]
    shift_start: time | None
    shift_end: time | None
    running: RunningClock | None = None
    clocked_seconds_today: int = 0
    queue: list[QueuedJob] = field(default_factory=list)


@dataclass(frozen=True)
class Overview:
    technicians: list[TechnicianRow]
    unassigned: list[QueuedJob]


async def overview(session: AsyncSession, day_start: datetime, day_end: datetime) -> Overview:
    """Every active technician: skills, shift, what they are clocked on, time clocked today, queue."""
    now = utcnow()
    rows = await session.execute(
        select(
            User.id,
            User.name,
            TechnicianProfile.skills,
            TechnicianProfile.shift_start,
            TechnicianProfile.shift_end,
        )
        .outerjoin(TechnicianProfile, TechnicianProfile.user_id == User.id)
        .where(User.role == "technician", User.active.is_(True))
        .order_by(User.name, User.id)
    )
    technicians = {
        int(row[0]): TechnicianRow(int(row[0]), str(row[1]), list(row[2] or []), row[3], row[4])
        for row in rows
    }
    if not technicians:
        return Overview([], await _unassigned(session, day_end))
    entries = await session.execute(
        select(
            TimeEntry.technician_id,
            TimeEntry.work_order_id,
            WorkOrder.number,
            TimeEntry.started_at,
            TimeEntry.ended_at,
        )
        .join(WorkOrder, WorkOrder.id == TimeEntry.work_order_id)
        .where(
            TimeEntry.technician_id.in_(list(technicians)),
            TimeEntry.started_at < day_end,
            or_(TimeEntry.ended_at.is_(None), TimeEntry.ended_at > day_start),
        )
    )
    for technician_id, work_order_id, number, started_at, ended_at in entries:
        row = technicians.get(int(technician_id))
        if row is None:
            continue
        if ended_at is None:
            row.running = RunningClock(int(work_order_id), format_work_order_number(int(number)), started_at)
        # Only the part of each entry that falls on today counts for today.
        start, end = max(started_at, day_start), min(ended_at or now, day_end, now)
        row.clocked_seconds_today += elapsed_seconds(start, end)
    for job_technician_id, job in await _queued_with_technician(session, list(technicians), day_end):
        technicians[job_technician_id].queue.append(job)
    return Overview(list(technicians.values()), await _unassigned(session, day_end))


_QUEUED_COLUMNS = (
    WorkOrder.id,
    WorkOrder.number,
    WorkOrder.status,
    WorkOrder.version,
    WorkOrder.priority,
    Vehicle.plate,
    Vehicle.make,
    Vehicle.model,
    WorkOrder.bay_id,
    WorkOrder.scheduled_start,
)


def _to_queued(row: Any) -> QueuedJob:
    return QueuedJob(
        id=int(row[0]),
        code=format_work_order_number(int(row[1])),
        status=str(row[2]),
        version=int(row[3]),
        priority=str(row[4]),
        plate=row[5],
        make=str(row[6]),
        model=str(row[7]),
        bay_id=row[8],
        scheduled_start=row[9],
    )


async def _queued_with_technician(
    session: AsyncSession, technician_ids: list[int], day_end: datetime
) -> list[tuple[int, QueuedJob]]:
    rows: Any = await session.execute(
        _queue_order(
            select(*_QUEUED_COLUMNS, WorkOrder.technician_id)
            .join(Vehicle, Vehicle.id == WorkOrder.vehicle_id)
            .where(WorkOrder.technician_id.in_(technician_ids), *_todays_open_jobs(day_end))
        )
    )
    return [(int(row[10]), _to_queued(row)) for row in rows]


# The unassigned pool is a short list to assign from, not a backlog report (that is the board).
UNASSIGNED_SHOWN = 50


async def _unassigned(session: AsyncSession, day_end: datetime) -> list[QueuedJob]:
    """Today's open jobs nobody is assigned to yet, the first UNASSIGNED_SHOWN in working order."""
    rows = await session.execute(
        _queue_order(
            select(*_QUEUED_COLUMNS)
            .join(Vehicle, Vehicle.id == WorkOrder.vehicle_id)
            .where(WorkOrder.technician_id.is_(None), *_todays_open_jobs(day_end))
        ).limit(UNASSIGNED_SHOWN)
    )
    return [_to_queued(row) for row in rows]
