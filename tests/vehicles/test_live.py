"""Live: a reading that raises a critical alert reaches the fleet board (woken, toast, header badge)
and the vehicle's page without reload; a normal reading clears it; due maintenance wakes the board;
the sections the messages wake answer with the current state."""

from __future__ import annotations

import re
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


def live_streams(page: str) -> list[str]:
    return re.findall(r'sse-connect="([^"]*)"', page)


async def test_every_page_of_a_manager_holds_one_stream_that_also_brings_the_fleet_alerts(client, factory):
    """Without the alerts a manager on another page would miss an overheating engine; with a second
    stream per page a browser's six HTTP/1.1 connections would be used up by the third tab."""
    shop = await factory.tenant()
    await helpers.sign_in_as(client, shop, "workshop_manager")
    plain_page = await (await client.get("/vehicles")).get_data(as_text=True)
    assert 'hx-get="/fleet/alert-badge"' in plain_page
    assert [url.split("&amp;")[0] for url in live_streams(plain_page)] == ["/live?header=1"]
    board = await (await client.get("/workshop/board")).get_data(as_text=True)
    (stream,) = live_streams(board)
    # The board's one stream: the board, the reader's own notices, and the header (alerts included).
    assert re.match(r"/live\?topic=workshop&amp;topic=user:\d+&amp;header=1", stream)
    fleet_board = await (await client.get("/fleet/board")).get_data(as_text=True)
    (stream,) = live_streams(fleet_board)
    assert stream.startswith("/live?topic=fleet&amp;header=1")


async def test_a_technician_has_no_fleet_alerts(client, factory):
    shop = await factory.tenant()
    await helpers.sign_in_as(client, shop, "technician")
    page = await (await client.get("/vehicles")).get_data(as_text=True)
    assert live_streams(page) == [] and "fleet-alert-badge" not in page
    board = await (await client.get("/workshop/board")).get_data(as_text=True)
    assert len(live_streams(board)) == 1
    assert (await client.get("/fleet/board")).status_code == 403


async def test_beside_another_page_only_a_critical_alert_comes_and_wakes_nothing(live_server):
    """The workshop board's stream carries the header's toast and badge, not the fleet board's work."""
    shop = await TenantFactory(live_server.runtime.db).tenant()
    car = await helpers.vehicle(shop, plate="ZH 912")
    await helpers.device(shop, car.id, "tracker-912")
    manager = await shop.user("workshop_manager", locale="en")
    async with (
        http_sign_in(live_server.url, manager.email) as (client, _token),
        open_sse(client, "workshop", header=True) as page,
        open_sse(client, "fleet") as board,
    ):
        await _report(shop, "tracker-912", battery_v=10.0)
        assert "Battery" in (await board.next()).data
        await page.expect_silence(0.3)
        await _report(shop, "tracker-912", engine_temp_c=120.0)
        message = await page.next()
        assert "toast-critical" in message.data and "Engine overheating" in message.data
        assert 'id="fleet-alert-badge" hx-swap-oob="outerHTML"' in message.data
        assert "fleet-changed" not in message.data and 'id="announcer"' not in message.data


async def test_the_fleet_board_shows_its_own_stream_in_full_even_when_asked_for_the_header(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    car = await helpers.vehicle(shop)
    await helpers.device(shop, car.id, "tracker-913")
    manager = await shop.user("workshop_manager", locale="en")
    async with (
        http_sign_in(live_server.url, manager.email) as (client, _token),
        open_sse(client, "fleet", header=True) as board,
    ):
        await _report(shop, "tracker-913", battery_v=10.0)
        assert "fleet-changed" in (await board.next()).data


async def test_a_manager_limited_to_a_fleet_gets_no_header_alert_of_another_fleet(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    north, south = await helpers.fleet(shop, "North"), await helpers.fleet(shop, "South")
    theirs = await helpers.vehicle(shop, fleet_id=south.id)
    await helpers.device(shop, theirs.id, "tracker-south")
    manager = await shop.user("workshop_manager", locale="en")
    await helpers.limit(shop, manager.actor.user_id, north.id)
    async with (
        http_sign_in(live_server.url, manager.email) as (client, _token),
        open_sse(client, "workshop", header=True) as page,
    ):
        await _report(shop, "tracker-south", engine_temp_c=120.0)
        await page.expect_silence(0.5)


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
