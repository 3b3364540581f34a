"""Your account with a browser: a user reaches it by their name in the header and chooses Deutsch."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

pytestmark = pytest.mark.browser


async def test_a_technician_switches_to_deutsch_from_their_name_and_the_next_page_is_german(open_page, shop):
    tech = await shop.user("technician", locale="en", name="Luca Rossi")
    browser = await open_page()
    await browser.sign_in(tech.email)

    await browser.page.get_by_role("link", name="Luca Rossi").click()
    await expect(browser.page.get_by_role("heading", level=1)).to_have_text("Your account")
    await browser.page.get_by_label("Language of your pages").select_option(label="Deutsch")
    await browser.page.get_by_role("button", name="Save language").click()

    await expect(browser.page.get_by_role("heading", level=1)).to_have_text("Ihr Konto")
    await expect(browser.page.locator(".toast-success")).to_have_text("Ihre Sprache ist gespeichert.")
    await expect(browser.page.get_by_label("Sprache Ihrer Seiten")).to_have_value("de")
    await expect(browser.page.get_by_label("Aktuelles Passwort")).to_be_visible()
    await browser.page.get_by_role("link", name="Luca Rossi").click()
    await expect(browser.page.locator("html")).to_have_attribute("lang", "de-CH")
    assert browser.console_errors == []
