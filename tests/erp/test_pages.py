"""The ERP on the pages: the sync line on a deal, an invoice, a part and a purchase request (and its
cancellation), the parts page's pull and reorder actions, the integrations page, and who may see and do
what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from integrations.erp import ERP_BREAKER
from integrations.resilience import breaker
from ops.db import utcnow
from ops.erp.models import ErpSyncJob
from ops.workshop.models import PurchaseRequest
from tests.conftest import make_settings
from tests.erp.helpers import (
    deal_made,
    invoiced_work_order,
    jobs_of,
    odoo_adapter,
    purchase_request_cancelled,
    purchase_requested,
    sync,
)
from tests.erp.servers import ODOO_DB, ODOO_KEY, ODOO_LOGIN
from tests.web import sign_in
from tests.workshop.order_helpers import add_part
from tests.workshop.parts.stock import new_part


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


async def _text(response) -> str:  # type: ignore[no-untyped-def]
    return str(await response.get_data(as_text=True))


async def test_the_deal_page_shows_its_erp_line_waiting_then_synced(runtime, factory, client, odoo):
    fake, server = odoo
    shop = await factory.tenant()
    deal = await deal_made(shop)
    rep = await shop.user("sales_rep", locale="en")
    await sign_in(client, rep.email)

    page = await _text(await client.get(f"/sales/deals/{deal.id}"))
    line_url = f"/erp/status/deal/{deal.id}"
    assert f'id="erp-sync-deal-{deal.id}"' in page and f'hx-get="{line_url}"' in page
    assert "Not sent to the ERP." in await _text(await client.get(line_url))

    adapter = odoo_adapter(server.url)
    await sync(runtime.db, adapter)
    [order] = fake.find("sale.order", client_order_ref=f"{shop.tenant.slug}/{deal.code}")
    line = await _text(await client.get(line_url))
    assert "Synced to the ERP" in line and f"({order['name']})" in line and "erp-synced" in line
    assert 'hx-trigger="every 60s"' in line, "the line keeps itself fresh instead of loading in a loop"
    await adapter.aclose()


async def test_the_invoice_page_shows_when_odoo_is_unavailable(runtime, factory, client, odoo):
    _fake, server = odoo
    shop = await factory.tenant()
    invoice = await invoiced_work_order(shop)
    advisor = await shop.user("service_advisor", locale="en")
    await sign_in(client, advisor.email)
    adapter = odoo_adapter(server.url)
    await server.stop()

    await sync(runtime.db, adapter)

    page = await _text(await client.get(f"/workshop/invoices/{invoice.id}"))
    assert f'id="erp-sync-invoice-{invoice.id}"' in page
    line = await _text(await client.get(f"/erp/status/invoice/{invoice.id}"))
    assert "ERP unavailable, will retry at" in line and "erp-unavailable" in line
    await server.start()
    await adapter.aclose()


async def test_a_line_is_for_those_who_may_see_the_document_and_only_in_its_dealership(
    runtime, factory, client
):
    shop, other = await factory.tenant(), await factory.tenant()
    deal = await deal_made(shop)
    technician = await shop.user("technician", locale="en")
    stranger = await other.user("sales_manager", locale="en")

    await sign_in(client, technician.email)
    assert (await client.get(f"/erp/status/deal/{deal.id}")).status_code == 403
    client.cookie_jar.clear()
    await sign_in(client, stranger.email)
    assert (await client.get(f"/erp/status/deal/{deal.id}")).status_code == 404
    assert (await client.get(f"/erp/status/quote/{deal.id}")).status_code == 404


async def test_a_workshop_manager_pulls_stock_from_the_parts_page(runtime, factory, client, odoo):
    fake, server = odoo
    shop = await factory.tenant()
    part = await add_part(shop, "BRK-900", "Brake disc", on_hand="2")
    fake.add(
        "product.product", default_code="BRK-900", qty_available=6.0, list_price=80.0, standard_price=45.0
    )
    manager = await shop.user("workshop_manager", locale="en")
    csrf = await sign_in(client, manager.email)

    listing = await _text(await client.get("/workshop/parts"))
    assert "Pull stock and prices from the ERP" in listing
    answer = await client.post("/workshop/parts/erp-pull", form={"csrf_token": csrf})
    assert answer.status_code == 303

    [pull] = await jobs_of(runtime.db, shop.id, "parts_pull")
    assert pull.next_attempt_at is not None and pull.next_attempt_at <= utcnow()
    adapter = odoo_adapter(server.url)
    await sync(runtime.db, adapter)
    line = await _text(await client.get(f"/erp/status/part/{part.id}"))
    assert "Stock and prices synced from the ERP" in line
    part_page = await _text(await client.get(f"/workshop/parts/{part.id}"))
    assert "ERP sync" in part_page, "the ledger names where the change came from"
    await adapter.aclose()


async def test_a_technician_cannot_pull_and_sees_no_button(runtime, factory, client):
    shop = await factory.tenant()
    await add_part(shop, "BRK-901", "Brake disc", on_hand="2")
    technician = await shop.user("technician", locale="en")
    csrf = await sign_in(client, technician.email)

    assert "Pull stock and prices" not in await _text(await client.get("/workshop/parts"))
    answer = await client.post("/workshop/parts/erp-pull", form={"csrf_token": csrf})
    assert answer.status_code == 403
    async with runtime.db.read(shop.id) as session:
        assert (await session.scalars(select(ErpSyncJob).where(ErpSyncJob.kind == "parts_pull"))).all() == []


async def test_the_integrations_page_shows_each_provider_and_an_admin_sends_a_push_again(
    runtime, factory, client, odoo
):
    fake, server = odoo
    shop = await factory.tenant()
    deal = await deal_made(shop)
    fake.refusals["sale.order"] = "No sales journal for CHF"
    adapter = odoo_adapter(server.url)
    await sync(runtime.db, adapter)
    admin = await shop.user("admin", locale="en")
    csrf = await sign_in(client, admin.email)

    page = await _text(await client.get("/settings/integrations"))
    for provider in ("Odoo", "Stripe", "Outbound webhooks", "Mail"):
        assert provider in page
    assert "1 document waiting" in page and "No sales journal for CHF" in page
    assert f"Sales order {deal.code}" in page and "Send again now" in page

    [job] = await jobs_of(runtime.db, shop.id, "sales_order")
    later = utcnow() + timedelta(minutes=1)
    answer = await client.post(f"/settings/integrations/erp/{job.id}/retry", form={"csrf_token": csrf})
    assert answer.status_code == 303
    [job] = await jobs_of(runtime.db, shop.id, "sales_order")
    assert job.attempts == 0 and job.next_attempt_at is not None and job.next_attempt_at < later
    del fake.refusals["sale.order"]
    await sync(runtime.db, adapter)
    assert [j.status for j in await jobs_of(runtime.db, shop.id, "sales_order")] == ["SYNCED"]
    await adapter.aclose()


@pytest.mark.parametrize(
    ("role", "status"),
    [("workshop_manager", 200), ("sales_manager", 200), ("technician", 403), ("sales_rep", 403)],
)
async def test_who_sees_the_integrations_page(runtime, factory, client, role, status):
    shop = await factory.tenant()
    user = await shop.user(role, locale="en")
    await sign_in(client, user.email)
    answer = await client.get("/settings/integrations")
    assert answer.status_code == status
    if status == 200:
        assert "Send again now" not in await _text(answer), "only an admin sends pushes again"


async def test_only_an_admin_sends_a_push_again_and_only_their_own(runtime, factory, client, odoo):
    fake, server = odoo
    shop, other = await factory.tenant(), await factory.tenant()
    await deal_made(shop)
    fake.refusals["sale.order"] = "No sales journal for CHF"
    adapter = odoo_adapter(server.url)
    await sync(runtime.db, adapter)
    [job] = await jobs_of(runtime.db, shop.id, "sales_order")
    manager = await shop.user("workshop_manager", locale="en")
    retry_url = f"/settings/integrations/erp/{job.id}/retry"

    csrf = await sign_in(client, manager.email)
    assert (await client.post(retry_url, form={"csrf_token": csrf})).status_code == 403
    client.cookie_jar.clear()
    csrf = await sign_in(client, (await other.user("admin", locale="en")).email)
    assert (await client.post(retry_url, form={"csrf_token": csrf})).status_code == 404
    [unchanged] = await jobs_of(runtime.db, shop.id, "sales_order")
    assert unchanged.attempts == 1
    await adapter.aclose()


async def test_the_integrations_page_says_when_the_erps_circuit_is_open(runtime, factory, client):
    shop = await factory.tenant()
    admin = await shop.user("admin", locale="en")
    await sign_in(client, admin.email)
    circuit = breaker(ERP_BREAKER)
    for _attempt in range(circuit.failure_threshold):
        circuit.record_failure("connection refused")
    try:
        page = await _text(await client.get("/settings/integrations"))
    finally:
        circuit.record_success()

    assert '<tr id="integration-erp" class="integration-open">' in page
    assert "Unavailable (circuit open), will retry" in page and "connection refused" in page


async def test_a_reorder_from_the_part_page_goes_to_odoo_and_the_page_follows_it(
    runtime, factory, client, odoo
):
    fake, server = odoo
    shop = await factory.tenant()
    part = await new_part(
        shop, sku="BRK-910", name="Brake disc", stock="1", reorder_point="2", supplier="ATE"
    )
    fake.add(
        "product.product", default_code="BRK-910", qty_available=1.0, list_price=89.5, standard_price=40.0
    )
    manager = await shop.user("workshop_manager", locale="en")
    csrf = await sign_in(client, manager.email)
    page = await _text(await client.get(f"/workshop/parts/{part.id}"))
    assert "Sent to the ERP as a purchase request." in page

    answer = await client.post(
        f"/workshop/parts/{part.id}/purchase-request", form={"csrf_token": csrf, "quantity": "3"}
    )

    assert answer.status_code == 302
    page = await _text(await client.get(f"/workshop/parts/{part.id}"))
    assert "PR-000001 requested: 3 pc of BRK-910; it goes to the ERP in a moment." in page
    async with runtime.db.read(shop.id) as session:
        request_id = await session.scalar(select(PurchaseRequest.id))
    line_url = f"/erp/status/purchase_request/{request_id}"
    assert f'id="erp-sync-purchase_request-{request_id}"' in page and f'hx-get="{line_url}"' in page
    assert "Not sent to the ERP." in await _text(await client.get(line_url))
    adapter = odoo_adapter(server.url)
    await sync(runtime.db, adapter)
    [order] = fake.find("purchase.order", origin=f"{shop.tenant.slug}/PR-000001")
    line = await _text(await client.get(line_url))
    assert "Synced to the ERP" in line and f"({order['name']})" in line
    await adapter.aclose()


async def test_a_refused_purchase_request_is_listed_for_the_admin_to_send_again(
    runtime, factory, client, odoo
):
    fake, server = odoo
    shop = await factory.tenant()
    await purchase_requested(shop, sku="BRK-100")
    fake.add(
        "product.product", default_code="BRK-100", qty_available=1.0, list_price=89.5, standard_price=40.0
    )
    fake.refusals["purchase.order"] = "Purchase is not installed"
    adapter = odoo_adapter(server.url)
    await sync(runtime.db, adapter)
    csrf = await sign_in(client, (await shop.user("admin", locale="en")).email)

    page = await _text(await client.get("/settings/integrations"))

    assert "Purchase request PR-000001" in page and "Purchase is not installed" in page
    [job] = await jobs_of(runtime.db, shop.id, "purchase_request")
    answer = await client.post(f"/settings/integrations/erp/{job.id}/retry", form={"csrf_token": csrf})
    assert answer.status_code == 303
    del fake.refusals["purchase.order"]
    await sync(runtime.db, adapter)
    assert [j.status for j in await jobs_of(runtime.db, shop.id, "purchase_request")] == ["SYNCED"]
    assert len(fake.find("purchase.order")) == 1
    await adapter.aclose()


async def test_a_requests_erp_line_is_for_the_workshop_of_its_own_dealership(runtime, factory, client):
    shop, other = await factory.tenant(), await factory.tenant()
    _part, request = await purchase_requested(shop)
    line_url = f"/erp/status/purchase_request/{request.id}"

    await sign_in(client, (await shop.user("technician", locale="en")).email)
    assert (await client.get(line_url)).status_code == 200
    client.cookie_jar.clear()
    await sign_in(client, (await shop.user("sales_rep", locale="en")).email)
    assert (await client.get(line_url)).status_code == 403
    client.cookie_jar.clear()
    await sign_in(client, (await other.user("workshop_manager", locale="en")).email)
    assert (await client.get(line_url)).status_code == 404


async def test_a_request_cancelled_on_the_part_page_is_cancelled_in_odoo_and_the_page_says_so(
    runtime, factory, client, odoo
):
    fake, server = odoo
    shop = await factory.tenant()
    part, request = await purchase_requested(shop, sku="BRK-100")
    fake.add(
        "product.product", default_code="BRK-100", qty_available=1.0, list_price=89.5, standard_price=40.0
    )
    adapter = odoo_adapter(server.url)
    await sync(runtime.db, adapter)
    csrf = await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)
    page = await _text(await client.get(f"/workshop/parts/{part.id}"))
    assert "The ERP is told to cancel its order too." in page

    answer = await client.post(
        f"/workshop/parts/{part.id}/purchase-requests/{request.id}/cancel",
        form={"csrf_token": csrf, "reason": "Supplier discontinued the part"},
    )

    assert answer.status_code == 302
    page = await _text(await client.get(f"/workshop/parts/{part.id}"))
    assert "PR-000001 cancelled; the ERP hears of it in a moment." in page
    line_url = f"/erp/status/purchase_request/{request.id}"
    assert "The cancellation is waiting to be sent to the ERP." in await _text(await client.get(line_url))
    await sync(runtime.db, adapter)
    [order] = fake.find("purchase.order", origin=f"{shop.tenant.slug}/PR-000001")
    assert order["state"] == "cancel"
    line = await _text(await client.get(line_url))
    assert 'class="erp-sync no-print erp-synced"' in line
    assert "Cancelled in the ERP" in line and f"({order['name']})" in line
    await adapter.aclose()


async def test_a_refused_cancellation_is_listed_for_the_admin_and_a_withdrawn_push_is_not_sent_again(
    runtime, factory, client, odoo
):
    fake, server = odoo
    shop = await factory.tenant()
    part, confirmed = await purchase_requested(shop, sku="BRK-100")
    for sku in ("BRK-100", "BRK-200"):
        fake.add("product.product", default_code=sku, qty_available=1.0, list_price=89.5, standard_price=40.0)
    adapter = odoo_adapter(server.url)
    await sync(runtime.db, adapter)
    [order] = fake.find("purchase.order", origin=f"{shop.tenant.slug}/PR-000001")
    fake.records["purchase.order"][order["id"]]["state"] = "purchase"
    fake.refusals["purchase.order"] = "Purchase is not installed"
    other_part, refused = await purchase_requested(shop, sku="BRK-200")
    await sync(runtime.db, adapter)
    csrf = await sign_in(client, (await shop.user("admin", locale="en")).email)
    assert "Purchase request PR-000002" in await _text(await client.get("/settings/integrations"))

    await purchase_request_cancelled(shop, part, confirmed)
    await purchase_request_cancelled(shop, other_part, refused)
    await sync(runtime.db, adapter)
    page = await _text(await client.get("/settings/integrations"))

    assert "Purchase request cancellation PR-000001" in page
    assert f"{order['name']} is already confirmed in Odoo (purchase)" in page
    assert "PR-000002" not in page, "its request is cancelled: nothing is left to send"
    [withdrawn] = [
        job for job in await jobs_of(runtime.db, shop.id, "purchase_request") if job.local_id == refused.id
    ]
    assert withdrawn.status == "WITHDRAWN"
    answer = await client.post(f"/settings/integrations/erp/{withdrawn.id}/retry", form={"csrf_token": csrf})
    assert answer.status_code == 303
    assert "PR-000002 was cancelled; there is nothing to send." in await _text(
        await client.get("/settings/integrations")
    )
    [still] = [
        job for job in await jobs_of(runtime.db, shop.id, "purchase_request") if job.id == withdrawn.id
    ]
    assert still.status == "WITHDRAWN"
    assert fake.find("purchase.order", origin=f"{shop.tenant.slug}/PR-000002") == []
    await adapter.aclose()
