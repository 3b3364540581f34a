"""Live: a reading that raises a critical alert reaches the fleet board (woken, toast, header badge)
and the vehicle's page without reload; a normal reading clears it; due maintenance wakes the board;
the sections the messages wake answer with the current state."""

from __future__ import annotations

from datetime import date

from integrations.telematics.readings import DeviceReading
from ops.db import utcnow
from ops.vehicles.maintenance.service import ScheduleData, create_schedule
from ops.vehicles.telemetry.service import ingest_readings, mark_stopped_reporting, telemetry_actor
from tests.factories import TenantFactory, TenantHandle
from tests.vehicles import helpers
from tests.web import http_sign_in, open_sse


async def _report(shop: TenantHandle, device_id: str, **values: float) -> None:
    async with shop.db.uow(telemetry_actor(shop.id, "TRACCAR")) as uow:
        await ingest_readings(
            uow, [DeviceReading(recorded_at=utcnow(), device_id=device_id, **values)], source="TRACCAR"
        )


async def test_a_critical_alert_reaches_the_board_and_the_vehicle_page_and_clears_itself(live_server):
    """A manager with the board on the wall screen must see an overheating engine at once."""
    shop = await TenantFactory(live_server.runtime.db).tenant()
    car = await helpers.vehicle(shop, plate="ZH 911")
    await helpers.device(shop, car.id, "tracker-911")
    manager = await shop.user("workshop_manager", locale="en")
    async with (
        http_sign_in(live_server.url, manager.email) as (client, _token),
        open_sse(client, "fleet") as board,
        open_sse(client, f"vehicle:{car.id}") as page,
    ):
        await _report(shop, "tracker-911", engine_temp_c=120.0)
        raised = await board.next()
        assert 'class="fleet-changed"' in raised.data
        assert 'hx-swap-oob="beforeend:#toasts"' in raised.data and "toast-critical" in raised.data
        assert "Critical alert on" in raised.data and "Engine overheating" in raised.data
        assert 'id="fleet-alert-badge" hx-swap-oob="outerHTML"' in raised.data
        woken = await page.next()
        assert 'class="fleet-changed"' in woken.data and "toast" not in woken.data

        badge = await client.get("/fleet/alert-badge", headers={"HX-Request": "true"})
        assert "1 critical alert" in badge.text
        section = await client.get("/fleet/board", headers={"HX-Request": "true"})
        assert section.text.lstrip().startswith('<div id="fleet-board"') and "ZH 911" in section.text
        vehicle_live = await client.get(
            f"/vehicles/{car.id}", headers={"HX-Request": "true", "HX-Target": "vehicle-live"}
        )
        assert 'id="vehicle-live"' in vehicle_live.text and "Engine overheating" in vehicle_live.text
        assert 'title="Health score">60</span>' in vehicle_live.text  # 100 - 40 for the critical alert

        # Back to normal: the alert closes, the board and badge update, no new toast.
        messages = []
        await _report(shop, "tracker-911", engine_temp_c=90.0)
        while True:
            message = await board.next()
            messages.append(message.data)
            if "fleet-changed" in message.data:
                break
        assert any("Alert cleared on" in data for data in messages) and not any(
            "toast-critical" in data for data in messages
        )
        badge = await client.get("/fleet/alert-badge", headers={"HX-Request": "true"})
        assert "critical alert" not in badge.text and 'id="fleet-alert-badge"' in badge.text


async def test_a_reading_from_a_silent_vehicle_takes_it_off_the_stopped_list_at_once(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    car = await helpers.vehicle(shop)
    await helpers.device(shop, car.id, "quiet-1")
    manager = await shop.user("workshop_manager", locale="en")
    async with http_sign_in(live_server.url, manager.email) as (client, _token):
        board = await client.get("/fleet/board")
        assert f'id="silent-vehicle-{car.id}"' in board.text
        await mark_stopped_reporting(shop.db, utcnow())
        async with open_sse(client, "fleet") as stream:
            await _report(shop, "quiet-1", battery_v=12.7)
            message = await stream.next()
            while "Alert cleared on" not in message.data:
                message = await stream.next()
            assert "Stopped reporting" in message.data and "fleet-changed" in message.data
        board = await client.get("/fleet/board")
        assert f'id="silent-vehicle-{car.id}"' not in board.text


async def test_due_maintenance_wakes_the_board(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    await helpers.vehicle(shop, odometer_km=20_000, plate="GR 1")
    manager = await shop.user("workshop_manager", locale="en")
    async with (
        http_sign_in(live_server.url, manager.email) as (client, _token),
        open_sse(client, "fleet") as stream,
    ):
        async with shop.db.uow(shop.admin.actor) as uow:
            await create_schedule(uow, ScheduleData("Oil change", "", "", 15_000, 12, None), date.today())
        message = await stream.next()
        while "is overdue" not in message.data:
            message = await stream.next()
        assert "Oil change is overdue on a vehicle." in message.data and "fleet-changed" in message.data
        board = await client.get("/fleet/board")
        assert "GR 1" in board.text and "Oil change" in board.text


async def test_every_manager_page_carries_the_alert_watch_but_the_board_brings_its_own(client, factory):
    """Without the header subscription a manager on another page would miss the critical alert."""
    shop = await factory.tenant()
    await helpers.sign_in_as(client, shop, "workshop_manager")
    other_page = await (await client.get("/vehicles")).get_data(as_text=True)
    assert 'hx-get="/fleet/alert-watch"' in other_page and 'hx-get="/fleet/alert-badge"' in other_page
    board = await (await client.get("/fleet/board")).get_data(as_text=True)
    assert 'hx-get="/fleet/alert-watch"' not in board
    watch = await (await client.get("/fleet/alert-watch", headers={"HX-Request": "true"})).get_data(
        as_text=True
    )
    assert 'sse-connect="/live?topic=fleet&amp;' in watch


async def test_a_technician_has_no_fleet_alerts(client, factory):
    shop = await factory.tenant()
    await helpers.sign_in_as(client, shop, "technician")
    page = await (await client.get("/vehicles")).get_data(as_text=True)
    assert "alert-watch" not in page
    assert (await client.get("/fleet/board")).status_code == 403


async def test_another_dealerships_alert_stays_off_the_board(live_server):
    """A board watcher's stream stays quiet for events of other dealerships."""
    db = live_server.runtime.db
    shop = await TenantFactory(db).tenant()
    other = await TenantFactory(db).tenant()
    theirs = await helpers.vehicle(other)
    await helpers.device(other, theirs.id, "other-1")
    manager = await shop.user("workshop_manager", locale="en")
    async with (
        http_sign_in(live_server.url, manager.email) as (client, _token),
        open_sse(client, "fleet") as stream,
    ):
        await _report(other, "other-1", engine_temp_c=130.0)
        await stream.expect_silence(0.6)
