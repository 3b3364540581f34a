"""The rules readings must keep: the odometer never goes back, late readings change no alert, an
alert opens once and closes when normal (also under a concurrent burst), trouble codes, readings
from the future, health after alerts, the critical alert's mail and the silent-vehicle timer."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from integrations.telematics.readings import DeviceReading
from ops.mail.models import OutgoingMail
from ops.vehicles.models import Vehicle
from ops.vehicles.telemetry.service import (
    ReadingRefused,
    ingest_readings,
    mark_stopped_reporting,
    register_device,
    telemetry_actor,
)
from ops.vehicles.telemetry.units import KPA_PER_PSI, fahrenheit_to_celsius
from tests.vehicles.telemetry.helpers import (
    ago,
    alerts,
    events,
    open_conditions,
    reading_count,
    tracked_vehicle,
    vehicle_state,
)

NORMAL_TYRE = 32 * KPA_PER_PSI
LOW_TYRE = 26 * KPA_PER_PSI
FLAT_TYRE = 15 * KPA_PER_PSI


async def _ingest(shop, readings, now=None):  # type: ignore[no-untyped-def]
    async with shop.db.uow(telemetry_actor(shop.id, "Test device")) as uow:
        return await ingest_readings(uow, readings, source="PARTNER", now=now)


def _reading(unique_id: str, minutes_ago: float, **values) -> DeviceReading:  # type: ignore[no-untyped-def]
    return DeviceReading(recorded_at=ago(minutes_ago), device_id=unique_id, **values)


async def test_the_odometer_never_goes_back_when_a_late_reading_arrives(factory):
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)

    await _ingest(shop, [_reading(unique_id, 5, odometer_m=50_000_500)])
    await _ingest(shop, [_reading(unique_id, 60, odometer_m=49_990_000)])  # late, from the device's buffer

    state = await vehicle_state(shop.db, shop.id, vehicle.id)
    assert state.odometer_m == 50_000_500 and state.odometer_km == 50_000
    assert state.last_reading_at == ago(5, now=state.last_reading_at + timedelta(minutes=5))
    assert await reading_count(shop.db, shop.id, vehicle.id) == 2


async def test_a_tracker_behind_the_workshops_reading_does_not_take_the_odometer_back(factory):
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)
    async with shop.db.uow(shop.admin.actor) as uow:
        row = await uow.session.get_one(Vehicle, vehicle.id)
        row.odometer_km = 52_000  # read off the dashboard at check-in
        await uow.commit()

    await _ingest(shop, [_reading(unique_id, 5, odometer_m=51_000_000)])
    assert (await vehicle_state(shop.db, shop.id, vehicle.id)).odometer_km == 52_000

    await _ingest(shop, [_reading(unique_id, 1, odometer_m=52_400_000)])
    state = await vehicle_state(shop.db, shop.id, vehicle.id)
    assert state.odometer_km == 52_400 and state.odometer_m == 52_400_000


async def test_out_of_order_readings_in_one_batch_keep_the_largest_odometer_and_newest_state(factory):
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)
    newest = _reading(unique_id, 1, odometer_m=10_000, tyre_fl_kpa=NORMAL_TYRE)
    older = _reading(unique_id, 9, odometer_m=9_000, tyre_fl_kpa=LOW_TYRE)

    result = await _ingest(shop, [newest, older])

    assert result.stored == 2
    state = await vehicle_state(shop.db, shop.id, vehicle.id)
    assert state.odometer_m == 10_000 and state.last_reading_at == newest.recorded_at
    assert await open_conditions(shop.db, shop.id, vehicle.id) == {}


async def test_readings_of_two_devices_in_one_vehicle_and_of_another_vehicle_go_in_one_request(factory):
    shop = await factory.tenant()
    vehicle, first_device, _t = await tracked_vehicle(shop)
    other, other_device, _t = await tracked_vehicle(shop)
    second_device = "990000000000001"
    async with shop.db.uow(shop.admin.actor) as uow:
        await register_device(uow, vehicle.id, "TRACCAR", second_device)

    result = await _ingest(
        shop,
        [
            _reading(first_device, 3, odometer_m=20_000),
            _reading(other_device, 2, odometer_m=7_000),
            _reading(second_device, 1, odometer_m=20_500),
        ],
    )

    assert result.stored == 3 and sorted(result.vehicle_ids) == sorted([vehicle.id, other.id])
    assert (await vehicle_state(shop.db, shop.id, vehicle.id)).odometer_m == 20_500
    assert (await vehicle_state(shop.db, shop.id, other.id)).odometer_m == 7_000
    recorded = await events(shop.db, shop.id, "telemetry.reading_recorded")
    assert sorted(event.payload["readings"] for event in recorded) == [1, 2]


async def test_an_unknown_device_among_known_ones_refuses_the_request(factory):
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)

    with pytest.raises(ReadingRefused) as refused:
        await _ingest(shop, [_reading(unique_id, 2), _reading("not-registered", 1)])

    assert refused.value.index == 1 and refused.value.field == "device_id"
    assert await reading_count(shop.db, shop.id, vehicle.id) == 0


async def test_an_alert_opens_once_and_closes_when_a_newer_reading_is_normal(factory):
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)

    for minutes in (10, 9, 8):
        await _ingest(shop, [_reading(unique_id, minutes, tyre_fl_kpa=LOW_TYRE)])
    assert await open_conditions(shop.db, shop.id, vehicle.id) == {"tyre_fl_low": "HIGH"}
    assert len(await events(shop.db, shop.id, "telemetry.alert_raised")) == 1
    assert (await vehicle_state(shop.db, shop.id, vehicle.id)).health_score == 80

    await _ingest(shop, [_reading(unique_id, 7, tyre_fl_kpa=NORMAL_TYRE)])

    assert await open_conditions(shop.db, shop.id, vehicle.id) == {}
    (closed,) = await alerts(shop.db, shop.id, vehicle.id)
    assert closed.status == "CLOSED" and closed.closed_at == ago(
        7, now=closed.closed_at + timedelta(minutes=7)
    )
    (cleared,) = await events(shop.db, shop.id, "telemetry.alert_cleared")
    assert cleared.payload["condition"] == "tyre_fl_low" and cleared.payload["alert_id"] == closed.id
    assert set(cleared.payload) >= {"vehicle_id", "alert_id", "condition", "severity", "value", "threshold"}
    assert (await vehicle_state(shop.db, shop.id, vehicle.id)).health_score == 100


async def test_a_late_reading_neither_reopens_nor_closes_an_alert(factory):
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)
    await _ingest(shop, [_reading(unique_id, 5, battery_v=11.8)])
    assert await open_conditions(shop.db, shop.id, vehicle.id) == {"battery_low": "MEDIUM"}

    await _ingest(shop, [_reading(unique_id, 30, battery_v=12.6)])  # normal, but older: closes nothing
    assert await open_conditions(shop.db, shop.id, vehicle.id) == {"battery_low": "MEDIUM"}

    await _ingest(shop, [_reading(unique_id, 4, battery_v=12.6)])
    await _ingest(shop, [_reading(unique_id, 20, battery_v=11.0)])  # low, but older: reopens nothing
    assert await open_conditions(shop.db, shop.id, vehicle.id) == {}
    assert len(await alerts(shop.db, shop.id, vehicle.id)) == 1


async def test_a_low_tyre_that_goes_flat_escalates_the_same_alert_to_critical(factory):
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)
    await _ingest(shop, [_reading(unique_id, 5, tyre_rr_kpa=LOW_TYRE)])
    await _ingest(shop, [_reading(unique_id, 4, tyre_rr_kpa=FLAT_TYRE)])

    assert await open_conditions(shop.db, shop.id, vehicle.id) == {"tyre_rr_low": "CRITICAL"}
    assert len(await alerts(shop.db, shop.id, vehicle.id)) == 1
    raised = await events(shop.db, shop.id, "telemetry.alert_raised")
    assert [e.payload["severity"] for e in raised] == ["HIGH", "CRITICAL"]
    assert (await vehicle_state(shop.db, shop.id, vehicle.id)).health_score == 60


async def test_each_trouble_code_is_an_alert_closed_when_a_newer_reading_reports_codes_without_it(factory):
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)
    await _ingest(shop, [_reading(unique_id, 5, dtc_codes=("P0300", "P0171"))])
    assert await open_conditions(shop.db, shop.id, vehicle.id) == {
        "dtc:P0300": "MEDIUM",
        "dtc:P0171": "MEDIUM",
    }
    state = await vehicle_state(shop.db, shop.id, vehicle.id)
    # Trouble codes count 10 each, not also by their severity.
    assert state.health_score == 80
    assert state.health_reasons == [{"points": -20, "reason": "trouble_codes", "count": 2}]

    await _ingest(shop, [_reading(unique_id, 4, battery_v=12.5)])  # says nothing about codes
    assert set(await open_conditions(shop.db, shop.id, vehicle.id)) == {"dtc:P0300", "dtc:P0171"}

    await _ingest(shop, [_reading(unique_id, 3, dtc_codes=("P0171",))])
    assert set(await open_conditions(shop.db, shop.id, vehicle.id)) == {"dtc:P0171"}
    await _ingest(shop, [_reading(unique_id, 2, dtc_codes=())])
    assert await open_conditions(shop.db, shop.id, vehicle.id) == {}
    assert (await vehicle_state(shop.db, shop.id, vehicle.id)).health_score == 100


async def test_a_reading_more_than_five_minutes_ahead_is_refused_and_nothing_is_stored(factory):
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)
    fine = _reading(unique_id, -4)  # 4 minutes ahead: a device clock a little fast
    ahead = _reading(unique_id, -6)

    with pytest.raises(ReadingRefused) as refused:
        await _ingest(shop, [fine, ahead])
    assert refused.value.index == 1 and refused.value.field == "time"
    assert await reading_count(shop.db, shop.id, vehicle.id) == 0

    assert (await _ingest(shop, [fine])).stored == 1


async def test_a_concurrent_burst_of_identical_readings_stores_one_and_opens_one_alert(factory):
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)
    reading = _reading(unique_id, 1, engine_temp_c=fahrenheit_to_celsius(240), odometer_m=1_000)

    results = await asyncio.gather(*(_ingest(shop, [reading]) for _ in range(8)))

    assert sum(r.stored for r in results) == 1
    assert await reading_count(shop.db, shop.id, vehicle.id) == 1
    (alert,) = await alerts(shop.db, shop.id, vehicle.id)
    assert alert.condition == "engine_temp_high" and alert.severity == "CRITICAL"
    assert len(await events(shop.db, shop.id, "telemetry.alert_raised")) == 1


async def test_a_concurrent_burst_of_different_readings_still_opens_one_alert(factory):
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)
    burst = [_reading(unique_id, 1 + i / 60, battery_v=11.5) for i in range(8)]

    await asyncio.gather(*(_ingest(shop, [reading]) for reading in burst))

    assert await reading_count(shop.db, shop.id, vehicle.id) == 8
    assert [a.condition for a in await alerts(shop.db, shop.id, vehicle.id)] == ["battery_low"]


async def test_a_critical_alert_mails_workshop_managers_and_admins(factory):
    shop = await factory.tenant(country="US")
    manager = await shop.user("workshop_manager")
    await shop.user("sales_rep")
    vehicle, unique_id, _t = await tracked_vehicle(shop)

    await _ingest(shop, [_reading(unique_id, 1, engine_temp_c=110.0)])
    await _ingest(shop, [_reading(unique_id, 0.5, battery_v=11.9)])  # medium: no mail

    async with shop.db.read(shop.id) as session:
        query = select(OutgoingMail).where(OutgoingMail.subject.like("Critical alert%"))
        mails = (await session.scalars(query)).all()
    assert sorted(m.recipient for m in mails) == sorted([shop.admin.email, manager.email])
    assert all("Engine overheating" in m.subject and vehicle.make in m.subject for m in mails)
    assert all(vehicle.vin in m.text for m in mails)


async def test_a_vehicle_silent_for_a_day_is_marked_once_and_its_next_reading_clears_it(factory):
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)
    await _ingest(shop, [_reading(unique_id, 60 * 25)])
    now = ago(0)

    assert await mark_stopped_reporting(shop.db, now) >= 1
    await mark_stopped_reporting(shop.db, now)

    assert await open_conditions(shop.db, shop.id, vehicle.id) == {"stopped_reporting": "LOW"}
    (stopped,) = [e for e in await events(shop.db, shop.id, "vehicle.stopped_reporting")]
    assert stopped.payload["vehicle_id"] == vehicle.id
    assert (await vehicle_state(shop.db, shop.id, vehicle.id)).health_score == 95

    await _ingest(shop, [_reading(unique_id, 1)])
    assert await open_conditions(shop.db, shop.id, vehicle.id) == {}
    assert (await vehicle_state(shop.db, shop.id, vehicle.id)).health_score == 100


async def test_a_reading_past_a_service_interval_makes_the_service_due_in_the_same_transaction(factory):
    from ops.vehicles.models import MaintenanceSchedule, VehicleMaintenance

    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)
    async with shop.db.uow(shop.admin.actor) as uow:
        uow.session.add(MaintenanceSchedule(service_type="Oil change", interval_km=15_000))
        await uow.commit()

    await _ingest(shop, [_reading(unique_id, 2, odometer_m=5_000_000)])
    async with shop.db.read(shop.id) as session:
        (row,) = (await session.scalars(select(VehicleMaintenance))).all()
    assert row.vehicle_id == vehicle.id and row.state == "OK" and row.due_km == 15_000

    await _ingest(shop, [_reading(unique_id, 1, odometer_m=15_200_000)])
    async with shop.db.read(shop.id) as session:
        (row,) = (await session.scalars(select(VehicleMaintenance))).all()
    assert row.state in ("DUE", "OVERDUE")
    assert await events(shop.db, shop.id, "maintenance.due_changed")


async def test_events_of_a_fleet_vehicle_reach_its_fleets_board_topic_too(factory):
    """A manager limited to one fleet watches `fleet:<id>`: the vehicle's alerts must be sent there."""
    from ops.vehicles.models import Fleet, Vehicle

    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)
    async with shop.db.uow(shop.admin.actor) as uow:
        fleet = Fleet(name="Vans")
        uow.session.add(fleet)
        await uow.session.flush()
        row = await uow.session.get(Vehicle, vehicle.id)
        assert row is not None
        row.fleet_id = fleet.id
        await uow.commit()

    await _ingest(shop, [_reading(unique_id, 1, engine_temp_c=112.0)])

    for event in await events(shop.db, shop.id, "telemetry.reading_recorded", "telemetry.alert_raised"):
        assert set(event.topics) == {"fleet", f"vehicle:{vehicle.id}", f"fleet:{fleet.id}"}
