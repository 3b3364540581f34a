"""CRM pages: find or create a customer, the customer's page with consent and timeline, logging a call
or a note, the follow-up list, and the customer's rights (export, erasure)."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

from babel import Locale
from quart import Blueprint, Response, abort, redirect, request, url_for

from ops.auth.actor import Actor, Conflict, NotFound, RuleViolation
from ops.auth.web import csrf_token, current_actor, current_tenant, login_required
from ops.customers import queries
from ops.customers.models import (
    CONSENT_CHANNELS,
    CUSTOMER_STATUSES,
    CUSTOMER_TYPES,
    INTERACTION_CHANNELS,
    INTERACTION_STATUSES,
    INTERACTION_TYPES,
    Customer,
)
from ops.customers.service import (
    LANGUAGES,
    OWNER_ROLES,
    CustomerData,
    DuplicateCustomer,
    InvalidCustomer,
    create_customer,
    erase_customer,
    export_customer_data,
    format_phone,
    log_interaction,
    record_consent,
    resolve_interaction,
    set_do_not_contact,
    update_customer,
)
from ops.i18n import current_locale, format_date, tenant_today
from ops.i18n import gettext as _
from ops.list_filters import page_number, text_filter
from ops.pages import flash_message, is_htmx, posted_form, render_fragment, render_page
from ops.runtime import runtime

bp = Blueprint("customers", __name__, url_prefix="/customers")

LIST_TEMPLATE = "customers/list.html"
FORM_TEMPLATE = "customers/form.html"
PAGE_TEMPLATE = "customers/customer.html"
FOLLOW_UPS_TEMPLATE = "customers/follow_ups.html"
ERASE_TEMPLATE = "customers/erase.html"
# What "My follow-ups" looks ahead: this week's calls as well as today's.
FOLLOW_UP_HORIZON_DAYS = 7
# Countries offered first in the address: the dealership's neighbours.
NEAR_COUNTRIES = ("CH", "LI", "DE", "AT", "FR", "IT")
SWISS_CANTONS = [
    "AG",
    "AI",
    "AR",
    "BE",
    "BL",
    "BS",
    "FR",
    "GE",
    "GL",
    "GR",
    "JU",
    "LU",
    "NE",
    "NW",
    "OW",
    "SG",
    "SH",
    "SO",
    "SZ",
    "TG",
    "TI",
    "UR",
    "VD",
    "VS",
    "ZG",
    "ZH",
]


# --- Labels --------------------------------------------------------------------------------------------


def label(value: str | None) -> str:
    """The words for a code shown on these pages (customer types, channels, stages, statuses)."""
    if value is None:
        return ""
    labels = {
        "INDIVIDUAL": _("Private person"),
        "BUSINESS": _("Business"),
        "FLEET": _("Fleet"),
        "GOVERNMENT": _("Public body"),
        "PROSPECT": _("Prospect"),
        "ACTIVE": _("Active"),
        "INACTIVE": _("Inactive"),
        "BLACKLISTED": _("Blocked"),
        "EMAIL": _("Email"),
        "SMS": _("SMS"),
        "PHONE": _("Phone"),
        "POST": _("Post"),
        "IN_PERSON": _("In person"),
        "WEB": _("Web"),
        "CHAT": _("Chat"),
        "SOCIAL": _("Social media"),
        "CALL": _("Call"),
        "MEETING": _("Meeting"),
        "TEST_DRIVE": _("Test drive"),
        "QUOTE": _("Quote"),
        "PURCHASE": _("Purchase"),
        "SERVICE": _("Service"),
        "COMPLAINT": _("Complaint"),
        "NOTE": _("Note"),
        "OPEN": _("Open"),
        "IN_PROGRESS": _("In progress"),
        "FOLLOW_UP_REQUIRED": _("Follow-up required"),
        "RESOLVED": _("Resolved"),
        "CLOSED": _("Closed"),
        # Leads
        "NEW": _("New"),
        "CONTACTED": _("Contacted"),
        "QUALIFIED": _("Qualified"),
        "NEGOTIATION": _("Negotiation"),
        "WON": _("Won"),
        "LOST": _("Lost"),
        "WALK_IN": _("Walk-in"),
        "REFERRAL": _("Referral"),
        "PARTNER": _("Partner"),
        "EVENT": _("Event"),
        "FLEET_TENDER": _("Fleet tender"),
        # Quotes and deals
        "DRAFT": _("Draft"),
        "PENDING_APPROVAL": _("Awaiting approval"),
        "APPROVED": _("Approved"),
        "REJECTED": _("Rejected"),
        "SENT": _("Sent"),
        "ACCEPTED": _("Accepted"),
        "DECLINED": _("Declined"),
        "EXPIRED": _("Expired"),
        "DEPOSIT_PAID": _("Deposit paid"),
        "FINANCING_APPROVED": _("Financing approved"),
        "READY_FOR_DELIVERY": _("Ready for delivery"),
        "DELIVERED": _("Delivered"),
        "CANCELLED": _("Cancelled"),
        # Workshop visits
        "SCHEDULED": _("Scheduled"),
        "CHECKED_IN": _("Checked in"),
        "WAITING_PARTS": _("Waiting for parts"),
        "WAITING_APPROVAL": _("Waiting for approval"),
        "QUALITY_CHECK": _("Quality check"),
        "READY": _("Ready"),
    }
    return labels.get(value, value.replace("_", " ").capitalize())


def language_label(code: str) -> str:
    return Locale.parse(code).get_display_name(current_locale.get()) or code


def country_choices() -> list[tuple[str, str]]:
    names = Locale.parse(current_locale.get()).territories
    near = [(code, names.get(code, code)) for code in NEAR_COUNTRIES]
    rest = sorted(
        ((code, name) for code, name in names.items() if len(code) == 2 and code.isalpha()),
        key=lambda item: item[1],
    )
    return near + [item for item in rest if item[0] not in NEAR_COUNTRIES]


# --- Helpers -------------------------------------------------------------------------------------------


def _version_from(value: str | None) -> int | None:
    try:
        version = int(value or "")
    except ValueError:
        return None
    return version if version > 0 else None


async def _customer_or_404(actor: Actor, customer_id: int) -> Customer:
    async with runtime().db.read(actor.tenant_id) as session:
        found = await queries.customer(session, customer_id)
    if found is None:
        abort(404)
    return found


# --- Find a customer -----------------------------------------------------------------------------------


def _prefill_from_search(search: str) -> dict[str, str]:
    """The search typed, carried into a new customer's form: an email, a phone number, or names."""
    if "@" in search:
        return {"email": search}
    if re.fullmatch(r"[+\d][\d\s()./-]{2,}", search):
        return {"phone": search}
    first, _space, last = search.partition(" ")
    return {"first_name": first, "last_name": last} if search else {}


@bp.get("")
@login_required
async def index() -> Any:
    actor = current_actor()
    actor.require("customer.view")
    search = text_filter("q", 100)
    async with runtime().db.read(actor.tenant_id) as session:
        listing = await queries.search_customers(session, search, page_number())
    context = {
        "listing": listing,
        "search": search,
        "can_edit": actor.can("customer.edit"),
        "prefill": _prefill_from_search(search),
        "label": label,
    }
    if is_htmx():
        return await render_fragment(LIST_TEMPLATE, "customer_results", **context)
    return await render_page(LIST_TEMPLATE, **context)


# --- Create and edit -----------------------------------------------------------------------------------


async def _render_form(
    actor: Actor,
    form: dict[str, Any],
    errors: dict[str, str],
    *,
    customer: Customer | None = None,
    duplicate: DuplicateCustomer | None = None,
) -> str:
    async with runtime().db.read(actor.tenant_id) as session:
        owners = await queries.owner_choices(session)
    return await render_page(
        FORM_TEMPLATE,
        form=form,
        errors=errors,
        customer=customer,
        duplicate=duplicate,
        owners=owners,
        types=CUSTOMER_TYPES,
        statuses=CUSTOMER_STATUSES,
        languages=LANGUAGES,
        countries=country_choices(),
        cantons=SWISS_CANTONS,
        label=label,
        language_label=language_label,
    )


def _form_of(customer: Customer) -> dict[str, Any]:
    return {
        "type": customer.type,
        "status": customer.status,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "company_name": customer.company_name or "",
        "uid": customer.uid or "",
        "email": customer.email or "",
        "phone": format_phone(customer.phone),
        "address_line": customer.address_line or "",
        "postal_code": customer.postal_code or "",
        "city": customer.city or "",
        "region": customer.region or "",
        "country": customer.country,
        "preferred_language": customer.preferred_language,
        "budget_min": "" if customer.budget_min is None else str(customer.budget_min),
        "budget_max": "" if customer.budget_max is None else str(customer.budget_max),
        "vehicle_interests": ", ".join(customer.vehicle_interests or []),
        "owner_id": "" if customer.owner_id is None else str(customer.owner_id),
        "version": str(customer.version),
    }


@bp.get("/new")
@login_required
async def new_customer() -> Any:
    actor = current_actor()
    actor.require("customer.edit")
    tenant = current_tenant()
    form: dict[str, Any] = {
        "type": "INDIVIDUAL",
        "status": "PROSPECT",
        "country": tenant.country or "CH",
        "preferred_language": "de",
        "owner_id": str(actor.user_id) if actor.role in OWNER_ROLES else "",
    }
    for name in ("first_name", "last_name", "email", "phone"):
        if request.args.get(name):
            form[name] = request.args[name][:100]
    return await _render_form(actor, form, {})


@bp.post("", endpoint="create")
@login_required
async def create() -> Any:
    actor = current_actor()
    actor.require("customer.edit")
    form = await posted_form()
    try:
        async with runtime().db.uow(actor) as uow:
            customer = await create_customer(uow, CustomerData.from_mapping(form))
    except InvalidCustomer as invalid:
        return await _render_form(actor, form, invalid.errors), 422
    except DuplicateCustomer as duplicate:
        return await _render_form(actor, form, duplicate.errors, duplicate=duplicate), 422
    except RuleViolation as violation:
        return await _render_form(actor, form, {violation.field or "__all__": str(violation)}), 422
    await flash_message(_("%(name)s saved.", name=customer.display_name), "success")
    return redirect(url_for("customers.customer_page", customer_id=customer.id))


@bp.get("/<int:customer_id>/edit")
@login_required
async def edit(customer_id: int) -> Any:
    actor = current_actor()
    customer = await _customer_or_404(actor, customer_id)
    actor.require("customer.edit")
    if customer.erased_at is not None:
        await flash_message(_("This customer's data was erased; there is nothing left to edit."), "error")
        return redirect(url_for("customers.customer_page", customer_id=customer_id))
    return await _render_form(actor, _form_of(customer), {}, customer=customer)


@bp.post("/<int:customer_id>/edit", endpoint="update")
@login_required
async def update(customer_id: int) -> Any:
    actor = current_actor()
    customer = await _customer_or_404(actor, customer_id)
    actor.require("customer.edit")
    form = await posted_form()
    try:
        async with runtime().db.uow(actor) as uow:
            await update_customer(
                uow, customer_id, CustomerData.from_mapping(form), _version_from(form.get("version"))
            )
    except NotFound:
        abort(404)
    except Conflict as conflict:
        # The form comes back with what is stored now, so the user sees what changed before saving again.
        current = await _customer_or_404(actor, customer_id)
        return await _render_form(actor, _form_of(current), {"__all__": str(conflict)}, customer=current), 409
    except InvalidCustomer as invalid:
        return await _render_form(actor, form, invalid.errors, customer=customer), 422
    except DuplicateCustomer as duplicate:
        return await _render_form(actor, form, duplicate.errors, customer=customer, duplicate=duplicate), 422
    except RuleViolation as violation:
        errors = {violation.field or "__all__": str(violation)}
        return await _render_form(actor, form, errors, customer=customer), 422
    await flash_message(_("%(name)s saved.", name=customer.display_name), "success")
    return redirect(url_for("customers.customer_page", customer_id=customer_id))


# --- The customer's page -------------------------------------------------------------------------------


async def _render_customer(
    actor: Actor,
    customer_id: int,
    *,
    blocks: tuple[str, ...] = (),
    forms: dict[str, dict[str, str]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    oob: bool = False,
    page_error: str | None = None,
) -> str:
    actor.require("customer.view")
    # Take the live position before reading, so nothing committed in between is missed.
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        profile = await queries.customer_profile(session, customer_id)
        if profile is None:
            abort(404)
        timeline = await queries.customer_timeline(session, customer_id, page_number())
    context = {
        "profile": profile,
        "customer": profile.customer,
        "timeline": timeline,
        "live_id": live_id,
        "csrf": csrf_token(),
        "forms": forms or {},
        "errors": errors or {},
        "can_edit": actor.can("customer.edit") and not profile.erased,
        "can_export": actor.can("customer.export"),
        "can_erase": actor.can("customer.erase") and not profile.erased,
        "consent_channels": CONSENT_CHANNELS,
        "interaction_types": INTERACTION_TYPES,
        "interaction_channels": INTERACTION_CHANNELS,
        "interaction_statuses": INTERACTION_STATUSES,
        "label": label,
        "language_label": language_label,
        "format_date": format_date,
        "today": tenant_today(),
        "oob": oob,
        "page_error": page_error,
    }
    if blocks:
        parts = [await render_fragment(PAGE_TEMPLATE, block, **context) for block in blocks]
        return "\n".join(parts)
    return await render_page(PAGE_TEMPLATE, **context)


LIVE_SECTIONS = {"customer-profile": "customer_profile", "customer-timeline": "customer_timeline"}


@bp.get("/<int:customer_id>", endpoint="customer_page")
@login_required
async def customer_page(customer_id: int) -> Any:
    actor = current_actor()
    if is_htmx():
        # A live section re-fetching itself after an update or a `reset`.
        block = LIVE_SECTIONS.get(request.headers.get("HX-Target", ""), "customer_timeline")
        return await _render_customer(actor, customer_id, blocks=(block,))
    return await _render_customer(actor, customer_id)


async def _answer(
    actor: Actor,
    customer_id: int,
    *,
    form_name: str,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    success: str | None = None,
) -> Any:
    """After a change on the page: for htmx the form (reset, or with errors next to the fields) and the
    refreshed sections out of band; for a plain post a redirect, or the page with the errors."""
    failed = bool(errors)
    forms = {form_name: form or {}} if failed else None
    error_map = {form_name: errors or {}} if failed else None
    if is_htmx():
        html = await _render_customer(
            actor,
            customer_id,
            blocks=(form_name, "customer_profile", "customer_timeline"),
            forms=forms,
            errors=error_map,
            oob=True,
        )
        return html, 422 if failed else 200
    if failed:
        page = await _render_customer(
            actor, customer_id, forms=forms, errors=error_map, page_error=(errors or {}).get("__all__")
        )
        return page, 422
    if success:
        await flash_message(success, "success")
    return redirect(url_for("customers.customer_page", customer_id=customer_id))


def _follow_up_date(value: str | None, errors: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors["follow_up_on"] = _("Enter a date.")
        return None


@bp.post("/<int:customer_id>/interactions", endpoint="log")
@login_required
async def log(customer_id: int) -> Any:
    actor = current_actor()
    await _customer_or_404(actor, customer_id)
    actor.require("customer.edit")
    form = await posted_form()
    errors: dict[str, str] = {}
    follow_up_on = _follow_up_date(form.get("follow_up_on"), errors)
    if follow_up_on is not None and follow_up_on < tenant_today():
        errors["follow_up_on"] = _("Choose today or a later day.")
    if not errors:
        try:
            async with runtime().db.uow(actor) as uow:
                await log_interaction(
                    uow,
                    customer_id,
                    form.get("type", ""),
                    form.get("channel", ""),
                    form.get("subject", ""),
                    body=form.get("body", ""),
                    follow_up_on=follow_up_on,
                    status=form.get("status") or ("FOLLOW_UP_REQUIRED" if follow_up_on else "OPEN"),
                )
        except InvalidCustomer as invalid:
            errors = invalid.errors
        except RuleViolation as violation:
            errors = {violation.field or "__all__": str(violation)}
    return await _answer(
        actor, customer_id, form_name="log_form", form=form, errors=errors, success=_("Logged.")
    )


@bp.post("/<int:customer_id>/consents", endpoint="consent")
@login_required
async def consent(customer_id: int) -> Any:
    actor = current_actor()
    await _customer_or_404(actor, customer_id)
    actor.require("customer.edit")
    form = await posted_form()
    errors: dict[str, str] = {}
    granted = form.get("granted")
    if granted not in ("1", "0"):
        errors["granted"] = _("Choose given or withdrawn.")
    if not errors:
        try:
            async with runtime().db.uow(actor) as uow:
                await record_consent(
                    uow, customer_id, form.get("channel", ""), granted == "1", form.get("source", "")
                )
        except RuleViolation as violation:
            errors = {violation.field or "__all__": str(violation)}
    return await _answer(
        actor, customer_id, form_name="consent_form", form=form, errors=errors, success=_("Consent recorded.")
    )


@bp.post("/<int:customer_id>/do-not-contact", endpoint="do_not_contact")
@login_required
async def do_not_contact(customer_id: int) -> Any:
    actor = current_actor()
    await _customer_or_404(actor, customer_id)
    actor.require("customer.edit")
    form = await posted_form()
    errors: dict[str, str] = {}
    try:
        async with runtime().db.uow(actor) as uow:
            await set_do_not_contact(uow, customer_id, form.get("do_not_contact") == "1")
    except RuleViolation as violation:
        errors = {"__all__": str(violation)}
    return await _answer(actor, customer_id, form_name="consent_form", form=form, errors=errors)


@bp.post("/interactions/<int:interaction_id>/resolve", endpoint="resolve")
@login_required
async def resolve(interaction_id: int) -> Any:
    actor = current_actor()
    actor.require("customer.edit")
    try:
        async with runtime().db.uow(actor) as uow:
            await resolve_interaction(uow, interaction_id)
    except NotFound:
        abort(404)
    await flash_message(_("Marked as done."), "success")
    return redirect(url_for("customers.follow_ups"))


# --- My follow-ups -------------------------------------------------------------------------------------


@bp.get("/follow-ups")
@login_required
async def follow_ups() -> Any:
    actor = current_actor()
    actor.require("customer.view")
    today = tenant_today()
    async with runtime().db.read(actor.tenant_id) as session:
        listing = await queries.follow_ups(
            session,
            actor.user_id or 0,
            today,
            today + timedelta(days=FOLLOW_UP_HORIZON_DAYS),
            page_number(),
        )
    return await render_page(
        FOLLOW_UPS_TEMPLATE,
        listing=listing,
        today=today,
        label=label,
        format_date=format_date,
        can_edit=actor.can("customer.edit"),
        csrf=csrf_token(),
    )


# --- The customer's rights -----------------------------------------------------------------------------


@bp.get("/<int:customer_id>/export.json", endpoint="export")
@login_required
async def export(customer_id: int) -> Any:
    actor = current_actor()
    await _customer_or_404(actor, customer_id)
    actor.require("customer.export")
    async with runtime().db.uow(actor) as uow:
        data = await export_customer_data(uow, customer_id)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="customer-{customer_id}.json"',
            "Cache-Control": "no-store",
        },
    )


def _confirmation_name(customer: Customer) -> str:
    return f"{customer.first_name} {customer.last_name}"


def _same_name(typed: str, expected: str) -> bool:
    return " ".join(typed.split()).casefold() == " ".join(expected.split()).casefold()


async def _render_erase(customer: Customer, error: str | None = None, typed: str = "") -> str:
    return await render_page(
        ERASE_TEMPLATE,
        customer=customer,
        confirmation_name=_confirmation_name(customer),
        error=error,
        typed=typed,
        format_date=format_date,
    )


@bp.get("/<int:customer_id>/erase", endpoint="erase_form")
@login_required
async def erase_form(customer_id: int) -> Any:
    actor = current_actor()
    customer = await _customer_or_404(actor, customer_id)
    actor.require("customer.erase")
    return await _render_erase(customer)


@bp.post("/<int:customer_id>/erase", endpoint="erase")
@login_required
async def erase(customer_id: int) -> Any:
    actor = current_actor()
    customer = await _customer_or_404(actor, customer_id)
    actor.require("customer.erase")
    typed = (await posted_form()).get("confirm_name", "")
    if customer.erased_at is None and not _same_name(typed, _confirmation_name(customer)):
        message = _("Type the customer's name exactly as shown to confirm.")
        return await _render_erase(customer, message, typed), 422
    try:
        async with runtime().db.uow(actor) as uow:
            await erase_customer(uow, customer_id)
    except RuleViolation as violation:
        return await _render_erase(customer, str(violation)), 422
    await flash_message(_("The customer's personal data was erased."), "success")
    return redirect(url_for("customers.customer_page", customer_id=customer_id))
