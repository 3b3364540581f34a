"""The job board's filters (bay, technician, priority, overdue), and what a card says about its bay,
a comeback, and who may reassign it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from ops.db import utcnow
from ops.workshop.models import WorkOrder
from ops.workshop.service import NewWorkOrder, assign_work_order, create_work_order
from tests.web import sign_in
from tests.workshop.order_helpers import add_bay
from tests.workshop.test_board import card_of, counts_of

BOARD = "/workshop/board"


async def _assigned(shop, *, technician=None, bay=None, status="NEW", priority="NORMAL"):  # type: ignore[no-untyped-def]
    work_order = await shop.work_order(status=status, priority=priority)
    async with shop.db.uow(shop.admin.actor) as uow:
        return await assign_work_order(
            uow,
            work_order.id,
            technician.actor.user_id if technician else None,
            bay.id if bay else None,
            work_order.version,
        )


async def _promise(shop, work_order, when: datetime) -> None:  # type: ignore[no-untyped-def]
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(WorkOrder).where(WorkOrder.id == work_order.id).values(promised_at=when)
        )
        await uow.commit()


def _choice(names, key: str, value: str) -> str:  # type: ignore[no-untyped-def]
    """A filter value in the URL: a bay's or technician's id for its name here, else as it is."""
    if value not in names:
        return value
    return str(names[value].id if key == "bay" else names[value].actor.user_id)


def shown(page: str) -> set[int]:
    return {int(n) for n in re.findall(r'<li class="card[^"]*" id="wo-(\d+)"', page)}


@pytest.fixture
async def workshop(factory):  # type: ignore[no-untyped-def]
    """Five jobs spread over two bays, two technicians, priorities and promised times."""
    shop = await factory.tenant()
    luca = await shop.user("technician", name="Luca")
    mia = await shop.user("technician", name="Mia")
    lift, ev = await add_bay(shop, "Lift 1"), await add_bay(shop, "EV bay")
    jobs = {
        "luca_lift": await _assigned(shop, technician=luca, bay=lift, status="IN_PROGRESS"),
        "mia_ev_urgent": await _assigned(shop, technician=mia, bay=ev, priority="URGENT"),
        "mia_lift_late": await _assigned(shop, technician=mia, bay=lift, status="SCHEDULED"),
        "nobody": await shop.work_order(priority="URGENT"),
        "luca_no_bay": await _assigned(shop, technician=luca, status="CHECKED_IN", priority="LOW"),
    }
    await _promise(shop, jobs["mia_lift_late"], utcnow() - timedelta(hours=2))
    await _promise(shop, jobs["nobody"], utcnow() + timedelta(days=1))
    viewer = await shop.user("viewer", locale="en")
    return shop, viewer, {"luca": luca, "mia": mia, "lift": lift, "ev": ev}, jobs


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"luca_lift", "mia_ev_urgent", "mia_lift_late", "nobody", "luca_no_bay"}),
        ({"bay": "lift"}, {"luca_lift", "mia_lift_late"}),
        ({"bay": "none"}, {"nobody", "luca_no_bay"}),
        ({"technician": "mia"}, {"mia_ev_urgent", "mia_lift_late"}),
        ({"technician": "none"}, {"nobody"}),
        ({"priority": "URGENT"}, {"mia_ev_urgent", "nobody"}),
        ({"overdue": "1"}, {"mia_lift_late"}),
        ({"technician": "luca", "bay": "lift"}, {"luca_lift"}),
        ({"technician": "mia", "priority": "LOW"}, set()),
        # A value that is no choice is ignored rather than hiding everything.
        (
            {"bay": "abc", "priority": "SOON", "overdue": "yes"},
            {"luca_lift", "mia_ev_urgent", "mia_lift_late", "nobody", "luca_no_bay"},
        ),
    ],
)
async def test_the_board_shows_only_the_jobs_that_match_its_filter(client, workshop, query, expected):
    """A manager looking at one bay or one technician would see everybody's jobs, or miss some."""
    _shop, viewer, names, jobs = workshop
    await sign_in(client, viewer.email)
    args = {key: _choice(names, key, value) for key, value in query.items()}

    page = await (await client.get(BOARD, query_string=args)).get_data(as_text=True)

    assert shown(page) == {jobs[name].id for name in expected}
    # The counts are those of the filtered board.
    assert sum(counts_of(page).values()) == len(expected)


async def test_the_filter_stays_in_the_url_of_the_form_the_board_and_its_live_reset(client, workshop):
    """After a reset (or a reload) a filtered wall screen would show every job again."""
    _shop, viewer, names, _jobs = workshop
    await sign_in(client, viewer.email)
    bay = names["lift"].id

    page = await (await client.get(BOARD, query_string={"bay": str(bay), "overdue": "1"})).get_data(
        as_text=True
    )
    fragment = await (
        await client.get(
            BOARD, query_string={"bay": str(bay), "overdue": "1"}, headers={"HX-Request": "true"}
        )
    ).get_data(as_text=True)

    assert f'<option value="{bay}" selected>Lift 1</option>' in page
    assert '<input type="checkbox" name="overdue" value="1" checked>' in page
    assert 'href="/workshop/board">Show all jobs</a>' in page
    for html in (page, fragment):
        assert f'hx-get="/workshop/board?bay={bay}&amp;overdue=1"' in html
        assert f'data-filter-bay="{bay}"' in html and 'data-filter-overdue="1"' in html
        assert 'data-filter-technician=""' in html


async def test_an_unfiltered_board_has_no_filter_marks(client, workshop):
    _shop, viewer, _names, _jobs = workshop
    await sign_in(client, viewer.email)

    page = await (await client.get(BOARD)).get_data(as_text=True)

    assert "data-filtered" not in page
    assert "Show all jobs" not in page
    assert 'hx-get="/workshop/board"' in page


async def test_a_card_carries_what_the_live_filter_checks(client, workshop):
    _shop, viewer, names, jobs = workshop
    await sign_in(client, viewer.email)

    page = await (await client.get(BOARD)).get_data(as_text=True)

    late = card_of(page, jobs["mia_lift_late"].id)
    assert f'data-bay="{names["lift"].id}"' in late
    assert f'data-technician="{names["mia"].actor.user_id}"' in late
    assert 'data-priority="NORMAL"' in late
    assert re.search(r'data-promised="\d{4}-\d\d-\d\dT[\d:.]+\+00:00"', late)
    nobody = card_of(page, jobs["nobody"].id)
    assert 'data-bay="none"' in nobody and 'data-technician="none"' in nobody


async def test_a_card_shows_its_bay(client, workshop):
    _shop, viewer, _names, jobs = workshop
    await sign_in(client, viewer.email)

    page = await (await client.get(BOARD)).get_data(as_text=True)

    assert "<dt>Bay</dt><dd>EV bay</dd>" in card_of(page, jobs["mia_ev_urgent"].id)
    assert "<dt>Bay</dt><dd>—</dd>" in card_of(page, jobs["nobody"].id)


async def test_a_comeback_is_flagged_on_its_card(client, factory, runtime):
    """A car back within a month of a repair would look like any new job."""
    shop = await factory.tenant()
    viewer = await shop.user("viewer", locale="en")
    done = await shop.work_order(status="CLOSED")  # repaired and collected
    async with runtime.db.uow(shop.admin.actor) as uow:
        again = await create_work_order(uow, NewWorkOrder(vehicle_id=done.vehicle_id, complaint="Same again"))
    fresh = await shop.work_order()
    await sign_in(client, viewer.email)

    page = await (await client.get(BOARD)).get_data(as_text=True)

    assert '<span class="badge comeback"' in card_of(page, again.id)
    assert ">Comeback</span>" in card_of(page, again.id)
    assert "comeback" not in card_of(page, fresh.id)


@pytest.mark.parametrize(
    ("role", "offered"),
    [
        ("workshop_manager", True),
        ("service_advisor", True),
        ("admin", True),
        ("technician", False),
        ("viewer", False),
    ],
)
async def test_the_assign_control_is_offered_to_those_who_may_reassign(client, factory, role, offered):
    shop = await factory.tenant()
    user = await shop.user(role, locale="en")
    open_job = await shop.work_order(status="IN_PROGRESS")
    ready = await shop.work_order(status="READY")
    await sign_in(client, user.email)

    page = await (await client.get(BOARD)).get_data(as_text=True)

    control = f'hx-get="/workshop/work-orders/{open_job.id}/assign"'
    assert (control in card_of(page, open_job.id)) is offered
    # An invoiced job is not reassigned.
    assert "/assign" not in card_of(page, ready.id)
    if offered:
        assert "<summary>Assign" in card_of(page, open_job.id)
        assert f'<a href="/workshop/work-orders/{open_job.id}/assign">' in card_of(page, open_job.id)


async def test_the_overdue_filter_uses_the_time_of_the_request(client, factory):
    shop = await factory.tenant()
    viewer = await shop.user("viewer", locale="en")
    past = await shop.work_order()
    future = await shop.work_order()
    await _promise(shop, past, datetime(2001, 1, 1, tzinfo=UTC))
    await _promise(shop, future, datetime(2999, 1, 1, tzinfo=UTC))
    await sign_in(client, viewer.email)

    page = await (await client.get(BOARD, query_string={"overdue": "1"})).get_data(as_text=True)

    assert shown(page) == {past.id}
