"""The demo seed on both backends: a Swiss dealership someone can sign in to and find a busy board."""

from __future__ import annotations

import itertools
import re
import time
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ops.auth.models import User
from ops.customers.models import Customer
from ops.db import utcnow
from ops.events import Event
from ops.sales.models import (
    LEAD_STAGES,
    CatalogOption,
    CatalogTrim,
    Deal,
    Lead,
    LeadStageChange,
    OptionGroup,
    Quote,
    Reservation,
    StockUnit,
)
from ops.sales.models import (
    TestDrive as Drive,
)
from ops.sales.stock.service import validated_vin
from ops.seed import DEMO_PASSWORD, seed_demo
from ops.tenants.models import Counter, Tenant
from ops.vehicles.models import (
    Fleet,
    MaintenanceSchedule,
    TelematicsDevice,
    TelemetryReading,
    Vehicle,
    VehicleAlert,
    VehicleMaintenance,
)
from ops.workshop.models import (
    Bay,
    Invoice,
    Part,
    StockMovement,
    TechnicianProfile,
    TimeEntry,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderLine,
)
from ops.workshop.service import OPEN_STATUSES
from tests.web import sign_in

# The contract of issue 2: one account per role, all with the same demo password.
DEMO_ACCOUNTS = {
    "admin@demo.test": "admin",
    "sales.manager@demo.test": "sales_manager",
    "sales@demo.test": "sales_rep",
    "advisor@demo.test": "service_advisor",
    "workshop.manager@demo.test": "workshop_manager",
    "tech@demo.test": "technician",
    "viewer@demo.test": "viewer",
}
SWISS_PLATE = re.compile(r"(ZH|AG|SZ|ZG|LU|SG|BE) \d{5,6}")
VIN_VALUES = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit_is_valid(vin: str) -> bool:
    """ISO 3779 / North American check digit at position 9, as a VIN decoder would verify it."""
    if len(vin) != 17 or any(char not in VIN_VALUES for char in vin):
        return False
    remainder = sum(VIN_VALUES[char] * weight for char, weight in zip(vin, VIN_WEIGHTS, strict=True)) % 11
    return vin[8] == ("X" if remainder == 10 else str(remainder))


async def _demo(runtime) -> Tenant:  # type: ignore[no-untyped-def]
    tenant, _created = await seed_demo(runtime.db)
    return tenant


async def _table_sizes(db, tenant_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (User, Customer, Vehicle, WorkOrder, Event)
        }


async def test_the_demo_is_a_swiss_dealership(runtime):
    tenant = await _demo(runtime)

    assert (tenant.slug, tenant.country, tenant.currency, tenant.timezone, tenant.locale) == (
        "demo",
        "CH",
        "CHF",
        "Europe/Zurich",
        "de_CH",
    )
    assert (tenant.distance_unit, tenant.fuel_unit, tenant.vat_rate) == ("km", "liters", Decimal("8.1"))


async def test_every_demo_account_exists_with_its_role(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        roles = {email: role for email, role in await session.execute(select(User.email, User.role))}

    assert {email: roles.get(email) for email in DEMO_ACCOUNTS} == DEMO_ACCOUNTS


async def test_the_service_advisor_signs_in_and_finds_a_busy_board(runtime, client):
    await _demo(runtime)

    await sign_in(client, "advisor@demo.test", DEMO_PASSWORD)
    html = await (await client.get("/workshop/board")).get_data(as_text=True)

    cards = re.findall(r'id="wo-\d+"', html)
    assert len(cards) == 28  # 30 open work orders, 2 of them closed; the 60 of the past weeks too
    assert "WO-000061" in html


async def test_eighty_two_vehicles_each_with_an_owner_a_swiss_plate_and_a_valid_vin(runtime):
    """The workshop's 80 cars and the 2 the showroom delivered; the dealership's own loan cars belong to
    no customer (a reviewer found a loan car owned by a private customer), the taxis to their company."""
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        rows = (
            await session.execute(
                select(Vehicle.vin, Vehicle.plate, Fleet.name, Customer.company_name)
                .outerjoin(Customer, Customer.id == Vehicle.customer_id)
                .outerjoin(Fleet, Fleet.id == Vehicle.fleet_id)
            )
        ).all()
        fleets = (await session.execute(select(Fleet.name, Fleet.description))).all()

    assert len(rows) == 82
    assert len({vin for vin, *_rest in rows}) == 82
    assert [vin for vin, *_rest in rows if not vin_check_digit_is_valid(vin)] == []
    assert [vin for vin, *_rest in rows if validated_vin(vin) != vin] == []
    assert [plate for _vin, plate, *_rest in rows if not SWISS_PLATE.fullmatch(plate or "")] == []
    owners = [(fleet, company) for _vin, _plate, fleet, company in rows]
    assert owners.count(("Alpenblick Ersatzwagen", None)) == 6
    assert owners.count(("Taxi Zürisee GmbH", "Taxi Zürisee GmbH")) == 6
    assert len([row for row in rows if row.name is None]) == 70
    # The demo is a Swiss-German dealership: its own texts are German too.
    assert all(re.search(r"\b(für|der|die|des)\b", description) for _name, description in fleets), fleets


async def test_thirty_open_work_orders_cover_every_column_of_the_board(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        orders = (
            await session.execute(select(WorkOrder.number, WorkOrder.status).where(WorkOrder.number > 60))
        ).all()
        moves = await session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "work_order.moved")
        )

    assert sorted(number for number, _status in orders) == list(range(61, 91))
    statuses = [status for _number, status in orders]
    assert {status: statuses.count(status) > 0 for status in OPEN_STATUSES} == dict.fromkeys(
        OPEN_STATUSES, True
    )
    assert statuses.count("CLOSED") == 2
    # The demo's history was made through the real moves, so its audit trail is real too.
    assert (moves or 0) > 30


async def test_seeding_twice_changes_nothing(runtime):
    tenant = await _demo(runtime)
    before = await _table_sizes(runtime.db, tenant.id)

    again, created = await seed_demo(runtime.db)

    assert (again.id, created) == (tenant.id, False)
    assert await _table_sizes(runtime.db, tenant.id) == before
    async with runtime.db.system() as session:
        assert (
            await session.scalar(select(func.count()).select_from(Tenant).where(Tenant.slug == "demo")) == 1
        )


async def test_six_bays_and_a_profile_for_every_technician(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        bays = (await session.execute(select(Bay.name, Bay.kind).order_by(Bay.id))).all()
        technicians = (
            await session.execute(
                select(User.name, TechnicianProfile.skills, TechnicianProfile.shift_start)
                .outerjoin(TechnicianProfile, TechnicianProfile.user_id == User.id)
                .where(User.role == "technician")
            )
        ).all()

    assert [tuple(bay) for bay in bays] == [
        ("Hebebühne 1", "LIFT"),
        ("Hebebühne 2", "LIFT"),
        ("Hebebühne 3", "LIFT"),
        ("Hebebühne 4", "LIFT"),
        ("Achsvermessung", "ALIGNMENT"),
        ("EV-Platz", "EV"),
    ]
    assert len(technicians) == 6
    assert [name for name, skills, shift in technicians if not skills or shift is None] == []


async def test_forty_parts_in_francs_a_few_below_their_reorder_point(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        parts = (await session.scalars(select(Part))).all()
        reserved_on_lines = await session.scalar(
            select(func.sum(WorkOrderLine.reserved_quantity)).where(WorkOrderLine.kind == "PART")
        )
        ledger = (
            await session.execute(
                select(StockMovement.part_id, func.sum(StockMovement.on_hand_change)).group_by(
                    StockMovement.part_id
                )
            )
        ).all()

    assert len(parts) == 40
    assert all(part.price > part.cost > 0 for part in parts)
    assert 3 <= sum(part.below_reorder_point for part in parts) <= 8
    assert any(part.unit == "l" and "5W-30" in part.name for part in parts)
    # The open jobs' part lines hold their stock, and the ledger explains every level.
    assert sum(part.reserved for part in parts) == reserved_on_lines > 0
    assert dict(ledger) == {
        part.id: part.on_hand for part in parts if part.on_hand or part.id in dict(ledger)
    }


async def test_every_open_job_has_its_labour_and_the_past_six_weeks_are_invoiced(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        open_without_labour = await session.scalar(
            select(func.count())
            .select_from(WorkOrder)
            .where(
                WorkOrder.number > 60,
                ~WorkOrder.id.in_(select(WorkOrderLine.work_order_id).where(WorkOrderLine.kind == "LABOUR")),
            )
        )
        history = (
            await session.execute(
                select(WorkOrder.status, WorkOrder.completed_at, WorkOrder.comeback_of_id).where(
                    WorkOrder.number <= 60
                )
            )
        ).all()
        invoiced = await session.scalar(
            select(func.count()).select_from(Invoice).join(WorkOrder, WorkOrder.id == Invoice.work_order_id)
        )
        clocked = await session.scalar(select(func.count(func.distinct(TimeEntry.work_order_id))))
        counters = dict((await session.execute(select(Counter.name, Counter.value))).all())

    assert open_without_labour == 0
    assert len(history) == 60 and {status for status, _at, _of in history} == {"CLOSED"}
    oldest = min(at for _status, at, _of in history)
    assert timedelta(days=35) < utcnow() - oldest < timedelta(days=43)
    assert sum(of is not None for _status, _at, of in history) == 2
    assert (invoiced or 0) >= 60 and (clocked or 0) >= 60
    # New work orders and invoices continue the numbers of the imported ones.
    assert counters["work_order"] == 90 and counters["invoice"] >= 60


async def test_the_invoice_list_runs_newest_first_by_number_and_by_date(runtime, client):
    """Imported invoices were numbered by job, not by when they were issued: on a day with two, the
    later number was the earlier invoice, and the list read 59, 60, 57, 58."""
    tenant = await _demo(runtime)
    async with runtime.db.read(tenant.id) as session:
        by_time = list(await session.scalars(select(Invoice.number).order_by(Invoice.issued_at)))

    await sign_in(client, "advisor@demo.test", DEMO_PASSWORD)
    listed: list[int] = []
    page, more = 1, True
    while more:
        html = await (await client.get(f"/workshop/invoices?page={page}")).get_data(as_text=True)
        listed += [int(number) for number in re.findall(r">INV-(\d+)<", html)]
        page, more = page + 1, 'rel="next"' in html

    assert by_time == sorted(by_time)
    assert listed == sorted(listed, reverse=True) and len(listed) == len(by_time)


async def test_the_kpi_page_and_the_leaderboard_show_real_numbers(runtime, client):
    tenant = await _demo(runtime)
    async with runtime.db.read(tenant.id) as session:
        first_invoice = await session.scalar(select(Invoice.id).where(Invoice.number == 1))

    await sign_in(client, "workshop.manager@demo.test", DEMO_PASSWORD)
    page = await (await client.get("/workshop/kpis?period=month")).get_data(as_text=True)
    invoice = await client.get(f"/workshop/invoices/{first_invoice}")

    first_time_fix = re.search(r'id="kpi-first_time_fix".*?</section>', page, re.S)
    assert first_time_fix and "no data" not in first_time_fix.group(0)
    leaders = re.search(r'id="leaders-month".*?</section>', page, re.S)
    assert leaders and "Luca Rossi" in leaders.group(0)
    assert invoice.status_code == 200 and "INV-000001" in await invoice.get_data(as_text=True)


async def test_seeding_takes_seconds(backend, tmp_path):
    """The demo must be quick to set up; the number is printed for the record (-s shows it)."""
    from ops.db import Database
    from ops.migrate import upgrade_to_head
    from tests.conftest import _create_postgres_database, _drop_postgres_database

    if backend.is_postgres:
        url = await _create_postgres_database()
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'seed.db'}"
    await upgrade_to_head(url)
    db = Database(url)
    try:
        started = time.perf_counter()
        await seed_demo(db)
        print(f"\nseed --demo on {backend.name}: {time.perf_counter() - started:.1f} s")
    finally:
        await db.dispose()
        if backend.is_postgres:
            await _drop_postgres_database(url)


# --- The showroom ---------------------------------------------------------------------------------------


async def test_a_catalog_of_swiss_market_makes_with_option_rules(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        makes = set(await session.scalars(select(CatalogTrim.make)))
        groups = (
            await session.execute(select(OptionGroup.name, OptionGroup.min_select, OptionGroup.max_select))
        ).all()
        hud = (await session.scalars(select(CatalogOption).where(CatalogOption.code == "PKG-HUD"))).all()

    assert makes == {"Volkswagen", "Skoda", "Toyota", "BMW", "Tesla", "Volvo"}
    assert len(groups) == 3 * 12 and ("Farbe", 1, 1) in [tuple(group) for group in groups]
    assert len(hud) == 12 and all(
        option.requires == ["PKG-TECH"] and option.price > option.cost for option in hud
    )


async def test_twenty_five_units_in_every_status_with_vins_the_stock_form_accepts(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        units = (await session.scalars(select(StockUnit))).all()
        holds = {hold.id: hold for hold in await session.scalars(select(Reservation))}

    assert len(units) == 25
    assert {unit.status for unit in units} == {
        "AVAILABLE",
        "RESERVED",
        "SOLD",
        "DELIVERED",
        "DEMO",
        "LOANER",
        "INCOMING",
    }
    assert [unit.vin for unit in units if validated_vin(unit.vin) != unit.vin] == []
    assert [unit.vin for unit in units if not vin_check_digit_is_valid(unit.vin)] == []
    for unit in units:
        # A held unit has its active hold; a sold or delivered one its deal; the others neither.
        if unit.status == "RESERVED":
            hold = holds[unit.held_by_reservation_id]
            assert hold.status == "ACTIVE" and hold.expires_at > utcnow()
        else:
            assert unit.held_by_reservation_id is None
        assert (unit.deal_id is not None) is (unit.status in ("SOLD", "DELIVERED"))


async def test_forty_leads_over_the_stages_and_every_won_one_has_its_accepted_quote_and_deal(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        leads = (await session.scalars(select(Lead))).all()
        owners = dict((await session.execute(select(User.id, User.role))).all())
        accepted = {
            quote.lead_id: quote
            for quote in await session.scalars(select(Quote).where(Quote.status == "ACCEPTED"))
        }
        deals = (await session.scalars(select(Deal))).all()
        units = {unit.id: unit for unit in await session.scalars(select(StockUnit))}
        history = dict(
            (
                await session.execute(
                    select(LeadStageChange.lead_id, func.max(LeadStageChange.to_stage)).group_by(
                        LeadStageChange.lead_id
                    )
                )
            ).all()
        )
        counters = dict((await session.execute(select(Counter.name, Counter.value))).all())
        quote_count = await session.scalar(select(func.count()).select_from(Quote))
        drives = await session.scalar(select(func.count()).select_from(Drive))

    assert len(leads) == 40
    assert {lead.stage for lead in leads} == set(LEAD_STAGES)
    assert {owners[lead.owner_id] for lead in leads} <= {"sales_rep", "sales_manager"}
    assert set(history) == {lead.id for lead in leads}
    won = [lead for lead in leads if lead.stage == "WON"]
    assert all(lead.id in accepted and lead.closed_at for lead in won)
    assert all(lead.lost_reason for lead in leads if lead.stage == "LOST")
    assert sorted(deal.lead_id for deal in deals) == sorted(lead.id for lead in won)
    for deal in deals:
        assert deal.quote_id == accepted[deal.lead_id].id and units[deal.stock_unit_id].deal_id == deal.id
    assert sorted(deal.status for deal in deals) == sorted(
        ["DELIVERED", "DELIVERED", "READY_FOR_DELIVERY", "DEPOSIT_PAID", "OPEN"]
    )
    assert (counters["deal"], counters["quote"]) == (5, quote_count)
    assert drives == 5


async def test_a_seeded_approval_request_says_who_asked_and_when_as_one_made_in_the_app(runtime, client):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        waiting = (await session.scalars(select(Quote).where(Quote.status == "PENDING_APPROVAL"))).all()
        names = dict((await session.execute(select(User.id, User.name))).all())
        requests = {
            event.payload["id"]: event
            for event in await session.scalars(select(Event).where(Event.type == "quote.approval_requested"))
        }
    assert waiting
    for quote in waiting:
        asked = requests[quote.id]
        assert asked.actor_name == names[quote.approval_requested_by_id]
        assert asked.payload["reason"] == quote.approval_reason
        assert quote.created_at < asked.created_at <= utcnow()

    await sign_in(client, "sales.manager@demo.test", DEMO_PASSWORD)
    html = await (await client.get("/sales/approvals")).get_data(as_text=True)
    # "angefragt von Lea Frei · 20.11.2026, 14:05": the request's time, as for one made in the app.
    asked_by = re.findall(r"angefragt von [^<·]+·\s*(\d{2}\.\d{2}\.\d{4}[^<]*)</p>", html)
    assert len(asked_by) == len(waiting)


async def test_the_sales_manager_finds_deals_and_this_months_sales_kpis(runtime, client):
    await _demo(runtime)

    await sign_in(client, "sales.manager@demo.test", DEMO_PASSWORD)
    deals = await (await client.get("/sales/deals")).get_data(as_text=True)
    kpis = await (await client.get("/sales/kpis?period=month")).get_data(as_text=True)

    assert len(re.findall(r'id="deal-\d+"', deals)) == 5
    for key in ("kpi-conversion", "kpi-gross_profit_per_deal", "kpi-revenue_per_rep", "kpi-pipeline"):
        section = re.search(rf'id="{key}".*?</section>', kpis, re.S)
        assert section and "no data" not in section.group(0), key


# --- A demo that hangs together ---------------------------------------------------------------------------

# Each make's World Manufacturer Identifiers (the VIN's first three characters), as makers register them.
WMI_OF_MAKE = {
    "Volkswagen": {"WVW", "WVG", "WV1", "WV2"},
    "Skoda": {"TMB"},
    "Toyota": {"JTD", "JTM", "JTE", "JTN", "SB1", "VNK"},
    "BMW": {"WBA", "WBY"},
    "Audi": {"WAU", "WUA"},
    "Tesla": {"5YJ", "7SA", "LRW", "XP7"},
    "Renault": {"VF1"},
    "Ford": {"WF0", "NM0"},
    "Mercedes-Benz": {"WDD", "W1K", "WDB", "W1N"},
    "Subaru": {"JF1", "JF2"},
    "Volvo": {"YV1", "LYV"},
}
# What only a car with a combustion engine takes: oil and its filters, exhaust and ignition parts.
ENGINE_WORDS = re.compile(
    r"Öl|Zünd|Zahnriemen|Abgas|Katalysator|Motorkontroll|Kraftstoff|AdBlue|Luftfilter", re.I
)
# The category a complaint is booked under, by what the customer said.
CATEGORY_OF_COMPLAINT = (
    (re.compile(r"Bremse"), "Brake Service"),
    (re.compile(r"Scheinwerfer|Batterie|Lade|Hochvolt"), "Electrical"),
    (re.compile(r"Räderwechsel|Reifen|Vibration im Lenkrad"), "Tire Service"),
    (re.compile(r"Ölwechsel"), "Oil Change"),
    (re.compile(r"Getriebe"), "Transmission Service"),
    (re.compile(r"Kratzer|Stossstange"), "Body Work"),
    (re.compile(r"MFK"), "Inspection"),
    (re.compile(r"Motorkontroll"), "Engine Repair"),
    (re.compile(r"Service"), "Preventive Maintenance"),
    (re.compile(r"Klimaanlage|Geräusch"), "Repair"),
)
# What the labour of each category is about.
LABOUR_OF_CATEGORY = {
    "Brake Service": r"Brems",
    "Electrical": r"Batterie|[Ll]ampe|Ladeklappe|Hochvolt",
    "Tire Service": r"Räder|Reifen",
    "Oil Change": r"Ölwechsel",
    "Transmission Service": r"Getriebe",
    "Body Work": r"Stossstange|lackieren",
    "Inspection": r"MFK|Inspektion",
    "Engine Repair": r"Diagnose|Motor|Zünd",
    "Preventive Maintenance": r"Inspektion|Service|Wischer|Zahnriemen",
    "Repair": r"Klima|Stossdämpfer|Querlenker",
}


async def test_every_vin_begins_with_its_makers_wmi(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        vehicles = (await session.execute(select(Vehicle.make, Vehicle.vin))).all()

    assert [(make, vin) for make, vin in vehicles if vin[:3] not in WMI_OF_MAKE[make]] == []


async def test_each_work_order_is_booked_and_worked_as_its_complaint_says(runtime):
    """A reviewer found a headlight fault with a brake job and a draining battery with a headlight bulb."""
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        orders = (
            await session.execute(
                select(WorkOrder.id, WorkOrder.complaint, WorkOrderCategory.name).join(
                    WorkOrderCategory, WorkOrderCategory.id == WorkOrder.category_id
                )
            )
        ).all()
        labour: dict[int, list[str]] = {}
        for work_order_id, description in await session.execute(
            select(WorkOrderLine.work_order_id, WorkOrderLine.description).where(
                WorkOrderLine.kind == "LABOUR"
            )
        ):
            labour.setdefault(work_order_id, []).append(description)

    assert len(orders) == 90
    for work_order_id, complaint, category in orders:
        expected = next(name for pattern, name in CATEGORY_OF_COMPLAINT if pattern.search(complaint))
        assert category == expected, complaint
        assert labour[work_order_id] and all(
            re.search(LABOUR_OF_CATEGORY[category], line) for line in labour[work_order_id]
        ), (complaint, category, labour[work_order_id])


async def test_electric_cars_get_no_oil_exhaust_or_engine_items(runtime):
    """A reviewer found an oil-change schedule on a VW ID.4 and a catalytic converter's code on an Enyaq."""
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        electric = select(Vehicle.id).where(Vehicle.fuel_type == "ELECTRIC")
        schedules = set(
            await session.scalars(
                select(MaintenanceSchedule.service_type)
                .join(VehicleMaintenance, VehicleMaintenance.schedule_id == MaintenanceSchedule.id)
                .where(VehicleMaintenance.vehicle_id.in_(electric))
            )
        )
        lines = set(
            await session.scalars(
                select(WorkOrderLine.description)
                .join(WorkOrder, WorkOrder.id == WorkOrderLine.work_order_id)
                .where(WorkOrder.vehicle_id.in_(electric))
            )
        )
        complaints = set(
            await session.scalars(select(WorkOrder.complaint).where(WorkOrder.vehicle_id.in_(electric)))
        )
        alerts = set(
            await session.scalars(select(VehicleAlert.condition).where(VehicleAlert.vehicle_id.in_(electric)))
        )
        engine_readings = await session.scalar(
            select(func.count())
            .select_from(TelemetryReading)
            .where(
                TelemetryReading.vehicle_id.in_(electric),
                (TelemetryReading.engine_temp_c.is_not(None)) | (TelemetryReading.fuel_level.is_not(None)),
            )
        )
        cars = await session.scalar(select(func.count()).select_from(electric.subquery()))
        oil_elsewhere = await session.scalar(
            select(func.count())
            .select_from(VehicleMaintenance)
            .join(MaintenanceSchedule, MaintenanceSchedule.id == VehicleMaintenance.schedule_id)
            .where(MaintenanceSchedule.service_type == "Ölwechsel")
        )

    assert (cars or 0) > 5 and schedules and lines  # the demo has electric cars, serviced
    assert [name for name in schedules | lines | complaints if ENGINE_WORDS.search(name)] == []
    assert [
        condition for condition in alerts if condition.startswith("dtc:P04") or "engine" in condition
    ] == []
    assert engine_readings == 0
    assert (oil_elsewhere or 0) > 30  # the cars with an engine still get theirs


async def test_each_cars_odometer_only_goes_up_over_time(runtime):
    """Readings, services done and check-ins of one car: a later day never shows fewer kilometres."""
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        zone = ZoneInfo(tenant.timezone)
        marks: dict[int, list[tuple[date, int, str]]] = {}
        for vehicle_id, at, metres in await session.execute(
            select(TelemetryReading.vehicle_id, TelemetryReading.recorded_at, TelemetryReading.odometer_m)
        ):
            marks.setdefault(vehicle_id, []).append((at.astimezone(zone).date(), metres // 1000, "reading"))
        for vehicle_id, on, km in await session.execute(
            select(
                VehicleMaintenance.vehicle_id,
                VehicleMaintenance.last_done_on,
                VehicleMaintenance.last_done_km,
            ).where(VehicleMaintenance.last_done_on.is_not(None))
        ):
            marks.setdefault(vehicle_id, []).append((on, km, "service"))
        for vehicle_id, at, km in await session.execute(
            select(WorkOrder.vehicle_id, WorkOrder.checked_in_at, WorkOrder.odometer_in_km).where(
                WorkOrder.odometer_in_km.is_not(None)
            )
        ):
            marks.setdefault(vehicle_id, []).append((at.astimezone(zone).date(), km, "check-in"))
        today = utcnow().astimezone(zone).date()
        for vehicle_id, km in await session.execute(select(Vehicle.id, Vehicle.odometer_km)):
            marks.setdefault(vehicle_id, []).append((today, km, "now"))

    backwards = []
    for vehicle_id, points in marks.items():
        points.sort()
        for earlier, later in itertools.pairwise(points):
            if later[0] > earlier[0] and later[1] < earlier[1]:
                backwards.append((vehicle_id, earlier, later))
    assert sum(len(points) > 2 for points in marks.values()) > 70
    assert backwards == []


async def test_last_service_and_last_seen_agree_with_the_records_shown_beside_them(runtime, client):
    """A reviewer saw 'Last service —' above a maintenance table with dates, and 'Last seen: Never' for
    trackers whose readings and alerts were on the same page."""
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        last_done = dict(
            (
                await session.execute(
                    select(VehicleMaintenance.vehicle_id, func.max(VehicleMaintenance.last_done_on)).group_by(
                        VehicleMaintenance.vehicle_id
                    )
                )
            ).all()
        )
        last_service = dict((await session.execute(select(Vehicle.id, Vehicle.last_service_on))).all())
        devices = (
            await session.execute(
                select(TelematicsDevice.last_seen_at, func.max(TelemetryReading.received_at))
                .join(TelemetryReading, TelemetryReading.vehicle_id == TelematicsDevice.vehicle_id)
                .group_by(TelematicsDevice.id, TelematicsDevice.last_seen_at)
            )
        ).all()

    assert len(last_done) > 70
    for vehicle_id, done_on in last_done.items():
        if done_on is not None:
            assert last_service[vehicle_id] is not None and last_service[vehicle_id] >= done_on, vehicle_id
    assert len(devices) == 10 and all(seen == received for seen, received in devices)

    await sign_in(client, "admin@demo.test", DEMO_PASSWORD)
    page = await (await client.get("/vehicles/telematics")).get_data(as_text=True)
    table = re.search(r'class="stack telematics-devices".*?</table>', page, re.S)
    assert table and table.group(0).count("<tr>") == 11 and "Never" not in table.group(0)


async def test_the_seeded_workshop_kpis_read_like_a_real_workshop(runtime):
    """A manager opening the demo read an efficiency of 365 %: the jobs done today were invoiced with
    no time clocked on them. Billed and clocked hours now agree, period by period."""
    from ops.workshop.kpis import queries as kpis

    tenant = await _demo(runtime)
    now = utcnow()
    for key in ("week", "month"):
        period = kpis.period_for(key, now, tenant.timezone)
        async with runtime.db.read(tenant.id) as session:
            panel = await kpis.kpi_panel(session, period, tenant.labour_rate, now)
        efficiency, first_time_fix = panel.efficiency.value, panel.first_time_fix.value
        mean_time_to_repair = panel.mean_time_to_repair_hours

        assert efficiency is not None and Decimal("0.85") <= efficiency <= Decimal("1.10"), (key, efficiency)
        assert first_time_fix is not None and Decimal("0.9") <= first_time_fix <= 1, (key, first_time_fix)
        assert mean_time_to_repair is not None and 0.5 <= mean_time_to_repair <= 3, (key, mean_time_to_repair)
