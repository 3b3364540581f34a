"""A renderer that fails to load an event costs only its own topic that event's fragment.

The hub loads each topic's events once per batch, and again for one event when a watcher of
another topic connects while the batch loads. Both loads must be isolated: if the second one could
raise through the fan-out, every other watcher of that event would silently miss it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ops.events import EventRecord
from realtime.hub import Hub, View
from realtime.log import MemoryLiveLog

VIEW = View(locale="en", role="admin")


class HeldRenderer:
    """Loads only once the test lets it, so a watcher can connect while a batch is loading."""

    def __init__(self) -> None:
        self.loading = asyncio.Event()
        self.go_on = asyncio.Event()

    async def load(self, records: list[EventRecord], topic: str) -> list[Any]:
        self.loading.set()
        await self.go_on.wait()
        return [record.payload["n"] for record in records]

    async def render(self, loaded: Any, record: EventRecord, view: View) -> str:
        return f"<p>held {loaded}</p>"


class BrokenRenderer:
    async def load(self, records: list[EventRecord], topic: str) -> list[Any]:
        raise KeyError("id")

    async def render(self, loaded: Any, record: EventRecord, view: View) -> str:
        raise AssertionError("never rendered: its load failed")


def watch(hub: Hub, topic: str) -> asyncio.Queue[bytes]:
    received: asyncio.Queue[bytes] = asyncio.Queue()
    hub.connect(frozenset({topic}), VIEW).start_writing(received.put_nowait)
    return received


async def publish(live_log: MemoryLiveLog, event_id: int) -> None:
    # The broken topic comes first, so a failure there would end the fan-out before the held topic.
    event = EventRecord(event_id, 1, "thing.done", ["broken", "held"], {"n": event_id})
    await live_log.append([event.to_json()])


async def test_a_load_for_a_watcher_who_came_mid_batch_that_fails_costs_only_its_topic():
    live_log = MemoryLiveLog()
    held = HeldRenderer()
    hub = Hub(live_log, {"held": held, "broken": BrokenRenderer()})
    await hub.start()
    try:
        held_page = watch(hub, "t1:held")
        await publish(live_log, 1)
        await asyncio.wait_for(held.loading.wait(), 2)
        broken_page = watch(hub, "t1:broken")
        held.go_on.set()

        assert b"held 1" in await asyncio.wait_for(held_page.get(), 2)
        await publish(live_log, 2)
        assert b"held 2" in await asyncio.wait_for(held_page.get(), 2)
        assert broken_page.empty()
    finally:
        await hub.stop()
