"""Stripe's webhook endpoint (`POST /hooks/stripe/<tenant slug>`) and the payment settings page."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for

from ops.auth.actor import RuleViolation
from ops.auth.web import csrf_token, current_actor, current_tenant, login_required
from ops.db import utcnow
from ops.i18n import gettext as _
from ops.json_errors import error_body
from ops.pages import flash_message, posted_form, render_page
from ops.payments import queries
from ops.payments.service import WebhookRefused, receive_stripe_webhook, save_stripe_settings
from ops.runtime import runtime

bp = Blueprint("payments", __name__)

SETTINGS_TEMPLATE = "payments/settings.html"


@bp.post("/hooks/stripe/<slug>")
async def stripe_webhook(slug: str) -> Any:
    """Verified on the raw body, stored once, answered 2xx only after the commit (Stripe retries
    anything else, which the stored event id turns into a no-op)."""
    raw_body = await request.get_data(cache=False, as_text=False)
    assert isinstance(raw_body, bytes)
    signature = request.headers.get("Stripe-Signature", "")
    settings = runtime().settings
    try:
        result = await receive_stripe_webhook(
            runtime().db, settings.stripe_api_base, slug, raw_body, signature, utcnow()
        )
    except WebhookRefused as refused:
        return error_body(refused.status, str(refused)), refused.status
    return {"received": True, "event": result.event_id, "duplicate": result.duplicate}, 200


async def _render_settings(form: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> str:
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        stripe = await queries.stripe_settings(session, actor.tenant_id)
    return await render_page(
        SETTINGS_TEMPLATE,
        stripe=stripe,
        webhook_url=url_for("payments.stripe_webhook", slug=current_tenant().slug, _external=True),
        form=form or {},
        errors=errors or {},
        csrf=csrf_token(),
    )


@bp.get("/settings/payments")
@login_required
async def settings_page() -> Any:
    current_actor().require("integration.manage")
    return await _render_settings()


@bp.post("/settings/payments")
@login_required
async def save_settings() -> Any:
    actor = current_actor()
    actor.require("integration.manage")
    form = await posted_form()
    try:
        async with runtime().db.uow(actor) as uow:
            await save_stripe_settings(uow, form.get("secret_key", ""), form.get("webhook_secret", ""))
    except RuleViolation as violation:
        # The secrets typed are not sent back into the page.
        return await _render_settings(errors={violation.field or "secret_key": str(violation)}), 422
    await flash_message(_("Stripe settings saved."), "success")
    return redirect(url_for("payments.settings_page"))
