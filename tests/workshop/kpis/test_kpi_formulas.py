"""KPI formulas on a crafted week with known answers, the periods in the tenant's timezone, the
"no data" cases, the leaderboard and the badge rules."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from ops.workshop.kpis import queries
from ops.workshop.kpis.queries import CompletedStats, Ratio, badges_for, period_for
from ops.workshop.models import Part, TechnicianProfile, TimeEntry, WorkOrder, WorkOrderLine
from tests.factories import TenantHandle
from tests.workshop.invoices.builders import make_invoice

ZURICH = ZoneInfo("Europe/Zurich")


def local(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """A wall-clock time in Zurich in 2030, as UTC."""
    return datetime(2030, month, day, hour, minute, tzinfo=ZURICH).astimezone(UTC)


# Wednesday 13 March 2030, 14:00 in Zurich (CET, UTC+1).
NOW = local(13, 14)


class Shop:
    """Rows written straight into the tables, so each figure's inputs are exactly what the test says."""

    def __init__(self, handle: TenantHandle) -> None:
        self.handle = handle
        self.db = handle.db
        self.vehicle_id = 0

    async def start(self) -> Shop:
        self.vehicle_id = (await self.handle.vehicle()).id
        return self

    async def technician(self, name: str, shift: tuple[time, time] | None = None) -> int:
        user = await self.handle.user("technician", name=name)
        user_id = user.actor.user_id
        assert user_id is not None
        if shift is not None:
            async with self.db.uow(self.handle.admin.actor) as uow:
                uow.session.add(TechnicianProfile(user_id=user_id, shift_start=shift[0], shift_end=shift[1]))
                await uow.commit()
        return user_id

    async def job(self, technician_id: int | None, status: str = "CLOSED", **values: object) -> WorkOrder:
        async with self.db.uow(self.handle.admin.actor) as uow:
            number = (await uow.session.scalar(select(func.max(WorkOrder.number))) or 0) + 1
            work_order = WorkOrder(
                number=number,
                vehicle_id=self.vehicle_id,
                complaint="Service",
                status=status,
                technician_id=technician_id,
                **values,
            )
            uow.session.add(work_order)
            await uow.commit()
        return work_order

    async def clock(
        self, technician_id: int, work_order: WorkOrder, start: datetime, end: datetime | None
    ) -> None:
        async with self.db.uow(self.handle.admin.actor) as uow:
            uow.session.add(
                TimeEntry(
                    technician_id=technician_id, work_order_id=work_order.id, started_at=start, ended_at=end
                )
            )
            await uow.commit()

    async def part_line(
        self, work_order: WorkOrder, cost: str, quantity: str, approval: str = "APPROVED"
    ) -> None:
        async with self.db.uow(self.handle.admin.actor) as uow:
            part = Part(
                sku=f"P-{work_order.id}-{cost}-{approval}",
                name="Part",
                cost=Decimal(cost),
                price=Decimal(cost),
            )
            uow.session.add(part)
            await uow.session.flush()
            uow.session.add(
                WorkOrderLine(
                    work_order_id=work_order.id,
                    kind="PART",
                    description="Part",
                    part_id=part.id,
                    quantity=Decimal(quantity),
                    unit_price=Decimal(cost),
                    approval=approval,
                )
            )
            await uow.commit()

    async def panel(self, key: str = "week", now: datetime = NOW) -> queries.KpiPanel:
        async with self.db.read(self.handle.id) as session:
            return await queries.kpi_panel(
                session, period_for(key, now, "Europe/Zurich"), Decimal("165"), now
            )

    async def leaderboard(self, now: datetime = NOW) -> queries.Leaderboard:
        async with self.db.read(self.handle.id) as session:
            return await queries.leaderboard(session, now, "Europe/Zurich")


@pytest.fixture
async def week(factory) -> Shop:  # type: ignore[no-untyped-def]
    """Two technicians' Monday to Wednesday noon, with answers worked out by hand in each test."""
    shop = await Shop(await factory.tenant()).start()
    anna = await shop.technician("Anna Aebi", (time(8), time(17)))
    beat = await shop.technician("Beat Brunner")  # no profile: the default 07:30-16:30
    shop.anna, shop.beat = anna, beat  # type: ignore[attr-defined]

    a = await shop.job(anna, checked_in_at=local(11, 9), completed_at=local(11, 10, 30))
    b = await shop.job(anna, status="READY", checked_in_at=local(12, 8), completed_at=local(12, 11))
    c = await shop.job(beat, checked_in_at=local(12, 13), completed_at=local(12, 13, 30))
    await shop.job(beat, completed_at=local(13, 9))  # never checked in: not in the mean time to repair
    e = await shop.job(anna, checked_in_at=local(8, 9), completed_at=local(8, 10))  # last Friday
    await shop.job(anna, status="IN_PROGRESS", completed_at=local(12, 9))  # reopened: not completed
    await shop.job(anna, status="NEW", comeback_of_id=b.id)  # B came back
    await shop.job(beat, status="CANCELLED", comeback_of_id=c.id)  # a cancelled comeback does not count
    running = await shop.job(beat, status="IN_PROGRESS", promised_at=local(13, 12))  # overdue
    await shop.job(None, status="READY", promised_at=local(13, 8))  # ready: not overdue
    await shop.job(None, status="NEW", promised_at=local(14, 8))  # promised tomorrow

    await shop.clock(anna, a, local(11, 9), local(11, 10, 30))  # 1.5 h
    await shop.clock(anna, b, local(12, 8), local(12, 11))  # 3 h
    await shop.clock(anna, e, local(10, 23), local(11, 1))  # Sunday 23:00 to Monday 01:00: 1 h in this week
    await shop.clock(beat, c, local(12, 13), local(12, 13, 30))  # 0.5 h
    await shop.clock(beat, running, local(13, 12), None)  # running since 12:00: 2 h until now

    await shop.part_line(a, cost="10.00", quantity="2")  # 20.00
    await shop.part_line(b, cost="50.00", quantity="1")  # 50.00
    await shop.part_line(b, cost="99.00", quantity="5", approval="DECLINED")  # not fitted
    await shop.part_line(e, cost="500.00", quantity="1")  # last week's job

    handle = shop.handle
    await make_invoice(handle, a, [("LABOUR", "Service", "2", "165")], issued_at=local(11, 10, 30))
    await make_invoice(handle, b, [("LABOUR", "Brakes", "2.5", "165")], issued_at=local(12, 11))
    await make_invoice(
        handle,
        c,
        [("LABOUR", "Check", "1", "165"), ("PART", "Filter", "3", "9")],
        issued_at=local(12, 13, 30),
    )
    await make_invoice(handle, e, [("LABOUR", "Old", "7", "165")], issued_at=local(8, 10))
    return shop


async def test_first_time_fix_rate_counts_completed_jobs_without_a_comeback(week):
    panel = await week.panel()

    assert (panel.first_time_fix.numerator, panel.first_time_fix.denominator) == (3, 4)
    assert panel.first_time_fix.value == Decimal("0.75")
    assert panel.meets("first_time_fix") is False


async def test_utilisation_is_clocked_over_available_shift_hours_so_far(week):
    """Anna 08:00-17:00 (9 + 9 + 6 h until Wednesday 14:00), Beat 07:30-16:30 (9 + 9 + 6.5 h);
    clocked: Anna 1.5 + 3 + 1 (the part after midnight) h, Beat 0.5 + 2 (running) h."""
    panel = await week.panel()

    assert panel.utilisation.numerator == Decimal(8 * 3600)
    assert panel.utilisation.denominator == Decimal(int(48.5 * 3600))
    assert round(panel.utilisation.value, 4) == Decimal("0.1649")
    assert panel.meets("utilisation") is False


async def test_mean_time_to_repair_runs_from_check_in_to_completion(week):
    panel = await week.panel()

    # (1.5 + 3 + 0.5) h over the three jobs that were checked in.
    assert panel.mean_time_to_repair.denominator == 3
    assert round(panel.mean_time_to_repair_hours, 4) == Decimal("1.6667")
    assert panel.meets("mean_time_to_repair") is True


async def test_jobs_per_technician_day_divides_by_working_days_started(week):
    panel = await week.panel()

    # 4 jobs over 2 technicians x 3 working days (Monday to Wednesday; both shifts began today).
    assert (panel.jobs_per_technician_day.numerator, panel.jobs_per_technician_day.denominator) == (4, 6)
    assert panel.meets("jobs_per_technician_day") is False


async def test_cost_per_repair_is_parts_at_cost_plus_clocked_hours_at_the_labour_rate(week):
    panel = await week.panel()

    # Parts 2 x 10 + 1 x 50 (the declined line is not fitted); labour 5 h x 165 on A, B and C.
    assert (panel.parts_cost, panel.labour_cost) == (Decimal("70.00"), Decimal("825.00"))
    assert panel.cost_per_repair.value == Decimal("223.75")
    assert panel.meets("cost_per_repair") is False


async def test_efficiency_is_billed_labour_hours_over_hours_clocked_on_those_jobs(week):
    panel = await week.panel()

    # Invoices of this week bill 2 + 2.5 + 1 labour hours; 1.5 + 3 + 0.5 h were clocked on those jobs.
    assert panel.efficiency.numerator == Decimal("5.5")
    assert panel.efficiency.denominator == Decimal(5)
    assert panel.efficiency.value == Decimal("1.1")


async def test_work_in_progress_and_jobs_past_their_promised_time(week):
    panel = await week.panel()

    assert panel.wip["IN_PROGRESS"] == 2 and panel.wip["NEW"] == 2 and panel.wip["READY"] == 2
    # Only the running job: the ready one is done, the new one is promised for tomorrow.
    assert panel.overdue_count == 1 and [job.status for job in panel.overdue] == ["IN_PROGRESS"]


async def test_the_month_includes_last_weeks_job(week):
    panel = await week.panel("month")

    assert panel.first_time_fix.denominator == 5
    assert panel.parts_cost == Decimal("570.00")


async def test_an_empty_workshop_shows_no_data_never_a_division_by_zero(factory):
    shop = await Shop(await factory.tenant()).start()

    panel = await shop.panel()

    for kpi in ("first_time_fix", "utilisation", "mean_time_to_repair", "jobs_per_technician_day"):
        assert getattr(panel, kpi).value is None, kpi
        assert panel.meets(kpi) is None
    assert panel.cost_per_repair.value is None and panel.efficiency.value is None
    assert panel.mean_time_to_repair_hours is None
    assert panel.overdue_count == 0 and set(panel.wip.values()) == {0}


async def test_a_saturday_has_no_shift_hours_so_utilisation_is_no_data(factory):
    shop = await Shop(await factory.tenant()).start()
    await shop.technician("Carla Cadonau")

    panel = await shop.panel("today", now=local(16, 11))  # Saturday 16 March

    assert panel.utilisation.denominator == 0 and panel.utilisation.value is None
    assert panel.jobs_per_technician_day.value is None


async def test_today_before_the_shift_starts_has_no_technician_days(factory):
    shop = await Shop(await factory.tenant()).start()
    await shop.technician("Dario Demarmels", (time(8), time(17)))

    panel = await shop.panel("today", now=local(13, 7, 45))

    assert panel.jobs_per_technician_day.denominator == 0
    assert panel.utilisation.denominator == 0


def test_periods_start_at_midnight_in_the_tenants_timezone():
    now = local(13, 0, 30)  # Wednesday 00:30 in Zurich, still Tuesday 23:30 in UTC

    today, week, month = (period_for(key, now, "Europe/Zurich") for key in ("today", "week", "month"))

    assert (today.start, today.end, today.until) == (local(13, 0), local(14, 0), now)
    assert (week.start, week.end) == (local(11, 0), local(18, 0))
    assert (month.start, month.end) == (local(1, 0), local(1, 0, month=4))
    # March has a daylight-saving change: the month ends at 22:00 UTC, not 23:00.
    assert month.end == datetime(2030, 3, 31, 22, 0, tzinfo=UTC)
    assert (month.first_day.day, month.last_day.day) == (1, 31)


async def test_the_leaderboard_counts_jobs_by_the_tenants_calendar(factory):
    """A job completed at 00:30 on the 1st in Zurich (23:30 UTC the day before) is this month's."""
    shop = await Shop(await factory.tenant()).start()
    early = await shop.technician("Elena Early")
    late = await shop.technician("Lars Late")
    await shop.job(early, completed_at=local(1, 0, 30))
    await shop.job(late, completed_at=local(28, 23, 30, month=2))

    board = await shop.leaderboard(now=local(13, 14))

    assert [(entry.name, entry.completed) for entry in board.month] == [("Elena Early", 1)]


async def test_the_leaderboard_is_the_top_ten_by_completed_jobs_ties_by_name(factory):
    shop = await Shop(await factory.tenant()).start()
    names = [f"Tech {letter}" for letter in "ABCDEFGHIJKL"]
    for jobs, name in enumerate(names):
        technician = await shop.technician(name)
        for _ in range(jobs % 6):
            await shop.job(technician, completed_at=local(12, 10))

    board = await shop.leaderboard()

    ranked = [(entry.name, entry.completed) for entry in board.week]
    assert ranked == [
        ("Tech F", 5),
        ("Tech L", 5),
        ("Tech E", 4),
        ("Tech K", 4),
        ("Tech D", 3),
        ("Tech J", 3),
        ("Tech C", 2),
        ("Tech I", 2),
        ("Tech B", 1),
        ("Tech H", 1),
    ]
    assert board.month == board.week


async def test_the_week_leaderboard_and_badges_from_the_crafted_week(week):
    board = await week.leaderboard()

    assert [(entry.name, entry.completed) for entry in board.week] == [("Anna Aebi", 2), ("Beat Brunner", 2)]
    assert [(entry.name, entry.completed) for entry in board.month] == [("Anna Aebi", 3), ("Beat Brunner", 2)]
    assert board.holders == {"first_time_fixer": [], "speedster": [], "iron_man": []}


def _stats(completed: int, comebacks: int = 0, repaired: int = 0, hours: str = "0") -> CompletedStats:
    return CompletedStats(completed, comebacks, repaired, Decimal(hours) * 3600)


NO_WEEK = Ratio(Decimal(0), Decimal(0))


@pytest.mark.parametrize(
    ("month", "week_utilisation", "expected"),
    [
        (_stats(10), NO_WEEK, ["first_time_fixer"]),
        (_stats(9), NO_WEEK, []),
        (_stats(12, comebacks=1), NO_WEEK, []),
        # Mean under 2 h over at least 5 checked-in jobs: 9.95 h / 5 = 1.99 h.
        (_stats(5, repaired=5, hours="9.95"), NO_WEEK, ["speedster"]),
        (_stats(5, repaired=5, hours="10"), NO_WEEK, []),
        (_stats(6, repaired=4, hours="2"), NO_WEEK, []),
        (_stats(0), Ratio(Decimal(86), Decimal(100)), ["iron_man"]),
        (_stats(0), Ratio(Decimal(85), Decimal(100)), []),
        (
            _stats(10, repaired=10, hours="10"),
            Ratio(Decimal(9), Decimal(10)),
            ["first_time_fixer", "speedster", "iron_man"],
        ),
    ],
)
def test_badge_rules(month, week_utilisation, expected):
    assert badges_for(month, week_utilisation) == expected


async def test_badges_are_earned_from_the_data(factory):
    shop = await Shop(await factory.tenant()).start()
    fixer = await shop.technician("Fiona Fixer", (time(8), time(12)))
    for day in (4, 5, 6, 7, 8, 11, 11, 12, 12, 13):
        await shop.job(fixer, checked_in_at=local(day, 8), completed_at=local(day, 9))
    # 4 h shifts Monday to Wednesday 12:00 = 12 h available; 11 h clocked this week.
    running = await shop.job(fixer, status="IN_PROGRESS")
    await shop.clock(fixer, running, local(11, 8), local(11, 12))
    await shop.clock(fixer, running, local(12, 8), local(12, 12))
    await shop.clock(fixer, running, local(13, 8), local(13, 11))

    board = await shop.leaderboard()

    assert board.holders == {
        "first_time_fixer": ["Fiona Fixer"],
        "speedster": ["Fiona Fixer"],
        "iron_man": ["Fiona Fixer"],
    }
    # Each list shows the badges whose rule counts over its own period.
    assert board.month[0].badges == ["first_time_fixer", "speedster"]
    assert board.week[0].badges == ["iron_man"]
