"""Read models for the CRM pages: the search, one customer with consent, the timeline, follow-ups.

The timeline reads other areas' tables (leads, quotes, deals, vehicles, work orders, invoices) read-only:
it is a read model of everything the dealership did with one customer, and owns none of those rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import phonenumbers
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.auth.models import User
from ops.customers.models import CONSENT_CHANNELS, Consent, Customer, Interaction
from ops.customers.service import OPEN_INTERACTION_STATUSES, OWNER_ROLES, current_consents, format_phone
from ops.paging import Page
from ops.sales.models import Deal, Lead, Quote
from ops.tenants.models import Tenant
from ops.vehicles.models import Vehicle
from ops.workshop.models import Invoice, WorkOrder, format_work_order_number

PAGE_SIZE = 20
TIMELINE_PAGE_SIZE = 25


# --- The search ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerRow:
    id: int
    name: str
    company_name: str | None
    type: str
    status: str
    email: str | None
    phone: str
    city: str | None
    owner_name: str | None
    do_not_contact: bool
    erased: bool


@dataclass(frozen=True)
class CustomerList:
    rows: list[CustomerRow]
    page: Page


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _phone_digits(word: str, region: str) -> list[str]:
    """Digit strings a stored E.164 number would contain if it is the number typed.

    "079 123 45 67" is +41791234567 in Switzerland: its E.164 digits, and the digits without the trunk
    zero for a part of a number ("4567", "079 123").
    """
    digits = re.sub(r"\D", "", word)
    if len(digits) < 3:
        return []
    candidates = {digits.lstrip("0") or digits}
    try:
        number = phonenumbers.parse(word, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        candidates.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:])
    return sorted(candidates)


def _word_matches(word: str, region: str) -> ColumnElement[bool]:
    pattern = _like(word)
    text_columns = (
        Customer.first_name,
        Customer.last_name,
        Customer.company_name,
        Customer.email,
        Customer.uid,
        Customer.city,
    )
    conditions: list[ColumnElement[bool]] = [
        func.lower(func.coalesce(column, "")).like(pattern, escape="\\") for column in text_columns
    ]
    conditions += [Customer.phone.like(f"%{digits}%") for digits in _phone_digits(word, region)]
    return or_(*conditions)


def _search_terms(search: str) -> list[str]:
    """Words to match, except that a phone number typed with spaces ("079 123 45 67") is one term."""
    stripped = search.strip()
    if re.fullmatch(r"[+\d][\d\s()./-]{2,}", stripped):
        return [stripped]
    return stripped.split()


async def _tenant_country(session: AsyncSession) -> str:
    tenant_id = session.info.get("tenant_id")
    country = await session.scalar(select(Tenant.country).where(Tenant.id == tenant_id))
    return country or "CH"


async def search_customers(session: AsyncSession, q: str, page: int = 1) -> CustomerList:
    """Customers by last name; every word typed must match a name, company, email, UID, city or phone."""
    terms = _search_terms(q[:100])
    region = await _tenant_country(session) if any(re.search(r"\d", term) for term in terms) else "CH"
    conditions = [_word_matches(term, region) for term in terms]
    total = int(await session.scalar(select(func.count()).select_from(Customer).where(*conditions)) or 0)
    current = Page.of(page, total, PAGE_SIZE)
    rows = await session.execute(
        select(Customer, User.name)
        .outerjoin(User, User.id == Customer.owner_id)
        .where(*conditions)
        .order_by(func.lower(Customer.last_name), func.lower(Customer.first_name), Customer.id)
        .offset(current.offset)
        .limit(current.size)
    )
    return CustomerList(
        [
            CustomerRow(
                id=customer.id,
                name=f"{customer.first_name} {customer.last_name}",
                company_name=customer.company_name,
                type=customer.type,
                status=customer.status,
                email=customer.email,
                phone=format_phone(customer.phone),
                city=customer.city,
                owner_name=owner_name,
                do_not_contact=customer.do_not_contact,
                erased=customer.erased_at is not None,
            )
            for customer, owner_name in rows
        ],
        current,
    )


# --- One customer --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentState:
    channel: str
    granted: bool | None  # None: never asked
    at: datetime | None
    source: str
    recorded_by: str | None


@dataclass(frozen=True)
class ConsentEntry:
    channel: str
    granted: bool
    at: datetime
    source: str
    recorded_by: str | None


@dataclass(frozen=True)
class CustomerProfile:
    customer: Customer
    phone: str
    owner_name: str | None
    consents: list[ConsentState]
    history: list[ConsentEntry]

    @property
    def erased(self) -> bool:
        return self.customer.erased_at is not None


async def customer_exists(session: AsyncSession, customer_id: int) -> bool:
    return await session.scalar(select(Customer.id).where(Customer.id == customer_id)) is not None


async def customer(session: AsyncSession, customer_id: int) -> Customer | None:
    return (await session.execute(select(Customer).where(Customer.id == customer_id))).scalar_one_or_none()


async def customer_profile(session: AsyncSession, customer_id: int) -> CustomerProfile | None:
    found = await customer(session, customer_id)
    if found is None:
        return None
    owner_name = (
        await session.scalar(select(User.name).where(User.id == found.owner_id)) if found.owner_id else None
    )
    latest = await current_consents(session, customer_id)
    recorders = select(Consent.recorded_by_id).where(Consent.customer_id == customer_id)
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(recorders)))
    names = {user_id: name for user_id, name in rows}
    states = []
    for channel in CONSENT_CHANNELS:
        row = latest.get(channel)
        states.append(
            ConsentState(
                channel,
                None if row is None else row.granted,
                None if row is None else row.at,
                "" if row is None else row.source,
                None if row is None or row.recorded_by_id is None else names.get(row.recorded_by_id),
            )
        )
    history_rows = await session.scalars(
        select(Consent).where(Consent.customer_id == customer_id).order_by(Consent.id.desc())
    )
    history = [
        ConsentEntry(
            row.channel,
            row.granted,
            row.at,
            row.source,
            names.get(row.recorded_by_id) if row.recorded_by_id else None,
        )
        for row in history_rows
    ]
    return CustomerProfile(found, format_phone(found.phone), owner_name, states, history)


async def may_contact(session: AsyncSession, customer_id: int, channel: str) -> bool:
    """Whether marketing may reach the customer on a channel: consent given, not erased, not blocked."""
    found = await customer(session, customer_id)
    if found is None or found.erased_at is not None or found.do_not_contact:
        return False
    consent = (await current_consents(session, customer_id)).get(channel.upper())
    return consent is not None and consent.granted


@dataclass(frozen=True)
class Owner:
    id: int
    name: str


async def owner_choices(session: AsyncSession) -> list[Owner]:
    rows = await session.execute(
        select(User.id, User.name)
        .where(User.active.is_(True), User.role.in_(OWNER_ROLES))
        .order_by(func.lower(User.name), User.id)
    )
    return [Owner(user_id, name) for user_id, name in rows]


# --- The timeline --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened with the customer; `kind` says which area it comes from."""

    kind: str  # interaction | lead | quote | deal | vehicle | work_order
    id: int
    at: datetime
    title: str
    status: str | None = None
    amount: Decimal | None = None
    detail: str = ""
    body: str = ""
    channel: str | None = None
    follow_up_on: date | None = None
    author: str | None = None


@dataclass(frozen=True)
class Timeline:
    entries: list[TimelineEntry]
    page: Page


async def customer_timeline(session: AsyncSession, customer_id: int, page: int = 1) -> Timeline:
    """Interactions, leads, quotes, deals, vehicles and workshop visits, newest first, 25 a page.

    Each source is read newest first up to the end of the page asked for, then merged: a page costs
    six small ordered queries, however long the customer's history.
    """
    sources = (
        (Interaction, Interaction.customer_id == customer_id, Interaction.created_at),
        (Lead, Lead.customer_id == customer_id, Lead.created_at),
        (Quote, Quote.customer_id == customer_id, Quote.created_at),
        (Deal, Deal.customer_id == customer_id, Deal.created_at),
        (Vehicle, Vehicle.customer_id == customer_id, Vehicle.created_at),
        (WorkOrder, WorkOrder.customer_id == customer_id, WorkOrder.created_at),
    )
    total = 0
    for model, condition, _at in sources:
        total += int(await session.scalar(select(func.count()).select_from(model).where(condition)) or 0)
    current = Page.of(page, total, TIMELINE_PAGE_SIZE)
    reach = current.offset + current.size
    entries: list[TimelineEntry] = []
    entries += await _interactions(session, customer_id, reach)
    entries += await _leads(session, customer_id, reach)
    entries += await _quotes(session, customer_id, reach)
    entries += await _deals(session, customer_id, reach)
    entries += await _vehicles(session, customer_id, reach)
    entries += await _work_orders(session, customer_id, reach)
    entries.sort(key=lambda entry: (entry.at, entry.id), reverse=True)
    return Timeline(entries[current.offset : reach], current)


async def _interactions(session: AsyncSession, customer_id: int, limit: int) -> list[TimelineEntry]:
    rows = await session.execute(
        select(Interaction, User.name)
        .outerjoin(User, User.id == Interaction.owner_id)
        .where(Interaction.customer_id == customer_id)
        .order_by(Interaction.created_at.desc(), Interaction.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            kind="interaction",
            id=row.id,
            at=row.created_at,
            title=row.subject,
            status=row.status,
            detail=row.type,
            body=row.body,
            channel=row.channel,
            follow_up_on=row.follow_up_on,
            author=author,
        )
        for row, author in rows
    ]


async def _leads(session: AsyncSession, customer_id: int, limit: int) -> list[TimelineEntry]:
    rows = await session.execute(
        select(Lead, User.name)
        .outerjoin(User, User.id == Lead.owner_id)
        .where(Lead.customer_id == customer_id)
        .order_by(Lead.created_at.desc(), Lead.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            kind="lead",
            id=lead.id,
            at=lead.created_at,
            title=lead.interest_note,
            status=lead.stage,
            amount=lead.budget,
            detail=lead.source,
            author=owner,
        )
        for lead, owner in rows
    ]


async def _quotes(session: AsyncSession, customer_id: int, limit: int) -> list[TimelineEntry]:
    quotes = await session.scalars(
        select(Quote)
        .where(Quote.customer_id == customer_id)
        .order_by(Quote.created_at.desc(), Quote.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            kind="quote",
            id=quote.id,
            at=quote.created_at,
            title=quote.code,
            status=quote.status,
            amount=quote.total,
        )
        for quote in quotes
    ]


async def _deals(session: AsyncSession, customer_id: int, limit: int) -> list[TimelineEntry]:
    deals = await session.scalars(
        select(Deal)
        .where(Deal.customer_id == customer_id)
        .order_by(Deal.created_at.desc(), Deal.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            kind="deal",
            id=deal.id,
            at=deal.created_at,
            title=deal.code,
            status=deal.status,
            amount=deal.total,
        )
        for deal in deals
    ]


async def _vehicles(session: AsyncSession, customer_id: int, limit: int) -> list[TimelineEntry]:
    vehicles = await session.scalars(
        select(Vehicle)
        .where(Vehicle.customer_id == customer_id)
        .order_by(Vehicle.created_at.desc(), Vehicle.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            kind="vehicle",
            id=vehicle.id,
            at=vehicle.created_at,
            title=f"{vehicle.make} {vehicle.model} ({vehicle.year})",
            detail=" · ".join(part for part in (vehicle.plate, vehicle.vin) if part),
        )
        for vehicle in vehicles
    ]


async def _work_orders(session: AsyncSession, customer_id: int, limit: int) -> list[TimelineEntry]:
    rows = await session.execute(
        select(WorkOrder, Invoice.total, Vehicle.make, Vehicle.model, Vehicle.plate)
        .outerjoin(Invoice, Invoice.work_order_id == WorkOrder.id)
        .outerjoin(Vehicle, Vehicle.id == WorkOrder.vehicle_id)
        .where(WorkOrder.customer_id == customer_id)
        .order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            kind="work_order",
            id=order.id,
            at=order.created_at,
            title=format_work_order_number(order.number),
            status=order.status,
            amount=invoice_total,
            detail=" · ".join(part for part in (f"{make or ''} {model or ''}".strip(), plate) if part),
            body=order.complaint,
        )
        for order, invoice_total, make, model, plate in rows
    ]


# --- Follow-ups ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUp:
    id: int
    customer_id: int
    customer_name: str
    type: str
    channel: str
    subject: str
    follow_up_on: date
    status: str
    overdue: bool


@dataclass(frozen=True)
class FollowUpList:
    rows: list[FollowUp]
    page: Page


async def follow_ups(
    session: AsyncSession, owner_id: int, today: date, until: date, page: int = 1
) -> FollowUpList:
    """The owner's open interactions due by `until`, the most overdue first."""
    conditions = and_(
        Interaction.owner_id == owner_id,
        Interaction.status.in_(OPEN_INTERACTION_STATUSES),
        Interaction.follow_up_on.is_not(None),
        Interaction.follow_up_on <= until,
    )
    total = int(await session.scalar(select(func.count()).select_from(Interaction).where(conditions)) or 0)
    current = Page.of(page, total, PAGE_SIZE)
    rows = await session.execute(
        select(Interaction, Customer)
        .join(Customer, Customer.id == Interaction.customer_id)
        .where(conditions)
        .order_by(Interaction.follow_up_on, Interaction.id)
        .offset(current.offset)
        .limit(current.size)
    )
    return FollowUpList(
        [
            FollowUp(
                id=interaction.id,
                customer_id=customer_row.id,
                customer_name=customer_row.display_name,
                type=interaction.type,
                channel=interaction.channel,
                subject=interaction.subject,
                follow_up_on=interaction.follow_up_on,  # type: ignore[arg-type]
                status=interaction.status,
                overdue=interaction.follow_up_on < today,  # type: ignore[operator]
            )
            for interaction, customer_row in rows
        ],
        current,
    )
