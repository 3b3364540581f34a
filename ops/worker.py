"""The worker: the outbox relay, mail delivery and the timers that end expired stock holds and quotes;
webhook deliveries, integration jobs and other timers join it later.

Everything here is safe to run in any number of processes at once (rows are claimed with SKIP LOCKED).
Each duty runs in its own loop, so a slow mail server never holds up the live log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from integrations.mail import Mailer, create_mailer
from ops.config import Settings
from ops.db import Database, utcnow
from ops.mail.service import deliver_due_mail
from ops.sales.quotes.service import expire_quotes
from ops.sales.stock.service import expire_holds
from realtime.log import LogUnavailable
from realtime.outbox import OutboxPublisher

log = logging.getLogger(__name__)

# How often expired holds are looked for: a 48-hour hold ends at most this much late.
HOLD_EXPIRY_INTERVAL_SECONDS = 30.0
# Quotes are valid to the end of a day: a minute late is soon enough.
QUOTE_EXPIRY_INTERVAL_SECONDS = 60.0


async def run_worker(settings: Settings, publisher: OutboxPublisher, stop: asyncio.Event) -> None:
    log.info("worker started (relay every %.1fs)", settings.relay_interval_seconds)
    mailer = create_mailer(settings.smtp_url, settings.data_dir / "mail")
    await asyncio.gather(
        _relay_loop(settings, publisher, stop),
        _mail_loop(settings, publisher.db, mailer, stop),
        _hold_expiry_loop(publisher.db, stop),
        _quote_expiry_loop(publisher.db, stop),
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
