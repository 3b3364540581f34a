"""Workshop use cases. Each one is a single transaction that records its events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from ops.auth.actor import Conflict, NotFound, RuleViolation
from ops.auth.models import User
from ops.db import UnitOfWork, utcnow
from ops.events import record
from ops.i18n import gettext as _
from ops.tenants.models import Counter
from ops.vehicles.models import Vehicle
from ops.workshop.models import WorkOrder, WorkOrderCategory, format_work_order_number

STATUSES = (
    "NEW",
    "SCHEDULED",
    "CHECKED_IN",
    "IN_PROGRESS",
    "WAITING_PARTS",
    "WAITING_APPROVAL",
    "QUALITY_CHECK",
    "READY",
    "CLOSED",
    "CANCELLED",
)
# The board's columns.
OPEN_STATUSES = STATUSES[:8]
PRIORITIES = ("LOW", "NORMAL", "HIGH", "URGENT")

# Where a work order may go from each status. CANCELLED only before work starts; CLOSED after READY.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "NEW": ("SCHEDULED", "CHECKED_IN", "CANCELLED"),
    "SCHEDULED": ("NEW", "CHECKED_IN", "CANCELLED"),
    "CHECKED_IN": ("SCHEDULED", "IN_PROGRESS", "CANCELLED"),
    "IN_PROGRESS": ("WAITING_PARTS", "WAITING_APPROVAL", "QUALITY_CHECK"),
    "WAITING_PARTS": ("IN_PROGRESS",),
    "WAITING_APPROVAL": ("IN_PROGRESS", "QUALITY_CHECK"),
    "QUALITY_CHECK": ("IN_PROGRESS", "READY"),
    "READY": ("IN_PROGRESS", "CLOSED"),
    "CLOSED": (),
    "CANCELLED": (),
}

WORKSHOP_TOPIC = "workshop"


def work_order_topic(work_order_id: int) -> str:
    return f"wo:{work_order_id}"


@dataclass(frozen=True)
class NewWorkOrder:
    vehicle_id: int
    complaint: str
    priority: str = "NORMAL"
    category_id: int | None = None
    technician_id: int | None = None
    promised_at: datetime | None = None


async def _next_number(uow: UnitOfWork, name: str) -> int:
    # The UPDATE takes the counter's row lock, so concurrent creations queue up and get distinct numbers.
    result = await uow.session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    )
    value = result.scalar_one_or_none()
    if value is None:
        uow.session.add(Counter(name=name, value=1))
        await uow.session.flush()
        return 1
    return int(value)


async def create_work_order(uow: UnitOfWork, data: NewWorkOrder) -> WorkOrder:
    uow.actor.require("work_order.create")
    session = uow.session
    vehicle = (
        await session.execute(select(Vehicle).where(Vehicle.id == data.vehicle_id))
    ).scalar_one_or_none()
    if vehicle is None:
        raise RuleViolation(_("Choose a vehicle of this dealership."), field="vehicle_id")
    if data.category_id is not None:
        category = await session.scalar(
            select(WorkOrderCategory.id).where(WorkOrderCategory.id == data.category_id)
        )
        if category is None:
            raise RuleViolation(_("Choose one of the categories."), field="category_id")
    if data.technician_id is not None:
        technician = await session.scalar(
            select(User.id).where(
                User.id == data.technician_id, User.role == "technician", User.active.is_(True)
            )
        )
        if technician is None:
            raise RuleViolation(_("Choose one of the technicians."), field="technician_id")
    if data.priority not in PRIORITIES:
        raise RuleViolation(_("Choose a priority."), field="priority")

    now = utcnow()
    work_order = WorkOrder(
        number=await _next_number(uow, "work_order"),
        vehicle_id=vehicle.id,
        customer_id=vehicle.customer_id,
        category_id=data.category_id,
        complaint=data.complaint,
        priority=data.priority,
        status="NEW",
        technician_id=data.technician_id,
        service_advisor_id=uow.actor.user_id,
        promised_at=data.promised_at,
        status_changed_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(work_order)
    await session.flush()
    record(
        uow,
        "work_order.created",
        {
            "id": work_order.id,
            "number": format_work_order_number(work_order.number),
            "status": work_order.status,
            "vehicle_id": vehicle.id,
            "priority": work_order.priority,
        },
        topics=[WORKSHOP_TOPIC, work_order_topic(work_order.id)],
    )
    await uow.commit()
    return work_order


async def move_work_order(
    uow: UnitOfWork, work_order_id: int, to_status: str, expected_version: int | None
) -> WorkOrder:
    """Move a card to another status. A stale `expected_version` raises Conflict, never overwrites."""
    session = uow.session
    work_order = await session.scalar(select(WorkOrder).where(WorkOrder.id == work_order_id))
    # Looked up before the permission check: another tenant's id is NotFound for every role, never a 403.
    if work_order is None:
        raise NotFound(work_order_id)
    uow.actor.require("work_order.move")
    if expected_version is None:
        raise RuleViolation(_("The card's version is missing; reload the board."), field="version")
    code = work_order.code
    if work_order.version != expected_version:
        raise Conflict(_("%(number)s was changed by someone else in the meantime.", number=code))
    if to_status not in STATUSES:
        raise RuleViolation(_("Unknown status."), field="status")
    if to_status not in TRANSITIONS[work_order.status]:
        raise RuleViolation(
            _(
                "%(number)s cannot move from %(from)s to %(to)s.",
                number=code,
                **{"from": status_label(work_order.status), "to": status_label(to_status)},
            ),
            field="status",
        )
    from_status = work_order.status
    now = utcnow()
    result = await session.execute(
        update(WorkOrder)
        .where(WorkOrder.id == work_order.id, WorkOrder.version == expected_version)
        .values(status=to_status, version=WorkOrder.version + 1, status_changed_at=now, updated_at=now)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise Conflict(_("%(number)s was changed by someone else in the meantime.", number=code))
    record(
        uow,
        "work_order.moved",
        {
            "id": work_order.id,
            "number": code,
            "from": from_status,
            "to": to_status,
            "version": expected_version + 1,
        },
        topics=[WORKSHOP_TOPIC, work_order_topic(work_order.id)],
    )
    await uow.commit()
    return work_order


def status_label(status: str) -> str:
    labels = {
        "NEW": _("New"),
        "SCHEDULED": _("Scheduled"),
        "CHECKED_IN": _("Checked in"),
        "IN_PROGRESS": _("In progress"),
        "WAITING_PARTS": _("Waiting for parts"),
        "WAITING_APPROVAL": _("Waiting for approval"),
        "QUALITY_CHECK": _("Quality check"),
        "READY": _("Ready"),
        "CLOSED": _("Closed"),
        "CANCELLED": _("Cancelled"),
    }
    return labels.get(status, status)


def priority_label(priority: str) -> str:
    labels = {"LOW": _("Low"), "NORMAL": _("Normal"), "HIGH": _("High"), "URGENT": _("Urgent")}
    return labels.get(priority, priority)
