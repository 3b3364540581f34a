"""Read models the vehicle page and fleet board use: daily trends, average daily distance (for the
maintenance prediction) and vehicles that stopped reporting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from integrations.telematics.readings import DeviceReading
from ops.vehicles.telemetry import queries
from ops.vehicles.telemetry.service import ingest_readings, telemetry_actor
from tests.vehicles.telemetry.helpers import ago, tracked_vehicle


async def _ingest(shop, readings):  # type: ignore[no-untyped-def]
    async with shop.db.uow(telemetry_actor(shop.id, "Test")) as uow:
        return await ingest_readings(uow, readings, source="PARTNER")


async def test_daily_trends_average_each_day_in_sql(factory):
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)
    # Noon of a day that has passed it, whatever the hour: today's noon would be a reading from the
    # future (refused) when the suite runs in the morning.
    now = (ago(0) - timedelta(hours=13)).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = now - timedelta(days=1)
    readings = [
        DeviceReading(
            recorded_at=yesterday,
            device_id=unique_id,
            fuel_l_per_100km=6.0,
            engine_load=0.2,
            battery_v=13.0,
            tyre_fl_kpa=220,
            tyre_fr_kpa=230,
            tyre_rl_kpa=240,
            tyre_rr_kpa=250,
        ),
        DeviceReading(
            recorded_at=yesterday + timedelta(hours=1),
            device_id=unique_id,
            fuel_l_per_100km=8.0,
            engine_load=0.4,
            battery_v=14.0,
            tyre_fl_kpa=230,
        ),
        DeviceReading(recorded_at=now - timedelta(minutes=1), device_id=unique_id, battery_v=12.5),
        DeviceReading(recorded_at=now - timedelta(days=40), device_id=unique_id, battery_v=11.0),
    ]
    await _ingest(shop, readings)

    async with shop.db.read(shop.id) as session:
        trends = await queries.daily_trends(session, vehicle.id, 30, now=now)

    assert [t.day for t in trends] == [yesterday.date(), now.date()]
    first, second = trends
    assert first.fuel_l_per_100km_avg == pytest.approx(7.0)
    assert first.engine_load_avg == pytest.approx(0.3)
    assert first.battery_v_avg == pytest.approx(13.5)
    # Front left averaged 225 that day; the others 230, 240, 250.
    assert first.tyre_kpa_avg == pytest.approx((225 + 230 + 240 + 250) / 4)
    assert second.fuel_l_per_100km_avg is None and second.tyre_kpa_avg is None
    assert second.battery_v_avg == pytest.approx(12.5)


async def test_daily_distance_comes_from_the_odometer_over_the_window(factory):
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)
    now = ago(0)
    async with shop.db.read(shop.id) as session:
        assert await queries.daily_distance_km(session, vehicle.id, now=now) is None
    await _ingest(
        shop,
        [
            DeviceReading(recorded_at=now - timedelta(days=10), device_id=unique_id, odometer_m=10_000_000),
            DeviceReading(recorded_at=now - timedelta(days=5), device_id=unique_id),
            DeviceReading(recorded_at=now - timedelta(days=40), device_id=unique_id, odometer_m=1_000_000),
            DeviceReading(recorded_at=now, device_id=unique_id, odometer_m=10_500_000),
        ],
    )
    async with shop.db.read(shop.id) as session:
        # 500 km in the 10 days between the window's first and last odometer readings.
        assert await queries.daily_distance_km(session, vehicle.id, now=now) == pytest.approx(50.0)
        # Fewer than two odometer readings in the window: no average to predict from.
        assert await queries.daily_distance_km(session, vehicle.id, days=3, now=now) is None


async def test_an_odometer_that_went_back_gives_no_daily_distance(factory):
    """A swapped device starting from a lower count would otherwise predict a negative distance."""
    shop = await factory.tenant()
    vehicle, unique_id, _t = await tracked_vehicle(shop)
    now = ago(0)
    await _ingest(
        shop,
        [
            DeviceReading(recorded_at=now - timedelta(days=6), device_id=unique_id, odometer_m=80_000_000),
            DeviceReading(recorded_at=now - timedelta(days=3), device_id=unique_id, odometer_m=80_300_000),
            DeviceReading(recorded_at=now, device_id=unique_id, odometer_m=1_000),
        ],
    )
    async with shop.db.read(shop.id) as session:
        assert await queries.daily_distance_km(session, vehicle.id, now=now) is None
        # A shorter window that still spans the swap: none either.
        assert await queries.daily_distance_km(session, vehicle.id, days=4, now=now) is None
        # Before the swap the window's two ends give 300 km in 3 days.
        assert await queries.daily_distance_km(
            session, vehicle.id, days=7, now=now - timedelta(hours=1)
        ) == pytest.approx(100.0)


async def test_stopped_reporting_lists_silent_tracked_vehicles_only(factory):
    shop = await factory.tenant()
    silent, silent_id, _t = await tracked_vehicle(shop)
    talking, talking_id, _t = await tracked_vehicle(shop)
    await shop.vehicle()  # no device: never "stopped"
    new, _new_id, _t = await tracked_vehicle(shop)  # registered just now, never reported yet
    await _ingest(shop, [DeviceReading(recorded_at=ago(60 * 30), device_id=silent_id)])
    await _ingest(shop, [DeviceReading(recorded_at=ago(5), device_id=talking_id)])

    async with shop.db.read(shop.id) as session:
        rows = await queries.stopped_reporting(session, ago(0))
        later = await queries.stopped_reporting(session, ago(0) + timedelta(days=2))

    assert [row.vehicle_id for row in rows] == [silent.id]
    assert {row.vehicle_id for row in later} == {silent.id, talking.id, new.id}
