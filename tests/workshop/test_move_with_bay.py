"""A move into work that brings its bay: the board's bay dialog (GET .../bay-choice) and the move it sends
(POST .../move with bay_id), taken or refused as one change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ops.events import Event
from ops.workshop.models import WorkOrder, WorkOrderHistory
from ops.workshop.service import assign_work_order, check_in_work_order, move_work_order, schedule_work_order
from tests.web import sign_in
from tests.workshop.order_helpers import add_bay, hours, stored

HTMX = {"HX-Request": "true"}


def url(work_order, action: str) -> str:  # type: ignore[no-untyped-def]
    return f"/workshop/work-orders/{work_order.id}/{action}"


async def _staff(client, factory, role="workshop_manager"):  # type: ignore[no-untyped-def]
    shop = await factory.tenant(country="CH")
    user = await shop.user(role, locale="en", name="Mara Manager")
    token = await sign_in(client, user.email)
    return shop, user, token


async def _events(db, tenant_id: int) -> list[Event]:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        return list((await session.scalars(select(Event).order_by(Event.id))).all())


async def _move(client, token, work_order, status: str, bay_id: object):  # type: ignore[no-untyped-def]
    return await client.post(
        url(work_order, "move"),
        form={"status": status, "bay_id": str(bay_id), "version": str(work_order.version)},
        headers={**HTMX, "X-CSRF-Token": token},
    )


async def test_a_job_without_a_bay_goes_into_work_on_the_bay_sent_with_the_move(client, factory, runtime):
    shop, manager, token = await _staff(client, factory)
    lift = await add_bay(shop, "Lift 2")
    job = await shop.work_order(status="CHECKED_IN")
    before = len(await _events(runtime.db, shop.id))

    response = await _move(client, token, job, "IN_PROGRESS", lift.id)

    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert 'hx-swap-oob="afterbegin:#cards-IN_PROGRESS"' in html
    assert "<dd>Lift 2</dd>" in html
    # Said once: the move; the bay given with it is not a second announcement.
    assert f"{job.code} moved to In progress by Mara Manager." in html
    assert "reassigned" not in html
    row = await stored(runtime.db, shop.id, WorkOrder, job.id)
    assert (row.status, row.bay_id, row.occupied_bay_id, row.version) == (
        "IN_PROGRESS",
        lift.id,
        lift.id,
        job.version + 1,
    )
    events = (await _events(runtime.db, shop.id))[before:]
    assert [(event.type, event.actor_id) for event in events] == [
        ("work_order.moved", manager.actor.user_id),
        ("work_order.assigned", manager.actor.user_id),
    ]
    assert events[1].payload == {
        "id": job.id,
        "number": job.code,
        "technician_id": None,
        "bay_id": lift.id,
        "version": job.version + 1,
        "status_changed": True,
    }
    async with runtime.db.read(shop.id) as session:
        history = (
            await session.scalars(select(WorkOrderHistory).where(WorkOrderHistory.work_order_id == job.id))
        ).all()
    assert [(entry.from_status, entry.to_status) for entry in history][-1] == ("CHECKED_IN", "IN_PROGRESS")


async def test_the_refusal_for_want_of_a_bay_names_the_bay_field_for_the_board(client, factory, runtime):
    """The board opens its bay dialog on a toast about the bay; any other refusal stays a toast."""
    shop, _manager, token = await _staff(client, factory)
    job = await shop.work_order(status="CHECKED_IN")

    response = await client.post(
        url(job, "move"),
        form={"status": "IN_PROGRESS", "version": str(job.version)},
        headers={**HTMX, "X-CSRF-Token": token},
    )

    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert 'role="alert" data-field="bay_id">' in html
    assert f"{job.code} has no bay" in html


@pytest.mark.parametrize("bay_kind", ["taken", "out of service", "another dealership's"])
async def test_a_bay_the_job_cannot_have_is_refused_and_nothing_moves(client, factory, runtime, bay_kind):
    shop, _manager, token = await _staff(client, factory)
    job = await shop.work_order(status="CHECKED_IN")
    if bay_kind == "taken":
        holder = await shop.work_order(status="IN_PROGRESS")
        bay_id, message = holder.bay_id, f"is taken by {holder.code}: a bay holds one job at a time."
    elif bay_kind == "out of service":
        bay_id = (await add_bay(shop, "Old lift", active=False)).id
        message = "Old lift is out of service; choose another bay."
    else:
        other = await factory.tenant()
        bay_id, message = (await add_bay(other, "Their lift")).id, "Choose one of the bays."
    before = len(await _events(runtime.db, shop.id))

    response = await _move(client, token, job, "IN_PROGRESS", bay_id)

    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert message in html and 'data-field="bay_id"' in html
    assert 'hx-swap-oob="afterbegin:#cards-CHECKED_IN"' in html
    row = await stored(runtime.db, shop.id, WorkOrder, job.id)
    assert (row.status, row.bay_id, row.occupied_bay_id, row.version) == (
        "CHECKED_IN",
        None,
        None,
        job.version,
    )
    assert len(await _events(runtime.db, shop.id)) == before


async def test_a_move_the_rules_refuse_gives_no_bay_either(client, factory, runtime):
    shop, _manager, token = await _staff(client, factory)
    lift = await add_bay(shop)
    job = await shop.work_order()

    response = await _move(client, token, job, "IN_PROGRESS", lift.id)

    assert response.status_code == 422
    assert f"{job.code} cannot move from New to In progress." in await response.get_data(as_text=True)
    row = await stored(runtime.db, shop.id, WorkOrder, job.id)
    assert (row.status, row.bay_id, row.version) == ("NEW", None, job.version)


async def test_a_booked_job_is_not_moved_onto_a_bay_booked_for_another_job_then(client, factory, runtime):
    """The job keeps its slot, so its new bay must be free then, as when it is reassigned."""
    shop, _manager, token = await _staff(client, factory)
    luca, mia = await shop.user("technician"), await shop.user("technician")
    lift_1, lift_2 = await add_bay(shop, "Lift 1"), await add_bay(shop, "Lift 2")
    job, other = await shop.work_order(), await shop.work_order()
    async with shop.db.uow(shop.admin.actor) as uow:
        job = await schedule_work_order(uow, job.id, lift_1.id, luca.actor.user_id, *hours(1, 3), job.version)
    async with shop.db.uow(shop.admin.actor) as uow:
        job = await check_in_work_order(uow, job.id, 1000, job.version)
    async with shop.db.uow(shop.admin.actor) as uow:
        await schedule_work_order(uow, other.id, lift_2.id, mia.actor.user_id, *hours(2, 4), other.version)

    response = await _move(client, token, job, "IN_PROGRESS", lift_2.id)

    assert response.status_code == 422
    assert f"Lift 2 is booked for {other.code}" in await response.get_data(as_text=True)
    row = await stored(runtime.db, shop.id, WorkOrder, job.id)
    assert (row.status, row.bay_id, row.version) == ("CHECKED_IN", lift_1.id, job.version)


async def test_a_technician_may_move_but_not_give_a_bay(client, factory, runtime):
    shop, _technician, token = await _staff(client, factory, role="technician")
    lift = await add_bay(shop)
    job = await shop.work_order(status="CHECKED_IN")

    response = await _move(client, token, job, "IN_PROGRESS", lift.id)

    assert response.status_code == 403
    row = await stored(runtime.db, shop.id, WorkOrder, job.id)
    assert (row.status, row.bay_id, row.version) == ("CHECKED_IN", None, job.version)


async def test_the_bay_dialog_offers_only_the_bays_free_now(client, factory, runtime):
    shop, _manager, _token = await _staff(client, factory)
    await add_bay(shop, "Lift 1")
    await add_bay(shop, "Old lift", active=False)
    holder = await shop.work_order(status="IN_PROGRESS")
    job = await shop.work_order(status="CHECKED_IN")

    response = await client.get(url(job, "bay-choice") + "?status=IN_PROGRESS", headers=HTMX)

    assert response.status_code == 200
    fragment = await response.get_data(as_text=True)
    assert fragment.lstrip().startswith(f'<form method="post" action="/workshop/work-orders/{job.id}/move"')
    options = [
        name for name in ("Lift 1", "Old lift", f"Lift #{holder.number}") if f">{name}</option>" in fragment
    ]
    assert options == ["Lift 1"]
    assert f'name="version" value="{job.version}"' in fragment
    assert 'name="status" value="IN_PROGRESS"' in fragment
    assert "It has no bay yet." in fragment
    assert "Move to In progress" in fragment


async def test_the_bay_dialog_says_which_job_is_in_the_jobs_own_bay(client, factory, runtime):
    """A job planned on a bay another job went into meanwhile has a bay, but cannot go into work on it."""
    shop, _manager, token = await _staff(client, factory)
    await add_bay(shop, "Lift 1")
    lift_3 = await add_bay(shop, "Lift 3")
    job, holder = await shop.work_order(status="CHECKED_IN"), await shop.work_order(status="CHECKED_IN")
    async with shop.db.uow(shop.admin.actor) as uow:
        job = await assign_work_order(uow, job.id, None, lift_3.id, job.version)
    async with shop.db.uow(shop.admin.actor) as uow:
        await move_work_order(uow, holder.id, "IN_PROGRESS", holder.version, bay_id=lift_3.id)

    refused = await _move(client, token, job, "IN_PROGRESS", "")
    response = await client.get(url(job, "bay-choice") + "?status=IN_PROGRESS", headers=HTMX)

    assert refused.status_code == 422 and 'data-field="bay_id"' in await refused.get_data(as_text=True)
    fragment = await response.get_data(as_text=True)
    assert f"Its bay Lift 3 is taken by {holder.code}" in fragment
    assert ">Lift 1</option>" in fragment and ">Lift 3</option>" not in fragment


async def test_without_javascript_the_bay_choice_is_a_page_whose_form_moves_the_job(client, factory, runtime):
    shop, _manager, token = await _staff(client, factory)
    lift = await add_bay(shop, "Lift 1")
    job = await shop.work_order(status="CHECKED_IN")

    page = await client.get(url(job, "bay-choice") + "?status=IN_PROGRESS")
    posted = await client.post(
        url(job, "move"),
        form={
            "csrf_token": token,
            "version": str(job.version),
            "status": "IN_PROGRESS",
            "bay_id": str(lift.id),
        },
    )

    html = await page.get_data(as_text=True)
    assert page.status_code == 200 and f"<h1>A bay for {job.code}</h1>" in html
    assert 'name="csrf_token"' in html and "Back to the board" in html
    # Nothing to cancel a dialog with on a page of its own.
    assert "data-dialog-cancel" not in html
    assert posted.status_code == 303
    assert (await stored(runtime.db, shop.id, WorkOrder, job.id)).occupied_bay_id == lift.id


@pytest.mark.parametrize(
    ("role", "query", "status"),
    [
        ("technician", "?status=IN_PROGRESS", 403),
        ("workshop_manager", "?status=SCHEDULED", 404),
        ("workshop_manager", "", 404),
    ],
)
async def test_the_bay_dialog_is_for_those_who_assign_bays_and_moves_into_work(
    client, factory, role, query, status
):
    shop, _user, _token = await _staff(client, factory, role=role)
    job = await shop.work_order(status="CHECKED_IN")

    response = await client.get(url(job, "bay-choice") + query, headers=HTMX)

    assert response.status_code == status


async def test_another_dealerships_job_has_no_bay_dialog(client, factory):
    _shop, _manager, _token = await _staff(client, factory)
    theirs = await (await factory.tenant()).work_order(status="CHECKED_IN")

    response = await client.get(url(theirs, "bay-choice") + "?status=IN_PROGRESS", headers=HTMX)

    assert response.status_code == 404


@pytest.mark.parametrize(("role", "has_dialog"), [("workshop_manager", True), ("technician", False)])
async def test_the_board_has_the_bay_dialog_for_whoever_assigns_bays(client, factory, role, has_dialog):
    _shop, _user, _token = await _staff(client, factory, role=role)

    page = await (await client.get("/workshop/board")).get_data(as_text=True)

    assert ('<dialog id="bay-dialog"' in page) is has_dialog
