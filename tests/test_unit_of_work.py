"""`UnitOfWork.update_versioned`: the guarded write behind every edit of a card, lead or job.

If it broke, two people editing at once would overwrite each other silently, or a screen would show
a version the database does not have and every next edit would be refused as stale.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ops.workshop.models import WorkOrder


async def _stored(runtime, work_order_id: int) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    async with runtime.db.system() as session:
        row = (
            await session.execute(
                select(WorkOrder.version, WorkOrder.complaint).where(WorkOrder.id == work_order_id)
            )
        ).one()
    return int(row.version), str(row.complaint)


async def test_a_versioned_update_writes_once_and_the_loaded_row_shows_it(runtime, factory):
    shop = await factory.tenant()
    job = await shop.work_order(complaint="Squeaks")
    async with runtime.db.uow(shop.admin.actor) as uow:
        loaded = await uow.session.scalar(select(WorkOrder).where(WorkOrder.id == job.id))
        assert loaded is not None
        before = loaded.version
        assert await uow.update_versioned(loaded, {"complaint": "Squeaks when braking"})
        # What the rest of the use case reads (event payloads, the answer) is what was written.
        assert (loaded.version, loaded.complaint) == (before + 1, "Squeaks when braking")
        await uow.commit()
    assert await _stored(runtime, job.id) == (before + 1, "Squeaks when braking")


async def test_a_writer_holding_an_outdated_version_writes_nothing(runtime, factory):
    shop = await factory.tenant()
    job = await shop.work_order(complaint="Rattles")
    async with runtime.db.read(shop.id) as session:
        seen_earlier = await session.scalar(select(WorkOrder).where(WorkOrder.id == job.id))
    assert seen_earlier is not None
    async with runtime.db.uow(shop.admin.actor) as first:
        mine = await first.session.scalar(select(WorkOrder).where(WorkOrder.id == job.id))
        assert mine is not None
        assert await first.update_versioned(mine, {"complaint": "Rattles at 80 km/h"})
        await first.commit()
    async with runtime.db.uow(shop.admin.actor) as second:
        assert not await second.update_versioned(seen_earlier, {"complaint": "Overwritten"})
        assert seen_earlier.complaint == "Rattles"
        await second.commit()
    assert await _stored(runtime, job.id) == (mine.version, "Rattles at 80 km/h")


async def test_another_tenants_row_is_not_written(runtime, factory):
    shop, other = await factory.tenant(), await factory.tenant()
    theirs = await other.work_order(complaint="Theirs")
    async with runtime.db.system() as session:
        row = await session.scalar(select(WorkOrder).where(WorkOrder.id == theirs.id))
    assert row is not None
    async with runtime.db.uow(shop.admin.actor) as uow:
        assert not await uow.update_versioned(row, {"complaint": "Written by the wrong shop"})
        await uow.commit()
    assert (await _stored(runtime, theirs.id))[1] == "Theirs"


async def test_an_expression_is_refused_before_anything_is_written(runtime, factory):
    shop = await factory.tenant()
    job = await shop.work_order(complaint="Smells")
    async with runtime.db.uow(shop.admin.actor) as uow:
        loaded = await uow.session.scalar(select(WorkOrder).where(WorkOrder.id == job.id))
        with pytest.raises(TypeError):
            await uow.update_versioned(loaded, {"complaint": func.upper(WorkOrder.complaint)})
    assert (await _stored(runtime, job.id))[1] == "Smells"
