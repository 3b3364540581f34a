"""The vehicle health score of DOMAIN.md: 0 to 100, shown with its reasons.

100 minus 40 per open CRITICAL alert, 20 per HIGH, 10 per MEDIUM, 5 per LOW, 15 if any maintenance is
overdue, and 10 per open trouble code (alerts `dtc:<CODE>` count 10 each, whatever their severity);
never below 0. `compute_health` is the rule; `refresh_health` stores it on the vehicle inside the
caller's transaction (telemetry after a reading, maintenance after a change of due state).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select

from ops.i18n import gettext as _
from ops.i18n import ngettext
from ops.vehicles.models import Vehicle, VehicleAlert, VehicleMaintenance
from ops.vehicles.telemetry.thresholds import is_trouble_code

if TYPE_CHECKING:
    from ops.db import UnitOfWork

POINTS_PER_SEVERITY = {"CRITICAL": 40, "HIGH": 20, "MEDIUM": 10, "LOW": 5}
POINTS_PER_TROUBLE_CODE = 10
POINTS_FOR_OVERDUE_MAINTENANCE = 15
SEVERITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW")


@dataclass(frozen=True)
class Health:
    score: int
    # [{"points": -40, "reason": "critical", "count": 1}, ...]: points lost, by cause; see reason_label.
    reasons: list[dict[str, Any]]


def compute_health(open_alerts: Iterable[tuple[str, str]], maintenance_overdue: bool) -> Health:
    """Score from the open alerts as (condition, severity) pairs and whether maintenance is overdue."""
    severities: Counter[str] = Counter()
    trouble_codes = 0
    for condition, severity in open_alerts:
        if is_trouble_code(condition):
            trouble_codes += 1
        elif severity in POINTS_PER_SEVERITY:
            severities[severity] += 1
    reasons: list[dict[str, Any]] = []
    for severity in SEVERITY_ORDER:
        count = severities[severity]
        if count:
            points = -POINTS_PER_SEVERITY[severity] * count
            reasons.append({"points": points, "reason": severity.lower(), "count": count})
    if trouble_codes:
        points = -POINTS_PER_TROUBLE_CODE * trouble_codes
        reasons.append({"points": points, "reason": "trouble_codes", "count": trouble_codes})
    if maintenance_overdue:
        points = -POINTS_FOR_OVERDUE_MAINTENANCE
        reasons.append({"points": points, "reason": "maintenance_overdue", "count": 1})
    score = max(0, 100 + sum(reason["points"] for reason in reasons))
    return Health(score, reasons)


def reason_label(reason: dict[str, Any]) -> str:
    """One stored reason as the reader reads it: '2 critical alerts (-80)'."""
    count = int(reason.get("count", 1))
    points = int(reason.get("points", 0))
    labels = {
        "critical": ngettext("%(num)d critical alert", "%(num)d critical alerts", count),
        "high": ngettext("%(num)d high alert", "%(num)d high alerts", count),
        "medium": ngettext("%(num)d medium alert", "%(num)d medium alerts", count),
        "low": ngettext("%(num)d low alert", "%(num)d low alerts", count),
        "trouble_codes": ngettext("%(num)d open trouble code", "%(num)d open trouble codes", count),
        "maintenance_overdue": _("Maintenance overdue"),
    }
    label = labels.get(str(reason.get("reason")), str(reason.get("reason")))
    return _("%(label)s (%(points)s)", label=label, points=points)


async def refresh_health(uow: UnitOfWork, vehicle: Vehicle) -> Health:
    """Recompute and store the vehicle's score from its open alerts and maintenance (no commit)."""
    session = uow.session
    rows = await session.execute(
        select(VehicleAlert.condition, VehicleAlert.severity).where(
            VehicleAlert.vehicle_id == vehicle.id, VehicleAlert.status == "OPEN"
        )
    )
    overdue = await session.scalar(
        select(
            exists().where(VehicleMaintenance.vehicle_id == vehicle.id, VehicleMaintenance.state == "OVERDUE")
        )
    )
    health = compute_health([(row.condition, row.severity) for row in rows], bool(overdue))
    vehicle.health_score = health.score
    vehicle.health_reasons = health.reasons
    return health
