"""A vehicle's profile: identity, owner, health and alerts, telemetry in the dealership's units, trends,
maintenance, service history; another dealership's or another fleet's vehicle is a 404."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from ops.db import utcnow
from tests.vehicles import helpers


async def test_the_profile_shows_the_vehicle_its_owner_alerts_and_latest_telemetry(client, factory):
    """The advisor at the counter needs the car's state at a glance, in the units the shop uses."""
    shop = await factory.tenant()  # Swiss: km, bar, °C
    car = await shop.vehicle(plate="ZH 55")
    await helpers.alert(shop, car.id, condition="engine_temp_high", severity="CRITICAL")
    now = utcnow()
    await helpers.readings(
        shop,
        car.id,
        [
            {
                "recorded_at": now - timedelta(days=day),
                "engine_temp_c": 90.0 + day,
                "battery_v": 12.6,
                "tyre_fl_kpa": 230.0,
                "tyre_fr_kpa": 231.0,
                "tyre_rl_kpa": 229.0,
                "tyre_rr_kpa": 230.0,
                "fuel_l_per_100km": 6.5,
                "engine_load": 0.35,
                "odometer_m": 20_000_000 - day * 50_000,
            }
            for day in range(10)
        ],
    )
    await helpers.sign_in_as(client, shop, "service_advisor")
    response = await client.get(f"/vehicles/{car.id}")
    page = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Skoda Octavia 2022" in page and "ZH 55" in page and car.vin in page
    assert "Anna Muster" in page and f"/customers/{car.customer_id}" in page
    assert "Engine overheating" in page and "Critical" in page
    # The latest reading, in Swiss units.
    assert "90 °C" in page and "2.3 bar" in page and "12.6 V" in page and "6.5 l/100 km" in page
    # Four trend charts drawn as SVG, 30 days by default, 90 on request.
    assert page.count('<svg class="trend-chart"') == 4
    assert 'aria-current="true">30 days' in page
    ninety = await (await client.get(f"/vehicles/{car.id}?days=90")).get_data(as_text=True)
    assert 'aria-current="true">90 days' in ninety


async def test_an_american_dealership_reads_fahrenheit_psi_and_miles(client, factory):
    shop = await factory.tenant(country="US")
    car = await helpers.vehicle(shop, odometer_km=16_093)
    await helpers.readings(
        shop,
        car.id,
        [{"recorded_at": utcnow(), "engine_temp_c": 100.0, "tyre_fl_kpa": 206.84, "odometer_m": 16_093_440}],
    )
    await helpers.sign_in_as(client, shop)
    page = await (await client.get(f"/vehicles/{car.id}")).get_data(as_text=True)
    assert "212 °F" in page and "30 psi" in page and "10,000 mi" in page


async def test_another_dealerships_vehicle_is_not_found(client, factory):
    """A guessed id must never show another dealership's customer car."""
    shop = await factory.tenant()
    other = await factory.tenant()
    theirs = await helpers.vehicle(other)
    await helpers.sign_in_as(client, shop)
    assert (await client.get(f"/vehicles/{theirs.id}")).status_code == 404
    assert (await client.get(f"/vehicles/{theirs.id}/edit")).status_code == 404


async def test_the_service_history_links_each_work_order(client, factory):
    shop = await factory.tenant()
    work_order = await shop.work_order(complaint="Rattle at the front axle")
    await helpers.sign_in_as(client, shop, "service_advisor")
    page = await (await client.get(f"/vehicles/{work_order.vehicle_id}")).get_data(as_text=True)
    assert f'href="/workshop/work-orders/{work_order.id}"' in page and "Rattle at the front axle" in page
    assert (await client.get(f"/workshop/work-orders/{work_order.id}")).status_code == 200


async def test_a_vehicle_without_readings_or_history_says_so(client, factory):
    shop = await factory.tenant()
    car = await helpers.vehicle(shop)
    await helpers.sign_in_as(client, shop)
    page = await (await client.get(f"/vehicles/{car.id}")).get_data(as_text=True)
    assert "No readings yet." in page and "No open alerts." in page
    assert "No work orders for this vehicle yet." in page and "No documents yet." in page
    assert page.count("No readings in this period.") == 4


def _telemetry_rows(page: str) -> list[str]:
    panel = re.search(r'<section class="panel vehicle-telemetry".*?</section>', page, re.S)
    assert panel, "no telemetry panel"
    return re.findall(r"<dt>([^<]+)</dt>", panel.group(0))


def _chart_titles(page: str) -> list[str]:
    return re.findall(r'<figure class="trend">\s*<figcaption>([^<]+?) <span', page)


async def _car_with_readings(shop, fuel_type: str, reading: dict[str, Any]):  # type: ignore[no-untyped-def]
    car = await helpers.vehicle(shop, make="Skoda", model="Enyaq", fuel_type=fuel_type)
    now = utcnow()
    await helpers.readings(
        shop,
        car.id,
        [{"recorded_at": now - timedelta(days=day), "battery_v": 12.6, **reading} for day in range(3)],
    )
    return car


async def test_an_electric_car_shows_its_charge_and_nothing_of_an_engine_or_fuel(client, factory):
    """An Enyaq's panel listed engine temperature, fuel efficiency and engine load as not measured."""
    shop = await factory.tenant()
    car = await _car_with_readings(shop, "ELECTRIC", {"state_of_charge": 0.64})
    await helpers.sign_in_as(client, shop, "service_advisor")

    page = await (await client.get(f"/vehicles/{car.id}")).get_data(as_text=True)
    # The panel as the live update re-renders it for this reader.
    live = await (
        await client.get(f"/vehicles/{car.id}", headers={"HX-Request": "true", "HX-Target": "vehicle-live"})
    ).get_data(as_text=True)

    for shown in (page, live):
        rows = _telemetry_rows(shown)
        assert "State of charge" in rows and "Battery" in rows
        assert not {"Engine temperature", "Fuel efficiency", "Engine load", "Fuel level"} & set(rows)
    assert "64 %" in live and "rpm" not in live
    assert _chart_titles(page) == ["State of charge", "Battery voltage", "Tyre pressure"]
    # Drawn from the daily charge and voltage; the tyres reported nothing.
    assert page.count('<svg class="trend-chart"') == 2


async def test_a_combustion_car_shows_its_engine_and_fuel_and_no_charge(client, factory):
    shop = await factory.tenant()
    car = await _car_with_readings(
        shop, "DIESEL", {"fuel_level": 0.5, "engine_temp_c": 90.0, "engine_load": 0.3, "rpm": 1800}
    )
    await helpers.sign_in_as(client, shop, "service_advisor")

    page = await (await client.get(f"/vehicles/{car.id}")).get_data(as_text=True)

    rows = _telemetry_rows(page)
    assert {"Fuel level", "Engine temperature", "Fuel efficiency", "Engine load", "Battery"} <= set(rows)
    assert "State of charge" not in rows and "1800 rpm" in page
    assert _chart_titles(page) == ["Fuel efficiency", "Engine load", "Battery voltage", "Tyre pressure"]


async def test_a_plug_in_hybrid_shows_its_engine_its_fuel_and_its_charge(client, factory):
    shop = await factory.tenant()
    car = await _car_with_readings(
        shop, "PLUGIN_HYBRID", {"fuel_level": 0.5, "state_of_charge": 0.8, "engine_temp_c": 88.0}
    )
    await helpers.sign_in_as(client, shop, "service_advisor")

    page = await (await client.get(f"/vehicles/{car.id}")).get_data(as_text=True)

    rows = _telemetry_rows(page)
    assert {"State of charge", "Fuel level", "Engine temperature", "Engine load"} <= set(rows)
    assert "State of charge" in _chart_titles(page) and "Engine load" in _chart_titles(page)
