"""Sending a quote and the customer's page behind the signed link: the offer in the customer's language,
Accept (or Decline) taken once, the rep told live; every link that no longer counts (expired, sent again,
changed, another dealership's, garbled) and every post that is not the customer's own changes nothing."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from ops.auth.actor import RuleViolation
from ops.customers.models import Customer
from ops.db import utcnow
from ops.events import Event
from ops.public_links import LinkInvalid
from ops.sales.models import Quote
from ops.sales.quotes.service import (
    QuoteAlreadyAnswered,
    QuoteLink,
    QuoteLinks,
    accept_quote,
    expire_quotes,
    send_quote,
)
from tests.sales.quotes.helpers import (
    LINKS,
    SECRET,
    count,
    events_of,
    last_mail,
    lead_for,
    reload,
    send,
    showroom,
    unit_quote,
    with_terms,
)
from tests.web import csrf_from

CSRF = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)"')


async def _financed_quote(room, language="en"):  # type: ignore[no-untyped-def]
    quote = await unit_quote(room, list_price="38500.00", cost="33000.00", language=language)
    return await with_terms(
        room,
        quote,
        discount="1500",
        trade_in_allowance="8000",
        trade_in_payoff="9500",
        down_payment="5000",
        apr_percent="3.9",
        term_months="48",
    )


async def _snapshot(db, tenant_id, quote_id):  # type: ignore[no-untyped-def]
    quote = await reload(db, tenant_id, quote_id)
    return (quote.status, quote.version, quote.accepted_at, await count(db, tenant_id, Event))


async def _accept(client, token, html, **kwargs):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/quote/{token}", form={"answer": "ACCEPTED", "csrf_token": csrf_from_form(html)}, **kwargs
    )


def csrf_from_form(html: str) -> str:
    match = CSRF.search(html)
    return match.group(1) if match else csrf_from(html)


async def test_sending_mails_the_offer_in_the_customers_language_with_a_link(factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await _financed_quote(room, language="de")

    token = await send(room, quote)

    stored = await reload(runtime.db, room.shop.id, quote.id)
    assert stored.status == "SENT" and stored.link_nonce and stored.sent_at is not None
    assert stored.valid_until == (
        utcnow().astimezone(__import__("zoneinfo").ZoneInfo("Europe/Zurich")).date() + timedelta(days=7)
    )
    mail = await last_mail(runtime.db, room.shop.id)
    assert mail.language == "de"
    assert f"/quote/{token}" in mail.text and mail.html and f"/quote/{token}" in mail.html
    assert "CHF" in mail.text and quote.code in mail.subject
    # The subject names the car as the customer does; the unit's VIN is no business of a subject line.
    assert "VIN" not in mail.subject and "Skoda Octavia Style" in mail.subject
    [event] = await events_of(runtime.db, room.shop.id, "quote.sent")
    assert event.payload["mail_id"] == mail.id


async def test_a_customer_without_an_address_or_who_asked_for_no_contact_gets_no_mail(factory, runtime):
    room = await showroom(await factory.tenant())
    lead = await lead_for(room, email=None)
    quote = await unit_quote(room, lead=lead)
    with pytest.raises(RuleViolation):
        async with runtime.db.uow(room.rep.actor) as uow:
            await send_quote(uow, quote.id, quote.version, links=LINKS)
    async with runtime.db.uow(room.shop.admin.actor) as uow:
        await uow.session.execute(
            update(Customer)
            .where(Customer.id == quote.customer_id)
            .values(email="lea@example.ch", do_not_contact=True)
        )
        await uow.commit()
    with pytest.raises(RuleViolation, match="not to be contacted"):
        async with runtime.db.uow(room.rep.actor) as uow:
            await send_quote(uow, quote.id, quote.version, links=LINKS)
    assert (await reload(runtime.db, room.shop.id, quote.id)).status == "DRAFT"


async def test_the_page_shows_every_figure_in_the_customers_language(client, factory, runtime):
    room = await showroom(await factory.tenant())
    token = await send(room, await _financed_quote(room, language="en"))

    response = await client.get(f"/quote/{token}", headers={"Accept-Language": "de"})

    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert 'lang="en-CH"' in html
    assert room.shop.tenant.name in html and "Skoda Octavia Style" in html
    # 38500 - 1500 = 37000 + 2997.00 VAT; financed 39997 - 5000 + 1500 (payoff above the allowance).
    assert "CHF\xa039\u2019997.00" in html
    assert "CHF\xa036\u2019497.00" in html
    assert "CHF\xa0822.44 \u00d7 48 months at 3.9 % APR" in html
    assert 'name="answer" value="ACCEPTED"' in html
    # Nothing internal: no cost, no margin.
    assert "margin" not in html.lower()


async def test_a_german_customer_reads_german(client, factory, runtime):
    room = await showroom(await factory.tenant())
    token = await send(room, await _financed_quote(room, language="de"))

    response = await client.get(f"/quote/{token}", headers={"Accept-Language": "en"})

    assert 'lang="de-CH"' in await response.get_data(as_text=True)


async def test_accepting_records_it_once_and_tells_the_rep(client, factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await _financed_quote(room)
    token = await send(room, quote)
    page = await client.get(f"/quote/{token}")
    html = await page.get_data(as_text=True)

    answer = await _accept(client, token, html)

    assert answer.status_code == 303
    stored = await reload(runtime.db, room.shop.id, quote.id)
    assert stored.status == "ACCEPTED" and stored.accepted_at is not None
    [event] = await events_of(runtime.db, room.shop.id, "quote.accepted")
    assert (
        f"user:{room.rep.actor.user_id}" in event.topics and f"customer:{quote.customer_id}" in event.topics
    )
    assert event.actor_kind == "customer"
    assert event.payload["notice_values"]["number"] == quote.code
    after = await client.get(f"/quote/{token}")
    assert "You accepted this offer" in await after.get_data(as_text=True)

    before = await _snapshot(runtime.db, room.shop.id, quote.id)
    again = await _accept(client, token, html)
    assert again.status_code == 409
    assert "already answered" in await again.get_data(as_text=True)
    assert await _snapshot(runtime.db, room.shop.id, quote.id) == before


async def test_declining_is_recorded(client, factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await _financed_quote(room)
    token = await send(room, quote)
    html = await (await client.get(f"/quote/{token}")).get_data(as_text=True)

    await client.post(f"/quote/{token}", form={"answer": "DECLINED", "csrf_token": csrf_from_form(html)})

    assert (await reload(runtime.db, room.shop.id, quote.id)).status == "DECLINED"


async def test_an_offer_past_its_last_day_is_refused_and_the_timer_expires_it(client, factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await _financed_quote(room)
    token = await send(room, quote)
    html = await (await client.get(f"/quote/{token}")).get_data(as_text=True)
    stored = await reload(runtime.db, room.shop.id, quote.id)
    assert stored.valid_until is not None
    # The clock moves past the last valid day.
    async with runtime.db.uow(room.shop.admin.actor) as uow:
        await uow.session.execute(
            update(Quote)
            .where(Quote.id == quote.id)
            .values(valid_until=stored.valid_until - timedelta(days=8))
        )
        await uow.commit()
    before = await _snapshot(runtime.db, room.shop.id, quote.id)

    page = await client.get(f"/quote/{token}")
    answer = await _accept(client, token, html)

    assert page.status_code == 410 and "expired" in await page.get_data(as_text=True)
    assert answer.status_code == 410
    assert await _snapshot(runtime.db, room.shop.id, quote.id) == before

    assert await expire_quotes(runtime.db, utcnow()) == 1
    expired = await reload(runtime.db, room.shop.id, quote.id)
    assert expired.status == "EXPIRED"
    [event] = await events_of(runtime.db, room.shop.id, "quote.expired")
    assert f"user:{room.rep.actor.user_id}" in event.topics and "notice" in event.payload
    assert await expire_quotes(runtime.db, utcnow()) == 0


async def test_the_timer_leaves_offers_still_valid_today_alone(factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await _financed_quote(room)
    await send(room, quote)

    # The last valid day itself is still valid, to its end in the dealership's timezone.
    stored = await reload(runtime.db, room.shop.id, quote.id)
    assert await expire_quotes(runtime.db, utcnow() + timedelta(days=6)) == 0
    assert (await reload(runtime.db, room.shop.id, quote.id)).status == "SENT"
    assert stored.valid_until is not None


async def test_the_link_of_an_offer_sent_again_is_refused(client, factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await _financed_quote(room)
    old_token = await send(room, quote)
    new_token = await send(room, await reload(runtime.db, room.shop.id, quote.id))
    html = await (await client.get(f"/quote/{new_token}")).get_data(as_text=True)
    before = await _snapshot(runtime.db, room.shop.id, quote.id)

    page = await client.get(f"/quote/{old_token}")
    answer = await _accept(client, old_token, html)

    assert page.status_code == 410 and "sent again" in await page.get_data(as_text=True)
    assert answer.status_code == 410
    assert await _snapshot(runtime.db, room.shop.id, quote.id) == before
    assert (await client.get(f"/quote/{new_token}")).status_code == 200


async def test_changing_a_sent_offer_voids_its_link(client, factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await _financed_quote(room)
    token = await send(room, quote)

    changed = await with_terms(room, await reload(runtime.db, room.shop.id, quote.id), discount="1600")

    assert changed.status == "DRAFT" and changed.link_nonce is None
    assert (await client.get(f"/quote/{token}")).status_code == 410


async def test_a_link_resolves_only_inside_its_own_dealership(client, factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await _financed_quote(room)
    await send(room, quote)
    stored = await reload(runtime.db, room.shop.id, quote.id)
    other = await factory.tenant()
    crossed = QuoteLinks(SECRET).token_for(QuoteLink(other.id, quote.id, stored.link_nonce or ""))

    response = await client.get(f"/quote/{crossed}")

    assert response.status_code == 404
    with pytest.raises(LinkInvalid):
        await accept_quote(runtime.db, crossed, links=QuoteLinks(SECRET))
    assert (await reload(runtime.db, room.shop.id, quote.id)).status == "SENT"


@pytest.mark.parametrize("token", ["nonsense", "a" * 500, "eyJ0IjoxfQ.garbled.sig"])
async def test_a_garbled_link_is_not_found(client, token: str):
    response = await client.get(f"/quote/{token}")
    assert response.status_code == 404
    assert "not valid" in await response.get_data(as_text=True)


async def test_a_link_signed_with_another_key_is_not_found(client, factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await _financed_quote(room)
    await send(room, quote)
    stored = await reload(runtime.db, room.shop.id, quote.id)
    forged = QuoteLinks("another-secret").token_for(
        QuoteLink(room.shop.id, quote.id, stored.link_nonce or "")
    )

    assert (await client.get(f"/quote/{forged}")).status_code == 404


async def test_a_post_from_another_site_or_without_the_form_token_is_refused(client, factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await _financed_quote(room)
    token = await send(room, quote)
    html = await (await client.get(f"/quote/{token}")).get_data(as_text=True)
    before = await _snapshot(runtime.db, room.shop.id, quote.id)

    cross_site = await _accept(client, token, html, headers={"Origin": "https://evil.example"})
    no_token = await client.post(f"/quote/{token}", form={"answer": "ACCEPTED"})

    assert cross_site.status_code == 403 and no_token.status_code == 403
    assert await _snapshot(runtime.db, room.shop.id, quote.id) == before


async def test_two_accepts_at_once_exactly_one_is_taken(factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await _financed_quote(room)
    token = await send(room, quote)

    results = await asyncio.gather(
        accept_quote(runtime.db, token, links=LINKS),
        accept_quote(runtime.db, token, links=LINKS),
        return_exceptions=True,
    )

    assert sum(isinstance(result, QuoteAlreadyAnswered) for result in results) == 1
    assert len(await events_of(runtime.db, room.shop.id, "quote.accepted")) == 1
