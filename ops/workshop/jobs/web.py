"""The work-order page: the order, its lines and totals, history and notes, and the actions on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, StringConstraints
from quart import Blueprint, abort, current_app, redirect, request, url_for

from ops.auth.actor import Actor, NotFound, RuleViolation
from ops.auth.web import csrf_token, current_actor, login_required
from ops.db import UnitOfWork
from ops.i18n import gettext as _
from ops.notices import user_topic
from ops.pages import flash_message, is_htmx, parse_form, posted_form, render_fragment, render_page
from ops.runtime import runtime
from ops.workshop.jobs import queries
from ops.workshop.jobs.live import ORDER_TEMPLATE, order_context
from ops.workshop.jobs.service import (
    add_labour_line,
    add_part_line,
    change_line_quantity,
    remove_line,
)
from ops.workshop.parts.service import format_quantity
from ops.workshop.queries import work_order_exists
from ops.workshop.service import work_order_topic

bp = Blueprint("jobs", __name__, url_prefix="/workshop")


def _decimal(value: Any) -> Any:
    """Form numbers as people type them: "1.5" or, in German-speaking Switzerland, "1,5"."""
    if value is None:
        raise ValueError(_("This field is required."))
    if isinstance(value, str):
        text = value.strip().replace("'", "").replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(_("Enter a number.")) from None
        if not number.is_finite():
            raise ValueError(_("Enter a number."))
        return number
    return value


FormDecimal = Annotated[Decimal, BeforeValidator(_decimal)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class LabourForm(BaseModel):
    description: Text200
    hours: FormDecimal
    rate: FormDecimal | None = None


class PartForm(BaseModel):
    part_id: int
    quantity: FormDecimal
    unit_price: FormDecimal | None = None
    # Ticked once the form has said the stock is short of the quantity: add it anyway.
    short_ok: bool = False


class QuantityForm(BaseModel):
    quantity: FormDecimal


@bp.get("/work-orders/<int:work_order_id>", endpoint="order")
@login_required
async def order_page(work_order_id: int) -> Any:
    actor = current_actor()
    actor.require("workshop.view")
    if is_htmx():
        # The page re-fetching itself after a live `reset`: only the part that live updates swap.
        return await render_order(actor, work_order_id, block="order_page")
    return await render_order(actor, work_order_id)


async def render_order(
    actor: Actor,
    work_order_id: int,
    *,
    block: str | None = None,
    forms: dict[str, dict[str, Any]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
) -> str:
    """The work-order page, or one of its blocks, with the forms that were refused (`forms` holds what
    was typed and `errors` the message per field, both by form name)."""
    # Take the live position before reading, so nothing committed in between is missed.
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        order = await queries.order_detail(session, work_order_id)
        if order is None:
            raise NotFound(work_order_id)
        choices = await queries.schedule_choices(session)
    context = order_context(
        current_app,
        order,
        role=actor.role,
        choices=choices,
        csrf=csrf_token(),
        forms=forms,
        errors=errors,
        # An answer's sections are swapped out of band; the page re-fetching itself swaps in place.
        oob=block not in (None, "order_page"),
    )
    context["live_id"] = live_id
    # The order's changes, and the notices meant for whoever is reading it.
    context["live_topics"] = [work_order_topic(work_order_id)]
    if actor.user_id is not None:
        context["live_topics"].append(user_topic(actor.user_id))
    if block is not None:
        return await render_fragment(ORDER_TEMPLATE, block, **context)
    return await render_page(ORDER_TEMPLATE, **context)


async def _answer(
    actor: Actor,
    work_order_id: int,
    *,
    success: str | None = None,
    form_name: str | None = None,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Any:
    """After a line change: for htmx the lines, totals and line forms (with any errors next to their
    fields); for a plain form post a redirect back to the page, or the page itself with the errors."""
    failed = bool(errors)
    forms = {form_name: form or {}} if failed and form_name else None
    error_map = {form_name or "page": errors or {}} if failed else None
    if is_htmx():
        html = await render_order(actor, work_order_id, block="line_update", forms=forms, errors=error_map)
        return html, 422 if failed else 200
    if failed:
        return await render_order(actor, work_order_id, forms=forms, errors=error_map), 422
    if success:
        await flash_message(success, "success")
    return redirect(url_for("jobs.order", work_order_id=work_order_id))


@bp.post("/work-orders/<int:work_order_id>/lines/labour", endpoint="add_labour_line")
@login_required
async def add_labour_line_view(work_order_id: int) -> Any:
    actor = current_actor()
    form: dict[str, Any] = await posted_form()
    data, errors = parse_form(LabourForm, form)
    if data is None:
        await _require_order(actor, work_order_id)
    else:
        errors = await _change_lines(
            actor,
            lambda uow: add_labour_line(uow, work_order_id, data.description, data.hours, data.rate),
        )
    return await _answer(
        actor,
        work_order_id,
        success=_("Labour line added."),
        form_name="labour",
        form=form,
        errors=errors,
    )


@bp.post("/work-orders/<int:work_order_id>/lines/part", endpoint="add_part_line")
@login_required
async def add_part_line_view(work_order_id: int) -> Any:
    actor = current_actor()
    form: dict[str, Any] = await posted_form()
    data, errors = parse_form(PartForm, form)
    if data is None:
        await _require_order(actor, work_order_id)
    else:
        errors = await _change_lines(
            actor,
            lambda uow: add_part_line(
                uow, work_order_id, data.part_id, data.quantity, data.unit_price, short_ok=data.short_ok
            ),
        )
    if errors and form.get("q"):
        # Keep the search the person typed, so the list they chose from, and their choice, is still
        # there whatever was refused (a quantity of 0 lost the chosen part, and the next try failed).
        form["results"] = await _search(actor, form["q"])
    return await _answer(
        actor, work_order_id, success=_("Part line added."), form_name="part", form=form, errors=errors
    )


@bp.post("/work-orders/<int:work_order_id>/lines/<int:line_id>/remove", endpoint="remove_line")
@login_required
async def remove_line_view(work_order_id: int, line_id: int) -> Any:
    actor = current_actor()
    errors: dict[str, str] = {}
    try:
        async with runtime().db.uow(actor) as uow:
            await remove_line(uow, line_id, work_order_id=work_order_id)
    except NotFound:
        abort(404)
    except RuleViolation as violation:
        errors = {"__all__": str(violation)}
    return await _answer(actor, work_order_id, success=_("Line removed."), errors=errors)


@bp.post("/work-orders/<int:work_order_id>/lines/<int:line_id>/quantity", endpoint="change_line_quantity")
@login_required
async def change_line_quantity_view(work_order_id: int, line_id: int) -> Any:
    actor = current_actor()
    form: dict[str, Any] = await posted_form()
    data, errors = parse_form(QuantityForm, form)
    if data is None:
        await _require_order(actor, work_order_id)
    else:
        errors = await _change_lines(
            actor,
            lambda uow: change_line_quantity(uow, line_id, data.quantity, work_order_id=work_order_id),
        )
    return await _answer(
        actor,
        work_order_id,
        success=_("Quantity changed."),
        form_name=f"line-{line_id}",
        form=form,
        errors=errors,
    )


async def _change_lines(actor: Actor, change: Callable[[UnitOfWork], Awaitable[object]]) -> dict[str, str]:
    """Run one change of an order's lines: the rule it breaks becomes the form's error, and an order
    that is not there (or is another tenant's) answers 404."""
    try:
        async with runtime().db.uow(actor) as uow:
            await change(uow)
    except NotFound:
        abort(404)
    except RuleViolation as violation:
        return {violation.field or "__all__": str(violation)}
    return {}


async def _require_order(actor: Actor, work_order_id: int) -> None:
    """A form that did not parse still answers 404 for another tenant's order and 403 for a role
    that may not change lines, exactly as a valid one would."""
    async with runtime().db.read(actor.tenant_id) as session:
        if not await work_order_exists(session, work_order_id):
            abort(404)
    actor.require("work_order.edit_lines")


async def _search(actor: Actor, text: str) -> list[queries.PartChoice]:
    async with runtime().db.read(actor.tenant_id) as session:
        return await queries.search_parts(session, text)


@bp.get("/work-orders/<int:work_order_id>/parts", endpoint="part_search")
@login_required
async def part_search(work_order_id: int) -> Any:
    """The parts matching what the advisor typed, as choices for the add-part form."""
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        if not await work_order_exists(session, work_order_id):
            abort(404)
        actor.require("work_order.edit_lines")
        text = request.args.get("q", "")[:100]
        results = await queries.search_parts(session, text)
    return await render_fragment(
        ORDER_TEMPLATE,
        "part_results",
        results=results,
        query=text,
        form={},
        format_quantity=format_quantity,
    )
