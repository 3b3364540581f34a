"""POST /api/v1/telemetry: a partner's batch of readings in our units, signed with the Standard
Webhooks scheme or sent with an API token; all stored, or none with a 422 naming reading and field."""

from __future__ import annotations

import asyncio
import json

from ops.auth.service import create_api_token
from ops.vehicles.telemetry.units import KPA_PER_PSI
from ops.vehicles.telemetry.web import TelemetryReadingIn
from tests.vehicles.telemetry.helpers import (
    ago,
    alerts,
    batch_body,
    open_conditions,
    reading_count,
    signed,
    signing_secret,
    tracked_vehicle,
    vehicle_state,
)

URL = "/api/v1/telemetry"


def full_reading(vin: str, minutes_ago: float, **overrides) -> dict:  # type: ignore[no-untyped-def,type-arg]
    reading = {
        "vin": vin,
        "time": ago(minutes_ago).isoformat(),
        "fuel_level": 0.62,
        "fuel_l_per_100km": 6.8,
        "engine_load": 0.35,
        "engine_temp_c": 91.5,
        "battery_v": 13.8,
        "odometer_km": 48210.4,
        "tyre_fl_kpa": 230.0,
        "tyre_fr_kpa": 231.0,
        "tyre_rl_kpa": 228.0,
        "tyre_rr_kpa": 229.5,
        "latitude": 47.3769,
        "longitude": 8.5417,
        "speed_kmh": 72.0,
        "rpm": 2100,
        "dtc_codes": [],
    }
    reading.update(overrides)
    return reading


async def _post(client, shop, secret, readings):  # type: ignore[no-untyped-def]
    body = batch_body(readings)
    return await client.post(URL, data=body, headers=signed(secret, body, shop.tenant.slug))


async def test_a_signed_batch_with_every_field_is_stored_and_processed(client, factory):
    shop = await factory.tenant()
    vehicle, _uid, _t = await tracked_vehicle(shop)
    secret = await signing_secret(shop)
    readings = [full_reading(vehicle.vin, m) for m in (30, 20, 10)]
    readings[-1]["tyre_fl_kpa"] = 25 * KPA_PER_PSI
    readings[-1]["dtc_codes"] = ["p0420"]

    response = await _post(client, shop, secret, readings)

    assert response.status_code == 200, await response.get_data(as_text=True)
    assert await response.get_json() == {"received": 3, "stored": 3, "duplicates": 0}
    state = await vehicle_state(shop.db, shop.id, vehicle.id)
    assert state.odometer_m == 48_210_400 and state.odometer_km == 48_210
    assert await open_conditions(shop.db, shop.id, vehicle.id) == {
        "tyre_fl_low": "HIGH",
        "dtc:P0420": "MEDIUM",
    }
    assert state.health_score == 70


async def test_readings_may_name_a_device_instead_of_the_vin(client, factory):
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop, "PARTNER")
    secret = await signing_secret(shop)
    reading = full_reading(vehicle.vin, 5)
    del reading["vin"]
    reading["device_id"] = unique_id

    response = await _post(client, shop, secret, [reading])

    assert response.status_code == 200
    assert await reading_count(shop.db, shop.id, vehicle.id) == 1


async def test_one_invalid_reading_refuses_the_batch_with_its_index_and_field_and_stores_nothing(
    client, factory
):
    shop = await factory.tenant()
    vehicle, _uid, _t = await tracked_vehicle(shop)
    secret = await signing_secret(shop)
    cases = [
        ({"engine_temp_c": "hot"}, "engine_temp_c"),
        ({"fuel_level": 1.5}, "fuel_level"),
        ({"tyre_rr_kpa": -1}, "tyre_rr_kpa"),
        ({"engine_temp_f": 200}, "engine_temp_f"),
        ({"dtc_codes": ["P03"]}, "dtc_codes.0"),
        ({"time": "2026-11-22T14:00:00"}, "time"),
    ]
    for change, field in cases:
        readings = [full_reading(vehicle.vin, 10), full_reading(vehicle.vin, 5, **change)]
        response = await _post(client, shop, secret, readings)
        assert response.status_code == 422, change
        body = await response.get_json()
        assert body["code"] == "validation_failed"
        assert body["details"][0]["index"] == 1 and body["details"][0]["field"] == field, body
        assert "Reading 1" in body["message"] and field in body["message"]
        assert {"code", "message", "details", "timestamp", "path"} <= set(body)
    assert await reading_count(shop.db, shop.id, vehicle.id) == 0


async def test_an_unknown_vin_or_a_reading_from_the_future_refuses_the_batch(client, factory):
    shop = await factory.tenant()
    vehicle, _uid, _t = await tracked_vehicle(shop)
    secret = await signing_secret(shop)

    response = await _post(
        client, shop, secret, [full_reading(vehicle.vin, 5), full_reading("WVWZZZ1JZXW999999", 4)]
    )
    assert response.status_code == 422
    detail = (await response.get_json())["details"][0]
    assert (
        detail == {"index": 1, "field": "vin", "message": detail["message"]}
        and "WVWZZZ1JZXW999999" in detail["message"]
    )

    response = await _post(
        client, shop, secret, [full_reading(vehicle.vin, 5), full_reading(vehicle.vin, -10)]
    )
    assert response.status_code == 422
    assert (await response.get_json())["details"][0] == {
        "index": 1,
        "field": "time",
        "message": "This reading's time is more than 5 minutes in the future; check the device's clock.",
    }
    assert await reading_count(shop.db, shop.id, vehicle.id) == 0


async def test_a_bad_signature_or_another_dealerships_secret_is_refused(client, factory):
    shop, other = await factory.tenant(), await factory.tenant()
    vehicle, _uid, _t = await tracked_vehicle(shop)
    secret = await signing_secret(shop)
    other_secret = await signing_secret(other)
    body = batch_body([full_reading(vehicle.vin, 5)])

    tampered = signed(secret, body, shop.tenant.slug)
    response = await client.post(URL, data=body.replace("13.8", "12.8"), headers=tampered)
    assert response.status_code == 401 and (await response.get_json())["code"] == "bad_signature"

    response = await client.post(URL, data=body, headers=signed(other_secret, body, shop.tenant.slug))
    assert response.status_code == 401

    unsigned = {"X-Pitwall-Tenant": shop.tenant.slug, "Content-Type": "application/json"}
    response = await client.post(URL, data=body, headers=unsigned)
    assert response.status_code == 401

    # Signed correctly for the other dealership: its vehicles only, so this VIN is unknown there.
    response = await client.post(URL, data=body, headers=signed(other_secret, body, other.tenant.slug))
    assert response.status_code == 422
    assert await reading_count(shop.db, shop.id, vehicle.id) == 0


async def test_a_replayed_batch_and_a_concurrent_replay_store_each_reading_once(client, factory):
    shop = await factory.tenant()
    vehicle, _uid, _t = await tracked_vehicle(shop)
    secret = await signing_secret(shop)
    readings = [full_reading(vehicle.vin, m, battery_v=11.5) for m in (3, 2, 1)]

    responses = await asyncio.gather(*(_post(client, shop, secret, readings) for _ in range(5)))

    assert all(r.status_code == 200 for r in responses)
    assert sum([(await r.get_json())["stored"] for r in responses]) == 3
    assert await reading_count(shop.db, shop.id, vehicle.id) == 3
    assert [a.condition for a in await alerts(shop.db, shop.id, vehicle.id)] == ["battery_low"]
    again = await _post(client, shop, secret, readings)
    assert await again.get_json() == {"received": 3, "stored": 0, "duplicates": 3}


async def test_a_partner_token_with_telemetry_write_may_send_and_one_without_may_not(client, factory):
    shop = await factory.tenant()
    vehicle, _uid, _t = await tracked_vehicle(shop)
    async with shop.db.uow(shop.admin.actor) as uow:
        writer = await create_api_token(uow, name="Fleet telematics", scopes=["telemetry:write"])
    async with shop.db.uow(shop.admin.actor) as uow:
        reader = await create_api_token(uow, name="Reporting", scopes=["vehicles:read"])
    body = json.dumps([full_reading(vehicle.vin, 2)])

    response = await client.post(URL, data=body, headers={"Authorization": f"Bearer {reader.raw}"})
    assert response.status_code == 403
    response = await client.post(URL, data=body, headers={"Authorization": "Bearer pw_not_a_token"})
    assert response.status_code == 401
    assert await reading_count(shop.db, shop.id, vehicle.id) == 0

    response = await client.post(URL, data=body, headers={"Authorization": f"Bearer {writer.raw}"})
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert await reading_count(shop.db, shop.id, vehicle.id) == 1


def test_the_reading_schema_names_its_units_for_the_openapi_document():
    schema = TelemetryReadingIn.model_json_schema()
    assert {"engine_temp_c", "tyre_fl_kpa", "odometer_km", "speed_kmh", "battery_v", "dtc_codes"} <= set(
        schema["properties"]
    )
    assert schema["required"] == ["time"] and schema["additionalProperties"] is False
