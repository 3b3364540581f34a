"""Opening a work order from the board: find the car by plate, VIN or customer as you type, with the
keyboard, on a wall screen or a phone."""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from ops.workshop.models import WorkOrder

pytestmark = pytest.mark.browser


async def test_an_advisor_finds_the_car_as_they_type_and_opens_a_work_order(open_page, shop, live_server):
    advisor = await shop.user("service_advisor", locale="en")
    golf = await shop.vehicle(plate="ZH 424242", make="VW", model="Golf")
    await shop.vehicle(plate="ZH 111111", make="VW", model="Polo")
    board = await open_page()
    await board.sign_in(advisor.email)
    page = board.page
    await page.get_by_role("link", name="New work order").first.click()
    await page.wait_for_url("**/workshop/work-orders/new")

    search = page.get_by_label("Find by plate, VIN or customer name")
    await search.focus()
    async with page.expect_response(lambda r: "/workshop/vehicles/search" in r.url):
        await page.keyboard.type("zh 4242", delay=30)
    choice = page.get_by_role("radio", name="ZH 424242")
    # The only match is chosen at once; the other car is not offered.
    await expect(choice).to_be_checked()
    await expect(page.get_by_role("radio")).to_have_count(1)
    await page.keyboard.press("Tab")  # the Search button
    await page.keyboard.press("Tab")
    await expect(choice).to_be_focused()
    # The way out when the car is not there yet comes next, then the complaint.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Add the vehicle")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Complaint")).to_be_focused()
    await page.keyboard.type("Rattle from the rear left wheel")
    await page.get_by_role("button", name="Create work order").press("Enter")

    async with live_server.runtime.db.system() as session:
        created = (await session.scalars(select(WorkOrder).where(WorkOrder.tenant_id == shop.id))).one()
    assert (created.vehicle_id, created.complaint) == (golf.id, "Rattle from the rear left wheel")
    # The new job's own page, where its work goes on; the board has its card.
    await page.wait_for_url(f"**/workshop/work-orders/{created.id}")
    await expect(board.toast("success")).to_contain_text(f"Work order {created.code} created.")
    await expect(page.locator(".order-head h1")).to_contain_text(created.code)
    await page.locator(".order-head a.back").click()
    await expect(board.card_in("NEW", created.id)).to_contain_text("ZH 424242")
    assert board.console_errors == []


async def test_the_new_work_order_form_fits_a_phone(open_page, shop):
    advisor = await shop.user("service_advisor", locale="en")
    await shop.vehicle(plate="ZH 424242", make="VW", model="Golf")
    board = await open_page(phone=True)
    await board.sign_in(advisor.email)
    page = board.page

    await page.goto("/workshop/work-orders/new?q=golf")

    await expect(page.get_by_role("radio", name="ZH 424242")).to_be_checked()
    assert await page.evaluate("[window.innerWidth, document.documentElement.scrollWidth]") == [390, 390]
