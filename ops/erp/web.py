"""ERP pages: the sync status line of a deal, invoice or part (loaded into those pages), the parts
page's "pull from the ERP" button, and the integrations status page under settings."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, abort, redirect, url_for

from ops.auth.actor import RuleViolation
from ops.auth.web import current_actor, login_required
from ops.db import utcnow
from ops.erp import queries
from ops.erp.service import request_parts_pull, retry_job
from ops.i18n import format_datetime
from ops.i18n import gettext as _
from ops.pages import flash_message, render_fragment, render_page
from ops.runtime import runtime

bp = Blueprint("erp", __name__)

STATUS_TEMPLATE = "erp/_sync_status.html"
INTEGRATIONS_TEMPLATE = "erp/integrations.html"
# Who may see the sync line of each kind of document: whoever may see the document.
VIEW_PERMISSION = {
    "deal": "deal.view",
    "invoice": "invoice.view",
    "part": "parts.view",
    "purchase_request": "parts.view",
}


@bp.app_context_processor
def erp_template_globals() -> dict[str, Any]:
    """Pages include the sync line only when an ERP is configured (no ERP, no requests for it)."""
    return {"erp_configured": runtime().settings.erp is not None}


@bp.get("/erp/status/<kind>/<int:local_id>")
@login_required
async def sync_status(kind: str, local_id: int) -> Any:
    permission = VIEW_PERMISSION.get(kind)
    if permission is None:
        abort(404)
    actor = current_actor()
    actor.require(permission)
    async with runtime().db.read(actor.tenant_id) as session:
        if not await queries.document_exists(session, kind, local_id):
            abort(404)
        status = await queries.sync_status_for(session, kind, local_id)
    return await render_fragment(
        STATUS_TEMPLATE, "erp_sync", erp_kind=kind, erp_id=local_id, erp_status=status, erp_loaded=True
    )


@bp.post("/workshop/parts/erp-pull")
@login_required
async def pull_parts() -> Any:
    actor = current_actor()
    if runtime().settings.erp is None:
        abort(404)
    async with runtime().db.uow(actor) as uow:
        await request_parts_pull(uow, utcnow())
    await flash_message(_("Stock and prices are being pulled from the ERP; the parts update in a moment."))
    return redirect(url_for("parts.index"), 303)


@bp.get("/settings/integrations")
@login_required
async def integrations() -> Any:
    actor = current_actor()
    actor.require("integration.view")
    settings = runtime().settings
    async with runtime().db.read(actor.tenant_id) as session:
        providers = await queries.integrations_overview(
            session, actor.tenant_id, erp=settings.erp, smtp_configured=settings.smtp_url is not None
        )
        attention = await queries.pushes_needing_attention(session) if settings.erp else []
    return await render_page(
        INTEGRATIONS_TEMPLATE,
        providers=providers,
        attention=attention,
        can_manage=actor.can("integration.manage"),
        format_datetime=format_datetime,
        kind_label=kind_label,
    )


@bp.post("/settings/integrations/erp/<int:job_id>/retry")
@login_required
async def retry(job_id: int) -> Any:
    actor = current_actor()
    async with runtime().db.uow(actor) as uow:
        try:
            await retry_job(uow, job_id, utcnow())
        except RuleViolation as refused:
            await flash_message(str(refused), "error")
            return redirect(url_for("erp.integrations"), 303)
    await flash_message(_("Sent to the ERP again; its status updates in a moment."))
    return redirect(url_for("erp.integrations"), 303)


def kind_label(kind: str) -> str:
    labels = {
        "sales_order": _("Sales order"),
        "invoice": _("Invoice"),
        "purchase_request": _("Purchase request"),
        "pr_cancellation": _("Purchase request cancellation"),
    }
    return labels.get(kind, kind)
