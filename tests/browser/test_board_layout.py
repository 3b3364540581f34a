"""The job board reads well on a wall screen and on a phone."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from ops.workshop.service import OPEN_STATUSES

pytestmark = pytest.mark.browser


async def test_a_wall_screen_shows_every_column_at_once(open_page, shop):
    viewer = await shop.user("viewer", locale="en")
    await shop.work_order(status="IN_PROGRESS")
    board = await open_page()
    await board.sign_in(viewer.email)

    for status in OPEN_STATUSES:
        await expect(board.page.locator(f"#column-{status}")).to_be_in_viewport()
    # A viewer watches; there is nothing to move and nothing to drag.
    await expect(board.page.locator("form.move")).to_have_count(0)
    await expect(board.page.locator(".board.can-move")).to_have_count(0)


async def test_a_phone_shows_the_board_at_full_size_and_scrolls_column_by_column(open_page, shop):
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="IN_PROGRESS")
    board = await open_page(phone=True)
    await board.sign_in(advisor.email)
    page = board.page

    # Nothing on the page is wider than the phone, so the phone does not zoom the page out.
    assert await page.evaluate("[window.innerWidth, document.documentElement.scrollWidth]") == [390, 390]
    assert await page.locator("#board").evaluate("board => getComputedStyle(board).scrollSnapType") == (
        "x mandatory"
    )
    await expect(page.locator("#column-NEW")).to_be_in_viewport(ratio=0.8)
    await expect(page.locator("#column-IN_PROGRESS")).not_to_be_in_viewport()

    await page.get_by_role("navigation", name="Columns").get_by_role("link", name="In progress").click()

    await expect(page.locator("#column-IN_PROGRESS")).to_be_in_viewport(ratio=0.8)
    await expect(page.locator("#column-NEW")).not_to_be_in_viewport()
    await expect(board.card_in("IN_PROGRESS", work_order.id).get_by_role("combobox")).to_be_visible()
