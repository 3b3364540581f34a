"""Presence over `/ws`: the "2 watching" line on the job board, across tabs, people and web processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from realtime.log import RedisLiveLog
from realtime.presence import Presence, RedisPresence, Watcher
from tests.conftest import REDIS_BACKENDS
from tests.factories import TenantFactory, TenantHandle, UserHandle
from tests.realtime.clients import (
    WebSocketClient,
    WebSocketRejected,
    cookie_header,
    running_server,
)
from tests.web import http_sign_in


@asynccontextmanager
async def watching(base_url: str, user: UserHandle, *topics: str) -> AsyncIterator[WebSocketClient]:
    """A signed-in page's presence connection, subscribed to `topics`."""
    async with http_sign_in(base_url, user.email) as (client, _token):
        ws = await WebSocketClient.connect(base_url, cookie_header(client))
        try:
            for topic in topics:
                await ws.send({"type": "subscribe", "topic": topic})
            yield ws
        finally:
            await ws.close()


def presence(count: int) -> Any:
    return lambda message: message.get("type") == "presence" and message.get("count") == count


async def two_people(shop: TenantHandle) -> tuple[UserHandle, UserHandle]:
    return await shop.user("technician", name="Tina Technician"), await shop.user(
        "service_advisor", name="Sam Advisor"
    )


async def test_two_people_on_the_board_each_see_two_watching_with_both_names(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    tina, sam = await two_people(shop)
    async with watching(live_server.url, tina, "workshop") as first:
        alone = await first.receive_until(presence(1))
        assert alone["names"] == ["Tina Technician"]
        async with watching(live_server.url, sam, "workshop") as second:
            for ws in (first, second):
                message = await ws.receive_until(presence(2))
                assert message["topic"] == "workshop"
                assert message["names"] == ["Sam Advisor", "Tina Technician"]


async def test_when_someone_closes_the_board_the_others_see_the_count_drop(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    tina, sam = await two_people(shop)
    async with watching(live_server.url, tina, "workshop") as first:
        async with watching(live_server.url, sam, "workshop"):
            await first.receive_until(presence(2))
        message = await first.receive_until(presence(1))
    assert message["names"] == ["Tina Technician"]


async def test_unsubscribing_drops_the_count_for_the_others(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    tina, sam = await two_people(shop)
    async with (
        watching(live_server.url, tina, "workshop") as first,
        watching(live_server.url, sam, "workshop") as second,
    ):
        await first.receive_until(presence(2))
        await second.send({"type": "unsubscribe", "topic": "workshop"})
        assert (await first.receive_until(presence(1)))["names"] == ["Tina Technician"]


async def test_one_person_with_two_tabs_counts_once(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    tina, sam = await two_people(shop)
    async with (
        watching(live_server.url, tina, "workshop"),
        watching(live_server.url, tina, "workshop"),
        watching(live_server.url, sam, "workshop") as last,
    ):
        message = await last.receive_until(presence(2))
    assert message["names"] == ["Sam Advisor", "Tina Technician"]


async def test_another_tenants_board_is_counted_apart(live_server):
    factory = TenantFactory(live_server.runtime.db)
    tina = await (await factory.tenant()).user("technician", name="Tina Technician")
    other = await (await factory.tenant()).user("technician", name="Olga Other")
    async with watching(live_server.url, tina, "workshop") as first:
        await first.receive_until(presence(1))
        async with watching(live_server.url, other, "workshop") as second:
            assert (await second.receive_until(presence(1)))["names"] == ["Olga Other"]
            await first.send({"type": "ping"})
            assert (await first.receive()) == {"type": "pong"}


async def test_subscribing_to_a_topic_the_user_may_not_watch_answers_an_error(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    tina = await shop.user("technician")
    async with watching(live_server.url, tina) as ws:
        for topic in ("nonsense", "wo:1", "workshop:extra"):
            await ws.send({"type": "subscribe", "topic": topic})
            assert await ws.receive() == {"type": "error", "topic": topic, "message": "not found"}
        await ws.send({"type": "ping"})
        assert await ws.receive() == {"type": "pong"}


async def test_a_page_on_another_site_cannot_use_the_signed_in_cookie_for_presence(live_server):
    """Cross-site WebSocket hijacking: another site's page must not watch the board as our user."""
    shop = await TenantFactory(live_server.runtime.db).tenant()
    tina = await shop.user("technician", name="Tina Technician")
    async with http_sign_in(live_server.url, tina.email) as (client, _token):
        with pytest.raises(WebSocketRejected) as refused:
            await WebSocketClient.connect(
                live_server.url, cookie_header(client), origin="https://evil.example"
            )
        ours = await WebSocketClient.connect(live_server.url, cookie_header(client), origin=live_server.url)
        try:
            await ours.send({"type": "subscribe", "topic": "workshop"})
            assert (await ours.receive_until(presence(1)))["names"] == ["Tina Technician"]
        finally:
            await ours.close()
    assert refused.value.status_code == 403


async def test_a_presence_connection_without_a_session_is_refused(live_server):
    with pytest.raises(WebSocketRejected) as refused:
        await WebSocketClient.connect(live_server.url)
    assert refused.value.status_code == 403


@pytest.mark.parametrize("backend", REDIS_BACKENDS, indirect=True)
async def test_two_web_processes_share_who_is_watching(backend, settings, live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    tina, sam = await two_people(shop)
    async with (
        running_server(settings) as other_process,
        watching(live_server.url, tina, "workshop") as first,
        watching(other_process.url, sam, "workshop") as second,
    ):
        for ws in (first, second):
            message = await ws.receive_until(presence(2))
            assert message["names"] == ["Sam Advisor", "Tina Technician"]
        await second.close()
        assert (await first.receive_until(presence(1)))["names"] == ["Tina Technician"]


@pytest.mark.parametrize("backend", REDIS_BACKENDS, indirect=True)
async def test_someone_whose_web_process_died_stops_counting_at_the_next_ping(backend, live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    tina = await shop.user("technician", name="Tina Technician")
    # Another web process with a watcher on this board; it is killed and never says goodbye.
    other_log = RedisLiveLog(backend.redis_url, backend.redis_prefix)
    other_process = Presence(RedisPresence(backend.redis_url, backend.redis_prefix, ttl=1.5), other_log)
    try:
        async with watching(live_server.url, tina, "workshop") as ws:
            await ws.receive_until(presence(1))
            ghost = Watcher("connection-of-a-dead-process", 10**9, "Gabi Gone")
            await other_process.join(shop.id, "workshop", ghost, asyncio.Queue())
            assert (await ws.receive_until(presence(2)))["names"] == ["Gabi Gone", "Tina Technician"]
            # The living keep pinging; the dead process's entry is not refreshed and expires.
            await ws.send({"type": "ping"})
            await ws.receive_until(lambda message: message["type"] == "pong")

            await asyncio.sleep(2.0)
            await ws.send({"type": "ping"})
            assert (await ws.receive_until(presence(1)))["names"] == ["Tina Technician"]
    finally:
        await other_process.store.close()
        await other_log.close()
