"""ERP sync: domain events become sync jobs, the worker pushes them, and part levels are pulled.

- `enqueue_from_events` reads new `deal.created`, `invoice.created`, `part.purchase_requested` and
  `part.purchase_request_cancelled` events past a durable cursor
  (with a grace period, so an event committed late with a smaller id is not stepped over) and queues
  one job per document; the unique (tenant, kind, document) key makes a second read harmless.
- `run_due_jobs` claims due jobs with a lease (SKIP LOCKED on PostgreSQL), calls the adapter outside
  any transaction and records the outcome: synced with the ERP's name for the record, or the next
  attempt with exponential backoff and jitter. "Unavailable" (the ERP cannot be reached, its breaker
  is open) retries for as long as it takes; a refusal gives up after MAX_ATTEMPTS.
- A cancelled purchase request's push is withdrawn if it has not gone out (it is never sent then),
  and its cancellation asks the ERP to cancel whatever the push may have made there. The two jobs
  never run at once: a cancellation that finds its push being sent waits for it.
- A parts pull changes stock only through the parts ledger (an ADJUST movement, reason "ERP sync") and
  prices through `update_part`, so live pages and the movement history stay right; a rise in stock
  while a part has an open purchase request is its goods received in the ERP and closes the request.
  An ERP that is down changes nothing.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.erp import ErpAdapter, ErpRejected
from integrations.resilience import ProviderUnavailable
from ops.auth.actor import Actor, Conflict, NotFound, RuleViolation
from ops.db import Database, UnitOfWork, utcnow
from ops.erp import queries
from ops.erp.models import PUSH_KINDS, ErpEventCursor, ErpSyncJob
from ops.events import Event, record
from ops.i18n import gettext as _
from ops.sales.deals.service import format_deal_number
from ops.workshop.models import Part
from ops.workshop.parts.service import PartChanges, take_erp_stock_level, update_part

log = logging.getLogger(__name__)

CURSOR_NAME = "erp"
# Which events push which document.
PUSHED_BY = {
    "deal.created": "sales_order",
    "invoice.created": "invoice",
    "part.purchase_requested": "purchase_request",
    "part.purchase_request_cancelled": "pr_cancellation",
}
PULL_KIND = "parts_pull"
# A refused document is tried this often (about a day with the backoff below), then left FAILED.
MAX_ATTEMPTS = 12
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
# A claimed job is someone's for this long; a worker that died mid-call gives it back by timing out.
LEASE = timedelta(minutes=5)
SYNC_REASON = "ERP sync"
CENT = Decimal("0.01")


def backoff(attempts: int) -> timedelta:
    """The wait before attempt `attempts + 1`: doubling from 30 s to an hour, with jitter so that many
    jobs failing together do not all come back at the same second."""
    ceiling = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)
    return ceiling * random.uniform(0.5, 1.0)


def _insert(session: AsyncSession) -> Any:
    return postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def enqueue_from_events(db: Database, now: datetime, *, grace_seconds: float, batch: int = 500) -> int:
    """Queue a push for each new deal, invoice and purchase request; returns how many were queued."""
    cutoff = now - timedelta(seconds=grace_seconds)
    async with db.system(write=True) as session:
        insert = _insert(session)
        await session.execute(
            insert(ErpEventCursor)
            .values(name=CURSOR_NAME, last_event_id=0, updated_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        # Locked for the pass: two workers reading the same events would only queue them once anyway,
        # but this keeps them from racing the cursor backwards.
        cursor = (
            await session.execute(
                select(ErpEventCursor).where(ErpEventCursor.name == CURSOR_NAME).with_for_update()
            )
        ).scalar_one()
        events = (
            await session.execute(
                select(Event.id, Event.tenant_id, Event.type, Event.payload)
                .where(
                    Event.id > cursor.last_event_id,
                    Event.type.in_(tuple(PUSHED_BY)),
                    Event.created_at < cutoff,
                )
                .order_by(Event.id)
                .limit(batch)
            )
        ).all()
        queued = 0
        if events:
            jobs = [_job_for(row.tenant_id, row.type, row.payload, now) for row in events]
            result = await session.execute(
                insert(ErpSyncJob)
                .values(jobs)
                .on_conflict_do_nothing(index_elements=["tenant_id", "kind", "local_id"])
            )
            queued = max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
            cursor.last_event_id = events[-1].id
        if len(events) < batch:
            # Past the other events too (telemetry, moves), so the next pass does not read them again.
            passed = await session.scalar(
                select(func.max(Event.id)).where(Event.id > cursor.last_event_id, Event.created_at < cutoff)
            )
            cursor.last_event_id = max(cursor.last_event_id, int(passed or 0))
        cursor.updated_at = now
        await session.commit()
    if queued:
        log.info("queued %d ERP push(es)", queued)
    return queued


def _job_for(tenant_id: int, event_type: str, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    kind = PUSHED_BY[event_type]
    if kind == "sales_order":
        local_id, number = int(payload["deal_id"]), format_deal_number(int(payload["number"]))
    elif kind in ("purchase_request", "pr_cancellation"):
        local_id, number = int(payload["request_id"]), str(payload["number"])
    else:
        local_id, number = int(payload["id"]), str(payload["number"])
    return {
        "tenant_id": tenant_id,
        "kind": kind,
        "local_id": local_id,
        "document_number": number,
        "status": "PENDING",
        "attempts": 0,
        "next_attempt_at": now,
        "unavailable": False,
        "last_error": "",
        "external_ref": "",
        "created_at": now,
        "updated_at": now,
    }


async def schedule_parts_pulls(db: Database, now: datetime) -> int:
    """Give every tenant with parts a scheduled pull (due now if it has none yet)."""
    async with db.system(write=True) as session:
        tenants = (await session.scalars(select(Part.tenant_id).distinct())).all()
        scheduled = set(
            (
                await session.scalars(
                    select(ErpSyncJob.tenant_id).where(ErpSyncJob.kind == PULL_KIND, ErpSyncJob.local_id == 0)
                )
            ).all()
        )
        missing = [tenant_id for tenant_id in tenants if tenant_id not in scheduled]
        if missing:
            await session.execute(
                _insert(session)(ErpSyncJob)
                .values([_pull_job(tenant_id, now) for tenant_id in missing])
                .on_conflict_do_nothing(index_elements=["tenant_id", "kind", "local_id"])
            )
        await session.commit()
    return len(missing)


def _pull_job(tenant_id: int, now: datetime) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "kind": PULL_KIND,
        "local_id": 0,
        "document_number": "",
        "status": "PENDING",
        "attempts": 0,
        "next_attempt_at": now,
        "unavailable": False,
        "last_error": "",
        "external_ref": "",
        "created_at": now,
        "updated_at": now,
    }


async def request_parts_pull(uow: UnitOfWork, now: datetime) -> None:
    """Someone asked for the ERP's stock and prices now (the parts page's button)."""
    uow.actor.require("parts.manage")
    session = uow.session
    job = (
        await session.execute(
            select(ErpSyncJob).where(ErpSyncJob.kind == PULL_KIND, ErpSyncJob.local_id == 0)
        )
    ).scalar_one_or_none()
    if job is None:
        session.add(ErpSyncJob(**_pull_job(uow.actor.tenant_id, now)))
    else:
        job.next_attempt_at = now
        job.updated_at = now
    record(uow, "erp.parts_pull_requested", {"requested_at": now.isoformat()}, topics=[])
    await uow.commit()


async def retry_job(uow: UnitOfWork, job_id: int, now: datetime) -> None:
    """An admin sends a failed (or waiting) push again now, from the integrations page."""
    job = (await uow.session.execute(select(ErpSyncJob).where(ErpSyncJob.id == job_id))).scalar_one_or_none()
    if job is None or job.kind not in PUSH_KINDS:
        raise NotFound(job_id)
    # Looked up first: another tenant's job is NotFound for every role, never a 403.
    uow.actor.require("integration.manage")
    if job.status == "SYNCED":
        raise RuleViolation(_("%(number)s is already in the ERP.", number=job.document_number))
    if job.status == "WITHDRAWN":
        raise RuleViolation(
            _("%(number)s was cancelled; there is nothing to send.", number=job.document_number)
        )
    job.status = "PENDING"
    job.attempts = 0
    job.next_attempt_at = now
    job.updated_at = now
    record(
        uow,
        "erp.push_retried",
        {"job_id": job.id, "kind": job.kind, "number": job.document_number},
        topics=[],
    )
    await uow.commit()


@dataclass(frozen=True)
class Claimed:
    id: int
    tenant_id: int
    kind: str
    local_id: int
    attempts: int
    # The lease a worker that died left on the job: a call of its may have reached the ERP.
    stale_lease: datetime | None = None


async def run_due_jobs(
    db: Database, adapter: ErpAdapter, now: datetime, *, pull_every: timedelta, batch: int = 20
) -> int:
    """Claim and run due pushes and pulls; returns how many were attempted."""
    claimed = await _claim(db, now, batch)
    for job in claimed:
        await _run(db, adapter, job, now, pull_every)
    return len(claimed)


async def _claim(db: Database, now: datetime, batch: int) -> list[Claimed]:
    async with db.system(write=True) as session:
        rows = (
            await session.execute(
                select(ErpSyncJob)
                .where(
                    or_(
                        and_(ErpSyncJob.status == "PENDING", ErpSyncJob.kind.in_((*PUSH_KINDS, PULL_KIND))),
                        # A pull that went well is due again at its next scheduled time.
                        and_(ErpSyncJob.status == "SYNCED", ErpSyncJob.kind == PULL_KIND),
                    ),
                    ErpSyncJob.next_attempt_at <= now,
                    or_(ErpSyncJob.claimed_until.is_(None), ErpSyncJob.claimed_until < now),
                )
                .order_by(ErpSyncJob.next_attempt_at, ErpSyncJob.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
        claimed = []
        for row in rows:
            claimed.append(
                Claimed(row.id, row.tenant_id, row.kind, row.local_id, row.attempts, row.claimed_until)
            )
            row.claimed_until = now + LEASE
        await session.commit()
    return claimed


async def _run(db: Database, adapter: ErpAdapter, job: Claimed, now: datetime, pull_every: timedelta) -> None:
    external_ref = ""
    try:
        if job.kind == "sales_order":
            document = await queries.sales_order_document(db, job.tenant_id, job.local_id)
            external_ref = await adapter.push_sales_order(document)
        elif job.kind == "invoice":
            document = await queries.invoice_document(db, job.tenant_id, job.local_id)
            external_ref = await adapter.push_invoice(document)
        elif job.kind == "purchase_request":
            request = await queries.purchase_request_document(db, job.tenant_id, job.local_id)
            external_ref = await adapter.push_purchase_request(request)
        elif job.kind == "pr_cancellation":
            cancelled = await _cancel_purchase_request(db, adapter, job, now)
            if cancelled is None:
                await _wait_for_push(db, job, now)
                return
            external_ref = cancelled
        else:
            await _pull_parts(db, adapter, job.tenant_id)
    except queries.Withdrawn:
        await _withdraw(db, job, now)
    except ProviderUnavailable as error:
        await _record_failure(db, job, now, error.reason, unavailable=True, pull_every=pull_every)
    except ErpRejected as error:
        await _record_failure(db, job, now, str(error), unavailable=False, pull_every=pull_every)
    except NotFound:
        await _record_failure(db, job, now, "the document no longer exists", unavailable=False, give_up=True)
    except Exception as error:
        log.exception("ERP job %d (%s) failed", job.id, job.kind)
        await _record_failure(
            db, job, now, str(error) or type(error).__name__, unavailable=False, pull_every=pull_every
        )
    else:
        await _record_success(db, job, now, external_ref, pull_every)


async def _cancel_purchase_request(
    db: Database, adapter: ErpAdapter, job: Claimed, now: datetime
) -> str | None:
    """Take a cancelled request back from the ERP: withdraw its push if that has not gone out, else have
    the ERP cancel what the push may have made. Returns the ERP's name for the cancelled order, "" when
    the ERP never had it, or None while the push is being sent (the cancellation waits for it)."""
    push_key = (
        ErpSyncJob.tenant_id == job.tenant_id,
        ErpSyncJob.kind == "purchase_request",
        ErpSyncJob.local_id == job.local_id,
    )
    async with db.system(write=True) as session:
        # One conditional UPDATE: a worker claiming the push at this moment either finds it withdrawn,
        # or holds its lease and is left alone.
        await session.execute(
            update(ErpSyncJob)
            .where(
                *push_key,
                ErpSyncJob.status.in_(("PENDING", "FAILED")),
                or_(ErpSyncJob.claimed_until.is_(None), ErpSyncJob.claimed_until < now),
            )
            .values(status="WITHDRAWN", next_attempt_at=None, updated_at=now)
        )
        push = (
            await session.execute(
                select(
                    ErpSyncJob.status, ErpSyncJob.attempts, ErpSyncJob.claimed_until, ErpSyncJob.external_ref
                ).where(*push_key)
            )
        ).one_or_none()
        await session.commit()
    if push is not None and push.status == "PENDING":
        return None
    if push is None or not queries.may_have_reached_erp(push.status, push.attempts, push.claimed_until):
        return ""
    document = await queries.purchase_request_cancellation_document(
        db, job.tenant_id, job.local_id, push.external_ref
    )
    return await adapter.cancel_purchase_request(document)


async def _wait_for_push(db: Database, job: Claimed, now: datetime) -> None:
    """Try the cancellation again once the push being sent is done; not an attempt that failed."""
    async with db.system(write=True) as session:
        await session.execute(
            update(ErpSyncJob)
            .where(ErpSyncJob.id == job.id)
            .values(claimed_until=None, next_attempt_at=now + BACKOFF_BASE, updated_at=now)
        )
        await session.commit()


async def _withdraw(db: Database, job: Claimed, now: datetime) -> None:
    """A push whose document was cancelled before it went out: never sent again. This claim sent
    nothing, so the job keeps only a lease a dead worker left, which says an earlier call may have."""
    async with db.system(write=True) as session:
        await session.execute(
            update(ErpSyncJob)
            .where(ErpSyncJob.id == job.id)
            .values(status="WITHDRAWN", claimed_until=job.stale_lease, next_attempt_at=None, updated_at=now)
        )
        await session.commit()


async def _record_success(
    db: Database, job: Claimed, now: datetime, external_ref: str, pull_every: timedelta
) -> None:
    async with db.system(write=True) as session:
        await session.execute(
            update(ErpSyncJob)
            .where(ErpSyncJob.id == job.id)
            .values(
                status="SYNCED",
                external_ref=external_ref[:120],
                synced_at=now,
                attempts=0,
                unavailable=False,
                last_error="",
                claimed_until=None,
                next_attempt_at=now + pull_every if job.kind == PULL_KIND else None,
                updated_at=now,
            )
        )
        await session.commit()


async def _record_failure(
    db: Database,
    job: Claimed,
    now: datetime,
    reason: str,
    *,
    unavailable: bool,
    pull_every: timedelta | None = None,
    give_up: bool = False,
) -> None:
    attempts = job.attempts + 1
    give_up = give_up or (not unavailable and job.kind in PUSH_KINDS and attempts >= MAX_ATTEMPTS)
    wait = backoff(attempts)
    if job.kind == PULL_KIND and pull_every is not None:
        # A pull that failed is tried again sooner than the schedule, never later.
        wait = min(wait, pull_every)
    async with db.system(write=True) as session:
        await session.execute(
            update(ErpSyncJob)
            .where(ErpSyncJob.id == job.id)
            .values(
                status="FAILED" if give_up else "PENDING",
                attempts=attempts,
                unavailable=unavailable,
                last_error=reason[:300],
                claimed_until=None,
                next_attempt_at=None if give_up else now + wait,
                updated_at=now,
            )
        )
        await session.commit()
    log.warning("ERP %s job %d attempt %d: %s", job.kind, job.id, attempts, reason)


async def _pull_parts(db: Database, adapter: ErpAdapter, tenant_id: int) -> None:
    """Bring the tenant's parts to the ERP's stock and prices, part by part through the parts ledger."""
    parts = await queries.parts_for_pull(db, tenant_id)
    if not parts:
        return
    # The ERP is asked first: if it cannot answer, nothing below runs and nothing changes.
    levels = {level.sku: level for level in await adapter.pull_parts([part.sku for part in parts])}
    actor = Actor.system(tenant_id, name=SYNC_REASON)
    for part in parts:
        level = levels.get(part.sku)
        if level is None:
            await _mark_part(db, tenant_id, part.id, part.sku, "not in the ERP")
            continue
        error = ""
        try:
            on_hand = level.on_hand.quantize(CENT, ROUND_HALF_UP)
            if on_hand != part.on_hand:
                async with db.uow(actor) as uow:
                    await take_erp_stock_level(uow, part.id, on_hand, SYNC_REASON)
            price, cost = level.price.quantize(CENT, ROUND_HALF_UP), level.cost.quantize(CENT, ROUND_HALF_UP)
            if price != part.price or cost != part.cost:
                changes = PartChanges(
                    name=part.name,
                    reorder_point=part.reorder_point,
                    cost=cost,
                    price=price,
                    unit=part.unit,
                    supplier=part.supplier,
                )
                async with db.uow(actor) as uow:
                    await update_part(uow, part.id, changes, part.version)
        except (RuleViolation, Conflict) as refused:
            error = str(refused)
        await _mark_part(db, tenant_id, part.id, part.sku, error)


async def _mark_part(db: Database, tenant_id: int, part_id: int, sku: str, error: str) -> None:
    now = utcnow()
    values: dict[str, Any] = {
        "status": "FAILED" if error else "SYNCED",
        "last_error": error[:300],
        "document_number": sku[:40],
        "next_attempt_at": None,
        "updated_at": now,
    }
    if not error:
        values["synced_at"] = now
    async with db.system(write=True) as session:
        insert = _insert(session)
        await session.execute(
            insert(ErpSyncJob)
            .values(
                tenant_id=tenant_id,
                kind="part",
                local_id=part_id,
                attempts=0,
                unavailable=False,
                external_ref="",
                created_at=now,
                **values,
            )
            .on_conflict_do_update(index_elements=["tenant_id", "kind", "local_id"], set_=values)
        )
        await session.commit()


async def sync_once(
    db: Database, adapter: ErpAdapter, now: datetime, *, grace_seconds: float, pull_every: timedelta
) -> int:
    """One pass of the worker: queue new documents, schedule pulls, run what is due."""
    await enqueue_from_events(db, now, grace_seconds=grace_seconds)
    await schedule_parts_pulls(db, now)
    return await run_due_jobs(db, adapter, now, pull_every=pull_every)
