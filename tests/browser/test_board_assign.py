"""Reassigning a job from its card on the job board, with the keyboard alone, seen by everyone."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from ops.workshop.models import WorkOrder
from ops.workshop.service import assign_work_order, move_work_order
from tests.workshop.order_helpers import add_bay

pytestmark = pytest.mark.browser


async def test_a_manager_reassigns_a_job_with_the_keyboard_and_everyone_sees_it(open_page, shop, live_server):
    manager = await shop.user("workshop_manager", locale="en")
    advisor = await shop.user("service_advisor", locale="en")
    luca = await shop.user("technician", name="Luca Brunner")
    await shop.user("technician", name="Mia Keller")
    await add_bay(shop, "Lift 1")
    job = await shop.work_order(status="CHECKED_IN")
    async with shop.db.uow(shop.admin.actor) as uow:
        job = await assign_work_order(uow, job.id, luca.actor.user_id, None, job.version)
    board, watcher = await open_page(), await open_page()
    await board.sign_in(manager.email)
    await watcher.sign_in(advisor.email)
    await board.wait_until_live()
    await watcher.wait_until_live()
    page = board.page
    summary = board.card(job.id).locator("summary")

    await board.tab_to(summary)
    await page.keyboard.press("Enter")
    technician_menu = board.card(job.id).get_by_label("Technician", exact=True)
    # The form is fetched when opened and takes the focus.
    await expect(technician_menu).to_be_focused()
    await expect(technician_menu).to_have_value(str(luca.actor.user_id))
    await page.keyboard.press("ArrowDown")  # Unassigned, Luca Brunner, Mia Keller
    await page.keyboard.press("Tab")
    await expect(board.card(job.id).get_by_label("Bay", exact=True)).to_be_focused()
    await page.keyboard.press("ArrowDown")  # No bay, Lift 1
    await page.keyboard.press("Tab")
    async with page.expect_response(lambda r: r.url.endswith(f"/work-orders/{job.id}/assign")) as answer:
        await page.keyboard.press("Enter")

    assert (await answer.value).status == 200
    for screen in (board, watcher):
        card = screen.card_in("CHECKED_IN", job.id)
        await expect(card.locator("dd").nth(0)).to_have_text("Mia Keller")
        await expect(card.locator("dd").nth(1)).to_have_text("Lift 1")
    # The keyboard user stays on the card.
    assert await board.card(job.id).evaluate("card => card.contains(document.activeElement)")
    async with live_server.runtime.db.system() as session:
        stored = await session.get_one(WorkOrder, job.id)
    assert stored.status == "CHECKED_IN"
    assert stored.technician_id != luca.actor.user_id and stored.bay_id is not None


async def test_a_job_changed_by_someone_else_replaces_its_open_assign_form(open_page, shop):
    """A form left open would post a version that is no longer current."""
    manager = await shop.user("workshop_manager", locale="en")
    await shop.user("technician", name="Mia Keller")
    job = await shop.work_order()
    board = await open_page()
    await board.sign_in(manager.email)
    await board.wait_until_live()
    await board.card(job.id).locator("summary").click()
    await expect(board.card(job.id).get_by_label("Technician", exact=True)).to_be_visible()
    # Someone else moves the job while the form is open: the card is replaced live, form and all.
    async with shop.db.uow(shop.admin.actor) as uow:
        await move_work_order(uow, job.id, "SCHEDULED", job.version)

    await expect(board.card_in("SCHEDULED", job.id)).to_be_visible()
    await expect(board.card(job.id).locator("details[open]")).to_have_count(0)
