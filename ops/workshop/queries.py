"""Read models for the job board: cards and column counts, one query each."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ops.auth.models import User
from ops.customers.models import Customer
from ops.db import utcnow
from ops.vehicles.models import Vehicle
from ops.workshop.models import WorkOrder, WorkOrderCategory, format_work_order_number
from ops.workshop.service import OPEN_STATUSES, TRANSITIONS


@dataclass(frozen=True)
class Card:
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

    @property
    def allowed_moves(self) -> tuple[str, ...]:
        return TRANSITIONS[self.status]

    @property
    def is_overdue(self) -> bool:
        return self.promised_at is not None and self.promised_at < utcnow()


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
        )
        .join(Vehicle, Vehicle.id == WorkOrder.vehicle_id)
        .outerjoin(Customer, Customer.id == WorkOrder.customer_id)
        .outerjoin(WorkOrderCategory, WorkOrderCategory.id == WorkOrder.category_id)
        .outerjoin(technician, technician.id == WorkOrder.technician_id)
    )


def _to_card(row: tuple[object, ...]) -> Card:
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
    )


async def board_columns(session: AsyncSession) -> dict[str, list[Card]]:
    """Open work orders by status; newest arrival in a column first, as live updates insert them."""
    rows = await session.execute(
        _card_query()
        .where(WorkOrder.status.in_(OPEN_STATUSES))
        .order_by(WorkOrder.status_changed_at.desc(), WorkOrder.id.desc())
    )
    columns: dict[str, list[Card]] = {status: [] for status in OPEN_STATUSES}
    for row in rows:
        card = _to_card(tuple(row))
        columns[card.status].append(card)
    return columns


async def cards_by_id(session: AsyncSession, ids: list[int]) -> dict[int, Card]:
    rows = await session.execute(_card_query().where(WorkOrder.id.in_(ids)))
    return {card.id: card for card in (_to_card(tuple(row)) for row in rows)}


async def card(session: AsyncSession, work_order_id: int) -> Card | None:
    return (await cards_by_id(session, [work_order_id])).get(work_order_id)


async def work_order_exists(session: AsyncSession, work_order_id: int) -> bool:
    found = await session.scalar(select(WorkOrder.id).where(WorkOrder.id == work_order_id))
    return found is not None


async def column_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(WorkOrder.status, func.count())
        .where(WorkOrder.status.in_(OPEN_STATUSES))
        .group_by(WorkOrder.status)
    )
    counts = dict.fromkeys(OPEN_STATUSES, 0)
    counts.update({str(status): int(count) for status, count in rows})
    return counts


async def form_choices(session: AsyncSession) -> dict[str, list[tuple[int, str]]]:
    """Vehicles, categories and technicians for the create form."""
    vehicles = await session.execute(
        select(
            Vehicle.id, Vehicle.plate, Vehicle.make, Vehicle.model, Customer.first_name, Customer.last_name
        )
        .outerjoin(Customer, Customer.id == Vehicle.customer_id)
        .order_by(Vehicle.plate)
    )
    categories = await session.execute(
        select(WorkOrderCategory.id, WorkOrderCategory.name).order_by(WorkOrderCategory.name)
    )
    technicians = await session.execute(
        select(User.id, User.name).where(User.role == "technician", User.active.is_(True)).order_by(User.name)
    )
    return {
        "vehicles": [
            (
                int(v.id),
                f"{v.plate or '—'} · {v.make} {v.model}"
                + (f" · {v.first_name} {v.last_name}" if v.first_name else ""),
            )
            for v in vehicles
        ],
        "categories": [(int(c.id), str(c.name)) for c in categories],
        "technicians": [(int(t.id), str(t.name)) for t in technicians],
    }
