"""Adding users: the plan's seat limit, unique emails, field errors, and who may add users at all."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from ops.auth.actor import PermissionDenied, RuleViolation
from ops.auth.models import User
from ops.auth.service import InvalidUser, create_user, sign_in
from ops.events import Event
from ops.i18n import current_locale
from tests.factories import PASSWORD


@pytest.fixture(autouse=True)
def english_messages():  # type: ignore[no-untyped-def]
    token = current_locale.set("en")
    yield
    current_locale.reset(token)


async def _add(db, actor, email: str, *, role: str = "technician", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    async with db.uow(actor) as uow:
        return await create_user(uow, email=email, name="Nina Brunner", role=role, password=password)


async def _users_and_events(db, tenant_id: int) -> tuple[list[str], int]:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        emails = sorted((await session.scalars(select(User.email))).all())
        events = await session.scalar(select(func.count()).select_from(Event))
    return emails, events or 0


async def test_a_new_user_can_sign_in_with_their_password(factory, runtime):
    shop = await factory.tenant()

    user = await _add(runtime.db, shop.admin.actor, f"Nina.Brunner@{shop.tenant.slug}.TEST")

    assert user.email == f"nina.brunner@{shop.tenant.slug}.test"
    assert user.password_hash != PASSWORD
    signed_in = await sign_in(runtime.db, user.email, PASSWORD)
    assert (signed_in.actor.user_id, signed_in.actor.role, signed_in.actor.tenant_id) == (
        user.id,
        "technician",
        shop.id,
    )
    async with runtime.db.read(shop.id) as session:
        created = (await session.scalars(select(Event).where(Event.type == "user.created"))).all()
    assert [(e.payload["id"], e.payload["role"]) for e in created] == [(user.id, "technician")]


async def test_the_sixth_user_of_a_starter_dealership_is_refused_with_the_reason(factory, runtime):
    shop = await factory.tenant(plan="STARTER")
    for number in range(4):  # the admin is the first of five
        await _add(runtime.db, shop.admin.actor, f"user{number}@{shop.tenant.slug}.test")
    before = await _users_and_events(runtime.db, shop.id)
    assert len(before[0]) == 5

    with pytest.raises(RuleViolation) as refused:
        await _add(runtime.db, shop.admin.actor, f"sixth@{shop.tenant.slug}.test")

    assert str(refused.value) == (
        "The Starter plan allows 5 users and all are in use. Upgrade the plan or deactivate a user."
    )
    assert await _users_and_events(runtime.db, shop.id) == before


async def test_users_of_other_dealerships_do_not_take_seats(factory, runtime):
    full = await factory.tenant(plan="STARTER")
    for number in range(4):
        await _add(runtime.db, full.admin.actor, f"user{number}@{full.tenant.slug}.test")
    small = await factory.tenant(plan="STARTER")

    for number in range(4):
        await _add(runtime.db, small.admin.actor, f"user{number}@{small.tenant.slug}.test")

    assert len((await _users_and_events(runtime.db, small.id))[0]) == 5


async def test_a_professional_dealership_has_room_for_more_than_five(factory, runtime):
    shop = await factory.tenant(plan="PROFESSIONAL")

    for number in range(5):
        await _add(runtime.db, shop.admin.actor, f"user{number}@{shop.tenant.slug}.test")

    assert len((await _users_and_events(runtime.db, shop.id))[0]) == 6


async def test_two_admins_adding_the_last_free_seat_at_once_get_exactly_one_user(factory, runtime):
    shop = await factory.tenant(plan="STARTER")
    for number in range(3):
        await _add(runtime.db, shop.admin.actor, f"user{number}@{shop.tenant.slug}.test")

    results = await asyncio.gather(
        _add(runtime.db, shop.admin.actor, f"first@{shop.tenant.slug}.test"),
        _add(runtime.db, shop.admin.actor, f"second@{shop.tenant.slug}.test"),
        return_exceptions=True,
    )

    created = [result for result in results if isinstance(result, User)]
    refused = [result for result in results if isinstance(result, RuleViolation)]
    assert (len(created), len(refused)) == (1, 1), results
    assert "The Starter plan allows 5 users" in str(refused[0])
    assert len((await _users_and_events(runtime.db, shop.id))[0]) == 5


async def test_an_email_in_use_is_refused_in_any_dealership_and_in_any_case(factory, runtime):
    shop = await factory.tenant()
    other = await factory.tenant()
    taken = f"jonas@{shop.tenant.slug}.test"
    await _add(runtime.db, shop.admin.actor, taken)
    before = await _users_and_events(runtime.db, other.id)

    for email in (taken, taken.upper()):
        for admin in (shop.admin.actor, other.admin.actor):
            with pytest.raises(RuleViolation) as refused:
                await _add(runtime.db, admin, email)
            assert (refused.value.field, str(refused.value)) == (
                "email",
                "A user with this email already exists.",
            )

    assert await _users_and_events(runtime.db, other.id) == before


async def test_two_dealerships_adding_the_same_email_at_once_get_exactly_one_user(factory, runtime):
    first, second = await factory.tenant(), await factory.tenant()
    email = f"shared@{first.tenant.slug}.test"

    results = await asyncio.gather(
        _add(runtime.db, first.admin.actor, email),
        _add(runtime.db, second.admin.actor, email),
        return_exceptions=True,
    )

    assert sorted(type(result).__name__ for result in results) == ["RuleViolation", "User"], results
    refused = next(result for result in results if isinstance(result, RuleViolation))
    assert refused.field == "email"


BAD_FIELDS = [
    ({"role": "owner"}, "role", "Choose one of the roles."),
    ({"password": "short"}, "password", "Use a password of at least 10 characters."),
    ({"email": "not-an-email"}, "email", "Enter a valid email address."),
    ({"email": "two@@example.ch"}, "email", "Enter a valid email address."),
    ({"name": "   "}, "name", "Enter a name."),
    ({"name": "N" * 121}, "name", "Use at most 120 characters."),
    ({"locale": "xx"}, "locale", "Choose one of the languages."),
]


async def test_a_bad_field_is_named_and_nothing_is_written(factory, runtime):
    shop = await factory.tenant()
    before = await _users_and_events(runtime.db, shop.id)
    answers = []

    for changes, _field, _message in BAD_FIELDS:
        values = {
            "email": f"new@{shop.tenant.slug}.test",
            "name": "Nina Brunner",
            "role": "technician",
            "password": PASSWORD,
            **changes,
        }
        with pytest.raises(RuleViolation) as refused:
            async with runtime.db.uow(shop.admin.actor) as uow:
                await create_user(uow, **values)
        answers.append((changes, refused.value.field, str(refused.value)))

    assert answers == BAD_FIELDS
    assert await _users_and_events(runtime.db, shop.id) == before


async def test_only_an_admin_can_add_users(factory, runtime):
    shop = await factory.tenant()
    others = [
        await shop.user(role)
        for role in (
            "sales_manager",
            "sales_rep",
            "service_advisor",
            "workshop_manager",
            "technician",
            "viewer",
        )
    ]
    before = await _users_and_events(runtime.db, shop.id)

    for someone in others:
        with pytest.raises(PermissionDenied):
            await _add(runtime.db, someone.actor, f"new@{shop.tenant.slug}.test", role="admin")

    assert await _users_and_events(runtime.db, shop.id) == before


async def test_every_problem_of_a_new_user_is_reported_at_once(factory, runtime):
    """The taken email and the full plan come with the typos, not one per submit."""
    shop = await factory.tenant(plan="STARTER")
    for number in range(4):
        await _add(runtime.db, shop.admin.actor, f"user{number}@{shop.tenant.slug}.test")
    before = await _users_and_events(runtime.db, shop.id)

    with pytest.raises(InvalidUser) as refused:
        async with runtime.db.uow(shop.admin.actor) as uow:
            await create_user(
                uow, email=shop.admin.email, name=" ", role="owner", password="short", locale="xx"
            )

    assert refused.value.errors == {
        "name": "Enter a name.",
        "email": "A user with this email already exists.",
        "role": "Choose one of the roles.",
        "locale": "Choose one of the languages.",
        "password": "Use a password of at least 10 characters.",
        "__all__": (
            "The Starter plan allows 5 users and all are in use. Upgrade the plan or deactivate a user."
        ),
    }
    assert await _users_and_events(runtime.db, shop.id) == before
