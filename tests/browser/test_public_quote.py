"""The customer's offer page (the link in the quote mail) as a customer's browser shows it: the discount
once, and totals that are the sums of the lines above them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.sales.quotes.helpers import send, showroom, unit_quote, with_terms

pytestmark = pytest.mark.browser


def _amount(text: str) -> Decimal:
    """A shown amount such as `-CHF 1\u2019500.00` as a number (en-CH groups thousands with U+2019)."""
    digits = text.replace("CHF", "").replace("\u2019", "").replace("\xa0", "").replace(" ", "")
    return Decimal(digits)


async def test_the_offer_shows_the_discount_once_and_totals_that_add_up(open_page, shop):
    """A customer who sees the discount in the lines and again under them reads it as taken off twice,
    or cannot make the totals add up, and calls the dealership instead of accepting."""
    room = await showroom(shop)
    quote = await unit_quote(room, list_price="38500.00", cost="33000.00")
    quote = await with_terms(
        room,
        quote,
        accessories=[("Floor mats", "189")],
        fees=[("Registration", "690")],
        discount="1500",
    )
    token = await send(room, quote)

    customer = await open_page()
    await customer.page.goto(f"/quote/{token}")

    rows = customer.page.locator("table.quote-lines tbody tr")
    lines = [[cell.strip() for cell in await row.locator("td").all_inner_texts()] for row in await rows.all()]
    assert lines[0][0].startswith("Skoda Octavia Style (")
    assert [line[0] for line in lines[1:]] == [
        "Accessory: Floor mats",
        "Fee: Registration",
        "Discount",
    ], lines
    totals = {
        (await row.locator("dt").inner_text()).strip(): _amount(await row.locator("dd").inner_text())
        for row in await customer.page.locator("dl.quote-totals > div").all()
        if "months" not in await row.inner_text()
    }
    page_text = await customer.page.locator("article").inner_text()
    assert page_text.count("Discount") == 1, page_text
    assert page_text.count("1\u2019500.00") == 1, page_text
    assert list(totals)[:3] == ["Net price", "VAT 8.1 %", "Total with VAT"]
    # Every total is the sum of its column, the discount line included: 38500 + 189 + 690 - 1500.
    net, vat, gross = (sum(_amount(line[column]) for line in lines) for column in (1, 2, 3))
    assert (totals["Net price"], totals["VAT 8.1 %"], totals["Total with VAT"]) == (net, vat, gross)
    assert totals["Net price"] == Decimal("37879.00")
    assert totals["Net price"] + totals["VAT 8.1 %"] == totals["Total with VAT"]
    assert customer.console_errors == []
