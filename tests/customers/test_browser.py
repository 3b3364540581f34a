"""The CRM pages in headless Chromium: search as you type, log a note without a reload, and the page
following what happens to the customer elsewhere; on a desktop and on a phone."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import expect

from ops.customers.service import log_interaction, record_consent
from ops.db import utcnow
from ops.sales.leads.service import move_lead
from tests.browser.conftest import browser, open_page, shop  # noqa: F401  (the browser fixtures)
from tests.customers.helpers import new_customer, sales_history

pytestmark = pytest.mark.browser
# Set to an existing folder to keep screenshots of the pages for a look by eye.
SCREENSHOTS = os.environ.get("PITWALL_SCREENSHOTS")


async def _shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if SCREENSHOTS:
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
async def test_find_a_customer_by_typing_and_log_a_call(open_page, shop, phone):  # noqa: F811
    """A rep with a caller on the line must find the customer and note the call in seconds."""
    rep = await shop.user("sales_rep", locale="en", name="Rita Rep")
    anna = await new_customer(
        shop,
        email="anna@example.ch",
        phone="079 123 45 67",
        city="Zürich",
        address_line="Bahnhofstrasse 1",
        postal_code="8001",
        budget_min="30000",
        budget_max="45000",
        vehicle_interests="Enyaq, Octavia Combi",
    )
    for first, last in (("Beat", "Keller"), ("Carla", "Rossi"), ("Anton", "Meier")):
        await new_customer(shop, first_name=first, last_name=last)
    async with shop.db.uow(rep.actor) as uow:
        await record_consent(uow, anna.id, "EMAIL", True, "Signed form in the showroom")
    lead, _quote, _deal = await sales_history(shop, anna.id, at=utcnow() - timedelta(days=2))
    view = await open_page(phone=phone)
    await view.sign_in(rep.email)
    page = view.page

    await page.goto("/customers")
    await expect(page.locator(".customer-row")).to_have_count(4)
    await page.evaluate("window.sameDocument = true")
    await page.keyboard.type("079 123")
    await expect(page.locator(".customer-row")).to_have_count(1)
    await expect(page.locator(".customer-name")).to_have_text("Anna Muster")
    assert "q=079+123" in page.url or "q=079%20123" in page.url, "the address follows the search"
    assert await page.evaluate("window.sameDocument === true"), "the search reloaded the page"
    await _shoot(page, f"search-{'phone' if phone else 'desktop'}")

    await page.locator(".customer-name").click()
    await page.wait_for_url(f"**/customers/{anna.id}")
    await view.wait_until_live()
    await page.evaluate("window.sameDocument = true")
    await page.get_by_label("Subject").fill("Asked about winter tyres")
    await page.get_by_label("Notes").fill("Call back with prices")
    await page.get_by_role("button", name="Log", exact=True).click()
    timeline = page.locator("#customer-timeline")
    await expect(timeline.locator(".entry").first).to_contain_text("Asked about winter tyres")
    await expect(page.get_by_label("Subject")).to_have_value("")

    # Another area moves the customer's lead: the page re-fetches and shows it without a reload.
    async with shop.db.uow(shop.admin.actor) as uow:
        await move_lead(uow, lead.id, "NEGOTIATION", expected_version=lead.version)
    await expect(timeline.locator(".entry-lead .status-pill")).to_have_text("Negotiation")
    assert await page.evaluate("window.sameDocument === true"), "the customer page reloaded"
    assert view.console_errors == []
    assert await view.csp_violations() == []
    await _shoot(page, f"customer-{'phone' if phone else 'desktop'}")
    if phone:
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width}px wide on a 390px phone"


async def test_a_change_that_comes_while_the_page_refreshes_is_not_lost(open_page, shop):  # noqa: F811
    """The timeline fetches itself again on each live signal. A signal that comes while the previous
    fetch is still on its way must still be shown once that fetch's answer replaces the timeline."""
    rep = await shop.user("sales_rep", locale="en")
    anna = await new_customer(shop)
    lead, _quote, _deal = await sales_history(shop, anna.id, at=utcnow() - timedelta(days=2))
    view = await open_page()
    await view.sign_in(rep.email)
    page = view.page
    await page.goto(f"/customers/{anna.id}")
    await view.wait_until_live()

    # Hold the answer of the timeline's first re-fetch, read before the lead moves, on its way.
    on_its_way, release, profile_fetched_again = asyncio.Event(), asyncio.Event(), asyncio.Event()
    profile_fetches: list[str] = []

    async def hold_first_timeline_answer(route):  # type: ignore[no-untyped-def]
        target = route.request.headers.get("hx-target")
        if target == "customer-profile":
            profile_fetches.append(route.request.url)
            if len(profile_fetches) >= 2:
                profile_fetched_again.set()
        if target != "customer-timeline" or on_its_way.is_set():
            await route.continue_()
            return
        answer = await route.fetch()
        on_its_way.set()
        await release.wait()
        await route.fulfill(response=answer)

    await page.route(f"**/customers/{anna.id}*", hold_first_timeline_answer)
    async with shop.db.uow(shop.admin.actor) as uow:
        await log_interaction(uow, anna.id, "CALL", "PHONE", "Asked about winter tyres")
    await asyncio.wait_for(on_its_way.wait(), 15)
    async with shop.db.uow(shop.admin.actor) as uow:
        await move_lead(uow, lead.id, "NEGOTIATION", expected_version=lead.version)
    # The profile, fetched again for the same signal, shows that the page heard of the move.
    await asyncio.wait_for(profile_fetched_again.wait(), 15)
    release.set()

    timeline = page.locator("#customer-timeline")
    await expect(timeline.locator(".entry").first).to_contain_text("Asked about winter tyres")
    await expect(timeline.locator(".entry-lead .status-pill")).to_have_text("Negotiation")
    assert view.console_errors == []
