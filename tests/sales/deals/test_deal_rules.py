"""Deals by their rules, on both backends: made only from an accepted quote, one per quote and one per
unit even under a race; the deposit keeps the car held; cancelling gives the car back and refunds exactly
the deposit; delivery hands the car over and gives the customer its vehicle profile."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from ops.auth.actor import Conflict, NotFound, PermissionDenied, RuleViolation
from ops.db import utcnow
from ops.events import Event
from ops.sales.deals.service import (
    DealExists,
    approve_financing,
    cancel_deal,
    complete_delivery,
    create_deal,
    mark_ready_for_delivery,
    record_deposit,
    schedule_delivery,
)
from ops.sales.models import Deal, Lead, Quote, Reservation, StockUnit
from ops.sales.stock.service import UnitInDeal, book_test_drive, expire_holds, reserve_unit
from ops.vehicles.models import Vehicle
from tests.sales.deals.helpers import (
    deals_of,
    events_of,
    make_deal,
    payments_of,
    quote_for,
    sale,
    stored,
    vehicles_with_vin,
)


async def _deal_of(shop, rep, quote_id: int) -> Deal:  # type: ignore[no-untyped-def]
    async with shop.db.uow(rep.actor) as uow:
        return await create_deal(uow, quote_id)


async def _deposit(shop, user, deal: Deal, amount: str = "3989", reference: str = "Kasse 0815"):  # type: ignore[no-untyped-def]
    async with shop.db.uow(user.actor) as uow:
        return await record_deposit(uow, deal.id, amount, reference)


async def _deliverable(shop, rep, **quote_values: str) -> Deal:  # type: ignore[no-untyped-def]
    deal = await make_deal(shop, rep, **quote_values)
    await _deposit(shop, rep, deal)
    async with shop.db.uow(rep.actor) as uow:
        return await mark_ready_for_delivery(uow, deal.id)


# --- Creating a deal --------------------------------------------------------------------------------------


async def test_an_accepted_quote_becomes_deal_d000001_the_unit_is_sold_and_the_lead_won(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", name="Rita Rep")
    lead, unit, quote = await sale(shop, rep)

    deal = await _deal_of(shop, rep, quote.id)

    assert (deal.code, deal.status, deal.quote_id, deal.rep_id) == (
        "D-000001",
        "OPEN",
        quote.id,
        rep.actor.user_id,
    )
    assert (deal.total, deal.gross_profit, deal.financed) == (Decimal("39888.90"), Decimal("5900.00"), False)
    # No down payment on the quote: a tenth of the total, in whole francs.
    assert deal.deposit_due == Decimal("3989")
    sold: StockUnit = await stored(runtime.db, shop.id, StockUnit, unit.id)
    assert (sold.status, sold.deal_id, sold.held_by_reservation_id) == ("SOLD", deal.id, None)
    won: Lead = await stored(runtime.db, shop.id, Lead, lead.id)
    assert won.stage == "WON" and won.closed_at is not None
    (created,) = await events_of(runtime.db, shop.id, "deal.created")
    assert created.topics == ["sales", f"customer:{lead.customer_id}", f"user:{rep.actor.user_id}", "kpi"]
    assert created.payload["deal_id"] == deal.id and created.payload["quote_id"] == quote.id
    assert [e.payload["to"] for e in await events_of(runtime.db, shop.id, "lead.moved")] == ["WON"]


async def test_the_next_deal_is_d000002_and_the_down_payment_is_the_deposit_due(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    await make_deal(shop, rep)

    second = await make_deal(shop, rep, down_payment="5000.00")

    assert (second.code, second.deposit_due) == ("D-000002", Decimal("5000.00"))


@pytest.mark.parametrize("status", ["DRAFT", "PENDING_APPROVAL", "APPROVED", "SENT", "DECLINED", "EXPIRED"])
async def test_only_an_accepted_quote_becomes_a_deal(runtime, factory, status):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    lead, unit, quote = await sale(shop, rep, status=status)

    with pytest.raises(RuleViolation, match="not accepted") as refused:
        await _deal_of(shop, rep, quote.id)

    assert refused.value.field == "quote_id"
    assert await deals_of(runtime.db, shop.id) == []
    unchanged: StockUnit = await stored(runtime.db, shop.id, StockUnit, unit.id)
    assert (unchanged.status, unchanged.deal_id) == ("RESERVED", None)
    assert (await stored(runtime.db, shop.id, Lead, lead.id)).stage == "QUALIFIED"


async def test_two_reps_turning_the_same_quote_into_a_deal_at_once_make_one_deal(runtime, factory):
    """Two deals of one quote would sell the car twice and count the sale twice."""
    shop = await factory.tenant()
    reps = [await shop.user("sales_rep", name=f"Rep {n}") for n in range(3)]
    _lead, unit, quote = await sale(shop, reps[0])

    async def attempt(index: int) -> object:
        try:
            return await _deal_of(shop, reps[index], quote.id)
        except (DealExists, Conflict) as refused:
            return refused

    outcomes = await asyncio.gather(*(attempt(index) for index in range(3)))

    made = [outcome for outcome in outcomes if isinstance(outcome, Deal)]
    assert len(made) == 1
    refusals = [outcome for outcome in outcomes if not isinstance(outcome, Deal)]
    assert all(isinstance(refusal, DealExists) and refusal.deal_code == "D-000001" for refusal in refusals)
    assert all("already deal D-000001" in str(refusal) for refusal in refusals)
    assert [d.id for d in await deals_of(runtime.db, shop.id)] == [made[0].id]
    assert (await stored(runtime.db, shop.id, StockUnit, unit.id)).deal_id == made[0].id


async def test_a_second_deal_on_the_same_unit_is_refused_naming_the_deal_that_has_it(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    _lead, unit, quote = await sale(shop, rep, held=False)
    other_lead = await shop.lead(owner=rep, last_name="Zweit")
    other_quote = await quote_for(shop, other_lead, unit)
    first = await _deal_of(shop, rep, quote.id)

    with pytest.raises(UnitInDeal, match="in deal D-000001"):
        await _deal_of(shop, rep, other_quote.id)

    assert [d.id for d in await deals_of(runtime.db, shop.id)] == [first.id]
    assert (await stored(runtime.db, shop.id, Lead, other_lead.id)).stage == "QUALIFIED"


async def test_a_unit_in_a_deal_cannot_be_reserved_or_test_driven(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    deal = await make_deal(shop, rep)
    other_lead = await shop.lead(owner=rep, last_name="Andere")
    starts = utcnow() + timedelta(hours=2)

    with pytest.raises(UnitInDeal, match="D-000001"):
        async with shop.db.uow(rep.actor) as uow:
            await reserve_unit(uow, deal.stock_unit_id, other_lead.id)
    with pytest.raises(UnitInDeal, match="D-000001"):
        async with shop.db.uow(rep.actor) as uow:
            await book_test_drive(
                uow, deal.stock_unit_id, other_lead.id, starts, starts + timedelta(minutes=30)
            )


async def test_a_quote_without_a_car_or_of_a_lost_lead_makes_no_deal(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    _lead, unit, quote = await sale(shop, rep, held=False)
    async with shop.db.uow(shop.admin.actor) as uow:
        row = await uow.session.get_one(Quote, quote.id)
        row.stock_unit_id = None
        row.trim_id = None
        await uow.commit()
    with pytest.raises(RuleViolation, match="names no car"):
        await _deal_of(shop, rep, quote.id)

    lost = await shop.lead(owner=rep, last_name="Verloren")
    async with shop.db.uow(shop.admin.actor) as uow:
        row_lead = await uow.session.get_one(Lead, lost.id)
        row_lead.stage = "LOST"
        await uow.commit()
    lost_quote = await quote_for(shop, lost, unit)
    with pytest.raises(RuleViolation, match="closed as lost"):
        await _deal_of(shop, rep, lost_quote.id)
    assert await deals_of(runtime.db, shop.id) == []


# --- Deposit ----------------------------------------------------------------------------------------------


async def test_the_deposit_is_recorded_by_hand_and_the_held_car_never_expires(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    deal = await make_deal(shop, rep)

    payment = await _deposit(shop, rep, deal, amount="3'989.00", reference="Quittung 4711")

    assert (payment.kind, payment.method, payment.amount, payment.reference) == (
        "DEPOSIT",
        "MANUAL",
        Decimal("3989.00"),
        "Quittung 4711",
    )
    assert (await stored(runtime.db, shop.id, Deal, deal.id)).status == "DEPOSIT_PAID"
    # The hold the rep had became the deal's: the hold timer three days on leaves the car alone.
    await expire_holds(runtime.db, utcnow() + timedelta(days=3))
    unit: StockUnit = await stored(runtime.db, shop.id, StockUnit, deal.stock_unit_id)
    assert (unit.status, unit.deal_id) == ("SOLD", deal.id)
    async with runtime.db.read(shop.id) as session:
        holds = (await session.scalars(select(Reservation).where(Reservation.stock_unit_id == unit.id))).all()
    assert [(hold.status, hold.expires_at) for hold in holds] == [("CONVERTED", None)]
    (recorded,) = await events_of(runtime.db, shop.id, "deal.deposit_recorded")
    assert recorded.payload["amount"] == "3989.00" and "notice" not in recorded.payload


async def test_a_manager_recording_the_deposit_tells_the_rep(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    manager = await shop.user("sales_manager", name="Reto Baumann")
    deal = await make_deal(shop, rep)

    await _deposit(shop, manager, deal)

    (recorded,) = await events_of(runtime.db, shop.id, "deal.deposit_recorded")
    assert f"user:{rep.actor.user_id}" in recorded.topics
    assert recorded.payload["notice_values"]["who"] == "Reto Baumann"


@pytest.mark.parametrize(
    ("amount", "reference", "field", "message"),
    [
        ("", "Kasse", "amount", "Enter the amount received"),
        ("abc", "Kasse", "amount", "Enter the amount received"),
        ("0", "Kasse", "amount", "above zero"),
        ("3988.99", "Kasse", "amount", "deposit due is"),
        ("10.001", "Kasse", "amount", "two decimal places"),
        ("50000", "Kasse", "amount", "more than the deal's total"),
        ("3989", "  ", "reference", "reference"),
        ("3989", "x" * 121, "reference", "at most 120"),
    ],
)
async def test_a_bad_deposit_is_refused_by_field_and_nothing_is_written(
    runtime, factory, amount, reference, field, message
):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    deal = await make_deal(shop, rep)

    with pytest.raises(RuleViolation, match=message) as refused:
        await _deposit(shop, rep, deal, amount=amount, reference=reference)

    assert refused.value.field == field
    assert await payments_of(runtime.db, shop.id, deal.id) == []
    assert (await stored(runtime.db, shop.id, Deal, deal.id)).status == "OPEN"


async def test_a_deposit_is_taken_once(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    deal = await make_deal(shop, rep)
    await _deposit(shop, rep, deal)

    with pytest.raises(RuleViolation, match="deposit paid, so it cannot be given a deposit"):
        await _deposit(shop, rep, deal)

    assert len(await payments_of(runtime.db, shop.id, deal.id)) == 1


async def test_a_stale_page_gets_a_conflict_with_the_deal_as_it_is(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    deal = await make_deal(shop, rep)
    await _deposit(shop, rep, deal)

    with pytest.raises(Conflict) as stale:
        async with shop.db.uow(rep.actor) as uow:
            await mark_ready_for_delivery(uow, deal.id, expected_version=deal.version)

    assert isinstance(stale.value.current, Deal) and stale.value.current.status == "DEPOSIT_PAID"


# --- Financing and delivery -------------------------------------------------------------------------------


async def test_a_financed_deal_waits_for_the_financing_before_delivery(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    deal = await make_deal(shop, rep, financed="30000.00")
    assert deal.financed
    await _deposit(shop, rep, deal)
    tomorrow = utcnow() + timedelta(days=1)

    with pytest.raises(RuleViolation, match="financing is not approved yet"):
        async with shop.db.uow(rep.actor) as uow:
            await schedule_delivery(uow, deal.id, tomorrow)
    async with shop.db.uow(rep.actor) as uow:
        approved = await approve_financing(uow, deal.id)
    async with shop.db.uow(rep.actor) as uow:
        scheduled = await schedule_delivery(uow, deal.id, tomorrow)

    assert approved.status == "FINANCING_APPROVED"
    assert (scheduled.status, scheduled.delivery_scheduled_at) == ("READY_FOR_DELIVERY", tomorrow)

    # Booked again for the same time: nothing changes, so the history gets no second line.
    version = (await stored(runtime.db, shop.id, Deal, deal.id)).version
    async with shop.db.uow(rep.actor) as uow:
        await schedule_delivery(uow, deal.id, tomorrow)
    async with runtime.db.read(shop.id) as session:
        booked = (await session.execute(select(Event).where(Event.type == "deal.delivery_scheduled"))).all()
    assert (await stored(runtime.db, shop.id, Deal, deal.id)).version == version and len(booked) == 1


async def test_status_refusals_say_what_comes_first(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    deal = await make_deal(shop, rep)

    with pytest.raises(RuleViolation, match="nothing to approve"):
        async with shop.db.uow(rep.actor) as uow:
            await approve_financing(uow, deal.id)
    with pytest.raises(RuleViolation, match="Record the deposit first"):
        async with shop.db.uow(rep.actor) as uow:
            await complete_delivery(uow, deal.id)
    with pytest.raises(RuleViolation, match="Record the deposit first"):
        async with shop.db.uow(rep.actor) as uow:
            await mark_ready_for_delivery(uow, deal.id)
    await _deposit(shop, rep, deal)
    with pytest.raises(RuleViolation, match=r"ready for delivery \(or schedule the hand-over\) first"):
        async with shop.db.uow(rep.actor) as uow:
            await complete_delivery(uow, deal.id)
    with pytest.raises(RuleViolation, match="has not passed") as past:
        async with shop.db.uow(rep.actor) as uow:
            await schedule_delivery(uow, deal.id, utcnow() - timedelta(minutes=1))
    assert past.value.field == "delivery_at"
    assert (await stored(runtime.db, shop.id, Deal, deal.id)).status == "DEPOSIT_PAID"


async def test_delivery_hands_the_car_over_and_creates_the_customers_vehicle_profile(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    trim = await shop.trim(make="Volvo", model="XC40", year=2025, trim="Recharge Plus", fuel_type="ELECTRIC")
    unit = await shop.stock_unit(trim=trim, colour="Sage Green", mileage_km=38)
    lead = await shop.lead(owner=rep)
    quote = await quote_for(shop, lead, unit)
    deal = await _deal_of(shop, rep, quote.id)
    await _deposit(shop, rep, deal)
    async with shop.db.uow(rep.actor) as uow:
        await schedule_delivery(uow, deal.id, utcnow() + timedelta(hours=3))

    async with shop.db.uow(rep.actor) as uow:
        delivery = await complete_delivery(uow, deal.id)

    (vehicle,) = await vehicles_with_vin(runtime.db, shop.id, unit.vin)
    assert (vehicle.make, vehicle.model, vehicle.year, vehicle.fuel_type, vehicle.colour) == (
        "Volvo",
        "XC40",
        2025,
        "ELECTRIC",
        "Sage Green",
    )
    assert (vehicle.odometer_km, vehicle.customer_id, vehicle.status) == (38, lead.customer_id, "ACTIVE")
    assert delivery.linked is False
    delivered: Deal = await stored(runtime.db, shop.id, Deal, deal.id)
    assert (delivered.status, delivered.vehicle_id) == ("DELIVERED", vehicle.id)
    assert delivered.delivered_at is not None
    assert (await stored(runtime.db, shop.id, StockUnit, unit.id)).status == "DELIVERED"
    (event,) = await events_of(runtime.db, shop.id, "deal.delivered")
    assert event.payload["vehicle_id"] == vehicle.id and event.payload["vehicle_linked"] is False


async def test_delivery_records_the_new_vehicle_for_the_fleet_board_and_partners(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    deal = await _deliverable(shop, rep)
    async with shop.db.uow(rep.actor) as uow:
        delivery = await complete_delivery(uow, deal.id)
    (created,) = await events_of(runtime.db, shop.id, "vehicle.created")
    assert created.payload["id"] == delivery.vehicle.id
    assert f"vehicle:{delivery.vehicle.id}" in created.topics and "fleet" in created.topics


async def test_a_delivery_that_would_pass_the_plans_vehicle_limit_is_refused_and_changes_nothing(
    runtime, factory
):
    """DOMAIN.md: the plan's vehicle limit is enforced, whoever makes the profile."""
    shop = await factory.tenant(plan="STARTER")
    rep = await shop.user("sales_rep")
    deal = await _deliverable(shop, rep)
    for number in range(25 - len(await _vehicles(runtime, shop))):
        await shop.vehicle(plate=f"ZH {number + 1}")

    with pytest.raises(RuleViolation, match="plan allows 25 vehicles"):
        async with shop.db.uow(rep.actor) as uow:
            await complete_delivery(uow, deal.id)

    assert (await stored(runtime.db, shop.id, Deal, deal.id)).status == "READY_FOR_DELIVERY"
    assert (await stored(runtime.db, shop.id, StockUnit, deal.stock_unit_id)).status != "DELIVERED"
    assert len(await _vehicles(runtime, shop)) == 25


async def _vehicles(runtime, shop) -> list[Vehicle]:  # type: ignore[no-untyped-def]
    async with runtime.db.read(shop.id) as session:
        return list((await session.scalars(select(Vehicle))).all())


async def test_delivery_links_the_vehicle_already_known_by_its_vin(runtime, factory):
    """A trade-in serviced here before and now resold: one profile, with its workshop history."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    deal = await _deliverable(shop, rep)
    unit: StockUnit = await stored(runtime.db, shop.id, StockUnit, deal.stock_unit_id)
    previous_owner = await shop.vehicle()
    async with shop.db.uow(shop.admin.actor) as uow:
        known = Vehicle(
            vin=unit.vin,
            make="Skoda",
            model="Octavia",
            year=2025,
            odometer_km=5,
            customer_id=previous_owner.customer_id,
        )
        uow.session.add(known)
        await uow.commit()

    async with shop.db.uow(rep.actor) as uow:
        delivery = await complete_delivery(uow, deal.id)

    (vehicle,) = await vehicles_with_vin(runtime.db, shop.id, unit.vin)
    assert delivery.linked and vehicle.id == known.id
    assert (vehicle.customer_id, vehicle.odometer_km) == (deal.customer_id, unit.mileage_km)
    assert (await stored(runtime.db, shop.id, Deal, deal.id)).vehicle_id == known.id


async def test_a_delivered_deal_can_be_neither_delivered_again_nor_cancelled(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    manager = await shop.user("sales_manager")
    deal = await _deliverable(shop, rep)
    async with shop.db.uow(rep.actor) as uow:
        await complete_delivery(uow, deal.id)

    with pytest.raises(RuleViolation, match="is delivered, so it cannot be delivered"):
        async with shop.db.uow(rep.actor) as uow:
            await complete_delivery(uow, deal.id)
    with pytest.raises(RuleViolation, match="is delivered, so it cannot be cancelled"):
        async with shop.db.uow(manager.actor) as uow:
            await cancel_deal(uow, deal.id, "Customer changed their mind")


# --- Cancelling -------------------------------------------------------------------------------------------


async def test_cancelling_gives_the_car_back_to_stock_and_refunds_exactly_the_deposit(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    manager = await shop.user("sales_manager", name="Reto Baumann")
    deal = await make_deal(shop, rep)
    await _deposit(shop, rep, deal, amount="4250.50")

    async with shop.db.uow(manager.actor) as uow:
        cancelled = await cancel_deal(uow, deal.id, "Financing fell through")

    assert (cancelled.status, cancelled.cancel_reason) == ("CANCELLED", "Financing fell through")
    payments = await payments_of(runtime.db, shop.id, deal.id)
    assert [(p.kind, p.method, p.amount) for p in payments] == [
        ("DEPOSIT", "MANUAL", Decimal("4250.50")),
        ("REFUND", "MANUAL", Decimal("4250.50")),
    ]
    unit: StockUnit = await stored(runtime.db, shop.id, StockUnit, deal.stock_unit_id)
    assert (unit.status, unit.deal_id, unit.held_by_reservation_id) == ("AVAILABLE", None, None)
    (event,) = await events_of(runtime.db, shop.id, "deal.cancelled")
    assert event.payload["refund"] == "4250.50"
    assert event.payload["notice_values"]["reason"] == "Financing fell through"
    # The car can be sold to someone else now.
    other = await shop.lead(owner=rep, last_name="Nachfolger")
    async with shop.db.uow(rep.actor) as uow:
        assert (await reserve_unit(uow, unit.id, other.id)).status == "ACTIVE"


async def test_cancelling_before_any_deposit_refunds_nothing(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    manager = await shop.user("sales_manager")
    deal = await make_deal(shop, rep)

    async with shop.db.uow(manager.actor) as uow:
        await cancel_deal(uow, deal.id, "Duplicate")

    assert await payments_of(runtime.db, shop.id, deal.id) == []


async def test_only_a_manager_cancels_and_always_with_a_reason(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    manager = await shop.user("sales_manager")
    deal = await make_deal(shop, rep)

    with pytest.raises(PermissionDenied):
        async with shop.db.uow(rep.actor) as uow:
            await cancel_deal(uow, deal.id, "I want to")
    with pytest.raises(RuleViolation, match="Say why") as refused:
        async with shop.db.uow(manager.actor) as uow:
            await cancel_deal(uow, deal.id, "   ")

    assert refused.value.field == "reason"
    assert (await stored(runtime.db, shop.id, Deal, deal.id)).status == "OPEN"


# --- Roles and tenants ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "service_advisor", "technician", "workshop_manager"])
async def test_only_sales_makes_deals_and_takes_deposits(runtime, factory, role):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    other = await shop.user(role)
    _lead, _unit, quote = await sale(shop, rep)
    deal = await make_deal(shop, rep)

    with pytest.raises(PermissionDenied):
        await _deal_of(shop, other, quote.id)
    with pytest.raises(PermissionDenied):
        await _deposit(shop, other, deal)


async def test_another_dealerships_quote_or_deal_is_not_found(runtime, factory):
    shop = await factory.tenant()
    rival = await factory.tenant()
    rep = await shop.user("sales_rep")
    rival_rep = await rival.user("sales_rep")
    _lead, _unit, quote = await sale(shop, rep)
    deal = await make_deal(shop, rep)

    with pytest.raises(NotFound):
        await _deal_of(rival, rival_rep, quote.id)
    with pytest.raises(NotFound):
        await _deposit(rival, rival_rep, deal)
    with pytest.raises(NotFound):
        async with rival.db.uow(rival.admin.actor) as uow:
            await cancel_deal(uow, deal.id, "Not ours")
