"""Sending an estimate: the order waits for the customer's approval, the mail goes out in the customer's
language with a signed link; refused without lines to decide, without an email address, too early or late,
on a stale version, for roles that do not quote, and for another dealership's order."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from sqlalchemy import update

from integrations.mail.smtp import SmtpMailer
from ops.auth.actor import Conflict, PermissionDenied, RuleViolation
from ops.db import utcnow
from ops.i18n import translations_for
from ops.mail.service import deliver_due_mail
from ops.workshop.estimates.service import EstimateLinks, send_estimate
from ops.workshop.models import WorkOrder, WorkOrderLine
from tests.mail.smtp import SmtpServer, text_of
from tests.web import sign_in
from tests.workshop.estimates.helpers import (
    BASE_URL,
    LINK,
    SECRET,
    events_of,
    history_of,
    last_mail,
    mail_count,
    quoted_job,
    reload,
    send,
)


async def test_sending_waits_for_approval_and_queues_the_mail_with_a_link(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop, language="en")
    token = await sign_in(client, job.advisor.email)

    response = await client.post(
        f"/workshop/work-orders/{job.id}/estimate",
        form={"version": str(job.work_order.version), "csrf_token": token},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"/workshop/work-orders/{job.id}"
    stored = await reload(runtime.db, shop.id, job.id)
    assert stored.status == "WAITING_APPROVAL"
    assert stored.version == job.work_order.version + 1
    assert stored.estimate_nonce and stored.estimate_sent_at is not None
    assert (await history_of(runtime.db, shop.id, job.id))[-1] == (
        "IN_PROGRESS",
        "WAITING_APPROVAL",
        job.advisor.actor.name,
    )
    [sent] = await events_of(runtime.db, shop.id, "work_order.estimate_sent")
    assert sent.topics == ["workshop", f"wo:{job.id}"]
    assert sent.payload["line_ids"] == [job.labour.id, job.part_line.id]
    assert (sent.payload["from"], sent.payload["to"]) == ("IN_PROGRESS", "WAITING_APPROVAL")

    mail = await last_mail(runtime.db, shop.id)
    assert mail.work_order_id == job.id
    assert mail.status == "QUEUED"
    assert mail.language == "en"
    assert mail.subject == f"Estimate {stored.code} for your Skoda Octavia from {shop.tenant.name}"
    assert "Replace front brake pads: CHF\xa0267.55" in mail.text
    assert "Brake pad set: CHF\xa097.29" in mail.text
    assert "Total if you approve everything: CHF\xa0364.84 (VAT included)" in mail.text
    # The link points at this server as the advisor's browser reached it.
    assert "http://localhost/estimate/" in mail.text
    assert mail.html and "http://localhost/estimate/" in mail.html

    page = await client.get(f"/workshop/work-orders/{job.id}")
    assert "Estimate for" in (await page.get_data(as_text=True))


async def test_from_htmx_the_answer_sends_the_browser_to_the_work_order_page(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    token = await sign_in(client, job.advisor.email)

    response = await client.post(
        f"/workshop/work-orders/{job.id}/estimate",
        form={"version": str(job.work_order.version)},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )

    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/workshop/work-orders/{job.id}"
    assert (await reload(runtime.db, shop.id, job.id)).status == "WAITING_APPROVAL"


async def test_an_estimate_can_go_out_right_after_check_in(factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop, status="CHECKED_IN")

    await send(job)

    assert (await reload(runtime.db, shop.id, job.id)).status == "WAITING_APPROVAL"
    assert (await history_of(runtime.db, shop.id, job.id))[-1][:2] == ("CHECKED_IN", "WAITING_APPROVAL")


async def _refused(client, job, runtime, *, expect: int, text: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """Posts the send form; the answer is `expect`, the flash says `text`, and nothing changed."""
    before = await reload(runtime.db, job.shop.id, job.id)
    mails = await mail_count(runtime.db, job.shop.id)
    token = await sign_in(client, job.advisor.email)
    response = await client.post(
        f"/workshop/work-orders/{job.id}/estimate",
        form={"version": str(job.work_order.version)},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert response.status_code == expect
    if text is not None:
        page = await client.get(f"/workshop/work-orders/{job.id}")
        assert text in (await page.get_data(as_text=True))
    after = await reload(runtime.db, job.shop.id, job.id)
    assert (after.status, after.version, after.estimate_nonce) == (
        before.status,
        before.version,
        before.estimate_nonce,
    )
    assert await mail_count(runtime.db, job.shop.id) == mails
    assert await events_of(runtime.db, job.shop.id, "work_order.estimate_sent") == []


async def test_without_lines_awaiting_a_decision_nothing_is_sent(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    # The customer already approved everything on an earlier estimate.
    await send(job)
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(WorkOrderLine).where(WorkOrderLine.work_order_id == job.id).values(approval="APPROVED")
        )
        await uow.session.execute(
            update(WorkOrder).where(WorkOrder.id == job.id).values(status="IN_PROGRESS")
        )
        await uow.commit()
    job.work_order = await reload(runtime.db, shop.id, job.id)
    sent_before = len(await events_of(runtime.db, shop.id, "work_order.estimate_sent"))

    async with shop.db.uow(job.advisor.actor) as uow:
        with pytest.raises(RuleViolation, match="no lines awaiting the customer's decision"):
            await send_estimate(uow, job.id, job.work_order.version, links=EstimateLinks(SECRET, BASE_URL))

    assert len(await events_of(runtime.db, shop.id, "work_order.estimate_sent")) == sent_before
    assert (await reload(runtime.db, shop.id, job.id)).version == job.work_order.version


async def test_a_customer_without_an_email_address_gets_no_estimate(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop, email=None)

    await _refused(client, job, runtime, expect=422, text="no valid email address")


async def test_before_check_in_there_is_no_estimate(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop, status="SCHEDULED")

    await _refused(
        client, job, runtime, expect=422, text="an estimate can be sent once the vehicle is checked in"
    )


async def test_a_stale_version_is_a_conflict(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    job.work_order.version -= 1

    await _refused(client, job, runtime, expect=409, text="changed by someone else")


async def test_a_technician_cannot_send_estimates(factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    technician = await shop.user("technician")

    async with shop.db.uow(technician.actor) as uow:
        with pytest.raises(PermissionDenied):
            await send_estimate(uow, job.id, job.work_order.version, links=EstimateLinks(SECRET, BASE_URL))

    assert (await reload(runtime.db, shop.id, job.id)).status == "IN_PROGRESS"
    assert await mail_count(runtime.db, shop.id) == 0


async def test_another_dealerships_order_is_not_found(client, factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    other = await factory.tenant()
    intruder = await other.user("service_advisor")
    token = await sign_in(client, intruder.email)

    response = await client.post(
        f"/workshop/work-orders/{job.id}/estimate",
        form={"version": str(job.work_order.version)},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )

    assert response.status_code == 404
    assert (await reload(runtime.db, shop.id, job.id)).status == "IN_PROGRESS"
    assert await mail_count(runtime.db, shop.id) == 0


async def test_sending_again_while_waiting_replaces_the_estimate(factory, runtime):
    shop = await factory.tenant()
    job = await quoted_job(shop)
    first = await send(job)
    first_nonce = job.work_order.estimate_nonce

    second = await send(job)

    stored = await reload(runtime.db, shop.id, job.id)
    assert stored.status == "WAITING_APPROVAL"
    assert stored.estimate_nonce != first_nonce
    assert first != second
    assert await mail_count(runtime.db, shop.id) == 2
    # One move into WAITING_APPROVAL, not two.
    assert [entry[1] for entry in await history_of(runtime.db, shop.id, job.id)].count(
        "WAITING_APPROVAL"
    ) == 1
    with pytest.raises(Conflict):
        async with shop.db.uow(job.advisor.actor) as uow:
            await send_estimate(uow, job.id, stored.version - 1, links=EstimateLinks(SECRET, BASE_URL))


def _link_in(message: EmailMessage) -> str:
    match = LINK.search(text_of(message, "plain"))
    assert match, text_of(message, "plain")
    html = text_of(message, "html")
    assert f"{BASE_URL}/estimate/{match.group(1)}" in html
    return match.group(1)


async def test_the_mail_reaches_the_customer_in_their_language(factory, runtime, smtp_server: SmtpServer):
    shop = await factory.tenant()
    english_job = await quoted_job(shop, language="en", first_name="Emma")
    german_job = await quoted_job(shop, language="de", first_name="Greta")
    await send(english_job)
    await send(german_job)

    mailer, now = SmtpMailer.from_url(smtp_server.url), utcnow()
    # Other tests' queued mails share the database and go out too, a batch per pass.
    while (await deliver_due_mail(runtime.db, mailer, now)).sent:
        pass

    # The dealership's staff (at its .test domain) got their welcome mails besides.
    ours = [
        message
        for message in smtp_server.inbox.messages
        if shop.tenant.name in str(message["From"])
        and not str(message["To"]).endswith(f"@{shop.tenant.slug}.test")
    ]
    english_mail, german_mail = sorted(ours, key=lambda message: "Greta" in text_of(message))
    assert english_mail["Subject"] == (
        f"Estimate {english_job.work_order.code} for your Skoda Octavia from {shop.tenant.name}"
    )
    assert english_mail["Content-Language"] == "en"
    assert text_of(english_mail).startswith("Hello Emma Muster,")
    assert _link_in(english_mail)

    assert german_mail["Content-Language"] == "de"
    assert _link_in(german_mail)
    # The German wording is the German catalog's; it must be German, not the English source.
    german = translations_for("de")
    subject = "Estimate %(number)s for your %(vehicle)s from %(dealership)s"
    assert german.gettext(subject) != subject, "the German catalog lacks the estimate mail's subject"
    assert german_mail["Subject"] == german.gettext(subject) % {
        "number": german_job.work_order.code,
        "vehicle": "Skoda Octavia",
        "dealership": shop.tenant.name,
    }
    assert text_of(german_mail).startswith(german.gettext("Hello %(name)s,") % {"name": "Greta Muster"})
