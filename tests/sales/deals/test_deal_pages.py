"""The deal pages over HTTP: the list with its filters and the deal made from an accepted quote, a deal
with its figures, payments and history, forms that answer 422 next to the field and 409 on a stale
page, and who may see and do what."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ops.sales.models import Deal, Quote, StockUnit
from tests.sales.deals.helpers import make_deal, payments_of, sale, stored
from tests.web import sign_in


def _form_error(html: str, form: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="{form}-{field}-error">([^<]*)</p>', html)
    assert match, f"no error next to {form}-{field}"
    return match.group(1)


async def test_a_rep_makes_a_deal_from_the_list_and_lands_on_its_page(runtime, factory, client):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", name="Rita Rep", locale="en")
    _lead, _unit, quote = await sale(shop, rep)
    csrf = await sign_in(client, rep.email)

    listing = await (await client.get("/sales/deals")).get_data(as_text=True)
    assert f'<option value="{quote.id}">{quote.code}' in listing
    made = await client.post("/sales/deals", form={"quote_id": str(quote.id), "csrf_token": csrf})

    assert made.status_code == 302
    page = await client.get(made.headers["Location"])
    html = await page.get_data(as_text=True)
    assert "Deal D-000001" in html and "Deal D-000001 created" in html
    assert 'id="deal-status">Open<' in html
    # Rates as the rest of the app writes them: VAT 8.1 %, not the stored 8.10.
    assert "VAT 8.1 %" in html and "VAT 8.10" not in html
    assert "Record the deposit" in html and 'value="3989.00"' in html
    # A rep does not cancel deals; the manager does.
    assert "Cancel the deal" not in html
    listing = await (await client.get("/sales/deals")).get_data(as_text=True)
    assert "D-000001" in listing and "No accepted quote is waiting" in listing


async def test_a_quote_that_already_became_a_deal_is_refused_next_to_the_select(runtime, factory, client):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    _lead, _unit, quote = await sale(shop, rep)
    csrf = await sign_in(client, rep.email)
    await client.post("/sales/deals", form={"quote_id": str(quote.id), "csrf_token": csrf})

    again = await client.post("/sales/deals", form={"quote_id": str(quote.id), "csrf_token": csrf})
    empty = await client.post("/sales/deals", form={"quote_id": "", "csrf_token": csrf})

    assert again.status_code == 422
    assert _form_error(await again.get_data(as_text=True), "deal", "quote_id") == (
        "This quote is already deal D-000001."
    )
    assert empty.status_code == 422
    assert _form_error(await empty.get_data(as_text=True), "deal", "quote_id") == "Choose an accepted quote."


async def test_the_list_filters_by_status_and_rep(runtime, factory, client):
    shop = await factory.tenant()
    rita = await shop.user("sales_rep", name="Rita Rep", locale="en")
    marc = await shop.user("sales_rep", name="Marc Rep", locale="en")
    first = await make_deal(shop, rita)
    second = await make_deal(shop, marc)
    await sign_in(client, rita.email)

    by_rep = await (await client.get(f"/sales/deals?rep_id={marc.actor.user_id}")).get_data(as_text=True)
    by_status = await (await client.get("/sales/deals?status=DELIVERED")).get_data(as_text=True)

    assert f'id="deal-{second.id}"' in by_rep and f'id="deal-{first.id}"' not in by_rep
    assert "No deals match these filters." in by_status


async def test_a_bad_deposit_is_named_next_to_its_field_and_nothing_is_written(runtime, factory, client):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    deal = await make_deal(shop, rep)
    csrf = await sign_in(client, rep.email)

    refused = await client.post(
        f"/sales/deals/{deal.id}/deposit",
        form={"amount": "100", "reference": "Kasse", "version": str(deal.version), "csrf_token": csrf},
    )

    assert refused.status_code == 422
    html = await refused.get_data(as_text=True)
    assert "The deposit due is CHF" in _form_error(html, "deposit", "amount")
    assert 'value="100"' in html and 'value="Kasse"' in html
    assert await payments_of(runtime.db, shop.id, deal.id) == []


async def test_the_rep_takes_the_deposit_schedules_and_delivers_from_the_page(runtime, factory, client):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    deal = await make_deal(shop, rep)
    csrf = await sign_in(client, rep.email)
    url = f"/sales/deals/{deal.id}"

    paid = await client.post(
        f"{url}/deposit", form={"amount": "3989", "reference": "Twint 12", "version": "1", "csrf_token": csrf}
    )
    zone = ZoneInfo(shop.tenant.timezone)
    when = (datetime.now(zone) + timedelta(days=2)).replace(hour=10, minute=30, second=0, microsecond=0)
    scheduled = await client.post(
        f"{url}/delivery/schedule",
        form={"delivery_at": when.strftime("%Y-%m-%dT%H:%M"), "version": "2", "csrf_token": csrf},
    )
    page = await (await client.get(url)).get_data(as_text=True)
    delivered = await client.post(f"{url}/delivery/complete", form={"version": "3", "csrf_token": csrf})

    assert [paid.status_code, scheduled.status_code, delivered.status_code] == [302, 302, 302]
    assert "Twint 12" in page and "Complete delivery" in page
    assert f'value="{when.strftime("%Y-%m-%dT%H:%M")}"' in page
    stored_deal: Deal = await stored(runtime.db, shop.id, Deal, deal.id)
    assert stored_deal.status == "DELIVERED"
    assert stored_deal.delivery_scheduled_at == when
    final = await (await client.get(url)).get_data(as_text=True)
    assert "Delivered; the customer&#39;s vehicle profile was created." in final
    assert "Hand-over scheduled for" in final and "Deposit of CHF" in final


async def test_a_stale_form_answers_409_with_the_deal_as_it_is_now(runtime, factory, client):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    deal = await make_deal(shop, rep)
    csrf = await sign_in(client, rep.email)
    await client.post(
        f"/sales/deals/{deal.id}/deposit",
        form={"amount": "3989", "reference": "A", "version": "1", "csrf_token": csrf},
    )

    stale = await client.post(
        f"/sales/deals/{deal.id}/deposit",
        form={"amount": "3989", "reference": "B", "version": "1", "csrf_token": csrf},
    )

    assert stale.status_code == 409
    html = await stale.get_data(as_text=True)
    assert "changed by someone else" in html and 'id="deal-status">Deposit paid<' in html
    assert len(await payments_of(runtime.db, shop.id, deal.id)) == 1


async def test_the_manager_cancels_with_a_reason_and_a_confirmation(runtime, factory, client):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    manager = await shop.user("sales_manager", locale="en")
    deal = await make_deal(shop, rep)
    csrf = await sign_in(client, manager.email)
    url = f"/sales/deals/{deal.id}/cancel"

    unconfirmed = await client.post(url, form={"reason": "Changed mind", "version": "1", "csrf_token": csrf})
    cancelled = await client.post(
        url, form={"reason": "Changed mind", "confirm": "yes", "version": "1", "csrf_token": csrf}
    )

    assert unconfirmed.status_code == 422
    assert _form_error(await unconfirmed.get_data(as_text=True), "cancel", "confirm") == (
        "Tick the box to confirm the cancellation."
    )
    assert cancelled.status_code == 302
    unit: StockUnit = await stored(runtime.db, shop.id, StockUnit, deal.stock_unit_id)
    assert unit.status == "AVAILABLE"


@pytest.mark.parametrize(
    ("role", "list_status", "deposit_status"),
    [
        ("viewer", 200, 403),
        ("sales_manager", 200, 302),
        ("technician", 403, 403),
        ("service_advisor", 403, 403),
    ],
)
async def test_who_sees_deals_and_who_takes_deposits(
    runtime, factory, client, role, list_status, deposit_status
):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    deal = await make_deal(shop, rep)
    user = await shop.user(role, locale="en")
    csrf = await sign_in(client, user.email)

    listing = await client.get("/sales/deals")
    page = await client.get(f"/sales/deals/{deal.id}")
    deposit = await client.post(
        f"/sales/deals/{deal.id}/deposit",
        form={"amount": "3989", "reference": "X", "version": "1", "csrf_token": csrf},
    )

    assert (listing.status_code, page.status_code, deposit.status_code) == (
        list_status,
        list_status,
        deposit_status,
    )
    if role == "viewer":
        html = await page.get_data(as_text=True)
        assert "Record the deposit" not in html and "D-000001" in html


async def test_another_dealerships_deal_is_not_found(runtime, factory, client):
    shop = await factory.tenant()
    rival = await factory.tenant()
    deal = await make_deal(shop, await shop.user("sales_rep", locale="en"))
    rival_manager = await rival.user("sales_manager", locale="en")
    csrf = await sign_in(client, rival_manager.email)

    page = await client.get(f"/sales/deals/{deal.id}")
    deposit = await client.post(
        f"/sales/deals/{deal.id}/deposit", form={"amount": "3989", "reference": "X", "csrf_token": csrf}
    )
    cancel = await client.post(
        f"/sales/deals/{deal.id}/cancel", form={"reason": "x", "confirm": "yes", "csrf_token": csrf}
    )

    assert (page.status_code, deposit.status_code, cancel.status_code) == (404, 404, 404)
    assert (await stored(runtime.db, shop.id, Deal, deal.id)).status == "OPEN"


async def test_an_accepted_quotes_page_offers_create_deal_and_then_links_the_deal(runtime, factory, client):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    _lead, _unit, quote = await sale(shop, rep)
    csrf = await sign_in(client, rep.email)

    before = await (await client.get(f"/sales/quotes/{quote.id}")).get_data(as_text=True)
    made = await client.post("/sales/deals", form={"quote_id": str(quote.id), "csrf_token": csrf})
    after = await (await client.get(f"/sales/quotes/{quote.id}")).get_data(as_text=True)

    assert 'action="/sales/deals"' in before and f'name="quote_id" value="{quote.id}"' in before
    assert made.status_code == 302
    assert "This quote became deal" in after and made.headers["Location"].endswith(
        re.search(r'href="(/sales/deals/\d+)">D-000001', after).group(1)  # type: ignore[union-attr]
    )


async def test_a_german_deal_page_writes_discount_trade_in_and_refund_as_negatives(runtime, factory, client):
    shop = await factory.tenant()
    manager = await shop.user("sales_manager", locale="de")
    deal = await make_deal(shop, manager)
    async with shop.db.uow(shop.admin.actor) as uow:
        quote = await uow.session.get(Quote, deal.quote_id)
        assert quote is not None
        quote.discount, quote.trade_in_allowance, quote.trade_in_payoff = (
            Decimal("1000"),
            Decimal("5000"),
            Decimal("2500"),
        )
        await uow.commit()
    csrf = await sign_in(client, manager.email)
    await client.post(
        f"/sales/deals/{deal.id}/deposit",
        form={"amount": "3989", "reference": "Twint 12", "version": "1", "csrf_token": csrf},
    )
    await client.post(
        f"/sales/deals/{deal.id}/cancel",
        form={"reason": "Kunde verzichtet", "confirm": "yes", "version": "2", "csrf_token": csrf},
    )

    html = await (await client.get(f"/sales/deals/{deal.id}")).get_data(as_text=True)

    # One way in every place: the minus in front of the currency, never CHF-1000.00 or a hand-set minus sign.
    assert ">-CHF\xa01\u2019000.00<" in html  # the discount
    assert ">-CHF\xa02\u2019500.00<" in html  # the trade-in, allowance less payoff
    assert ">-CHF\xa03\u2019989.00<" in html  # the deposit's refund
    assert "CHF-" not in html and "\u2212" not in html
