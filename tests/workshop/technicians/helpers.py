"""Jobs assigned to a technician, through the real services, for the technician tests."""

from __future__ import annotations

import struct
import zlib
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update

from ops.db import utcnow
from ops.seed.data import path_to
from ops.workshop.jobs.service import add_part_line
from ops.workshop.models import Bay, TimeEntry, WorkOrder, WorkOrderLine
from ops.workshop.parts.service import NewPart, create_part, receive_stock
from ops.workshop.service import (
    NewWorkOrder,
    assign_work_order,
    create_work_order,
    move_work_order,
    schedule_work_order,
)
from tests.factories import TenantHandle, UserHandle


async def assigned_job(
    shop: TenantHandle,
    technician: UserHandle | None,
    *,
    status: str = "CHECKED_IN",
    priority: str = "NORMAL",
    complaint: str = "Brakes squeal",
    promised_at: datetime | None = None,
    plate: str | None = None,
    with_bay: bool = True,
) -> WorkOrder:
    """A job for `technician` (None: unassigned), moved along allowed transitions to `status`; from
    check-in on it has a bay of its own (unless not `with_bay`), so that it can go into work (a job in
    work has a bay)."""
    vehicle = await shop.vehicle(plate=plate)
    async with shop.db.uow(shop.admin.actor) as uow:
        work_order = await create_work_order(
            uow,
            NewWorkOrder(
                vehicle_id=vehicle.id,
                complaint=complaint,
                priority=priority,
                technician_id=technician.actor.user_id if technician else None,
                promised_at=promised_at,
            ),
        )
    path = path_to(status)
    if with_bay and "CHECKED_IN" in path:
        async with shop.db.uow(shop.admin.actor) as uow:
            bay = Bay(name=f"Lift #{work_order.number}", kind="LIFT")
            uow.session.add(bay)
            await uow.session.flush()
            work_order = await assign_work_order(
                uow, work_order.id, work_order.technician_id, bay.id, work_order.version
            )
    for step in path:
        async with shop.db.uow(shop.admin.actor) as uow:
            work_order = await move_work_order(uow, work_order.id, step, work_order.version)
    return work_order


async def scheduled_job(
    shop: TenantHandle, technician: UserHandle, bay: Bay, start: datetime, *, priority: str = "NORMAL"
) -> WorkOrder:
    """A job booked for `technician` on `bay` for an hour from `start`, then checked in."""
    work_order = await assigned_job(shop, None, status="NEW", priority=priority)
    async with shop.db.uow(shop.admin.actor) as uow:
        work_order = await schedule_work_order(
            uow,
            work_order.id,
            bay.id,
            technician.actor.user_id or 0,
            start,
            start + timedelta(hours=1),
            work_order.version,
        )
    return work_order


async def bay(shop: TenantHandle, name: str = "Lift 1") -> Bay:
    async with shop.db.uow(shop.admin.actor) as uow:
        row = Bay(name=name, kind="LIFT")
        uow.session.add(row)
        await uow.commit()
    return row


async def part_line(
    shop: TenantHandle, work_order: WorkOrder, name: str = "Brake pads", *, approval: str = "APPROVED"
) -> WorkOrderLine:
    """A part line in stock; `approval` is the customer's answer on it as the estimate leaves it."""
    async with shop.db.uow(shop.admin.actor) as uow:
        part = await create_part(
            uow, NewPart(sku=f"SKU-{work_order.id}-{name[:4]}", name=name, price=Decimal("80.00"))
        )
    async with shop.db.uow(shop.admin.actor) as uow:
        await receive_stock(uow, part.id, Decimal("5"), "delivery")
    async with shop.db.uow(shop.admin.actor) as uow:
        line = await add_part_line(uow, work_order.id, part.id, Decimal("2"))
    if approval != "PENDING":
        async with shop.db.uow(shop.admin.actor) as uow:
            await uow.session.execute(
                update(WorkOrderLine)
                .where(WorkOrderLine.id == line.id)
                .values(approval=approval, decided_at=utcnow())
            )
            await uow.commit()
        line.approval = approval
    return line


async def estimate_sent(shop: TenantHandle, work_order: WorkOrder) -> None:
    """The estimate goes out now: the job's lines still pending await the customer's answer."""
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(WorkOrder).where(WorkOrder.id == work_order.id).values(estimate_sent_at=utcnow())
        )
        await uow.commit()


async def reload(shop: TenantHandle, work_order_id: int) -> WorkOrder:
    async with shop.db.read(shop.id) as session:
        return (await session.execute(select(WorkOrder).where(WorkOrder.id == work_order_id))).scalar_one()


async def time_entries(shop: TenantHandle) -> list[TimeEntry]:
    async with shop.db.read(shop.id) as session:
        return list((await session.scalars(select(TimeEntry).order_by(TimeEntry.id))).all())


def soon(hours: float = 1) -> datetime:
    return utcnow() + timedelta(hours=hours)


def png(width: int = 64, height: int = 48, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A real one-colour PNG that a browser can show, written with zlib alone."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


# The first bytes of each kind of file, as the sniffing reads them.
JPEG_START = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
WEBP_START = b"RIFF\x24\x00\x00\x00WEBPVP8 "
HEIC_START = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00"
GIF_START = b"GIF89a\x01\x00\x01\x00"
