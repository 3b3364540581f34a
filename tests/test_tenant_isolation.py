"""Tenant isolation end to end: a user of dealership A never reaches dealership B's work orders.

Another tenant's id answers 404 (never 403, never data), whether by URL, by form field, on the board
or over the live stream.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from ops.events import Event
from ops.workshop.models import WorkOrder
from ops.workshop.service import move_work_order
from tests.factories import TenantFactory
from tests.web import http_sign_in, open_sse, sign_in


async def _state(db, tenant_id: int, work_order_id: int) -> tuple[str, int, int]:  # type: ignore[no-untyped-def]
    """Status and version of one work order, and how many events its tenant has."""
    async with db.read(tenant_id) as session:
        status, version = (
            await session.execute(
                select(WorkOrder.status, WorkOrder.version).where(WorkOrder.id == work_order_id)
            )
        ).one()
        events = await session.scalar(select(func.count()).select_from(Event))
    return str(status), int(version), int(events or 0)


def correlation_id_of(response) -> str:  # type: ignore[no-untyped-def]
    return str(response.headers["X-Correlation-ID"])


@pytest.mark.parametrize("role", ["admin", "service_advisor", "workshop_manager", "technician", "viewer"])
@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
async def test_moving_another_dealerships_card_answers_404_for_every_role(
    client, factory, runtime, role, htmx
):
    """A user could move, or learn of, a competitor's jobs by guessing ids."""
    shop_a = await factory.tenant()
    shop_b = await factory.tenant()
    user = await shop_a.user(role, locale="en")
    theirs = await shop_b.work_order(complaint="B's secret complaint")
    token = await sign_in(client, user.email)
    before = await _state(runtime.db, shop_b.id, theirs.id)
    headers = {"X-CSRF-Token": token, **({"HX-Request": "true"} if htmx else {})}

    for form in (
        {"status": "SCHEDULED", "version": str(theirs.version)},
        {"status": "NOT_A_STATUS", "version": str(theirs.version)},
        {"status": "SCHEDULED", "version": ""},
    ):
        response = await client.post(f"/workshop/work-orders/{theirs.id}/move", form=form, headers=headers)
        body = await response.get_data(as_text=True)
        assert response.status_code == 404, (form, body)
        assert theirs.code not in body
        assert "B's secret complaint" not in body

    assert await _state(runtime.db, shop_b.id, theirs.id) == before


async def test_a_card_of_another_dealership_looks_exactly_like_a_card_that_does_not_exist(client, factory):
    """Different answers would tell a prober which ids belong to other dealerships."""
    shop_a = await factory.tenant()
    shop_b = await factory.tenant()
    advisor = await shop_a.user("service_advisor", locale="en")
    theirs = await shop_b.work_order()
    token = await sign_in(client, advisor.email)
    form = {"status": "SCHEDULED", "version": "1"}

    foreign = await client.post(
        f"/workshop/work-orders/{theirs.id}/move", form=form, headers={"X-CSRF-Token": token}
    )
    missing = await client.post(
        "/workshop/work-orders/987654321/move", form=form, headers={"X-CSRF-Token": token}
    )

    assert foreign.status_code == missing.status_code == 404

    def without_reference(body: str) -> str:
        return body.replace(correlation_id_of(foreign), "").replace(correlation_id_of(missing), "")

    assert without_reference(await foreign.get_data(as_text=True)) == without_reference(
        await missing.get_data(as_text=True)
    )


async def test_creating_a_work_order_for_another_dealerships_vehicle_is_a_field_error(
    client, factory, runtime
):
    """An advisor could open a job on a competitor's customer car and reveal it on their own board."""
    shop_a = await factory.tenant()
    shop_b = await factory.tenant()
    advisor = await shop_a.user("service_advisor", locale="en")
    await shop_a.vehicle()
    theirs = await shop_b.vehicle(plate="GE 654321", make="Alpine", model="A110")
    token = await sign_in(client, advisor.email)

    response = await client.post(
        "/workshop/work-orders",
        form={"csrf_token": token, "vehicle_id": str(theirs.id), "complaint": "Hijack", "priority": "NORMAL"},
    )

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    assert '<p class="field-error" id="vehicle_id-error">Choose a vehicle of this dealership.</p>' in page
    assert "GE 654321" not in page
    assert "Alpine" not in page
    for tenant_id in (shop_a.id, shop_b.id):
        async with runtime.db.read(tenant_id) as session:
            assert await session.scalar(select(func.count()).select_from(WorkOrder)) == 0


async def test_a_dealerships_board_never_shows_another_dealerships_cards(client, factory):
    """Staff would see a competitor's customers, cars and complaints on their wall screen."""
    shop_a = await factory.tenant()
    shop_b = await factory.tenant()
    viewer = await shop_a.user("viewer", locale="en")
    ours = await shop_a.work_order(complaint="Our own job")
    theirs = [
        await shop_b.work_order(complaint="Their confidential job", status=status)
        for status in ("NEW", "CHECKED_IN", "READY")
    ]
    await sign_in(client, viewer.email)

    for headers in ({}, {"HX-Request": "true"}):
        page = await (await client.get("/workshop/board", headers=headers)).get_data(as_text=True)
        assert f'id="wo-{ours.id}"' in page
        assert "Our own job" in page
        assert "Their confidential job" not in page
        for order in theirs:
            assert f'id="wo-{order.id}"' not in page
        assert '<span class="count" id="count-NEW">1</span>' in page
        assert '<span class="count" id="count-CHECKED_IN">0</span>' in page
        assert '<span class="count" id="count-READY">0</span>' in page


async def test_live_topics_of_another_dealerships_work_order_and_unknown_topics_answer_404(live_server):
    """A user could subscribe to a competitor's work order, or probe which topics exist."""
    factory = TenantFactory(live_server.runtime.db)
    shop_a = await factory.tenant()
    shop_b = await factory.tenant()
    technician = await shop_a.user("technician", locale="en")
    ours = await shop_a.work_order()
    theirs = await shop_b.work_order()

    async with http_sign_in(live_server.url, technician.email) as (client, _token):
        async with open_sse(client, f"wo:{ours.id}") as stream:
            await stream.expect_silence(0.1)
        for topics in (
            [f"wo:{theirs.id}"],
            ["workshop", f"wo:{theirs.id}"],
            ["wo:987654321"],
            ["wo:abc"],
            ["wo:"],
            ["wo:99999999999999999999999"],
            ["nonsense"],
            ["workshop:1"],
            [f"t{shop_b.id}:workshop"],
        ):
            response = await client.get("/live", params=[("topic", topic) for topic in topics])
            assert response.status_code == 404, topics
            assert theirs.code not in response.text


async def test_a_board_watcher_receives_its_own_dealerships_moves_but_none_of_another(live_server):
    """A competitor's job moves would flash past on our board, with their customers' names."""
    runtime = live_server.runtime
    factory = TenantFactory(runtime.db)
    shop_a = await factory.tenant()
    shop_b = await factory.tenant()
    watcher = await shop_a.user("viewer", locale="en")
    ours = await shop_a.work_order()
    theirs = await shop_b.work_order(complaint="B's secret complaint")

    async with (
        http_sign_in(live_server.url, watcher.email) as (client, _token),
        open_sse(client, "workshop") as stream,
    ):
        await asyncio.sleep(0.1)
        async with runtime.db.uow(shop_b.admin.actor) as uow:
            await move_work_order(uow, theirs.id, "SCHEDULED", theirs.version)
        await stream.expect_silence(1.0)

        async with runtime.db.uow(shop_a.admin.actor) as uow:
            await move_work_order(uow, ours.id, "CHECKED_IN", ours.version)
        message = await stream.next(wait=10)

    assert message.event == "update"
    assert f'id="wo-{ours.id}"' in message.data
    assert 'hx-swap-oob="afterbegin:#cards-CHECKED_IN"' in message.data
    assert f"wo-{theirs.id}" not in message.data
    assert "B's secret complaint" not in message.data
