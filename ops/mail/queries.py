"""Read models of the outgoing mail: the dealership's queue page by page, one mail with what was sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.mail.models import MAIL_STATUSES, OutgoingMail
from ops.paging import Page

PAGE_SIZE = 25


@dataclass(frozen=True)
class MailRow:
    id: int
    created_at: datetime
    recipient: str
    subject: str
    language: str
    status: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    file_name: str | None


@dataclass(frozen=True)
class MailList:
    rows: list[MailRow]
    page: Page
    counts: dict[str, int]


def eml_path(mail_dir: Path, mail_id: int) -> Path:
    """Where the file mailer wrote this mail (integrations/mail/files.py names files by the mail's id)."""
    return mail_dir / f"{mail_id}.eml"


async def mail_list(
    session: AsyncSession, status: str, page_number: int, mail_dir: Path | None, size: int = PAGE_SIZE
) -> MailList:
    """The newest mail first, `status` one of MAIL_STATUSES or "" for all; `mail_dir` when mail is
    written to files, to show which mails have theirs."""
    counted = await session.execute(select(OutgoingMail.status, func.count()).group_by(OutgoingMail.status))
    counts = {name: 0 for name in MAIL_STATUSES} | {name: int(number) for name, number in counted}
    total = sum(counts.values()) if not status else counts.get(status, 0)
    page = Page.of(page_number, total, size)
    query = select(OutgoingMail).order_by(OutgoingMail.id.desc()).offset(page.offset).limit(size)
    if status:
        query = query.where(OutgoingMail.status == status)
    rows = [_row(mail, mail_dir) for mail in (await session.scalars(query)).all()]
    return MailList(rows, page, counts)


def _row(mail: OutgoingMail, mail_dir: Path | None) -> MailRow:
    file_name = None
    if mail_dir is not None and eml_path(mail_dir, mail.id).is_file():
        file_name = eml_path(mail_dir, mail.id).name
    return MailRow(
        id=mail.id,
        created_at=mail.created_at,
        recipient=mail.recipient,
        subject=mail.subject,
        language=mail.language,
        status=mail.status,
        attempts=mail.attempts,
        next_attempt_at=mail.next_attempt_at,
        sent_at=mail.sent_at,
        last_error=mail.last_error,
        file_name=file_name,
    )


@dataclass(frozen=True)
class MailView:
    """One mail: its queue row, and its bodies from the .eml file when one was written (what actually
    went out, headers included), else as queued."""

    row: MailRow
    sender: str | None
    date: str | None
    text: str
    html: str | None


async def mail_view(session: AsyncSession, mail_id: int, mail_dir: Path | None) -> MailView | None:
    mail = await session.scalar(select(OutgoingMail).where(OutgoingMail.id == mail_id))
    if mail is None:
        return None
    row = _row(mail, mail_dir)
    if mail_dir is not None and row.file_name is not None:
        message = read_eml(eml_path(mail_dir, mail.id))
        if message is not None:
            return MailView(
                row=row,
                sender=str(message["From"] or ""),
                date=str(message["Date"] or ""),
                text=_part(message, "plain") or "",
                html=_part(message, "html"),
            )
    return MailView(row=row, sender=None, date=None, text=mail.text, html=mail.html)


def eml_bytes(mail_dir: Path, mail_id: int) -> bytes | None:
    """The .eml file as written, or None when there is none (removed by hand meanwhile)."""
    try:
        return eml_path(mail_dir, mail_id).read_bytes()
    except OSError:
        return None


def read_eml(path: Path) -> EmailMessage | None:
    """The message in an .eml file, or None when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    message = message_from_bytes(data, policy=policy.default)
    return message if isinstance(message, EmailMessage) else None


def _part(message: EmailMessage, subtype: str) -> str | None:
    body = message.get_body(preferencelist=(subtype,))
    if body is None:
        return None
    content = body.get_content()
    return content if isinstance(content, str) else None
