"""Read models for the partner API: plain rows, paged by the caller's page size.

The areas' own queries are shaped for their pages (board cards, 20 rows a page); the API needs the
resource itself and a page size of up to 100, so these few are thin selects over the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.customers.models import Customer
from ops.sales.models import CatalogTrim, Lead, StockUnit
from ops.vehicles.models import Vehicle
from ops.webhooks.models import WebhookEndpoint
from ops.workshop.models import WorkOrder

Row = TypeVar("Row")
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class PageRequest:
    number: int = 1
    size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    total: int
    number: int
    size: int

    @property
    def total_pages(self) -> int:
        return max(1, -(-self.total // self.size))


async def _paged(session: AsyncSession, query: Select[*tuple[Any, ...]], page: PageRequest) -> Page:
    total = int(await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
    rows = (await session.execute(query.offset(page.offset).limit(page.size))).all()
    return Page([row[0] if len(row) == 1 else tuple(row) for row in rows], total, page.number, page.size)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


async def customers(session: AsyncSession, page: PageRequest, q: str = "") -> Page:
    """Customers by last name; every word of `q` must match a name, company, email, phone or city."""
    query = select(Customer).order_by(
        func.lower(Customer.last_name), func.lower(Customer.first_name), Customer.id
    )
    for word in q.split()[:5]:
        pattern = _like(word)
        query = query.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (
                        Customer.first_name,
                        Customer.last_name,
                        Customer.company_name,
                        Customer.email,
                        Customer.phone,
                        Customer.city,
                    )
                )
            )
        )
    return await _paged(session, query, page)


async def customer(session: AsyncSession, customer_id: int) -> Customer | None:
    return await session.scalar(select(Customer).where(Customer.id == customer_id))


async def leads(session: AsyncSession, page: PageRequest, stage: str | None = None) -> Page:
    query = select(Lead).order_by(Lead.created_at.desc(), Lead.id.desc())
    if stage is not None:
        query = query.where(Lead.stage == stage)
    return await _paged(session, query, page)


async def lead(session: AsyncSession, lead_id: int) -> Lead | None:
    return await session.scalar(select(Lead).where(Lead.id == lead_id))


def _units() -> Select[StockUnit, CatalogTrim]:
    return select(StockUnit, CatalogTrim).join(CatalogTrim, CatalogTrim.id == StockUnit.trim_id)


async def stock_units(session: AsyncSession, page: PageRequest, status: str | None = None) -> Page:
    query = _units().order_by(StockUnit.id)
    if status is not None:
        query = query.where(StockUnit.status == status)
    return await _paged(session, query, page)


async def stock_unit(session: AsyncSession, unit_id: int) -> tuple[StockUnit, CatalogTrim] | None:
    row = (await session.execute(_units().where(StockUnit.id == unit_id))).first()
    return None if row is None else (row[0], row[1])


async def vehicles(session: AsyncSession, page: PageRequest, q: str = "") -> Page:
    """Vehicles by id; `q` matches the VIN, plate, make or model."""
    query = select(Vehicle).order_by(Vehicle.id)
    if q.strip():
        pattern = _like(q.strip())
        query = query.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (Vehicle.vin, Vehicle.plate, Vehicle.make, Vehicle.model)
                )
            )
        )
    return await _paged(session, query, page)


async def vehicle(session: AsyncSession, vehicle_id: int) -> Vehicle | None:
    return await session.scalar(select(Vehicle).where(Vehicle.id == vehicle_id))


async def work_orders(session: AsyncSession, page: PageRequest, status: str | None = None) -> Page:
    query = select(WorkOrder).order_by(WorkOrder.id.desc())
    if status is not None:
        query = query.where(WorkOrder.status == status)
    return await _paged(session, query, page)


async def work_order(session: AsyncSession, work_order_id: int) -> WorkOrder | None:
    return await session.scalar(select(WorkOrder).where(WorkOrder.id == work_order_id))


async def webhook_endpoints(session: AsyncSession, page: PageRequest) -> Page:
    return await _paged(session, select(WebhookEndpoint).order_by(WebhookEndpoint.id), page)
