"""Live: an expired hold tells its rep at once, as a toast on the rep's own `user:<id>` topic, and the
stock pages are woken to re-fetch; nobody else may watch a person's notices."""

from __future__ import annotations

from datetime import timedelta

from ops.sales.stock.service import expire_holds, reserve_unit
from tests.factories import TenantFactory
from tests.web import http_sign_in, open_sse


async def test_an_expired_hold_reaches_its_rep_live_as_a_toast(live_server):
    """The rep would promise the car to the customer without knowing it was free for anyone again."""
    factory = TenantFactory(live_server.runtime.db)
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    colleague = await shop.user("sales_rep", locale="en")
    trim = await shop.trim(make="Skoda", model="Enyaq", trim="85")
    unit = await shop.stock_unit(trim=trim, vin="TMBJC7NY5RF000001")
    lead = await shop.lead(owner=rep, first_name="Hans", last_name="Meier")
    async with shop.db.uow(rep.actor) as uow:
        held = await reserve_unit(uow, unit.id, lead.id)
    assert held.expires_at is not None

    async with (
        http_sign_in(live_server.url, rep.email) as (client, _token),
        http_sign_in(live_server.url, colleague.email) as (other_client, _other_token),
        open_sse(client, f"user:{rep.actor.user_id}") as notices,
        open_sse(other_client, f"user:{colleague.actor.user_id}", "stock") as colleagues,
    ):
        await expire_holds(live_server.runtime.db, held.expires_at + timedelta(seconds=1))

        toast = await notices.next()
        assert toast.event == "update"
        assert 'hx-swap-oob="beforeend:#toasts"' in toast.data and 'class="toast toast-info"' in toast.data
        assert (
            "Your hold on Skoda Enyaq 85 (000001) for Hans Meier expired; the unit is available again."
            in (toast.data)
        )
        # The colleague's stock page wakes up to re-fetch, but the rep's notice is not theirs.
        woken = await colleagues.next()
        assert 'class="stock-changed"' in woken.data and "toast" not in woken.data
        await colleagues.expect_silence(0.5)


async def test_a_reservation_wakes_the_stock_pages_and_announces_it(live_server):
    factory = TenantFactory(live_server.runtime.db)
    shop = await factory.tenant()
    viewer = await shop.user("viewer", locale="en")
    rep = await shop.user("sales_rep", locale="en", name="Rita Rep")
    unit = await shop.stock_unit()

    async with (
        http_sign_in(live_server.url, viewer.email) as (client, _token),
        open_sse(client, "stock") as stream,
    ):
        async with shop.db.uow(rep.actor) as uow:
            await reserve_unit(uow, unit.id, (await shop.lead()).id)
        message = await stream.next()

    assert 'class="stock-changed"' in message.data
    assert '<div id="announcer" hx-swap-oob="innerHTML">Rita Rep reserved a unit.</div>' in message.data


async def test_a_persons_notices_and_stock_are_watched_only_by_those_allowed(live_server):
    factory = TenantFactory(live_server.runtime.db)
    shop = await factory.tenant()
    rep, other = await shop.user("sales_rep"), await shop.user("sales_rep")
    technician = await shop.user("technician")

    async with http_sign_in(live_server.url, rep.email) as (client, _token):
        for topic in (f"user:{other.actor.user_id}", "user:", "user:abc", "stock:1"):
            response = await client.get("/live", params={"topic": topic})
            assert response.status_code == 404, topic
    async with http_sign_in(live_server.url, technician.email) as (client, _token):
        response = await client.get("/live", params={"topic": "stock"})
        assert response.status_code == 404
