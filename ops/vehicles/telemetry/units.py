"""SI units to the tenant's display units and back, with exact factors.

Tenants choose distance (miles or km) and fuel (US gallons or litres). Pressure follows distance
(psi for miles tenants, bar otherwise) and so does temperature (°F for miles tenants, °C otherwise).
Fuel efficiency is miles per US gallon for gallon tenants and litres per 100 km otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ops.i18n import format_number
from ops.i18n import gettext as _

METRES_PER_MILE = 1609.344
METRES_PER_KM = 1000.0
LITRES_PER_US_GALLON = 3.785411784
KPA_PER_PSI = 6.894757293168361
KPA_PER_BAR = 100.0
# mpg = MPG_TIMES_L_PER_100KM / (l/100 km): 100 km per (l/100 km) litres, in miles per gallon.
MPG_TIMES_L_PER_100KM = 100 * METRES_PER_KM / METRES_PER_MILE * LITRES_PER_US_GALLON

# Shown where a measurement was not reported.
NOT_MEASURED = "\u2013"


def fahrenheit_to_celsius(fahrenheit: float) -> float:
    return (fahrenheit - 32) * 5 / 9


def celsius_to_fahrenheit(celsius: float) -> float:
    return celsius * 9 / 5 + 32


def psi_to_kpa(psi: float) -> float:
    return psi * KPA_PER_PSI


def kpa_to_psi(kpa: float) -> float:
    return kpa / KPA_PER_PSI


def l_per_100km_to_mpg(l_per_100km: float) -> float:
    return MPG_TIMES_L_PER_100KM / l_per_100km


@dataclass(frozen=True)
class DisplayUnits:
    """How one tenant reads measurements: `DisplayUnits.for_tenant(tenant)`."""

    distance_in: str = "km"  # km | miles
    fuel_in: str = "liters"  # liters | gallons

    @classmethod
    def for_tenant(cls, tenant: object) -> DisplayUnits:
        distance = "miles" if getattr(tenant, "distance_unit", "km") == "miles" else "km"
        fuel = "gallons" if getattr(tenant, "fuel_unit", "liters") == "gallons" else "liters"
        return cls(distance, fuel)

    @property
    def imperial(self) -> bool:
        return self.distance_in == "miles"

    # --- values --------------------------------------------------------------------------------------

    def distance_from_m(self, metres: float) -> float:
        return metres / (METRES_PER_MILE if self.imperial else METRES_PER_KM)

    def speed_from_mps(self, mps: float) -> float:
        return mps * 3600 / (METRES_PER_MILE if self.imperial else METRES_PER_KM)

    def pressure_from_kpa(self, kpa: float) -> float:
        return kpa / (KPA_PER_PSI if self.imperial else KPA_PER_BAR)

    def pressure_to_kpa(self, value: float) -> float:
        return value * (KPA_PER_PSI if self.imperial else KPA_PER_BAR)

    def temperature_from_c(self, celsius: float) -> float:
        return celsius_to_fahrenheit(celsius) if self.imperial else celsius

    def temperature_to_c(self, value: float) -> float:
        return fahrenheit_to_celsius(value) if self.imperial else value

    def volume_from_l(self, litres: float) -> float:
        return litres / LITRES_PER_US_GALLON if self.fuel_in == "gallons" else litres

    def efficiency_from_l_per_100km(self, l_per_100km: float) -> float:
        return l_per_100km_to_mpg(l_per_100km) if self.fuel_in == "gallons" else l_per_100km

    # --- unit symbols --------------------------------------------------------------------------------

    @property
    def distance_unit(self) -> str:
        return _("mi") if self.imperial else _("km")

    @property
    def speed_unit(self) -> str:
        return _("mph") if self.imperial else _("km/h")

    @property
    def pressure_unit(self) -> str:
        return _("psi") if self.imperial else _("bar")

    @property
    def temperature_unit(self) -> str:
        return "°F" if self.imperial else "°C"

    @property
    def efficiency_unit(self) -> str:
        return _("mpg") if self.fuel_in == "gallons" else _("l/100 km")

    # --- text ----------------------------------------------------------------------------------------

    def distance(self, metres: float | None) -> str:
        return self._text(None if metres is None else self.distance_from_m(metres), 0, self.distance_unit)

    def speed(self, mps: float | None) -> str:
        return self._text(None if mps is None else self.speed_from_mps(mps), 0, self.speed_unit)

    def pressure(self, kpa: float | None) -> str:
        decimals = 1 if self.imperial else 2
        value = None if kpa is None else self.pressure_from_kpa(kpa)
        return self._text(value, decimals, self.pressure_unit)

    def temperature(self, celsius: float | None) -> str:
        value = None if celsius is None else self.temperature_from_c(celsius)
        return self._text(value, 0, self.temperature_unit)

    def efficiency(self, l_per_100km: float | None) -> str:
        if l_per_100km is None or l_per_100km <= 0:
            return NOT_MEASURED
        return self._text(self.efficiency_from_l_per_100km(l_per_100km), 1, self.efficiency_unit)

    @staticmethod
    def voltage(volts: float | None) -> str:
        return DisplayUnits._text(volts, 1, "V")

    @staticmethod
    def percent(fraction: float | None) -> str:
        return DisplayUnits._text(None if fraction is None else fraction * 100, 0, "%")

    @staticmethod
    def _text(value: float | None, decimals: int, unit: str) -> str:
        if value is None:
            return NOT_MEASURED
        return f"{format_number(Decimal(repr(round(value, decimals))), decimals=decimals)} {unit}"
