"""The live log: an ordered, bounded, replayable log of committed events shared by all web processes.

Two backends behind one interface: a Redis Stream (production, many processes) and an in-memory ring
buffer (the embedded default, one process). Every entry gets a monotonic id; ids are written to
browsers as `<epoch>:<id>` so that a log that was wiped (Redis restarted without persistence, process
restarted) is recognised and the browser is told to `reset` instead of being replayed the wrong gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

StreamKey = tuple[int, int]


def parse_stream_id(value: str) -> StreamKey:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def format_stream_id(key: StreamKey) -> str:
    return f"{key[0]}-{key[1]}"


@dataclass(frozen=True)
class LogEntry:
    key: StreamKey
    data: str

    @property
    def id(self) -> str:
        return format_stream_id(self.key)


@dataclass(frozen=True)
class ReadBatch:
    epoch: str
    entries: list[LogEntry]
    position: StreamKey  # the next read continues after this


class LogUnavailable(Exception):
    """The log cannot be reached right now; callers retry, the outbox relay re-publishes."""


class LiveLog(Protocol):
    async def append(self, items: list[str]) -> list[StreamKey]: ...

    async def read_new(self, after: StreamKey | None, block_ms: int) -> ReadBatch:
        """Entries after `after` (None: only new ones from now), waiting up to block_ms for some."""
        ...

    async def read_range(self, epoch: str, after: StreamKey, limit: int) -> list[LogEntry] | None:
        """Everything after `after`, or None if the log cannot prove it still holds that whole gap."""
        ...

    async def current_epoch(self) -> str: ...

    async def head(self) -> StreamKey:
        """The id of the newest entry, (0, 0) when the log is empty."""
        ...

    async def close(self) -> None: ...


def split_client_id(value: str | None) -> tuple[str, StreamKey] | None:
    """Parse a browser's Last-Event-ID (`<epoch>:<ms>-<seq>`); None when absent or malformed."""
    if not value:
        return None
    epoch, sep, stream_id = value.strip().rpartition(":")
    if not sep or not epoch:
        return None
    try:
        return epoch, parse_stream_id(stream_id)
    except ValueError:
        return None


class MemoryLiveLog:
    """A ring buffer in this process. The epoch is new at every start, so old ids always reset."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.epoch = secrets.token_hex(4)
        self._entries: deque[LogEntry] = deque(maxlen=max_entries)
        self._last_evicted: StreamKey | None = None
        self._counter = 0
        self._changed = asyncio.Condition()

    async def append(self, items: list[str]) -> list[StreamKey]:
        keys = []
        async with self._changed:
            for data in items:
                self._counter += 1
                key = (self._counter, 0)
                if len(self._entries) == self._entries.maxlen:
                    self._last_evicted = self._entries[0].key
                self._entries.append(LogEntry(key, data))
                keys.append(key)
            self._changed.notify_all()
        return keys

    def _after(self, after: StreamKey) -> list[LogEntry]:
        if not self._entries or self._entries[-1].key <= after:
            return []
        # Ids are consecutive integers, so the position is arithmetic.
        first = self._entries[0].key[0]
        start = max(0, after[0] - first + 1)
        return [self._entries[i] for i in range(start, len(self._entries))]

    async def read_new(self, after: StreamKey | None, block_ms: int) -> ReadBatch:
        if after is None:
            after = (self._counter, 0)
        entries = self._after(after)
        if not entries:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: self._counter > after[0]), block_ms / 1000
                    )
            entries = self._after(after)
        return ReadBatch(self.epoch, entries, entries[-1].key if entries else after)

    async def read_range(self, epoch: str, after: StreamKey, limit: int) -> list[LogEntry] | None:
        if epoch != self.epoch:
            return None
        if self._last_evicted is not None and after < self._last_evicted:
            return None
        entries = self._after(after)
        return entries if len(entries) <= limit else None

    async def current_epoch(self) -> str:
        return self.epoch

    async def head(self) -> StreamKey:
        return (self._counter, 0)

    async def close(self) -> None:
        return None


class RedisLiveLog:
    """A Redis Stream shared by every process. The epoch key vanishes with the stream on a restart."""

    def __init__(self, url: str, prefix: str = "pitwall", max_entries: int = 10_000) -> None:
        self.stream_key = f"{prefix}:live"
        self.epoch_key = f"{prefix}:live:epoch"
        self.max_entries = max_entries
        self._client = redis_client(url, socket_timeout=5)
        # Blocking reads get their own connection without a socket timeout shorter than the block.
        self._reader = redis_client(url, socket_timeout=None)
        # The epoch the last read_new reported, to announce a restart before blocking on the stream.
        self._read_epoch: str | None = None

    async def current_epoch(self) -> str:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.set(self.epoch_key, secrets.token_hex(4), nx=True)
                pipe.get(self.epoch_key)
                _created, value = await pipe.execute()
        except RedisError as error:
            raise LogUnavailable(str(error)) from error
        return str(value.decode())

    async def append(self, items: list[str]) -> list[StreamKey]:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                # The epoch must exist before entries do: a restarted Redis gets a new epoch before
                # its first new entry, so nobody mistakes the new stream for the old one.
                pipe.set(self.epoch_key, secrets.token_hex(4), nx=True)
                for data in items:
                    pipe.xadd(self.stream_key, {"d": data}, maxlen=self.max_entries, approximate=True)
                _created, *ids = await pipe.execute()
        except RedisError as error:
            raise LogUnavailable(str(error)) from error
        return [parse_stream_id(i.decode()) for i in ids]

    async def read_new(self, after: StreamKey | None, block_ms: int) -> ReadBatch:
        """The entries after `after`, waiting up to `block_ms` for some.

        The epoch is checked before the wait (a restart is announced at once, not after a quiet block)
        and after it (entries of a restarted stream are never filed under the old epoch). On a busy log
        the three round trips would run one after another, each behind the fan-out for a turn of the
        event loop; so the check before runs beside the wait, and the check after rides in the same
        pipeline as the wait, on the reader's connection, where Redis answers it once the wait is over.
        """
        try:
            start = format_stream_id(after if after is not None else await self.head())
            waiting = asyncio.ensure_future(self._wait_for_entries(start, block_ms))
            try:
                epoch = await self.current_epoch()
            except BaseException:
                await _abandon(waiting)
                raise
            if self._read_epoch is not None and epoch != self._read_epoch:
                # Redis restarted since the last read: say so now rather than after a quiet block.
                await _abandon(waiting)
                return self._new_epoch(epoch)
            response, epoch_after = await waiting
            if response and epoch_after != epoch:
                # Redis restarted while we waited: these entries may belong to the new stream,
                # which is read from its start under its own epoch, never filed under the old one.
                return self._new_epoch(epoch_after or await self.current_epoch())
        except RedisError as error:
            raise LogUnavailable(str(error)) from error
        self._read_epoch = epoch
        entries: list[LogEntry] = []
        for _stream, items in response or []:
            for entry_id, fields in items:
                entries.append(LogEntry(parse_stream_id(entry_id.decode()), fields[b"d"].decode()))
        return ReadBatch(epoch, entries, entries[-1].key if entries else parse_stream_id(start))

    async def _wait_for_entries(self, start: str, block_ms: int) -> tuple[Any, str | None]:
        """XREAD from `start`, and the epoch as it stands when the read returns."""
        async with self._reader.pipeline(transaction=False) as pipe:
            pipe.xread({self.stream_key: start}, block=block_ms, count=1000)
            pipe.get(self.epoch_key)
            response, epoch = await pipe.execute()
        return response, epoch.decode() if epoch is not None else None

    def _new_epoch(self, epoch: str) -> ReadBatch:
        self._read_epoch = epoch
        return ReadBatch(epoch, [], (0, 0))

    async def read_range(self, epoch: str, after: StreamKey, limit: int) -> list[LogEntry] | None:
        try:
            if epoch != await self.current_epoch():
                return None
            info: Any = await self._client.xinfo_stream(self.stream_key)
            if not _stream_holds_everything_after(info, after):
                return None
            items: Any = await self._client.xrange(
                self.stream_key, min=f"({format_stream_id(after)}", count=limit + 1
            )
        except redis.ResponseError as error:
            if "no such key" in str(error).lower():
                return []
            raise LogUnavailable(str(error)) from error
        except RedisError as error:
            raise LogUnavailable(str(error)) from error
        if len(items) > limit:
            return None
        return [LogEntry(parse_stream_id(i.decode()), f[b"d"].decode()) for i, f in items]

    async def head(self) -> StreamKey:
        try:
            last: Any = await self._client.xrevrange(self.stream_key, count=1)
        except RedisError as error:
            raise LogUnavailable(str(error)) from error
        return parse_stream_id(last[0][0].decode()) if last else (0, 0)

    async def close(self) -> None:
        await self._client.aclose()
        await self._reader.aclose()


async def _abandon(waiting: asyncio.Future[Any]) -> None:
    """Cancel a blocked read; redis-py drops its connection, and the next command opens another."""
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError, RedisError):
        await waiting


def redis_client(url: str, socket_timeout: float | None) -> redis.Redis:
    # One retry on a broken connection: after a Redis restart every pooled connection is dead, and
    # without it each one would fail a command once (a publish left to the relay, a hub back-off).
    return redis.Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=2,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )


def _stream_holds_everything_after(info: dict[str, Any], after: StreamKey) -> bool:
    """Whether no entry newer than `after` was trimmed from the stream (XINFO STREAM, Redis 7).

    MAXLEN trimming drops the oldest entries without recording their ids (max-deleted-entry-id only
    follows XDEL), so the proof is: nothing was ever removed, or `after` is not older than the
    oldest entry still held. A client whose last entry was itself trimmed is told to reset even if
    the entry after it survived: the log cannot tell that case apart from a real gap.
    """
    deleted = info.get("max-deleted-entry-id")
    if deleted and after < parse_stream_id(_text(deleted)):
        return False
    removed = int(info.get("entries-added", -1)) - int(info["length"])
    if removed == 0:
        return True
    first = info.get("first-entry")
    if first is None:
        return after >= parse_stream_id(_text(info["last-generated-id"]))
    return after >= parse_stream_id(_text(first[0]))


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def create_live_log(redis_url: str | None, prefix: str, max_entries: int) -> MemoryLiveLog | RedisLiveLog:
    if redis_url:
        return RedisLiveLog(redis_url, prefix, max_entries)
    return MemoryLiveLog(max_entries)
