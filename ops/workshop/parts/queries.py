"""Read models for the inventory pages: the part list with its reorder flags, one part, its ledger and
its purchase requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.paging import Page
from ops.workshop.models import (
    Part,
    PurchaseRequest,
    StockMovement,
    WorkOrder,
    format_purchase_request_number,
    format_work_order_number,
)

PAGE_SIZE = 20


@dataclass(frozen=True)
class PartRow:
    id: int
    sku: str
    name: str
    unit: str
    on_hand: Decimal
    reserved: Decimal
    reorder_point: Decimal
    cost: Decimal
    price: Decimal
    supplier: str | None
    version: int

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved

    @property
    def below_reorder_point(self) -> bool:
        return self.available <= self.reorder_point


def _row(part: Part) -> PartRow:
    return PartRow(
        id=part.id,
        sku=part.sku,
        name=part.name,
        unit=part.unit,
        on_hand=part.on_hand,
        reserved=part.reserved,
        reorder_point=part.reorder_point,
        cost=part.cost,
        price=part.price,
        supplier=part.supplier,
        version=part.version,
    )


def _below_reorder_point() -> ColumnElement[bool]:
    # Rounded to the columns' two places: SQLite computes with floats.
    return func.round(Part.on_hand - Part.reserved - Part.reorder_point, 2) <= 0


def _matching(search: str) -> ColumnElement[bool]:
    escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(
        func.lower(Part.sku).like(pattern, escape="\\"),
        func.lower(Part.name).like(pattern, escape="\\"),
        func.lower(func.coalesce(Part.supplier, "")).like(pattern, escape="\\"),
    )


@dataclass(frozen=True)
class PurchaseRequestRow:
    id: int
    number: str
    quantity: Decimal
    status: str  # OPEN | RECEIVED | CANCELLED
    requested_by_name: str
    requested_at: datetime
    received_at: datetime | None
    cancelled_at: datetime | None = None
    cancelled_by_name: str | None = None
    cancel_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status == "OPEN"

    @property
    def is_cancelled(self) -> bool:
        return self.status == "CANCELLED"


def _request_row(request: PurchaseRequest) -> PurchaseRequestRow:
    return PurchaseRequestRow(
        id=request.id,
        number=format_purchase_request_number(request.number),
        quantity=request.quantity,
        status=request.status,
        requested_by_name=request.requested_by_name,
        requested_at=request.requested_at,
        received_at=request.received_at,
        cancelled_at=request.cancelled_at,
        cancelled_by_name=request.cancelled_by_name,
        cancel_reason=request.cancel_reason,
    )


async def purchase_requests(session: AsyncSession, part_id: int, limit: int = 10) -> list[PurchaseRequestRow]:
    """A part's latest purchase requests, newest first (the open one, if any, is the newest)."""
    rows = await session.scalars(
        select(PurchaseRequest)
        .where(PurchaseRequest.part_id == part_id)
        .order_by(PurchaseRequest.id.desc())
        .limit(limit)
    )
    return [_request_row(request) for request in rows]


async def open_purchase_requests(session: AsyncSession, part_ids: list[int]) -> dict[int, PurchaseRequestRow]:
    if not part_ids:
        return {}
    rows = await session.scalars(
        select(PurchaseRequest).where(PurchaseRequest.part_id.in_(part_ids), PurchaseRequest.status == "OPEN")
    )
    return {request.part_id: _request_row(request) for request in rows}


@dataclass(frozen=True)
class PartList:
    rows: list[PartRow]
    page: Page
    below_count: int
    # Part id -> its open purchase request, for the parts on this page.
    open_requests: dict[int, PurchaseRequestRow]


async def part_list(
    session: AsyncSession, *, search: str = "", below_only: bool = False, page: int = 1
) -> PartList:
    """Parts by SKU, filtered by a search over SKU, name and supplier, and to those needing reorder."""
    conditions: list[ColumnElement[bool]] = []
    if search.strip():
        conditions.append(_matching(search.strip()))
    if below_only:
        conditions.append(_below_reorder_point())
    total = int(await session.scalar(select(func.count()).select_from(Part).where(*conditions)) or 0)
    below_count = int(
        await session.scalar(select(func.count()).select_from(Part).where(_below_reorder_point())) or 0
    )
    current = Page.of(page, total, PAGE_SIZE)
    parts = await session.scalars(
        select(Part).where(*conditions).order_by(Part.sku, Part.id).offset(current.offset).limit(current.size)
    )
    rows = [_row(part) for part in parts]
    open_requests = await open_purchase_requests(session, [row.id for row in rows])
    return PartList(rows, current, below_count, open_requests)


async def part(session: AsyncSession, part_id: int) -> PartRow | None:
    found = await session.scalar(select(Part).where(Part.id == part_id))
    return None if found is None else _row(found)


async def part_exists(session: AsyncSession, part_id: int) -> bool:
    return await session.scalar(select(Part.id).where(Part.id == part_id)) is not None


@dataclass(frozen=True)
class MovementRow:
    id: int
    at: datetime
    kind: str
    on_hand_change: Decimal
    reserved_change: Decimal
    on_hand_after: Decimal
    reserved_after: Decimal
    reason: str
    work_order_id: int | None
    work_order_code: str | None
    actor_name: str

    @property
    def available_after(self) -> Decimal:
        return self.on_hand_after - self.reserved_after


@dataclass(frozen=True)
class MovementList:
    rows: list[MovementRow]
    page: Page


async def movements(session: AsyncSession, part_id: int, *, page: int = 1) -> MovementList:
    """A part's ledger, newest first."""
    total = int(
        await session.scalar(
            select(func.count()).select_from(StockMovement).where(StockMovement.part_id == part_id)
        )
        or 0
    )
    current = Page.of(page, total, PAGE_SIZE)
    rows = await session.execute(
        select(StockMovement, WorkOrder.number)
        .outerjoin(WorkOrder, WorkOrder.id == StockMovement.work_order_id)
        .where(StockMovement.part_id == part_id)
        .order_by(StockMovement.id.desc())
        .offset(current.offset)
        .limit(current.size)
    )
    return MovementList(
        [
            MovementRow(
                id=movement.id,
                at=movement.created_at,
                kind=movement.kind,
                on_hand_change=movement.on_hand_change,
                reserved_change=movement.reserved_change,
                on_hand_after=movement.on_hand_after,
                reserved_after=movement.reserved_after,
                reason=movement.reason,
                work_order_id=movement.work_order_id,
                work_order_code=None if number is None else format_work_order_number(number),
                actor_name=movement.actor_name,
            )
            for movement, number in rows
        ],
        current,
    )


async def work_order_id_for(session: AsyncSession, code: str) -> int | None:
    """The id of the work order a person typed as WO-000012, wo-12 or 12; None when there is none."""
    digits = code.strip().upper().removeprefix("WO-").removeprefix("WO").lstrip("0")
    if not digits.isdigit() or len(digits) > 9:
        return None
    found = await session.scalar(select(WorkOrder.id).where(WorkOrder.number == int(digits)))
    return None if found is None else int(found)
