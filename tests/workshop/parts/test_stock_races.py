"""Stock under concurrency: completions racing for the last units never take more than is there."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from ops.workshop.parts.service import StockShortage, consume_part, reserve_part
from tests.workshop.parts.stock import levels, movements, new_part

D = Decimal


async def _complete_with(shop, part_id: int, quantity: Decimal, work_order_id: int) -> str:  # type: ignore[no-untyped-def]
    """One job's completion: consume, hold the transaction open a moment, commit."""
    try:
        async with shop.db.uow(shop.admin.actor) as uow:
            await consume_part(uow, part_id, quantity, D(0), work_order_id)
            # Keep the row lock (PostgreSQL) or write lock (SQLite) while the rival is already waiting.
            await asyncio.sleep(0.1)
            await uow.commit()
    except StockShortage as short:
        assert (short.part_id, short.sku, short.short_by) == (part_id, "TY-205", quantity)
        assert "TY-205 Tyre 205/55 R16" in str(short)
        return "short"
    return "done"


async def test_two_completions_racing_for_the_last_unit_one_wins_and_the_other_is_told_which_part(
    runtime, factory
):
    """Both jobs would be invoiced for a tyre the workshop had only one of, and stock would read -1."""
    shop = await factory.tenant()
    part = await new_part(shop, sku="TY-205", name="Tyre 205/55 R16", stock="1")
    first, second = await shop.work_order(), await shop.work_order()

    outcomes = await asyncio.gather(
        _complete_with(shop, part.id, D(1), first.id), _complete_with(shop, part.id, D(1), second.id)
    )

    assert sorted(outcomes) == ["done", "short"]
    assert await levels(runtime.db, shop.id, part.id) == (D(0), D(0))
    consumed = [m for m in await movements(runtime.db, shop.id, part.id) if m.kind == "CONSUME"]
    assert len(consumed) == 1 and consumed[0].on_hand_after == D(0)


async def test_six_completions_for_three_units_exactly_three_win(runtime, factory):
    shop = await factory.tenant()
    part = await new_part(shop, sku="TY-205", name="Tyre 205/55 R16", stock="3")
    jobs = [await shop.work_order() for _ in range(6)]

    outcomes = await asyncio.gather(*(_complete_with(shop, part.id, D(1), job.id) for job in jobs))

    assert sorted(outcomes) == ["done"] * 3 + ["short"] * 3
    assert await levels(runtime.db, shop.id, part.id) == (D(0), D(0))
    on_hand_afters = sorted(m.on_hand_after for m in await movements(runtime.db, shop.id, part.id))
    assert on_hand_afters == [D(0), D(1), D(2), D(3)]


async def test_racing_reservations_never_hold_more_than_is_on_the_shelf(runtime, factory):
    """Two advisors adding the same part to two jobs at once would both be promised the last units."""
    shop = await factory.tenant()
    part = await new_part(shop, sku="TY-205", name="Tyre 205/55 R16", stock="5")
    jobs = [await shop.work_order() for _ in range(4)]

    async def reserve(work_order_id: int) -> Decimal:
        async with shop.db.uow(shop.admin.actor) as uow:
            amount = await reserve_part(uow, part.id, D(2), work_order_id)
            await asyncio.sleep(0.05)
            await uow.commit()
        return amount

    amounts = await asyncio.gather(*(reserve(job.id) for job in jobs))

    assert sorted(amounts) == [D(0), D(1), D(2), D(2)]
    assert await levels(runtime.db, shop.id, part.id) == (D(5), D(5))
