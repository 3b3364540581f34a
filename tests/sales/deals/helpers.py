"""Helpers for the deal tests: an accepted quote on a unit (the QUOTES area builds real ones through the
configurator; here the row is inserted as it would stand after the customer accepted), and rows read
back."""

from __future__ import annotations

import itertools
from decimal import Decimal

from sqlalchemy import select

from ops.db import Database, utcnow
from ops.events import Event
from ops.sales.deals.service import create_deal
from ops.sales.models import Deal, DealPayment, Lead, Quote, StockUnit
from ops.sales.stock.service import reserve_unit
from ops.vehicles.models import Vehicle
from tests.factories import TenantHandle, UserHandle

_quote_numbers = itertools.count(1)


async def quote_for(
    shop: TenantHandle,
    lead: Lead,
    unit: StockUnit,
    *,
    status: str = "ACCEPTED",
    total: str = "39888.90",
    net: str = "36900.00",
    margin: str = "5900.00",
    down_payment: str = "0",
    financed: str = "0",
) -> Quote:
    async with shop.db.uow(shop.admin.actor) as uow:
        quote = Quote(
            number=next(_quote_numbers),
            lead_id=lead.id,
            customer_id=lead.customer_id,
            stock_unit_id=unit.id,
            trim_id=unit.trim_id,
            status=status,
            vehicle_price=Decimal(net),
            vehicle_cost=unit.cost,
            vat_rate=Decimal("8.10"),
            net=Decimal(net),
            vat=Decimal(total) - Decimal(net),
            total=Decimal(total),
            gross_margin=Decimal(margin),
            down_payment=Decimal(down_payment),
            amount_financed=Decimal(financed),
            apr_percent=Decimal("3.9") if Decimal(financed) else None,
            term_months=48 if Decimal(financed) else None,
            accepted_at=utcnow() if status == "ACCEPTED" else None,
        )
        uow.session.add(quote)
        await uow.commit()
    return quote


async def sale(
    shop: TenantHandle, rep: UserHandle, *, held: bool = True, **quote_values: str
) -> tuple[Lead, StockUnit, Quote]:
    """A lead of the rep's with a unit (held for the lead unless `held=False`) and an accepted quote."""
    unit = await shop.stock_unit()
    lead = await shop.lead(owner=rep)
    if held:
        async with shop.db.uow(rep.actor) as uow:
            await reserve_unit(uow, unit.id, lead.id)
    quote = await quote_for(shop, lead, unit, **quote_values)
    return lead, unit, quote


async def make_deal(shop: TenantHandle, rep: UserHandle, **quote_values: str) -> Deal:
    _lead, _unit, quote = await sale(shop, rep, **quote_values)
    async with shop.db.uow(rep.actor) as uow:
        return await create_deal(uow, quote.id)


async def stored(db: Database, tenant_id: int, model: type, row_id: int):  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        return (await session.execute(select(model).where(model.id == row_id))).scalar_one()


async def deals_of(db: Database, tenant_id: int) -> list[Deal]:
    async with db.read(tenant_id) as session:
        return list((await session.scalars(select(Deal).order_by(Deal.id))).all())


async def payments_of(db: Database, tenant_id: int, deal_id: int) -> list[DealPayment]:
    async with db.read(tenant_id) as session:
        query = select(DealPayment).where(DealPayment.deal_id == deal_id).order_by(DealPayment.id)
        return list((await session.scalars(query)).all())


async def vehicles_with_vin(db: Database, tenant_id: int, vin: str) -> list[Vehicle]:
    async with db.read(tenant_id) as session:
        return list((await session.scalars(select(Vehicle).where(Vehicle.vin == vin))).all())


async def events_of(db: Database, tenant_id: int, *types: str) -> list[Event]:
    async with db.read(tenant_id) as session:
        return list(
            (await session.scalars(select(Event).where(Event.type.in_(types)).order_by(Event.id))).all()
        )
