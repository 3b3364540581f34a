"""DOMAIN.md's thresholds converted exactly to SI, the severity each crossing gets, tenant overrides,
and the display units a tenant reads (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.telematics.readings import DeviceReading
from ops.i18n import current_locale
from ops.vehicles.telemetry.thresholds import DEFAULT_THRESHOLDS, effective_thresholds, evaluate
from ops.vehicles.telemetry.units import (
    KPA_PER_PSI,
    DisplayUnits,
    celsius_to_fahrenheit,
    fahrenheit_to_celsius,
    kpa_to_psi,
    l_per_100km_to_mpg,
)

AT = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


def test_the_doc_thresholds_in_si_are_exact():
    assert KPA_PER_PSI == 6.894757293168361
    assert DEFAULT_THRESHOLDS["tyre_low_kpa"] == 28 * 6.894757293168361
    assert DEFAULT_THRESHOLDS["tyre_high_kpa"] == 35 * 6.894757293168361
    assert DEFAULT_THRESHOLDS["engine_temp_low_c"] == (180 - 32) * 5 / 9
    assert DEFAULT_THRESHOLDS["engine_temp_high_c"] == (220 - 32) * 5 / 9
    assert (DEFAULT_THRESHOLDS["battery_low_v"], DEFAULT_THRESHOLDS["battery_high_v"]) == (12.2, 14.8)
    assert round(DEFAULT_THRESHOLDS["tyre_low_kpa"], 3) == 193.053
    assert round(DEFAULT_THRESHOLDS["engine_temp_high_c"], 3) == 104.444


def _conditions(**values) -> dict[str, str]:  # type: ignore[no-untyped-def]
    evaluation = evaluate(DeviceReading(recorded_at=AT, **values), DEFAULT_THRESHOLDS)
    return {f.condition: f.severity for f in evaluation.findings.values()}


def test_exactly_at_a_threshold_is_normal_and_just_beyond_it_is_an_alert():
    low, high = 28 * KPA_PER_PSI, 35 * KPA_PER_PSI
    assert _conditions(tyre_fl_kpa=low) == {}
    assert _conditions(tyre_fl_kpa=low - 1e-9) == {"tyre_fl_low": "HIGH"}
    assert _conditions(tyre_fl_kpa=high) == {}
    assert _conditions(tyre_fl_kpa=high + 1e-9) == {"tyre_fl_high": "MEDIUM"}
    assert _conditions(tyre_rl_kpa=19.9 * KPA_PER_PSI) == {"tyre_rl_low": "CRITICAL"}
    assert _conditions(engine_temp_c=fahrenheit_to_celsius(220)) == {}
    assert _conditions(engine_temp_c=fahrenheit_to_celsius(220.1)) == {"engine_temp_high": "CRITICAL"}
    assert _conditions(engine_temp_c=fahrenheit_to_celsius(179.9), rpm=800) == {"engine_temp_low": "LOW"}
    assert _conditions(engine_temp_c=20.0, rpm=0) == {}  # a cold engine that is off
    assert _conditions(battery_v=12.2) == {} and _conditions(battery_v=14.8) == {}
    assert _conditions(battery_v=12.19) == {"battery_low": "MEDIUM"}
    assert _conditions(battery_v=14.81) == {"battery_high": "HIGH"}
    assert _conditions(dtc_codes=("P0300",)) == {"dtc:P0300": "MEDIUM"}


def test_a_measurement_a_reading_lacks_decides_nothing():
    evaluation = evaluate(DeviceReading(recorded_at=AT, battery_v=13.0), DEFAULT_THRESHOLDS)
    assert evaluation.findings == {}
    assert evaluation.normal == {"battery_low", "battery_high"}


def test_a_tenants_overrides_apply_and_junk_in_them_is_ignored():
    thresholds = effective_thresholds({"battery_low_v": 11.8, "tyre_low_kpa": "x", "unknown": 3})
    assert thresholds["battery_low_v"] == 11.8
    assert thresholds["tyre_low_kpa"] == DEFAULT_THRESHOLDS["tyre_low_kpa"]
    assert evaluate(DeviceReading(recorded_at=AT, battery_v=12.0), thresholds).findings == {}


@given(st.floats(min_value=-100, max_value=400, allow_nan=False))
def test_temperature_conversion_goes_there_and_back(fahrenheit):  # type: ignore[no-untyped-def]
    assert celsius_to_fahrenheit(fahrenheit_to_celsius(fahrenheit)) == pytest.approx(fahrenheit, abs=1e-9)


def test_display_units_for_miles_and_km_tenants():
    imperial = DisplayUnits.for_tenant(SimpleNamespace(distance_unit="miles", fuel_unit="gallons"))
    metric = DisplayUnits.for_tenant(SimpleNamespace(distance_unit="km", fuel_unit="liters"))
    assert imperial.distance_from_m(1609.344) == 1.0 and metric.distance_from_m(1500) == 1.5
    assert imperial.pressure_from_kpa(28 * KPA_PER_PSI) == pytest.approx(28, abs=1e-12)
    assert metric.pressure_from_kpa(250) == 2.5
    assert imperial.temperature_from_c(100) == 212 and metric.temperature_from_c(100) == 100
    assert imperial.speed_from_mps(1609.344 / 3600) == pytest.approx(1.0, abs=1e-12)
    assert metric.speed_from_mps(10) == 36.0
    assert imperial.volume_from_l(3.785411784) == 1.0
    # 235.214583... mpg is 1 l/100 km; 10 l/100 km is 23.52 mpg.
    assert l_per_100km_to_mpg(10) == pytest.approx(23.5214583, abs=1e-6)
    assert imperial.efficiency_from_l_per_100km(10) == l_per_100km_to_mpg(10)
    assert metric.efficiency_from_l_per_100km(10) == 10
    assert imperial.pressure_to_kpa(imperial.pressure_from_kpa(230)) == pytest.approx(230, abs=1e-9)
    assert metric.temperature_to_c(90) == 90 and imperial.temperature_to_c(212) == 100
    assert kpa_to_psi(6.894757293168361) == 1.0


def test_display_text_carries_the_unit_and_a_dash_for_nothing_measured():
    token = current_locale.set("en")
    try:
        imperial = DisplayUnits("miles", "gallons")
        metric = DisplayUnits("km", "liters")
        assert imperial.pressure(32 * KPA_PER_PSI) == "32 psi"
        assert metric.pressure(230) == "2.3 bar"
        assert imperial.temperature(100) == "212 °F" and metric.temperature(91.6) == "92 °C"
        assert metric.distance(48_210_400) == "48,210 km"
        assert imperial.efficiency(10) == "23.5 mpg" and metric.efficiency(6.84) == "6.8 l/100 km"
        assert metric.voltage(None) == "\u2013" and DisplayUnits.percent(0.62) == "62 %"
    finally:
        current_locale.reset(token)
