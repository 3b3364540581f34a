"""In Chromium: the deal page loads its ERP line by itself and the line says the sale order's name;
the integrations page lists the providers; a part at its reorder point is reordered from the parts
list and its request's ERP line names the RFQ. Screenshots land in /tmp for a look by eye."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.conftest import LiveServer, make_settings
from tests.erp.helpers import deal_made, odoo_adapter, sync
from tests.erp.servers import ODOO_DB, ODOO_KEY, ODOO_LOGIN
from tests.factories import PASSWORD, TenantFactory
from tests.workshop.parts.stock import new_part

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(backend, tmp_path, odoo):  # type: ignore[no-untyped-def]
    _fake, server = odoo
    return make_settings(
        backend,
        tmp_path,
        erp="odoo",
        erp_url=server.url,
        erp_db=ODOO_DB,
        erp_user=ODOO_LOGIN,
        erp_api_key=ODOO_KEY,
        erp_event_grace_seconds=0.0,
    )


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            await browser.close()


async def test_a_manager_reads_the_sale_orders_name_on_the_deal_and_the_providers_on_one_page(
    live_server: LiveServer, chromium: Browser, odoo, backend
):
    fake, server = odoo
    db = live_server.runtime.db
    shop = await TenantFactory(db).tenant()
    deal = await deal_made(shop)
    adapter = odoo_adapter(server.url)
    await sync(db, adapter)
    [order] = fake.find("sale.order", client_order_ref=f"{shop.tenant.slug}/{deal.code}")
    context = await chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto("/login")
    admin = await shop.user("admin", locale="en")
    await page.get_by_label("Email").fill(admin.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/workshop/board")

    await page.goto(f"/sales/deals/{deal.id}")
    line = page.locator(f"#erp-sync-deal-{deal.id}")
    await expect(line).to_contain_text("Synced to the ERP")
    await expect(line).to_contain_text(f"({order['name']})")
    await page.screenshot(path=f"/tmp/h5-deal-{backend.name}.png", full_page=True)

    await page.goto("/settings/integrations")
    await expect(page.locator("#integration-erp")).to_contain_text("Odoo")
    await expect(page.locator("#integration-mail")).to_be_visible()
    await page.screenshot(path=f"/tmp/h5-integrations-{backend.name}.png", full_page=True)
    await context.close()
    await adapter.aclose()


async def test_a_manager_reorders_a_part_from_the_parts_list_and_sees_the_rfq_in_odoo(
    live_server: LiveServer, chromium: Browser, odoo, backend
):
    fake, server = odoo
    db = live_server.runtime.db
    shop = await TenantFactory(db).tenant()
    part = await new_part(
        shop, sku="BRK-920", name="Brake disc", stock="3", reorder_point="4", supplier="ATE"
    )
    fake.add(
        "product.product", default_code="BRK-920", qty_available=3.0, list_price=89.5, standard_price=40.0
    )
    manager = await shop.user("workshop_manager", locale="en")
    context = await chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto("/login")
    await page.get_by_label("Email").fill(manager.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/workshop/board")

    await page.goto("/workshop/parts")
    await page.locator(f"#part-{part.id}").get_by_role("link", name="Request reorder").click()
    await page.wait_for_url(f"**/workshop/parts/{part.id}#reorder")
    await expect(page.locator("#reorder-quantity")).to_have_value("5")
    await page.locator("#reorder-quantity").fill("6")
    await page.locator("#reorder").get_by_role("button", name="Request reorder").click()
    await expect(page.get_by_text("PR-000001 requested: 6 pc of BRK-920")).to_be_visible()
    # The open request replaces the form, so nobody asks twice.
    await expect(page.locator("#reorder-quantity")).to_have_count(0)
    await expect(page.locator("#reorder")).to_contain_text("PR-000001 for 6 pc of BRK-920 is still open")

    adapter = odoo_adapter(server.url)
    await sync(db, adapter)
    [order] = fake.find("purchase.order", origin=f"{shop.tenant.slug}/PR-000001")
    await page.reload()
    line = page.locator("#part-requests .erp-sync")
    await expect(line).to_contain_text("Synced to the ERP")
    await expect(line).to_contain_text(f"({order['name']})")
    await page.screenshot(path=f"/tmp/erp-reorder-{backend.name}.png", full_page=True)
    await context.close()
    await adapter.aclose()
