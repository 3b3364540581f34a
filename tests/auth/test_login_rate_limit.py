"""Sign-in is rate limited per address and per email, so passwords cannot be guessed at speed."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from quart import Quart
from sqlalchemy import select

from ops.app import create_app
from ops.auth.models import UserSession
from ops.config import load_settings
from tests.conftest import REDIS_BACKENDS, make_settings
from tests.factories import PASSWORD
from tests.web import csrf_from

LIMIT = 3
TOO_MANY = "Too many sign-in attempts."


@asynccontextmanager
async def _limited_app(  # type: ignore[no-untyped-def]
    backend, tmp_path, prefix: str | None = None, proxy_hops: int = 0
) -> AsyncIterator[Quart]:
    """An app allowing LIMIT attempts per window, with counters of its own (a fresh Redis prefix)."""
    settings = make_settings(
        backend,
        tmp_path,
        login_attempts_per_window=LIMIT,
        login_window_seconds=600,
        redis_prefix=prefix or f"{backend.redis_prefix}:ratelimit-{secrets.token_hex(4)}",
        trusted_proxy_hops=proxy_hops,
    )
    application = create_app(settings)
    async with application.test_app():
        yield application


async def _attempt(  # type: ignore[no-untyped-def]
    app: Quart, email: str, password: str, address: str = "192.0.2.10", forwarded_for: str | None = None
):
    """One sign-in attempt from a fresh browser at `address` (optionally through a proxy)."""
    client = app.test_client()
    scope = {"client": (address, 50000)}
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    page = await client.get("/login", scope_base=scope, headers=headers)
    token = csrf_from(await page.get_data(as_text=True))
    return await client.post(
        "/login",
        form={"email": email, "password": password, "csrf_token": token},
        scope_base=scope,
        headers=headers,
    )


async def test_guessing_passwords_for_one_email_is_stopped_with_retry_after(
    backend, tmp_path, factory, runtime
):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    async with _limited_app(backend, tmp_path) as app:
        # Each guess from another address, so only the per-email counter can stop them.
        for guess in range(LIMIT):
            response = await _attempt(app, advisor.email, f"guess-{guess}", address=f"198.51.100.{guess}")
            assert response.status_code == 401

        limited = await _attempt(app, advisor.email, PASSWORD, address="198.51.100.200")

    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 600
    html = await limited.get_data(as_text=True)
    assert TOO_MANY in html
    assert "10 minutes" in html
    # Even the right password does not get in while the email is limited.
    async with runtime.db.system() as session:
        assert (
            await session.scalar(select(UserSession.id).where(UserSession.user_id == advisor.actor.user_id))
            is None
        )


async def test_one_address_trying_many_emails_is_stopped(backend, tmp_path, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    async with _limited_app(backend, tmp_path) as app:
        for guess in range(LIMIT):
            response = await _attempt(app, f"guess-{guess}@{shop.tenant.slug}.test", "whatever-password")
            assert response.status_code == 401

        limited = await _attempt(app, advisor.email, PASSWORD)
        elsewhere = await _attempt(app, advisor.email, PASSWORD, address="203.0.113.7")

    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert TOO_MANY in await limited.get_data(as_text=True)
    # Someone at another address is not locked out by the guesser.
    assert elsewhere.status_code == 302


async def test_attempts_within_the_limit_sign_in_normally(backend, tmp_path, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    async with _limited_app(backend, tmp_path) as app:
        for guess in range(LIMIT - 1):
            assert (await _attempt(app, advisor.email, f"typo-{guess}")).status_code == 401

        response = await _attempt(app, advisor.email, PASSWORD)

    assert response.status_code == 302


async def test_behind_a_trusted_load_balancer_each_client_address_has_its_own_limit(
    backend, tmp_path, factory
):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    balancer = "10.0.0.2"
    async with _limited_app(backend, tmp_path, proxy_hops=1) as app:
        for guess in range(LIMIT):
            email = f"guess-{guess}@{shop.tenant.slug}.test"
            response = await _attempt(app, email, "whatever-password", balancer, forwarded_for="203.0.113.5")
            assert response.status_code == 401

        guesser = await _attempt(app, advisor.email, PASSWORD, balancer, forwarded_for="203.0.113.5")
        colleague = await _attempt(app, advisor.email, PASSWORD, balancer, forwarded_for="198.51.100.9")

    assert guesser.status_code == 429
    assert colleague.status_code == 302


async def test_a_client_cannot_dodge_the_limit_by_sending_its_own_forwarded_for(backend, tmp_path, factory):
    shop = await factory.tenant()
    answers = []
    async with _limited_app(backend, tmp_path) as app:
        for guess in range(LIMIT + 1):
            email = f"guess-{guess}@{shop.tenant.slug}.test"
            response = await _attempt(app, email, "whatever-password", forwarded_for=f"192.0.2.{guess}")
            answers.append(response.status_code)

    assert answers == [401] * LIMIT + [429]


@pytest.mark.parametrize("backend", REDIS_BACKENDS, indirect=True)
async def test_the_limit_is_shared_by_every_web_process_through_redis(backend, tmp_path, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    prefix = f"{backend.redis_prefix}:ratelimit-{secrets.token_hex(4)}"
    async with (
        _limited_app(backend, tmp_path / "a", prefix) as first,
        _limited_app(backend, tmp_path / "b", prefix) as second,
    ):
        # A guesser alternating between two processes behind a load balancer.
        for guess in range(LIMIT):
            process = first if guess % 2 == 0 else second
            assert (await _attempt(process, advisor.email, f"guess-{guess}")).status_code == 401

        on_first = await _attempt(first, advisor.email, PASSWORD)
        on_second = await _attempt(second, advisor.email, PASSWORD)

    assert on_first.status_code == on_second.status_code == 429


def test_operators_name_their_proxy_hops_in_the_environment(tmp_path):
    environment = {"PITWALL_DATA_DIR": str(tmp_path)}

    assert load_settings(environment).trusted_proxy_hops == 0
    assert load_settings({**environment, "PITWALL_TRUSTED_PROXY_HOPS": "2"}).trusted_proxy_hops == 2


async def test_colleagues_signing_in_from_one_address_are_not_limited(backend, tmp_path, factory):
    shop = await factory.tenant()
    colleagues = [await shop.user("technician") for _ in range(LIMIT + 2)]
    async with _limited_app(backend, tmp_path) as app:
        answers = [(await _attempt(app, person.email, PASSWORD)).status_code for person in colleagues]

    assert answers == [302] * len(colleagues)
