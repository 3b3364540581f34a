"""The health score exactly as DOMAIN.md defines it: examples and properties, and the stored score."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ops.vehicles.health import compute_health, reason_label
from ops.vehicles.models import VehicleAlert, VehicleMaintenance

SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
POINTS = {"CRITICAL": 40, "HIGH": 20, "MEDIUM": 10, "LOW": 5}

alert = st.one_of(
    st.tuples(
        st.sampled_from(["tyre_fl_low", "battery_low", "engine_temp_high"]), st.sampled_from(SEVERITIES)
    ),
    st.tuples(st.from_regex(r"dtc:P0[0-9]{3}", fullmatch=True), st.sampled_from(SEVERITIES)),
)


def test_examples_from_the_rule():
    assert compute_health([], False).score == 100
    assert compute_health([("engine_temp_high", "CRITICAL")], False).score == 60
    assert compute_health([("tyre_fl_low", "HIGH"), ("battery_low", "MEDIUM")], True).score == 55
    assert compute_health([("dtc:P0300", "CRITICAL")], False).score == 90
    health = compute_health([("a", "CRITICAL")] * 3, True)
    assert health.score == 0
    assert health.reasons == [
        {"points": -120, "reason": "critical", "count": 3},
        {"points": -15, "reason": "maintenance_overdue", "count": 1},
    ]


@given(st.lists(alert, max_size=12), st.booleans())
def test_the_score_is_the_rule_and_stays_between_0_and_100(alerts, overdue):  # type: ignore[no-untyped-def]
    health = compute_health(alerts, overdue)
    expected = 100
    for condition, severity in alerts:
        expected -= 10 if condition.startswith("dtc:") else POINTS[severity]
    expected -= 15 if overdue else 0
    assert health.score == max(0, expected)
    assert 0 <= health.score <= 100
    # The reasons add up to what was taken off (before the floor at zero).
    assert 100 + sum(r["points"] for r in health.reasons) == expected


@given(st.lists(alert, max_size=8), st.booleans(), alert)
def test_one_more_open_alert_never_raises_the_score(alerts, overdue, extra):  # type: ignore[no-untyped-def]
    assert compute_health([*alerts, extra], overdue).score <= compute_health(alerts, overdue).score
    assert compute_health(alerts, True).score <= compute_health(alerts, False).score


def test_reasons_read_as_text():
    assert reason_label({"points": -80, "reason": "critical", "count": 2}) == "2 critical alerts (-80)"
    assert reason_label({"points": -10, "reason": "trouble_codes", "count": 1}) == "1 open trouble code (-10)"


async def test_refresh_health_counts_open_alerts_and_overdue_maintenance(factory):
    from datetime import UTC, datetime

    from ops.vehicles.health import refresh_health
    from ops.vehicles.models import MaintenanceSchedule, Vehicle

    shop = await factory.tenant()
    vehicle = await shop.vehicle()
    now = datetime.now(UTC)
    async with shop.db.uow(shop.admin.actor) as uow:
        schedule = MaintenanceSchedule(service_type="Oil change", interval_km=15000)
        uow.session.add(schedule)
        await uow.session.flush()
        uow.session.add_all(
            [
                VehicleAlert(
                    vehicle_id=vehicle.id,
                    condition="battery_low",
                    severity="MEDIUM",
                    opened_at=now,
                    last_seen_at=now,
                ),
                VehicleAlert(
                    vehicle_id=vehicle.id,
                    condition="dtc:P0420",
                    severity="MEDIUM",
                    opened_at=now,
                    last_seen_at=now,
                ),
                VehicleAlert(
                    vehicle_id=vehicle.id,
                    condition="tyre_fl_low",
                    severity="HIGH",
                    status="CLOSED",
                    opened_at=now,
                    last_seen_at=now,
                ),
                VehicleMaintenance(vehicle_id=vehicle.id, schedule_id=schedule.id, state="OVERDUE"),
            ]
        )
        await uow.session.flush()
        row = await uow.session.get(Vehicle, vehicle.id)
        assert row is not None
        health = await refresh_health(uow, row)
        await uow.commit()
    assert health.score == 100 - 10 - 10 - 15
    async with shop.db.read(shop.id) as session:
        stored = await session.get(Vehicle, vehicle.id)
    assert stored is not None and stored.health_score == 65
    assert [r["reason"] for r in stored.health_reasons] == ["medium", "trouble_codes", "maintenance_overdue"]
