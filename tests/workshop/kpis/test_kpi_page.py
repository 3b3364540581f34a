"""The KPI page: GET /workshop/kpis, its period switch, "no data", formulas, leaderboard and access."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ops.db import utcnow
from ops.workshop.models import WorkOrder
from tests.web import sign_in

KPIS = "/workshop/kpis"
KPI_KEYS = (
    "first_time_fix",
    "utilisation",
    "mean_time_to_repair",
    "jobs_per_technician_day",
    "cost_per_repair",
    "efficiency",
)


def kpi_card(page: str, key: str) -> str:
    match = re.search(rf'<section class="kpi[^"]*" id="kpi-{key}".*?</section>', page, re.S)
    assert match, f"no KPI {key}"
    return match.group(0)


def text(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


async def test_an_empty_workshop_shows_no_data_with_targets_and_formulas(client, factory):
    """A new dealership must see "no data", not 0 % or an error, and be able to read each formula."""
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    await sign_in(client, manager.email)

    response = await client.get(KPIS)

    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    for key in KPI_KEYS:
        card = kpi_card(page, key)
        assert "no data" in text(card), key
        # The formula on hover and, for keyboards and touch, behind a visible toggle.
        title = re.search(r'<abbr title="([^"]+)">', card)
        assert title, key
        assert f'<details class="kpi-how" id="kpi-{key}-how">' in card
        assert "How it is computed" in card and text(title.group(1)) in text(card)
    assert "Target: over 90%" in text(kpi_card(page, "first_time_fix"))
    assert "Target: under 2 h" in text(kpi_card(page, "mean_time_to_repair"))
    assert "Target: under CHF 200.00" in text(kpi_card(page, "cost_per_repair"))
    assert "Work in progress by status" in page and "Jobs past their promised time" in page
    assert "First-time fixer" in page and "10 or more jobs completed this month" in text(page)


async def test_the_period_switch_marks_the_chosen_period_and_ignores_nonsense(client, factory):
    shop = await factory.tenant()
    await sign_in(client, (await shop.user("admin", locale="en")).email)

    today = await (await client.get(f"{KPIS}?period=today")).get_data(as_text=True)
    nonsense = await client.get(f"{KPIS}?period=decade")

    assert re.search(r'href="/workshop/kpis\?period=today" aria-current="page"', today)
    assert 'hx-get="/workshop/kpis?period=today"' in today
    assert nonsense.status_code == 200
    assert re.search(
        r'href="/workshop/kpis\?period=week" aria-current="page"', await nonsense.get_data(as_text=True)
    )


async def test_todays_completed_job_shows_on_the_panel_and_the_leaderboard(client, factory):
    shop = await factory.tenant()
    technician = await shop.user("technician", name="Nina Brunner")
    viewer = await shop.user("viewer", locale="en")
    vehicle = await shop.vehicle()
    now = utcnow()
    async with shop.db.uow(shop.admin.actor) as uow:
        number = (await uow.session.scalar(select(func.max(WorkOrder.number))) or 0) + 1
        uow.session.add(
            WorkOrder(
                number=number,
                vehicle_id=vehicle.id,
                complaint="Service",
                status="CLOSED",
                technician_id=technician.actor.user_id,
                checked_in_at=now - timedelta(minutes=90),
                completed_at=now - timedelta(minutes=1),
            )
        )
        await uow.commit()
    await sign_in(client, viewer.email)

    page = await (await client.get(f"{KPIS}?period=month")).get_data(as_text=True)

    assert "100%" in text(kpi_card(page, "first_time_fix"))
    # Hours and minutes: "2 h" read as missing a target of under 2 h when it was 1 h 52 min.
    assert "1 h 29 min" in text(kpi_card(page, "mean_time_to_repair"))
    leaders = re.search(r'<section aria-labelledby="leaders-month-title".*?</section>', page, re.S)
    assert leaders and "Nina Brunner" in text(leaders.group(0)) and "1 job" in text(leaders.group(0))


async def test_a_months_badges_show_on_the_months_list_not_on_the_weeks(client, factory):
    """The week's list showed First-time fixer and Speedster, earned over the month, next to a week's
    count of jobs."""
    shop = await factory.tenant()
    technician = await shop.user("technician", name="Fiona Fixer")
    viewer = await shop.user("viewer", locale="en")
    vehicle = await shop.vehicle()
    now = utcnow()
    async with shop.db.uow(shop.admin.actor) as uow:
        first = (await uow.session.scalar(select(func.max(WorkOrder.number))) or 0) + 1
        # Ten quick jobs without a comeback: both of the month's badges.
        for number in range(first, first + 10):
            uow.session.add(
                WorkOrder(
                    number=number,
                    vehicle_id=vehicle.id,
                    complaint="Service",
                    status="CLOSED",
                    technician_id=technician.actor.user_id,
                    checked_in_at=now - timedelta(minutes=60),
                    completed_at=now - timedelta(minutes=1),
                )
            )
        await uow.commit()
    await sign_in(client, viewer.email)

    page = await (await client.get(KPIS)).get_data(as_text=True)

    lists = {
        period: re.search(rf'<section aria-labelledby="leaders-{period}-title".*?</section>', page, re.S)
        for period in ("week", "month")
    }
    week, month = (text(found.group(0)) if found else "" for found in lists.values())
    assert "Fiona Fixer" in week and "10 jobs" in week
    assert "First-time fixer" not in week and "Speedster" not in week
    assert "Fiona Fixer" in month and "First-time fixer" in month and "Speedster" in month
    assert "Each list shows the badges of its own period" in page


async def test_the_fragment_is_the_panel_block_and_the_page_is_live(client, factory):
    shop = await factory.tenant()
    await sign_in(client, (await shop.user("admin", locale="en")).email)

    page = await (await client.get(KPIS)).get_data(as_text=True)
    fragment = await (await client.get(KPIS, headers={"HX-Request": "true"})).get_data(as_text=True)

    assert re.search(r'sse-connect="/live\?topic=workshop[^"]*"', page)
    assert 'hx-trigger="sse:update delay:500ms, sse:reset, every 60s"' in page
    assert fragment.lstrip().startswith('<div id="kpi-panel"') and "<html" not in fragment


@pytest.mark.parametrize("role", ["admin", "workshop_manager", "service_advisor", "viewer"])
async def test_managers_advisors_and_viewers_see_the_kpis_in_the_navigation(client, factory, role):
    shop = await factory.tenant()
    user = await shop.user(role, locale="en")
    await sign_in(client, user.email)

    board = await (await client.get("/workshop/board")).get_data(as_text=True)

    assert (await client.get(KPIS)).status_code == 200
    assert re.search(r'<a href="/workshop/kpis"[^>]*>KPIs</a>', board)


@pytest.mark.parametrize("role", ["technician", "sales_rep", "sales_manager"])
async def test_other_roles_are_refused_and_not_offered_the_link(client, factory, role):
    shop = await factory.tenant()
    user = await shop.user(role, locale="en")
    await sign_in(client, user.email)

    board = await (await client.get("/workshop/board")).get_data(as_text=True)

    assert (await client.get(KPIS)).status_code == 403
    assert 'href="/workshop/kpis"' not in board


async def test_each_job_past_its_promised_time_links_to_its_work_order(client, factory):
    """A manager who sees a late job opens it from the list; it was plain text to copy and search for."""
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    vehicle = await shop.vehicle()
    async with shop.db.uow(shop.admin.actor) as uow:
        late = WorkOrder(
            number=7,
            vehicle_id=vehicle.id,
            complaint="Brakes",
            status="IN_PROGRESS",
            promised_at=utcnow() - timedelta(hours=2),
        )
        uow.session.add(late)
        await uow.commit()
    await sign_in(client, manager.email)

    page = await (await client.get(KPIS)).get_data(as_text=True)
    overdue = re.search(r'id="kpi-overdue".*?</section>', page, re.S)

    assert overdue and f'href="/workshop/work-orders/{late.id}">WO-000007</a>' in overdue.group(0)
    assert (await client.get(f"/workshop/work-orders/{late.id}")).status_code == 200


async def test_and_n_more_late_jobs_links_to_the_board_showing_every_late_job(client, factory):
    """Past the first five, the late jobs were "and 2 more" in plain text: the manager could not see
    which. The link opens the board filtered to the late jobs, the same ones the count counts."""
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    vehicle = await shop.vehicle()
    now = utcnow()
    async with shop.db.uow(shop.admin.actor) as uow:
        orders = [
            WorkOrder(
                number=number,
                vehicle_id=vehicle.id,
                complaint="Brakes",
                status=status,
                promised_at=now + promised,
                status_changed_at=now,
            )
            for number, status, promised in [
                *((n, "IN_PROGRESS", -timedelta(hours=n)) for n in range(1, 8)),
                (8, "READY", -timedelta(hours=3)),
                (9, "CHECKED_IN", timedelta(hours=3)),
            ]
        ]
        uow.session.add_all(orders)
        await uow.commit()
    late, ready, on_time = orders[:7], orders[7], orders[8]
    await sign_in(client, manager.email)

    page = await (await client.get(KPIS)).get_data(as_text=True)
    overdue = re.search(r'id="kpi-overdue".*?</section>', page, re.S)
    assert overdue
    more = re.search(r'<a href="([^"]+)">and 2 more</a>', overdue.group(0))
    assert more and html.unescape(more.group(1)) == "/workshop/board?overdue=1"
    board = await (await client.get(html.unescape(more.group(1)))).get_data(as_text=True)

    shown = set(re.findall(r'<li class="card [^"]*" id="wo-(\d+)"', board))
    assert shown == {str(order.id) for order in late}
    assert all(f'id="wo-{order.id}"' not in board for order in (ready, on_time))
