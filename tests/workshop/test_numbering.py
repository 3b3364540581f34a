"""Work-order numbers: WO-000001, WO-000002, ... per dealership, never duplicated under concurrency."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from ops.auth.actor import RuleViolation
from ops.workshop.models import WorkOrder
from ops.workshop.service import NewWorkOrder, create_work_order


async def _create(runtime, shop, vehicle_id: int) -> WorkOrder:  # type: ignore[no-untyped-def]
    async with runtime.db.uow(shop.admin.actor) as uow:
        return await create_work_order(uow, NewWorkOrder(vehicle_id=vehicle_id, complaint="Noise"))


async def test_work_orders_are_numbered_from_wo_000001_in_order(runtime, factory):
    """The first job of a new dealership would not be WO-000001, or numbers would skip."""
    shop = await factory.tenant()
    vehicle = await shop.vehicle()

    created = [await _create(runtime, shop, vehicle.id) for _ in range(3)]

    assert [w.code for w in created] == ["WO-000001", "WO-000002", "WO-000003"]


async def test_twenty_simultaneous_creations_get_twenty_distinct_consecutive_numbers(runtime, factory):
    """Two advisors at the counter at the same moment would print the same job number twice."""
    shop = await factory.tenant()
    vehicle = await shop.vehicle()

    created = await asyncio.gather(*(_create(runtime, shop, vehicle.id) for _ in range(20)))

    assert sorted(w.number for w in created) == list(range(1, 21))
    async with runtime.db.read(shop.id) as session:
        stored = sorted((await session.scalars(select(WorkOrder.number))).all())
    assert stored == list(range(1, 21))


async def test_two_dealerships_number_independently(runtime, factory):
    """One dealership's jobs would use up (and reveal) the other's numbers."""
    shop_a = await factory.tenant()
    shop_b = await factory.tenant()
    vehicle_a = await shop_a.vehicle()
    vehicle_b = await shop_b.vehicle()

    first_a = await _create(runtime, shop_a, vehicle_a.id)
    first_b = await _create(runtime, shop_b, vehicle_b.id)
    both = await asyncio.gather(
        *(
            _create(runtime, shop, vehicle.id)
            for shop, vehicle in [(shop_a, vehicle_a), (shop_b, vehicle_b)] * 5
        )
    )

    assert (first_a.code, first_b.code) == ("WO-000001", "WO-000001")
    assert sorted(w.number for w in both if w.tenant_id == shop_a.id) == [2, 3, 4, 5, 6]
    assert sorted(w.number for w in both if w.tenant_id == shop_b.id) == [2, 3, 4, 5, 6]


async def test_a_refused_creation_does_not_use_up_a_number(runtime, factory):
    """A form error would leave a gap in the job numbers the accountant has to explain."""
    shop = await factory.tenant()
    vehicle = await shop.vehicle()
    await _create(runtime, shop, vehicle.id)
    with pytest.raises(RuleViolation):
        async with runtime.db.uow(shop.admin.actor) as uow:
            await create_work_order(uow, NewWorkOrder(vehicle_id=vehicle.id, complaint="x", priority="SOON"))

    second = await _create(runtime, shop, vehicle.id)

    assert second.code == "WO-000002"
