"""The live endpoint: a move reaches every watcher; a reconnecting browser gets exactly what it missed."""

from __future__ import annotations

import asyncio

from ops.workshop.service import move_work_order
from tests.web import http_sign_in, open_sse


async def _move(server, shop, work_order_id, status):  # type: ignore[no-untyped-def]
    async with server.runtime.db.uow(shop.admin.actor) as uow:
        return await move_work_order(
            uow, work_order_id, status, (await _current_version(server, shop, work_order_id))
        )


async def _current_version(server, shop, work_order_id):  # type: ignore[no-untyped-def]
    from ops.workshop import queries

    async with server.runtime.db.read(shop.id) as session:
        return (await queries.card(session, work_order_id)).version


async def test_a_move_reaches_a_board_watcher_with_both_counts(live_server):
    from tests.factories import TenantFactory

    shop = await TenantFactory(live_server.runtime.db).tenant()
    tech = await shop.user("technician")
    work_order = await shop.work_order()
    async with (
        http_sign_in(live_server.url, tech.email) as (client, _token),
        open_sse(client, "workshop") as stream,
    ):
        await asyncio.sleep(0.05)
        await _move(live_server, shop, work_order.id, "SCHEDULED")
        message = await stream.next()
    assert message.event == "update"
    assert message.id and ":" in message.id
    assert f'<div id="wo-{work_order.id}" hx-swap-oob="delete">' in message.data
    assert 'hx-swap-oob="afterbegin:#cards-SCHEDULED"' in message.data
    assert '<span class="count" id="count-NEW" hx-swap-oob="true">0</span>' in message.data
    assert '<span class="count" id="count-SCHEDULED" hx-swap-oob="true">1</span>' in message.data


async def test_a_reconnecting_client_gets_exactly_the_20_missed_events_in_order(live_server):
    from tests.factories import TenantFactory

    shop = await TenantFactory(live_server.runtime.db).tenant()
    tech = await shop.user("technician")
    orders = [await shop.work_order() for _ in range(10)]
    async with http_sign_in(live_server.url, tech.email) as (client, _token):
        async with open_sse(client, "workshop") as stream:
            await asyncio.sleep(0.05)
            await _move(live_server, shop, orders[0].id, "SCHEDULED")
            last_seen = (await stream.next()).id
        # The lid is closed: 20 moves happen.
        expected = []
        for order in orders:
            for status in (
                ("SCHEDULED", "CHECKED_IN") if order is not orders[0] else ("CHECKED_IN", "IN_PROGRESS")
            ):
                await _move(live_server, shop, order.id, status)
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
    from tests.factories import TenantFactory

    shop = await TenantFactory(live_server.runtime.db).tenant()
    tech = await shop.user("technician")
    async with (
        http_sign_in(live_server.url, tech.email) as (client, _token),
        open_sse(client, "workshop", last_event_id="an-old-epoch:1-0") as stream,
    ):
        message = await stream.next()
    assert message.event == "reset"
    assert message.id is not None and message.id.startswith(live_server.runtime.hub.epoch or "?")
