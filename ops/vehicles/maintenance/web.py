"""The maintenance schedules page: service types per make and model with their intervals."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, abort, redirect, request, url_for

from ops.auth.actor import NotFound
from ops.auth.web import csrf_token, current_actor, login_required
from ops.i18n import format_number, tenant_today
from ops.i18n import gettext as _
from ops.pages import flash_message, posted_form, render_page
from ops.runtime import runtime
from ops.vehicles.maintenance import queries
from ops.vehicles.maintenance.service import (
    DUE_MARGIN_DAYS,
    DUE_MARGIN_KM,
    ScheduleData,
    ScheduleInvalid,
    create_schedule,
    delete_schedule,
    update_schedule,
)
from ops.vehicles.web import odometer

bp = Blueprint("maintenance", __name__, url_prefix="/fleet/maintenance")

TEMPLATE = "vehicles/maintenance/schedules.html"


def _number(form: dict[str, str], name: str, errors: dict[str, str]) -> int | None:
    text = (form.get(name) or "").strip().replace("'", "").replace(" ", "").replace(",", "")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        errors[name] = _("Enter a whole number.")
        return None


def _data(form: dict[str, str], errors: dict[str, str]) -> ScheduleData:
    category = (form.get("category_id") or "").strip()
    return ScheduleData(
        service_type=form.get("service_type", ""),
        make=form.get("make", ""),
        model=form.get("model", ""),
        interval_km=_number(form, "interval_km", errors),
        interval_months=_number(form, "interval_months", errors),
        category_id=int(category) if category.isdigit() else None,
    )


async def _render(
    form: dict[str, str] | None = None, errors: dict[str, str] | None = None, editing: int | None = None
) -> str:
    actor = current_actor()
    actor.require("fleet.view")
    async with runtime().db.read(actor.tenant_id) as session:
        schedules = await queries.schedules(session)
        categories = await queries.category_choices(session)
    if form is None and editing is not None:
        found = next((row for row in schedules if row.id == editing), None)
        if found is None:
            abort(404)
        form = {
            "service_type": found.service_type,
            "make": found.make or "",
            "model": found.model or "",
            "interval_km": "" if found.interval_km is None else str(found.interval_km),
            "interval_months": "" if found.interval_months is None else str(found.interval_months),
            "category_id": "" if found.category_id is None else str(found.category_id),
        }
    return await render_page(
        TEMPLATE,
        schedules=schedules,
        categories=categories,
        form=form or {},
        errors=errors or {},
        editing=editing,
        can_manage=actor.can("fleet.manage"),
        csrf=csrf_token(),
        margin_km=DUE_MARGIN_KM,
        margin_days=DUE_MARGIN_DAYS,
        odometer=odometer,
        format_number=format_number,
    )


@bp.get("")
@login_required
async def schedules() -> Any:
    editing = request.args.get("edit", "")
    return await _render(editing=int(editing) if editing.isdigit() else None)


@bp.post("", endpoint="create")
@login_required
async def create() -> Any:
    actor = current_actor()
    actor.require("fleet.manage")
    form = await posted_form()
    errors: dict[str, str] = {}
    data = _data(form, errors)
    if errors:
        return await _render(form, errors), 422
    try:
        async with runtime().db.uow(actor) as uow:
            schedule = await create_schedule(uow, data, tenant_today())
    except ScheduleInvalid as invalid:
        return await _render(form, invalid.errors), 422
    await flash_message(_("Schedule %(service)s added.", service=schedule.service_type), "success")
    return redirect(url_for("maintenance.schedules"))


@bp.post("/<int:schedule_id>", endpoint="update")
@login_required
async def update(schedule_id: int) -> Any:
    actor = current_actor()
    form = await posted_form()
    errors: dict[str, str] = {}
    data = _data(form, errors)
    if errors:
        return await _render(form, errors, schedule_id), 422
    try:
        async with runtime().db.uow(actor) as uow:
            schedule = await update_schedule(uow, schedule_id, data, tenant_today())
    except NotFound:
        abort(404)
    except ScheduleInvalid as invalid:
        return await _render(form, invalid.errors, schedule_id), 422
    await flash_message(_("Schedule %(service)s saved.", service=schedule.service_type), "success")
    return redirect(url_for("maintenance.schedules"))


@bp.post("/<int:schedule_id>/delete", endpoint="delete")
@login_required
async def delete(schedule_id: int) -> Any:
    actor = current_actor()
    try:
        async with runtime().db.uow(actor) as uow:
            await delete_schedule(uow, schedule_id, tenant_today())
    except NotFound:
        abort(404)
    await flash_message(_("Schedule removed."), "success")
    return redirect(url_for("maintenance.schedules"))
