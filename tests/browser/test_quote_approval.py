"""The approval round trip between a rep's and a manager's browser: the rep asks for approval of a
quote with a large discount, the request appears on the manager's open approvals page by itself, the
manager approves it with a comment (keyboard only), and the rep's open quote page shows the answer as a
toast and the new status, without a reload."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.sales.quotes.helpers import showroom, unit_quote, with_terms

pytestmark = pytest.mark.browser


async def test_an_approval_reaches_the_manager_and_the_answer_the_rep_live(open_page, shop, live_server):
    room = await showroom(shop)
    quote = await with_terms(room, await unit_quote(room, cost="30000.00"), discount="4000")

    manager = await open_page()
    await manager.sign_in(room.manager.email)
    await manager.page.goto("/sales/approvals")
    await manager.wait_until_live()
    await expect(manager.page.get_by_text("No quote is waiting for approval.")).to_be_visible()
    await manager.page.evaluate("window.sameDocument = true")

    rep = await open_page(phone=True)
    await rep.sign_in(room.rep.email)
    await rep.page.goto(f"/sales/quotes/{quote.id}")
    await rep.wait_until_live()
    await expect(
        rep.page.get_by_text("Discount 10 % of the vehicle price: 5 points above the 5 % limit")
    ).to_be_visible()

    await rep.page.get_by_role("button", name="Request approval").click()

    status = rep.page.locator("#quote-live .quote-status")
    await expect(status).to_have_text("Waiting for a manager's approval")
    await rep.wait_until_live()
    await rep.page.evaluate("window.sameDocument = true")

    # The manager's open queue shows the request without a reload, with its reason.
    request = manager.page.locator(f"#approval-{quote.id}")
    await expect(request).to_be_visible()
    await expect(request).to_contain_text("Discount 10 % of the vehicle price: 5 points above the 5 % limit")
    await expect(request).to_contain_text("asked by Rita Rep")
    await manager.page.get_by_label(f"Comment for {quote.code} (needed to reject)").focus()
    await manager.page.keyboard.type("Fine for a returning customer")
    await manager.page.keyboard.press("Tab")
    await manager.page.keyboard.press("Enter")
    await expect(manager.page.get_by_text("No quote is waiting for approval.")).to_be_visible()

    # The rep's open page: a toast with the answer, and the quote approved and ready to send.
    await expect(rep.toast("success").last).to_have_text(f"{quote.code} was approved by Max Manager.")
    await expect(status).to_have_text("Approved")
    await expect(rep.page.get_by_text("“Fine for a returning customer”").first).to_be_visible()
    await expect(rep.page.get_by_role("button", name="Send to the customer")).to_be_visible()
    assert await rep.page.evaluate("window.sameDocument === true"), "the rep's page reloaded"
    assert await manager.page.evaluate("window.sameDocument === true"), "the manager's page reloaded"
    assert rep.console_errors == [] and manager.console_errors == []
    assert await rep.csp_violations() == [] and await manager.csp_violations() == []
