"""The stock ledger's use cases: each change is one movement with the levels after it, and refusals
change nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ops.auth.actor import NotFound, PermissionDenied, RuleViolation
from ops.workshop.parts.service import (
    NewPart,
    StockShortage,
    adjust_stock,
    consume_part,
    create_part,
    receive_stock,
    release_part,
    reserve_part,
    return_stock,
)
from tests.workshop.parts.stock import events, levels, movements, new_part

D = Decimal


async def _in_transaction(shop, operation, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Run a caller-commits ledger function the way a job's use case does: in its transaction."""
    async with shop.db.uow(shop.admin.actor) as uow:
        result = await operation(uow, *args, **kwargs)
        await uow.commit()
    return result


async def test_a_new_part_with_opening_stock_starts_its_ledger_with_a_receipt(runtime, factory):
    """The inventory page could not explain where the first units on the shelf came from."""
    shop = await factory.tenant()

    part = await new_part(shop, sku="  OF-12 ", name="Oil filter", stock="12", reorder_point="4")

    assert (part.sku, part.name, part.on_hand, part.reserved) == ("OF-12", "Oil filter", D(12), D(0))
    (opening,) = await movements(runtime.db, shop.id, part.id)
    assert (opening.kind, opening.on_hand_change, opening.on_hand_after, opening.reserved_after) == (
        "RECEIVE",
        D(12),
        D(12),
        D(0),
    )
    assert (opening.reason, opening.actor_id, opening.actor_name) == (
        "Opening stock",
        shop.admin.actor.user_id,
        "Admin Person",
    )
    created, changed = await events(runtime.db, shop.id, "part.created", "part.stock_changed")
    assert created.type == "part.created" and created.payload["sku"] == "OF-12"
    assert changed.payload == {
        "id": part.id,
        "sku": "OF-12",
        "kind": "RECEIVE",
        "on_hand": "12.00",
        "reserved": "0.00",
        "available": "12.00",
        "below_reorder_point": False,
        "work_order_id": None,
    }
    assert changed.topics == ["parts", f"part:{part.id}"]


async def test_a_sku_is_unique_within_the_dealership_whatever_its_case(runtime, factory):
    """Two shelves' worth of the same part under "bp-1" and "BP-1" would split its stock."""
    shop = await factory.tenant()
    other = await factory.tenant()
    await new_part(shop, sku="BP-1")
    await new_part(other, sku="bp-1")

    with pytest.raises(RuleViolation) as refused:
        await new_part(shop, sku="bp-1")

    assert refused.value.field == "sku"
    assert len(await events(runtime.db, shop.id, "part.created")) == 1


@pytest.mark.parametrize(
    ("field", "data"),
    [
        ("sku", {"sku": " "}),
        ("name", {"name": ""}),
        ("reorder_point", {"reorder_point": D("-1")}),
        ("price", {"price": D("1.005")}),
        ("opening_stock", {"opening_stock": D("-3")}),
    ],
)
async def test_a_part_with_bad_data_is_refused_with_the_field_named(runtime, factory, field, data):
    """The form could not say which field is wrong, or a broken part would be stored."""
    shop = await factory.tenant()
    values = {"sku": "X-1", "name": "Wiper blade"} | data

    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(shop.admin.actor) as uow:
            await create_part(uow, NewPart(**values))

    assert refused.value.field == field
    assert await events(runtime.db, shop.id, "part.created") == []


async def test_receiving_stock_adds_to_on_hand_with_the_reason_and_who(runtime, factory):
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", name="Mira Manager")
    part = await new_part(shop, name="Brake fluid DOT 4", stock="2", unit="l")

    async with shop.db.uow(manager.actor) as uow:
        after = await receive_stock(uow, part.id, D("10.5"), "Delivery note 4711")

    assert (after.on_hand, after.reserved, after.available) == (D("12.5"), D(0), D("12.5"))
    assert await levels(runtime.db, shop.id, part.id) == (D("12.5"), D(0))
    receipt = (await movements(runtime.db, shop.id, part.id))[-1]
    assert (receipt.kind, receipt.on_hand_change, receipt.on_hand_after, receipt.reason) == (
        "RECEIVE",
        D("10.5"),
        D("12.5"),
        "Delivery note 4711",
    )
    assert (receipt.actor_id, receipt.actor_name) == (manager.actor.user_id, "Mira Manager")


@pytest.mark.parametrize("quantity", [D(0), D(-1), D("0.001"), D("NaN"), D("100000000")])
async def test_receiving_a_quantity_that_is_not_a_positive_amount_is_refused(runtime, factory, quantity):
    """A typo would put negative, fractional-cent or absurd stock on the shelf."""
    shop = await factory.tenant()
    part = await new_part(shop, stock="2")

    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(shop.admin.actor) as uow:
            await receive_stock(uow, part.id, quantity)

    assert refused.value.field == "quantity"
    assert await levels(runtime.db, shop.id, part.id) == (D(2), D(0))
    assert len(await movements(runtime.db, shop.id, part.id)) == 1


async def test_quantities_are_never_floats(runtime, factory):
    """0.1 + 0.2 would slowly put phantom stock on the shelf."""
    shop = await factory.tenant()
    part = await new_part(shop, stock="2")

    with pytest.raises(TypeError):
        async with shop.db.uow(shop.admin.actor) as uow:
            await receive_stock(uow, part.id, 0.5)  # type: ignore[arg-type]


async def test_reserving_holds_stock_for_a_job_and_only_what_is_available(runtime, factory):
    """A job could hold parts that are not on the shelf, or hold them without a trace."""
    shop = await factory.tenant()
    part = await new_part(shop, stock="5")
    first = await shop.work_order()
    second = await shop.work_order()

    assert await _in_transaction(shop, reserve_part, part.id, D(3), first.id) == D(3)
    assert await _in_transaction(shop, reserve_part, part.id, D(4), second.id) == D(2)
    assert await _in_transaction(shop, reserve_part, part.id, D(1), second.id) == D(0)

    assert await levels(runtime.db, shop.id, part.id) == (D(5), D(5))
    reservations = (await movements(runtime.db, shop.id, part.id))[1:]
    assert [(m.kind, m.reserved_change, m.reserved_after, m.work_order_id) for m in reservations] == [
        ("RESERVE", D(3), D(3), first.id),
        ("RESERVE", D(2), D(5), second.id),
    ]


async def test_releasing_gives_a_reservation_back_and_never_more_than_is_reserved(runtime, factory):
    """A removed line would keep its parts locked away, or a release would free another job's parts."""
    shop = await factory.tenant()
    part = await new_part(shop, stock="5")
    job = await shop.work_order()
    await _in_transaction(shop, reserve_part, part.id, D(3), job.id)

    await _in_transaction(shop, release_part, part.id, D(2), job.id, "Line removed")
    with pytest.raises(RuleViolation) as refused:
        await _in_transaction(shop, release_part, part.id, D(2), job.id, "Again")

    assert "Only 1 of BP-001 Brake pads front are reserved" in str(refused.value)
    assert await levels(runtime.db, shop.id, part.id) == (D(5), D(1))
    release = (await movements(runtime.db, shop.id, part.id))[-1]
    assert (release.kind, release.reserved_change, release.reason) == ("RELEASE", D(-2), "Line removed")


async def test_consuming_takes_the_jobs_reservation_and_the_rest_from_available_stock(runtime, factory):
    shop = await factory.tenant()
    part = await new_part(shop, stock="6")
    job = await shop.work_order()
    await _in_transaction(shop, reserve_part, part.id, D(2), job.id)

    await _in_transaction(shop, consume_part, part.id, D(3), D(2), job.id)

    assert await levels(runtime.db, shop.id, part.id) == (D(3), D(0))
    consumed = (await movements(runtime.db, shop.id, part.id))[-1]
    assert (consumed.kind, consumed.on_hand_change, consumed.reserved_change) == ("CONSUME", D(-3), D(-2))
    assert (consumed.on_hand_after, consumed.reserved_after, consumed.work_order_id) == (D(3), D(0), job.id)


async def test_consuming_never_eats_another_jobs_reservation(runtime, factory):
    """Completing one job would take the parts promised to the car on the next lift."""
    shop = await factory.tenant()
    part = await new_part(shop, stock="4")
    waiting_job, greedy_job = await shop.work_order(), await shop.work_order()
    await _in_transaction(shop, reserve_part, part.id, D(3), waiting_job.id)

    with pytest.raises(StockShortage) as short:
        await _in_transaction(shop, consume_part, part.id, D(2), D(0), greedy_job.id)

    assert (short.value.part_id, short.value.sku, short.value.short_by) == (part.id, "BP-001", D(1))
    assert str(short.value) == "Not enough BP-001 Brake pads front in stock: 1 short."
    assert await levels(runtime.db, shop.id, part.id) == (D(4), D(3))
    assert [m.kind for m in await movements(runtime.db, shop.id, part.id)] == ["RECEIVE", "RESERVE"]


async def test_consuming_more_of_the_reservation_than_is_reserved_is_refused(runtime, factory):
    shop = await factory.tenant()
    part = await new_part(shop, stock="4")
    job = await shop.work_order()
    await _in_transaction(shop, reserve_part, part.id, D(1), job.id)

    with pytest.raises(RuleViolation) as refused:
        await _in_transaction(shop, consume_part, part.id, D(2), D(2), job.id)

    assert refused.value.field == "reserved_quantity"
    assert await levels(runtime.db, shop.id, part.id) == (D(4), D(1))


async def test_adjusting_to_a_counted_level_records_the_difference(runtime, factory):
    """After a stock take the shelf and the system would disagree, with no trace of why."""
    shop = await factory.tenant()
    part = await new_part(shop, stock="10")

    async with shop.db.uow(shop.admin.actor) as uow:
        after = await adjust_stock(uow, part.id, counted=D(7), reason="  Stock take March ")

    assert (after.on_hand, after.available) == (D(7), D(7))
    adjusted = (await movements(runtime.db, shop.id, part.id))[-1]
    assert (adjusted.kind, adjusted.on_hand_change, adjusted.on_hand_after, adjusted.reason) == (
        "ADJUST",
        D(-3),
        D(7),
        "Stock take March",
    )


async def test_adjusting_by_a_change_adds_or_removes_stock(runtime, factory):
    shop = await factory.tenant()
    part = await new_part(shop, name="Brake fluid DOT 4", stock="10", unit="l")

    async with shop.db.uow(shop.admin.actor) as uow:
        await adjust_stock(uow, part.id, change=D("-2.5"), reason="Damaged in the store")
    async with shop.db.uow(shop.admin.actor) as uow:
        after = await adjust_stock(uow, part.id, change=D(1), reason="Found behind the shelf")

    assert after.on_hand == D("8.5")
    assert [m.on_hand_change for m in await movements(runtime.db, shop.id, part.id)] == [
        D(10),
        D("-2.5"),
        D(1),
    ]


@pytest.mark.parametrize(
    ("arguments", "field", "message"),
    [
        ({"counted": D(3), "reason": " "}, "reason", "Say why the stock changes."),
        ({"change": D(-11), "reason": "Theft"}, "change", "Stock cannot go below zero: 10 of BP-001"),
        ({"counted": D(-1), "reason": "Count"}, "counted", "Enter zero or more."),
        ({"counted": D(1), "reason": "Count"}, "counted", "4 of BP-001 are reserved for open jobs"),
        ({"change": D(-7), "reason": "Count"}, "change", "4 of BP-001 are reserved for open jobs"),
        ({"counted": D(10), "reason": "Count"}, "counted", "10 is already the stock on hand"),
        ({"change": D(0), "reason": "Count"}, "change", "Enter a change other than zero."),
        ({"reason": "Count"}, "counted", "Enter either the counted stock or a change."),
        ({"counted": D(1), "change": D(1), "reason": "x"}, "counted", "Enter either the counted"),
    ],
)
async def test_an_adjustment_the_rules_refuse_changes_nothing(runtime, factory, arguments, field, message):
    """Stock could go negative, fall under what jobs hold, or change without a reason."""
    shop = await factory.tenant()
    part = await new_part(shop, stock="10")
    await _in_transaction(shop, reserve_part, part.id, D(4), (await shop.work_order()).id)

    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(shop.admin.actor) as uow:
            await adjust_stock(uow, part.id, **arguments)

    assert refused.value.field == field
    assert str(refused.value).startswith(message)
    assert await levels(runtime.db, shop.id, part.id) == (D(10), D(4))
    assert [m.kind for m in await movements(runtime.db, shop.id, part.id)] == ["RECEIVE", "RESERVE"]


async def test_a_part_returned_from_a_job_goes_back_on_the_shelf_with_the_job_named(runtime, factory):
    shop = await factory.tenant()
    part = await new_part(shop, stock="1")
    job = await shop.work_order()

    async with shop.db.uow(shop.admin.actor) as uow:
        after = await return_stock(uow, part.id, D(1), "Not fitted", work_order_id=job.id)

    assert after.on_hand == D(2)
    returned = (await movements(runtime.db, shop.id, part.id))[-1]
    assert (returned.kind, returned.on_hand_change, returned.work_order_id, returned.reason) == (
        "RETURN",
        D(1),
        job.id,
        "Not fitted",
    )


async def test_falling_to_the_reorder_point_raises_one_alert_until_stock_recovers(runtime, factory):
    """The manager would miss the moment to reorder, or get an alert on every later change."""
    shop = await factory.tenant()
    part = await new_part(shop, stock="6", reorder_point="2")
    job = await shop.work_order()

    await _in_transaction(shop, reserve_part, part.id, D(3), job.id)  # available 3: above
    await _in_transaction(shop, consume_part, part.id, D(4), D(3), job.id)  # available 2: crosses
    await _in_transaction(shop, consume_part, part.id, D(1), D(0), job.id)  # available 1: still below
    async with shop.db.uow(shop.admin.actor) as uow:
        await receive_stock(uow, part.id, D(10))  # available 11: recovered
    async with shop.db.uow(shop.admin.actor) as uow:
        await adjust_stock(uow, part.id, counted=D(1), reason="Count")  # crosses again

    alerts = await events(runtime.db, shop.id, "part.below_reorder_point")
    assert [(a.payload["available"], a.payload["reorder_point"]) for a in alerts] == [
        ("2.00", "2.00"),
        ("1.00", "2.00"),
    ]
    assert alerts[0].topics == ["parts", f"part:{part.id}"]
    changes = await events(runtime.db, shop.id, "part.stock_changed")
    assert [change.payload["below_reorder_point"] for change in changes] == [
        False,
        False,
        True,
        True,
        False,
        True,
    ]


@pytest.mark.parametrize("role", ["technician", "viewer", "sales_rep"])
async def test_only_workshop_staff_manage_stock(runtime, factory, role):
    """A technician could book stock in or out without the parts desk knowing."""
    shop = await factory.tenant()
    part = await new_part(shop, stock="3")
    user = await shop.user(role)

    for attempt in (
        lambda uow: receive_stock(uow, part.id, D(1)),
        lambda uow: adjust_stock(uow, part.id, counted=D(1), reason="Count"),
        lambda uow: return_stock(uow, part.id, D(1)),
        lambda uow: create_part(uow, NewPart(sku="N-1", name="New")),
    ):
        with pytest.raises(PermissionDenied):
            async with shop.db.uow(user.actor) as uow:
                await attempt(uow)

    assert await levels(runtime.db, shop.id, part.id) == (D(3), D(0))


async def test_another_dealerships_part_is_not_found_and_untouched(runtime, factory):
    """One dealership could book stock on another dealership's shelf."""
    shop = await factory.tenant()
    other = await factory.tenant()
    foreign = await new_part(other, stock="3")
    job = await shop.work_order()

    attempts = [
        lambda uow: reserve_part(uow, foreign.id, D(1), job.id),
        lambda uow: release_part(uow, foreign.id, D(1), job.id, "x"),
        lambda uow: consume_part(uow, foreign.id, D(1), D(0), job.id),
        lambda uow: receive_stock(uow, foreign.id, D(1)),
        lambda uow: adjust_stock(uow, foreign.id, change=D(-1), reason="x"),
        lambda uow: adjust_stock(uow, foreign.id, counted=D(1), reason="x"),
        lambda uow: return_stock(uow, foreign.id, D(1)),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound):
            async with shop.db.uow(shop.admin.actor) as uow:
                await attempt(uow)

    assert await levels(runtime.db, other.id, foreign.id) == (D(3), D(0))
    assert len(await movements(runtime.db, other.id, foreign.id)) == 1


async def test_a_return_names_only_a_job_of_the_same_dealership(runtime, factory):
    """The ledger would link a part to a competitor's job."""
    shop = await factory.tenant()
    other = await factory.tenant()
    part = await new_part(shop, stock="1")
    foreign_job = await other.work_order()

    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(shop.admin.actor) as uow:
            await return_stock(uow, part.id, D(1), "x", work_order_id=foreign_job.id)

    assert refused.value.field == "work_order"
    assert await levels(runtime.db, shop.id, part.id) == (D(1), D(0))


WHOLE_ITEMS = "%s pc: this part is counted in whole items; enter a whole number."


@pytest.mark.parametrize(
    ("operation", "arguments", "field", "message"),
    [
        (receive_stock, {"quantity": D("1.5")}, "quantity", WHOLE_ITEMS % "1.5"),
        (return_stock, {"quantity": D("1.5"), "reason": "Not fitted"}, "quantity", WHOLE_ITEMS % "1.5"),
        (adjust_stock, {"counted": D("1.5"), "reason": "Count"}, "counted", WHOLE_ITEMS % "1.5"),
        (adjust_stock, {"change": D("-1.5"), "reason": "Count"}, "change", WHOLE_ITEMS % "-1.5"),
    ],
)
async def test_half_an_item_of_a_part_counted_in_pieces_is_refused_and_nothing_changes(
    runtime, factory, operation, arguments, field, message
):
    """1.5 oil filters were booked into stock: half a filter is neither fitted nor sold."""
    shop = await factory.tenant()
    part = await new_part(shop, stock="10")

    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(shop.admin.actor) as uow:
            await operation(uow, part.id, **arguments)

    assert (refused.value.field, str(refused.value)) == (field, message)
    assert await levels(runtime.db, shop.id, part.id) == (D(10), D(0))
    assert [m.kind for m in await movements(runtime.db, shop.id, part.id)] == ["RECEIVE"]


async def test_a_new_part_counted_in_sets_opens_with_whole_sets_only(runtime, factory):
    shop = await factory.tenant()

    with pytest.raises(RuleViolation) as refused:
        await new_part(shop, stock="2.5", unit="set")

    assert (refused.value.field, str(refused.value)) == (
        "opening_stock",
        "2.5 set: this part is counted in whole items; enter a whole number.",
    )
    assert await events(runtime.db, shop.id, "part.created") == []


async def test_litres_and_kilograms_keep_their_decimals(runtime, factory):
    shop = await factory.tenant()
    oil = await new_part(shop, sku="OIL-5W30", name="Engine oil 5W-30", stock="20.5", unit="l")
    grease = await new_part(shop, sku="GR-1", name="Wheel bearing grease", stock="1.25", unit="kg")

    async with shop.db.uow(shop.admin.actor) as uow:
        await receive_stock(uow, oil.id, D("4.5"))
    async with shop.db.uow(shop.admin.actor) as uow:
        await adjust_stock(uow, grease.id, counted=D("0.75"), reason="Count")

    assert await levels(runtime.db, shop.id, oil.id) == (D("25"), D(0))
    assert await levels(runtime.db, shop.id, grease.id) == (D("0.75"), D(0))
