"""Read models for the job board: cards and column counts, one query each."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ops.auth.models import User
from ops.customers.models import Customer
from ops.db import tenant_scoped, utcnow
from ops.vehicles.models import Vehicle
from ops.workshop.models import Bay, WorkOrder, WorkOrderCategory, format_work_order_number
from ops.workshop.service import OPEN_STATUSES, TRANSITIONS


@dataclass(frozen=True)
class Card:
    """A job on the board, with the strings its card shows already made: the board draws hundreds of
    cards per request (and one per live event per watcher), so the template only places values."""

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
    category: str | None
    technician_name: str | None
    promised_at: datetime | None
    status_changed_at: datetime
    technician_id: int | None = None
    bay_id: int | None = None
    bay_name: str | None = None
    # The earlier job this one repeats within 30 days of its completion.
    comeback_of_id: int | None = None
    # Past its promised time when it was read.
    overdue: bool = False
    # What the card prints, made once here rather than per use in the template.
    allowed: str = field(init=False)  # data-allowed: where drag and drop may take it
    path: str = field(init=False)
    complaint_preview: str = field(init=False)
    promised_iso: str = field(init=False)

    def __post_init__(self) -> None:
        made = {
            "allowed": " ".join(TRANSITIONS[self.status]),
            "path": f"/workshop/work-orders/{self.id}",
            "complaint_preview": preview(self.complaint, COMPLAINT_PREVIEW),
            "promised_iso": self.promised_at.isoformat() if self.promised_at else "",
        }
        for name, value in made.items():
            object.__setattr__(self, name, value)

    @property
    def allowed_moves(self) -> tuple[str, ...]:
        return TRANSITIONS[self.status]


COMPLAINT_PREVIEW = 110


def preview(text: str, length: int) -> str:
    """Jinja's `truncate(length)`: whole words and "...", unless the text is at most 5 characters over."""
    if len(text) <= length + 5:
        return text
    return text[: length - 3].rsplit(" ", 1)[0] + "..."


@functools.cache
def _card_query() -> Select[*tuple[Any, ...]]:
    # Built once: constructing this select was the biggest single cost of a card move and of each
    # live update (bench/live_fanout.py); statements are immutable, so every caller can extend it.
    technician = aliased(User)
    return (
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
            WorkOrderCategory.name,
            technician.name,
            WorkOrder.promised_at,
            WorkOrder.status_changed_at,
            WorkOrder.technician_id,
            WorkOrder.bay_id,
            Bay.name,
            WorkOrder.comeback_of_id,
        )
        .join(Vehicle, Vehicle.id == WorkOrder.vehicle_id)
        .outerjoin(Customer, Customer.id == WorkOrder.customer_id)
        .outerjoin(WorkOrderCategory, WorkOrderCategory.id == WorkOrder.category_id)
        .outerjoin(technician, technician.id == WorkOrder.technician_id)
        .outerjoin(Bay, Bay.id == WorkOrder.bay_id)
    )


def _to_card(row: tuple[object, ...], now: datetime) -> Card:
    (
        id_,
        number,
        status,
        version,
        priority,
        complaint,
        plate,
        make,
        model,
        first,
        last,
        company,
        category,
        technician,
        promised_at,
        status_changed_at,
        technician_id,
        bay_id,
        bay_name,
        comeback_of_id,
    ) = row
    customer = None
    if first is not None:
        customer = str(company) if company else f"{first} {last}"
    return Card(
        id=int(id_),  # type: ignore[call-overload]
        code=format_work_order_number(int(number)),  # type: ignore[call-overload]
        status=str(status),
        version=int(version),  # type: ignore[call-overload]
        priority=str(priority),
        complaint=str(complaint),
        plate=plate,  # type: ignore[arg-type]
        make=str(make),
        model=str(model),
        customer_name=customer,
        category=category,  # type: ignore[arg-type]
        technician_name=technician,  # type: ignore[arg-type]
        promised_at=promised_at,  # type: ignore[arg-type]
        status_changed_at=status_changed_at,  # type: ignore[arg-type]
        technician_id=technician_id,  # type: ignore[arg-type]
        bay_id=bay_id,  # type: ignore[arg-type]
        bay_name=bay_name,  # type: ignore[arg-type]
        comeback_of_id=comeback_of_id,  # type: ignore[arg-type]
        overdue=is_late(str(status), promised_at, now),  # type: ignore[arg-type]
    )


def is_late(status: str, promised_at: datetime | None, now: datetime) -> bool:
    """Past its promised time and not yet ready: a READY job's car waits for its customer, not for the
    workshop (the KPI page's "Jobs past their promised time" count the same jobs)."""
    return promised_at is not None and promised_at < now and status != "READY"


@dataclass(frozen=True)
class BoardFilter:
    """What the board shows: every open job, or those of one bay, technician, priority, or overdue.

    `UNASSIGNED` as the bay or technician shows the jobs without one. The same rule runs in the
    browser on live updates (static/js/app.js, "board filter"), from the data attributes of each card.
    """

    bay_id: int | None = None
    technician_id: int | None = None
    priority: str | None = None
    overdue: bool = False

    @property
    def active(self) -> bool:
        return self != BoardFilter()

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        for wanted, column in (
            (self.bay_id, WorkOrder.bay_id),
            (self.technician_id, WorkOrder.technician_id),
        ):
            if wanted == UNASSIGNED:
                conditions.append(column.is_(None))
            elif wanted is not None:
                conditions.append(column == wanted)
        if self.priority is not None:
            conditions.append(WorkOrder.priority == self.priority)
        if self.overdue:
            conditions.extend((WorkOrder.promised_at < utcnow(), WorkOrder.status != "READY"))
        return conditions


# Filter value for "no bay" / "no technician"; ids start at 1.
UNASSIGNED = 0


# Cards a column shows before "Show all": a wall screen cannot show more, and the board stays fast
# (bench/workshop_board.py: 500 open jobs drawn in full missed the 50 ms target several times over).
COLUMN_LIMIT = 40


async def board_columns(
    session: AsyncSession,
    board_filter: BoardFilter | None = None,
    *,
    limit: int | None = None,
    expand: str | None = None,
) -> dict[str, list[Card]]:
    """Open work orders by status; newest arrival in a column first, as live updates insert them.

    With `limit`, each column keeps its first `limit` cards, except the `expand` column."""
    conditions: list[ColumnElement[bool]] = [WorkOrder.status.in_(OPEN_STATUSES)]
    if board_filter is not None:
        conditions += board_filter.conditions()
    order = (WorkOrder.status_changed_at.desc(), WorkOrder.id.desc())
    query = _card_query().where(*conditions)
    if limit is None:
        query = query.order_by(*order)
    else:
        # The rank is computed over the cards' own rows, not a second scan joined back by id: on
        # PostgreSQL without statistics yet (a fresh or freshly loaded database), that self-join was
        # planned as a nested loop re-running the window 500 times (70 ms instead of 2 ms).
        rank = func.row_number().over(partition_by=WorkOrder.status, order_by=order).label("board_rank")
        ranked = query.add_columns(rank).subquery("board")
        kept = ranked.c.board_rank <= limit
        query = (
            select(*list(ranked.c)[:-1])
            .where(or_(kept, ranked.c.status == expand) if expand else kept)
            .order_by(ranked.c.status_changed_at.desc(), ranked.c.id.desc())
        )
    rows = await session.execute(query)
    columns: dict[str, list[Card]] = {status: [] for status in OPEN_STATUSES}
    now = utcnow()
    for row in rows:
        card = _to_card(tuple(row), now)
        columns[card.status].append(card)
    return columns


@functools.cache
def _cards_by_id_query() -> Select[*tuple[Any, ...]]:
    # The live updates' and the move answer's read: built and tenant-scoped once (ops/db.py).
    return tenant_scoped(_card_query().where(WorkOrder.id.in_(bindparam("ids", expanding=True))))


async def cards_by_id(session: AsyncSession, ids: list[int]) -> dict[int, Card]:
    rows = await session.execute(_cards_by_id_query(), {"ids": ids})
    now = utcnow()
    return {card.id: card for card in (_to_card(tuple(row), now) for row in rows)}


async def card(session: AsyncSession, work_order_id: int) -> Card | None:
    return (await cards_by_id(session, [work_order_id])).get(work_order_id)


async def work_order_exists(session: AsyncSession, work_order_id: int) -> bool:
    found = await session.scalar(select(WorkOrder.id).where(WorkOrder.id == work_order_id))
    return found is not None


@functools.cache
def _column_counts_query() -> Select[str, int]:
    return tenant_scoped(
        select(WorkOrder.status, func.count())
        .where(WorkOrder.status.in_(OPEN_STATUSES))
        .group_by(WorkOrder.status)
    )


async def column_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(_column_counts_query())
    counts = dict.fromkeys(OPEN_STATUSES, 0)
    counts.update({str(status): int(count) for status, count in rows})
    return counts


async def active_technicians(session: AsyncSession) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(User.id, User.name).where(User.role == "technician", User.active.is_(True)).order_by(User.name)
    )
    return [(int(id_), str(name)) for id_, name in rows]


async def active_bays(session: AsyncSession) -> list[tuple[int, str]]:
    rows = await session.execute(select(Bay.id, Bay.name).where(Bay.active.is_(True)).order_by(Bay.name))
    return [(int(id_), str(name)) for id_, name in rows]


async def free_bays(session: AsyncSession, work_order_id: int | None = None) -> list[tuple[int, str]]:
    """The bays in use that no job is in now, other than the job `work_order_id`: where a job can go
    into work (WorkOrder.occupied_bay_id; bay_id is only where it is planned)."""
    taken = select(WorkOrder.occupied_bay_id).where(WorkOrder.occupied_bay_id.is_not(None))
    if work_order_id is not None:
        taken = taken.where(WorkOrder.id != work_order_id)
    rows = await session.execute(
        select(Bay.id, Bay.name).where(Bay.active.is_(True), Bay.id.not_in(taken)).order_by(Bay.name)
    )
    return [(int(id_), str(name)) for id_, name in rows]


async def form_choices(session: AsyncSession) -> dict[str, list[tuple[int, str]]]:
    """Categories, technicians and free bays for the create form (the vehicle is searched for)."""
    return {
        "categories": await categories(session),
        "technicians": await active_technicians(session),
        "bays": await free_bays(session),
    }


async def categories(session: AsyncSession) -> list[tuple[int, str]]:
    """The dealership's work-order categories (stored in English; pages show them translated)."""
    rows = await session.execute(
        select(WorkOrderCategory.id, WorkOrderCategory.name).order_by(WorkOrderCategory.name)
    )
    return [(int(id_), str(name)) for id_, name in rows]


@dataclass(frozen=True)
class VehicleChoice:
    id: int
    plate: str | None
    vin: str
    make: str
    model: str
    year: int
    customer_name: str | None


VEHICLE_SEARCH_LIMIT = 20


def _vehicle_query() -> Select[*tuple[Any, ...]]:
    return select(
        Vehicle.id,
        Vehicle.plate,
        Vehicle.vin,
        Vehicle.make,
        Vehicle.model,
        Vehicle.year,
        Customer.first_name,
        Customer.last_name,
        Customer.company_name,
    ).outerjoin(Customer, Customer.id == Vehicle.customer_id)


def _to_vehicle_choice(row: Any) -> VehicleChoice:
    customer = None
    if row.first_name is not None:
        customer = row.company_name or f"{row.first_name} {row.last_name}"
    return VehicleChoice(
        id=int(row.id),
        plate=row.plate,
        vin=str(row.vin),
        make=str(row.make),
        model=str(row.model),
        year=int(row.year),
        customer_name=customer,
    )


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_vehicles(session: AsyncSession, text: str) -> tuple[list[VehicleChoice], bool]:
    """Vehicles whose plate, VIN, make, model or customer name contain every word typed (any case;
    plates also without their spaces, so "zh123" finds "ZH 123 456"); and whether there were more."""
    words = text.lower().split()
    if not words:
        return [], False
    compact_plate = func.lower(func.replace(func.coalesce(Vehicle.plate, ""), " ", ""))
    query = _vehicle_query()
    for word in words:
        pattern = _like(word)
        query = query.where(
            or_(
                compact_plate.like(pattern, escape="\\"),
                func.lower(Vehicle.vin).like(pattern, escape="\\"),
                func.lower(Vehicle.make).like(pattern, escape="\\"),
                func.lower(Vehicle.model).like(pattern, escape="\\"),
                func.lower(Customer.first_name).like(pattern, escape="\\"),
                func.lower(Customer.last_name).like(pattern, escape="\\"),
                func.lower(func.coalesce(Customer.company_name, "")).like(pattern, escape="\\"),
            )
        )
    rows = (
        await session.execute(query.order_by(Vehicle.plate, Vehicle.id).limit(VEHICLE_SEARCH_LIMIT + 1))
    ).all()
    return [_to_vehicle_choice(row) for row in rows[:VEHICLE_SEARCH_LIMIT]], len(rows) > VEHICLE_SEARCH_LIMIT


async def vehicle_choice(session: AsyncSession, vehicle_id: int) -> VehicleChoice | None:
    row = (await session.execute(_vehicle_query().where(Vehicle.id == vehicle_id))).first()
    return None if row is None else _to_vehicle_choice(row)


async def has_vehicles(session: AsyncSession) -> bool:
    return await session.scalar(select(Vehicle.id).limit(1)) is not None


@dataclass(frozen=True)
class Assignment:
    """A job's current technician and bay with what they can be changed to (the Assign form)."""

    card: Card
    technicians: list[tuple[int, str]]
    bays: list[tuple[int, str]]


async def assignment(session: AsyncSession, work_order_id: int) -> Assignment | None:
    found = await card(session, work_order_id)
    if found is None:
        return None
    technicians = await active_technicians(session)
    bays = await active_bays(session)
    # The job's own technician and bay stay choosable even when no longer active, so that changing
    # one of them does not silently drop the other.
    if found.technician_id is not None and found.technician_id not in dict(technicians):
        technicians.append((found.technician_id, found.technician_name or ""))
    if found.bay_id is not None and found.bay_id not in dict(bays):
        bays.append((found.bay_id, found.bay_name or ""))
    return Assignment(found, technicians, bays)


@dataclass(frozen=True)
class BayChoice:
    """A job that may not go into work on the bay it has (none, or one another job is in), and the
    free bays it could go into work on instead (the board's bay dialog)."""

    card: Card
    bays: list[tuple[int, str]]
    # The job in the card's bay now, when there is one.
    holder: str | None


async def bay_choice(session: AsyncSession, work_order_id: int) -> BayChoice | None:
    found = await card(session, work_order_id)
    if found is None:
        return None
    holder = None
    if found.bay_id is not None:
        number = await session.scalar(
            select(WorkOrder.number).where(
                WorkOrder.occupied_bay_id == found.bay_id, WorkOrder.id != work_order_id
            )
        )
        holder = None if number is None else format_work_order_number(number)
    return BayChoice(found, await free_bays(session, work_order_id), holder)
