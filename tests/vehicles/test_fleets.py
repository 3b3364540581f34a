"""Fleets, and a user limited to some of them: they see only those fleets' vehicles in the search, on
vehicle pages (others are 404), on the fleet board and in live events."""

from __future__ import annotations

import pytest

from ops.auth.actor import PermissionDenied
from ops.vehicles.service import limit_user_to_fleets
from tests.factories import TenantFactory, TenantHandle
from tests.vehicles import helpers
from tests.web import http_sign_in, open_sse


async def test_a_manager_creates_a_fleet_and_puts_vehicles_in_it(client, factory):
    shop = await factory.tenant()
    first = await helpers.vehicle(shop, plate="ZH 100")
    second = await helpers.vehicle(shop, plate="ZH 101")
    token = await helpers.sign_in_as(client, shop, "workshop_manager")
    created = await client.post(
        "/fleet/fleets", form={"name": "Taxi Meier", "description": "Ten cabs", "csrf_token": token}
    )
    assert created.status_code == 302
    fleet_url = created.headers["Location"]
    added = await client.post(
        f"{fleet_url}/vehicles", form={"vehicles": f"zh100, {second.vin}", "csrf_token": token}
    )
    assert added.status_code == 302
    page = await (await client.get("/fleet/fleets")).get_data(as_text=True)
    assert "Taxi Meier" in page and ">2</a>" in page
    assert (await helpers.reload(shop.db, shop.id, first.id)).fleet_id is not None
    unknown = await client.post(f"{fleet_url}/vehicles", form={"vehicles": "XX 999", "csrf_token": token})
    assert unknown.status_code == 422 and "XX 999" in await unknown.get_data(as_text=True)
    duplicate = await client.post("/fleet/fleets", form={"name": "taxi meier", "csrf_token": token})
    assert duplicate.status_code == 422
    assert "There is already a fleet with this name." in await duplicate.get_data(as_text=True)


async def test_only_a_fleet_manager_may_limit_users(factory):
    shop = await factory.tenant()
    fleet = await helpers.fleet(shop, "Loan cars")
    advisor = await shop.user("service_advisor")
    with pytest.raises(PermissionDenied):
        async with shop.db.uow(advisor.actor) as uow:
            await limit_user_to_fleets(uow, advisor.actor.user_id or 0, [fleet.id])


async def test_a_limited_user_sees_only_their_fleets_on_every_page(client, factory):
    """A fleet customer's manager given a login must not see the dealership's other customers' cars."""
    shop = await factory.tenant()
    mine = await helpers.fleet(shop, "Mine")
    theirs = await helpers.fleet(shop, "Theirs")
    my_car = await helpers.vehicle(shop, plate="AG 1", fleet_id=mine.id)
    their_car = await helpers.vehicle(shop, plate="AG 2", fleet_id=theirs.id)
    loose_car = await helpers.vehicle(shop, plate="AG 3")
    for car in (my_car, their_car, loose_car):
        await helpers.alert(shop, car.id, condition="battery_low", severity="MEDIUM")
    manager = await shop.user("workshop_manager", locale="en")
    async with shop.db.uow(shop.admin.actor) as uow:
        await limit_user_to_fleets(uow, manager.actor.user_id or 0, [mine.id])
    from tests.web import sign_in

    await sign_in(client, manager.email)
    search = await (await client.get("/vehicles")).get_data(as_text=True)
    assert "AG 1" in search and "AG 2" not in search and "AG 3" not in search
    assert "Theirs" not in search  # nor is the other fleet offered as a filter
    assert (await client.get(f"/vehicles/{my_car.id}")).status_code == 200
    assert (await client.get(f"/vehicles/{their_car.id}")).status_code == 404
    assert (await client.get(f"/vehicles/{loose_car.id}")).status_code == 404
    assert (await client.get(f"/fleet/fleets/{theirs.id}")).status_code == 404
    board = await (await client.get("/fleet/board")).get_data(as_text=True)
    assert "AG 1" in board and "AG 2" not in board and "AG 3" not in board
    # The board watches the allowed fleet's topic, never the whole dealership's.
    assert f"topic=fleet:{mine.id}&" in board and "topic=fleet&" not in board
    # Clearing the limit shows everything again.
    async with shop.db.uow(shop.admin.actor) as uow:
        await limit_user_to_fleets(uow, manager.actor.user_id or 0, [])
    assert "AG 2" in await (await client.get("/vehicles")).get_data(as_text=True)


async def test_a_limited_user_may_watch_only_their_fleets_live(live_server):
    """Live events would otherwise leak other fleets' alerts to a limited user's screen."""
    factory = TenantFactory(live_server.runtime.db)
    shop = await factory.tenant()
    mine = await helpers.fleet(shop, "Mine")
    theirs = await helpers.fleet(shop, "Theirs")
    my_car = await helpers.vehicle(shop, fleet_id=mine.id)
    their_car = await helpers.vehicle(shop, fleet_id=theirs.id)
    manager = await shop.user("workshop_manager", locale="en")
    await helpers.limit(shop, manager.actor.user_id, mine.id)
    async with http_sign_in(live_server.url, manager.email) as (client, _token):
        for topic in ("fleet", f"fleet:{theirs.id}", f"vehicle:{their_car.id}"):
            response = await client.get("/live", params={"topic": topic})
            assert response.status_code == 404, topic
        async with open_sse(client, f"fleet:{mine.id}", f"vehicle:{my_car.id}") as stream:
            # An alert on the other fleet's car reaches nobody here; one on theirs does.
            await _raise_alert(shop, their_car.id, their_car.fleet_id)
            await stream.expect_silence(0.6)
            await _raise_alert(shop, my_car.id, my_car.fleet_id)
            message = await stream.next()
            assert "fleet-changed" in message.data


async def _raise_alert(shop: TenantHandle, vehicle_id: int, fleet_id: int | None) -> None:
    from ops.events import record
    from ops.vehicles.models import VehicleAlert, vehicle_topics

    async with shop.db.uow(shop.admin.actor) as uow:
        alert = VehicleAlert(vehicle_id=vehicle_id, condition="battery_low", severity="MEDIUM")
        uow.session.add(alert)
        await uow.session.flush()
        record(
            uow,
            "telemetry.alert_raised",
            {
                "vehicle_id": vehicle_id,
                "alert_id": alert.id,
                "condition": "battery_low",
                "severity": "MEDIUM",
                "vehicle": "X",
            },
            vehicle_topics(vehicle_id, fleet_id),
        )
        await uow.commit()
