"""Read models of quotes: the configurator's catalog, a quote with every figure and its history, the
quote list, the managers' approval queue, and what the customer sees behind the signed link.

A quote's figures are priced again from its inputs with `pricing.price_quote`, the function that
priced it when it was saved, so the page, the mail and the public page show lines that add up to the
stored totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.auth.models import User
from ops.customers.models import Customer
from ops.events import Event
from ops.paging import Page
from ops.sales.models import CatalogOption, CatalogTrim, Lead, OptionGroup, Quote, StockUnit
from ops.sales.quotes.pricing import ApprovalReason, QuotePrice, approval_reasons, decode_reasons, price_quote
from ops.tenants.models import Tenant

PAGE_SIZE = 20
HISTORY_LIMIT = 100


# --- The catalog of one trim ------------------------------------------------------------------------


@dataclass(frozen=True)
class Trim:
    id: int
    make: str
    model: str
    year: int
    trim: str
    msrp: Decimal
    active: bool

    @property
    def label(self) -> str:
        return f"{self.make} {self.model} {self.trim} ({self.year})"


@dataclass(frozen=True)
class GroupRow:
    id: int
    name: str
    min_select: int
    max_select: int


@dataclass(frozen=True)
class OptionRow:
    id: int
    group_id: int
    code: str
    name: str
    price: Decimal
    cost: Decimal
    requires: list[str]
    conflicts: list[str]


@dataclass(frozen=True)
class Catalog:
    trim: Trim
    groups: list[GroupRow]
    options: list[OptionRow]

    def options_of(self, group_id: int) -> list[OptionRow]:
        return [option for option in self.options if option.group_id == group_id]

    def names(self, codes: list[str]) -> str:
        """Options named by code, as a person reads them ("19-inch wheels, Towbar")."""
        by_code = {option.code: option.name for option in self.options}
        return ", ".join(by_code.get(code, code) for code in codes)

    def chosen(self, codes: list[str]) -> list[OptionRow]:
        picked = set(codes)
        return [option for option in self.options if option.code in picked]


def _trim(row: CatalogTrim) -> Trim:
    return Trim(row.id, row.make, row.model, row.year, row.trim, row.msrp, row.active)


async def catalog(session: AsyncSession, trim_id: int) -> Catalog | None:
    trim = await session.scalar(select(CatalogTrim).where(CatalogTrim.id == trim_id))
    if trim is None:
        return None
    groups = [
        GroupRow(group.id, group.name, group.min_select, group.max_select)
        for group in await session.scalars(
            select(OptionGroup)
            .where(OptionGroup.trim_id == trim_id)
            .order_by(OptionGroup.position, OptionGroup.id)
        )
    ]
    options = [
        OptionRow(
            option.id,
            option.group_id,
            option.code,
            option.name,
            option.price,
            option.cost,
            list(option.requires or []),
            list(option.conflicts or []),
        )
        for option in await session.scalars(
            select(CatalogOption)
            .join(OptionGroup, OptionGroup.id == CatalogOption.group_id)
            .where(OptionGroup.trim_id == trim_id)
            .order_by(OptionGroup.position, OptionGroup.id, CatalogOption.price, CatalogOption.id)
        )
    ]
    return Catalog(_trim(trim), groups, options)


async def trims(session: AsyncSession) -> list[Trim]:
    rows = await session.scalars(
        select(CatalogTrim)
        .where(CatalogTrim.active.is_(True))
        .order_by(CatalogTrim.make, CatalogTrim.model, CatalogTrim.year.desc(), CatalogTrim.trim)
    )
    return [_trim(row) for row in rows]


# --- Pricing a stored quote -------------------------------------------------------------------------


def rows_of(entries: list[dict[str, Any]]) -> list[tuple[str, Decimal]]:
    """Accessories or fees as stored ([{name, price}], the price a string) as (name, Decimal)."""
    return [(str(entry["name"]), Decimal(str(entry["price"]))) for entry in entries]


def price_of(quote: Quote, options: list[OptionRow], currency: str, vehicle_name: str = "") -> QuotePrice:
    """A stored quote's figures, from its inputs and the options it names."""
    picked = set(quote.option_codes or [])
    chosen = [option for option in options if option.code in picked]
    return price_quote(
        vehicle_price=quote.vehicle_price,
        options=[(option.name, option.price) for option in chosen],
        accessories=rows_of(quote.accessories or []),
        fees=rows_of(quote.fees or []),
        discount=quote.discount,
        trade_in_allowance=quote.trade_in_allowance,
        trade_in_payoff=quote.trade_in_payoff,
        vat_rate_percent=quote.vat_rate,
        currency=currency,
        down_payment=quote.down_payment,
        apr_percent=quote.apr_percent,
        term_months=quote.term_months,
        vehicle_cost=quote.vehicle_cost,
        options_cost=sum((option.cost for option in chosen), Decimal(0)),
        vehicle_name=vehicle_name,
    )


async def options_for(session: AsyncSession, quote: Quote) -> list[OptionRow]:
    if quote.trim_id is None or not quote.option_codes:
        return []
    found = await catalog(session, quote.trim_id)
    return found.options if found is not None else []


def model_name(trim: CatalogTrim | Trim | None) -> str:
    """The car as a customer names it (BMW iX1 xDrive30), without the unit's colour and VIN."""
    return f"{trim.make} {trim.model} {trim.trim}" if trim is not None else ""


def vehicle_label(trim: CatalogTrim | Trim | None, unit: StockUnit | None) -> str:
    if trim is None:
        return ""
    label = model_name(trim)
    if unit is not None:
        details = ", ".join(part for part in (unit.colour, f"VIN …{unit.vin[-6:]}") if part)
        return f"{label} ({details})"
    return f"{label} {trim.year}"


# --- One quote --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    type: str
    at: datetime
    actor_name: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class QuoteDetail:
    quote: Quote
    price: QuotePrice
    vehicle: str
    # The car without the unit's colour and VIN: what a mail's subject names.
    model: str
    customer_id: int
    customer_name: str
    customer_email: str | None
    customer_language: str
    customer_reachable: bool
    lead_id: int
    rep_name: str
    requested_by_name: str
    decided_by_name: str
    discount_limit: Decimal
    margin_floor: Decimal
    # What the figures need now (empty: the quote may go out without a manager).
    reasons_now: list[ApprovalReason]
    history: list[HistoryEntry]

    @property
    def needs_approval(self) -> bool:
        return bool(self.reasons_now)


async def _user_names(session: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    wanted = {user_id for user_id in ids if user_id is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    return {row.id: row.name for row in rows}


async def history(session: AsyncSession, quote_id: int) -> list[HistoryEntry]:
    """The quote's events, newest first (the audit trail: who did what and when)."""
    rows = await session.scalars(
        select(Event)
        .where(Event.type.like("quote.%"), Event.payload["id"].as_integer() == quote_id)
        .order_by(Event.id.desc())
        .limit(HISTORY_LIMIT)
    )
    return [HistoryEntry(row.type, row.created_at, row.actor_name, dict(row.payload)) for row in rows]


async def quote_detail(session: AsyncSession, quote_id: int) -> QuoteDetail | None:
    row = (
        await session.execute(
            select(Quote, Customer, Tenant)
            .join(Customer, Customer.id == Quote.customer_id)
            .join(Tenant, Tenant.id == Quote.tenant_id)
            .where(Quote.id == quote_id)
        )
    ).one_or_none()
    if row is None:
        return None
    quote, customer, tenant = row
    unit = (
        await session.scalar(select(StockUnit).where(StockUnit.id == quote.stock_unit_id))
        if quote.stock_unit_id is not None
        else None
    )
    trim_id = unit.trim_id if unit is not None else quote.trim_id
    trim = await session.scalar(select(CatalogTrim).where(CatalogTrim.id == trim_id))
    vehicle = vehicle_label(trim, unit)
    price = price_of(quote, await options_for(session, quote), tenant.currency, vehicle)
    names = await _user_names(
        session, {quote.created_by_id, quote.approval_requested_by_id, quote.decided_by_id}
    )
    return QuoteDetail(
        quote=quote,
        price=price,
        vehicle=vehicle,
        model=model_name(trim),
        customer_id=customer.id,
        customer_name=customer.display_name,
        customer_email=customer.email,
        customer_language=customer.preferred_language,
        customer_reachable=bool(customer.email)
        and not customer.do_not_contact
        and customer.erased_at is None,
        lead_id=quote.lead_id,
        rep_name=names.get(quote.created_by_id or 0, ""),
        requested_by_name=names.get(quote.approval_requested_by_id or 0, ""),
        decided_by_name=names.get(quote.decided_by_id or 0, ""),
        discount_limit=tenant.discount_approval_percent,
        margin_floor=tenant.margin_floor_percent,
        reasons_now=approval_reasons(price, tenant.discount_approval_percent, tenant.margin_floor_percent),
        history=await history(session, quote.id),
    )


async def quote_exists(session: AsyncSession, quote_id: int) -> bool:
    return await session.scalar(select(Quote.id).where(Quote.id == quote_id)) is not None


# --- Lists ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuoteRow:
    id: int
    code: str
    status: str
    customer_name: str
    vehicle: str
    total: Decimal
    rep_name: str
    valid_until: date | None
    created_at: datetime


def _row_query() -> Any:
    return (
        select(Quote, Customer, CatalogTrim, StockUnit, User.name)
        .join(Customer, Customer.id == Quote.customer_id)
        .outerjoin(StockUnit, StockUnit.id == Quote.stock_unit_id)
        .outerjoin(CatalogTrim, CatalogTrim.id == func.coalesce(StockUnit.trim_id, Quote.trim_id))
        .outerjoin(User, User.id == Quote.created_by_id)
    )


def _quote_row(row: Any) -> QuoteRow:
    quote, customer, trim, unit, rep_name = row
    return QuoteRow(
        quote.id,
        quote.code,
        quote.status,
        customer.display_name,
        vehicle_label(trim, unit),
        quote.total,
        rep_name or "",
        quote.valid_until,
        quote.created_at,
    )


@dataclass(frozen=True)
class QuoteList:
    rows: list[QuoteRow]
    page: Page


async def quote_list(session: AsyncSession, *, status: str = "", page: int = 1) -> QuoteList:
    condition = Quote.status == status if status else Quote.id.is_not(None)
    total = int(await session.scalar(select(func.count()).select_from(Quote).where(condition)) or 0)
    pager = Page.of(page, total, PAGE_SIZE)
    rows = await session.execute(
        _row_query()
        .where(condition)
        .order_by(Quote.created_at.desc(), Quote.id.desc())
        .offset((pager.number - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return QuoteList([_quote_row(row) for row in rows], pager)


@dataclass(frozen=True)
class ApprovalRow:
    quote: QuoteRow
    version: int
    reasons: list[ApprovalReason]
    discount: Decimal
    gross_margin: Decimal
    requested_by_name: str
    requested_at: datetime | None


async def approval_queue(session: AsyncSession) -> list[ApprovalRow]:
    """Every quote waiting for a manager, the longest waiting first."""
    rows = (
        await session.execute(_row_query().where(Quote.status == "PENDING_APPROVAL").order_by(Quote.id))
    ).all()
    if not rows:
        return []
    ids = [row[0].id for row in rows]
    quote_id = Event.payload["id"].as_integer()
    requested = {
        int(found_id): at
        for found_id, at in await session.execute(
            select(quote_id, func.max(Event.created_at))
            .where(Event.type == "quote.approval_requested", quote_id.in_(ids))
            .group_by(quote_id)
        )
    }
    names = await _user_names(session, {row[0].approval_requested_by_id for row in rows})
    queue = [
        ApprovalRow(
            quote=_quote_row(row),
            version=row[0].version,
            reasons=decode_reasons(row[0].approval_reason),
            discount=row[0].discount,
            gross_margin=row[0].gross_margin,
            requested_by_name=names.get(row[0].approval_requested_by_id or 0, ""),
            requested_at=requested.get(row[0].id),
        )
        for row in rows
    ]
    return sorted(
        queue, key=lambda item: (item.requested_at is None, item.requested_at or datetime.max, item.quote.id)
    )


# --- What the customer sees -------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicQuote:
    id: int
    code: str
    status: str
    nonce: str | None
    valid_until: date | None
    sent_at: datetime | None
    accepted_at: datetime | None
    dealership: str
    country: str
    timezone: str
    currency: str
    vat_rate: Decimal
    vehicle: str
    model: str
    customer_name: str
    customer_email: str | None
    customer_language: str
    rep_id: int | None
    customer_id: int
    price: QuotePrice


async def public_quote(session: AsyncSession, quote_id: int) -> PublicQuote | None:
    detail = await quote_detail(session, quote_id)
    if detail is None:
        return None
    tenant = await session.scalar(select(Tenant).where(Tenant.id == detail.quote.tenant_id))
    assert tenant is not None
    quote = detail.quote
    return PublicQuote(
        id=quote.id,
        code=quote.code,
        status=quote.status,
        nonce=quote.link_nonce,
        valid_until=quote.valid_until,
        sent_at=quote.sent_at,
        accepted_at=quote.accepted_at,
        dealership=tenant.name,
        country=tenant.country,
        timezone=tenant.timezone,
        currency=tenant.currency,
        vat_rate=quote.vat_rate,
        vehicle=detail.vehicle,
        model=detail.model,
        customer_name=detail.customer_name,
        customer_email=detail.customer_email,
        customer_language=detail.customer_language,
        rep_id=quote.created_by_id,
        customer_id=detail.customer_id,
        price=detail.price,
    )


async def lead_for_quote(session: AsyncSession, lead_id: int) -> tuple[Lead, Customer] | None:
    row = (
        await session.execute(
            select(Lead, Customer).join(Customer, Customer.id == Lead.customer_id).where(Lead.id == lead_id)
        )
    ).one_or_none()
    return (row[0], row[1]) if row is not None else None


@dataclass(frozen=True)
class UnitChoice:
    id: int
    label: str
    list_price: Decimal
    status: str
    trim_id: int


async def quotable_units(session: AsyncSession) -> list[UnitChoice]:
    """Units a quote can be made for: in stock or on their way, not in a deal."""
    rows = await session.execute(
        select(StockUnit, CatalogTrim)
        .join(CatalogTrim, CatalogTrim.id == StockUnit.trim_id)
        .where(StockUnit.status.in_(QUOTABLE_UNIT_STATUSES), StockUnit.deal_id.is_(None))
        .order_by(CatalogTrim.make, CatalogTrim.model, StockUnit.list_price, StockUnit.id)
        .limit(500)
    )
    return [
        UnitChoice(unit.id, vehicle_label(trim, unit), unit.list_price, unit.status, trim.id)
        for unit, trim in rows
    ]


QUOTABLE_UNIT_STATUSES = ("INCOMING", "AVAILABLE", "RESERVED", "DEMO")
