"""Purchase requests: a part at its reorder point is reordered once, with a sensible quantity, without
touching stock, and the receipt of the goods closes the request."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import select

from ops.auth.actor import Conflict, NotFound, PermissionDenied, RuleViolation
from ops.workshop.models import PurchaseRequest
from ops.workshop.parts.service import (
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
