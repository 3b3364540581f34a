"""Signing in with a browser: a mistyped password costs one retype, not two."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

pytestmark = pytest.mark.browser


async def test_after_a_wrong_password_the_email_stays_and_the_cursor_waits_in_the_password_field(
    open_page, shop
):
    advisor = await shop.user("service_advisor", locale="en")
    browser = await open_page()
    await browser.page.goto("/login")
    await expect(browser.page.get_by_label("Email")).to_be_focused()

    await browser.page.get_by_label("Email").fill(advisor.email)
    await browser.page.get_by_label("Password").fill("not-the-password")
    await browser.page.keyboard.press("Enter")

    await expect(browser.page.get_by_role("alert")).to_have_text("Email or password is not correct.")
    await expect(browser.page.get_by_label("Email")).to_have_value(advisor.email)
    await expect(browser.page.get_by_label("Password")).to_be_focused()
    await browser.page.keyboard.type(advisor.password)
    await browser.page.keyboard.press("Enter")
    await browser.page.wait_for_url("**/workshop/board")
