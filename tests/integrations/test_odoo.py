"""The Odoo adapter against a local server that speaks Odoo's /jsonrpc: the calls it makes, that a
push is found and not made twice, how it tells a refusal from an outage, part levels as Decimal, and a
cancelled purchase request's draft order cancelled once (a confirmed one left to purchasing)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from integrations.erp import ErpRejected
from integrations.erp.odoo import OdooErp
from integrations.resilience import CLOSED, OPEN, ProviderUnavailable
from tests.erp.helpers import odoo_adapter, sample_cancellation, sample_order, sample_purchase_request
from tests.erp.servers import ODOO_DB, ODOO_LOGIN


async def test_a_sale_order_is_made_once_with_its_partner_product_and_country(odoo):
    fake, server = odoo
    adapter = odoo_adapter(server.url)

    first = await adapter.push_sales_order(sample_order())
    second = await adapter.push_sales_order(sample_order())

    assert first == second == "S00001"
    [partner] = fake.find("res.partner", ref="garage/C-000003")
    assert (partner["name"], partner["email"]) == ("Anna Muster", "anna@example.ch")
    assert fake.records["res.country"][partner["country_id"]]["code"] == "CH"
    assert len(fake.find("product.product", default_code="WVWZZZ1JZXW000001")) == 1
    creates = [call for call in fake.calls if call[1] == "create"]
    assert creates == [("res.partner", "create"), ("product.product", "create"), ("sale.order", "create")]
    await adapter.aclose()


async def test_a_wrong_api_key_is_a_refusal_that_names_the_login_and_keeps_the_breaker_closed(odoo):
    _fake, server = odoo
    adapter = OdooErp(
        server.url, database=ODOO_DB, login=ODOO_LOGIN, api_key="wrong", breaker_name="erp-test-key"
    )

    with pytest.raises(ErpRejected, match="refused the login"):
        await adapter.push_sales_order(sample_order())
    assert adapter.breaker.state == CLOSED
    await adapter.aclose()


async def test_odoos_own_error_message_comes_back_as_the_reason(odoo):
    fake, server = odoo
    fake.refusals["sale.order"] = "The partner has no pricelist"
    adapter = odoo_adapter(server.url)

    with pytest.raises(ErpRejected, match="The partner has no pricelist"):
        await adapter.push_sales_order(sample_order())
    assert fake.find("sale.order") == []
    await adapter.aclose()


async def test_an_odoo_that_is_down_is_unavailable_and_its_breaker_opens(odoo):
    _fake, server = odoo
    adapter = odoo_adapter(server.url)
    await server.stop()

    for _attempt in range(2):
        with pytest.raises(ProviderUnavailable):
            await adapter.pull_parts(["BRK-1"])
    assert adapter.breaker.state == OPEN
    with pytest.raises(ProviderUnavailable):
        await adapter.push_sales_order(sample_order())
    await server.start()
    await adapter.aclose()


async def test_part_levels_come_back_as_exact_decimals(odoo):
    fake, server = odoo
    fake.add(
        "product.product", default_code="OIL-1", qty_available=4.5, list_price=18.9, standard_price=11.35
    )
    fake.add("product.product", default_code="OTHER", qty_available=1.0, list_price=1.0, standard_price=1.0)
    adapter = odoo_adapter(server.url)

    [level] = await adapter.pull_parts(["OIL-1"])

    assert (level.sku, level.on_hand, level.price, level.cost) == (
        "OIL-1",
        Decimal("4.5"),
        Decimal("18.9"),
        Decimal("11.35"),
    )
    assert await adapter.pull_parts([]) == []
    await adapter.aclose()


async def test_a_purchase_request_is_one_draft_rfq_for_odoos_product_with_a_new_vendor(odoo):
    fake, server = odoo
    product = fake.add("product.product", name="Brake pads", default_code="BRK-100")
    adapter = odoo_adapter(server.url)

    first = await adapter.push_purchase_request(sample_purchase_request())
    second = await adapter.push_purchase_request(sample_purchase_request())

    assert first == second == "P00001"
    [order] = fake.find("purchase.order", origin="garage/PR-000003")
    assert order["state"] == "draft"
    vendor = fake.records["res.partner"][order["partner_id"]]
    assert (vendor["name"], vendor["ref"], vendor["supplier_rank"]) == (
        "Bosch AG",
        "garage/supplier/Bosch AG",
        1,
    )
    [(_zero, _none, line)] = order["order_line"]
    assert (line["product_id"], line["product_qty"], line["price_unit"]) == (product, 6.0, 40.0)
    creates = [call for call in fake.calls if call[1] == "create"]
    assert creates == [("res.partner", "create"), ("purchase.order", "create")]
    await adapter.aclose()


async def test_a_purchase_request_for_a_part_odoo_does_not_know_is_refused_and_makes_nothing(odoo):
    """A product made here would have no stock, and the next pull would empty the part's shelf."""
    fake, server = odoo
    adapter = odoo_adapter(server.url)

    with pytest.raises(ErpRejected, match="no product with the internal reference BRK-100 in Odoo"):
        await adapter.push_purchase_request(sample_purchase_request())

    assert fake.find("purchase.order") == [] and fake.find("product.product") == []
    await adapter.aclose()


async def test_a_cancellation_cancels_the_draft_rfq_by_its_name_or_our_reference_and_only_once(odoo):
    fake, server = odoo
    fake.add("product.product", name="Brake pads", default_code="BRK-100")
    adapter = odoo_adapter(server.url)
    name = await adapter.push_purchase_request(sample_purchase_request())

    by_name = await adapter.cancel_purchase_request(sample_cancellation(erp_ref=name))
    again = await adapter.cancel_purchase_request(sample_cancellation())

    assert by_name == again == name == "P00001"
    [order] = fake.find("purchase.order")
    assert order["state"] == "cancel"
    assert fake.calls.count(("purchase.order", "button_cancel")) == 1, "a cancelled order is left alone"
    await adapter.aclose()


async def test_a_cancellation_odoo_has_no_order_for_changes_nothing(odoo):
    fake, server = odoo
    adapter = odoo_adapter(server.url)

    assert await adapter.cancel_purchase_request(sample_cancellation()) == ""
    assert ("purchase.order", "button_cancel") not in fake.calls
    await adapter.aclose()


@pytest.mark.parametrize("state", ["purchase", "done"])
async def test_an_order_purchasing_confirmed_is_refused_not_cancelled(odoo, state):
    """Confirmed, the order went to the supplier: calling it off is the purchasing team's decision."""
    fake, server = odoo
    order = fake.add("purchase.order", name="P00007", origin="garage/PR-000003", state=state)
    adapter = odoo_adapter(server.url)

    with pytest.raises(ErpRejected, match=f"P00007 is already confirmed in Odoo \\({state}\\)"):
        await adapter.cancel_purchase_request(sample_cancellation())

    assert fake.records["purchase.order"][order]["state"] == state
    assert ("purchase.order", "button_cancel") not in fake.calls
    await adapter.aclose()
