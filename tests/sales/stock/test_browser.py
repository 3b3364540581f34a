"""The stock list in headless Chromium: it follows holds live without a reload, filters in place, and a
rep whose hold expires sees a toast at once, on a wall-sized screen and on a phone."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from playwright.async_api import expect

from ops.sales.stock.service import expire_holds, reserve_unit
from tests.browser.conftest import browser, open_page, shop  # noqa: F401  (the browser fixtures)

pytestmark = pytest.mark.browser
# Where the screenshots for looking at the page by eye go (PITWALL_SCREENSHOTS=/tmp/shots).
SCREENSHOTS = os.environ.get("PITWALL_SCREENSHOTS")


async def _stock(shop):  # type: ignore[no-untyped-def]  # noqa: F811
    octavia = await shop.trim(
        make="Skoda", model="Octavia Combi", year=2025, trim="Style 2.0 TDI", fuel_type="DIESEL"
    )
    enyaq = await shop.trim(
        make="Skoda", model="Enyaq", year=2025, trim="85x", body_style="SUV", fuel_type="ELECTRIC"
    )
    golf = await shop.trim(make="VW", model="Golf", year=2024, trim="Life 1.5 eTSI", body_style="HATCHBACK")
    units = [
        await shop.stock_unit(trim=octavia, colour="Moon white", list_price="41350.00", days_in_stock=12),
        await shop.stock_unit(trim=enyaq, colour="Race blue", list_price="58900.00", days_in_stock=48),
        await shop.stock_unit(
            trim=enyaq, colour="Graphite grey", list_price="49500.00", mileage_km=8400, status="DEMO"
        ),
        await shop.stock_unit(trim=golf, colour="Kings red", list_price="33990.00", days_in_stock=96),
        await shop.stock_unit(
            trim=golf, colour="Deep black", list_price="31500.00", days_in_stock=None, status="INCOMING"
        ),
    ]
    return units


async def test_the_stock_list_follows_a_hold_live_and_filters_in_place(open_page, shop):  # noqa: F811
    """A rep with the list open would offer a car another rep had just reserved."""
    rep = await shop.user("sales_rep", locale="en", name="Rita Rep")
    colleague = await shop.user("sales_rep", locale="en", name="Sam Second")
    units = await _stock(shop)
    desk, phone = await open_page(), await open_page(phone=True)
    for tab in (desk, phone):
        await tab.sign_in(rep.email)
        await tab.page.goto("/sales/stock")
        await tab.wait_until_live()
        await tab.page.evaluate("window.sameDocument = true")

    async with shop.db.uow(colleague.actor) as uow:
        await reserve_unit(uow, units[0].id, (await shop.lead(first_name="Hans", last_name="Meier")).id)

    for tab in (desk, phone):
        row = tab.page.locator(f"#unit-{units[0].id}")
        await expect(row.locator(".badge.unit-status")).to_have_text("Reserved")
        await expect(row.locator(".holder")).to_contain_text("Held by Sam Second for Hans Meier until")
    await expect(desk.announcer).to_have_text("Sam Second reserved a unit.")
    if SCREENSHOTS:
        await desk.page.screenshot(path=f"{SCREENSHOTS}/stock_list_desktop.png", full_page=True)
        await phone.page.screenshot(path=f"{SCREENSHOTS}/stock_list_phone.png", full_page=True)

    await desk.page.get_by_label("Body style").select_option("SUV")
    rows = desk.page.locator(".stock-table tbody tr")
    await expect(rows).to_have_count(2)
    await expect(desk.page).to_have_url(re.compile(r"/sales/stock\?body_style=SUV$"))
    await desk.page.get_by_label("Sort by").select_option("-price")
    await expect(rows.first).to_contain_text("Race blue")
    for tab in (desk, phone):
        assert await tab.page.evaluate("window.sameDocument === true"), "the list reloaded"
        assert tab.console_errors == []
        assert await tab.csp_violations() == []


async def test_a_rep_sees_a_toast_the_moment_their_hold_expires(open_page, shop):  # noqa: F811
    rep = await shop.user("sales_rep", locale="en")
    trim = await shop.trim(make="Skoda", model="Enyaq", trim="85")
    unit = await shop.stock_unit(trim=trim, vin="TMBJC7NY5RF000042")
    async with shop.db.uow(rep.actor) as uow:
        held = await reserve_unit(
            uow, unit.id, (await shop.lead(owner=rep, first_name="Hans", last_name="Meier")).id
        )
    assert held.expires_at is not None
    tab = await open_page(phone=True)
    await tab.sign_in(rep.email)
    await tab.page.goto(f"/sales/stock/{unit.id}")
    await tab.wait_until_live()

    await expire_holds(shop.db, held.expires_at + timedelta(seconds=1))

    await expect(tab.toast("info")).to_have_text(
        "Your hold on Skoda Enyaq 85 (000042) for Hans Meier expired; the unit is available again."
    )
    await expect(tab.page.locator(".unit-status-line .badge")).to_have_text("Available")
    if SCREENSHOTS:
        await tab.page.screenshot(path=f"{SCREENSHOTS}/unit_toast_phone.png", full_page=True)
    assert tab.console_errors == []
