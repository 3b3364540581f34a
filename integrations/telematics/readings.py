"""One telemetry reading as every provider's parser hands it on: SI units, UTC time, nothing stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

# Exact conversion factors (definitions, not measurements).
METRES_PER_NAUTICAL_MILE = 1852.0
SECONDS_PER_HOUR = 3600.0
MPS_PER_KNOT = METRES_PER_NAUTICAL_MILE / SECONDS_PER_HOUR


class PayloadError(ValueError):
    """The payload is not what the provider sends; `field` names the part that is wrong."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# Not frozen: a frozen dataclass's __init__ costs four times as much, and a batch makes a hundred.
@dataclass(slots=True)
class DeviceReading:
    """What one device reported at one moment; None = not reported (leaves alerts as they are).

    `dtc_codes` None means the device said nothing about trouble codes; an empty tuple means it
    reported none, which clears the open ones. Nothing changes a reading once it is made.
    """

    recorded_at: datetime
    device_id: str | None = None
    vin: str | None = None
    fuel_level: float | None = None
    state_of_charge: float | None = None
    fuel_l_per_100km: float | None = None
    engine_load: float | None = None
    engine_temp_c: float | None = None
    battery_v: float | None = None
    odometer_m: int | None = None
    tyre_fl_kpa: float | None = None
    tyre_fr_kpa: float | None = None
    tyre_rl_kpa: float | None = None
    tyre_rr_kpa: float | None = None
    latitude: float | None = None
    longitude: float | None = None
    speed_mps: float | None = None
    rpm: int | None = None
    dtc_codes: tuple[str, ...] | None = None


def knots_to_mps(knots: float) -> float:
    return knots * MPS_PER_KNOT


def parse_time(value: object, field: str) -> datetime:
    """ISO 8601 (`2026-11-22T14:00:00.000+00:00`, `...Z`) or Unix seconds/milliseconds, as UTC."""
    if isinstance(value, bool) or value is None or value == "":
        raise PayloadError("a time is required", field)
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        seconds = float(value)
        # Unix milliseconds (13 digits) from clients that send them.
        if seconds > 100_000_000_000:
            seconds /= 1000
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise PayloadError("not a valid Unix time", field) from None
    if not isinstance(value, str):
        raise PayloadError("not a time", field)
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError("not an ISO 8601 time", field) from None
    if parsed.tzinfo is None:
        # Traccar and its clients send UTC; a time without an offset is taken as UTC.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def optional_float(value: object, field: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise PayloadError("not a number", field)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise PayloadError("not a number", field) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise PayloadError("not a finite number", field)
    return number


def check_position(latitude: float | None, longitude: float | None) -> None:
    if latitude is not None and not -90 <= latitude <= 90:
        raise PayloadError("latitude must be between -90 and 90", "lat")
    if longitude is not None and not -180 <= longitude <= 180:
        raise PayloadError("longitude must be between -180 and 180", "lon")
