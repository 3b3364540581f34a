"""Moving cards on the job board in a browser: with the keyboard alone, by drag and drop, and from a
board that is out of date."""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from ops.workshop.models import WorkOrder
from tests.browser.pages import BoardPage

pytestmark = pytest.mark.browser


async def _stored(live_server, work_order_id: int) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    async with live_server.runtime.db.system() as session:
        row = (await session.execute(select(WorkOrder).where(WorkOrder.id == work_order_id))).scalar_one()
        return row.status, row.version


async def _drag(board: BoardPage, work_order_id: int, to_status: str) -> int:
    """Drag a card by its body onto a column, as a mouse does; returns the status the server answered."""
    target = board.page.locator(f"#cards-{to_status}")
    await expect(target).to_be_in_viewport()
    async with board.page.expect_response(lambda r: f"/work-orders/{work_order_id}/move" in r.url) as answer:
        await board.card(work_order_id).locator(".vehicle").drag_to(target)
    return (await answer.value).status


async def test_a_card_moves_with_the_keyboard_alone(open_page, shop, live_server):
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order()
    board = await open_page()
    await board.sign_in(advisor.email)
    await board.wait_until_live()
    menu = board.page.locator(f"#move-{work_order.id}")

    await board.tab_to(menu)
    await board.page.keyboard.press("ArrowDown")
    await expect(menu).to_have_value("SCHEDULED")
    await board.page.keyboard.press("Tab")
    await expect(board.card(work_order.id).get_by_role("button", name="Move")).to_be_focused()
    async with board.page.expect_response(lambda r: "/move" in r.url) as answer:
        await board.page.keyboard.press("Enter")

    assert (await answer.value).status == 200
    await expect(board.card_in("SCHEDULED", work_order.id)).to_be_visible()
    await expect(board.count("SCHEDULED")).to_have_text("1")
    # The keyboard user is not thrown back to the top of the page: the focus moved with the card.
    await expect(board.page.locator(f"#move-{work_order.id}")).to_be_focused()
    assert await _stored(live_server, work_order.id) == ("SCHEDULED", work_order.version + 1)


async def test_dragging_a_card_to_an_allowed_column_moves_it_for_everyone(open_page, shop, live_server):
    advisor = await shop.user("service_advisor", locale="en")
    manager = await shop.user("workshop_manager", locale="en")
    work_order = await shop.work_order(status="IN_PROGRESS")
    mover, watcher = await open_page(), await open_page()
    await mover.sign_in(advisor.email)
    await watcher.sign_in(manager.email)
    await mover.wait_until_live()
    await watcher.wait_until_live()

    assert await _drag(mover, work_order.id, "WAITING_PARTS") == 200

    await expect(mover.card_in("WAITING_PARTS", work_order.id)).to_be_visible()
    await expect(watcher.card_in("WAITING_PARTS", work_order.id)).to_be_visible()
    await expect(watcher.count("IN_PROGRESS")).to_have_text("0")
    await expect(watcher.count("WAITING_PARTS")).to_have_text("1")
    assert (await _stored(live_server, work_order.id))[0] == "WAITING_PARTS"


async def test_dragging_a_card_to_a_column_the_rules_refuse_puts_it_back_and_says_why(
    open_page, shop, live_server
):
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order()
    board = await open_page()
    await board.sign_in(advisor.email)
    await board.wait_until_live()

    assert await _drag(board, work_order.id, "READY") == 422

    await expect(board.card_in("NEW", work_order.id)).to_be_visible()
    await expect(board.card(work_order.id)).to_have_count(1)
    await expect(board.toast("error")).to_have_text(f"{work_order.code} cannot move from New to Ready.")
    await expect(board.count("NEW")).to_have_text("1")
    await expect(board.count("READY")).to_have_text("0")
    assert await _stored(live_server, work_order.id) == ("NEW", work_order.version)


async def test_a_move_from_an_out_of_date_board_is_refused_with_409_and_shows_the_current_state(
    open_page, shop, live_server
):
    advisor = await shop.user("service_advisor", locale="en")
    manager = await shop.user("workshop_manager", locale="en")
    work_order = await shop.work_order()
    stale = await open_page()
    # This page never gets live updates, so it keeps showing the card as it was.
    await stale.page.route("**/live?*", lambda route: route.abort())
    await stale.sign_in(advisor.email)
    await expect(stale.connection).to_have_attribute("data-connection", "reconnecting")
    other = await open_page()
    await other.sign_in(manager.email)
    await other.move_with_menu(work_order.id, "SCHEDULED")
    await expect(stale.card_in("NEW", work_order.id)).to_be_visible()

    await stale.move_with_menu(work_order.id, "CHECKED_IN", expect_status=409)

    await expect(stale.card_in("SCHEDULED", work_order.id)).to_be_visible()
    await expect(stale.card(work_order.id)).to_have_count(1)
    await expect(stale.count("NEW")).to_have_text("0")
    await expect(stale.count("SCHEDULED")).to_have_text("1")
    await expect(stale.toast("error")).to_have_text(
        f"{work_order.code} was changed by someone else in the meantime."
    )
    assert await _stored(live_server, work_order.id) == ("SCHEDULED", work_order.version + 1)
