"""Read models for invoices: one invoice with everything printed on it, and the paginated list with
what the customers still owe."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from ops.customers.models import Customer
from ops.db import UtcDateTime
from ops.i18n import locale_for
from ops.money import line_net
from ops.tenants.models import Tenant
from ops.vehicles.models import Vehicle
from ops.workshop.kpis.queries import seconds_between
from ops.workshop.models import Invoice, WorkOrder, format_invoice_number, format_work_order_number

PAGE_SIZE = 20
# The list's payment filters: the invoices not paid yet, and those of them past their due date.
PAYMENT_FILTERS = ("open", "overdue")
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class InvoiceLine:
    kind: str  # LABOUR | PART
    description: str
    quantity: Decimal
    unit: str  # "h" for labour, the part's unit (pc, l) for parts when the snapshot has it
    unit_price: Decimal
    net: Decimal


@dataclass(frozen=True)
class InvoiceDocument:
    """Everything an invoice shows, on screen, on paper and in the PDF."""

    id: int
    code: str
    issued_at: datetime
    currency: str
    dealership: str
    # The garage's street, and postal code with city; its VAT number (CHE-… MWST) when it has one.
    dealership_address: list[str]
    dealership_vat_number: str | None
    work_order_code: str
    customer_name: str | None
    customer_company: str | None
    customer_email: str | None
    customer_phone: str | None
    # Street, and postal code with city: the address lines of the letter.
    customer_address: list[str]
    plate: str | None
    vin: str
    vehicle: str
    odometer_km: int | None
    lines: list[InvoiceLine]
    labour_net: Decimal
    parts_net: Decimal
    net: Decimal
    vat_rate: Decimal
    vat: Decimal
    total: Decimal
    payment_terms_days: int
    # Whom the invoice is written for: the customer's language (the dealership's when there is no
    # customer), with the dealership's country for formats and its timezone for the dates.
    customer_language: str | None
    country: str | None
    timezone: str

    @property
    def filename(self) -> str:
        return f"{self.code}.pdf"

    @property
    def due_at(self) -> datetime:
        return self.issued_at + timedelta(days=self.payment_terms_days)


def customer_locale(invoice: InvoiceDocument) -> str:
    """The invoice is the customer's document: their language (English when it is not one of
    ops.i18n.LANGUAGES), with dates and money as in the dealership's country, whoever reads it."""
    return locale_for(invoice.customer_language, invoice.country)


def _decimal(value: Any) -> Decimal:
    # The snapshot keeps amounts as strings so that JSON never turns them into floats.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def snapshot_line(raw: dict[str, Any], currency: str) -> InvoiceLine:
    """One line of the invoice's JSON snapshot, as written by completion."""
    kind = str(raw.get("kind", "PART"))
    quantity = _decimal(raw.get("quantity", "0"))
    unit_price = _decimal(raw.get("unit_price", "0"))
    net = raw.get("net")
    return InvoiceLine(
        kind=kind,
        description=str(raw.get("description", "")),
        quantity=quantity,
        # Older snapshots name no unit for parts: better none than a wrong one (litres are not pieces).
        unit=str(raw.get("unit") or ("h" if kind == "LABOUR" else "")),
        unit_price=unit_price,
        net=_decimal(net) if net is not None else line_net(quantity, unit_price, currency),
    )


def _address_lines(
    street: str | None, postal_code: str | None, city: str | None, country: str | None
) -> list[str]:
    town = " ".join(part for part in (postal_code, city) if part)
    if town and country and country != "CH":
        town = f"{country}-{town}"
    return [line for line in (street, town) if line]


async def invoice_document(session: AsyncSession, invoice_id: int) -> InvoiceDocument | None:
    row = (
        await session.execute(
            select(Invoice, WorkOrder.number, WorkOrder.odometer_in_km, Vehicle, Customer, Tenant)
            .join(WorkOrder, WorkOrder.id == Invoice.work_order_id)
            .join(Vehicle, Vehicle.id == WorkOrder.vehicle_id)
            .join(Tenant, Tenant.id == Invoice.tenant_id)
            .outerjoin(Customer, Customer.id == Invoice.customer_id)
            .where(Invoice.id == invoice_id)
        )
    ).one_or_none()
    if row is None:
        return None
    invoice, work_order_number, odometer_in_km, vehicle, customer, tenant = row
    return InvoiceDocument(
        id=invoice.id,
        code=invoice.code,
        issued_at=invoice.issued_at,
        currency=invoice.currency,
        dealership=tenant.name,
        dealership_address=_address_lines(tenant.street, tenant.postal_code, tenant.city, tenant.country),
        dealership_vat_number=tenant.vat_number,
        work_order_code=format_work_order_number(work_order_number),
        customer_name=f"{customer.first_name} {customer.last_name}" if customer else None,
        customer_company=customer.company_name if customer else None,
        customer_email=customer.email if customer else None,
        customer_phone=customer.phone if customer else None,
        customer_address=(
            _address_lines(customer.address_line, customer.postal_code, customer.city, customer.country)
            if customer
            else []
        ),
        plate=vehicle.plate,
        vin=vehicle.vin,
        vehicle=f"{vehicle.make} {vehicle.model}",
        # The reading at check-in is the one the work was done at; older orders may lack it.
        odometer_km=odometer_in_km if odometer_in_km is not None else vehicle.odometer_km,
        lines=[snapshot_line(line, invoice.currency) for line in invoice.lines],
        labour_net=invoice.labour_net,
        parts_net=invoice.parts_net,
        net=invoice.net,
        vat_rate=invoice.vat_rate,
        vat=invoice.vat,
        total=invoice.total,
        payment_terms_days=invoice.payment_terms_days,
        customer_language=customer.preferred_language if customer else tenant.locale,
        country=tenant.country,
        timezone=tenant.timezone,
    )


@dataclass(frozen=True)
class InvoiceRow:
    id: int
    code: str
    issued_at: datetime
    work_order_code: str
    customer: str | None
    plate: str | None
    currency: str
    total: Decimal
    payment: str  # PAID, OPEN or OVERDUE


@dataclass(frozen=True)
class Owed:
    """Invoices not paid yet: how many, and their total."""

    count: int
    total: Decimal


@dataclass(frozen=True)
class InvoicePage:
    rows: list[InvoiceRow]
    page: int
    total: int
    page_size: int
    # The filter shown ("" for all, or one of PAYMENT_FILTERS), and the counts its links show.
    payment: str
    all_count: int
    open: Owed
    overdue: Owed

    @property
    def total_pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.total_pages


def payment_state(status: str, due_at: datetime, today: datetime) -> str:
    """PAID, OPEN, or OVERDUE once its due date is over: before `today`, the start of the dealership's day."""
    if status == "PAID":
        return "PAID"
    return "OVERDUE" if due_at < today else "OPEN"


def _past_due(today: datetime) -> ColumnElement[bool]:
    """OVERDUE (payment_state) in SQL: unpaid, and due (its terms after it was issued) before today."""
    elapsed = seconds_between(literal(today, UtcDateTime()), Invoice.issued_at)
    return and_(Invoice.payment_status == "ISSUED", elapsed > Invoice.payment_terms_days * DAY_SECONDS)


async def invoice_page(
    session: AsyncSession, page: int, today: datetime, payment: str = "", page_size: int = PAGE_SIZE
) -> InvoicePage:
    """Newest first, all of them or those `payment` names (PAYMENT_FILTERS); a page past the end is an
    empty page, not an error. `today`: the start of the dealership's day, for what is overdue."""
    unpaid, past_due = Invoice.payment_status == "ISSUED", _past_due(today)
    all_count, open_count, open_total, overdue_count, overdue_total = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(unpaid),
                func.sum(Invoice.total).filter(unpaid),
                func.count().filter(past_due),
                func.sum(Invoice.total).filter(past_due),
            ).select_from(Invoice)
        )
    ).one()
    open_owed = Owed(open_count, open_total or Decimal(0))
    overdue_owed = Owed(overdue_count, overdue_total or Decimal(0))
    shown = {"open": unpaid, "overdue": past_due}.get(payment)
    total = {"open": open_owed.count, "overdue": overdue_owed.count}.get(payment, all_count)
    query = (
        select(
            Invoice.id,
            Invoice.number,
            Invoice.issued_at,
            WorkOrder.number,
            Customer.first_name,
            Customer.last_name,
            Customer.company_name,
            Vehicle.plate,
            Invoice.currency,
            Invoice.total,
            Invoice.payment_status,
            Invoice.payment_terms_days,
        )
        .join(WorkOrder, WorkOrder.id == Invoice.work_order_id)
        .join(Vehicle, Vehicle.id == WorkOrder.vehicle_id)
        .outerjoin(Customer, Customer.id == Invoice.customer_id)
        .order_by(Invoice.issued_at.desc(), Invoice.number.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    if shown is not None:
        query = query.where(shown)
    rows = await session.execute(query)
    return InvoicePage(
        rows=[
            InvoiceRow(
                id=id_,
                code=format_invoice_number(number),
                issued_at=issued_at,
                work_order_code=format_work_order_number(work_order_number),
                customer=(company or f"{first} {last}") if first is not None else None,
                plate=plate,
                currency=currency,
                total=total_amount,
                payment=payment_state(status, issued_at + timedelta(days=terms_days), today),
            )
            for (
                id_,
                number,
                issued_at,
                work_order_number,
                first,
                last,
                company,
                plate,
                currency,
                total_amount,
                status,
                terms_days,
            ) in rows
        ],
        page=page,
        total=total,
        page_size=page_size,
        payment=payment if shown is not None else "",
        all_count=all_count,
        open=open_owed,
        overdue=overdue_owed,
    )
