"""Moving cards on the job board: allowed moves, refused moves, stale versions, races, permissions."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from ops.auth.actor import Conflict
from ops.events import Event
from ops.workshop.models import WorkOrder
from ops.workshop.service import move_work_order
from tests.web import sign_in


async def _reload(db, tenant_id: int, work_order_id: int) -> WorkOrder:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        return (await session.execute(select(WorkOrder).where(WorkOrder.id == work_order_id))).scalar_one()


async def test_an_allowed_move_changes_the_status_and_records_who_and_when(client, factory, runtime):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", name="Jonas Meier")
    work_order = await shop.work_order()
    token = await sign_in(client, advisor.email)

    response = await client.post(
        f"/workshop/work-orders/{work_order.id}/move",
        form={"status": "SCHEDULED", "version": str(work_order.version)},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )

    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert 'hx-swap-oob="afterbegin:#cards-SCHEDULED"' in html
    assert 'id="count-SCHEDULED"' in html
    stored = await _reload(runtime.db, shop.id, work_order.id)
    assert (stored.status, stored.version) == ("SCHEDULED", work_order.version + 1)
    async with runtime.db.read(shop.id) as session:
        moved = (await session.scalars(select(Event).where(Event.type == "work_order.moved"))).all()
    assert [(e.payload["from"], e.payload["to"], e.actor_id, e.actor_name) for e in moved] == [
        ("NEW", "SCHEDULED", advisor.actor.user_id, "Jonas Meier")
    ]
    assert moved[0].created_at is not None


async def test_a_move_the_rules_do_not_allow_is_refused_and_changes_nothing(client, factory, runtime):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order()
    token = await sign_in(client, advisor.email)

    response = await client.post(
        f"/workshop/work-orders/{work_order.id}/move",
        form={"status": "READY", "version": str(work_order.version)},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )

    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert "cannot move from New to Ready" in html
    # The card is put back where it really is.
    assert 'hx-swap-oob="afterbegin:#cards-NEW"' in html
    stored = await _reload(runtime.db, shop.id, work_order.id)
    assert (stored.status, stored.version) == ("NEW", work_order.version)


async def test_a_stale_version_answers_409_with_the_current_state(client, factory, runtime):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order()
    async with runtime.db.uow(shop.admin.actor) as uow:
        await move_work_order(uow, work_order.id, "SCHEDULED", work_order.version)
    token = await sign_in(client, advisor.email)

    response = await client.post(
        f"/workshop/work-orders/{work_order.id}/move",
        form={"status": "CHECKED_IN", "version": str(work_order.version)},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )

    assert response.status_code == 409
    html = await response.get_data(as_text=True)
    assert "changed by someone else" in html
    assert 'hx-swap-oob="afterbegin:#cards-SCHEDULED"' in html
    stored = await _reload(runtime.db, shop.id, work_order.id)
    assert stored.status == "SCHEDULED"


async def test_two_simultaneous_moves_of_one_card_one_wins_one_conflicts(factory, runtime):
    shop = await factory.tenant()
    first = await shop.user("service_advisor")
    second = await shop.user("workshop_manager")
    work_order = await shop.work_order()

    async def move(actor, status):  # type: ignore[no-untyped-def]
        try:
            async with runtime.db.uow(actor) as uow:
                await move_work_order(uow, work_order.id, status, work_order.version)
            return "moved"
        except Conflict:
            return "conflict"

    results = await asyncio.gather(move(first.actor, "SCHEDULED"), move(second.actor, "CHECKED_IN"))

    assert sorted(results) == ["conflict", "moved"]
    stored = await _reload(runtime.db, shop.id, work_order.id)
    assert stored.version == work_order.version + 1
    assert stored.status == ("SCHEDULED" if results[0] == "moved" else "CHECKED_IN")


async def test_a_viewer_cannot_move_cards(client, factory, runtime):
    shop = await factory.tenant()
    viewer = await shop.user("viewer")
    work_order = await shop.work_order()
    token = await sign_in(client, viewer.email)

    response = await client.post(
        f"/workshop/work-orders/{work_order.id}/move",
        form={"status": "SCHEDULED", "version": str(work_order.version)},
        headers={"X-CSRF-Token": token},
    )

    assert response.status_code == 403
    assert (await _reload(runtime.db, shop.id, work_order.id)).status == "NEW"


async def test_a_move_without_the_cards_version_is_refused_with_a_reason(client, factory, runtime):
    """A garbled form would move a card blindly over someone else's change."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order()
    token = await sign_in(client, advisor.email)

    for version in ("", "abc", "0"):
        response = await client.post(
            f"/workshop/work-orders/{work_order.id}/move",
            form={"status": "SCHEDULED", "version": version},
            headers={"HX-Request": "true", "X-CSRF-Token": token},
        )
        assert response.status_code == 422
        assert "version is missing; reload the board" in await response.get_data(as_text=True)

    assert (await _reload(runtime.db, shop.id, work_order.id)).status == "NEW"


async def test_a_job_without_a_bay_is_not_moved_into_work_and_the_board_says_why(client, factory, runtime):
    """Dragged to In progress (or sent there with the move menu) with no bay, the card went into work on
    no bay; now it stays checked in, with the reason on the board, and nothing is written."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="CHECKED_IN")
    token = await sign_in(client, advisor.email)
    async with runtime.db.read(shop.id) as session:
        events_before = await session.scalar(select(func.count()).select_from(Event))

    response = await client.post(
        f"/workshop/work-orders/{work_order.id}/move",
        form={"status": "IN_PROGRESS", "version": str(work_order.version)},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )

    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert f"{work_order.code} has no bay: a job is worked on in a bay. Assign a bay to it first" in html
    # The card is put back where it really is.
    assert 'hx-swap-oob="afterbegin:#cards-CHECKED_IN"' in html
    stored = await _reload(runtime.db, shop.id, work_order.id)
    assert (stored.status, stored.version, stored.occupied_bay_id) == ("CHECKED_IN", work_order.version, None)
    async with runtime.db.read(shop.id) as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == events_before
