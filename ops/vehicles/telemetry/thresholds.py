"""Alert thresholds and what a reading breaks.

The alerts of DOMAIN.md, converted exactly to SI (1 psi = 6.894757293168361 kPa, °C = (°F - 32) x 5/9):

- **Tyre pressure low**: below 28 psi (193.05 kPa), per tyre. Severity HIGH; below 20 psi
  (137.90 kPa, a flat or nearly flat tyre that must not be driven on) CRITICAL.
- **Tyre pressure high**: above 35 psi (241.32 kPa), per tyre. Severity MEDIUM.
- **Engine temperature high**: above 220 °F (104.44 °C): the engine is overheating. Severity CRITICAL.
- **Engine temperature low**: below 180 °F (82.22 °C) while the engine runs (rpm above zero, or rpm
  not reported): a thermostat stuck open. Severity LOW.
- **Battery low**: below 12.2 V: the battery is discharged or failing. Severity MEDIUM.
- **Battery high**: above 14.8 V: the charging system overcharges. Severity HIGH.
- **Trouble code**: each diagnostic trouble code reported opens its own alert `dtc:<CODE>`,
  severity MEDIUM (the health score counts trouble codes at 10 points each, not by severity).
- **Stopped reporting**: a vehicle with a registered device and no reading for 24 hours. Severity LOW.

A tenant may tune every threshold (`tenant.telemetry_thresholds`, stored in SI); a value missing
there is DOMAIN.md's. Each low must stay below its high.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integrations.telematics.readings import DeviceReading
from ops.vehicles.telemetry.units import fahrenheit_to_celsius, psi_to_kpa

TYRES = ("fl", "fr", "rl", "rr")

DEFAULT_THRESHOLDS: dict[str, float] = {
    "tyre_low_kpa": psi_to_kpa(28),
    "tyre_high_kpa": psi_to_kpa(35),
    "tyre_critical_kpa": psi_to_kpa(20),
    "engine_temp_low_c": fahrenheit_to_celsius(180),
    "engine_temp_high_c": fahrenheit_to_celsius(220),
    "battery_low_v": 12.2,
    "battery_high_v": 14.8,
}
# (low, high) pairs that must stay ordered; the critical tyre level must be below the low one.
ORDERED_PAIRS = (
    ("tyre_critical_kpa", "tyre_low_kpa"),
    ("tyre_low_kpa", "tyre_high_kpa"),
    ("engine_temp_low_c", "engine_temp_high_c"),
    ("battery_low_v", "battery_high_v"),
)
DTC_PREFIX = "dtc:"
DTC_SEVERITY = "MEDIUM"
STOPPED_REPORTING = "stopped_reporting"
STOPPED_REPORTING_SEVERITY = "LOW"


def effective_thresholds(overrides: Mapping[str, Any] | None) -> dict[str, float]:
    """DOMAIN.md's thresholds with the tenant's numeric overrides on top."""
    values = dict(DEFAULT_THRESHOLDS)
    for name, value in (overrides or {}).items():
        if name in values and isinstance(value, int | float) and not isinstance(value, bool):
            values[name] = float(value)
    return values


@dataclass(frozen=True)
class Finding:
    """A condition a reading is in: which, how bad, the value and the threshold it crossed (SI)."""

    condition: str
    severity: str
    value: float | None
    threshold: float | None


@dataclass(frozen=True)
class Evaluation:
    """What a reading says: the conditions it is in, and the ones it measured and found normal."""

    findings: dict[str, Finding]
    normal: frozenset[str]


def evaluate(reading: DeviceReading, thresholds: Mapping[str, float]) -> Evaluation:
    """The conditions of one reading; a measurement the reading lacks decides nothing."""
    findings: dict[str, Finding] = {}
    normal: set[str] = set()

    def check(condition: str, severity: str, value: float, threshold: float, crossed: bool) -> None:
        if crossed:
            findings[condition] = Finding(condition, severity, value, threshold)
        else:
            normal.add(condition)

    for tyre in TYRES:
        kpa = getattr(reading, f"tyre_{tyre}_kpa")
        if kpa is None:
            continue
        flat, low, high = (thresholds[f"tyre_{level}_kpa"] for level in ("critical", "low", "high"))
        if kpa < flat:
            check(f"tyre_{tyre}_low", "CRITICAL", kpa, flat, True)
        else:
            check(f"tyre_{tyre}_low", "HIGH", kpa, low, kpa < low)
        check(f"tyre_{tyre}_high", "MEDIUM", kpa, high, kpa > high)

    temp = reading.engine_temp_c
    if temp is not None:
        high = thresholds["engine_temp_high_c"]
        check("engine_temp_high", "CRITICAL", temp, high, temp > high)
        # A cold engine that is switched off is no fault.
        if reading.rpm is None or reading.rpm > 0:
            low = thresholds["engine_temp_low_c"]
            check("engine_temp_low", "LOW", temp, low, temp < low)

    volts = reading.battery_v
    if volts is not None:
        low, high = thresholds["battery_low_v"], thresholds["battery_high_v"]
        check("battery_low", "MEDIUM", volts, low, volts < low)
        check("battery_high", "HIGH", volts, high, volts > high)

    for code in reading.dtc_codes or ():
        condition = f"{DTC_PREFIX}{code}"[:40]
        findings[condition] = Finding(condition, DTC_SEVERITY, None, None)
    return Evaluation(findings, frozenset(normal))


def is_trouble_code(condition: str) -> bool:
    return condition.startswith(DTC_PREFIX)
