"""Fixed-window rate limits, shared across processes through Redis when it is configured."""

from __future__ import annotations

import time

import redis.asyncio as redis
from redis.exceptions import RedisError


class RateLimiter:
    def __init__(self, redis_url: str | None, prefix: str = "pitwall") -> None:
        self.prefix = prefix
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=2) if redis_url else None
        self._windows: dict[str, tuple[int, int]] = {}

    async def hit(self, key: str, limit: int, window_seconds: int) -> int:
        """Count one attempt; returns 0 when allowed, else the seconds until the window resets."""
        window = int(time.time() // window_seconds)
        retry_after = (window + 1) * window_seconds - int(time.time())
        if self._redis is not None:
            redis_key = f"{self.prefix}:rate:{key}:{window}"
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.incr(redis_key)
                    pipe.expire(redis_key, window_seconds + 1)
                    count, _ = await pipe.execute()
            except RedisError:
                # Fail open for the limiter rather than lock every user out while Redis is down.
                return 0
        else:
            current_window, count = self._windows.get(key, (window, 0))
            count = count + 1 if current_window == window else 1
            self._windows[key] = (window, count)
            if len(self._windows) > 100_000:
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        return 0 if count <= limit else max(retry_after, 1)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
