"""Building a quote from a lead: a unit in stock or a configured trim, the terms, the figures stored,
and every refusal (bad input named by field, stale versions, closed leads, other dealerships, roles)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import update

from ops.auth.actor import Conflict, NotFound, PermissionDenied, RuleViolation
from ops.sales.models import Lead, Quote
from ops.sales.quotes.service import QuoteInvalid, create_quote, update_quote
from tests.sales.quotes.helpers import (
    configurable_trim,
    count,
    events_of,
    lead_for,
    reload,
    showroom,
    terms,
    unit_quote,
    with_terms,
)


async def test_a_quote_of_a_unit_in_stock_is_priced_at_its_list_price(factory, runtime):
    room = await showroom(await factory.tenant())

    quote = await unit_quote(room, list_price="36900.00", cost="31000.00")

    stored = await reload(runtime.db, room.shop.id, quote.id)
    assert stored.code == "Q-000001"
    assert stored.status == "DRAFT"
    assert stored.vehicle_price == Decimal("36900.00")
    assert stored.vehicle_cost == Decimal("31000.00")
    assert stored.vat_rate == Decimal("8.1")
    # 36900 + 8.1 % VAT (2988.90)
    assert (stored.net, stored.vat, stored.total) == (
        Decimal("36900.00"),
        Decimal("2988.90"),
        Decimal("39888.90"),
    )
    assert stored.gross_margin == Decimal("5900.00")
    assert stored.created_by_id == room.rep.actor.user_id
    [created] = await events_of(runtime.db, room.shop.id, "quote.created")
    assert created.payload["number"] == "Q-000001"
    assert f"customer:{stored.customer_id}" in created.topics and "sales" in created.topics


async def test_quote_numbers_follow_each_other_also_when_created_at_once(factory, runtime):
    room = await showroom(await factory.tenant())
    lead = await lead_for(room)
    units = [await room.shop.stock_unit() for _ in range(4)]

    async def build(unit_id: int) -> Quote:
        async with runtime.db.uow(room.rep.actor) as uow:
            return await create_quote(uow, lead.id, stock_unit_id=unit_id)

    quotes = await asyncio.gather(*(build(unit.id) for unit in units))

    assert sorted(quote.code for quote in quotes) == ["Q-000001", "Q-000002", "Q-000003", "Q-000004"]


async def test_a_configured_trim_is_priced_at_its_msrp_with_the_options(factory, runtime):
    room = await showroom(await factory.tenant())
    trim = await configurable_trim(room.shop)
    lead = await lead_for(room)

    async with runtime.db.uow(room.rep.actor) as uow:
        quote = await create_quote(uow, lead.id, trim_id=trim.id, option_codes=["SPORT", "BLUE", "W19"])

    stored = await reload(runtime.db, room.shop.id, quote.id)
    assert stored.vehicle_price == Decimal("40000.00")
    # Stored in the catalog's order, whatever order they were chosen in.
    assert stored.option_codes == ["BLUE", "W19", "SPORT"]
    # 40000 + 950 + 1200 + 2500 = 44650 net, VAT 3240 + 76.95 + 97.20 + 202.50
    assert stored.net == Decimal("44650.00")
    assert stored.vat == Decimal("3616.65")
    assert stored.total == Decimal("48266.65")


async def test_a_configuration_that_breaks_a_rule_is_refused_and_nothing_is_written(factory, runtime):
    room = await showroom(await factory.tenant())
    trim = await configurable_trim(room.shop)
    lead = await lead_for(room)

    with pytest.raises(QuoteInvalid) as refused:
        async with runtime.db.uow(room.rep.actor) as uow:
            await create_quote(
                uow, lead.id, trim_id=trim.id, option_codes=["WHITE", "W18", "SPORT", "TOWBAR", "DIFFUSER"]
            )

    message = refused.value.errors["options"]
    assert "Sport package requires 19-inch wheels" in message
    assert "Towbar conflicts with Rear diffuser" in message
    assert await count(runtime.db, room.shop.id, Quote) == 0


async def test_the_terms_are_priced_and_stored(factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await unit_quote(room, list_price="38500.00", cost="33000.00")

    quote = await with_terms(
        room,
        quote,
        accessories=[("Floor mats", "189.90"), ("", "")],
        fees=[("Delivery and registration", "450")],
        discount="1'500",
        trade_in_allowance="8000",
        trade_in_payoff="9500.00",
        down_payment="5000",
        apr_percent="3.9",
        term_months="48",
    )

    stored = await reload(runtime.db, room.shop.id, quote.id)
    assert stored.accessories == [{"name": "Floor mats", "price": "189.90"}]
    assert stored.fees == [{"name": "Delivery and registration", "price": "450.00"}]
    assert stored.discount == Decimal("1500.00")
    # 38500 + 189.90 + 450 - 1500 = 37639.90; VAT 3118.50 + 15.38 + 36.45 - 121.50 = 3048.83
    assert (stored.net, stored.vat, stored.total) == (
        Decimal("37639.90"),
        Decimal("3048.83"),
        Decimal("40688.73"),
    )
    # Financed: 40688.73 - 5000 - (8000 - 9500) = 37188.73, at 3.9 % over 48 months.
    assert stored.amount_financed == Decimal("37188.73")
    assert stored.monthly_payment == Decimal("838.02")
    assert stored.gross_margin == Decimal("4000.00")
    assert stored.version == 2


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"discount": "lots"}, "discount"),
        ({"discount": "-10"}, "discount"),
        ({"discount": "10.555"}, "discount"),
        ({"discount": "50000"}, "discount"),
        ({"apr_percent": "3.9"}, "term_months"),
        ({"term_months": "48"}, "apr_percent"),
        ({"apr_percent": "31", "term_months": "12"}, "apr_percent"),
        ({"apr_percent": "3", "term_months": "0"}, "term_months"),
        ({"accessories": [("Roof box", "")]}, "accessory-0-price"),
        ({"fees": [("", "120")]}, "fee-0-name"),
        ({"down_payment": "60000"}, "down_payment"),
    ],
)
async def test_a_bad_term_is_named_by_its_field_and_nothing_is_written(factory, runtime, values, field):
    room = await showroom(await factory.tenant())
    quote = await unit_quote(room)
    before = await reload(runtime.db, room.shop.id, quote.id)

    with pytest.raises(QuoteInvalid) as refused:
        await with_terms(room, quote, **values)

    assert field in refused.value.errors
    after = await reload(runtime.db, room.shop.id, quote.id)
    assert (after.version, after.discount, after.total) == (before.version, before.discount, before.total)


async def test_a_stale_version_is_a_conflict_with_the_quote_as_it_is(factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await unit_quote(room)
    await with_terms(room, quote, discount="100")

    with pytest.raises(Conflict) as conflict:
        await with_terms(room, quote, discount="200")  # still version 1

    assert conflict.value.current["discount"] == Decimal("100.00")
    assert (await reload(runtime.db, room.shop.id, quote.id)).discount == Decimal("100.00")


async def test_a_closed_lead_gets_no_new_quote(factory, runtime):
    room = await showroom(await factory.tenant())
    lead = await lead_for(room)
    async with runtime.db.uow(room.shop.admin.actor) as uow:
        await uow.session.execute(
            update(Lead).where(Lead.id == lead.id).values(stage="LOST", lost_reason="PRICE")
        )
        await uow.commit()
    unit = await room.shop.stock_unit()

    with pytest.raises(RuleViolation):
        async with runtime.db.uow(room.rep.actor) as uow:
            await create_quote(uow, lead.id, stock_unit_id=unit.id)


async def test_a_sold_unit_cannot_be_quoted(factory, runtime):
    room = await showroom(await factory.tenant())
    lead = await lead_for(room)
    unit = await room.shop.stock_unit(status="SOLD")

    with pytest.raises(RuleViolation):
        async with runtime.db.uow(room.rep.actor) as uow:
            await create_quote(uow, lead.id, stock_unit_id=unit.id)


async def test_only_sales_people_build_and_change_quotes(factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await unit_quote(room)
    lead = await lead_for(room)
    unit = await room.shop.stock_unit()

    for role in ("viewer", "technician", "service_advisor"):
        person = await room.shop.user(role)
        with pytest.raises(PermissionDenied):
            async with runtime.db.uow(person.actor) as uow:
                await create_quote(uow, lead.id, stock_unit_id=unit.id)
        with pytest.raises(PermissionDenied):
            async with runtime.db.uow(person.actor) as uow:
                await update_quote(uow, quote.id, terms(discount="10"), quote.version)


async def test_another_dealerships_quote_and_lead_are_not_found(factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await unit_quote(room)
    other = await showroom(await factory.tenant())
    unit = await other.shop.stock_unit()

    with pytest.raises(NotFound):
        await with_terms(other, quote, discount="10")
    with pytest.raises(NotFound):
        async with runtime.db.uow(other.rep.actor) as uow:
            await create_quote(uow, quote.lead_id, stock_unit_id=unit.id)
    assert (await reload(runtime.db, room.shop.id, quote.id)).version == 1
