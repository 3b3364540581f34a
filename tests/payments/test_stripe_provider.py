"""The Stripe adapter against a local server speaking Stripe's endpoints: amounts in minor units,
form-encoded, the idempotency key on every create (a retry is the same request), Stripe's refusals as
clear messages, an outage as `ProviderUnavailable` after retries, and webhook signatures checked."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from integrations.payments import (
    PaymentRefused,
    WebhookSignatureError,
    create_payment_provider,
    to_minor_units,
)
from integrations.resilience import ProviderUnavailable
from tests.payments.stripe_server import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    FakeStripe,
    body_of,
    event,
    signature_header,
)


def _stripe(fake: FakeStripe, key: str = SECRET_KEY):  # type: ignore[no-untyped-def]
    return create_payment_provider(fake.url, key, WEBHOOK_SECRET, timeout=5)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("3989", "CHF", 398900), ("12.35", "USD", 1235), ("0.05", "EUR", 5), ("1500", "JPY", 1500)],
)
def test_amounts_go_to_stripe_in_the_currencys_minor_units(amount: str, currency: str, minor: int) -> None:
    assert to_minor_units(Decimal(amount), currency) == minor


async def test_the_same_idempotency_key_is_the_same_payment_intent(stripe: FakeStripe) -> None:
    provider = _stripe(stripe)

    first = await provider.create_payment_intent(398900, "CHF", {"deal_id": "7"}, "pitwall-payment-1-1")
    again = await provider.create_payment_intent(398900, "CHF", {"deal_id": "7"}, "pitwall-payment-1-1")

    assert first == again and len(stripe.intents) == 1
    assert (first.status, first.amount_minor, first.currency) == ("requires_payment_method", 398900, "CHF")
    assert stripe.requests[0].authorization == f"Bearer {SECRET_KEY}"
    assert stripe.requests[0].params == {
        "amount": "398900",
        "currency": "chf",
        "metadata[deal_id]": "7",
        "automatic_payment_methods[enabled]": "true",
    }
    assert (await provider.retrieve_payment_intent(first.id)).id == first.id


async def test_a_key_reused_for_another_amount_is_refused_not_charged(stripe: FakeStripe) -> None:
    provider = _stripe(stripe)
    await provider.create_payment_intent(1000, "CHF", {}, "pitwall-payment-1-2")

    with pytest.raises(PaymentRefused, match="Stripe saw this request before with other details"):
        await provider.create_payment_intent(2000, "CHF", {}, "pitwall-payment-1-2")
    assert len(stripe.intents) == 1


async def test_stripes_refusals_read_as_sentences(stripe: FakeStripe) -> None:
    with pytest.raises(PaymentRefused, match="refused the secret key"):
        await _stripe(stripe, key="sk_test_wrong").create_payment_intent(1000, "CHF", {}, "k-1")
    intent = await _stripe(stripe).create_payment_intent(1000, "CHF", {}, "k-2")
    with pytest.raises(PaymentRefused, match="does not have a successful charge"):
        await _stripe(stripe).refund(intent.id, None, "k-3")


async def test_an_outage_is_unavailable_after_retries_with_the_same_key(stripe: FakeStripe) -> None:
    stripe.down = True

    with pytest.raises(ProviderUnavailable, match="HTTP 503"):
        await _stripe(stripe).create_payment_intent(1000, "CHF", {}, "pitwall-payment-1-3")

    tries = stripe.created("/v1/payment_intents")
    assert len(tries) == 3 and {seen.idempotency_key for seen in tries} == {"pitwall-payment-1-3"}
    assert stripe.intents == {}


async def test_a_server_that_does_not_answer_is_unavailable() -> None:
    provider = create_payment_provider("http://127.0.0.1:9", SECRET_KEY, WEBHOOK_SECRET, timeout=1)

    with pytest.raises(ProviderUnavailable, match="cannot connect"):
        await provider.retrieve_payment_intent("pi_1")


async def test_refunds_carry_the_amount_and_the_key(stripe: FakeStripe) -> None:
    provider = _stripe(stripe)
    intent = await provider.create_payment_intent(398900, "CHF", {}, "k-4")
    stripe.pay(intent.id)

    refund = await provider.refund(intent.id, 100000, "pitwall-refund-1-1")
    again = await provider.refund(intent.id, 100000, "pitwall-refund-1-1")

    assert refund == again and (refund.status, refund.amount_minor) == ("succeeded", 100000)
    assert len(stripe.refunds) == 1


def test_webhook_signatures_are_checked_on_the_raw_body() -> None:
    provider = create_payment_provider("http://127.0.0.1:9", SECRET_KEY, WEBHOOK_SECRET)
    body = body_of(event("payment_intent.succeeded", {"id": "pi_1"}))
    now = datetime.now(UTC)

    assert provider.verify_webhook(body, signature_header(body), now)["type"] == "payment_intent.succeeded"
    refusals = {
        "tampered": (body + b" ", signature_header(body), now),
        "wrong secret": (body, signature_header(body, "whsec_other"), now),
        "too old": (body, signature_header(body, timestamp=int(time.time()) - 301), now),
        "from the future": (body, signature_header(body), now - timedelta(seconds=301)),
        "no header": (body, "", now),
        "garbled": (body, "t=abc,v1=00", now),
    }
    for raw, header, when in refusals.values():
        with pytest.raises(WebhookSignatureError):
            provider.verify_webhook(raw, header, when)
