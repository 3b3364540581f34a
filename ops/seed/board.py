"""The open work orders on the board and the team that works them (skills, shifts, pace): their clocked
time, check-ins and completions are planned before the past weeks, which leave them room; then the bays,
technician profiles and parts, and the orders' bookings, clocks and invoices as planned."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from ops.auth.actor import Actor
from ops.db import Database, UnitOfWork
from ops.seed.data import BAYS, OPERATION_BY_NAME, PARTS, TECHNICIAN_PROFILES, Job, Operation
from ops.workshop.bays.service import create_bay
from ops.workshop.jobs.service import add_labour_line, add_part_line
from ops.workshop.models import Invoice, Part, TechnicianProfile, TimeEntry, WorkOrder
from ops.workshop.parts.service import NewPart, create_part
from ops.workshop.service import IN_BAY_STATUSES

# How much of its labour an open job that was worked on has been clocked: waiting for parts halfway,
# in the quality check and after it all of it (the finished ones are the most recent).
WORKED_SHARE = {"WAITING_PARTS": 0.5, "QUALITY_CHECK": 0.9, "READY": 1.0, "CLOSED": 1.0}

# When a service advisor promises a car back: before lunch or by closing time.
PROMISE_TIMES = (time(11, 0), time(12, 0), time(16, 30), time(17, 0), time(17, 30), time(18, 0))


# The hours at which a booked slot may begin: the workshop's day, so that a two-hour slot ends by 18:00.
SLOT_HOURS = range(7, 16)

# How each technician works: the share of the booked hours a job takes, the minutes between two jobs,
# and how often a repair of theirs comes back. Luca and Nina are the quickest and busiest, so the
# leaderboard has a clear top, and Luca's repairs hold (the first-time fixer).
TECHNICIAN_PACE = {
    "tech@demo.test": ((0.8, 1.05), (2, 6), 0.0),
    "nina.brunner@demo.test": ((0.85, 1.1), (2, 8), 0.06),
    "marco.bianchi@demo.test": ((0.9, 1.25), (3, 10), 0.12),
    "simon.arnold@demo.test": ((0.9, 1.3), (3, 10), 0.1),
    "fabienne.steiner@demo.test": ((0.9, 1.2), (3, 10), 0.1),
    "gian.caflisch@demo.test": ((0.95, 1.3), (4, 12), 0.15),
}
# Work that takes a skill only some technicians have; any technician does the rest.
OPERATION_SKILLS = {
    "Hochvoltsystem prüfen (Diagnose)": "EV_HIGH_VOLTAGE",
    "Stossstange hinten ausbeulen und lackieren": "BODY",
    "Getriebeöl wechseln und Schaltvorgänge anlernen": "TRANSMISSION",
    "Klimaanlage Service": "AC",
    "Klimaanlage Service (Elektrokompressor)": "AC",
}


@dataclass(frozen=True)
class PlannedTechnician:
    id: int
    email: str
    skills: frozenset[str]
    shift: tuple[time, time]
    speed: tuple[float, float]
    gap_minutes: tuple[int, int]
    comeback_share: float

    def shift_on(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        return (
            datetime.combine(day, self.shift[0], zone).astimezone(UTC),
            datetime.combine(day, self.shift[1], zone).astimezone(UTC),
        )

    def on_shift(self, moment: datetime, zone: ZoneInfo) -> bool:
        day = moment.astimezone(zone).date()
        start, end = self.shift_on(day, zone)
        return day.weekday() < 5 and start <= moment < end

    def last_end_in_shift(self, moment: datetime, length: timedelta, zone: ZoneInfo) -> datetime:
        """The latest end, not after `moment`, of `length` of work inside one of the shifts."""
        day = moment.astimezone(zone).date()
        while True:
            if day.weekday() < 5:
                start, end = self.shift_on(day, zone)
                end = min(end, moment)
                if end - length >= start:
                    return end
            day -= timedelta(days=1)

    def can_do(self, job: Job) -> bool:
        return all(OPERATION_SKILLS.get(name) in (None, *self.skills) for name in job[2])


def planned_team(technicians: dict[str, int]) -> dict[int, PlannedTechnician]:
    team = {}
    for email, (skills, shift_start, shift_end) in TECHNICIAN_PROFILES.items():
        speed, gap, comebacks = TECHNICIAN_PACE[email]
        team[technicians[email]] = PlannedTechnician(
            technicians[email], email, frozenset(skills), (shift_start, shift_end), speed, gap, comebacks
        )
    return team


class OpenJob(NamedTuple):
    status: str
    technician_id: int | None
    job: Job
    bay_id: int | None


@dataclass
class OpenWork:
    """The open jobs' clocked time (position on the board, technician, start, end or None while the
    clock runs) and check-ins, planned before the history so that the history leaves them room."""

    slots: list[tuple[int, int, datetime, datetime | None]] = field(default_factory=list)
    checked_in: dict[int, datetime] = field(default_factory=dict)
    # Where each technician's open work begins, and since when each bay holds an open job.
    busy_from: dict[int, datetime] = field(default_factory=dict)
    held_from: dict[int, datetime] = field(default_factory=dict)
    # When each finished job (Ready, Closed) was completed, and when a closed one was collected.
    completed: dict[int, datetime] = field(default_factory=dict)
    collected: dict[int, datetime] = field(default_factory=dict)


def plan_open_work(
    open_jobs: list[OpenJob],
    team: dict[int, PlannedTechnician],
    now: datetime,
    zone: ZoneInfo,
    rng: random.Random,
) -> OpenWork:
    """A technician on shift has the clock running on their job in progress; before it, within their
    shifts, come the jobs they finished last (completed as the clock stopped), then the ones they worked
    on partly. A demo seeded before the first shift finished those the evening before: their work
    clocked "now" made today's utilisation read over 100 % in the early morning."""
    work = OpenWork()
    for position, job in enumerate(open_jobs):
        if job.status in ("CHECKED_IN", *IN_BAY_STATUSES):
            work.checked_in[position] = now - timedelta(minutes=25 + 17 * position)
    for technician in team.values():
        mine = [
            (position, job) for position, job in enumerate(open_jobs) if job.technician_id == technician.id
        ]
        cursor = now - timedelta(minutes=50)
        running = next((position for position, job in mine if job.status == "IN_PROGRESS"), None)
        if running is not None and technician.on_shift(now, zone):
            shift_start = technician.shift_on(now.astimezone(zone).date(), zone)[0]
            began = max(shift_start, now - timedelta(minutes=40))
            work.slots.append((running, technician.id, began, None))
            cursor = min(cursor, began - timedelta(minutes=10))
        worked = sorted(
            ((position, job) for position, job in mine if job.status in WORKED_SHARE),
            key=lambda entry: -WORKED_SHARE[entry[1].status],
        )
        for position, job in worked:
            hours = sum(float(OPERATION_BY_NAME[name][1]) for name in job.job[2])
            length = timedelta(hours=hours * WORKED_SHARE[job.status] * rng.uniform(0.9, 1.15))
            cursor = technician.last_end_in_shift(cursor, length, zone)
            work.slots.append((position, technician.id, cursor - length, cursor))
            if job.status in ("READY", "CLOSED"):
                work.completed[position] = cursor + timedelta(minutes=rng.randint(4, 10))
            if job.status == "CLOSED":
                work.collected[position] = collected(work.completed[position], zone, now, rng)
            work.checked_in[position] = cursor - length - timedelta(minutes=15)
            cursor -= length + timedelta(minutes=10)
    for _position, technician_id, started, _ended in work.slots:
        work.busy_from[technician_id] = min(started, work.busy_from.get(technician_id, started))
    for position, job in enumerate(open_jobs):
        if job.status in IN_BAY_STATUSES and job.bay_id is not None:
            starts = [started for slot, _tid, started, _ended in work.slots if slot == position]
            work.held_from[job.bay_id] = min([*starts, work.checked_in[position]])
    return work


def collected(completed: datetime, zone: ZoneInfo, now: datetime, rng: random.Random) -> datetime:
    """When the customer picks the car up: later that day, else the next working morning (never after now)."""
    pickup = completed + timedelta(minutes=rng.randint(20, 180))
    local = pickup.astimezone(zone)
    if local.date() != completed.astimezone(zone).date() or local.time() > time(18, 30):
        day = completed.astimezone(zone).date() + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        pickup = datetime.combine(day, time(7, 15), zone).astimezone(UTC) + timedelta(
            minutes=rng.randint(0, 150)
        )
    return min(pickup, now - timedelta(minutes=1))


def working_hour_after(moment: datetime, count: int, zone: ZoneInfo) -> datetime:
    """The start of the `count`-th full hour after `moment` in which a slot may begin on a working day:
    a job booked in the evening or at the weekend gets a slot on the next working day, not at 22:00."""
    # Counted on the wall clock, so that slots stay on the hour across a change of daylight saving time.
    hour = moment.astimezone(zone).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    while count:
        hour += timedelta(hours=1)
        if hour.weekday() < 5 and hour.hour in SLOT_HOURS:
            count -= 1
    return hour.replace(tzinfo=zone).astimezone(UTC)


def promised(rng: random.Random, today: date, zone: ZoneInfo) -> datetime:
    """A promise on a working day from yesterday (some jobs are overdue) to three days on."""
    day = today + timedelta(days=rng.randint(-1, 3))
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, rng.choice(PROMISE_TIMES), zone).astimezone(UTC)


async def seed_bays_profiles_and_parts(
    db: Database, manager: Actor, technicians: dict[str, int]
) -> tuple[list[int], dict[str, Part]]:
    bay_ids = []
    for name, kind in BAYS:
        async with db.uow(manager) as uow:
            bay_ids.append((await create_bay(uow, name=name, kind=kind)).id)
    async with db.uow(manager) as uow:
        for email, (skills, shift_start, shift_end) in TECHNICIAN_PROFILES.items():
            uow.session.add(
                TechnicianProfile(
                    user_id=technicians[email],
                    skills=list(skills),
                    shift_start=shift_start,
                    shift_end=shift_end,
                )
            )
        await uow.commit()
    parts = {}
    for sku, name, unit, cost, price, reorder_point, stock, supplier in PARTS:
        async with db.uow(manager) as uow:
            parts[sku] = await create_part(
                uow,
                NewPart(
                    sku=sku,
                    name=name,
                    unit=unit,
                    cost=Decimal(cost),
                    price=Decimal(price),
                    reorder_point=Decimal(reorder_point),
                    opening_stock=Decimal(stock),
                    supplier=supplier,
                ),
            )
    return bay_ids, parts


async def add_lines(
    db: Database, advisor: Actor, work_order_id: int, operation: Operation, parts: dict[str, Part]
) -> None:
    """The operation's labour line and its parts, through the job's own use cases (parts reserve stock)."""
    description, hours, used = operation
    async with db.uow(advisor) as uow:
        await add_labour_line(uow, work_order_id, description, Decimal(hours))
    for sku, quantity in used:
        async with db.uow(advisor) as uow:
            await add_part_line(uow, work_order_id, parts[sku].id, Decimal(quantity))


async def put_open_orders_on_bays(
    db: Database,
    manager: Actor,
    open_orders: list[int],
    open_jobs: list[OpenJob],
    open_work: OpenWork,
    bay_ids: list[int],
    now: datetime,
    zone: ZoneInfo,
) -> None:
    """Scheduled jobs are booked on a bay in the workshop's next hours; the open jobs' clocked time,
    check-ins and completions as planned (jobs invoiced without any clocked time made the efficiency
    read 365 %).

    Written directly: the demo's open jobs were moved along the board, which knows no clocks and dates
    every move now. The jobs in work got their bays before they went into work, as the board requires."""
    async with db.uow(manager) as uow:
        for position, technician_id, started, ended in open_work.slots:
            uow.session.add(
                TimeEntry(
                    technician_id=technician_id,
                    work_order_id=open_orders[position],
                    started_at=started,
                    ended_at=ended,
                )
            )
        for position, (work_order_id, job) in enumerate(zip(open_orders, open_jobs, strict=True)):
            values: dict[str, object] = {}
            if position in open_work.checked_in:
                values = {"checked_in_at": open_work.checked_in[position]}
            elif job.status == "SCHEDULED":
                start = working_hour_after(now, 1 + position % 5, zone)
                values = {
                    "bay_id": bay_ids[position % len(bay_ids)],
                    "scheduled_start": start,
                    "scheduled_end": start + timedelta(hours=2),
                }
            if position in open_work.completed:
                completed = open_work.completed[position]
                closed = open_work.collected.get(position)
                values |= {
                    "completed_at": completed,
                    "closed_at": closed,
                    "status_changed_at": closed or completed,
                }
            if values:
                await uow.session.execute(
                    update(WorkOrder).where(WorkOrder.id == work_order_id).values(**values)
                )
        await _issue_as_completed(
            uow, {open_orders[at]: moment for at, moment in open_work.completed.items()}
        )
        await uow.commit()


async def _issue_as_completed(uow: UnitOfWork, completed: dict[int, datetime]) -> None:
    """The finished jobs' invoices issued as each job was completed, not when the board's move made
    them, and still in the order of their numbers, after every earlier invoice."""
    invoices = (
        await uow.session.execute(
            select(Invoice.id, Invoice.work_order_id)
            .where(Invoice.work_order_id.in_(completed))
            .order_by(Invoice.number)
        )
    ).all()
    previous = await uow.session.scalar(
        select(func.max(Invoice.issued_at)).where(Invoice.work_order_id.not_in(completed))
    )
    for invoice_id, work_order_id in invoices:
        issued = completed[work_order_id]
        if previous is not None:
            issued = max(issued, previous + timedelta(minutes=1))
        await uow.session.execute(update(Invoice).where(Invoice.id == invoice_id).values(issued_at=issued))
        previous = issued
