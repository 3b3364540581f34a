"""The car configurator in headless Chromium: a choice in one group leaves the others' choices alone."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.sales.quotes.helpers import configurable_trim, lead_for, showroom

pytestmark = pytest.mark.browser


async def test_choosing_wheels_keeps_the_paint_and_the_quote_gets_both(open_page, shop):
    room = await showroom(shop)
    lead = await lead_for(room)
    trim = await configurable_trim(shop)
    rep = await open_page()
    await rep.sign_in(room.rep.email)
    page = rep.page

    await page.goto(f"/sales/configure/{trim.id}?lead_id={lead.id}")
    await page.get_by_label("Race blue metallic").check()
    await page.get_by_role("radio", name="19-inch wheels").check()
    await page.get_by_label("Sport package").check()

    # Radios that shared one name across groups were one choice: the wheels unpicked the paint.
    await expect(page.get_by_label("Race blue metallic")).to_be_checked()
    await expect(page.get_by_text("This combination can be built.")).to_be_visible()
    await page.get_by_role("button", name="Build the quote").click()
    await page.wait_for_url(re.compile(r"/sales/quotes/\d+/edit$"))
    for option in ("Race blue metallic", "19-inch wheels", "Sport package"):
        await expect(page.get_by_text(option).first).to_be_visible()


async def test_the_configurator_opens_without_errors_and_shows_a_broken_rule_as_it_happens(open_page, shop):
    room = await showroom(shop)
    lead = await lead_for(room)
    trim = await configurable_trim(shop)
    rep = await open_page()
    await rep.sign_in(room.rep.email)
    page = rep.page

    await page.goto(f"/sales/configure/{trim.id}?lead_id={lead.id}")
    # Nothing is wrong before the rep has chosen anything: the paint still to choose is guidance.
    await expect(page.locator(".still-to-choose")).to_contain_text("Choose at least 1 in Paint")
    await expect(page.locator(".configurator-summary .form-error")).to_have_count(0)
    await expect(page.locator(".option-group.invalid")).to_have_count(0)
    await expect(page.locator(".field-error")).to_have_count(0)

    # Building with the paint still open names it as the broken rule, next to its group.
    await page.get_by_role("button", name="Build the quote").click()
    await expect(page.locator(".configurator-summary .form-error")).to_contain_text(
        "Choose at least 1 in Paint"
    )
    await expect(page.locator(".option-group.invalid")).to_have_count(1)

    # A choice that breaks a rule is named at once, while the price follows every choice.
    await page.get_by_label("Sport package").check()
    await expect(page.locator(".configurator-summary")).to_contain_text("CHF 42\u2019500.00")
    await expect(page.locator(".configurator-summary .form-error")).to_contain_text(
        "Sport package requires 19-inch wheels"
    )
    await page.get_by_role("radio", name="19-inch wheels").check()
    await page.get_by_label("Moon white").check()
    await expect(page.get_by_text("This combination can be built.")).to_be_visible()
    await expect(page.locator(".still-to-choose")).to_have_count(0)
