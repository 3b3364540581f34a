"""Read models of the webhook settings: the endpoint list with its queue, and an endpoint's delivery log."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, message_id

PAGE_SIZE = 25


@dataclass(frozen=True)
class EndpointRow:
    endpoint: WebhookEndpoint
    pending: int
    last_attempt_at: datetime | None
    last_succeeded: bool | None


async def endpoint_rows(session: AsyncSession) -> list[EndpointRow]:
    """Every endpoint of the tenant with its queue length and how its last attempt went."""
    endpoints = (await session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))).all()
    pending = dict(
        (
            await session.execute(
                select(WebhookDelivery.endpoint_id, func.count())
                .where(WebhookDelivery.status == "PENDING")
                .group_by(WebhookDelivery.endpoint_id)
            )
        ).all()
    )
    last_ids = select(func.max(WebhookAttempt.id)).group_by(WebhookAttempt.endpoint_id)
    last = {
        endpoint_id: (attempted_at, succeeded)
        for endpoint_id, attempted_at, succeeded in (
            await session.execute(
                select(
                    WebhookAttempt.endpoint_id, WebhookAttempt.attempted_at, WebhookAttempt.succeeded
                ).where(WebhookAttempt.id.in_(last_ids))
            )
        ).all()
    }
    return [
        EndpointRow(
            endpoint,
            pending.get(endpoint.id, 0),
            last.get(endpoint.id, (None, None))[0],
            last.get(endpoint.id, (None, None))[1],
        )
        for endpoint in endpoints
    ]


@dataclass(frozen=True)
class AttemptRow:
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str
    error: str
    succeeded: bool


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    event_type: str
    status: str
    created_at: datetime
    next_attempt_at: datetime
    attempts: list[AttemptRow]

    @property
    def webhook_id(self) -> str:
        return message_id(self.id)


@dataclass(frozen=True)
class DeliveryLog:
    rows: list[DeliveryRow]
    page: int
    total: int
    page_size: int

    @property
    def total_pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.total_pages


async def delivery_log(
    session: AsyncSession, endpoint_id: int, page: int, page_size: int = PAGE_SIZE
) -> DeliveryLog:
    """An endpoint's deliveries, newest first, each with every attempt (oldest first)."""
    total = (
        await session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
        )
        or 0
    )
    deliveries = (
        await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    ).all()
    attempts: dict[int, list[AttemptRow]] = defaultdict(list)
    if deliveries:
        for attempt in (
            await session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id.in_([delivery.id for delivery in deliveries]))
                .order_by(WebhookAttempt.id)
            )
        ).all():
            attempts[attempt.delivery_id].append(
                AttemptRow(
                    attempt.attempted_at,
                    attempt.status_code,
                    attempt.latency_ms,
                    attempt.response_excerpt,
                    attempt.error,
                    attempt.succeeded,
                )
            )
    rows = [
        DeliveryRow(
            delivery.id,
            delivery.event_type,
            delivery.status,
            delivery.created_at,
            delivery.next_attempt_at,
            attempts.get(delivery.id, []),
        )
        for delivery in deliveries
    ]
    return DeliveryLog(rows, page, total, page_size)
