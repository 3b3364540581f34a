"""What the customer sees of an estimate: the dealership, the vehicle, the lines with VAT, the totals.

The same read model fills the mail and the public page, so both quote the same amounts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.customers.models import Customer
from ops.money import PricedLine, Totals, line_net, totals, vat_of
from ops.tenants.models import Tenant
from ops.vehicles.models import Vehicle
from ops.workshop.models import Part, WorkOrder, WorkOrderLine, format_work_order_number

AWAITING_DECISION = "WAITING_APPROVAL"


@dataclass(frozen=True)
class EstimateLine:
    id: int
    kind: str
    description: str
    quantity: Decimal
    unit: str  # the part's unit code (pc, l), "h" for labour
    unit_price: Decimal
    net: Decimal
    vat: Decimal
    approval: str
    decided_at: datetime | None

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat

    @property
    def priced(self) -> PricedLine:
        return PricedLine(self.kind, self.quantity, self.unit_price)


@dataclass(frozen=True)
class Estimate:
    work_order_id: int
    code: str
    status: str
    version: int
    nonce: str | None
    sent_at: datetime | None
    dealership: str
    country: str
    timezone: str
    currency: str
    vat_rate: Decimal
    vehicle: str
    plate: str | None
    customer_name: str | None
    customer_email: str | None
    customer_language: str
    # The lines of the estimate last sent (see `estimate`).
    lines: list[EstimateLine] = field(default_factory=list)

    @property
    def pending_lines(self) -> list[EstimateLine]:
        return [line for line in self.lines if line.approval == "PENDING"]

    @property
    def is_open(self) -> bool:
        return self.status == AWAITING_DECISION and bool(self.pending_lines)

    @property
    def fingerprint(self) -> str:
        """What the customer was shown; a decision on other amounts than these is refused."""
        shown = [
            (line.id, line.kind, line.description, line.quantity, line.unit_price)
            for line in self.pending_lines
        ]
        return hashlib.sha256(repr(shown).encode()).hexdigest()[:32]

    def totals_for(self, approved_ids: set[int]) -> Totals:
        chosen = [line.priced for line in self.lines if line.id in approved_ids]
        return totals(chosen, self.vat_rate, self.currency)

    def approved_ids(self, decisions: Mapping[int, str] | None = None) -> set[int]:
        """The lines approved: as decided, or as chosen so far in `decisions`."""
        if decisions is None:
            return {line.id for line in self.lines if line.approval == "APPROVED"}
        return {line.id for line in self.lines if decisions.get(line.id) == "APPROVED"}


async def estimate(session: AsyncSession, work_order_id: int) -> Estimate | None:
    row = (
        await session.execute(
            select(WorkOrder, Vehicle, Customer, Tenant)
            .join(Vehicle, Vehicle.id == WorkOrder.vehicle_id)
            .join(Tenant, Tenant.id == WorkOrder.tenant_id)
            .outerjoin(Customer, Customer.id == WorkOrder.customer_id)
            .where(WorkOrder.id == work_order_id)
        )
    ).one_or_none()
    if row is None:
        return None
    work_order, vehicle, customer, tenant = row
    # The lines of the estimate last sent: those still awaiting the answer while it is open, and those
    # answered since it was sent. Lines added after the answer belong to no estimate yet.
    query = (
        select(WorkOrderLine, Part.unit)
        .outerjoin(Part, Part.id == WorkOrderLine.part_id)
        .where(WorkOrderLine.work_order_id == work_order_id)
    )
    answered = (
        WorkOrderLine.decided_at >= work_order.estimate_sent_at
        if work_order.estimate_sent_at is not None
        else WorkOrderLine.id.is_(None)
    )
    if work_order.status == AWAITING_DECISION:
        query = query.where(or_(WorkOrderLine.approval == "PENDING", answered))
    else:
        query = query.where(WorkOrderLine.approval != "PENDING", answered)
    lines = (await session.execute(query.order_by(WorkOrderLine.position, WorkOrderLine.id))).all()
    currency, vat_rate = tenant.currency, tenant.vat_rate
    estimate_lines = []
    for line, part_unit in lines:
        net = line_net(line.quantity, line.unit_price, currency)
        estimate_lines.append(
            EstimateLine(
                id=line.id,
                kind=line.kind,
                description=line.description,
                quantity=line.quantity,
                unit="h" if line.kind == "LABOUR" else part_unit or "",
                unit_price=line.unit_price,
                net=net,
                vat=vat_of(net, vat_rate, currency),
                approval=line.approval,
                decided_at=line.decided_at,
            )
        )
    return Estimate(
        work_order_id=work_order.id,
        code=format_work_order_number(work_order.number),
        status=work_order.status,
        version=work_order.version,
        nonce=work_order.estimate_nonce,
        sent_at=work_order.estimate_sent_at,
        dealership=tenant.name,
        country=tenant.country,
        timezone=tenant.timezone,
        currency=currency,
        vat_rate=vat_rate,
        vehicle=f"{vehicle.make} {vehicle.model}",
        plate=vehicle.plate,
        customer_name=customer.display_name if customer else None,
        customer_email=customer.email if customer else None,
        customer_language=customer.preferred_language if customer else "de",
        lines=estimate_lines,
    )
