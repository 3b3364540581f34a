"""Read models for the work-order page: the order with its lines, totals, history and notes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ops.auth.models import User
from ops.customers.models import Customer
from ops.db import utcnow
from ops.money import PricedLine, Totals, line_net, totals
from ops.tenants.models import Tenant
from ops.vehicles.models import Vehicle
from ops.workshop.jobs.service import is_editable
from ops.workshop.models import (
    Bay,
    Invoice,
    Part,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderHistory,
    WorkOrderLine,
    WorkOrderNote,
    format_invoice_number,
    format_work_order_number,
)
from ops.workshop.queries import categories
from ops.workshop.service import TRANSITIONS, stay_reason_label

PART_SEARCH_LIMIT = 10
# Completion consumed the parts of jobs in these statuses.
COMPLETED_STATUSES = ("READY", "CLOSED")
HISTORY_LIMIT = 200
NOTES_LIMIT = 100


def _digest(*parts: object) -> str:
    """A short stable fingerprint of what a section shows: the page skips live swaps that change
    nothing, so an unrelated update does not wipe what someone is typing into that section."""
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Line:
    id: int
    kind: str
    description: str
    part_id: int | None
    sku: str | None
    unit: str | None
    quantity: Decimal
    unit_price: Decimal
    net: Decimal
    reserved_quantity: Decimal
    used: bool
    approval: str
    # Completion took the part out of stock (its reservation became a consumption).
    taken_from_stock: bool = False

    @property
    def is_declined(self) -> bool:
        return self.approval == "DECLINED"

    @property
    def is_decided(self) -> bool:
        """The customer answered it: its figures stay as they were answered."""
        return self.approval != "PENDING"

    @property
    def short_by(self) -> Decimal:
        """How much of a part line stock could not hold for the job (0 for labour)."""
        if self.kind != "PART" or self.is_declined or self.taken_from_stock:
            return Decimal("0")
        return max(self.quantity - self.reserved_quantity, Decimal("0"))


@dataclass(frozen=True)
class HistoryEntry:
    from_status: str | None
    to_status: str
    actor_name: str
    at: datetime
    # The details a correction changed; empty for a status change.
    changes: tuple[str, ...] = ()
    # Why the order kept its status (STAY_REASONS), None for a move.
    reason: str | None = None

    @property
    def reason_text(self) -> str:
        return stay_reason_label(self.reason) if self.reason else ""


@dataclass(frozen=True)
class Note:
    id: int
    body: str
    author_name: str | None
    has_photo: bool
    created_at: datetime


@dataclass(frozen=True)
class OrderDetail:
    id: int
    code: str
    status: str
    version: int
    priority: str
    complaint: str
    category_id: int | None
    category: str | None
    vehicle_id: int
    plate: str | None
    make: str
    model: str
    vin: str
    vehicle_odometer_km: int
    customer_name: str | None
    customer_email: str | None
    customer_phone: str | None
    advisor_name: str | None
    technician_id: int | None
    technician_name: str | None
    bay_id: int | None
    bay_name: str | None
    # Another job in the order's bay right now: booked on a busy bay, this one waits until it leaves.
    bay_taken_by: str | None
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    promised_at: datetime | None
    odometer_in_km: int | None
    checked_in_at: datetime | None
    comeback_of_id: int | None
    comeback_of_code: str | None
    estimate_sent_at: datetime | None
    completed_at: datetime | None
    closed_at: datetime | None
    currency: str
    vat_rate: Decimal
    labour_rate: Decimal
    invoice_id: int | None
    invoice_code: str | None
    lines: list[Line] = field(default_factory=list)
    totals: Totals | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def editable(self) -> bool:
        return is_editable(self.status)

    @property
    def allowed_moves(self) -> tuple[str, ...]:
        return TRANSITIONS[self.status]

    @property
    def is_overdue(self) -> bool:
        return self.promised_at is not None and self.completed_at is None and self.promised_at < utcnow()

    @property
    def has_pending_lines(self) -> bool:
        """Lines awaiting the customer's decision: what an estimate would ask about."""
        return any(line.approval == "PENDING" for line in self.lines)

    @property
    def declined_lines(self) -> list[Line]:
        return [line for line in self.lines if line.is_declined]

    @property
    def header_key(self) -> str:
        return _digest(
            self.status,
            self.version,
            self.priority,
            self.technician_id,
            self.bay_id,
            self.scheduled_start,
            self.scheduled_end,
            self.promised_at,
            self.odometer_in_km,
            self.estimate_sent_at,
            self.invoice_id,
            self.vehicle_odometer_km,
        )

    @property
    def actions_key(self) -> str:
        # Sending an estimate needs lines awaiting a decision, so the actions change with them.
        return _digest(self.header_key, self.has_pending_lines)

    @property
    def lines_key(self) -> str:
        return _digest(self.editable, self.lines, self.totals)

    @property
    def history_key(self) -> str:
        return _digest(self.history)

    @property
    def notes_key(self) -> str:
        return _digest(self.notes)


def _customer_name(first: str | None, last: str | None, company: str | None) -> str | None:
    if first is None:
        return None
    person = f"{first} {last}"
    return f"{company} ({person})" if company else person


async def order_detail(session: AsyncSession, work_order_id: int) -> OrderDetail | None:
    """Everything the work-order page shows, or None when the order is not in the session's tenant."""
    advisor, technician, earlier = aliased(User), aliased(User), aliased(WorkOrder)
    row = (
        await session.execute(
            select(
                WorkOrder,
                Vehicle,
                Customer,
                WorkOrderCategory.name,
                advisor.name,
                technician.name,
                Bay.name,
                earlier.number,
            )
            .join(Vehicle, Vehicle.id == WorkOrder.vehicle_id)
            .outerjoin(Customer, Customer.id == WorkOrder.customer_id)
            .outerjoin(WorkOrderCategory, WorkOrderCategory.id == WorkOrder.category_id)
            .outerjoin(advisor, advisor.id == WorkOrder.service_advisor_id)
            .outerjoin(technician, technician.id == WorkOrder.technician_id)
            .outerjoin(Bay, Bay.id == WorkOrder.bay_id)
            .outerjoin(earlier, earlier.id == WorkOrder.comeback_of_id)
            .where(WorkOrder.id == work_order_id)
        )
    ).one_or_none()
    if row is None:
        return None
    order, vehicle, customer, category, advisor_name, technician_name, bay_name, earlier_number = row
    tenant = await session.get(Tenant, order.tenant_id)
    assert tenant is not None
    invoice = (
        await session.execute(select(Invoice.id, Invoice.number).where(Invoice.work_order_id == order.id))
    ).one_or_none()

    in_its_bay = select(WorkOrder.number).where(
        WorkOrder.occupied_bay_id == order.bay_id, WorkOrder.id != order.id
    )
    bay_holder = await session.scalar(in_its_bay) if order.bay_id is not None else None
    lines = await _lines(session, order.id, tenant.currency, completed=order.status in COMPLETED_STATUSES)
    chosen = [PricedLine(line.kind, line.quantity, line.unit_price) for line in lines if not line.is_declined]
    return OrderDetail(
        id=order.id,
        code=order.code,
        status=order.status,
        version=order.version,
        priority=order.priority,
        complaint=order.complaint,
        category_id=order.category_id,
        category=category,
        vehicle_id=vehicle.id,
        plate=vehicle.plate,
        make=vehicle.make,
        model=vehicle.model,
        vin=vehicle.vin,
        vehicle_odometer_km=vehicle.odometer_km,
        customer_name=_customer_name(
            customer.first_name if customer else None,
            customer.last_name if customer else None,
            customer.company_name if customer else None,
        ),
        customer_email=customer.email if customer else None,
        customer_phone=customer.phone if customer else None,
        advisor_name=advisor_name,
        technician_id=order.technician_id,
        technician_name=technician_name,
        bay_id=order.bay_id,
        bay_name=bay_name,
        bay_taken_by=format_work_order_number(bay_holder) if bay_holder is not None else None,
        scheduled_start=order.scheduled_start,
        scheduled_end=order.scheduled_end,
        promised_at=order.promised_at,
        odometer_in_km=order.odometer_in_km,
        checked_in_at=order.checked_in_at,
        comeback_of_id=order.comeback_of_id,
        comeback_of_code=format_work_order_number(earlier_number) if earlier_number is not None else None,
        estimate_sent_at=order.estimate_sent_at,
        completed_at=order.completed_at,
        closed_at=order.closed_at,
        currency=tenant.currency,
        vat_rate=tenant.vat_rate,
        labour_rate=tenant.labour_rate,
        invoice_id=invoice.id if invoice else None,
        invoice_code=format_invoice_number(invoice.number) if invoice else None,
        lines=lines,
        totals=totals(chosen, tenant.vat_rate, tenant.currency),
        history=await _history(session, order.id),
        notes=await _notes(session, order.id),
    )


async def _lines(session: AsyncSession, work_order_id: int, currency: str, *, completed: bool) -> list[Line]:
    rows = await session.execute(
        select(WorkOrderLine, Part.sku, Part.unit)
        .outerjoin(Part, Part.id == WorkOrderLine.part_id)
        .where(WorkOrderLine.work_order_id == work_order_id)
        .order_by(WorkOrderLine.position, WorkOrderLine.id)
    )
    return [
        Line(
            id=line.id,
            kind=line.kind,
            description=line.description,
            part_id=line.part_id,
            sku=sku,
            unit=unit,
            quantity=line.quantity,
            unit_price=line.unit_price,
            net=line_net(line.quantity, line.unit_price, currency),
            reserved_quantity=line.reserved_quantity,
            used=line.used,
            approval=line.approval,
            taken_from_stock=completed and line.kind == "PART" and line.approval != "DECLINED",
        )
        for line, sku, unit in rows
    ]


async def _history(session: AsyncSession, work_order_id: int) -> list[HistoryEntry]:
    rows = await session.scalars(
        select(WorkOrderHistory)
        .where(WorkOrderHistory.work_order_id == work_order_id)
        .order_by(WorkOrderHistory.at.desc(), WorkOrderHistory.id.desc())
        .limit(HISTORY_LIMIT)
    )
    return [
        HistoryEntry(
            row.from_status, row.to_status, row.actor_name, row.at, tuple(row.changes or ()), row.reason
        )
        for row in rows
    ]


async def _notes(session: AsyncSession, work_order_id: int) -> list[Note]:
    rows = await session.execute(
        select(
            WorkOrderNote.id,
            WorkOrderNote.body,
            User.name,
            WorkOrderNote.photo_type,
            WorkOrderNote.created_at,
        )
        .outerjoin(User, User.id == WorkOrderNote.author_id)
        .where(WorkOrderNote.work_order_id == work_order_id)
        .order_by(WorkOrderNote.created_at.desc(), WorkOrderNote.id.desc())
        .limit(NOTES_LIMIT)
    )
    return [
        Note(id=id_, body=body, author_name=author, has_photo=photo_type is not None, created_at=created_at)
        for id_, body, author, photo_type, created_at in rows
    ]


@dataclass(frozen=True)
class PartChoice:
    id: int
    sku: str
    name: str
    unit: str
    available: Decimal
    price: Decimal


async def search_parts(session: AsyncSession, text: str) -> list[PartChoice]:
    """Parts whose SKU or name contains the text, SKU matches first; the first few only."""
    text = text.strip()
    if not text:
        return []
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = await session.scalars(
        select(Part)
        .where(
            or_(
                Part.sku.ilike(pattern, escape="\\"),
                Part.name.ilike(pattern, escape="\\"),
            )
        )
        .order_by(Part.sku.ilike(pattern, escape="\\").desc(), Part.sku)
        .limit(PART_SEARCH_LIMIT)
    )
    return [PartChoice(p.id, p.sku, p.name, p.unit, p.available, p.price) for p in rows]


@dataclass(frozen=True)
class ScheduleChoices:
    """The choices of the page's forms: bays and technicians to schedule and assign, the categories
    to correct the details with."""

    bays: list[tuple[int, str]]
    technicians: list[tuple[int, str]]
    categories: list[tuple[int, str]]


async def schedule_choices(session: AsyncSession) -> ScheduleChoices:
    bays = await session.execute(select(Bay.id, Bay.name).where(Bay.active.is_(True)).order_by(Bay.name))
    technicians = await session.execute(
        select(User.id, User.name).where(User.role == "technician", User.active.is_(True)).order_by(User.name)
    )
    return ScheduleChoices(
        bays=[(int(b.id), str(b.name)) for b in bays],
        technicians=[(int(t.id), str(t.name)) for t in technicians],
        categories=await categories(session),
    )
