"""Deal pages: the list (filters by status and rep, and a deal made from an accepted quote), and one deal
with its customer, unit, quote figures, payments (by hand or by card through Stripe) and timeline, and
the actions its status allows."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from quart import Blueprint, abort, redirect, request, url_for

from ops.auth.actor import Actor, Conflict, NotFound, RuleViolation
from ops.auth.web import csrf_token, current_actor, login_required
from ops.i18n import current_timezone, format_datetime, format_money, format_number
from ops.i18n import gettext as _
from ops.list_filters import page_number
from ops.pages import flash_message, is_htmx, posted_form, render_fragment, render_page
from ops.payments import queries as payment_queries
from ops.payments.service import request_deal_deposit, send_payment_request, send_pending_refunds
from ops.runtime import runtime
from ops.sales.deals import queries
from ops.sales.deals.service import (
    OPEN_STATUSES,
    approve_financing,
    assign_unit,
    cancel_deal,
    complete_delivery,
    create_deal,
    deal_status_label,
    mark_ready_for_delivery,
    record_deposit,
    schedule_delivery,
)
from ops.sales.models import DEAL_STATUSES
from ops.sales.stock.queries import sales_people
from ops.sales.stock.service import unit_status_label

bp = Blueprint("deals", __name__, url_prefix="/sales/deals")

LIST_TEMPLATE = "sales/deals/list.html"
DEAL_TEMPLATE = "sales/deals/deal.html"


def payment_kind_label(kind: str) -> str:
    return {"DEPOSIT": _("Deposit"), "REFUND": _("Refund")}.get(kind, kind)


def payment_method_label(method: str) -> str:
    return {"MANUAL": _("Recorded by hand"), "CARD": _("Card (Stripe)")}.get(method, method)


def timeline_text(entry: queries.TimelineEntry) -> str:
    """One line of the deal's history, from its event."""
    payload = entry.payload
    if entry.type == "deal.created":
        return _("Deal made from the accepted quote.")
    if entry.type == "deal.deposit_recorded":
        if payload.get("method") == "CARD":
            return _("Deposit of %(amount)s paid by card.", amount=format_money(payload.get("amount", "0")))
        return _("Deposit of %(amount)s recorded.", amount=format_money(payload.get("amount", "0")))
    if entry.type == "deal.unit_assigned":
        return _("The ordered car was assigned to the deal.")
    if entry.type == "deal.financing_approved":
        return _("Financing approved.")
    if entry.type == "deal.ready_for_delivery":
        return _("Ready for delivery.")
    if entry.type == "deal.delivery_scheduled":
        when = payload.get("delivery_at")
        return _(
            "Hand-over scheduled for %(when)s.",
            when=format_datetime(datetime.fromisoformat(when)) if when else "—",
        )
    if entry.type == "deal.delivered":
        if payload.get("vehicle_linked"):
            return _("Delivered; the customer's existing vehicle profile was linked.")
        return _("Delivered; the customer's vehicle profile was created.")
    if entry.type == "deal.cancelled":
        return _(
            "Cancelled: %(reason)s. Refunded %(amount)s.",
            reason=payload.get("reason", ""),
            amount=format_money(payload.get("refund", "0")),
        )
    return entry.type


LABELS = {
    "deal_status_label": deal_status_label,
    "unit_status_label": unit_status_label,
    "payment_kind_label": payment_kind_label,
    "payment_method_label": payment_method_label,
    "timeline_text": timeline_text,
    "payment_status_text": payment_queries.payment_status_text,
    "refund_status_text": payment_queries.refund_status_text,
    "format_number": format_number,
}


def _zone() -> ZoneInfo:
    return ZoneInfo(current_timezone.get())


def _id(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None


def local_input(value: datetime | None) -> str:
    """A datetime as a datetime-local field shows it, in the dealership's timezone."""
    return value.astimezone(_zone()).strftime("%Y-%m-%dT%H:%M") if value else ""


def _local_datetime(text: str | None) -> datetime | None:
    """A datetime-local field, read in the dealership's timezone; None when empty or garbled."""
    try:
        value = datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    if value.tzinfo is not None:
        return None
    return value.replace(tzinfo=_zone())


@bp.app_template_global()
async def deal_of_quote(quote_id: int) -> tuple[int, str] | None:
    """For the quote page: the deal (id, code) an accepted quote became, if it did."""
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        return await queries.deal_of_quote(session, quote_id)


# --- The list ---------------------------------------------------------------------------------------------


async def _render_list(
    actor: Actor, *, form: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> str:
    args = request.args
    status = args.get("status", "")
    status = status if status in DEAL_STATUSES else ""
    rep_id = _id(args.get("rep_id"))
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        deals = await queries.deal_list(session, status=status, rep_id=rep_id, page=page_number())
        people = await sales_people(session)
        quotes = await queries.quotes_ready_for_a_deal(session) if actor.can("deal.edit") else []
    filters = {key: value for key, value in (("status", status), ("rep_id", rep_id)) if value}
    context = {
        "deals": deals,
        "people": people,
        "quotes": quotes,
        "statuses": DEAL_STATUSES,
        "status": status,
        "rep_id": rep_id,
        "filters": filters,
        "form": form or {},
        "errors": errors or {},
        "csrf": csrf_token(),
        "can_create": actor.can("deal.edit"),
        "live_id": live_id,
        **LABELS,
    }
    if is_htmx() and form is None:
        return await render_fragment(LIST_TEMPLATE, "deal_list", **context)
    return await render_page(LIST_TEMPLATE, **context)


@bp.get("")
@login_required
async def index() -> Any:
    actor = current_actor()
    actor.require("deal.view")
    return await _render_list(actor)


@bp.post("")
@login_required
async def create() -> Any:
    """A deal from an accepted quote (the quote page's button and the list's form post here)."""
    actor = current_actor()
    actor.require("deal.edit")
    form = await posted_form()
    quote_id = _id(form.get("quote_id"))
    if quote_id is None:
        return await _render_list(actor, form=form, errors={"quote_id": _("Choose an accepted quote.")}), 422
    try:
        async with runtime().db.uow(actor) as uow:
            deal = await create_deal(uow, quote_id)
    except NotFound:
        abort(404)
    except Conflict as conflict:
        return await _render_list(actor, form=form, errors={"quote_id": str(conflict)}), 409
    except RuleViolation as violation:
        return await _render_list(actor, form=form, errors={"quote_id": str(violation)}), 422
    await flash_message(_("Deal %(deal)s created; the unit is sold to it.", deal=deal.code), "success")
    return redirect(url_for("deals.deal_page", deal_id=deal.id))


# --- One deal ---------------------------------------------------------------------------------------------


async def _render_deal(
    actor: Actor,
    deal_id: int,
    *,
    block: str | None = None,
    forms: dict[str, dict[str, str]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
) -> str:
    # The live position is taken before the read, so nothing committed in between is missed.
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        detail = await queries.deal_detail(session, deal_id)
        card_payments = await payment_queries.deal_payments(session, deal_id)
        stripe_ready = await payment_queries.stripe_configured(session, actor.tenant_id)
        assignable = []
        if detail is not None and detail.deal.stock_unit_id is None:
            assignable = await queries.assignable_units(session, detail.quote.trim_id)
    if detail is None:
        raise NotFound(deal_id)
    actor.require("deal.view")
    deal = detail.deal
    ready = deal.status == ("FINANCING_APPROVED" if deal.financed else "DEPOSIT_PAID")
    can_edit = actor.can("deal.edit")
    context = {
        "detail": detail,
        "deal": deal,
        "row": detail.row,
        "quote": detail.quote,
        "customer": detail.customer,
        "unit": detail.unit,
        "can_deposit": can_edit and deal.status == "OPEN",
        "card_payments": card_payments,
        "can_request_card": can_edit
        and deal.status == "OPEN"
        and stripe_ready
        and not any(payment.is_open for payment in card_payments),
        "can_finance": can_edit and deal.financed and deal.status == "DEPOSIT_PAID",
        "can_ready": can_edit and ready,
        "can_schedule": can_edit and (ready or deal.status == "READY_FOR_DELIVERY"),
        "can_deliver": can_edit and deal.status == "READY_FOR_DELIVERY" and deal.stock_unit_id is not None,
        "can_assign": can_edit and deal.stock_unit_id is None and deal.status in OPEN_STATUSES,
        "assignable": assignable,
        "can_cancel": actor.can("deal.cancel") and deal.status in OPEN_STATUSES,
        "forms": forms or {},
        "errors": errors or {},
        "csrf": csrf_token(),
        "live_id": live_id,
        "local_input": local_input,
        **LABELS,
    }
    if block is not None:
        return await render_fragment(DEAL_TEMPLATE, block, **context)
    return await render_page(DEAL_TEMPLATE, **context)


@bp.get("/<int:deal_id>", endpoint="deal_page")
@login_required
async def deal_page(deal_id: int) -> Any:
    actor = current_actor()
    if is_htmx():
        # A live section re-fetching itself after a change elsewhere; the action forms in between
        # are left alone, so a half-typed reference survives (a stale form gets a 409).
        block = "deal_history" if request.headers.get("HX-Target") == "deal-history" else "deal_live"
        return await _render_deal(actor, deal_id, block=block)
    return await _render_deal(actor, deal_id)


async def _act(
    deal_id: int,
    form_name: str,
    success: str,
    action: Any,
    permission: str = "deal.edit",
    after_commit: Any = None,
) -> Any:
    """Run one deal action; a refusal re-renders the page with the message next to the form's field
    (422), a stale page shows the deal as it is now (409), success redirects back with a flash.
    `after_commit` calls the payment provider once the action's transaction is committed."""
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        if not await queries.deal_exists(session, deal_id):
            abort(404)
    actor.require(permission)
    form = await posted_form()
    version = _id(form.get("version"))
    try:
        async with runtime().db.uow(actor) as uow:
            await action(uow, form, version)
    except NotFound:
        abort(404)
    except Conflict as conflict:
        errors = {form_name: {"__all__": str(conflict)}}
        return await _render_deal(actor, deal_id, errors=errors), 409
    except RuleViolation as violation:
        errors = {form_name: {violation.field or "__all__": str(violation)}}
        return await _render_deal(actor, deal_id, forms={form_name: form}, errors=errors), 422
    if after_commit is not None:
        success = await after_commit(actor) or success
    await flash_message(success, "success")
    return redirect(url_for("deals.deal_page", deal_id=deal_id))


@bp.post("/<int:deal_id>/deposit", endpoint="deposit")
@login_required
async def deposit(deal_id: int) -> Any:
    async def action(uow: Any, form: dict[str, str], version: int | None) -> None:
        await record_deposit(
            uow, deal_id, form.get("amount", ""), form.get("reference", ""), expected_version=version
        )

    return await _act(
        deal_id, "deposit", _("Deposit recorded; the unit stays held for the customer."), action
    )


@bp.post("/<int:deal_id>/card-deposit", endpoint="card_deposit")
@login_required
async def card_deposit(deal_id: int) -> Any:
    """Ask the customer for the deposit by card: our request commits first, then Stripe is asked."""
    requested: list[int] = []

    async def action(uow: Any, form: dict[str, str], version: int | None) -> None:
        requested.append((await request_deal_deposit(uow, deal_id)).id)

    async def send(actor: Actor) -> str:
        payment = await send_payment_request(
            runtime().db, runtime().settings.stripe_api_base, actor.tenant_id, requested[0]
        )
        if payment.status == "REQUESTING":
            return _("Stripe is unavailable; the request is kept and will be retried.")
        if payment.status == "FAILED":
            return _("Stripe refused the request: %(reason)s", reason=payment.failure_message)
        return _("The customer has been asked for the deposit by card.")

    return await _act(deal_id, "card", "", action, after_commit=send)


@bp.post("/<int:deal_id>/unit", endpoint="assign_unit")
@login_required
async def assign_unit_route(deal_id: int) -> Any:
    async def action(uow: Any, form: dict[str, str], version: int | None) -> None:
        unit_id = _id(form.get("unit_id"))
        if unit_id is None:
            raise RuleViolation(_("Choose the car."), field="unit_id")
        await assign_unit(uow, deal_id, unit_id, expected_version=version)

    return await _act(deal_id, "assign", _("The car is assigned to the deal."), action)


@bp.post("/<int:deal_id>/financing", endpoint="financing")
@login_required
async def financing(deal_id: int) -> Any:
    async def action(uow: Any, form: dict[str, str], version: int | None) -> None:
        await approve_financing(uow, deal_id, expected_version=version)

    return await _act(deal_id, "financing", _("Financing approved."), action)


@bp.post("/<int:deal_id>/ready", endpoint="ready")
@login_required
async def ready(deal_id: int) -> Any:
    async def action(uow: Any, form: dict[str, str], version: int | None) -> None:
        await mark_ready_for_delivery(uow, deal_id, expected_version=version)

    return await _act(deal_id, "ready", _("The deal is ready for delivery."), action)


@bp.post("/<int:deal_id>/delivery/schedule", endpoint="schedule")
@login_required
async def schedule(deal_id: int) -> Any:
    async def action(uow: Any, form: dict[str, str], version: int | None) -> None:
        text = form.get("delivery_at", "")
        when = _local_datetime(text)
        if when is None:
            message = (
                _("Enter the day and time of the hand-over.")
                if not text.strip()
                else _("Enter a date and time.")
            )
            raise RuleViolation(message, field="delivery_at")
        await schedule_delivery(uow, deal_id, when, expected_version=version)

    return await _act(deal_id, "schedule", _("Hand-over scheduled."), action)


@bp.post("/<int:deal_id>/delivery/complete", endpoint="deliver")
@login_required
async def deliver(deal_id: int) -> Any:
    async def action(uow: Any, form: dict[str, str], version: int | None) -> None:
        await complete_delivery(uow, deal_id, expected_version=version)

    return await _act(deal_id, "deliver", _("Delivered. The car is in the customer's vehicles now."), action)


@bp.post("/<int:deal_id>/cancel", endpoint="cancel")
@login_required
async def cancel(deal_id: int) -> Any:
    async def action(uow: Any, form: dict[str, str], version: int | None) -> None:
        if form.get("confirm") != "yes":
            raise RuleViolation(_("Tick the box to confirm the cancellation."), field="confirm")
        await cancel_deal(uow, deal_id, form.get("reason", ""), expected_version=version)

    async def refund_by_card(actor: Actor) -> None:
        # After the commit, never inside it: a card deposit's refund goes to Stripe now, or stays
        # pending (and visible) for the worker while Stripe is unavailable.
        await send_pending_refunds(runtime().db, runtime().settings.stripe_api_base, actor.tenant_id, deal_id)

    return await _act(
        deal_id,
        "cancel",
        _("Deal cancelled; the unit is back in stock and the deposit refunded."),
        action,
        permission="deal.cancel",
        after_commit=refund_by_card,
    )
