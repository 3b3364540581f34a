"""Invoice pages: the printable invoice, the same invoice as a PDF download, and the list."""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Blueprint, Response, abort, request

from ops.auth.web import current_actor, login_required
from ops.i18n import format_date, format_number
from ops.pages import render_page
from ops.runtime import runtime
from ops.workshop.invoices import queries
from ops.workshop.invoices.pdf import render_invoice_pdf

bp = Blueprint("invoices", __name__, url_prefix="/workshop/invoices")


@bp.context_processor
def formatters() -> dict[str, Any]:
    return {"format_date": format_date, "format_number": format_number}


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
    actor = current_actor()
    actor.require("invoice.view")
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    async with runtime().db.read(actor.tenant_id) as session:
        listing = await queries.invoice_page(session, number)
    return await render_page("workshop/invoices/list.html", listing=listing)


@bp.get("/<int:invoice_id>")
@login_required
async def invoice(invoice_id: int) -> Any:
    return await render_page("workshop/invoices/invoice.html", invoice=await _document(invoice_id))


@bp.get("/<int:invoice_id>.pdf")
@login_required
async def invoice_pdf(invoice_id: int) -> Any:
    document = await _document(invoice_id)
    # Drawing and subsetting the fonts takes tens of milliseconds: keep the event loop free meanwhile.
    # to_thread copies the context, so the request's locale, timezone and currency go along.
    body = await asyncio.to_thread(render_invoice_pdf, document)
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{document.filename}"'},
    )
