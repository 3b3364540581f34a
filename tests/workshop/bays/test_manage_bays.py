"""Managing bays: /workshop/bays/manage, /new, POST /workshop/bays, /<id>/edit, POST /<id>."""

from __future__ import annotations

import asyncio
import html
import re

import pytest
from sqlalchemy import func, select

from ops.auth.actor import RuleViolation
from ops.events import Event
from ops.workshop.bays.service import create_bay, update_bay
from ops.workshop.models import Bay
from ops.workshop.service import assign_work_order, move_work_order
from tests.web import sign_in


async def _bays(db, tenant_id: int) -> list[tuple[str, str, bool]]:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        rows = await session.execute(select(Bay.name, Bay.kind, Bay.active).order_by(Bay.id))
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def _events(db, tenant_id: int) -> int:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        return int(
            await session.scalar(select(func.count()).select_from(Event).where(Event.type.like("bay.%"))) or 0
        )


def _field_error(page: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', page)
    assert match, f"no message next to {field}"
    return html.unescape(match.group(1))


async def test_a_manager_adds_a_bay_and_finds_it_in_the_list(client, factory):
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    csrf = await sign_in(client, manager.email)

    response = await client.post(
        "/workshop/bays",
        form={"name": "  Hebebühne   1 ", "kind": "LIFT", "active": "on", "csrf_token": csrf},
    )

    assert response.status_code == 302
    assert await _bays(shop.db, shop.id) == [("Hebebühne 1", "LIFT", True)]
    page = await (await client.get("/workshop/bays/manage")).get_data(as_text=True)
    assert "Hebebühne 1" in page and "Bay Hebebühne 1 added." in page
    assert await _events(shop.db, shop.id) == 1


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": "", "kind": "LIFT"}, "name", "This field is required."),
        ({"name": "x" * 41, "kind": "LIFT"}, "name", "Use at most 40 characters."),
        ({"name": "Platz 9", "kind": "SPACESHIP"}, "kind", "Choose one of the options."),
        ({"name": "Hebebühne 1", "kind": "EV"}, "name", "There is already a bay called Hebebühne 1."),
    ],
)
async def test_a_bad_field_is_named_next_to_it_and_nothing_is_written(client, factory, form, field, message):
    """A manager must see what to fix, and a half-valid bay must never appear on the bay view."""
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    async with shop.db.uow(manager.actor) as uow:
        await create_bay(uow, name="Hebebühne 1", kind="LIFT")
    csrf = await sign_in(client, manager.email)
    before = await _bays(shop.db, shop.id), await _events(shop.db, shop.id)

    response = await client.post("/workshop/bays", form={**form, "csrf_token": csrf})

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    assert _field_error(page, field) == message
    assert f'name="{field}"' in page
    assert (await _bays(shop.db, shop.id), await _events(shop.db, shop.id)) == before


async def test_renaming_and_switching_off_a_bay(client, factory):
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    async with shop.db.uow(manager.actor) as uow:
        bay = await create_bay(uow, name="Platz 1", kind="LIFT")
    csrf = await sign_in(client, manager.email)

    edit = await client.get(f"/workshop/bays/{bay.id}/edit")
    response = await client.post(
        f"/workshop/bays/{bay.id}", form={"name": "Achsvermessung", "kind": "ALIGNMENT", "csrf_token": csrf}
    )

    assert edit.status_code == 200 and 'value="Platz 1"' in await edit.get_data(as_text=True)
    assert response.status_code == 302
    assert await _bays(shop.db, shop.id) == [("Achsvermessung", "ALIGNMENT", False)]


async def test_a_bay_holding_a_job_cannot_be_switched_off(client, factory):
    """The job on it would vanish from the bay view while the car is still on the lift."""
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    async with shop.db.uow(manager.actor) as uow:
        bay = await create_bay(uow, name="Hebebühne 2", kind="LIFT")
    work_order = await shop.work_order(status="CHECKED_IN")
    async with shop.db.uow(manager.actor) as uow:
        work_order = await assign_work_order(uow, work_order.id, None, bay.id, work_order.version)
    async with shop.db.uow(manager.actor) as uow:
        await move_work_order(uow, work_order.id, "IN_PROGRESS", work_order.version)
    csrf = await sign_in(client, manager.email)

    response = await client.post(
        f"/workshop/bays/{bay.id}", form={"name": "Hebebühne 2", "kind": "LIFT", "csrf_token": csrf}
    )

    assert response.status_code == 422
    assert "holds a job right now" in _field_error(await response.get_data(as_text=True), "active")
    assert await _bays(shop.db, shop.id) == [("Hebebühne 2", "LIFT", True)]


@pytest.mark.parametrize("role", ["service_advisor", "technician", "viewer"])
async def test_only_managers_and_admins_manage_bays(client, factory, role):
    shop = await factory.tenant()
    async with shop.db.uow(shop.admin.actor) as uow:
        bay = await create_bay(uow, name="Hebebühne 1", kind="LIFT")
    user = await shop.user(role, locale="en")
    csrf = await sign_in(client, user.email)

    assert (await client.get("/workshop/bays/manage")).status_code == 403
    assert (await client.get("/workshop/bays/new")).status_code == 403
    created = await client.post("/workshop/bays", form={"name": "X", "kind": "LIFT", "csrf_token": csrf})
    edited = await client.post(
        f"/workshop/bays/{bay.id}", form={"name": "X", "kind": "LIFT", "csrf_token": csrf}
    )
    assert (created.status_code, edited.status_code) == (403, 403)
    overview = await (await client.get("/workshop/bays")).get_data(as_text=True)
    assert "/workshop/bays/manage" not in overview
    assert await _bays(shop.db, shop.id) == [("Hebebühne 1", "LIFT", True)]


async def test_another_dealerships_bay_is_not_found(client, factory):
    ours, theirs = await factory.tenant(), await factory.tenant()
    async with theirs.db.uow(theirs.admin.actor) as uow:
        their_bay = await create_bay(uow, name="Lift A", kind="LIFT")
    csrf = await sign_in(client, (await ours.user("admin", locale="en")).email)

    edit = await client.get(f"/workshop/bays/{their_bay.id}/edit")
    post = await client.post(
        f"/workshop/bays/{their_bay.id}", form={"name": "Mine now", "kind": "LIFT", "csrf_token": csrf}
    )
    bad_post = await client.post(f"/workshop/bays/{their_bay.id}", form={"name": "", "csrf_token": csrf})

    assert (edit.status_code, post.status_code, bad_post.status_code) == (404, 404, 404)
    assert await _bays(theirs.db, theirs.id) == [("Lift A", "LIFT", True)]


async def test_two_managers_naming_two_bays_the_same_at_once_get_one_bay(factory):
    """The unique name holds under a race: exactly one is created, the other is told why."""
    shop = await factory.tenant()
    first = await shop.user("workshop_manager")
    second = await shop.user("admin")

    async def add(actor):  # type: ignore[no-untyped-def]
        async with shop.db.uow(actor) as uow:
            return await create_bay(uow, name="EV-Platz", kind="EV")

    results = await asyncio.gather(add(first.actor), add(second.actor), return_exceptions=True)

    created = [r for r in results if isinstance(r, Bay)]
    refused = [r for r in results if isinstance(r, RuleViolation)]
    assert (len(created), len(refused)) == (1, 1), results
    assert refused[0].field == "name"
    assert await _bays(shop.db, shop.id) == [("EV-Platz", "EV", True)]


async def test_renaming_to_a_taken_name_is_refused_by_the_service(factory):
    shop = await factory.tenant()
    async with shop.db.uow(shop.admin.actor) as uow:
        await create_bay(uow, name="Waschplatz", kind="WASH")
    async with shop.db.uow(shop.admin.actor) as uow:
        other = await create_bay(uow, name="Diagnose", kind="DIAGNOSTICS")

    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(shop.admin.actor) as uow:
            await update_bay(uow, other.id, name="Waschplatz", kind="WASH", active=True)

    assert refused.value.field == "name"
    assert await _bays(shop.db, shop.id) == [("Waschplatz", "WASH", True), ("Diagnose", "DIAGNOSTICS", True)]
