"""ERP sync against a local Odoo: a deal becomes one sale order, an invoice one account.move, a
purchase request one draft purchase.order (cancelled there when the request is cancelled here, never
made when it was cancelled first), a replay finds what Odoo already made, an Odoo that is down leaves
the jobs waiting ("unavailable, will retry") and invents nothing, and part levels come back through the
stock ledger, closing a request whose goods Odoo received."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from integrations.resilience import OPEN
from ops.db import utcnow
from ops.erp.models import ErpEventCursor
from ops.erp.queries import purchase_request_document, sales_order_document, sync_status_for
from ops.erp.service import enqueue_from_events, run_due_jobs
from ops.events import Event
from ops.workshop.models import PurchaseRequest, StockMovement
from ops.workshop.parts.service import cancel_purchase_request
from tests.erp.helpers import (
    PULL_EVERY,
    deal_made,
    invoiced_work_order,
    jobs_of,
    odoo_adapter,
    part_named,
    purchase_request_cancelled,
    purchase_requested,
    sync,
)
from tests.workshop.order_helpers import add_line, add_part


async def test_a_deal_becomes_one_sale_order_with_our_number_as_its_reference(runtime, factory, odoo):
    fake, server = odoo
    shop = await factory.tenant()
    deal = await deal_made(shop)
    adapter = odoo_adapter(server.url)

    await sync(runtime.db, adapter)
    await sync(runtime.db, adapter)

    reference = f"{shop.tenant.slug}/{deal.code}"
    orders = fake.find("sale.order", client_order_ref=reference)
    assert len(orders) == 1, "the accountant would find the sale twice in Odoo"
    order = orders[0]
    partner = fake.records["res.partner"][order["partner_id"]]
    assert partner["ref"] == f"{shop.tenant.slug}/C-{deal.customer_id:06d}"
    [(_zero, _none, line)] = order["order_line"]
    product = fake.records["product.product"][line["product_id"]]
    assert product["default_code"] in line["name"], "the car's VIN names the product sold"
    assert Decimal(str(line["price_unit"])) == Decimal("36900.00")
    [job] = await jobs_of(runtime.db, shop.id, "sales_order")
    assert (job.status, job.external_ref, job.document_number) == ("SYNCED", order["name"], deal.code)
    async with runtime.db.read(shop.id) as session:
        status = await sync_status_for(session, "deal", deal.id)
    assert status is not None and status.state == "synced" and f"({order['name']})" in status.text
    await adapter.aclose()


async def test_a_create_whose_answer_was_lost_is_found_on_the_retry_not_made_twice(runtime, factory, odoo):
    fake, server = odoo
    shop = await factory.tenant()
    deal = await deal_made(shop)
    # Odoo makes the order, then answers after our timeout: the retry must search before it creates.
    fake.stall_after_create = 1.5
    adapter = odoo_adapter(server.url, timeout=0.5)

    await sync(runtime.db, adapter)

    reference = f"{shop.tenant.slug}/{deal.code}"
    assert len(fake.find("sale.order", client_order_ref=reference)) == 1
    [job] = await jobs_of(runtime.db, shop.id, "sales_order")
    assert job.status == "SYNCED"
    # A replay of the whole job (a worker that died after Odoo answered) finds the same order.
    again = await adapter.push_sales_order(await sales_order_document(runtime.db, shop.id, deal.id))
    assert again == job.external_ref
    assert len(fake.find("sale.order", client_order_ref=reference)) == 1
    await adapter.aclose()


async def test_an_invoiced_work_order_becomes_a_customer_invoice_in_odoo(runtime, factory, odoo):
    fake, server = odoo
    shop = await factory.tenant()
    invoice = await invoiced_work_order(shop)
    adapter = odoo_adapter(server.url)

    await sync(runtime.db, adapter)

    [move] = fake.find("account.move", ref=f"{shop.tenant.slug}/{invoice.code}")
    assert move["move_type"] == "out_invoice" and move["payment_reference"] == move["ref"]
    [(_zero, _none, line)] = move["invoice_line_ids"]
    assert (line["name"], line["quantity"], line["price_unit"]) == ("Brake pads front, fitted", 1.5, 140.0)
    [job] = await jobs_of(runtime.db, shop.id, "invoice")
    assert job.status == "SYNCED" and job.external_ref == f"#{move['id']}"
    await adapter.aclose()


async def test_while_odoo_is_down_the_jobs_wait_and_nothing_is_invented_then_all_sync(runtime, factory, odoo):
    fake, server = odoo
    shop = await factory.tenant()
    first = await deal_made(shop)
    second = await deal_made(shop)
    adapter = odoo_adapter(server.url)
    await server.stop()

    await sync(runtime.db, adapter)
    later = utcnow() + timedelta(hours=2)
    await sync(runtime.db, adapter, later)

    jobs = await jobs_of(runtime.db, shop.id, "sales_order")
    assert [job.status for job in jobs] == ["PENDING", "PENDING"]
    assert all(
        job.unavailable and job.external_ref == "" and (job.next_attempt_at or later) > later for job in jobs
    )
    assert adapter.breaker.state == OPEN, "an ERP that is down should be left alone for a while"
    async with runtime.db.read(shop.id) as session:
        status = await sync_status_for(session, "deal", first.id)
    assert status is not None and status.state == "unavailable"
    assert status.text.startswith("ERP unavailable, will retry at")

    await server.start()
    adapter.breaker.reset_after = 0  # the breaker's wait is over
    await sync(runtime.db, adapter, utcnow() + timedelta(days=1))

    assert [job.status for job in await jobs_of(runtime.db, shop.id, "sales_order")] == ["SYNCED", "SYNCED"]
    for deal in (first, second):
        assert len(fake.find("sale.order", client_order_ref=f"{shop.tenant.slug}/{deal.code}")) == 1
    await adapter.aclose()


async def test_a_refused_document_says_why_and_when_it_is_tried_again(runtime, factory, odoo):
    fake, server = odoo
    shop = await factory.tenant()
    deal = await deal_made(shop)
    fake.refusals["sale.order"] = "No sales journal for CHF"
    adapter = odoo_adapter(server.url)

    await sync(runtime.db, adapter)

    [job] = await jobs_of(runtime.db, shop.id, "sales_order")
    assert job.status == "PENDING" and not job.unavailable and job.attempts == 1
    assert job.last_error == "No sales journal for CHF"
    async with runtime.db.read(shop.id) as session:
        status = await sync_status_for(session, "deal", deal.id)
    assert status is not None and status.state == "retrying"
    assert status.text.startswith("Failed: No sales journal for CHF, retrying at")
    assert adapter.breaker.state != OPEN, "a refusal is an answer, not an outage"
    await adapter.aclose()


async def test_a_pull_brings_stock_and_prices_through_the_ledger(runtime, factory, odoo):
    fake, server = odoo
    shop = await factory.tenant()
    pads = await add_part(shop, "BRK-100", "Brake pads", on_hand="5", price="10.00")
    oil = await add_part(shop, "OIL-5W30", "Engine oil 5W-30", on_hand="40", price="18.50", unit="l")
    filters = await add_part(shop, "FLT-9", "Oil filter", on_hand="3")
    fake.add(
        "product.product", default_code="BRK-100", qty_available=7.0, list_price=12.5, standard_price=8.0
    )
    # Odoo's floats: 37.5 l of oil, prices unchanged.
    fake.add(
        "product.product", default_code="OIL-5W30", qty_available=37.5, list_price=18.5, standard_price=0.0
    )
    adapter = odoo_adapter(server.url)

    await sync(runtime.db, adapter)

    pads_now = await part_named(runtime.db, shop.id, pads.id)
    assert (pads_now.on_hand, pads_now.price, pads_now.cost) == (
        Decimal("7.00"),
        Decimal("12.50"),
        Decimal("8.00"),
    )
    assert (await part_named(runtime.db, shop.id, oil.id)).on_hand == Decimal("37.50")
    assert (await part_named(runtime.db, shop.id, filters.id)).on_hand == Decimal("3.00"), "not in the ERP"
    async with runtime.db.read(shop.id) as session:
        movements = (
            (
                await session.execute(
                    select(StockMovement).where(StockMovement.reason == "ERP sync").order_by(StockMovement.id)
                )
            )
            .scalars()
            .all()
        )
        filter_status = await sync_status_for(session, "part", filters.id)
        pads_status = await sync_status_for(session, "part", pads.id)
    assert [(m.part_id, m.kind, m.on_hand_change) for m in movements] == [
        (pads.id, "ADJUST", Decimal("2.00")),
        (oil.id, "ADJUST", Decimal("-2.50")),
    ]
    assert filter_status is not None and filter_status.text == "Not synced from the ERP: not in the ERP"
    assert pads_status is not None and pads_status.state == "synced"

    # Nothing changed in Odoo: the next scheduled pull writes no movement.
    await sync(runtime.db, adapter, utcnow() + timedelta(hours=2))
    async with runtime.db.read(shop.id) as session:
        count = len(
            (await session.execute(select(StockMovement.id).where(StockMovement.reason == "ERP sync"))).all()
        )
    assert count == 2
    await adapter.aclose()


async def test_an_erp_level_below_what_jobs_reserved_is_refused_and_said(runtime, factory, odoo):
    fake, server = odoo
    shop = await factory.tenant()
    pads = await add_part(shop, "BRK-200", "Brake pads rear", on_hand="4")
    work_order = await shop.work_order(status="IN_PROGRESS")
    await add_line(shop, work_order, kind="PART", description="Pads", part=pads, quantity="3", reserved="3")
    fake.add(
        "product.product", default_code="BRK-200", qty_available=2.0, list_price=10.0, standard_price=0.0
    )
    adapter = odoo_adapter(server.url)

    await sync(runtime.db, adapter)

    assert (await part_named(runtime.db, shop.id, pads.id)).on_hand == Decimal("4.00")
    async with runtime.db.read(shop.id) as session:
        status = await sync_status_for(session, "part", pads.id)
    assert status is not None and status.state == "failed"
    assert "reserved" in status.text
    await adapter.aclose()


async def test_a_pull_while_odoo_is_down_changes_no_part(runtime, factory, odoo):
    fake, server = odoo
    shop = await factory.tenant()
    pads = await add_part(shop, "BRK-300", "Brake pads", on_hand="5", price="10.00")
    fake.add(
        "product.product", default_code="BRK-300", qty_available=0.0, list_price=99.0, standard_price=50.0
    )
    adapter = odoo_adapter(server.url)
    await server.stop()

    await sync(runtime.db, adapter)

    part = await part_named(runtime.db, shop.id, pads.id)
    assert (part.on_hand, part.price) == (Decimal("5.00"), Decimal("10.00"))
    [pull] = await jobs_of(runtime.db, shop.id, "parts_pull")
    assert pull.unavailable and pull.status == "PENDING"
    assert await jobs_of(runtime.db, shop.id, "part") == []
    await adapter.aclose()


async def test_each_dealership_sees_only_its_own_sync_jobs(runtime, factory, odoo):
    _fake, server = odoo
    ours, theirs = await factory.tenant(), await factory.tenant()
    deal = await deal_made(ours)
    adapter = odoo_adapter(server.url)

    await sync(runtime.db, adapter)

    assert [job.local_id for job in await jobs_of(runtime.db, ours.id, "sales_order")] == [deal.id]
    assert await jobs_of(runtime.db, theirs.id, "sales_order") == []
    async with runtime.db.read(theirs.id) as session:
        assert await sync_status_for(session, "deal", deal.id) is None
    await adapter.aclose()


async def test_two_workers_at_once_push_each_document_once(runtime, factory, odoo):
    fake, server = odoo
    shop = await factory.tenant()
    deals = [await deal_made(shop) for _ in range(3)]
    first, second = odoo_adapter(server.url), odoo_adapter(server.url)

    await asyncio.gather(sync(runtime.db, first), sync(runtime.db, second))

    for deal in deals:
        assert len(fake.find("sale.order", client_order_ref=f"{shop.tenant.slug}/{deal.code}")) == 1
    jobs = await jobs_of(runtime.db, shop.id, "sales_order")
    assert sorted(job.local_id for job in jobs) == sorted(deal.id for deal in deals)
    assert {job.status for job in jobs} == {"SYNCED"}
    await first.aclose()
    await second.aclose()


async def test_the_event_reader_moves_past_events_that_push_nothing(runtime, factory, odoo):
    _fake, server = odoo
    shop = await factory.tenant()
    await add_part(shop, "BRK-500", "Brake pads", on_hand="1")
    await shop.work_order(status="IN_PROGRESS")
    adapter = odoo_adapter(server.url)

    await sync(runtime.db, adapter)

    async with runtime.db.system() as session:
        newest = await session.scalar(select(func.max(Event.id)))
        cursor = await session.scalar(
            select(ErpEventCursor.last_event_id).where(ErpEventCursor.name == "erp")
        )
    # Otherwise every pass would read the same work-order moves again, a longer list each day.
    assert cursor == newest
    await adapter.aclose()


async def test_a_purchase_request_becomes_one_draft_rfq_even_when_its_answer_was_lost(runtime, factory, odoo):
    """Purchasing would order the same parts twice, or never hear of the reorder."""
    fake, server = odoo
    shop = await factory.tenant()
    vendor = fake.add("res.partner", name="Bosch", supplier_rank=1)
    # The pull in the same pass finds the levels Pitwall has, so only the request can change anything.
    product = fake.add(
        "product.product",
        name="Brake pads",
        default_code="BRK-100",
        qty_available=1.0,
        list_price=89.5,
        standard_price=40.0,
    )
    part, request = await purchase_requested(shop, supplier="Bosch", quantity="6")
    # Odoo makes the order, then answers after our timeout: the retry must search before it creates.
    fake.stall_after_create = 1.5
    adapter = odoo_adapter(server.url, timeout=0.5)

    await sync(runtime.db, adapter)
    await sync(runtime.db, adapter)

    reference = f"{shop.tenant.slug}/PR-000001"
    [order] = fake.find("purchase.order", origin=reference)
    assert (order["state"], order["partner_id"]) == ("draft", vendor), "the vendor Odoo already keeps"
    [(_zero, _none, line)] = order["order_line"]
    assert (line["product_id"], line["product_qty"], line["price_unit"]) == (product, 6.0, 40.0)
    assert len(fake.find("product.product", default_code="BRK-100")) == 1
    [job] = await jobs_of(runtime.db, shop.id, "purchase_request")
    assert (job.status, job.local_id, job.document_number, job.external_ref) == (
        "SYNCED",
        request.id,
        "PR-000001",
        order["name"],
    )
    again = await adapter.push_purchase_request(
        await purchase_request_document(runtime.db, shop.id, request.id)
    )
    assert again == order["name"] and len(fake.find("purchase.order")) == 1
    async with runtime.db.read(shop.id) as session:
        status = await sync_status_for(session, "purchase_request", request.id)
    assert status is not None and status.state == "synced" and f"({order['name']})" in status.text
    assert (await part_named(runtime.db, shop.id, part.id)).on_hand == Decimal("1.00"), (
        "ordered, not received"
    )
    await adapter.aclose()


async def test_a_part_without_a_supplier_goes_to_a_vendor_purchasing_chooses(runtime, factory, odoo):
    fake, server = odoo
    shop = await factory.tenant()
    await purchase_requested(shop, sku="FLT-9", supplier=None)
    fake.add("product.product", default_code="FLT-9", qty_available=1.0, list_price=89.5, standard_price=40.0)
    adapter = odoo_adapter(server.url)

    await sync(runtime.db, adapter)

    [order] = fake.find("purchase.order", origin=f"{shop.tenant.slug}/PR-000001")
    partner = fake.records["res.partner"][order["partner_id"]]
    assert (partner["name"], partner["ref"]) == (
        "Supplier to be chosen",
        f"{shop.tenant.slug}/supplier-to-choose",
    )
    product = fake.records["product.product"][order["order_line"][0][2]["product_id"]]
    assert product["default_code"] == "FLT-9", "Odoo's product is found by the part's SKU"
    await adapter.aclose()


# --- A cancelled purchase request -------------------------------------------------------------------------


def _odoo_product(fake, sku: str = "BRK-100", on_hand: float = 1.0) -> int:  # type: ignore[no-untyped-def]
    """The part as Odoo keeps it, at the level Pitwall has, so that the pull in each pass changes nothing."""
    return int(
        fake.add(
            "product.product",
            name="Brake pads",
            default_code=sku,
            qty_available=on_hand,
            list_price=89.5,
            standard_price=40.0,
        )
    )


async def _request_status(db, tenant_id: int, request_id: int):  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        return await sync_status_for(session, "purchase_request", request_id)


async def test_a_cancelled_request_cancels_its_draft_order_in_odoo_once(runtime, factory, odoo):
    """Purchasing would still order parts the workshop no longer wants."""
    fake, server = odoo
    shop = await factory.tenant()
    _odoo_product(fake)
    part, request = await purchase_requested(shop, quantity="6")
    adapter = odoo_adapter(server.url)
    await sync(runtime.db, adapter)
    [order] = fake.find("purchase.order", origin=f"{shop.tenant.slug}/PR-000001")
    assert order["state"] == "draft"

    await purchase_request_cancelled(shop, part, request)
    status = await _request_status(runtime.db, shop.id, request.id)
    assert (status.state, status.text) == ("waiting", "The cancellation is waiting to be sent to the ERP.")
    await sync(runtime.db, adapter)
    await sync(runtime.db, adapter, utcnow() + timedelta(days=1))

    [order] = fake.find("purchase.order", origin=f"{shop.tenant.slug}/PR-000001")
    assert order["state"] == "cancel"
    assert fake.calls.count(("purchase.order", "button_cancel")) == 1
    [cancellation] = await jobs_of(runtime.db, shop.id, "pr_cancellation")
    assert (cancellation.status, cancellation.local_id, cancellation.document_number) == (
        "SYNCED",
        request.id,
        "PR-000001",
    )
    assert cancellation.external_ref == order["name"]
    [push] = await jobs_of(runtime.db, shop.id, "purchase_request")
    assert push.status == "SYNCED", "the push went out; the cancellation follows it"
    status = await _request_status(runtime.db, shop.id, request.id)
    assert status.state == "synced" and status.text.startswith("Cancelled in the ERP ")
    assert status.text.endswith(f"({order['name']}).")
    await adapter.aclose()


async def test_a_request_cancelled_before_it_was_sent_never_reaches_odoo(runtime, factory, odoo):
    fake, server = odoo
    shop = await factory.tenant()
    _odoo_product(fake)
    part, request = await purchase_requested(shop)
    await purchase_request_cancelled(shop, part, request)
    adapter = odoo_adapter(server.url)

    await sync(runtime.db, adapter)
    await sync(runtime.db, adapter, utcnow() + timedelta(days=1))

    assert fake.find("purchase.order", origin=f"{shop.tenant.slug}/PR-000001") == []
    [push] = await jobs_of(runtime.db, shop.id, "purchase_request")
    [cancellation] = await jobs_of(runtime.db, shop.id, "pr_cancellation")
    assert (push.status, push.attempts, cancellation.status, cancellation.external_ref) == (
        "WITHDRAWN",
        0,
        "SYNCED",
        "",
    )
    assert push.claimed_until is None, "nothing was sent, so the ERP was not even asked"
    status = await _request_status(runtime.db, shop.id, request.id)
    assert (status.state, status.text) == (
        "synced",
        "Cancelled before it reached the ERP; nothing to cancel there.",
    )
    await adapter.aclose()


async def test_a_push_that_kept_failing_is_withdrawn_and_odoo_is_asked_all_the_same(runtime, factory, odoo):
    """A create can go through in Odoo before its answer is lost: a failed push may have made the order."""
    fake, server = odoo
    shop = await factory.tenant()
    _odoo_product(fake)
    part, request = await purchase_requested(shop)
    fake.refusals["purchase.order"] = "Purchase is not installed"
    adapter = odoo_adapter(server.url)
    await sync(runtime.db, adapter)
    [push] = await jobs_of(runtime.db, shop.id, "purchase_request")
    assert (push.status, push.attempts) == ("PENDING", 1)
    # Made in Odoo all the same (the refusal came after the create, say): the cancellation finds it.
    fake.add("purchase.order", name="P00042", origin=f"{shop.tenant.slug}/PR-000001", state="draft")

    await purchase_request_cancelled(shop, part, request)
    del fake.refusals["purchase.order"]
    await sync(runtime.db, adapter)
    await sync(runtime.db, adapter, utcnow() + timedelta(days=1))

    [order] = fake.find("purchase.order", origin=f"{shop.tenant.slug}/PR-000001")
    assert (order["name"], order["state"]) == ("P00042", "cancel"), "the retry after the cancel made none"
    [push] = await jobs_of(runtime.db, shop.id, "purchase_request")
    [cancellation] = await jobs_of(runtime.db, shop.id, "pr_cancellation")
    assert (push.status, cancellation.status, cancellation.external_ref) == ("WITHDRAWN", "SYNCED", "P00042")
    await adapter.aclose()


async def test_an_order_purchasing_confirmed_is_left_to_them_and_the_refusal_is_shown(runtime, factory, odoo):
    fake, server = odoo
    shop = await factory.tenant()
    _odoo_product(fake)
    part, request = await purchase_requested(shop)
    adapter = odoo_adapter(server.url)
    await sync(runtime.db, adapter)
    [order] = fake.find("purchase.order", origin=f"{shop.tenant.slug}/PR-000001")
    fake.records["purchase.order"][order["id"]]["state"] = "purchase"

    await purchase_request_cancelled(shop, part, request)
    await sync(runtime.db, adapter)

    assert fake.records["purchase.order"][order["id"]]["state"] == "purchase"
    status = await _request_status(runtime.db, shop.id, request.id)
    assert status.state == "retrying"
    assert (
        f"{order['name']} is already confirmed in Odoo (purchase); the purchasing team cancels it there"
        in (status.text)
    )
    await adapter.aclose()


async def test_a_cancel_while_the_push_is_on_its_way_waits_for_it_then_cancels_what_it_made(
    runtime, factory, odoo
):
    """Cancelling in the middle of the push must neither lose the order Odoo is making nor leave it open."""
    fake, server = odoo
    shop = await factory.tenant()
    _odoo_product(fake)
    adapter, second_worker = odoo_adapter(server.url, timeout=5.0), odoo_adapter(server.url)
    # Other tests' documents go first, so that only this request's push is on its way below, and
    # Odoo knows the vendor, so that the order is the one thing it makes (and stalls answering).
    await sync(runtime.db, adapter)
    fake.add("res.partner", name="Bosch", supplier_rank=1)
    part, request = await purchase_requested(shop)
    manager = await shop.user("workshop_manager", locale="en")
    reference = f"{shop.tenant.slug}/PR-000001"
    await enqueue_from_events(runtime.db, utcnow(), grace_seconds=0)
    fake.stall_after_create = 2.0
    pushing = asyncio.create_task(run_due_jobs(runtime.db, adapter, utcnow(), pull_every=PULL_EVERY))
    await fake.made("purchase.order", origin=reference)

    async with shop.db.uow(manager.actor) as uow:
        await cancel_purchase_request(uow, part.id, request.id, "Raised by mistake")
    now = utcnow()
    await enqueue_from_events(runtime.db, now, grace_seconds=0)
    await run_due_jobs(runtime.db, second_worker, now, pull_every=PULL_EVERY)
    [cancellation] = await jobs_of(runtime.db, shop.id, "pr_cancellation")
    assert (cancellation.status, cancellation.attempts) == ("PENDING", 0), "it waits, it does not fail"
    assert fake.find("purchase.order", origin=reference, state="draft")
    await pushing
    await sync(runtime.db, second_worker, now + timedelta(minutes=5))

    [order] = fake.find("purchase.order", origin=reference)
    assert order["state"] == "cancel"
    [cancellation] = await jobs_of(runtime.db, shop.id, "pr_cancellation")
    assert (cancellation.status, cancellation.external_ref) == ("SYNCED", order["name"])
    await adapter.aclose()
    await second_worker.aclose()


# --- Goods received in the ERP --------------------------------------------------------------------------


async def test_goods_received_in_the_erp_close_the_open_request(runtime, factory, odoo):
    """The request would stay open after the goods arrived, and the part could never be reordered."""
    fake, server = odoo
    shop = await factory.tenant()
    part, request = await purchase_requested(shop, quantity="6")
    _odoo_product(fake, on_hand=7.0)
    adapter = odoo_adapter(server.url)

    await sync(runtime.db, adapter)

    assert (await part_named(runtime.db, shop.id, part.id)).on_hand == Decimal("7.00")
    async with runtime.db.read(shop.id) as session:
        stored = (await session.execute(select(PurchaseRequest))).scalar_one()
        [closed] = (
            await session.execute(select(Event).where(Event.type == "part.purchase_request_received"))
        ).scalars()
    assert (stored.status, stored.id) == ("RECEIVED", request.id) and stored.received_at is not None
    assert (closed.payload["request_id"], closed.payload["number"]) == (request.id, "PR-000001")
    await adapter.aclose()


async def test_a_pull_that_lowers_or_keeps_the_stock_leaves_the_request_open(runtime, factory, odoo):
    fake, server = odoo
    shop = await factory.tenant()
    lowered, _first = await purchase_requested(shop, sku="BRK-100")
    _kept, _second = await purchase_requested(shop, sku="BRK-200")
    _odoo_product(fake, "BRK-100", on_hand=0.0)
    _odoo_product(fake, "BRK-200", on_hand=1.0)
    adapter = odoo_adapter(server.url)

    await sync(runtime.db, adapter)

    assert (await part_named(runtime.db, shop.id, lowered.id)).on_hand == Decimal("0.00")
    async with runtime.db.read(shop.id) as session:
        statuses = (await session.execute(select(PurchaseRequest.status))).scalars().all()
        received = await session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "part.purchase_request_received")
        )
    assert statuses == ["OPEN", "OPEN"] and received == 0
    await adapter.aclose()
