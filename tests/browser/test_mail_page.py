"""The outgoing mail page in Chromium: an admin opens a mail written to .eml (the embedded default) and
reads its HTML in the sandboxed frame, while a script the mail carries never runs and nothing it links
is fetched."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from integrations.mail.files import FileMailer
from ops.db import utcnow
from ops.mail.service import queue_mail
from tests.factories import TenantFactory
from tests.mail.helpers import deliver_all

pytestmark = pytest.mark.browser

# The tracker points at the live server itself, which would answer it: only the policy keeps it dark.
HOSTILE_HTML = (
    '<p style="color: #0b5cad">Grüezi Anna, Ihr Auto ist bereit.</p>'
    "<script>parent.document.title = 'pwned'; document.body.append('script ran')</script>"
    '<img alt="tracker" src="{origin}/static/css/app.css?pixel">'
)


async def test_an_admin_reads_a_written_mail_with_its_html_sandboxed(open_page, live_server, tmp_path):
    runtime = live_server.runtime
    shop = await TenantFactory(runtime.db).tenant(country="US")
    async with shop.db.uow(shop.admin.actor) as uow:
        html = HOSTILE_HTML.format(origin=live_server.url)
        mail = queue_mail(uow, "anna@example.ch", "Your car is ready", "Grüezi Anna\n", html)
        await uow.commit()
    await deliver_all(runtime.db, FileMailer(runtime.settings.data_dir / "mail"), utcnow())
    admin = await open_page()
    answered: list[str] = []
    admin.page.on(
        "response", lambda response: answered.append(response.url) if "pixel" in response.url else None
    )

    await admin.sign_in(shop.admin.email)
    await admin.page.goto("/settings/mail")
    await expect(admin.page.get_by_role("link", name="Your car is ready")).to_be_visible()
    await expect(admin.page.get_by_role("link", name=f"{mail.id}.eml")).to_be_visible()
    await admin.page.screenshot(path=str(tmp_path / "mail-queue.png"), full_page=True)
    await admin.page.get_by_role("link", name="Your car is ready").click()

    frame = admin.page.frame_locator("iframe.mail-html")
    await expect(frame.get_by_text("Grüezi Anna, Ihr Auto ist bereit.")).to_be_visible()
    await expect(admin.page.locator("pre.mail-text")).to_have_text("Grüezi Anna\n")
    await admin.page.screenshot(path=str(tmp_path / "mail-view.png"), full_page=True)
    await expect(frame.get_by_text("script ran")).to_have_count(0)
    assert await admin.page.title() != "pwned"
    assert answered == []
    # What the browser reports is the blocking itself, nothing broken on the page.
    assert all("sandboxed" in error or "Content Security Policy" in error for error in admin.console_errors)
