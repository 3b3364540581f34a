"""An invoice paid by card through Stripe or by hand at the desk, on both backends: PAID once, with when
and how; a second payment is refused (by hand) or refunded (by card); only the workshop's desk may
take payments; the open page hears of it live."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from ops.workshop.models import Invoice
from tests.payments.helpers import events_of, payments_of, post_event, refunds_of, with_stripe
from tests.sales.deals.helpers import stored
from tests.web import sign_in
from tests.workshop.invoices.builders import make_invoice

LINES = [("LABOUR", "Service", "2", "150.00"), ("PART", "Oil filter", "1", "24.90")]


async def _invoice(shop):  # type: ignore[no-untyped-def]
    work_order = await shop.work_order(status="IN_PROGRESS")
    return await make_invoice(shop, work_order, LINES)


async def test_an_invoice_paid_by_card_reads_paid_with_when_and_how(client, factory, runtime, stripe):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    await with_stripe(shop)
    invoice = await _invoice(shop)
    csrf = await sign_in(client, advisor.email)
    page = await (await client.get(f"/workshop/invoices/{invoice.id}")).get_data(as_text=True)
    assert "Issued, not paid" in page and "Request card payment" in page

    response = await client.post(f"/workshop/invoices/{invoice.id}/card-payment", form={"csrf_token": csrf})

    assert response.status_code == 302
    [payment] = await payments_of(runtime.db, shop.id)
    [create] = stripe.created("/v1/payment_intents")
    # 2 h x 150 + 24.90, plus 8.1 % VAT rounded per line, in Rappen.
    assert invoice.total == Decimal("351.22")
    assert create.params["amount"] == "35122" and create.params["metadata[invoice_id]"] == str(invoice.id)
    assert (
        await post_event(client, shop.tenant.slug, stripe.pay(payment.provider_intent_id))
    ).status_code == 200
    paid: Invoice = await stored(runtime.db, shop.id, Invoice, invoice.id)
    assert (paid.payment_status, paid.payment_method, paid.payment_reference) == (
        "PAID",
        "CARD",
        payment.provider_intent_id,
    )
    page = await (await client.get(f"/workshop/invoices/{invoice.id}")).get_data(as_text=True)
    assert "Card (Stripe)" in page and "Record manual payment" not in page
    [paid_event] = await events_of(runtime.db, shop.id, "invoice.paid")
    assert f"invoice:{invoice.id}" in paid_event.topics and f"wo:{invoice.work_order_id}" in paid_event.topics


async def test_an_invoice_paid_by_hand_names_the_method_and_reference(client, factory, runtime, stripe):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en", name="Anna Advisor")
    invoice = await _invoice(shop)
    csrf = await sign_in(client, advisor.email)

    missing = await client.post(
        f"/workshop/invoices/{invoice.id}/payment", form={"csrf_token": csrf, "method": "BANK_TRANSFER"}
    )
    response = await client.post(
        f"/workshop/invoices/{invoice.id}/payment",
        form={"csrf_token": csrf, "method": "BANK_TRANSFER", "reference": "UBS 2026-11-22/0042"},
    )
    again = await client.post(
        f"/workshop/invoices/{invoice.id}/payment",
        form={"csrf_token": csrf, "method": "CASH", "reference": "K-1"},
    )

    assert missing.status_code == 422
    assert "Enter the receipt or transfer reference." in await missing.get_data(as_text=True)
    assert response.status_code == 302
    assert again.status_code == 409
    paid: Invoice = await stored(runtime.db, shop.id, Invoice, invoice.id)
    assert (paid.payment_status, paid.payment_method, paid.payment_reference) == (
        "PAID",
        "BANK_TRANSFER",
        "UBS 2026-11-22/0042",
    )
    page = await (await client.get(f"/workshop/invoices/{invoice.id}")).get_data(as_text=True)
    assert "Bank transfer" in page and "UBS 2026-11-22/0042" in page and "Anna Advisor" in page


async def test_two_desks_recording_the_same_invoice_at_once_record_it_once(app, factory, runtime, stripe):
    shop = await factory.tenant()
    invoice = await _invoice(shop)
    desks = []
    for _ in range(2):
        user = await shop.user("service_advisor", locale="en")
        desk = app.test_client()
        desks.append((desk, await sign_in(desk, user.email)))

    answers = await asyncio.gather(
        *(
            desk.post(
                f"/workshop/invoices/{invoice.id}/payment",
                form={"csrf_token": csrf, "method": "CASH", "reference": f"K-{n}"},
            )
            for n, (desk, csrf) in enumerate(desks)
        )
    )

    assert sorted(a.status_code for a in answers) == [302, 409]
    assert len(await events_of(runtime.db, shop.id, "invoice.paid")) == 1


async def test_a_card_payment_arriving_after_a_desk_payment_is_refunded(client, factory, runtime, stripe):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    await with_stripe(shop)
    invoice = await _invoice(shop)
    csrf = await sign_in(client, advisor.email)
    await client.post(f"/workshop/invoices/{invoice.id}/card-payment", form={"csrf_token": csrf})
    await client.post(
        f"/workshop/invoices/{invoice.id}/payment",
        form={"csrf_token": csrf, "method": "CASH", "reference": "K-7"},
    )
    [payment] = await payments_of(runtime.db, shop.id)

    await post_event(client, shop.tenant.slug, stripe.pay(payment.provider_intent_id))

    paid: Invoice = await stored(runtime.db, shop.id, Invoice, invoice.id)
    assert paid.payment_method == "CASH"
    [refund] = await refunds_of(runtime.db, shop.id)
    assert (refund.status, refund.amount) == ("PENDING", invoice.total)


async def test_only_the_workshop_desk_takes_payments(app, factory, runtime, stripe):
    shop = await factory.tenant()
    await with_stripe(shop)
    invoice = await _invoice(shop)
    for role in ("technician", "viewer"):
        user = await shop.user(role, locale="en")
        desk = app.test_client()
        csrf = await sign_in(desk, user.email)
        page = await (await desk.get(f"/workshop/invoices/{invoice.id}")).get_data(as_text=True)
        assert "Record manual payment" not in page and "Request card payment" not in page

        card = await desk.post(f"/workshop/invoices/{invoice.id}/card-payment", form={"csrf_token": csrf})
        cash = await desk.post(
            f"/workshop/invoices/{invoice.id}/payment",
            form={"csrf_token": csrf, "method": "CASH", "reference": "K"},
        )

        assert (card.status_code, cash.status_code) == (403, 403)
    assert await payments_of(runtime.db, shop.id) == []
    assert (await stored(runtime.db, shop.id, Invoice, invoice.id)).payment_status == "ISSUED"


async def test_another_dealerships_invoice_cannot_be_paid(client, factory, runtime, stripe):
    shop = await factory.tenant()
    other = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    foreign = await _invoice(other)
    csrf = await sign_in(client, advisor.email)

    response = await client.post(
        f"/workshop/invoices/{foreign.id}/payment",
        form={"csrf_token": csrf, "method": "CASH", "reference": "K"},
    )

    assert response.status_code == 404
    assert (await stored(runtime.db, other.id, Invoice, foreign.id)).payment_status == "ISSUED"
