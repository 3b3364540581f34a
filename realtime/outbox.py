"""From the outbox to the live log: publish after commit, and the relay that catches what was missed."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import func, select, update

from ops.db import Database, utcnow
from ops.events import Event, EventRecord
from ops.metrics import EVENTS_PUBLISHED, RELAY_LAG
from realtime.log import LiveLog, LogUnavailable

log = logging.getLogger(__name__)


class OutboxPublisher:
    """Hands committed events to the live log and marks them published in small batches."""

    def __init__(self, db: Database, live_log: LiveLog) -> None:
        self.db = db
        self.live_log = live_log
        self._published_ids: list[int] = []
        self._marker: asyncio.Task[None] | None = None
        # Tests set this to simulate a process dying between commit and publish.
        self.drop_after_commit = False

    async def publish(self, records: list[EventRecord]) -> None:
        if self.drop_after_commit:
            return
        try:
            await self.live_log.append([r.to_json() for r in records])
        except LogUnavailable as error:
            log.warning("live log unavailable, %d events left to the relay: %s", len(records), error)
            return
        EVENTS_PUBLISHED.labels("commit").inc(len(records))
        self._published_ids.extend(r.event_id for r in records)
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._mark_published_soon())

    async def _mark_published_soon(self) -> None:
        # Batching the bookkeeping keeps an extra write off every request.
        await asyncio.sleep(0.1)
        while self._published_ids:
            ids, self._published_ids = self._published_ids[:500], self._published_ids[500:]
            try:
                async with self.db.system(write=True) as session:
                    await session.execute(
                        update(Event).where(Event.id.in_(ids)).values(published_at=utcnow())
                    )
                    await session.commit()
            except Exception:
                # Unmarked events are re-published by the relay; the hub drops the duplicates.
                log.exception("could not mark %d events as published", len(ids))

    async def flush(self) -> None:
        if self._marker is not None:
            await self._marker

    async def relay_once(self, grace_seconds: float, batch: int = 500) -> int:
        """Publish committed events that never reached the log. Safe to run in many workers at once."""
        cutoff = utcnow() - timedelta(seconds=grace_seconds)
        async with self.db.system(write=True) as session:
            oldest = await session.scalar(
                select(func.min(Event.created_at)).where(Event.published_at.is_(None))
            )
            RELAY_LAG.set((utcnow() - oldest).total_seconds() if oldest else 0)
            rows = (
                await session.scalars(
                    select(Event)
                    .where(Event.published_at.is_(None), Event.created_at < cutoff)
                    .order_by(Event.id)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            await self.live_log.append([row.to_record().to_json() for row in rows])
            await session.execute(
                update(Event).where(Event.id.in_([row.id for row in rows])).values(published_at=utcnow())
            )
            await session.commit()
        EVENTS_PUBLISHED.labels("relay").inc(len(rows))
        log.info("relay published %d events that missed the live log", len(rows))
        return len(rows)
