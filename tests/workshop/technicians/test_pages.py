"""The technician's "My jobs" page and the manager's technician view: what they list, in which order,
and who may open them."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import update

from ops.db import utcnow
from ops.tenants.models import Tenant
from ops.workshop.jobs.service import add_labour_line
from ops.workshop.models import TimeEntry, WorkOrderLine
from ops.workshop.technicians.queries import day_bounds
from ops.workshop.technicians.service import clock_on
from tests.web import sign_in
from tests.workshop.technicians.helpers import (
    assigned_job,
    bay,
    estimate_sent,
    part_line,
    scheduled_job,
    soon,
)


def job_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'<li class="job[^"]*" id="job-(\d+)"', page)]


def nav_labels(page: str) -> list[str]:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.S)
    assert nav
    return re.findall(r"<a [^>]*>([^<]+)</a>", nav.group(1))


def technician_card(page: str, technician_id: int | None, classes: str) -> re.Match[str] | None:
    return re.search(rf'<section class="{classes}" id="tech-{technician_id}".*?</section>', page, re.S)


async def test_my_jobs_lists_todays_open_jobs_in_working_order(client, factory):
    shop = await factory.tenant()
    tech = await shop.user("technician", locale="en")
    other = await shop.user("technician")
    lift = await bay(shop)
    start, end = day_bounds(utcnow(), shop.tenant.timezone)
    afternoon = await scheduled_job(shop, tech, lift, start + timedelta(hours=13))
    morning = await scheduled_job(shop, tech, lift, start + timedelta(hours=9))
    await scheduled_job(shop, tech, lift, end + timedelta(hours=9))  # tomorrow
    urgent = await assigned_job(shop, tech, status="CHECKED_IN", priority="URGENT")
    promised_soon = await assigned_job(shop, tech, status="IN_PROGRESS", promised_at=soon(2))
    promised_later = await assigned_job(shop, tech, status="IN_PROGRESS", promised_at=soon(5))
    no_promise = await assigned_job(shop, tech, status="WAITING_PARTS")
    await assigned_job(shop, other, status="IN_PROGRESS")  # someone else's
    await assigned_job(shop, None, status="CHECKED_IN")  # nobody's yet
    await sign_in(client, tech.email)

    page = await (await client.get("/workshop/my-jobs")).get_data(as_text=True)

    assert job_ids(page) == [
        morning.id,
        afternoon.id,
        urgent.id,
        promised_soon.id,
        promised_later.id,
        no_promise.id,
    ]
    assert "My jobs" in nav_labels(page)
    # Phone-first controls: the photo input opens the camera, READY asks before it completes.
    assert 'accept="image/*" capture="environment"' in page
    assert f'id="clock-{urgent.id}"' in page
    assert f'id="move-{no_promise.id}-in_progress"' in page


async def test_a_technician_without_jobs_is_told_that_new_ones_appear_by_themselves(client, factory):
    shop = await factory.tenant()
    tech = await shop.user("technician", locale="en")
    await sign_in(client, tech.email)

    response = await client.get("/workshop/my-jobs")

    page = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert job_ids(page) == []
    assert "No jobs for you today." in page
    assert "A job assigned to you appears here by itself." in page
    # The page listens to the workshop and the clocks, so a job assigned meanwhile shows up.
    assert "topic=workshop&amp;topic=technicians" in page
    assert '<div id="my-jobs-live" hx-trigger="sse:update, sse:reset" hidden>' in page


async def test_a_running_clock_is_shown_with_its_elapsed_time(client, factory):
    shop = await factory.tenant()
    tech = await shop.user("technician", locale="en")
    job = await assigned_job(shop, tech, status="CHECKED_IN")
    async with shop.db.uow(tech.actor) as uow:
        change = await clock_on(uow, job.id)
    async with shop.db.uow(shop.admin.actor) as uow:
        # The technician clocked on an hour and a quarter ago.
        await uow.session.execute(
            update(TimeEntry)
            .where(TimeEntry.id == change.entry.id)
            .values(started_at=utcnow() - timedelta(minutes=75))
        )
        await uow.commit()
    await sign_in(client, tech.email)

    page = await (await client.get("/workshop/my-jobs")).get_data(as_text=True)

    clock = re.search(r'<time class="elapsed" data-elapsed="(\d+)" data-running>([^<]+)</time>', page)
    assert clock, "no running clock on the page"
    assert 75 * 60 <= int(clock.group(1)) < 76 * 60
    assert clock.group(2).startswith("1:15:")
    assert f'id="clock-{job.id}">Clock off</button>' in page


async def test_my_jobs_is_the_technicians_page(client, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    await sign_in(client, advisor.email)

    assert (await client.get("/workshop/my-jobs")).status_code == 403
    board = await (await client.get("/workshop/board")).get_data(as_text=True)
    assert "My jobs" not in nav_labels(board)
    assert "Technicians" in nav_labels(board)


def _zone_at_midday() -> str:
    """A fixed-offset timezone where it is between 10:00 and 14:00 now (Etc/GMT-3 is UTC+3)."""
    offset = 12 - utcnow().hour
    offset = offset - 24 if offset > 14 else offset + 24 if offset < -12 else offset
    return f"Etc/GMT{-offset:+d}"


async def test_the_technician_view_shows_who_is_clocked_on_what_and_for_how_long_today(client, factory):
    shop = await factory.tenant()
    luca = await shop.user("technician", name="Luca Rossi")
    nina = await shop.user("technician", name="Nina Brunner")
    manager = await shop.user("workshop_manager", locale="en")
    job = await assigned_job(shop, luca, status="CHECKED_IN")
    queued = await assigned_job(shop, nina, status="SCHEDULED")
    unassigned = await assigned_job(shop, None, status="CHECKED_IN")
    async with shop.db.uow(luca.actor) as uow:
        change = await clock_on(uow, job.id)
    # "Today" must have begun over an hour ago wherever the suite runs: the dealership is put where it
    # is about midday now.
    zone = _zone_at_midday()
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(update(Tenant).where(Tenant.id == shop.id).values(timezone=zone))
        await uow.commit()
    start, _end = day_bounds(utcnow(), zone)
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(TimeEntry)
            .where(TimeEntry.id == change.entry.id)
            .values(started_at=utcnow() - timedelta(minutes=30))
        )
        # Nina worked from an hour before midnight to half an hour after: only today's half hour counts.
        uow.session.add(
            TimeEntry(
                technician_id=nina.actor.user_id,
                work_order_id=queued.id,
                started_at=start - timedelta(hours=1),
                ended_at=start + timedelta(minutes=30),
            )
        )
        await uow.commit()
    await sign_in(client, manager.email)

    page = await (await client.get("/workshop/technicians")).get_data(as_text=True)

    luca_card = technician_card(page, luca.actor.user_id, "tech on-clock")
    assert luca_card, "Luca is not shown as clocked on"
    assert f'href="/workshop/work-orders/{job.id}">{job.code}</a>' in luca_card.group(0)
    elapsed = re.findall(r'data-elapsed="(\d+)"', luca_card.group(0))
    assert [30 * 60 <= int(seconds) < 31 * 60 for seconds in elapsed] == [True, True]
    nina_card = technician_card(page, nina.actor.user_id, "tech")
    assert nina_card
    assert "Not clocked on" in nina_card.group(0)
    assert 'data-elapsed="1800">0:30:00</time>' in nina_card.group(0)
    assert f'id="queued-{queued.id}"' in nina_card.group(0)
    assert f'id="queued-{unassigned.id}"' in page
    # The manager reassigns with a menu and button per job, posting to the board's assign route.
    assert f'action="/workshop/work-orders/{queued.id}/assign"' in page
    assert f'id="reassign-{queued.id}"' in page


async def test_the_technician_view_is_for_the_office_and_read_only_for_viewers(client, factory, app):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    viewer = await shop.user("viewer", locale="en")
    await assigned_job(shop, tech, status="CHECKED_IN")
    await sign_in(client, tech.email)
    assert (await client.get("/workshop/technicians")).status_code == 403

    viewer_client = app.test_client()
    await sign_in(viewer_client, viewer.email)
    response = await viewer_client.get("/workshop/technicians")
    page = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Technician" in page and 'class="reassign"' not in page and "Clock off" not in page


async def test_the_technician_view_without_technicians_says_how_to_get_them(client, factory):
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    await sign_in(client, manager.email)

    page = await (await client.get("/workshop/technicians")).get_data(as_text=True)

    assert "There are no technicians yet." in page


async def test_my_jobs_lists_the_labour_to_do_and_leaves_out_what_the_customer_declined(client, factory):
    shop = await factory.tenant()
    tech = await shop.user("technician", locale="en")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")
    async with shop.db.uow(shop.admin.actor) as uow:
        pads = await add_labour_line(uow, job.id, "Replace front brake pads", Decimal("1.5"))
    async with shop.db.uow(shop.admin.actor) as uow:
        flush = await add_labour_line(uow, job.id, "Flush brake fluid", Decimal("0.5"))
    fluid = await part_line(shop, job, name="Brake fluid DOT 4")
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(WorkOrderLine).where(WorkOrderLine.id == pads.id).values(approval="APPROVED")
        )
        await uow.session.execute(
            update(WorkOrderLine)
            .where(WorkOrderLine.id.in_([flush.id, fluid.id]))
            .values(approval="DECLINED")
        )
        await uow.commit()
    async with shop.db.uow(shop.admin.actor) as uow:
        await add_labour_line(uow, job.id, "Check rear discs", Decimal("0.3"))
    # The estimate asking about the rear discs goes out.
    await estimate_sent(shop, job)
    await sign_in(client, tech.email)

    # The live update re-fetches the same block the page shows.
    for headers in ({}, {"HX-Request": "true"}):
        page = await (await client.get("/workshop/my-jobs", headers=headers)).get_data(as_text=True)
        operations = re.findall(
            r'<li class="operation">\s*<span class="operation-name">([^<]+)</span>\s*'
            r'<span class="operation-hours">([^<]+)</span>\s*(?:<span class="badge">([^<]+)</span>)?',
            page,
        )
        assert operations == [
            ("Replace front brake pads", "1.5 h", ""),
            ("Check rear discs", "0.3 h", "Awaiting approval"),
        ]
        # Declined lines are not to be done, so the technician does not see them.
        assert "Flush brake fluid" not in page
        assert "Brake fluid DOT 4" not in page
