"""The job board in several browsers at once: what one person does, everyone watching sees without
reloading; who else is watching; and a browser that was away catches up instead of showing old news."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from playwright.async_api import Route, expect

from realtime.log import split_client_id
from tests.browser.pages import board_in_database, eventually_equal, resume_id_of

pytestmark = pytest.mark.browser


async def test_a_move_in_one_browser_shows_in_the_other_without_reload_and_is_announced(open_page, shop):
    advisor = await shop.user("service_advisor", locale="en", name="Jonas Meier")
    manager = await shop.user("workshop_manager", locale="en")
    work_order = await shop.work_order()
    mover, watcher = await open_page(), await open_page()
    await mover.sign_in(advisor.email)
    await watcher.sign_in(manager.email)
    await mover.wait_until_live()
    await watcher.wait_until_live()
    await expect(watcher.card_in("NEW", work_order.id)).to_be_visible()
    await watcher.page.evaluate("window.sameDocument = true")

    await mover.move_with_menu(work_order.id, "SCHEDULED")

    await expect(watcher.card_in("SCHEDULED", work_order.id)).to_be_visible()
    await expect(watcher.card(work_order.id)).to_have_count(1)
    await expect(watcher.card(work_order.id)).to_have_class(re.compile(r"\barrived\b"))  # it glows
    await expect(watcher.count("NEW")).to_have_text("0")
    await expect(watcher.count("SCHEDULED")).to_have_text("1")
    await expect(watcher.announcer).to_have_text(f"{work_order.code} moved to Scheduled by Jonas Meier.")
    assert await watcher.page.evaluate("window.sameDocument === true"), "the watcher's page reloaded"
    # The card that arrived live can be moved on from the watcher's page with its new version.
    await watcher.move_with_menu(work_order.id, "CHECKED_IN")
    await expect(mover.card_in("CHECKED_IN", work_order.id)).to_be_visible()


async def test_the_board_says_how_many_people_are_watching_it(open_page, shop):
    advisor = await shop.user("service_advisor", locale="en")
    manager = await shop.user("workshop_manager", locale="en")
    first = await open_page()
    await first.sign_in(advisor.email)
    await expect(first.presence).to_have_text("only you are watching")

    second = await open_page()
    await second.sign_in(manager.email)
    await expect(first.presence).to_have_text("2 watching")
    await expect(second.presence).to_have_text("2 watching")

    await second.page.context.close()
    await expect(first.presence).to_have_text("only you are watching")


async def test_after_a_drop_too_short_to_break_the_stream_the_board_says_live_again(open_page, shop):
    """The browser says it went offline and back online while the stream itself held: no error and no
    new connection follow, and the badge must not stay on "Reconnecting" for the rest of the day."""
    advisor = await shop.user("service_advisor", locale="en")
    manager = await shop.user("workshop_manager", locale="en")
    work_order = await shop.work_order()
    mover, watcher = await open_page(), await open_page()
    await mover.sign_in(advisor.email)
    await watcher.sign_in(manager.email)
    await watcher.wait_until_live()

    await watcher.page.evaluate("window.dispatchEvent(new Event('offline'))")
    await expect(watcher.connection).to_have_attribute("data-connection", "reconnecting")
    await watcher.page.evaluate("window.dispatchEvent(new Event('online'))")

    await expect(watcher.connection).to_have_attribute("data-connection", "live")
    await expect(watcher.connection).to_have_text("Live")
    # And an update alone, with no "online" event, says so too.
    await watcher.page.evaluate("window.dispatchEvent(new Event('offline'))")
    await mover.move_with_menu(work_order.id, "SCHEDULED")
    await expect(watcher.card_in("SCHEDULED", work_order.id)).to_be_visible()
    await expect(watcher.connection).to_have_attribute("data-connection", "live")


async def test_a_browser_that_was_offline_gets_exactly_the_moves_it_missed_in_order(
    open_page, shop, cable, live_server
):
    orders = [await shop.work_order(complaint=f"Job {n}") for n in range(6)]
    away, mover = await away_and_mover(open_page, shop, cable)
    # One move while both are online, so the away page holds a live position of its own.
    await mover.move_with_menu(orders[0].id, "SCHEDULED")
    await expect(away.card_in("SCHEDULED", orders[0].id)).to_be_visible()
    before = await away.live_messages()

    await cable.unplug()
    await expect(away.connection).to_have_attribute("data-connection", "reconnecting")
    for order in orders[1:]:
        await mover.move_with_menu(order.id, "SCHEDULED")
    assert (await away.columns())["NEW"] == [order.id for order in reversed(orders[1:])], (
        "the page got updates while it was offline, so this test proves nothing"
    )
    # The board's own stream (a manager's page also holds the header's fleet-alert stream).
    async with away.page.expect_request(
        lambda request: "/live?" in request.url and "topic=workshop" in request.url
    ) as reconnect:
        await cable.plug()

    assert await resume_id_of(await reconnect.value) == before[-1].id
    await away.wait_until_live()
    await eventually_equal(away.columns, lambda: board_in_database(live_server.runtime.db, shop.id))
    await expect(away.count("NEW")).to_have_text("0")
    await expect(away.count("SCHEDULED")).to_have_text("6")
    await asyncio.sleep(1)  # a duplicate would arrive right behind the replay
    caught_up = (await away.live_messages())[len(before) :]
    assert [message.type for message in caught_up] == ["update"] * 5
    positions = [split_client_id(message.id) for message in caught_up]
    stream_ids = [position[1] for position in positions if position is not None]
    assert len(stream_ids) == 5 and stream_ids == sorted(set(stream_ids)), (
        f"not once each in order: {positions}"
    )


FORGOTTEN_POSITION = "forgotten:1-0"


async def _resume_from_a_forgotten_position(route: Route) -> None:
    """Let the page ask to resume from a position the live log does not hold (a log that was wiped,
    or a gap older than it keeps); the server can only answer that with `reset`."""
    parts = urlsplit(route.request.url)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != "last_event_id"]
    query.append(("last_event_id", FORGOTTEN_POSITION))
    headers = await route.request.all_headers()
    if "last-event-id" in headers:
        headers["last-event-id"] = FORGOTTEN_POSITION
    await route.continue_(url=urlunsplit(parts._replace(query=urlencode(query))), headers=headers)


async def test_a_browser_the_log_cannot_replay_reloads_the_board_from_the_database(
    open_page, shop, cable, live_server
):
    orders = [await shop.work_order(complaint=f"Job {n}") for n in range(3)]
    away, mover = await away_and_mover(open_page, shop, cable)
    await cable.unplug()
    await expect(away.connection).to_have_attribute("data-connection", "reconnecting")
    await mover.move_with_menu(orders[0].id, "SCHEDULED")
    await mover.move_with_menu(orders[1].id, "CHECKED_IN")
    await mover.move_with_menu(orders[2].id, "CANCELLED")
    before = await away.live_messages()
    await away.page.route("**/live?*", _resume_from_a_forgotten_position)

    async with away.page.expect_request(
        lambda request: (
            request.url.endswith("/workshop/board") and request.headers.get("hx-request") == "true"
        )
    ):
        await cable.plug()

    await eventually_equal(away.columns, lambda: board_in_database(live_server.runtime.db, shop.id))
    await expect(away.count("NEW")).to_have_text("0")
    await expect(away.count("CHECKED_IN")).to_have_text("1")
    await expect(away.card(orders[2].id)).to_have_count(0)  # cancelled: off the board
    assert [message.type for message in (await away.live_messages())[len(before) :]] == ["reset"]
    # The re-fetched board is live and usable: a move on it reaches the other browser.
    await away.wait_until_live()
    await away.move_with_menu(orders[0].id, "CHECKED_IN")
    await expect(mover.card_in("CHECKED_IN", orders[0].id)).to_be_visible()


async def away_and_mover(open_page, shop, cable):  # type: ignore[no-untyped-def]
    """Two live boards: a manager's behind `cable` (it can be unplugged) and an advisor's who moves cards."""
    advisor = await shop.user("service_advisor", locale="en")
    manager = await shop.user("workshop_manager", locale="en")
    away = await open_page(base_url=cable.url)
    mover = await open_page()
    await away.sign_in(manager.email)
    await mover.sign_in(advisor.email)
    await away.wait_until_live()
    await mover.wait_until_live()
    return away, mover
