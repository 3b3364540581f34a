"""The pipeline board: GET /sales/board, its columns, counts, cards, filters, and moves from it."""

from __future__ import annotations

import re
from datetime import date, timedelta

from ops.db import utcnow
from ops.sales.leads import queries
from ops.sales.leads.queries import COLUMN_LIMIT
from tests.sales.leads.helpers import (
    BOARD,
    accepted_quote,
    card_of,
    columns_of,
    counts_of,
    customer,
    move_targets,
    new_lead,
    set_lead,
    sign_in,
    stored_lead,
)

STAGES = ["NEW", "CONTACTED", "QUALIFIED", "TEST_DRIVE", "QUOTE", "NEGOTIATION", "WON", "LOST"]
HTMX = {"HX-Request": "true", "HX-Current-URL": "http://localhost/sales/board"}


async def test_the_board_has_a_column_per_stage_with_counts_and_closed_leads_of_the_last_30_days(
    client, factory
):
    """A manager would count lost deals from last year as this month's, or miss a column."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    placed = {
        "NEW": [await new_lead(shop, rep), await new_lead(shop, rep)],
        "QUALIFIED": [await new_lead(shop, rep, stage="QUALIFIED")],
        "NEGOTIATION": [await new_lead(shop, rep, stage="NEGOTIATION")],
    }
    won = await new_lead(shop, rep, stage="QUOTE")
    await set_lead(shop, won.id, stage="WON", closed_at=utcnow() - timedelta(days=3))
    lost_long_ago = await new_lead(shop, rep)
    await set_lead(
        shop, lost_long_ago.id, stage="LOST", lost_reason="PRICE", closed_at=utcnow() - timedelta(days=31)
    )
    await sign_in(client, rep.email)

    response = await client.get(BOARD)

    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    columns = columns_of(page)
    assert list(columns) == STAGES
    for stage, leads in placed.items():
        assert sorted(columns[stage]) == sorted(lead.id for lead in leads)
    assert columns["WON"] == [won.id]
    assert f'id="lead-{lost_long_ago.id}"' not in page
    assert counts_of(page) == {stage: len(placed.get(stage, [])) for stage in STAGES} | {"WON": 1, "LOST": 0}
    titles = re.findall(r'<span class="column-title">([^<]+)</span>', page)
    assert titles == ["New", "Contacted", "Qualified", "Test drive", "Quote", "Negotiation", "Won", "Lost"]
    assert 'data-presence-topic="sales"' in page
    assert "goes back one stage at a time" in page  # the move rule, said on the page


async def test_a_card_shows_customer_interest_budget_score_owner_next_action_and_days_in_stage(
    client, factory
):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en", name="Lea Frei")
    trim = await shop.trim(make="Skoda", model="Enyaq", trim="85")
    buyer = await customer(shop, first_name="Beat", last_name="Gerber")
    lead = await new_lead(
        shop,
        rep,
        customer_id=buyer.id,
        interest_trim_id=trim.id,
        interest_note="white, tow bar",
        source="REFERRAL",
        budget="48500",
        next_action="Call back about trade-in",
        next_action_on=(date.today() - timedelta(days=2)).isoformat(),
    )
    now = utcnow()
    contacted = now - timedelta(hours=3)
    await set_lead(shop, lead.id, stage_changed_at=now - timedelta(days=4), last_contact_at=contacted)
    await sign_in(client, rep.email)

    card = card_of(await (await client.get(BOARD)).get_data(as_text=True), lead.id)

    text = " ".join(re.sub(r"<[^>]+>", " ", card).split())
    assert "Beat Gerber" in text and "Skoda Enyaq 85 · white, tow bar" in text
    assert "CHF 48\u2019500.00" in text  # en_CH: a Swiss tenant's money
    assert "Lea Frei" in text
    assert (
        "Call back about trade-in" in text and "overdue" in text and 'class="card lead-card overdue"' in card
    )
    assert "4 days" in text
    assert "+20 Referral" in text and "+10 Recent contact" in text
    assert re.search(r'class="score score-medium"[^>]*>.*?30</span>', card, re.S)
    assert move_targets(card) == [
        "CONTACTED",
        "QUALIFIED",
        "TEST_DRIVE",
        "QUOTE",
        "NEGOTIATION",
        "WON",
        "LOST",
    ]
    assert f'href="/sales/leads/{lead.id}"' in card


async def test_a_card_calls_a_lead_nobody_contacted_what_it_is(client, factory):
    """A card that says "No recent contact" or "+10 Recent contact" for a lead never called would hide
    that nobody has picked it up yet."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    fresh = await new_lead(shop, rep, source="REFERRAL")
    forgotten = await new_lead(shop, rep, source="REFERRAL")
    await set_lead(shop, forgotten.id, created_at=utcnow() - timedelta(days=20))
    await sign_in(client, rep.email)

    page = await (await client.get(BOARD)).get_data(as_text=True)

    def reasons(card: str) -> list[str]:
        return re.findall(r'<li class="(?:plus|minus)">([^<]*)</li>', card)

    assert reasons(card_of(page, fresh.id)) == ["+20 Referral"]
    forgotten_card = card_of(page, forgotten.id)
    assert reasons(forgotten_card) == ["+20 Referral", "-15 Not contacted yet"]
    assert re.search(r'class="score score-low"[^>]*>.*?5</span>', forgotten_card, re.S)


async def test_the_board_reads_as_a_swiss_dealer_writes_german(client, factory):
    """The owner filter read "Leads aller", a card's next action "Weiter" (a pager's "next page")."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="de")
    lead = await new_lead(shop, rep, next_action="Zurückrufen")
    await set_lead(shop, lead.id, created_at=utcnow() - timedelta(days=20))
    await sign_in(client, rep.email)

    page = await (await client.get(BOARD)).get_data(as_text=True)

    assert '<option value="">Alle Leads</option>' in page
    text = " ".join(re.sub(r"<[^>]+>", " ", card_of(page, lead.id)).split())
    assert "Nächste Aktion Zurückrufen" in text and "-15 Noch nicht kontaktiert" in text


async def test_filters_show_my_leads_or_one_source(client, factory):
    shop = await factory.tenant()
    me, colleague = await shop.user("sales_rep", locale="en"), await shop.user("sales_rep")
    mine = await new_lead(shop, me, source="WEB")
    theirs = await new_lead(shop, colleague, source="WEB")
    referral = await new_lead(shop, colleague, source="REFERRAL", stage="QUOTE")
    await sign_in(client, me.email)

    page = await (await client.get(BOARD, query_string={"owner": "mine"})).get_data(as_text=True)
    assert columns_of(page)["NEW"] == [mine.id]
    assert counts_of(page)["NEW"] == 1 and counts_of(page)["QUOTE"] == 0
    assert f'data-filter-owner="{me.actor.user_id}"' in page

    page = await (await client.get(BOARD, query_string={"source": "REFERRAL"})).get_data(as_text=True)
    assert columns_of(page)["QUOTE"] == [referral.id] and columns_of(page)["NEW"] == []
    assert 'data-filter-source="REFERRAL"' in page

    page = await (await client.get(BOARD, query_string={"source": "NONSENSE", "owner": "x"})).get_data(
        as_text=True
    )
    assert sorted(columns_of(page)["NEW"]) == sorted([mine.id, theirs.id]) and "data-filtered" not in page


async def test_a_long_column_shows_its_newest_cards_and_a_link_to_all_of_them(client, factory):
    """A wall screen cannot show 200 cards in a column, and the board must stay fast."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    leads = [await new_lead(shop, rep) for _ in range(COLUMN_LIMIT + 2)]
    await sign_in(client, rep.email)

    page = await (await client.get(BOARD)).get_data(as_text=True)
    shown = columns_of(page)["NEW"]
    assert len(shown) == COLUMN_LIMIT and shown == [lead.id for lead in reversed(leads)][:COLUMN_LIMIT]
    assert counts_of(page)["NEW"] == COLUMN_LIMIT + 2
    assert f"Show all {COLUMN_LIMIT + 2}" in page and "expand=NEW" in page

    page = await (await client.get(BOARD, query_string={"expand": "NEW"})).get_data(as_text=True)
    assert len(columns_of(page)["NEW"]) == COLUMN_LIMIT + 2


async def test_a_reps_own_board_has_the_same_column_limit_counting_all_of_the_reps_leads(client, factory):
    """A rep with 300 leads would wait for a board of 300 cards, or count only the first 15."""
    shop = await factory.tenant()
    rep, colleague = await shop.user("sales_rep", locale="en"), await shop.user("sales_rep")
    mine = [await new_lead(shop, rep) for _ in range(COLUMN_LIMIT + 2)]
    theirs = [await new_lead(shop, colleague) for _ in range(2)]
    await sign_in(client, rep.email)

    page = await (await client.get(BOARD, query_string={"owner": "mine"})).get_data(as_text=True)
    assert columns_of(page)["NEW"] == [lead.id for lead in reversed(mine)][:COLUMN_LIMIT]
    assert counts_of(page)["NEW"] == COLUMN_LIMIT + 2
    show_all = re.search(r'<a class="show-all" href="([^"]+)">([^<]+)</a>', page)
    assert show_all and show_all.group(2) == f"Show all {COLUMN_LIMIT + 2}"
    assert show_all.group(1) == "/sales/board?expand=NEW&amp;owner=mine#column-NEW"
    # Live updates carry everyone's counts: this board re-reads its own on each of them.
    assert 'hx-get="/sales/board/counts?owner=mine" hx-trigger="sse:update"' in page

    page = await (await client.get(BOARD, query_string={"owner": "mine", "expand": "NEW"})).get_data(
        as_text=True
    )
    assert columns_of(page)["NEW"] == [lead.id for lead in reversed(mine)]
    assert counts_of(page)["NEW"] == COLUMN_LIMIT + 2 and "show-all" not in page
    assert not {lead.id for lead in theirs} & set(columns_of(page)["NEW"])
    assert 'hx-get="/sales/board?expand=NEW&amp;owner=mine"' in page  # a live reset keeps both


async def test_a_filtered_boards_counts_are_its_own_and_a_plain_get_goes_to_the_board(client, factory):
    shop = await factory.tenant()
    rep, colleague = await shop.user("sales_rep", locale="en"), await shop.user("sales_rep")
    await new_lead(shop, rep, stage="QUALIFIED")
    await new_lead(shop, rep, source="WEB")
    await new_lead(shop, colleague, source="WEB")
    await sign_in(client, rep.email)

    response = await client.get(f"{BOARD}/counts", query_string={"owner": "mine"}, headers=HTMX)
    assert response.status_code == 200
    heads = await response.get_data(as_text=True)
    assert counts_of(heads) == dict.fromkeys(STAGES, 0) | {"NEW": 1, "QUALIFIED": 1}
    assert heads.count('hx-swap-oob="true"') == len(STAGES) and '<h2 id="col-title-NEW"' in heads

    response = await client.get(f"{BOARD}/counts", query_string={"source": "WEB"}, headers=HTMX)
    assert counts_of(await response.get_data(as_text=True))["NEW"] == 2

    response = await client.get(f"{BOARD}/counts", query_string={"owner": "mine", "source": "WEB"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/sales/board?owner=mine&source=WEB"


async def test_what_people_typed_shows_on_the_card_as_text_not_markup(client, factory):
    """The cards are rendered without Jinja's escaping (it was a third of their cost): a name or note
    with markup in it must still show as typed, never run in a colleague's browser."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en", name="Lea <b>Frei</b>")
    buyer = await customer(shop, first_name="<script>alert(1)</script>", last_name="O'Brien & Co")
    lead = await new_lead(
        shop,
        rep,
        customer_id=buyer.id,
        interest_note='<img src=x onerror="alert(2)">',
        next_action="Call <i>back</i>",
    )
    await sign_in(client, rep.email)

    card = card_of(await (await client.get(BOARD)).get_data(as_text=True), lead.id)

    assert "<script>" not in card and "<img" not in card and "<b>" not in card and "<i>" not in card
    assert "&lt;script&gt;alert(1)&lt;/script&gt; O&#39;Brien &amp; Co" in card
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in card
    assert "Lea &lt;b&gt;Frei&lt;/b&gt;" in card and "Call &lt;i&gt;back&lt;/i&gt;" in card


async def test_a_move_from_the_board_answers_with_the_card_in_its_new_column_and_every_count(client, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en", name="Lea Frei")
    lead = await new_lead(shop, rep)
    csrf = await sign_in(client, rep.email)

    response = await client.post(
        f"/sales/leads/{lead.id}/move",
        form={"stage": "QUALIFIED", "version": "1", "csrf_token": csrf},
        headers=HTMX,
    )

    assert response.status_code == 200
    body = await response.get_data(as_text=True)
    assert f'<div id="lead-{lead.id}" hx-swap-oob="delete"></div>' in body
    assert 'hx-swap-oob="afterbegin:#cards-QUALIFIED"' in body and 'data-version="2"' in body
    assert counts_of(body) == dict.fromkeys(STAGES, 0) | {"QUALIFIED": 1}
    assert "Lead of Anna Muster moved to Qualified by Lea Frei." in body


async def test_a_refused_or_stale_move_puts_the_card_back_and_says_why(client, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    lead = await new_lead(shop, rep, stage="NEGOTIATION")
    csrf = await sign_in(client, rep.email)

    refused = await client.post(
        f"/sales/leads/{lead.id}/move",
        form={"stage": "WON", "version": "2", "csrf_token": csrf},
        headers=HTMX,
    )
    assert refused.status_code == 422
    body = await refused.get_data(as_text=True)
    assert 'hx-swap-oob="afterbegin:#cards-NEGOTIATION"' in body
    assert "won with an accepted quote" in body and "toast-error" in body

    stale = await client.post(
        f"/sales/leads/{lead.id}/move",
        form={"stage": "QUOTE", "version": "1", "csrf_token": csrf},
        headers=HTMX,
    )
    assert stale.status_code == 409
    body = await stale.get_data(as_text=True)
    assert 'hx-swap-oob="afterbegin:#cards-NEGOTIATION"' in body and 'data-version="2"' in body
    assert "changed by someone else" in body

    await accepted_quote(shop, lead)
    won = await client.post(
        f"/sales/leads/{lead.id}/move",
        form={"stage": "WON", "version": "2", "csrf_token": csrf},
        headers=HTMX,
    )
    assert won.status_code == 200 and "afterbegin:#cards-WON" in await won.get_data(as_text=True)


async def test_won_in_a_cards_menu_is_disabled_with_the_reason_until_the_lead_has_an_accepted_quote(
    app, client, factory
):
    """The board offered Won on every card, and the server then refused the move: a rep could not tell
    which leads can be closed as won."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    german = await shop.user("sales_manager", locale="de")
    without = await new_lead(shop, rep, stage="NEGOTIATION")
    only_sent = await new_lead(shop, rep, stage="NEGOTIATION")
    await accepted_quote(shop, only_sent, status="SENT")
    accepted = await new_lead(shop, rep, stage="NEGOTIATION")
    await accepted_quote(shop, accepted)
    await sign_in(client, rep.email)

    page = await (await client.get(BOARD)).get_data(as_text=True)

    for lead in (without, only_sent):
        card = card_of(page, lead.id)
        assert '<option value="WON" disabled>Won (needs an accepted quote)</option>' in card
        assert 'data-allowed="QUOTE LOST"' in card  # dragging it, the Won column reads as refused
    card = card_of(page, accepted.id)
    assert '<option value="WON">Won</option>' in card and 'data-allowed="QUOTE WON LOST"' in card

    in_german = app.test_client()
    await sign_in(in_german, german.email)
    page = await (await in_german.get(BOARD)).get_data(as_text=True)
    card = card_of(page, without.id)
    assert '<option value="WON" disabled>Gewonnen (braucht eine angenommene Offerte)</option>' in card
    assert '<option value="WON">Gewonnen</option>' in card_of(page, accepted.id)


async def test_lost_from_the_board_takes_the_reason_and_without_javascript_asks_for_it_on_the_lead_page(
    client, factory
):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    lead = await new_lead(shop, rep, stage="CONTACTED")
    csrf = await sign_in(client, rep.email)
    page = await (await client.get(BOARD)).get_data(as_text=True)
    assert '<dialog id="lost-dialog"' in page and 'data-move-dialog="lost-dialog"' in page

    plain = await client.post(
        f"/sales/leads/{lead.id}/move", form={"stage": "LOST", "version": "2", "csrf_token": csrf}
    )
    assert plain.status_code == 303 and plain.headers["Location"] == f"/sales/leads/{lead.id}#lost"
    assert (await stored_lead(shop.db, shop.id, lead.id)).stage == "CONTACTED"

    without = await client.post(
        f"/sales/leads/{lead.id}/move",
        form={"stage": "LOST", "version": "2", "csrf_token": csrf},
        headers=HTMX,
    )
    assert without.status_code == 422 and "Choose why the lead was lost" in await without.get_data(
        as_text=True
    )

    lost = await client.post(
        f"/sales/leads/{lead.id}/move",
        form={"stage": "LOST", "version": "2", "lost_reason": "PRICE", "lost_note": "", "csrf_token": csrf},
        headers=HTMX,
    )
    assert lost.status_code == 200 and "afterbegin:#cards-LOST" in await lost.get_data(as_text=True)
    assert (await stored_lead(shop.db, shop.id, lead.id)).lost_reason == "PRICE"


async def test_a_plain_move_redirects_back_to_the_board_with_its_filter(client, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    lead = await new_lead(shop, rep)
    csrf = await sign_in(client, rep.email)

    response = await client.post(
        f"/sales/leads/{lead.id}/move",
        form={"stage": "CONTACTED", "version": "1", "csrf_token": csrf},
        headers={"Referer": "http://localhost/sales/board?owner=mine"},
    )

    assert response.status_code == 303 and response.headers["Location"] == "/sales/board?owner=mine"
    assert (await stored_lead(shop.db, shop.id, lead.id)).stage == "CONTACTED"


async def test_the_boards_statements_built_once_serve_each_dealership_its_own_leads(runtime, factory):
    """The board's, the move answer's and the live updates' reads are built and tenant-scoped once and
    run for every dealership in turn, with the closed leads' cut-off as a parameter: neither a tenant's
    id nor a day's cut-off may stick to them."""
    shops = [await factory.tenant(), await factory.tenant()]
    leads = {}
    for shop in shops:
        rep = await shop.user("sales_rep", locale="en")
        open_lead = await new_lead(shop, rep)
        won = await new_lead(shop, rep, stage="QUOTE")
        await set_lead(shop, won.id, stage="WON", closed_at=utcnow() - timedelta(days=3))
        leads[shop.id] = (open_lead.id, won.id)
    every_id = [id_ for pair in leads.values() for id_ in pair]

    # 28 days on, the lead won 3 days ago was won 31 days before: off the board.
    for now in (utcnow(), utcnow() + timedelta(days=28), utcnow()):
        for shop in shops:
            async with runtime.db.read(shop.id) as session:
                cards = await queries.cards_by_id(session, every_id, now)
                counts = await queries.column_counts(session, now)
                shown = await queries.board(session, now)
            open_id, won_id = leads[shop.id]
            won_on_board = now < utcnow() + timedelta(days=1)
            assert sorted(cards) == sorted([open_id, won_id] if won_on_board else [open_id])
            assert counts["NEW"] == 1 and counts["WON"] == int(won_on_board)
            assert shown.counts == counts
            assert [card.id for card in shown.columns["NEW"]] == [open_id]
            assert [card.id for card in shown.columns["WON"]] == ([won_id] if won_on_board else [])
