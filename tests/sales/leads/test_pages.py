"""Capturing a lead (GET /sales/leads/new, POST /sales/leads), the lead page, editing it with its
version, and noting a contact."""

from __future__ import annotations

import re
from datetime import timedelta

from ops.db import utcnow
from ops.sales.leads.service import move_lead
from tests.factories import TenantFactory
from tests.sales.leads.helpers import (
    accepted_quote,
    customer,
    events_of,
    history,
    leads_of,
    new_lead,
    returned_drive,
    set_lead,
    sign_in,
    stored_lead,
)
from tests.web import http_sign_in, open_sse

HTMX = {"HX-Request": "true"}


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def test_a_rep_captures_a_lead_for_a_customer_found_by_search_and_owns_it(client, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en", name="Lea Frei")
    buyer = await customer(shop, first_name="Beat", last_name="Gerber")
    trim = await shop.trim(model="Enyaq")
    csrf = await sign_in(client, rep.email)

    form = await client.get("/sales/leads/new")
    assert form.status_code == 200
    page = await form.get_data(as_text=True)
    assert 'name="source"' in page and 'name="budget"' in page and 'name="next_action_on"' in page
    assert f'<option value="{rep.actor.user_id}" selected>' in page  # owner: the rep, by default
    assert 'href="/customers/new"' in page  # not found? create the customer
    results = await client.get("/sales/leads/customers", query_string={"q": "gerb"}, headers=HTMX)
    assert f'value="{buyer.id}"' in await results.get_data(as_text=True)

    response = await client.post(
        "/sales/leads",
        form={
            "csrf_token": csrf,
            "customer_id": str(buyer.id),
            "interest_trim_id": str(trim.id),
            "interest_note": "white",
            "source": "PHONE",
            "budget": "52'000",
            "owner_id": str(rep.actor.user_id),
            "trade_in_offered": "1",
            "next_action": "Send brochure",
            "next_action_on": "2031-01-15",
        },
    )

    assert response.status_code == 302
    [lead] = await leads_of(shop.db, shop.id)
    assert response.headers["Location"] == f"/sales/leads/{lead.id}"
    assert (lead.customer_id, lead.interest_trim_id, lead.source, str(lead.budget)) == (
        buyer.id,
        trim.id,
        "PHONE",
        "52000.00",
    )
    assert (lead.stage, lead.owner_id, lead.trade_in_offered, lead.financing_preapproved) == (
        "NEW",
        rep.actor.user_id,
        True,
        False,
    )
    assert [(c.from_stage, c.to_stage) for c in await history(shop.db, shop.id, lead.id)] == [(None, "NEW")]
    [created] = await events_of(shop.db, shop.id, "lead.created")
    assert created.topics == ["sales", f"customer:{buyer.id}"]


async def test_a_lead_from_a_customer_page_has_the_customer_chosen(client, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    buyer = await customer(shop, first_name="Beat", last_name="Gerber")
    await sign_in(client, rep.email)

    page = await (await client.get("/sales/leads/new", query_string={"customer_id": buyer.id})).get_data(
        as_text=True
    )

    assert re.search(rf'id="customer-{buyer.id}" name="customer_id" value="{buyer.id}" checked', page)
    assert "Beat Gerber" in page


async def test_bad_input_is_named_next_to_each_field_and_nothing_is_saved(client, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    other = await factory.tenant()
    foreign = await customer(other)
    csrf = await sign_in(client, rep.email)

    response = await client.post(
        "/sales/leads",
        form={
            "csrf_token": csrf,
            "customer_id": str(foreign.id),
            "source": "CARRIER_PIGEON",
            "budget": "a lot",
            "next_action_on": "tomorrow",
            "owner_id": "999999",
        },
    )

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    expected = {
        "customer_id": "Choose the customer.",
        "source": "Choose where the lead came from.",
        "budget": "Enter an amount, like 45000.",
        "next_action_on": "Enter a date.",
        "owner_id": "Choose a sales person.",
        "interest_note": "Say what the customer is interested in",
    }
    for field, message in expected.items():
        match = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', page)
        assert match and match.group(1).startswith(message.replace("'", "&#39;")), (field, match)
    assert 'aria-invalid="true" aria-describedby="budget-error"' in page
    assert 'value="a lot"' in page  # what was typed stays
    assert await leads_of(shop.db, shop.id) == []


async def test_the_lead_page_shows_details_score_reasons_history_and_links(client, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en", name="Lea Frei")
    manager = await shop.user("sales_manager", name="Reto Baumann")
    unit = await shop.stock_unit(list_price="36900.00")
    lead = await new_lead(
        shop,
        rep,
        source="REFERRAL",
        budget="40000",
        interest_unit_id=unit.id,
        next_action="Call",
        stage="QUOTE",
    )
    async with shop.db.uow(manager.actor) as uow:
        lead = await move_lead(uow, lead.id, "TEST_DRIVE", lead.version)
    await returned_drive(shop, lead, unit)
    quote = await accepted_quote(shop, lead)
    await set_lead(shop, lead.id, last_contact_at=utcnow())
    await sign_in(client, rep.email)

    response = await client.get(f"/sales/leads/{lead.id}")

    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    text = text_of(page)
    assert "Anna Muster" in text and "Referral" in text and "CHF 40\u2019000.00" in text
    assert f'href="/customers/{lead.customer_id}"' in page
    assert f'href="/sales/stock/{unit.id}"' in page  # the unit of interest
    for line in (
        "+20 Source: Referral",
        "+15 Budget fits stock",
        "+20 Test drive done",
        "+10 Last contact today",
    ):
        assert line in text, line
    assert "Score: 65" in text
    assert "Budget fits stock +15: an available unit" in text  # the rules, with this tenant's weights
    history_rows = re.findall(r"<tr>\s*<td>.*?</tr>", page, re.S)
    assert len(history_rows) == 3
    assert "Reto Baumann" in text_of(history_rows[0]) and "Quote → Test drive step back" in text_of(
        history_rows[0]
    )
    assert "Lea Frei New → Quote" in text_of(history_rows[1])
    assert quote.code in text and "Accepted" in text
    assert 'id="lost"' in page and "Mark as lost" in text
    assert re.search(r'<option value="WON">Won</option>', page)  # an accepted quote: Won may be chosen


async def test_editing_a_lead_needs_the_version_the_rep_saw(client, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    lead = await new_lead(shop, rep, budget="30000")
    csrf = await sign_in(client, rep.email)
    edit = await (await client.get(f"/sales/leads/{lead.id}/edit")).get_data(as_text=True)
    assert 'name="version" value="1"' in edit and 'value="30000.00"' in edit

    form = {
        "csrf_token": csrf,
        "customer_id": str(lead.customer_id),
        "source": "WALK_IN",
        "interest_note": "Estate",
        "budget": "35000",
        "owner_id": str(rep.actor.user_id),
        "financing_preapproved": "on",
        "version": "1",
    }
    saved = await client.post(f"/sales/leads/{lead.id}/edit", form=form)
    assert saved.status_code == 302
    stored = await stored_lead(shop.db, shop.id, lead.id)
    assert (str(stored.budget), stored.financing_preapproved, stored.version) == ("35000.00", True, 2)
    [updated] = await events_of(shop.db, shop.id, "lead.updated")
    assert updated.payload["changed"] == ["budget", "financing_preapproved", "interest_note"]

    stale = await client.post(f"/sales/leads/{lead.id}/edit", form=form | {"budget": "99000"})
    assert stale.status_code == 409
    page = await stale.get_data(as_text=True)
    assert "Someone else changed this lead" in page and 'value="35000.00"' in page and 'value="2"' in page
    assert str((await stored_lead(shop.db, shop.id, lead.id)).budget) == "35000.00"

    bad = await client.post(f"/sales/leads/{lead.id}/edit", form=form | {"version": "2", "budget": "-5"})
    assert bad.status_code == 422 and "Enter an amount of zero or more." in await bad.get_data(as_text=True)


async def test_the_score_explains_a_lead_never_contacted_as_it_scores_it(client, factory):
    """The page must not say "Last contact: never" and then count a recent contact: a lead nobody has
    contacted earns no contact points while fresh, and once left waiting the minus says so."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    lead = await new_lead(shop, rep, source="WEB")
    await sign_in(client, rep.email)

    fresh = text_of(await (await client.get(f"/sales/leads/{lead.id}")).get_data(as_text=True))
    assert "Last contact: never" in fresh and "Score: 5" in fresh
    assert "Last contact today" not in fresh and "Recent contact" not in fresh

    await set_lead(shop, lead.id, created_at=utcnow() - timedelta(days=20))
    waiting = text_of(await (await client.get(f"/sales/leads/{lead.id}")).get_data(as_text=True))
    assert "Last contact: never" in waiting and "Score: 0" in waiting
    assert "-15 Not contacted yet; created 20 days ago" in waiting
    assert "Last contact 20 days ago" not in waiting

    # Contacted 20 days ago reads as a last contact, with the same minus.
    await set_lead(shop, lead.id, last_contact_at=utcnow() - timedelta(days=20, hours=1))
    contacted = text_of(await (await client.get(f"/sales/leads/{lead.id}")).get_data(as_text=True))
    assert "-15 Last contact 20 days ago" in contacted and "Not contacted yet" not in contacted


async def test_contacted_today_refreshes_the_contact_rule(client, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    lead = await new_lead(shop, rep)
    await set_lead(shop, lead.id, created_at=utcnow() - timedelta(days=20))
    csrf = await sign_in(client, rep.email)
    assert "-15 Not contacted yet; created 20 days ago" in text_of(
        await (await client.get(f"/sales/leads/{lead.id}")).get_data(as_text=True)
    )

    response = await client.post(
        f"/sales/leads/{lead.id}/contacted",
        form={"csrf_token": csrf},
        headers={"Referer": f"http://localhost/sales/leads/{lead.id}"},
    )

    assert response.status_code == 303 and response.headers["Location"] == f"/sales/leads/{lead.id}"
    stored = await stored_lead(shop.db, shop.id, lead.id)
    assert stored.last_contact_at is not None and stored.version == 2
    assert "+10 Last contact today" in text_of(
        await (await client.get(f"/sales/leads/{lead.id}")).get_data(as_text=True)
    )


async def test_the_lead_page_rereads_itself_when_a_colleague_moves_the_lead(live_server):
    """A rep with the lead page open sees a colleague's move without reloading: the page watches the
    customer's topic, where every change of the lead, its quotes, drives and holds is recorded."""
    db = live_server.runtime.db
    shop = await TenantFactory(db).tenant()
    rep = await shop.user("sales_rep", locale="en", name="Lea Frei")
    manager = await shop.user("sales_manager", name="Reto Baumann")
    lead = await new_lead(shop, rep, stage="CONTACTED")

    async with http_sign_in(live_server.url, rep.email) as (rep_client, _):
        page = await rep_client.get(f"/sales/leads/{lead.id}")
        assert page.status_code == 200
        assert f"topic=customer:{lead.customer_id}" in page.text.replace("%3A", ":")
        assert 'id="lead-live"' in page.text and 'hx-trigger="sse:update delay:300ms, sse:reset"' in page.text

        async with open_sse(rep_client, f"customer:{lead.customer_id}") as watched:
            async with db.uow(manager.actor) as uow:
                await move_lead(uow, lead.id, "QUALIFIED", lead.version)
            assert (await watched.next()).event == "update"

        fragment = await rep_client.get(
            f"/sales/leads/{lead.id}", headers={"HX-Request": "true", "HX-Target": "lead-live"}
        )
        assert fragment.status_code == 200
        assert fragment.text.lstrip().startswith('<div id="lead-live"')
        assert "<html" not in fragment.text
        assert "Qualified" in text_of(fragment.text) and "Reto Baumann" in text_of(fragment.text)
