"""The car configurator in headless Chromium: a choice in one group leaves the others' choices alone."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.sales.quotes.helpers import configurable_trim, lead_for, showroom

pytestmark = pytest.mark.browser


async def _configurator_of_a_lead(open_page, shop) -> Page:  # type: ignore[no-untyped-def]
    """The rep's configurator of the Paint, Wheels, Packages and Extras trim for one of their leads."""
    room = await showroom(shop)
    lead = await lead_for(room)
    trim = await configurable_trim(shop)
    rep = await open_page()
    await rep.sign_in(room.rep.email)
    await rep.page.goto(f"/sales/configure/{trim.id}?lead_id={lead.id}")
    return rep.page


async def test_choosing_wheels_keeps_the_paint_and_the_quote_gets_both(open_page, shop):
    page = await _configurator_of_a_lead(open_page, shop)

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
    page = await _configurator_of_a_lead(open_page, shop)

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


async def test_correcting_a_group_after_a_refused_build_clears_its_mark_and_leaves_the_others(
    open_page, shop, tmp_path
):
    """After "Build the quote" was refused, each group the rep puts right loses its red mark and message
    at once; a group still wrong keeps them, until it is put right too."""
    page = await _configurator_of_a_lead(open_page, shop)
    paint, packages = (
        page.locator("fieldset.option-group", has=page.locator("legend", has_text=name))
        for name in ("Paint", "Packages")
    )

    async def assert_marked(group, message: str | None) -> None:  # type: ignore[no-untyped-def]
        if message is None:
            await expect(group).not_to_have_class(re.compile(r"\binvalid\b"))
            await expect(group.locator("input[aria-invalid]")).to_have_count(0)
            await expect(group.locator(".field-error")).to_have_count(0)
        else:
            await expect(group).to_have_class(re.compile(r"\binvalid\b"))
            inputs = group.locator("input")
            await expect(group.locator('input[aria-invalid="true"]')).to_have_count(await inputs.count())
            await expect(group.locator(".field-error")).to_have_text(message)

    # The sport package without its wheels, and no paint: the build is refused and both are marked.
    await page.get_by_label("Sport package").check()
    await page.get_by_role("button", name="Build the quote").click()
    await assert_marked(paint, "Choose at least 1 in Paint")
    await assert_marked(packages, "Sport package requires 19-inch wheels")

    # The wheels put the package right; the paint, still missing, stays marked.
    await page.get_by_role("radio", name="19-inch wheels").check()
    await assert_marked(packages, None)
    await assert_marked(paint, "Choose at least 1 in Paint")
    await expect(page.locator(".configurator-summary .form-error")).to_contain_text(
        "Choose at least 1 in Paint"
    )
    await page.screenshot(path=str(tmp_path / "configurator-after-correcting.png"), full_page=True)

    await page.get_by_label("Moon white").check()
    await assert_marked(paint, None)
    await expect(page.get_by_text("This combination can be built.")).to_be_visible()
    await expect(page.locator(".option-group.invalid")).to_have_count(0)
    await page.get_by_role("button", name="Build the quote").click()
    await page.wait_for_url(re.compile(r"/sales/quotes/\d+/edit$"))
