"""Live: a quote put up for approval reaches every manager's open approvals queue at once; the decision
reaches the rep who asked as a toast on their own `user:<id>` topic and wakes the quote's open pages;
only managers may watch the queue and only people who may see quotes watch one."""

from __future__ import annotations

from ops.sales.quotes.service import decide_approval, request_approval
from tests.factories import TenantFactory
from tests.sales.quotes.helpers import showroom, unit_quote, with_terms
from tests.web import http_sign_in, open_sse


async def test_the_approval_round_trip_is_live_for_the_manager_and_the_rep(live_server):
    db = live_server.runtime.db
    room = await showroom(await TenantFactory(db).tenant())
    quote = await with_terms(room, await unit_quote(room, cost="30000.00"), discount="4000")

    async with (
        http_sign_in(live_server.url, room.manager.email) as (manager_client, _),
        http_sign_in(live_server.url, room.rep.email) as (rep_client, _),
        open_sse(manager_client, "approvals") as queue,
        open_sse(rep_client, f"user:{room.rep.actor.user_id}") as notices,
        open_sse(rep_client, f"quote:{quote.id}") as quote_page,
    ):
        async with db.uow(room.rep.actor) as uow:
            quote = await request_approval(uow, quote.id, quote.version)

        asked = await queue.next()
        assert asked.event == "update"
        assert 'class="quote-changed"' in asked.data
        assert f"Rita Rep asks for approval of {quote.code}." in asked.data
        assert 'class="quote-changed"' in (await quote_page.next()).data
        # Asking is not news for the rep who asked: no toast.
        await notices.expect_silence(0.3)

        # The manager's queue page, re-fetched on that wake-up, lists it with its reason.
        page = await manager_client.get("/sales/approvals", headers={"HX-Request": "true"})
        assert page.status_code == 200
        assert f'id="approval-{quote.id}"' in page.text
        assert "Discount 10 % of the vehicle price: 5 points above the 5 % limit" in page.text

        async with db.uow(room.manager.actor) as uow:
            await decide_approval(uow, quote.id, "APPROVED", "OK for this once", quote.version)

        toast = await notices.next()
        assert 'hx-swap-oob="beforeend:#toasts"' in toast.data and "toast-success" in toast.data
        assert f"{quote.code} was approved by Max Manager." in toast.data
        assert 'class="quote-changed"' in (await quote_page.next()).data
        decided = await queue.next()
        assert f"Max Manager approved {quote.code}." in decided.data
        page = await manager_client.get("/sales/approvals", headers={"HX-Request": "true"})
        assert f'id="approval-{quote.id}"' not in page.text
        assert "No quote is waiting for approval." in page.text


async def test_only_managers_watch_the_queue_and_only_quote_viewers_watch_a_quote(live_server):
    db = live_server.runtime.db
    factory = TenantFactory(db)
    room = await showroom(await factory.tenant())
    quote = await unit_quote(room)
    technician = await room.shop.user("technician")
    other = await showroom(await factory.tenant())

    async with (
        http_sign_in(live_server.url, room.rep.email) as (rep_client, _),
        http_sign_in(live_server.url, technician.email) as (technician_client, _),
        http_sign_in(live_server.url, other.manager.email) as (other_client, _),
    ):
        assert await _watch(rep_client, "approvals") == 404
        assert await _watch(technician_client, f"quote:{quote.id}") == 404
        # Another dealership's quote looks like no quote at all.
        assert await _watch(other_client, f"quote:{quote.id}") == 404
        assert await _watch(rep_client, "quote:99999999999999999999") == 404


async def _watch(client, topic: str) -> int:  # type: ignore[no-untyped-def]
    return (await client.get("/live", params={"topic": topic})).status_code
