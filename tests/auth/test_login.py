"""Signing in and out: who gets in, where they land, what the cookie allows, and when it stops working."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import select, update

from ops.app import create_app
from ops.auth.models import User, UserSession
from ops.auth.service import SESSION_LIFETIME
from ops.tenants.models import Tenant
from tests.conftest import make_settings
from tests.factories import PASSWORD
from tests.web import csrf_from, sign_in

WRONG_CREDENTIALS = "Email or password is not correct."


async def _post_login(client, email: str, password: str, **extra: str):  # type: ignore[no-untyped-def]
    page = await client.get("/login")
    if page.status_code == 302:  # already signed in: take the token from the page it sends us to
        page = await client.get(page.headers["Location"], follow_redirects=True)
    token = csrf_from(await page.get_data(as_text=True))
    form = {"email": email, "password": password, "csrf_token": token, **extra}
    return await client.post("/login", form=form)


def _session_set_cookie(response) -> str:  # type: ignore[no-untyped-def]
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith("pitwall_session="):
            return str(header)
    raise AssertionError(f"no session cookie in {response.headers.getlist('Set-Cookie')}")


def _cookie_value(client) -> str:  # type: ignore[no-untyped-def]
    return next(cookie.value for cookie in client.cookie_jar if cookie.name == "pitwall_session")


async def _board_status_with_cookie(app, cookie: str) -> int:  # type: ignore[no-untyped-def]
    """What a browser holding only this cookie gets for the board (200 signed in, 302 to sign-in)."""
    replay = app.test_client(use_cookies=False)
    response = await replay.get("/workshop/board", headers={"Cookie": f"pitwall_session={cookie}"})
    return int(response.status_code)


async def _sessions_of(db, user_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    async with db.system() as session:
        return list(
            (await session.scalars(select(UserSession.id).where(UserSession.user_id == user_id))).all()
        )


async def test_the_right_password_signs_in_and_lands_on_the_start_page(client, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", name="Jonas Meier")

    response = await _post_login(client, advisor.email, PASSWORD)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    board = await client.get("/workshop/board")
    assert board.status_code == 200
    assert "Jonas Meier" in await board.get_data(as_text=True)


async def test_the_email_is_matched_regardless_of_case_and_spaces(client, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")

    response = await _post_login(client, f"  {advisor.email.upper()} ", PASSWORD)

    assert response.status_code == 302


async def test_sign_in_returns_to_the_page_that_asked_for_it(client, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")

    asked = await client.get("/workshop/board")
    assert asked.status_code == 302
    assert asked.headers["Location"] == "/login?next=/workshop/board"
    response = await _post_login(client, advisor.email, PASSWORD, next="/workshop/board")

    assert response.status_code == 302
    assert response.headers["Location"] == "/workshop/board"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/login",
        "//evil.example/login",
        "/\\evil.example/login",
        "/\t/evil.example/login",
        "javascript:alert(1)",
        "evil.example/login",
    ],
)
async def test_sign_in_never_redirects_to_another_site(client, factory, target):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")

    response = await _post_login(client, advisor.email, PASSWORD, next=target)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    # Already signed in, the sign-in page sends them on with the same care.
    again = await client.get("/login", query_string={"next": target})
    assert again.headers["Location"] == "/"


async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(client, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")

    wrong_password = await _post_login(client, advisor.email, "not-the-password")
    unknown_email = await _post_login(client, f"nobody-{shop.tenant.slug}@example.ch", "not-the-password")

    assert wrong_password.status_code == unknown_email.status_code == 401
    for response in (wrong_password, unknown_email):
        assert WRONG_CREDENTIALS in await response.get_data(as_text=True)
    assert (await client.get("/workshop/board")).status_code == 302


async def test_a_deactivated_user_cannot_sign_in_and_is_told_nothing_more(client, factory, runtime):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    async with runtime.db.system(write=True) as session:
        await session.execute(update(User).where(User.id == advisor.actor.user_id).values(active=False))
        await session.commit()

    response = await _post_login(client, advisor.email, PASSWORD)

    assert response.status_code == 401
    assert WRONG_CREDENTIALS in await response.get_data(as_text=True)
    assert await _sessions_of(runtime.db, advisor.actor.user_id) == []


async def _suspend(db, tenant_id: int) -> None:  # type: ignore[no-untyped-def]
    async with db.system(write=True) as session:
        await session.execute(update(Tenant).where(Tenant.id == tenant_id).values(status="SUSPENDED"))
        await session.commit()


async def test_a_suspended_dealership_cannot_sign_in_and_is_told_why(client, factory, runtime):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    await _suspend(runtime.db, shop.id)

    response = await _post_login(client, advisor.email, PASSWORD)

    assert response.status_code == 401
    assert "account is suspended" in await response.get_data(as_text=True)
    assert await _sessions_of(runtime.db, advisor.actor.user_id) == []


async def test_a_suspended_dealership_does_not_learn_passwords_from_the_suspension_notice(
    client, factory, runtime
):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    await _suspend(runtime.db, shop.id)

    response = await _post_login(client, advisor.email, "not-the-password")

    assert response.status_code == 401
    assert WRONG_CREDENTIALS in await response.get_data(as_text=True)


async def test_suspension_ends_sessions_that_were_already_signed_in(client, factory, runtime):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    await sign_in(client, advisor.email)

    await _suspend(runtime.db, shop.id)

    response = await client.get("/workshop/board")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


async def test_the_session_cookie_is_hidden_from_scripts_and_not_sent_cross_site(client, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")

    response = await _post_login(client, advisor.email, PASSWORD)

    cookie = _session_set_cookie(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http in development and tests


async def test_the_cookie_lasts_as_long_as_the_session_and_is_not_sent_again_with_every_page(client, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")

    response = await _post_login(client, advisor.email, PASSWORD)
    cookie = _session_set_cookie(response)
    board = await client.get("/workshop/board")

    expires = parsedate_to_datetime(cookie.split("Expires=", 1)[1].split(";", 1)[0])
    # As long as the session's row on the server.
    assert abs(expires - (datetime.now(UTC) + SESSION_LIFETIME)) < timedelta(minutes=5)
    assert board.status_code == 200
    assert not [
        value for value in board.headers.getlist("Set-Cookie") if value.startswith("pitwall_session=")
    ]


async def test_in_production_the_session_cookie_only_travels_over_https(backend, tmp_path, factory):
    production = create_app(make_settings(backend, tmp_path, env="production"))
    async with production.test_app():
        shop = await factory.tenant()
        advisor = await shop.user("service_advisor")

        response = await _post_login(production.test_client(), advisor.email, PASSWORD)

    assert response.status_code == 302
    cookie = _session_set_cookie(response)
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


async def test_a_cookie_from_before_sign_in_does_not_become_signed_in(app, client, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    await client.get("/login")
    planted = _cookie_value(client)

    await _post_login(client, advisor.email, PASSWORD)

    assert _cookie_value(client) != planted
    assert await _board_status_with_cookie(app, _cookie_value(client)) == 200
    assert await _board_status_with_cookie(app, planted) == 302


async def test_each_sign_in_opens_a_new_session_and_ends_the_previous_one_in_that_browser(
    app, client, factory, runtime
):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    await _post_login(client, advisor.email, PASSWORD)
    first_cookie = _cookie_value(client)
    first_sessions = await _sessions_of(runtime.db, advisor.actor.user_id)

    await _post_login(client, advisor.email, PASSWORD)

    second_sessions = await _sessions_of(runtime.db, advisor.actor.user_id)
    assert len(first_sessions) == len(second_sessions) == 1
    assert first_sessions != second_sessions
    assert await _board_status_with_cookie(app, first_cookie) == 302
    assert await _board_status_with_cookie(app, _cookie_value(client)) == 200


async def test_signing_in_elsewhere_keeps_the_other_browsers_signed_in(app, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    laptop, tablet = app.test_client(), app.test_client()

    await _post_login(laptop, advisor.email, PASSWORD)
    await _post_login(tablet, advisor.email, PASSWORD)

    assert (await laptop.get("/workshop/board")).status_code == 200
    assert (await tablet.get("/workshop/board")).status_code == 200


async def test_sign_out_ends_the_session_on_the_server_so_a_copied_cookie_stops_working(
    app, client, factory, runtime
):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    token = await sign_in(client, advisor.email)
    copied = _cookie_value(client)
    assert await _board_status_with_cookie(app, copied) == 200

    response = await client.post("/logout", form={"csrf_token": token})

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert "You are signed out." in await (await client.get("/login")).get_data(as_text=True)
    assert await _sessions_of(runtime.db, advisor.actor.user_id) == []
    assert await _board_status_with_cookie(app, copied) == 302
    assert (await client.get("/workshop/board")).status_code == 302


async def test_an_empty_form_asks_for_email_and_password(client):
    response = await _post_login(client, "", "")

    assert response.status_code == 422
    assert "Enter your email and password." in await response.get_data(as_text=True)
