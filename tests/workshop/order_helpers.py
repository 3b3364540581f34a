"""Setting up work orders for lifecycle tests: bays, parts and lines written directly, moves through
the real services, and reading back what is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from ops.auth.actor import Actor
from ops.db import Database
from ops.events import Event
from ops.seed.data import path_to
from ops.vehicles.models import Vehicle
from ops.workshop.models import Bay, Invoice, Part, StockMovement, WorkOrder, WorkOrderHistory, WorkOrderLine
from ops.workshop.service import IN_BAY_STATUSES, TRANSITIONS, assign_work_order, move_work_order
from tests.factories import TenantHandle

# A Monday morning well in the future, so that no slot is in the past.
MONDAY = datetime(2031, 3, 3, 8, 0, tzinfo=UTC)


def hours(start: float, end: float) -> tuple[datetime, datetime]:
    """A slot on MONDAY from `start` to `end` hours after 08:00 UTC."""
    return MONDAY + timedelta(hours=start), MONDAY + timedelta(hours=end)


async def add_bay(shop: TenantHandle, name: str = "Lift 1", *, active: bool = True) -> Bay:
    async with shop.db.uow(shop.admin.actor) as uow:
        bay = Bay(name=name, kind="LIFT", active=active)
        uow.session.add(bay)
        await uow.commit()
    return bay


async def add_part(
    shop: TenantHandle, sku: str, name: str, *, on_hand: str, price: str = "10.00", unit: str = "pc"
) -> Part:
    async with shop.db.uow(shop.admin.actor) as uow:
        part = Part(
            sku=sku, name=name, unit=unit, on_hand=Decimal(on_hand), reserved=Decimal(0), price=Decimal(price)
        )
        uow.session.add(part)
        await uow.commit()
    return part


async def add_line(
    shop: TenantHandle,
    work_order: WorkOrder,
    *,
    kind: str = "LABOUR",
    description: str = "Labour",
    quantity: str = "1",
    unit_price: str = "100.00",
    part: Part | None = None,
    reserved: str = "0",
    approval: str = "APPROVED",
) -> WorkOrderLine:
    """A line as the jobs area stores it; `reserved` is also held on the part, as a reservation is."""
    async with shop.db.uow(shop.admin.actor) as uow:
        line = WorkOrderLine(
            work_order_id=work_order.id,
            kind=kind,
            description=description,
            part_id=part.id if part else None,
            quantity=Decimal(quantity),
            unit_price=Decimal(unit_price),
            reserved_quantity=Decimal(reserved),
            approval=approval,
        )
        uow.session.add(line)
        if part is not None and Decimal(reserved):
            stored = await uow.session.get_one(Part, part.id)
            stored.reserved += Decimal(reserved)
        await uow.commit()
    return line


async def move(shop: TenantHandle, work_order: WorkOrder, *steps: str, by: Actor | None = None) -> WorkOrder:
    """Move through `steps`; a job going into work without a bay is first given one of its own, as a job
    in work must have one (tests of that rule call move_work_order themselves)."""
    for step in steps:
        if step in IN_BAY_STATUSES and work_order.bay_id is None:
            work_order = await give_bay(shop, work_order)
        async with shop.db.uow(by or shop.admin.actor) as uow:
            work_order = await move_work_order(uow, work_order.id, step, work_order.version)
    return work_order


async def give_bay(shop: TenantHandle, work_order: WorkOrder) -> WorkOrder:
    """A new bay of its own for `work_order`, assigned as the Assign form does."""
    bay = await add_bay(shop, f"Lift #{work_order.number}")
    async with shop.db.uow(shop.admin.actor) as uow:
        return await assign_work_order(
            uow, work_order.id, work_order.technician_id, bay.id, work_order.version
        )


def path_between(from_status: str, to_status: str) -> list[str]:
    """The shortest chain of allowed moves between two statuses."""
    if from_status == "NEW":
        return path_to(to_status)
    paths = [[from_status]]
    while paths:
        path = paths.pop(0)
        if path[-1] == to_status:
            return path[1:]
        paths.extend([*path, step] for step in TRANSITIONS[path[-1]] if step not in path)
    raise ValueError(to_status)


async def stored(db: Database, tenant_id: int, model: type[Any], row_id: int) -> Any:
    async with db.read(tenant_id) as session:
        return (await session.execute(select(model).where(model.id == row_id))).scalar_one()


async def history(db: Database, tenant_id: int, work_order_id: int) -> list[WorkOrderHistory]:
    async with db.read(tenant_id) as session:
        rows = await session.scalars(
            select(WorkOrderHistory)
            .where(WorkOrderHistory.work_order_id == work_order_id)
            .order_by(WorkOrderHistory.id)
        )
        return list(rows)


async def event_types(db: Database, tenant_id: int) -> list[str]:
    async with db.read(tenant_id) as session:
        return list(await session.scalars(select(Event.type).order_by(Event.id)))


async def snapshot(db: Database, tenant_id: int, work_order_id: int) -> dict[str, Any]:
    """Everything a completion touches, to show that a refused one changed none of it."""
    async with db.read(tenant_id) as session:
        order = (await session.execute(select(WorkOrder).where(WorkOrder.id == work_order_id))).scalar_one()
        parts = [(p.id, p.on_hand, p.reserved) for p in await session.scalars(select(Part).order_by(Part.id))]
        lines = [
            (line.id, line.reserved_quantity, line.used)
            for line in await session.scalars(
                select(WorkOrderLine)
                .where(WorkOrderLine.work_order_id == work_order_id)
                .order_by(WorkOrderLine.id)
            )
        ]
        vehicle = (await session.execute(select(Vehicle).where(Vehicle.id == order.vehicle_id))).scalar_one()
        return {
            "order": (order.status, order.version, order.completed_at, order.occupied_bay_id),
            "parts": parts,
            "lines": lines,
            "vehicle": (vehicle.odometer_km, vehicle.last_service_on),
            "invoices": await session.scalar(select(func.count()).select_from(Invoice)),
            "movements": await session.scalar(select(func.count()).select_from(StockMovement)),
            "events": await session.scalar(select(func.count()).select_from(Event)),
            "history": await session.scalar(select(func.count()).select_from(WorkOrderHistory)),
        }
