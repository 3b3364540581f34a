"""The outgoing mail page (/settings/mail): an admin sees the dealership's queue with each mail's status,
attempts and last error, page by page; in the embedded default without SMTP the .eml files written to
<data_dir>/mail are listed and shown, the HTML only sandboxed and under a policy that forbids scripts."""

from __future__ import annotations

import re
from pathlib import Path

from integrations.mail.files import FileMailer
from integrations.mail.smtp import SmtpMailer
from ops.app import create_app
from ops.db import utcnow
from ops.mail.service import queue_mail
from tests.conftest import free_port
from tests.factories import TenantHandle
from tests.mail.helpers import deliver_all
from tests.web import sign_in

HOSTILE_HTML = (
    '<p>Grüezi Anna</p><script>alert("pwned")</script>'
    '<img src="https://tracker.example/pixel.gif"><form action="https://evil.example"></form>'
)


async def _queue(shop: TenantHandle, to: str, subject: str, html: str | None = "<p>Grüezi Anna</p>") -> int:
    async with shop.db.uow(shop.admin.actor) as uow:
        mail = queue_mail(uow, to, subject, f"Grüezi Anna\n\n{subject} <b>not bold</b>\n", html)
        await uow.commit()
    return mail.id


async def test_an_admin_sees_each_mails_status_attempts_and_last_error(client, factory, runtime):
    shop = await factory.tenant(country="US")
    sent = await _queue(shop, "anna@example.ch", "Your estimate")
    await deliver_all(runtime.db, FileMailer(runtime.settings.data_dir / "mail"), utcnow())
    failing = await _queue(shop, "beat@example.ch", "Your offer")
    # The next attempt finds nobody listening: the mail waits for its retry with the error kept.
    await deliver_all(runtime.db, SmtpMailer("127.0.0.1", free_port(), timeout=5), utcnow())
    await sign_in(client, shop.admin.email)

    response = await client.get("/settings/mail")

    page = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert "anna@example.ch" in page and "beat@example.ch" in page
    assert f'href="/settings/mail/{sent}"' in page and f'href="/settings/mail/{failing}"' in page
    assert f"{sent}.eml" in page
    assert "SMTPConnectError" in page or "onnect" in page
    assert "next try" in page
    # The files note names where the demo's mail goes.
    assert str(runtime.settings.data_dir / "mail") in page

    only_queued = await (await client.get("/settings/mail?status=QUEUED")).get_data(as_text=True)
    assert "beat@example.ch" in only_queued and "anna@example.ch" not in only_queued


async def test_the_queue_is_paginated_newest_first(client, factory):
    shop = await factory.tenant(country="US")
    for number in range(30):
        await _queue(shop, f"customer{number}@example.ch", f"Mail number {number:02d}")
    await sign_in(client, shop.admin.email)

    first = await (await client.get("/settings/mail")).get_data(as_text=True)
    second = await (await client.get("/settings/mail?page=2")).get_data(as_text=True)

    assert "Mail number 29" in first and "Mail number 05" in first and "Mail number 04" not in first
    assert "Mail number 04" in second and "Mail number 00" in second and "Mail number 29" not in second
    # 30 customer mails and the admin's welcome: two pages.
    assert "Page 1 of 2" in first and 'rel="next"' in first
    assert "Page 2 of 2" in second and 'rel="prev"' in second


async def test_a_written_mail_shows_its_text_escaped_and_its_html_only_sandboxed(client, factory, runtime):
    shop = await factory.tenant(country="US")
    mail_id = await _queue(shop, "anna@example.ch", "Your <estimate>", html=HOSTILE_HTML)
    await deliver_all(runtime.db, FileMailer(runtime.settings.data_dir / "mail"), utcnow())
    await sign_in(client, shop.admin.email)

    page = await (await client.get(f"/settings/mail/{mail_id}")).get_data(as_text=True)
    assert "Your &lt;estimate&gt; &lt;b&gt;not bold&lt;/b&gt;" in page
    assert "<script>" not in page
    [frame] = re.findall(r"<iframe[^>]*>", page)
    assert " sandbox " in frame and f'src="/settings/mail/{mail_id}/html"' in frame
    assert "As written to the .eml file." in page

    html = await client.get(f"/settings/mail/{mail_id}/html")
    policy = html.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy and "frame-ancestors 'self'" in policy
    assert "script-src" not in policy and "img-src data:" in policy
    assert html.headers["Content-Type"].startswith("text/html")
    assert html.headers["X-Frame-Options"] == "SAMEORIGIN"  # every other page answers DENY
    assert "<p>Grüezi Anna</p>" in await html.get_data(as_text=True)

    eml = await client.get(f"/settings/mail/{mail_id}/file")
    assert eml.headers["Content-Type"] == "message/rfc822"
    assert (await eml.get_data()) == (runtime.settings.data_dir / "mail" / f"{mail_id}.eml").read_bytes()


async def test_a_mail_not_yet_written_shows_as_queued(client, factory):
    shop = await factory.tenant(country="US")
    mail_id = await _queue(shop, "anna@example.ch", "Your estimate", html=None)
    await sign_in(client, shop.admin.email)

    page = await (await client.get(f"/settings/mail/{mail_id}")).get_data(as_text=True)

    assert "As queued." in page and "<iframe" not in page
    assert (await client.get(f"/settings/mail/{mail_id}/html")).status_code == 404
    assert (await client.get(f"/settings/mail/{mail_id}/file")).status_code == 404


async def test_only_admins_see_the_mail_and_only_their_own_dealerships(app, client, factory, runtime):
    shop = await factory.tenant(country="US")
    mail_id = await _queue(shop, "anna@example.ch", "Your estimate")
    await deliver_all(runtime.db, FileMailer(runtime.settings.data_dir / "mail"), utcnow())

    assert (await client.get("/settings/mail")).status_code in (302, 303)
    advisor = await shop.user("service_advisor")
    await sign_in(client, advisor.email)
    for path in ("/settings/mail", f"/settings/mail/{mail_id}", f"/settings/mail/{mail_id}/html"):
        assert (await client.get(path)).status_code == 403, path

    other = await factory.tenant()
    other_admin = app.test_client()
    await sign_in(other_admin, other.admin.email)
    for path in (
        f"/settings/mail/{mail_id}",
        f"/settings/mail/{mail_id}/html",
        f"/settings/mail/{mail_id}/file",
    ):
        assert (await other_admin.get(path)).status_code == 404, path
    listing = await (await other_admin.get("/settings/mail")).get_data(as_text=True)
    assert "anna@example.ch" not in listing


async def test_an_empty_filter_says_so(client, factory):
    shop = await factory.tenant(country="US")
    await sign_in(client, shop.admin.email)

    page = await (await client.get("/settings/mail?status=FAILED")).get_data(as_text=True)

    assert "No mails with this status." in page


async def test_with_smtp_configured_the_page_lists_no_files(factory, settings, tmp_path: Path):
    app = create_app(settings.with_(smtp_url=f"smtp://127.0.0.1:{free_port()}"))
    async with app.test_app():
        client = app.test_client()
        shop = await factory.tenant(country="US")
        mail_id = await _queue(shop, "anna@example.ch", "Your estimate")
        # A file left from the days without SMTP is not offered as this mail's.
        (settings.data_dir / "mail").mkdir(parents=True, exist_ok=True)
        (settings.data_dir / "mail" / f"{mail_id}.eml").write_bytes(b"Subject: old\r\n\r\nold\r\n")
        await sign_in(client, shop.admin.email)

        page = await (await client.get("/settings/mail")).get_data(as_text=True)
        detail = await (await client.get(f"/settings/mail/{mail_id}")).get_data(as_text=True)

    assert "configured SMTP server" in page and f"{mail_id}.eml" not in page
    assert "As queued." in detail
