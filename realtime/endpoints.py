"""`GET /live` (Server-Sent Events with replay) and `/ws` (presence over WebSocket)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from itsdangerous import BadSignature
from quart import Blueprint, Quart, abort, g, request, url_for, websocket
from quart.sessions import SecureCookieSessionInterface
from werkzeug.http import parse_cookie

from ops.auth.actor import Actor
from ops.auth.service import actor_for_session
from ops.events import tenant_topic
from ops.logs import accepted_correlation_id, correlation_id
from ops.metrics import LATENCY, LIVE_CONNECTIONS, REQUESTS
from ops.runtime import runtime
from realtime.hub import RETRY_PRELUDE, Client, View
from realtime.log import split_client_id
from realtime.presence import Watcher
from realtime.raw_writes import chunked_writer

bp = Blueprint("realtime", __name__)

MAX_TOPICS = 20
WS_IDLE_SECONDS = 75
# Where LiveStream tells the Quart view why it turned a request away.
REFUSAL_KEY = "pitwall.live_refusal"


async def allowed_topic(actor: Actor, topic: str) -> bool:
    kind, _, argument = topic.partition(":")
    guard = runtime().topic_guards.get(kind)
    return guard is not None and await guard(actor, argument)


@dataclass(frozen=True)
class Refusal:
    code: int
    description: str | None = None


async def live_topics(actor: Actor, topics: list[str], header: list[str]) -> frozenset[str] | Refusal:
    """The tenant topics a `/live` request may watch, or why it may not. The header's topics come from
    what the actor may see (runtime's `header_topics`), so only the page's own pass the guards."""
    if not (topics or header) or len(topics) + len(header) > MAX_TOPICS:
        return Refusal(400, "name between 1 and 20 topics")
    for topic in topics:
        if not await allowed_topic(actor, topic):
            # Another tenant's object and a topic that does not exist look the same.
            return Refusal(404)
    return frozenset(tenant_topic(actor.tenant_id, topic) for topic in [*topics, *header])


async def header_topics_beside(actor: Actor, page_topics: list[str]) -> list[str]:
    """The header's topics a page stream also carries (`header=1`): none when the page watches those
    kinds of topic itself, since then it shows their events in full."""
    source = runtime().header_topics
    header = await source(actor) if source is not None else []
    page_kinds = {topic.partition(":")[0] for topic in page_topics}
    if any(topic.partition(":")[0] in page_kinds for topic in header):
        return []
    return header[: max(0, MAX_TOPICS - len(page_topics))]


def live_url(topics: str | list[str], last_event_id: str | None) -> str:
    """The one live stream of a page: its own topics, and the header's (`header=1`) for its notices."""
    g.page_has_live_stream = True
    page_topics = [topics] if isinstance(topics, str) else list(topics)
    return url_for("realtime.live", topic=page_topics, header=1, last_event_id=last_event_id)


@bp.get("/live")
async def live() -> Any:
    """Answers the /live requests that LiveStream turned away, in the app's usual error format."""
    refusal = request.scope.get(REFUSAL_KEY)
    if not isinstance(refusal, Refusal):
        refusal = Refusal(405)
    abort(refusal.code, description=refusal.description)


class LiveStream:
    """`GET /live` as a bare ASGI app in front of Quart.

    A board keeps its stream open all day and receives every update, so after the same checks as
    any request (the session cookie, the topic guards) its bytes go straight to the server instead
    of through Quart's request and response machinery: about a fifth less work per update and
    watcher, the biggest share of a busy web process (bench/live_fanout.py). A request it turns
    away goes on to Quart, which answers it like any other error.
    """

    def __init__(self, app: Quart, headers: dict[str, str]) -> None:
        self.app = app
        self.next_app = app.asgi_app
        self.headers = [
            (b"content-type", b"text/event-stream"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
            *((name.lower().encode(), value.encode()) for name, value in headers.items()),
        ]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/live" or scope["method"] != "GET":
            await self.next_app(scope, receive, send)
            return
        # The same app context as the hub's renders, which replay shares.
        async with self.app.app_context():
            refusal = await self._stream(scope, receive, send)
        if refusal is not None:
            scope[REFUSAL_KEY] = refusal
            await self.next_app(scope, receive, send)

    async def _stream(self, scope: Any, receive: Any, send: Any) -> Refusal | None:
        """Stream until the browser goes away; or say why it may not watch, without answering."""
        started = time.perf_counter()
        request_id = accepted_correlation_id(_header(scope, b"x-correlation-id"))
        correlation_id.set(request_id)
        query = parse_qs(scope["query_string"].decode("latin-1"))
        actor = await self._actor(scope)
        if actor is None:
            return Refusal(401)
        page_topics = query.get("topic", [])
        header = await header_topics_beside(actor, page_topics) if query.get("header") == ["1"] else []
        topics = await live_topics(actor, page_topics, header)
        if isinstance(topics, Refusal):
            return topics
        last_id = _header(scope, b"last-event-id") or query.get("last_event_id", [None])[0]
        hub = runtime().hub
        client = hub.connect(topics, View.for_actor(actor, header_notices_only=bool(header)))
        # As in Quart: the browser going away ends the stream.
        disconnected = asyncio.create_task(_wait_for_disconnect(receive, client))

        def asgi_write(chunk: bytes) -> Coroutine[Any, Any, None]:
            # The server's own send, with no coroutine of ours around it.
            return send({"type": "http.response.body", "body": chunk, "more_body": True})

        try:
            prelude = [RETRY_PRELUDE]
            resume_from = split_client_id(last_id)
            if resume_from is not None:
                missed = await hub.replay(client, *resume_from)
                prelude.extend(missed if missed is not None else [hub.reset_message()])
            headers = [*self.headers, (b"x-correlation-id", request_id.encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            REQUESTS.labels("/live", "GET", "200").inc()
            LATENCY.labels("/live").observe(time.perf_counter() - started)
            await asgi_write(b"".join(prelude))
            # This runs for every update and watcher: straight to the connection where the server
            # allows it (realtime/raw_writes.py), through ASGI otherwise.
            write = chunked_writer(send) or asgi_write
            # From here on the hub writes: whatever it queued during the replay first.
            client.start_writing(write)
            await client.finished.wait()
            if not disconnected.done():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            hub.disconnect(client)
            disconnected.cancel()
        return None

    async def _actor(self, scope: Any) -> Actor | None:
        """Who the session cookie belongs to, read the way Quart reads it for every other request."""
        interface = self.app.session_interface
        cookie = parse_cookie(_header(scope, b"cookie") or "").get(self.app.config["SESSION_COOKIE_NAME"])
        if not cookie or not isinstance(interface, SecureCookieSessionInterface):
            return None
        serializer = interface.get_signing_serializer(self.app)
        if serializer is None:
            return None
        try:
            session = serializer.loads(
                cookie, max_age=int(self.app.permanent_session_lifetime.total_seconds())
            )
        except BadSignature:
            return None
        token = session.get("sid") if isinstance(session, dict) else None
        found = await actor_for_session(runtime().db, token) if token else None
        return found[0] if found is not None else None


async def _wait_for_disconnect(receive: Any, client: Client) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    client.close()


def _header(scope: Any, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


@bp.websocket("/ws")
async def ws() -> None:
    """Client sends {"type": "subscribe"|"unsubscribe"|"ping", "topic": ...}; server sends presence."""
    actor: Actor | None = g.get("actor")
    if actor is None or actor.user_id is None:
        await websocket.close(1008, "sign in first")
        return
    origin = websocket.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != websocket.host:
        # Browsers send the cookie with a WebSocket handshake from any site; only our pages may use it.
        await websocket.close(1008, "cross-site connection refused")
        return
    await websocket.accept()
    presence = runtime().presence
    watcher = Watcher(secrets.token_hex(8), actor.user_id, actor.name)
    outbox: asyncio.Queue[dict[str, object]] = asyncio.Queue(maxsize=100)
    joined: set[str] = set()

    def offer(message: dict[str, object]) -> None:
        # A client that stopped reading loses replies instead of killing its own connection handler.
        if not outbox.full():
            outbox.put_nowait(message)

    async def send_outbox() -> None:
        while True:
            await websocket.send(json.dumps(await outbox.get()))

    sender = asyncio.create_task(send_outbox())
    LIVE_CONNECTIONS.labels("ws").inc()
    try:
        while True:
            try:
                raw = await asyncio.wait_for(websocket.receive(), WS_IDLE_SECONDS)
                message = json.loads(raw)
                kind, topic = str(message.get("type", "")), str(message.get("topic", ""))
            except TimeoutError:
                break
            except (ValueError, AttributeError):
                offer({"type": "error", "message": "send JSON objects"})
                continue
            if kind == "subscribe" and topic not in joined:
                if not await allowed_topic(actor, topic):
                    offer({"type": "error", "topic": topic, "message": "not found"})
                    continue
                joined.add(topic)
                await presence.join(actor.tenant_id, topic, watcher, outbox)
            elif kind == "unsubscribe" and topic in joined:
                joined.discard(topic)
                await presence.leave(actor.tenant_id, topic, watcher, outbox)
            elif kind == "ping":
                for name in joined:
                    await presence.refresh(actor.tenant_id, name, watcher)
                offer({"type": "pong"})
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        for topic in joined:
            with contextlib.suppress(Exception):
                await presence.leave(actor.tenant_id, topic, watcher, outbox)
        LIVE_CONNECTIONS.labels("ws").dec()
