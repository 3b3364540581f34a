"""Holds: a rep reserves a unit for a lead for 48 hours; exactly one of two racing reps wins; expiry
frees the unit by the worker's timer; a unit in a deal cannot be held again."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from ops.auth.actor import NotFound, PermissionDenied, RuleViolation
from ops.db import utcnow
from ops.sales.models import Lead
from ops.sales.stock.service import (
    HOLD_DURATION,
    UnitHeld,
    UnitInDeal,
    expire_holds,
    keep_hold,
    mark_unit_delivered,
    mark_unit_sold,
    release_hold,
    release_unit,
    reserve_unit,
)
from tests.sales.stock.helpers import events, holds, new_deal, unit_state


async def _reserve(shop, rep, unit_id: int, lead_id: int):  # type: ignore[no-untyped-def]
    async with shop.db.uow(rep.actor) as uow:
        return await reserve_unit(uow, unit_id, lead_id)


async def test_a_rep_holds_an_available_unit_for_48_hours(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", name="Rita Rep")
    unit = await shop.stock_unit()
    lead = await shop.lead(owner=rep)
    before = utcnow()

    reservation = await _reserve(shop, rep, unit.id, lead.id)

    state = await unit_state(runtime.db, shop.id, unit.id)
    assert (state.status, state.held_by_reservation_id) == ("RESERVED", reservation.id)
    assert state.version == unit.version + 1
    assert reservation.status == "ACTIVE" and reservation.rep_id == rep.actor.user_id
    assert before + HOLD_DURATION <= reservation.expires_at <= utcnow() + HOLD_DURATION
    (event,) = await events(runtime.db, shop.id, "unit.reserved")
    assert event.payload["reservation_id"] == reservation.id and event.payload["lead_id"] == lead.id
    assert event.topics == ["stock", "sales", f"customer:{lead.customer_id}"]


async def test_two_reps_reserving_at_the_same_moment_exactly_one_wins_and_the_others_hear_who_holds_it(
    runtime, factory
):
    """Two reps would each promise the same car to their customer."""
    shop = await factory.tenant()
    reps = [await shop.user("sales_rep", name=f"Rep {n}") for n in range(4)]
    unit = await shop.stock_unit()
    leads = [await shop.lead(owner=rep, last_name=f"Kunde{n}") for n, rep in enumerate(reps)]

    async def attempt(index: int) -> object:
        try:
            return await _reserve(shop, reps[index], unit.id, leads[index].id)
        except UnitHeld as held:
            return held

    outcomes = await asyncio.gather(*(attempt(index) for index in range(4)))

    winners = [index for index, outcome in enumerate(outcomes) if not isinstance(outcome, UnitHeld)]
    assert len(winners) == 1
    winner = winners[0]
    for index, outcome in enumerate(outcomes):
        if index == winner:
            continue
        assert isinstance(outcome, UnitHeld)
        assert outcome.holder == f"Rep {winner}" and outcome.customer == f"Lea Kunde{winner}"
        assert f"Rep {winner} already holds this unit for Lea Kunde{winner} until " in str(outcome)
        assert outcome.until is not None
    state = await unit_state(runtime.db, shop.id, unit.id)
    (kept,) = await holds(runtime.db, shop.id, unit.id)
    assert state.status == "RESERVED" and state.held_by_reservation_id == kept.id
    assert kept.lead_id == leads[winner].id and kept.status == "ACTIVE"
    assert len(await events(runtime.db, shop.id, "unit.reserved")) == 1


async def test_a_released_hold_frees_the_unit_for_another_rep(runtime, factory):
    shop = await factory.tenant()
    first, second = await shop.user("sales_rep"), await shop.user("sales_rep")
    unit = await shop.stock_unit()
    first_lead, second_lead = await shop.lead(owner=first), await shop.lead(owner=second)
    held = await _reserve(shop, first, unit.id, first_lead.id)
    with pytest.raises(UnitHeld):
        await _reserve(shop, second, unit.id, second_lead.id)

    async with shop.db.uow(first.actor) as uow:
        released = await release_hold(uow, held.id, "Customer chose the estate")
    again = await _reserve(shop, second, unit.id, second_lead.id)

    assert released.status == "RELEASED" and released.ended_at is not None
    state = await unit_state(runtime.db, shop.id, unit.id)
    assert (state.status, state.held_by_reservation_id) == ("RESERVED", again.id)
    (event,) = await events(runtime.db, shop.id, "unit.hold_released")
    assert event.payload["reason"] == "Customer chose the estate"
    assert "user:" not in " ".join(event.topics)


async def test_releasing_needs_a_reason_and_a_rep_may_only_release_their_own_holds(runtime, factory):
    shop = await factory.tenant()
    owner, colleague = await shop.user("sales_rep"), await shop.user("sales_rep")
    manager = await shop.user("sales_manager", name="Mona Manager")
    unit = await shop.stock_unit()
    held = await _reserve(shop, owner, unit.id, (await shop.lead(owner=owner)).id)

    with pytest.raises(RuleViolation) as missing:
        async with shop.db.uow(owner.actor) as uow:
            await release_hold(uow, held.id, "  ")
    with pytest.raises(PermissionDenied):
        async with shop.db.uow(colleague.actor) as uow:
            await release_hold(uow, held.id, "I need it")
    assert missing.value.field == "reason"
    assert (await unit_state(runtime.db, shop.id, unit.id)).status == "RESERVED"

    async with shop.db.uow(manager.actor) as uow:
        await release_hold(uow, held.id, "Stock count")
    with pytest.raises(RuleViolation, match="already ended"):
        async with shop.db.uow(owner.actor) as uow:
            await release_hold(uow, held.id, "again")
    # The rep hears that the manager ended their hold.
    (event,) = await events(runtime.db, shop.id, "unit.hold_released")
    assert f"user:{owner.actor.user_id}" in event.topics
    assert event.payload["notice_values"]["who"] == "Mona Manager"


async def test_expire_holds_frees_only_holds_past_their_time_and_tells_the_rep(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    lead = await shop.lead(owner=rep, first_name="Hans", last_name="Meier")
    due_unit, fresh_unit = await shop.stock_unit(), await shop.stock_unit()
    due = await _reserve(shop, rep, due_unit.id, lead.id)
    assert due.expires_at is not None
    await asyncio.sleep(0.01)
    fresh = await _reserve(shop, rep, fresh_unit.id, lead.id)

    # The database is shared with other tests: their older holds expire too, so count only ours.
    await expire_holds(runtime.db, due.expires_at - timedelta(seconds=1))
    assert (await unit_state(runtime.db, shop.id, due_unit.id)).status == "RESERVED"
    assert await expire_holds(runtime.db, due.expires_at) >= 1
    await expire_holds(runtime.db, due.expires_at)

    state = await unit_state(runtime.db, shop.id, due_unit.id)
    assert (state.status, state.held_by_reservation_id) == ("AVAILABLE", None)
    assert (await unit_state(runtime.db, shop.id, fresh_unit.id)).held_by_reservation_id == fresh.id
    expired = await holds(runtime.db, shop.id, due_unit.id)
    still = await holds(runtime.db, shop.id, fresh_unit.id)
    assert [hold.status for hold in expired] == ["EXPIRED"] and expired[0].ended_at == due.expires_at
    assert [hold.status for hold in still] == ["ACTIVE"]
    (event,) = await events(runtime.db, shop.id, "unit.hold_expired")
    assert event.topics[:3] == ["stock", "sales", f"customer:{lead.customer_id}"]
    assert event.topics[3] == f"user:{rep.actor.user_id}"
    assert event.payload["notice"].startswith("Your hold on %(unit)s")
    assert event.payload["notice_values"]["customer"] == "Hans Meier"
    assert event.payload["notice_values"]["unit"].startswith("Skoda Octavia Style (")


async def test_an_expired_hold_lets_another_rep_reserve(runtime, factory):
    shop = await factory.tenant()
    first, second = await shop.user("sales_rep"), await shop.user("sales_rep")
    unit = await shop.stock_unit()
    held = await _reserve(shop, first, unit.id, (await shop.lead(owner=first)).id)
    assert held.expires_at is not None
    await expire_holds(runtime.db, held.expires_at + timedelta(minutes=1))

    again = await _reserve(shop, second, unit.id, (await shop.lead(owner=second)).id)

    assert (await unit_state(runtime.db, shop.id, unit.id)).held_by_reservation_id == again.id


async def test_a_kept_hold_never_expires_and_expiry_skips_other_tenants_holds(runtime, factory):
    shop, other = await factory.tenant(), await factory.tenant()
    rep, foreign_rep = await shop.user("sales_rep"), await other.user("sales_rep")
    unit, foreign_unit = await shop.stock_unit(), await other.stock_unit()
    held = await _reserve(shop, rep, unit.id, (await shop.lead(owner=rep)).id)
    foreign = await _reserve(other, foreign_rep, foreign_unit.id, (await other.lead()).id)
    async with shop.db.uow(shop.admin.actor) as uow:
        kept = await keep_hold(uow, held.id)
        await uow.commit()
    assert kept.expires_at is None

    assert foreign.expires_at is not None
    await expire_holds(runtime.db, foreign.expires_at + timedelta(days=30))

    assert (await unit_state(runtime.db, shop.id, unit.id)).status == "RESERVED"
    assert (await unit_state(runtime.db, other.id, foreign_unit.id)).status == "AVAILABLE"


async def _expired_hold(shop, rep):  # type: ignore[no-untyped-def]
    unit = await shop.stock_unit()
    held = await _reserve(shop, rep, unit.id, (await shop.lead(owner=rep)).id)
    await expire_holds(shop.db, held.expires_at)
    return held


async def test_keeping_a_hold_that_expired_is_refused(runtime, factory):
    """A deposit taken for a hold that has just expired must not quietly hold a unit nobody holds."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    expired = await _expired_hold(shop, rep)

    async with shop.db.uow(shop.admin.actor) as uow:
        with pytest.raises(RuleViolation, match="ended"):
            await keep_hold(uow, expired.id)


async def test_a_sold_unit_cannot_be_reserved_or_sold_again_until_its_deal_is_cancelled(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    buyer, other_lead = await shop.lead(owner=rep), await shop.lead(owner=rep, last_name="Other")
    unit = await shop.stock_unit()
    held = await _reserve(shop, rep, unit.id, buyer.id)
    deal = await new_deal(shop, buyer.id, buyer.customer_id, number=1)
    second_deal = await new_deal(shop, other_lead.id, other_lead.customer_id, number=2)

    async with shop.db.uow(shop.admin.actor) as uow:
        sold = await mark_unit_sold(uow, unit.id, deal.id)
        await uow.commit()
    assert (sold.status, sold.deal_id, sold.held_by_reservation_id) == ("SOLD", deal.id, None)
    assert [hold.status for hold in await holds(runtime.db, shop.id, unit.id)] == ["CONVERTED"]
    # The converted hold can no longer expire and free the sold unit.
    assert held.expires_at is not None
    await expire_holds(runtime.db, held.expires_at + timedelta(days=1))
    assert (await unit_state(runtime.db, shop.id, unit.id)).status == "SOLD"

    with pytest.raises(UnitInDeal, match="D-000001"):
        await _reserve(shop, rep, unit.id, other_lead.id)
    async with shop.db.uow(shop.admin.actor) as uow:
        with pytest.raises(UnitInDeal):
            await mark_unit_sold(uow, unit.id, second_deal.id)

    async with shop.db.uow(shop.admin.actor) as uow:
        await release_unit(uow, unit.id)
        await uow.commit()
    again = await _reserve(shop, rep, unit.id, other_lead.id)
    assert (await unit_state(runtime.db, shop.id, unit.id)).held_by_reservation_id == again.id


async def test_a_unit_held_for_another_lead_cannot_go_into_this_leads_deal(runtime, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", name="Rita Rep")
    holder, buyer = await shop.lead(owner=rep, last_name="Holder"), await shop.lead(owner=rep)
    unit = await shop.stock_unit()
    await _reserve(shop, rep, unit.id, holder.id)
    deal = await new_deal(shop, buyer.id, buyer.customer_id)

    async with shop.db.uow(shop.admin.actor) as uow:
        with pytest.raises(UnitHeld, match="Rita Rep already holds this unit for Lea Holder"):
            await mark_unit_sold(uow, unit.id, deal.id)
    assert (await unit_state(runtime.db, shop.id, unit.id)).status == "RESERVED"


async def test_delivery_follows_the_sale_and_a_delivered_unit_stays_delivered(runtime, factory):
    shop = await factory.tenant()
    lead = await shop.lead()
    unit = await shop.stock_unit()
    deal = await new_deal(shop, lead.id, lead.customer_id)
    async with shop.db.uow(shop.admin.actor) as uow:
        with pytest.raises(RuleViolation, match="Only a sold unit can be delivered"):
            await mark_unit_delivered(uow, unit.id)
        await mark_unit_sold(uow, unit.id, deal.id)
        delivered = await mark_unit_delivered(uow, unit.id)
        await uow.commit()
    assert delivered.status == "DELIVERED"

    async with shop.db.uow(shop.admin.actor) as uow:
        with pytest.raises(RuleViolation, match="Only a sold unit can go back to stock"):
            await release_unit(uow, unit.id)
    with pytest.raises(UnitInDeal):
        await _reserve(shop, shop.admin, unit.id, lead.id)


@pytest.mark.parametrize("status", ["INCOMING", "DEMO", "LOANER"])
async def test_only_available_units_can_be_held(runtime, factory, status):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    unit = await shop.stock_unit(status=status)

    with pytest.raises(RuleViolation, match="only available units can be held"):
        await _reserve(shop, rep, unit.id, (await shop.lead()).id)
    assert await holds(runtime.db, shop.id, unit.id) == []


async def test_holds_need_an_open_lead_of_the_same_dealership_and_a_sales_role(runtime, factory):
    shop, other = await factory.tenant(), await factory.tenant()
    rep = await shop.user("sales_rep")
    unit, foreign_unit = await shop.stock_unit(), await other.stock_unit()
    lead, foreign_lead = await shop.lead(), await other.lead()

    with pytest.raises(NotFound):
        await _reserve(shop, rep, unit.id, foreign_lead.id)
    with pytest.raises(NotFound):
        await _reserve(shop, rep, foreign_unit.id, lead.id)
    for role in ("viewer", "service_advisor", "technician"):
        with pytest.raises(PermissionDenied):
            await _reserve(shop, await shop.user(role), unit.id, lead.id)
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(update(Lead).where(Lead.id == lead.id).values(stage="LOST"))
        await uow.commit()
    with pytest.raises(RuleViolation, match="closed"):
        await _reserve(shop, rep, unit.id, lead.id)
    assert await holds(runtime.db, shop.id, unit.id) == []
