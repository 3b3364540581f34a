"""Edit details on a work order's page, in Chromium: the board open on another screen shows the
corrected card without reloading."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import OpenPage
from tests.factories import TenantHandle

pytestmark = pytest.mark.browser


async def test_details_corrected_on_the_order_page_reach_the_card_on_the_board_live(
    open_page: OpenPage, shop: TenantHandle
):
    """The customer calls: it is urgent and needed by Friday noon; the wall board still said Normal."""
    advisor = await shop.user("service_advisor", locale="en", name="Sara Advisor")
    manager = await shop.user("workshop_manager", locale="en")
    work_order = await shop.work_order(status="SCHEDULED", complaint="Brakes squeal")
    desk, wall = await open_page(), await open_page()
    await desk.sign_in(advisor.email)
    await wall.sign_in(manager.email)
    page = desk.page
    await page.goto(f"/workshop/work-orders/{work_order.id}")
    await desk.wait_until_live()
    await wall.wait_until_live()
    await wall.page.evaluate("window.sameDocument = true")
    card = wall.card_in("SCHEDULED", work_order.id)
    await expect(card.locator(".badge.priority")).to_have_text("Normal")
    details = page.locator("details.action").filter(has=page.locator("summary", has_text="Edit details"))

    await details.locator("summary").click()
    await details.get_by_label("Complaint").fill("Brakes squeal when cold, front left")
    await details.get_by_label("Category").select_option(label="Brake Service")
    await details.get_by_label("Priority").select_option(label="Urgent")
    await details.get_by_label("Promised for").fill("2031-03-07T12:00")
    await details.get_by_role("button", name="Save details").click()

    await expect(card.locator(".badge.priority")).to_have_text("Urgent")
    await expect(card.locator(".complaint")).to_have_text("Brakes squeal when cold, front left")
    await expect(card.locator("dd").nth(2)).to_have_text("7 Mar 2031, 12:00")
    await expect(wall.announcer).to_have_text(f"{work_order.code}: details changed by Sara Advisor.")
    assert await wall.page.evaluate("window.sameDocument === true"), "the board reloaded"
    # The advisor's page shows the order as saved, with who changed what.
    await expect(page.locator("#order-header")).to_contain_text("Priority: Urgent")
    await expect(page.locator(".complaint-full")).to_have_text("Brakes squeal when cold, front left")
    await expect(page.locator("#order-history")).to_contain_text(
        "Details changed: Complaint, Category, Priority, Promised"
    )
    assert desk.console_errors == [] and wall.console_errors == []
