"""Tenant scoping in ops/db.py: the one mechanism that keeps one dealership's rows away from another's."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from ops.auth.models import User
from ops.customers.models import Customer
from ops.db import TenantScopeError, tenant_scoped
from ops.events import Event
from ops.vehicles.models import Vehicle
from ops.workshop.models import WorkOrder


async def test_a_session_opened_without_a_tenant_refuses_orm_queries(runtime, factory):
    """Otherwise a query that forgot its tenant would read every dealership's work orders."""
    shop = await factory.tenant()
    await shop.work_order()
    async with AsyncSession(runtime.db.engine) as session:
        with pytest.raises(TenantScopeError):
            await session.execute(select(WorkOrder))
        with pytest.raises(TenantScopeError):
            await session.execute(update(WorkOrder).values(complaint="overwritten"))
        with pytest.raises(TenantScopeError):
            await session.execute(delete(WorkOrder))
    async with runtime.db.read(shop.id) as session:
        complaints = (await session.scalars(select(WorkOrder.complaint))).all()
    assert complaints == ["Brakes squeal"]


async def test_a_tenant_session_sees_only_its_own_rows(runtime, factory):
    """A dealership's lists would show another dealership's vehicles."""
    shop_a = await factory.tenant()
    shop_b = await factory.tenant()
    vehicle_a = await shop_a.vehicle(plate="ZH 111111")
    vehicle_b = await shop_b.vehicle(plate="BE 222222")

    async with runtime.db.read(shop_a.id) as session:
        plates = (await session.scalars(select(Vehicle.plate))).all()
        by_id = await session.get(Vehicle, vehicle_b.id)
        joined = (
            await session.execute(
                select(Vehicle.plate, Customer.last_name).join(Customer, Customer.id == Vehicle.customer_id)
            )
        ).all()
    assert plates == ["ZH 111111"]
    assert by_id is None
    assert [tuple(row) for row in joined] == [("ZH 111111", "Muster")]
    async with runtime.db.read(shop_b.id) as session:
        assert await session.get(Vehicle, vehicle_a.id) is None
        assert (await session.get(Vehicle, vehicle_b.id)) is not None


async def test_a_statement_scoped_once_serves_each_tenant_only_its_own_rows(runtime, factory):
    """The hot statements (a card, the column counts) are built and scoped once at import and then
    run for every dealership in turn: one tenant's id must never stick to the statement."""
    shop_a = await factory.tenant()
    shop_b = await factory.tenant()
    own = await shop_a.work_order(complaint="A's brakes")
    theirs = await shop_b.work_order(complaint="B's clutch")
    # The outer join keeps a job without a technician: the filter on the joined table belongs in the
    # ON clause, where a WHERE would drop the job.
    statement = tenant_scoped(
        select(WorkOrder.id, WorkOrder.complaint, User.name)
        .outerjoin(User, User.id == WorkOrder.technician_id)
        .where(WorkOrder.id.in_(bindparam("ids", expanding=True)))
    )
    for _round in range(2):
        for shop, seen in ((shop_a, own), (shop_b, theirs)):
            async with runtime.db.read(shop.id) as session:
                rows = (await session.execute(statement, {"ids": [own.id, theirs.id]})).all()
            assert [tuple(row) for row in rows] == [(seen.id, seen.complaint, None)]


async def test_a_statement_scoped_once_refuses_a_session_without_a_tenant(runtime, factory):
    """Run where no tenant is known, it must fail rather than match no tenant or every tenant."""
    shop = await factory.tenant()
    await shop.work_order()
    statement = tenant_scoped(select(WorkOrder.id))
    async with runtime.db.system() as session:
        with pytest.raises(StatementError, match="scope_tenant_id"):
            await session.execute(statement)
    async with AsyncSession(runtime.db.engine) as session:
        with pytest.raises(TenantScopeError):
            await session.execute(statement)


async def test_a_row_added_in_a_tenant_session_is_stamped_with_that_tenant(runtime, factory):
    """A row without a tenant would belong to nobody, or be visible to everybody."""
    shop = await factory.tenant()
    async with runtime.db.uow(shop.admin.actor) as uow:
        customer = Customer(first_name="Beat", last_name="Keller")
        uow.session.add(customer)
        await uow.commit()
    assert customer.tenant_id == shop.id
    async with runtime.db.system() as session:
        stored = await session.scalar(select(Customer.tenant_id).where(Customer.id == customer.id))
    assert stored == shop.id


async def test_adding_a_row_of_another_tenant_raises_and_writes_nothing(runtime, factory):
    """A bug that built a row for the wrong dealership would plant data in someone else's books."""
    shop_a = await factory.tenant()
    shop_b = await factory.tenant()
    async with runtime.db.uow(shop_a.admin.actor) as uow:
        uow.session.add(Customer(tenant_id=shop_b.id, first_name="Planted", last_name="Row"))
        with pytest.raises(TenantScopeError):
            await uow.commit()
    async with runtime.db.system() as session:
        planted = await session.scalar(select(Customer.id).where(Customer.first_name == "Planted"))
    assert planted is None


async def test_moving_a_loaded_row_to_another_tenant_raises(runtime, factory):
    """Changing a row's tenant would hand one dealership's customer to another."""
    shop_a = await factory.tenant()
    shop_b = await factory.tenant()
    vehicle = await shop_a.vehicle()
    async with runtime.db.uow(shop_a.admin.actor) as uow:
        loaded = await uow.session.get(Vehicle, vehicle.id)
        assert loaded is not None
        loaded.tenant_id = shop_b.id
        with pytest.raises(TenantScopeError):
            await uow.commit()
    async with runtime.db.system() as session:
        owner = await session.scalar(select(Vehicle.tenant_id).where(Vehicle.id == vehicle.id))
    assert owner == shop_a.id


async def test_an_orm_update_by_id_of_another_tenants_row_changes_nothing(runtime, factory):
    """Tenant A's edit, aimed at B's id, would silently rewrite B's work order."""
    shop_a = await factory.tenant()
    shop_b = await factory.tenant()
    own = await shop_a.work_order(complaint="A's complaint")
    theirs = await shop_b.work_order(complaint="B's complaint")

    async with runtime.db.uow(shop_a.admin.actor) as uow:
        missed = await uow.session.execute(
            update(WorkOrder).where(WorkOrder.id == theirs.id).values(complaint="overwritten by A")
        )
        hit = await uow.session.execute(
            update(WorkOrder).where(WorkOrder.id == own.id).values(complaint="edited by A")
        )
        await uow.commit()

    assert missed.rowcount == 0  # type: ignore[attr-defined]
    assert hit.rowcount == 1  # type: ignore[attr-defined]
    async with runtime.db.system() as session:
        rows = dict(
            (
                await session.execute(
                    select(WorkOrder.id, WorkOrder.complaint).where(WorkOrder.id.in_([own.id, theirs.id]))
                )
            ).all()
        )
    assert rows == {own.id: "edited by A", theirs.id: "B's complaint"}


async def test_an_orm_update_without_a_where_clause_touches_only_the_own_tenant(runtime, factory):
    """A sweeping update (say, re-prioritise everything) must stop at the dealership's border."""
    shop_a = await factory.tenant()
    shop_b = await factory.tenant()
    await shop_a.work_order(priority="LOW")
    theirs = await shop_b.work_order(priority="LOW")

    async with runtime.db.uow(shop_a.admin.actor) as uow:
        result = await uow.session.execute(update(WorkOrder).values(priority="URGENT"))
        await uow.commit()

    assert result.rowcount == 1  # type: ignore[attr-defined]
    async with runtime.db.read(shop_b.id) as session:
        assert await session.scalar(select(WorkOrder.priority).where(WorkOrder.id == theirs.id)) == "LOW"


async def test_an_orm_delete_of_another_tenants_rows_deletes_nothing(runtime, factory):
    """Tenant A's clean-up would erase B's history."""
    shop_a = await factory.tenant()
    shop_b = await factory.tenant()
    await shop_a.vehicle()
    await shop_b.vehicle()
    async with runtime.db.read(shop_b.id) as session:
        events_of_b = len((await session.scalars(select(Event.id))).all())

    async with runtime.db.uow(shop_a.admin.actor) as uow:
        by_tenant = await uow.session.execute(delete(Event).where(Event.tenant_id == shop_b.id))
        everything = await uow.session.execute(delete(Event))
        await uow.commit()

    assert by_tenant.rowcount == 0  # type: ignore[attr-defined]
    assert everything.rowcount >= 1  # type: ignore[attr-defined]
    async with runtime.db.read(shop_b.id) as session:
        assert len((await session.scalars(select(Event.id))).all()) == events_of_b
    async with runtime.db.read(shop_a.id) as session:
        assert (await session.scalars(select(Event.id))).all() == []


async def test_a_system_session_sees_every_tenant(runtime, factory):
    """Sign-in and the outbox relay must find rows without knowing the tenant first."""
    shop_a = await factory.tenant()
    shop_b = await factory.tenant()
    vehicle_a = await shop_a.vehicle()
    vehicle_b = await shop_b.vehicle()
    async with runtime.db.system() as session:
        found = set(
            (
                await session.scalars(
                    select(Vehicle.tenant_id).where(Vehicle.id.in_([vehicle_a.id, vehicle_b.id]))
                )
            ).all()
        )
    assert found == {shop_a.id, shop_b.id}
