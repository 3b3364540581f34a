"""Rate limits, shared across processes through Redis when it is configured.

A window opens at the first attempt for a key and lasts `window_seconds`; the attempts inside it are
counted. Opening it at the first attempt (not at a clock boundary) means a burst cannot slip through by
straddling two windows, and `Retry-After` is the real time left.
"""

from __future__ import annotations

import math
import time

import redis.asyncio as redis
from redis.exceptions import RedisError


class RateLimiter:
    def __init__(self, redis_url: str | None, prefix: str = "pitwall") -> None:
        self.prefix = prefix
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=2) if redis_url else None
        # key -> (monotonic time the window closes, attempts in it)
        self._windows: dict[str, tuple[float, int]] = {}

    async def retry_after(self, key: str, limit: int) -> int:
        """0 below `limit` attempts in the open window, else the seconds until it closes."""
        if self._redis is not None:
            redis_key = f"{self.prefix}:rate:{key}"
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.get(redis_key)
                    pipe.pttl(redis_key)
                    raw, left_ms = await pipe.execute()
            except RedisError:
                # Fail open for the limiter rather than lock every user out while Redis is down.
                return 0
            count = int(raw or 0)
            left = left_ms / 1000 if left_ms > 0 else 0.0
        else:
            closes, count = self._windows.get(key, (0.0, 0))
            left = closes - time.monotonic()
            if left <= 0:
                return 0
        return 0 if count < limit else max(1, math.ceil(left))

    async def count(self, key: str, window_seconds: int) -> None:
        """Count one attempt against `key`, opening a window if none is open."""
        if self._redis is not None:
            redis_key = f"{self.prefix}:rate:{key}"
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.set(redis_key, 0, ex=window_seconds, nx=True)
                    pipe.incr(redis_key)
                    await pipe.execute()
            except RedisError:
                return
            return
        now = time.monotonic()
        closes, count = self._windows.get(key, (0.0, 0))
        if closes <= now:
            closes, count = now + window_seconds, 0
        self._windows[key] = (closes, count + 1)
        if len(self._windows) > 100_000:
            self._windows = {k: v for k, v in self._windows.items() if v[0] > now}

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
