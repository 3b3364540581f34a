"""The demo seed: a Swiss dealership with one user per role, 80 vehicles (six of them its own loan cars)
and 1,200 regular customers' cars, 30 open work orders with their lines, 6 bays, 40 parts, and six weeks
of a busy workshop's completed jobs (some 40 a working day, three quarters of the technicians' shift
hours clocked) with time entries and invoices, paid as a workshop's are (by card through Stripe, in
cash, by transfer; a few still open, some of them overdue); and a showroom with 12 trims and their
options, 25 units, 40 leads over the stages, test drives, quotes and five deals (two delivered). Its
records agree with each other as a real dealership's would: each job's category and lines follow from
its complaint, electric cars get no engine work, VINs carry their maker's WMI, and a car's odometer
only goes up.

Demo passwords exist only here, and the seed refuses to run in production.

Its modules go by what they seed: `data` (the tables and small rules the others share), `board` (the
open work orders), `history` (the past weeks' jobs), `payments` (how those were paid), `showroom`, and
`fleet` (vehicles and telematics); `seed_demo` here runs them in order.
"""

from __future__ import annotations

import random
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from ops.auth.actor import Actor
from ops.auth.models import User
from ops.auth.service import create_user
from ops.customers.models import Customer
from ops.db import Database, utcnow
from ops.seed.board import (
    OpenJob,
    add_lines,
    plan_open_work,
    planned_team,
    promised,
    put_open_orders_on_bays,
    seed_bays_profiles_and_parts,
)
from ops.seed.data import (
    CANTONS,
    COLOURS,
    COMPANIES,
    DEMO_PASSWORD,
    DEMO_SLUG,
    DEMO_USERS,
    DEMO_VAT_NUMBER,
    FIRST_NAMES,
    LAST_NAMES,
    LATEST_MODEL_YEAR,
    MODELS,
    OPEN_BOARD,
    OPEN_JOBS,
    OPERATION_BY_NAME,
    STREETS,
    TOWNS,
    VEHICLES,
    demo_vin,
    in_service_since,
    job_for,
    path_to,
)
from ops.seed.fleet import FLEET_SIZE, FLEETS, TAXI_COMPANY, seed_fleet
from ops.seed.history import CUSTOMER_CARS_SEED, HISTORY_SEED, seed_customer_cars, seed_history
from ops.seed.payments import DEMO_STRIPE_SECRET_KEY, DEMO_STRIPE_WEBHOOK_SECRET
from ops.seed.showroom import seed_showroom
from ops.tenants.models import Tenant
from ops.tenants.service import provision_tenant
from ops.vehicles.models import Fleet, Vehicle
from ops.workshop.models import WorkOrderCategory
from ops.workshop.service import (
    IN_BAY_STATUSES,
    NewWorkOrder,
    assign_work_order,
    create_work_order,
    move_work_order,
)

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "seed_demo"]


async def seed_demo(db: Database) -> tuple[Tenant, bool]:
    """Create the demo tenant; returns (tenant, created). Running it twice changes nothing."""
    async with db.system() as session:
        existing = await session.scalar(select(Tenant).where(Tenant.slug == DEMO_SLUG))
    if existing is not None:
        return existing, False
    rng = random.Random(42)
    admin_email, admin_name, _role, admin_locale = DEMO_USERS[0]
    provisioned = await provision_tenant(
        db,
        slug=DEMO_SLUG,
        name="Garage Alpenblick AG",
        admin_email=admin_email,
        admin_name=admin_name,
        admin_password=DEMO_PASSWORD,
        country="CH",
        # A workshop this busy has well over the Professional plan's 100 vehicles on file.
        plan="ENTERPRISE",
    )
    tenant = provisioned.tenant
    async with db.system(write=True) as session:
        await session.execute(
            update(Tenant)
            .where(Tenant.id == tenant.id)
            .values(
                street="Seestrasse 41",
                postal_code="8820",
                city="Wädenswil",
                vat_number=DEMO_VAT_NUMBER,
                # The customers have paid by card through Stripe for weeks (see payments.plan_payments).
                stripe_secret_key=DEMO_STRIPE_SECRET_KEY,
                stripe_webhook_secret=DEMO_STRIPE_WEBHOOK_SECRET,
            )
        )
        await session.commit()
    admin = Actor(
        tenant_id=tenant.id, user_id=provisioned.admin.id, name=admin_name, role="admin", locale="en"
    )
    async with db.uow(admin) as uow:
        user = await uow.session.get_one(User, provisioned.admin.id)
        user.locale = admin_locale
        await uow.commit()
    users: dict[str, Actor] = {"admin": admin}
    for email, name, role, locale in DEMO_USERS[1:]:
        async with db.uow(admin) as uow:
            created = await create_user(
                uow, email=email, name=name, role=role, password=DEMO_PASSWORD, locale=locale
            )
        users.setdefault(role, Actor(tenant.id, created.id, name, role, locale=locale or tenant.locale))

    now = utcnow()
    zone = ZoneInfo(tenant.timezone)
    today = now.astimezone(zone).date()
    async with db.uow(admin) as uow:
        session = uow.session
        loan_fleet, taxi_fleet = fleets = [Fleet(name=name, description=text) for name, text in FLEETS]
        session.add_all(fleets)
        taxi_company = Customer(
            type="FLEET",
            first_name="Reto",
            last_name="Lüthi",
            company_name=TAXI_COMPANY,
            email="flotte@taxi-zuerisee.example.ch",
            phone="+41447201515",
            preferred_language="de",
            address_line="Seestrasse 88",
            postal_code="8810",
            city="Horgen",
        )
        session.add(taxi_company)
        await session.flush()
        for index in range(VEHICLES):
            # The first cars are the dealership's own loan cars (no customer owns them), then a taxi
            # company's fleet; the rest belong to private and business customers.
            fleet = loan_fleet if index < FLEET_SIZE else taxi_fleet if index < 2 * FLEET_SIZE else None
            owner: Customer | None = taxi_company if fleet is taxi_fleet else None
            if fleet is None:
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                company = COMPANIES[index % len(COMPANIES)] if index % 8 == 0 else None
                owner = Customer(
                    type="BUSINESS" if company else "INDIVIDUAL",
                    first_name=first,
                    last_name=last,
                    company_name=company,
                    email=f"{first.lower()}.{last.lower()}{index}@example.ch".replace("ü", "ue"),
                    phone=f"+4179{rng.randint(100, 999)}{rng.randint(10, 99)}{rng.randint(10, 99)}",
                    preferred_language=rng.choice(("de", "de", "de", "fr", "it", "en")),
                    address_line=f"{rng.choice(STREETS)} {rng.randint(1, 120)}",
                    postal_code=(town := rng.choice(TOWNS))[0],
                    city=town[1],
                )
                session.add(owner)
                await session.flush()
            make, model, fuel, wmi, first_year = rng.choice(MODELS)
            # Loan cars are nearly new; taxis cover a day's shift; other cars an ordinary commute.
            if fleet is loan_fleet:
                year, daily_km = rng.randint(LATEST_MODEL_YEAR - 1, LATEST_MODEL_YEAR), rng.uniform(60, 90)
            else:
                year = rng.randint(first_year, LATEST_MODEL_YEAR)
                daily_km = rng.uniform(140, 220) if fleet is taxi_fleet else rng.uniform(20, 55)
            session.add(
                Vehicle(
                    vin=demo_vin(rng, wmi, year),
                    plate=f"{rng.choice(CANTONS)} {rng.randint(10000, 999999)}",
                    make=make,
                    model=model,
                    year=year,
                    fuel_type=fuel,
                    colour=rng.choice(COLOURS),
                    odometer_km=max(500, int((today - in_service_since(year)).days * daily_km)),
                    customer_id=owner.id if owner is not None else None,
                    fleet_id=fleet.id if fleet is not None else None,
                )
            )
        await uow.commit()
    await seed_customer_cars(db, tenant, admin, random.Random(CUSTOMER_CARS_SEED), today)

    async with db.read(tenant.id) as session:
        fuel_of = dict(
            (await session.execute(select(Vehicle.id, Vehicle.fuel_type).order_by(Vehicle.id))).all()
        )
        vehicle_ids = list(fuel_of)
        categories = dict((await session.execute(select(WorkOrderCategory.name, WorkOrderCategory.id))).all())
        technicians = {
            email: user_id
            for email, user_id in await session.execute(
                select(User.email, User.id).where(User.role == "technician").order_by(User.id)
            )
        }
    advisor = users["service_advisor"]
    manager = users["workshop_manager"]
    bay_ids, parts = await seed_bays_profiles_and_parts(db, manager, technicians)
    team = planned_team(technicians)
    # The open jobs are planned first: their technicians' latest work and the bays they hold now are
    # theirs, and the history fills each technician's shifts before that.
    statuses = [*OPEN_BOARD, "CLOSED", "CLOSED"]
    open_jobs: list[OpenJob] = []
    # A job goes into work on a bay: those that stay in work keep theirs, the finished ones worked on
    # the one left over and gave it back.
    free_bays = list(bay_ids)
    for index, status in enumerate(statuses):
        job = job_for(fuel_of[vehicle_ids[index]], index)
        able = [technician.id for technician in team.values() if technician.can_do(job)]
        bay_id = None
        if any(step in IN_BAY_STATUSES for step in path_to(status)):
            bay_id = free_bays.pop(0) if status in IN_BAY_STATUSES else free_bays[0]
        open_jobs.append(OpenJob(status, rng.choice(able) if status != "NEW" else None, job, bay_id))
    open_work = plan_open_work(open_jobs, team, now, zone, rng)
    await seed_history(
        db,
        tenant,
        users,
        # Its own generator: the history's length follows the calendar, the rest of the demo does not.
        random.Random(HISTORY_SEED),
        vehicle_ids[OPEN_JOBS:],
        fuel_of,
        categories,
        team,
        bay_ids,
        parts,
        open_work,
    )
    open_orders: list[int] = []
    for index, (status, technician_id, job, bay_id) in enumerate(open_jobs):
        complaint, category, operations, _cars = job
        async with db.uow(advisor) as uow:
            work_order = await create_work_order(
                uow,
                NewWorkOrder(
                    vehicle_id=vehicle_ids[index],
                    complaint=complaint,
                    priority=rng.choice(("LOW", "NORMAL", "NORMAL", "NORMAL", "HIGH", "URGENT")),
                    category_id=categories[category],
                    technician_id=technician_id,
                    promised_at=promised(rng, today, zone),
                ),
            )
        for name in operations:
            await add_lines(db, advisor, work_order.id, OPERATION_BY_NAME[name], parts)
        version = work_order.version
        if bay_id is not None:
            async with db.uow(manager) as uow:
                assigned = await assign_work_order(uow, work_order.id, technician_id, bay_id, version)
            version = assigned.version
        for step in path_to(status):
            async with db.uow(advisor) as uow:
                moved = await move_work_order(uow, work_order.id, step, version)
            version = moved.version
        open_orders.append(work_order.id)
    await put_open_orders_on_bays(db, manager, open_orders, open_jobs, open_work, bay_ids, now, zone)
    await seed_showroom(db, tenant, users, rng)
    await seed_fleet(db, tenant, users["workshop_manager"], rng)
    return tenant, True
