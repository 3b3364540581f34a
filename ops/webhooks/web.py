"""Settings > Webhooks: a tenant admin subscribes partner endpoints, reads their delivery log, sends a
test event or a delivery again, rotates the secret, and enables an endpoint that was disabled."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for

from ops.auth.actor import Conflict, RuleViolation
from ops.auth.web import current_actor, login_required
from ops.i18n import gettext as _
from ops.pages import flash_message, render_page
from ops.runtime import runtime
from ops.webhooks import queries
from ops.webhooks.models import WebhookEndpoint
from ops.webhooks.service import (
    ALL_EVENTS,
    DESCRIPTION_MAX_LENGTH,
    EVENT_TYPES,
    ROTATION_OVERLAP,
    URL_MAX_LENGTH,
    EndpointInvalid,
    attempt_schedule,
    create_endpoint,
    delete_endpoint,
    delivery_status_label,
    disabled_reason_label,
    get_endpoint,
    rotate_secret,
    send_again,
    send_test_event,
    set_endpoint_enabled,
    target_policy,
    update_endpoint,
)

bp = Blueprint("webhooks", __name__, url_prefix="/settings/webhooks")

LIST_TEMPLATE = "webhooks/list.html"
FORM_TEMPLATE = "webhooks/form.html"
ENDPOINT_TEMPLATE = "webhooks/endpoint.html"
SECRET_TEMPLATE = "webhooks/secret.html"
# The secret is on the page once: never cached, never shown again.
NO_STORE = {"Cache-Control": "no-store"}


def schedule_label(offset_seconds: float) -> str:
    minutes = round(offset_seconds / 60)
    if offset_seconds < 60:
        return _("%(seconds)s s", seconds=round(offset_seconds))
    if minutes < 60:
        return _("%(minutes)s min", minutes=minutes)
    hours, rest = divmod(minutes, 60)
    if rest:
        return _("%(hours)s h %(minutes)s min", hours=hours, minutes=rest)
    return _("%(hours)s h", hours=hours)


def event_groups() -> list[tuple[str, list[str]]]:
    """The event types grouped by their area (`work_order`, `quote`, ...), for the checkboxes."""
    groups: dict[str, list[str]] = {}
    for name in EVENT_TYPES:
        groups.setdefault(name.split(".")[0], []).append(name)
    return list(groups.items())


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {
        "delivery_status_label": delivery_status_label,
        "disabled_reason_label": disabled_reason_label,
        "schedule_label": schedule_label,
        "attempt_schedule": [offset.total_seconds() for offset in attempt_schedule()],
        "overlap_hours": int(ROTATION_OVERLAP.total_seconds() // 3600),
        "ALL_EVENTS": ALL_EVENTS,
    }


def _policy() -> Any:
    settings = runtime().settings
    return target_policy(settings.webhook_allow_private_targets, settings.is_production)


@bp.get("")
@login_required
async def index() -> Any:
    actor = current_actor()
    actor.require("webhook.manage")
    async with runtime().db.read(actor.tenant_id) as session:
        rows = await queries.endpoint_rows(session)
    return await render_page(LIST_TEMPLATE, rows=rows)


async def _render_form(
    form: dict[str, Any], errors: dict[str, str], endpoint: WebhookEndpoint | None = None
) -> str:
    return await render_page(
        FORM_TEMPLATE,
        form=form,
        errors=errors,
        endpoint=endpoint,
        groups=event_groups(),
        url_max=URL_MAX_LENGTH,
        description_max=DESCRIPTION_MAX_LENGTH,
        require_https=runtime().settings.is_production,
    )


async def _read_form() -> dict[str, Any]:
    form = await request.form
    return {
        "url": form.get("url", ""),
        "description": form.get("description", ""),
        "event_types": form.getlist("event_types"),
        # An unticked checkbox sends nothing.
        "enabled": form.get("enabled") == "on",
        "version": form.get("version", ""),
    }


@bp.get("/new")
@login_required
async def new_endpoint() -> Any:
    current_actor().require("webhook.manage")
    return await _render_form({"event_types": [], "enabled": True}, {})


@bp.post("")
@login_required
async def create() -> Any:
    actor = current_actor()
    actor.require("webhook.manage")
    form = await _read_form()
    try:
        async with runtime().db.uow(actor) as uow:
            endpoint, secret = await create_endpoint(
                uow, form["url"], form["event_types"], form["description"], policy=_policy()
            )
    except EndpointInvalid as invalid:
        return await _render_form(form, invalid.errors), 422
    body = await render_page(SECRET_TEMPLATE, endpoint=endpoint, secret=secret, rotated=False)
    return body, 201, NO_STORE


async def _endpoint_page(endpoint_id: int, *, status: int = 200, message: str | None = None) -> Any:
    actor = current_actor()
    actor.require("webhook.manage")
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    async with runtime().db.read(actor.tenant_id) as session:
        endpoint = await get_endpoint(session, endpoint_id)
        log = await queries.delivery_log(session, endpoint_id, number)
    body = await render_page(ENDPOINT_TEMPLATE, endpoint=endpoint, log=log, error=message)
    return body, status


@bp.get("/<int:endpoint_id>")
@login_required
async def endpoint(endpoint_id: int) -> Any:
    return await _endpoint_page(endpoint_id)


@bp.get("/<int:endpoint_id>/edit")
@login_required
async def edit(endpoint_id: int) -> Any:
    actor = current_actor()
    actor.require("webhook.manage")
    async with runtime().db.read(actor.tenant_id) as session:
        found = await get_endpoint(session, endpoint_id)
    form = {
        "url": found.url,
        "description": found.description,
        "event_types": list(found.event_types),
        "enabled": found.enabled,
        "version": str(found.version),
    }
    return await _render_form(form, {}, found)


@bp.post("/<int:endpoint_id>")
@login_required
async def update(endpoint_id: int) -> Any:
    actor = current_actor()
    actor.require("webhook.manage")
    form = await _read_form()
    version = int(form["version"]) if str(form["version"]).isdigit() else None
    try:
        async with runtime().db.uow(actor) as uow:
            await update_endpoint(
                uow,
                endpoint_id,
                url=form["url"],
                event_types=form["event_types"],
                description=form["description"],
                enabled=form["enabled"],
                version=version,
                policy=_policy(),
            )
    except EndpointInvalid as invalid:
        async with runtime().db.read(actor.tenant_id) as session:
            found = await get_endpoint(session, endpoint_id)
        return await _render_form(form, invalid.errors, found), 422
    except Conflict as conflict:
        async with runtime().db.read(actor.tenant_id) as session:
            found = await get_endpoint(session, endpoint_id)
        form["version"] = str(found.version)
        return await _render_form(form, {"__all__": str(conflict)}, found), 409
    await flash_message(_("Endpoint saved."), "success")
    return redirect(url_for("webhooks.endpoint", endpoint_id=endpoint_id), 303)


@bp.post("/<int:endpoint_id>/rotate")
@login_required
async def rotate(endpoint_id: int) -> Any:
    async with runtime().db.uow(current_actor()) as uow:
        endpoint, secret = await rotate_secret(uow, endpoint_id)
    body = await render_page(SECRET_TEMPLATE, endpoint=endpoint, secret=secret, rotated=True)
    return body, 200, NO_STORE


@bp.post("/<int:endpoint_id>/test")
@login_required
async def send_test(endpoint_id: int) -> Any:
    try:
        async with runtime().db.uow(current_actor()) as uow:
            await send_test_event(uow, endpoint_id)
    except RuleViolation as violation:
        return await _endpoint_page(endpoint_id, status=422, message=str(violation))
    await flash_message(_("A test event is queued; it shows in the log below once it is sent."), "success")
    return redirect(url_for("webhooks.endpoint", endpoint_id=endpoint_id), 303)


@bp.post("/<int:endpoint_id>/deliveries/<int:delivery_id>/resend")
@login_required
async def resend(endpoint_id: int, delivery_id: int) -> Any:
    try:
        async with runtime().db.uow(current_actor()) as uow:
            delivery = await send_again(uow, endpoint_id, delivery_id)
    except RuleViolation as violation:
        return await _endpoint_page(endpoint_id, status=422, message=str(violation))
    await flash_message(
        _("Delivery %(id)s is queued to be sent again, with the same webhook-id.", id=delivery.webhook_id),
        "success",
    )
    return redirect(url_for("webhooks.endpoint", endpoint_id=delivery.endpoint_id), 303)


@bp.post("/<int:endpoint_id>/enable")
@login_required
async def enable(endpoint_id: int) -> Any:
    async with runtime().db.uow(current_actor()) as uow:
        await set_endpoint_enabled(uow, endpoint_id, True)
    await flash_message(_("Endpoint enabled; queued deliveries go out again."), "success")
    return redirect(url_for("webhooks.endpoint", endpoint_id=endpoint_id), 303)


@bp.post("/<int:endpoint_id>/disable")
@login_required
async def disable(endpoint_id: int) -> Any:
    async with runtime().db.uow(current_actor()) as uow:
        await set_endpoint_enabled(uow, endpoint_id, False)
    await flash_message(_("Endpoint disabled; no events are sent to it until you enable it."), "success")
    return redirect(url_for("webhooks.endpoint", endpoint_id=endpoint_id), 303)


@bp.get("/<int:endpoint_id>/delete")
@login_required
async def confirm_delete(endpoint_id: int) -> Any:
    actor = current_actor()
    actor.require("webhook.manage")
    async with runtime().db.read(actor.tenant_id) as session:
        found = await get_endpoint(session, endpoint_id)
    return await render_page("webhooks/delete.html", endpoint=found)


@bp.post("/<int:endpoint_id>/delete")
@login_required
async def delete(endpoint_id: int) -> Any:
    async with runtime().db.uow(current_actor()) as uow:
        await delete_endpoint(uow, endpoint_id)
    await flash_message(_("Endpoint deleted."), "success")
    return redirect(url_for("webhooks.index"), 303)
