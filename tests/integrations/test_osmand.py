"""OsmAnd reports as Traccar Client sends them, parsed into a reading (pure parsing)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.telematics.osmand import parse_osmand_json, parse_osmand_params
from integrations.telematics.readings import PayloadError

MOMENT = datetime(2026, 11, 22, 14, 0, 0, tzinfo=UTC)


def test_query_parameters_with_unix_seconds_and_knots():
    reading = parse_osmand_params(
        {"id": "123456", "lat": "47.5", "lon": "8.25", "timestamp": "1795356000", "speed": "20", "batt": "80"}
    )
    assert reading.device_id == "123456"
    assert reading.recorded_at == datetime.fromtimestamp(1795356000, UTC)
    assert reading.speed_mps == pytest.approx(20 * 1852 / 3600, abs=1e-12)
    assert (reading.latitude, reading.longitude) == (47.5, 8.25)
    # The phone's battery is not the vehicle's.
    assert reading.battery_v is None


def test_iso_and_millisecond_timestamps_and_the_deviceid_spelling():
    assert parse_osmand_params({"deviceid": "9", "timestamp": "2026-11-22T14:00:00Z"}).recorded_at == MOMENT
    assert (
        parse_osmand_params({"id": "9", "timestamp": str(int(MOMENT.timestamp() * 1000))}).recorded_at
        == MOMENT
    )


def test_the_json_body_with_speed_in_metres_per_second_and_unknown_speed():
    body = {
        "device_id": "abc",
        "location": {
            "timestamp": "2026-11-22T14:00:00.000Z",
            "coords": {"latitude": 1.5, "longitude": 2.5, "speed": 12.5, "heading": 90, "altitude": 10},
            "battery": {"level": 0.5, "is_charging": True},
        },
    }
    reading = parse_osmand_json(body)
    assert (reading.device_id, reading.recorded_at, reading.speed_mps) == ("abc", MOMENT, 12.5)
    body["location"]["coords"]["speed"] = -1  # type: ignore[index]
    assert parse_osmand_json(body).speed_mps is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": "1", "lon": "1", "timestamp": "1795356000"}, "id"),
        ({"id": "1", "lat": "1", "lon": "1"}, "timestamp"),
        ({"id": "1", "lat": "north", "lon": "1", "timestamp": "1795356000"}, "lat"),
        ({"id": "1", "lat": "1", "lon": "181", "timestamp": "1795356000"}, "lon"),
    ],
)
def test_bad_parameters_name_the_parameter(params, field):  # type: ignore[no-untyped-def]
    with pytest.raises(PayloadError) as error:
        parse_osmand_params(params)
    assert error.value.field == field


def test_a_json_body_without_location_names_it():
    with pytest.raises(PayloadError) as error:
        parse_osmand_json({"device_id": "x"})
    assert error.value.field == "location"
