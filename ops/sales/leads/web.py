"""Leads: the pipeline board (/sales/board), capturing a lead, the lead page, editing, moving.

How a move answers (POST /sales/leads/<id>/move, with CSRF and the version the person saw):
- an htmx post from the board gets the board's live-update fragment: the card where it really is now,
  every column count, the announcement, and on refusal a toast (409 stale, 422 refused), so a refused
  card goes back to its column;
- an htmx post from the lead page gets `HX-Redirect` to that page with the flash;
- a plain form post (no JavaScript) redirects back with a flash: to the lead page when sent from there,
  else to the board with its filters. A LOST move without a reason goes to the lead page, whose
  "Mark as lost" form asks for it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from quart import Blueprint, abort, current_app, redirect, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.routing import BuildError

from ops.auth.actor import Conflict, NotFound, RuleViolation
from ops.auth.web import csrf_token, current_actor, current_tenant, login_required
from ops.customers import queries as customer_queries
from ops.customers.service import customer_topic
from ops.db import UnitOfWork, utcnow
from ops.events import EventRecord
from ops.i18n import gettext as _
from ops.i18n import tenant_today
from ops.notices import user_topic
from ops.pages import flash_message, is_htmx, render_fragment, render_page
from ops.runtime import runtime
from ops.sales.leads import queries
from ops.sales.leads.live import (
    announcement_for,
    board_text,
    displays,
    render_board_update,
    render_cards,
)
from ops.sales.leads.queries import BoardFilter
from ops.sales.leads.service import (
    BOARD_STAGES,
    LEAD_SOURCES,
    LOST_REASONS,
    OPEN_STAGES,
    SALES_ROLES,
    InvalidLead,
    LeadData,
    allowed_moves,
    create_lead,
    move_lead,
    score_reason_text,
    score_rules_text,
    score_weights,
    touch_lead_contact,
    update_lead,
)
from ops.sales.models import Lead
from ops.sales.stock.service import drive_status_label
from realtime.hub import View

bp = Blueprint("leads", __name__, url_prefix="/sales")

BOARD_PATH = "/sales/board"
FORM_TEMPLATE = "sales/leads/form.html"
LEAD_TEMPLATE = "sales/leads/lead.html"
BOARD_TEMPLATE = "sales/leads/board.html"


def path_for(endpoint: str, **values: Any) -> str | None:
    """The path of another area's route, or None while no blueprint serves it: the lead page links to
    quotes, test drives and holds only once their pages exist."""
    if endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _id(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and 0 < int(value) < 2**63 else None


def _version_from(value: str | None) -> int | None:
    """The version the browser saw; None when missing or garbled (the service says so)."""
    try:
        version = int(value or "")
    except ValueError:
        return None
    return version if version > 0 else None


async def _form() -> dict[str, str]:
    form = dict((await request.form).items())
    form.pop("csrf_token", None)
    return form


# --- The board ------------------------------------------------------------------------------------------


def _board_filter(args: MultiDict[str, str]) -> BoardFilter:
    """The board's filter from its URL; a value that is not one of the choices is ignored."""
    actor = current_actor()
    source = args.get("source", "")
    return BoardFilter(
        owner_id=actor.user_id if args.get("owner") == "mine" else None,
        source=source if source in LEAD_SOURCES else None,
    )


def _filter_args(board_filter: BoardFilter) -> dict[str, Any]:
    """The filter as URL parameters, so a reload, a bookmark or a live reset keeps it."""
    args: dict[str, Any] = {}
    if board_filter.owner_id is not None:
        args["owner"] = "mine"
    if board_filter.source:
        args["source"] = board_filter.source
    return args


@bp.get("/board")
@login_required
async def board() -> Any:
    actor = current_actor()
    actor.require("lead.view")
    board_filter = _board_filter(request.args)
    expand = request.args.get("expand", "")
    expand = expand if expand in BOARD_STAGES else ""
    # Take the live position before reading the board, so nothing committed in between is missed.
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        shown = await queries.board(
            session,
            utcnow(),
            board_filter,
            expand=expand or None,
            weights=score_weights(current_tenant().lead_score_weights),
        )
    can_move, csrf = actor.can("lead.edit"), csrf_token()
    env = current_app.jinja_env
    context = {
        "stages": BOARD_STAGES,
        "columns": shown.columns,
        "column_html": {
            stage: render_cards(env, cards, can_move=can_move, csrf=csrf)
            for stage, cards in shown.columns.items()
        },
        "counts": shown.counts,
        "text": board_text(),
        "can_move": can_move,
        "csrf": csrf,
        "live_id": live_id,
        "board_filter": board_filter,
        "filter_args": _filter_args(board_filter),
        "sources": LEAD_SOURCES,
        "lost_reasons": LOST_REASONS,
        "me": actor.user_id,
        "expand": expand,
    }
    if is_htmx():
        return await render_fragment(BOARD_TEMPLATE, "board", **context)
    return await render_page(BOARD_TEMPLATE, **context)


@bp.get("/board/counts")
@login_required
async def board_counts() -> Any:
    """A filtered board's column heads with its own counts, re-read on every live update: the update
    carries everyone's counts, and a filtered column shows only its newest cards, so the browser can
    count neither. A plain GET goes to the board."""
    actor = current_actor()
    actor.require("lead.view")
    board_filter = _board_filter(request.args)
    if not is_htmx():
        return redirect(url_for("leads.board", **_filter_args(board_filter)))
    async with runtime().db.read(actor.tenant_id) as session:
        counts = await queries.column_counts(session, utcnow(), board_filter)
    return await render_fragment(
        BOARD_TEMPLATE, "column_heads", stages=BOARD_STAGES, counts=counts, text=board_text()
    )


# --- Capturing and editing a lead -----------------------------------------------------------------------


async def _customer_picker(search: str, chosen: str) -> dict[str, Any]:
    actor = current_actor()
    search = search.strip()[:100]
    async with runtime().db.read(actor.tenant_id) as session:
        selected = None
        chosen_id = _id(chosen)
        if chosen_id is not None:
            selected = await queries.customer_choice(session, chosen_id)
        found: list[queries.Choice] = []
        more = False
        if search:
            result = await customer_queries.search_customers(session, search)
            found = [
                queries.Choice(
                    row.id,
                    row.company_name or row.name,
                    detail=" · ".join(part for part in (row.email, row.phone, row.city) if part),
                )
                for row in result.rows
                if not row.erased and (selected is None or row.id != selected.id)
            ]
            more = result.page.total > len(result.rows)
    return {"search": search, "customers": found, "more": more, "selected": selected}


async def _render_form(
    form: dict[str, Any],
    errors: dict[str, str],
    *,
    lead: Lead | None = None,
    search: str = "",
    message: str | None = None,
) -> str:
    actor = current_actor()
    picker = await _customer_picker(search, str(form.get("customer_id") or ""))
    async with runtime().db.read(actor.tenant_id) as session:
        choices = await queries.form_choices(session, keep_unit_id=lead.interest_unit_id if lead else None)
    text = board_text()
    return await render_page(
        FORM_TEMPLATE,
        form=form,
        errors=errors,
        lead=lead,
        choices=choices,
        sources=[(source, text.sources[source]) for source in LEAD_SOURCES],
        new_customer_url=path_for("customers.new_customer"),
        message=message,
        **picker,
    )


@bp.get("/leads/new")
@login_required
async def new_lead() -> Any:
    actor = current_actor()
    actor.require("lead.edit")
    form = {
        "customer_id": request.args.get("customer_id", ""),
        "owner_id": str(actor.user_id) if actor.role in SALES_ROLES and actor.user_id else "",
        "source": "WALK_IN",
    }
    return await _render_form(form, {}, search=request.args.get("q", ""))


@bp.get("/leads/customers")
@login_required
async def customer_search() -> Any:
    """The customer picker's results as the rep types; a plain GET goes to the form with them."""
    actor = current_actor()
    actor.require("lead.edit")
    search = request.args.get("q", "")
    if not is_htmx():
        return redirect(url_for("leads.new_lead", q=search))
    context = await _customer_picker(search, request.args.get("customer_id", ""))
    return await render_fragment(FORM_TEMPLATE, "customer_results", errors={}, **context)


@bp.post("/leads", endpoint="create")
@login_required
async def create() -> Any:
    actor = current_actor()
    actor.require("lead.edit")
    form = await _form()
    try:
        async with runtime().db.uow(actor) as uow:
            lead = await create_lead(uow, LeadData.from_mapping(form))
    except InvalidLead as invalid:
        return await _render_form(form, invalid.errors, search=form.get("q", "")), 422
    await flash_message(_("Lead captured."), "success")
    return redirect(url_for("leads.lead_page", lead_id=lead.id))


def _form_of(lead: Lead) -> dict[str, Any]:
    return {
        "customer_id": str(lead.customer_id),
        "interest_trim_id": str(lead.interest_trim_id or ""),
        "interest_unit_id": str(lead.interest_unit_id or ""),
        "interest_note": lead.interest_note,
        "source": lead.source,
        "budget": str(lead.budget) if lead.budget is not None else "",
        "owner_id": str(lead.owner_id or ""),
        "trade_in_offered": "1" if lead.trade_in_offered else "",
        "financing_preapproved": "1" if lead.financing_preapproved else "",
        "next_action": lead.next_action,
        "next_action_on": lead.next_action_on.isoformat() if lead.next_action_on else "",
        "version": str(lead.version),
    }


async def _lead_or_404(lead_id: int) -> Lead:
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        lead = await queries.lead(session, lead_id)
    if lead is None:
        abort(404)
    return lead


@bp.get("/leads/<int:lead_id>/edit")
@login_required
async def edit(lead_id: int) -> Any:
    lead = await _lead_or_404(lead_id)
    current_actor().require("lead.edit")
    return await _render_form(_form_of(lead), {}, lead=lead)


@bp.post("/leads/<int:lead_id>/edit", endpoint="update")
@login_required
async def update(lead_id: int) -> Any:
    lead = await _lead_or_404(lead_id)
    actor = current_actor()
    actor.require("lead.edit")
    form = await _form()
    try:
        async with runtime().db.uow(actor) as uow:
            await update_lead(uow, lead_id, LeadData.from_mapping(form), _version_from(form.get("version")))
    except NotFound:
        abort(404)
    except Conflict:
        # The form now shows the lead as it is; what the person typed is not written over it.
        current = await _lead_or_404(lead_id)
        message = _("Someone else changed this lead while you were editing. This is the lead as it is now.")
        return await _render_form(_form_of(current), {}, lead=current, message=message), 409
    except InvalidLead as invalid:
        return await _render_form(form, invalid.errors, lead=lead), 422
    except RuleViolation as violation:
        return await _render_form(form, {violation.field or "__all__": str(violation)}, lead=lead), 422
    await flash_message(_("Lead saved."), "success")
    return redirect(url_for("leads.lead_page", lead_id=lead_id))


# --- The lead page --------------------------------------------------------------------------------------


@bp.get("/leads/<int:lead_id>", endpoint="lead_page")
@login_required
async def lead_page(lead_id: int) -> Any:
    actor = current_actor()
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        detail = await queries.lead_detail(session, lead_id, utcnow())
    if detail is None:
        abort(404)
    actor.require("lead.view")
    card = detail.card
    text = board_text()
    # Everything the page shows (the lead, its quotes, test drives and holds) is recorded on the
    # customer's topic, so the page wakes up on it and re-reads itself.
    live_topics = [customer_topic(detail.lead.customer_id)]
    if actor.user_id is not None:
        live_topics.append(user_topic(actor.user_id))
    render = (
        functools.partial(render_fragment, LEAD_TEMPLATE, "lead_live")
        if is_htmx() and request.headers.get("HX-Target") == "lead-live"
        else functools.partial(render_page, LEAD_TEMPLATE)
    )
    return await render(
        live_id=live_id,
        live_topics=live_topics,
        detail=detail,
        lead=detail.lead,
        card=card,
        display=displays([card])[0],
        text=text,
        reasons=[(reason.points, score_reason_text(reason)) for reason in card.score.reasons],
        rules=score_rules_text(detail.weights),
        moves=[stage for stage in allowed_moves(card.stage) if stage != "LOST"],
        can_lose="LOST" in allowed_moves(card.stage),
        can_edit=actor.can("lead.edit"),
        lost_reasons=LOST_REASONS,
        open_stages=OPEN_STAGES,
        today=tenant_today(),
        path_for=path_for,
        quote_labels=_quote_labels(),
        hold_labels=_hold_labels(),
        drive_status_label=drive_status_label,
    )


def _quote_labels() -> dict[str, str]:
    return {
        "DRAFT": _("Draft"),
        "PENDING_APPROVAL": _("Waiting for approval"),
        "APPROVED": _("Approved"),
        "REJECTED": _("Rejected"),
        "SENT": _("Sent"),
        "ACCEPTED": _("Accepted"),
        "DECLINED": _("Declined"),
        "EXPIRED": _("Expired"),
    }


def _hold_labels() -> dict[str, str]:
    return {
        "ACTIVE": _("Holding"),
        "EXPIRED": _("Expired"),
        "RELEASED": _("Released"),
        "CONVERTED": _("Became a deal"),
    }


# --- Changing a lead ------------------------------------------------------------------------------------


@bp.post("/leads/<int:lead_id>/move")
@login_required
async def move(lead_id: int) -> Any:
    form = await request.form
    stage = form.get("stage", "")
    if stage == "LOST" and not form.get("lost_reason") and not is_htmx():
        await _lead_or_404(lead_id)
        current_actor().require("lead.edit")
        await flash_message(_("Choose why the lead was lost."), "error")
        return redirect(url_for("leads.lead_page", lead_id=lead_id, _anchor="lost"), 303)
    stage_name = board_text().stages.get(stage, stage)
    return await _change(
        lead_id,
        lambda uow, version: move_lead(
            uow, lead_id, stage, version, form.get("lost_reason") or None, form.get("lost_note", "")
        ),
        _("Moved to %(stage)s.", stage=stage_name),
    )


@bp.post("/leads/<int:lead_id>/contacted")
@login_required
async def contacted(lead_id: int) -> Any:
    return await _change(lead_id, lambda uow, _version: touch_lead_contact(uow, lead_id), _("Contact noted."))


Change = Callable[[UnitOfWork, int | None], Awaitable[Lead]]


async def _change(lead_id: int, change: Change, success: str) -> Any:
    """Run one change with the version the person saw and answer as the module docstring says."""
    actor = current_actor()
    version = _version_from((await request.form).get("version"))
    try:
        async with runtime().db.uow(actor) as uow:
            await change(uow, version)
    except NotFound:
        abort(404)
    except Conflict as conflict:
        return await _answer(lead_id, 409, str(conflict))
    except RuleViolation as violation:
        return await _answer(lead_id, 422, str(violation), field=violation.field)
    # The same sentence the live update announces, so the mover's screen reader says it once.
    return await _answer(lead_id, 200, success, announcement=await _announcement(uow.committed))


async def _announcement(records: list[EventRecord]) -> str:
    moved = next((record for record in records if record.type == "lead.moved"), None)
    if moved is None:
        return ""
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        cards = await queries.cards_by_id(session, [int(moved.payload["id"])], utcnow())
    return announcement_for(moved, cards.get(int(moved.payload["id"])))


async def _answer(
    lead_id: int, code: int, message: str, announcement: str = "", field: str | None = None
) -> Any:
    failed = code != 200
    page = url_for("leads.lead_page", lead_id=lead_id)
    if is_htmx() and not _sent_from(request.headers.get("HX-Current-URL", ""), page):
        return await _board_answer(lead_id, message if failed else None, announcement, field), code
    await flash_message(message, "error" if failed else "success")
    if is_htmx():
        return "", code, {"HX-Redirect": page}
    return redirect(_back_to(lead_id), 303)


async def _board_answer(
    lead_id: int, message: str | None, announcement: str, field: str | None = None
) -> str:
    """The card where it really is now: moved, or back where it was with the reason. The reason names
    the field it is about (`field`), so that a board dialog can show it next to that field instead."""
    actor = current_actor()
    now = utcnow()
    async with runtime().db.read(actor.tenant_id) as session:
        if not await queries.lead_exists(session, lead_id):
            abort(404)
        card = (await queries.cards_by_id(session, [lead_id], now)).get(lead_id)
        counts = await queries.column_counts(session, now)
    return await render_board_update(
        current_app.jinja_env,
        lead_id=lead_id,
        card=card,
        counts=counts,
        view=View.for_actor(actor),
        announcement=message or announcement,
        message=message,
        message_field=field,
    )


def _sent_from(url: str, path: str) -> bool:
    return urlsplit(url).path.rstrip("/") == path


def _back_to(lead_id: int) -> str:
    """Where a plain form post returns: the lead page or the board (with its filters) when it came
    from there, else the board. Only these paths, so the Referer cannot send anyone elsewhere."""
    referer = urlsplit(request.headers.get("Referer", ""))
    page = url_for("leads.lead_page", lead_id=lead_id)
    if referer.path.rstrip("/") == page:
        return page
    if referer.path == BOARD_PATH and referer.query:
        return f"{BOARD_PATH}?{referer.query}"
    return BOARD_PATH
