"""Purchase requests: a part at its reorder point is reordered once, with a sensible quantity, without
touching stock; the receipt of the goods closes the request, or a manager cancels it, saying why."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import select

from ops.auth.actor import Conflict, NotFound, PermissionDenied, RuleViolation
from ops.workshop.models import PurchaseRequest
from ops.workshop.parts.service import (
    cancel_purchase_request,
    receive_stock,
    request_purchase,
    suggested_purchase_quantity,
)
from tests.workshop.parts.stock import events, levels, movements, new_part

D = Decimal


async def _requests(db, tenant_id: int, part_id: int) -> list[PurchaseRequest]:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        query = select(PurchaseRequest).where(PurchaseRequest.part_id == part_id).order_by(PurchaseRequest.id)
        return list((await session.scalars(query)).all())


@pytest.mark.parametrize(
    ("available", "reorder_point", "unit", "suggested"),
    [
        ("3", "4", "pc", "5"),  # back to twice the reorder point
        ("1.5", "2.2", "pc", "3"),  # whole pieces, rounded up
        ("1.5", "2.2", "l", "2.90"),  # litres to the hundredth
        ("4", "4", "set", "4"),  # at the point itself
        ("0", "0", "pc", "1"),  # a part kept at zero still gets one
        ("0", "9000", "pc", "10000"),  # never more than a request may hold
    ],
)
def test_the_suggested_quantity_brings_available_stock_back_above_the_reorder_point(
    available: str, reorder_point: str, unit: str, suggested: str
) -> None:
    assert suggested_purchase_quantity(D(available), D(reorder_point), unit) == D(suggested)


async def test_a_request_is_recorded_with_its_event_and_moves_no_stock(runtime, factory):
    """The parts desk would see stock that has not arrived, or the ERP would never hear of the reorder."""
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en", name="Mia Meier")
    part = await new_part(shop, sku="BP-1", name="Brake pads", stock="2", reorder_point="3")

    async with shop.db.uow(manager.actor) as uow:
        made = await request_purchase(uow, part.id, D(4))

    [stored] = await _requests(runtime.db, shop.id, part.id)
    assert (stored.id, stored.number, stored.quantity, stored.status) == (made.id, 1, D(4), "OPEN")
    assert stored.requested_by_name == "Mia Meier"
    [event] = await events(runtime.db, shop.id, "part.purchase_requested")
    assert event.payload == {
        "id": part.id,
        "sku": "BP-1",
        "request_id": made.id,
        "number": "PR-000001",
        "quantity": "4",
        "available": "2.00",
        "reorder_point": "3.00",
    }
    assert await levels(runtime.db, shop.id, part.id) == (D(2), D(0))
    assert [m.kind for m in await movements(runtime.db, shop.id, part.id)] == ["RECEIVE"]


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0", "Enter a quantity greater than zero."),
        ("-3", "Enter a quantity greater than zero."),
        ("2.5", "This part comes in whole pieces; enter a whole number."),
        ("10001", "Request at most 10,000 at once; place a larger order in the ERP."),
        ("1.005", "Use at most two decimal places."),
    ],
)
async def test_a_bad_quantity_is_refused_with_a_clear_message_and_nothing_is_recorded(
    runtime, factory, quantity, message
):
    shop = await factory.tenant()
    part = await new_part(shop, stock="1", reorder_point="3")

    with pytest.raises(RuleViolation, match=message.replace(".", r"\.")) as refused:
        async with shop.db.uow(shop.admin.actor) as uow:
            await request_purchase(uow, part.id, D(quantity))

    assert refused.value.field == "quantity"
    assert await _requests(runtime.db, shop.id, part.id) == []
    assert await events(runtime.db, shop.id, "part.purchase_requested") == []


async def test_a_part_above_its_reorder_point_is_not_reordered(runtime, factory):
    shop = await factory.tenant()
    part = await new_part(shop, sku="OF-1", stock="9", reorder_point="3")

    with pytest.raises(RuleViolation, match="OF-1 is above its reorder point"):
        async with shop.db.uow(shop.admin.actor) as uow:
            await request_purchase(uow, part.id, D(5))
    assert await _requests(runtime.db, shop.id, part.id) == []


async def test_a_second_request_while_one_is_open_is_refused_and_names_the_open_one(runtime, factory):
    """The supplier would deliver the same parts twice."""
    shop = await factory.tenant()
    part = await new_part(shop, sku="BP-1", stock="0", reorder_point="2")
    async with shop.db.uow(shop.admin.actor) as uow:
        await request_purchase(uow, part.id, D(4))

    with pytest.raises(Conflict, match=r"PR-000001 for 4 pc of BP-1 is still open") as refused:
        async with shop.db.uow(shop.admin.actor) as uow:
            await request_purchase(uow, part.id, D(6))

    assert isinstance(refused.value.current, PurchaseRequest)
    assert [r.quantity for r in await _requests(runtime.db, shop.id, part.id)] == [D(4)]


async def test_two_managers_requesting_at_once_end_with_one_request(runtime, factory):
    shop = await factory.tenant()
    part = await new_part(shop, sku="TY-205", stock="1", reorder_point="4")
    managers = [await shop.user("workshop_manager", locale="en") for _ in range(2)]

    async def click(actor) -> str:  # type: ignore[no-untyped-def]
        try:
            async with shop.db.uow(actor) as uow:
                await request_purchase(uow, part.id, D(7))
        except Conflict:
            return "refused"
        return "requested"

    outcomes = await asyncio.gather(*(click(manager.actor) for manager in managers))

    assert sorted(outcomes) == ["refused", "requested"]
    assert len(await _requests(runtime.db, shop.id, part.id)) == 1
    assert len(await events(runtime.db, shop.id, "part.purchase_requested")) == 1


async def test_receiving_the_goods_closes_the_open_request_and_a_new_one_can_follow(runtime, factory):
    shop = await factory.tenant()
    part = await new_part(shop, sku="BP-1", stock="1", reorder_point="2")
    async with shop.db.uow(shop.admin.actor) as uow:
        await request_purchase(uow, part.id, D(3))

    async with shop.db.uow(shop.admin.actor) as uow:
        await receive_stock(uow, part.id, D(3), "Delivery 881")

    [closed] = await _requests(runtime.db, shop.id, part.id)
    assert closed.status == "RECEIVED" and closed.received_at is not None
    [event] = await events(runtime.db, shop.id, "part.purchase_request_received")
    assert event.payload["request_id"] == closed.id and event.payload["number"] == "PR-000001"
    # A later receipt closes nothing more; a later shortage may be reordered again.
    async with shop.db.uow(shop.admin.actor) as uow:
        await receive_stock(uow, part.id, D(1))
    assert len(await events(runtime.db, shop.id, "part.purchase_request_received")) == 1


@pytest.mark.parametrize("role", ["technician", "viewer", "sales_rep"])
async def test_only_those_who_manage_stock_may_request(runtime, factory, role):
    shop = await factory.tenant()
    part = await new_part(shop, stock="0", reorder_point="2")
    user = await shop.user(role, locale="en")

    with pytest.raises(PermissionDenied):
        async with shop.db.uow(user.actor) as uow:
            await request_purchase(uow, part.id, D(2))
    assert await _requests(runtime.db, shop.id, part.id) == []


async def test_another_dealerships_part_is_not_found(runtime, factory):
    shop, other = await factory.tenant(), await factory.tenant()
    theirs = await new_part(other, stock="0", reorder_point="2")

    with pytest.raises(NotFound):
        async with shop.db.uow(shop.admin.actor) as uow:
            await request_purchase(uow, theirs.id, D(2))
    assert await _requests(runtime.db, other.id, theirs.id) == []


# --- Cancelling a request ---------------------------------------------------------------------------------


async def _requested(shop, part_sku: str = "BP-1"):  # type: ignore[no-untyped-def]
    """A part at its reorder point and its open request."""
    part = await new_part(shop, sku=part_sku, stock="1", reorder_point="3")
    async with shop.db.uow(shop.admin.actor) as uow:
        request = await request_purchase(uow, part.id, D(5))
    return part, request


async def test_a_cancelled_request_says_who_when_and_why_and_frees_the_part(runtime, factory):
    """The supplier dropped the part: without a cancel the request stays open for good, and nobody can
    reorder the part from another supplier."""
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en", name="Mia Meier")
    part, request = await _requested(shop)

    async with shop.db.uow(manager.actor) as uow:
        await cancel_purchase_request(uow, part.id, request.id, "  Supplier discontinued the part ")

    [cancelled] = await _requests(runtime.db, shop.id, part.id)
    assert cancelled.status == "CANCELLED" and cancelled.received_at is None
    assert (cancelled.cancelled_by_id, cancelled.cancelled_by_name, cancelled.cancel_reason) == (
        manager.actor.user_id,
        "Mia Meier",
        "Supplier discontinued the part",
    )
    assert cancelled.cancelled_at is not None
    [event] = await events(runtime.db, shop.id, "part.purchase_request_cancelled")
    assert event.payload == {
        "id": part.id,
        "sku": "BP-1",
        "request_id": request.id,
        "number": "PR-000001",
        "quantity": "5.00",
        "reason": "Supplier discontinued the part",
    }
    assert sorted(event.topics) == sorted(["parts", f"part:{part.id}"])
    assert await levels(runtime.db, shop.id, part.id) == (D(1), D(0)), "a cancel moves no stock"
    # The part is free for a new request, and a receipt afterwards closes that one, not the cancelled.
    async with shop.db.uow(manager.actor) as uow:
        second = await request_purchase(uow, part.id, D(4))
    async with shop.db.uow(manager.actor) as uow:
        await receive_stock(uow, part.id, D(4))
    statuses = {r.id: r.status for r in await _requests(runtime.db, shop.id, part.id)}
    assert statuses == {request.id: "CANCELLED", second.id: "RECEIVED"}


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Say why the request is cancelled."),
        ("   ", "Say why the request is cancelled."),
        ("x" * 201, "Use at most 200 characters."),
    ],
)
async def test_a_cancel_without_a_short_reason_is_refused_and_changes_nothing(
    runtime, factory, reason, message
):
    shop = await factory.tenant()
    part, request = await _requested(shop)

    with pytest.raises(RuleViolation, match=message.replace(".", r"\.")) as refused:
        async with shop.db.uow(shop.admin.actor) as uow:
            await cancel_purchase_request(uow, part.id, request.id, reason)

    assert refused.value.field == "reason"
    [stored] = await _requests(runtime.db, shop.id, part.id)
    assert (stored.status, stored.cancel_reason) == ("OPEN", None)
    assert await events(runtime.db, shop.id, "part.purchase_request_cancelled") == []


async def test_a_request_closed_already_cannot_be_cancelled_and_the_refusal_says_what_became_of_it(
    runtime, factory
):
    shop = await factory.tenant()
    first = await shop.user("workshop_manager", locale="en", name="Mia Meier")
    part, request = await _requested(shop)
    async with shop.db.uow(first.actor) as uow:
        await cancel_purchase_request(uow, part.id, request.id, "Raised by mistake")

    with pytest.raises(
        Conflict, match=r"PR-000001 was already cancelled by Mia Meier, .*: Raised by mistake"
    ):
        async with shop.db.uow(shop.admin.actor) as uow:
            await cancel_purchase_request(uow, part.id, request.id, "Duplicate")

    other, received = await _requested(shop, "OF-1")
    async with shop.db.uow(shop.admin.actor) as uow:
        await receive_stock(uow, other.id, D(5))
    with pytest.raises(Conflict, match=r"PR-000002 was received .*; there is nothing left to cancel\."):
        async with shop.db.uow(shop.admin.actor) as uow:
            await cancel_purchase_request(uow, other.id, received.id, "Too late")
    assert [r.status for r in await _requests(runtime.db, shop.id, other.id)] == ["RECEIVED"]
    assert len(await events(runtime.db, shop.id, "part.purchase_request_cancelled")) == 1


async def test_two_managers_cancelling_at_once_cancel_once_and_the_second_is_told(runtime, factory):
    shop = await factory.tenant()
    part, request = await _requested(shop)
    managers = [await shop.user("workshop_manager", locale="en", name=name) for name in ("Mia", "Ugo")]

    async def cancel(actor) -> str:  # type: ignore[no-untyped-def]
        try:
            async with shop.db.uow(actor) as uow:
                await cancel_purchase_request(uow, part.id, request.id, f"{actor.name} says no")
        except Conflict as refused:
            return str(refused)
        return "cancelled"

    outcomes = await asyncio.gather(*(cancel(manager.actor) for manager in managers))

    assert outcomes.count("cancelled") == 1
    [stored] = await _requests(runtime.db, shop.id, part.id)
    assert stored.status == "CANCELLED"
    assert stored.cancel_reason == f"{stored.cancelled_by_name} says no", "the winner's reason, whole"
    [refusal] = [outcome for outcome in outcomes if outcome != "cancelled"]
    assert refusal.startswith(f"PR-000001 was already cancelled by {stored.cancelled_by_name}, ")
    assert len(await events(runtime.db, shop.id, "part.purchase_request_cancelled")) == 1


async def test_a_cancel_racing_a_receipt_ends_in_one_consistent_state(runtime, factory):
    """Either the goods closed the request and the cancel is refused, or the cancel won and the goods
    are still on the shelf; never a request both received and cancelled, nor stock lost."""
    shop = await factory.tenant()
    part, request = await _requested(shop)

    async def cancel() -> str:
        try:
            async with shop.db.uow(shop.admin.actor) as uow:
                await cancel_purchase_request(uow, part.id, request.id, "Supplier discontinued the part")
        except Conflict as refused:
            return str(refused)
        return "cancelled"

    async def receive() -> str:
        async with shop.db.uow(shop.admin.actor) as uow:
            await receive_stock(uow, part.id, D(5), "Delivery 42")
        return "received"

    cancelled, received = await asyncio.gather(cancel(), receive())

    assert received == "received"
    assert await levels(runtime.db, shop.id, part.id) == (D(6), D(0)), "the delivery is on the shelf"
    [stored] = await _requests(runtime.db, shop.id, part.id)
    closed = await events(
        runtime.db, shop.id, "part.purchase_request_cancelled", "part.purchase_request_received"
    )
    assert len(closed) == 1, "closed once, one way"
    if cancelled == "cancelled":
        assert (stored.status, stored.received_at, closed[0].type) == (
            "CANCELLED",
            None,
            "part.purchase_request_cancelled",
        )
    else:
        assert cancelled.startswith("PR-000001 was received ")
        assert (stored.status, stored.cancelled_at, closed[0].type) == (
            "RECEIVED",
            None,
            "part.purchase_request_received",
        )


@pytest.mark.parametrize("role", ["technician", "viewer", "sales_rep"])
async def test_only_those_who_manage_stock_may_cancel(runtime, factory, role):
    shop = await factory.tenant()
    part, request = await _requested(shop)
    user = await shop.user(role, locale="en")

    with pytest.raises(PermissionDenied):
        async with shop.db.uow(user.actor) as uow:
            await cancel_purchase_request(uow, part.id, request.id, "Not mine to cancel")
    assert [r.status for r in await _requests(runtime.db, shop.id, part.id)] == ["OPEN"]


async def test_another_dealerships_request_or_another_parts_is_not_found(runtime, factory):
    shop, other = await factory.tenant(), await factory.tenant()
    theirs, their_request = await _requested(other)
    ours, _our_request = await _requested(shop)

    for part_id, request_id in ((theirs.id, their_request.id), (ours.id, their_request.id)):
        with pytest.raises(NotFound):
            async with shop.db.uow(shop.admin.actor) as uow:
                await cancel_purchase_request(uow, part_id, request_id, "Not ours")
    assert [r.status for r in await _requests(runtime.db, other.id, theirs.id)] == ["OPEN"]
