"""The demo seed on both backends: a Swiss dealership someone can sign in to and find a busy board."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from time import perf_counter
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from integrations.resilience import breaker
from ops.auth.models import User
from ops.customers.models import Customer
from ops.db import utcnow
from ops.events import Event
from ops.payments.models import Payment, ProviderEvent
from ops.payments.service import (
    receive_stripe_webhook,
    record_manual_invoice_payment,
    request_invoice_payment,
    send_payment_request,
)
from ops.sales.models import (
    LEAD_STAGES,
    CatalogOption,
    CatalogTrim,
    Deal,
    Lead,
    LeadStageChange,
    OptionGroup,
    Quote,
    Reservation,
    StockUnit,
)
from ops.sales.models import (
    TestDrive as Drive,
)
from ops.sales.stock.service import validated_vin
from ops.seed import DEMO_PASSWORD, seed_demo
from ops.seed.board import OpenJob, OpenWork, PlannedTechnician, plan_open_work, planned_team
from ops.seed.data import (
    BAYS,
    CUSTOMER_CARS,
    HISTORY_WEEKS,
    MODELS,
    OPEN_BOARD,
    OPEN_JOBS,
    TECHNICIAN_PROFILES,
    VEHICLES,
    job_for,
    path_to,
)
from ops.seed.history import HISTORY_SEED, PastJob, plan_history, working_days
from ops.seed.payments import Invoiced, plan_payments
from ops.tenants.models import Counter, Tenant
from ops.vehicles.models import (
    Fleet,
    MaintenanceSchedule,
    TelematicsDevice,
    TelemetryReading,
    Vehicle,
    VehicleAlert,
    VehicleMaintenance,
)
from ops.workshop.models import (
    Bay,
    Invoice,
    Part,
    StockMovement,
    TechnicianProfile,
    TimeEntry,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderLine,
)
from ops.workshop.service import IN_BAY_STATUSES, OPEN_STATUSES
from tests.payments.helpers import with_stripe
from tests.payments.stripe_server import body_of, signature_header, start_fake_stripe
from tests.web import sign_in
from tests.workshop.invoices.builders import make_invoice

# The contract of issue 2: one account per role, all with the same demo password.
DEMO_ACCOUNTS = {
    "admin@demo.test": "admin",
    "sales.manager@demo.test": "sales_manager",
    "sales@demo.test": "sales_rep",
    "advisor@demo.test": "service_advisor",
    "workshop.manager@demo.test": "workshop_manager",
    "tech@demo.test": "technician",
    "viewer@demo.test": "viewer",
}
INVOICE_LINES = [("LABOUR", "Service", "2", "150.00"), ("PART", "Oil filter", "1", "24.90")]
SWISS_PLATE = re.compile(r"(ZH|AG|SZ|ZG|LU|SG|BE) \d{5,6}")
VIN_VALUES = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit_is_valid(vin: str) -> bool:
    """ISO 3779 / North American check digit at position 9, as a VIN decoder would verify it."""
    if len(vin) != 17 or any(char not in VIN_VALUES for char in vin):
        return False
    remainder = sum(VIN_VALUES[char] * weight for char, weight in zip(vin, VIN_WEIGHTS, strict=True)) % 11
    return vin[8] == ("X" if remainder == 10 else str(remainder))


async def _demo(runtime) -> Tenant:  # type: ignore[no-untyped-def]
    tenant, _created = await seed_demo(runtime.db)
    return tenant


async def _history_size(db, tenant_id: int) -> int:  # type: ignore[no-untyped-def]
    """How many jobs the demo imported as its past weeks: every number before the 30 open jobs'."""
    async with db.read(tenant_id) as session:
        return int(await session.scalar(select(func.max(WorkOrder.number))) or 0) - OPEN_JOBS


async def _table_sizes(db, tenant_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (User, Customer, Vehicle, WorkOrder, Event)
        }


async def test_the_demo_is_a_swiss_dealership(runtime):
    tenant = await _demo(runtime)

    assert (tenant.slug, tenant.country, tenant.currency, tenant.timezone, tenant.locale) == (
        "demo",
        "CH",
        "CHF",
        "Europe/Zurich",
        "de_CH",
    )
    assert (tenant.distance_unit, tenant.fuel_unit, tenant.vat_rate) == ("km", "liters", Decimal("8.1"))


async def test_every_demo_account_exists_with_its_role(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        roles = {email: role for email, role in await session.execute(select(User.email, User.role))}

    assert {email: roles.get(email) for email in DEMO_ACCOUNTS} == DEMO_ACCOUNTS


async def test_the_service_advisor_signs_in_and_finds_a_busy_board(runtime, client):
    tenant = await _demo(runtime)
    history = await _history_size(runtime.db, tenant.id)

    await sign_in(client, "advisor@demo.test", DEMO_PASSWORD)
    html = await (await client.get("/workshop/board")).get_data(as_text=True)

    cards = re.findall(r'id="wo-\d+"', html)
    assert len(cards) == 28  # 30 open work orders, 2 of them closed; the closed ones of the past weeks too
    assert f"WO-{history + 1:06d}" in html


async def test_every_vehicle_has_an_owner_a_swiss_plate_and_a_valid_vin(runtime):
    """The workshop's 80 cars, its regular customers' 1,200 and the 2 the showroom delivered; the
    dealership's own loan cars belong to no customer (a reviewer found a loan car owned by a private
    customer), the taxis to their company."""
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        rows = (
            await session.execute(
                select(Vehicle.vin, Vehicle.plate, Fleet.name, Customer.company_name)
                .outerjoin(Customer, Customer.id == Vehicle.customer_id)
                .outerjoin(Fleet, Fleet.id == Vehicle.fleet_id)
            )
        ).all()
        fleets = (await session.execute(select(Fleet.name, Fleet.description))).all()

    vehicles = VEHICLES + CUSTOMER_CARS + 2
    assert len(rows) == vehicles
    assert len({vin for vin, *_rest in rows}) == vehicles
    assert [vin for vin, *_rest in rows if not vin_check_digit_is_valid(vin)] == []
    assert [vin for vin, *_rest in rows if validated_vin(vin) != vin] == []
    assert [plate for _vin, plate, *_rest in rows if not SWISS_PLATE.fullmatch(plate or "")] == []
    owners = [(fleet, company) for _vin, _plate, fleet, company in rows]
    assert owners.count(("Alpenblick Ersatzwagen", None)) == 6
    assert owners.count(("Taxi Zürisee GmbH", "Taxi Zürisee GmbH")) == 6
    assert len([row for row in rows if row.name is None]) == vehicles - 12
    # The demo is a Swiss-German dealership: its own texts are German too.
    assert all(re.search(r"\b(für|der|die|des)\b", description) for _name, description in fleets), fleets


async def test_thirty_open_work_orders_cover_every_column_of_the_board(runtime):
    tenant = await _demo(runtime)
    history = await _history_size(runtime.db, tenant.id)

    async with runtime.db.read(tenant.id) as session:
        orders = (
            await session.execute(
                select(WorkOrder.number, WorkOrder.status).where(WorkOrder.number > history)
            )
        ).all()
        moves = await session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "work_order.moved")
        )

    assert sorted(number for number, _status in orders) == list(range(history + 1, history + 31))
    statuses = [status for _number, status in orders]
    assert {status: statuses.count(status) > 0 for status in OPEN_STATUSES} == dict.fromkeys(
        OPEN_STATUSES, True
    )
    assert statuses.count("CLOSED") == 2
    # The demo's history was made through the real moves, so its audit trail is real too.
    assert (moves or 0) > 30


async def test_seeding_twice_changes_nothing(runtime):
    tenant = await _demo(runtime)
    before = await _table_sizes(runtime.db, tenant.id)

    again, created = await seed_demo(runtime.db)

    assert (again.id, created) == (tenant.id, False)
    assert await _table_sizes(runtime.db, tenant.id) == before
    async with runtime.db.system() as session:
        assert (
            await session.scalar(select(func.count()).select_from(Tenant).where(Tenant.slug == "demo")) == 1
        )


async def test_six_bays_and_a_profile_for_every_technician(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        bays = (await session.execute(select(Bay.name, Bay.kind).order_by(Bay.id))).all()
        technicians = (
            await session.execute(
                select(User.name, TechnicianProfile.skills, TechnicianProfile.shift_start)
                .outerjoin(TechnicianProfile, TechnicianProfile.user_id == User.id)
                .where(User.role == "technician")
            )
        ).all()

    assert [tuple(bay) for bay in bays] == [
        ("Hebebühne 1", "LIFT"),
        ("Hebebühne 2", "LIFT"),
        ("Hebebühne 3", "LIFT"),
        ("Hebebühne 4", "LIFT"),
        ("Achsvermessung", "ALIGNMENT"),
        ("EV-Platz", "EV"),
    ]
    assert len(technicians) == 6
    assert [name for name, skills, shift in technicians if not skills or shift is None] == []


async def test_forty_parts_in_francs_a_few_below_their_reorder_point(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        parts = (await session.scalars(select(Part))).all()
        reserved_on_lines = await session.scalar(
            select(func.sum(WorkOrderLine.reserved_quantity)).where(WorkOrderLine.kind == "PART")
        )
        ledger = (
            await session.execute(
                select(StockMovement.part_id, func.sum(StockMovement.on_hand_change)).group_by(
                    StockMovement.part_id
                )
            )
        ).all()

    assert len(parts) == 40
    assert all(part.price > part.cost > 0 for part in parts)
    assert 3 <= sum(part.below_reorder_point for part in parts) <= 8
    assert any(part.unit == "l" and "5W-30" in part.name for part in parts)
    # The open jobs' part lines hold their stock, and the ledger explains every level.
    assert sum(part.reserved for part in parts) == reserved_on_lines > 0
    assert dict(ledger) == {
        part.id: part.on_hand for part in parts if part.on_hand or part.id in dict(ledger)
    }


async def test_every_open_job_has_its_labour_and_the_past_six_weeks_are_invoiced(runtime):
    tenant = await _demo(runtime)
    history_size = await _history_size(runtime.db, tenant.id)

    async with runtime.db.read(tenant.id) as session:
        open_without_labour = await session.scalar(
            select(func.count())
            .select_from(WorkOrder)
            .where(
                WorkOrder.number > history_size,
                ~WorkOrder.id.in_(select(WorkOrderLine.work_order_id).where(WorkOrderLine.kind == "LABOUR")),
            )
        )
        history = (
            await session.execute(
                select(WorkOrder.status, WorkOrder.completed_at, WorkOrder.comeback_of_id).where(
                    WorkOrder.number <= history_size
                )
            )
        ).all()
        invoiced = await session.scalar(
            select(func.count()).select_from(Invoice).join(WorkOrder, WorkOrder.id == Invoice.work_order_id)
        )
        clocked = await session.scalar(select(func.count(func.distinct(TimeEntry.work_order_id))))
        counters = dict((await session.execute(select(Counter.name, Counter.value))).all())

    assert open_without_labour == 0
    assert {status for status, _at, _of in history} == {"CLOSED"}
    oldest = min(at for _status, at, _of in history)
    assert timedelta(days=35) < utcnow() - oldest < timedelta(days=43)
    # A busy workshop's six weeks: some 40 jobs a working day, a few percent of them comebacks.
    assert 30 * 30 < len(history) < 31 * 45
    assert 0.01 < sum(of is not None for _status, _at, of in history) / len(history) < 0.05
    assert (invoiced or 0) >= len(history) and (clocked or 0) >= len(history)
    # New work orders and invoices continue the numbers of the imported ones.
    assert counters["work_order"] == history_size + OPEN_JOBS and counters["invoice"] >= history_size


async def test_the_past_weeks_fill_the_shifts_of_working_days_as_a_busy_workshop_does(runtime):
    """Each working day some 40 jobs, each technician on one job at a time and each bay holding one car
    at a time; closed at weekends; a car back within 30 days only as the comeback it is counted as."""
    tenant = await _demo(runtime)
    zone = ZoneInfo(tenant.timezone)
    history_size = await _history_size(runtime.db, tenant.id)
    async with runtime.db.read(tenant.id) as session:
        jobs = (
            await session.execute(
                select(
                    WorkOrder.id,
                    WorkOrder.vehicle_id,
                    WorkOrder.complaint,
                    WorkOrder.bay_id,
                    WorkOrder.created_at,
                    WorkOrder.completed_at,
                    WorkOrder.comeback_of_id,
                    TimeEntry.technician_id,
                    TimeEntry.started_at,
                )
                .join(TimeEntry, TimeEntry.work_order_id == WorkOrder.id)
                .where(WorkOrder.number <= history_size)
                .order_by(WorkOrder.created_at)
            )
        ).all()

    today = utcnow().astimezone(zone).date()
    per_day: dict[date, int] = {}
    for job in jobs:
        day = job.completed_at.astimezone(zone).date()
        per_day[day] = per_day.get(day, 0) + 1
    assert [day for day in per_day if day.weekday() >= 5] == []
    assert [count for day, count in per_day.items() if day != today and not 30 <= count <= 50] == []
    for key in ("technician_id", "bay_id"):
        spans: dict[int, list[tuple[object, object]]] = {}
        for job in jobs:
            spans.setdefault(getattr(job, key), []).append((job.started_at, job.completed_at))
        for owner, taken in spans.items():
            taken.sort()
            overlapping = [(a, b) for a, b in itertools.pairwise(taken) if b[0] < a[1]]
            assert overlapping == [], (key, owner, overlapping[:3])
    by_id = {job.id: job for job in jobs}
    by_car: dict[int, list[object]] = {}
    for job in jobs:
        by_car.setdefault(job.vehicle_id, []).append(job)
    for job in jobs:
        earlier = [
            other
            for other in by_car[job.vehicle_id]
            if other.completed_at < job.created_at
            and job.created_at - other.completed_at <= timedelta(days=30)
        ]
        if job.comeback_of_id is None:
            assert earlier == [], job
        else:
            original = by_id[job.comeback_of_id]
            assert earlier == [original] and original.complaint == job.complaint, job


async def test_the_invoice_list_runs_newest_first_by_number_and_by_date(runtime, client):
    """Imported invoices were numbered by job, not by when they were issued: on a day with two, the
    later number was the earlier invoice, and the list read 59, 60, 57, 58."""
    tenant = await _demo(runtime)
    async with runtime.db.read(tenant.id) as session:
        by_time = list(await session.scalars(select(Invoice.number).order_by(Invoice.issued_at)))

    await sign_in(client, "advisor@demo.test", DEMO_PASSWORD)
    listed: list[int] = []
    page, more = 1, True
    while more:
        html = await (await client.get(f"/workshop/invoices?page={page}")).get_data(as_text=True)
        listed += [int(number) for number in re.findall(r">INV-(\d+)<", html)]
        page, more = page + 1, 'rel="next"' in html

    assert by_time == sorted(by_time)
    assert listed == sorted(listed, reverse=True) and len(listed) == len(by_time)


# --- How the past weeks' invoices were paid ----------------------------------------------------------------

PAYMENT_EVENTS = ("payment.requested", "payment.intent_created", "invoice.paid", "payment.succeeded")


async def test_the_past_weeks_invoices_are_paid_as_a_workshops_are(runtime):
    """All 1,200 invoices of the demo's past weeks read unpaid: no workshop's books look like that. The
    customers pay when they collect the car, mostly by card, some in cash; businesses and a few others
    by transfer within the terms, so what is open is the latest transfers, and a few are overdue."""
    tenant = await _demo(runtime)
    history = await _history_size(runtime.db, tenant.id)
    async with runtime.db.read(tenant.id) as session:
        rows = (
            await session.execute(
                select(Invoice, Customer.type)
                .outerjoin(Customer, Customer.id == Invoice.customer_id)
                .where(Invoice.number <= history)
            )
        ).all()
    now = utcnow()
    invoices = [invoice for invoice, _type in rows]
    unpaid = [invoice for invoice in invoices if invoice.payment_status == "ISSUED"]
    overdue = [
        invoice for invoice in unpaid if invoice.issued_at + timedelta(days=invoice.payment_terms_days) < now
    ]

    def share(method: str) -> float:
        return sum(invoice.payment_method == method for invoice in invoices) / len(invoices)

    assert len(invoices) == history
    assert 0.7 <= share("CARD") <= 0.9 and 0.07 <= share("CASH") <= 0.18, (share("CARD"), share("CASH"))
    assert 0.01 <= share("BANK_TRANSFER") <= 0.08, share("BANK_TRANSFER")
    assert 0.01 <= len(unpaid) / len(invoices) <= 0.06 and 1 <= len(overdue) <= 10, (
        len(unpaid),
        len(overdue),
    )
    assert {invoice.payment_status for invoice in invoices} == {"PAID", "ISSUED"}
    businesses = [invoice for invoice, kind in rows if kind not in ("INDIVIDUAL", None)]
    assert businesses and {invoice.payment_method for invoice in businesses} <= {"BANK_TRANSFER", ""}


async def test_the_invoice_list_shows_the_demos_few_open_and_overdue_invoices(runtime, client):
    """The office opens the invoices and finds a few dozen open among the 1,200, a few of them overdue,
    each on the filtered pages."""
    tenant = await _demo(runtime)
    async with runtime.db.read(tenant.id) as session:
        invoices = list(await session.scalars(select(Invoice)))
    today = datetime.combine(
        utcnow().astimezone(ZoneInfo(tenant.timezone)).date(), time(0), ZoneInfo(tenant.timezone)
    )
    unpaid = {invoice.id for invoice in invoices if invoice.payment_status == "ISSUED"}
    overdue = {
        invoice.id
        for invoice in invoices
        if invoice.id in unpaid and invoice.issued_at + timedelta(days=invoice.payment_terms_days) < today
    }

    await sign_in(client, "advisor@demo.test", DEMO_PASSWORD)
    first = await (await client.get("/workshop/invoices")).get_data(as_text=True)
    listed: dict[str, set[int]] = {}
    for payment in ("open", "overdue"):
        listed[payment], page, more = set(), 1, True
        while more:
            html = await (await client.get(f"/workshop/invoices?payment={payment}&page={page}")).get_data(
                as_text=True
            )
            listed[payment] |= {int(found) for found in re.findall(r'href="/workshop/invoices/(\d+)"', html)}
            page, more = page + 1, 'rel="next"' in html

    assert (listed["open"], listed["overdue"]) == (unpaid, overdue)
    assert f"Open ({len(unpaid)})" in first and f"Overdue ({len(overdue)})" in first
    assert 0.01 * len(invoices) <= len(unpaid) <= 0.06 * len(invoices) and 1 <= len(overdue) <= 10


async def test_every_paid_invoice_of_the_past_weeks_has_the_records_of_its_payment(runtime):
    """Paid after it was issued and before now, how and by whom; a card payment with its succeeded
    Payment of the invoice's total and Stripe's event; every payment with its events; an open invoice
    with none of these."""
    tenant = await _demo(runtime)
    history = await _history_size(runtime.db, tenant.id)
    async with runtime.db.read(tenant.id) as session:
        invoices = list(await session.scalars(select(Invoice).where(Invoice.number <= history)))
        payments: dict[int | None, list[Payment]] = {}
        for payment in await session.scalars(select(Payment).order_by(Payment.id)):
            payments.setdefault(payment.invoice_id, []).append(payment)
        stripe_events = {
            json.loads(stored.raw_body)["data"]["object"]["id"]: stored
            for stored in await session.scalars(select(ProviderEvent))
        }
        events: dict[int, list[Event]] = {}
        for event in await session.scalars(
            select(Event).where(Event.type.in_(PAYMENT_EVENTS)).order_by(Event.id)
        ):
            events.setdefault(event.payload["invoice_id"], []).append(event)
        roles = dict((await session.execute(select(User.id, User.role))).all())
    now = utcnow()

    for invoice in invoices:
        if invoice.payment_status == "ISSUED":
            assert (invoice.paid_at, invoice.payment_method, invoice.paid_by_id) == (None, "", None)
            assert invoice.id not in payments and invoice.id not in events, invoice.code
            continue
        assert invoice.paid_at is not None and invoice.issued_at < invoice.paid_at < now, invoice.code
        assert invoice.payment_method in ("CARD", "CASH", "BANK_TRANSFER") and invoice.payment_reference
        *_before, paid = events[invoice.id]
        if invoice.payment_method == "CARD":
            [payment] = payments[invoice.id]
            assert (payment.status, payment.amount, payment.currency, payment.provider_intent_id) == (
                "SUCCEEDED",
                invoice.total,
                invoice.currency,
                invoice.payment_reference,
            )
            assert invoice.issued_at < payment.created_at < payment.paid_at == invoice.paid_at
            assert invoice.paid_by_id is None and roles[payment.requested_by_id] == "service_advisor"
            confirmed = stripe_events[invoice.payment_reference]
            intent = json.loads(confirmed.raw_body)["data"]["object"]
            assert (confirmed.type, confirmed.outcome, intent["status"]) == (
                "payment_intent.succeeded",
                "Applied",
                "succeeded",
            )
            assert intent["amount_received"] == int(invoice.total * 100)
            assert intent["metadata"] == {
                "pitwall_payment_id": str(payment.id),
                "invoice_id": str(invoice.id),
            }
            assert [event.type for event in events[invoice.id]] == list(PAYMENT_EVENTS)
            [paid] = [event for event in events[invoice.id] if event.type == "invoice.paid"]
        else:
            assert invoice.id not in payments and len(events[invoice.id]) == 1
            assert roles[invoice.paid_by_id] in ("service_advisor", "admin")
        assert (paid.type, paid.actor_id, paid.created_at) == (
            "invoice.paid",
            invoice.paid_by_id,
            invoice.paid_at,
        )
        assert (paid.payload["amount"], paid.payload["method"], paid.payload["reference"]) == (
            str(invoice.total),
            invoice.payment_method,
            invoice.payment_reference,
        )
    assert len(stripe_events) == sum(len(found) for found in payments.values())


async def _payment_records(db, tenant_id: int, invoice_id: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """What the records of an invoice's payment say, less what differs from one payment to the next
    (ids, amounts, times, references, names)."""
    async with db.read(tenant_id) as session:
        invoice = (await session.execute(select(Invoice).where(Invoice.id == invoice_id))).scalar_one()
        payments = list(await session.scalars(select(Payment).where(Payment.invoice_id == invoice_id)))
        events = list(
            await session.scalars(
                select(Event)
                .where(Event.type.in_(PAYMENT_EVENTS), Event.payload["invoice_id"].as_integer() == invoice_id)
                .order_by(Event.id)
            )
        )
        stripe_events = list(
            await session.scalars(
                select(ProviderEvent).where(ProviderEvent.raw_body.contains(f'"{invoice.payment_reference}"'))
            )
        )
        roles = dict((await session.execute(select(User.id, User.role))).all())
    assert invoice.paid_at is not None

    def shape(body: dict[str, object]) -> dict[str, object]:
        return {
            key: shape(value) if isinstance(value, dict) else type(value).__name__
            for key, value in body.items()
        }

    return {
        "invoice": (invoice.payment_status, invoice.payment_method, roles.get(invoice.paid_by_id)),
        "payments": [
            (
                payment.purpose,
                payment.status,
                payment.provider,
                (payment.amount, payment.currency) == (invoice.total, invoice.currency),
                payment.provider_intent_id == invoice.payment_reference,
                payment.paid_at is not None and abs(payment.paid_at - invoice.paid_at) < timedelta(seconds=5),
                (payment.attempts, payment.failure_message, payment.last_error, payment.next_attempt_at),
                roles.get(payment.requested_by_id),
            )
            for payment in payments
        ],
        "events": [
            (
                event.type,
                event.actor_kind,
                roles.get(event.actor_id, event.actor_name),
                [re.sub(r"\d+", "#", topic) for topic in event.topics],
                sorted(event.payload),
                [event.payload.get(key) for key in ("purpose", "status", "method", "notice", "notice_kind")],
                event.payload.get("amount") == str(invoice.total),
            )
            for event in events
        ],
        "stripe": [
            (stored.provider, stored.type, stored.outcome, shape(json.loads(stored.raw_body)))
            for stored in stripe_events
        ],
    }


async def test_a_seeded_payment_leaves_the_records_of_one_made_in_the_app(runtime, factory):
    """The demo's payments are written in bulk; the invoice page, the payment settings, the events and
    partners' webhooks read them as they read a payment made in the app: by card through Stripe (here
    on 127.0.0.1), at the desk in cash, and by transfer."""
    tenant = await _demo(runtime)
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    await with_stripe(shop)
    made: dict[str, int] = {}
    fake, stop, task = await start_fake_stripe()
    breaker("stripe").record_success()
    try:
        invoice = await make_invoice(shop, await shop.work_order(status="IN_PROGRESS"), INVOICE_LINES)
        async with runtime.db.uow(advisor.actor) as uow:
            asked = await request_invoice_payment(uow, invoice.id)
        sent = await send_payment_request(runtime.db, fake.url, shop.id, asked.id)
        assert sent.provider_intent_id is not None
        body = body_of(fake.pay(sent.provider_intent_id))
        await receive_stripe_webhook(
            runtime.db, fake.url, shop.tenant.slug, body, signature_header(body), utcnow()
        )
        made["CARD"] = invoice.id
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        breaker("stripe").record_success()
    for method, actor in (("CASH", advisor.actor), ("BANK_TRANSFER", shop.admin.actor)):
        invoice = await make_invoice(shop, await shop.work_order(status="IN_PROGRESS"), INVOICE_LINES)
        async with runtime.db.uow(actor) as uow:
            await record_manual_invoice_payment(uow, invoice.id, method, "K-1")
        made[method] = invoice.id
    async with runtime.db.read(tenant.id) as session:
        seeded = dict(
            (
                await session.execute(
                    select(Invoice.payment_method, func.min(Invoice.id))
                    .where(Invoice.payment_status == "PAID")
                    .group_by(Invoice.payment_method)
                )
            ).all()
        )

    for method, invoice_id in made.items():
        in_the_app = await _payment_records(runtime.db, shop.id, invoice_id)
        assert await _payment_records(runtime.db, tenant.id, seeded[method]) == in_the_app, method


async def test_the_kpi_page_and_the_leaderboard_show_real_numbers(runtime, client):
    tenant = await _demo(runtime)
    async with runtime.db.read(tenant.id) as session:
        first_invoice = await session.scalar(select(Invoice.id).where(Invoice.number == 1))

    await sign_in(client, "workshop.manager@demo.test", DEMO_PASSWORD)
    page = await (await client.get("/workshop/kpis?period=month")).get_data(as_text=True)
    invoice = await client.get(f"/workshop/invoices/{first_invoice}")

    first_time_fix = re.search(r'id="kpi-first_time_fix".*?</section>', page, re.S)
    assert first_time_fix and "no data" not in first_time_fix.group(0)
    leaders = re.search(r'id="leaders-month".*?</section>', page, re.S)
    assert leaders and "Luca Rossi" in leaders.group(0)
    assert invoice.status_code == 200 and "INV-000001" in await invoice.get_data(as_text=True)


async def test_seeding_takes_seconds(backend, tmp_path):
    """The demo must be quick to set up; the number is printed for the record (-s shows it)."""
    from ops.db import Database
    from ops.migrate import upgrade_to_head
    from tests.conftest import _create_postgres_database, _drop_postgres_database

    if backend.is_postgres:
        url = await _create_postgres_database()
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'seed.db'}"
    await upgrade_to_head(url)
    # A server's secret key, as `pitwall seed` has: the demo's Stripe keys are stored sealed.
    db = Database(url, ["seed-timing-secret-key"])
    try:
        started = perf_counter()
        await seed_demo(db)
        print(f"\nseed --demo on {backend.name}: {perf_counter() - started:.1f} s")
    finally:
        await db.dispose()
        if backend.is_postgres:
            await _drop_postgres_database(url)


# --- The showroom ---------------------------------------------------------------------------------------


async def test_a_catalog_of_swiss_market_makes_with_option_rules(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        makes = set(await session.scalars(select(CatalogTrim.make)))
        groups = (
            await session.execute(select(OptionGroup.name, OptionGroup.min_select, OptionGroup.max_select))
        ).all()
        hud = (await session.scalars(select(CatalogOption).where(CatalogOption.code == "PKG-HUD"))).all()

    assert makes == {"Volkswagen", "Skoda", "Toyota", "BMW", "Tesla", "Volvo"}
    assert len(groups) == 3 * 12 and ("Farbe", 1, 1) in [tuple(group) for group in groups]
    assert len(hud) == 12 and all(
        option.requires == ["PKG-TECH"] and option.price > option.cost for option in hud
    )


async def test_twenty_five_units_in_every_status_with_vins_the_stock_form_accepts(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        units = (await session.scalars(select(StockUnit))).all()
        holds = {hold.id: hold for hold in await session.scalars(select(Reservation))}

    assert len(units) == 25
    assert {unit.status for unit in units} == {
        "AVAILABLE",
        "RESERVED",
        "SOLD",
        "DELIVERED",
        "DEMO",
        "LOANER",
        "INCOMING",
    }
    assert [unit.vin for unit in units if validated_vin(unit.vin) != unit.vin] == []
    assert [unit.vin for unit in units if not vin_check_digit_is_valid(unit.vin)] == []
    for unit in units:
        # A held unit has its active hold; a sold or delivered one its deal; the others neither.
        if unit.status == "RESERVED":
            hold = holds[unit.held_by_reservation_id]
            assert hold.status == "ACTIVE" and hold.expires_at > utcnow()
        else:
            assert unit.held_by_reservation_id is None
        assert (unit.deal_id is not None) is (unit.status in ("SOLD", "DELIVERED"))


async def test_forty_leads_over_the_stages_and_every_won_one_has_its_accepted_quote_and_deal(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        leads = (await session.scalars(select(Lead))).all()
        owners = dict((await session.execute(select(User.id, User.role))).all())
        accepted = {
            quote.lead_id: quote
            for quote in await session.scalars(select(Quote).where(Quote.status == "ACCEPTED"))
        }
        deals = (await session.scalars(select(Deal))).all()
        units = {unit.id: unit for unit in await session.scalars(select(StockUnit))}
        history = dict(
            (
                await session.execute(
                    select(LeadStageChange.lead_id, func.max(LeadStageChange.to_stage)).group_by(
                        LeadStageChange.lead_id
                    )
                )
            ).all()
        )
        counters = dict((await session.execute(select(Counter.name, Counter.value))).all())
        quote_count = await session.scalar(select(func.count()).select_from(Quote))
        drives = await session.scalar(select(func.count()).select_from(Drive))

    assert len(leads) == 40
    assert {lead.stage for lead in leads} == set(LEAD_STAGES)
    assert {owners[lead.owner_id] for lead in leads} <= {"sales_rep", "sales_manager"}
    assert set(history) == {lead.id for lead in leads}
    won = [lead for lead in leads if lead.stage == "WON"]
    assert all(lead.id in accepted and lead.closed_at for lead in won)
    assert all(lead.lost_reason for lead in leads if lead.stage == "LOST")
    assert sorted(deal.lead_id for deal in deals) == sorted(lead.id for lead in won)
    for deal in deals:
        assert deal.quote_id == accepted[deal.lead_id].id and units[deal.stock_unit_id].deal_id == deal.id
    assert sorted(deal.status for deal in deals) == sorted(
        ["DELIVERED", "DELIVERED", "READY_FOR_DELIVERY", "DEPOSIT_PAID", "OPEN"]
    )
    assert (counters["deal"], counters["quote"]) == (5, quote_count)
    assert drives == 5


async def test_a_seeded_approval_request_says_who_asked_and_when_as_one_made_in_the_app(runtime, client):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        waiting = (await session.scalars(select(Quote).where(Quote.status == "PENDING_APPROVAL"))).all()
        names = dict((await session.execute(select(User.id, User.name))).all())
        requests = {
            event.payload["id"]: event
            for event in await session.scalars(select(Event).where(Event.type == "quote.approval_requested"))
        }
    assert waiting
    for quote in waiting:
        asked = requests[quote.id]
        assert asked.actor_name == names[quote.approval_requested_by_id]
        assert asked.payload["reason"] == quote.approval_reason
        assert quote.created_at < asked.created_at <= utcnow()

    await sign_in(client, "sales.manager@demo.test", DEMO_PASSWORD)
    html = await (await client.get("/sales/approvals")).get_data(as_text=True)
    # "angefragt von Lea Frei · 20.11.2026, 14:05": the request's time, as for one made in the app.
    asked_by = re.findall(r"angefragt von [^<·]+·\s*(\d{2}\.\d{2}\.\d{4}[^<]*)</p>", html)
    assert len(asked_by) == len(waiting)


async def test_the_sales_manager_finds_deals_and_this_months_sales_kpis(runtime, client):
    await _demo(runtime)

    await sign_in(client, "sales.manager@demo.test", DEMO_PASSWORD)
    deals = await (await client.get("/sales/deals")).get_data(as_text=True)
    kpis = await (await client.get("/sales/kpis?period=month")).get_data(as_text=True)

    assert len(re.findall(r'id="deal-\d+"', deals)) == 5
    for key in ("kpi-conversion", "kpi-gross_profit_per_deal", "kpi-revenue_per_rep", "kpi-pipeline"):
        section = re.search(rf'id="{key}".*?</section>', kpis, re.S)
        assert section and "no data" not in section.group(0), key


# --- A demo that hangs together ---------------------------------------------------------------------------

# Each make's World Manufacturer Identifiers (the VIN's first three characters), as makers register them.
WMI_OF_MAKE = {
    "Volkswagen": {"WVW", "WVG", "WV1", "WV2"},
    "Skoda": {"TMB"},
    "Toyota": {"JTD", "JTM", "JTE", "JTN", "SB1", "VNK"},
    "BMW": {"WBA", "WBY"},
    "Audi": {"WAU", "WUA"},
    "Tesla": {"5YJ", "7SA", "LRW", "XP7"},
    "Renault": {"VF1"},
    "Ford": {"WF0", "NM0"},
    "Mercedes-Benz": {"WDD", "W1K", "WDB", "W1N"},
    "Subaru": {"JF1", "JF2"},
    "Volvo": {"YV1", "LYV"},
}
# What only a car with a combustion engine takes: oil and its filters, exhaust and ignition parts.
ENGINE_WORDS = re.compile(
    r"Öl|Zünd|Zahnriemen|Abgas|Katalysator|Motorkontroll|Kraftstoff|AdBlue|Luftfilter", re.I
)
# The category a complaint is booked under, by what the customer said.
CATEGORY_OF_COMPLAINT = (
    (re.compile(r"Bremse"), "Brake Service"),
    (re.compile(r"Scheinwerfer|Batterie|Lade|Hochvolt"), "Electrical"),
    (re.compile(r"Räderwechsel|Reifen|Vibration im Lenkrad"), "Tire Service"),
    (re.compile(r"Ölwechsel"), "Oil Change"),
    (re.compile(r"Getriebe"), "Transmission Service"),
    (re.compile(r"Kratzer|Stossstange"), "Body Work"),
    (re.compile(r"MFK"), "Inspection"),
    (re.compile(r"Motorkontroll"), "Engine Repair"),
    (re.compile(r"Service"), "Preventive Maintenance"),
    (re.compile(r"Klimaanlage|Geräusch"), "Repair"),
)
# What the labour of each category is about.
LABOUR_OF_CATEGORY = {
    "Brake Service": r"Brems",
    "Electrical": r"Batterie|[Ll]ampe|Ladeklappe|Hochvolt",
    "Tire Service": r"Räder|Reifen",
    "Oil Change": r"Ölwechsel",
    "Transmission Service": r"Getriebe",
    "Body Work": r"Stossstange|lackieren",
    "Inspection": r"MFK|Inspektion",
    "Engine Repair": r"Diagnose|Motor|Zünd",
    "Preventive Maintenance": r"Inspektion|Service|Wischer|Zahnriemen",
    "Repair": r"Klima|Stossdämpfer|Querlenker",
}


async def test_every_vin_begins_with_its_makers_wmi(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        vehicles = (await session.execute(select(Vehicle.make, Vehicle.vin))).all()

    assert [(make, vin) for make, vin in vehicles if vin[:3] not in WMI_OF_MAKE[make]] == []


async def test_each_work_order_is_booked_and_worked_as_its_complaint_says(runtime):
    """A reviewer found a headlight fault with a brake job and a draining battery with a headlight bulb."""
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        orders = (
            await session.execute(
                select(WorkOrder.id, WorkOrder.complaint, WorkOrderCategory.name).join(
                    WorkOrderCategory, WorkOrderCategory.id == WorkOrder.category_id
                )
            )
        ).all()
        labour: dict[int, list[str]] = {}
        for work_order_id, description in await session.execute(
            select(WorkOrderLine.work_order_id, WorkOrderLine.description).where(
                WorkOrderLine.kind == "LABOUR"
            )
        ):
            labour.setdefault(work_order_id, []).append(description)

    assert len(orders) == await _history_size(runtime.db, tenant.id) + OPEN_JOBS
    for work_order_id, complaint, category in orders:
        expected = next(name for pattern, name in CATEGORY_OF_COMPLAINT if pattern.search(complaint))
        assert category == expected, complaint
        assert labour[work_order_id] and all(
            re.search(LABOUR_OF_CATEGORY[category], line) for line in labour[work_order_id]
        ), (complaint, category, labour[work_order_id])


async def test_electric_cars_get_no_oil_exhaust_or_engine_items(runtime):
    """A reviewer found an oil-change schedule on a VW ID.4 and a catalytic converter's code on an Enyaq."""
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        electric = select(Vehicle.id).where(Vehicle.fuel_type == "ELECTRIC")
        schedules = set(
            await session.scalars(
                select(MaintenanceSchedule.service_type)
                .join(VehicleMaintenance, VehicleMaintenance.schedule_id == MaintenanceSchedule.id)
                .where(VehicleMaintenance.vehicle_id.in_(electric))
            )
        )
        lines = set(
            await session.scalars(
                select(WorkOrderLine.description)
                .join(WorkOrder, WorkOrder.id == WorkOrderLine.work_order_id)
                .where(WorkOrder.vehicle_id.in_(electric))
            )
        )
        complaints = set(
            await session.scalars(select(WorkOrder.complaint).where(WorkOrder.vehicle_id.in_(electric)))
        )
        alerts = set(
            await session.scalars(select(VehicleAlert.condition).where(VehicleAlert.vehicle_id.in_(electric)))
        )
        engine_readings = await session.scalar(
            select(func.count())
            .select_from(TelemetryReading)
            .where(
                TelemetryReading.vehicle_id.in_(electric),
                (TelemetryReading.engine_temp_c.is_not(None)) | (TelemetryReading.fuel_level.is_not(None)),
            )
        )
        cars = await session.scalar(select(func.count()).select_from(electric.subquery()))
        oil_elsewhere = await session.scalar(
            select(func.count())
            .select_from(VehicleMaintenance)
            .join(MaintenanceSchedule, MaintenanceSchedule.id == VehicleMaintenance.schedule_id)
            .where(MaintenanceSchedule.service_type == "Ölwechsel")
        )

    assert (cars or 0) > 5 and schedules and lines  # the demo has electric cars, serviced
    assert [name for name in schedules | lines | complaints if ENGINE_WORDS.search(name)] == []
    assert [
        condition for condition in alerts if condition.startswith("dtc:P04") or "engine" in condition
    ] == []
    assert engine_readings == 0
    assert (oil_elsewhere or 0) > 30  # the cars with an engine still get theirs


async def test_each_cars_odometer_only_goes_up_over_time(runtime):
    """Readings, services done and check-ins of one car: a later day never shows fewer kilometres."""
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        zone = ZoneInfo(tenant.timezone)
        marks: dict[int, list[tuple[date, int, str]]] = {}
        for vehicle_id, at, metres in await session.execute(
            select(TelemetryReading.vehicle_id, TelemetryReading.recorded_at, TelemetryReading.odometer_m)
        ):
            marks.setdefault(vehicle_id, []).append((at.astimezone(zone).date(), metres // 1000, "reading"))
        for vehicle_id, on, km in await session.execute(
            select(
                VehicleMaintenance.vehicle_id,
                VehicleMaintenance.last_done_on,
                VehicleMaintenance.last_done_km,
            ).where(VehicleMaintenance.last_done_on.is_not(None))
        ):
            marks.setdefault(vehicle_id, []).append((on, km, "service"))
        for vehicle_id, at, km in await session.execute(
            select(WorkOrder.vehicle_id, WorkOrder.checked_in_at, WorkOrder.odometer_in_km).where(
                WorkOrder.odometer_in_km.is_not(None)
            )
        ):
            marks.setdefault(vehicle_id, []).append((at.astimezone(zone).date(), km, "check-in"))
        today = utcnow().astimezone(zone).date()
        for vehicle_id, km in await session.execute(select(Vehicle.id, Vehicle.odometer_km)):
            marks.setdefault(vehicle_id, []).append((today, km, "now"))

    backwards = []
    for vehicle_id, points in marks.items():
        points.sort()
        for earlier, later in itertools.pairwise(points):
            if later[0] > earlier[0] and later[1] < earlier[1]:
                backwards.append((vehicle_id, earlier, later))
    assert sum(len(points) > 2 for points in marks.values()) > 70
    assert backwards == []


async def test_last_service_and_last_seen_agree_with_the_records_shown_beside_them(runtime, client):
    """A reviewer saw 'Last service —' above a maintenance table with dates, and 'Last seen: Never' for
    trackers whose readings and alerts were on the same page."""
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        last_done = dict(
            (
                await session.execute(
                    select(VehicleMaintenance.vehicle_id, func.max(VehicleMaintenance.last_done_on)).group_by(
                        VehicleMaintenance.vehicle_id
                    )
                )
            ).all()
        )
        last_service = dict((await session.execute(select(Vehicle.id, Vehicle.last_service_on))).all())
        devices = (
            await session.execute(
                select(TelematicsDevice.last_seen_at, func.max(TelemetryReading.received_at))
                .join(TelemetryReading, TelemetryReading.vehicle_id == TelematicsDevice.vehicle_id)
                .group_by(TelematicsDevice.id, TelematicsDevice.last_seen_at)
            )
        ).all()

    assert len(last_done) > 70
    for vehicle_id, done_on in last_done.items():
        if done_on is not None:
            assert last_service[vehicle_id] is not None and last_service[vehicle_id] >= done_on, vehicle_id
    assert len(devices) == 10 and all(seen == received for seen, received in devices)

    await sign_in(client, "admin@demo.test", DEMO_PASSWORD)
    page = await (await client.get("/vehicles/telematics")).get_data(as_text=True)
    table = re.search(r'class="stack telematics-devices".*?</table>', page, re.S)
    assert table and table.group(0).count("<tr>") == 11 and "Never" not in table.group(0)


async def test_the_seeded_workshop_kpis_read_like_a_real_workshop(runtime):
    """A manager opening the demo read an efficiency of 365 %: the jobs done today were invoiced with
    no time clocked on them. Billed and clocked hours now agree, period by period."""
    from ops.workshop.kpis import queries as kpis

    tenant = await _demo(runtime)
    now = utcnow()
    for key in ("week", "month"):
        period = kpis.period_for(key, now, tenant.timezone)
        async with runtime.db.read(tenant.id) as session:
            panel = await kpis.kpi_panel(session, period, tenant.labour_rate, now)
        efficiency, first_time_fix = panel.efficiency.value, panel.first_time_fix.value
        mean_time_to_repair = panel.mean_time_to_repair_hours

        assert efficiency is not None and Decimal("0.85") <= efficiency <= Decimal("1.10"), (key, efficiency)
        assert first_time_fix is not None and Decimal("0.9") <= first_time_fix <= 1, (key, first_time_fix)
        assert mean_time_to_repair is not None and 0.5 <= mean_time_to_repair <= 3, (key, mean_time_to_repair)


# The hour from which today's utilisation has enough shift hours behind it to be judged (see below).
TODAY_JUDGED_FROM = time(11, 0)


async def test_the_demo_workshop_is_as_busy_as_a_real_one(runtime):
    """A manager read a utilisation of 5 % for the month and 24 % for today in the demo (60 jobs in six
    weeks for six technicians and six bays): no workshop runs like that. The past weeks now clock about
    three quarters of the shift hours, as a busy workshop does.

    The rule for today, whatever the hour the tests run: the workshop works Monday to Friday within the
    technicians' shifts (the first begins at 07:00). At weekends and before the first shift begins,
    today has no available hours: no data. On a working day today never exceeds 100 % (nothing is
    clocked outside a shift), and from 11:00 on it is at least 55 %; before that the few shift hours so
    far may hold little work yet. The month: the past four weeks always lie between 55 % and 90 %, and
    so does the calendar month so far once it holds five working days before today (before that it is
    mostly today)."""
    from ops.workshop.kpis import queries as kpis

    tenant = await _demo(runtime)
    now = utcnow()
    zone = ZoneInfo(tenant.timezone)
    local = now.astimezone(zone)

    async def utilisation(period: kpis.Period) -> Decimal | None:
        async with runtime.db.read(tenant.id) as session:
            panel = await kpis.kpi_panel(session, period, tenant.labour_rate, now)
        return panel.utilisation.value

    four_weeks_ago = datetime.combine(local.date() - timedelta(days=28), time(0), zone).astimezone(UTC)
    past_four_weeks = await utilisation(kpis.Period("month", four_weeks_ago, now, now, zone))
    assert past_four_weeks is not None and Decimal("0.55") <= past_four_weeks <= Decimal("0.90")

    month = kpis.period_for("month", now, tenant.timezone)
    days_before_today = (local.date() - month.first_day).days
    working_days = sum((month.first_day + timedelta(days=n)).weekday() < 5 for n in range(days_before_today))
    if working_days >= 5:
        value = await utilisation(month)
        assert value is not None and Decimal("0.55") <= value <= Decimal("0.90"), value

    today = await utilisation(kpis.period_for("today", now, tenant.timezone))
    first_shift = min(start for _skills, start, _end in TECHNICIAN_PROFILES.values())
    if local.weekday() >= 5 or local.time() < first_shift:
        assert today is None
    elif local.time() >= TODAY_JUDGED_FROM:
        assert today is not None and Decimal("0.55") <= today <= 1, today
    else:
        assert today is not None and today <= 1, today


class Planned(NamedTuple):
    zone: ZoneInfo
    now: datetime
    team: dict[int, PlannedTechnician]
    open_jobs: list[OpenJob]
    work: OpenWork
    past: list[PastJob]


def _planned_at(moment: str) -> Planned:
    """The demo's board and past weeks as the seed plans them at `moment` (Zurich time), with no database."""
    zone = ZoneInfo("Europe/Zurich")
    now = datetime.fromisoformat(moment).replace(tzinfo=zone).astimezone(UTC)
    team = planned_team({email: number for number, email in enumerate(TECHNICIAN_PROFILES, start=1)})
    bays = [(number, kind) for number, (_name, kind) in enumerate(BAYS, start=1)]
    fuels = [fuel for _make, _model, fuel, _wmi, _year in MODELS]
    fuel_of = {car: fuels[car % len(fuels)] for car in range(1, 1300)}
    rng = random.Random(1)
    open_jobs = []
    free_bays = [bay for bay, _kind in bays]
    for index, status in enumerate([*OPEN_BOARD, "CLOSED", "CLOSED"]):
        job = job_for(fuel_of[index + 1], index)
        in_bay = any(step in IN_BAY_STATUSES for step in path_to(status))
        bay = (free_bays.pop(0) if status in IN_BAY_STATUSES else free_bays[0]) if in_bay else None
        open_jobs.append(OpenJob(status, None if status == "NEW" else 1 + index % 6, job, bay))
    work = plan_open_work(open_jobs, team, now, zone, rng)
    past = plan_history(
        working_days(now.astimezone(zone).date(), HISTORY_WEEKS),
        now,
        zone,
        team,
        bays,
        list(range(31, 1300)),
        fuel_of,
        work,
        rng,
    )
    return Planned(zone, now, team, open_jobs, work, past)


@pytest.mark.parametrize(
    "moment",
    ["2026-11-24 03:00", "2026-11-24 10:30", "2026-11-24 20:00", "2026-11-29 15:00", "2026-11-30 07:45"],
)
def test_the_plan_clocks_nothing_outside_the_shifts(moment):
    """Whatever the hour the seed runs (at night, on a Sunday, at a shift's start): its history and the
    board's jobs lie within the shifts of working days, up to now, and a clock runs only for a technician
    on shift. The board's finished jobs were completed as their clock stopped (seeded at 03:00, the
    evening before: they once were clocked just before the seed ran, and today's utilisation read over
    100 % in the early morning), and the closed ones collected after that."""
    zone, now, team, open_jobs, work, past = _planned_at(moment)

    def within_a_shift(technician_id: int, start: datetime, end: datetime) -> bool:
        day = start.astimezone(zone).date()
        shift_start, shift_end = team[technician_id].shift_on(day, zone)
        return day.weekday() < 5 and shift_start <= start and end <= shift_end

    assert len(past) > 30 * 30
    assert [job for job in past if not within_a_shift(job.technician_id, job.clock_on, job.completed)] == []
    assert max(job.closed for job in past) < now
    for index, technician_id, started, ended in work.slots:
        if ended is None:
            assert team[technician_id].on_shift(now, zone) and started < now
        else:
            assert within_a_shift(technician_id, started, ended), (index, started, ended)
        assert (ended or now) <= now
    finished = {index for index, job in enumerate(open_jobs) if job.status in ("READY", "CLOSED")}
    assert set(work.completed) == finished
    for index in finished:
        clock_off = max(ended for slot, _tid, _started, ended in work.slots if slot == index and ended)
        assert clock_off < work.completed[index] <= clock_off + timedelta(minutes=10)
        if open_jobs[index].status == "CLOSED":
            assert work.completed[index] < work.collected[index] < now
    assert set(work.collected) == {index for index in finished if open_jobs[index].status == "CLOSED"}


@pytest.mark.parametrize(
    "moment", ["2026-11-23 07:00", "2026-11-25 12:00", "2026-11-29 15:00", "2026-12-31 18:00"]
)
def test_whatever_the_day_a_few_invoices_are_open_and_a_few_overdue(moment):
    """The seed's calendar moves with the day it runs: a Monday morning, midweek, a Sunday, New Year's Eve
    all leave a few percent of the invoices open, some of them overdue, each paid one paid after it was
    issued and before now, and every business's by transfer."""
    zone, now, _team, _open_jobs, _work, past = _planned_at(moment)
    issued = sorted(past, key=lambda job: job.completed)
    invoices = [
        Invoiced(number, job.completed, job.closed, 30, number % 25 == 0)
        for number, job in enumerate(issued, start=1)
    ]

    planned = plan_payments(invoices, now, zone, random.Random(HISTORY_SEED))

    unpaid = [invoice for invoice, plan in zip(invoices, planned, strict=True) if plan.paid_at is None]
    overdue = [invoice for invoice in unpaid if invoice.issued_at + timedelta(days=30) < now]
    assert 0.01 <= len(unpaid) / len(invoices) <= 0.06 and 1 <= len(overdue) <= 10, (
        len(unpaid),
        len(overdue),
    )
    for invoice, plan in zip(invoices, planned, strict=True):
        assert plan.paid_at is None or invoice.issued_at < plan.paid_at < now
        assert plan.asked_at is None or invoice.issued_at < plan.asked_at < (plan.paid_at or now)
        assert plan.method == "BANK_TRANSFER" or not invoice.business
    references = [plan.reference for plan in planned if plan.paid_at is not None]
    assert len(set(references)) == len(references) and all(references)


@pytest.mark.parametrize(
    ("moment", "slots"),
    [
        ("2026-11-24 10:10", ["Tue 11:00", "Tue 12:00"]),
        ("2026-11-24 20:30", ["Wed 07:00", "Wed 08:00"]),
        ("2026-11-27 14:30", ["Fri 15:00", "Mon 07:00"]),
        ("2026-11-29 03:00", ["Mon 07:00", "Mon 08:00"]),
    ],
)
def test_the_board_s_booked_jobs_get_slots_in_the_workshop_s_next_hours(moment, slots):
    """A demo seeded in the evening booked its scheduled jobs for 21:00 to 01:00 on the bays."""
    from ops.seed.board import working_hour_after

    zone = ZoneInfo("Europe/Zurich")
    now = datetime.fromisoformat(moment).replace(tzinfo=zone)

    starts = [working_hour_after(now, count, zone).astimezone(zone) for count in (1, 2)]

    assert [start.strftime("%a %H:%M") for start in starts] == slots
