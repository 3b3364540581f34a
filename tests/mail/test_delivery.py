"""Mail: queued in the sender's transaction, delivered by the worker to a real SMTP server (aiosmtpd),
retried with backoff while the server is away, given up after a day, written as .eml files without SMTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from integrations.mail import create_mailer
from integrations.mail.files import FileMailer
from integrations.mail.smtp import SmtpMailer
from ops.config import load_settings
from ops.db import utcnow
from ops.mail.models import OutgoingMail
from ops.mail.service import GIVE_UP_AFTER, RETRY_DELAYS, deliver_due_mail, queue_mail
from ops.worker import run_worker
from tests.conftest import free_port
from tests.mail.smtp import SmtpServer, text_of


async def _queue(shop, to="anna@example.ch", subject="Ihr Kostenvoranschlag für den Škoda", **extra):  # type: ignore[no-untyped-def]
    async with shop.db.uow(shop.admin.actor) as uow:
        mail = queue_mail(
            uow, to, subject, "Grüezi Anna\n\nDer Link: https://x.test/e/1\n", "<p>Grüezi Anna</p>", **extra
        )
        await uow.commit()
    return mail


async def _deliver_all(db, mailer, now, **options) -> None:  # type: ignore[no-untyped-def]
    """Passes until nothing due is left: other tests' queued mail shares the database, a batch a pass."""
    while True:
        report = await deliver_due_mail(db, mailer, now, **options)
        if not (report.sent or report.retrying or report.failed):
            return


def _ours(smtp_server: SmtpServer, shop) -> list[EmailMessage]:  # type: ignore[no-untyped-def]
    """The messages this test's dealership sent to customers: other tests' queued mail shares the
    database, and provisioning welcomed the dealership's admin."""
    return [
        m
        for m in smtp_server.inbox.messages
        if m["From"].addresses[0].display_name == shop.tenant.name and m["To"] != shop.admin.email
    ]


def _to_customers(shop):  # type: ignore[no-untyped-def]
    """The dealership's queued mail other than the admin's welcome."""
    return OutgoingMail.recipient != shop.admin.email


async def _stored(db, mail_id: int) -> OutgoingMail:  # type: ignore[no-untyped-def]
    async with db.system() as session:
        return (await session.execute(select(OutgoingMail).where(OutgoingMail.id == mail_id))).scalar_one()


async def test_a_queued_mail_reaches_the_smtp_server_as_text_with_an_html_alternative(
    factory, runtime, smtp_server: SmtpServer
):
    shop = await factory.tenant()
    mail = await _queue(shop, language="de")
    now = utcnow()

    await _deliver_all(
        runtime.db, SmtpMailer.from_url(smtp_server.url), now, sender="Pitwall <no-reply@pitwall.test>"
    )

    [message] = _ours(smtp_server, shop)
    assert message["Subject"] == "Ihr Kostenvoranschlag für den Škoda"
    assert message["To"] == "anna@example.ch"
    # The customer sees their dealership as the sender, at the configured address.
    assert message["From"].addresses[0].display_name == shop.tenant.name
    assert message["From"].addresses[0].addr_spec == "no-reply@pitwall.test"
    assert message["Content-Language"] == "de"
    assert message.get_content_type() == "multipart/alternative"
    assert "Grüezi Anna" in text_of(message, "plain")
    assert "<p>Grüezi Anna</p>" in text_of(message, "html")
    assert ("no-reply@pitwall.test", ["anna@example.ch"]) in smtp_server.inbox.envelopes
    stored = await _stored(runtime.db, mail.id)
    assert (stored.status, stored.attempts, stored.sent_at, stored.last_error) == ("SENT", 1, now, None)

    # Sent once: the next pass finds nothing due.
    await _deliver_all(runtime.db, SmtpMailer.from_url(smtp_server.url), now + timedelta(hours=1))
    assert len(_ours(smtp_server, shop)) == 1


async def test_a_mail_of_a_change_that_rolled_back_is_never_sent(factory, runtime, smtp_server: SmtpServer):
    shop = await factory.tenant()
    async with shop.db.uow(shop.admin.actor) as uow:
        queue_mail(uow, "anna@example.ch", "Never", "This change failed.")
        await uow.session.flush()
        # The use case fails after queueing: the unit of work rolls back without committing.

    await _deliver_all(runtime.db, SmtpMailer.from_url(smtp_server.url), utcnow())

    async with runtime.db.read(shop.id) as session:
        assert (
            await session.scalar(select(func.count()).select_from(OutgoingMail).where(_to_customers(shop)))
            == 0
        )
    assert _ours(smtp_server, shop) == []


async def test_while_the_server_is_down_the_mail_waits_and_goes_out_once_it_is_back(
    factory, runtime, smtp_server: SmtpServer
):
    shop = await factory.tenant()
    mail = await _queue(shop)
    mailer = SmtpMailer.from_url(smtp_server.url)
    smtp_server.stop()
    now = utcnow()

    await _deliver_all(runtime.db, mailer, now)

    stored = await _stored(runtime.db, mail.id)
    assert (stored.status, stored.attempts) == ("QUEUED", 1)
    assert stored.next_attempt_at == now + RETRY_DELAYS[0]
    assert stored.last_error and "SMTP" in stored.last_error

    # Not due yet: nobody hammers the server in the meantime.
    smtp_server.start()
    await _deliver_all(runtime.db, mailer, now + timedelta(seconds=30))
    assert _ours(smtp_server, shop) == []

    later = now + RETRY_DELAYS[0]
    await _deliver_all(runtime.db, mailer, later)
    [message] = _ours(smtp_server, shop)
    assert message["Subject"] == "Ihr Kostenvoranschlag für den Škoda"
    stored = await _stored(runtime.db, mail.id)
    assert (stored.status, stored.attempts, stored.sent_at, stored.last_error) == ("SENT", 2, later, None)


async def test_retries_back_off_and_give_up_after_a_day_keeping_the_last_error(factory, runtime):
    shop = await factory.tenant()
    mail = await _queue(shop)
    stored = await _stored(runtime.db, mail.id)
    # Nothing listens on this port: every attempt is refused.
    nowhere = SmtpMailer(hostname="127.0.0.1", port=free_port(), timeout=5)

    now = stored.created_at
    delays = []
    while stored.status == "QUEUED":
        await _deliver_all(runtime.db, nowhere, now)
        stored = await _stored(runtime.db, mail.id)
        if stored.status == "QUEUED":
            delays.append(stored.next_attempt_at - now)
            now = stored.next_attempt_at

    assert delays[:4] == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(hours=1),
    ]
    assert delays == sorted(delays)
    assert stored.status == "FAILED"
    assert stored.attempts == len(delays) + 1
    assert now - stored.created_at <= GIVE_UP_AFTER
    assert stored.last_error and "onnect" in stored.last_error
    # A failed mail is not tried again.
    await _deliver_all(runtime.db, nowhere, now + timedelta(days=2))
    assert (await _stored(runtime.db, mail.id)).attempts == len(delays) + 1


async def test_a_recipient_the_server_refuses_for_good_fails_at_once(
    factory, runtime, smtp_server: SmtpServer
):
    shop = await factory.tenant()
    smtp_server.inbox.refused.add("gone@example.ch")
    mail = await _queue(shop, to="gone@example.ch")

    await _deliver_all(runtime.db, SmtpMailer.from_url(smtp_server.url), utcnow())

    stored = await _stored(runtime.db, mail.id)
    assert (stored.status, stored.attempts) == ("FAILED", 1)
    assert stored.last_error and "550" in stored.last_error


async def test_two_workers_at_once_send_every_mail_exactly_once(factory, runtime, smtp_server: SmtpServer):
    shop = await factory.tenant()
    for number in range(12):
        await _queue(shop, to=f"customer{number}@example.ch", subject=f"Mail {number}")
    mailer = SmtpMailer.from_url(smtp_server.url)
    now = utcnow()

    reports = await asyncio.gather(
        deliver_due_mail(runtime.db, mailer, now, batch=5),
        deliver_due_mail(runtime.db, mailer, now, batch=5),
        deliver_due_mail(runtime.db, mailer, now, batch=5),
    )
    while (await deliver_due_mail(runtime.db, mailer, now, batch=5)).sent:
        pass

    subjects = sorted(str(message["Subject"]) for message in _ours(smtp_server, shop))
    assert subjects == sorted(f"Mail {number}" for number in range(12))
    assert all(report.sent <= 5 for report in reports)
    async with runtime.db.read(shop.id) as session:
        statuses = (await session.scalars(select(OutgoingMail.status).where(_to_customers(shop)))).all()
    assert statuses == ["SENT"] * 12


async def test_without_smtp_the_mail_is_written_as_an_eml_file(factory, runtime, tmp_path: Path):
    shop = await factory.tenant()
    mail = await _queue(shop, language="de")
    mailer = create_mailer(None, tmp_path / "mail")
    assert isinstance(mailer, FileMailer)

    await _deliver_all(runtime.db, mailer, utcnow(), sender="Werkstatt <service@garage.test>")

    path = tmp_path / "mail" / f"{mail.id}.eml"
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["Subject"] == "Ihr Kostenvoranschlag für den Škoda"
    assert message["From"].addresses[0].addr_spec == "service@garage.test"
    assert "Grüezi Anna" in text_of(message, "plain")  # type: ignore[arg-type]
    assert (await _stored(runtime.db, mail.id)).status == "SENT"


async def test_the_worker_delivers_queued_mail_in_the_background(factory, runtime, settings, tmp_path: Path):
    shop = await factory.tenant()
    mail = await _queue(shop)
    stop = asyncio.Event()
    worker_settings = settings.with_(data_dir=tmp_path, smtp_url=None, mail_poll_seconds=0.05)
    worker = asyncio.create_task(run_worker(worker_settings, runtime.publisher, stop))
    try:
        async with asyncio.timeout(10):
            await _until_sent(runtime.db, mail.id)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 10)
    assert (tmp_path / "mail" / f"{mail.id}.eml").exists()


async def _until_sent(db, mail_id: int) -> None:  # type: ignore[no-untyped-def]
    """Polls, as the worker does: the test watches the database, not the worker's insides."""
    while (await _stored(db, mail_id)).status != "SENT":  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def test_the_smtp_url_says_where_and_how_to_send():
    plain = SmtpMailer.from_url("smtp://mailer%40garage.ch:s%3Acret@mail.garage.ch:587")
    assert (plain.hostname, plain.port, plain.username, plain.password) == (
        "mail.garage.ch",
        587,
        "mailer@garage.ch",
        "s:cret",
    )
    assert (plain.use_tls, plain.start_tls) == (False, None)
    assert SmtpMailer.from_url("smtp://mail.garage.ch?starttls=1").start_tls is True
    assert SmtpMailer.from_url("smtp://localhost:25?starttls=0").start_tls is False
    implicit = SmtpMailer.from_url("smtps://user:pw@mail.garage.ch")
    assert (implicit.port, implicit.use_tls, implicit.start_tls) == (465, True, False)
    with pytest.raises(ValueError):
        SmtpMailer.from_url("http://mail.garage.ch")


def test_mail_settings_come_from_the_environment(tmp_path: Path):
    environ = {"PITWALL_DATA_DIR": str(tmp_path)}
    assert load_settings(environ).smtp_url is None
    assert load_settings(environ).mail_from == "Pitwall <no-reply@localhost>"
    configured = load_settings(
        {
            **environ,
            "PITWALL_SMTP_URL": "smtps://u:p@mail.garage.ch",
            "PITWALL_MAIL_FROM": "Garage <service@garage.ch>",
            "PITWALL_PUBLIC_URL": "https://service.garage.ch",
        }
    )
    assert configured.smtp_url == "smtps://u:p@mail.garage.ch"
    assert configured.mail_from == "Garage <service@garage.ch>"
    assert configured.public_url == "https://service.garage.ch"
