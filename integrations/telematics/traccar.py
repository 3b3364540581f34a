"""Traccar's JSON forwarding (`forward.type=json`, event forwarding) parsed into one reading.

Position forwarding posts `{"position": {...}, "device": {...}}`, event forwarding
`{"event": {...}, "position": {...}, "device": {...}}` (the position is missing when the event has
none, e.g. `deviceOffline`). Traccar's units: speed in knots, distances in metres, `coolantTemp` in
°C, `engineLoad` in per cent, `power` (the vehicle's supply) in volts, times ISO 8601 in UTC.

`attributes.totalDistance` is Traccar's own counter of GPS distance since the device was added: it
starts at zero and restarts when the device is replaced, so it is not the vehicle's odometer and is
not used for it. Only a device that reports the odometer (`odometer`, or `obdOdometer` read from the
car's OBD port; both metres) moves the vehicle's odometer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from integrations.telematics.readings import (
    DeviceReading,
    PayloadError,
    check_position,
    knots_to_mps,
    optional_float,
    parse_time,
)


@dataclass(frozen=True)
class TraccarMessage:
    """One forwarded request: the device, its reading (None for an event without a position), the event."""

    unique_id: str
    reading: DeviceReading | None
    event_type: str | None = None


def parse_traccar(payload: Any) -> TraccarMessage:
    if not isinstance(payload, dict):
        raise PayloadError("expected a JSON object with position and device")
    device = payload.get("device")
    if not isinstance(device, dict):
        raise PayloadError("device is missing", "device")
    unique_id = device.get("uniqueId")
    if not isinstance(unique_id, str | int) or isinstance(unique_id, bool) or str(unique_id).strip() == "":
        raise PayloadError("device.uniqueId is missing", "device.uniqueId")
    event = payload.get("event")
    event_type = None
    if event is not None:
        if not isinstance(event, dict):
            raise PayloadError("event must be an object", "event")
        event_type = str(event.get("type") or "") or None
    position = payload.get("position")
    if position is None and event is not None:
        return TraccarMessage(str(unique_id).strip(), None, event_type)
    if not isinstance(position, dict):
        raise PayloadError("position is missing", "position")
    return TraccarMessage(str(unique_id).strip(), _reading(str(unique_id).strip(), position), event_type)


def _reading(unique_id: str, position: dict[str, Any]) -> DeviceReading:
    time_field = "position.fixTime" if position.get("fixTime") else "position.deviceTime"
    recorded_at = parse_time(position.get("fixTime") or position.get("deviceTime"), time_field)
    attributes = position.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise PayloadError("attributes must be an object", "position.attributes")
    latitude = optional_float(position.get("latitude"), "position.latitude")
    longitude = optional_float(position.get("longitude"), "position.longitude")
    check_position(latitude, longitude)
    speed_knots = optional_float(position.get("speed"), "position.speed")
    odometer = optional_float(attributes.get("odometer"), "position.attributes.odometer")
    if odometer is None:
        odometer = optional_float(attributes.get("obdOdometer"), "position.attributes.obdOdometer")
    engine_load = optional_float(attributes.get("engineLoad"), "position.attributes.engineLoad")
    rpm = optional_float(attributes.get("rpm"), "position.attributes.rpm")
    return DeviceReading(
        recorded_at=recorded_at,
        device_id=unique_id,
        latitude=latitude,
        longitude=longitude,
        speed_mps=None if speed_knots is None else knots_to_mps(speed_knots),
        odometer_m=None if odometer is None or odometer < 0 else int(odometer),
        engine_temp_c=optional_float(attributes.get("coolantTemp"), "position.attributes.coolantTemp"),
        engine_load=None if engine_load is None else engine_load / 100,
        battery_v=optional_float(attributes.get("power"), "position.attributes.power"),
        rpm=None if rpm is None else round(rpm),
        dtc_codes=_trouble_codes(attributes.get("dtcs")),
    )


def _trouble_codes(value: Any) -> tuple[str, ...] | None:
    """Traccar joins the codes with spaces (`"P0300 P0171"`); some decoders send a list."""
    if value is None:
        return None
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise PayloadError("dtcs must be text or a list", "position.attributes.dtcs")
    return tuple(dict.fromkeys(str(code).strip().upper() for code in items if str(code).strip()))
