"""The worker: the outbox relay now; webhook deliveries, integration jobs and timers join it later.

Everything here is safe to run in any number of processes at once (rows are claimed with SKIP LOCKED).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ops.config import Settings
from realtime.log import LogUnavailable
from realtime.outbox import OutboxPublisher

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, publisher: OutboxPublisher, stop: asyncio.Event) -> None:
    log.info("worker started (relay every %.1fs)", settings.relay_interval_seconds)
    while not stop.is_set():
        try:
            await publisher.relay_once(settings.relay_grace_seconds)
        except LogUnavailable as error:
            # Expected while Redis restarts; the events stay in the outbox until the next pass.
            log.warning(
                "live log unavailable, relay retries in %.1fs: %s", settings.relay_interval_seconds, error
            )
        except Exception:
            log.exception("relay pass failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.relay_interval_seconds)
    log.info("worker stopped")
