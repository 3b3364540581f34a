"""SMTP delivery with aiosmtplib, configured by one URL.

smtp://user:password@host:587             STARTTLS when the server offers it
smtp://host:587?starttls=1                STARTTLS required (refuse to send in the clear)
smtp://host:25?starttls=0                 never STARTTLS (a local relay)
smtps://user:password@host:465            TLS from the first byte
smtp://host:587?starttls=1&cafile=/etc/pitwall/mail-ca.pem
                                          trust the server's certificate from this CA file
                                          (a relay with a private CA) besides the system's
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from integrations.mail import MailDeliveryError

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


@dataclass(frozen=True)
class SmtpMailer:
    hostname: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    # None: upgrade when the server offers STARTTLS; True: require it; False: never.
    start_tls: bool | None = None
    # A PEM file of certificates to trust for the server's TLS certificate; None: the system's.
    cert_bundle: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpMailer:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("PITWALL_SMTP_URL must look like smtp://user:password@host:port or smtps://...")
        query = parse_qs(parts.query)
        start_tls: bool | None = None
        if "starttls" in query:
            start_tls = query["starttls"][-1].lower() in {"1", "true", "yes", "on"}
        use_tls = parts.scheme == "smtps"
        return cls(
            hostname=parts.hostname,
            port=parts.port or DEFAULT_PORTS[parts.scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=use_tls,
            start_tls=False if use_tls else start_tls,
            cert_bundle=query["cafile"][-1] if "cafile" in query else None,
        )

    async def send(self, message: EmailMessage, key: str) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.hostname,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                start_tls=self.start_tls,
                cert_bundle=self.cert_bundle,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refused.code for refused in error.recipients]
            raise MailDeliveryError(_describe(error), permanent=all(code >= 500 for code in codes)) from error
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as error:
            # The server refused this recipient or this message: 5xx is final, 4xx is "later".
            raise MailDeliveryError(_describe(error), permanent=error.code >= 500) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            # Unreachable, timed out, refused our sign-in or sender: the server or our configuration,
            # not this message; retried until someone fixes it.
            raise MailDeliveryError(_describe(error)) from error


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:1000]
