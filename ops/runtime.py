"""The per-process objects the app wires together once, reachable from any request or background task."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from quart import current_app

from ops.auth.actor import Actor
from ops.config import Settings
from ops.db import Database
from ops.ratelimit import RateLimiter
from realtime.hub import Hub
from realtime.log import MemoryLiveLog, RedisLiveLog
from realtime.outbox import OutboxPublisher
from realtime.presence import Presence

# Decides whether an actor may watch a topic argument (`wo:12` -> guard("12")); False answers 404.
TopicGuard = Callable[[Actor, str], Awaitable[bool]]
# The topics every page of an actor watches for the header's notices (critical fleet alerts), if any.
HeaderTopics = Callable[[Actor], Awaitable[list[str]]]


@dataclass
class Runtime:
    settings: Settings
    db: Database
    live_log: MemoryLiveLog | RedisLiveLog
    publisher: OutboxPublisher
    hub: Hub
    presence: Presence
    rate_limiter: RateLimiter
    topic_guards: dict[str, TopicGuard] = field(default_factory=dict)
    header_topics: HeaderTopics | None = None


def runtime() -> Runtime:
    return current_app.extensions["pitwall"]
