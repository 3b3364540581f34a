"""Test data for the work-order page: parts in stock and lines, through the real services."""

from __future__ import annotations

import secrets
from decimal import Decimal

from sqlalchemy import select

from ops.db import Database
from ops.workshop.models import Part, WorkOrderLine
from ops.workshop.parts.service import NewPart, create_part
from tests.factories import TenantHandle


async def stocked_part(
    shop: TenantHandle,
    *,
    on_hand: str = "10",
    price: str = "45.00",
    name: str = "Brake pad set",
    sku: str | None = None,
    unit: str = "pc",
) -> Part:
    async with shop.db.uow(shop.admin.actor) as uow:
        return await create_part(
            uow,
            NewPart(
                sku=sku or f"BP-{secrets.token_hex(3).upper()}",
                name=name,
                price=Decimal(price),
                cost=Decimal("20"),
                opening_stock=Decimal(on_hand),
                unit=unit,
            ),
        )


async def part_levels(db: Database, tenant_id: int, part_id: int) -> tuple[Decimal, Decimal]:
    """(on hand, reserved) as stored."""
    async with db.read(tenant_id) as session:
        part = (await session.execute(select(Part).where(Part.id == part_id))).scalar_one()
    return part.on_hand, part.reserved


async def lines_of(db: Database, tenant_id: int, work_order_id: int) -> list[WorkOrderLine]:
    async with db.read(tenant_id) as session:
        rows = await session.scalars(
            select(WorkOrderLine)
            .where(WorkOrderLine.work_order_id == work_order_id)
            .order_by(WorkOrderLine.position)
        )
        return list(rows)
