"""SMTP with TLS and sign-in against a real aiosmtpd server: STARTTLS on 587 and TLS from the first byte
on 465, each requiring AUTH, with a self-signed certificate made at test time by the openssl command (a
machine without it fails these tests, it does not skip them). A wrong password or an untrusted
certificate sends nothing and is retried; a server that cannot STARTTLS gets no mail in the clear when
the URL requires it."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from integrations.mail import MailDeliveryError
from integrations.mail.smtp import SmtpMailer
from tests.conftest import free_port
from tests.mail.smtp import Inbox
from tests.tls import Certificate, self_signed_certificate

USER = "mailer@garage.test"
PASSWORD = "s3cret:with/odd@chars"

pytestmark = [
    # aiosmtpd warns whenever its STARTTLS-only check is off: here for TLS from the first byte, and for
    # the server without TLS that must never see the password.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed_certificate(tmp_path_factory.mktemp("smtp-tls"))


class SignedInInbox(Inbox):
    """Keeps, with each message, whether it came over TLS and who had signed in."""

    def __init__(self) -> None:
        super().__init__()
        self.deliveries: list[tuple[bool, str | None]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data.login.decode() if session.authenticated else None
        # STARTTLS shows in the session; TLS from the first byte only on the connection itself.
        over_tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.deliveries.append((over_tls, login))
        return await super().handle_DATA(server, session, envelope)


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    if isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    ):
        return AuthResult(success=True, auth_data=auth_data)
    return AuthResult(success=False, handled=False)


def _server_context(certificate: Certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate.cert), str(certificate.key))
    return context


@dataclass
class Server:
    port: int
    inbox: SignedInInbox


def _running(**options: Any) -> Iterator[Server]:
    inbox = SignedInInbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=_authenticate, auth_required=True, **options
    )
    controller.start()
    try:
        yield Server(port, inbox)
    finally:
        controller.stop()


@pytest.fixture
def starttls_server(certificate: Certificate) -> Iterator[Server]:
    """Port-587 style: plain at first, STARTTLS required before anything else, then AUTH required."""
    yield from _running(tls_context=_server_context(certificate), require_starttls=True)


@pytest.fixture
def implicit_tls_server(certificate: Certificate) -> Iterator[Server]:
    """Port-465 style: TLS from the first byte, then AUTH required. aiosmtpd counts only STARTTLS as TLS
    for AUTH, so its own check is off here; the deliveries record that the session was TLS all along."""
    yield from _running(ssl_context=_server_context(certificate), auth_require_tls=False)


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Garage <no-reply@garage.test>"
    message["To"] = "anna@example.ch"
    message["Subject"] = "Ihr Fahrzeug ist bereit"
    message.set_content("Grüezi Anna\n")
    return message


def _url(scheme: str, port: int, certificate: Certificate, password: str = PASSWORD, **query: str) -> str:
    """A PITWALL_SMTP_URL as an admin writes it, the user and password percent-encoded."""
    options = "&".join([f"cafile={certificate.cert}", *(f"{key}={value}" for key, value in query.items())])
    return f"{scheme}://{quote(USER, safe='')}:{quote(password, safe='')}@127.0.0.1:{port}?{options}"


async def test_starttls_then_sign_in_then_the_mail(starttls_server: Server, certificate: Certificate):
    mailer = SmtpMailer.from_url(_url("smtp", starttls_server.port, certificate, starttls="1"))

    await mailer.send(_message(), key="1")

    [message] = starttls_server.inbox.messages
    assert message["Subject"] == "Ihr Fahrzeug ist bereit"
    # Over TLS, signed in as the configured user: the password never crossed the wire in the clear.
    assert starttls_server.inbox.deliveries == [(True, USER)]


async def test_starttls_is_used_when_offered_without_being_required(
    starttls_server: Server, certificate: Certificate
):
    mailer = SmtpMailer.from_url(_url("smtp", starttls_server.port, certificate))

    await mailer.send(_message(), key="1")

    assert starttls_server.inbox.deliveries == [(True, USER)]


async def test_tls_from_the_first_byte_then_sign_in(implicit_tls_server: Server, certificate: Certificate):
    mailer = SmtpMailer.from_url(_url("smtps", implicit_tls_server.port, certificate))

    await mailer.send(_message(), key="1")

    assert implicit_tls_server.inbox.deliveries == [(True, USER)]


async def test_a_wrong_password_sends_nothing_and_is_retried(
    starttls_server: Server, certificate: Certificate
):
    mailer = SmtpMailer.from_url(_url("smtp", starttls_server.port, certificate, password="wrong"))

    with pytest.raises(MailDeliveryError) as refused:
        await mailer.send(_message(), key="1")

    # Our configuration, not this mail: it is tried again once someone fixes the password.
    assert not refused.value.permanent
    assert "535" in str(refused.value)
    assert starttls_server.inbox.messages == []


async def test_a_certificate_nobody_vouches_for_is_refused(starttls_server: Server):
    untrusting = SmtpMailer(
        hostname="127.0.0.1", port=starttls_server.port, username=USER, password=PASSWORD, start_tls=True
    )

    with pytest.raises(MailDeliveryError) as refused:
        await untrusting.send(_message(), key="1")

    assert "certificate" in str(refused.value).lower()
    assert starttls_server.inbox.messages == []


async def test_required_starttls_sends_nothing_in_the_clear_to_a_server_without_it(certificate: Certificate):
    for server in _running(auth_require_tls=False):
        mailer = SmtpMailer.from_url(_url("smtp", server.port, certificate, starttls="1"))

        with pytest.raises(MailDeliveryError):
            await mailer.send(_message(), key="1")

        assert server.inbox.messages == []


def test_the_ca_file_comes_from_the_url():
    mailer = SmtpMailer.from_url("smtp://mail.garage.ch:587?starttls=1&cafile=/etc/pitwall/mail-ca.pem")
    assert (mailer.start_tls, mailer.cert_bundle) == (True, "/etc/pitwall/mail-ca.pem")
    assert SmtpMailer.from_url("smtp://mail.garage.ch").cert_bundle is None
