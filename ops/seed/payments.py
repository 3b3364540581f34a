"""How the past weeks' invoices were paid: by card through Stripe, in cash or by transfer, with the
payments, Stripe events and events the app records for each."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from integrations.payments import to_minor_units
from ops.auth.actor import Actor
from ops.events import Event
from ops.payments.models import Payment, ProviderEvent
from ops.payments.service import (
    APPLIED,
    PROVIDER,
    intent_metadata,
    invoice_paid_payload,
    invoice_subject,
    invoice_topics,
    payment_payload,
    payment_succeeded_payload,
)
from ops.tenants.models import Tenant
from ops.workshop.models import Invoice

# As a workshop is paid: at the desk when the customer collects the car, by card (asked of Stripe there
# and then, as the invoice page asks) or in cash; businesses, and the private customers who take the
# invoice home, by bank transfer within the payment terms, mostly. So what is still open is the latest
# transfers and the few late payers' older ones, past their terms. Each payment leaves the records the
# app leaves for it.

# Of the private customers, the share who pay in cash and who pay by transfer; the others pay by card.
CASH_SHARE, TRANSFER_SHARE = 0.12, 0.06
# A transfer comes in a week or two after the invoice, before it is due; one in six comes in late,
# 10 to 40 days past the terms (after a reminder).
LATE_PAYER_EVERY = 6
LATE_BY_DAYS = (10, 40)
# The office books the transfers from the bank statement on working mornings.
BOOKED_FROM = time(8, 30)
FIRST_CASH_RECEIPT = 5001
# The demo's Stripe account: test-mode keys that are plainly not real (a card payment asked for in the
# demo is refused by Stripe, which the invoice page says), and the API version of its events.
DEMO_STRIPE_SECRET_KEY = "sk_test_pitwall_alpenblick_demo"
DEMO_STRIPE_WEBHOOK_SECRET = "whsec_pitwall_alpenblick_demo"
STRIPE_API_VERSION = "2024-06-20"


class PlannedPayment(NamedTuple):
    method: str  # CARD, CASH or BANK_TRANSFER
    # None while unpaid: a transfer that has not come in.
    paid_at: datetime | None
    # What the desk entered: the PaymentIntent, the cash receipt's number, the bank statement's line.
    reference: str = ""
    # A card payment: when the desk asked Stripe for it.
    asked_at: datetime | None = None


class Invoiced(NamedTuple):
    """What an imported invoice's payment follows from."""

    number: int
    issued_at: datetime
    collected_at: datetime
    terms_days: int
    business: bool


def demo_stripe_id(prefix: str, serial: int) -> str:
    """An id of Stripe's shape (`pi_` and 24 letters or digits) that says it is the demo's."""
    return f"{prefix}_demo{serial:020d}"


def plan_payments(
    invoices: list[Invoiced], now: datetime, zone: ZoneInfo, rng: random.Random
) -> list[PlannedPayment]:
    """How each invoice was paid, in the order given."""
    planned: list[PlannedPayment] = []
    transfers = itertools.count(1)
    for invoice in invoices:
        method = rng.random()
        if invoice.business or method < TRANSFER_SHARE:
            late = next(transfers) % LATE_PAYER_EVERY == 0
            planned.append(PlannedPayment("BANK_TRANSFER", _transfer_booked(invoice, late, now, zone, rng)))
            continue
        # Paid at the desk just before the keys are handed over, at least a minute after the invoice.
        paid = max(
            invoice.issued_at + timedelta(minutes=1),
            invoice.collected_at - timedelta(seconds=rng.randint(60, 300)),
        )
        if method < TRANSFER_SHARE + CASH_SHARE:
            planned.append(PlannedPayment("CASH", paid))
        else:
            asked = max(
                invoice.issued_at + timedelta(seconds=30), paid - timedelta(seconds=rng.randint(40, 180))
            )
            planned.append(PlannedPayment("CARD", paid, demo_stripe_id("pi", invoice.number), asked))
    # Receipts are numbered in the order they were written, the statement's lines by day.
    by_time = sorted(
        (index for index, plan in enumerate(planned) if plan.paid_at is not None and plan.method != "CARD"),
        key=lambda index: planned[index].paid_at or now,
    )
    receipts, lines = itertools.count(FIRST_CASH_RECEIPT), dict[date, int]()
    for index in by_time:
        plan = planned[index]
        assert plan.paid_at is not None
        if plan.method == "CASH":
            reference = f"Quittung {next(receipts)}"
        else:
            day = plan.paid_at.astimezone(zone).date()
            lines[day] = lines.get(day, 0) + 1
            reference = f"ZKB {day.isoformat()}/{lines[day]:04d}"
        planned[index] = plan._replace(reference=reference)
    return planned


def _transfer_booked(
    invoice: Invoiced, late: bool, now: datetime, zone: ZoneInfo, rng: random.Random
) -> datetime | None:
    """When the office books the transfer from the statement, the working morning after it came in;
    None when it has not come in by now."""
    terms = invoice.terms_days
    days = (
        rng.uniform(terms + LATE_BY_DAYS[0], terms + LATE_BY_DAYS[1]) if late else rng.triangular(2, terms, 8)
    )
    day = (invoice.issued_at + timedelta(days=days)).astimezone(zone).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    booked = datetime.combine(day, BOOKED_FROM, zone).astimezone(UTC) + timedelta(minutes=rng.randint(0, 90))
    return booked if booked < now else None


def _paid_by(method: str, users: dict[str, Actor]) -> Actor:
    """Who records a payment: Stripe's event a card payment, the desk the cash, the office a transfer."""
    if method == "CARD":
        return Actor.system(users["admin"].tenant_id, name="Stripe")
    return users["service_advisor" if method == "CASH" else "admin"]


def paid_fields(payment: PlannedPayment, users: dict[str, Actor]) -> dict[str, Any]:
    """An invoice's payment columns; the same keys for every row, so the invoices are one statement."""
    if payment.paid_at is None:
        return {
            "payment_status": "ISSUED",
            "paid_at": None,
            "payment_method": "",
            "payment_reference": "",
            "paid_by_id": None,
        }
    return {
        "payment_status": "PAID",
        "paid_at": payment.paid_at,
        "payment_method": payment.method,
        "payment_reference": payment.reference,
        "paid_by_id": _paid_by(payment.method, users).user_id,
    }


async def import_payments(
    session: Any,
    tenant: Tenant,
    users: dict[str, Actor],
    invoices: list[tuple[int, dict[str, Any], PlannedPayment]],
) -> None:
    """What the app records when an invoice is paid (ops/payments/service.py), for the paid ones of the
    imported invoices (id, row, payment): for a card payment the Payment the desk asked for and Stripe's
    event that confirmed it, stored as it came; for every payment its events, already published (nothing
    to send live). A statement per table, its rows in the order the app would have written them."""
    desk = users["service_advisor"]
    stripe = Actor.system(tenant.id, name="Stripe")
    events: list[dict[str, Any]] = []

    def recorded(kind: str, actor: Actor, at: datetime, payload: dict[str, Any], topics: list[str]) -> None:
        events.append(
            {
                "tenant_id": tenant.id,
                "type": kind,
                "topics": topics,
                "payload": payload,
                "actor_kind": actor.kind,
                "actor_id": actor.user_id,
                "actor_name": actor.name,
                "created_at": at,
                "published_at": at,
            }
        )

    paid = [
        (_invoice_of(invoice_id, row), plan, plan.paid_at)
        for invoice_id, row, plan in invoices
        if plan.paid_at is not None
    ]
    for invoice, plan, paid_at in paid:
        if plan.method != "CARD":
            payload = invoice_paid_payload(invoice, plan.method, plan.reference)
            recorded("invoice.paid", _paid_by(plan.method, users), paid_at, payload, invoice_topics(invoice))
    cards = sorted(
        (
            (invoice, plan.asked_at, paid_at, plan.reference)
            for invoice, plan, paid_at in paid
            if plan.asked_at
        ),
        key=lambda card: card[1],
    )
    payment_ids = await session.scalars(
        insert(Payment).returning(Payment.id, sort_by_parameter_order=True),
        [
            {
                "tenant_id": tenant.id,
                "purpose": "INVOICE",
                "invoice_id": invoice.id,
                "amount": invoice.total,
                "currency": invoice.currency,
                "provider": PROVIDER,
                "provider_intent_id": intent_id,
                "status": "SUCCEEDED",
                "requested_by_id": desk.user_id,
                "created_at": asked_at,
                "paid_at": paid_at,
            }
            for invoice, asked_at, paid_at, intent_id in cards
        ],
    )
    stripe_events: list[dict[str, Any]] = []
    for payment_id, (invoice, asked_at, paid_at, intent_id) in zip(payment_ids, cards, strict=True):
        payment = Payment(
            id=payment_id,
            purpose="INVOICE",
            invoice_id=invoice.id,
            amount=invoice.total,
            currency=invoice.currency,
            status="REQUESTING",
            provider_intent_id=None,
        )
        subject = invoice_subject(invoice, desk.user_id)
        recorded("payment.requested", desk, asked_at, payment_payload(payment, subject), subject.topics)
        # The PaymentIntent is created right after the request commits, and waits for the card.
        intent_created = asked_at + timedelta(seconds=1)
        payment.status, payment.provider_intent_id = "AWAITING_PAYMENT", intent_id
        recorded(
            "payment.intent_created",
            stripe,
            intent_created,
            payment_payload(payment, subject),
            subject.topics,
        )
        payment.status = "SUCCEEDED"
        stripe_events.append(
            {
                "tenant_id": tenant.id,
                "provider": PROVIDER,
                "event_id": demo_stripe_id("evt", invoice.number),
                "type": "payment_intent.succeeded",
                "raw_body": _intent_succeeded_body(payment, invoice.number, intent_created, paid_at),
                "outcome": APPLIED,
                "received_at": paid_at,
            }
        )
        payload = invoice_paid_payload(invoice, "CARD", intent_id)
        recorded("invoice.paid", stripe, paid_at, payload, invoice_topics(invoice))
        payload = payment_succeeded_payload(payment, subject)
        recorded("payment.succeeded", stripe, paid_at, payload, subject.topics)
    stripe_events.sort(key=lambda stored: stored["received_at"])
    events.sort(key=lambda event: event["created_at"])
    await session.execute(insert(ProviderEvent), stripe_events)
    await session.execute(insert(Event), events)


def _invoice_of(invoice_id: int, row: dict[str, Any]) -> Invoice:
    """An imported invoice as the payment service reads it, for its events' payloads."""
    return Invoice(
        id=invoice_id,
        number=row["number"],
        work_order_id=row["work_order_id"],
        total=row["total"],
        currency=row["currency"],
    )


def _intent_succeeded_body(payment: Payment, number: int, created: datetime, paid_at: datetime) -> str:
    """Stripe's `payment_intent.succeeded` event for the payment, as its webhook posts it."""
    amount = to_minor_units(payment.amount, payment.currency)
    intent = {
        "id": payment.provider_intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "currency": payment.currency.lower(),
        "status": "succeeded",
        "client_secret": f"{payment.provider_intent_id}_secret_demo",
        "metadata": intent_metadata(payment),
        "latest_charge": demo_stripe_id("ch", number),
        "last_payment_error": None,
        "created": int(created.timestamp()),
        "livemode": False,
    }
    event = {
        "id": demo_stripe_id("evt", number),
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": int(paid_at.timestamp()),
        "type": "payment_intent.succeeded",
        "livemode": False,
        "data": {"object": intent},
    }
    return json.dumps(event, separators=(",", ":"))
