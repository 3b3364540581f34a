"""Settings > Users: an admin adds users, changes roles, deactivates and reactivates them.

Roles and the active flag are read on every request, so a change applies from the user's next click;
the tenant's row lock keeps the seat limit and at least one active administrator under concurrency.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from ops.auth.actor import RuleViolation
from ops.auth.models import User, UserSession
from ops.auth.service import change_role, create_user, set_user_active
from ops.events import Event
from ops.i18n import current_locale
from tests.factories import PASSWORD, TenantFactory
from tests.web import http_sign_in, open_sse, sign_in


@pytest.fixture(autouse=True)
def english_messages():  # type: ignore[no-untyped-def]
    token = current_locale.set("en")
    yield
    current_locale.reset(token)


async def _user_row(db, tenant_id: int, user_id: int) -> tuple[str, bool]:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        user = await session.scalar(select(User).where(User.id == user_id))
        return user.role, user.active


async def _count(db, tenant_id: int, model, *where) -> int:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_the_admin_adds_a_user_who_can_then_sign_in(factory, client, app):
    shop = await factory.tenant(country="US")
    csrf = await sign_in(client, shop.admin.email)

    page = await client.get("/settings/users")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200
    assert "1 of 20 users active on the Professional plan." in html
    response = await client.post(
        "/settings/users",
        form={
            "csrf_token": csrf,
            "name": "Nina Brunner",
            "email": f"Nina@{shop.tenant.slug}.test",
            "role": "service_advisor",
            "locale": "de",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 303
    listed = await (await client.get("/settings/users")).get_data(as_text=True)
    assert "Nina Brunner can sign in now as Service advisor." in listed
    assert f"nina@{shop.tenant.slug}.test" in listed and "2 of 20 users active" in listed

    newcomer = app.test_client()
    await sign_in(newcomer, f"nina@{shop.tenant.slug}.test")
    board = await newcomer.get("/workshop/board")
    assert board.status_code == 200 and 'lang="de' in await board.get_data(as_text=True)


async def test_a_bad_field_is_marked_and_nothing_is_added(factory, client, runtime):
    shop = await factory.tenant(country="US")
    csrf = await sign_in(client, shop.admin.email)
    events = await _count(runtime.db, shop.id, Event)
    good = {"csrf_token": csrf, "name": "Nina", "email": f"nina@{shop.tenant.slug}.test", "role": "viewer"}

    cases = [
        ({**good, "password": "short"}, "user-password-error", "at least 10 characters"),
        ({**good, "password": PASSWORD, "email": "not-an-email"}, "user-email-error", ""),
        ({**good, "password": PASSWORD, "name": "  "}, "user-name-error", "Enter a name."),
        ({**good, "password": PASSWORD, "role": "owner"}, "user-role-error", "Choose one of the roles."),
        ({**good, "password": PASSWORD, "email": shop.admin.email}, "user-email-error", "already exists"),
    ]
    for form, error_id, text in cases:
        response = await client.post("/settings/users", form=form)
        html = await response.get_data(as_text=True)
        assert response.status_code == 422, form
        assert f'id="{error_id}"' in html and text in html and "Nothing was saved" in html
        # What was typed stays in the form, except the password.
        assert 'value="Nina"' in html or form["name"].strip() == ""
        assert PASSWORD not in html

    assert await _count(runtime.db, shop.id, User) == 1
    assert await _count(runtime.db, shop.id, Event) == events


async def test_a_role_change_applies_from_the_users_next_click(factory, client, app, runtime):
    shop = await factory.tenant(country="US")
    tech = await shop.user("technician", name="Gian Caflisch")
    tech_client = app.test_client()
    await sign_in(tech_client, tech.email)
    assert (await tech_client.get("/workshop/work-orders/new")).status_code == 403

    csrf = await sign_in(client, shop.admin.email)
    response = await client.post(
        f"/settings/users/{tech.actor.user_id}/role", form={"csrf_token": csrf, "role": "service_advisor"}
    )
    assert response.status_code == 303
    html = await (await client.get("/settings/users")).get_data(as_text=True)
    assert "Gian Caflisch is now Service advisor." in html

    assert (await tech_client.get("/workshop/work-orders/new")).status_code == 200
    async with runtime.db.read(shop.id) as session:
        changed = (await session.scalars(select(Event).where(Event.type == "user.changed"))).all()
    assert [(e.payload["id"], e.payload["role"], e.payload["active"]) for e in changed] == [
        (tech.actor.user_id, "service_advisor", True)
    ]


async def test_a_deactivated_user_is_signed_out_at_once_and_cannot_sign_in(factory, client, app, runtime):
    shop = await factory.tenant(country="US")
    rep = await shop.user("sales_rep", name="Lea Frei")
    rep_client = app.test_client()
    await sign_in(rep_client, rep.email)
    assert (await rep_client.get("/sales/board")).status_code == 200

    csrf = await sign_in(client, shop.admin.email)
    response = await client.post(f"/settings/users/{rep.actor.user_id}/deactivate", form={"csrf_token": csrf})
    assert response.status_code == 303
    html = await (await client.get("/settings/users")).get_data(as_text=True)
    assert "Lea Frei is deactivated and signed out everywhere." in html and "Deactivated" in html

    kicked_out = await rep_client.get("/sales/board")
    assert kicked_out.status_code == 302 and "/login" in kicked_out.headers["Location"]
    assert await _count(runtime.db, shop.id, UserSession, UserSession.user_id == rep.actor.user_id) == 0
    login = await app.test_client().get("/login")
    assert login.status_code == 200
    with pytest.raises(AssertionError):
        await sign_in(app.test_client(), rep.email)

    response = await client.post(f"/settings/users/{rep.actor.user_id}/reactivate", form={"csrf_token": csrf})
    assert response.status_code == 303
    assert "Lea Frei can sign in again." in await (await client.get("/settings/users")).get_data(as_text=True)
    await sign_in(app.test_client(), rep.email)


async def test_reactivating_needs_a_free_seat(factory, client, runtime):
    shop = await factory.tenant(plan="STARTER", country="US")
    gone = await shop.user("viewer", name="Peter Graf")
    async with runtime.db.uow(shop.admin.actor) as uow:
        await set_user_active(uow, gone.actor.user_id, False)
    for _ in range(4):  # the admin and four more fill the Starter plan's five seats
        await shop.user("technician")
    csrf = await sign_in(client, shop.admin.email)

    response = await client.post(
        f"/settings/users/{gone.actor.user_id}/reactivate", form={"csrf_token": csrf}
    )
    assert response.status_code == 303
    html = await (await client.get("/settings/users")).get_data(as_text=True)
    assert "The Starter plan allows 5 users and all are in use." in html
    assert await _user_row(runtime.db, shop.id, gone.actor.user_id) == ("viewer", False)


async def test_an_admin_cannot_change_their_own_account(factory, client, runtime):
    shop = await factory.tenant(country="US")
    csrf = await sign_in(client, shop.admin.email)
    me = shop.admin.actor.user_id

    for path, form in (
        (f"/settings/users/{me}/role", {"role": "viewer"}),
        (f"/settings/users/{me}/deactivate", {}),
    ):
        response = await client.post(path, form={"csrf_token": csrf, **form})
        assert response.status_code == 303
        html = await (await client.get("/settings/users")).get_data(as_text=True)
        assert "Ask another administrator to change your own account." in html
    assert await _user_row(runtime.db, shop.id, me) == ("admin", True)


async def test_two_admins_removing_each_other_at_once_leave_one_admin(factory, runtime):
    """Each sees the other as a second admin; the tenant's row lock makes the second one see the first
    one's change, so exactly one of them is refused."""
    shop = await factory.tenant(country="US")
    other = await shop.user("admin", name="Reto Baumann")

    async def demote(actor, user_id):  # type: ignore[no-untyped-def]
        async with runtime.db.uow(actor) as uow:
            return await change_role(uow, user_id, "viewer")

    results = await asyncio.gather(
        demote(shop.admin.actor, other.actor.user_id),
        demote(other.actor, shop.admin.actor.user_id),
        return_exceptions=True,
    )

    refused = [result for result in results if isinstance(result, RuleViolation)]
    assert len(refused) == 1, results
    assert "is the only active administrator" in str(refused[0])
    assert await _count(runtime.db, shop.id, User, User.role == "admin", User.active.is_(True)) == 1


async def test_the_last_admin_cannot_be_deactivated_or_demoted_by_another_tenant_or_role(
    factory, client, app
):
    """Only an admin reaches the page (403 for others); another dealership's user ids are 404."""
    shop, other = await factory.tenant(country="US"), await factory.tenant(country="US")
    manager = await shop.user("workshop_manager")

    await sign_in(client, manager.email)
    assert (await client.get("/settings/users")).status_code == 403

    other_client = app.test_client()
    csrf = await sign_in(other_client, other.admin.email)
    target = shop.admin.actor.user_id
    for action, form in (("role", {"role": "viewer"}), ("deactivate", {}), ("reactivate", {})):
        response = await other_client.post(
            f"/settings/users/{target}/{action}", form={"csrf_token": csrf, **form}
        )
        assert response.status_code == 404, action
    listed = await (await other_client.get("/settings/users")).get_data(as_text=True)
    assert shop.admin.email not in listed


async def test_another_admins_list_is_told_of_every_user_added_or_changed(live_server):
    """Two administrators at once: one would go on offering a seat that is taken, or a role menu for
    someone already deactivated. The list only hears of its own dealership's users, and only an
    administrator may listen."""
    factory = TenantFactory(live_server.runtime.db)
    shop = await factory.tenant()
    other = await factory.tenant()
    watching = await shop.user("admin", locale="en")
    tech = await shop.user("technician", locale="en")

    async with http_sign_in(live_server.url, watching.email) as (client, _token):
        async with open_sse(client, "users") as stream:
            for change in (
                lambda uow: change_role(uow, tech.actor.user_id, "service_advisor"),
                lambda uow: set_user_active(uow, tech.actor.user_id, False),
                lambda uow: create_user(
                    uow,
                    email=f"new-{shop.tenant.slug}@example.ch",
                    name="Nina",
                    role="viewer",
                    password=PASSWORD,
                ),
            ):
                async with shop.db.uow(shop.admin.actor) as uow:
                    await change(uow)
                told = await stream.next()
                assert told.event == "update" and 'class="users-changed"' in told.data

            await other.user("technician", locale="en")
            async with shop.db.uow(shop.admin.actor) as uow:
                await set_user_active(uow, tech.actor.user_id, False)  # no change: nothing recorded
            await stream.expect_silence(0.3)

        page = await client.get("/settings/users", headers={"HX-Request": "true"})
        assert page.text.lstrip().startswith('<div id="users-live"')
        assert "Deactivated" in page.text and "Nina" in page.text

    manager = await shop.user("workshop_manager", locale="en")
    async with http_sign_in(live_server.url, manager.email) as (client, _token):
        refused = await client.get("/live", params={"topic": "users"})
        assert refused.status_code == 404


async def test_every_bad_field_of_one_submit_is_marked_at_once(factory, client, runtime):
    """A bad email and a short password: both are named, not the email only after the password is fixed."""
    shop = await factory.tenant(country="US")
    csrf = await sign_in(client, shop.admin.email)

    response = await client.post(
        "/settings/users",
        form={
            "csrf_token": csrf,
            "name": "X",
            "email": "not-an-email",
            "role": "viewer",
            "password": "short",
        },
    )

    html = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<p class="field-error" id="user-email-error">Enter a valid email address.</p>' in html
    assert (
        '<p class="field-error" id="user-password-error">Use a password of at least 10 characters.</p>'
        in html
    )
    assert await _count(runtime.db, shop.id, User) == 1
