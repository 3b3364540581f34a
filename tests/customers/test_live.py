"""The customer page follows `customer:<id>` live: what other areas do to the customer appears without
a reload (the page re-fetches its sections on each signal)."""

from __future__ import annotations

from ops.customers.service import log_interaction, record_consent
from ops.events import record
from tests.customers.helpers import new_customer
from tests.factories import TenantFactory
from tests.web import http_sign_in, open_sse


async def test_the_customer_page_is_told_when_anything_happens_to_the_customer(live_server):
    """A rep on the phone would not see the quote the customer just accepted."""
    factory = TenantFactory(live_server.runtime.db)
    shop = await factory.tenant()
    other = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    customer = await new_customer(shop)
    neighbour = await new_customer(shop, first_name="Beat", email="beat@example.ch")
    foreign = await new_customer(other)

    async with http_sign_in(live_server.url, rep.email) as (client, _token):
        async with open_sse(client, f"customer:{customer.id}") as stream:
            async with shop.db.uow(shop.admin.actor) as uow:
                await log_interaction(uow, customer.id, "NOTE", "IN_PERSON", "Came by")
            logged = await stream.next()
            assert logged.event == "update" and 'class="customer-changed"' in logged.data

            # Another area (the pipeline board) moving the customer's lead.
            async with shop.db.uow(shop.admin.actor) as uow:
                record(
                    uow, "lead.moved", {"id": 1, "to": "QUOTE"}, topics=["sales", f"customer:{customer.id}"]
                )
                await uow.commit()
            moved = await stream.next()
            assert moved.event == "update" and 'class="customer-changed"' in moved.data

            async with shop.db.uow(shop.admin.actor) as uow:
                await record_consent(uow, neighbour.id, "EMAIL", True, "Form")
            await stream.expect_silence(0.3)

        page = await client.get(
            f"/customers/{customer.id}", headers={"HX-Request": "true", "HX-Target": "customer-timeline"}
        )
        assert page.text.lstrip().startswith('<section id="customer-timeline"') and "Came by" in page.text
        profile = await client.get(
            f"/customers/{customer.id}", headers={"HX-Request": "true", "HX-Target": "customer-profile"}
        )
        assert profile.text.lstrip().startswith('<div id="customer-profile"')
        refused = await client.get("/live", params={"topic": f"customer:{foreign.id}"})
        assert refused.status_code == 404


async def test_an_event_one_topic_cannot_show_still_reaches_the_other_topics(live_server):
    """The pipeline board cannot load a lead event without the lead's id; the customer page of the
    same event must still hear of it, and the board must still get the next good event."""
    factory = TenantFactory(live_server.runtime.db)
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    customer = await new_customer(shop)

    async with (
        http_sign_in(live_server.url, rep.email) as (client, _token),
        open_sse(client, "sales") as board,
        open_sse(client, f"customer:{customer.id}") as page,
    ):
        async with shop.db.uow(shop.admin.actor) as uow:
            record(uow, "lead.moved", {"to": "QUOTE"}, topics=["sales", f"customer:{customer.id}"])
            await uow.commit()
        told = await page.next()
        assert told.event == "update" and 'class="customer-changed"' in told.data
        await board.expect_silence(0.3)

        async with shop.db.uow(shop.admin.actor) as uow:
            record(uow, "lead.moved", {"id": 1, "to": "QUOTE"}, topics=["sales"])
            await uow.commit()
        moved = await board.next()
        assert moved.event == "update" and 'id="lead-1"' in moved.data


async def test_a_technician_may_not_watch_a_customer(live_server):
    factory = TenantFactory(live_server.runtime.db)
    shop = await factory.tenant()
    technician = await shop.user("technician", locale="en")
    customer = await new_customer(shop)

    async with http_sign_in(live_server.url, technician.email) as (client, _token):
        response = await client.get("/live", params={"topic": f"customer:{customer.id}"})

    assert response.status_code == 404
