"""Helpers for the stock tests: a unit's committed state, its holds and the events recorded."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from ops.db import Database
from ops.events import Event
from ops.sales.models import Deal, Quote, Reservation, StockUnit, TestDrive
from tests.factories import TenantHandle


async def unit_state(db: Database, tenant_id: int, unit_id: int) -> StockUnit:
    async with db.read(tenant_id) as session:
        return (await session.execute(select(StockUnit).where(StockUnit.id == unit_id))).scalar_one()


async def holds(db: Database, tenant_id: int, unit_id: int) -> list[Reservation]:
    async with db.read(tenant_id) as session:
        query = select(Reservation).where(Reservation.stock_unit_id == unit_id).order_by(Reservation.id)
        return list((await session.scalars(query)).all())


async def drives(db: Database, tenant_id: int, unit_id: int) -> list[TestDrive]:
    async with db.read(tenant_id) as session:
        query = select(TestDrive).where(TestDrive.stock_unit_id == unit_id).order_by(TestDrive.id)
        return list((await session.scalars(query)).all())


async def events(db: Database, tenant_id: int, *types: str) -> list[Event]:
    async with db.read(tenant_id) as session:
        query = select(Event).order_by(Event.id)
        if types:
            query = query.where(Event.type.in_(types))
        return list((await session.scalars(query)).all())


async def new_deal(shop: TenantHandle, lead_id: int, customer_id: int, number: int = 1) -> Deal:
    """A bare deal row for the unit hand-over functions (the deals area creates real ones)."""
    async with shop.db.uow(shop.admin.actor) as uow:
        quote = Quote(
            number=number,
            lead_id=lead_id,
            customer_id=customer_id,
            status="ACCEPTED",
            vehicle_price=Decimal("30000"),
            vat_rate=Decimal("8.1"),
        )
        uow.session.add(quote)
        await uow.session.flush()
        deal = Deal(
            number=number, quote_id=quote.id, lead_id=lead_id, customer_id=customer_id, total=Decimal("30000")
        )
        uow.session.add(deal)
        await uow.commit()
    return deal
