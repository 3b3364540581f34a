"""Technician use cases: the time clock, notes with photos, parts marked as used, and the moves a
technician makes from the phone. Each is one transaction that records its events.

A clock runs only while its job is being worked on (IN_PROGRESS): clocking on a checked-in job starts
the work, and any move out of work stops the running clocks on it in the same transaction
(`stop_clocks_on`, also for the board's moves), so a READY job never keeps a clock running.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ops.auth.actor import NotFound, RuleViolation
from ops.auth.models import User
from ops.db import UnitOfWork, utcnow
from ops.events import record
from ops.i18n import gettext as _
from ops.workshop.models import (
    TimeEntry,
    WorkOrder,
    WorkOrderLine,
    WorkOrderNote,
    awaits_customer,
    format_work_order_number,
)
from ops.workshop.service import (
    WORKSHOP_TOPIC,
    change_status,
    load_for_change,
    status_label,
    work_order_topic,
)

TECHNICIANS_TOPIC = "technicians"
# A technician clocks on only a job that is in the workshop and not waiting for anything.
CLOCKABLE_STATUSES = ("CHECKED_IN", "IN_PROGRESS")
# Where a technician may send their job from the phone (READY completes it).
TECHNICIAN_MOVES = ("IN_PROGRESS", "WAITING_PARTS", "QUALITY_CHECK", "READY")
# Statuses in which a part can still change on the job.
LINES_FROZEN_STATUSES = ("READY", "CLOSED", "CANCELLED")

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_NOTE_LENGTH = 4000
# HEIF brands (ISO/IEC 23008-12) that iPhones and Android phones write; AVIF is not among them.
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"}
_HEIF_BRANDS = {b"mif1", b"msf1"}


def sniff_photo_type(data: bytes) -> str | None:
    """The image type the bytes really are (JPEG, PNG, WebP, HEIC/HEIF), or None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _HEIC_BRANDS:
            return "image/heic"
        if brand in _HEIF_BRANDS:
            return "image/heif"
    return None


@dataclass(frozen=True)
class ClockChange:
    """A clock that started or stopped, with the job it ran on."""

    entry: TimeEntry
    work_order: WorkOrder


async def _work_order(uow: UnitOfWork, work_order_id: int) -> WorkOrder:
    work_order = await uow.session.scalar(select(WorkOrder).where(WorkOrder.id == work_order_id))
    if work_order is None:
        raise NotFound(work_order_id)
    return work_order


async def _clock_owner(uow: UnitOfWork, technician_id: int | None) -> User:
    """Whose clock this is: the acting technician's own, or a named technician's for a manager."""
    actor = uow.actor
    if technician_id is None or technician_id == actor.user_id:
        actor.require("time_clock.use")
        technician_id = actor.user_id
    else:
        actor.require("time_clock.manage")
    technician = await uow.session.scalar(
        select(User).where(User.id == technician_id, User.role == "technician", User.active.is_(True))
    )
    if technician is None:
        # Not one of this dealership's technicians: as for any other id of another tenant, 404.
        raise NotFound(technician_id)
    return technician


def _is_self(uow: UnitOfWork, technician: User) -> bool:
    return technician.id == uow.actor.user_id


def _check_technician_works_on(uow: UnitOfWork, work_order: WorkOrder) -> None:
    """A technician changes only the jobs assigned to them; the office may change any."""
    if uow.actor.role == "technician" and work_order.technician_id != uow.actor.user_id:
        raise RuleViolation(_("%(number)s is not assigned to you.", number=work_order.code))


async def _running_entry(uow: UnitOfWork, technician_id: int) -> TimeEntry | None:
    return await uow.session.scalar(
        select(TimeEntry).where(TimeEntry.technician_id == technician_id, TimeEntry.ended_at.is_(None))
    )


async def _already_clocked_on(uow: UnitOfWork, technician: User, running: TimeEntry) -> RuleViolation:
    code = format_work_order_number(
        await uow.session.scalar(select(WorkOrder.number).where(WorkOrder.id == running.work_order_id)) or 0
    )
    if _is_self(uow, technician):
        return RuleViolation(_("You are clocked on %(number)s; clock off first.", number=code))
    return RuleViolation(
        _("%(name)s is clocked on %(number)s; clock off first.", name=technician.name, number=code)
    )


def _clock_payload(entry: TimeEntry, work_order: WorkOrder, technician: User) -> dict[str, object]:
    payload: dict[str, object] = {
        "id": entry.id,
        "work_order_id": work_order.id,
        "number": work_order.code,
        "technician_id": technician.id,
        "technician_name": technician.name,
        "started_at": entry.started_at.isoformat(),
    }
    if entry.ended_at is not None:
        payload["ended_at"] = entry.ended_at.isoformat()
        payload["seconds"] = int((entry.ended_at - entry.started_at).total_seconds())
    return payload


def _clock_topics(work_order_id: int) -> list[str]:
    return [WORKSHOP_TOPIC, work_order_topic(work_order_id), TECHNICIANS_TOPIC]


async def clock_on(uow: UnitOfWork, work_order_id: int, technician_id: int | None = None) -> ClockChange:
    """Start the technician's clock on their job; a checked-in job goes to IN_PROGRESS with it.

    One running clock per technician: the check below gives the friendly answer, and the unique index
    over running entries decides when two clock-ons race past it together.
    """
    work_order = await _work_order(uow, work_order_id)
    technician = await _clock_owner(uow, technician_id)
    code = work_order.code
    if work_order.technician_id != technician.id:
        if _is_self(uow, technician):
            raise RuleViolation(_("%(number)s is not assigned to you.", number=code))
        raise RuleViolation(
            _("%(number)s is not assigned to %(name)s.", number=code, name=technician.name),
            field="technician_id",
        )
    if work_order.status not in CLOCKABLE_STATUSES:
        raise RuleViolation(
            _(
                "%(number)s is %(status)s; clock on when work can go on.",
                number=code,
                status=status_label(work_order.status),
            )
        )
    running = await _running_entry(uow, technician.id)
    if running is not None:
        raise await _already_clocked_on(uow, technician, running)

    entry = TimeEntry(technician_id=technician.id, work_order_id=work_order.id, started_at=utcnow())
    try:
        async with uow.session.begin_nested():
            uow.session.add(entry)
    except IntegrityError:
        # Another clock-on for the same technician committed after our check.
        running = await _running_entry(uow, technician.id)
        if running is None:
            raise
        raise await _already_clocked_on(uow, technician, running) from None
    record(
        uow,
        "technician.clocked_on",
        _clock_payload(entry, work_order, technician),
        _clock_topics(work_order.id),
    )
    if work_order.status == "CHECKED_IN":
        # Clocking on starts the work: the same status change as the board's (history, the bay,
        # the version guard), in this transaction.
        await change_status(uow, work_order, "IN_PROGRESS")
    await uow.commit()
    return ClockChange(entry, work_order)


async def clock_off(
    uow: UnitOfWork, work_order_id: int | None = None, technician_id: int | None = None
) -> ClockChange:
    """Stop the technician's running clock (on `work_order_id`, when given)."""
    work_order = await _work_order(uow, work_order_id) if work_order_id is not None else None
    technician = await _clock_owner(uow, technician_id)
    running = await _running_entry(uow, technician.id)
    if running is None or (work_order is not None and running.work_order_id != work_order.id):
        if work_order is not None:
            message = (
                _("You are not clocked on %(number)s.", number=work_order.code)
                if _is_self(uow, technician)
                else _("%(name)s is not clocked on %(number)s.", name=technician.name, number=work_order.code)
            )
        else:
            message = (
                _("You are not clocked on any job.")
                if _is_self(uow, technician)
                else _("%(name)s is not clocked on any job.", name=technician.name)
            )
        raise RuleViolation(message)
    if work_order is None:
        work_order = await _work_order(uow, running.work_order_id)
    ended_at = utcnow()
    # Conditional, so that a clock stopped meanwhile by a move is not stopped (and recorded) twice.
    result = await uow.session.execute(
        update(TimeEntry)
        .where(TimeEntry.id == running.id, TimeEntry.ended_at.is_(None))
        .values(ended_at=ended_at)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise RuleViolation(_("The clock on %(number)s was already stopped.", number=work_order.code))
    running.ended_at = ended_at
    record(
        uow,
        "technician.clocked_off",
        {**_clock_payload(running, work_order, technician), "reason": "clock_off"},
        _clock_topics(work_order.id),
    )
    await uow.commit()
    return ClockChange(running, work_order)


async def stop_clocks_on(uow: UnitOfWork, work_order: WorkOrder, reason: str) -> list[TimeEntry]:
    """Stop every clock running on a job that leaves work; records events, does not commit.

    Called inside the move's own transaction, so the clock stops exactly when the job leaves work,
    and not at all if the move fails.
    """
    running = list(
        (
            await uow.session.scalars(
                select(TimeEntry).where(
                    TimeEntry.work_order_id == work_order.id, TimeEntry.ended_at.is_(None)
                )
            )
        ).all()
    )
    if not running:
        return []
    rows = await uow.session.execute(
        select(User.id, User.name).where(User.id.in_([entry.technician_id for entry in running]))
    )
    names = {int(user_id): str(name) for user_id, name in rows}
    ended_at = utcnow()
    stopped = []
    for entry in running:
        result = await uow.session.execute(
            update(TimeEntry)
            .where(TimeEntry.id == entry.id, TimeEntry.ended_at.is_(None))
            .values(ended_at=ended_at)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            continue
        entry.ended_at = ended_at
        stopped.append(entry)
        payload = {
            "id": entry.id,
            "work_order_id": work_order.id,
            "number": work_order.code,
            "technician_id": entry.technician_id,
            "technician_name": names.get(entry.technician_id, ""),
            "started_at": entry.started_at.isoformat(),
            "ended_at": ended_at.isoformat(),
            "seconds": int((ended_at - entry.started_at).total_seconds()),
            "reason": reason,
        }
        record(uow, "technician.clocked_off", payload, _clock_topics(work_order.id))
    return stopped


async def move_my_job(
    uow: UnitOfWork, work_order_id: int, to_status: str, expected_version: int | None
) -> WorkOrder:
    """A technician's move from the phone: back to work, waiting for parts, quality check or ready.

    Leaving work stops the running clocks on the job in the same transaction; a refused move (a stale
    version, a part short at completion) leaves the clocks running.
    """
    work_order = await load_for_change(uow, work_order_id, "work_order.move", expected_version)
    _check_technician_works_on(uow, work_order)
    if to_status not in TECHNICIAN_MOVES:
        raise RuleViolation(_("Unknown status."), field="status")
    # change_status stops the running clocks when the job leaves work.
    await change_status(uow, work_order, to_status)
    await uow.commit()
    return work_order


async def add_note(
    uow: UnitOfWork,
    work_order_id: int,
    body: str,
    photo: bytes | None = None,
    photo_type: str | None = None,
) -> WorkOrderNote:
    """A note on the job, with an optional photo.

    The photo's type is read from its bytes; `photo_type` is only what the client claimed, named in
    the refusal so that the person sees which file was refused.
    """
    work_order = await _work_order(uow, work_order_id)
    uow.actor.require("work_order.note")
    _check_technician_works_on(uow, work_order)
    body = (body or "").strip()
    if len(body) > MAX_NOTE_LENGTH:
        raise RuleViolation(_("Use at most %(max)s characters.", max=MAX_NOTE_LENGTH), field="body")
    stored_type = None
    if photo:
        if len(photo) > MAX_PHOTO_BYTES:
            raise RuleViolation(
                _("The photo is larger than %(size)s MB; take it at a lower resolution.", size=8),
                field="photo",
            )
        stored_type = sniff_photo_type(photo)
        if stored_type is None:
            claimed = f" ({photo_type})" if photo_type else ""
            raise RuleViolation(
                _("This file%(claimed)s is not a photo; use JPEG, PNG, WebP or HEIC.", claimed=claimed),
                field="photo",
            )
    else:
        photo = None
    if not body and photo is None:
        raise RuleViolation(_("Write a note or add a photo."), field="body")
    note = WorkOrderNote(
        work_order_id=work_order.id,
        author_id=uow.actor.user_id,
        body=body,
        photo=photo,
        photo_type=stored_type,
        created_at=utcnow(),
    )
    uow.session.add(note)
    await uow.session.flush()
    record(
        uow,
        "work_order.note_added",
        {"id": work_order.id, "number": work_order.code, "note_id": note.id, "has_photo": photo is not None},
        [WORKSHOP_TOPIC, work_order_topic(work_order.id)],
    )
    await uow.commit()
    return note


async def mark_part_used(uow: UnitOfWork, line_id: int, used: bool) -> WorkOrderLine:
    """Mark a part line as fitted on the car (or take the mark back); not one the customer declined or
    has yet to answer in the estimate sent."""
    line = await uow.session.scalar(select(WorkOrderLine).where(WorkOrderLine.id == line_id))
    if line is None:
        raise NotFound(line_id)
    work_order = await _work_order(uow, line.work_order_id)
    uow.actor.require("work_order.mark_used")
    _check_technician_works_on(uow, work_order)
    if line.kind != "PART":
        raise RuleViolation(_("Only parts can be marked as used."), field="used")
    if work_order.status in LINES_FROZEN_STATUSES:
        raise RuleViolation(
            _(
                "%(number)s is %(status)s; its parts can no longer change.",
                number=work_order.code,
                status=status_label(work_order.status),
            ),
            field="used",
        )
    if line.approval == "DECLINED" and used:
        raise RuleViolation(_("The customer declined this part."), field="used")
    if used and awaits_customer(line.approval, line.created_at, work_order.estimate_sent_at):
        raise RuleViolation(
            _(
                "%(part)s is awaiting the customer's approval; fit it once they have approved it.",
                part=line.description,
            ),
            field="used",
        )
    if line.used == used:
        return line
    line.used = used
    await uow.session.flush()
    record(
        uow,
        "work_order.part_marked_used",
        {"id": work_order.id, "number": work_order.code, "line_id": line.id, "used": used},
        [WORKSHOP_TOPIC, work_order_topic(work_order.id)],
    )
    await uow.commit()
    return line
