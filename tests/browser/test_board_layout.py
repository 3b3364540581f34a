"""The job board reads well on a wall screen and on a phone."""

from __future__ import annotations

import re

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


async def test_a_german_wall_screen_shows_every_columns_count_above_its_cards(open_page, shop):
    """The longest German column names (Wartet auf Kundenfreigabe) push the count onto a third line; it
    must stay above the cards, not slide under them."""
    viewer = await shop.user("viewer", locale="de")
    # Enough cards to fill a column's height, which squeezed its heading.
    expected = {
        status: 8 if status in ("WAITING_APPROVAL", "QUALITY_CHECK") else 1 for status in OPEN_STATUSES
    }
    for status, how_many in expected.items():
        for _ in range(how_many):
            await shop.work_order(status=status)
    board = await open_page()
    await board.sign_in(viewer.email)

    for status in OPEN_STATUSES:
        count = board.page.locator(f"#count-{status}")
        await expect(count).to_have_text(str(expected[status]))
        count_box = await count.bounding_box()
        cards_box = await board.page.locator(f"#cards-{status}").bounding_box()
        assert count_box is not None and cards_box is not None
        assert count_box["y"] + count_box["height"] <= cards_box["y"], (
            f"the count of {status} is under its cards"
        )
    # A long German word in a narrow card breaks at a syllable, with a hyphen, where the browser has
    # German hyphenation: the page says its language and the card's text asks for it.
    assert (await board.page.evaluate("document.documentElement.lang")).startswith("de")
    complaint = board.page.locator("#cards-NEW .complaint").first
    assert await complaint.evaluate("text => getComputedStyle(text).hyphens") == "auto"


async def test_on_a_phone_another_areas_menu_opens_where_it_can_be_tapped(open_page, shop):
    """A menu hanging from the top bar opens on screen, whichever line of the bar its name is on."""
    advisor = await shop.user("service_advisor", locale="en")
    board = await open_page(phone=True)
    await board.sign_in(advisor.email)
    page = board.page
    menu = page.locator(".nav-menu").filter(has=page.locator("summary", has_text="Sales"))

    await menu.locator("summary").click()

    customers = menu.get_by_role("link", name="Customers")
    await expect(customers).to_be_in_viewport()
    await customers.click()
    await expect(page).to_have_url(re.compile(r"/customers$"))


async def test_on_a_phone_the_top_bar_shows_every_label_whole(open_page, shop):
    """The bar wraps onto more lines on a phone: a sideways scroller cut the last label in half."""
    admin = await shop.user("admin", locale="en")
    board = await open_page(phone=True)
    await board.sign_in(admin.email)
    boxes = await board.page.evaluate(
        """[...document.querySelectorAll('.topbar nav > ul > li > a, .topbar nav > ul > li summary')]
             .map(link => { const box = link.getBoundingClientRect();
                            return [link.textContent.trim(), box.left, box.right]; })"""
    )

    assert len(boxes) >= 8  # the workshop's pages and the other areas' menus
    assert [label for label, left, right in boxes if left < 0 or right > 390] == []
