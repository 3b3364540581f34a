"""A KPI figure fits its card on one line, on a wall screen and on a phone: "CHF 226.03" ran past the
card's right edge, and "CHF 7'084.67" broke inside the number."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

pytestmark = pytest.mark.browser

# The widest figures the dealerships' KPI cards show (money up to 99'999.99 a repair or a deal).
FIGURES = ["CHF 226.03", "CHF 7\u2019084.67", "CHF 99\u2019999.99"]


@pytest.mark.parametrize("phone", [False, True])
async def test_a_money_figure_fits_its_card_on_one_line(open_page, shop, phone):
    manager = await shop.user("workshop_manager", locale="en")
    screen = await open_page(phone=phone)
    await screen.sign_in(manager.email)
    page = screen.page
    await page.goto("/workshop/kpis")
    value = page.locator(".kpi .kpi-value").first
    await expect(value).to_be_visible()

    for figure in FIGURES:
        # An empty shop has no figures of its own: show the widest ones in a card as it is rendered.
        fits = await value.evaluate(
            """(value, figure) => {
                value.classList.remove("kpi-empty");
                value.textContent = figure;
                const card = value.closest(".kpi").getBoundingClientRect();
                const box = value.getBoundingClientRect();
                const fontSize = parseFloat(getComputedStyle(value).fontSize);
                // One line is about 1.2 font sizes high; two would be 2.4.
                return value.scrollWidth <= value.clientWidth && box.right <= card.right
                    && box.height < 2 * fontSize;
            }""",
            figure,
        )
        assert fits, figure
