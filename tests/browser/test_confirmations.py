"""A destructive action asks first, with the same question dialog whether its form posts through htmx
(removing a work-order line) or as a plain form (deactivating a user); No leaves everything as it was."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from ops.auth.models import User
from ops.workshop.models import WorkOrderLine
from tests.browser.pages import answer_next_question
from tests.workshop.order_helpers import add_line, stored

pytestmark = pytest.mark.browser


async def test_removing_a_work_order_line_asks_first(open_page, shop):
    advisor = await shop.user("service_advisor", locale="en")
    job = await shop.work_order(status="CHECKED_IN")
    line = await add_line(shop, job, description="Replace front brake pads")
    browser = await open_page()
    await browser.sign_in(advisor.email)
    page = browser.page
    await page.goto(f"/workshop/work-orders/{job.id}")
    remove = page.get_by_role("button", name="Remove Replace front brake pads")
    questions: list[str] = []

    answer_next_question(page, yes=False, asked=questions)
    await remove.click()
    await expect(remove).to_be_visible()
    assert questions == [f"Remove “Replace front brake pads” from {job.code}?"]
    assert await stored(shop.db, shop.tenant.id, WorkOrderLine, line.id) is not None

    answer_next_question(page, yes=True, asked=questions)
    await remove.click()
    await expect(remove).to_have_count(0)


async def test_deactivating_a_user_asks_first(open_page, shop):
    admin = await shop.user("admin", locale="en")
    rep = await shop.user("sales_rep", name="Lea Frei")
    browser = await open_page()
    await browser.sign_in(admin.email)
    page = browser.page
    await page.goto("/settings/users")
    deactivate = page.get_by_role("button", name="Deactivate Lea Frei")
    questions: list[str] = []

    answer_next_question(page, yes=False, asked=questions)
    await deactivate.click()
    await expect(deactivate).to_be_visible()
    assert questions == ["Deactivate Lea Frei? They are signed out and can no longer sign in."]
    assert (await stored(shop.db, shop.tenant.id, User, rep.actor.user_id)).active

    answer_next_question(page, yes=True, asked=questions)
    await deactivate.click()
    await expect(page.get_by_role("button", name="Reactivate Lea Frei")).to_be_visible()
