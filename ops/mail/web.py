"""The outgoing mail page for admins: the queue with each mail's status, attempts and last error, and
each mail as it was sent. Without SMTP (the embedded default) mails are .eml files under
<data_dir>/mail, listed here and shown with their text, their HTML in a sandboxed frame, and the file.

A mail's HTML is shown only from its own route, with a policy that forbids scripts, requests and forms
and lets only this site frame it: a mail that carries hostile markup cannot act as the admin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quart import Blueprint, abort, request

from ops.auth.web import current_actor, login_required
from ops.i18n import gettext as _
from ops.list_filters import page_number
from ops.mail import queries
from ops.mail.models import MAIL_STATUSES
from ops.pages import render_page
from ops.runtime import runtime

bp = Blueprint("mail_admin", __name__, url_prefix="/settings/mail")

# The mail's own document: no scripts, no requests out (a tracking pixel stays dark), no forms, framed
# only by this site, and sandboxed even when opened on its own.
HTML_PART_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'; sandbox"
)


def status_label(status: str) -> str:
    labels = {"QUEUED": _("Queued"), "SENT": _("Sent"), "FAILED": _("Failed")}
    return labels.get(status, status)


def _mail_dir() -> Path | None:
    """Where mail is written when no SMTP server is configured; None when mail goes out by SMTP."""
    settings = runtime().settings
    return None if settings.smtp_url else settings.data_dir / "mail"


@bp.get("")
@login_required
async def index() -> Any:
    actor = current_actor()
    actor.require("mail.view")
    status = request.args.get("status", "")
    if status not in MAIL_STATUSES:
        status = ""
    mail_dir = _mail_dir()
    async with runtime().db.read(actor.tenant_id) as session:
        listing = await queries.mail_list(session, status, page_number(), mail_dir)
    return await render_page(
        "mail_admin/index.html",
        listing=listing,
        status=status,
        statuses=MAIL_STATUSES,
        status_label=status_label,
        mail_dir=mail_dir,
    )


async def _view(mail_id: int) -> queries.MailView:
    actor = current_actor()
    actor.require("mail.view")
    async with runtime().db.read(actor.tenant_id) as session:
        view = await queries.mail_view(session, mail_id, _mail_dir())
    if view is None:
        abort(404)
    return view


@bp.get("/<int:mail_id>")
@login_required
async def mail(mail_id: int) -> Any:
    view = await _view(mail_id)
    return await render_page(
        "mail_admin/mail.html", view=view, status_label=status_label, written=view.sender is not None
    )


@bp.get("/<int:mail_id>/html")
@login_required
async def html_part(mail_id: int) -> Any:
    view = await _view(mail_id)
    if view.html is None:
        abort(404)
    return (
        view.html,
        200,
        {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": HTML_PART_POLICY,
            # Shown in the mail page's sandboxed frame: older browsers read this, not frame-ancestors.
            "X-Frame-Options": "SAMEORIGIN",
            "Cache-Control": "no-store",
        },
    )


@bp.get("/<int:mail_id>/file")
@login_required
async def eml_file(mail_id: int) -> Any:
    """The .eml file as written, for a mail program."""
    view = await _view(mail_id)
    mail_dir = _mail_dir()
    if mail_dir is None or view.row.file_name is None:
        abort(404)
    data = queries.eml_bytes(mail_dir, mail_id)
    if data is None:
        abort(404)
    return (
        data,
        200,
        {
            "Content-Type": "message/rfc822",
            "Content-Disposition": f'attachment; filename="{view.row.file_name}"',
            "Cache-Control": "no-store",
        },
    )
