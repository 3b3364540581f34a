"""The inventory pages in headless Chromium: the reorder flag comes and goes live, without a reload, and
a purchase request is cancelled from its dialog by keyboard while a colleague's page follows."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.async_api import expect

from ops.workshop.parts.service import receive_stock, request_purchase, reserve_part
from tests.browser.conftest import browser, open_page, shop  # noqa: F401  (the browser fixtures)
from tests.workshop.parts.stock import new_part

pytestmark = pytest.mark.browser


async def test_the_reorder_flag_appears_and_disappears_live_on_the_list_and_the_part_page(open_page, shop):  # noqa: F811
    """A manager with the list open would not notice a part running short until reloading."""
    manager = await shop.user("workshop_manager", locale="en")
    part = await new_part(shop, sku="BP-1", name="Brake pads", stock="5", reorder_point="2")
    job = await shop.work_order()
    listing, part_page = await open_page(), await open_page(phone=True)
    await listing.sign_in(manager.email)
    await part_page.sign_in(manager.email)
    await listing.page.goto("/workshop/parts?below=1")
    await part_page.page.goto(f"/workshop/parts/{part.id}")
    await listing.wait_until_live()
    await part_page.wait_until_live()
    await expect(listing.page.locator(f"#part-{part.id}")).to_have_count(0)
    await listing.page.evaluate("window.sameDocument = true")

    async with shop.db.uow(shop.admin.actor) as uow:
        await reserve_part(uow, part.id, Decimal(3), job.id)
        await uow.commit()

    # The filtered list gains the part, flagged; the part page shows the new levels and the movement.
    row = listing.page.locator(f"#part-{part.id}")
    await expect(row.locator(".badge.reorder")).to_have_text("Reorder")
    await expect(listing.announcer).to_have_text("BP-1 Brake pads is at or below its reorder point.")
    await expect(part_page.page.locator(".levels .available dd")).to_have_text("2")
    await expect(part_page.page.locator(".reorder-alert")).to_be_visible()
    await expect(part_page.page.locator("tr.movement")).to_have_count(2)

    async with shop.db.uow(shop.admin.actor) as uow:
        await receive_stock(uow, part.id, Decimal(10), "Delivery")

    await expect(row).to_have_count(0)
    await expect(listing.page.locator(".parts-list .empty-state")).to_be_visible()
    await expect(part_page.page.locator(".levels .available dd")).to_have_text("12")
    await expect(part_page.page.locator(".reorder-alert")).to_have_count(0)
    assert await listing.page.evaluate("window.sameDocument === true"), "the list reloaded"
    assert listing.console_errors == [] and part_page.console_errors == []


async def test_typing_in_the_search_filters_the_list_in_place_and_the_address_follows(open_page, shop):  # noqa: F811
    """A long parts list would need a full reload per keystroke, and a shared link would lose the search."""
    manager = await shop.user("workshop_manager", locale="en")
    await new_part(shop, sku="OF-1", name="Oil filter", stock="12")
    await new_part(shop, sku="BP-1", name="Brake pads", stock="1", reorder_point="2")
    tab = await open_page()
    await tab.sign_in(manager.email)
    await tab.page.goto("/workshop/parts")
    await tab.page.evaluate("window.sameDocument = true")

    await tab.page.get_by_label("Search parts").fill("oil")

    rows = tab.page.locator(".parts-table tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("OF-1")
    await expect(tab.page).to_have_url(re.compile(r"/workshop/parts\?q=oil$"))
    await tab.page.get_by_label("Search parts").fill("")
    await tab.page.get_by_label("Needs reorder only").check()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("BP-1")
    assert await tab.page.evaluate("window.sameDocument === true"), "the list reloaded"
    assert tab.console_errors == []


async def test_a_request_is_cancelled_from_its_dialog_by_keyboard_and_another_manager_sees_it_live(
    open_page,  # noqa: F811
    shop,  # noqa: F811
):
    """A manager who cannot cancel without a mouse, or a colleague whose page still offers the cancelled
    request, would act on a request that no longer stands."""
    manager = await shop.user("workshop_manager", locale="en", name="Mia Meier")
    colleague = await shop.user("workshop_manager", locale="en")
    part = await new_part(shop, sku="BP-1", name="Brake pads", stock="1", reorder_point="3")
    async with shop.db.uow(manager.actor) as uow:
        await request_purchase(uow, part.id, Decimal(5))
    tab, watcher = await open_page(), await open_page(phone=True)
    await tab.sign_in(manager.email)
    await watcher.sign_in(colleague.email)
    await tab.page.goto(f"/workshop/parts/{part.id}")
    await watcher.page.goto(f"/workshop/parts/{part.id}")
    await watcher.wait_until_live()
    await watcher.page.evaluate("window.sameDocument = true")
    dialog = tab.page.get_by_role("dialog", name="Cancel PR-000001?")
    opener = tab.page.get_by_role("button", name="Cancel request…")

    await opener.focus()
    await tab.page.keyboard.press("Enter")
    await expect(dialog).to_be_visible()
    reason = dialog.get_by_label("Why is it cancelled?")
    await expect(reason).to_be_focused()
    await tab.page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(opener).to_be_focused()
    await tab.page.keyboard.press("Enter")
    await reason.fill("Supplier discontinued the part")
    await tab.page.keyboard.press("Enter")

    await expect(tab.page.locator("#toasts")).to_contain_text("PR-000001 cancelled.")
    row = tab.page.locator("tr.purchase-request.cancelled")
    await expect(row).to_contain_text("by Mia Meier: Supplier discontinued the part")
    await expect(tab.page.get_by_role("button", name="Request reorder")).to_be_visible()
    # The colleague's page follows without a reload: no cancel left to press, the reorder offered.
    await expect(watcher.page.locator("tr.purchase-request.cancelled")).to_contain_text(
        "Supplier discontinued the part"
    )
    await expect(watcher.page.get_by_role("button", name="Cancel request…")).to_have_count(0)
    await expect(watcher.page.get_by_role("button", name="Request reorder")).to_be_visible()
    assert await watcher.page.evaluate("window.sameDocument === true"), "the page reloaded"
    assert tab.console_errors == [] and watcher.console_errors == []
