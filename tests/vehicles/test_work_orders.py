"""One click from an alert or a due service to a work order: prefilled, linked back, and a second
click (or two at once) shows the same work order instead of making another."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy import func, select

from ops.vehicles.maintenance.service import ScheduleData, create_schedule
from ops.vehicles.models import VehicleAlert, VehicleMaintenance
from ops.vehicles.service import work_order_for_alert
from ops.workshop.models import WorkOrder, WorkOrderCategory
from tests.factories import TenantHandle
from tests.vehicles import helpers


async def _work_orders(shop: TenantHandle) -> list[WorkOrder]:
    async with shop.db.read(shop.id) as session:
        return list((await session.scalars(select(WorkOrder).order_by(WorkOrder.id))).all())


async def test_an_alert_becomes_one_prefilled_work_order(client, factory):
    """A second click must open the existing job, not put the car on the board twice."""
    shop = await factory.tenant()
    car = await helpers.vehicle(shop)
    alert = await helpers.alert(shop, car.id, condition="engine_temp_high", severity="CRITICAL")
    token = await helpers.sign_in_as(client, shop, "service_advisor")
    first = await client.post(f"/vehicles/alerts/{alert.id}/work-order", form={"csrf_token": token})
    assert first.status_code == 302 and first.headers["Location"].startswith("/workshop/work-orders/")
    second = await client.post(f"/vehicles/alerts/{alert.id}/work-order", form={"csrf_token": token})
    assert second.headers["Location"] == first.headers["Location"]
    (work_order,) = await _work_orders(shop)
    assert work_order.priority == "URGENT" and "Engine overheating" in work_order.complaint
    async with shop.db.read(shop.id) as session:
        category = await session.scalar(
            select(WorkOrderCategory.name).where(WorkOrderCategory.id == work_order.category_id)
        )
        linked = await session.scalar(select(VehicleAlert.work_order_id).where(VehicleAlert.id == alert.id))
    assert category == "Engine Repair" and linked == work_order.id
    page = await (await client.get(f"/vehicles/{car.id}")).get_data(as_text=True)
    assert f"Open {work_order.code}" in page


async def test_two_clicks_at_once_make_one_work_order(factory):
    shop = await factory.tenant()
    car = await helpers.vehicle(shop)
    alert = await helpers.alert(shop, car.id, condition="battery_low", severity="MEDIUM")

    async def click() -> int:
        async with shop.db.uow(shop.admin.actor) as uow:
            return (await work_order_for_alert(uow, alert.id)).work_order.id

    ids = await asyncio.gather(click(), click(), click())
    assert len(set(ids)) == 1
    assert len(await _work_orders(shop)) == 1


async def test_a_technician_cannot_create_one_and_another_tenant_gets_404(client, app, factory):
    shop = await factory.tenant()
    other = await factory.tenant()
    car = await helpers.vehicle(shop)
    alert = await helpers.alert(shop, car.id)
    theirs = await helpers.alert(other, (await helpers.vehicle(other)).id)
    token = await helpers.sign_in_as(client, shop, "technician")
    assert (
        await client.post(f"/vehicles/alerts/{alert.id}/work-order", form={"csrf_token": token})
    ).status_code == 403
    advisor = app.test_client()
    advisor_token = await helpers.sign_in_as(advisor, shop, "service_advisor")
    response = await advisor.post(
        f"/vehicles/alerts/{theirs.id}/work-order", form={"csrf_token": advisor_token}
    )
    assert response.status_code == 404
    assert await _work_orders(shop) == []


async def test_a_due_service_becomes_a_work_order_of_its_category(client, factory):
    shop = await factory.tenant()
    car = await helpers.vehicle(shop, odometer_km=16_000)
    async with shop.db.read(shop.id) as session:
        category = await session.scalar(
            select(WorkOrderCategory.id).where(WorkOrderCategory.name == "Oil Change")
        )
    async with shop.db.uow(shop.admin.actor) as uow:
        await create_schedule(uow, ScheduleData("Oil change", "", "", 15_000, None, category), date.today())
    async with shop.db.read(shop.id) as session:
        maintenance_id = await session.scalar(
            select(VehicleMaintenance.id).where(VehicleMaintenance.vehicle_id == car.id)
        )
    token = await helpers.sign_in_as(client, shop, "service_advisor")
    first = await client.post(
        f"/vehicles/maintenance/{maintenance_id}/work-order", form={"csrf_token": token}
    )
    second = await client.post(
        f"/vehicles/maintenance/{maintenance_id}/work-order", form={"csrf_token": token}
    )
    assert first.headers["Location"] == second.headers["Location"]
    (work_order,) = await _work_orders(shop)
    assert work_order.category_id == category and work_order.priority == "HIGH"
    assert "Oil change due" in work_order.complaint
    async with shop.db.read(shop.id) as session:
        assert await session.scalar(select(func.count()).select_from(WorkOrder)) == 1
