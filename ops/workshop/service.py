"""Work-order lifecycle: create, schedule, assign, check in, move along the board, complete, close.

Each use case is one transaction that records its events. Whoever changes a work order's status (the
board, the technician's screen, the estimate) goes through `change_status`, so these rules hold for
every move:
- each status change writes a WorkOrderHistory row (who, when, from, to); creation writes the first,
  and a correction of the details (`update_work_order_details`) one that names what it changed;
- a job holds its bay (`occupied_bay_id`) while the car is being worked on, and a bay holds one job at
  a time: the database's unique constraint decides a race, and the loser is told which job has the bay;
  a job without a bay does not go into work (IN_BAY_STATUSES) until it is given one (the board's move
  can give it one in the same change);
- the move to READY completes the job in the same transaction: parts consumed, the vehicle's odometer
  and last service set, the invoice created; if any of it fails, nothing changes;
- the move to CANCELLED releases every reserved part; a READY (invoiced) job only moves on to CLOSED.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, case, select, update
from sqlalchemy.exc import IntegrityError

from ops.auth.actor import Conflict, NotFound, RuleViolation
from ops.auth.models import User
from ops.customers.models import Customer
from ops.db import UnitOfWork, tenant_scoped, utcnow
from ops.events import record
from ops.i18n import format_datetime, format_number, language_of, locale_for
from ops.i18n import gettext as _
from ops.mail.service import queue_mail, render_mail, valid_address, written_for
from ops.money import PricedLine, line_net, totals
from ops.tenants.models import Tenant
from ops.tenants.service import next_number
from ops.vehicles.maintenance.service import mark_done_for_work_order
from ops.vehicles.models import Vehicle
from ops.workshop.models import (
    Bay,
    Invoice,
    Part,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderHistory,
    WorkOrderLine,
    format_invoice_number,
    format_work_order_number,
)
from ops.workshop.parts.service import consume_part, release_part

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

# Where a work order may go from each status. CANCELLED only before work starts. An estimate may go
# out before work starts (CHECKED_IN -> WAITING_APPROVAL). READY means invoiced: it only closes.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "NEW": ("SCHEDULED", "CHECKED_IN", "CANCELLED"),
    "SCHEDULED": ("NEW", "CHECKED_IN", "CANCELLED"),
    "CHECKED_IN": ("SCHEDULED", "IN_PROGRESS", "WAITING_APPROVAL", "CANCELLED"),
    "IN_PROGRESS": ("WAITING_PARTS", "WAITING_APPROVAL", "QUALITY_CHECK"),
    "WAITING_PARTS": ("IN_PROGRESS",),
    "WAITING_APPROVAL": ("IN_PROGRESS", "QUALITY_CHECK"),
    "QUALITY_CHECK": ("IN_PROGRESS", "READY"),
    "READY": ("CLOSED",),
    "CLOSED": (),
    "CANCELLED": (),
}

# The car is on its bay in these statuses. WAITING_APPROVAL keeps whatever the job had: a car whose
# work stopped for the customer's approval stays on the lift, one whose estimate went out at check-in
# waits in the yard and must not block the bay.
IN_BAY_STATUSES = ("IN_PROGRESS", "WAITING_PARTS", "QUALITY_CHECK")
# A slot can still be booked or moved until the job is done.
SCHEDULABLE_STATUSES = OPEN_STATUSES[:7]
COMEBACK_WINDOW = timedelta(days=30)
# A job's details (complaint, category, priority, promised time) can be corrected until it is done: a
# READY job is invoiced, and what it was for and when it was promised stay as its invoice and the
# workshop's KPIs have read them.
DETAILS_EDITABLE_STATUSES = OPEN_STATUSES[:7]
DETAILS = ("complaint", "category_id", "priority", "promised_at")
# A form filled in slowly may promise a time that passed while it was being typed.
PROMISE_GRACE = timedelta(minutes=5)
MAX_ODOMETER_KM = 9_999_999

# Why an order kept its status where a move was expected, as its history says it.
STAY_REASONS = ("ANSWERED_BAY_TAKEN", "ANSWERED_NO_BAY")

WORKSHOP_TOPIC = "workshop"


def work_order_topic(work_order_id: int) -> str:
    return f"wo:{work_order_id}"


def _topics(work_order: WorkOrder) -> list[str]:
    return [WORKSHOP_TOPIC, work_order_topic(work_order.id)]


@dataclass(frozen=True)
class NewWorkOrder:
    vehicle_id: int
    complaint: str
    priority: str = "NORMAL"
    category_id: int | None = None
    technician_id: int | None = None
    promised_at: datetime | None = None
    # The bay the job is planned for (`WorkOrder.bay_id`); it holds the bay only once in work.
    bay_id: int | None = None


def check_new_promise(promised_at: datetime | None) -> None:
    """A promise made to a customer now lies ahead: one already past is a slip (a wrong day or year)
    and would put the job on the board as overdue from the start. Staff forms check what they set;
    records of promises made earlier (the partner API's imports of historic orders, the demo's
    history) keep their time, and a promise that has since passed is not a new one."""
    if promised_at is not None and promised_at < utcnow() - PROMISE_GRACE:
        raise RuleViolation(_("The promised time has already passed."), field="promised_at")


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
        await _technician(uow, data.technician_id)
    if data.priority not in PRIORITIES:
        raise RuleViolation(_("Choose a priority."), field="priority")
    if data.bay_id is not None:
        # A new job is planned on a bay that is free now: one another job is in would keep its car
        # out of work until that job leaves, which the advisor choosing it cannot see.
        bay = await _bay(uow, data.bay_id)
        await _refuse_taken_bay(uow, bay.id)

    now = utcnow()
    # A repair within 30 days of a completed one on the same car is a comeback: it counts against
    # the first-time fix rate and the board flags it. The car must have come back: a job still READY
    # has not been collected, so more work on the car meanwhile is not a repeat repair.
    comeback_of = await session.scalar(
        select(WorkOrder.id)
        .where(
            WorkOrder.vehicle_id == vehicle.id,
            WorkOrder.completed_at >= now - COMEBACK_WINDOW,
            WorkOrder.status == "CLOSED",
        )
        .order_by(WorkOrder.completed_at.desc())
        .limit(1)
    )
    work_order = WorkOrder(
        number=await next_number(uow, "work_order"),
        vehicle_id=vehicle.id,
        customer_id=vehicle.customer_id,
        category_id=data.category_id,
        complaint=data.complaint,
        priority=data.priority,
        status="NEW",
        technician_id=data.technician_id,
        bay_id=data.bay_id,
        service_advisor_id=uow.actor.user_id,
        promised_at=data.promised_at,
        comeback_of_id=comeback_of,
        status_changed_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(work_order)
    await session.flush()
    _add_history(uow, work_order, None, "NEW", now)
    record(
        uow,
        "work_order.created",
        {
            "id": work_order.id,
            "number": format_work_order_number(work_order.number),
            "status": work_order.status,
            "vehicle_id": vehicle.id,
            "priority": work_order.priority,
            "comeback_of_id": comeback_of,
        },
        topics=_topics(work_order),
    )
    await uow.commit()
    return work_order


@functools.cache
def _work_order_by_id() -> Select[WorkOrder]:
    # Every change of a card starts here: built and tenant-scoped once (ops/db.py).
    return tenant_scoped(select(WorkOrder).where(WorkOrder.id == bindparam("work_order_id")))


async def load_for_change(
    uow: UnitOfWork, work_order_id: int, permission: str, expected_version: int | None
) -> WorkOrder:
    """The work order a use case is about to change, after the checks every change makes.

    Another tenant's id is NotFound for every role (looked up before the permission check, so it is
    never a 403); a missing version is refused, a stale one is a Conflict, never an overwrite.
    """
    work_order = await uow.session.scalar(_work_order_by_id(), {"work_order_id": work_order_id})
    if work_order is None:
        raise NotFound(work_order_id)
    uow.actor.require(permission)
    if expected_version is None:
        raise RuleViolation(_("The card's version is missing; reload the board."), field="version")
    if work_order.version != expected_version:
        raise Conflict(_("%(number)s was changed by someone else in the meantime.", number=work_order.code))
    return work_order


async def move_work_order(
    uow: UnitOfWork,
    work_order_id: int,
    to_status: str,
    expected_version: int | None,
    bay_id: int | None = None,
) -> WorkOrder:
    """Move a card to another status. A stale `expected_version` raises Conflict, never overwrites.

    With `bay_id` the job is given that bay in the same change: the board asks for one when a move into
    work is refused for want of a bay (none, or one another job is in), and the bay and the move are
    then taken or refused together. Records `work_order.assigned` besides the move, marked as part of it.
    """
    work_order = await load_for_change(uow, work_order_id, "work_order.move", expected_version)
    if bay_id is None or bay_id == work_order.bay_id:
        await change_status(uow, work_order, to_status)
        await uow.commit()
        return work_order
    uow.actor.require("work_order.assign")
    refuse_forbidden_move(work_order, to_status)
    bay = await _bay(uow, bay_id, lock=True)
    start, end = work_order.scheduled_start, work_order.scheduled_end
    if start is not None and end is not None:
        # The job keeps its slot, so its new bay must be free then, as when it is reassigned.
        await _refuse_overlaps(uow, work_order, bay, None, start, end)
    await change_status(uow, work_order, to_status, bay_id=bay.id)
    record(
        uow,
        "work_order.assigned",
        {
            "id": work_order.id,
            "number": work_order.code,
            "technician_id": work_order.technician_id,
            "bay_id": bay.id,
            "version": work_order.version,
            # The move was recorded (and announced) as well.
            "status_changed": True,
        },
        topics=_topics(work_order),
    )
    await uow.commit()
    return work_order


async def change_status(uow: UnitOfWork, work_order: WorkOrder, to_status: str, **changes: Any) -> None:
    """Move `work_order` to `to_status` inside the caller's transaction (the caller commits).

    `work_order` was loaded in this unit of work with `load_for_change`; the write is guarded by its
    version, so a concurrent change makes this a Conflict. `changes` are further columns written in
    the same UPDATE. Records `work_order.moved` and, by target, completes, cancels or closes the job.
    """
    refuse_forbidden_move(work_order, to_status)
    from_status = work_order.status
    now = utcnow()
    values: dict[str, Any] = {"status": to_status, "status_changed_at": now, **changes}
    bay_id = values.get("bay_id", work_order.bay_id)
    if to_status in IN_BAY_STATUSES and bay_id is None:
        # The car is worked on on a bay; without one the job would be in work nowhere, and no bay
        # would show it taken.
        raise RuleViolation(
            _(
                "%(number)s has no bay: a job is worked on in a bay. Assign a bay to it first, then move "
                "it to %(status)s.",
                number=work_order.code,
                status=status_label(to_status),
            ),
            field="bay_id",
        )
    stays_in_bay = to_status == "WAITING_APPROVAL" and _holds_bay(work_order)
    values["occupied_bay_id"] = bay_id if to_status in IN_BAY_STATUSES or stays_in_bay else None
    if to_status == "NEW":
        # Back to unscheduled: the slot is free for other jobs again.
        values.update(scheduled_start=None, scheduled_end=None)
    elif to_status == "READY":
        values["completed_at"] = now
    elif to_status == "CLOSED":
        values["closed_at"] = now
    await _write(uow, work_order, values)
    _add_history(uow, work_order, from_status, to_status, now)
    record(
        uow,
        "work_order.moved",
        {
            "id": work_order.id,
            "number": work_order.code,
            "from": from_status,
            "to": to_status,
            "version": work_order.version,
        },
        topics=_topics(work_order),
    )
    if from_status == "IN_PROGRESS":
        # Leaving work stops the technician's clock in the same transaction, from the board as from
        # the phone. Imported here: the time clock builds on this module.
        from ops.workshop.technicians.service import stop_clocks_on

        await stop_clocks_on(uow, work_order, reason=f"moved:{to_status}")
    if to_status == "READY":
        await _complete(uow, work_order, now)
    elif to_status == "CANCELLED":
        await _release_reservations(uow, work_order)
    elif to_status == "CLOSED":
        record(
            uow, "work_order.closed", {"id": work_order.id, "number": work_order.code}, _topics(work_order)
        )


def refuse_forbidden_move(work_order: WorkOrder, to_status: str) -> None:
    """Raise RuleViolation unless the allowed transitions let `work_order` move to `to_status`."""
    if to_status not in STATUSES:
        raise RuleViolation(_("Unknown status."), field="status")
    from_status = work_order.status
    if to_status in TRANSITIONS[from_status]:
        return
    if from_status == "READY":
        raise RuleViolation(
            _(
                "%(number)s is ready and invoiced: an invoiced job is not reopened, it can only be "
                "closed. Open a new work order for more work.",
                number=work_order.code,
            ),
            field="status",
        )
    raise RuleViolation(
        _(
            "%(number)s cannot move from %(from)s to %(to)s.",
            number=work_order.code,
            **{"from": status_label(from_status), "to": status_label(to_status)},
        ),
        field="status",
    )


def _holds_bay(work_order: WorkOrder) -> bool:
    return work_order.status in IN_BAY_STATUSES or (
        work_order.status == "WAITING_APPROVAL" and work_order.occupied_bay_id is not None
    )


def _add_history(
    uow: UnitOfWork,
    work_order: WorkOrder,
    from_status: str | None,
    to_status: str,
    at: datetime,
    changes: list[str] | None = None,
    reason: str | None = None,
) -> None:
    uow.session.add(
        WorkOrderHistory(
            work_order_id=work_order.id,
            from_status=from_status,
            to_status=to_status,
            actor_id=uow.actor.user_id,
            actor_name=uow.actor.name,
            at=at,
            changes=changes,
            reason=reason,
        )
    )


async def keep_status(uow: UnitOfWork, work_order: WorkOrder, reason: str) -> None:
    """`work_order` stays in its status where a move was expected (in the caller's transaction): its
    history says why, and its version moves on so that open pages read it again."""
    if reason not in STAY_REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    now = utcnow()
    await _write(uow, work_order, {"updated_at": now})
    _add_history(uow, work_order, work_order.status, work_order.status, now, reason=reason)


async def _write(uow: UnitOfWork, work_order: WorkOrder, values: dict[str, Any]) -> None:
    """One UPDATE guarded by the version the change was decided on; bumps the version."""
    values = {"updated_at": utcnow(), **values}
    bay_id = values.get("occupied_bay_id")
    if bay_id is None or bay_id == work_order.occupied_bay_id:
        written = await uow.update_versioned(work_order, values)
    else:
        # The job enters a bay: say who has it when that is already known ...
        await _refuse_taken_bay(uow, bay_id, work_order)
        try:
            # ... and when another job enters it at the same moment, the unique constraint decides.
            # The savepoint keeps the caller's transaction usable to look up the winner.
            async with uow.session.begin_nested():
                written = await uow.update_versioned(work_order, values)
        except IntegrityError:
            await _refuse_taken_bay(uow, bay_id, work_order)
            raise RuleViolation(_("The bay is taken by another job."), field="bay_id") from None
    if not written:
        raise Conflict(_("%(number)s was changed by someone else in the meantime.", number=work_order.code))


async def _refuse_taken_bay(uow: UnitOfWork, bay_id: int, work_order: WorkOrder | None = None) -> None:
    """Refuse `bay_id` when another job than `work_order` (None: a job still to be created) is in it."""
    query = (
        select(WorkOrder.number, Bay.name)
        .join(Bay, Bay.id == WorkOrder.occupied_bay_id)
        .where(WorkOrder.occupied_bay_id == bay_id)
    )
    if work_order is not None:
        query = query.where(WorkOrder.id != work_order.id)
    holder = (await uow.session.execute(query)).first()
    if holder is None:
        return
    if work_order is None:
        raise RuleViolation(
            _(
                "%(bay)s is taken by %(holder)s: a bay holds one job at a time. Choose a free bay.",
                bay=holder.name,
                holder=format_work_order_number(holder.number),
            ),
            field="bay_id",
        )
    raise RuleViolation(
        _(
            "%(bay)s is taken by %(holder)s: a bay holds one job at a time. Move %(number)s to "
            "another bay or wait until %(holder)s leaves it.",
            bay=holder.name,
            holder=format_work_order_number(holder.number),
            number=work_order.code,
        ),
        field="bay_id",
    )


async def _complete(uow: UnitOfWork, work_order: WorkOrder, now: datetime) -> None:
    """Parts, vehicle and invoice of a job moving to READY, in the caller's transaction."""
    session = uow.session
    tenant = (await session.execute(select(Tenant).where(Tenant.id == work_order.tenant_id))).scalar_one()
    lines = (
        await session.scalars(
            select(WorkOrderLine)
            .where(WorkOrderLine.work_order_id == work_order.id)
            .order_by(WorkOrderLine.position, WorkOrderLine.id)
        )
    ).all()
    # Parts in the order of their ids: two completions sharing parts lock them in the same order, so
    # they queue instead of deadlocking.
    part_lines = sorted(
        (line for line in lines if line.kind == "PART" and line.part_id is not None),
        key=lambda line: (line.part_id, line.id),
    )
    for line in part_lines:
        assert line.part_id is not None
        if line.approval == "DECLINED":
            if line.reserved_quantity > 0:
                await release_part(
                    uow,
                    line.part_id,
                    line.reserved_quantity,
                    work_order.id,
                    reason=f"{work_order.code} completed, line declined",
                )
        else:
            await consume_part(uow, line.part_id, line.quantity, line.reserved_quantity, work_order.id)
        line.reserved_quantity = Decimal(0)

    today = now.astimezone(ZoneInfo(tenant.timezone)).date()
    odometer = work_order.odometer_in_km
    vehicle_values: dict[str, Any] = {"last_service_on": today}
    if odometer is not None:
        # Never lower: a later reading (telematics, another job) may already be higher.
        vehicle_values["odometer_km"] = case(
            (Vehicle.odometer_km < odometer, odometer), else_=Vehicle.odometer_km
        )
    await session.execute(update(Vehicle).where(Vehicle.id == work_order.vehicle_id).values(**vehicle_values))
    # The job counts as the maintenance it was made for (or of its category): due dates start again.
    await mark_done_for_work_order(uow, work_order, today)

    billed = [line for line in lines if line.approval != "DECLINED"]
    part_ids = {line.part_id for line in billed if line.part_id is not None}
    units: dict[int, str] = {}
    if part_ids:
        rows = await session.execute(select(Part.id, Part.unit).where(Part.id.in_(part_ids)))
        units = {int(part_id): str(unit) for part_id, unit in rows}
    invoice = _invoice_for(work_order, billed, units, tenant, now)
    invoice.number = await next_number(uow, "invoice")
    session.add(invoice)
    await session.flush()
    invoice_number = format_invoice_number(invoice.number)
    record(
        uow,
        "work_order.completed",
        {
            "id": work_order.id,
            "number": work_order.code,
            "invoice_id": invoice.id,
            "invoice_number": invoice_number,
            "total": str(invoice.total),
            "currency": invoice.currency,
        },
        topics=_topics(work_order),
    )
    record(
        uow,
        "invoice.created",
        {
            "id": invoice.id,
            "number": invoice_number,
            "work_order_id": work_order.id,
            "net": str(invoice.net),
            "vat": str(invoice.vat),
            "total": str(invoice.total),
            "currency": invoice.currency,
        },
        topics=_topics(work_order),
    )
    await _mail_vehicle_ready(uow, work_order, tenant, invoice)


@dataclass(frozen=True)
class VehicleReady:
    """What the vehicle-ready mail tells the customer."""

    customer_name: str
    vehicle: str
    plate: str | None
    code: str
    dealership: str
    invoice_code: str
    total: Decimal


async def _mail_vehicle_ready(
    uow: UnitOfWork, work_order: WorkOrder, tenant: Tenant, invoice: Invoice
) -> None:
    """Tell the customer, in their language, that the car can be collected. Once per job, as a job
    reaches READY only once; never to a customer without a valid email, who asked not to be contacted
    or was erased, nor when the dealership has switched email notifications off."""
    if work_order.customer_id is None or not tenant.email_notifications:
        return
    session = uow.session
    customer = await session.scalar(select(Customer).where(Customer.id == work_order.customer_id))
    if customer is None or customer.do_not_contact or customer.erased_at is not None:
        return
    recipient = valid_address(customer.email)
    if recipient is None:
        return
    vehicle = (await session.execute(select(Vehicle).where(Vehicle.id == work_order.vehicle_id))).scalar_one()
    locale = locale_for(customer.preferred_language, tenant.country)
    language = language_of(locale)
    with written_for(locale, tenant.timezone, invoice.currency):
        ready = VehicleReady(
            customer_name=customer.display_name,
            vehicle=f"{vehicle.make} {vehicle.model}",
            plate=vehicle.plate,
            code=work_order.code,
            dealership=tenant.name,
            invoice_code=format_invoice_number(invoice.number),
            total=invoice.total,
        )
        subject = _(
            "Your %(vehicle)s is ready for collection at %(dealership)s",
            vehicle=ready.vehicle,
            dealership=tenant.name,
        )
        text, html = render_mail("vehicle_ready", ready=ready, lang=language)
    queue_mail(uow, recipient, subject, text, html, language=language, work_order_id=work_order.id)


def _invoice_for(
    work_order: WorkOrder,
    billed: list[WorkOrderLine],
    part_units: dict[int, str],
    tenant: Tenant,
    now: datetime,
) -> Invoice:
    """The invoice of `billed` lines; `part_units` is each part's unit by id (pc, l, ...)."""
    currency = tenant.currency
    sums = totals(
        [PricedLine(line.kind, line.quantity, line.unit_price) for line in billed], tenant.vat_rate, currency
    )
    return Invoice(
        work_order_id=work_order.id,
        customer_id=work_order.customer_id,
        currency=currency,
        # A snapshot: later changes to parts or prices never change an issued invoice.
        lines=[
            {
                "description": line.description,
                "kind": line.kind,
                "quantity": str(line.quantity),
                # What the quantity counts, so the invoice reads "4.5 l" and not a bare 4.5.
                "unit": _line_unit(line, part_units),
                "unit_price": str(line.unit_price),
                "net": str(line_net(line.quantity, line.unit_price, currency)),
            }
            for line in billed
        ],
        labour_net=sums.labour,
        parts_net=sums.parts,
        net=sums.net,
        vat_rate=tenant.vat_rate,
        vat=sums.vat,
        payment_terms_days=tenant.payment_terms_days,
        total=sums.total,
        issued_at=now,
    )


def _line_unit(line: WorkOrderLine, part_units: dict[int, str]) -> str:
    if line.kind == "LABOUR":
        return "h"
    return part_units.get(line.part_id, "") if line.part_id is not None else ""


async def _release_reservations(uow: UnitOfWork, work_order: WorkOrder) -> None:
    lines = (
        await uow.session.scalars(
            select(WorkOrderLine)
            .where(WorkOrderLine.work_order_id == work_order.id, WorkOrderLine.reserved_quantity > 0)
            .order_by(WorkOrderLine.part_id, WorkOrderLine.id)
        )
    ).all()
    for line in lines:
        if line.part_id is None:
            continue
        await release_part(
            uow, line.part_id, line.reserved_quantity, work_order.id, reason=f"{work_order.code} cancelled"
        )
        line.reserved_quantity = Decimal(0)


async def _technician(uow: UnitOfWork, technician_id: int, *, lock: bool = False) -> User:
    """An active technician of this dealership; locked while a slot for them is being booked."""
    statement = select(User).where(User.id == technician_id, User.role == "technician", User.active.is_(True))
    technician = await uow.session.scalar(statement.with_for_update() if lock else statement)
    if technician is None:
        raise RuleViolation(_("Choose one of the technicians."), field="technician_id")
    return technician


async def _bay(uow: UnitOfWork, bay_id: int, *, lock: bool = False) -> Bay:
    """An active bay of this dealership; locked while a slot in it is being booked."""
    statement = select(Bay).where(Bay.id == bay_id)
    bay = await uow.session.scalar(statement.with_for_update() if lock else statement)
    if bay is None:
        raise RuleViolation(_("Choose one of the bays."), field="bay_id")
    if not bay.active:
        raise RuleViolation(_("%(bay)s is out of service; choose another bay.", bay=bay.name), field="bay_id")
    return bay


async def _refuse_overlaps(
    uow: UnitOfWork,
    work_order: WorkOrder,
    bay: Bay | None,
    technician: User | None,
    start: datetime,
    end: datetime,
) -> None:
    """A bay and a technician do one job at a time: no two open jobs' slots may overlap."""
    for field, column, holder in (
        ("bay_id", WorkOrder.bay_id, bay),
        ("technician_id", WorkOrder.technician_id, technician),
    ):
        if holder is None:
            continue
        clash = (
            await uow.session.execute(
                select(WorkOrder.number, WorkOrder.scheduled_start, WorkOrder.scheduled_end)
                .where(
                    column == holder.id,
                    WorkOrder.id != work_order.id,
                    WorkOrder.status.in_(SCHEDULABLE_STATUSES),
                    WorkOrder.scheduled_start < end,
                    WorkOrder.scheduled_end > start,
                )
                .order_by(WorkOrder.scheduled_start)
                .limit(1)
            )
        ).first()
        if clash is not None:
            raise RuleViolation(
                _(
                    "%(name)s is booked for %(number)s from %(start)s to %(end)s.",
                    name=holder.name,
                    number=format_work_order_number(clash.number),
                    start=format_datetime(clash.scheduled_start),
                    end=format_datetime(clash.scheduled_end),
                ),
                field=field,
            )


async def schedule_work_order(
    uow: UnitOfWork,
    work_order_id: int,
    bay_id: int,
    technician_id: int,
    start: datetime,
    end: datetime,
    expected_version: int | None,
) -> WorkOrder:
    """Book a bay and a technician for a slot; a NEW job becomes SCHEDULED, a booked one is rebooked."""
    work_order = await load_for_change(uow, work_order_id, "work_order.schedule", expected_version)
    if work_order.status not in SCHEDULABLE_STATUSES:
        raise RuleViolation(
            _(
                "%(number)s is %(status)s and cannot be scheduled any more.",
                number=work_order.code,
                status=status_label(work_order.status),
            ),
            field="status",
        )
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("schedule times must be timezone-aware")
    if end <= start:
        raise RuleViolation(_("The end must be after the start."), field="end")
    # Bays before technicians, always: two bookings lock in the same order and queue, never deadlock.
    bay = await _bay(uow, bay_id, lock=True)
    technician = await _technician(uow, technician_id, lock=True)
    await _refuse_overlaps(uow, work_order, bay, technician, start, end)
    values: dict[str, Any] = {
        "bay_id": bay.id,
        "technician_id": technician.id,
        "scheduled_start": start,
        "scheduled_end": end,
    }
    status_changed = work_order.status == "NEW"
    if status_changed:
        await change_status(uow, work_order, "SCHEDULED", **values)
    else:
        values["occupied_bay_id"] = bay.id if _holds_bay(work_order) else None
        await _write(uow, work_order, values)
    record(
        uow,
        "work_order.scheduled",
        {
            "id": work_order.id,
            "number": work_order.code,
            "bay_id": bay.id,
            "technician_id": technician.id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            # The move to SCHEDULED was recorded (and announced) as well.
            "status_changed": status_changed,
            "version": work_order.version,
        },
        topics=_topics(work_order),
    )
    await uow.commit()
    return work_order


async def assign_work_order(
    uow: UnitOfWork,
    work_order_id: int,
    technician_id: int | None,
    bay_id: int | None,
    expected_version: int | None,
) -> WorkOrder:
    """Give a job to another technician and/or bay (None leaves it unassigned); the status stays."""
    work_order = await load_for_change(uow, work_order_id, "work_order.assign", expected_version)
    if work_order.status not in SCHEDULABLE_STATUSES:
        raise RuleViolation(
            _(
                "%(number)s is %(status)s and cannot be reassigned.",
                number=work_order.code,
                status=status_label(work_order.status),
            ),
            field="status",
        )
    if (technician_id, bay_id) == (work_order.technician_id, work_order.bay_id):
        return work_order
    if bay_id is None and work_order.occupied_bay_id is not None:
        # A job keeps the bay its car is in until the work stops; without it, the bay would look free.
        held = await uow.session.scalar(select(Bay.name).where(Bay.id == work_order.occupied_bay_id))
        raise RuleViolation(
            _(
                "%(number)s is being worked on in %(bay)s and keeps that bay while it is %(status)s. "
                "Choose another free bay, or move the job out of work first.",
                number=work_order.code,
                bay=held,
                status=status_label(work_order.status),
            ),
            field="bay_id",
        )
    # Only what changes is checked: a job may stay with a bay since taken out of service.
    new_bay = bay_id is not None and bay_id != work_order.bay_id
    new_technician = technician_id is not None and technician_id != work_order.technician_id
    bay = await _bay(uow, bay_id, lock=True) if new_bay and bay_id is not None else None
    technician = (
        await _technician(uow, technician_id, lock=True)
        if new_technician and technician_id is not None
        else None
    )
    start, end = work_order.scheduled_start, work_order.scheduled_end
    if start is not None and end is not None:
        # The job keeps its slot, so its new bay and technician must be free then.
        await _refuse_overlaps(uow, work_order, bay, technician, start, end)
    await _write(
        uow,
        work_order,
        {
            "technician_id": technician_id,
            "bay_id": bay_id,
            "occupied_bay_id": bay_id if _holds_bay(work_order) else None,
        },
    )
    record(
        uow,
        "work_order.assigned",
        {
            "id": work_order.id,
            "number": work_order.code,
            "technician_id": technician_id,
            "bay_id": bay_id,
            "version": work_order.version,
        },
        topics=_topics(work_order),
    )
    await uow.commit()
    return work_order


@dataclass(frozen=True)
class WorkOrderDetails:
    """What an advisor corrects on a work order after creating it (the customer calls, the first
    diagnosis was wrong); the vehicle and customer stay, the assignment has its own form."""

    complaint: str
    priority: str
    category_id: int | None = None
    promised_at: datetime | None = None


def _same_minute(first: datetime | None, second: datetime | None) -> bool:
    if first is None or second is None:
        return first is second
    return first.replace(second=0, microsecond=0) == second.replace(second=0, microsecond=0)


def _detail_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def update_work_order_details(
    uow: UnitOfWork, work_order_id: int, details: WorkOrderDetails, expected_version: int | None
) -> WorkOrder:
    """Correct a job's complaint, category, priority or promised time; the status stays.

    Records `work_order.updated` with the values before and after, and a history entry naming what
    changed; nothing at all when nothing changed. The promised time is checked as a new promise only
    when it changes (to the minute, as the form shows it), so a late job's other details can still be
    corrected. Clearing it is allowed (a promise entered on the wrong job, a customer with no date);
    the history and the event say who cleared which promise.
    """
    work_order = await load_for_change(uow, work_order_id, "work_order.edit", expected_version)
    if work_order.status not in DETAILS_EDITABLE_STATUSES:
        raise RuleViolation(
            _(
                "%(number)s is %(status)s; its details can no longer change.",
                number=work_order.code,
                status=status_label(work_order.status),
            ),
            field="status",
        )
    if details.priority not in PRIORITIES:
        raise RuleViolation(_("Choose a priority."), field="priority")
    if details.category_id is not None and details.category_id != work_order.category_id:
        category = await uow.session.scalar(
            select(WorkOrderCategory.id).where(WorkOrderCategory.id == details.category_id)
        )
        if category is None:
            raise RuleViolation(_("Choose one of the categories."), field="category_id")
    promised_at = details.promised_at
    if promised_at is not None and promised_at.tzinfo is None:
        raise ValueError("the promised time must be timezone-aware")
    if _same_minute(promised_at, work_order.promised_at):
        promised_at = work_order.promised_at
    else:
        check_new_promise(promised_at)
    before = {name: getattr(work_order, name) for name in DETAILS}
    after = {
        "complaint": details.complaint,
        "category_id": details.category_id,
        "priority": details.priority,
        "promised_at": promised_at,
    }
    changed = [name for name in DETAILS if after[name] != before[name]]
    if not changed:
        # Nothing to write or record; committing the empty transaction (a rollback would expire the
        # order) leaves the caller the order as it is.
        await uow.commit()
        return work_order
    await _write(uow, work_order, {name: after[name] for name in changed})
    _add_history(uow, work_order, work_order.status, work_order.status, utcnow(), changes=changed)
    record(
        uow,
        "work_order.updated",
        {
            "id": work_order.id,
            "number": work_order.code,
            "changed": changed,
            "before": {name: _detail_value(before[name]) for name in changed},
            "after": {name: _detail_value(after[name]) for name in changed},
            "version": work_order.version,
        },
        topics=_topics(work_order),
    )
    await uow.commit()
    return work_order


async def check_in_work_order(
    uow: UnitOfWork, work_order_id: int, odometer_km: int, expected_version: int | None
) -> WorkOrder:
    """The car is at the workshop: its odometer is read and the job moves to CHECKED_IN."""
    work_order = await load_for_change(uow, work_order_id, "work_order.check_in", expected_version)
    refuse_forbidden_move(work_order, "CHECKED_IN")
    if odometer_km < 0:
        raise RuleViolation(_("The odometer cannot be negative."), field="odometer_km")
    if odometer_km > MAX_ODOMETER_KM:
        raise RuleViolation(_("No car has driven that far; check the reading."), field="odometer_km")
    recorded = int(
        await uow.session.scalar(select(Vehicle.odometer_km).where(Vehicle.id == work_order.vehicle_id)) or 0
    )
    if odometer_km < recorded:
        raise RuleViolation(
            _(
                "The odometer reading %(entered)s km is below the %(recorded)s km already recorded for "
                "this vehicle; check the reading.",
                entered=format_number(odometer_km, decimals=0),
                recorded=format_number(recorded, decimals=0),
            ),
            field="odometer_km",
        )
    now = utcnow()
    await change_status(uow, work_order, "CHECKED_IN", odometer_in_km=odometer_km, checked_in_at=now)
    # The reading is the car's latest: the vehicle shows it from now on, not only once the job is done.
    # Never lower: telematics may have sent a higher one since the check above.
    await uow.session.execute(
        update(Vehicle)
        .where(Vehicle.id == work_order.vehicle_id)
        .values(
            odometer_km=case((Vehicle.odometer_km < odometer_km, odometer_km), else_=Vehicle.odometer_km),
            odometer_m=case(
                (Vehicle.odometer_m < odometer_km * 1000, odometer_km * 1000), else_=Vehicle.odometer_m
            ),
        )
    )
    record(
        uow,
        "work_order.checked_in",
        {
            "id": work_order.id,
            "number": work_order.code,
            "odometer_km": odometer_km,
            "version": work_order.version,
        },
        topics=_topics(work_order),
    )
    await uow.commit()
    return work_order


async def close_work_order(uow: UnitOfWork, work_order_id: int, expected_version: int | None) -> WorkOrder:
    """The customer collected the car: READY -> CLOSED."""
    work_order = await load_for_change(uow, work_order_id, "work_order.move", expected_version)
    if work_order.status != "READY":
        raise RuleViolation(
            _(
                "Only a job that is ready can be closed; %(number)s is %(status)s.",
                number=work_order.code,
                status=status_label(work_order.status),
            ),
            field="status",
        )
    await change_status(uow, work_order, "CLOSED")
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


def stay_reason_label(reason: str) -> str:
    labels = {
        "ANSWERED_BAY_TAKEN": _(
            "The customer answered the estimate, but the bay is taken by another job: the order waits "
            "here until you move it on."
        ),
        "ANSWERED_NO_BAY": _(
            "The customer answered the estimate, but the order has no bay: the order waits here until you "
            "assign a bay and move it on."
        ),
    }
    return labels.get(reason, reason)


def priority_label(priority: str) -> str:
    labels = {"LOW": _("Low"), "NORMAL": _("Normal"), "HIGH": _("High"), "URGENT": _("Urgent")}
    return labels.get(priority, priority)
