"""A partner's webhook receiver on 127.0.0.1 that checks signatures with the `standardwebhooks` package
(not our code), and helpers to run the worker's webhook passes at a chosen moment."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, request
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from integrations.resilience import all_breakers
from integrations.webhooks import TargetPolicy, WebhookSender
from ops.db import Database
from ops.webhooks.models import WebhookAttempt, WebhookDelivery
from ops.webhooks.service import DeliveryReport, create_endpoint, deliver_due, dispatch_events
from tests.conftest import free_port
from tests.factories import TenantHandle

LOCAL_POLICY = TargetPolicy(allow_private=True, require_https=False)


@dataclass
class Received:
    webhook_id: str
    type: str
    data: dict[str, Any]
    received_at: float


@dataclass
class Receiver:
    """Answers `status` (or redirects, or stalls) and keeps what verified, once per webhook-id."""

    secret: str = ""
    status: int = 200
    stall_seconds: float = 0.0
    redirect_to: str | None = None
    processed: list[Received] = field(default_factory=list)
    seen_ids: list[str] = field(default_factory=list)
    # Every request as it came, to check signatures with other secrets too.
    raw: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    rejected: int = 0
    port: int = field(default_factory=free_port)
    _stop: asyncio.Event | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/pitwall"

    def _app(self) -> Quart:
        app = Quart(__name__)

        @app.post("/hooks/pitwall")
        async def receive() -> Any:
            body = bytes(await request.get_data(as_text=False))  # type: ignore[arg-type]
            self.raw.append((body, dict(request.headers)))
            if self.stall_seconds:
                await asyncio.sleep(self.stall_seconds)
            try:
                payload = Webhook(self.secret).verify(body, dict(request.headers))
            except WebhookVerificationError:
                self.rejected += 1
                return "bad signature", 400
            webhook_id = request.headers["webhook-id"]
            self.seen_ids.append(webhook_id)
            if self.redirect_to:
                return "", 302, {"Location": self.redirect_to}
            if self.status < 300 and webhook_id not in {item.webhook_id for item in self.processed}:
                self.processed.append(Received(webhook_id, payload["type"], payload["data"], time.time()))
            return json.dumps({"ok": self.status < 300}), self.status

        return app

    async def start(self) -> None:
        config = Config()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.loglevel = "WARNING"
        config.graceful_timeout = 0.2
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(serve(self._app(), config, shutdown_trigger=self._stop.wait))
        for _ in range(200):
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.02)
        raise RuntimeError("receiver did not start")

    async def stop(self) -> None:
        if self._stop is not None and self._task is not None:
            self._stop.set()
            await asyncio.wait_for(self._task, 10)
            self._stop = self._task = None

    def types(self) -> list[str]:
        return [item.type for item in self.processed]


def close_breakers() -> None:
    """Forget what this process learnt about endpoints, as a test moves time on by hours."""
    for circuit in all_breakers().values():
        circuit.record_success()


async def run_webhooks(
    db: Database, sender: WebhookSender, now: datetime, policy: TargetPolicy = LOCAL_POLICY
) -> DeliveryReport:
    """One worker pass at `now`: new events into deliveries, then the due deliveries out."""
    while await dispatch_events(db, now):
        pass
    return await deliver_due(db, sender, now, policy=policy)


async def subscribe(tenant: TenantHandle, receiver: Receiver, event_types: list[str] | None = None) -> int:
    """An endpoint of `tenant` for `receiver` (every event type unless told); the receiver gets its secret."""
    async with tenant.db.uow(tenant.admin.actor) as uow:
        endpoint, secret = await create_endpoint(
            uow, receiver.url, event_types or ["*"], "Test receiver", policy=LOCAL_POLICY
        )
    receiver.secret = secret
    return endpoint.id


async def deliveries_of(db: Database, tenant_id: int, endpoint_id: int) -> list[WebhookDelivery]:
    async with db.read(tenant_id) as session:
        query = (
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id)
        )
        return list((await session.scalars(query)).all())


async def attempts_of(db: Database, tenant_id: int, endpoint_id: int) -> list[WebhookAttempt]:
    async with db.read(tenant_id) as session:
        query = (
            select(WebhookAttempt)
            .where(WebhookAttempt.endpoint_id == endpoint_id)
            .order_by(WebhookAttempt.id)
        )
        return list((await session.scalars(query)).all())
