"""Settings → Dealership: the admin edits the dealership's own settings and sees its plan."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel import Locale
from quart import Blueprint, redirect, url_for

from ops.auth.actor import Conflict, RuleViolation
from ops.auth.web import csrf_token, current_actor, login_required
from ops.i18n import current_locale
from ops.i18n import gettext as _
from ops.pages import flash_message, posted_form, render_page
from ops.runtime import runtime
from ops.tenants import queries
from ops.tenants.models import PLANS, Tenant
from ops.tenants.service import (
    COUNTRIES,
    CURRENCIES,
    SWITCHES,
    TIMEZONES,
    InvalidSettings,
    change_plan,
    language_of,
    save_dealership_settings,
    tenant_by_id,
)

bp = Blueprint("dealership", __name__, url_prefix="/settings/dealership")

TEMPLATE = "tenants/dealership.html"
FIELDS = (
    "name",
    "street",
    "postal_code",
    "city",
    "country",
    "vat_number",
    "timezone",
    "locale",
    "currency",
    "distance_unit",
    "fuel_unit",
    "vat_rate",
    "labour_rate",
    "discount_approval_percent",
    "margin_floor_percent",
    "quote_valid_days",
    "payment_terms_days",
)


def _form_of(tenant: Tenant) -> dict[str, str]:
    form = {name: _shown(getattr(tenant, name)) for name in FIELDS}
    form["locale"] = language_of(tenant.locale)
    form.update({name: "on" for name in SWITCHES if getattr(tenant, name)})
    form["version"] = str(tenant.version)
    return form


def _shown(value: object) -> str:
    """A stored value as the form field shows it: 8.1, not the column's 8.10."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


async def _render(tenant: Tenant, form: dict[str, str], errors: dict[str, str]) -> str:
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        usage = await queries.plan_usage(session, tenant.plan)
    country_names = Locale.parse(current_locale.get()).territories
    timezones = TIMEZONES if form.get("timezone") in TIMEZONES else (*TIMEZONES, form.get("timezone", ""))
    return await render_page(
        TEMPLATE,
        form=form,
        errors=errors,
        usage=usage,
        timezones=[(zone, zone) for zone in timezones if zone],
        currencies=[(code, code) for code in CURRENCIES],
        countries=[(code, country_names.get(code, code)) for code in COUNTRIES],
        plans=list(PLANS),
        csrf=csrf_token(),
    )


async def _tenant() -> Tenant:
    tenant = await tenant_by_id(runtime().db, current_actor().tenant_id)
    assert tenant is not None, "a signed-in actor's tenant exists"
    return tenant


@bp.get("")
@login_required
async def page() -> Any:
    current_actor().require("tenant.manage")
    tenant = await _tenant()
    return await _render(tenant, _form_of(tenant), {})


@bp.post("")
@login_required
async def save() -> Any:
    actor = current_actor()
    actor.require("tenant.manage")
    form = await posted_form()
    try:
        async with runtime().db.uow(actor) as uow:
            await save_dealership_settings(uow, form, _version_from(form.get("version")))
    except Conflict as conflict:
        # What is stored now comes back, so the admin sees the other save before saving again.
        current = await _tenant()
        return await _render(current, _form_of(current), {"__all__": str(conflict)}), 409
    except InvalidSettings as invalid:
        return await _render(await _tenant(), form, invalid.errors), 422
    except RuleViolation as violation:
        return await _render(await _tenant(), form, {violation.field or "__all__": str(violation)}), 422
    await flash_message(_("Dealership settings saved."), "success")
    return redirect(url_for("dealership.page"))


@bp.post("/plan")
@login_required
async def save_plan() -> Any:
    actor = current_actor()
    actor.require("tenant.manage")
    form = await posted_form()
    try:
        async with runtime().db.uow(actor) as uow:
            tenant = await change_plan(uow, form.get("plan", ""))
    except RuleViolation as violation:
        tenant = await _tenant()
        return await _render(tenant, _form_of(tenant), {"plan": str(violation)}), 422
    await flash_message(_("The dealership is on the %(plan)s plan now.", plan=tenant.plan.title()), "success")
    return redirect(url_for("dealership.page"))


def _version_from(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None
