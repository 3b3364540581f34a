"""Read models for bays: the management list and the bay view (what is on each bay now and next)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.auth.models import User
from ops.vehicles.models import Vehicle
from ops.workshop.models import Bay, WorkOrder, format_work_order_number
from ops.workshop.service import OPEN_STATUSES

# How many upcoming jobs the bay view lists per bay.
NEXT_PER_BAY = 3


@dataclass(frozen=True)
class BayJob:
    id: int
    code: str
    status: str
    priority: str
    plate: str | None
    vehicle: str
    technician: str | None
    # Since when the job holds the bay (check-in), or when it is due on it (scheduled start).
    since: datetime | None
    scheduled_start: datetime | None
    scheduled_end: datetime | None

    def elapsed_minutes(self, now: datetime) -> int | None:
        return None if self.since is None else max(0, int((now - self.since).total_seconds() // 60))


@dataclass
class BayOverview:
    id: int
    name: str
    kind: str
    now: BayJob | None = None
    next: list[BayJob] = field(default_factory=list)
    # Scheduled jobs beyond the ones listed.
    more: int = 0


async def all_bays(session: AsyncSession) -> list[Bay]:
    return list((await session.scalars(select(Bay).order_by(Bay.active.desc(), Bay.name))).all())


async def bay(session: AsyncSession, bay_id: int) -> Bay | None:
    return await session.scalar(select(Bay).where(Bay.id == bay_id))


async def bay_overview(session: AsyncSession) -> list[BayOverview]:
    """Every bay in use with the job on it and the next ones scheduled for it: two queries."""
    bays = {
        row.id: BayOverview(row.id, row.name, row.kind)
        for row in await session.execute(
            select(Bay.id, Bay.name, Bay.kind).where(Bay.active.is_(True)).order_by(Bay.name)
        )
    }
    if not bays:
        return []
    rows = await session.execute(
        select(
            WorkOrder.id,
            WorkOrder.number,
            WorkOrder.status,
            WorkOrder.priority,
            Vehicle.plate,
            Vehicle.make,
            Vehicle.model,
            User.name,
            WorkOrder.checked_in_at,
            WorkOrder.status_changed_at,
            WorkOrder.scheduled_start,
            WorkOrder.scheduled_end,
            WorkOrder.bay_id,
            WorkOrder.occupied_bay_id,
        )
        .join(Vehicle, Vehicle.id == WorkOrder.vehicle_id)
        .outerjoin(User, User.id == WorkOrder.technician_id)
        .where(
            WorkOrder.status.in_(OPEN_STATUSES),
            (WorkOrder.occupied_bay_id.in_(bays)) | (WorkOrder.bay_id.in_(bays)),
        )
        .order_by(WorkOrder.scheduled_start.is_(None), WorkOrder.scheduled_start, WorkOrder.number)
    )
    for row in rows:
        holding = row.occupied_bay_id is not None
        job = BayJob(
            id=row.id,
            code=format_work_order_number(row.number),
            status=row.status,
            priority=row.priority,
            plate=row.plate,
            vehicle=f"{row.make} {row.model}",
            technician=row.name,
            since=(row.checked_in_at or row.status_changed_at) if holding else row.scheduled_start,
            scheduled_start=row.scheduled_start,
            scheduled_end=row.scheduled_end,
        )
        if holding:
            if row.occupied_bay_id in bays:
                bays[row.occupied_bay_id].now = job
            continue
        # Jobs waiting for their bay: scheduled ones by start, unscheduled ones after them; READY
        # jobs are done with the bay.
        if row.status == "READY":
            continue
        overview = bays[row.bay_id]
        if len(overview.next) < NEXT_PER_BAY:
            overview.next.append(job)
        else:
            overview.more += 1
    return list(bays.values())
