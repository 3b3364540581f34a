"""Who is watching a topic right now ("3 watching"), shared by all processes.

Each WebSocket connection joins the topics its page shows and refreshes its entry with every ping; an
entry whose connection died without leaving expires after `ttl` seconds. A change is announced through
the live log, so every process tells its own connections the new list.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Protocol

from realtime.log import LiveLog, LogUnavailable, redis_client

PRESENCE_TTL_SECONDS = 70


@dataclass(frozen=True)
class Watcher:
    connection_id: str
    user_id: int
    name: str


class PresenceStore(Protocol):
    async def join(self, tenant_id: int, topic: str, watcher: Watcher) -> None: ...

    async def leave(self, tenant_id: int, topic: str, watcher: Watcher) -> None: ...

    async def watchers(self, tenant_id: int, topic: str) -> list[Watcher]: ...

    async def prune(self, tenant_id: int, topic: str) -> int:
        """Drop watchers whose connection died without leaving; how many were dropped."""
        ...


class MemoryPresence:
    def __init__(self, ttl: float = PRESENCE_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[int, str], dict[Watcher, float]] = {}

    async def join(self, tenant_id: int, topic: str, watcher: Watcher) -> None:
        self._entries.setdefault((tenant_id, topic), {})[watcher] = time.monotonic() + self.ttl

    async def leave(self, tenant_id: int, topic: str, watcher: Watcher) -> None:
        entries = self._entries.get((tenant_id, topic))
        if entries is not None:
            entries.pop(watcher, None)
            if not entries:
                del self._entries[(tenant_id, topic)]

    async def watchers(self, tenant_id: int, topic: str) -> list[Watcher]:
        await self.prune(tenant_id, topic)
        return list(self._entries.get((tenant_id, topic), {}))

    async def prune(self, tenant_id: int, topic: str) -> int:
        entries = self._entries.get((tenant_id, topic), {})
        now = time.monotonic()
        expired = [w for w, expires in entries.items() if expires < now]
        for watcher in expired:
            del entries[watcher]
        return len(expired)


class RedisPresence:
    def __init__(self, url: str, prefix: str = "pitwall", ttl: float = PRESENCE_TTL_SECONDS) -> None:
        self.prefix = prefix
        self.ttl = ttl
        self._client = redis_client(url, socket_timeout=5)

    def _key(self, tenant_id: int, topic: str) -> str:
        return f"{self.prefix}:presence:t{tenant_id}:{topic}"

    @staticmethod
    def _member(watcher: Watcher) -> str:
        return json.dumps([watcher.connection_id, watcher.user_id, watcher.name])

    async def join(self, tenant_id: int, topic: str, watcher: Watcher) -> None:
        key = self._key(tenant_id, topic)
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {self._member(watcher): time.time() + self.ttl})
            pipe.expire(key, int(self.ttl * 2))
            await pipe.execute()

    async def leave(self, tenant_id: int, topic: str, watcher: Watcher) -> None:
        await self._client.zrem(self._key(tenant_id, topic), self._member(watcher))

    async def watchers(self, tenant_id: int, topic: str) -> list[Watcher]:
        key = self._key(tenant_id, topic)
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", time.time())
            pipe.zrange(key, 0, -1)
            _removed, members = await pipe.execute()
        watchers = []
        for raw in members:
            connection_id, user_id, name = json.loads(raw)
            watchers.append(Watcher(connection_id, int(user_id), name))
        return watchers

    async def prune(self, tenant_id: int, topic: str) -> int:
        return int(await self._client.zremrangebyscore(self._key(tenant_id, topic), "-inf", time.time()))

    async def close(self) -> None:
        await self._client.aclose()


class Presence:
    """Presence for this process's WebSocket connections, kept in the shared store."""

    def __init__(self, store: MemoryPresence | RedisPresence, live_log: LiveLog) -> None:
        self.store = store
        self.live_log = live_log
        self._local: dict[tuple[int, str], set[asyncio.Queue[dict[str, object]]]] = {}

    async def join(
        self, tenant_id: int, topic: str, watcher: Watcher, outbox: asyncio.Queue[dict[str, object]]
    ) -> None:
        self._local.setdefault((tenant_id, topic), set()).add(outbox)
        await self.store.join(tenant_id, topic, watcher)
        await self._announce(tenant_id, topic)

    async def refresh(self, tenant_id: int, topic: str, watcher: Watcher) -> None:
        """Keep this connection's entry alive; announce watchers that expired meanwhile (their
        process died without leaving), or everyone else would see them watching for ever."""
        await self.store.join(tenant_id, topic, watcher)
        if await self.store.prune(tenant_id, topic):
            await self._announce(tenant_id, topic)

    async def leave(
        self, tenant_id: int, topic: str, watcher: Watcher, outbox: asyncio.Queue[dict[str, object]]
    ) -> None:
        local = self._local.get((tenant_id, topic))
        if local is not None:
            local.discard(outbox)
            if not local:
                del self._local[(tenant_id, topic)]
        await self.store.leave(tenant_id, topic, watcher)
        await self._announce(tenant_id, topic)

    async def _announce(self, tenant_id: int, topic: str) -> None:
        """Tell every process that the watchers of a topic changed (a notice, never replayed)."""
        notice = json.dumps({"presence": {"tenant_id": tenant_id, "topic": topic}})
        try:
            await self.live_log.append([notice])
        except LogUnavailable:
            # Best effort: the next join or leave announces again.
            return

    async def on_notice(self, tenant_id: int, topic: str) -> None:
        """Hub listener: send the current watchers to this process's connections on that topic."""
        outboxes = self._local.get((tenant_id, topic))
        if not outboxes:
            return
        watchers = await self.store.watchers(tenant_id, topic)
        names = sorted({w.user_id: w.name for w in watchers}.values())
        message: dict[str, object] = {"type": "presence", "topic": topic, "count": len(names), "names": names}
        for outbox in list(outboxes):
            if outbox.full():
                continue
            outbox.put_nowait(message)


def create_presence_store(redis_url: str | None, prefix: str) -> MemoryPresence | RedisPresence:
    return RedisPresence(redis_url, prefix) if redis_url else MemoryPresence()
