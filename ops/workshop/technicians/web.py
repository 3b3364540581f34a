"""The technician's phone screen ("My jobs"), note photos, and the manager's technician view."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import time
from typing import Any

from babel.dates import format_time
from quart import Blueprint, abort, redirect, request, url_for
from werkzeug.datastructures import FileStorage

from ops.auth.actor import Conflict, NotFound, PermissionDenied, RuleViolation
from ops.auth.web import csrf_token, current_actor, current_tenant, login_required
from ops.db import utcnow
from ops.i18n import current_locale
from ops.i18n import gettext as _
from ops.pages import flash_message, is_htmx, render_fragment, render_page
from ops.runtime import runtime
from ops.workshop.parts.service import format_quantity
from ops.workshop.service import status_label
from ops.workshop.technicians import queries
from ops.workshop.technicians.service import (
    MAX_PHOTO_BYTES,
    add_note,
    clock_off,
    clock_on,
    mark_part_used,
    move_my_job,
)

bp = Blueprint("technicians", __name__, url_prefix="/workshop")

MY_JOBS_TEMPLATE = "workshop/technicians/my_jobs.html"
OVERVIEW_TEMPLATE = "workshop/technicians/overview.html"
# The note form's request may carry a photo of up to MAX_PHOTO_BYTES plus the text and the form's
# own framing; every other route keeps the site-wide request limit (ops/app.py).
NOTE_UPLOAD_LIMIT = MAX_PHOTO_BYTES + 64 * 1024


def request_body_limit(path: str) -> int | None:
    """A larger request limit for the note upload route, None for the site-wide one."""
    parts = path.strip("/").split("/")
    if (
        len(parts) == 4
        and parts[0] == "workshop"
        and parts[1] in {"my-jobs", "work-orders"}
        and parts[3] == "notes"
        and parts[2].isdigit()
    ):
        return NOTE_UPLOAD_LIMIT
    return None


# -- My jobs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What became of an action on one job, shown on that job (next to `field` when it names one)."""

    kind: str
    message: str
    field: str | None = None


@bp.get("/my-jobs")
@login_required
async def my_jobs() -> Any:
    actor = current_actor()
    actor.require("time_clock.use")
    if is_htmx():
        return await _my_jobs_fragment()
    # Take the live position before reading, so nothing committed in between is missed.
    live_id = runtime().hub.current_id()
    return await render_page(MY_JOBS_TEMPLATE, **await _my_jobs_context(), live_id=live_id)


async def _my_jobs_context(messages: dict[int, Outcome] | None = None) -> dict[str, Any]:
    actor = current_actor()
    _start, end = queries.day_bounds(utcnow(), current_tenant().timezone)
    async with runtime().db.read(actor.tenant_id) as session:
        day = await queries.my_day(session, actor.user_id or 0, end)
    return {
        "day": day,
        "messages": messages or {},
        "csrf": csrf_token(),
        "format_elapsed": queries.format_elapsed,
        "format_quantity": format_quantity,
        "max_photo_bytes": MAX_PHOTO_BYTES,
    }


async def _my_jobs_fragment(messages: dict[int, Outcome] | None = None) -> str:
    return await render_fragment(MY_JOBS_TEMPLATE, "jobs", **await _my_jobs_context(messages))


async def _answer(work_order_id: int, action: Callable[[], Awaitable[str]]) -> Any:
    """Run a My-jobs action; answer with the list as it is now and the outcome next to the job.

    A refused action answers 422 (409 for a stale job) with the reason on the job it concerns; a
    full-page post gets the same sentence as a flash and is redirected back.
    """
    code, outcome = 200, Outcome("success", "")
    try:
        outcome = Outcome("success", await action())
    except NotFound:
        abort(404)
    except PermissionDenied:
        raise
    except Conflict as conflict:
        code, outcome = 409, Outcome("error", str(conflict))
    except RuleViolation as violation:
        code, outcome = 422, Outcome("error", str(violation), violation.field)
    if not is_htmx():
        await flash_message(outcome.message, outcome.kind)
        return redirect(url_for("technicians.my_jobs"))
    return await _my_jobs_fragment({work_order_id: outcome}), code


@bp.post("/my-jobs/<int:work_order_id>/clock-on")
@login_required
async def clock_on_view(work_order_id: int) -> Any:
    actor = current_actor()

    async def action() -> str:
        async with runtime().db.uow(actor) as uow:
            change = await clock_on(uow, work_order_id)
        return _("Clocked on %(number)s.", number=change.work_order.code)

    return await _answer(work_order_id, action)


@bp.post("/my-jobs/clock-off")
@login_required
async def clock_off_view() -> Any:
    actor = current_actor()
    work_order_id = _positive_int((await request.form).get("work_order_id", ""))

    async def action() -> str:
        async with runtime().db.uow(actor) as uow:
            change = await clock_off(uow, work_order_id)
        return _("Clocked off %(number)s.", number=change.work_order.code)

    return await _answer(work_order_id or 0, action)


@bp.post("/my-jobs/<int:work_order_id>/notes")
@login_required
async def add_note_view(work_order_id: int) -> Any:
    actor = current_actor()
    form = await request.form
    upload: FileStorage | None = (await request.files).get("photo")
    photo = upload.read() if upload is not None else None
    photo_type = upload.mimetype if upload is not None and photo else None

    async def action() -> str:
        async with runtime().db.uow(actor) as uow:
            note = await add_note(uow, work_order_id, form.get("body", ""), photo or None, photo_type)
        return _("Photo added.") if note.photo is not None and not note.body else _("Note added.")

    return await _answer(work_order_id, action)


@bp.post("/work-orders/<int:work_order_id>/notes", endpoint="add_note")
@login_required
async def add_note_from_order_page(work_order_id: int) -> Any:
    """The work-order page's note form: the same use case, answered back on that page."""
    actor = current_actor()
    form = await request.form
    upload: FileStorage | None = (await request.files).get("photo")
    photo = upload.read() if upload is not None else None
    photo_type = upload.mimetype if upload is not None and photo else None
    try:
        async with runtime().db.uow(actor) as uow:
            await add_note(uow, work_order_id, form.get("body", ""), photo or None, photo_type)
    except NotFound:
        abort(404)
    except RuleViolation as violation:
        await flash_message(str(violation), "error")
    else:
        await flash_message(_("Note added."), "success")
    return redirect(url_for("jobs.order", work_order_id=work_order_id), 303)


@bp.post("/my-jobs/lines/<int:line_id>/used")
@login_required
async def mark_used_view(line_id: int) -> Any:
    actor = current_actor()
    form = await request.form
    used = form.get("used") == "1"
    work_order_id = _positive_int(form.get("work_order_id", "")) or 0

    async def action() -> str:
        async with runtime().db.uow(actor) as uow:
            line = await mark_part_used(uow, line_id, used)
        if line.used:
            return _("%(part)s marked as used.", part=line.description)
        return _("%(part)s marked as not used.", part=line.description)

    return await _answer(work_order_id, action)


@bp.post("/my-jobs/<int:work_order_id>/move")
@login_required
async def move_view(work_order_id: int) -> Any:
    actor = current_actor()
    form = await request.form
    status = form.get("status", "")
    version = _positive_int(form.get("version", ""))

    async def action() -> str:
        async with runtime().db.uow(actor) as uow:
            work_order = await move_my_job(uow, work_order_id, status, version)
        return _("%(number)s moved to %(status)s.", number=work_order.code, status=status_label(status))

    return await _answer(work_order_id, action)


def _positive_int(value: str) -> int | None:
    try:
        number = int(value)
    except ValueError:
        return None
    return number if number > 0 else None


# -- photos ---------------------------------------------------------------------------------------


@bp.get("/notes/<int:note_id>/photo")
@login_required
async def note_photo(note_id: int) -> Any:
    actor = current_actor()
    actor.require("workshop.view")
    async with runtime().db.read(actor.tenant_id) as session:
        found = await queries.note_photo(session, note_id)
    if found is None:
        abort(404)
    data, content_type = found
    disposition = (
        "inline"
        if content_type in queries.INLINE_PHOTO_TYPES
        # Most browsers cannot show HEIC: it downloads under a name that says what it is.
        else f'attachment; filename="note-{note_id}.{content_type.removeprefix("image/")}"'
    )
    headers = {
        "Content-Type": content_type,
        "Content-Disposition": disposition,
        # Photos of customers' cars are for signed-in staff only: no shared cache may keep one.
        "Cache-Control": "private, max-age=86400",
    }
    return data, 200, headers


# -- the technician view ----------------------------------------------------------------------------


def skill_label(skill: str) -> str:
    labels = {
        "ENGINE": _("Engine"),
        "TRANSMISSION": _("Transmission"),
        "ELECTRICAL": _("Electrical"),
        "DIAGNOSTICS": _("Diagnostics"),
        "AC": _("Air conditioning"),
        "EV_HIGH_VOLTAGE": _("EV high voltage"),
        "BODY": _("Body"),
        "TIRES": _("Tyres"),
    }
    return labels.get(skill, skill)


def format_shift_time(value: time) -> str:
    return format_time(value, format="short", locale=current_locale.get())


@bp.get("/technicians")
@login_required
async def overview() -> Any:
    actor = current_actor()
    actor.require("technicians.view")
    live_id = runtime().hub.current_id()
    start, end = queries.day_bounds(utcnow(), current_tenant().timezone)
    async with runtime().db.read(actor.tenant_id) as session:
        view = await queries.overview(session, start, end)
    context = {
        "overview": view,
        "unassigned_shown": queries.UNASSIGNED_SHOWN,
        "can_assign": actor.can("work_order.assign"),
        "can_manage_clock": actor.can("time_clock.manage"),
        "csrf": csrf_token(),
        "format_elapsed": queries.format_elapsed,
        "format_shift_time": format_shift_time,
        "skill_label": skill_label,
        "live_id": live_id,
    }
    if is_htmx():
        return await render_fragment(OVERVIEW_TEMPLATE, "technicians", **context)
    return await render_page(OVERVIEW_TEMPLATE, **context)


@bp.post("/technicians/<int:technician_id>/clock-off")
@login_required
async def clock_off_technician(technician_id: int) -> Any:
    """A manager stops a clock a technician forgot to stop."""
    actor = current_actor()
    try:
        async with runtime().db.uow(actor) as uow:
            change = await clock_off(uow, None, technician_id=technician_id)
        message, kind, code = _("Clocked off %(number)s.", number=change.work_order.code), "success", 200
    except RuleViolation as violation:
        message, kind, code = str(violation), "error", 422
    if not is_htmx():
        await flash_message(message, kind)
        return redirect(url_for("technicians.overview"))
    return await render_page("partials/toast.html", kind=kind, message=message), code
