"""Read models of the ERP sync: the documents pushed, the status line a page shows, the parts a pull
compares, and the integrations overview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.erp import (
    ERP_BREAKER,
    DocLine,
    ErpDocument,
    PartnerDoc,
    PurchaseRequestCancellationDoc,
    PurchaseRequestDoc,
)
from integrations.resilience import CLOSED, HALF_OPEN, OPEN, all_breakers
from ops.auth.actor import NotFound
from ops.customers.models import Customer
from ops.db import Database
from ops.erp.models import PUSH_KINDS, ErpSyncJob
from ops.i18n import format_datetime, ngettext
from ops.i18n import gettext as _
from ops.mail.models import OutgoingMail
from ops.payments.queries import stripe_configured
from ops.sales.models import CatalogTrim, Deal, Quote, StockUnit
from ops.tenants.models import Tenant
from ops.webhooks.queries import endpoint_rows
from ops.workshop.models import (
    Invoice,
    Part,
    PurchaseRequest,
    format_invoice_number,
    format_purchase_request_number,
)

# What each page calls its document, and the job kind that syncs it.
PAGE_KINDS = {
    "deal": "sales_order",
    "invoice": "invoice",
    "part": "part",
    "purchase_request": "purchase_request",
}


async def _tenant(session: AsyncSession, tenant_id: int) -> Tenant:
    return (await session.execute(select(Tenant).where(Tenant.id == tenant_id))).scalar_one()


def _partner(tenant: Tenant, customer: Customer | None) -> PartnerDoc:
    if customer is None:
        # A counter sale without a customer on file: one cash-sale partner per dealership.
        return PartnerDoc(reference=f"{tenant.slug}/cash", name="Cash sale")
    person = f"{customer.first_name} {customer.last_name}".strip()
    return PartnerDoc(
        reference=f"{tenant.slug}/C-{customer.id:06d}",
        name=customer.company_name or person,
        email=customer.email or "",
        phone=customer.phone or "",
        street=customer.address_line or "",
        postal_code=customer.postal_code or "",
        city=customer.city or "",
        country=customer.country or "",
        vat=customer.uid or "",
        is_company=bool(customer.company_name),
    )


def _local_date(value: datetime, tenant: Tenant) -> str:
    return value.astimezone(ZoneInfo(tenant.timezone)).date().isoformat()


async def sales_order_document(db: Database, tenant_id: int, deal_id: int) -> ErpDocument:
    """The sales order of a deal: the car at the quote's net price, with the quote's VAT and total."""
    async with db.read(tenant_id) as session:
        deal = (await session.execute(select(Deal).where(Deal.id == deal_id))).scalar_one_or_none()
        if deal is None:
            raise NotFound(deal_id)
        tenant = await _tenant(session, tenant_id)
        quote = (await session.execute(select(Quote).where(Quote.id == deal.quote_id))).scalar_one()
        customer = await session.scalar(select(Customer).where(Customer.id == deal.customer_id))
        description, sku = deal.code, ""
        if deal.stock_unit_id is not None:
            unit = (
                await session.execute(
                    select(
                        StockUnit.vin, CatalogTrim.make, CatalogTrim.model, CatalogTrim.trim, CatalogTrim.year
                    )
                    .join(CatalogTrim, CatalogTrim.id == StockUnit.trim_id)
                    .where(StockUnit.id == deal.stock_unit_id)
                )
            ).one()
            description = f"{unit.make} {unit.model} {unit.trim} ({unit.year}), VIN {unit.vin}"
            sku = unit.vin
    return ErpDocument(
        kind="sales_order",
        id=f"pitwall-{tenant.slug}-deal-{deal.id}",
        reference=f"{tenant.slug}/{deal.code}",
        number=deal.code,
        date=_local_date(deal.created_at, tenant),
        currency=tenant.currency,
        customer=_partner(tenant, customer),
        lines=[DocLine(description=description, quantity="1", unit_price=str(quote.net), sku=sku)],
        net=str(quote.net),
        vat=str(quote.vat),
        total=str(deal.total),
    )


async def invoice_document(db: Database, tenant_id: int, invoice_id: int) -> ErpDocument:
    """The invoice as issued: its line snapshot, net, VAT and total."""
    async with db.read(tenant_id) as session:
        invoice = (
            await session.execute(select(Invoice).where(Invoice.id == invoice_id))
        ).scalar_one_or_none()
        if invoice is None:
            raise NotFound(invoice_id)
        tenant = await _tenant(session, tenant_id)
        customer = None
        if invoice.customer_id is not None:
            customer = await session.scalar(select(Customer).where(Customer.id == invoice.customer_id))
    number = format_invoice_number(invoice.number)
    lines = [
        DocLine(
            description=str(line.get("description", "")),
            quantity=str(line.get("quantity", "1")),
            unit_price=str(line.get("unit_price", "0")),
        )
        for line in invoice.lines
    ]
    return ErpDocument(
        kind="invoice",
        id=f"pitwall-{tenant.slug}-invoice-{invoice.id}",
        reference=f"{tenant.slug}/{number}",
        number=number,
        date=_local_date(invoice.issued_at, tenant),
        currency=invoice.currency,
        customer=_partner(tenant, customer),
        lines=lines,
        net=str(invoice.net),
        vat=str(invoice.vat),
        total=str(invoice.total),
    )


def _supplier(tenant: Tenant, name: str | None) -> PartnerDoc:
    if not name:
        # A part with no supplier on file: purchasing picks one in the ERP, as for a counter sale.
        return PartnerDoc(reference=f"{tenant.slug}/supplier-to-choose", name="Supplier to be chosen")
    return PartnerDoc(reference=f"{tenant.slug}/supplier/{name}", name=name, is_company=True)


class Withdrawn(Exception):
    """The document was cancelled before it was sent: it must not reach the ERP any more."""


async def purchase_request_document(db: Database, tenant_id: int, request_id: int) -> PurchaseRequestDoc:
    """A part's reorder: the part by its SKU, the quantity asked for, the last known cost. A cancelled
    request raises Withdrawn."""
    async with db.read(tenant_id) as session:
        row = (
            await session.execute(
                select(PurchaseRequest, Part)
                .join(Part, Part.id == PurchaseRequest.part_id)
                .where(PurchaseRequest.id == request_id)
            )
        ).one_or_none()
        if row is None:
            raise NotFound(request_id)
        request, part = row
        if request.status == "CANCELLED":
            raise Withdrawn(request_id)
        tenant = await _tenant(session, tenant_id)
    number = format_purchase_request_number(request.number)
    return PurchaseRequestDoc(
        kind="purchase_request",
        id=f"pitwall-{tenant.slug}-purchase-request-{request.id}",
        reference=f"{tenant.slug}/{number}",
        number=number,
        date=_local_date(request.requested_at, tenant),
        currency=tenant.currency,
        supplier=_supplier(tenant, part.supplier),
        lines=[
            DocLine(
                description=part.name, quantity=str(request.quantity), unit_price=str(part.cost), sku=part.sku
            )
        ],
    )


async def purchase_request_cancellation_document(
    db: Database, tenant_id: int, request_id: int, erp_ref: str
) -> PurchaseRequestCancellationDoc:
    """A cancelled reorder: the request's reference as pushed, the ERP's name for its order, and why."""
    async with db.read(tenant_id) as session:
        request = await session.scalar(select(PurchaseRequest).where(PurchaseRequest.id == request_id))
        if request is None or request.cancelled_at is None:
            raise NotFound(request_id)
        tenant = await _tenant(session, tenant_id)
    number = format_purchase_request_number(request.number)
    return PurchaseRequestCancellationDoc(
        kind="purchase_request_cancellation",
        id=f"pitwall-{tenant.slug}-purchase-request-{request.id}-cancellation",
        reference=f"{tenant.slug}/{number}",
        number=number,
        date=_local_date(request.cancelled_at, tenant),
        reason=request.cancel_reason or "",
        erp_ref=erp_ref,
    )


@dataclass(frozen=True)
class PartForPull:
    id: int
    sku: str
    name: str
    unit: str
    supplier: str | None
    reorder_point: Decimal
    on_hand: Decimal
    price: Decimal
    cost: Decimal
    version: int


async def parts_for_pull(db: Database, tenant_id: int) -> list[PartForPull]:
    async with db.read(tenant_id) as session:
        rows = (await session.execute(select(Part).order_by(Part.id))).scalars().all()
    return [
        PartForPull(
            p.id, p.sku, p.name, p.unit, p.supplier, p.reorder_point, p.on_hand, p.price, p.cost, p.version
        )
        for p in rows
    ]


@dataclass(frozen=True)
class SyncStatus:
    """One line on a page: what the ERP knows of this document."""

    state: str  # waiting | synced | retrying | unavailable | failed
    text: str
    external_ref: str = ""


def may_have_reached_erp(status: str, attempts: int, claimed_until: datetime | None) -> bool:
    """Could the ERP hold a push's document? Once it synced; once an attempt failed (a create may have
    gone through before its answer was lost); or when a call was started and its outcome never recorded
    (the lease a worker that died left behind)."""
    return status == "SYNCED" or attempts > 0 or claimed_until is not None


def _describe_cancellation(push: ErpSyncJob | None, cancellation: ErpSyncJob | None) -> SyncStatus:
    """The status line of a cancelled purchase request: what the ERP knows of the cancellation."""
    never_sent = SyncStatus("synced", _("Cancelled before it reached the ERP; nothing to cancel there."))
    if cancellation is None or (cancellation.status == "PENDING" and cancellation.attempts == 0):
        if push is None or not may_have_reached_erp(push.status, push.attempts, push.claimed_until):
            return never_sent
        return SyncStatus("waiting", _("The cancellation is waiting to be sent to the ERP."))
    if cancellation.status == "SYNCED":
        if not cancellation.external_ref:
            return never_sent
        return SyncStatus(
            "synced",
            _(
                "Cancelled in the ERP %(when)s (%(ref)s).",
                when=format_datetime(cancellation.synced_at),
                ref=cancellation.external_ref,
            ),
            cancellation.external_ref,
        )
    return _describe(cancellation)


def _describe(job: ErpSyncJob, pull: ErpSyncJob | None = None) -> SyncStatus:
    when = format_datetime(job.synced_at)
    retry_at = format_datetime(job.next_attempt_at)
    if job.kind == "part":
        if pull is not None and pull.status == "PENDING" and pull.unavailable:
            return SyncStatus(
                "unavailable",
                _(
                    "ERP unavailable, will retry at %(time)s; stock last synced %(when)s.",
                    time=format_datetime(pull.next_attempt_at),
                    when=when or "—",
                ),
            )
        if job.status == "SYNCED":
            return SyncStatus("synced", _("Stock and prices synced from the ERP %(when)s.", when=when))
        return SyncStatus("failed", _("Not synced from the ERP: %(reason)s", reason=job.last_error))
    if job.status == "SYNCED":
        return SyncStatus(
            "synced",
            _("Synced to the ERP %(when)s (%(ref)s).", when=when, ref=job.external_ref),
            job.external_ref,
        )
    if job.status == "FAILED":
        return SyncStatus(
            "failed",
            _(
                "Failed: %(reason)s. Not retried any more; an administrator can send it again.",
                reason=job.last_error,
            ),
        )
    if job.attempts == 0:
        return SyncStatus("waiting", _("Waiting to be sent to the ERP."))
    if job.unavailable:
        return SyncStatus("unavailable", _("ERP unavailable, will retry at %(time)s.", time=retry_at))
    return SyncStatus(
        "retrying", _("Failed: %(reason)s, retrying at %(time)s.", reason=job.last_error, time=retry_at)
    )


async def sync_status_for(session: AsyncSession, kind: str, local_id: int) -> SyncStatus | None:
    """The status line of a deal, invoice, part or purchase request (`kind` as the page names it);
    None: never synced."""
    job_kind = PAGE_KINDS.get(kind)
    if job_kind is None:
        raise ValueError(f"no ERP sync for {kind!r}")
    if job_kind == "purchase_request":
        return await _purchase_request_status(session, local_id)
    job = (
        await session.execute(
            select(ErpSyncJob).where(ErpSyncJob.kind == job_kind, ErpSyncJob.local_id == local_id)
        )
    ).scalar_one_or_none()
    if job is None:
        return None
    pull = None
    if job_kind == "part":
        pull = (
            await session.execute(
                select(ErpSyncJob).where(ErpSyncJob.kind == "parts_pull", ErpSyncJob.local_id == 0)
            )
        ).scalar_one_or_none()
    return _describe(job, pull)


async def _purchase_request_status(session: AsyncSession, request_id: int) -> SyncStatus | None:
    """A request's push, or once it is cancelled, its cancellation."""
    jobs = {
        job.kind: job
        for job in (
            await session.scalars(
                select(ErpSyncJob).where(
                    ErpSyncJob.kind.in_(("purchase_request", "pr_cancellation")),
                    ErpSyncJob.local_id == request_id,
                )
            )
        ).all()
    }
    status = await session.scalar(select(PurchaseRequest.status).where(PurchaseRequest.id == request_id))
    if status == "CANCELLED":
        return _describe_cancellation(jobs.get("purchase_request"), jobs.get("pr_cancellation"))
    push = jobs.get("purchase_request")
    return None if push is None else _describe(push)


@dataclass(frozen=True)
class ErpSummary:
    pending: int
    failed: int
    unavailable: int
    last_success_at: datetime | None
    last_error: str
    last_error_at: datetime | None
    next_pull_at: datetime | None


async def erp_summary(session: AsyncSession) -> ErpSummary:
    """The tenant's sync queue: how many pushes wait, how many failed, and the latest outcomes."""
    counts = dict(
        (
            await session.execute(
                select(ErpSyncJob.status, func.count())
                .where(ErpSyncJob.kind.in_(PUSH_KINDS))
                .group_by(ErpSyncJob.status)
            )
        ).all()
    )
    unavailable = await session.scalar(
        select(func.count()).where(ErpSyncJob.status == "PENDING", ErpSyncJob.unavailable.is_(True))
    )
    last_success = await session.scalar(
        select(func.max(ErpSyncJob.synced_at)).where(ErpSyncJob.kind.in_((*PUSH_KINDS, "parts_pull")))
    )
    errored = (
        await session.execute(
            select(ErpSyncJob.last_error, ErpSyncJob.updated_at)
            .where(ErpSyncJob.last_error != "", ErpSyncJob.kind != "part")
            .order_by(ErpSyncJob.updated_at.desc())
            .limit(1)
        )
    ).one_or_none()
    next_pull = await session.scalar(
        select(ErpSyncJob.next_attempt_at).where(ErpSyncJob.kind == "parts_pull", ErpSyncJob.local_id == 0)
    )
    return ErpSummary(
        pending=int(counts.get("PENDING", 0)),
        failed=int(counts.get("FAILED", 0)),
        unavailable=int(unavailable or 0),
        last_success_at=last_success,
        last_error=errored.last_error if errored else "",
        last_error_at=errored.updated_at if errored else None,
        next_pull_at=next_pull,
    )


@dataclass(frozen=True)
class FailedPush:
    id: int
    kind: str
    number: str
    status: SyncStatus


async def pushes_needing_attention(session: AsyncSession, limit: int = 50) -> list[FailedPush]:
    """Pushes that failed for good or keep failing, newest first, for the integrations page."""
    rows = (
        await session.execute(
            select(ErpSyncJob)
            .where(
                ErpSyncJob.kind.in_(PUSH_KINDS),
                # Not a withdrawn push: its document was cancelled and needs nothing more.
                ErpSyncJob.status.in_(("PENDING", "FAILED")),
                ErpSyncJob.attempts > 0,
            )
            .order_by(ErpSyncJob.updated_at.desc())
            .limit(limit)
        )
    ).scalars()
    return [FailedPush(row.id, row.kind, row.document_number, _describe(row)) for row in rows]


@dataclass(frozen=True)
class ProviderState:
    """One row of the integrations page."""

    key: str
    name: str
    state: str  # closed | open | half_open | unavailable | working | idle | not_configured
    state_label: str
    last_success_at: datetime | None = None
    last_error: str = ""
    last_error_at: datetime | None = None
    queue_depth: int | None = None
    queue_text: str = ""
    detail: str = ""


def breaker_label(state: str) -> str:
    labels = {
        "closed": _("Working (circuit closed)"),
        "open": _("Unavailable (circuit open), will retry"),
        "half_open": _("Trying again (circuit half-open)"),
        "unavailable": _("Unavailable, will retry"),
        "working": _("Working"),
        "idle": _("Configured, no calls yet"),
        "not_configured": _("Not configured"),
    }
    return labels.get(state, state)


def _breaker_state(name: str) -> tuple[str | None, datetime | None, str, datetime | None]:
    """The worst state among this process's breakers called `name` (or `name*` for a prefix such as
    `webhooks:`), with their latest success and failure; None when this process has none."""
    circuits = [
        circuit
        for key, circuit in all_breakers().items()
        if key == name or (name.endswith(":") and key.startswith(name))
    ]
    if not circuits:
        return None, None, "", None
    order = {OPEN: 0, HALF_OPEN: 1, CLOSED: 2}
    state = min((circuit.state for circuit in circuits), key=order.__getitem__)
    successes = [circuit.last_success_at for circuit in circuits if circuit.last_success_at]
    failures = [
        (circuit.last_failure_at, circuit.last_error) for circuit in circuits if circuit.last_failure_at
    ]
    failed_at, error = max(failures) if failures else (None, "")
    return state, max(successes) if successes else None, error, failed_at


async def erp_state(session: AsyncSession, erp: str | None) -> ProviderState:
    names = {"odoo": "Odoo", "generic": _("ERP (signed JSON)")}
    if erp is None:
        return ProviderState("erp", _("ERP"), "not_configured", breaker_label("not_configured"))
    summary = await erp_summary(session)
    # The pushes run in the worker; in a separate worker process this process has no breaker of its
    # own, so the jobs' last outcomes tell the state.
    state, _success, error, error_at = _breaker_state(ERP_BREAKER)
    last_error, last_error_at = summary.last_error, summary.last_error_at
    if error_at is not None and (last_error_at is None or error_at > last_error_at):
        # This process saw a newer failure than any job records (a pull or push still retrying).
        last_error, last_error_at = error, error_at
    if state is None:
        state = "unavailable" if summary.unavailable else ("working" if summary.last_success_at else "idle")
    detail = ""
    if summary.failed:
        detail = _("%(count)s push(es) failed for good; send them again below.", count=summary.failed)
    return ProviderState(
        "erp",
        names.get(erp, erp),
        state,
        breaker_label(state),
        last_success_at=summary.last_success_at,
        last_error=last_error,
        last_error_at=last_error_at,
        queue_depth=summary.pending,
        queue_text=ngettext("%(num)s document waiting", "%(num)s documents waiting", summary.pending),
        detail=detail,
    )


async def payments_state(session: AsyncSession, tenant_id: int) -> ProviderState:
    if not await stripe_configured(session, tenant_id):
        return ProviderState("payments", "Stripe", "not_configured", breaker_label("not_configured"))
    state, success, error, error_at = _breaker_state("stripe")
    if state is None:
        return ProviderState(
            "payments", "Stripe", "idle", _("No calls to Stripe from this server process yet")
        )
    return ProviderState("payments", "Stripe", state, breaker_label(state), success, error, error_at)


async def webhooks_state(session: AsyncSession) -> ProviderState:
    rows = await endpoint_rows(session)
    if not rows:
        return ProviderState(
            "webhooks", _("Outbound webhooks"), "not_configured", _("No endpoints subscribed")
        )
    pending = sum(row.pending for row in rows)
    successes = [row.last_attempt_at for row in rows if row.last_succeeded and row.last_attempt_at]
    failing = [row for row in rows if row.last_succeeded is False or not row.endpoint.enabled]
    state, _success, _error, _error_at = _breaker_state("webhooks:")
    if state is None:
        state = "unavailable" if failing else ("working" if successes else "idle")
    last_error = ""
    if failing:
        endpoint = failing[0].endpoint
        last_error = f"{endpoint.url}: {endpoint.disabled_reason or _('the last delivery failed')}"
    return ProviderState(
        "webhooks",
        _("Outbound webhooks"),
        state,
        breaker_label(state),
        last_success_at=max(successes) if successes else None,
        last_error=last_error,
        last_error_at=failing[0].last_attempt_at if failing else None,
        queue_depth=pending,
        queue_text=ngettext("%(num)s delivery waiting", "%(num)s deliveries waiting", pending),
    )


async def mail_state(session: AsyncSession, smtp_configured: bool) -> ProviderState:
    queued = await session.scalar(
        select(func.count()).select_from(OutgoingMail).where(OutgoingMail.status == "QUEUED")
    )
    last_sent = await session.scalar(select(func.max(OutgoingMail.sent_at)))
    errored = (
        await session.execute(
            select(OutgoingMail.last_error, OutgoingMail.next_attempt_at)
            .where(OutgoingMail.status != "SENT", OutgoingMail.last_error.is_not(None))
            .order_by(OutgoingMail.id.desc())
            .limit(1)
        )
    ).one_or_none()
    state = "unavailable" if errored and queued else ("working" if last_sent else "idle")
    return ProviderState(
        "mail",
        _("Mail (SMTP)") if smtp_configured else _("Mail (written to files, no SMTP configured)"),
        state,
        breaker_label(state),
        last_success_at=last_sent,
        last_error=errored.last_error or "" if errored else "",
        queue_depth=int(queued or 0),
        queue_text=ngettext("%(num)s mail waiting", "%(num)s mails waiting", int(queued or 0)),
    )


async def integrations_overview(
    session: AsyncSession, tenant_id: int, *, erp: str | None, smtp_configured: bool
) -> list[ProviderState]:
    return [
        await erp_state(session, erp),
        await payments_state(session, tenant_id),
        await webhooks_state(session),
        await mail_state(session, smtp_configured),
    ]


async def document_exists(session: AsyncSession, kind: str, local_id: int) -> bool:
    """Is this deal, invoice, part or purchase request one of the tenant's? (Another tenant's id
    answers 404.)"""
    column = {
        "deal": Deal.id,
        "invoice": Invoice.id,
        "part": Part.id,
        "purchase_request": PurchaseRequest.id,
    }[kind]
    return await session.scalar(select(column).where(column == local_id)) is not None
