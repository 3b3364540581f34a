"""Bay pages: the live bay view, and managing bays (workshop manager, admin)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, StringConstraints
from quart import Blueprint, abort, redirect, request, url_for

from ops.auth.actor import NotFound, RuleViolation
from ops.auth.web import current_actor, login_required
from ops.db import utcnow
from ops.i18n import format_minutes
from ops.i18n import gettext as _
from ops.pages import flash_message, is_htmx, parse_form, render_fragment, render_page
from ops.runtime import runtime
from ops.workshop.bays import queries
from ops.workshop.bays.service import NAME_MAX_LENGTH, create_bay, update_bay
from ops.workshop.models import BAY_KINDS

bp = Blueprint("bays", __name__, url_prefix="/workshop/bays")

OVERVIEW = "workshop/bays/overview.html"


class BayForm(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH)]
    kind: Literal["LIFT", "ALIGNMENT", "EV", "DIAGNOSTICS", "WASH"]
    # An unticked checkbox sends nothing.
    active: bool = False


def bay_kind_label(kind: str) -> str:
    labels = {
        "LIFT": _("Lift"),
        "ALIGNMENT": _("Alignment"),
        "EV": _("EV"),
        "DIAGNOSTICS": _("Diagnostics"),
        "WASH": _("Wash"),
    }
    return labels.get(kind, kind)


def elapsed_label(minutes: int | None) -> str:
    if minutes is None:
        return "—"
    return format_minutes(minutes)


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {"bay_kind_label": bay_kind_label, "elapsed_label": elapsed_label}


@bp.get("")
@login_required
async def overview() -> Any:
    actor = current_actor()
    actor.require("bay.view")
    # The live position is taken before the read, so nothing committed in between is missed.
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        bays = await queries.bay_overview(session)
    context = {
        "bays": bays,
        "now": utcnow(),
        "live_id": live_id,
        "can_manage": actor.can("bay.manage"),
    }
    if is_htmx():
        return await render_fragment(OVERVIEW, "bays", **context)
    return await render_page(OVERVIEW, **context)


@bp.get("/manage")
@login_required
async def manage() -> Any:
    actor = current_actor()
    actor.require("bay.manage")
    async with runtime().db.read(actor.tenant_id) as session:
        bays = await queries.all_bays(session)
    return await render_page("workshop/bays/manage.html", bays=bays)


async def _render_form(form: dict[str, Any], errors: dict[str, str], bay_id: int | None = None) -> str:
    return await render_page(
        "workshop/bays/form.html", form=form, errors=errors, bay_id=bay_id, kinds=BAY_KINDS
    )


@bp.get("/new")
@login_required
async def new_bay() -> Any:
    current_actor().require("bay.manage")
    return await _render_form({"kind": "LIFT", "active": "on"}, {})


@bp.post("")
@login_required
async def create() -> Any:
    actor = current_actor()
    actor.require("bay.manage")
    form = dict((await request.form).items())
    form.pop("csrf_token", None)
    data, errors = parse_form(BayForm, form)
    if data is None:
        return await _render_form(form, errors), 422
    try:
        async with runtime().db.uow(actor) as uow:
            bay = await create_bay(uow, name=data.name, kind=data.kind, active=data.active)
    except RuleViolation as violation:
        return await _render_form(form, {violation.field or "__all__": str(violation)}), 422
    await flash_message(_("Bay %(name)s added.", name=bay.name), "success")
    return redirect(url_for("bays.manage"))


@bp.get("/<int:bay_id>/edit")
@login_required
async def edit(bay_id: int) -> Any:
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        bay = await queries.bay(session, bay_id)
    if bay is None:
        abort(404)
    actor.require("bay.manage")
    form = {"name": bay.name, "kind": bay.kind, "active": "on" if bay.active else ""}
    return await _render_form(form, {}, bay_id)


@bp.post("/<int:bay_id>")
@login_required
async def update(bay_id: int) -> Any:
    actor = current_actor()
    form = dict((await request.form).items())
    form.pop("csrf_token", None)
    data, errors = parse_form(BayForm, form)
    try:
        if data is None:
            async with runtime().db.read(actor.tenant_id) as session:
                if await queries.bay(session, bay_id) is None:
                    raise NotFound(bay_id)
            actor.require("bay.manage")
            return await _render_form(form, errors, bay_id), 422
        async with runtime().db.uow(actor) as uow:
            bay = await update_bay(uow, bay_id, name=data.name, kind=data.kind, active=data.active)
    except NotFound:
        abort(404)
    except RuleViolation as violation:
        return await _render_form(form, {violation.field or "__all__": str(violation)}, bay_id), 422
    await flash_message(_("Bay %(name)s saved.", name=bay.name), "success")
    return redirect(url_for("bays.manage"))
