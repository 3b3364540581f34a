"""The generic ERP bridge against a middleware that verifies every push with the `standardwebhooks`
package: the signature, the stable webhook-id that makes a retry harmless, a wrong secret, the pull, and
a cancelled purchase request's cancellation (sent only when the request itself was)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from integrations.erp import ErpRejected, PartLevel
from integrations.resilience import ProviderUnavailable
from ops.db import utcnow
from tests.erp.conftest import MIDDLEWARE_SECRET
from tests.erp.helpers import (
    deal_made,
    generic_adapter,
    invoiced_work_order,
    jobs_of,
    purchase_request_cancelled,
    purchase_requested,
    sample_order,
    sync,
)


async def test_a_push_is_signed_verified_and_processed_once_when_sent_twice(middleware):
    receiver, server = middleware
    adapter = generic_adapter(server.url, MIDDLEWARE_SECRET)

    first = await adapter.push_sales_order(sample_order())
    again = await adapter.push_sales_order(sample_order())

    assert first == again == "SAP-0001"
    assert receiver.deliveries == ["pitwall-garage-deal-7", "pitwall-garage-deal-7"]
    [payload] = receiver.processed.values()
    assert payload["type"] == "erp.sales_order"
    assert payload["data"]["reference"] == "garage/D-000007" and payload["data"]["total"] == "39888.90"
    await adapter.aclose()


async def test_a_wrong_secret_is_refused_by_the_middleware_and_nothing_is_processed(middleware):
    receiver, server = middleware
    adapter = generic_adapter(server.url, "whsec_" + "QUJDREVGR0hJSktMTU5PUA==")

    with pytest.raises(ErpRejected, match="HTTP 401"):
        await adapter.push_invoice(sample_order())
    assert receiver.processed == {} and receiver.rejected == 1
    await adapter.aclose()


async def test_part_levels_are_read_from_the_pull_address(middleware):
    receiver, server = middleware
    receiver.levels = [
        {"sku": "BRK-1", "on_hand": "7", "price": "12.50", "cost": "8.00"},
        {"sku": "OIL-1", "on_hand": "37.5", "price": "18.90", "cost": "11.35"},
    ]
    adapter = generic_adapter(server.url, MIDDLEWARE_SECRET)

    levels = await adapter.pull_parts(["OIL-1"])

    assert levels == [PartLevel("OIL-1", Decimal("37.5"), Decimal("18.90"), Decimal("11.35"))]
    await adapter.aclose()


async def test_deals_and_invoices_reach_the_middleware_after_it_was_down(runtime, factory, middleware):
    receiver, server = middleware
    shop = await factory.tenant()
    deal = await deal_made(shop)
    invoice = await invoiced_work_order(shop)
    adapter = generic_adapter(server.url, MIDDLEWARE_SECRET)
    await server.stop()

    await sync(runtime.db, adapter)
    assert all(job.unavailable for job in await jobs_of(runtime.db, shop.id) if job.kind != "part")
    with pytest.raises(ProviderUnavailable):
        await adapter.pull_parts(["X"])

    await server.start()
    adapter.breaker.reset_after = 0
    await sync(runtime.db, adapter, utcnow() + timedelta(days=1))

    ids = {f"pitwall-{shop.tenant.slug}-deal-{deal.id}", f"pitwall-{shop.tenant.slug}-invoice-{invoice.id}"}
    assert ids <= set(receiver.processed)
    pushed = [job for job in await jobs_of(runtime.db, shop.id) if job.kind in ("sales_order", "invoice")]
    assert [job.status for job in pushed] == ["SYNCED", "SYNCED"]
    await adapter.aclose()


async def test_a_purchase_request_reaches_the_middleware_signed_and_once(runtime, factory, middleware):
    receiver, server = middleware
    shop = await factory.tenant()
    part, request = await purchase_requested(shop, sku="BRK-100", supplier="Bosch", quantity="6")
    adapter = generic_adapter(server.url, MIDDLEWARE_SECRET)

    await sync(runtime.db, adapter)
    await sync(runtime.db, adapter, utcnow() + timedelta(days=1))

    message_id = f"pitwall-{shop.tenant.slug}-purchase-request-{request.id}"
    assert receiver.deliveries == [message_id] and receiver.rejected == 0
    payload = receiver.processed[message_id]
    assert payload["type"] == "erp.purchase_request"
    data = payload["data"]
    assert (data["kind"], data["reference"], data["number"]) == (
        "purchase_request",
        f"{shop.tenant.slug}/PR-000001",
        "PR-000001",
    )
    assert data["supplier"]["name"] == "Bosch"
    assert data["lines"] == [
        {"description": part.name, "quantity": "6.00", "unit_price": "40.00", "sku": "BRK-100"}
    ]
    [job] = await jobs_of(runtime.db, shop.id, "purchase_request")
    assert (job.status, job.external_ref) == ("SYNCED", "SAP-0001")
    await adapter.aclose()


async def test_a_cancelled_request_reaches_the_middleware_as_a_signed_cancellation_once(
    runtime, factory, middleware
):
    receiver, server = middleware
    shop = await factory.tenant()
    part, request = await purchase_requested(shop, sku="BRK-100")
    adapter = generic_adapter(server.url, MIDDLEWARE_SECRET)
    await sync(runtime.db, adapter)

    await purchase_request_cancelled(shop, part, request, "Raised by mistake")
    await sync(runtime.db, adapter)
    await sync(runtime.db, adapter, utcnow() + timedelta(days=1))

    pushed = f"pitwall-{shop.tenant.slug}-purchase-request-{request.id}"
    cancelled = f"{pushed}-cancellation"
    assert receiver.deliveries == [pushed, cancelled] and receiver.rejected == 0
    payload = receiver.processed[cancelled]
    assert payload["type"] == "erp.purchase_request_cancellation"
    data = payload["data"]
    assert data == {
        "kind": "purchase_request_cancellation",
        "id": cancelled,
        "reference": f"{shop.tenant.slug}/PR-000001",
        "number": "PR-000001",
        "date": data["date"],
        "reason": "Raised by mistake",
        "erp_ref": "SAP-0001",
    }
    [job] = await jobs_of(runtime.db, shop.id, "pr_cancellation")
    assert (job.status, job.external_ref) == ("SYNCED", "SAP-0002")
    await adapter.aclose()


async def test_a_request_cancelled_before_it_was_sent_reaches_the_middleware_not_at_all(
    runtime, factory, middleware
):
    receiver, server = middleware
    shop = await factory.tenant()
    part, request = await purchase_requested(shop, sku="BRK-100")
    await purchase_request_cancelled(shop, part, request)
    adapter = generic_adapter(server.url, MIDDLEWARE_SECRET)

    await sync(runtime.db, adapter)
    await sync(runtime.db, adapter, utcnow() + timedelta(days=1))

    assert receiver.deliveries == []
    assert [job.status for job in await jobs_of(runtime.db, shop.id, "purchase_request")] == ["WITHDRAWN"]
    await adapter.aclose()
