"""Passwords: a user changes their own, an admin sets one for a user who forgot theirs, and the hash
never runs on the event loop's thread."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import pytest

from ops.auth.actor import RuleViolation
from ops.auth.service import SignInRefused, change_own_password, sign_in
from ops.config import Settings
from ops.i18n import current_locale
from tests.conftest import Backend, make_settings
from tests.factories import PASSWORD
from tests.web import sign_in as web_sign_in

NEW_PASSWORD = "blue-tractor-lemon"


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    # Three wrong tries per window, counted under a Redis prefix of this test's own: the sign-in
    # counters of earlier tests on the same backend must not use up its sign-ins.
    return make_settings(
        backend,
        tmp_path,
        login_attempts_per_window=3,
        redis_prefix=f"{backend.redis_prefix}:passwords-{secrets.token_hex(4)}",
    )


@pytest.fixture(autouse=True)
def english_messages():  # type: ignore[no-untyped-def]
    token = current_locale.set("en")
    yield
    current_locale.reset(token)


def _form(
    csrf: str, current: str = PASSWORD, new: str = NEW_PASSWORD, repeated: str | None = None
) -> dict[str, str]:
    repeated = new if repeated is None else repeated
    return {
        "csrf_token": csrf,
        "current_password": current,
        "new_password": new,
        "repeated_password": repeated,
    }


async def _signs_in(db, email: str, password: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        await sign_in(db, email, password)
    except SignInRefused:
        return False
    return True


async def test_a_user_changes_their_password_and_their_other_browsers_are_signed_out(
    factory, client, app, runtime
):
    shop = await factory.tenant(country="US")
    tech = await shop.user("technician")
    phone = app.test_client()
    await web_sign_in(phone, tech.email)
    csrf = await web_sign_in(client, tech.email)

    page = await client.get("/account/password")
    assert page.status_code == 200 and "Current password" in await page.get_data(as_text=True)
    response = await client.post("/account/password", form=_form(csrf))
    assert response.status_code == 303
    done = await (await client.get("/account/password")).get_data(as_text=True)
    assert "Your password is changed." in done

    assert (await client.get("/workshop/board")).status_code == 200
    signed_out = await phone.get("/workshop/board")
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    assert not await _signs_in(runtime.db, tech.email, PASSWORD)
    assert await _signs_in(runtime.db, tech.email, NEW_PASSWORD)


async def test_a_refused_change_names_the_field_and_changes_nothing(factory, client, runtime):
    shop = await factory.tenant(country="US")
    csrf = await web_sign_in(client, shop.admin.email)

    cases = [
        (_form(csrf, new="short"), "new_password", "Use a password of at least 10 characters."),
        (
            _form(csrf, repeated="blue-tractor-lemons"),
            "repeated_password",
            "The two passwords are not the same.",
        ),
        (_form(csrf, new=PASSWORD), "new_password", "Choose a password other than the current one."),
        (_form(csrf, current="not-my-password"), "current_password", "Your current password is not correct."),
    ]
    for form, field, message in cases:
        response = await client.post("/account/password", form=form)
        html = await response.get_data(as_text=True)
        assert response.status_code == 422, message
        assert f'id="password-{field}-error"' in html and message in html
        assert NEW_PASSWORD not in html and PASSWORD not in html
    assert await _signs_in(runtime.db, shop.admin.email, PASSWORD)


async def test_guessing_the_current_password_is_stopped(factory, client, runtime):
    """Someone at an unlocked screen gets three wrong tries per window (this module's settings)."""
    shop = await factory.tenant(country="US")
    csrf = await web_sign_in(client, shop.admin.email)
    for guess in ("guess-one-1", "guess-two-2", "guess-three-3"):
        assert (await client.post("/account/password", form=_form(csrf, current=guess))).status_code == 422

    stopped = await client.post("/account/password", form=_form(csrf))
    assert stopped.status_code == 429 and int(stopped.headers["Retry-After"]) > 0
    assert "Too many wrong passwords." in await stopped.get_data(as_text=True)
    assert await _signs_in(runtime.db, shop.admin.email, PASSWORD)


async def test_two_changes_at_once_with_the_same_old_password_leave_one_new_password(factory, runtime):
    shop = await factory.tenant(country="US")
    rep = await shop.user("sales_rep")
    signed_in = await sign_in(runtime.db, rep.email, PASSWORD)

    async def change(new: str) -> str:
        await change_own_password(
            runtime.db, rep.actor, current=PASSWORD, new=new, repeated=new, session_token=signed_in.token
        )
        return new

    results = await asyncio.gather(
        change("first-new-password"), change("second-new-password"), return_exceptions=True
    )

    won = [result for result in results if isinstance(result, str)]
    refused = [result for result in results if isinstance(result, RuleViolation)]
    assert (len(won), len(refused)) == (1, 1), results
    assert refused[0].field == "current_password"
    loser = ({"first-new-password", "second-new-password"} - set(won)).pop()
    assert await _signs_in(runtime.db, rep.email, won[0])
    assert not await _signs_in(runtime.db, rep.email, loser)


async def test_an_admin_sets_a_new_password_for_a_user_who_forgot_theirs(factory, client, app, runtime):
    shop = await factory.tenant(country="US")
    tech = await shop.user("technician", name="Luca Rossi")
    tech_client = app.test_client()
    await web_sign_in(tech_client, tech.email)
    csrf = await web_sign_in(client, shop.admin.email)

    page = await client.get(f"/settings/users/{tech.actor.user_id}/password")
    html = await page.get_data(as_text=True)
    assert (
        page.status_code == 200 and "New password for Luca Rossi" in html and "Current password" not in html
    )
    mismatch = await client.post(
        f"/settings/users/{tech.actor.user_id}/password",
        form={"csrf_token": csrf, "new_password": NEW_PASSWORD, "repeated_password": "something-else"},
    )
    assert mismatch.status_code == 422
    assert await _signs_in(runtime.db, tech.email, PASSWORD)

    response = await client.post(
        f"/settings/users/{tech.actor.user_id}/password",
        form={"csrf_token": csrf, "new_password": NEW_PASSWORD, "repeated_password": NEW_PASSWORD},
    )
    assert response.status_code == 303
    listed = await (await client.get("/settings/users")).get_data(as_text=True)
    assert "Luca Rossi has a new password and is signed out everywhere." in listed
    assert (await tech_client.get("/workshop/board")).status_code == 302
    assert await _signs_in(runtime.db, tech.email, NEW_PASSWORD)
    assert not await _signs_in(runtime.db, tech.email, PASSWORD)


async def test_only_an_admin_of_the_same_dealership_sets_passwords(factory, client, app):
    shop, other = await factory.tenant(country="US"), await factory.tenant(country="US")
    manager = await shop.user("workshop_manager")
    target = f"/settings/users/{shop.admin.actor.user_id}/password"
    form = {"new_password": NEW_PASSWORD, "repeated_password": NEW_PASSWORD}

    csrf = await web_sign_in(client, manager.email)
    assert (await client.get(target)).status_code == 403
    assert (await client.post(target, form={"csrf_token": csrf, **form})).status_code == 403

    outsider = app.test_client()
    csrf = await web_sign_in(outsider, other.admin.email)
    assert (await outsider.get(target)).status_code == 404
    assert (await outsider.post(target, form={"csrf_token": csrf, **form})).status_code == 404

    admin = app.test_client()
    csrf = await web_sign_in(admin, shop.admin.email)
    own = await admin.post(target, form={"csrf_token": csrf, **form})
    assert own.status_code == 422
    assert "Ask another administrator to change your own account." in await own.get_data(as_text=True)


async def test_checking_a_password_leaves_the_event_loop_free(factory, runtime):
    """argon2 takes ~150 ms of CPU per check on purpose; live updates must not wait for it."""
    shop = await factory.tenant(country="US")
    worst_gap, done = 0.0, asyncio.Event()

    async def ticker() -> None:
        nonlocal worst_gap
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            worst_gap, last = max(worst_gap, now - last), now

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    await sign_in(runtime.db, shop.admin.email, PASSWORD)
    took = time.perf_counter() - started
    done.set()
    await ticking
    # Inline, the loop would stand still for the whole check: the worst gap would be about `took`.
    assert worst_gap < took / 2, (worst_gap, took)
