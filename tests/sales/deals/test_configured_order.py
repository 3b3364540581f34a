"""A configured (factory) order: the customer accepts a quote for a trim with options, not for a car in
stock. The deal is made at once; the car is assigned when a unit of that trim is in stock, and nothing
can be delivered before."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

import pytest

from ops.auth.actor import RuleViolation
from ops.db import utcnow
from ops.sales.deals.service import (
    assign_unit,
    complete_delivery,
    create_deal,
    mark_ready_for_delivery,
    record_deposit,
)
from ops.sales.models import CatalogTrim, Deal, Lead, Quote, StockUnit
from tests.factories import TenantHandle
from tests.sales.deals.helpers import events_of, stored
from tests.web import sign_in

_numbers = itertools.count(500_000)


async def configured_quote(shop: TenantHandle, lead: Lead, trim: CatalogTrim) -> Quote:
    """An accepted quote for a trim, as the configurator leaves it when the customer accepts."""
    async with shop.db.uow(shop.admin.actor) as uow:
        quote = Quote(
            number=next(_numbers),
            lead_id=lead.id,
            customer_id=lead.customer_id,
            stock_unit_id=None,
            trim_id=trim.id,
            status="ACCEPTED",
            vehicle_price=Decimal("41000.00"),
            vehicle_cost=Decimal("35000.00"),
            vat_rate=Decimal("8.10"),
            net=Decimal("41000.00"),
            vat=Decimal("3321.00"),
            total=Decimal("44321.00"),
            gross_margin=Decimal("6000.00"),
            down_payment=Decimal("0"),
            amount_financed=Decimal("0"),
            accepted_at=utcnow(),
        )
        uow.session.add(quote)
        await uow.commit()
    return quote


async def ordered_deal(shop: TenantHandle, trim: CatalogTrim) -> Deal:
    rep = await shop.user("sales_rep", locale="en")
    lead = await shop.lead(owner=rep)
    quote = await configured_quote(shop, lead, trim)
    async with shop.db.uow(rep.actor) as uow:
        return await create_deal(uow, quote.id)


async def test_an_ordered_car_is_sold_once_it_is_assigned_and_not_delivered_before(factory):
    shop = await factory.tenant()
    ordered = await shop.trim(model="Enyaq", trim="Sportline")
    other = await shop.trim(model="Octavia", trim="Style")
    deal = await ordered_deal(shop, ordered)
    assert deal.stock_unit_id is None and deal.status == "OPEN"

    async with shop.db.uow(shop.admin.actor) as uow:
        await record_deposit(uow, deal.id, deal.deposit_due, "bank transfer")
    with pytest.raises(RuleViolation, match="Assign the car first"):
        async with shop.db.uow(shop.admin.actor) as uow:
            await mark_ready_for_delivery(uow, deal.id)

    wrong = await shop.stock_unit(trim=other)
    with pytest.raises(RuleViolation, match="another model or trim"):
        async with shop.db.uow(shop.admin.actor) as uow:
            await assign_unit(uow, deal.id, wrong.id)
    assert (await stored(shop.db, shop.id, StockUnit, wrong.id)).status == "AVAILABLE"

    arriving = await shop.stock_unit(trim=ordered, status="INCOMING")
    async with shop.db.uow(shop.admin.actor) as uow:
        await assign_unit(uow, deal.id, arriving.id)
    unit = await stored(shop.db, shop.id, StockUnit, arriving.id)
    assert unit.status == "SOLD" and unit.deal_id == deal.id
    assert len(await events_of(shop.db, shop.id, "deal.unit_assigned")) == 1
    with pytest.raises(RuleViolation, match="has its car already"):
        async with shop.db.uow(shop.admin.actor) as uow:
            await assign_unit(uow, deal.id, arriving.id)

    async with shop.db.uow(shop.admin.actor) as uow:
        await mark_ready_for_delivery(uow, deal.id)
    async with shop.db.uow(shop.admin.actor) as uow:
        delivery = await complete_delivery(uow, deal.id)
    assert delivery.vehicle.vin == arriving.vin and delivery.deal.status == "DELIVERED"


async def test_two_orders_racing_for_the_one_arriving_car_end_with_one_owner(factory):
    shop = await factory.tenant()
    ordered = await shop.trim(model="Enyaq", trim="Sportline")
    first, second = await ordered_deal(shop, ordered), await ordered_deal(shop, ordered)
    car = await shop.stock_unit(trim=ordered, status="INCOMING")

    async def take(deal: Deal) -> str:
        try:
            async with shop.db.uow(shop.admin.actor) as uow:
                await assign_unit(uow, deal.id, car.id)
        except RuleViolation:
            return "refused"
        return "assigned"

    outcomes = await asyncio.gather(take(first), take(second))

    assert sorted(outcomes) == ["assigned", "refused"]
    owners = [
        deal.id
        for deal in (
            await stored(shop.db, shop.id, Deal, first.id),
            await stored(shop.db, shop.id, Deal, second.id),
        )
        if deal.stock_unit_id == car.id
    ]
    assert owners == [(await stored(shop.db, shop.id, StockUnit, car.id)).deal_id]


async def test_the_deal_page_offers_the_units_of_the_ordered_trim(client, factory):
    shop = await factory.tenant()
    ordered = await shop.trim(model="Enyaq", trim="Sportline")
    deal = await ordered_deal(shop, ordered)
    manager = await shop.user("sales_manager", locale="en")
    csrf = await sign_in(client, manager.email)

    page = await (await client.get(f"/sales/deals/{deal.id}")).get_data(as_text=True)
    assert "Configured order" in page and "No unit of this trim is in stock" in page

    car = await shop.stock_unit(trim=ordered, status="INCOMING")
    await shop.stock_unit(trim=await shop.trim(model="Kodiaq"))  # another trim: not offered
    page = await (await client.get(f"/sales/deals/{deal.id}")).get_data(as_text=True)
    assert page.count("<option value=") - page.count('<option value="">') == 1
    assert car.vin in page

    missing = await client.post(
        f"/sales/deals/{deal.id}/unit", form={"csrf_token": csrf, "version": str(deal.version)}
    )
    assert missing.status_code == 422 and "Choose the car." in await missing.get_data(as_text=True)

    done = await client.post(
        f"/sales/deals/{deal.id}/unit",
        form={"csrf_token": csrf, "version": str(deal.version), "unit_id": str(car.id)},
    )
    assert done.status_code == 302
    page = await (await client.get(f"/sales/deals/{deal.id}")).get_data(as_text=True)
    assert "Assign the car" not in page and car.vin in page
    assert "The ordered car was assigned to the deal." in page
