"""Read models for payments: a deal's or an invoice's card payments with their refunds and what the
page says about each, and the tenant's Stripe settings as the settings page shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.auth.models import User
from ops.i18n import format_money
from ops.i18n import gettext as _
from ops.payments.models import OPEN_PAYMENT_STATUSES, Payment, PaymentRefund, ProviderEvent
from ops.tenants.models import Tenant
from ops.workshop.models import Invoice

RECENT_EVENTS = 20


@dataclass(frozen=True)
class RefundView:
    id: int
    amount: Decimal
    status: str
    failure_message: str
    last_error: str
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class PaymentView:
    id: int
    purpose: str
    amount: Decimal
    currency: str
    status: str
    intent_id: str | None
    failure_message: str
    last_error: str
    created_at: datetime
    paid_at: datetime | None
    refunds: list[RefundView]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_PAYMENT_STATUSES


def payment_status_text(payment: PaymentView) -> str:
    """What the desk reads: "awaiting payment", "paid", "failed: card declined", "will retry"."""
    if payment.status == "REQUESTING":
        return payment.last_error or _("Sending the request to Stripe…")
    if payment.status == "AWAITING_PAYMENT":
        return _("Awaiting payment")
    if payment.status == "SUCCEEDED":
        return _("Paid")
    return _("Failed: %(reason)s", reason=payment.failure_message or _("no reason given"))


def refund_status_text(refund: RefundView, currency: str) -> str:
    amount = format_money(refund.amount, currency)
    if refund.status == "PENDING":
        if refund.last_error:
            return _("Refund of %(amount)s pending: %(reason)s", amount=amount, reason=refund.last_error)
        return _("Refund of %(amount)s being sent to Stripe", amount=amount)
    if refund.status == "SUBMITTED":
        return _("Refund of %(amount)s sent to Stripe", amount=amount)
    if refund.status == "SUCCEEDED":
        return _("Refunded %(amount)s", amount=amount)
    return _("Refund of %(amount)s failed: %(reason)s", amount=amount, reason=refund.failure_message)


async def _payments(session: AsyncSession, *conditions: ColumnElement[bool]) -> list[PaymentView]:
    payments = list(await session.scalars(select(Payment).where(*conditions).order_by(Payment.id)))
    if not payments:
        return []
    refunds: dict[int, list[RefundView]] = {}
    for refund in await session.scalars(
        select(PaymentRefund)
        .where(PaymentRefund.payment_id.in_([payment.id for payment in payments]))
        .order_by(PaymentRefund.id)
    ):
        refunds.setdefault(refund.payment_id, []).append(
            RefundView(
                refund.id,
                refund.amount,
                refund.status,
                refund.failure_message,
                refund.last_error,
                refund.created_at,
                refund.completed_at,
            )
        )
    return [
        PaymentView(
            id=payment.id,
            purpose=payment.purpose,
            amount=payment.amount,
            currency=payment.currency,
            status=payment.status,
            intent_id=payment.provider_intent_id,
            failure_message=payment.failure_message,
            last_error=payment.last_error,
            created_at=payment.created_at,
            paid_at=payment.paid_at,
            refunds=refunds.get(payment.id, []),
        )
        for payment in payments
    ]


async def deal_payments(session: AsyncSession, deal_id: int) -> list[PaymentView]:
    return await _payments(session, Payment.deal_id == deal_id)


async def invoice_payments(session: AsyncSession, invoice_id: int) -> list[PaymentView]:
    return await _payments(session, Payment.invoice_id == invoice_id)


async def stripe_configured(session: AsyncSession, tenant_id: int) -> bool:
    key = await session.scalar(select(Tenant.stripe_secret_key).where(Tenant.id == tenant_id))
    return bool(key)


@dataclass(frozen=True)
class EventRow:
    event_id: str
    type: str
    outcome: str
    received_at: datetime


@dataclass(frozen=True)
class StripeSettings:
    secret_key_masked: str
    webhook_secret_masked: str
    events_total: int
    recent_events: list[EventRow]


def _masked(value: str | None) -> str:
    """`sk_test_51H…x9Qz`: enough to recognise a key, too little to use it."""
    if not value:
        return ""
    return f"{value[:8]}…{value[-4:]}" if len(value) > 16 else "…"


async def stripe_settings(session: AsyncSession, tenant_id: int) -> StripeSettings:
    tenant = (await session.execute(select(Tenant).where(Tenant.id == tenant_id))).scalar_one()
    total = await session.scalar(select(func.count()).select_from(ProviderEvent)) or 0
    rows = await session.execute(
        select(ProviderEvent.event_id, ProviderEvent.type, ProviderEvent.outcome, ProviderEvent.received_at)
        .order_by(ProviderEvent.id.desc())
        .limit(RECENT_EVENTS)
    )
    return StripeSettings(
        _masked(tenant.stripe_secret_key),
        _masked(tenant.stripe_webhook_secret),
        int(total),
        [EventRow(*row) for row in rows],
    )


@dataclass(frozen=True)
class InvoicePayment:
    """An invoice's payment state: ISSUED or PAID, when, how, by whom, and its card payments."""

    invoice_id: int
    status: str
    total: Decimal
    currency: str
    paid_at: datetime | None
    method: str
    reference: str
    paid_by: str
    card_payments: list[PaymentView]

    @property
    def has_open_card_payment(self) -> bool:
        return any(payment.is_open for payment in self.card_payments)


async def invoice_payment(session: AsyncSession, invoice_id: int) -> InvoicePayment | None:
    row = (
        await session.execute(
            select(Invoice, User.name)
            .outerjoin(User, User.id == Invoice.paid_by_id)
            .where(Invoice.id == invoice_id)
        )
    ).one_or_none()
    if row is None:
        return None
    invoice, paid_by = row
    return InvoicePayment(
        invoice_id=invoice.id,
        status=invoice.payment_status,
        total=invoice.total,
        currency=invoice.currency,
        paid_at=invoice.paid_at,
        method=invoice.payment_method,
        reference=invoice.payment_reference,
        paid_by=paid_by or "",
        card_payments=await invoice_payments(session, invoice.id),
    )
