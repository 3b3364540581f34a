"""The live endpoint: a move reaches every watcher, a reconnecting browser gets exactly what it missed or a
reset, idle connections are kept alive, and a tab that stops reading is dropped without slowing the others."""

from __future__ import annotations

import asyncio

import pytest

from realtime.log import RedisLiveLog
from tests.conftest import REDIS_BACKENDS, make_settings
from tests.factories import TenantFactory
from tests.realtime.clients import StalledSseClient, cookie_header, move_card, running_server, wait_until
from tests.web import SseMessage, SseStream, http_sign_in, open_sse, sign_in
from tests.workshop.order_helpers import give_bay


async def test_a_move_reaches_a_board_watcher_with_both_counts(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    tech = await shop.user("technician")
    work_order = await shop.work_order()
    async with (
        http_sign_in(live_server.url, tech.email) as (client, _token),
        open_sse(client, "workshop") as stream,
    ):
        await asyncio.sleep(0.05)
        await move_card(live_server.runtime.db, shop, work_order.id, "SCHEDULED")
        message = await stream.next()
    assert message.event == "update"
    assert message.id and ":" in message.id
    assert f'<div id="wo-{work_order.id}" hx-swap-oob="delete">' in message.data
    assert 'hx-swap-oob="afterbegin:#cards-SCHEDULED"' in message.data
    assert '<span class="count" id="count-NEW" hx-swap-oob="true">0</span>' in message.data
    assert '<span class="count" id="count-SCHEDULED" hx-swap-oob="true">1</span>' in message.data


async def test_a_reconnecting_client_gets_exactly_the_20_missed_events_in_order(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    tech = await shop.user("technician")
    orders = [await shop.work_order() for _ in range(10)]
    # The first goes into work, on a bay.
    orders[0] = await give_bay(shop, orders[0])
    async with http_sign_in(live_server.url, tech.email) as (client, _token):
        async with open_sse(client, "workshop") as stream:
            await asyncio.sleep(0.05)
            await move_card(live_server.runtime.db, shop, orders[0].id, "SCHEDULED")
            last_seen = (await stream.next()).id
        # The lid is closed: 20 moves happen.
        expected = []
        for order in orders:
            for status in (
                ("SCHEDULED", "CHECKED_IN") if order is not orders[0] else ("CHECKED_IN", "IN_PROGRESS")
            ):
                await move_card(live_server.runtime.db, shop, order.id, status)
                expected.append((order.id, status))
        async with open_sse(client, "workshop", last_event_id=last_seen) as stream:
            received = [await stream.next() for _ in range(20)]
            await stream.expect_silence(0.3)
    ids = [m.id for m in received]
    assert len(set(ids)) == 20
    assert ids == sorted(ids, key=lambda i: tuple(int(p) for p in i.rpartition(":")[2].split("-")))
    assert [m.event for m in received] == ["update"] * 20
    for message, (order_id, _status) in zip(received, expected, strict=True):
        assert f'id="wo-{order_id}"' in message.data


async def test_a_client_whose_gap_the_log_cannot_serve_is_told_to_reset(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    tech = await shop.user("technician")
    async with (
        http_sign_in(live_server.url, tech.email) as (client, _token),
        open_sse(client, "workshop", last_event_id="an-old-epoch:1-0") as stream,
    ):
        message = await stream.next()
    assert message.event == "reset"
    assert message.id is not None and message.id.startswith(live_server.runtime.hub.epoch or "?")


async def test_the_live_stream_refuses_a_visitor_who_is_not_signed_in(client):
    response = await client.get("/live?topic=workshop")
    assert response.status_code == 401
    assert (await response.get_json())["code"] == "unauthorized"


async def test_a_topic_that_does_not_exist_answers_404(client, factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    await sign_in(client, tech.email)
    for query in ("topic=nonsense", "topic=wo:1", "topic=workshop:extra", "topic=workshop&topic=nonsense"):
        response = await client.get(f"/live?{query}")
        assert response.status_code == 404, query


async def test_an_idle_board_receives_heartbeats_so_proxies_keep_it_open(backend, tmp_path):
    async with running_server(make_settings(backend, tmp_path, sse_heartbeat_seconds=0.2)) as server:
        shop = await TenantFactory(server.runtime.db).tenant()
        tech = await shop.user("technician")
        async with (
            http_sign_in(server.url, tech.email) as (client, _token),
            client.stream("GET", "/live", params={"topic": "workshop"}, timeout=None) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()

            async def heartbeats(count: int) -> None:
                seen = 0
                async for line in lines:
                    seen += line == ": heartbeat"
                    if seen == count:
                        return

            await asyncio.wait_for(heartbeats(3), 10)


async def test_a_tab_that_stops_reading_is_reset_and_dropped_without_holding_up_the_others(backend, tmp_path):
    settings = make_settings(backend, tmp_path, sse_client_queue_bytes=8192)
    async with running_server(settings, send_buffer_bytes=4096) as server:
        hub = server.runtime.hub
        shop = await TenantFactory(server.runtime.db).tenant()
        tech = await shop.user("technician")
        work_order = await shop.work_order()
        moves = ["SCHEDULED", "NEW"] * 40
        async with http_sign_in(server.url, tech.email) as (client, _token):
            stalled = await StalledSseClient.open(server.url, cookie_header(client), ["workshop"])
            try:
                async with open_sse(client, "workshop") as stream:
                    await wait_until(lambda: len(hub.clients) == 2)
                    reading = asyncio.create_task(read_messages(stream, len(moves)))
                    for status in moves:
                        await move_card(server.runtime.db, shop, work_order.id, status)
                    received = await asyncio.wait_for(reading, 30)
                    assert [m.event for m in received] == ["update"] * len(moves)
                    assert len({m.id for m in received}) == len(moves)
                    # Dropped while still stalled: the hub holds no more updates for it.
                    await wait_until(lambda: len(hub.clients) == 1)

                    status, messages, ended = await stalled.read_all()
                    assert status == 200
                    assert ended, "the stalled tab was not disconnected"
                    assert messages[-1].event == "reset"
                    assert len([m for m in messages if m.event == "update"]) < len(moves)
                    await wait_until(lambda: len(hub.clients) == 1)

                    await move_card(server.runtime.db, shop, work_order.id, "SCHEDULED")
                    assert (await stream.next(wait=10)).event == "update"
            finally:
                await stalled.close()


async def read_messages(stream: SseStream, count: int) -> list[SseMessage]:
    return [await stream.next(wait=30) for _ in range(count)]


async def test_a_closed_tab_leaves_the_hub(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    tech = await shop.user("technician")
    hub = live_server.runtime.hub
    async with http_sign_in(live_server.url, tech.email) as (client, _token):
        async with open_sse(client, "workshop"):
            await wait_until(lambda: len(hub.clients) == 1)
        await wait_until(lambda: not hub.clients)
    assert not any(f"t{shop.id}:workshop" in topic for topic in hub.watchers)


@pytest.mark.parametrize("backend", REDIS_BACKENDS, indirect=True)
async def test_after_redis_loses_its_data_a_watcher_is_reset_and_keeps_receiving_moves(backend, live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    tech = await shop.user("technician")
    work_order = await shop.work_order()
    live_log = live_server.runtime.live_log
    assert isinstance(live_log, RedisLiveLog)
    async with (
        http_sign_in(live_server.url, tech.email) as (client, _token),
        open_sse(client, "workshop") as stream,
    ):
        await asyncio.sleep(0.05)
        await move_card(live_server.runtime.db, shop, work_order.id, "SCHEDULED")
        before = await stream.next()
        old_epoch = before.id.rpartition(":")[0] if before.id else ""

        await live_log._client.delete(live_log.stream_key, live_log.epoch_key)
        await move_card(live_server.runtime.db, shop, work_order.id, "NEW")

        message = await stream.next(wait=10)
        while message.event != "reset":
            message = await stream.next(wait=10)
        await move_card(live_server.runtime.db, shop, work_order.id, "SCHEDULED")
        after = await stream.next(wait=10)
        while 'hx-swap-oob="afterbegin:#cards-SCHEDULED"' not in after.data:
            after = await stream.next(wait=10)
    assert after.event == "update"
    assert after.id is not None and not after.id.startswith(f"{old_epoch}:")
    assert after.id.startswith(f"{await live_log.current_epoch()}:")
