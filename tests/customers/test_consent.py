"""Consent per channel, given or withdrawn, with when, how and by whom; do not contact overrides it."""

from __future__ import annotations

import re

import pytest

from ops.auth.actor import RuleViolation
from ops.customers.queries import may_contact
from ops.customers.service import record_consent, set_do_not_contact
from tests.customers.helpers import consents, events, new_customer, stored
from tests.web import sign_in


def consent_cell(page: str, channel: str) -> str:
    match = re.search(rf'<tr class="consent-{channel}">(.*?)</tr>', page, re.S)
    assert match, f"no consent row for {channel}"
    return match.group(1)


async def test_consent_is_recorded_per_channel_and_the_latest_counts_with_the_history_kept(client, factory):
    """Mailing someone who withdrew consent is a breach of the data-protection law."""
    shop = await factory.tenant()
    customer = await new_customer(shop)
    rep = await shop.user("sales_rep", locale="en", name="Rita Rep")
    token = await sign_in(client, rep.email)

    for channel, granted, source in (
        ("EMAIL", "1", "Signed form in the showroom"),
        ("SMS", "1", "Web form"),
        ("EMAIL", "0", "Phone call: no more newsletters"),
    ):
        response = await client.post(
            f"/customers/{customer.id}/consents",
            form={"channel": channel, "granted": granted, "source": source, "csrf_token": token},
        )
        assert response.status_code == 302

    page = await (await client.get(f"/customers/{customer.id}")).get_data(as_text=True)

    assert "Withdrawn" in consent_cell(page, "email") and "no more newsletters" in consent_cell(page, "email")
    assert "Given" in consent_cell(page, "sms") and "Rita Rep" in consent_cell(page, "sms")
    assert "Not asked" in consent_cell(page, "phone") and "Not asked" in consent_cell(page, "post")
    assert "History (3 changes)" in page and "Signed form in the showroom" in page
    rows = await consents(shop.db, shop.id, customer.id)
    assert [(row.channel, row.granted, row.recorded_by_id) for row in rows] == [
        ("EMAIL", True, rep.actor.user_id),
        ("SMS", True, rep.actor.user_id),
        ("EMAIL", False, rep.actor.user_id),
    ]
    async with shop.db.read(shop.id) as session:
        assert not await may_contact(session, customer.id, "email")
        assert await may_contact(session, customer.id, "sms")
        assert not await may_contact(session, customer.id, "phone")
    recorded = await events(shop.db, shop.id, "customer.consent_recorded")
    assert [event.payload["granted"] for event in recorded] == [True, True, False]


async def test_consent_needs_how_it_was_given(client, factory):
    shop = await factory.tenant()
    customer = await new_customer(shop)
    token = await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    response = await client.post(
        f"/customers/{customer.id}/consents",
        form={"channel": "EMAIL", "granted": "1", "source": "", "csrf_token": token},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 422
    assert 'id="consent-source-error"' in await response.get_data(as_text=True)
    assert await consents(shop.db, shop.id, customer.id) == []
    async with shop.db.uow(shop.admin.actor) as uow:
        with pytest.raises(RuleViolation):
            await record_consent(uow, customer.id, "PIGEON", True, "Form")


async def test_do_not_contact_overrides_every_consent_and_is_shown_prominently(client, factory):
    shop = await factory.tenant()
    customer = await new_customer(shop)
    async with shop.db.uow(shop.admin.actor) as uow:
        await record_consent(uow, customer.id, "EMAIL", True, "Signed form")
    token = await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    response = await client.post(
        f"/customers/{customer.id}/do-not-contact", form={"do_not_contact": "1", "csrf_token": token}
    )
    page = await (await client.get(f"/customers/{customer.id}")).get_data(as_text=True)

    assert response.status_code == 302
    assert (await stored(shop.db, shop.id, customer.id)).do_not_contact
    assert '<p class="dnc-banner" role="status"><strong>Do not contact</strong>' in page
    assert 'class="consent granted overridden"' in consent_cell(page, "email")
    async with shop.db.read(shop.id) as session:
        assert not await may_contact(session, customer.id, "email")
    async with shop.db.uow(shop.admin.actor) as uow:
        await set_do_not_contact(uow, customer.id, False)
    async with shop.db.read(shop.id) as session:
        assert await may_contact(session, customer.id, "email")
    changes = await events(shop.db, shop.id, "customer.do_not_contact_changed")
    assert [event.payload["do_not_contact"] for event in changes] == [True, False]
