"""The estimate from the advisor's work-order page to the customer's phone and back: the advisor sends
it, the customer answers from another browser (keyboard only, no account), and the advisor's open page
shows the answer the moment it is given, without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.workshop.estimates.helpers import last_mail, quoted_job

pytestmark = pytest.mark.browser

LINK = re.compile(r"/estimate/([A-Za-z0-9_.\-]+)")


async def test_the_customers_answer_shows_on_the_advisors_open_page_at_once(open_page, shop, live_server):
    job = await quoted_job(shop, language="en")
    advisor = await open_page()
    await advisor.sign_in(job.advisor.email)
    await advisor.page.goto(f"/workshop/work-orders/{job.id}")
    await advisor.wait_until_live()
    status = advisor.page.locator("#order-header .status-badge")
    await expect(status).to_have_text("In progress")

    await advisor.page.get_by_role("button", name="Send estimate to the customer").click()

    await expect(status).to_have_text("Waiting for approval")
    await expect(advisor.toast("success")).to_contain_text("Estimate for")
    await advisor.wait_until_live()
    mail = await last_mail(live_server.runtime.db, shop.id)
    match = LINK.search(mail.text)
    assert match, mail.text
    await advisor.page.evaluate("window.sameDocument = true")

    customer = await open_page(phone=True)
    await customer.page.goto(f"/estimate/{match.group(1)}")
    await expect(customer.page.get_by_role("heading", name=f"Estimate {job.work_order.code}")).to_be_visible()
    # Keyboard only: Space picks a choice, Tab goes to the next line, the arrows move within a line.
    await customer.page.get_by_role("radio", name="Approve").first.focus()
    await customer.page.keyboard.press("Space")
    await customer.page.keyboard.press("Tab")
    await customer.page.keyboard.press("ArrowRight")
    await expect(customer.page.locator("#estimate-totals .total dd")).to_have_text("CHF\xa0267.55")
    await customer.page.keyboard.press("Tab")
    await customer.page.keyboard.press("Enter")
    await expect(customer.page.get_by_text("Thank you. Your answer has reached")).to_be_visible()

    await expect(status).to_have_text("In progress")
    await expect(advisor.page.locator(f"#line-{job.labour.id}")).to_have_attribute(
        "data-approval", "APPROVED"
    )
    await expect(advisor.page.locator(f"#line-{job.part_line.id}")).to_have_attribute(
        "data-approval", "DECLINED"
    )
    assert await advisor.page.evaluate("window.sameDocument === true"), "the advisor's page reloaded"
    assert advisor.console_errors == []
    assert customer.console_errors == []
    assert await customer.page.evaluate("window.pitwallTest.violations") == []
