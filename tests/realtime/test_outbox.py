"""The outbox relay: a change whose process died between commit and publish still reaches every board,
once, and many relays at the same time never publish an event twice."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from ops.db import Database
from ops.events import Event
from realtime.log import create_live_log
from realtime.outbox import OutboxPublisher
from tests.conftest import make_settings
from tests.factories import TenantFactory, TenantHandle
from tests.realtime.clients import move_card, running_server
from tests.web import http_sign_in, open_sse


async def moved_events(db: Database, shop: TenantHandle) -> list[Event]:
    async with db.read(shop.id) as session:
        return list(
            (
                await session.scalars(
                    select(Event).where(Event.type == "work_order.moved").order_by(Event.id)
                )
            ).all()
        )


async def test_a_move_lost_between_commit_and_publish_reaches_the_board_once_through_the_relay(live_server):
    runtime = live_server.runtime
    shop = await TenantFactory(runtime.db).tenant()
    tech = await shop.user("technician")
    work_order = await shop.work_order()
    await runtime.publisher.flush()
    runtime.publisher.drop_after_commit = True
    async with (
        http_sign_in(live_server.url, tech.email) as (client, _token),
        open_sse(client, "workshop") as stream,
    ):
        await asyncio.sleep(0.05)
        await move_card(runtime.db, shop, work_order.id, "SCHEDULED")

        [event] = await moved_events(runtime.db, shop)
        assert event.published_at is None
        await stream.expect_silence(0.5)

        assert await runtime.publisher.relay_once(grace_seconds=0) >= 1
        message = await stream.next(wait=10)
        assert message.event == "update"
        assert f'id="wo-{work_order.id}"' in message.data
        assert 'hx-swap-oob="afterbegin:#cards-SCHEDULED"' in message.data
        await stream.expect_silence(0.5)
    [event] = await moved_events(runtime.db, shop)
    assert event.published_at is not None


async def test_the_embedded_worker_relays_a_lost_move_by_itself_once(backend, tmp_path):
    settings = make_settings(backend, tmp_path, embedded_worker=True, relay_interval_seconds=0.2)
    async with running_server(settings) as server:
        runtime = server.runtime
        shop = await TenantFactory(runtime.db).tenant()
        tech = await shop.user("technician")
        work_order = await shop.work_order()
        async with (
            http_sign_in(server.url, tech.email) as (client, _token),
            open_sse(client, "workshop") as stream,
        ):
            await asyncio.sleep(0.05)
            runtime.publisher.drop_after_commit = True
            await move_card(runtime.db, shop, work_order.id, "SCHEDULED")

            message = await stream.next(wait=10)
            assert message.event == "update"
            assert 'hx-swap-oob="afterbegin:#cards-SCHEDULED"' in message.data
            # Several relay passes go by; none sends the move again.
            await stream.expect_silence(1.0)
        [event] = await moved_events(runtime.db, shop)
        assert event.published_at is not None


async def test_two_relays_at_once_publish_each_lost_event_exactly_once(backend, runtime, factory):
    shop = await factory.tenant()
    work_order = await shop.work_order()
    await runtime.publisher.flush()
    runtime.publisher.drop_after_commit = True
    for status in ["SCHEDULED", "NEW"] * 15:
        await move_card(runtime.db, shop, work_order.id, status)
    lost = [event.id for event in await moved_events(runtime.db, shop)]
    assert len(lost) == 30
    epoch, start = await runtime.live_log.current_epoch(), await runtime.live_log.head()

    # Two worker processes: their own database pools and live-log connections.
    relays = []
    for _ in range(2):
        db = Database(backend.database_url)
        live_log = (
            runtime.live_log
            if backend.redis_url is None
            else create_live_log(backend.redis_url, backend.redis_prefix, 10_000)
        )
        relays.append((db, live_log, OutboxPublisher(db, live_log)))

    async def drain(publisher: OutboxPublisher) -> int:
        total = 0
        while count := await publisher.relay_once(grace_seconds=0, batch=4):
            total += count
        return total

    try:
        counts = await asyncio.gather(*(drain(publisher) for _db, _log, publisher in relays))
    finally:
        for db, live_log, _publisher in relays:
            await db.dispose()
            if live_log is not runtime.live_log:
                await live_log.close()

    assert sum(counts) >= len(lost)
    entries = await runtime.live_log.read_range(epoch, start, limit=10_000)
    assert entries is not None
    published = [
        json.loads(entry.data)["event_id"]
        for entry in entries
        if entry.data.startswith('{"event_id"') and json.loads(entry.data)["tenant_id"] == shop.id
    ]
    assert sorted(published) == lost, "an event was published twice or not at all"
    assert all(event.published_at is not None for event in await moved_events(runtime.db, shop))


async def test_an_event_the_log_delivers_twice_reaches_the_board_once(live_server):
    runtime = live_server.runtime
    shop = await TenantFactory(runtime.db).tenant()
    tech = await shop.user("technician")
    work_order = await shop.work_order()
    async with (
        http_sign_in(live_server.url, tech.email) as (client, _token),
        open_sse(client, "workshop") as stream,
    ):
        await asyncio.sleep(0.05)
        await move_card(runtime.db, shop, work_order.id, "SCHEDULED")
        assert (await stream.next()).event == "update"

        # A relay re-publishes the move because the bookkeeping that it was sent got lost.
        [event] = await moved_events(runtime.db, shop)
        await runtime.live_log.append([event.to_record().to_json()])
        await stream.expect_silence(0.5)

        await move_card(runtime.db, shop, work_order.id, "NEW")
        message = await stream.next()
    assert 'hx-swap-oob="afterbegin:#cards-NEW"' in message.data
