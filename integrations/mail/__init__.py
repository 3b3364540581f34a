"""Sending mail: a small interface and its two implementations (SMTP, and .eml files for the demo)."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Protocol


class MailDeliveryError(Exception):
    """The message was not delivered. `permanent` when trying again cannot help (the server refused
    the recipient or the message for good); otherwise the sender retries later."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Mailer(Protocol):
    async def send(self, message: EmailMessage, key: str) -> None:
        """Deliver `message` or raise MailDeliveryError. `key` names the message stably across
        attempts (the file mailer uses it as the file name)."""
        ...


def create_mailer(smtp_url: str | None, mail_dir: Path) -> Mailer:
    """SMTP when a server is configured; otherwise files, so the embedded demo needs no mail server."""
    if smtp_url:
        from integrations.mail.smtp import SmtpMailer

        return SmtpMailer.from_url(smtp_url)
    from integrations.mail.files import FileMailer

    return FileMailer(mail_dir)
