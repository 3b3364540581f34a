"""Your account (the page behind one's own name in the header): every signed-in user chooses the
language of their pages there, next to changing their password."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from ops.auth.actor import RuleViolation
from ops.auth.models import User
from ops.auth.service import change_own_language
from ops.events import Event
from ops.i18n import current_locale
from tests.factories import PASSWORD
from tests.web import sign_in


@pytest.fixture(autouse=True)
def english_messages():  # type: ignore[no-untyped-def]
    token = current_locale.set("en")
    yield
    current_locale.reset(token)


async def _locale_and_changes(db, tenant_id: int, user_id: int) -> tuple[str | None, list[dict]]:  # type: ignore[no-untyped-def, type-arg]
    async with db.read(tenant_id) as session:
        locale = await session.scalar(select(User.locale).where(User.id == user_id))
        changes = (await session.scalars(select(Event).where(Event.type == "user.changed"))).all()
    return locale, [event.payload for event in changes]


async def test_a_user_chooses_their_language_and_it_is_recorded(factory, runtime):
    shop = await factory.tenant(country="US")
    tech = await shop.user("technician")

    async with runtime.db.uow(tech.actor) as uow:
        await change_own_language(uow, "de")
    async with runtime.db.uow(tech.actor) as uow:
        await change_own_language(uow, "de")  # the same again changes nothing
    async with runtime.db.uow(tech.actor) as uow:
        await change_own_language(uow, None)

    locale, changes = await _locale_and_changes(runtime.db, shop.id, tech.actor.user_id)
    assert locale is None, "back to the dealership's language"
    assert [(change["id"], change["locale"]) for change in changes] == [
        (tech.actor.user_id, "de"),
        (tech.actor.user_id, None),
    ]


async def test_an_unknown_language_is_refused_and_nothing_changes(factory, runtime):
    shop = await factory.tenant(country="US")
    tech = await shop.user("technician", locale="en")

    with pytest.raises(RuleViolation) as refused:
        async with runtime.db.uow(tech.actor) as uow:
            await change_own_language(uow, "xx")

    assert (refused.value.field, str(refused.value)) == ("locale", "Choose one of the languages.")
    assert await _locale_and_changes(runtime.db, shop.id, tech.actor.user_id) == ("en", [])


async def test_the_account_page_offers_the_languages_of_the_add_user_form_and_the_password(factory, client):
    shop = await factory.tenant(country="US")
    await sign_in(client, shop.admin.email)

    board = await (await client.get("/workshop/board")).get_data(as_text=True)
    account = await (await client.get("/account/password")).get_data(as_text=True)
    users = await (await client.get("/settings/users")).get_data(as_text=True)

    assert 'href="/account/password" title="Your account"' in board
    assert "<h1>Your account</h1>" in account and "Current password" in account
    offered = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', account)
    assert offered == [("", "The dealership&#39;s language"), ("en", "English"), ("de", "Deutsch")]
    add_user_form = users[
        users.index('id="user-locale"') : users.index("</select>", users.index('id="user-locale"'))
    ]
    assert re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', add_user_form) == offered


async def test_after_choosing_deutsch_the_next_page_is_in_german(factory, client, runtime):
    shop = await factory.tenant(country="US")
    tech = await shop.user("technician")
    csrf = await sign_in(client, tech.email)
    assert 'lang="en' in await (await client.get("/workshop/board")).get_data(as_text=True)

    response = await client.post("/account/language", form={"csrf_token": csrf, "locale": "de"})

    assert response.status_code == 303 and response.headers["Location"] == "/account/password"
    account = await (await client.get("/account/password")).get_data(as_text=True)
    assert 'lang="de' in account and "<h1>Ihr Konto</h1>" in account
    assert "Ihre Sprache ist gespeichert." in account
    assert re.search(r'<option value="de" selected>Deutsch</option>', account)
    board = await (await client.get("/workshop/board")).get_data(as_text=True)
    assert 'lang="de' in board and "Abmelden" in board
    assert (await _locale_and_changes(runtime.db, shop.id, tech.actor.user_id))[0] == "de"


async def test_an_unknown_language_is_named_next_to_the_menu_and_nothing_is_saved(factory, client, runtime):
    shop = await factory.tenant(country="US")
    viewer = await shop.user("viewer", locale="en")
    csrf = await sign_in(client, viewer.email)

    response = await client.post("/account/language", form={"csrf_token": csrf, "locale": "klingon"})

    html = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<p class="field-error" id="language-locale-error">Choose one of the languages.</p>' in html
    assert 'aria-describedby="language-locale-error"' in html
    assert await _locale_and_changes(runtime.db, shop.id, viewer.actor.user_id) == ("en", [])
    # The password form on the refused page still changes the password.
    assert 'action="/account/password"' in html
    changed = await client.post(
        "/account/password",
        form={
            "csrf_token": csrf,
            "current_password": PASSWORD,
            "new_password": "blue-tractor-lemon",
            "repeated_password": "blue-tractor-lemon",
        },
    )
    assert changed.status_code == 303
