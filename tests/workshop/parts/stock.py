"""Helpers for the parts tests: parts made through the real service, and the ledger read back."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from ops.db import Database
from ops.events import Event
from ops.workshop.models import Part, StockMovement
from ops.workshop.parts.service import NewPart, create_part
from tests.factories import TenantHandle


async def new_part(
    shop: TenantHandle,
    *,
    sku: str = "BP-001",
    name: str = "Brake pads front",
    stock: str = "0",
    reorder_point: str = "0",
    price: str = "89.50",
    supplier: str | None = "Bosch",
    unit: str = "pc",
) -> Part:
    async with shop.db.uow(shop.admin.actor) as uow:
        return await create_part(
            uow,
            NewPart(
                sku=sku,
                name=name,
                opening_stock=Decimal(stock),
                reorder_point=Decimal(reorder_point),
                price=Decimal(price),
                cost=Decimal("40.00"),
                supplier=supplier,
                unit=unit,
            ),
        )


async def levels(db: Database, tenant_id: int, part_id: int) -> tuple[Decimal, Decimal]:
    """(on hand, reserved) as committed."""
    async with db.read(tenant_id) as session:
        part = (await session.execute(select(Part).where(Part.id == part_id))).scalar_one()
    return part.on_hand, part.reserved


async def movements(db: Database, tenant_id: int, part_id: int) -> list[StockMovement]:
    async with db.read(tenant_id) as session:
        query = select(StockMovement).where(StockMovement.part_id == part_id).order_by(StockMovement.id)
        return list((await session.scalars(query)).all())


async def events(db: Database, tenant_id: int, *types: str) -> list[Event]:
    async with db.read(tenant_id) as session:
        query = select(Event).order_by(Event.id)
        if types:
            query = query.where(Event.type.in_(types))
        return list((await session.scalars(query)).all())
