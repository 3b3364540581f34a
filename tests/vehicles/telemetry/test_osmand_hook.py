"""OsmAnd as Traccar Client sends it, at /hooks/osmand/<tenant>?token=<device token>: query GET,
form POST and the JSON body of Traccar Client 9, each checked against the device's own token."""

from __future__ import annotations

from tests.vehicles.telemetry.helpers import (
    KNOT_MPS,
    ago,
    device,
    events,
    reading_count,
    tracked_vehicle,
    vehicle_state,
)


async def test_a_query_get_is_stored_with_speed_converted_from_knots(client, factory):
    shop = await factory.tenant()
    vehicle, unique_id, token = await tracked_vehicle(shop, "OSMAND")
    moment = ago(1)
    query = {
        "token": token,
        "id": unique_id,
        "lat": "47.3769",
        "lon": "8.5417",
        "timestamp": str(int(moment.timestamp())),
        "speed": "10.5",
        "bearing": "90.0",
        "altitude": "408",
        "accuracy": "12.0",
        "batt": "87",
    }

    response = await client.get(f"/hooks/osmand/{shop.tenant.slug}", query_string=query)

    assert response.status_code == 200, await response.get_data(as_text=True)
    (recorded,) = await events(shop.db, shop.id, "telemetry.reading_recorded")
    assert abs(recorded.payload["latest"]["speed_mps"] - 10.5 * KNOT_MPS) < 1e-9
    assert recorded.payload["latest"]["latitude"] == 47.3769
    assert (await vehicle_state(shop.db, shop.id, vehicle.id)).last_reading_at == moment.replace(
        microsecond=0
    )
    assert (await device(shop.db, shop.id, unique_id)).last_seen_at is not None


async def test_a_form_post_with_an_iso_time_is_stored(client, factory):
    shop = await factory.tenant()
    vehicle, unique_id, token = await tracked_vehicle(shop, "OSMAND")
    form = {"id": unique_id, "lat": "52.52", "lon": "13.405", "timestamp": ago(2).isoformat(), "speed": "0"}

    response = await client.post(f"/hooks/osmand/{shop.tenant.slug}?token={token}", form=form)

    assert response.status_code == 200
    assert await reading_count(shop.db, shop.id, vehicle.id) == 1


async def test_the_json_body_of_traccar_client_is_stored_with_its_speed_in_metres_per_second(client, factory):
    shop = await factory.tenant()
    vehicle, unique_id, token = await tracked_vehicle(shop, "OSMAND")
    moment = ago(1)
    body = {
        "location": {
            "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
            "coords": {
                "latitude": 48.1351,
                "longitude": 11.582,
                "accuracy": 5.0,
                "speed": 13.4,
                "heading": 270.0,
                "altitude": 520.0,
            },
            "is_moving": True,
            "odometer": 12000.0,
            "event": "motionchange",
            "battery": {"level": 0.76, "is_charging": False},
            "activity": {"type": "in_vehicle"},
            "extras": {},
        },
        "device_id": unique_id,
    }

    response = await client.post(f"/hooks/osmand/{shop.tenant.slug}?token={token}", json=body)

    assert response.status_code == 200, await response.get_data(as_text=True)
    (recorded,) = await events(shop.db, shop.id, "telemetry.reading_recorded")
    assert recorded.payload["latest"]["speed_mps"] == 13.4
    state = await vehicle_state(shop.db, shop.id, vehicle.id)
    # The phone app's travelled distance is not the vehicle's odometer.
    assert state.odometer_m == 0 and state.last_reading_at == moment


async def test_a_missing_or_wrong_token_or_another_devices_token_is_refused(client, factory):
    shop = await factory.tenant()
    vehicle, unique_id, _token = await tracked_vehicle(shop, "OSMAND")
    _other, _other_id, other_token = await tracked_vehicle(shop, "OSMAND")
    url = f"/hooks/osmand/{shop.tenant.slug}"
    query = {"id": unique_id, "lat": "47.1", "lon": "8.1", "timestamp": str(int(ago(1).timestamp()))}

    for extra in ({}, {"token": "guess"}, {"token": other_token}):
        response = await client.get(url, query_string={**query, **extra})
        assert response.status_code == 401
        assert (await response.get_json())["code"] == "unauthorized"
    assert await reading_count(shop.db, shop.id, vehicle.id) == 0


async def test_an_unknown_device_a_bad_position_and_another_dealership_store_nothing(client, factory):
    shop, other_shop = await factory.tenant(), await factory.tenant()
    vehicle, unique_id, token = await tracked_vehicle(shop, "OSMAND")
    stamp = str(int(ago(1).timestamp()))

    response = await client.get(
        f"/hooks/osmand/{shop.tenant.slug}",
        query_string={"id": "nobody", "lat": "1", "lon": "1", "timestamp": stamp, "token": token},
    )
    assert response.status_code == 422 and (await response.get_json())["code"] == "unknown_device"

    response = await client.get(
        f"/hooks/osmand/{shop.tenant.slug}",
        query_string={"id": unique_id, "lat": "91", "lon": "1", "timestamp": stamp, "token": token},
    )
    assert response.status_code == 422 and (await response.get_json())["details"][0]["field"] == "lat"

    response = await client.get(
        f"/hooks/osmand/{other_shop.tenant.slug}",
        query_string={"id": unique_id, "lat": "1", "lon": "1", "timestamp": stamp, "token": token},
    )
    assert response.status_code == 422
    assert await reading_count(shop.db, shop.id, vehicle.id) == 0


async def test_a_replay_answers_200_and_stores_nothing_new(client, factory):
    shop = await factory.tenant()
    vehicle, unique_id, token = await tracked_vehicle(shop, "OSMAND")
    query = {
        "id": unique_id,
        "lat": "47.1",
        "lon": "8.1",
        "timestamp": str(int(ago(1).timestamp())),
        "token": token,
    }

    for _ in range(3):
        response = await client.get(f"/hooks/osmand/{shop.tenant.slug}", query_string=query)
        assert response.status_code == 200
    assert await reading_count(shop.db, shop.id, vehicle.id) == 1
    assert len(await events(shop.db, shop.id, "telemetry.reading_recorded")) == 1
