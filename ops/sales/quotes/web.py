"""Quote pages: the configurator, a new quote from a lead, the quote with its figures and actions, the
terms form, the quote list, the managers' approvals queue, and the customer's page behind the signed link
(no sign-in)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from quart import Blueprint, abort, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from ops.auth.actor import Conflict, NotFound, RuleViolation
from ops.auth.web import csrf_token, current_actor, current_tenant, login_required
from ops.i18n import current_currency, current_locale, current_timezone, format_date, format_number
from ops.i18n import gettext as _
from ops.list_filters import page_number
from ops.notices import user_topic
from ops.pages import flash_message, is_htmx, render_fragment, render_page
from ops.public_links import LinkExpired, LinkInvalid, private_headers, rate_limited, same_origin
from ops.runtime import runtime
from ops.sales.models import QUOTE_STATUSES
from ops.sales.quotes import queries
from ops.sales.quotes.configurator import validate_configuration
from ops.sales.quotes.pricing import QuotePrice, approval_reasons, price_quote
from ops.sales.quotes.queries import Catalog, PublicQuote
from ops.sales.quotes.service import (
    ANSWERED,
    DECISIONS,
    EDITABLE,
    MAX_ROWS,
    SENDABLE,
    QuoteAlreadyAnswered,
    QuoteExpired,
    QuoteInvalid,
    QuoteLinks,
    QuoteSuperseded,
    QuoteTerms,
    answer_quote,
    create_quote,
    customer_locale,
    decide_approval,
    long_date,
    open_quote,
    preview_terms,
    quote_status_label,
    quote_topic,
    reason_text,
    request_approval,
    send_quote,
    update_quote,
)
from ops.sales.stock.service import unit_status_label

bp = Blueprint("quotes", __name__)

CONFIGURE_TEMPLATE = "sales/quotes/configure.html"
NEW_TEMPLATE = "sales/quotes/new.html"
LIST_TEMPLATE = "sales/quotes/list.html"
QUOTE_TEMPLATE = "sales/quotes/quote.html"
EDIT_TEMPLATE = "sales/quotes/edit.html"
APPROVALS_TEMPLATE = "sales/quotes/approvals.html"
PUBLIC_TEMPLATE = "sales/quotes/public.html"
UNAVAILABLE_TEMPLATE = "sales/quotes/unavailable.html"

LABELS = {
    "quote_status_label": quote_status_label,
    "unit_status_label": unit_status_label,
    "reason_text": reason_text,
    "format_number": format_number,
    "format_date": format_date,
}


def _links() -> QuoteLinks:
    settings = runtime().settings
    return QuoteLinks(settings.secret_key, settings.public_url or request.host_url)


def _id(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and 0 < int(value) < 2**63 else None


def _after(target: str, code: int = 200) -> Any:
    """Where an action sends the browser: htmx follows HX-Redirect, a plain form a redirect."""
    if is_htmx():
        return "", code, {"HX-Redirect": target}
    return redirect(target)


# --- The configurator -----------------------------------------------------------------------------


def configured_price(found: Catalog, codes: list[str], vat_rate: Decimal, currency: str) -> QuotePrice:
    chosen = found.chosen(codes)
    return price_quote(
        vehicle_price=found.trim.msrp,
        options=[(option.name, option.price) for option in chosen],
        accessories=[],
        fees=[],
        discount=Decimal(0),
        trade_in_allowance=Decimal(0),
        trade_in_payoff=Decimal(0),
        vat_rate_percent=vat_rate,
        currency=currency,
        down_payment=Decimal(0),
        apr_percent=None,
        term_months=None,
        vehicle_cost=None,
        options_cost=Decimal(0),
        vehicle_name=found.trim.label,
    )


async def _configurator(
    trim_id: int,
    codes: list[str],
    *,
    lead_id: int | None,
    quote_id: int | None,
    status: int = 200,
    submitted: bool = False,
) -> Any:
    """The configurator page (or its live summary). A group that still lacks a choice is guidance
    ("Choose at least 1 in Paint") while the rep is choosing, and an error only once they tried to build
    the quote (`submitted`); a choice that breaks a rule (too many, a missing or conflicting option) is
    an error at once. Either way `create_quote` refuses an invalid configuration."""
    actor = current_actor()
    actor.require("quote.view")
    tenant = current_tenant()
    async with runtime().db.read(actor.tenant_id) as session:
        found = await queries.catalog(session, trim_id)
        if found is None:
            abort(404)
        lead = await queries.lead_for_quote(session, lead_id) if lead_id is not None else None
        quote = None
        if quote_id is not None:
            detail = await queries.quote_detail(session, quote_id)
            if detail is None or detail.quote.trim_id != trim_id:
                abort(404)
            quote = detail.quote
            if lead is None:
                lead = await queries.lead_for_quote(session, quote.lead_id)
    if lead_id is not None and lead is None:
        abort(404)
    violations = validate_configuration(found.groups, found.options, codes)
    to_choose = [] if submitted else [violation for violation in violations if violation.rule == "min"]
    errors = [violation for violation in violations if violation not in to_choose]
    by_group: dict[int, list[str]] = {}
    for violation in errors:
        if violation.group_id is not None:
            by_group.setdefault(violation.group_id, []).append(violation.message)
    context = {
        "catalog": found,
        "chosen": set(codes),
        "violations": errors,
        "to_choose": to_choose,
        "by_group": by_group,
        "submitted": submitted,
        "price": configured_price(found, codes, tenant.vat_rate, tenant.currency),
        "lead": lead[0] if lead else None,
        "customer": lead[1] if lead else None,
        "quote": quote,
        "can_edit": actor.can("quote.edit"),
        "csrf": csrf_token(),
        **LABELS,
    }
    if is_htmx() and request.headers.get("HX-Target") == "configurator-summary":
        return await render_fragment(CONFIGURE_TEMPLATE, "summary", is_fragment=True, **context), status
    return await render_page(CONFIGURE_TEMPLATE, **context), status


def _chosen_options(values: MultiDict[str, str]) -> list[str]:
    """The configurator's choices: each one-choice group's radios are named `option-<group id>` (radios
    sharing a name are one choice for the whole form, so picking wheels unpicked the paint), the other
    groups' checkboxes `option`."""
    return [
        code
        for name in values
        if name == "option" or name.startswith("option-")
        for code in values.getlist(name)
        if code
    ]


@bp.get("/sales/configure/<int:trim_id>", endpoint="configure")
@login_required
async def configure(trim_id: int) -> Any:
    codes = _chosen_options(request.args)
    return await _configurator(
        trim_id,
        codes,
        lead_id=_id(request.args.get("lead_id")),
        quote_id=_id(request.args.get("quote_id")),
        # The live check after a refused build (the page then carries `submitted`).
        submitted=request.args.get("submitted") == "1",
    )


# --- A new quote ----------------------------------------------------------------------------------


@bp.get("/sales/quotes/new", endpoint="new_quote")
@login_required
async def new_quote() -> Any:
    return await _new_quote_page(_id(request.args.get("lead_id")))


async def _new_quote_page(lead_id: int | None, *, error: str | None = None, status: int = 200) -> Any:
    actor = current_actor()
    actor.require("quote.edit")
    if lead_id is None:
        abort(404)
    async with runtime().db.read(actor.tenant_id) as session:
        found = await queries.lead_for_quote(session, lead_id)
        if found is None:
            abort(404)
        units = await queries.quotable_units(session)
        trims = await queries.trims(session)
    lead, customer = found
    # The lead's own interest first, the unit or else one of the model it came for, then what is free to
    # sell: the first is the one the form offers, and a unit held for someone else is not the default.
    units.sort(
        key=lambda unit: (
            unit.id != lead.interest_unit_id,
            unit.trim_id != lead.interest_trim_id,
            unit.status != "AVAILABLE",
        )
    )
    trims.sort(key=lambda trim: trim.id != lead.interest_trim_id)
    body = await render_page(
        NEW_TEMPLATE,
        lead=lead,
        customer=customer,
        units=units,
        trims=trims,
        error=error,
        csrf=csrf_token(),
        **LABELS,
    )
    return body, status


@bp.post("/sales/quotes", endpoint="create")
@login_required
async def create() -> Any:
    actor = current_actor()
    form = await request.form
    lead_id = _id(form.get("lead_id"))
    unit_id = _id(form.get("stock_unit_id"))
    trim_id = _id(form.get("trim_id"))
    codes = _chosen_options(form)
    if lead_id is None:
        if trim_id is not None:
            return await _configurator(
                trim_id, codes, lead_id=None, quote_id=None, status=422, submitted=True
            )
        abort(404)
    try:
        async with runtime().db.uow(actor) as uow:
            quote = await create_quote(
                uow, lead_id, stock_unit_id=unit_id, trim_id=trim_id, option_codes=codes
            )
    except NotFound:
        abort(404)
    except QuoteInvalid:
        assert trim_id is not None
        return await _configurator(trim_id, codes, lead_id=lead_id, quote_id=None, status=422, submitted=True)
    except RuleViolation as violation:
        return await _new_quote_page(lead_id, error=str(violation), status=422)
    await flash_message(_("%(number)s created. Add the terms and send it.", number=quote.code), "success")
    return redirect(url_for("quotes.edit", quote_id=quote.id))


@bp.post("/sales/quotes/<int:quote_id>/options", endpoint="options")
@login_required
async def options(quote_id: int) -> Any:
    """The configurator's answer for an existing quote: its options change, its terms stay."""
    actor = current_actor()
    form = await request.form
    codes = _chosen_options(form)
    version = _id(form.get("version"))
    async with runtime().db.read(actor.tenant_id) as session:
        detail = await queries.quote_detail(session, quote_id)
    if detail is None or detail.quote.trim_id is None:
        abort(404)
    quote, trim_id = detail.quote, detail.quote.trim_id
    try:
        async with runtime().db.uow(actor) as uow:
            await update_quote(uow, quote_id, _terms_of(quote), version, option_codes=codes)
    except NotFound:
        abort(404)
    except QuoteInvalid:
        return await _configurator(
            trim_id, codes, lead_id=None, quote_id=quote_id, status=422, submitted=True
        )
    except Conflict as conflict:
        await flash_message(str(conflict), "error")
        return redirect(url_for("quotes.quote_page", quote_id=quote_id)), 303
    except RuleViolation as violation:
        await flash_message(str(violation), "error")
        return redirect(url_for("quotes.quote_page", quote_id=quote_id)), 303
    await flash_message(_("Options of %(number)s changed.", number=quote.code), "success")
    return redirect(url_for("quotes.quote_page", quote_id=quote_id))


def _plain_number(value: Decimal) -> str:
    """3.900 as 3.9, 4.000 as 4: how a person types a rate."""
    return format(value.normalize(), "f")


def _terms_of(quote: Any) -> QuoteTerms:
    """A stored quote's terms as the form would send them (to change only its options)."""
    return QuoteTerms(
        accessories=[(row["name"], str(row["price"])) for row in quote.accessories or []],
        fees=[(row["name"], str(row["price"])) for row in quote.fees or []],
        discount=str(quote.discount),
        trade_in_allowance=str(quote.trade_in_allowance),
        trade_in_payoff=str(quote.trade_in_payoff),
        down_payment=str(quote.down_payment),
        apr_percent="" if quote.apr_percent is None else _plain_number(quote.apr_percent),
        term_months="" if quote.term_months is None else str(quote.term_months),
        vehicle_cost=_cost_text(quote),
    )


def _cost_text(quote: Any) -> str | None:
    """The configured vehicle's cost as the form shows it: empty while unknown, never a made-up 0.00."""
    if quote.stock_unit_id is not None:
        return None
    return "" if quote.vehicle_cost is None else str(quote.vehicle_cost)


# --- The quote list -------------------------------------------------------------------------------


@bp.get("/sales/quotes", endpoint="index")
@login_required
async def index() -> Any:
    actor = current_actor()
    actor.require("quote.view")
    status = request.args.get("status", "")
    status = status if status in QUOTE_STATUSES else ""
    async with runtime().db.read(actor.tenant_id) as session:
        listing = await queries.quote_list(session, status=status, page=page_number())
    return await render_page(LIST_TEMPLATE, listing=listing, status=status, statuses=QUOTE_STATUSES, **LABELS)


# --- One quote ------------------------------------------------------------------------------------


@bp.get("/sales/quotes/<int:quote_id>", endpoint="quote_page")
@login_required
async def quote_page(quote_id: int) -> Any:
    actor = current_actor()
    actor.require("quote.view")
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        detail = await queries.quote_detail(session, quote_id)
    if detail is None:
        abort(404)
    quote = detail.quote
    live_topics = [quote_topic(quote.id)]
    if actor.user_id is not None:
        live_topics.append(user_topic(actor.user_id))
    context = {
        "detail": detail,
        "quote": quote,
        "price": detail.price,
        "can_edit": actor.can("quote.edit"),
        "can_approve": actor.can("quote.approve"),
        "can_see_margin": actor.can("quote.edit") or actor.can("quote.approve"),
        "editable": quote.status in EDITABLE,
        "sendable": quote.status in SENDABLE
        and detail.price.cost_known
        and not (quote.status == "DRAFT" and detail.needs_approval),
        "live_id": live_id,
        "live_topics": live_topics,
        "csrf": csrf_token(),
        **LABELS,
    }
    if is_htmx() and request.headers.get("HX-Target") == "quote-live":
        return await render_fragment(QUOTE_TEMPLATE, "quote_live", **context)
    return await render_page(QUOTE_TEMPLATE, **context)


async def _action(quote_id: int, run: Any, success: str) -> Any:
    """Run one action on the quote and go back to its page, saying how it went (or why not)."""
    actor = current_actor()
    code = 200
    try:
        async with runtime().db.uow(actor) as uow:
            quote = await run(uow)
        await flash_message(success % {"number": quote.code}, "success")
    except NotFound:
        abort(404)
    except Conflict as conflict:
        code = 409
        await flash_message(str(conflict), "error")
    except RuleViolation as violation:
        code = 422
        await flash_message(str(violation), "error")
    # Either way the quote's page shows what is true now.
    target = url_for("quotes.quote_page", quote_id=quote_id)
    if is_htmx():
        return "", code, {"HX-Redirect": target}
    return redirect(target, 303)


@bp.post("/sales/quotes/<int:quote_id>/approval", endpoint="request_approval")
@login_required
async def ask_approval(quote_id: int) -> Any:
    version = _id((await request.form).get("version"))
    return await _action(
        quote_id,
        lambda uow: request_approval(uow, quote_id, version),
        _("%(number)s is waiting for a sales manager's approval."),
    )


@bp.post("/sales/quotes/<int:quote_id>/send", endpoint="send")
@login_required
async def send(quote_id: int) -> Any:
    version = _id((await request.form).get("version"))
    links = _links()
    return await _action(
        quote_id,
        lambda uow: send_quote(uow, quote_id, version, links=links),
        _("%(number)s was sent to the customer."),
    )


@bp.post("/sales/quotes/<int:quote_id>/decision", endpoint="decide")
@login_required
async def decide(quote_id: int) -> Any:
    """A manager's decision, from the queue (answered with the queue) or from the quote's page."""
    actor = current_actor()
    form = await request.form
    decision = form.get("decision", "")
    comment = form.get("comment", "")
    version = _id(form.get("version"))
    from_queue = form.get("from") == "queue"
    errors: dict[int, dict[str, str]] = {}
    status = 200
    try:
        async with runtime().db.uow(actor) as uow:
            quote = await decide_approval(
                uow, quote_id, decision if decision in DECISIONS else "", comment, version
            )
        if not from_queue:
            # The queue says so itself: the quote leaves it, and the live update announces it.
            message = (
                _("%(number)s approved.", number=quote.code)
                if quote.status == "APPROVED"
                else _("%(number)s rejected.", number=quote.code)
            )
            await flash_message(message, "success")
    except NotFound:
        abort(404)
    except QuoteInvalid as invalid:
        status = 422
        errors[quote_id] = invalid.errors
        if not from_queue:
            await flash_message(str(invalid), "error")
    except (Conflict, RuleViolation) as refusal:
        # Another manager was quicker, or the rep withdrew it: the queue shows what is true now.
        status = 409 if isinstance(refusal, Conflict) else 422
        if not from_queue:
            await flash_message(str(refusal), "error")
    if from_queue:
        return await _approvals_page(
            errors=errors, comments={quote_id: comment} if errors else {}, status=status
        )
    target = url_for("quotes.quote_page", quote_id=quote_id)
    if is_htmx():
        return "", status, {"HX-Redirect": target}
    return redirect(target, 303)


# --- The terms form -------------------------------------------------------------------------------


def _form_rows(form: Mapping[str, str], prefix: str) -> list[tuple[str, str]]:
    rows = []
    for index in range(MAX_ROWS + 5):
        name, price = form.get(f"{prefix}-{index}-name"), form.get(f"{prefix}-{index}-price")
        if name is None and price is None:
            continue
        rows.append((name or "", price or ""))
    return rows


def _terms_from(form: Mapping[str, str], *, configured: bool) -> QuoteTerms:
    return QuoteTerms(
        accessories=_form_rows(form, "accessory"),
        fees=_form_rows(form, "fee"),
        discount=form.get("discount", ""),
        trade_in_allowance=form.get("trade_in_allowance", ""),
        trade_in_payoff=form.get("trade_in_payoff", ""),
        down_payment=form.get("down_payment", ""),
        apr_percent=form.get("apr_percent", ""),
        term_months=form.get("term_months", ""),
        vehicle_cost=form.get("vehicle_cost", "") if configured else None,
    )


def _shown_rows(rows: list[tuple[str, str]], extra: int = 1) -> list[tuple[str, str]]:
    """The rows the form shows: those typed (or stored), then `extra` empty ones to add to."""
    kept = [row for row in rows if row[0].strip() or row[1].strip()]
    return (kept + [("", "")] * extra)[:MAX_ROWS]


async def _edit_page(
    quote_id: int,
    terms: QuoteTerms | None = None,
    *,
    errors: dict[str, str] | None = None,
    unchecked: tuple[str, ...] = (),
    message: str | None = None,
    extra_rows: dict[str, int] | None = None,
    status: int = 200,
) -> Any:
    actor = current_actor()
    actor.require("quote.edit")
    async with runtime().db.read(actor.tenant_id) as session:
        detail = await queries.quote_detail(session, quote_id)
    if detail is None:
        abort(404)
    quote = detail.quote
    if quote.status not in EDITABLE:
        await flash_message(
            _(
                "%(number)s is %(status)s and can no longer be changed.",
                number=quote.code,
                status=quote_status_label(quote.status),
            ),
            "error",
        )
        return redirect(url_for("quotes.quote_page", quote_id=quote_id))
    terms = terms or _terms_of(quote)
    extra_rows = extra_rows or {}
    body = await render_page(
        EDIT_TEMPLATE,
        detail=detail,
        quote=quote,
        price=detail.price,
        terms=terms,
        accessories=_shown_rows(terms.accessories, 1 + extra_rows.get("accessory", 0)),
        fees=_shown_rows(terms.fees, 1 + extra_rows.get("fee", 0)),
        configured=quote.trim_id is not None,
        reasons=detail.reasons_now,
        errors=errors or {},
        unchecked=unchecked,
        message=message,
        csrf=csrf_token(),
        **LABELS,
    )
    return body, status


@bp.get("/sales/quotes/<int:quote_id>/edit", endpoint="edit")
@login_required
async def edit(quote_id: int) -> Any:
    return await _edit_page(quote_id)


@bp.post("/sales/quotes/<int:quote_id>/edit", endpoint="update")
@login_required
async def update(quote_id: int) -> Any:
    actor = current_actor()
    form = await request.form
    async with runtime().db.read(actor.tenant_id) as session:
        detail = await queries.quote_detail(session, quote_id)
    if detail is None:
        abort(404)
    terms = _terms_from(form, configured=detail.quote.trim_id is not None)
    adding = form.get("add", "")
    if adding in ("accessory", "fee"):
        # Another empty row to fill in; nothing is saved yet.
        return await _edit_page(quote_id, terms, extra_rows={adding: 1})
    try:
        async with runtime().db.uow(actor) as uow:
            quote = await update_quote(uow, quote_id, terms, _id(form.get("version")))
    except NotFound:
        abort(404)
    except QuoteInvalid as invalid:
        return await _edit_page(
            quote_id, terms, errors=invalid.errors, unchecked=invalid.unchecked, status=422
        )
    except Conflict as conflict:
        # The form shows the quote as it is now, with what was typed kept to try again.
        return await _edit_page(quote_id, terms, message=str(conflict), status=409)
    except RuleViolation as violation:
        return await _edit_page(quote_id, terms, message=str(violation), status=422)
    await flash_message(_("%(number)s saved.", number=quote.code), "success")
    return redirect(url_for("quotes.quote_page", quote_id=quote_id), 303)


@bp.post("/sales/quotes/<int:quote_id>/preview", endpoint="preview")
@login_required
async def preview(quote_id: int) -> Any:
    """The figures of the terms being typed, priced but not saved (the form's live summary)."""
    actor = current_actor()
    actor.require("quote.edit")
    tenant = current_tenant()
    form = await request.form
    async with runtime().db.read(actor.tenant_id) as session:
        detail = await queries.quote_detail(session, quote_id)
        if detail is None:
            abort(404)
        options = await queries.options_for(session, detail.quote)
    terms = _terms_from(form, configured=detail.quote.trim_id is not None)
    # The fields still wrong, and those not checked: the form clears the marks of the others, so a
    # field put right after a refused Save is no longer marked (static/js/app.js "terms form").
    invalid: list[str] = []
    unchecked: tuple[str, ...] = ()
    try:
        price = preview_terms(detail.quote, terms, options, tenant.currency, tenant.vat_rate, detail.vehicle)
        incomplete = False
    except QuoteInvalid as refused:
        # Half-typed: the last figures that could be priced stay, marked as not current.
        price, incomplete = detail.price, True
        invalid, unchecked = sorted(refused.errors), refused.unchecked
    reasons = approval_reasons(price, detail.discount_limit, detail.margin_floor)
    return await render_fragment(
        EDIT_TEMPLATE,
        "preview",
        detail=detail,
        price=price,
        incomplete=incomplete,
        reasons=reasons,
        invalid=invalid,
        unchecked=unchecked,
        **LABELS,
    )


# --- The approvals queue --------------------------------------------------------------------------


async def _approvals_page(
    *,
    errors: dict[int, dict[str, str]] | None = None,
    comments: dict[int, str] | None = None,
    status: int = 200,
) -> Any:
    actor = current_actor()
    actor.require("quote.approve")
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        queue = await queries.approval_queue(session)
    context = {
        "queue": queue,
        "errors": errors or {},
        "comments": comments or {},
        "live_id": live_id,
        "csrf": csrf_token(),
        **LABELS,
    }
    if is_htmx():
        return await render_fragment(APPROVALS_TEMPLATE, "queue", **context), status
    return await render_page(APPROVALS_TEMPLATE, **context), status


@bp.get("/sales/approvals", endpoint="approvals")
@login_required
async def approvals() -> Any:
    return await _approvals_page()


# --- The customer's page --------------------------------------------------------------------------


def _read_as_customer(quote: PublicQuote) -> str:
    """The page is the customer's, in their language, whoever else may be signed in on this browser."""
    locale = customer_locale(quote)
    current_locale.set(locale)
    current_timezone.set(quote.timezone)
    current_currency.set(quote.currency)
    return locale


async def _unavailable(code: int, message: str) -> Any:
    body = await render_page(UNAVAILABLE_TEMPLATE, message=message)
    return body, code, private_headers()


@bp.route("/quote/<token>", methods=["GET", "POST"], endpoint="public")
async def public(token: str) -> Any:
    limited = await rate_limited(
        "quote", UNAVAILABLE_TEMPLATE, _("Too many requests. Please try again in a few minutes.")
    )
    if limited is not None:
        return limited
    if request.method == "POST" and not same_origin():
        abort(403, description=_("This form has expired. Reload the page and try again."))
    links = _links()
    try:
        link = links.read(token)
        shown = await open_quote(runtime().db, link)
    except LinkInvalid:
        return await _unavailable(404, _("This offer link is not valid. Check that it was copied whole."))
    except (LinkExpired, QuoteExpired):
        return await _unavailable(410, _("This offer has expired. Please ask the dealership for a new one."))
    except QuoteSuperseded:
        return await _unavailable(
            410, _("This offer was changed or sent again. Please use the link in the latest email.")
        )
    locale = _read_as_customer(shown)

    if request.method == "GET":
        return await _public_page(token, shown, locale)
    answer = (await request.form).get("answer", "")
    if answer not in ANSWERED:
        return await _public_page(token, shown, locale, message=_("Choose accept or decline."), status=422)
    try:
        await answer_quote(runtime().db, token, answer, links=links)
    except QuoteAlreadyAnswered:
        current = await open_quote(runtime().db, link)
        return await _public_page(
            token, current, locale, message=_("This offer was already answered."), status=409
        )
    except (QuoteExpired, LinkExpired):
        return await _unavailable(410, _("This offer has expired. Please ask the dealership for a new one."))
    except (QuoteSuperseded, LinkInvalid):
        return await _unavailable(
            410, _("This offer was changed or sent again. Please use the link in the latest email.")
        )
    # Post, redirect, get: a reload shows the answer instead of sending it again.
    return redirect(url_for("quotes.public", token=token), 303)


async def _public_page(
    token: str, shown: PublicQuote, locale: str, *, message: str | None = None, status: int = 200
) -> Any:
    body = await render_page(
        PUBLIC_TEMPLATE,
        quote=shown,
        price=shown.price,
        url=url_for("quotes.public", token=token),
        valid_until=long_date(shown.valid_until, locale) if shown.valid_until else "",
        message=message,
        **LABELS,
    )
    return body, status, private_headers()
