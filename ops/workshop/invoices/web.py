"""Invoice pages: the printable invoice with its payment (status, card payment through Stripe, a payment
recorded at the desk), the same invoice as a PDF download, and the list.

The invoice is the customer's document: the invoice itself (on the page, printed, and the PDF) is in the
customer's language whoever opens it; the page around it, with the payment desk, is in the reader's.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from markupsafe import Markup
from quart import Blueprint, Response, abort, redirect, render_template, url_for

from ops.auth.actor import Conflict, NotFound, RuleViolation
from ops.auth.web import csrf_token, current_actor, current_tenant, login_required
from ops.db import utcnow
from ops.i18n import current_locale, format_date, format_number
from ops.i18n import gettext as _
from ops.list_filters import choice_filter, page_number
from ops.mail.service import written_for
from ops.pages import flash_message, is_htmx, posted_form, render_fragment, render_page
from ops.payments import queries as payment_queries
from ops.payments.models import MANUAL_METHODS
from ops.payments.service import (
    method_label,
    record_manual_invoice_payment,
    request_invoice_payment,
    send_payment_request,
)
from ops.runtime import runtime
from ops.workshop.invoices import queries
from ops.workshop.invoices.pdf import render_invoice_pdf
from ops.workshop.kpis.queries import period_for

bp = Blueprint("invoices", __name__, url_prefix="/workshop/invoices")

INVOICE_TEMPLATE = "workshop/invoices/invoice.html"
DOCUMENT_TEMPLATE = "workshop/invoices/_document.html"


@bp.context_processor
def formatters() -> dict[str, Any]:
    return {"format_date": format_date, "format_number": format_number}


def _today() -> datetime:
    """The start of the dealership's day: an invoice due before it is overdue."""
    return period_for("today", utcnow(), current_tenant().timezone).start


async def _document(invoice_id: int) -> queries.InvoiceDocument:
    actor = current_actor()
    actor.require("invoice.view")
    async with runtime().db.read(actor.tenant_id) as session:
        invoice = await queries.invoice_document(session, invoice_id)
    if invoice is None:
        abort(404)
    return invoice


@bp.get("")
@login_required
async def invoice_list() -> Any:
    """All invoices, or those still open or overdue (`?payment=`), with what is owed."""
    actor = current_actor()
    actor.require("invoice.view")
    payment = choice_filter("payment", queries.PAYMENT_FILTERS)
    async with runtime().db.read(actor.tenant_id) as session:
        listing = await queries.invoice_page(session, page_number(), _today(), payment)
    return await render_page("workshop/invoices/list.html", listing=listing)


async def _render_invoice(
    invoice_id: int,
    *,
    block: str | None = None,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> str:
    actor = current_actor()
    # The live position is taken before the read, so nothing committed in between is missed.
    live_id = runtime().hub.current_id()
    document = await _document(invoice_id)
    async with runtime().db.read(actor.tenant_id) as session:
        payment = await payment_queries.invoice_payment(session, invoice_id)
        stripe_ready = await payment_queries.stripe_configured(session, actor.tenant_id)
    if payment is None:
        raise NotFound(invoice_id)
    can_pay = actor.can("invoice.pay") and payment.status == "ISSUED"
    context = {
        "invoice": document,
        "payment": payment,
        "payment_state": queries.payment_state(payment.status, document.due_at, _today()),
        "can_pay": can_pay,
        "can_request_card": can_pay and stripe_ready and not payment.has_open_card_payment,
        "manual_methods": MANUAL_METHODS,
        "method_label": method_label,
        "payment_status_text": payment_queries.payment_status_text,
        "refund_status_text": payment_queries.refund_status_text,
        "form": form or {},
        "errors": errors or {},
        "csrf": csrf_token(),
        "live_id": live_id,
    }
    if block is not None:
        return await render_fragment(INVOICE_TEMPLATE, block, **context)
    return await render_page(
        INVOICE_TEMPLATE, customers_copy=await _customers_copy(document, payment), **context
    )


async def _customers_copy(document: queries.InvoiceDocument, payment: Any) -> Markup:
    """The invoice as the customer reads it (and gets it printed): in their language and formats."""
    with written_for(queries.customer_locale(document), document.timezone, document.currency):
        html = await render_template(
            DOCUMENT_TEMPLATE,
            invoice=document,
            payment=payment,
            method_label=method_label,
            lang=current_locale.get().replace("_", "-"),
        )
    # Rendered by Jinja with autoescaping: the values in it are escaped already.
    return Markup(html)


@bp.get("/<int:invoice_id>")
@login_required
async def invoice(invoice_id: int) -> Any:
    if is_htmx():
        # The payment section re-fetching itself after a live signal.
        return await _render_invoice(invoice_id, block="invoice_payment")
    return await _render_invoice(invoice_id)


async def _pay(invoice_id: int, action: Any) -> Any:
    """Run one payment action: a refusal re-renders the page with the message (422, or 409 when the
    invoice was paid meanwhile), success redirects back with a flash."""
    actor = current_actor()
    await _document(invoice_id)
    actor.require("invoice.pay")
    form = await posted_form()
    try:
        message = await action(actor, form)
    except NotFound:
        abort(404)
    except Conflict as conflict:
        return await _render_invoice(invoice_id, errors={"__all__": str(conflict)}), 409
    except RuleViolation as violation:
        errors = {violation.field or "__all__": str(violation)}
        return await _render_invoice(invoice_id, form=form, errors=errors), 422
    await flash_message(message, "success")
    return redirect(url_for("invoices.invoice", invoice_id=invoice_id))


@bp.post("/<int:invoice_id>/card-payment")
@login_required
async def card_payment(invoice_id: int) -> Any:
    """Ask the customer to pay by card: our request commits first, then Stripe is asked."""

    async def action(actor: Any, form: dict[str, str]) -> str:
        async with runtime().db.uow(actor) as uow:
            payment = await request_invoice_payment(uow, invoice_id)
        sent = await send_payment_request(
            runtime().db, runtime().settings.stripe_api_base, actor.tenant_id, payment.id
        )
        if sent.status == "REQUESTING":
            return _("Stripe is unavailable; the request is kept and will be retried.")
        if sent.status == "FAILED":
            return _("Stripe refused the request: %(reason)s", reason=sent.failure_message)
        return _("The customer has been asked to pay by card.")

    return await _pay(invoice_id, action)


@bp.post("/<int:invoice_id>/payment")
@login_required
async def manual_payment(invoice_id: int) -> Any:
    """Cash at the desk or a bank transfer that arrived, with its receipt or transfer reference."""

    async def action(actor: Any, form: dict[str, str]) -> str:
        async with runtime().db.uow(actor) as uow:
            await record_manual_invoice_payment(
                uow, invoice_id, form.get("method", ""), form.get("reference", "")
            )
        return _("Payment recorded; the invoice is paid.")

    return await _pay(invoice_id, action)


@bp.get("/<int:invoice_id>.pdf")
@login_required
async def invoice_pdf(invoice_id: int) -> Any:
    document = await _document(invoice_id)
    # Drawing and subsetting the fonts takes tens of milliseconds: keep the event loop free meanwhile.
    # The PDF sets the customer's locale itself, in the thread's copy of the request's context.
    body = await asyncio.to_thread(render_invoice_pdf, document)
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{document.filename}"'},
    )
