"""The fleet board and a vehicle's page in two browsers: a reading posted in Traccar's format raises a
critical alert that appears on both without reload (a toast and the header badge too), and a normal
reading clears it again."""

from __future__ import annotations

import os

import httpx
import pytest
from playwright.async_api import expect

from tests.vehicles.telemetry.helpers import ago, traccar_position, traccar_secret, tracked_vehicle

pytestmark = pytest.mark.browser

SCREENSHOTS = os.environ.get("PITWALL_SCREENSHOTS")


async def _post_reading(base_url: str, slug: str, secret: str, unique_id: str, coolant_c: float) -> None:
    body = traccar_position(unique_id, ago(0), coolantTemp=coolant_c, power=12.6)
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.post(
            f"/hooks/traccar/{slug}", json=body, headers={"Authorization": f"Bearer {secret}"}
        )
    assert response.status_code < 300, response.text


async def test_a_critical_reading_shows_on_the_board_and_the_vehicle_page_and_clears(
    open_page, shop, live_server
):
    """The manager's wall screen and the advisor's open vehicle page must both show the overheating
    engine at once, and drop it when the engine reads normal again, without anyone reloading."""
    manager = await shop.user("workshop_manager", locale="en")
    advisor = await shop.user("service_advisor", locale="en")
    vehicle, unique_id, _token = await tracked_vehicle(shop)
    secret = await traccar_secret(shop)

    board, profile = await open_page(), await open_page()
    await board.sign_in(manager.email)
    await board.page.goto("/fleet/board")
    await board.wait_until_live()
    await profile.sign_in(advisor.email)
    await profile.page.goto(f"/vehicles/{vehicle.id}")
    await profile.wait_until_live()
    for page in (board, profile):
        await page.page.evaluate("window.sameDocument = true")
    await expect(board.page.locator("#fleet-alerts-critical")).to_have_count(0)
    await expect(profile.page.locator("#vehicle-live")).to_contain_text("No open alerts.")

    await _post_reading(live_server.url, shop.tenant.slug, secret, unique_id, 120.0)

    critical = board.page.locator("#fleet-alerts-critical .fleet-item")
    await expect(critical).to_have_count(1)
    await expect(critical).to_contain_text("Engine overheating")
    await expect(board.page.locator("#toasts .toast-critical")).to_contain_text("Critical alert on")
    await expect(board.page.locator("#fleet-alert-badge")).to_have_text("1 critical alert")
    await expect(profile.page.locator("#vehicle-live .alert-critical")).to_contain_text("Engine overheating")
    await expect(profile.page.locator("#vehicle-live")).to_contain_text("120 °C")
    # The advisor's header watches the fleet too: a critical alert reaches them on any page.
    await expect(profile.page.locator("#toasts .toast-critical")).to_contain_text("Critical alert on")
    await expect(profile.page.locator("#fleet-alert-badge")).to_have_text("1 critical alert")
    if SCREENSHOTS:
        await board.page.screenshot(path=f"{SCREENSHOTS}/fleet-board-live.png", full_page=True)
        await profile.page.screenshot(path=f"{SCREENSHOTS}/vehicle-live.png", full_page=True)

    await _post_reading(live_server.url, shop.tenant.slug, secret, unique_id, 90.0)

    await expect(critical).to_have_count(0)
    await expect(board.page.locator("#fleet-alert-badge")).to_be_hidden()
    await expect(profile.page.locator("#vehicle-live")).to_contain_text("No open alerts.")
    await expect(profile.page.locator("#vehicle-live")).to_contain_text("90 °C")
    await expect(profile.page.locator("#fleet-alert-badge")).to_be_hidden()
    for page in (board, profile):
        assert await page.page.evaluate("window.sameDocument === true"), "a page reloaded"
        assert await page.csp_violations() == []
