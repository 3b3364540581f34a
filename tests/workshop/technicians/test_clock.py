"""The time clock: one job at a time (also when two clock-ons race), only the assigned technician,
clocking on starts the work, and leaving work (up to READY) stops the clock."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from ops.auth.actor import Conflict, NotFound, PermissionDenied, RuleViolation
from ops.events import Event
from ops.workshop.models import WorkOrderHistory
from ops.workshop.service import move_work_order
from ops.workshop.technicians.service import clock_off, clock_on, move_my_job, stop_clocks_on
from tests.web import sign_in
from tests.workshop.technicians.helpers import assigned_job, reload, time_entries


async def _events(shop, type_: str) -> list[Event]:  # type: ignore[no-untyped-def]
    async with shop.db.read(shop.id) as session:
        found = await session.scalars(select(Event).where(Event.type == type_).order_by(Event.id))
        return list(found.all())


async def test_clocking_on_a_checked_in_job_starts_the_work_and_the_clock(factory):
    shop = await factory.tenant()
    tech = await shop.user("technician", name="Luca Rossi")
    job = await assigned_job(shop, tech, status="CHECKED_IN")

    async with shop.db.uow(tech.actor) as uow:
        change = await clock_on(uow, job.id)

    assert change.entry.ended_at is None
    stored = await reload(shop, job.id)
    assert (stored.status, stored.version) == ("IN_PROGRESS", job.version + 1)
    [entry] = await time_entries(shop)
    assert (entry.technician_id, entry.work_order_id, entry.ended_at) == (tech.actor.user_id, job.id, None)
    [clocked] = await _events(shop, "technician.clocked_on")
    assert clocked.topics == ["workshop", f"wo:{job.id}", "technicians"]
    assert clocked.payload["technician_name"] == "Luca Rossi"
    assert clocked.payload["number"] == job.code
    # The status change is the board's own move: an event for every screen and a history row.
    moves = [e.payload["to"] for e in await _events(shop, "work_order.moved")]
    assert moves[-1] == "IN_PROGRESS"
    async with shop.db.read(shop.id) as session:
        history = (
            await session.scalars(select(WorkOrderHistory.to_status).order_by(WorkOrderHistory.id))
        ).all()
    assert history[-1] == "IN_PROGRESS"


async def test_clocking_on_a_job_in_progress_leaves_its_status(factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")

    async with shop.db.uow(tech.actor) as uow:
        await clock_on(uow, job.id)

    stored = await reload(shop, job.id)
    assert (stored.status, stored.version) == ("IN_PROGRESS", job.version)
    assert len(await time_entries(shop)) == 1


async def test_a_technician_is_clocked_on_one_job_at_a_time(factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    first = await assigned_job(shop, tech, status="IN_PROGRESS")
    second = await assigned_job(shop, tech, status="IN_PROGRESS")
    async with shop.db.uow(tech.actor) as uow:
        await clock_on(uow, first.id)

    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(tech.actor) as uow:
            await clock_on(uow, second.id)

    assert str(refused.value) == f"You are clocked on {first.code}; clock off first."
    assert [(e.work_order_id, e.ended_at) for e in await time_entries(shop)] == [(first.id, None)]
    assert len(await _events(shop, "technician.clocked_on")) == 1


async def test_two_clock_ons_racing_for_the_same_technician_one_wins(factory, backend):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    jobs = [await assigned_job(shop, tech, status="CHECKED_IN") for _ in range(2)]

    async def clock_on_job(work_order_id: int) -> str:
        try:
            async with shop.db.uow(tech.actor) as uow:
                await clock_on(uow, work_order_id)
        except RuleViolation as refused:
            return str(refused)
        return "won"

    outcomes = await asyncio.gather(*(clock_on_job(job.id) for job in jobs))

    assert sorted(outcomes).count("won") == 1, outcomes
    [entry] = await time_entries(shop)
    assert entry.ended_at is None
    winner = next(job for job in jobs if job.id == entry.work_order_id)
    loser = next(job for job in jobs if job.id != entry.work_order_id)
    # The loser is told where the technician is clocked on, and its job did not start.
    assert f"You are clocked on {winner.code}; clock off first." in outcomes
    assert (await reload(shop, winner.id)).status == "IN_PROGRESS"
    assert (await reload(shop, loser.id)).status == "CHECKED_IN"
    assert len(await _events(shop, "technician.clocked_on")) == 1


async def test_only_the_assigned_technician_clocks_on(factory):
    shop = await factory.tenant()
    assigned = await shop.user("technician")
    other = await shop.user("technician")
    job = await assigned_job(shop, assigned, status="CHECKED_IN")

    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(other.actor) as uow:
            await clock_on(uow, job.id)

    assert str(refused.value) == f"{job.code} is not assigned to you."
    assert await time_entries(shop) == []
    assert (await reload(shop, job.id)).status == "CHECKED_IN"


@pytest.mark.parametrize("status", ["SCHEDULED", "WAITING_PARTS", "QUALITY_CHECK"])
async def test_a_job_that_is_not_in_the_workshop_or_is_waiting_cannot_be_clocked_on(factory, status):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    job = await assigned_job(shop, tech, status=status)

    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(tech.actor) as uow:
            await clock_on(uow, job.id)

    assert "clock on when work can go on" in str(refused.value)
    assert await time_entries(shop) == []


async def test_another_dealerships_job_is_not_found(factory):
    shop, other_shop = await factory.tenant(), await factory.tenant()
    tech = await shop.user("technician")
    foreign = await assigned_job(other_shop, await other_shop.user("technician"), status="CHECKED_IN")

    with pytest.raises(NotFound):
        async with shop.db.uow(tech.actor) as uow:
            await clock_on(uow, foreign.id)


async def test_only_technicians_have_a_clock_and_managers_clock_them_on_and_off(factory):
    shop = await factory.tenant()
    tech = await shop.user("technician", name="Nina Brunner")
    advisor = await shop.user("service_advisor")
    manager = await shop.user("workshop_manager")
    job = await assigned_job(shop, tech, status="CHECKED_IN")

    with pytest.raises(PermissionDenied):
        async with shop.db.uow(advisor.actor) as uow:
            await clock_on(uow, job.id)
    with pytest.raises(PermissionDenied):
        async with shop.db.uow(advisor.actor) as uow:
            await clock_on(uow, job.id, technician_id=tech.actor.user_id)

    async with shop.db.uow(manager.actor) as uow:
        await clock_on(uow, job.id, technician_id=tech.actor.user_id)
    [clocked] = await _events(shop, "technician.clocked_on")
    assert (clocked.payload["technician_id"], clocked.actor_id) == (tech.actor.user_id, manager.actor.user_id)

    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(manager.actor) as uow:
            await clock_on(uow, job.id, technician_id=tech.actor.user_id)
    assert str(refused.value) == f"Nina Brunner is clocked on {job.code}; clock off first."

    async with shop.db.uow(manager.actor) as uow:
        await clock_off(uow, None, technician_id=tech.actor.user_id)
    assert all(entry.ended_at is not None for entry in await time_entries(shop))


async def test_clocking_off_stops_the_clock_and_records_how_long(factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    job = await assigned_job(shop, tech, status="CHECKED_IN")
    async with shop.db.uow(tech.actor) as uow:
        await clock_on(uow, job.id)

    async with shop.db.uow(tech.actor) as uow:
        change = await clock_off(uow, job.id)

    [entry] = await time_entries(shop)
    assert entry.ended_at is not None and entry.ended_at >= entry.started_at
    assert change.work_order.id == job.id
    [stopped] = await _events(shop, "technician.clocked_off")
    assert stopped.topics == ["workshop", f"wo:{job.id}", "technicians"]
    assert stopped.payload["reason"] == "clock_off"
    assert stopped.payload["seconds"] >= 0
    # The job stays in progress: clocking off is a break, not a status change.
    assert (await reload(shop, job.id)).status == "IN_PROGRESS"


async def test_clocking_off_without_a_running_clock_says_so(factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")

    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(tech.actor) as uow:
            await clock_off(uow, job.id)
    assert str(refused.value) == f"You are not clocked on {job.code}."
    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(tech.actor) as uow:
            await clock_off(uow)
    assert str(refused.value) == "You are not clocked on any job."


@pytest.mark.parametrize("target", ["WAITING_PARTS", "QUALITY_CHECK"])
async def test_moving_a_job_out_of_work_stops_its_clock(factory, target):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    job = await assigned_job(shop, tech, status="CHECKED_IN")
    async with shop.db.uow(tech.actor) as uow:
        await clock_on(uow, job.id)
    job = await reload(shop, job.id)

    async with shop.db.uow(tech.actor) as uow:
        await move_my_job(uow, job.id, target, job.version)

    assert (await reload(shop, job.id)).status == target
    [entry] = await time_entries(shop)
    assert entry.ended_at is not None
    [stopped] = await _events(shop, "technician.clocked_off")
    assert stopped.payload["reason"] == f"moved:{target}"


async def test_a_move_from_the_job_board_stops_the_clock_too(factory):
    """A manager dragging the card out of work must not leave the technician's clock running."""
    shop = await factory.tenant()
    tech = await shop.user("technician")
    manager = await shop.user("workshop_manager")
    job = await assigned_job(shop, tech, status="CHECKED_IN")
    async with shop.db.uow(tech.actor) as uow:
        await clock_on(uow, job.id)
    job = await reload(shop, job.id)

    async with shop.db.uow(manager.actor) as uow:
        await move_work_order(uow, job.id, "WAITING_PARTS", job.version)

    [entry] = await time_entries(shop)
    assert entry.ended_at is not None
    [stopped] = await _events(shop, "technician.clocked_off")
    assert stopped.payload["reason"] == "moved:WAITING_PARTS"


async def test_a_ready_job_never_keeps_a_running_clock(factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    manager = await shop.user("workshop_manager")
    job = await assigned_job(shop, tech, status="QUALITY_CHECK")
    # A manager started the clock earlier (clocks run only in progress, so back to work first).
    async with shop.db.uow(tech.actor) as uow:
        await move_my_job(uow, job.id, "IN_PROGRESS", job.version)
    async with shop.db.uow(manager.actor) as uow:
        await clock_on(uow, job.id, technician_id=tech.actor.user_id)
    job = await reload(shop, job.id)
    async with shop.db.uow(tech.actor) as uow:
        await move_my_job(uow, job.id, "QUALITY_CHECK", job.version)
    job = await reload(shop, job.id)
    async with shop.db.uow(tech.actor) as uow:
        await move_my_job(uow, job.id, "READY", job.version)

    stored = await reload(shop, job.id)
    assert stored.status == "READY" and stored.completed_at is not None
    assert [entry for entry in await time_entries(shop) if entry.ended_at is None] == []


async def test_a_refused_move_leaves_the_clock_running(factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    job = await assigned_job(shop, tech, status="CHECKED_IN")
    async with shop.db.uow(tech.actor) as uow:
        await clock_on(uow, job.id)

    # The technician's screen was out of date: the job changed since it was shown.
    with pytest.raises(Conflict):
        async with shop.db.uow(tech.actor) as uow:
            await move_my_job(uow, job.id, "QUALITY_CHECK", job.version)

    assert [entry.ended_at for entry in await time_entries(shop)] == [None]
    assert await _events(shop, "technician.clocked_off") == []


async def test_a_technician_moves_only_their_own_jobs_and_only_to_the_phone_moves(factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    other = await shop.user("technician")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")

    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(other.actor) as uow:
            await move_my_job(uow, job.id, "QUALITY_CHECK", job.version)
    assert str(refused.value) == f"{job.code} is not assigned to you."
    with pytest.raises(RuleViolation):
        async with shop.db.uow(tech.actor) as uow:
            await move_my_job(uow, job.id, "WAITING_APPROVAL", job.version)
    assert (await reload(shop, job.id)).status == "IN_PROGRESS"


async def test_stopping_clocks_inside_another_use_case_commits_with_it(factory):
    """`stop_clocks_on` is for other use cases' transactions: it writes nothing on its own."""
    shop = await factory.tenant()
    tech = await shop.user("technician")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")
    async with shop.db.uow(tech.actor) as uow:
        await clock_on(uow, job.id)

    async with shop.db.uow(shop.admin.actor) as uow:
        stopped = await stop_clocks_on(uow, await reload(shop, job.id), reason="test")
        assert len(stopped) == 1
    # Rolled back with the unit of work that never committed.
    assert [entry.ended_at for entry in await time_entries(shop)] == [None]


async def test_clock_on_and_off_over_http_answer_with_the_list_and_the_reason(client, factory, runtime):
    shop = await factory.tenant()
    tech = await shop.user("technician", locale="en")
    first = await assigned_job(shop, tech, status="CHECKED_IN")
    second = await assigned_job(shop, tech, status="IN_PROGRESS")
    token = await sign_in(client, tech.email)
    headers = {"HX-Request": "true", "X-CSRF-Token": token}

    response = await client.post(f"/workshop/my-jobs/{first.id}/clock-on", headers=headers)
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert 'id="my-jobs"' in html and f"Clocked on {first.code}." in html
    assert "data-running" in html

    response = await client.post(f"/workshop/my-jobs/{second.id}/clock-on", headers=headers)
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert f"You are clocked on {first.code}; clock off first." in html

    response = await client.post(
        "/workshop/my-jobs/clock-off", form={"work_order_id": str(first.id)}, headers=headers
    )
    assert response.status_code == 200
    assert f"Clocked off {first.code}." in await response.get_data(as_text=True)
    assert all(entry.ended_at is not None for entry in await time_entries(shop))


async def test_a_manager_clocks_off_a_forgotten_clock_from_the_technician_view(client, factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    manager = await shop.user("workshop_manager", locale="en")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")
    async with shop.db.uow(tech.actor) as uow:
        await clock_on(uow, job.id)
    other_shop = await factory.tenant()
    stranger = await other_shop.user("technician")
    token = await sign_in(client, manager.email)
    headers = {"HX-Request": "true", "X-CSRF-Token": token}

    foreign = await client.post(f"/workshop/technicians/{stranger.actor.user_id}/clock-off", headers=headers)
    assert foreign.status_code == 404
    response = await client.post(f"/workshop/technicians/{tech.actor.user_id}/clock-off", headers=headers)

    assert response.status_code == 200
    assert f"Clocked off {job.code}." in await response.get_data(as_text=True)
    assert all(entry.ended_at is not None for entry in await time_entries(shop))
