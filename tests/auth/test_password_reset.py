"""A forgotten password: a signed-out user asks for a link by mail and chooses a new password with it.
The answer never tells whether an address has an account; the link works once, for an hour, in its own
dealership, and only from the site's configured address."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from quart import Quart
from sqlalchemy import select, text

from integrations.mail.smtp import SmtpMailer
from ops.app import create_app
from ops.auth.models import User, UserSession
from ops.auth.service import (
    ResetLink,
    ResetLinks,
    ResetLinkUsed,
    SignInRefused,
    change_own_password,
    password_fingerprint,
    reset_password,
    set_user_active,
    sign_in,
)
from ops.config import Settings
from ops.db import utcnow
from ops.events import Event
from ops.i18n import current_locale
from ops.mail.models import OutgoingMail
from ops.public_links import SignedLinks
from tests.conftest import Backend, make_settings
from tests.factories import PASSWORD
from tests.mail.helpers import deliver_all
from tests.mail.smtp import SmtpServer, text_of
from tests.web import csrf_from
from tests.web import sign_in as web_sign_in

PUBLIC_URL = "https://service.garage.test"
SECRET = "test-secret-key-not-for-production"
NEW_PASSWORD = "blue-tractor-lemon"
LINK = re.compile(re.escape(PUBLIC_URL) + r"/password-reset/([A-Za-z0-9_.\-]+)")
SENT = "If an account exists for that address, we have sent a link to choose a new password."
USED = "This link was already used, or the password was changed since it was sent."


def _settings(backend: Backend, tmp_path: Path, **overrides: object) -> Settings:
    # Rate-limit counters of this test's own (a fresh Redis prefix): every test posts from one address.
    values: dict[str, object] = {
        "public_url": PUBLIC_URL,
        "public_requests_per_window": 100_000,
        "redis_prefix": f"{backend.redis_prefix}:reset-{secrets.token_hex(4)}",
        **overrides,
    }
    return make_settings(backend, tmp_path, **values)


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    return _settings(backend, tmp_path)


@asynccontextmanager
async def _app_with(backend: Backend, tmp_path: Path, **overrides: object) -> AsyncIterator[Quart]:
    application = create_app(_settings(backend, tmp_path, **overrides))
    async with application.test_app():
        yield application


@pytest.fixture(autouse=True)
def english_messages():  # type: ignore[no-untyped-def]
    token = current_locale.set("en")
    yield
    current_locale.reset(token)


async def _ask_for_link(client, email: str, address: str = "192.0.2.10", **headers: str):  # type: ignore[no-untyped-def]
    """Open the form and send it, from a browser at `address`, and wait for what it set going."""
    scope = {"client": (address, 50000)}
    page = await client.get("/password-reset", scope_base=scope)
    csrf = csrf_from(await page.get_data(as_text=True))
    answer = await client.post(
        "/password-reset", form={"email": email, "csrf_token": csrf}, scope_base=scope, headers=headers
    )
    # The address is looked up and mailed after the answer.
    await asyncio.gather(*client.app.background_tasks)
    return answer


async def _reset_mails(db, email: str) -> list[OutgoingMail]:  # type: ignore[no-untyped-def]
    """Every reset mail to `email`, in any dealership (a welcome mail is not one)."""
    async with db.system() as session:
        rows = await session.scalars(
            select(OutgoingMail)
            .where(OutgoingMail.recipient == email, OutgoingMail.text.contains("/password-reset/"))
            .order_by(OutgoingMail.id)
        )
        return list(rows)


def _token_in(mail: OutgoingMail) -> str:
    match = LINK.search(mail.text)
    assert match, mail.text
    return match.group(1)


async def _choose(client, token: str, new: str = NEW_PASSWORD, repeated: str | None = None):  # type: ignore[no-untyped-def]
    """Open the link and send a new password, twice (or `repeated`). Every page carries the CSRF token,
    also the one saying that the link no longer works."""
    page = await client.get(f"/password-reset/{token}")
    html = await page.get_data(as_text=True)
    form = {
        "csrf_token": csrf_from(html),
        "new_password": new,
        "repeated_password": new if repeated is None else repeated,
    }
    return await client.post(f"/password-reset/{token}", form=form)


async def _signs_in(db, email: str, password: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        await sign_in(db, email, password)
    except SignInRefused:
        return False
    return True


async def _password_hash(db, user_id: int) -> str:  # type: ignore[no-untyped-def]
    async with db.system() as session:
        return str(await session.scalar(select(User.password_hash).where(User.id == user_id)))


async def _link_for(db, tenant_id: int, user_id: int) -> ResetLink:  # type: ignore[no-untyped-def]
    return ResetLink(tenant_id, user_id, password_fingerprint(await _password_hash(db, user_id)))


async def test_the_sign_in_page_leads_to_the_form(client):
    login = await (await client.get("/login")).get_data(as_text=True)
    assert 'href="/password-reset">Forgot your password?</a>' in login

    page = await client.get("/password-reset")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<label for="forgot-email">Email</label>' in html and 'name="email"' in html
    assert "not available on this server" not in html


async def test_a_known_address_gets_a_mail_whose_link_sets_the_password_once(
    factory, client, runtime, smtp_server: SmtpServer
):
    shop = await factory.tenant(country="US")
    rep = await shop.user("sales_rep", locale="en", name="Mia Keller")

    response = await _ask_for_link(client, rep.email)

    assert response.status_code == 303
    answer = await (await client.get(response.headers["Location"])).get_data(as_text=True)
    assert SENT in answer
    [mail] = await _reset_mails(runtime.db, rep.email)
    assert mail.language == "en"
    assert mail.subject == f"Choose a new Pitwall password for {shop.tenant.name}"
    assert mail.text.startswith("Hello Mia Keller,")
    assert "The link works once, within 1 hour." in mail.text
    # What reaches the mailbox: the link to the configured address, in both parts.
    await deliver_all(runtime.db, SmtpMailer.from_url(smtp_server.url), utcnow())
    [message] = [m for m in smtp_server.inbox.messages if m["To"] == rep.email and "password" in m["Subject"]]
    token = _token_in(mail)
    url = f"{PUBLIC_URL}/password-reset/{token}"
    assert url in text_of(message, "plain") and f'href="{url}"' in text_of(message, "html")

    page = await client.get(f"/password-reset/{token}")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200 and rep.email in html
    assert page.headers["Cache-Control"] == "no-store"
    chosen = await _choose(client, token)
    assert chosen.status_code == 303 and chosen.headers["Location"] == "/login"
    login = await (await client.get("/login")).get_data(as_text=True)
    assert "Your password is changed and you are signed out everywhere." in login
    assert await _signs_in(runtime.db, rep.email, NEW_PASSWORD)
    assert not await _signs_in(runtime.db, rep.email, PASSWORD)

    # Once: the same link again is refused, and the password stays the one it set.
    again = await client.get(f"/password-reset/{token}")
    assert again.status_code == 410 and USED in await again.get_data(as_text=True)
    second = await _choose(client, token, "another-new-password")
    assert second.status_code == 410
    assert await _signs_in(runtime.db, rep.email, NEW_PASSWORD)


async def test_the_change_signs_the_user_out_everywhere_and_is_recorded_as_theirs(
    factory, client, app, runtime
):
    shop = await factory.tenant(country="US")
    tech = await shop.user("technician", locale="en")
    desk, phone = app.test_client(), app.test_client()
    await web_sign_in(desk, tech.email)
    await web_sign_in(phone, tech.email)
    await _ask_for_link(client, tech.email)
    [mail] = await _reset_mails(runtime.db, tech.email)

    assert (await _choose(client, _token_in(mail))).status_code == 303

    for browser in (desk, phone):
        signed_out = await browser.get("/workshop/board")
        assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    async with runtime.db.system() as session:
        sessions = await session.scalars(
            select(UserSession.id).where(UserSession.user_id == tech.actor.user_id)
        )
        assert list(sessions) == []
        [event] = (
            await session.scalars(
                select(Event).where(Event.type == "user.password_changed", Event.tenant_id == shop.id)
            )
        ).all()
    assert event.payload == {"id": tech.actor.user_id}
    assert (event.actor_kind, event.actor_id) == ("user", tech.actor.user_id)


async def test_an_unknown_address_gets_the_same_answer_and_no_mail(factory, app, runtime):
    shop = await factory.tenant(country="US")
    rep = await shop.user("sales_rep", locale="en")
    unknown = f"nobody-{secrets.token_hex(3)}@{shop.tenant.slug}.test"

    known_answer = await _ask_for_link(app.test_client(), rep.email)
    unknown_answer = await _ask_for_link(app.test_client(), unknown)

    assert known_answer.status_code == unknown_answer.status_code == 303
    assert known_answer.headers["Location"] == unknown_answer.headers["Location"]
    assert await known_answer.get_data() == await unknown_answer.get_data()
    assert len(await _reset_mails(runtime.db, rep.email)) == 1
    assert await _reset_mails(runtime.db, unknown) == []


@asynccontextmanager
async def _mail_writes_held(db) -> AsyncIterator[None]:  # type: ignore[no-untyped-def]
    """Keep every new mail waiting until the block ends, as a busy database would."""
    async with db.write_engine.connect() as connection:
        if db.is_sqlite:
            # This process's one write connection, in a write transaction: other writers queue for it.
            await connection.execute(text("SELECT 1"))
        else:
            await connection.execute(text("LOCK TABLE outgoing_mail IN EXCLUSIVE MODE"))
        yield
        await connection.rollback()


async def test_the_answer_comes_before_the_look_up_for_every_address(factory, app, runtime):
    """Answering an unknown address without the look-up's write and mail would answer it sooner, and
    timing would then tell accounts apart: the answer waits for neither, for any address."""
    shop = await factory.tenant(country="US")
    rep = await shop.user("sales_rep", locale="en")
    unknown = f"nobody-{secrets.token_hex(3)}@{shop.tenant.slug}.test"
    client = app.test_client()
    csrf = csrf_from(await (await client.get("/password-reset")).get_data(as_text=True))

    async with _mail_writes_held(runtime.db):
        for email in (rep.email, unknown):
            posted = client.post("/password-reset", form={"email": email, "csrf_token": csrf})
            answer = await asyncio.wait_for(posted, 10)
            assert answer.status_code == 303
    await asyncio.gather(*app.background_tasks)

    assert len(await _reset_mails(runtime.db, rep.email)) == 1
    assert await _reset_mails(runtime.db, unknown) == []


async def test_a_deactivated_user_gets_no_mail_and_an_earlier_link_stops_working(factory, client, runtime):
    shop = await factory.tenant(country="US")
    rep = await shop.user("sales_rep", locale="en")
    await _ask_for_link(client, rep.email)
    [earlier] = await _reset_mails(runtime.db, rep.email)
    async with runtime.db.uow(shop.admin.actor) as uow:
        await set_user_active(uow, rep.actor.user_id, False)
    before = await _password_hash(runtime.db, rep.actor.user_id)

    response = await _ask_for_link(client, rep.email)
    page = await client.get(f"/password-reset/{_token_in(earlier)}")
    posted = await _choose(client, _token_in(earlier), NEW_PASSWORD)

    assert response.status_code == 303
    assert SENT in await (await client.get(response.headers["Location"])).get_data(as_text=True)
    assert len(await _reset_mails(runtime.db, rep.email)) == 1
    assert page.status_code == 410
    assert "This account cannot sign in at the moment." in await page.get_data(as_text=True)
    assert posted.status_code == 410
    assert await _password_hash(runtime.db, rep.actor.user_id) == before


async def test_a_link_stops_working_once_the_password_is_changed_another_way(factory, client, runtime):
    shop = await factory.tenant(country="US")
    rep = await shop.user("sales_rep", locale="en")
    await _ask_for_link(client, rep.email)
    [mail] = await _reset_mails(runtime.db, rep.email)
    signed_in = await sign_in(runtime.db, rep.email, PASSWORD)
    await change_own_password(
        runtime.db,
        rep.actor,
        current=PASSWORD,
        new="changed-while-waiting",
        repeated="changed-while-waiting",
        session_token=signed_in.token,
    )

    page = await client.get(f"/password-reset/{_token_in(mail)}")
    posted = await _choose(client, _token_in(mail), NEW_PASSWORD)

    assert page.status_code == 410
    html = await page.get_data(as_text=True)
    assert USED in html and 'href="/password-reset">Forgot your password?</a>' in html
    assert posted.status_code == 410
    assert await _signs_in(runtime.db, rep.email, "changed-while-waiting")
    assert not await _signs_in(runtime.db, rep.email, NEW_PASSWORD)


async def test_an_expired_link_is_gone_and_leads_back_to_the_form(
    factory, client, runtime, monkeypatch: pytest.MonkeyPatch
):
    shop = await factory.tenant(country="US")
    rep = await shop.user("sales_rep", locale="en")
    link = await _link_for(runtime.db, shop.id, rep.actor.user_id)
    sixty_one_minutes_ago = time.time() - 61 * 60
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: sixty_one_minutes_ago)
        old_token = ResetLinks(SECRET).token_for(link)
    fresh_token = ResetLinks(SECRET).token_for(link)

    page = await client.get(f"/password-reset/{old_token}")
    posted = await _choose(client, old_token, NEW_PASSWORD)

    assert page.status_code == 410
    html = await page.get_data(as_text=True)
    assert "This link has expired. Ask for a new one." in html
    assert 'href="/password-reset">Forgot your password?</a>' in html
    assert posted.status_code == 410
    assert await _signs_in(runtime.db, rep.email, PASSWORD)
    # The same link signed now is fine: the age alone refused it.
    assert (await client.get(f"/password-reset/{fresh_token}")).status_code == 200


async def test_a_link_not_issued_for_this_dealerships_user_is_not_found(factory, client, runtime):
    shop, other = await factory.tenant(country="US"), await factory.tenant(country="US")
    rep = await shop.user("sales_rep", locale="en")
    link = await _link_for(runtime.db, shop.id, rep.actor.user_id)
    signed = ResetLinks(SECRET).token_for(link)
    tokens = {
        "garbled": "garbled",
        "tampered": signed[:-4] + ("AAAA" if not signed.endswith("AAAA") else "BBBB"),
        "too long": "x" * 2000,
        "another key": ResetLinks("another-secret").token_for(link),
        # Signed with our key, for another kind of link: the salt tells them apart.
        "another kind": SignedLinks(
            SECRET, salt="pitwall.estimate-link", path="/estimate", max_age=ResetLinks(SECRET).max_age
        ).token_for({"t": shop.id, "u": rep.actor.user_id, "f": link.fingerprint}),
        # Correctly signed, but naming another dealership: its user is not there.
        "another dealership": ResetLinks(SECRET).token_for(
            ResetLink(other.id, rep.actor.user_id, link.fingerprint)
        ),
        "no fingerprint": SignedLinks(
            SECRET, salt="pitwall.password-reset", path="/password-reset", max_age=ResetLinks(SECRET).max_age
        ).token_for({"t": shop.id, "u": rep.actor.user_id}),
    }

    answers = {
        name: (await client.get(f"/password-reset/{token}")).status_code for name, token in tokens.items()
    }
    posted = await _choose(client, tokens["another dealership"], NEW_PASSWORD)

    assert answers == dict.fromkeys(tokens, 404)
    assert posted.status_code == 404
    page = await client.get(f"/password-reset/{tokens['garbled']}")
    assert "This link is not valid." in await page.get_data(as_text=True)
    assert await _signs_in(runtime.db, rep.email, PASSWORD)
    assert (await client.get(f"/password-reset/{signed}")).status_code == 200


@pytest.mark.parametrize(
    ("new", "repeated", "field", "message"),
    [
        ("short", "short", "new_password", "Use a password of at least 10 characters."),
        (NEW_PASSWORD, "blue-tractor-lemons", "repeated_password", "The two passwords are not the same."),
    ],
)
async def test_a_refused_password_names_the_field_and_changes_nothing(
    factory, client, app, runtime, new, repeated, field, message
):
    shop = await factory.tenant(country="US")
    rep = await shop.user("sales_rep", locale="en")
    elsewhere = app.test_client()
    await web_sign_in(elsewhere, rep.email)
    await _ask_for_link(client, rep.email)
    [mail] = await _reset_mails(runtime.db, rep.email)

    response = await _choose(client, _token_in(mail), new, repeated)

    html = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="reset-{field}-error"' in html and message in html
    assert 'aria-invalid="true"' in html
    assert new not in html and repeated not in html
    assert await _signs_in(runtime.db, rep.email, PASSWORD)
    assert (await elsewhere.get("/workshop/board")).status_code == 200
    # Nothing used up: the link still sets a password.
    assert (await _choose(client, _token_in(mail))).status_code == 303


@pytest.mark.parametrize(
    ("email", "message"),
    [("", "Enter your email address."), ("not-an-address", "Enter a valid email address.")],
)
async def test_a_missing_or_malformed_address_is_marked(client, email, message):
    response = await _ask_for_link(client, email)

    html = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'<div class="form-error" role="alert" id="forgot-email-error">{message}</div>' in html
    assert 'aria-invalid="true" aria-describedby="forgot-email-error"' in html
    assert SENT not in html


async def test_the_link_leads_to_the_configured_address_whatever_host_the_request_named(
    factory, client, runtime
):
    shop = await factory.tenant(country="US")
    rep = await shop.user("sales_rep", locale="en")

    await _ask_for_link(client, rep.email, Host="evil.example", **{"X-Forwarded-Host": "evil.example"})

    [mail] = await _reset_mails(runtime.db, rep.email)
    assert "evil.example" not in mail.text and "evil.example" not in (mail.html or "")
    assert f"{PUBLIC_URL}/password-reset/" in mail.text


async def test_without_a_public_address_no_mail_goes_out_and_the_form_says_whom_to_ask(
    backend, tmp_path, factory, runtime
):
    shop = await factory.tenant(country="US")
    rep = await shop.user("sales_rep", locale="en")
    async with _app_with(backend, tmp_path, public_url=None) as app:
        client = app.test_client()
        page = await client.get("/password-reset")
        csrf = csrf_from(await page.get_data(as_text=True))
        posted = await client.post("/password-reset", form={"email": rep.email, "csrf_token": csrf})

    for response in (page, posted):
        html = await response.get_data(as_text=True)
        assert response.status_code == 200
        assert "Choosing a new password by mail is not available on this server." in html
        assert "Ask your dealership's administrator to set a new password for you." in html
        assert 'name="email"' not in html and SENT not in html
    assert await _reset_mails(runtime.db, rep.email) == []


async def test_one_address_is_sent_a_few_links_then_asked_to_wait(factory, client, runtime):
    shop = await factory.tenant(country="US")
    rep = await shop.user("sales_rep", locale="en")
    unknown = f"nobody-{secrets.token_hex(3)}@{shop.tenant.slug}.test"

    # From a new address each time, so only the count per email can stop them.
    answers = [
        (await _ask_for_link(client, rep.email, address=f"198.51.100.{attempt}")).status_code
        for attempt in range(3)
    ]
    limited = await _ask_for_link(client, rep.email, address="198.51.100.99")
    unknown_answers = [
        (await _ask_for_link(client, unknown, address=f"203.0.113.{attempt}")).status_code
        for attempt in range(4)
    ]

    assert answers == [303, 303, 303]
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 15 * 60
    assert "Too many requests for a new password. Try again in 15 minutes." in await limited.get_data(
        as_text=True
    )
    assert len(await _reset_mails(runtime.db, rep.email)) == 3
    # An address without an account is counted the same: the limit tells nobody which one has one.
    assert unknown_answers == [303, 303, 303, 429]


async def test_one_client_address_asking_for_many_emails_is_stopped(backend, tmp_path, factory, runtime):
    shop = await factory.tenant(country="US")
    rep = await shop.user("sales_rep", locale="en")
    async with _app_with(backend, tmp_path, login_attempts_per_window=3, login_window_seconds=600) as app:
        client = app.test_client()
        for attempt in range(3):
            guess = f"guess-{attempt}@{shop.tenant.slug}.test"
            assert (await _ask_for_link(client, guess, address="192.0.2.77")).status_code == 303

        limited = await _ask_for_link(client, rep.email, address="192.0.2.77")
        elsewhere = await _ask_for_link(client, rep.email, address="203.0.113.8")

    assert limited.status_code == 429 and 0 < int(limited.headers["Retry-After"]) <= 600
    assert elsewhere.status_code == 303
    assert len(await _reset_mails(runtime.db, rep.email)) == 1


async def test_asking_without_the_forms_token_is_refused_and_sends_nothing(factory, client, runtime):
    shop = await factory.tenant(country="US")
    rep = await shop.user("sales_rep", locale="en")

    response = await client.post("/password-reset", form={"email": rep.email})

    assert response.status_code == 403
    assert await _reset_mails(runtime.db, rep.email) == []


async def test_two_submissions_of_one_link_at_once_set_one_password(factory, runtime):
    shop = await factory.tenant(country="US")
    rep = await shop.user("sales_rep", locale="en")
    link = await _link_for(runtime.db, shop.id, rep.actor.user_id)

    async def choose(new: str) -> str:
        await reset_password(runtime.db, link, new=new, repeated=new)
        return new

    results = await asyncio.gather(
        choose("first-new-password"), choose("second-new-password"), return_exceptions=True
    )

    won = [result for result in results if isinstance(result, str)]
    refused = [result for result in results if isinstance(result, ResetLinkUsed)]
    assert (len(won), len(refused)) == (1, 1), results
    loser = ({"first-new-password", "second-new-password"} - set(won)).pop()
    assert await _signs_in(runtime.db, rep.email, won[0])
    assert not await _signs_in(runtime.db, rep.email, loser)
    async with runtime.db.system() as session:
        changes = await session.scalars(
            select(Event.id).where(Event.type == "user.password_changed", Event.tenant_id == shop.id)
        )
        assert len(list(changes)) == 1


async def test_the_mail_is_in_the_users_language(factory, client, runtime):
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="fr", name="Luc Favre")

    await _ask_for_link(client, advisor.email)

    [mail] = await _reset_mails(runtime.db, advisor.email)
    assert mail.language == "fr"
    assert mail.subject == f"Choisissez un nouveau mot de passe Pitwall pour {shop.tenant.name}"
    assert mail.text.startswith("Bonjour Luc Favre,")
    assert mail.html is not None and '<html lang="fr">' in mail.html
