"""The job board and a work order's lifecycle: the board with its filters, creating a work order from a
vehicle search, and the changes: move, schedule, assign, check in, close.

How a change answers (every POST here, all with CSRF and the version the user saw):
- a plain form post (no JavaScript) redirects back, with a flash saying what happened or why not: to
  the work-order page when it was sent from there (Referer), else to the board, keeping its filters;
- an htmx post from the board gets the board's live-update fragment: the card where it really is
  now, both column counts, the announcement, and on refusal a toast (409 stale, 422 refused);
- an htmx post from the work-order page (`/workshop/work-orders/<id>`, the JOBS area's page) gets
  `HX-Redirect` to that page with the flash: the page shows the new state with everything that
  follows from it (lines, totals, invoice), and every other screen gets the change live. The
  status code is the outcome's all the same (200, 409, 422). A refused form of that page (check
  in, schedule, assign) is the exception: the page's actions come back with that form still open,
  what was typed in it and the message next to its field, or above the form when no field of it is
  at fault (a stale version: the form then carries the current one, and the header beside it shows
  the order as it is now, so sending it again is a decision taken on the state shown); the whole
  page with them for a plain post. Nobody has to open it again and retype.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, StringConstraints
from quart import Blueprint, abort, current_app, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from ops.auth.actor import Conflict, NotFound, RuleViolation
from ops.auth.web import csrf_token, current_actor, current_tenant, login_required
from ops.db import UnitOfWork
from ops.events import EventRecord
from ops.i18n import gettext as _
from ops.notices import user_topic
from ops.pages import flash_message, is_htmx, parse_form, render_fragment, render_page
from ops.runtime import runtime
from ops.workshop import queries
from ops.workshop.jobs.web import render_order
from ops.workshop.live import announcement_for, board_text, render_board_update, render_cards
from ops.workshop.models import WorkOrder
from ops.workshop.queries import UNASSIGNED, BoardFilter
from ops.workshop.service import (
    IN_BAY_STATUSES,
    OPEN_STATUSES,
    PRIORITIES,
    WORKSHOP_TOPIC,
    NewWorkOrder,
    WorkOrderDetails,
    assign_work_order,
    check_in_work_order,
    check_new_promise,
    close_work_order,
    create_work_order,
    move_work_order,
    schedule_work_order,
    update_work_order_details,
)
from ops.workshop.service import status_label as label_for_status
from realtime.hub import View

bp = Blueprint("workshop", __name__, url_prefix="/workshop")

BOARD_PATH = "/workshop/board"


# A complaint and a priority are taken alike when a work order is created and when it is corrected.
Complaint = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Priority = Literal["LOW", "NORMAL", "HIGH", "URGENT"]


class WorkOrderForm(BaseModel):
    vehicle_id: int
    complaint: Complaint
    priority: Priority = "NORMAL"
    category_id: int | None = None
    technician_id: int | None = None
    bay_id: int | None = None
    promised_at: datetime | None = Field(default=None)


class DetailsForm(BaseModel):
    complaint: Complaint
    priority: Priority
    # Empty means "no category" / "no promise".
    category_id: int | None = None
    promised_at: datetime | None = None


class ScheduleForm(BaseModel):
    bay_id: int
    technician_id: int
    start: datetime
    end: datetime


class MoveForm(BaseModel):
    # None (empty) is refused by the service as an unknown status.
    status: str | None = None
    # A bay given in the same change (the board's bay dialog); empty keeps the job's own.
    bay_id: int | None = None


class AssignForm(BaseModel):
    # Empty means "nobody" / "no bay".
    technician_id: int | None = None
    bay_id: int | None = None


class CheckInForm(BaseModel):
    odometer_km: int


def _field_labels() -> dict[str, str]:
    return {
        "bay_id": _("Bay"),
        "technician_id": _("Technician"),
        "start": _("Start"),
        "end": _("End"),
        "odometer_km": _("Odometer"),
        "complaint": _("Complaint"),
        "category_id": _("Category"),
        "priority": _("Priority"),
        "promised_at": _("Promised for"),
    }


# --- The board --------------------------------------------------------------------------------------


def _board_filter(args: MultiDict[str, str]) -> BoardFilter:
    """The board's filter from its URL; a value that is not one of the choices is ignored."""
    priority = args.get("priority", "")
    return BoardFilter(
        bay_id=_assignment_choice(args.get("bay", "")),
        technician_id=_assignment_choice(args.get("technician", "")),
        priority=priority if priority in PRIORITIES else None,
        overdue=args.get("overdue") == "1",
    )


def _assignment_choice(value: str) -> int | None:
    if value == "none":
        return UNASSIGNED
    return int(value) if value.isdigit() and 0 < int(value) < 2**63 else None


def _filter_args(board_filter: BoardFilter) -> dict[str, str]:
    """The filter as URL parameters, so a reload, a bookmark or a live reset keeps it."""
    args: dict[str, str] = {}
    for name, value in (("bay", board_filter.bay_id), ("technician", board_filter.technician_id)):
        if value is not None:
            args[name] = "none" if value == UNASSIGNED else str(value)
    if board_filter.priority:
        args["priority"] = board_filter.priority
    if board_filter.overdue:
        args["overdue"] = "1"
    return args


@bp.get("/board")
@login_required
async def board() -> Any:
    actor = current_actor()
    actor.require("workshop.view")
    board_filter = _board_filter(request.args)
    expand = request.args.get("expand", "")
    expand = expand if expand in OPEN_STATUSES else ""
    # Take the live position before reading the board, so nothing committed in between is missed.
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        if board_filter.active:
            # A filtered board shows every card it counts: app.js recounts a filtered board's
            # columns from the cards it shows when live updates come in.
            columns = await queries.board_columns(session, board_filter)
            counts = {status: len(cards) for status, cards in columns.items()}
        else:
            columns = await queries.board_columns(session, limit=queries.COLUMN_LIMIT, expand=expand or None)
            counts = await queries.column_counts(session)
        bays = await queries.active_bays(session)
        technicians = await queries.active_technicians(session)
    can_move, can_assign, csrf = actor.can("work_order.move"), actor.can("work_order.assign"), csrf_token()
    env = current_app.jinja_env
    context = {
        "statuses": OPEN_STATUSES,
        "column_cards": {
            status: render_cards(env, cards, can_move=can_move, can_assign=can_assign, csrf=csrf)
            for status, cards in columns.items()
        },
        "shown": {status: len(cards) for status, cards in columns.items()},
        "counts": counts,
        "text": board_text(),
        "can_move": can_move,
        "can_assign": can_assign,
        "can_create": actor.can("work_order.create"),
        "live_id": live_id,
        # The board's changes, and the notices meant for whoever is reading it.
        "live_topics": [WORKSHOP_TOPIC, *([user_topic(actor.user_id)] if actor.user_id is not None else [])],
        "board_filter": board_filter,
        "filter_args": _filter_args(board_filter),
        "expand": expand,
        "bays": bays,
        "technicians": technicians,
        "priorities": PRIORITIES,
        "unassigned": UNASSIGNED,
    }
    if is_htmx():
        return await render_fragment("workshop/board.html", "board", **context)
    return await render_page("workshop/board.html", **context)


# --- Creating a work order from a vehicle -----------------------------------------------------------


@bp.get("/work-orders/new")
@login_required
async def new_work_order() -> Any:
    actor = current_actor()
    actor.require("work_order.create")
    form = {"vehicle_id": request.args.get("vehicle_id", "")}
    return await _render_form(form=form, errors={}, search=request.args.get("q", ""))


@bp.get("/vehicles/search")
@login_required
async def vehicle_search() -> Any:
    """The vehicle picker's results as the advisor types; a plain GET goes to the form with them."""
    actor = current_actor()
    actor.require("work_order.create")
    search = request.args.get("q", "")
    if not is_htmx():
        return redirect(url_for("workshop.new_work_order", q=search))
    context = await _vehicle_picker(search, request.args.get("vehicle_id", ""), errors={})
    return await render_fragment("workshop/new.html", "vehicle_results", **context)


async def _vehicle_picker(search: str, chosen: str, errors: dict[str, str]) -> dict[str, Any]:
    actor = current_actor()
    search = search.strip()[:100]
    async with runtime().db.read(actor.tenant_id) as session:
        vehicles, more = await queries.search_vehicles(session, search)
        selected = None
        if chosen.isdigit() and int(chosen) < 2**63:
            selected = await queries.vehicle_choice(session, int(chosen))
        has_vehicles = selected is not None or bool(vehicles) or await queries.has_vehicles(session)
    return {
        "search": search,
        "vehicles": [vehicle for vehicle in vehicles if selected is None or vehicle.id != selected.id],
        "more": more,
        "selected": selected,
        "has_vehicles": has_vehicles,
        "errors": errors,
    }


async def _render_form(form: dict[str, Any], errors: dict[str, str], search: str = "") -> str:
    actor = current_actor()
    picker = await _vehicle_picker(search, str(form.get("vehicle_id") or ""), errors)
    async with runtime().db.read(actor.tenant_id) as session:
        choices = await queries.form_choices(session)
    # A car the dealership has not seen yet is added on the vehicle form, which comes back here with it.
    can_add = actor.can("vehicle.edit")
    new_vehicle_url = url_for("vehicles.new_vehicle", then="work_order") if can_add else None
    return await render_page(
        "workshop/new.html",
        form=form,
        choices=choices,
        priorities=PRIORITIES,
        new_vehicle_url=new_vehicle_url,
        **picker,
    )


@bp.get("/work-orders")
@login_required
async def work_orders() -> Any:
    """The work orders are on the job board: someone who typed the address, or reloaded after a failed
    create, lands there instead of on a bare 405."""
    return redirect(url_for("workshop.board"), 303)


@bp.post("/work-orders", endpoint="create_work_order")
@login_required
async def create_work_order_view() -> Any:
    actor = current_actor()
    actor.require("work_order.create")
    form = dict((await request.form).items())
    form.pop("csrf_token", None)
    data, errors = parse_form(WorkOrderForm, form)
    if data is None:
        return await _render_form(form, errors), 422
    promised_at = _wall_clock(data.promised_at)
    try:
        check_new_promise(promised_at)
        async with runtime().db.uow(actor) as uow:
            work_order = await create_work_order(
                uow,
                NewWorkOrder(
                    vehicle_id=data.vehicle_id,
                    complaint=data.complaint,
                    priority=data.priority,
                    category_id=data.category_id,
                    technician_id=data.technician_id,
                    promised_at=promised_at,
                    bay_id=data.bay_id,
                ),
            )
    except RuleViolation as violation:
        return await _render_form(form, {violation.field or "__all__": str(violation)}), 422
    # The new job's own page, where its work goes on; the board gets the new card live all the same.
    await flash_message(_("Work order %(number)s created.", number=work_order.code), "success")
    return redirect(url_for("jobs.order", work_order_id=work_order.id))


def _wall_clock(value: datetime | None) -> datetime | None:
    """A datetime-local field is the dealership's wall-clock time, not the server's."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(current_tenant().timezone))


# --- Changing a work order ----------------------------------------------------------------------------


@bp.post("/work-orders/<int:work_order_id>/move")
@login_required
async def move(work_order_id: int) -> Any:
    data = await _parsed(work_order_id, MoveForm, "work_order.move")
    if not isinstance(data, MoveForm):
        return data
    status = data.status or ""
    return await _change(
        work_order_id,
        lambda uow, version: move_work_order(uow, work_order_id, status, version, bay_id=data.bay_id),
        lambda work_order: _(
            "%(number)s moved to %(status)s.", number=work_order.code, status=label_for_status(status)
        ),
    )


@bp.get("/work-orders/<int:work_order_id>/bay-choice")
@login_required
async def bay_choice(work_order_id: int) -> Any:
    """The board's bay dialog: the free bays a job could go into work on, fetched when a move into
    `status` was refused for want of a bay; the choice is sent with the same move. Without JS a page
    of its own."""
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        choice = await queries.bay_choice(session, work_order_id)
    if choice is None:
        abort(404)
    actor.require("work_order.assign")
    status = request.args.get("status", "")
    if status not in IN_BAY_STATUSES:
        abort(404)
    context = {"choice": choice, "card": choice.card, "status": status, "in_dialog": is_htmx()}
    if is_htmx():
        return await render_fragment("workshop/bay_choice.html", "bay_choice", **context)
    return await render_page("workshop/bay_choice.html", **context)


@bp.post("/work-orders/<int:work_order_id>/schedule")
@login_required
async def schedule(work_order_id: int) -> Any:
    data = await _parsed(work_order_id, ScheduleForm, "work_order.schedule", form_name="schedule")
    if not isinstance(data, ScheduleForm):
        return data
    start, end = _wall_clock(data.start), _wall_clock(data.end)
    assert start is not None and end is not None
    return await _change(
        work_order_id,
        lambda uow, version: schedule_work_order(
            uow, work_order_id, data.bay_id, data.technician_id, start, end, version
        ),
        lambda work_order: _("%(number)s scheduled.", number=work_order.code),
        form_name="schedule",
    )


@bp.get("/work-orders/<int:work_order_id>/assign")
@login_required
async def assign_form(work_order_id: int) -> Any:
    """The Assign form of a card: fetched into the card when opened; a page of its own without JS."""
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        assignment = await queries.assignment(session, work_order_id)
    if assignment is None:
        abort(404)
    actor.require("work_order.assign")
    context = {"assignment": assignment, "card": assignment.card}
    if is_htmx():
        return await render_fragment("workshop/assign.html", "assign_form", **context)
    return await render_page("workshop/assign.html", **context)


@bp.post("/work-orders/<int:work_order_id>/assign")
@login_required
async def assign(work_order_id: int) -> Any:
    data = await _parsed(work_order_id, AssignForm, "work_order.assign", form_name="assign")
    if not isinstance(data, AssignForm):
        return data
    return await _change(
        work_order_id,
        lambda uow, version: assign_work_order(uow, work_order_id, data.technician_id, data.bay_id, version),
        lambda work_order: _("%(number)s reassigned.", number=work_order.code),
        form_name="assign",
    )


@bp.post("/work-orders/<int:work_order_id>/check-in")
@login_required
async def check_in(work_order_id: int) -> Any:
    data = await _parsed(work_order_id, CheckInForm, "work_order.check_in", form_name="check-in")
    if not isinstance(data, CheckInForm):
        return data
    return await _change(
        work_order_id,
        lambda uow, version: check_in_work_order(uow, work_order_id, data.odometer_km, version),
        lambda work_order: _("%(number)s checked in.", number=work_order.code),
        form_name="check-in",
    )


@bp.post("/work-orders/<int:work_order_id>/details")
@login_required
async def edit_details(work_order_id: int) -> Any:
    data = await _parsed(work_order_id, DetailsForm, "work_order.edit", form_name="details")
    if not isinstance(data, DetailsForm):
        return data
    details = WorkOrderDetails(
        complaint=data.complaint,
        priority=data.priority,
        category_id=data.category_id,
        promised_at=_wall_clock(data.promised_at),
    )
    seen = _version_from((await request.form).get("version", ""))
    return await _change(
        work_order_id,
        lambda uow, version: update_work_order_details(uow, work_order_id, details, version),
        # Saved unchanged, the order keeps its version.
        lambda work_order: (
            _("%(number)s: details saved.", number=work_order.code)
            if work_order.version != seen
            else _("%(number)s: nothing to change.", number=work_order.code)
        ),
        form_name="details",
    )


@bp.post("/work-orders/<int:work_order_id>/close")
@login_required
async def close(work_order_id: int) -> Any:
    return await _change(
        work_order_id,
        lambda uow, version: close_work_order(uow, work_order_id, version),
        lambda work_order: _("%(number)s closed.", number=work_order.code),
    )


async def _parsed(
    work_order_id: int, model: type[BaseModel], permission: str, form_name: str | None = None
) -> Any:
    """The form as `model`, or the answer to send instead: 404 for another tenant's job, 403 for a
    role that may not do this, then 422 naming the field, in that order (so nothing leaks); the
    work-order page's form `form_name` gets the message next to the field."""
    form = await _posted_fields()
    data, errors = parse_form(model, form)
    if data is not None:
        return data
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        if not await queries.work_order_exists(session, work_order_id):
            abort(404)
    actor.require(permission)
    if form_name and _from_work_order_page(work_order_id):
        return await _form_refused(work_order_id, form_name, form, errors)
    labels = _field_labels()
    field, message = next(iter(errors.items()))
    return await _answer(
        work_order_id, 422, _("%(field)s: %(problem)s", field=labels.get(field, field), problem=message)
    )


Change = Callable[[UnitOfWork, int | None], Awaitable[WorkOrder]]


async def _posted_fields() -> dict[str, Any]:
    """The form's own fields, without the CSRF token and the version that every form carries."""
    form = dict((await request.form).items())
    for name in ("csrf_token", "version"):
        form.pop(name, None)
    return form


async def _change(
    work_order_id: int,
    change: Change,
    success: Callable[[WorkOrder], str],
    form_name: str | None = None,
) -> Any:
    """Run one change with the version the user saw and answer as the module docstring says."""
    actor = current_actor()
    version = _version_from((await request.form).get("version", ""))
    try:
        async with runtime().db.uow(actor) as uow:
            work_order = await change(uow, version)
    except NotFound:
        abort(404)
    except (Conflict, RuleViolation) as refusal:
        code = 409 if isinstance(refusal, Conflict) else 422
        if form_name and _from_work_order_page(work_order_id):
            form = await _posted_fields()
            # Next to the field it is about when the form has that field, else above the form.
            field = refusal.field if isinstance(refusal, RuleViolation) else None
            errors = {field if field in form else "__all__": str(refusal)}
            return await _form_refused(work_order_id, form_name, form, errors, code)
        # The field at fault goes with the board's toast: a move refused for want of a bay opens
        # the board's bay dialog (static/js/app.js "bay dialog").
        field = refusal.field if isinstance(refusal, RuleViolation) else None
        return await _answer(work_order_id, code, str(refusal), field=field)
    # The same sentence the live update announces, so the mover's screen reader says it once.
    return await _answer(work_order_id, 200, success(work_order), announcement=_announcement(uow.committed))


def _announcement(records: list[EventRecord]) -> str:
    return next((text for text in map(announcement_for, records) if text), "")


async def _answer(
    work_order_id: int, code: int, message: str, announcement: str = "", field: str | None = None
) -> Any:
    failed = code != 200
    page = _work_order_page(work_order_id)
    if is_htmx() and not _sent_from(request.headers.get("HX-Current-URL", ""), page):
        answer = await _board_answer(work_order_id, code, message if failed else None, announcement, field)
        return answer, code
    await flash_message(message, "error" if failed else "success")
    if is_htmx():
        return "", code, {"HX-Redirect": page}
    return redirect(_back_to(work_order_id), 303)


async def _form_refused(
    work_order_id: int, form_name: str, form: dict[str, Any], errors: dict[str, str], code: int = 422
) -> Any:
    """The work-order page's form, still open, with what was typed and the message next to its field:
    for htmx the page's header (the order as it is now) and actions, for a plain post the whole page."""
    html = await render_order(
        current_actor(),
        work_order_id,
        block="form_answer" if is_htmx() else None,
        forms={form_name: form},
        errors={form_name: errors},
    )
    return html, code


async def _board_answer(
    work_order_id: int, code: int, message: str | None, announcement: str, field: str | None = None
) -> str:
    """The card where it really is now: moved, or back where it was with the reason (its toast names
    the field at fault in data-field)."""
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        card = await queries.card(session, work_order_id)
        counts = await queries.column_counts(session)
    if card is None:
        abort(404)
    return await render_board_update(
        current_app.jinja_env,
        work_order_id=work_order_id,
        card=card if card.status in counts else None,
        counts=counts,
        view=View.for_actor(actor),
        announcement=message or announcement,
        message=message,
        message_field=field,
    )


def _work_order_page(work_order_id: int) -> str:
    return f"/workshop/work-orders/{work_order_id}"


def _from_work_order_page(work_order_id: int) -> bool:
    """Whether the form was sent from the job's own page: htmx says where it is, a plain post's
    browser sends the Referer."""
    url = request.headers.get("HX-Current-URL" if is_htmx() else "Referer", "")
    return _sent_from(url, _work_order_page(work_order_id))


def _sent_from(url: str, path: str) -> bool:
    return urlsplit(url).path.rstrip("/") == path


def _back_to(work_order_id: int) -> str:
    """Where a plain form post returns: the page it came from when that is this job's page or the
    board (with its filters), else the board. Only these paths, so the Referer cannot send anyone
    elsewhere."""
    referer = urlsplit(request.headers.get("Referer", ""))
    page = _work_order_page(work_order_id)
    if referer.path.rstrip("/") == page:
        return page
    if referer.path == BOARD_PATH and referer.query:
        return f"{BOARD_PATH}?{referer.query}"
    return BOARD_PATH


def _version_from(value: str) -> int | None:
    """The card version the browser saw; None when missing or garbled (the service says so)."""
    try:
        version = int(value)
    except ValueError:
        return None
    return version if version > 0 else None
