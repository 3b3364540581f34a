"""Traccar forwarding at /hooks/traccar/<tenant>: a dealership's Traccar server posts positions and
events with the tenant's secret; the vehicle's odometer, alerts and live board follow."""

from __future__ import annotations

import json

from tests.vehicles.telemetry.helpers import (
    KNOT_MPS,
    ago,
    device,
    events,
    open_conditions,
    reading_count,
    traccar_device,
    traccar_event,
    traccar_position,
    traccar_secret,
    tracked_vehicle,
    vehicle_state,
)


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_a_traccar_position_is_stored_in_si_units_and_moves_the_odometer(client, factory):
    shop = await factory.tenant()
    vehicle, unique_id, _token = await tracked_vehicle(shop)
    secret = await traccar_secret(shop)
    fixed = ago(2)
    payload = traccar_position(
        unique_id,
        fixed,
        speed_knots=27.0,
        odometer=123_456_789,
        coolantTemp=90,
        engineLoad=42,
        power=13.9,
        rpm=2100,
    )

    response = await client.post(f"/hooks/traccar/{shop.tenant.slug}", json=payload, headers=_auth(secret))

    assert response.status_code == 200, await response.get_data(as_text=True)
    assert await response.get_json() == {"received": 1, "stored": 1, "duplicates": 0}
    state = await vehicle_state(shop.db, shop.id, vehicle.id)
    assert state.odometer_m == 123_456_789 and state.odometer_km == 123_456
    assert state.last_reading_at == fixed
    assert state.health_score == 100
    (recorded,) = await events(shop.db, shop.id, "telemetry.reading_recorded")
    latest = recorded.payload["latest"]
    assert abs(latest["speed_mps"] - 27.0 * KNOT_MPS) < 1e-9
    assert latest["engine_temp_c"] == 90 and latest["engine_load"] == 0.42 and latest["battery_v"] == 13.9
    assert latest["latitude"] == 47.3769 and latest["rpm"] == 2100
    assert set(recorded.topics) == {"fleet", f"vehicle:{vehicle.id}"}
    assert (await device(shop.db, shop.id, unique_id)).last_seen_at is not None


async def test_total_distance_alone_leaves_the_odometer_alone(client, factory):
    """totalDistance is Traccar's GPS counter since the device was added, not what the car shows."""
    shop = await factory.tenant()
    vehicle, unique_id, _token = await tracked_vehicle(shop)
    secret = await traccar_secret(shop)

    response = await client.post(
        f"/hooks/traccar/{shop.tenant.slug}", json=traccar_position(unique_id, ago(1)), headers=_auth(secret)
    )

    assert response.status_code == 200
    assert (await vehicle_state(shop.db, shop.id, vehicle.id)).odometer_m == 0
    assert await reading_count(shop.db, shop.id, vehicle.id) == 1


async def test_an_event_forward_records_its_position_and_an_event_without_one_stores_nothing(client, factory):
    shop = await factory.tenant()
    vehicle, unique_id, _token = await tracked_vehicle(shop)
    secret = await traccar_secret(shop)
    url = f"/hooks/traccar/{shop.tenant.slug}"

    with_position = traccar_event(unique_id, ago(3), "alarm", coolantTemp=110.0)
    response = await client.post(url, json=with_position, headers=_auth(secret))
    assert response.status_code == 200
    assert await open_conditions(shop.db, shop.id, vehicle.id) == {"engine_temp_high": "CRITICAL"}

    offline = {
        "event": {
            "id": 1,
            "attributes": {},
            "deviceId": 10,
            "type": "deviceOffline",
            "eventTime": "2026-11-22T10:45:34.984+00:00",
            "positionId": 0,
            "geofenceId": 0,
            "maintenanceId": 0,
        },
        "device": traccar_device(unique_id),
    }
    response = await client.post(url, json=offline, headers=_auth(secret))
    assert response.status_code == 200
    assert await response.get_json() == {"received": 0, "stored": 0, "duplicates": 0}
    assert await reading_count(shop.db, shop.id, vehicle.id) == 1


async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_stored(client, factory):
    shop = await factory.tenant()
    vehicle, unique_id, _token = await tracked_vehicle(shop)
    await traccar_secret(shop)
    url = f"/hooks/traccar/{shop.tenant.slug}"
    payload = traccar_position(unique_id, ago(1))

    for headers in ({}, _auth("not-the-secret"), {"Authorization": "Basic abc"}):
        response = await client.post(url, json=payload, headers=headers)
        assert response.status_code == 401
        body = await response.get_json()
        assert body["code"] == "unauthorized" and body["message"]
    assert await reading_count(shop.db, shop.id, vehicle.id) == 0


async def test_one_dealerships_secret_cannot_post_to_another(client, factory):
    """Tenant isolation: A's secret against B's address, and A's device through B's address."""
    shop_a, shop_b = await factory.tenant(), await factory.tenant()
    vehicle_a, unique_a, _t = await tracked_vehicle(shop_a)
    vehicle_b, unique_b, _t = await tracked_vehicle(shop_b)
    secret_a = await traccar_secret(shop_a)
    secret_b = await traccar_secret(shop_b)

    response = await client.post(
        f"/hooks/traccar/{shop_b.tenant.slug}",
        json=traccar_position(unique_b, ago(1)),
        headers=_auth(secret_a),
    )
    assert response.status_code == 401
    response = await client.post(
        f"/hooks/traccar/{shop_b.tenant.slug}",
        json=traccar_position(unique_a, ago(1)),
        headers=_auth(secret_b),
    )
    assert response.status_code == 422
    assert (await response.get_json())["code"] == "reading_refused"
    assert await reading_count(shop_a.db, shop_a.id, vehicle_a.id) == 0
    assert await reading_count(shop_b.db, shop_b.id, vehicle_b.id) == 0


async def test_an_unknown_device_or_tenant_or_a_broken_body_is_a_clear_4xx(client, factory):
    shop = await factory.tenant()
    vehicle, unique_id, _token = await tracked_vehicle(shop)
    secret = await traccar_secret(shop)
    url = f"/hooks/traccar/{shop.tenant.slug}"

    response = await client.post(url, json=traccar_position("999999999999999", ago(1)), headers=_auth(secret))
    assert response.status_code == 422
    body = await response.get_json()
    assert "999999999999999" in body["message"] and body["details"][0]["field"] == "device_id"

    response = await client.post("/hooks/traccar/no-such-dealer", json={}, headers=_auth(secret))
    assert response.status_code == 404

    response = await client.post(
        url, data="{not json", headers={**_auth(secret), "Content-Type": "application/json"}
    )
    assert response.status_code == 400

    broken = traccar_position(unique_id, ago(1))
    broken["position"]["fixTime"] = "yesterday"
    del broken["position"]["deviceTime"]
    response = await client.post(url, json=broken, headers=_auth(secret))
    assert response.status_code == 422
    assert (await response.get_json())["details"][0]["field"] == "position.fixTime"
    assert await reading_count(shop.db, shop.id, vehicle.id) == 0


async def test_a_replayed_forward_is_answered_2xx_and_stores_nothing_new(client, factory):
    """Traccar retries a forward it thinks failed: the second copy changes nothing."""
    shop = await factory.tenant()
    vehicle, unique_id, _token = await tracked_vehicle(shop)
    secret = await traccar_secret(shop)
    payload = json.dumps(traccar_position(unique_id, ago(1), coolantTemp=111.0))
    url = f"/hooks/traccar/{shop.tenant.slug}"
    headers = {**_auth(secret), "Content-Type": "application/json"}

    first = await client.post(url, data=payload, headers=headers)
    again = await client.post(url, data=payload, headers=headers)

    assert first.status_code == again.status_code == 200
    assert (await again.get_json())["duplicates"] == 1
    assert await reading_count(shop.db, shop.id, vehicle.id) == 1
    assert len(await events(shop.db, shop.id, "telemetry.reading_recorded")) == 1
    assert len(await events(shop.db, shop.id, "telemetry.alert_raised")) == 1
