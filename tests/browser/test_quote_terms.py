"""The quote's terms form after a refused Save: each field's error stays next to it until that field is
put right, and goes as the live figures see it right, without another Save; a field the figures could
not check yet keeps its mark."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.sales.quotes.helpers import reload, showroom, unit_quote

pytestmark = pytest.mark.browser


async def _type(page: Page, label: str, value: str) -> None:
    """Type into a field and wait for the live figures it asks for."""
    async with page.expect_response(lambda r: r.url.endswith("/preview")):
        await page.get_by_label(label, exact=True).fill(value)


async def _save_refused(page: Page) -> None:
    async with page.expect_response(lambda r: r.url.endswith("/edit")) as saved:
        await page.get_by_role("button", name="Save").click()
    assert (await saved.value).status == 422


async def test_a_field_put_right_loses_its_error_before_the_next_save(open_page, shop, live_server):
    room = await showroom(shop)
    quote = await unit_quote(room, list_price="40000.00", cost="30000.00")
    rep = await open_page()
    await rep.sign_in(room.rep.email)
    page = rep.page
    await page.goto(f"/sales/quotes/{quote.id}/edit")
    discount, term = page.get_by_label("Discount without VAT"), page.get_by_label("Term in months")
    summary = page.get_by_text("Some fields need another look; nothing was saved.")

    await _type(page, "Discount without VAT", "a lot")
    await _type(page, "APR in %", "3.9")
    # Typing guides, it does not scold: no field is marked before Save.
    await expect(page.locator('[aria-invalid="true"]')).to_have_count(0)
    await _save_refused(page)
    await expect(summary).to_be_visible()
    await expect(discount).to_have_attribute("aria-invalid", "true")
    await expect(term).to_have_attribute("aria-invalid", "true")
    await expect(
        page.get_by_text("Enter the term too, or leave the rate empty for a cash sale.")
    ).to_be_visible()

    await _type(page, "Discount without VAT", "1000")
    await expect(discount).not_to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#quote-discount-error")).to_have_count(0)
    # The term is still missing: its mark and the summary stay.
    await expect(term).to_have_attribute("aria-invalid", "true")
    await expect(summary).to_be_visible()

    await _type(page, "Term in months", "48")
    await expect(term).not_to_have_attribute("aria-invalid", "true")
    await expect(page.locator(".quote-form .field-error")).to_have_count(0)
    await expect(summary).to_have_count(0)
    assert (await reload(live_server.runtime.db, room.shop.id, quote.id)).version == quote.version


async def test_a_rule_on_the_figures_keeps_its_mark_while_the_figures_cannot_be_checked(
    open_page, shop, live_server
):
    room = await showroom(shop)
    quote = await unit_quote(room, list_price="40000.00", cost="30000.00")
    rep = await open_page()
    await rep.sign_in(room.rep.email)
    page = rep.page
    await page.goto(f"/sales/quotes/{quote.id}/edit")
    discount = page.get_by_label("Discount without VAT")

    await _type(page, "Discount without VAT", "90000")
    await _save_refused(page)
    await expect(discount).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_text("The discount cannot be more than the vehicle's price")).to_be_visible()

    # An unreadable rate leaves the figures unpriced: nothing says the discount is right now.
    await _type(page, "APR in %", "x")
    await expect(page.locator("#quote-preview")).to_have_attribute("data-invalid", "apr_percent term_months")
    await expect(discount).to_have_attribute("aria-invalid", "true")
    # Priced again, the discount is still too large.
    await _type(page, "APR in %", "")
    await expect(page.locator("#quote-preview")).to_have_attribute("data-invalid", "discount")
    await expect(discount).to_have_attribute("aria-invalid", "true")

    await _type(page, "Discount without VAT", "500")
    await expect(page.locator("#quote-preview")).to_have_attribute("data-invalid", "")
    await expect(discount).not_to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_text("Some fields need another look; nothing was saved.")).to_have_count(0)
    # The browser logs the refused Save's 422 (meant); nothing else went wrong.
    assert [error for error in rep.console_errors if "status of 422" not in error] == []
