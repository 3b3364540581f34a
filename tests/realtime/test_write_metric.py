"""`pitwall_live_writes_total` counts the writes to live connections next to the messages queued.

If it broke, an operator could not see how often a busy board's updates share a write (several
messages, one write) or that writes stopped while messages were still queued.
"""

from __future__ import annotations

from prometheus_client import REGISTRY

from tests.factories import TenantFactory
from tests.realtime.clients import move_card, wait_until
from tests.web import http_sign_in, open_sse


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def test_each_update_written_to_each_watcher_counts_once(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    tech = await shop.user("technician")
    work_order = await shop.work_order()
    async with (
        http_sign_in(live_server.url, tech.email) as (client, _token),
        open_sse(client, "workshop") as first,
        open_sse(client, "workshop") as second,
    ):
        await wait_until(lambda: len(live_server.runtime.hub.clients) == 2)
        writes, messages = sample("pitwall_live_writes_total"), sample("pitwall_live_messages_total")
        for status in ("SCHEDULED", "NEW", "SCHEDULED"):
            await move_card(live_server.runtime.db, shop, work_order.id, status)
            assert (await first.next()).event == "update"
            assert (await second.next()).event == "update"
        assert sample("pitwall_live_writes_total") - writes == 6
        assert sample("pitwall_live_messages_total") - messages == 6
