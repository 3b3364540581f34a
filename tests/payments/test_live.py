"""Live: a payment Stripe reports reaches the open pages at once: the invoice page's `invoice:<id>`
topic wakes it to re-fetch its payment section, and the rep of a deal whose card was declined gets a
toast; nobody watches another dealership's invoice."""

from __future__ import annotations

import httpx

from ops.payments.service import request_deal_deposit, request_invoice_payment, send_payment_request
from tests.factories import TenantFactory
from tests.payments.helpers import with_stripe
from tests.payments.stripe_server import FakeStripe, body_of, signature_header
from tests.sales.deals.helpers import make_deal
from tests.web import http_sign_in, open_sse
from tests.workshop.invoices.builders import make_invoice


async def _post(url: str, slug: str, event: dict) -> httpx.Response:  # type: ignore[type-arg]
    body = body_of(event)
    async with httpx.AsyncClient(base_url=url) as client:
        return await client.post(
            f"/hooks/stripe/{slug}", content=body, headers={"Stripe-Signature": signature_header(body)}
        )


async def test_an_invoice_paid_by_card_wakes_its_open_page(live_server, stripe: FakeStripe):
    db = live_server.runtime.db
    shop = await TenantFactory(db).tenant()
    advisor = await shop.user("service_advisor", locale="en")
    await with_stripe(shop)
    invoice = await make_invoice(
        shop, await shop.work_order(status="IN_PROGRESS"), [("LABOUR", "Service", "1", "120")]
    )
    async with db.uow(advisor.actor) as uow:
        payment = await request_invoice_payment(uow, invoice.id)
    payment = await send_payment_request(db, stripe.url, shop.id, payment.id)
    assert payment.provider_intent_id is not None

    async with (
        http_sign_in(live_server.url, advisor.email) as (client, _token),
        open_sse(client, f"invoice:{invoice.id}") as stream,
    ):
        answer = await _post(live_server.url, shop.tenant.slug, stripe.pay(payment.provider_intent_id))
        assert answer.status_code == 200

        woken = await stream.next()
        assert woken.event == "update" and 'class="invoice-changed"' in woken.data
        page = await client.get(f"/workshop/invoices/{invoice.id}", headers={"HX-Request": "true"})
        assert 'id="invoice-payment-status">Paid<' in page.text


async def test_a_declined_card_reaches_the_rep_as_a_toast(live_server, stripe: FakeStripe):
    db = live_server.runtime.db
    shop = await TenantFactory(db).tenant()
    rep = await shop.user("sales_rep", locale="en")
    await with_stripe(shop)
    deal = await make_deal(shop, rep)
    async with db.uow(rep.actor) as uow:
        payment = await request_deal_deposit(uow, deal.id)
    payment = await send_payment_request(db, stripe.url, shop.id, payment.id)
    assert payment.provider_intent_id is not None

    async with (
        http_sign_in(live_server.url, rep.email) as (client, _token),
        open_sse(client, f"user:{rep.actor.user_id}", f"customer:{deal.customer_id}") as stream,
    ):
        await _post(
            live_server.url,
            shop.tenant.slug,
            stripe.decline(payment.provider_intent_id, "Your card has insufficient funds."),
        )

        messages = [await stream.next(), await stream.next()]
        toasts = [m.data for m in messages if "toast" in m.data]
        assert len(toasts) == 1 and "the card payment failed: Your card has insufficient funds." in toasts[0]
        assert any("customer-changed" in m.data for m in messages)


async def test_another_dealerships_invoice_cannot_be_watched(live_server, stripe: FakeStripe):
    db = live_server.runtime.db
    factory = TenantFactory(db)
    shop, other = await factory.tenant(), await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    foreign = await make_invoice(
        other, await other.work_order(status="IN_PROGRESS"), [("LABOUR", "Service", "1", "120")]
    )

    async with http_sign_in(live_server.url, advisor.email) as (client, _token):
        response = await client.get("/live", params={"topic": f"invoice:{foreign.id}"})

    assert response.status_code == 404
