"""Sending an estimate (staff) and the customer's public page behind the signed link (no sign-in)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart import Blueprint, abort, redirect, request, url_for

from ops.auth.actor import Conflict, NotFound, RuleViolation
from ops.auth.web import current_actor, login_required
from ops.i18n import current_currency, current_locale, current_timezone
from ops.i18n import gettext as _
from ops.pages import flash_message, is_htmx, render_fragment, render_page
from ops.public_links import private_headers, rate_limited, same_origin
from ops.runtime import runtime
from ops.workshop.estimates.queries import Estimate
from ops.workshop.estimates.service import (
    DECISIONS,
    DecisionsMissing,
    EstimateAlreadyDecided,
    EstimateChanged,
    EstimateLinkExpired,
    EstimateLinkInvalid,
    EstimateLinks,
    EstimateSuperseded,
    customer_locale,
    decide_estimate,
    open_estimate,
    send_estimate,
)
from ops.workshop.parts.service import format_quantity

bp = Blueprint("estimates", __name__)

PUBLIC_TEMPLATE = "workshop/estimates/public.html"
UNAVAILABLE_TEMPLATE = "workshop/estimates/unavailable.html"


def _links() -> EstimateLinks:
    settings = runtime().settings
    return EstimateLinks(settings.secret_key, settings.public_url or request.host_url)


@bp.post("/workshop/work-orders/<int:work_order_id>/estimate", endpoint="send")
@login_required
async def send(work_order_id: int) -> Any:
    actor = current_actor()
    form = await request.form
    version = _version_from(form.get("version", ""))
    code = 200
    try:
        async with runtime().db.uow(actor) as uow:
            work_order = await send_estimate(uow, work_order_id, version, links=_links())
        await flash_message(
            _("Estimate for %(number)s sent to the customer.", number=work_order.code), "success"
        )
    except NotFound:
        abort(404)
    except Conflict as conflict:
        code = 409
        await flash_message(str(conflict), "error")
    except RuleViolation as violation:
        code = 422
        await flash_message(str(violation), "error")
    # Either way the work-order page shows what is true now: sent, or why not with the current state.
    target = f"/workshop/work-orders/{work_order_id}"
    if is_htmx():
        return "", code, {"HX-Redirect": target}
    return redirect(target)


def _version_from(value: str) -> int | None:
    try:
        version = int(value)
    except ValueError:
        return None
    return version if version > 0 else None


@bp.route("/estimate/<token>", methods=["GET", "POST"], endpoint="public")
async def public(token: str) -> Any:
    limited = await rate_limited(
        "estimate", UNAVAILABLE_TEMPLATE, _("Too many requests. Please try again in a few minutes.")
    )
    if limited is not None:
        return limited
    if request.method == "POST" and not same_origin():
        abort(403, description=_("This form has expired. Reload the page and try again."))
    links = _links()
    try:
        estimate = await open_estimate(runtime().db, links.read(token))
    except EstimateLinkInvalid:
        return await _unavailable(404, _("This estimate link is not valid. Check that it was copied whole."))
    except EstimateLinkExpired:
        return await _unavailable(
            410, _("This estimate link has expired. Please ask the workshop to send the estimate again.")
        )
    except EstimateSuperseded:
        return await _unavailable(
            410, _("A newer estimate was sent for this work. Please use the link in the latest email.")
        )
    _read_as_customer(estimate)

    if request.method == "GET":
        chosen = _decisions_from(request.args)
        if is_htmx() and request.headers.get("HX-Target") == "estimate-totals":
            return await _render(token, estimate, chosen, block="totals")
        return await _render(token, estimate, chosen)

    form = await request.form
    chosen = _decisions_from(form)
    try:
        await decide_estimate(
            runtime().db, token, chosen, links=links, fingerprint=form.get("fingerprint") or ""
        )
    except DecisionsMissing as missing:
        return await _render(
            token, estimate, chosen, missing=missing.line_ids, message=str(missing), status=422
        )
    except EstimateChanged:
        current = await open_estimate(runtime().db, links.read(token))
        message = _("The workshop changed the estimate while you were reading it. Please check it again.")
        return await _render(token, current, chosen, message=message, status=409)
    except EstimateAlreadyDecided:
        current = await open_estimate(runtime().db, links.read(token))
        return await _render(token, current, {}, message=_("This estimate was already answered."), status=409)
    except (EstimateLinkInvalid, EstimateLinkExpired, EstimateSuperseded):
        # The link stopped counting between the page and the answer (a newer estimate was sent).
        return await _unavailable(
            410, _("A newer estimate was sent for this work. Please use the link in the latest email.")
        )
    # Post, redirect, get: a reload shows the answer instead of sending it again.
    return redirect(url_for("estimates.public", token=token), 303)


def _decisions_from(values: Mapping[str, str]) -> dict[int, str]:
    """The `line-<id>` choices of the form; anything else is ignored."""
    decisions: dict[int, str] = {}
    for key, value in values.items():
        name, _sep, raw_id = key.partition("-")
        if name == "line" and raw_id.isdigit() and len(raw_id) < 19 and value in DECISIONS:
            decisions[int(raw_id)] = value
    return decisions


async def _render(
    token: str,
    estimate: Estimate,
    chosen: dict[int, str],
    *,
    block: str | None = None,
    missing: list[int] | None = None,
    message: str | None = None,
    status: int = 200,
) -> Any:
    all_ids = {line.id for line in estimate.pending_lines}
    context = {
        "estimate": estimate,
        "url": url_for("estimates.public", token=token),
        "quantity": format_quantity,
        "chosen": chosen,
        "missing": set(missing or ()),
        "message": message,
        "totals": estimate.totals_for(
            estimate.approved_ids(chosen) if estimate.is_open else estimate.approved_ids()
        ),
        "everything": estimate.totals_for(all_ids),
    }
    if block is not None:
        body = await render_fragment(PUBLIC_TEMPLATE, block, **context)
    else:
        body = await render_page(PUBLIC_TEMPLATE, **context)
    return body, status, private_headers()


async def _unavailable(code: int, message: str) -> Any:
    body = await render_page(UNAVAILABLE_TEMPLATE, message=message)
    return body, code, private_headers()


def _read_as_customer(estimate: Estimate) -> None:
    """The page is the customer's, in their language, whoever else may be signed in on this browser."""
    current_locale.set(customer_locale(estimate))
    current_timezone.set(estimate.timezone)
    current_currency.set(estimate.currency)
