"""A deal's deposit by card, on both backends: the rep asks, Stripe creates the PaymentIntent, the
signed webhook moves the deal to DEPOSIT_PAID once however often Stripe sends it, a declined card shows
with Stripe's words, and cancelling refunds the card through Stripe after the commit, or keeps the
refund pending and visible while Stripe is down."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from ops.db import utcnow
from ops.payments.service import send_due_provider_calls
from ops.sales.deals.service import record_deposit
from ops.sales.models import Deal
from tests.payments.helpers import (
    events_of,
    payments_of,
    post_event,
    provider_events,
    refunds_of,
    with_stripe,
)
from tests.payments.stripe_server import FakeStripe
from tests.sales.deals.helpers import make_deal, stored
from tests.sales.deals.helpers import payments_of as deal_payments_of
from tests.web import sign_in


async def _requested(client, shop, rep, stripe: FakeStripe):  # type: ignore[no-untyped-def]
    """A deal whose rep pressed "Request card deposit" on its page; its payment row."""
    await with_stripe(shop)
    deal = await make_deal(shop, rep)
    csrf = await sign_in(client, rep.email)
    response = await client.post(f"/sales/deals/{deal.id}/card-deposit", form={"csrf_token": csrf})
    assert response.status_code == 302, await response.get_data(as_text=True)
    [payment] = await payments_of(shop.db, shop.id)
    return deal, payment


async def test_a_card_deposit_paid_at_stripe_moves_the_deal_to_deposit_paid(client, factory, runtime, stripe):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", name="Rita Rep", locale="en")
    deal, payment = await _requested(client, shop, rep, stripe)

    # Stripe was asked for 3,989.00 CHF in Rappen, form-encoded, with the row's idempotency key.
    [create] = stripe.created("/v1/payment_intents")
    assert create.params["amount"] == "398900" and create.params["currency"] == "chf"
    assert create.params["metadata[deal_id]"] == str(deal.id)
    assert create.idempotency_key == payment.idempotency_key
    assert (payment.status, payment.provider_intent_id) == ("AWAITING_PAYMENT", next(iter(stripe.intents)))
    page = await (await client.get(f"/sales/deals/{deal.id}")).get_data(as_text=True)
    assert "Awaiting payment" in page and "Request card deposit" not in page

    response = await post_event(client, shop.tenant.slug, stripe.pay(payment.provider_intent_id))

    assert response.status_code == 200
    paid: Deal = await stored(runtime.db, shop.id, Deal, deal.id)
    assert paid.status == "DEPOSIT_PAID"
    [deposit] = await deal_payments_of(runtime.db, shop.id, deal.id)
    assert (deposit.kind, deposit.method, deposit.amount, deposit.reference) == (
        "DEPOSIT",
        "CARD",
        Decimal("3989.00"),
        payment.provider_intent_id,
    )
    page = await (await client.get(f"/sales/deals/{deal.id}")).get_data(as_text=True)
    assert "Deposit paid" in page and "Paid" in page and "Card (Stripe)" in page
    kinds = [
        e.type
        for e in await events_of(
            runtime.db,
            shop.id,
            "payment.requested",
            "payment.intent_created",
            "payment.succeeded",
            "deal.deposit_recorded",
        )
    ]
    assert kinds == [
        "payment.requested",
        "payment.intent_created",
        "deal.deposit_recorded",
        "payment.succeeded",
    ]


async def test_the_same_event_three_times_and_three_at_once_moves_money_once(
    client, factory, runtime, stripe
):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    deal, payment = await _requested(client, shop, rep, stripe)
    succeeded = stripe.pay(payment.provider_intent_id)

    answers = [await post_event(client, shop.tenant.slug, succeeded) for _ in range(3)]
    answers += await asyncio.gather(*(post_event(client, shop.tenant.slug, succeeded) for _ in range(3)))

    # Every copy is acknowledged (Stripe stops retrying), one is applied.
    assert [a.status_code for a in answers] == [200] * 6
    assert [(await a.get_json())["duplicate"] for a in answers] == [False] + [True] * 5
    assert len(await deal_payments_of(runtime.db, shop.id, deal.id)) == 1
    assert len(await provider_events(runtime.db, shop.id)) == 1
    assert len(await events_of(runtime.db, shop.id, "payment.succeeded")) == 1


async def test_distinct_events_reporting_the_same_success_at_once_count_once(
    client, factory, runtime, stripe
):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    deal, payment = await _requested(client, shop, rep, stripe)
    first = stripe.pay(payment.provider_intent_id)
    second = {**first, "id": "evt_resent_with_another_id"}

    answers = await asyncio.gather(*(post_event(client, shop.tenant.slug, e) for e in (first, second)))

    assert [a.status_code for a in answers] == [200, 200]
    assert len(await deal_payments_of(runtime.db, shop.id, deal.id)) == 1
    assert len(await provider_events(runtime.db, shop.id)) == 2


async def test_a_declined_card_shows_stripes_message_and_tells_the_rep(client, factory, runtime, stripe):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    deal, payment = await _requested(client, shop, rep, stripe)

    response = await post_event(client, shop.tenant.slug, stripe.decline(payment.provider_intent_id))

    assert response.status_code == 200
    page = await (await client.get(f"/sales/deals/{deal.id}")).get_data(as_text=True)
    assert "Failed: Your card was declined." in page
    # The rep may ask again (another card, another PaymentIntent).
    assert "Request card deposit" in page
    [failed] = await events_of(runtime.db, shop.id, "payment.failed")
    assert f"user:{rep.actor.user_id}" in failed.topics
    assert failed.payload["notice_values"]["reason"] == "Your card was declined."
    assert (await stored(runtime.db, shop.id, Deal, deal.id)).status == "OPEN"


async def test_cancelling_a_card_paid_deal_refunds_through_stripe_with_an_idempotency_key(
    app, client, factory, runtime, stripe
):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    manager = await shop.user("sales_manager", locale="en")
    deal, payment = await _requested(client, shop, rep, stripe)
    await post_event(client, shop.tenant.slug, stripe.pay(payment.provider_intent_id))
    paid = await stored(runtime.db, shop.id, Deal, deal.id)
    desk = app.test_client()
    csrf = await sign_in(desk, manager.email)

    response = await desk.post(
        f"/sales/deals/{deal.id}/cancel",
        form={
            "csrf_token": csrf,
            "reason": "Customer moved abroad",
            "confirm": "yes",
            "version": paid.version,
        },
    )

    assert response.status_code == 302
    [refund] = await refunds_of(runtime.db, shop.id)
    assert (refund.status, refund.amount) == ("SUCCEEDED", Decimal("3989.00"))
    [sent] = stripe.created("/v1/refunds")
    assert sent.idempotency_key == refund.idempotency_key
    assert sent.params == {"payment_intent": payment.provider_intent_id, "amount": "398900"}
    page = await (await client.get(f"/sales/deals/{deal.id}")).get_data(as_text=True)
    assert "Refunded CHF" in page
    # Stripe then reports the refund; it confirms ours and refunds nothing twice.
    await post_event(client, shop.tenant.slug, stripe.charge_refunded(payment.provider_intent_id))
    assert len(await refunds_of(runtime.db, shop.id)) == 1
    refunds = [p for p in await deal_payments_of(runtime.db, shop.id, deal.id) if p.kind == "REFUND"]
    assert [(p.method, p.amount) for p in refunds] == [("CARD", Decimal("3989.00"))]


async def test_while_stripe_is_down_the_refund_stays_pending_visible_and_is_sent_once_later(
    app, client, factory, runtime, stripe
):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    manager = await shop.user("sales_manager", locale="en")
    deal, payment = await _requested(client, shop, rep, stripe)
    await post_event(client, shop.tenant.slug, stripe.pay(payment.provider_intent_id))
    paid = await stored(runtime.db, shop.id, Deal, deal.id)
    desk = app.test_client()
    csrf = await sign_in(desk, manager.email)
    stripe.down = True

    response = await desk.post(
        f"/sales/deals/{deal.id}/cancel",
        form={
            "csrf_token": csrf,
            "reason": "Financing fell through",
            "confirm": "yes",
            "version": paid.version,
        },
    )

    assert response.status_code == 302
    assert (await stored(runtime.db, shop.id, Deal, deal.id)).status == "CANCELLED"
    [refund] = await refunds_of(runtime.db, shop.id)
    assert refund.status == "PENDING" and "will retry" in refund.last_error
    assert stripe.refunds == {}
    page = await (await client.get(f"/sales/deals/{deal.id}")).get_data(as_text=True)
    assert "Stripe unavailable" in page and "will retry" in page

    stripe.down = False
    await send_due_provider_calls(runtime.db, stripe.url, refund.next_attempt_at)

    [refund] = await refunds_of(runtime.db, shop.id)
    assert refund.status == "SUCCEEDED"
    assert len(stripe.refunds) == 1
    # Every attempt, failed or not, was the same request.
    assert {seen.idempotency_key for seen in stripe.created("/v1/refunds")} == {refund.idempotency_key}


async def test_while_stripe_is_down_a_request_waits_and_nothing_is_invented(client, factory, runtime, stripe):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    await with_stripe(shop)
    deal = await make_deal(shop, rep)
    csrf = await sign_in(client, rep.email)
    stripe.down = True

    response = await client.post(f"/sales/deals/{deal.id}/card-deposit", form={"csrf_token": csrf})

    assert response.status_code == 302
    [payment] = await payments_of(runtime.db, shop.id)
    assert (payment.status, payment.provider_intent_id) == ("REQUESTING", None)
    page = await (await client.get(f"/sales/deals/{deal.id}")).get_data(as_text=True)
    assert "Stripe unavailable" in page and "will retry" in page
    # No second request while the first is pending.
    again = await client.post(f"/sales/deals/{deal.id}/card-deposit", form={"csrf_token": csrf})
    assert again.status_code == 422

    stripe.down = False
    await send_due_provider_calls(runtime.db, stripe.url, payment.next_attempt_at)

    [payment] = await payments_of(runtime.db, shop.id)
    assert payment.status == "AWAITING_PAYMENT" and len(stripe.intents) == 1


async def test_a_card_payment_for_a_deal_paid_by_hand_meanwhile_is_refunded(client, factory, runtime, stripe):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    deal, payment = await _requested(client, shop, rep, stripe)
    async with runtime.db.uow(rep.actor) as uow:
        await record_deposit(uow, deal.id, "3989", "Kasse 0815")

    await post_event(client, shop.tenant.slug, stripe.pay(payment.provider_intent_id))

    deposits = await deal_payments_of(runtime.db, shop.id, deal.id)
    assert [(p.kind, p.method) for p in deposits] == [("DEPOSIT", "MANUAL")]
    [refund] = await refunds_of(runtime.db, shop.id)
    assert refund.status == "PENDING"
    await send_due_provider_calls(runtime.db, stripe.url, utcnow())
    assert len(stripe.refunds) == 1


async def test_a_viewer_may_not_ask_for_a_card_deposit(client, factory, runtime, stripe):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    viewer = await shop.user("viewer", locale="en")
    await with_stripe(shop)
    deal = await make_deal(shop, rep)
    csrf = await sign_in(client, viewer.email)

    response = await client.post(f"/sales/deals/{deal.id}/card-deposit", form={"csrf_token": csrf})

    assert response.status_code == 403
    assert await payments_of(runtime.db, shop.id) == []
    assert stripe.requests == []


async def test_without_stripe_keys_the_page_offers_no_card_deposit(client, factory, runtime, stripe):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    deal = await make_deal(shop, rep)
    csrf = await sign_in(client, rep.email)

    page = await (await client.get(f"/sales/deals/{deal.id}")).get_data(as_text=True)
    response = await client.post(f"/sales/deals/{deal.id}/card-deposit", form={"csrf_token": csrf})

    assert "Request card deposit" not in page
    assert response.status_code == 422
    assert "not set up" in await response.get_data(as_text=True)
