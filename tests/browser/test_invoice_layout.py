"""The staff invoice page keeps codes, numbers and the VIN whole, on a desk screen and on a phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect
from sqlalchemy import update

from ops.customers.models import Customer
from ops.vehicles.models import Vehicle
from tests.workshop.invoices.builders import make_invoice

pytestmark = pytest.mark.browser

# The lines the text of an element is laid out on: one box per line it takes.
LINES_SCRIPT = """
(element) => { const range = document.createRange(); range.selectNodeContents(element);
               return range.getClientRects().length; }
"""


@pytest.mark.parametrize("width", [1280, 390])
async def test_the_invoice_number_and_the_vin_each_stay_on_one_line(open_page, shop, tmp_path: Path, width):
    """The German labels (Rechnungsnummer, Fahrgestellnummer) squeezed their values, and the page showed
    "INV- / 000063" and the VIN over three lines."""
    advisor = await shop.user("service_advisor", locale="de")
    work_order = await shop.work_order(status="IN_PROGRESS")
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(Customer)
            .where(Customer.id == work_order.customer_id)
            .values(preferred_language="de", email="hans.huber23@example.ch")
        )
        await uow.session.execute(
            update(Vehicle).where(Vehicle.id == work_order.vehicle_id).values(vin="TMBDSH6J5S6889579")
        )
        await uow.commit()
    invoice = await make_invoice(
        shop, work_order, [("LABOUR", "Räderwechsel und Auswuchten", "0.7", "165.00")]
    )
    board = await open_page(phone=width < 720)
    page = board.page
    await page.set_viewport_size({"width": width, "height": 900})
    await board.sign_in(advisor.email)
    await page.goto(f"/workshop/invoices/{invoice.id}")
    document = page.locator("article.invoice")
    code = f"INV-{invoice.number:06d}"
    await expect(document.locator(".invoice-number")).to_have_text(code)

    await page.screenshot(path=str(tmp_path / f"invoice-{width}.png"), full_page=True)
    number_in_facts = document.locator(".invoice-facts dd").filter(has_text=code)
    vin = document.locator(".invoice-facts dd.vin")
    await expect(vin).to_have_text("TMBDSH6J5S6889579")
    for value in (document.locator(".invoice-number"), number_in_facts, vin):
        assert await value.evaluate(LINES_SCRIPT) == 1, await value.text_content()
    assert await page.evaluate("document.documentElement.scrollWidth") == width
