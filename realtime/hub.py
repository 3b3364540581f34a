"""The hub: one live-log subscription per process, fanned out to every local browser connection.

Each log entry is rendered once per (topic, view) that has watchers here and the same encoded bytes go
to all of them, written by the hub itself after each batch of entries. A client never blocks the hub:
a write that has to wait for a slow reader finishes on its own while newer updates pile up in the
client's bounded mailbox, to go out together in one write; a client that falls too far behind is
sent `reset` and dropped, and its browser reconnects and re-fetches.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, Protocol

from ops.auth.actor import Actor
from ops.events import EventRecord
from ops.metrics import LIVE_CONNECTIONS, LIVE_MESSAGES, LIVE_OVERFLOWS, LIVE_WRITES
from realtime.log import LiveLog, LogEntry, LogUnavailable, StreamKey, format_stream_id

log = logging.getLogger(__name__)

HEARTBEAT = b": heartbeat\n\n"
RETRY_PRELUDE = b"retry: 2000\n\n"
REPLAY_LIMIT = 5_000
# What a renderer's load gave for events it failed on: their fragments are left out, nothing else is.
NOT_LOADED = object()


@dataclass(frozen=True)
class View:
    """What makes two watchers see different HTML for the same event: language, role, and whether the
    connection watches the header's topics (critical fleet alerts) only for the header's notices, beside
    a page that does not show them itself: one stream per page, not one for the page and one for the
    header (a browser allows six HTTP/1.1 connections per host)."""

    locale: str
    role: str
    header_notices_only: bool = False

    @classmethod
    def for_actor(cls, actor: Actor, header_notices_only: bool = False) -> View:
        return cls(locale=actor.locale, role=actor.role, header_notices_only=header_notices_only)


class TopicRenderer(Protocol):
    """Turns one event into an HTML fragment for one kind of topic (`workshop`, `wo`)."""

    async def load(self, records: list[EventRecord], topic: str) -> list[Any]:
        """Fetch what the fragments show, one item per record; called once per batch of events on a
        topic and shared by all views, so a burst of events costs one round of queries, not one each."""
        ...

    async def render(self, loaded: Any, record: EventRecord, view: View) -> str:
        """The fragment for one view; empty string for nothing to send."""
        ...


def topic_kind(tenant_topic: str) -> str:
    """`t42:wo:1001` -> `wo`."""
    parts = tenant_topic.split(":")
    return parts[1] if len(parts) > 1 else ""


def sse_message(message_id: str | None, event: str, data: str) -> bytes:
    head = f"id: {message_id}\n" if message_id is not None else ""
    body = "".join(f"data: {line}\n" for line in (data.splitlines() or [""]))
    return f"{head}event: {event}\n{body}\n".encode()


# Writes one chunk of a connection's response: at once (None), or the coroutine that finishes it.
Write = Callable[[bytes], Coroutine[Any, Any, None] | None]


class Client:
    """One browser connection: a bounded mailbox that the hub writes out as soon as the socket has room.

    The hub writes to its watchers itself, right after queueing an update, instead of waking a task
    per connection: the server's send finishes at once while the socket has room, so an update for a
    thousand watchers is a thousand calls and no task switches. A write that has to wait for a slow
    reader finishes in a task of its own while newer updates wait in the mailbox; a mailbox over its
    limit ends the stream with `reset`.
    """

    __slots__ = (
        "closed",
        "finished",
        "limit",
        "pending",
        "pending_bytes",
        "reset_message",
        "skip_upto",
        "tenant_topics",
        "view",
        "write",
        "writing",
    )

    def __init__(
        self, tenant_topics: frozenset[str], view: View, limit: int, reset_message: Callable[[], bytes]
    ) -> None:
        self.tenant_topics = tenant_topics
        self.view = view
        self.limit = limit
        self.reset_message = reset_message
        self.pending: list[tuple[StreamKey | None, bytes]] = []
        self.pending_bytes = 0
        # Entries at or below this id were already sent by replay.
        self.skip_upto: StreamKey | None = None
        # Set by the connection once its response has started.
        self.write: Write | None = None
        self.writing: asyncio.Future[None] | None = None
        # No more pushes: the browser left, the mailbox overflowed, or the hub stopped.
        self.closed = False
        # The response may end: nothing is being written any more.
        self.finished = asyncio.Event()

    def push(self, key: StreamKey | None, data: bytes) -> None:
        if self.closed:
            return
        self.pending.append((key, data))
        self.pending_bytes += len(data)
        if self.pending_bytes > self.limit and self.writing is not None and not self.writing.done():
            # The reader stopped in the middle of a write. Hold nothing more for it: it gets `reset`
            # if it ever reads again, and its browser resumes or re-fetches when it reconnects.
            LIVE_OVERFLOWS.inc()
            self.pending, self.pending_bytes = [(None, self.reset_message())], 0
            self.closed = True

    def start_writing(self, write: Write) -> None:
        self.write = write
        self.flush()

    def flush(self) -> bool:
        """Write everything pending in one go, unless the previous write still waits for the reader.

        True when something was handed to the connection."""
        if self.write is None or not self.pending or (self.writing is not None and not self.writing.done()):
            return False
        batch, self.pending = self.pending, []
        if self.pending_bytes > self.limit:
            LIVE_OVERFLOWS.inc()
            self.closed = True
            chunk = self.reset_message()
        elif len(batch) == 1 and self.skip_upto is None:
            # The usual case: one update since the last write.
            chunk = batch[0][1]
        else:
            skip = self.skip_upto
            chunk = b"".join([data for key, data in batch if skip is None or key is None or key > skip])
        self.pending_bytes = 0
        if not chunk:
            return False
        try:
            started = self.write(chunk)
            self.writing = start_eagerly(started) if started is not None else None
        except Exception:
            log.debug("live connection lost while writing", exc_info=True)
            self.close()
            return False
        if self.writing is not None:
            self.writing.add_done_callback(self._written)
        elif self.closed:
            self.finished.set()
        return True

    def _written(self, writing: asyncio.Future[None]) -> None:
        if writing.cancelled() or writing.exception() is not None:
            self.close()
        elif self.pending:
            self.flush()
        elif self.closed:
            self.close()

    def close(self) -> None:
        self.closed = True
        self.pending, self.pending_bytes = [], 0
        self.finished.set()


def start_eagerly(coroutine: Coroutine[Any, Any, None]) -> asyncio.Future[None] | None:
    """Run a coroutine right here until it first has to wait, and only then hand it to a task.

    None when it finished without waiting, which is how a write to a socket with room goes. Python
    3.12's eager tasks do the same; this is the part of them the hub needs on 3.11.
    """
    try:
        waiting_on = coroutine.send(None)
    except StopIteration:
        return None
    task = asyncio.ensure_future(_Resumed(coroutine, waiting_on))
    # A task cancelled before its first step never resumes the write: close it so its cleanup runs.
    task.add_done_callback(lambda _task: coroutine.close())
    return task


class _Resumed:
    """The rest of a coroutine that start_eagerly began: the awaiting task passes on what it waits
    for, and whatever the task is sent or thrown (a cancellation) goes back into the coroutine."""

    def __init__(self, coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self.coroutine = coroutine
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, None, None]:
        coroutine, waiting_on = self.coroutine, self.waiting_on
        while True:
            try:
                yield waiting_on
            except BaseException as error:
                try:
                    waiting_on = coroutine.throw(error)
                except StopIteration:
                    return
                continue
            try:
                waiting_on = coroutine.send(None)
            except StopIteration:
                return


PresenceListener = Callable[[int, str], Awaitable[None]]
EventListener = Callable[[EventRecord], None]


class Hub:
    def __init__(
        self,
        live_log: LiveLog,
        renderers: dict[str, TopicRenderer],
        *,
        client_queue_bytes: int = 512 * 1024,
        heartbeat_seconds: float = 25.0,
        context_for: Callable[[int, View], Awaitable[Callable[[], Any]]] | None = None,
    ) -> None:
        self.live_log = live_log
        self.renderers = renderers
        self.client_queue_bytes = client_queue_bytes
        self.heartbeat_seconds = heartbeat_seconds
        # Sets locale, timezone and currency for a render; supplied by the app.
        self.context_for = context_for
        self.watchers: dict[str, dict[View, set[Client]]] = {}
        self.clients: set[Client] = set()
        self.presence_listeners: list[PresenceListener] = []
        # Told of each event before it is rendered, e.g. to drop what the event makes stale; plain calls
        # (on the fan-out's path for every event, so they must be quick and never wait).
        self.event_listeners: list[EventListener] = []
        self.epoch: str | None = None
        self.position: StreamKey | None = None
        self._ready = asyncio.Event()
        self._seen_events: OrderedDict[int, None] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._follow_log()), asyncio.create_task(self._heartbeat())]
        try:
            await asyncio.wait_for(self._ready.wait(), 5)
        except TimeoutError:
            log.warning("live log not reachable at start; the hub keeps trying")

    async def stop(self) -> None:
        # On Python 3.11 redis-py can swallow a cancel that lands as a command completes, and the
        # follower would block on the next read: cancel again until every task has really ended.
        pending = set(self._tasks)
        while pending:
            for task in pending:
                task.cancel()
            _done, pending = await asyncio.wait(pending, timeout=0.1)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for client in list(self.clients):
            client.close()

    # -- connections -----------------------------------------------------------------------------------

    def connect(self, tenant_topics: frozenset[str], view: View) -> Client:
        client = Client(tenant_topics, view, self.client_queue_bytes, self.reset_message)
        self.clients.add(client)
        for topic in tenant_topics:
            self.watchers.setdefault(topic, {}).setdefault(view, set()).add(client)
        LIVE_CONNECTIONS.labels("sse").inc()
        return client

    def disconnect(self, client: Client) -> None:
        client.close()
        self._forget(client)

    def _forget(self, client: Client) -> None:
        """Stop fanning out to a client; whatever it still has pending may be written."""
        if client not in self.clients:
            return
        self.clients.discard(client)
        for topic in client.tenant_topics:
            views = self.watchers.get(topic)
            if not views:
                continue
            group = views.get(client.view)
            if group is not None:
                group.discard(client)
                if not group:
                    del views[client.view]
            if not views:
                del self.watchers[topic]
        LIVE_CONNECTIONS.labels("sse").dec()

    def current_id(self) -> str | None:
        """The position a freshly rendered page continues from, or None before the log was reached."""
        if self.epoch is None or self.position is None:
            return None
        return f"{self.epoch}:{format_stream_id(self.position)}"

    def reset_message(self) -> bytes:
        return sse_message(self.current_id(), "reset", "reset")

    async def replay(self, client: Client, epoch: str, after: StreamKey) -> list[bytes] | None:
        """What the client missed since `after`, rendered for it; None when only a reset can help."""
        try:
            entries = await self.live_log.read_range(epoch, after, REPLAY_LIMIT)
        except LogUnavailable:
            return None
        if entries is None or epoch != self.epoch:
            return None
        client.skip_upto = entries[-1].key if entries else after
        missed: list[tuple[LogEntry, EventRecord]] = []
        seen: set[int] = set()
        for entry in entries:
            record = self._parse(entry)
            if record is None or record.event_id in seen:
                continue
            seen.add(record.event_id)
            missed.append((entry, record))
        loaded = await self._load(missed, client.tenant_topics)
        messages: list[bytes] = []
        for entry, record in missed:
            message_id = f"{epoch}:{entry.id}"
            for topic in record.tenant_topics:
                if topic not in client.tenant_topics:
                    continue
                html = await self._render(record, topic, client.view, loaded)
                if html:
                    messages.append(sse_message(message_id, "update", html))
        return messages

    # -- the log subscription --------------------------------------------------------------------------

    async def _follow_log(self) -> None:
        backoff = 0.1
        while self.position is None:
            try:
                self.epoch = await self.live_log.current_epoch()
                self.position = await self.live_log.head()
                self._ready.set()
            except LogUnavailable as error:
                log.warning("live log unavailable at start, retrying in %.1fs: %s", backoff, error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
        while True:
            try:
                batch = await self.live_log.read_new(self.position, block_ms=5000)
            except LogUnavailable as error:
                log.warning("live log unavailable, retrying in %.1fs: %s", backoff, error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live log read failed")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.1
            if self.epoch is not None and batch.epoch != self.epoch:
                # The log was wiped (Redis restarted): nobody can be replayed across that, so every
                # watcher re-fetches, and we read the new log from its beginning.
                log.warning(
                    "live log epoch changed %s -> %s; resetting %d clients",
                    self.epoch,
                    batch.epoch,
                    len(self.clients),
                )
                self.epoch, self.position = batch.epoch, (0, 0)
                message = self.reset_message()
                for client in list(self.clients):
                    client.push(None, message)
                    client.flush()
                continue
            self.epoch = batch.epoch
            self.position = batch.position
            self._ready.set()
            if batch.entries:
                try:
                    await self._fan_out(batch.entries)
                except Exception:
                    log.exception(
                        "could not fan out live log entries %s..%s", batch.entries[0].id, batch.entries[-1].id
                    )

    def _parse(self, entry: LogEntry) -> EventRecord | None:
        if not entry.data.startswith('{"event_id"'):
            return None
        return EventRecord.from_json(entry.data)

    async def _fan_out(self, entries: list[LogEntry]) -> None:
        """Render a batch of log entries and queue the bytes for every watcher.

        Apart from the one round of loads for the whole batch nothing in here waits, so watchers
        wake once per batch and write everything that piled up in one go: the busier the log, the
        more events share a write.
        """
        fresh: list[tuple[LogEntry, EventRecord]] = []
        for entry in entries:
            if entry.data.startswith('{"presence"'):
                notice = json.loads(entry.data)["presence"]
                for listener in self.presence_listeners:
                    await listener(int(notice["tenant_id"]), str(notice["topic"]))
                continue
            record = self._parse(entry)
            # The relay may re-publish an event whose bookkeeping was lost; send it once.
            if record is None or record.event_id in self._seen_events:
                continue
            self._seen_events[record.event_id] = None
            if len(self._seen_events) > 20_000:
                self._seen_events.popitem(last=False)
            fresh.append((entry, record))
            for on_event in self.event_listeners:
                on_event(record)
        loaded = await self._load(fresh, self.watchers.keys())
        touched: set[Client] = set()
        for entry, record in fresh:
            try:
                await self._queue(entry, record, loaded, touched)
            except Exception:
                log.exception("could not fan out live log entry %s", entry.id)
        writes = 0
        for client in touched:
            writes += client.flush()
            if client.closed:
                self._forget(client)
        LIVE_WRITES.inc(writes)

    async def _queue(
        self, entry: LogEntry, record: EventRecord, loaded: dict[tuple[str, int], Any], touched: set[Client]
    ) -> None:
        """Render the event once per (topic, view) watched here and queue the same bytes for all."""
        message_id = f"{self.epoch}:{entry.id}"
        for topic in record.tenant_topics:
            views = self.watchers.get(topic)
            if not views:
                continue
            for view, clients in list(views.items()):
                html = await self._render(record, topic, view, loaded)
                if not html:
                    continue
                message = sse_message(message_id, "update", html)
                for client in clients:
                    client.push(entry.key, message)
                touched.update(clients)
                LIVE_MESSAGES.inc(len(clients))

    async def _load(
        self, events: list[tuple[LogEntry, EventRecord]], watched: Collection[str]
    ) -> dict[tuple[str, int], Any]:
        """What each (topic, event) fragment shows, one renderer call per topic for the whole batch."""
        by_topic: dict[str, list[EventRecord]] = {}
        for _entry, record in events:
            for topic in record.tenant_topics:
                if topic in watched and topic_kind(topic) in self.renderers:
                    by_topic.setdefault(topic, []).append(record)
        loaded: dict[tuple[str, int], Any] = {}
        for topic, records in by_topic.items():
            await self._load_topic(self.renderers[topic_kind(topic)], topic, records, loaded)
        return loaded

    async def _load_topic(
        self,
        renderer: TopicRenderer,
        topic: str,
        records: list[EventRecord],
        loaded: dict[tuple[str, int], Any],
    ) -> None:
        """One renderer call for a topic's records; a failure costs only this topic its fragments."""
        try:
            items = await renderer.load(records, topic)
        except Exception:
            log.exception("could not load %d live event(s) for topic %s", len(records), topic)
            items = [NOT_LOADED] * len(records)
        loaded.update(((topic, record.event_id), item) for record, item in zip(records, items, strict=True))

    async def _render(
        self, record: EventRecord, topic: str, view: View, loaded: dict[tuple[str, int], Any]
    ) -> str:
        renderer = self.renderers.get(topic_kind(topic))
        if renderer is None:
            return ""
        if (topic, record.event_id) not in loaded:
            # A watcher of this topic connected while the batch was loading.
            await self._load_topic(renderer, topic, [record], loaded)
        if loaded[topic, record.event_id] is NOT_LOADED:
            return ""
        restore = await self.context_for(record.tenant_id, view) if self.context_for else None
        try:
            return await renderer.render(loaded[topic, record.event_id], record, view)
        finally:
            if restore is not None:
                restore()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            for client in list(self.clients):
                client.push(None, HEARTBEAT)
                client.flush()
