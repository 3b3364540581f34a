"""Domain events: the outbox table, `record()`, and topic names.

An event is written in the same transaction as the change it describes. The same row is the audit
trail (who, when, before/after), the source of live updates, and later of partner webhooks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ops.db import Base, BigId, TenantScoped, utcnow

if TYPE_CHECKING:
    from ops.db import UnitOfWork


def tenant_topic(tenant_id: int, topic: str) -> str:
    """The live-log topic of one tenant: `t42:workshop`, `t42:wo:1001`."""
    return f"t{tenant_id}:{topic}"


class Event(TenantScoped, Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_unpublished", "published_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(80))
    topics: Mapped[list[str]]
    payload: Mapped[dict[str, Any]]
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(default=None)

    def to_record(self) -> EventRecord:
        return EventRecord(
            event_id=self.id,
            tenant_id=self.tenant_id,
            type=self.type,
            topics=list(self.topics),
            payload=dict(self.payload),
            actor_id=self.actor_id,
            actor_name=self.actor_name,
            created_at=self.created_at,
        )


@dataclass(frozen=True)
class EventRecord:
    """A committed event as it travels through the live log."""

    event_id: int
    tenant_id: int
    type: str
    topics: list[str]
    payload: dict[str, Any]
    actor_id: int | None = None
    actor_name: str = ""
    created_at: datetime = field(default_factory=utcnow)

    def to_json(self) -> str:
        return json.dumps(
            {
                "event_id": self.event_id,
                "tenant_id": self.tenant_id,
                "type": self.type,
                "topics": self.topics,
                "payload": self.payload,
                "actor_id": self.actor_id,
                "actor_name": self.actor_name,
                "created_at": self.created_at.isoformat(),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> EventRecord:
        data = json.loads(raw)
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        return cls(**data)

    @property
    def tenant_topics(self) -> list[str]:
        return [tenant_topic(self.tenant_id, topic) for topic in self.topics]


def record(uow: UnitOfWork, type: str, payload: dict[str, Any], topics: list[str]) -> Event:
    """Record that something happened, in the unit of work's transaction."""
    actor = uow.actor
    row = Event(
        tenant_id=actor.tenant_id,
        type=type,
        topics=topics,
        payload=payload,
        actor_kind=actor.kind,
        actor_id=actor.user_id,
        actor_name=actor.name,
        created_at=utcnow(),
    )
    uow.add_event(row)
    return row
