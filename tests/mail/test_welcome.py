"""The welcome mail: a new dealership's admin and every user added later learn how to sign in, in their
language, in the transaction that created them; the mail never holds a password."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select

from integrations.mail.smtp import SmtpMailer
from ops.auth.actor import RuleViolation
from ops.auth.service import create_user
from ops.db import utcnow
from ops.mail.models import OutgoingMail
from ops.mail.service import sign_in_url
from ops.tenants.service import provision_tenant
from tests.factories import PASSWORD
from tests.mail.helpers import deliver_all, mails_to
from tests.mail.smtp import SmtpServer, text_of

SIGN_IN = "https://service.garage.test/login"


async def _provision(db, *, country: str = "CH", url: str | None = SIGN_IN):  # type: ignore[no-untyped-def]
    slug = f"w-{secrets.token_hex(5)}"
    return await provision_tenant(
        db,
        slug=slug,
        name=f"Garage {slug}",
        admin_email=f"chef@{slug}.test",
        admin_name="Ruth Keller",
        admin_password=PASSWORD,
        country=country,
        plan="STARTER",
        sign_in_url=url,
    )


async def test_a_new_dealerships_admin_is_told_how_to_sign_in_in_the_dealerships_language(runtime):
    provisioned = await _provision(runtime.db, country="CH")
    admin = provisioned.admin

    [mail] = await mails_to(runtime.db, provisioned.tenant.id, admin.email)

    # A Swiss dealership's admin reads German until they choose otherwise.
    assert mail.language == "de"
    assert mail.subject == f"Ihr Pitwall-Konto bei {provisioned.tenant.name}"
    assert mail.text.startswith("Guten Tag Ruth Keller")
    assert "Administrator" in mail.text
    assert SIGN_IN in mail.text and f'href="{SIGN_IN}"' in (mail.html or "")
    assert admin.email in mail.text
    assert PASSWORD not in mail.text and PASSWORD not in (mail.html or "")


async def test_an_added_user_reads_the_welcome_in_their_own_language_with_their_role(factory, runtime):
    shop = await factory.tenant(country="CH")
    email = f"luc-{secrets.token_hex(3)}@{shop.tenant.slug}.test"

    async with shop.db.uow(shop.admin.actor) as uow:
        await create_user(
            uow,
            email=email,
            name="Luc Favre",
            role="service_advisor",
            password=PASSWORD,
            locale="fr",
            sign_in_url=SIGN_IN,
        )

    [mail] = await mails_to(runtime.db, shop.id, email)
    assert mail.language == "fr"
    assert mail.subject == f"Votre compte Pitwall chez {shop.tenant.name}"
    assert mail.text.startswith("Bonjour Luc Favre,")
    assert "Conseiller de service" in mail.text
    assert SIGN_IN in mail.text
    assert PASSWORD not in mail.text and PASSWORD not in (mail.html or "")


async def test_without_a_public_address_the_mail_still_says_how_to_sign_in(runtime):
    provisioned = await _provision(runtime.db, country="US", url=None)

    [mail] = await mails_to(runtime.db, provisioned.tenant.id, provisioned.admin.email)

    assert mail.language == "en"
    assert "your administrator can tell you what it is" in mail.text
    assert f"Enter your email address: {provisioned.admin.email}" in mail.text
    assert "href=" not in (mail.html or "")


def test_the_sign_in_address_follows_the_public_url():
    assert sign_in_url("https://service.garage.ch/") == "https://service.garage.ch/login"
    assert sign_in_url(None) is None


async def test_a_refused_user_gets_no_welcome_mail(factory, runtime):
    shop = await factory.tenant()
    taken = shop.admin.email

    async with shop.db.uow(shop.admin.actor) as uow:
        with pytest.raises(RuleViolation):
            await create_user(uow, email=taken, name="Twin", role="viewer", password=PASSWORD)
    async with shop.db.uow(shop.admin.actor) as uow:
        with pytest.raises(RuleViolation):
            await create_user(uow, email="short@garage.test", name="Short", role="viewer", password="short")

    async with runtime.db.read(shop.id) as session:
        recipients = (await session.scalars(select(OutgoingMail.recipient))).all()
    # Only provisioning's welcome for the admin.
    assert recipients == [taken]


async def test_a_provisioning_that_fails_sends_no_welcome(runtime):
    first = await _provision(runtime.db)

    with pytest.raises(RuleViolation):
        await provision_tenant(
            runtime.db,
            slug=first.tenant.slug,
            name="Copy",
            admin_email=f"other-{secrets.token_hex(3)}@garage.test",
            admin_name="Other",
            admin_password=PASSWORD,
        )

    async with runtime.db.system() as session:
        count = await session.scalar(
            select(func.count()).select_from(OutgoingMail).where(OutgoingMail.recipient.like("other-%"))
        )
    assert count == 0


async def test_the_welcome_reaches_the_smtp_server_as_text_and_html(runtime, smtp_server: SmtpServer):
    provisioned = await _provision(runtime.db)

    await deliver_all(runtime.db, SmtpMailer.from_url(smtp_server.url), utcnow())

    [message] = [m for m in smtp_server.inbox.messages if m["To"] == provisioned.admin.email]
    assert message["Subject"] == f"Ihr Pitwall-Konto bei {provisioned.tenant.name}"
    assert message["Content-Language"] == "de"
    assert SIGN_IN in text_of(message, "plain")
    assert '<html lang="de">' in text_of(message, "html")
