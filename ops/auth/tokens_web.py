"""Settings > API tokens: a tenant admin issues, reviews and revokes the partners' bearer tokens."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for

from ops.auth.actor import RuleViolation
from ops.auth.service import (
    API_SCOPE_AREAS,
    IssuedApiToken,
    create_api_token,
    list_api_tokens,
    revoke_api_token,
)
from ops.auth.web import current_actor, login_required
from ops.i18n import gettext as _
from ops.pages import flash_message, render_page
from ops.runtime import runtime

bp = Blueprint("api_tokens", __name__, url_prefix="/settings/api-tokens")


def area_labels() -> dict[str, str]:
    return {
        "customers": _("Customers"),
        "leads": _("Leads"),
        "stock": _("Stock"),
        "vehicles": _("Vehicles"),
        "work_orders": _("Work orders"),
        "telemetry": _("Telemetry"),
        "webhooks": _("Webhook subscriptions"),
    }


async def _page(
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    issued: IssuedApiToken | None = None,
) -> str:
    actor = current_actor()
    tokens = await list_api_tokens(runtime().db, actor)
    return await render_page(
        "auth/api_tokens.html",
        tokens=tokens,
        areas=API_SCOPE_AREAS,
        area_labels=area_labels(),
        form=form or {},
        errors=errors or {},
        issued=issued,
    )


@bp.get("")
@login_required
async def index() -> Any:
    current_actor().require("api_token.manage")
    return await _page()


@bp.post("")
@login_required
async def create() -> Any:
    actor = current_actor()
    actor.require("api_token.manage")
    form = await request.form
    # One choice per area: none, read or write (which includes read).
    scopes = [f"{area}:{form[area]}" for area in API_SCOPE_AREAS if form.get(area) in ("read", "write")]
    values = {"name": form.get("name", ""), **{area: form.get(area, "") for area in API_SCOPE_AREAS}}
    try:
        async with runtime().db.uow(actor) as uow:
            issued = await create_api_token(uow, name=values["name"], scopes=scopes)
    except RuleViolation as error:
        body = await _page(form=values, errors={error.field or "name": str(error)})
        return body, 422
    body = await _page(issued=issued)
    # The token is on this page once: never cached, never shown again.
    return body, 201, {"Cache-Control": "no-store"}


@bp.post("/<int:token_id>/revoke")
@login_required
async def revoke(token_id: int) -> Any:
    async with runtime().db.uow(current_actor()) as uow:
        token = await revoke_api_token(uow, token_id)
    await flash_message(_("%(name)s is revoked; requests with it are refused from now on.", name=token.name))
    return redirect(url_for("api_tokens.index"), 303)
