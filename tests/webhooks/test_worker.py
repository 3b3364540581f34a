"""The worker's webhook loop, as `pitwall worker` runs it: a committed event reaches the partner by itself."""

from __future__ import annotations

import asyncio
import contextlib

from ops.config import Settings
from ops.runtime import Runtime
from ops.worker import _webhook_loop
from tests.factories import TenantFactory
from tests.webhooks.helpers import Receiver, subscribe


async def test_the_worker_delivers_a_new_work_order_without_being_asked(
    settings: Settings, runtime: Runtime, factory: TenantFactory, receiver: Receiver
) -> None:
    """With the worker running, a partner hears about a new work order within moments."""
    tenant = await factory.tenant()
    await subscribe(tenant, receiver, ["work_order.created"])
    stop = asyncio.Event()
    loop = asyncio.create_task(_webhook_loop(settings.with_(webhook_poll_seconds=0.05), runtime.db, stop))
    try:
        work_order = await tenant.work_order()
        for _ in range(200):
            if receiver.processed:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(loop, 5)

    assert [item.data["id"] for item in receiver.processed] == [work_order.id]
    assert loop.done()
