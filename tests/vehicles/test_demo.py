"""The demo's fleet: two fleets of existing cars, ten tracked cars with 90 days of readings, open alerts
(one critical), one silent car, and the schedules with some cars due or overdue, on the board."""

from __future__ import annotations

from sqlalchemy import func, select

from ops.seed import DEMO_PASSWORD, seed_demo
from ops.vehicles.models import (
    Fleet,
    MaintenanceSchedule,
    TelematicsDevice,
    TelemetryReading,
    Vehicle,
    VehicleAlert,
    VehicleMaintenance,
)
from tests.web import sign_in


async def test_the_demo_has_a_fleet_worth_looking_at(runtime, client):
    """Someone trying the demo must find a fleet board with something on it, not an empty page."""
    tenant, _created = await seed_demo(runtime.db)
    async with runtime.db.read(tenant.id) as session:

        async def count(model, *where):  # type: ignore[no-untyped-def]
            return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

        assert await count(Fleet) == 2
        assert await count(Vehicle, Vehicle.fleet_id.is_not(None)) == 12
        # The cars the workshop, its regular customers and the showroom already had.
        assert await count(Vehicle) == 1282
        assert await count(TelematicsDevice) == 10
        assert await count(TelemetryReading) >= 10 * 85
        assert (
            await count(VehicleAlert, VehicleAlert.severity == "CRITICAL", VehicleAlert.status == "OPEN") == 1
        )
        # An oil change per make or model with an engine, a service and tyres for every car.
        assert await count(MaintenanceSchedule) == 12
        overdue = await count(VehicleMaintenance, VehicleMaintenance.state == "OVERDUE")
        due = await count(VehicleMaintenance, VehicleMaintenance.state == "DUE")
        # A few, not every other car: the board must stay readable.
        assert 0 < overdue < 60 and due > 0
        critical_car = await session.scalar(
            select(Vehicle)
            .join(VehicleAlert, VehicleAlert.vehicle_id == Vehicle.id)
            .where(VehicleAlert.severity == "CRITICAL")
        )
        assert critical_car is not None and critical_car.health_score <= 60
    await sign_in(client, "workshop.manager@demo.test", DEMO_PASSWORD)
    board = await (await client.get("/fleet/board")).get_data(as_text=True)
    assert board.count('class="fleet-item') > 5 and "silent-vehicle-" in board
    profile = await (await client.get(f"/vehicles/{critical_car.id}")).get_data(as_text=True)
    assert profile.count('<svg class="trend-chart"') == 4 and "118 °C" in profile
