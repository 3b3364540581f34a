"""Outbound webhooks: endpoints (the only writer), events turned into deliveries, and their delivery.

**Body.** Every delivery is a JSON object `{"type", "timestamp", "data"}`: `type` is the event type
(`work_order.moved`), `timestamp` the moment the change happened (ISO 8601, UTC, `Z`), and `data` the
event's payload as recorded (ids and the changed fields). A test event from the settings page has the
type `webhook.test`. Requests are signed with the Standard Webhooks scheme: `webhook-id` is `msg_<delivery
id>` and stays the same on every attempt (receivers dedupe on it), `webhook-timestamp` is the moment of
the attempt, `webhook-signature` is `v1,<base64 HMAC-SHA256>` and, during a secret rotation, also the
signature with the previous secret, separated by a space.

**From events to deliveries** (`dispatch_events`). One cursor row says which event ids are done. A pass
takes it with FOR UPDATE SKIP LOCKED (one worker at a time dispatches, any number may run), reads the
next events by id, creates one delivery per matching enabled endpoint of the event's tenant, and moves
the cursor in the same transaction, so an event is turned into deliveries exactly once. On PostgreSQL
ids are taken before commit, so a lower id may become visible after a higher one: the cursor only passes
a gap in the ids once no transaction that was writing when the gap was seen is still open (the gap was
then a rolled-back transaction, or its event has become visible), or after GAP_PATIENCE (5 min), so that
a session left open in a transaction cannot stop every tenant's webhooks (an event committed by a
transaction that stayed open longer than that is then not delivered; the pass logs a warning). SQLite
has one writer at a time, so its ids become visible in order.

**Delivery** (`deliver_due`). Any 2xx answer is success; anything else, a timeout (10 s for the whole
exchange) or a refused connection is a failed attempt; a redirect is never followed. A failed delivery
is tried again after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (each delay plus 0-20 % jitter, so
retries spread out but the last attempt is still at least 27.5 hours after the first); after the eighth
failed attempt it is marked failed. Order per endpoint is kept: a worker claims an endpoint (its row, SKIP
LOCKED) whose oldest pending delivery is due, and sends its pending deliveries oldest first, stopping at
the first failure; so a delivery waits while an older one to the same endpoint is pending, and a failing
endpoint holds its own queue back, never another endpoint's. A process-wide circuit breaker per endpoint
(integrations/resilience.py) stops calls to an endpoint that keeps failing, so it cannot tie up a worker.

**Disabling.** An endpoint whose attempts have all failed for 5 days, or 100 attempts in a row, is
disabled and the tenant's admins get a mail; deliveries stay queued and go out, in order, once an admin
enables it again. Events that happen while an endpoint is disabled are not queued for it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from integrations.resilience import ProviderUnavailable, breaker
from integrations.webhooks import SendResult, TargetPolicy, TargetRefused, WebhookSender, resolve_target
from ops.auth.actor import Actor, Conflict, NotFound, RuleViolation
from ops.auth.models import User
from ops.db import Database, UnitOfWork, utcnow
from ops.events import Event, record
from ops.i18n import gettext as _
from ops.mail.service import queue_mail, render_mail, written_for
from ops.tenants.models import Tenant
from ops.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDispatchCursor,
    WebhookEndpoint,
    message_id,
)

log = logging.getLogger(__name__)

WEBHOOKS_TOPIC = "webhooks"
ALL_EVENTS = "*"
TEST_EVENT_TYPE = "webhook.test"

# The event types partners may subscribe to, one place for the settings page, the API and dispatch.
# tests/webhooks/test_event_types.py checks this against the types the services record.
EVENT_TYPES: tuple[str, ...] = (
    "bay.created",
    "bay.updated",
    "customer.consent_recorded",
    "customer.created",
    "customer.do_not_contact_changed",
    "customer.erased",
    "customer.updated",
    "deal.cancelled",
    "deal.created",
    "deal.delivered",
    "deal.delivery_scheduled",
    "deal.deposit_recorded",
    "deal.financing_approved",
    "deal.ready_for_delivery",
    "deal.unit_assigned",
    "fleet.created",
    "fleet.deleted",
    "fleet.updated",
    "interaction.logged",
    "interaction.resolved",
    "invoice.created",
    "invoice.paid",
    "lead.created",
    "lead.moved",
    "lead.updated",
    "maintenance.due_changed",
    "maintenance.schedule_created",
    "maintenance.schedule_deleted",
    "maintenance.schedule_updated",
    "maintenance.work_order_linked",
    "part.below_reorder_point",
    "part.created",
    "part.purchase_request_cancelled",
    "part.purchase_request_received",
    "part.purchase_requested",
    "part.stock_changed",
    "part.updated",
    "payment.failed",
    "payment.intent_created",
    "payment.refund_confirmed",
    "payment.refund_failed",
    "payment.refunded",
    "payment.requested",
    "payment.succeeded",
    "quote.accepted",
    "quote.approval_decided",
    "quote.approval_requested",
    "quote.created",
    "quote.declined",
    "quote.expired",
    "quote.sent",
    "quote.updated",
    "technician.clocked_off",
    "technician.clocked_on",
    "telemetry.alert_cleared",
    "telemetry.alert_raised",
    "telemetry.device_registered",
    "telemetry.device_removed",
    "telemetry.reading_recorded",
    "test_drive.booked",
    "test_drive.cancelled",
    "test_drive.checked_out",
    "test_drive.no_show",
    "test_drive.returned",
    "unit.created",
    "unit.delivered",
    "unit.hold_expired",
    "unit.hold_kept",
    "unit.hold_released",
    "unit.released",
    "unit.reserved",
    "unit.sold",
    "unit.updated",
    "vehicle.created",
    "vehicle.document_added",
    "vehicle.document_removed",
    "vehicle.stopped_reporting",
    "vehicle.updated",
    "vehicle_alert.work_order_linked",
    "work_order.assigned",
    "work_order.checked_in",
    "work_order.closed",
    "work_order.completed",
    "work_order.created",
    "work_order.estimate_decided",
    "work_order.estimate_sent",
    "work_order.line_added",
    "work_order.line_changed",
    "work_order.line_removed",
    "work_order.moved",
    "work_order.note_added",
    "work_order.part_marked_used",
    "work_order.scheduled",
    "work_order.updated",
)
# Recorded but never sent to partners: who may sign in, tokens, tenants, settings and secrets, our own
# integration plumbing, and webhooks themselves.
INTERNAL_EVENT_PREFIXES = (
    "api_token.",
    "user.",
    "tenant.",
    "webhook_endpoint.",
    "erp.",
    "customer.exported",
    "payment.settings_changed",
    "telemetry.signing_secret_rotated",
    "telemetry.traccar_secret_rotated",
    "telemetry.thresholds_changed",
)

# After failed attempt n (1-based) the next waits RETRY_DELAYS[n-1]; after the last, the delivery fails.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
# Jitter only lengthens a delay, so the schedule still spans at least 24 hours.
JITTER = 0.2
DISABLE_AFTER_FAILING_FOR = timedelta(days=5)
DISABLE_AFTER_FAILURES = 100
ROTATION_OVERLAP = timedelta(hours=24)
# Shown in the attempt log when the endpoint's secret was sealed under a key the server lost.
UNREADABLE_SECRET = (
    "not sent: the signing secret cannot be read (PITWALL_SECRET_KEY changed); rotate the secret"
)
DISABLED_BY_HAND = "MANUAL"
DISABLED_FOR_FAILURES = "FAILURES"
# How long a worker owns an endpoint it claimed: longer than a run of sends (it stops at a timeout).
CLAIM_LEASE = timedelta(minutes=5)
DESCRIPTION_MAX_LENGTH = 200
URL_MAX_LENGTH = 2000
RUN_LENGTH = 50
# How long a gap in the event ids may hold dispatch up while an old transaction stays open.
GAP_PATIENCE = timedelta(minutes=5)


def attempt_schedule() -> list[timedelta]:
    """When each attempt happens, counted from the first (for the settings page)."""
    offsets = [timedelta(0)]
    for delay in RETRY_DELAYS:
        offsets.append(offsets[-1] + delay)
    return offsets


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and the base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def target_policy(allow_private: bool, production: bool) -> TargetPolicy:
    """The endpoint URL rules of this installation: https in production, private targets if allowed."""
    return TargetPolicy(allow_private=allow_private, require_https=production)


STRICT_POLICY = TargetPolicy()


def subscribes_to(event_types: Sequence[str], event_type: str) -> bool:
    if event_type in event_types:
        return True
    return ALL_EVENTS in event_types and not event_type.startswith(INTERNAL_EVENT_PREFIXES)


def disabled_reason_label(reason: str) -> str:
    labels = {
        DISABLED_BY_HAND: _("Disabled by an administrator."),
        DISABLED_FOR_FAILURES: _(
            "Disabled automatically: every attempt failed for 5 days, or 100 attempts in a row."
        ),
    }
    return labels.get(reason, reason)


def delivery_status_label(status: str) -> str:
    labels = {"PENDING": _("Pending"), "SUCCEEDED": _("Delivered"), "FAILED": _("Failed")}
    return labels.get(status, status)


# --- Endpoints --------------------------------------------------------------------------------------------


class EndpointInvalid(RuleViolation):
    """An endpoint form with one or more bad fields; `errors` has a message per field."""

    def __init__(self, errors: dict[str, str]) -> None:
        field_name, message = next(iter(errors.items()))
        super().__init__(message, field=field_name)
        self.errors = errors


async def _validated(
    url: str, event_types: Sequence[str], description: str, policy: TargetPolicy
) -> tuple[str, list[str], str]:
    errors: dict[str, str] = {}
    url = url.strip()
    description = " ".join(description.split())
    chosen = sorted(set(event_types))
    if not url:
        errors["url"] = _("Enter the URL that receives the events.")
    elif len(url) > URL_MAX_LENGTH:
        errors["url"] = _("Use at most %(max)s characters.", max=URL_MAX_LENGTH)
    else:
        try:
            await resolve_target(url, policy)
        except TargetRefused as refused:
            errors["url"] = _("This URL cannot receive webhooks: %(reason)s.", reason=str(refused))
    if not chosen:
        errors["event_types"] = _("Choose at least one event type.")
    elif ALL_EVENTS in chosen:
        chosen = [ALL_EVENTS]
    else:
        unknown = [name for name in chosen if name not in EVENT_TYPES]
        if unknown:
            errors["event_types"] = _("Unknown event type: %(names)s.", names=", ".join(unknown))
    if len(description) > DESCRIPTION_MAX_LENGTH:
        errors["description"] = _("Use at most %(max)s characters.", max=DESCRIPTION_MAX_LENGTH)
    if errors:
        raise EndpointInvalid(errors)
    return url, chosen, description


def _endpoint_payload(endpoint: WebhookEndpoint, **extra: Any) -> dict[str, Any]:
    # Never the secret: events are read by the live log, the audit trail and (not these) partners.
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
        **extra,
    }


async def create_endpoint(
    uow: UnitOfWork,
    url: str,
    event_types: Sequence[str],
    description: str = "",
    *,
    policy: TargetPolicy = STRICT_POLICY,
) -> tuple[WebhookEndpoint, str]:
    """Subscribe a URL to event types; returns the endpoint and its secret, which is shown only now."""
    uow.actor.require("webhook.manage")
    url, chosen, description = await _validated(url, event_types, description, policy)
    secret = new_secret()
    now = utcnow()
    endpoint = WebhookEndpoint(
        tenant_id=uow.actor.tenant_id,
        url=url,
        event_types=chosen,
        description=description,
        secret=secret,
        enabled=True,
        consecutive_failures=0,
        created_at=now,
        updated_at=now,
        version=1,
    )
    uow.session.add(endpoint)
    await uow.session.flush()
    record(uow, "webhook_endpoint.created", _endpoint_payload(endpoint), [WEBHOOKS_TOPIC])
    await uow.commit()
    return endpoint, secret


async def get_endpoint(session: AsyncSession, endpoint_id: int) -> WebhookEndpoint:
    """One endpoint of the session's tenant; NotFound for another tenant's id."""
    endpoint = await session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id}")
    return endpoint


async def list_endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    """The tenant's endpoints, oldest first."""
    return list((await session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))).all())


async def _locked_endpoint(uow: UnitOfWork, endpoint_id: int, version: int | None = None) -> WebhookEndpoint:
    endpoint = await uow.session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).with_for_update()
    )
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id}")
    if version is not None and endpoint.version != version:
        raise Conflict(_("Someone else changed this endpoint in the meantime."), current=endpoint)
    return endpoint


def _enable(endpoint: WebhookEndpoint) -> None:
    endpoint.enabled = True
    endpoint.disabled_at = None
    endpoint.disabled_reason = ""
    # A new start: the failure run that disabled it is over.
    endpoint.failing_since = None
    endpoint.consecutive_failures = 0


async def update_endpoint(
    uow: UnitOfWork,
    endpoint_id: int,
    *,
    url: str,
    event_types: Sequence[str],
    description: str = "",
    enabled: bool = True,
    version: int | None = None,
    policy: TargetPolicy = STRICT_POLICY,
) -> WebhookEndpoint:
    """Change an endpoint's URL, event types, description or enabled state (409 on a stale version)."""
    uow.actor.require("webhook.manage")
    url, chosen, description = await _validated(url, event_types, description, policy)
    endpoint = await _locked_endpoint(uow, endpoint_id, version)
    endpoint.url = url
    endpoint.event_types = chosen
    endpoint.description = description
    if enabled and not endpoint.enabled:
        _enable(endpoint)
    elif not enabled and endpoint.enabled:
        endpoint.enabled = False
        endpoint.disabled_at = utcnow()
        endpoint.disabled_reason = DISABLED_BY_HAND
    endpoint.updated_at = utcnow()
    endpoint.version += 1
    record(uow, "webhook_endpoint.updated", _endpoint_payload(endpoint), [WEBHOOKS_TOPIC])
    await uow.commit()
    return endpoint


async def set_endpoint_enabled(uow: UnitOfWork, endpoint_id: int, enabled: bool) -> WebhookEndpoint:
    """Enable (also after an automatic disable: queued deliveries go out again) or disable an endpoint."""
    uow.actor.require("webhook.manage")
    endpoint = await _locked_endpoint(uow, endpoint_id)
    if enabled == endpoint.enabled:
        return endpoint
    if enabled:
        _enable(endpoint)
    else:
        endpoint.enabled = False
        endpoint.disabled_at = utcnow()
        endpoint.disabled_reason = DISABLED_BY_HAND
    endpoint.updated_at = utcnow()
    endpoint.version += 1
    record(uow, "webhook_endpoint.updated", _endpoint_payload(endpoint), [WEBHOOKS_TOPIC])
    await uow.commit()
    return endpoint


async def delete_endpoint(uow: UnitOfWork, endpoint_id: int) -> None:
    """Remove an endpoint with its deliveries and their log."""
    uow.actor.require("webhook.manage")
    endpoint = await _locked_endpoint(uow, endpoint_id)
    record(uow, "webhook_endpoint.deleted", _endpoint_payload(endpoint), [WEBHOOKS_TOPIC])
    await uow.session.delete(endpoint)
    await uow.commit()


async def rotate_secret(
    uow: UnitOfWork, endpoint_id: int, now: datetime | None = None
) -> tuple[WebhookEndpoint, str]:
    """A new secret, shown only now; the old one keeps signing beside it for ROTATION_OVERLAP."""
    uow.actor.require("webhook.manage")
    now = now or utcnow()
    endpoint = await _locked_endpoint(uow, endpoint_id)
    secret = new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
    endpoint.secret = secret
    endpoint.updated_at = now
    endpoint.version += 1
    record(
        uow,
        "webhook_endpoint.secret_rotated",
        _endpoint_payload(
            endpoint, previous_secret_expires_at=endpoint.previous_secret_expires_at.isoformat()
        ),
        [WEBHOOKS_TOPIC],
    )
    await uow.commit()
    return endpoint, secret


def _body(event_type: str, timestamp: datetime, data: dict[str, Any]) -> str:
    moment = timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": event_type, "timestamp": moment, "data": data}, separators=(",", ":"))


async def send_test_event(uow: UnitOfWork, endpoint_id: int, now: datetime | None = None) -> WebhookDelivery:
    """Queue a `webhook.test` delivery to this endpoint only; it goes out behind any pending ones."""
    uow.actor.require("webhook.manage")
    now = now or utcnow()
    endpoint = await _locked_endpoint(uow, endpoint_id)
    if not endpoint.enabled:
        raise RuleViolation(_("Enable the endpoint before sending it a test event."))
    data = {
        "endpoint_id": endpoint.id,
        "message": "This is a test event from Pitwall.",
        "sent_by": uow.actor.name,
    }
    delivery = WebhookDelivery(
        tenant_id=endpoint.tenant_id,
        endpoint_id=endpoint.id,
        event_id=None,
        event_type=TEST_EVENT_TYPE,
        body=_body(TEST_EVENT_TYPE, now, data),
        status="PENDING",
        next_attempt_at=now,
        created_at=now,
    )
    uow.session.add(delivery)
    await uow.commit()
    return delivery


async def send_again(
    uow: UnitOfWork, endpoint_id: int, delivery_id: int, now: datetime | None = None
) -> WebhookDelivery:
    """Try a delivery again now, with the same webhook-id; a failure starts the retry schedule over."""
    uow.actor.require("webhook.manage")
    now = now or utcnow()
    # Endpoint first, then delivery: the order the worker's recording takes them in, so no deadlock.
    endpoint = await _locked_endpoint(uow, endpoint_id)
    delivery = await uow.session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint.id)
        .with_for_update()
    )
    if delivery is None:
        raise NotFound(f"webhook delivery {delivery_id}")
    if not endpoint.enabled:
        raise RuleViolation(_("Enable the endpoint before sending a delivery again."))
    delivery.status = "PENDING"
    delivery.schedule_step = 0
    delivery.next_attempt_at = now
    await uow.commit()
    return delivery


# --- From events to deliveries ---------------------------------------------------------------------------

CURSOR_ID = 1


async def _claim_cursor(session: AsyncSession, is_sqlite: bool) -> WebhookDispatchCursor | None:
    """The cursor row, locked for this transaction; None when another worker holds it."""
    claimed = await session.scalar(
        select(WebhookDispatchCursor)
        .where(WebhookDispatchCursor.id == CURSOR_ID)
        .with_for_update(skip_locked=True)
    )
    if claimed is not None:
        return claimed
    insert_row = sqlite_insert if is_sqlite else postgres_insert
    await session.execute(
        insert_row(WebhookDispatchCursor).values(id=CURSOR_ID, last_event_id=0).on_conflict_do_nothing()
    )
    return await session.scalar(
        select(WebhookDispatchCursor)
        .where(WebhookDispatchCursor.id == CURSOR_ID)
        .with_for_update(skip_locked=True)
    )


async def _writers_started_before(session: AsyncSession, moment: datetime) -> bool:
    """PostgreSQL: is a transaction that has written anything, and began before `moment`, still open?"""
    await session.execute(text("SELECT pg_stat_clear_snapshot()"))
    found = await session.scalar(
        text(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL AND xact_start < :moment)"
        ),
        {"moment": moment},
    )
    return bool(found)


async def dispatch_events(db: Database, now: datetime | None = None, batch: int = 500) -> int:
    """Turn the next committed events into deliveries; returns how many events the cursor passed."""
    now = now or utcnow()
    async with db.system() as session:
        # A reading look first: most passes find nothing, and on SQLite a write would take the lock.
        last = await session.scalar(
            select(WebhookDispatchCursor.last_event_id).where(WebhookDispatchCursor.id == CURSOR_ID)
        )
        newest = await session.scalar(select(func.max(Event.id)))
        if newest is None or (last is not None and newest <= last):
            return 0
    async with db.system(write=True) as session:
        cursor = await _claim_cursor(session, db.is_sqlite)
        if cursor is None:
            return 0
        events = list(
            (
                await session.scalars(
                    select(Event).where(Event.id > cursor.last_event_id).order_by(Event.id).limit(batch)
                )
            ).all()
        )
        if not events:
            await session.commit()
            return 0
        passed = await _events_to_pass(session, cursor, events, db.is_sqlite)
        await _create_deliveries(session, passed, now)
        await session.commit()
    return len(passed)


async def _events_to_pass(
    session: AsyncSession, cursor: WebhookDispatchCursor, events: list[Event], is_sqlite: bool
) -> list[Event]:
    """The leading events the cursor may pass, and the cursor moved past them (see the module docstring)."""
    seen_at: datetime | None = None
    if is_sqlite:
        settled_up_to = events[-1].id
    else:
        # Taken after the events were read: any transaction holding a missing id began before it.
        seen_at = (await session.execute(select(func.clock_timestamp()))).scalar_one()
        settled_up_to = cursor.last_event_id
        if cursor.horizon_event_id is not None and cursor.horizon_seen_at is not None:
            if seen_at is not None and seen_at - cursor.horizon_seen_at > GAP_PATIENCE:
                # A session left open for minutes would otherwise stop every tenant's webhooks.
                log.warning(
                    "webhook dispatch passes an id gap before %d after waiting", cursor.horizon_event_id
                )
                settled_up_to = cursor.horizon_event_id
            elif not await _writers_started_before(session, cursor.horizon_seen_at):
                settled_up_to = cursor.horizon_event_id
    passed: list[Event] = []
    expected = cursor.last_event_id + 1
    for event in events:
        if event.id != expected and event.id > settled_up_to:
            break
        passed.append(event)
        expected = event.id + 1
    if passed:
        cursor.last_event_id = passed[-1].id
    if len(passed) < len(events):
        if cursor.horizon_event_id is None or cursor.horizon_event_id <= cursor.last_event_id:
            cursor.horizon_event_id = events[-1].id
            cursor.horizon_seen_at = seen_at
    elif cursor.horizon_event_id is not None and cursor.horizon_event_id <= cursor.last_event_id:
        cursor.horizon_event_id = None
        cursor.horizon_seen_at = None
    return passed


async def _create_deliveries(session: AsyncSession, events: list[Event], now: datetime) -> None:
    tenant_ids = {event.tenant_id for event in events}
    endpoints = (
        await session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.enabled.is_(True), WebhookEndpoint.tenant_id.in_(tenant_ids)
            )
        )
    ).all()
    if not endpoints:
        return
    by_tenant: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in endpoints:
        by_tenant[endpoint.tenant_id].append(endpoint)
    rows = [
        {
            "tenant_id": event.tenant_id,
            "endpoint_id": endpoint.id,
            "event_id": event.id,
            "event_type": event.type,
            "body": _body(event.type, event.created_at, event.payload),
            "status": "PENDING",
            "attempt_count": 0,
            "schedule_step": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event in events
        for endpoint in by_tenant.get(event.tenant_id, [])
        # An endpoint receives what happens after it was subscribed, not the tenant's history.
        if subscribes_to(endpoint.event_types, event.type) and event.created_at >= endpoint.created_at
    ]
    if rows:
        await session.execute(insert(WebhookDelivery), rows)


# --- Delivery ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedEndpoint:
    id: int
    tenant_id: int
    url: str
    secrets: tuple[str, ...]
    deliveries: list[tuple[int, str]]


@dataclass
class DeliveryReport:
    succeeded: int = 0
    failed: int = 0
    disabled: list[int] = field(default_factory=list)


@dataclass
class _Outcome:
    delivery_id: int
    result: SendResult


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> tuple[str, ...]:
    """The current secret, and during a rotation's overlap the previous one too; none when the
    stored secret cannot be opened (sealed under a secret key the server no longer has)."""
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        candidates: tuple[str | None, ...] = (endpoint.secret, endpoint.previous_secret)
    else:
        candidates = (endpoint.secret,)
    return tuple(secret for secret in candidates if secret)


def signed_headers(secrets_: Sequence[str], webhook_id: str, sent_at: datetime, body: str) -> dict[str, str]:
    signatures = " ".join(Webhook(secret).sign(webhook_id, sent_at, body) for secret in secrets_)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signatures,
    }


def retry_delay(schedule_step: int) -> timedelta | None:
    """The wait after failed attempt number `schedule_step` (1-based), or None when it was the last."""
    if schedule_step > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[schedule_step - 1] * (1 + random.uniform(0, JITTER))


def _pending_heads() -> Any:
    return (
        select(WebhookDelivery.endpoint_id, func.min(WebhookDelivery.id).label("head_id"))
        .where(WebhookDelivery.status == "PENDING")
        .group_by(WebhookDelivery.endpoint_id)
        .subquery()
    )


def _due_endpoints(now: datetime) -> Any:
    heads = _pending_heads()
    return (
        select(WebhookEndpoint)
        .join(heads, heads.c.endpoint_id == WebhookEndpoint.id)
        .join(WebhookDelivery, WebhookDelivery.id == heads.c.head_id)
        .where(WebhookEndpoint.enabled.is_(True), WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at)
    )


async def _claim_endpoints(db: Database, now: datetime, batch: int) -> list[ClaimedEndpoint]:
    async with db.system() as session:
        if await session.scalar(_due_endpoints(now).with_only_columns(WebhookEndpoint.id).limit(1)) is None:
            return []
    claimed: list[ClaimedEndpoint] = []
    async with db.system(write=True) as session:
        endpoints = (
            await session.scalars(
                _due_endpoints(now).limit(batch).with_for_update(skip_locked=True, of=WebhookEndpoint)
            )
        ).all()
        for endpoint in endpoints:
            deliveries = (
                await session.execute(
                    select(WebhookDelivery.id, WebhookDelivery.body)
                    .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "PENDING")
                    .order_by(WebhookDelivery.id)
                    .limit(RUN_LENGTH)
                )
            ).all()
            if not deliveries:
                continue
            # The lease: the head is no longer due, so no other worker claims this endpoint meanwhile.
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == deliveries[0].id)
                .values(next_attempt_at=now + CLAIM_LEASE)
            )
            claimed.append(
                ClaimedEndpoint(
                    endpoint.id,
                    endpoint.tenant_id,
                    endpoint.url,
                    signing_secrets(endpoint, now),
                    [(row.id, row.body) for row in deliveries],
                )
            )
        await session.commit()
    return claimed


async def deliver_due(
    db: Database,
    sender: WebhookSender,
    now: datetime | None = None,
    *,
    policy: TargetPolicy = STRICT_POLICY,
    public_url: str | None = None,
    batch: int = 20,
) -> DeliveryReport:
    """Send the due deliveries of up to `batch` endpoints, each endpoint's in order; record every attempt."""
    now = now or utcnow()
    report = DeliveryReport()
    claimed = await _claim_endpoints(db, now, batch)
    if claimed:
        runs = await asyncio.gather(*(_send_run(endpoint, sender, policy) for endpoint in claimed))
        for endpoint, (outcomes, postpone) in zip(claimed, runs, strict=True):
            await _record_run(db, endpoint, outcomes, postpone, now, report, public_url)
    return report


async def _send_run(
    endpoint: ClaimedEndpoint, sender: WebhookSender, policy: TargetPolicy
) -> tuple[list[_Outcome], timedelta | None]:
    """Send the endpoint's deliveries in order until one fails; the postponement if the breaker is open."""
    circuit = breaker(f"webhooks:{endpoint.id}")
    outcomes: list[_Outcome] = []
    try:
        # Checked on every run, not only when saved: the host's DNS answer may have changed since.
        address = await resolve_target(endpoint.url, policy)
    except TargetRefused as refused:
        delivery_id = endpoint.deliveries[0][0]
        return [_Outcome(delivery_id, SendResult(None, 0, "", f"refused: {refused}"))], None
    if not endpoint.secrets:
        delivery_id = endpoint.deliveries[0][0]
        return [_Outcome(delivery_id, SendResult(None, 0, "", UNREADABLE_SECRET))], None
    for delivery_id, body in endpoint.deliveries:
        headers = signed_headers(endpoint.secrets, message_id(delivery_id), utcnow(), body)

        async def attempt(delivery_headers: dict[str, str] = headers, payload: str = body) -> SendResult:
            result = await sender.post(endpoint.url, address, delivery_headers, payload.encode())
            if not result.succeeded:
                raise _AttemptFailed(result)
            return result

        try:
            result = await circuit.call(attempt)
        except _AttemptFailed as failed:
            outcomes.append(_Outcome(delivery_id, failed.result))
            break
        except ProviderUnavailable:
            return outcomes, timedelta(seconds=circuit.reset_after)
        outcomes.append(_Outcome(delivery_id, result))
    return outcomes, None


class _AttemptFailed(Exception):
    """A non-2xx answer or no answer, raised so the circuit breaker counts it."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(result.error)
        self.result = result


async def _record_run(
    db: Database,
    claimed: ClaimedEndpoint,
    outcomes: list[_Outcome],
    postpone: timedelta | None,
    now: datetime,
    report: DeliveryReport,
    public_url: str | None,
) -> None:
    async with db.uow(Actor.system(claimed.tenant_id, "webhooks")) as uow:
        session = uow.session
        endpoint = await session.scalar(
            select(WebhookEndpoint).where(WebhookEndpoint.id == claimed.id).with_for_update()
        )
        if endpoint is None:
            return
        attempt_time = now
        for outcome in outcomes:
            result = outcome.result
            session.add(
                WebhookAttempt(
                    tenant_id=claimed.tenant_id,
                    delivery_id=outcome.delivery_id,
                    endpoint_id=claimed.id,
                    attempted_at=attempt_time,
                    status_code=result.status_code,
                    latency_ms=result.latency_ms,
                    response_excerpt=result.response_excerpt,
                    error=result.error[:500],
                    succeeded=result.succeeded,
                )
            )
            delivery = await session.get(WebhookDelivery, outcome.delivery_id)
            if delivery is None:
                continue
            delivery.attempt_count += 1
            delivery.last_attempt_at = attempt_time
            delivery.last_status_code = result.status_code
            if result.succeeded:
                delivery.status = "SUCCEEDED"
                delivery.succeeded_at = attempt_time
                endpoint.failing_since = None
                endpoint.consecutive_failures = 0
                report.succeeded += 1
                continue
            report.failed += 1
            delivery.schedule_step += 1
            delay = retry_delay(delivery.schedule_step)
            if delay is None:
                delivery.status = "FAILED"
            else:
                delivery.next_attempt_at = now + delay
            endpoint.failing_since = endpoint.failing_since or now
            endpoint.consecutive_failures += 1
        sent = {outcome.delivery_id for outcome in outcomes}
        unsent = [delivery_id for delivery_id, _body in claimed.deliveries if delivery_id not in sent]
        if unsent:
            # The first one not sent is the new head: due at once, or when the breaker lets calls through.
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == unsent[0])
                .values(next_attempt_at=now + postpone if postpone else now)
            )
        if endpoint.enabled and _should_disable(endpoint, now):
            await _disable_for_failures(uow, endpoint, now, public_url)
            report.disabled.append(endpoint.id)
        await uow.commit()


def _should_disable(endpoint: WebhookEndpoint, now: datetime) -> bool:
    if endpoint.consecutive_failures >= DISABLE_AFTER_FAILURES:
        return True
    return endpoint.failing_since is not None and now - endpoint.failing_since >= DISABLE_AFTER_FAILING_FOR


async def _disable_for_failures(
    uow: UnitOfWork, endpoint: WebhookEndpoint, now: datetime, public_url: str | None
) -> None:
    """Disable the endpoint and mail the tenant's admins, in the caller's transaction."""
    endpoint.enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = DISABLED_FOR_FAILURES
    endpoint.updated_at = now
    endpoint.version += 1
    session = uow.session
    tenant = await session.scalar(select(Tenant).where(Tenant.id == endpoint.tenant_id))
    admins = (await session.scalars(select(User).where(User.role == "admin", User.active.is_(True)))).all()
    assert tenant is not None
    for admin in admins:
        locale = admin.locale or tenant.locale
        with written_for(locale, tenant.timezone, tenant.currency):
            subject = _("Webhook endpoint disabled: %(url)s", url=endpoint.url)
            body_text, body_html = render_mail(
                "webhook_disabled",
                endpoint=endpoint,
                failures=endpoint.consecutive_failures,
                failing_since=endpoint.failing_since,
                dealership=tenant.name,
                lang=locale.split("_")[0],
                url=f"{public_url.rstrip('/')}/settings/webhooks/{endpoint.id}" if public_url else None,
            )
        queue_mail(uow, admin.email, subject, body_text, body_html, language=locale.split("_")[0])
    record(
        uow,
        "webhook_endpoint.disabled",
        _endpoint_payload(endpoint, consecutive_failures=endpoint.consecutive_failures),
        [WEBHOOKS_TOPIC],
    )
    log.warning("webhook endpoint %d disabled after %d failures", endpoint.id, endpoint.consecutive_failures)
