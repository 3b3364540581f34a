"""A filtered job board in a browser: chosen with the keyboard, kept in the URL, and live updates that
show only the jobs that match, with counts of what is shown."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from ops.workshop.models import WorkOrder
from ops.workshop.service import assign_work_order
from tests.workshop.order_helpers import add_bay

pytestmark = pytest.mark.browser


async def _assign(shop, work_order, bay):  # type: ignore[no-untyped-def]
    async with shop.db.uow(shop.admin.actor) as uow:
        return await assign_work_order(
            uow, work_order.id, work_order.technician_id, bay.id if bay else None, work_order.version
        )


async def test_a_board_filtered_by_bay_follows_only_that_bays_jobs_live(open_page, shop):
    manager = await shop.user("workshop_manager", locale="en")
    advisor = await shop.user("service_advisor", locale="en")
    lift, ev = await add_bay(shop, "Lift 1"), await add_bay(shop, "EV bay")
    in_lift = await _assign(shop, await shop.work_order(status="CHECKED_IN"), lift)
    in_ev = await _assign(shop, await shop.work_order(status="CHECKED_IN"), ev)
    watcher, mover = await open_page(), await open_page()
    await watcher.sign_in(manager.email)
    await mover.sign_in(advisor.email)

    # The filter is chosen with the keyboard and kept in the URL.
    bay_menu = watcher.page.get_by_label("Bay", exact=True)
    await bay_menu.focus()
    for _ in range(3):  # All bays, No bay, EV bay, Lift 1
        await watcher.page.keyboard.press("ArrowDown")
    await expect(bay_menu).to_have_value(str(lift.id))
    await watcher.page.get_by_role("button", name="Filter").press("Enter")
    await watcher.page.wait_for_url(re.compile(rf"/workshop/board\?bay={lift.id}"))
    await watcher.wait_until_live()
    await mover.wait_until_live()
    assert (await watcher.columns())["CHECKED_IN"] == [in_lift.id]
    await expect(watcher.count("CHECKED_IN")).to_have_text("1")

    await mover.move_with_menu(in_ev.id, "IN_PROGRESS")
    await mover.move_with_menu(in_lift.id, "IN_PROGRESS")

    # Updates arrive in order: once the lift's job is there, the EV bay's move has been handled too.
    await expect(watcher.card_in("IN_PROGRESS", in_lift.id)).to_be_visible()
    await expect(watcher.card(in_ev.id)).to_have_count(0)
    # The counts are the filtered board's (the server's live counts say 2 jobs are in progress).
    await expect(watcher.count("IN_PROGRESS")).to_have_text("1")
    await expect(watcher.count("CHECKED_IN")).to_have_text("0")
    await expect(mover.count("IN_PROGRESS")).to_have_text("2")

    # A job moved to another bay leaves the filtered board (a job in work keeps a bay); one put into
    # the filtered bay arrives.
    in_lift = await _assign(shop, await _reloaded(shop, in_lift), await add_bay(shop, "Lift 2"))
    await expect(watcher.card(in_lift.id)).to_have_count(0)
    await expect(watcher.count("IN_PROGRESS")).to_have_text("0")
    newcomer = await _assign(shop, await shop.work_order(), lift)
    await expect(watcher.card_in("NEW", newcomer.id)).to_be_visible()
    await expect(watcher.count("NEW")).to_have_text("1")
    # An update takes the old card away by id before it inserts the new one; a card this board does
    # not show has nothing to take away, and nothing is reported as an error.
    assert watcher.console_errors == []


async def _reloaded(shop, work_order):  # type: ignore[no-untyped-def]
    async with shop.db.read(shop.id) as session:
        return await session.get_one(WorkOrder, work_order.id)


async def test_a_filtered_board_catches_up_after_a_reset_with_its_filter(open_page, shop, live_server):
    """A reset (the server's log no longer holds the page's position) re-reads the board: the filter
    must survive it."""
    manager = await shop.user("workshop_manager", locale="en")
    lift, ev = await add_bay(shop, "Lift 1"), await add_bay(shop, "EV bay")
    in_lift = await _assign(shop, await shop.work_order(), lift)
    in_ev = await _assign(shop, await shop.work_order(), ev)
    board = await open_page()
    await board.sign_in(manager.email)
    await board.page.goto(f"/workshop/board?bay={lift.id}")
    await board.wait_until_live()

    async with board.page.expect_response(lambda r: "/workshop/board?" in r.url) as refetch:
        await board.page.evaluate("htmx.trigger(document.getElementById('board'), 'sse:reset')")

    assert f"bay={lift.id}" in (await refetch.value).url
    await expect(board.card(in_lift.id)).to_be_visible()
    await expect(board.card(in_ev.id)).to_have_count(0)
