"""Outgoing mail: queue it in the caller's transaction, deliver it from the worker with retries.

`queue_mail` only adds a row to the caller's unit of work, so a mail goes out if and only if the change
that caused it committed (the outbox of DESIGN §1). `deliver_due_mail` is what the worker runs: it claims
the due rows for a while (SKIP LOCKED, so any number of workers can run), sends them outside any
transaction, and records the outcome. A worker that dies mid-send leaves its claim to expire, and the
mail is sent again then: delivery is at least once, with the same Message-ID so mail programs show it once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select, update

from integrations.mail import MailDeliveryError, Mailer
from ops import i18n
from ops.auth.actor import role_label
from ops.auth.models import User
from ops.db import Database, UnitOfWork
from ops.i18n import gettext as _
from ops.mail.models import OutgoingMail
from ops.tenants.models import Tenant

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent.parent / "templates"
DEFAULT_SENDER = "Pitwall <no-reply@localhost>"
# After a failed attempt n (1-based) the next waits RETRY_DELAYS[n-1], the last delay repeating.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
)
# A mail that could not be delivered within a day of being queued is FAILED: by then the customer has
# been called, and a late estimate would only confuse.
GIVE_UP_AFTER = timedelta(hours=24)
# How long a worker owns the mails it claimed; longer than any SMTP conversation (30 s timeout).
CLAIM_LEASE = timedelta(minutes=10)


def valid_address(address: str | None) -> str | None:
    """The address normalised, or None when it is not one address (no header tricks get through)."""
    if not address:
        return None
    try:
        return validate_email(address.strip(), check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError:
        return None


def queue_mail(
    uow: UnitOfWork,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    language: str = "de",
    work_order_id: int | None = None,
) -> OutgoingMail:
    """Add a mail to the caller's transaction; it is delivered once that transaction commits."""
    recipient = valid_address(to)
    if recipient is None:
        raise ValueError(f"not a mail address: {to!r}")
    mail = OutgoingMail(
        tenant_id=uow.actor.tenant_id,
        recipient=recipient,
        # Headers are one line; a line break in a subject would make the message unsendable.
        subject=" ".join(subject.split())[:300],
        text=text,
        html=html,
        language=language,
        status="QUEUED",
        attempts=0,
        work_order_id=work_order_id,
    )
    uow.session.add(mail)
    return mail


# Mail bodies: the same templates folder and translations as the pages, rendered without a request.
_mail_templates = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_mail_templates.install_gettext_callables(  # type: ignore[attr-defined]
    gettext=i18n.template_gettext, ngettext=i18n.template_ngettext, newstyle=True
)
_mail_templates.globals.update(format_money=i18n.format_money, format_datetime=i18n.format_datetime)


@contextmanager
def written_for(locale: str, timezone: str, currency: str) -> Iterator[None]:
    """Text, dates and money as one reader sees them (a customer, not the signed-in user)."""
    tokens = (
        i18n.current_locale.set(locale),
        i18n.current_timezone.set(timezone),
        i18n.current_currency.set(currency),
    )
    try:
        yield
    finally:
        i18n.current_currency.reset(tokens[2])
        i18n.current_timezone.reset(tokens[1])
        i18n.current_locale.reset(tokens[0])


def render_mail(name: str, **context: Any) -> tuple[str, str]:
    """The plain text and HTML bodies of templates/mail/<name>.txt and .html, in the current locale."""
    text = _mail_templates.get_template(f"mail/{name}.txt").render(**context)
    html = _mail_templates.get_template(f"mail/{name}.html").render(**context)
    return text, html


def sign_in_url(public_url: str | None) -> str | None:
    """Where a welcome mail sends people to sign in; None when the site's address is not configured."""
    return f"{public_url.rstrip('/')}/login" if public_url else None


@dataclass(frozen=True)
class Welcome:
    """What the welcome mail tells a new user."""

    name: str
    email: str
    dealership: str
    role: str
    sign_in_url: str | None
    first_admin: bool


def queue_welcome_mail(
    uow: UnitOfWork, user: User, tenant: Tenant, *, sign_in_url: str | None, first_admin: bool = False
) -> OutgoingMail:
    """Tell a new user how to sign in, in their language. It never holds the password: whoever set
    the password up hands it over, and a mail may be read by others on its way."""
    locale = i18n.locale_for(user.locale or tenant.locale, tenant.country)
    language = i18n.language_of(locale)
    with written_for(locale, tenant.timezone, tenant.currency):
        welcome = Welcome(
            name=user.name,
            email=user.email,
            dealership=tenant.name,
            role=role_label(user.role),
            sign_in_url=sign_in_url,
            first_admin=first_admin,
        )
        subject = _("Your Pitwall account at %(dealership)s", dealership=tenant.name)
        text, html = render_mail("welcome", welcome=welcome, lang=language)
    return queue_mail(uow, user.email, subject, text, html, language=language)


@dataclass(frozen=True)
class PasswordReset:
    """What the mail to a user who forgot their password holds: the link and how long it works."""

    name: str
    email: str
    dealership: str
    url: str
    valid_hours: int


def queue_password_reset_mail(
    uow: UnitOfWork, user: User, tenant: Tenant, *, url: str, valid_for: timedelta
) -> OutgoingMail:
    """Send a user who forgot their password the link to choose a new one, in their language."""
    locale = i18n.locale_for(user.locale or tenant.locale, tenant.country)
    language = i18n.language_of(locale)
    with written_for(locale, tenant.timezone, tenant.currency):
        reset = PasswordReset(
            name=user.name,
            email=user.email,
            dealership=tenant.name,
            url=url,
            valid_hours=max(1, round(valid_for.total_seconds() / 3600)),
        )
        subject = _("Choose a new Pitwall password for %(dealership)s", dealership=tenant.name)
        text, html = render_mail("password_reset", reset=reset, lang=language)
    return queue_mail(uow, user.email, subject, text, html, language=language)


@dataclass(frozen=True)
class ClaimedMail:
    id: int
    tenant_id: int
    tenant_name: str
    recipient: str
    subject: str
    text: str
    html: str | None
    language: str
    attempts: int
    created_at: datetime


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def build_message(mail: ClaimedMail, sender: str) -> EmailMessage:
    """Plain text with an HTML alternative, UTF-8, from the dealership's name at the sender address."""
    _name, address = parseaddr(sender)
    address = address or parseaddr(DEFAULT_SENDER)[1]
    domain = address.rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["From"] = formataddr((mail.tenant_name, address))
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.created_at)
    # Stable across attempts: a mail delivered twice (a worker died after sending) is shown once.
    message["Message-ID"] = f"<pitwall.{mail.tenant_id}.{mail.id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text, charset="utf-8")
    if mail.html:
        message.add_alternative(mail.html, subtype="html", charset="utf-8")
    # After the content: setting the content drops every Content-* header set before.
    message["Content-Language"] = mail.language
    return message


def next_attempt_after(attempts: int) -> timedelta:
    return RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]


async def deliver_due_mail(
    db: Database, mailer: Mailer, now: datetime, *, sender: str = DEFAULT_SENDER, batch: int = 20
) -> DeliveryReport:
    """Send every mail that is due at `now` (up to `batch`) and record how each went."""
    report = DeliveryReport()
    for mail in await _claim_due(db, now, batch):
        try:
            await mailer.send(build_message(mail, sender), key=str(mail.id))
        except MailDeliveryError as error:
            if await _record_failure(db, mail, error, now):
                report.retrying += 1
            else:
                report.failed += 1
            continue
        async with db.system(write=True) as session:
            await session.execute(
                update(OutgoingMail)
                .where(OutgoingMail.id == mail.id)
                .values(status="SENT", sent_at=now, last_error=None)
            )
            await session.commit()
        log.info("mail %d sent to %s (attempt %d)", mail.id, mail.recipient, mail.attempts)
        report.sent += 1
    return report


def _due(now: datetime) -> Any:
    return (OutgoingMail.status == "QUEUED") & (OutgoingMail.next_attempt_at <= now)


async def _claim_due(db: Database, now: datetime, batch: int) -> list[ClaimedMail]:
    # Asked on a reading connection first: most passes find nothing, and on SQLite a writing
    # transaction would take the database's only write lock every second for nothing.
    async with db.system() as session:
        if await session.scalar(select(OutgoingMail.id).where(_due(now)).limit(1)) is None:
            return []
    async with db.system(write=True) as session:
        rows = (
            await session.execute(
                select(OutgoingMail, Tenant.name)
                .join(Tenant, Tenant.id == OutgoingMail.tenant_id)
                .where(_due(now))
                .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
                .limit(batch)
                .with_for_update(skip_locked=True, of=OutgoingMail)
            )
        ).all()
        if not rows:
            return []
        claimed = [
            ClaimedMail(
                id=mail.id,
                tenant_id=mail.tenant_id,
                tenant_name=tenant_name,
                recipient=mail.recipient,
                subject=mail.subject,
                text=mail.text,
                html=mail.html,
                language=mail.language,
                attempts=mail.attempts + 1,
                created_at=mail.created_at,
            )
            for mail, tenant_name in rows
        ]
        await session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id.in_([mail.id for mail, _name in rows]))
            .values(next_attempt_at=now + CLAIM_LEASE, attempts=OutgoingMail.attempts + 1)
        )
        await session.commit()
    return claimed


async def _record_failure(db: Database, mail: ClaimedMail, error: MailDeliveryError, now: datetime) -> bool:
    """Schedule the next attempt, or give up; True when it will be tried again."""
    next_attempt = now + next_attempt_after(mail.attempts)
    retry = not error.permanent and next_attempt - mail.created_at <= GIVE_UP_AFTER
    values: dict[str, Any] = {"last_error": str(error)[:2000]}
    if retry:
        values["next_attempt_at"] = next_attempt
        log.warning(
            "mail %d to %s not delivered (attempt %d), next try at %s: %s",
            mail.id,
            mail.recipient,
            mail.attempts,
            next_attempt.isoformat(),
            error,
        )
    else:
        values["status"] = "FAILED"
        log.error(
            "mail %d to %s failed for good after %d attempts: %s",
            mail.id,
            mail.recipient,
            mail.attempts,
            error,
        )
    async with db.system(write=True) as session:
        await session.execute(update(OutgoingMail).where(OutgoingMail.id == mail.id).values(**values))
        await session.commit()
    return retry
