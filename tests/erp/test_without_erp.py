"""A dealership without an ERP: no sync line, no pull button, no jobs, and the integrations page says so;
a purchase request is recorded and its page says it was not sent to an ERP."""

from __future__ import annotations

import asyncio

from tests.erp.helpers import deal_made, jobs_of, purchase_requested
from tests.web import sign_in
from tests.workshop.order_helpers import add_part


async def test_without_an_erp_the_pages_show_nothing_of_it_and_nothing_is_queued(runtime, factory, client):
    shop = await factory.tenant()
    deal = await deal_made(shop)
    await add_part(shop, "BRK-1", "Brake pads", on_hand="3")
    admin = await shop.user("admin", locale="en")
    csrf = await sign_in(client, admin.email)

    deal_page = await (await client.get(f"/sales/deals/{deal.id}")).get_data(as_text=True)
    parts_page = await (await client.get("/workshop/parts")).get_data(as_text=True)
    integrations = await (await client.get("/settings/integrations")).get_data(as_text=True)

    assert "erp-sync" not in deal_page and "Pull stock and prices" not in parts_page
    for provider in ("erp", "payments", "webhooks"):
        assert f'<tr id="integration-{provider}" class="integration-not_configured">' in integrations
    assert "Not configured" in integrations
    assert (await client.post("/workshop/parts/erp-pull", form={"csrf_token": csrf})).status_code == 404
    await asyncio.sleep(0)
    assert await jobs_of(runtime.db, shop.id) == []


async def test_without_an_erp_a_purchase_request_is_recorded_and_said_to_be_unsent(runtime, factory, client):
    shop = await factory.tenant()
    part, _request = await purchase_requested(shop)
    await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)

    page = await (await client.get(f"/workshop/parts/{part.id}")).get_data(as_text=True)

    assert "PR-000001" in page and "Not sent: no ERP is configured." in page
    assert "erp-sync" not in page
    assert await jobs_of(runtime.db, shop.id) == []
