"""Approvals: a discount above the dealership's limit or a margin below its floor keeps a quote from
the customer until a sales manager approves it; the boundaries are exact; a decision is taken once;
editing an approved quote needs approval again when it is still over a threshold."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import update

from ops.auth.actor import Conflict, PermissionDenied, RuleViolation
from ops.sales.quotes import queries
from ops.sales.quotes.pricing import approval_reasons, decode_reasons
from ops.sales.quotes.service import (
    QuoteInvalid,
    create_quote,
    decide_approval,
    request_approval,
    send_quote,
)
from ops.tenants.models import Tenant
from tests.sales.quotes.helpers import (
    LINKS,
    configurable_trim,
    events_of,
    lead_for,
    reload,
    showroom,
    unit_quote,
    with_terms,
)


async def _request(room, quote):  # type: ignore[no-untyped-def]
    async with room.db.uow(room.rep.actor) as uow:
        return await request_approval(uow, quote.id, quote.version)


async def _decide(room, quote, decision, comment=""):  # type: ignore[no-untyped-def]
    async with room.db.uow(room.manager.actor) as uow:
        return await decide_approval(uow, quote.id, decision, comment, quote.version)


async def _send(room, quote):  # type: ignore[no-untyped-def]
    async with room.db.uow(room.rep.actor) as uow:
        return await send_quote(uow, quote.id, quote.version, links=LINKS)


async def test_a_discount_exactly_at_the_limit_goes_out_without_approval(factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await unit_quote(room, list_price="40000.00", cost="30000.00")
    quote = await with_terms(room, quote, discount="2000.00")  # 5 % of 40000

    with pytest.raises(RuleViolation, match="within the discount and margin limits"):
        await _request(room, quote)
    sent = await _send(room, quote)

    assert sent.status == "SENT"


async def test_a_cent_more_discount_needs_a_manager(factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await unit_quote(room, list_price="40000.00", cost="30000.00")
    quote = await with_terms(room, quote, discount="2000.01")

    with pytest.raises(RuleViolation, match="needs a sales manager's approval"):
        await _send(room, quote)
    assert (await reload(runtime.db, room.shop.id, quote.id)).status == "DRAFT"

    pending = await _request(room, quote)

    assert pending.status == "PENDING_APPROVAL"
    assert pending.approval_requested_by_id == room.rep.actor.user_id
    [reason] = decode_reasons(pending.approval_reason)
    assert reason.kind == "discount" and reason.actual == Decimal("5.00") and reason.limit == Decimal("5.00")
    [event] = await events_of(runtime.db, room.shop.id, "quote.approval_requested")
    assert event.topics == [
        "approvals",
        "sales",
        f"customer:{quote.customer_id}",
        f"quote:{quote.id}",
        f"user:{room.rep.actor.user_id}",
    ]


async def test_a_margin_at_the_floor_is_fine_and_below_it_needs_a_manager(factory, runtime):
    room = await showroom(await factory.tenant())
    # Selling 40000: 3 % is 1200 of margin.
    at_floor = await unit_quote(room, list_price="40000.00", cost="38800.00")
    below = await unit_quote(room, list_price="40000.00", cost="38800.01")

    assert (await _send(room, at_floor)).status == "SENT"
    with pytest.raises(RuleViolation, match="approval"):
        await _send(room, below)
    [reason] = decode_reasons((await _request(room, below)).approval_reason)
    assert reason.kind == "margin" and reason.actual == Decimal("3.00") and reason.excess is not None


async def test_the_thresholds_are_the_dealerships_own(factory, runtime):
    room = await showroom(await factory.tenant())
    async with runtime.db.uow(room.shop.admin.actor) as uow:
        await uow.session.execute(
            update(Tenant).where(Tenant.id == room.shop.id).values(discount_approval_percent=Decimal("10"))
        )
        await uow.commit()
    quote = await unit_quote(room, list_price="40000.00", cost="30000.00")
    quote = await with_terms(room, quote, discount="4000.00")  # 10 %: within this dealership's limit

    assert (await _send(room, quote)).status == "SENT"


async def test_an_approved_quote_can_be_sent_and_the_rep_is_told(factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await with_terms(room, await unit_quote(room, cost="30000.00"), discount="4000")
    quote = await _request(room, quote)

    approved = await _decide(room, quote, "APPROVED", "Fine for a returning customer")

    assert approved.status == "APPROVED"
    assert approved.decided_by_id == room.manager.actor.user_id
    assert approved.decision_comment == "Fine for a returning customer"
    [event] = await events_of(runtime.db, room.shop.id, "quote.approval_decided")
    assert f"user:{room.rep.actor.user_id}" in event.topics and "approvals" in event.topics
    assert event.payload["notice"] == "%(number)s was approved by %(manager)s."
    assert event.payload["notice_values"] == {"number": quote.code, "manager": "Max Manager"}
    assert (await _send(room, approved)).status == "SENT"


async def test_a_rejection_needs_a_reason_and_sends_the_quote_back_to_be_changed(factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await _request(
        room, await with_terms(room, await unit_quote(room, cost="30000.00"), discount="4000")
    )

    with pytest.raises(QuoteInvalid) as missing:
        await _decide(room, quote, "REJECTED", "  ")
    assert "comment" in missing.value.errors
    rejected = await _decide(room, quote, "REJECTED", "Too much; 3 % at most")

    assert rejected.status == "REJECTED"
    with pytest.raises(RuleViolation):
        await _send(room, rejected)
    changed = await with_terms(room, rejected, discount="1200")
    assert changed.status == "DRAFT"
    assert (await _send(room, changed)).status == "SENT"


async def test_editing_an_approved_quote_needs_approval_again_when_still_over(factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await _request(
        room, await with_terms(room, await unit_quote(room, cost="30000.00"), discount="4000")
    )
    approved = await _decide(room, quote, "APPROVED")

    edited = await with_terms(room, approved, discount="4100")

    assert edited.status == "DRAFT"
    assert edited.decided_by_id is None and edited.approval_reason == ""
    with pytest.raises(RuleViolation, match="approval"):
        await _send(room, edited)


async def test_withdrawing_a_waiting_quote_takes_it_off_the_managers_queue(factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await _request(
        room, await with_terms(room, await unit_quote(room, cost="30000.00"), discount="4000")
    )

    await with_terms(room, quote, discount="100")

    event = (await events_of(runtime.db, room.shop.id, "quote.updated"))[-1]
    assert event.payload["from"] == "PENDING_APPROVAL" and "approvals" in event.topics
    with pytest.raises(Conflict):
        await _decide(room, quote, "APPROVED")


async def test_only_a_sales_manager_or_admin_decides(factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await _request(
        room, await with_terms(room, await unit_quote(room, cost="30000.00"), discount="4000")
    )

    for role in ("sales_rep", "viewer", "service_advisor"):
        person = await room.shop.user(role)
        with pytest.raises(PermissionDenied):
            async with runtime.db.uow(person.actor) as uow:
                await decide_approval(uow, quote.id, "APPROVED", "", quote.version)
    async with runtime.db.uow(room.shop.admin.actor) as uow:
        assert (await decide_approval(uow, quote.id, "APPROVED", "", quote.version)).status == "APPROVED"


async def test_a_quote_within_the_limits_cannot_be_put_up_and_a_decided_one_not_decided_again(
    factory, runtime
):
    room = await showroom(await factory.tenant())
    quote = await unit_quote(room, cost="30000.00")
    with pytest.raises(RuleViolation):
        await _request(room, quote)
    quote = await _request(room, await with_terms(room, quote, discount="4000"))
    approved = await _decide(room, quote, "APPROVED")

    with pytest.raises(RuleViolation):
        await _decide(room, approved, "REJECTED", "changed my mind")


async def test_two_managers_deciding_at_once_exactly_one_decision_counts(factory, runtime):
    room = await showroom(await factory.tenant())
    other_manager = await room.shop.user("sales_manager", locale="en", name="Mia Manager")
    quote = await _request(
        room, await with_terms(room, await unit_quote(room, cost="30000.00"), discount="4000")
    )

    async def decide(actor, decision):  # type: ignore[no-untyped-def]
        async with runtime.db.uow(actor) as uow:
            return await decide_approval(uow, quote.id, decision, "my call", quote.version)

    results = await asyncio.gather(
        decide(room.manager.actor, "APPROVED"),
        decide(other_manager.actor, "REJECTED"),
        return_exceptions=True,
    )

    winners = [result for result in results if not isinstance(result, BaseException)]
    losers = [result for result in results if isinstance(result, BaseException)]
    assert len(winners) == 1 and len(losers) == 1
    assert isinstance(losers[0], Conflict)
    stored = await reload(runtime.db, room.shop.id, quote.id)
    assert stored.status == winners[0].status
    assert len(await events_of(runtime.db, room.shop.id, "quote.approval_decided")) == 1


async def test_a_configured_vehicle_needs_its_cost_before_it_is_sent(factory, runtime):

    room = await showroom(await factory.tenant())
    trim = await configurable_trim(room.shop)
    lead = await lead_for(room)
    async with runtime.db.uow(room.rep.actor) as uow:
        quote = await create_quote(uow, lead.id, trim_id=trim.id, option_codes=["WHITE"])

    with pytest.raises(RuleViolation) as refused:
        await _send(room, quote)
    assert refused.value.field == "vehicle_cost"
    quote = await with_terms(room, quote, vehicle_cost="36000")
    assert (await _send(room, quote)).status == "SENT"


async def test_a_configured_vehicle_with_no_cost_is_never_within_the_limits(factory, runtime):
    room = await showroom(await factory.tenant())
    trim = await configurable_trim(room.shop)
    lead = await lead_for(room)
    async with runtime.db.uow(room.rep.actor) as uow:
        quote = await create_quote(uow, lead.id, trim_id=trim.id, option_codes=["BLUE"])

    # The catalog has the option's cost but none for the trim: the margin is unknown, not 40,950 - 600.
    async with runtime.db.read(room.shop.id) as session:
        stored = await reload(runtime.db, room.shop.id, quote.id)
        assert stored.vehicle_cost is None
        price = queries.price_of(stored, await queries.options_for(session, stored), "CHF")
    assert not price.cost_known and price.margin_percent is None
    assert approval_reasons(price, Decimal(5), Decimal(3)) == []
    with pytest.raises(RuleViolation) as refused:
        await _request(room, quote)
    assert refused.value.field == "vehicle_cost"

    # A typed 0 is refused (no car costs the dealership nothing); left empty, the terms are saved and the
    # cost stays unknown.
    with pytest.raises(QuoteInvalid) as invalid:
        await with_terms(room, quote, vehicle_cost="0")
    assert set(invalid.value.errors) == {"vehicle_cost"}
    quote = await with_terms(room, quote, discount="500", vehicle_cost="")
    assert quote.discount == Decimal("500.00") and quote.vehicle_cost is None
    with pytest.raises(RuleViolation):
        await _send(room, quote)

    # With its cost the margin is real: 40,950 - 500 - (38,000 + 600) = 1,850, 4.57 % of 40,450.
    quote = await with_terms(room, quote, discount="500", vehicle_cost="38000")
    assert quote.gross_margin == Decimal("1850.00")
