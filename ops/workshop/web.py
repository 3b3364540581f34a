"""The job board: the page, creating work orders, and moving cards."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, StringConstraints
from quart import Blueprint, abort, current_app, redirect, request, url_for

from ops.auth.actor import Conflict, NotFound, PermissionDenied, RuleViolation
from ops.auth.web import csrf_token, current_actor, current_tenant, login_required
from ops.i18n import gettext as _
from ops.pages import flash_message, is_htmx, parse_form, render_fragment, render_page
from ops.runtime import runtime
from ops.workshop import queries
from ops.workshop.live import announcement_for, render_board_update
from ops.workshop.service import OPEN_STATUSES, PRIORITIES, NewWorkOrder, create_work_order, move_work_order
from ops.workshop.service import status_label as label_for_status
from realtime.hub import View

bp = Blueprint("workshop", __name__, url_prefix="/workshop")


class WorkOrderForm(BaseModel):
    vehicle_id: int
    complaint: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    priority: Literal["LOW", "NORMAL", "HIGH", "URGENT"] = "NORMAL"
    category_id: int | None = None
    technician_id: int | None = None
    promised_at: datetime | None = Field(default=None)


@bp.get("/board")
@login_required
async def board() -> Any:
    actor = current_actor()
    actor.require("workshop.view")
    # Take the live position before reading the board, so nothing committed in between is missed.
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        columns = await queries.board_columns(session)
    context = {
        "statuses": OPEN_STATUSES,
        "columns": columns,
        "counts": {status: len(cards) for status, cards in columns.items()},
        "can_move": actor.can("work_order.move"),
        "can_create": actor.can("work_order.create"),
        "csrf": csrf_token(),
        "live_id": live_id,
    }
    if is_htmx():
        return await render_fragment("workshop/board.html", "board", **context)
    return await render_page("workshop/board.html", **context)


@bp.get("/work-orders/new")
@login_required
async def new_work_order() -> Any:
    actor = current_actor()
    actor.require("work_order.create")
    return await _render_form(form={}, errors={})


async def _render_form(form: dict[str, Any], errors: dict[str, str]) -> str:
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        choices = await queries.form_choices(session)
    return await render_page(
        "workshop/new.html", form=form, errors=errors, choices=choices, priorities=PRIORITIES
    )


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
    promised_at = data.promised_at
    if promised_at is not None and promised_at.tzinfo is None:
        # The form's datetime-local field is the dealership's wall-clock time, not the server's.
        promised_at = promised_at.replace(tzinfo=ZoneInfo(current_tenant().timezone))
    try:
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
                ),
            )
    except RuleViolation as violation:
        return await _render_form(form, {violation.field or "__all__": str(violation)}), 422
    await flash_message(_("%(number)s created.", number=work_order.code), "success")
    return redirect(url_for("workshop.board"))


@bp.post("/work-orders/<int:work_order_id>/move")
@login_required
async def move(work_order_id: int) -> Any:
    actor = current_actor()
    form = await request.form
    status = form.get("status", "")
    version = _version_from(form.get("version", ""))
    code, message, success, announcement = 200, None, "", ""
    try:
        async with runtime().db.uow(actor) as uow:
            work_order = await move_work_order(uow, work_order_id, status, version)
        success = _(
            "%(number)s moved to %(status)s.", number=work_order.code, status=label_for_status(status)
        )
        # The same sentence the live update announces, so the mover's screen reader says it once.
        announcement = announcement_for(uow.committed[-1])
    except NotFound:
        abort(404)
    except PermissionDenied:
        raise
    except Conflict as conflict:
        code, message = 409, str(conflict)
    except RuleViolation as violation:
        code, message = 422, str(violation)

    if not is_htmx():
        await flash_message(message or success, "error" if message else "success")
        return redirect(url_for("workshop.board"))
    # The answer shows the card where it really is now: moved, or back where it was with the reason.
    async with runtime().db.read(actor.tenant_id) as session:
        card = await queries.card(session, work_order_id)
        counts = await queries.column_counts(session)
    if card is None:
        abort(404)
    html = await render_board_update(
        current_app.jinja_env,
        work_order_id=work_order_id,
        card=card if card.status in counts else None,
        counts=counts,
        view=View.for_actor(actor),
        announcement=message or announcement,
        message=message,
    )
    return html, code


def _version_from(value: str) -> int | None:
    """The card version the browser saw; None when missing or garbled (the service says so)."""
    try:
        version = int(value)
    except ValueError:
        return None
    return version if version > 0 else None
