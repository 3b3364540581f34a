"""Property: for any sequence of ledger operations against the real database, the levels follow a
simple reference model, never go negative, are explained by the sum of the movements, and every
refused operation changes nothing."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ops.auth.actor import RuleViolation
from ops.workshop.parts.service import (
    adjust_stock,
    consume_part,
    receive_stock,
    release_part,
    reserve_part,
    return_stock,
)
from tests.workshop.parts.stock import levels, movements, new_part

D = Decimal
ZERO = D(0)
# Mostly sensible amounts, sometimes zero or negative, which the ledger must refuse.
amounts = st.decimals(min_value=D("-2"), max_value=D("25"), places=2, allow_nan=False, allow_infinity=False)
jobs = st.integers(min_value=0, max_value=2)
operations = st.one_of(
    st.tuples(st.just("receive"), amounts),
    st.tuples(st.just("return"), amounts),
    st.tuples(st.just("reserve"), jobs, amounts),
    st.tuples(st.just("release"), jobs, amounts),
    # The share of the job's own reservation that a consume takes, from none to all of it.
    st.tuples(st.just("consume"), jobs, amounts, st.sampled_from([D(0), D("0.5"), D(1)])),
    st.tuples(st.just("count"), amounts),
    st.tuples(st.just("change"), amounts),
)
_skus = itertools.count(1)


@dataclass
class Shelf:
    """The reference model: what the levels must be after each operation."""

    on_hand: Decimal = ZERO
    reserved: Decimal = ZERO
    held: dict[int, Decimal] = field(default_factory=lambda: dict.fromkeys(range(3), ZERO))

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


def _from_reservation(shelf: Shelf, job: int, quantity: Decimal, share: Decimal) -> Decimal:
    return max(ZERO, min(quantity, (shelf.held[job] * share).quantize(D("0.01"))))


def _model_accepts(shelf: Shelf, operation: tuple) -> bool:  # type: ignore[type-arg]
    """Whether the ledger's rules allow the operation on the model's levels."""
    kind, *arguments = operation
    if kind in ("receive", "return", "reserve"):
        return bool(arguments[-1] > 0)
    if kind == "release":
        return bool(0 < arguments[1] <= shelf.reserved)
    if kind == "consume":
        job, quantity, share = arguments
        taken = _from_reservation(shelf, job, quantity, share)
        return bool(quantity > 0 and taken <= shelf.reserved and quantity - taken <= shelf.available)
    if kind == "count":
        counted = arguments[0]
        return bool(counted >= shelf.reserved and counted != shelf.on_hand)
    change = arguments[0]
    return bool(change != 0 and shelf.on_hand + change >= shelf.reserved)


async def _apply(shop, part_id: int, work_orders: list[int], shelf: Shelf, operation: tuple) -> None:  # type: ignore[no-untyped-def,type-arg]
    """Run one operation on the database, then on the model (a refusal raises before the model changes)."""
    kind, *arguments = operation
    async with shop.db.uow(shop.admin.actor) as uow:
        if kind in ("receive", "return"):
            (quantity,) = arguments
            use_case = receive_stock if kind == "receive" else return_stock
            await use_case(uow, part_id, quantity, "property")
            shelf.on_hand += quantity
        elif kind == "reserve":
            job, quantity = arguments
            got = await reserve_part(uow, part_id, quantity, work_orders[job])
            await uow.commit()
            assert got == min(quantity, shelf.available)
            shelf.reserved += got
            shelf.held[job] += got
        elif kind == "release":
            job, quantity = arguments
            await release_part(uow, part_id, quantity, work_orders[job], "property")
            await uow.commit()
            shelf.reserved -= quantity
            shelf.held[job] = max(ZERO, shelf.held[job] - quantity)
        elif kind == "consume":
            job, quantity, share = arguments
            taken = _from_reservation(shelf, job, quantity, share)
            await consume_part(uow, part_id, quantity, taken, work_orders[job])
            await uow.commit()
            shelf.on_hand -= quantity
            shelf.reserved -= taken
            shelf.held[job] = max(ZERO, shelf.held[job] - taken)
        elif kind == "count":
            (counted,) = arguments
            await adjust_stock(uow, part_id, counted=counted, reason="property")
            shelf.on_hand = counted
        else:
            (change,) = arguments
            await adjust_stock(uow, part_id, change=change, reason="property")
            shelf.on_hand += change


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(operations, min_size=1, max_size=12))
async def test_levels_follow_the_movements_and_never_go_negative(runtime, factory, sequence):
    shop = await _shop(factory)
    # Litres: the ledger's arithmetic holds for any amount with two decimals.
    part = await new_part(shop, sku=f"P-{next(_skus)}", stock="5", unit="l")
    work_orders = await _work_orders(shop)
    shelf = Shelf(on_hand=D(5))

    for operation in sequence:
        before = await levels(runtime.db, shop.id, part.id)
        ledger_length = len(await movements(runtime.db, shop.id, part.id))
        expected = _model_accepts(shelf, operation)
        try:
            await _apply(shop, part.id, work_orders, shelf, operation)
        except RuleViolation:
            assert not expected, operation
            # Refused: nothing changed, not even a movement.
            assert await levels(runtime.db, shop.id, part.id) == before
            assert len(await movements(runtime.db, shop.id, part.id)) == ledger_length
        else:
            assert expected, operation
        on_hand, reserved = await levels(runtime.db, shop.id, part.id)
        assert (on_hand, reserved) == (shelf.on_hand, shelf.reserved), operation
        assert 0 <= reserved <= on_hand

    ledger = await movements(runtime.db, shop.id, part.id)
    running_on_hand = running_reserved = ZERO
    for movement in ledger:
        running_on_hand += movement.on_hand_change
        running_reserved += movement.reserved_change
        assert (movement.on_hand_after, movement.reserved_after) == (running_on_hand, running_reserved)
        assert 0 <= movement.reserved_after <= movement.on_hand_after
    assert (running_on_hand, running_reserved) == (shelf.on_hand, shelf.reserved)


# One tenant and three jobs per test run: provisioning a tenant hashes a password, too slow per example.
_shops: dict[str, object] = {}


async def _shop(factory):  # type: ignore[no-untyped-def]
    key = factory.db.url
    if key not in _shops:
        _shops[key] = await factory.tenant()
    return _shops[key]


async def _work_orders(shop) -> list[int]:  # type: ignore[no-untyped-def]
    cached = getattr(shop, "_property_jobs", None)
    if cached is None:
        cached = [(await shop.work_order()).id for _ in range(3)]
        shop._property_jobs = cached
    return cached  # type: ignore[no-any-return]
