"""Inventory pages: the part list with reorder flags, a part with its ledger, the stock forms, and the
purchase request of a part at its reorder point (requested, and cancelled with a reason)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from quart import Blueprint, abort, redirect, request, url_for

from ops.auth.actor import Conflict, NotFound, RuleViolation
from ops.auth.web import csrf_token, current_actor, login_required
from ops.db import UnitOfWork
from ops.i18n import gettext as _
from ops.list_filters import page_number, text_filter
from ops.pages import flash_message, is_htmx, posted_form, render_fragment, render_page
from ops.runtime import runtime
from ops.workshop.models import format_purchase_request_number
from ops.workshop.parts import queries
from ops.workshop.parts.service import (
    NewPart,
    PartChanges,
    StockLevels,
    adjust_stock,
    cancel_purchase_request,
    create_part,
    format_quantity,
    purchase_request_is_open_message,
    receive_stock,
    request_purchase,
    return_stock,
    suggested_purchase_quantity,
    unit_label,
    update_part,
)

bp = Blueprint("parts", __name__, url_prefix="/workshop/parts")

LIST_TEMPLATE = "workshop/parts/list.html"
PART_TEMPLATE = "workshop/parts/part.html"
FORM_TEMPLATE = "workshop/parts/form.html"


def movement_label(kind: str) -> str:
    labels = {
        "RECEIVE": _("Received"),
        "RESERVE": _("Reserved"),
        "RELEASE": _("Released"),
        "CONSUME": _("Used"),
        "ADJUST": _("Adjusted"),
        "RETURN": _("Returned"),
    }
    return labels.get(kind, kind)


def signed_quantity(value: Decimal) -> str:
    """+2, -1.5 (with a typographic minus), or an empty string for no change, as on a bank statement."""
    if value == 0:
        return ""
    return ("+" if value > 0 else "\u2212") + format_quantity(abs(value))


def _decimal(form: dict[str, str], name: str, errors: dict[str, str]) -> Decimal | None:
    """A number typed in a form (a browser's number field always sends a dot); None when left empty."""
    text = (form.get(name) or "").strip().replace("'", "").replace(" ", "")
    if not text:
        return None
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors[name] = _("Enter a number.")
        return None
    if not value.is_finite():
        errors[name] = _("Enter a number.")
        return None
    return value


def _version_from(value: str) -> int | None:
    """The version the form was loaded with; None when missing or garbled (the service says so)."""
    try:
        version = int(value)
    except ValueError:
        return None
    return version if version > 0 else None


# --- The list ---------------------------------------------------------------------------------------


@bp.get("")
@login_required
async def index() -> Any:
    actor = current_actor()
    actor.require("parts.view")
    search = text_filter("q", 100)
    below_only = request.args.get("below") == "1"
    page = page_number()
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        listing = await queries.part_list(session, search=search, below_only=below_only, page=page)
    context = {
        "listing": listing,
        "search": search,
        "below_only": below_only,
        "can_manage": actor.can("parts.manage"),
        "live_id": live_id,
        "format_quantity": format_quantity,
    }
    if is_htmx():
        return await render_fragment(LIST_TEMPLATE, "parts_list", **context)
    return await render_page(LIST_TEMPLATE, **context)


# --- Creating and editing a part -----------------------------------------------------------------------


@bp.get("/new")
@login_required
async def new_part() -> Any:
    current_actor().require("parts.manage")
    return await _render_form(form={"unit": "pc"}, errors={})


async def _render_form(
    form: dict[str, str], errors: dict[str, str], part: queries.PartRow | None = None
) -> str:
    return await render_page(FORM_TEMPLATE, form=form, errors=errors, part=part)


_NUMBER_FIELDS = ("reorder_point", "cost", "price")


@bp.post("", endpoint="create")
@login_required
async def create() -> Any:
    actor = current_actor()
    actor.require("parts.manage")
    form = await posted_form()
    errors: dict[str, str] = {}
    numbers = {name: _decimal(form, name, errors) for name in (*_NUMBER_FIELDS, "opening_stock")}
    if errors:
        return await _render_form(form, errors), 422
    try:
        async with runtime().db.uow(actor) as uow:
            part = await create_part(
                uow,
                NewPart(
                    sku=form.get("sku", ""),
                    name=form.get("name", ""),
                    unit=form.get("unit", ""),
                    supplier=form.get("supplier"),
                    **{name: value for name, value in numbers.items() if value is not None},
                ),
            )
    except RuleViolation as violation:
        return await _render_form(form, {violation.field or "__all__": str(violation)}), 422
    await flash_message(_("%(sku)s created.", sku=part.sku), "success")
    return redirect(url_for("parts.part_page", part_id=part.id))


@bp.get("/<int:part_id>/edit")
@login_required
async def edit(part_id: int) -> Any:
    actor = current_actor()
    part = await _part_or_404(part_id)
    actor.require("parts.manage")
    form = {
        "sku": part.sku,
        "name": part.name,
        "unit": part.unit,
        "supplier": part.supplier or "",
        "reorder_point": str(part.reorder_point),
        "cost": str(part.cost),
        "price": str(part.price),
        "version": str(part.version),
    }
    return await _render_form(form, {}, part)


@bp.post("/<int:part_id>/edit", endpoint="update")
@login_required
async def update(part_id: int) -> Any:
    actor = current_actor()
    part = await _part_or_404(part_id)
    actor.require("parts.manage")
    form = await posted_form()
    errors: dict[str, str] = {}
    numbers = {name: _decimal(form, name, errors) for name in _NUMBER_FIELDS}
    for name, value in numbers.items():
        if value is None and name not in errors:
            errors[name] = _("This field is required.")
    if errors:
        return await _render_form(form, errors, part), 422
    try:
        async with runtime().db.uow(actor) as uow:
            await update_part(
                uow,
                part_id,
                PartChanges(
                    name=form.get("name", ""),
                    unit=form.get("unit", ""),
                    supplier=form.get("supplier"),
                    reorder_point=numbers["reorder_point"],  # type: ignore[arg-type]
                    cost=numbers["cost"],  # type: ignore[arg-type]
                    price=numbers["price"],  # type: ignore[arg-type]
                ),
                expected_version=_version_from(form.get("version", "")),
            )
    except NotFound:
        abort(404)
    except Conflict as conflict:
        # The form comes back with what is stored now, so the user sees what changed before saving again.
        current = await _part_or_404(part_id)
        fresh = {
            "sku": current.sku,
            "name": current.name,
            "unit": current.unit,
            "supplier": current.supplier or "",
            "reorder_point": str(current.reorder_point),
            "cost": str(current.cost),
            "price": str(current.price),
            "version": str(current.version),
        }
        return await _render_form(fresh, {"__all__": str(conflict)}, current), 409
    except RuleViolation as violation:
        return await _render_form(form, {violation.field or "__all__": str(violation)}, part), 422
    await flash_message(_("%(sku)s saved.", sku=part.sku), "success")
    return redirect(url_for("parts.part_page", part_id=part_id))


# --- One part and its ledger -----------------------------------------------------------------------------


async def _part_or_404(part_id: int) -> queries.PartRow:
    async with runtime().db.read(current_actor().tenant_id) as session:
        part = await queries.part(session, part_id)
    if part is None:
        abort(404)
    return part


async def _render_part(
    part_id: int,
    *,
    forms: dict[str, dict[str, str]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    block: str | None = None,
) -> str:
    actor = current_actor()
    actor.require("parts.view")
    live_id = runtime().hub.current_id()
    page = page_number()
    async with runtime().db.read(actor.tenant_id) as session:
        part = await queries.part(session, part_id)
        if part is None:
            abort(404)
        ledger = await queries.movements(session, part_id, page=page)
        requests = await queries.purchase_requests(session, part_id)
    open_request = requests[0] if requests and requests[0].is_open else None
    open_request_text = ""
    if open_request is not None:
        open_request_text = purchase_request_is_open_message(
            open_request.number,
            open_request.quantity,
            part.unit,
            part.sku,
            open_request.requested_by_name,
            open_request.requested_at,
        )
    context = {
        "part": part,
        "ledger": ledger,
        "purchase_requests": requests,
        "open_request": open_request,
        "open_request_text": open_request_text,
        "suggested_quantity": suggested_purchase_quantity(part.available, part.reorder_point, part.unit),
        "can_manage": actor.can("parts.manage"),
        "forms": forms or {},
        "errors": errors or {},
        "live_id": live_id,
        "csrf": csrf_token(),
        "format_quantity": format_quantity,
        "movement_label": movement_label,
        "signed_quantity": signed_quantity,
    }
    if block is not None:
        return await render_fragment(PART_TEMPLATE, block, **context)
    return await render_page(PART_TEMPLATE, **context)


@bp.get("/<int:part_id>", endpoint="part_page")
@login_required
async def part_page(part_id: int) -> Any:
    # The page's live sections re-fetch themselves; the ledger is the default one.
    if is_htmx():
        blocks = {
            "part-levels": "part_levels",
            "part-reorder": "part_reorder",
            "part-requests": "part_requests",
        }
        block = blocks.get(request.headers.get("HX-Target", ""), "part_ledger")
        return await _render_part(part_id, block=block)
    return await _render_part(part_id)


async def _movement_form(part_id: int) -> dict[str, str]:
    """The posted stock movement form, for a part of this tenant and someone who may move stock."""
    actor = current_actor()
    await _part_or_404(part_id)
    actor.require("parts.manage")
    return await posted_form()


def _required_quantity(form: dict[str, str], errors: dict[str, str]) -> Decimal | None:
    quantity = _decimal(form, "quantity", errors)
    if quantity is None and not errors:
        errors["quantity"] = _("This field is required.")
    return quantity


async def _movement_rejected(
    part_id: int, form_name: str, form: dict[str, str], errors: dict[str, str]
) -> tuple[str, int]:
    """The part page again, with the movement form as typed and its errors next to the fields."""
    return await _render_part(part_id, forms={form_name: form}, errors={form_name: errors}), 422


async def _record_movement(
    part_id: int,
    form_name: str,
    form: dict[str, str],
    field: str,
    move: Callable[[UnitOfWork], Awaitable[StockLevels]],
    success: Callable[[StockLevels], str],
) -> Any:
    """Record one stock movement from the part page: a broken rule is shown next to its field (or
    `field`), a part gone meanwhile is 404, and otherwise the page again with the `success` flash."""
    try:
        async with runtime().db.uow(current_actor()) as uow:
            after = await move(uow)
    except NotFound:
        abort(404)
    except RuleViolation as violation:
        return await _movement_rejected(part_id, form_name, form, {violation.field or field: str(violation)})
    await flash_message(success(after), "success")
    return redirect(url_for("parts.part_page", part_id=part_id))


@bp.post("/<int:part_id>/receive", endpoint="receive")
@login_required
async def receive(part_id: int) -> Any:
    form = await _movement_form(part_id)
    errors: dict[str, str] = {}
    quantity = _required_quantity(form, errors)
    if quantity is None:
        return await _movement_rejected(part_id, "receive", form, errors)
    return await _record_movement(
        part_id,
        "receive",
        form,
        "quantity",
        lambda uow: receive_stock(uow, part_id, quantity, form.get("reason", "")),
        lambda after: _(
            "Received %(quantity)s of %(sku)s; %(on_hand)s on hand.",
            quantity=format_quantity(quantity),
            sku=after.sku,
            on_hand=format_quantity(after.on_hand),
        ),
    )


@bp.post("/<int:part_id>/adjust", endpoint="adjust")
@login_required
async def adjust(part_id: int) -> Any:
    form = await _movement_form(part_id)
    errors: dict[str, str] = {}
    counted = _decimal(form, "counted", errors)
    change = _decimal(form, "change", errors)
    if errors:
        return await _movement_rejected(part_id, "adjust", form, errors)
    return await _record_movement(
        part_id,
        "adjust",
        form,
        "counted",
        lambda uow: adjust_stock(uow, part_id, reason=form.get("reason", ""), counted=counted, change=change),
        lambda after: _(
            "%(sku)s adjusted; %(on_hand)s on hand.", sku=after.sku, on_hand=format_quantity(after.on_hand)
        ),
    )


@bp.post("/<int:part_id>/return", endpoint="return_from_job")
@login_required
async def return_from_job(part_id: int) -> Any:
    form = await _movement_form(part_id)
    errors: dict[str, str] = {}
    quantity = _required_quantity(form, errors)
    work_order_id = None
    if (form.get("work_order") or "").strip():
        async with runtime().db.read(current_actor().tenant_id) as session:
            work_order_id = await queries.work_order_id_for(session, form["work_order"])
        if work_order_id is None:
            errors["work_order"] = _("There is no work order with this number.")
    if quantity is None or errors:
        return await _movement_rejected(part_id, "return", form, errors)
    return await _record_movement(
        part_id,
        "return",
        form,
        "quantity",
        lambda uow: return_stock(uow, part_id, quantity, form.get("reason", ""), work_order_id=work_order_id),
        lambda after: _(
            "%(quantity)s of %(sku)s back on the shelf; %(on_hand)s on hand.",
            quantity=format_quantity(quantity),
            sku=after.sku,
            on_hand=format_quantity(after.on_hand),
        ),
    )


@bp.post("/<int:part_id>/purchase-request", endpoint="request_purchase")
@login_required
async def request_purchase_page(part_id: int) -> Any:
    """Request a reorder; a request still open for the part is shown instead of a second one (409)."""
    form = await _movement_form(part_id)
    errors: dict[str, str] = {}
    quantity = _required_quantity(form, errors)
    if quantity is None:
        return await _movement_rejected(part_id, "reorder", form, errors)
    try:
        async with runtime().db.uow(current_actor()) as uow:
            made = await request_purchase(uow, part_id, quantity)
    except NotFound:
        abort(404)
    except Conflict as conflict:
        return await _render_part(part_id, errors={"reorder": {"__all__": str(conflict)}}), 409
    except RuleViolation as violation:
        return await _movement_rejected(
            part_id, "reorder", form, {violation.field or "quantity": str(violation)}
        )
    part = await _part_or_404(part_id)
    details = {
        "number": format_purchase_request_number(made.number),
        "quantity": format_quantity(made.quantity),
        "unit": unit_label(part.unit),
        "sku": part.sku,
    }
    if runtime().settings.erp is None:
        message = _(
            "%(number)s recorded: %(quantity)s %(unit)s of %(sku)s. No ERP is configured, so it was not "
            "sent anywhere; order from the supplier directly.",
            **details,
        )
    else:
        message = _(
            "%(number)s requested: %(quantity)s %(unit)s of %(sku)s; it goes to the ERP in a moment.",
            **details,
        )
    await flash_message(message, "success")
    return redirect(url_for("parts.part_page", part_id=part_id))


@bp.post("/<int:part_id>/purchase-requests/<int:request_id>/cancel", endpoint="cancel_purchase_request")
@login_required
async def cancel_purchase_request_page(part_id: int, request_id: int) -> Any:
    """Cancel the part's open request, saying why; a request closed meanwhile (received, or cancelled
    by someone else) is shown with what became of it (409)."""
    form = await _movement_form(part_id)
    try:
        async with runtime().db.uow(current_actor()) as uow:
            cancelled = await cancel_purchase_request(uow, part_id, request_id, form.get("reason", ""))
    except NotFound:
        abort(404)
    except Conflict as conflict:
        return await _render_part(part_id, errors={"cancel": {"__all__": str(conflict)}}), 409
    except RuleViolation as violation:
        return await _movement_rejected(
            part_id, "cancel", form, {violation.field or "reason": str(violation)}
        )
    number = format_purchase_request_number(cancelled.number)
    if runtime().settings.erp is None:
        message = _("%(number)s cancelled.", number=number)
    else:
        message = _("%(number)s cancelled; the ERP hears of it in a moment.", number=number)
    await flash_message(message, "success")
    return redirect(url_for("parts.part_page", part_id=part_id))
