"""`POST /hooks/stripe/<tenant>` on both backends: only a body signed with the tenant's own secret within
five minutes is taken; refused webhooks store nothing and move nothing; unknown events are stored and
acknowledged; a suspended dealership's webhooks are refused."""

from __future__ import annotations

import time

from sqlalchemy import update

from ops.payments.models import ProviderEvent
from ops.sales.models import Deal
from ops.tenants.models import Tenant
from tests.payments.helpers import payments_of, post_event, provider_events, with_stripe
from tests.payments.stripe_server import WEBHOOK_SECRET, FakeStripe, body_of, event, signature_header
from tests.sales.deals.helpers import make_deal, stored
from tests.web import sign_in


async def _awaiting(client, shop, stripe: FakeStripe):  # type: ignore[no-untyped-def]
    rep = await shop.user("sales_rep", locale="en")
    await with_stripe(shop)
    deal = await make_deal(shop, rep)
    csrf = await sign_in(client, rep.email)
    await client.post(f"/sales/deals/{deal.id}/card-deposit", form={"csrf_token": csrf})
    [payment] = await payments_of(shop.db, shop.id)
    return deal, payment


async def _refused_and_nothing_moved(runtime, shop, deal, response, status: int = 400) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, await response.get_data(as_text=True)
    assert await provider_events(runtime.db, shop.id) == []
    assert (await stored(runtime.db, shop.id, Deal, deal.id)).status == "OPEN"


async def test_a_body_changed_after_signing_is_refused(client, factory, runtime, stripe):
    shop = await factory.tenant()
    deal, payment = await _awaiting(client, shop, stripe)
    body = body_of(stripe.pay(payment.provider_intent_id))
    header = signature_header(body)

    response = await client.post(
        f"/hooks/stripe/{shop.tenant.slug}",
        data=body.replace(b"succeeded", b"succeeded "),
        headers={"Stripe-Signature": header},
    )

    await _refused_and_nothing_moved(runtime, shop, deal, response)


async def test_a_replay_older_than_five_minutes_is_refused(client, factory, runtime, stripe):
    shop = await factory.tenant()
    deal, payment = await _awaiting(client, shop, stripe)

    response = await post_event(
        client, shop.tenant.slug, stripe.pay(payment.provider_intent_id), timestamp=int(time.time()) - 301
    )

    await _refused_and_nothing_moved(runtime, shop, deal, response)


async def test_no_signature_header_is_refused(client, factory, runtime, stripe):
    shop = await factory.tenant()
    deal, payment = await _awaiting(client, shop, stripe)

    response = await client.post(
        f"/hooks/stripe/{shop.tenant.slug}", data=body_of(stripe.pay(payment.provider_intent_id))
    )

    await _refused_and_nothing_moved(runtime, shop, deal, response)


async def test_any_of_several_v1_signatures_may_match(client, factory, runtime, stripe):
    """While a secret is rolled, Stripe signs with the old and the new one."""
    shop = await factory.tenant()
    deal, payment = await _awaiting(client, shop, stripe)
    body = body_of(stripe.pay(payment.provider_intent_id))
    stamp = int(time.time())
    old = signature_header(body, "whsec_rolled_away_secret", timestamp=stamp).split(",")[1]
    current = signature_header(body, timestamp=stamp).split(",")[1]
    header = f"t={stamp},{old},{current}"

    response = await client.post(
        f"/hooks/stripe/{shop.tenant.slug}", data=body, headers={"Stripe-Signature": header}
    )

    assert response.status_code == 200
    assert (await stored(runtime.db, shop.id, Deal, deal.id)).status == "DEPOSIT_PAID"


async def test_one_dealerships_secret_cannot_post_to_another(client, factory, runtime, stripe):
    shop = await factory.tenant()
    other = await factory.tenant()
    await with_stripe(other, webhook_secret="whsec_the_other_dealerships_secret")
    deal, payment = await _awaiting(client, shop, stripe)
    succeeded = stripe.pay(payment.provider_intent_id)

    # Signed with A's secret, posted to B: refused.
    refused = await post_event(client, other.tenant.slug, succeeded, secret=WEBHOOK_SECRET)
    # Signed with B's own secret, about A's PaymentIntent: stored at B, moves nothing anywhere.
    ignored = await post_event(
        client, other.tenant.slug, succeeded, secret="whsec_the_other_dealerships_secret"
    )

    assert refused.status_code == 400
    assert ignored.status_code == 200
    [stored_at_other] = await provider_events(runtime.db, other.id)
    assert stored_at_other.outcome == "Ignored: no payment here has this PaymentIntent"
    await _refused_and_nothing_moved(runtime, shop, deal, refused)


async def test_an_unknown_event_type_is_stored_and_acknowledged(client, factory, runtime, stripe):
    shop = await factory.tenant()
    await with_stripe(shop)

    response = await post_event(client, shop.tenant.slug, event("customer.created", {"id": "cus_123"}))

    assert response.status_code == 200
    [stored_event] = await provider_events(runtime.db, shop.id)
    assert (stored_event.type, stored_event.outcome) == (
        "customer.created",
        "Ignored: an event type Pitwall does not use",
    )
    assert '"cus_123"' in stored_event.raw_body


async def test_a_suspended_dealerships_webhooks_are_refused(client, factory, runtime, stripe):
    shop = await factory.tenant()
    deal, payment = await _awaiting(client, shop, stripe)
    async with runtime.db.system(write=True) as session:
        await session.execute(update(Tenant).where(Tenant.id == shop.id).values(status="SUSPENDED"))
        await session.commit()

    response = await post_event(client, shop.tenant.slug, stripe.pay(payment.provider_intent_id))

    await _refused_and_nothing_moved(runtime, shop, deal, response, status=403)


async def test_a_dealership_without_a_signing_secret_has_no_endpoint(client, factory, runtime, stripe):
    shop = await factory.tenant()

    response = await post_event(client, shop.tenant.slug, event("payment_intent.succeeded", {"id": "pi_1"}))

    assert response.status_code == 404
    async with runtime.db.read(shop.id) as session:
        assert (await session.get(ProviderEvent, 1)) is None
