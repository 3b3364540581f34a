"""Payment use cases: asking for a card payment, the provider's events, refunds, manual invoice payments
and the tenant's Stripe settings. The only code that changes payments.

The provider is never called inside a database transaction. Asking for a payment writes the row
(REQUESTING) and commits; `send_payment_request` then creates the PaymentIntent with the row's
idempotency key and records the answer in a second transaction. A refund is written PENDING by the
transaction that owes it (cancelling a deal, a payment that arrived for something already paid) and
sent the same way. While Stripe is unavailable the row stays pending with the reason and a next
attempt time, the worker retries it with the same key, and nothing is invented meanwhile.

A provider event is stored (unique per tenant and event id) in the same transaction as its effect, so
the same event delivered three times, also at the same moment, moves money state once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from integrations.payments import (
    PaymentProvider,
    PaymentRefused,
    WebhookSignatureError,
    create_payment_provider,
    from_minor_units,
    to_minor_units,
)
from integrations.resilience import ProviderUnavailable
from ops.auth.actor import Actor, Conflict, NotFound, RuleViolation
from ops.db import Database, UnitOfWork, utcnow
from ops.events import record
from ops.i18n import N_, format_money
from ops.i18n import gettext as _
from ops.notices import notice_payload, user_topic
from ops.payments.models import MANUAL_METHODS, OPEN_PAYMENT_STATUSES, Payment, PaymentRefund, ProviderEvent
from ops.sales.deals import service as deals  # a module import: the two services use each other
from ops.sales.models import Deal
from ops.tenants.models import Tenant
from ops.workshop.models import Invoice

log = logging.getLogger(__name__)

PROVIDER = "stripe"
MAX_REFERENCE = 120
MAX_MESSAGE = 300
MAX_REFUND_REASON = 200
# Retries of a request the provider did not answer: 30 s, 1, 2, 4 ... minutes, at most an hour apart.
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 3600
# How many pending requests and refunds one worker pass sends.
BATCH = 50
# What a stored provider event did; stored as the msgid and translated where it is shown.
APPLIED = N_("Applied")
APPLIED_DEAL_REFUND = N_("Applied: the deal no longer took a deposit, so the payment is refunded")
APPLIED_INVOICE_REFUND = N_("Applied: the invoice was paid another way, so the payment is refunded")
IGNORED_PAID = N_("Ignored: already paid")
IGNORED_UNKNOWN = N_("Ignored: no payment here has this PaymentIntent")
IGNORED_TYPE = N_("Ignored: an event type Pitwall does not use")


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS))


def method_label(method: str) -> str:
    return {
        "CARD": _("Card (Stripe)"),
        "CASH": _("Cash"),
        "BANK_TRANSFER": _("Bank transfer"),
        "MANUAL": _("Recorded by hand"),
    }.get(method, method)


# --- Topics and payloads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """What a payment pays for, as its events need it: topics, the person to tell, a name."""

    topics: list[str]
    person_id: int | None
    name: str
    ids: dict[str, int]


async def _subject(uow: UnitOfWork, payment: Payment) -> Subject:
    if payment.deal_id is not None:
        deal = (await uow.session.execute(select(Deal).where(Deal.id == payment.deal_id))).scalar_one()
        topics = [f"customer:{deal.customer_id}"]
        if deal.rep_id is not None:
            topics.append(user_topic(deal.rep_id))
        return Subject(topics, deal.rep_id, deal.code, {"deal_id": deal.id})
    assert payment.invoice_id is not None
    invoice = (
        await uow.session.execute(select(Invoice).where(Invoice.id == payment.invoice_id))
    ).scalar_one()
    return invoice_subject(invoice, payment.requested_by_id)


def invoice_topics(invoice: Invoice) -> list[str]:
    return [f"wo:{invoice.work_order_id}", f"invoice:{invoice.id}"]


def invoice_subject(invoice: Invoice, requested_by_id: int | None) -> Subject:
    """An invoice's card payment: its pages' topics and the notices of the person who asked for it."""
    topics = invoice_topics(invoice)
    if requested_by_id is not None:
        topics.append(user_topic(requested_by_id))
    return Subject(
        topics,
        requested_by_id,
        invoice.code,
        {"invoice_id": invoice.id, "work_order_id": invoice.work_order_id},
    )


def payment_payload(payment: Payment, subject: Subject, **extra: Any) -> dict[str, Any]:
    return {
        "payment_id": payment.id,
        "purpose": payment.purpose,
        **subject.ids,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "status": payment.status,
        "intent_id": payment.provider_intent_id,
        **extra,
    }


# --- Asking for a card payment ------------------------------------------------------------------------------


async def _stripe_ready(uow: UnitOfWork) -> Tenant:
    tenant = (await uow.session.execute(select(Tenant).where(Tenant.id == uow.actor.tenant_id))).scalar_one()
    if not tenant.stripe_secret_key:
        raise RuleViolation(
            _("Card payments are not set up: an admin adds the Stripe keys under Settings, Payments."),
            field="__all__",
        )
    return tenant


async def _open_payment(uow: UnitOfWork, **where: int) -> Payment | None:
    conditions = [getattr(Payment, name) == value for name, value in where.items()]
    return await uow.session.scalar(
        select(Payment).where(*conditions, Payment.status.in_(OPEN_PAYMENT_STATUSES)).limit(1)
    )


async def _new_payment(uow: UnitOfWork, payment: Payment) -> Payment:
    uow.session.add(payment)
    await uow.session.flush()
    subject = await _subject(uow, payment)
    record(uow, "payment.requested", payment_payload(payment, subject), subject.topics)
    await uow.commit()
    return payment


async def request_deal_deposit(uow: UnitOfWork, deal_id: int) -> Payment:
    """Ask the customer for the deal's deposit by card; the PaymentIntent is created after the commit."""
    query = select(Deal).where(Deal.id == deal_id).execution_options(populate_existing=True)
    if not uow.db.is_sqlite:
        # Two clicks at once ask once: the second waits for the first and finds its request.
        query = query.with_for_update()
    deal = (await uow.session.execute(query)).scalar_one_or_none()
    if deal is None:
        raise NotFound(deal_id)
    uow.actor.require("deal.edit")
    if deal.status != "OPEN":
        raise RuleViolation(_("Only an open deal waits for its deposit."), field="__all__")
    if await _open_payment(uow, deal_id=deal.id) is not None:
        raise RuleViolation(_("The customer has been asked for this deposit already."), field="__all__")
    tenant = await _stripe_ready(uow)
    return await _new_payment(
        uow,
        Payment(
            purpose="DEAL_DEPOSIT",
            deal_id=deal.id,
            amount=deal.deposit_due,
            currency=tenant.currency,
            status="REQUESTING",
            requested_by_id=uow.actor.user_id,
            created_at=utcnow(),
        ),
    )


async def _invoice(uow: UnitOfWork, invoice_id: int, *, lock: bool) -> Invoice:
    query = select(Invoice).where(Invoice.id == invoice_id).execution_options(populate_existing=True)
    if lock and not uow.db.is_sqlite:
        query = query.with_for_update()
    invoice = (await uow.session.execute(query)).scalar_one_or_none()
    if invoice is None:
        raise NotFound(invoice_id)
    uow.actor.require("invoice.pay")
    return invoice


def _already_paid(invoice: Invoice) -> Conflict:
    when = invoice.paid_at
    return Conflict(
        _(
            "%(invoice)s was paid already (%(method)s).",
            invoice=invoice.code,
            method=method_label(invoice.payment_method),
        )
        if when
        else _("%(invoice)s was paid already.", invoice=invoice.code)
    )


async def request_invoice_payment(uow: UnitOfWork, invoice_id: int) -> Payment:
    """Ask the customer to pay the invoice's total by card."""
    invoice = await _invoice(uow, invoice_id, lock=True)
    if invoice.payment_status != "ISSUED":
        raise _already_paid(invoice)
    if await _open_payment(uow, invoice_id=invoice.id) is not None:
        raise RuleViolation(_("The customer has been asked to pay this invoice already."), field="__all__")
    await _stripe_ready(uow)
    return await _new_payment(
        uow,
        Payment(
            purpose="INVOICE",
            invoice_id=invoice.id,
            amount=invoice.total,
            currency=invoice.currency,
            status="REQUESTING",
            requested_by_id=uow.actor.user_id,
            created_at=utcnow(),
        ),
    )


async def record_manual_invoice_payment(
    uow: UnitOfWork, invoice_id: int, method: str, reference: str
) -> Invoice:
    """The customer paid the invoice at the desk (cash) or by bank transfer; once, whoever is first."""
    invoice = await _invoice(uow, invoice_id, lock=False)
    if method not in MANUAL_METHODS:
        raise RuleViolation(_("Choose cash or bank transfer."), field="method")
    text = (reference or "").strip()
    if not text:
        raise RuleViolation(_("Enter the receipt or transfer reference."), field="reference")
    if len(text) > MAX_REFERENCE:
        raise RuleViolation(_("Use at most %(max)s characters.", max=MAX_REFERENCE), field="reference")
    if not await _mark_invoice_paid(uow, invoice, method, text):
        raise _already_paid(invoice)
    await uow.commit()
    return invoice


async def _mark_invoice_paid(uow: UnitOfWork, invoice: Invoice, method: str, reference: str) -> bool:
    """One conditional UPDATE: of a card payment and a desk payment at the same moment, one wins."""
    now = utcnow()
    won = (
        await uow.session.execute(
            update(Invoice)
            .where(Invoice.id == invoice.id, Invoice.payment_status == "ISSUED")
            .values(
                payment_status="PAID",
                paid_at=now,
                payment_method=method,
                payment_reference=reference,
                paid_by_id=uow.actor.user_id,
            )
            .returning(Invoice.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    await uow.session.refresh(invoice)
    if won is None:
        return False
    record(uow, "invoice.paid", invoice_paid_payload(invoice, method, reference), invoice_topics(invoice))
    return True


def invoice_paid_payload(invoice: Invoice, method: str, reference: str) -> dict[str, Any]:
    return {
        "invoice_id": invoice.id,
        "work_order_id": invoice.work_order_id,
        "number": invoice.code,
        "amount": str(invoice.total),
        "currency": invoice.currency,
        "method": method,
        "reference": reference,
    }


# --- Talking to the provider (after the commit, and from the worker) ---------------------------------------


async def provider_for(db: Database, api_base: str, tenant_id: int) -> PaymentProvider:
    async with db.system() as session:
        tenant = (await session.execute(select(Tenant).where(Tenant.id == tenant_id))).scalar_one()
    return create_payment_provider(api_base, tenant.stripe_secret_key, tenant.stripe_webhook_secret)


def intent_metadata(payment: Payment) -> dict[str, str]:
    """What the PaymentIntent carries, and Stripe's events about it bring back."""
    found = {"pitwall_payment_id": payment.id, "deal_id": payment.deal_id, "invoice_id": payment.invoice_id}
    return {key: str(value) for key, value in found.items() if value is not None}


async def send_payment_request(db: Database, api_base: str, tenant_id: int, payment_id: int) -> Payment:
    """Create the PaymentIntent of a REQUESTING payment, with the row's idempotency key."""
    async with db.read(tenant_id) as session:
        payment = (await session.execute(select(Payment).where(Payment.id == payment_id))).scalar_one()
    if payment.status != "REQUESTING":
        return payment
    provider = await provider_for(db, api_base, tenant_id)
    actor = Actor.system(tenant_id, name="Stripe")
    try:
        intent = await provider.create_payment_intent(
            to_minor_units(payment.amount, payment.currency),
            payment.currency,
            intent_metadata(payment),
            payment.idempotency_key,
        )
    except ProviderUnavailable as error:
        return await _note_unavailable(db, actor, Payment, payment_id, error)
    except PaymentRefused as refused:
        return await _note_refused(
            db, actor, Payment, payment_id, "REQUESTING", refused, _payment_failed_event
        )
    async with db.uow(actor) as uow:
        found = await _locked(uow, Payment, payment_id)
        if found.status == "REQUESTING":
            found.provider_intent_id = intent.id
            found.status = "SUCCEEDED" if intent.status == "succeeded" else "AWAITING_PAYMENT"
            found.last_error, found.next_attempt_at = "", None
            subject = await _subject(uow, found)
            record(uow, "payment.intent_created", payment_payload(found, subject), subject.topics)
        await uow.commit()
        return found


async def send_refund(db: Database, api_base: str, tenant_id: int, refund_id: int) -> PaymentRefund:
    """Ask the provider for a PENDING refund, with the refund row's idempotency key."""
    async with db.read(tenant_id) as session:
        refund = (
            await session.execute(select(PaymentRefund).where(PaymentRefund.id == refund_id))
        ).scalar_one()
        payment = (await session.execute(select(Payment).where(Payment.id == refund.payment_id))).scalar_one()
    if refund.status != "PENDING" or payment.provider_intent_id is None:
        return refund
    provider = await provider_for(db, api_base, tenant_id)
    actor = Actor.system(tenant_id, name="Stripe")
    try:
        answer = await provider.refund(
            payment.provider_intent_id,
            to_minor_units(refund.amount, payment.currency),
            refund.idempotency_key,
        )
    except ProviderUnavailable as error:
        return await _note_unavailable(db, actor, PaymentRefund, refund_id, error)
    except PaymentRefused as refused:
        refund_failed_event = partial(_refund_failed_event, payment=payment)
        return await _note_refused(
            db, actor, PaymentRefund, refund_id, "PENDING", refused, refund_failed_event
        )
    async with db.uow(actor) as uow:
        found = await _locked(uow, PaymentRefund, refund_id)
        if found.status == "PENDING":
            found.provider_refund_id = answer.id
            found.status = "SUCCEEDED" if answer.status == "succeeded" else "SUBMITTED"
            found.last_error, found.next_attempt_at = "", None
            found.completed_at = utcnow() if found.status == "SUCCEEDED" else None
            subject = await _subject(uow, payment)
            payload = payment_payload(payment, subject, refund_id=found.id, refund=str(found.amount))
            record(uow, "payment.refunded", payload, subject.topics)
        await uow.commit()
        return found


async def _locked(uow: UnitOfWork, model: type[Any], row_id: int) -> Any:
    query = select(model).where(model.id == row_id).execution_options(populate_existing=True)
    if not uow.db.is_sqlite:
        query = query.with_for_update()
    return (await uow.session.execute(query)).scalar_one()


async def _note_refused(
    db: Database,
    actor: Actor,
    model: type[Any],
    row_id: int,
    pending_status: str,
    refused: PaymentRefused,
    record_failure: Callable[[UnitOfWork, Any], Awaitable[None]],
) -> Any:
    """The provider said no: a row still waiting for that answer fails with the provider's reason."""
    async with db.uow(actor) as uow:
        found = await _locked(uow, model, row_id)
        if found.status == pending_status:
            found.status, found.failure_message, found.last_error = "FAILED", str(refused)[:MAX_MESSAGE], ""
            await record_failure(uow, found)
        await uow.commit()
        return found


async def _note_unavailable(
    db: Database, actor: Actor, model: type[Any], row_id: int, error: ProviderUnavailable
) -> Any:
    """The provider did not answer: keep the row pending, say why, and when the worker tries again."""
    async with db.uow(actor) as uow:
        found = await _locked(uow, model, row_id)
        found.attempts += 1
        found.last_error = _("Stripe unavailable (%(reason)s), will retry.", reason=error.reason)[
            :MAX_MESSAGE
        ]
        found.next_attempt_at = utcnow() + retry_delay(found.attempts)
        await uow.commit()
    log.warning("stripe unavailable for %s %s: %s", model.__tablename__, row_id, error.reason)
    return found


async def owe_deposit_refunds(uow: UnitOfWork, deal_id: int, reason: str) -> None:
    """Inside the cancelling transaction of a deal: a pending refund per card deposit still held. The
    provider is called after the commit (never inside this transaction), and the worker retries while it
    is unavailable."""
    paid = await uow.session.scalars(
        select(Payment).where(
            Payment.deal_id == deal_id, Payment.purpose == "DEAL_DEPOSIT", Payment.status == "SUCCEEDED"
        )
    )
    for payment in paid:
        owed = await uow.session.scalar(
            select(func.sum(PaymentRefund.amount)).where(
                PaymentRefund.payment_id == payment.id, PaymentRefund.status != "FAILED"
            )
        )
        remaining = payment.amount - Decimal(str(owed or 0))
        if remaining > 0:
            uow.session.add(
                PaymentRefund(
                    payment_id=payment.id,
                    amount=remaining,
                    reason=reason[:MAX_REFUND_REASON],
                    status="PENDING",
                    requested_by_id=uow.actor.user_id,
                    created_at=utcnow(),
                )
            )
    await uow.session.flush()


async def send_pending_refunds(db: Database, api_base: str, tenant_id: int, deal_id: int) -> None:
    """Right after a cancellation commits: send its refunds now instead of at the worker's next pass."""
    async with db.read(tenant_id) as session:
        refund_ids = list(
            await session.scalars(
                select(PaymentRefund.id)
                .join(Payment, Payment.id == PaymentRefund.payment_id)
                .where(Payment.deal_id == deal_id, PaymentRefund.status == "PENDING")
            )
        )
    for refund_id in refund_ids:
        await send_refund(db, api_base, tenant_id, refund_id)


async def send_due_provider_calls(db: Database, api_base: str, now: datetime) -> int:
    """The worker's pass over every tenant: PaymentIntents and refunds still owed to the provider.

    Two workers may pick the same row; the idempotency key makes the second call the same request,
    and the conditional writes record its answer once."""
    due_payments = (Payment.next_attempt_at.is_(None)) | (Payment.next_attempt_at <= now)
    due_refunds = (PaymentRefund.next_attempt_at.is_(None)) | (PaymentRefund.next_attempt_at <= now)
    async with db.system() as session:
        payments = list(
            await session.execute(
                select(Payment.tenant_id, Payment.id)
                .where(Payment.status == "REQUESTING", due_payments)
                .order_by(Payment.id)
                .limit(BATCH)
            )
        )
        refunds = list(
            await session.execute(
                select(PaymentRefund.tenant_id, PaymentRefund.id)
                .where(PaymentRefund.status == "PENDING", due_refunds)
                .order_by(PaymentRefund.id)
                .limit(BATCH)
            )
        )
    for tenant_id, payment_id in payments:
        await send_payment_request(db, api_base, tenant_id, payment_id)
    for tenant_id, refund_id in refunds:
        await send_refund(db, api_base, tenant_id, refund_id)
    return len(payments) + len(refunds)


# --- The provider's events -------------------------------------------------------------------------------


class WebhookRefused(Exception):
    """A webhook that is not taken: `status` is the HTTP answer (400 bad signature, 403 suspended ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    duplicate: bool
    outcome: str


async def receive_stripe_webhook(
    db: Database, api_base: str, tenant_slug: str, raw_body: bytes, signature_header: str, now: datetime
) -> WebhookResult:
    """Verify a Stripe webhook for one tenant on its raw body, store it once and apply it."""
    async with db.system() as session:
        tenant = await session.scalar(select(Tenant).where(Tenant.slug == tenant_slug))
    if tenant is None or not tenant.stripe_webhook_secret:
        raise WebhookRefused(404, "no such endpoint")
    if tenant.status != "ACTIVE":
        # Suspension blocks webhooks (DOMAIN.md); Stripe keeps retrying for days meanwhile.
        raise WebhookRefused(403, "this dealership is suspended")
    provider = create_payment_provider(api_base, tenant.stripe_secret_key, tenant.stripe_webhook_secret)
    try:
        event = provider.verify_webhook(raw_body, signature_header, now)
    except WebhookSignatureError as error:
        raise WebhookRefused(400, f"signature refused: {error}") from None
    return await apply_stripe_event(db, tenant.id, event, raw_body.decode("utf-8", "replace"))


async def apply_stripe_event(
    db: Database, tenant_id: int, event: dict[str, Any], raw_body: str
) -> WebhookResult:
    """Store the event and its effect in one transaction; a second copy finds it stored and does nothing."""
    event_id, event_type = str(event["id"])[:255], str(event["type"])[:80]
    async with db.uow(Actor.system(tenant_id, name="Stripe")) as uow:
        stored = ProviderEvent(
            provider=PROVIDER, event_id=event_id, type=event_type, raw_body=raw_body, received_at=utcnow()
        )
        try:
            async with uow.session.begin_nested():
                uow.session.add(stored)
        except IntegrityError:
            return WebhookResult(event_id, True, "duplicate")
        obj = (event.get("data") or {}).get("object") or {}
        handler = _HANDLERS.get(event_type)
        outcome = await handler(uow, obj) if handler is not None else IGNORED_TYPE
        stored.outcome = outcome[:MAX_MESSAGE]
        await uow.commit()
    return WebhookResult(event_id, False, outcome)


async def _payment_of_intent(uow: UnitOfWork, intent_id: Any) -> Payment | None:
    if not isinstance(intent_id, str) or not intent_id:
        return None
    query = select(Payment).where(Payment.provider_intent_id == intent_id)
    if not uow.db.is_sqlite:
        query = query.with_for_update()
    return (await uow.session.execute(query)).scalar_one_or_none()


async def _owe_refund(uow: UnitOfWork, payment: Payment, reason: str) -> None:
    uow.session.add(
        PaymentRefund(
            payment_id=payment.id, amount=payment.amount, reason=reason[:MAX_REFUND_REASON], status="PENDING"
        )
    )
    await uow.session.flush()


async def _on_intent_succeeded(uow: UnitOfWork, obj: dict[str, Any]) -> str:
    payment = await _payment_of_intent(uow, obj.get("id"))
    if payment is None:
        return IGNORED_UNKNOWN
    now = utcnow()
    # A conditional UPDATE: two different events reporting the same success count once.
    won = (
        await uow.session.execute(
            update(Payment)
            .where(Payment.id == payment.id, Payment.status != "SUCCEEDED")
            .values(status="SUCCEEDED", paid_at=now, failure_message="", last_error="")
            .returning(Payment.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if won is None:
        return IGNORED_PAID
    await uow.session.refresh(payment)
    subject = await _subject(uow, payment)
    intent_id = str(obj["id"])
    outcome = APPLIED
    if payment.deal_id is not None:
        if await deals.take_card_deposit(uow, payment.deal_id, payment.amount, intent_id) is None:
            await _owe_refund(uow, payment, _("The deal no longer waited for this deposit."))
            outcome = APPLIED_DEAL_REFUND
    else:
        invoice = (
            await uow.session.execute(select(Invoice).where(Invoice.id == payment.invoice_id))
        ).scalar_one()
        if not await _mark_invoice_paid(uow, invoice, "CARD", intent_id):
            await _owe_refund(uow, payment, _("The invoice was paid another way already."))
            outcome = APPLIED_INVOICE_REFUND
    record(uow, "payment.succeeded", payment_succeeded_payload(payment, subject), subject.topics)
    return outcome


def payment_succeeded_payload(payment: Payment, subject: Subject) -> dict[str, Any]:
    """The success, with a notice for the person who asked for the payment."""
    payload = payment_payload(payment, subject)
    if subject.person_id is not None:
        payload |= notice_payload(
            N_("%(subject)s: %(amount)s paid by card."),
            "success",
            subject=subject.name,
            amount=format_money(payment.amount, payment.currency),
        )
    return payload


async def _payment_failed_event(uow: UnitOfWork, payment: Payment) -> None:
    subject = await _subject(uow, payment)
    payload = payment_payload(payment, subject, message=payment.failure_message)
    if subject.person_id is not None:
        payload |= notice_payload(
            N_("%(subject)s: the card payment failed: %(reason)s"),
            "error",
            subject=subject.name,
            reason=payment.failure_message,
        )
    record(uow, "payment.failed", payload, subject.topics)


async def _refund_failed_event(uow: UnitOfWork, refund: PaymentRefund, payment: Payment) -> None:
    subject = await _subject(uow, payment)
    payload = payment_payload(payment, subject, refund_id=refund.id, refund=str(refund.amount))
    if subject.person_id is not None:
        payload |= notice_payload(
            N_("The refund on %(subject)s failed: %(reason)s"),
            "error",
            subject=subject.name,
            reason=refund.failure_message,
        )
    record(uow, "payment.refund_failed", payload, subject.topics)


async def _on_intent_failed(uow: UnitOfWork, obj: dict[str, Any]) -> str:
    payment = await _payment_of_intent(uow, obj.get("id"))
    if payment is None:
        return IGNORED_UNKNOWN
    if payment.status == "SUCCEEDED":
        return IGNORED_PAID
    error = obj.get("last_payment_error") or {}
    payment.status = "FAILED"
    payment.failure_message = str(error.get("message") or _("The card payment failed."))[:MAX_MESSAGE]
    await uow.session.flush()
    await _payment_failed_event(uow, payment)
    return APPLIED


async def _on_charge_refunded(uow: UnitOfWork, obj: dict[str, Any]) -> str:
    payment = await _payment_of_intent(uow, obj.get("payment_intent"))
    if payment is None:
        return IGNORED_UNKNOWN
    refunded = from_minor_units(int(obj.get("amount_refunded") or 0), payment.currency)
    refunds = list(
        await uow.session.scalars(
            select(PaymentRefund).where(
                PaymentRefund.payment_id == payment.id, PaymentRefund.status.in_(("SUBMITTED", "SUCCEEDED"))
            )
        )
    )
    now = utcnow()
    for refund in refunds:
        if refund.status == "SUBMITTED":
            refund.status, refund.completed_at = "SUCCEEDED", now
    known = sum((refund.amount for refund in refunds), Decimal(0))
    subject = await _subject(uow, payment)
    if refunded > known:
        # Refunded in Stripe's dashboard: our books follow what the provider did.
        extra = refunded - known
        refund = PaymentRefund(
            payment_id=payment.id,
            amount=extra,
            reason=_("Refunded in Stripe"),
            status="SUCCEEDED",
            created_at=now,
            completed_at=now,
        )
        uow.session.add(refund)
        await uow.session.flush()
        if payment.deal_id is not None:
            await deals.record_card_refund(
                uow, payment.deal_id, extra, str(obj.get("id") or payment.provider_intent_id)
            )
        record(
            uow,
            "payment.refunded",
            payment_payload(payment, subject, refund_id=refund.id, refund=str(extra)),
            subject.topics,
        )
    else:
        await uow.session.flush()
        record(
            uow,
            "payment.refund_confirmed",
            payment_payload(payment, subject, refund=str(refunded)),
            subject.topics,
        )
    return APPLIED


_HANDLERS = {
    "payment_intent.succeeded": _on_intent_succeeded,
    "payment_intent.payment_failed": _on_intent_failed,
    "charge.refunded": _on_charge_refunded,
}


# --- Settings ---------------------------------------------------------------------------------------------


async def save_stripe_settings(uow: UnitOfWork, secret_key: str, webhook_secret: str) -> Tenant:
    """An admin sets the Stripe keys; an empty field keeps what is stored (it is shown masked)."""
    uow.actor.require("integration.manage")
    tenant = (await uow.session.execute(select(Tenant).where(Tenant.id == uow.actor.tenant_id))).scalar_one()
    key, secret = (secret_key or "").strip(), (webhook_secret or "").strip()
    if key and not key.startswith(("sk_", "rk_")):
        raise RuleViolation(
            _("A Stripe secret key starts with sk_ (or rk_ for a restricted key)."), field="secret_key"
        )
    if secret and not secret.startswith("whsec_"):
        raise RuleViolation(_("A webhook signing secret starts with whsec_."), field="webhook_secret")
    for value, name in ((key, "secret_key"), (secret, "webhook_secret")):
        if len(value) > 255 or any(character.isspace() for character in value):
            raise RuleViolation(_("Paste the value exactly as Stripe shows it."), field=name)
    if not key and not secret:
        raise RuleViolation(_("Enter a new secret key or signing secret."), field="secret_key")
    changed = []
    if key:
        tenant.stripe_secret_key = key
        changed.append("secret_key")
    if secret:
        tenant.stripe_webhook_secret = secret
        changed.append("webhook_secret")
    await uow.session.flush()
    # The audit trail names what changed, never the secrets themselves.
    record(uow, "payment.settings_changed", {"changed": changed}, [])
    await uow.commit()
    return tenant
