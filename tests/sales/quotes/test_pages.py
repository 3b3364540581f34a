"""The quote pages as people use them: the configurator with its live price and rules, a quote from a
lead, the terms form (422 next to the field, 409 when stale), the quote page with the actions each role
may take, the approvals queue, the list; other dealerships' quotes are not found."""

from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

from ops.sales.models import Quote
from ops.sales.quotes.service import decide_approval, request_approval
from tests.sales.quotes.helpers import (
    configurable_trim,
    count,
    lead_for,
    reload,
    showroom,
    unit_quote,
    with_terms,
)
from tests.web import sign_in


async def test_the_configurator_shows_each_group_and_prices_the_choice(client, factory, runtime):
    room = await showroom(await factory.tenant())
    trim = await configurable_trim(room.shop)
    lead = await lead_for(room)
    await sign_in(client, room.rep.email)

    page = await client.get(f"/sales/configure/{trim.id}?lead_id={lead.id}&option=BLUE&option=W19")

    html = await page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Skoda Kodiaq Sportline (2025)" in html
    # Paint takes exactly one: radios; Extras up to five: checkboxes; Wheels may be left empty. Each
    # group's radios have a name of their own, so choosing wheels leaves the paint chosen.
    paint = re.search(r'type="radio" name="(option-\d+)" value="BLUE" checked required', html)
    wheels = re.search(r'type="radio" name="(option-\d+)" value=""', html)
    assert paint and wheels and paint.group(1) != wheels.group(1)
    assert 'type="checkbox" name="option" value="TOWBAR"' in html
    assert "This combination can be built." in html
    # 40000 + 950 + 1200 = 42150, VAT 3240 + 76.95 + 97.20 at the line
    assert "CHF\xa045\u2019564.15" in html
    assert f'name="lead_id" value="{lead.id}"' in html


async def test_a_broken_rule_is_shown_next_to_its_group_as_options_change(client, factory, runtime):
    room = await showroom(await factory.tenant())
    trim = await configurable_trim(room.shop)
    await sign_in(client, room.rep.email)

    fragment = await client.get(
        f"/sales/configure/{trim.id}?option=W18&option=SPORT&option=TOWBAR&option=DIFFUSER",
        headers={"HX-Request": "true", "HX-Target": "configurator-summary"},
    )

    html = await fragment.get_data(as_text=True)
    assert html.lstrip().startswith('<aside id="configurator-summary"')
    assert "<html" not in html
    # Each group's messages replace the slot next to that group (out of band).
    assert re.search(
        r'id="group-errors-\d+" class="group-errors" hx-swap-oob="true">\s*'
        r'<p class="field-error">Sport package requires 19-inch wheels',
        html,
    )
    assert "Towbar conflicts with Rear diffuser" in html
    assert "2 rules are broken:" in html
    # The paint not yet chosen is what is left to do, not a broken rule, while the rep is choosing.
    assert re.search(r'class="still-to-choose">.*Choose at least 1 in Paint', html, re.S)
    assert '<p class="field-error">Choose at least 1 in Paint' not in html


async def test_the_configurator_opens_with_guidance_and_names_the_missing_choice_on_building(
    client, factory, runtime
):
    room = await showroom(await factory.tenant())
    trim = await configurable_trim(room.shop)
    lead = await lead_for(room)
    csrf = await sign_in(client, room.rep.email)

    opened = await (await client.get(f"/sales/configure/{trim.id}?lead_id={lead.id}")).get_data(as_text=True)
    assert "rules are broken" not in opened and "rule is broken" not in opened
    assert 'class="form-error"' not in opened and "field-error" not in opened and " invalid" not in opened
    assert re.search(r'class="still-to-choose">.*Choose at least 1 in Paint', opened, re.S)

    refused = await client.post(
        "/sales/quotes", form={"csrf_token": csrf, "lead_id": str(lead.id), "trim_id": str(trim.id)}
    )
    html = await refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "1 rule is broken:" in html and '<p class="field-error">Choose at least 1 in Paint' in html
    assert "still-to-choose" not in html
    assert await count(runtime.db, room.shop.id, Quote) == 0
    # The refused page carries that it was refused, so that its live checks keep the missing paint an
    # error next to its group while the rep puts the other groups right.
    assert '<input type="hidden" name="submitted" value="1">' in html
    assert re.search(r'<fieldset class="option-group form-card invalid"[^>]*>\s*<legend>Paint', html)
    assert html.count('aria-invalid="true"') == 2
    checked = await client.get(
        f"/sales/configure/{trim.id}?lead_id={lead.id}&submitted=1&option=W18",
        headers={"HX-Request": "true", "HX-Target": "configurator-summary"},
    )
    fragment = await checked.get_data(as_text=True)
    assert re.search(r'hx-swap-oob="true">\s*<p class="field-error">Choose at least 1 in Paint', fragment)
    assert "still-to-choose" not in fragment


async def test_building_a_quote_from_the_configurator(client, factory, runtime):
    room = await showroom(await factory.tenant())
    trim = await configurable_trim(room.shop)
    lead = await lead_for(room)
    csrf = await sign_in(client, room.rep.email)

    refused = await client.post(
        "/sales/quotes",
        form={"csrf_token": csrf, "lead_id": str(lead.id), "trim_id": str(trim.id), "option": "W18"},
    )
    assert refused.status_code == 422
    assert "Choose at least 1 in Paint" in await refused.get_data(as_text=True)
    assert await count(runtime.db, room.shop.id, Quote) == 0

    chosen = [("option", "WHITE"), ("option", "W18")]
    built = await client.post(
        "/sales/quotes",
        form=MultiDict([("csrf_token", csrf), ("lead_id", str(lead.id)), ("trim_id", str(trim.id)), *chosen]),
    )
    assert built.status_code == 302
    assert re.fullmatch(r"/sales/quotes/\d+/edit", built.headers["Location"])


async def test_a_quote_of_a_unit_from_the_lead(client, factory, runtime):
    room = await showroom(await factory.tenant())
    lead = await lead_for(room)
    unit = await room.shop.stock_unit(list_price="29900.00")
    csrf = await sign_in(client, room.rep.email)

    page = await client.get(f"/sales/quotes/new?lead_id={lead.id}")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'<option value="{unit.id}"' in html and "CHF\xa029\u2019900.00" in html
    # A vehicle, not a unit of measure: the parts form's "Unit" reads "Einheit" in German.
    assert '<label for="quote-unit">Vehicle</label>' in html

    built = await client.post(
        "/sales/quotes", form={"csrf_token": csrf, "lead_id": str(lead.id), "stock_unit_id": str(unit.id)}
    )
    assert built.status_code == 302


async def test_the_new_quote_offers_a_free_unit_first_and_names_a_held_one(client, factory, runtime):
    room = await showroom(await factory.tenant())
    lead = await lead_for(room)
    # The cheaper unit is held for someone: listed by price it came first, and the form chose it.
    held = await room.shop.stock_unit(status="RESERVED", list_price="19900.00")
    free = await room.shop.stock_unit(list_price="29900.00")
    await sign_in(client, room.rep.email)

    html = await (await client.get(f"/sales/quotes/new?lead_id={lead.id}")).get_data(as_text=True)

    options = re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', html)
    assert [int(unit_id) for unit_id, _label in options] == [free.id, held.id]
    assert options[1][1].endswith("(Reserved)") and not options[0][1].endswith(")")


async def test_a_bad_term_is_named_next_to_its_field_and_nothing_is_saved(client, factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await unit_quote(room)
    csrf = await sign_in(client, room.rep.email)

    response = await client.post(
        f"/sales/quotes/{quote.id}/edit",
        form={
            "csrf_token": csrf,
            "version": "1",
            "discount": "abc",
            "apr_percent": "3.9",
            "fee-0-name": "Delivery",
        },
    )

    html = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="quote-discount-error"' in html and "Enter an amount" in html
    assert 'aria-describedby="quote-discount-error"' in html
    assert 'id="quote-term_months-error"' in html
    assert 'id="quote-fee-0-price-error"' in html
    # What was typed stays in the form.
    assert 'value="abc"' in html and 'value="Delivery"' in html
    assert (await reload(runtime.db, room.shop.id, quote.id)).version == 1


async def test_the_limits_of_discount_and_down_payment_are_written_as_money_in_the_readers_language(
    client, factory, runtime
):
    """A Swiss rep read "(12345.5)": a bare number, neither francs nor the way Switzerland writes them."""
    room = await showroom(await factory.tenant())
    rep = await room.shop.user("sales_rep", locale="de")
    quote = await unit_quote(room)
    csrf = await sign_in(client, rep.email)

    async def refused(**terms: str) -> str:
        response = await client.post(
            f"/sales/quotes/{quote.id}/edit", form={"csrf_token": csrf, "version": "1", **terms}
        )
        assert response.status_code == 422
        return await response.get_data(as_text=True)

    # 40,000 plus 8.1 % VAT is 43,240.00; a trade-in worth 30,894.50 net leaves 12,345.50 to pay.
    html = await refused(trade_in_allowance="30894.50", down_payment="20000")
    assert "der nach dem Eintausch zu zahlen bleibt (CHF\xa012\u2019345.50)." in html
    # A discount beyond the price leaves nothing to pay, and the down payment's limit says so.
    html = await refused(discount="50000", down_payment="100")
    assert "mit seinen Optionen (CHF\xa040\u2019000.00)." in html
    assert "zu zahlen bleibt (CHF\xa00.00)." in html
    assert (await reload(runtime.db, room.shop.id, quote.id)).version == 1


async def test_saving_the_terms_and_a_stale_form(client, factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await unit_quote(room)
    csrf = await sign_in(client, room.rep.email)

    added = await client.post(
        f"/sales/quotes/{quote.id}/edit",
        form={
            "csrf_token": csrf,
            "version": "1",
            "accessory-0-name": "Mats",
            "accessory-0-price": "120",
            "add": "accessory",
        },
    )
    assert added.status_code == 200
    assert 'name="accessory-1-name"' in await added.get_data(as_text=True)
    assert (await reload(runtime.db, room.shop.id, quote.id)).version == 1

    saved = await client.post(
        f"/sales/quotes/{quote.id}/edit",
        form={"csrf_token": csrf, "version": "1", "accessory-0-name": "Mats", "accessory-0-price": "120"},
    )
    assert saved.status_code == 303
    assert (await reload(runtime.db, room.shop.id, quote.id)).accessories == [
        {"name": "Mats", "price": "120.00"}
    ]

    stale = await client.post(
        f"/sales/quotes/{quote.id}/edit", form={"csrf_token": csrf, "version": "1", "discount": "500"}
    )
    html = await stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert "changed by someone else" in html
    assert 'name="version" value="2"' in html and 'value="500"' in html


async def test_the_terms_form_prices_what_is_typed_without_saving(client, factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await unit_quote(room, list_price="40000.00", cost="30000.00")
    csrf = await sign_in(client, room.rep.email)

    preview = await client.post(
        f"/sales/quotes/{quote.id}/preview",
        form={"csrf_token": csrf, "discount": "4000"},
        headers={"HX-Request": "true", "HX-Target": "quote-preview"},
    )

    html = await preview.get_data(as_text=True)
    assert html.lstrip().startswith('<aside id="quote-preview"')
    assert "CHF\xa038\u2019916.00" in html  # 40000 + 3240 VAT, less 4000 + 324 VAT
    assert "Discount 10 % of the vehicle price: 5 points above the 5 % limit" in html
    assert (await reload(runtime.db, room.shop.id, quote.id)).version == 1


async def test_the_quote_page_shows_the_figures_and_the_actions_of_the_role(app, factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await with_terms(room, await unit_quote(room, cost="30000.00"), discount="4000")
    viewer = await room.shop.user("viewer")

    async def page_for(email: str) -> str:
        client = app.test_client()
        await sign_in(client, email)
        return await (await client.get(f"/sales/quotes/{quote.id}")).get_data(as_text=True)

    html = await page_for(room.rep.email)
    assert f"Quote {quote.code}" in html
    assert "Request approval" in html and "Send to the customer" not in html
    assert "Discount 10 % of the vehicle price: 5 points above the 5 % limit" in html
    assert "Gross margin" in html
    # Live: the quote's own changes and the rep's notices on one stream.
    assert f"/live?topic=quote:{quote.id}&amp;topic=user:{room.rep.actor.user_id}" in html

    html = await page_for(viewer.email)
    assert "Request approval" not in html and "Edit terms" not in html
    assert "Gross margin" not in html
    assert "CHF" in html

    async with runtime.db.uow(room.rep.actor) as uow:
        quote = await request_approval(uow, quote.id, quote.version)
    html = await page_for(room.manager.email)
    assert (
        'name="decision" value="APPROVED"' in html and "Rita Rep asked a sales manager to approve it." in html
    )
    assert "A sales manager must approve these figures before the quote is sent:" in html

    # Approved: the figures no longer wait for a manager, and the page says so.
    async with runtime.db.uow(room.manager.actor) as uow:
        await decide_approval(uow, quote.id, "APPROVED", "", quote.version)
    html = await page_for(room.rep.email)
    assert "must approve these figures" not in html
    assert "The figures a sales manager approved:" in html and "5 points above the 5 % limit" in html


async def test_who_may_open_the_quote_pages(app, factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await unit_quote(room)
    other = await showroom(await factory.tenant())

    async def status(email: str, path: str) -> int:
        client = app.test_client()
        await sign_in(client, email)
        return (await client.get(path)).status_code

    technician = await room.shop.user("technician")
    assert await status(technician.email, f"/sales/quotes/{quote.id}") == 403
    assert await status(technician.email, "/sales/quotes") == 403
    assert await status(room.rep.email, "/sales/approvals") == 403
    assert await status(room.manager.email, "/sales/approvals") == 200
    # Another dealership's quote answers 404 on every page.
    for path in (
        f"/sales/quotes/{quote.id}",
        f"/sales/quotes/{quote.id}/edit",
        f"/sales/quotes/new?lead_id={quote.lead_id}",
    ):
        assert await status(other.rep.email, path) == 404


async def test_the_navigation_offers_quotes_to_sales_and_approvals_to_managers(app, factory, runtime):
    room = await showroom(await factory.tenant())

    for handle, approvals in ((room.rep, False), (room.manager, True)):
        client = app.test_client()
        await sign_in(client, handle.email)
        html = await (await client.get("/sales/quotes")).get_data(as_text=True)
        assert 'href="/sales/quotes" aria-current="page">Quotes</a>' in html
        assert ('href="/sales/approvals"' in html) is approvals


async def test_the_approvals_queue_decides_in_place(client, factory, runtime):
    room = await showroom(await factory.tenant())
    quote = await with_terms(room, await unit_quote(room, cost="30000.00"), discount="4000")
    async with runtime.db.uow(room.rep.actor) as uow:
        quote = await request_approval(uow, quote.id, quote.version)
    csrf = await sign_in(client, room.manager.email)

    page = await client.get("/sales/approvals")
    html = await page.get_data(as_text=True)
    assert f'id="approval-{quote.id}"' in html and "asked by Rita Rep" in html

    missing = await client.post(
        f"/sales/quotes/{quote.id}/decision",
        form={"csrf_token": csrf, "version": str(quote.version), "decision": "REJECTED", "from": "queue"},
        headers={"HX-Request": "true"},
    )
    html = await missing.get_data(as_text=True)
    assert missing.status_code == 422
    assert f'id="comment-{quote.id}-error"' in html
    assert html.lstrip().startswith('<div id="approval-queue"')

    approved = await client.post(
        f"/sales/quotes/{quote.id}/decision",
        form={"csrf_token": csrf, "version": str(quote.version), "decision": "APPROVED", "from": "queue"},
        headers={"HX-Request": "true"},
    )
    assert approved.status_code == 200
    assert "No quote is waiting for approval." in await approved.get_data(as_text=True)
    assert (await reload(runtime.db, room.shop.id, quote.id)).status == "APPROVED"


async def test_the_list_filters_by_status(client, factory, runtime):
    room = await showroom(await factory.tenant())
    draft = await unit_quote(room)
    pending = await with_terms(room, await unit_quote(room, cost="30000.00"), discount="4000")
    async with runtime.db.uow(room.rep.actor) as uow:
        await request_approval(uow, pending.id, pending.version)
    await sign_in(client, room.rep.email)

    everything = await (await client.get("/sales/quotes")).get_data(as_text=True)
    waiting = await (await client.get("/sales/quotes?status=PENDING_APPROVAL")).get_data(as_text=True)

    assert f'id="quote-row-{draft.id}"' in everything and f'id="quote-row-{pending.id}"' in everything
    assert f'id="quote-row-{pending.id}"' in waiting and f'id="quote-row-{draft.id}"' not in waiting


async def test_a_configured_quote_says_its_cost_is_missing_instead_of_a_margin(client, factory, runtime):
    room = await showroom(await factory.tenant())
    trim = await configurable_trim(room.shop)
    lead = await lead_for(room)
    csrf = await sign_in(client, room.rep.email)
    built = await client.post(
        "/sales/quotes",
        form=MultiDict(
            [("csrf_token", csrf), ("lead_id", str(lead.id)), ("trim_id", str(trim.id)), ("option", "BLUE")]
        ),
    )
    edit_url = built.headers["Location"]
    quote_url = edit_url.removesuffix("/edit")
    missing = "The vehicle's cost is missing: enter it so the margin can be checked."

    html = await (await client.get(edit_url)).get_data(as_text=True)
    assert 'name="vehicle_cost" inputmode="decimal" autocomplete="off" value=""' in html
    assert missing in html and "Unknown until the vehicle's cost is entered" in html
    assert "Within the limits" not in html and "%</dd>" not in html

    preview = await client.post(
        f"{quote_url}/preview", form={"csrf_token": csrf, "discount": "500", "vehicle_cost": ""}
    )
    assert missing in await preview.get_data(as_text=True)

    page = await (await client.get(quote_url)).get_data(as_text=True)
    assert missing in page and "Send to the customer" not in page and "Request approval" not in page

    priced = await client.post(
        f"{quote_url}/preview", form={"csrf_token": csrf, "discount": "500", "vehicle_cost": "38000"}
    )
    html = await priced.get_data(as_text=True)
    assert missing not in html and "Within the limits" in html
