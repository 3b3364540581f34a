"""Traccar's forwarded JSON parsed into a reading in SI units (no server needed: pure parsing)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.telematics.readings import PayloadError
from integrations.telematics.traccar import parse_traccar
from tests.vehicles.telemetry.helpers import traccar_device, traccar_event, traccar_position

FIX = datetime(2026, 11, 22, 14, 29, 55, 123000, tzinfo=UTC)


def test_a_position_forward_becomes_a_reading_in_si_units():
    payload = traccar_position(
        "868618052108909",
        FIX,
        speed_knots=10.0,
        odometer=98_765_432,
        coolantTemp=92.0,
        engineLoad=37.5,
        power=14.1,
        rpm=1850.0,
        dtcs="P0300 p0171",
    )

    message = parse_traccar(payload)

    reading = message.reading
    assert message.unique_id == "868618052108909" and message.event_type is None
    assert reading is not None
    assert reading.recorded_at == FIX
    assert reading.speed_mps == pytest.approx(10.0 * 1852 / 3600, abs=1e-12)
    assert reading.odometer_m == 98_765_432
    assert (reading.engine_temp_c, reading.engine_load, reading.battery_v, reading.rpm) == (
        92.0,
        0.375,
        14.1,
        1850,
    )
    assert (reading.latitude, reading.longitude) == (47.3769, 8.5417)
    assert reading.dtc_codes == ("P0300", "P0171")


def test_total_distance_is_not_taken_for_the_odometer_but_obd_odometer_is():
    assert parse_traccar(traccar_position("1", FIX)).reading.odometer_m is None  # type: ignore[union-attr]
    obd = parse_traccar(traccar_position("1", FIX, obdOdometer=5_000_000))
    assert obd.reading.odometer_m == 5_000_000  # type: ignore[union-attr]


def test_an_event_forward_keeps_its_type_and_an_event_without_position_has_no_reading():
    message = parse_traccar(traccar_event("42", FIX, "alarm"))
    assert message.event_type == "alarm" and message.reading is not None

    offline = {
        "event": {"type": "deviceOffline", "eventTime": "2026-11-22T10:45:34.984+00:00"},
        "device": traccar_device("42"),
    }
    message = parse_traccar(offline)
    assert message.reading is None and message.event_type == "deviceOffline" and message.unique_id == "42"


def test_device_time_stands_in_when_fix_time_is_missing():
    payload = traccar_position("1", FIX)
    del payload["position"]["fixTime"]
    assert parse_traccar(payload).reading.recorded_at == FIX  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.pop("device"), "device"),
        (lambda p: p["device"].pop("uniqueId"), "device.uniqueId"),
        (lambda p: p.pop("position"), "position"),
        (lambda p: p["position"].update(fixTime="soon", deviceTime=None), "position.fixTime"),
        (lambda p: p["position"].update(latitude=123.0), "lat"),
        (lambda p: p["position"].update(speed="fast"), "position.speed"),
        (
            lambda p: p["position"]["attributes"].update(coolantTemp=float("nan")),
            "position.attributes.coolantTemp",
        ),
    ],
)
def test_a_payload_traccar_would_not_send_names_the_wrong_part(change, field):  # type: ignore[no-untyped-def]
    payload = traccar_position("1", FIX)
    change(payload)
    with pytest.raises(PayloadError) as error:
        parse_traccar(payload)
    assert error.value.field == field
