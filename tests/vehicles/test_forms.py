"""Adding and editing a vehicle: every bad field named, VINs unique per dealership, the plan's vehicle
limit, and a stale edit refused with the current state instead of overwriting it."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import func, select

from ops.auth.actor import Conflict, RuleViolation
from ops.vehicles.models import Vehicle
from ops.vehicles.service import VehicleData, VehicleInvalid, create_vehicle, update_vehicle
from tests.factories import TenantHandle
from tests.vehicles import helpers

GOOD = {
    "vin": "WVWZZZ1KZ8W123456",
    "plate": "zh 42 42",
    "make": "VW",
    "model": "Golf",
    "year": "2019",
    "fuel_type": "DIESEL",
    "transmission": "MANUAL",
    "colour": "Blue",
    "engine_number": "CRB 123",
    "odometer_km": "54321",
    "status": "ACTIVE",
    "customer_id": "",
    "fleet_id": "",
}


def _data(vin: str, odometer_km: int = 1) -> VehicleData:
    return VehicleData(
        vin=vin,
        plate="",
        make="VW",
        model="Golf",
        year=2020,
        fuel_type="DIESEL",
        transmission="",
        colour="",
        engine_number="",
        odometer_km=odometer_km,
        status="ACTIVE",
        customer_id=None,
        fleet_id=None,
    )


async def _count(shop: TenantHandle) -> int:
    async with shop.db.read(shop.id) as session:
        return int(await session.scalar(select(func.count()).select_from(Vehicle)) or 0)


async def test_a_new_vehicle_is_saved_and_opens_its_profile(client, factory):
    shop = await factory.tenant()
    token = await helpers.sign_in_as(client, shop, "service_advisor")
    response = await client.post("/vehicles", form={**GOOD, "csrf_token": token})
    assert response.status_code == 302
    profile = await (await client.get(response.headers["Location"])).get_data(as_text=True)
    assert (
        "VW Golf 2019" in profile and "ZH 42 42" in profile and "Vehicle WVWZZZ1KZ8W123456 added." in profile
    )


async def test_bad_fields_are_each_named_and_nothing_is_saved(client, factory):
    """A form that loses what was typed, or saves half of it, makes the advisor type it all again."""
    shop = await factory.tenant()
    token = await helpers.sign_in_as(client, shop, "service_advisor")
    bad = {
        **GOOD,
        "vin": helpers.WRONG_CHECK_DIGIT_VIN,
        "make": "",
        "year": "1850",
        "odometer_km": "lots",
        "fuel_type": "STEAM",
        "customer_id": "999999",
    }
    response = await client.post("/vehicles", form={**bad, "csrf_token": token})
    page = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a whole number." in page  # odometer
    second = await client.post("/vehicles", form={**bad, "odometer_km": "10", "csrf_token": token})
    page = await second.get_data(as_text=True)
    assert second.status_code == 422
    assert "check digit" in page and "This field is required." in page and "model year from 1900" in page
    assert "Choose one of the options." in page and "Choose a customer of this dealership." in page
    assert 'value="Golf"' in page  # what was typed stays
    assert await _count(shop) == 0


async def test_a_vin_is_unique_within_the_dealership_only(client, factory):
    shop = await factory.tenant()
    other = await factory.tenant()
    await helpers.vehicle(other, vin=GOOD["vin"])
    token = await helpers.sign_in_as(client, shop, "service_advisor")
    assert (await client.post("/vehicles", form={**GOOD, "csrf_token": token})).status_code == 302
    again = await client.post("/vehicles", form={**GOOD, "plate": "ZH 1", "csrf_token": token})
    assert again.status_code == 422
    assert "Another vehicle of this dealership already has this VIN." in await again.get_data(as_text=True)


async def test_the_26th_vehicle_of_a_starter_dealership_is_refused(client, factory):
    """DOMAIN.md Plans: Starter has 25 vehicles; the limit must say so, not fail obscurely."""
    shop = await factory.tenant(plan="STARTER")
    for _ in range(25):
        await helpers.vehicle(shop)
    token = await helpers.sign_in_as(client, shop, "admin")
    response = await client.post("/vehicles", form={**GOOD, "csrf_token": token})
    page = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The Starter plan allows 25 vehicles and all are in use." in page
    assert await _count(shop) == 25


async def test_two_adds_at_once_cannot_both_take_the_last_place(factory, backend):
    shop = await factory.tenant(plan="STARTER")
    for _ in range(24):
        await helpers.vehicle(shop)

    async def add(number: int) -> str:
        data = _data(vin=helpers.european_vin(900 + number))
        try:
            async with shop.db.uow(shop.admin.actor) as uow:
                await create_vehicle(uow, data, date(2026, 1, 1))
        except RuleViolation as error:
            return type(error).__name__
        return "added"

    outcomes = await asyncio.gather(add(1), add(2))
    assert sorted(outcomes) == ["RuleViolation", "added"]
    assert await _count(shop) == 25


async def test_a_stale_edit_is_refused_with_the_current_state(client, factory):
    """Two advisors editing the same car: the second save must not silently undo the first."""
    shop = await factory.tenant()
    car = await helpers.vehicle(shop, make="Skoda", model="Octavia", plate="ZH 9")
    token = await helpers.sign_in_as(client, shop, "service_advisor")
    form = {
        **GOOD,
        "vin": car.vin,
        "make": "Skoda",
        "model": "Octavia",
        "plate": "ZH 9",
        "odometer_km": "10000",
    }
    first = await client.post(
        f"/vehicles/{car.id}/edit", form={**form, "colour": "Red", "version": "1", "csrf_token": token}
    )
    assert first.status_code == 302
    stale = await client.post(
        f"/vehicles/{car.id}/edit", form={**form, "colour": "Green", "version": "1", "csrf_token": token}
    )
    page = await stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert (
        "Someone else changed this vehicle" in page
        and 'value="Red"' in page
        and 'name="version" value="2"' in page
    )
    assert (await helpers.reload(shop.db, shop.id, car.id)).colour == "Red"


async def test_the_odometer_never_goes_back_by_hand(factory):
    shop = await factory.tenant()
    car = await helpers.vehicle(shop, odometer_km=50_000)
    data = _data(vin=car.vin, odometer_km=40_000)
    with pytest.raises(VehicleInvalid) as refused:
        async with shop.db.uow(shop.admin.actor) as uow:
            await update_vehicle(uow, car.id, data, date(2026, 1, 1), expected_version=1)
    assert "odometer_km" in refused.value.errors
    with pytest.raises(Conflict):
        async with shop.db.uow(shop.admin.actor) as uow:
            await update_vehicle(uow, car.id, data, date(2026, 1, 1), expected_version=7)


async def test_a_technician_may_look_but_not_edit(client, factory):
    shop = await factory.tenant()
    car = await helpers.vehicle(shop)
    token = await helpers.sign_in_as(client, shop, "technician")
    assert (await client.get(f"/vehicles/{car.id}")).status_code == 200
    assert (await client.get(f"/vehicles/{car.id}/edit")).status_code == 403
    response = await client.post("/vehicles", form={**GOOD, "csrf_token": token})
    assert response.status_code == 403


async def test_the_owner_picker_finds_customers_by_name(client, factory):
    shop = await factory.tenant()
    await shop.vehicle()  # creates the customer Anna Muster
    await helpers.sign_in_as(client, shop, "service_advisor")
    fragment = await (
        await client.get("/vehicles/customer-options?customer_search=muster", headers={"HX-Request": "true"})
    ).get_data(as_text=True)
    assert "Anna Muster" in fragment and 'name="customer_id"' in fragment
    nothing = await (
        await client.get("/vehicles/customer-options?customer_search=zzz", headers={"HX-Request": "true"})
    ).get_data(as_text=True)
    assert "No customer matches" in nothing
