"""The OsmAnd protocol as Traccar Client sends it, parsed into one reading.

Two shapes reach the same address:
- query or form parameters (`id`/`deviceid`, `lat`, `lon`, `timestamp` in Unix seconds or ISO 8601,
  `speed` in knots, `bearing`/`heading`, `altitude`, `batt` = the phone's battery in per cent);
- the JSON body of Traccar Client 9 and later: `{"device_id": ..., "location": {"timestamp": ISO,
  "coords": {"latitude", "longitude", "speed" (m/s, as the phone's location API reports it),
  "heading", "altitude", "accuracy"}, "battery": {"level": 0..1}, ...}}`.

The phone's battery and the app's travelled distance describe the phone, not the vehicle, so they
are not stored as the vehicle's battery voltage or odometer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.telematics.readings import (
    DeviceReading,
    PayloadError,
    check_position,
    knots_to_mps,
    optional_float,
    parse_time,
)


def parse_osmand_params(params: Mapping[str, str]) -> DeviceReading:
    device_id = (params.get("id") or params.get("deviceid") or "").strip()
    if not device_id:
        raise PayloadError("id is missing", "id")
    latitude = optional_float(params.get("lat"), "lat")
    longitude = optional_float(params.get("lon"), "lon")
    check_position(latitude, longitude)
    speed_knots = optional_float(params.get("speed"), "speed")
    return DeviceReading(
        recorded_at=parse_time(params.get("timestamp"), "timestamp"),
        device_id=device_id,
        latitude=latitude,
        longitude=longitude,
        speed_mps=None if speed_knots is None else knots_to_mps(speed_knots),
    )


def parse_osmand_json(payload: Any) -> DeviceReading:
    if not isinstance(payload, dict):
        raise PayloadError("expected a JSON object with location and device_id")
    device_id = str(payload.get("device_id") or "").strip()
    if not device_id:
        raise PayloadError("device_id is missing", "device_id")
    location = payload.get("location")
    if not isinstance(location, dict):
        raise PayloadError("location is missing", "location")
    coords = location.get("coords")
    if not isinstance(coords, dict):
        raise PayloadError("location.coords is missing", "location.coords")
    latitude = optional_float(coords.get("latitude"), "location.coords.latitude")
    longitude = optional_float(coords.get("longitude"), "location.coords.longitude")
    check_position(latitude, longitude)
    speed = optional_float(coords.get("speed"), "location.coords.speed")
    return DeviceReading(
        recorded_at=parse_time(location.get("timestamp"), "location.timestamp"),
        device_id=device_id,
        latitude=latitude,
        longitude=longitude,
        # A phone reports -1 when it does not know its speed.
        speed_mps=None if speed is None or speed < 0 else speed,
    )
