"""The pipeline board live: a move reaches every board watching `sales` as the moved card with every
column count, and the customer's page hears of it on `customer:<id>`; a quote the customer accepts
redraws its lead's card with Won open."""

from __future__ import annotations

import re

from ops.sales.leads.service import move_lead
from ops.sales.quotes.service import accept_quote
from tests.factories import TenantFactory
from tests.sales.leads.helpers import card_of, counts_of, new_lead
from tests.sales.quotes.helpers import LINKS, send, showroom, unit_quote
from tests.web import http_sign_in, open_sse


async def test_a_board_watching_sales_receives_the_moved_card_and_both_counts(live_server):
    """A manager's wall screen would show the lead in its old column until someone reloads."""
    factory = TenantFactory(live_server.runtime.db)
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en", name="Lea Frei")
    manager = await shop.user("sales_manager", locale="en")
    lead = await new_lead(shop, rep)
    other = await new_lead(shop, rep)

    async with (
        http_sign_in(live_server.url, manager.email) as (client, _token),
        open_sse(client, "sales", f"customer:{lead.customer_id}") as stream,
    ):
        async with shop.db.uow(rep.actor) as uow:
            await move_lead(uow, lead.id, "QUALIFIED", lead.version)
        messages = [await stream.next(), await stream.next()]

    board = next(message for message in messages if "lead-" in message.data)
    assert board.event == "update" and board.id
    data = board.data
    assert f'<div id="lead-{lead.id}" hx-swap-oob="delete"></div>' in data
    card = re.search(r'hx-swap-oob="afterbegin:#cards-QUALIFIED">(.*?)</div>\s*<span', data, re.S)
    assert card and f'id="lead-{lead.id}"' in card.group(1) and 'data-version="2"' in card.group(1)
    assert 'name="stage"' in card.group(1)  # a manager gets the move menu
    assert counts_of(data)["NEW"] == 1 and counts_of(data)["QUALIFIED"] == 1
    assert f'id="lead-{other.id}"' not in data
    assert "Lead of Anna Muster moved to Qualified by Lea Frei." in data
    assert any('class="customer-changed"' in message.data for message in messages)


async def test_a_viewer_gets_cards_without_the_move_menu_and_workshop_staff_cannot_watch(live_server):
    factory = TenantFactory(live_server.runtime.db)
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    viewer = await shop.user("viewer", locale="en")
    technician = await shop.user("technician", locale="en")
    lead = await new_lead(shop, rep)

    async with (
        http_sign_in(live_server.url, viewer.email) as (client, _token),
        open_sse(client, "sales") as stream,
    ):
        async with shop.db.uow(rep.actor) as uow:
            await move_lead(uow, lead.id, "CONTACTED", lead.version)
        message = await stream.next()
    assert f'id="lead-{lead.id}"' in message.data and 'name="stage"' not in message.data

    async with http_sign_in(live_server.url, technician.email) as (client, _token):
        refused = await client.get("/live", params={"topic": "sales"})
    assert refused.status_code == 404


async def test_a_quote_the_customer_accepts_opens_won_on_the_cards_of_every_board(live_server):
    """A wall screen kept Won disabled on the lead's card until someone reloaded the board."""
    factory = TenantFactory(live_server.runtime.db)
    room = await showroom(await factory.tenant())
    quote = await unit_quote(room)
    token = await send(room, quote)

    async with (
        http_sign_in(live_server.url, room.manager.email) as (client, _token),
        open_sse(client, "sales") as stream,
    ):
        await accept_quote(live_server.runtime.db, token, links=LINKS)
        message = await stream.next()

    card = card_of(message.data, quote.lead_id)
    assert '<option value="WON">Won</option>' in card
    assert re.search(r'data-allowed="[^"]*\bWON\b', card)
