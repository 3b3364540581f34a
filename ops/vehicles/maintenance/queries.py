"""Read models for maintenance: the schedules page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.vehicles.models import MaintenanceSchedule, VehicleMaintenance
from ops.workshop.models import WorkOrderCategory


@dataclass(frozen=True)
class ScheduleRow:
    id: int
    service_type: str
    make: str | None
    model: str | None
    interval_km: int | None
    interval_months: int | None
    category_id: int | None
    category: str | None
    due: int
    overdue: int


async def schedules(session: AsyncSession) -> list[ScheduleRow]:
    counts = (
        select(
            VehicleMaintenance.schedule_id,
            func.count().filter(VehicleMaintenance.state == "DUE").label("due"),
            func.count().filter(VehicleMaintenance.state == "OVERDUE").label("overdue"),
        )
        .group_by(VehicleMaintenance.schedule_id)
        .subquery()
    )
    rows = await session.execute(
        select(MaintenanceSchedule, WorkOrderCategory.name, counts.c.due, counts.c.overdue)
        .outerjoin(WorkOrderCategory, WorkOrderCategory.id == MaintenanceSchedule.category_id)
        .outerjoin(counts, counts.c.schedule_id == MaintenanceSchedule.id)
        .order_by(
            MaintenanceSchedule.make.is_not(None),
            MaintenanceSchedule.make,
            MaintenanceSchedule.model,
            MaintenanceSchedule.service_type,
        )
    )
    return [
        ScheduleRow(
            id=schedule.id,
            service_type=schedule.service_type,
            make=schedule.make,
            model=schedule.model,
            interval_km=schedule.interval_km,
            interval_months=schedule.interval_months,
            category_id=schedule.category_id,
            category=category,
            due=int(due or 0),
            overdue=int(overdue or 0),
        )
        for schedule, category, due, overdue in rows
    ]


async def schedule(session: AsyncSession, schedule_id: int) -> MaintenanceSchedule | None:
    return await session.scalar(select(MaintenanceSchedule).where(MaintenanceSchedule.id == schedule_id))


async def category_choices(session: AsyncSession) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(WorkOrderCategory.id, WorkOrderCategory.name).order_by(WorkOrderCategory.name)
    )
    return [(int(category_id), str(name)) for category_id, name in rows]
