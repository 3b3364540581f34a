"""Live: clocking on and off wakes the bay view and the KPI panel, which re-fetch themselves on any
message of their stream. A clock change is not a card change, so the board's `workshop` renderer
sends nothing for it; the pages also watch the `technicians` topic, which does."""

from __future__ import annotations

import html
import re

import pytest

from ops.workshop.technicians.service import clock_off, clock_on
from tests.factories import TenantFactory
from tests.web import SseStream, http_sign_in
from tests.workshop.technicians.helpers import assigned_job

SSE_CONNECT = re.compile(r'sse-connect="([^"]+)"')


@pytest.mark.parametrize("page", ["/workshop/bays", "/workshop/kpis"])
async def test_clocking_on_and_off_reaches_the_open_page_at_once(live_server, page):
    """Utilisation and what is on each lift would lag a minute behind the workshop (the pages' own
    re-read) every time a technician starts or stops work."""
    factory = TenantFactory(live_server.runtime.db)
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    technician = await shop.user("technician", locale="en", name="Nina Brunner")
    # Already in progress, so clocking on changes no status and records only the clock event.
    job = await assigned_job(shop, technician, status="IN_PROGRESS")

    async with http_sign_in(live_server.url, manager.email) as (client, _token):
        response = await client.get(page)
        assert response.status_code == 200
        body = response.text
        assert 'hx-trigger="sse:update delay:' in body
        # The page's own stream, as the browser opens it.
        stream_url = html.unescape(SSE_CONNECT.search(body).group(1))  # type: ignore[union-attr]
        async with client.stream("GET", stream_url, timeout=None) as live:
            assert live.status_code == 200
            stream = SseStream(live)
            try:
                async with shop.db.uow(technician.actor) as uow:
                    await clock_on(uow, job.id)
                woken = await stream.next()
                assert woken.event == "update"
                assert "Nina Brunner clocked on " + job.code in woken.data

                async with shop.db.uow(technician.actor) as uow:
                    await clock_off(uow, job.id)
                woken = await stream.next()
                assert woken.event == "update"
                assert "Nina Brunner clocked off " + job.code in woken.data
            finally:
                await stream.close()
