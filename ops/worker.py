"""The worker: the outbox relay, mail delivery and the timers that end expired stock holds and quotes;
webhook deliveries, integration jobs and other timers join it later.

Everything here is safe to run in any number of processes at once (rows are claimed with SKIP LOCKED).
Each duty runs in its own loop, so a slow mail server never holds up the live log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from integrations.erp import create_erp_adapter
from integrations.mail import Mailer, create_mailer
from integrations.webhooks import WebhookSender
from ops.api.service import purge_expired_keys
from ops.config import Settings
from ops.db import Database, utcnow
from ops.erp.service import sync_once
from ops.mail.service import deliver_due_mail
from ops.payments.service import send_due_provider_calls
from ops.sales.quotes.service import expire_quotes
from ops.sales.stock.service import expire_holds
from ops.vehicles.maintenance.service import refresh_all_maintenance
from ops.vehicles.telemetry.service import mark_stopped_reporting
from ops.webhooks.service import deliver_due, dispatch_events, target_policy
from realtime.log import LogUnavailable
from realtime.outbox import OutboxPublisher

log = logging.getLogger(__name__)

# How often expired holds are looked for: a 48-hour hold ends at most this much late.
HOLD_EXPIRY_INTERVAL_SECONDS = 30.0
# Quotes are valid to the end of a day: a minute late is soon enough.
QUOTE_EXPIRY_INTERVAL_SECONDS = 60.0
# Vehicles silent for 24 hours are looked for every 5 minutes: a board shows them at most that late.
STOPPED_REPORTING_INTERVAL_SECONDS = 300.0
# Maintenance turns due by date at midnight in each dealership's timezone; an hourly pass is at most an
# hour late and records nothing when nothing changed.
MAINTENANCE_INTERVAL_SECONDS = 3600.0
# Partner API idempotency keys live 24 hours; a read never trusts an expired one, so hourly is enough.
IDEMPOTENCY_EXPIRY_INTERVAL_SECONDS = 3600.0


async def run_worker(settings: Settings, publisher: OutboxPublisher, stop: asyncio.Event) -> None:
    log.info("worker started (relay every %.1fs)", settings.relay_interval_seconds)
    mailer = create_mailer(settings.smtp_url, settings.data_dir / "mail")
    await asyncio.gather(
        _relay_loop(settings, publisher, stop),
        _mail_loop(settings, publisher.db, mailer, stop),
        _hold_expiry_loop(publisher.db, stop),
        _quote_expiry_loop(publisher.db, stop),
        _stopped_reporting_loop(publisher.db, stop),
        _maintenance_loop(publisher.db, stop),
        _payments_loop(settings, publisher.db, stop),
        _webhook_loop(settings, publisher.db, stop),
        _erp_loop(settings, publisher.db, stop),
        _idempotency_expiry_loop(publisher.db, stop),
    )
    log.info("worker stopped")


async def _relay_loop(settings: Settings, publisher: OutboxPublisher, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await publisher.relay_once(settings.relay_grace_seconds)
        except LogUnavailable as error:
            # Expected while Redis restarts; the events stay in the outbox until the next pass.
            log.warning(
                "live log unavailable, relay retries in %.1fs: %s", settings.relay_interval_seconds, error
            )
        except Exception:
            log.exception("relay pass failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.relay_interval_seconds)


async def _mail_loop(settings: Settings, db: Database, mailer: Mailer, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await deliver_due_mail(db, mailer, utcnow(), sender=settings.mail_from)
        except Exception:
            # The database is away for a moment; the mails stay queued until the next pass.
            log.exception("mail delivery pass failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.mail_poll_seconds)


async def _hold_expiry_loop(db: Database, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            expired = await expire_holds(db, utcnow())
            if expired:
                log.info("%d stock hold(s) expired", expired)
        except Exception:
            # The database is away for a moment; the holds expire on the next pass.
            log.exception("hold expiry pass failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HOLD_EXPIRY_INTERVAL_SECONDS)


async def _quote_expiry_loop(db: Database, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            expired = await expire_quotes(db, utcnow())
            if expired:
                log.info("%d quote(s) expired", expired)
        except Exception:
            # The database is away for a moment; the quotes expire on the next pass.
            log.exception("quote expiry pass failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), QUOTE_EXPIRY_INTERVAL_SECONDS)


async def _idempotency_expiry_loop(db: Database, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            purged = await purge_expired_keys(db)
            if purged:
                log.info("%d expired idempotency key(s) purged", purged)
        except Exception:
            # The database is away for a moment; the keys are purged on the next pass.
            log.exception("idempotency key purge failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), IDEMPOTENCY_EXPIRY_INTERVAL_SECONDS)


WEBHOOK_DISPATCH_BATCH = 500


async def _webhook_loop(settings: Settings, db: Database, stop: asyncio.Event) -> None:
    """Events into webhook deliveries, then the due deliveries out; again at once while there is work."""
    sender = WebhookSender()
    policy = target_policy(settings.webhook_allow_private_targets, settings.is_production)
    try:
        while not stop.is_set():
            busy = False
            try:
                # Caught up unless the pass was full: on a busy board a pass per move would take
                # SQLite's write lock from the moves themselves, for events nobody may subscribe to.
                busy = await dispatch_events(db, utcnow(), WEBHOOK_DISPATCH_BATCH) == WEBHOOK_DISPATCH_BATCH
                report = await deliver_due(
                    db, sender, utcnow(), policy=policy, public_url=settings.public_url
                )
                busy = busy or report.succeeded + report.failed > 0
            except Exception:
                # The database is away for a moment; events and deliveries wait for the next pass.
                log.exception("webhook pass failed; retrying")
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.webhook_poll_seconds)
    finally:
        await sender.close()


async def _erp_loop(settings: Settings, db: Database, stop: asyncio.Event) -> None:
    """ERP sync (H5): pushes deals and invoices, pulls part levels; nothing at all without an ERP."""
    adapter = create_erp_adapter(settings)
    if adapter is None:
        return
    pull_every = timedelta(minutes=settings.erp_pull_minutes)
    try:
        while not stop.is_set():
            try:
                await sync_once(
                    db,
                    adapter,
                    utcnow(),
                    grace_seconds=settings.erp_event_grace_seconds,
                    pull_every=pull_every,
                )
            except Exception:
                # The database is away for a moment; the jobs stay queued until the next pass.
                log.exception("ERP sync pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.erp_poll_seconds)
    finally:
        await adapter.aclose()


# Card payment requests and refunds that Stripe did not answer are retried at their own backoff; the
# loop only looks for due ones this often.
PAYMENTS_INTERVAL_SECONDS = 10.0


async def _payments_loop(settings: Settings, db: Database, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await send_due_provider_calls(db, settings.stripe_api_base, utcnow())
        except Exception:
            # The database is away for a moment; the requests stay pending until the next pass.
            log.exception("payments pass failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PAYMENTS_INTERVAL_SECONDS)


async def _stopped_reporting_loop(db: Database, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            marked = await mark_stopped_reporting(db, utcnow())
            if marked:
                log.info("%d vehicle(s) stopped reporting", marked)
        except Exception:
            # The database is away for a moment; the vehicles are marked on the next pass.
            log.exception("stopped-reporting pass failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), STOPPED_REPORTING_INTERVAL_SECONDS)


async def _maintenance_loop(db: Database, stop: asyncio.Event) -> None:
    """Every vehicle's maintenance by date (ops/vehicles/maintenance): due and overdue without a reading."""
    while not stop.is_set():
        try:
            changed = await refresh_all_maintenance(db)
            if changed:
                log.info("%d maintenance state(s) changed", changed)
        except Exception:
            # The database is away for a moment; the next pass recomputes everything anyway.
            log.exception("maintenance pass failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), MAINTENANCE_INTERVAL_SECONDS)
