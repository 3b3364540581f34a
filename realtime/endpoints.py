"""`GET /live` (Server-Sent Events with replay) and `/ws` (presence over WebSocket)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

from quart import Blueprint, abort, g, make_response, request, websocket

from ops.auth.actor import Actor
from ops.events import tenant_topic
from ops.metrics import LIVE_CONNECTIONS
from ops.runtime import runtime
from realtime.hub import RETRY_PRELUDE, View
from realtime.log import split_client_id
from realtime.presence import Watcher

bp = Blueprint("realtime", __name__)

MAX_TOPICS = 20
WS_IDLE_SECONDS = 75


async def allowed_topic(actor: Actor, topic: str) -> bool:
    kind, _, argument = topic.partition(":")
    guard = runtime().topic_guards.get(kind)
    return guard is not None and await guard(actor, argument)


@bp.get("/live")
async def live() -> Any:
    actor: Actor | None = g.get("actor")
    if actor is None:
        abort(401)
    topics = request.args.getlist("topic")
    if not topics or len(topics) > MAX_TOPICS:
        abort(400, description="name between 1 and 20 topics")
    for topic in topics:
        if not await allowed_topic(actor, topic):
            # Another tenant's object and a topic that does not exist look the same.
            abort(404)
    tenant_topics = frozenset(tenant_topic(actor.tenant_id, topic) for topic in topics)
    last_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    hub = runtime().hub

    async def stream() -> AsyncIterator[bytes]:
        client = hub.connect(tenant_topics, View.for_actor(actor))
        try:
            prelude = [RETRY_PRELUDE]
            resume_from = split_client_id(last_id)
            if resume_from is not None:
                missed = await hub.replay(client, *resume_from)
                prelude.extend(missed if missed is not None else [hub.reset_message()])
            yield b"".join(prelude)
            async for chunk in client.stream(hub.reset_message):
                yield chunk
        finally:
            hub.disconnect(client)

    response = await make_response(
        stream(),
        200,
        {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.timeout = None  # type: ignore[union-attr]
    return response


@bp.websocket("/ws")
async def ws() -> None:
    """Client sends {"type": "subscribe"|"unsubscribe"|"ping", "topic": ...}; server sends presence."""
    actor: Actor | None = g.get("actor")
    if actor is None or actor.user_id is None:
        await websocket.close(1008, "sign in first")
        return
    await websocket.accept()
    presence = runtime().presence
    watcher = Watcher(secrets.token_hex(8), actor.user_id, actor.name)
    outbox: asyncio.Queue[dict[str, object]] = asyncio.Queue(maxsize=100)
    joined: set[str] = set()

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
                outbox.put_nowait({"type": "error", "message": "send JSON objects"})
                continue
            if kind == "subscribe" and topic not in joined:
                if not await allowed_topic(actor, topic):
                    outbox.put_nowait({"type": "error", "topic": topic, "message": "not found"})
                    continue
                joined.add(topic)
                await presence.join(actor.tenant_id, topic, watcher, outbox)
            elif kind == "unsubscribe" and topic in joined:
                joined.discard(topic)
                await presence.leave(actor.tenant_id, topic, watcher, outbox)
            elif kind == "ping":
                for name in joined:
                    await presence.refresh(actor.tenant_id, name, watcher)
                outbox.put_nowait({"type": "pong"})
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        for topic in joined:
            with contextlib.suppress(Exception):
                await presence.leave(actor.tenant_id, topic, watcher, outbox)
        LIVE_CONNECTIONS.labels("ws").dec()
