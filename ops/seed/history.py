"""The workshop's past six weeks: the regular customers' cars, and every technician's shifts filled
with completed jobs, imported with their lines, history, time entries and invoices."""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update

from ops.auth.actor import Actor
from ops.customers.models import Customer
from ops.db import Database, utcnow
from ops.money import PricedLine, line_net, totals
from ops.seed.board import PROMISE_TIMES, OpenWork, PlannedTechnician, collected
from ops.seed.data import (
    BAYS,
    CANTONS,
    COLOURS,
    CUSTOMER_CARS,
    CUSTOMER_LANGUAGES,
    FIRST_NAMES,
    HISTORY_WEEKS,
    JOBS,
    LAST_NAMES,
    LATEST_MODEL_YEAR,
    MODELS,
    OPERATION_BY_NAME,
    STREETS,
    TOWNS,
    VEHICLES,
    Job,
    Operation,
    demo_vin,
    in_service_since,
    odometer_at,
)
from ops.seed.payments import Invoiced, import_payments, paid_fields, plan_payments
from ops.tenants.models import Counter, Tenant
from ops.vehicles.models import Vehicle
from ops.workshop.models import Invoice, Part, TimeEntry, WorkOrder, WorkOrderHistory, WorkOrderLine

# A busy workshop: on every working day each technician's shift holds one job after the other, as many
# as fit, with the gaps a real day has (fetching the next car, the quality check, a break at noon,
# waiting for a free bay). The utilisation KPI counts clocked hours against shift hours from Monday to
# Friday; the workshop is closed at weekends, and nothing the seed clocks lies outside a shift.

HISTORY_SEED = 4242
CUSTOMER_CARS_SEED = 4343
BREAK_FROM, BREAK = time(11, 45), timedelta(minutes=30)

# Repairs that can fail to hold and bring the car back; routine services do not.
COMEBACK_CATEGORIES = ("Brake Service", "Engine Repair", "Repair", "Electrical", "Transmission Service")
# When a car comes back: within the 30 days that make it a comeback, at least a day after collection.
COMEBACK_AFTER_DAYS = (1, 25)
# The bay kinds a job prefers, before any lift.
BAY_PREFERENCE = {"ELECTRIC": ("EV",), "Tire Service": ("ALIGNMENT",)}
# A car is booked for a past visit at most this long before it came in.
BOOKED_AHEAD_DAYS = 10


@dataclass
class PastJob:
    technician_id: int
    bay_id: int
    job: Job
    vehicle_id: int
    created: datetime
    checked_in: datetime
    clock_on: datetime
    clock_off: datetime
    completed: datetime
    closed: datetime
    comeback_of: PastJob | None = None
    # When the car comes back with the same complaint (a repair that did not hold), if it does.
    returns_at: datetime | None = None


def working_days(today: date, weeks: int) -> list[date]:
    """Monday to Friday of the last `weeks` weeks and today, oldest first."""
    days = [today - timedelta(days=offset) for offset in range(weeks * 7, -1, -1)]
    return [day for day in days if day.weekday() < 5]


def _job_for_technician(
    fuel_type: str, technician: PlannedTechnician, turn: int, hours_left: float
) -> Job | None:
    """The first job from `turn` on for this car that the technician can do in the hours left."""
    electric = fuel_type == "ELECTRIC"
    for offset in range(len(JOBS)):
        job = JOBS[(turn + offset) % len(JOBS)]
        fits_car = job[3] == "any" or (job[3] == "electric") == electric
        hours = sum(float(OPERATION_BY_NAME[name][1]) for name in job[2]) * technician.speed[1]
        if fits_car and technician.can_do(job) and hours <= hours_left:
            return job
    return None


def _free_bay(
    bays: list[tuple[int, str]],
    free_at: dict[int, datetime],
    held_from: dict[int, datetime],
    start: datetime,
    end: datetime,
    preferred: tuple[str, ...],
) -> int | None:
    """A bay free from `start` to `end`: of a preferred kind first, then a lift, then any."""
    order = sorted(
        bays,
        key=lambda bay: (bay[1] not in preferred, bay[1] != "LIFT", bay[0]),
    )
    for bay_id, _kind in order:
        if free_at[bay_id] <= start and end <= held_from.get(bay_id, end):
            return bay_id
    return None


def plan_history(
    days: list[date],
    now: datetime,
    zone: ZoneInfo,
    team: dict[int, PlannedTechnician],
    bays: list[tuple[int, str]],
    cars: list[int],
    fuel_of: dict[int, str],
    open_work: OpenWork,
    rng: random.Random,
) -> list[PastJob]:
    """Every technician's shifts on `days`, up to now and to their open work, filled with jobs (see above).
    Each job takes a car that has not been in for 40 days, except the comebacks, which take the car of
    a repair that did not hold."""
    planned: list[PastJob] = []
    waiting_cars = deque(cars)
    last_visit: dict[int, datetime] = {}
    comebacks: list[PastJob] = []
    for day in days:
        ready: list[tuple[datetime, int, datetime]] = []
        for technician in team.values():
            start, end = technician.shift_on(day, zone)
            busy_from = open_work.busy_from.get(technician.id, end)
            cutoff = min(end, now - timedelta(minutes=10), busy_from - timedelta(minutes=10))
            heapq.heappush(ready, (start + timedelta(minutes=rng.randint(0, 10)), technician.id, cutoff))
        free_at = {bay_id: datetime.combine(day, time(0), zone) for bay_id, _kind in bays}
        rested: set[int] = set()
        while ready:
            at, technician_id, cutoff = heapq.heappop(ready)
            technician = team[technician_id]
            if technician_id not in rested and at.astimezone(zone).time() >= BREAK_FROM:
                rested.add(technician_id)
                heapq.heappush(ready, (at + BREAK, technician_id, cutoff))
                continue
            hours_left = (cutoff - at).total_seconds() / 3600 - 0.25
            # A car whose repair did not hold comes first; it is a comeback within 30 days of the job.
            comebacks[:] = [earlier for earlier in comebacks if earlier.completed > at - timedelta(days=29)]
            comeback = next(
                (
                    earlier
                    for earlier in comebacks
                    if earlier.returns_at is not None
                    and earlier.returns_at <= at
                    and technician.can_do(earlier.job)
                    and _booked_hours(earlier.job) * technician.speed[1] <= hours_left
                ),
                None,
            )
            picked: Job | None
            if comeback is not None:
                picked, vehicle_id = comeback.job, comeback.vehicle_id
            else:
                next_car = _next_car(waiting_cars, last_visit, at)
                if next_car is None:
                    continue
                vehicle_id = next_car
                picked = _job_for_technician(
                    fuel_of[vehicle_id], technician, rng.randrange(len(JOBS)), hours_left
                )
            fuel = fuel_of[vehicle_id]
            if picked is None:
                continue  # nothing fits into what is left of the shift: the day is over
            length = timedelta(hours=_booked_hours(picked) * rng.uniform(*technician.speed))
            completed = at + length + timedelta(minutes=rng.randint(4, 10))
            preferred = BAY_PREFERENCE.get(fuel, ()) + BAY_PREFERENCE.get(picked[1], ())
            bay_id = _free_bay(bays, free_at, open_work.held_from, at, completed, preferred)
            if bay_id is None:
                # Every bay taken: wait for the next one to come free.
                later = min((moment for moment in free_at.values() if moment > at), default=cutoff)
                if later < cutoff:
                    heapq.heappush(ready, (later, technician_id, cutoff))
                continue
            checked_in = at - timedelta(minutes=rng.randint(10, 90))
            if comeback is not None:
                created = max(
                    comeback.closed + timedelta(minutes=10), checked_in - timedelta(hours=rng.uniform(1, 20))
                )
                comeback.returns_at = None
                comebacks.remove(comeback)
            else:
                created = checked_in - timedelta(
                    days=rng.randint(1, BOOKED_AHEAD_DAYS), minutes=rng.randint(0, 480)
                )
                # To the back of the queue: the next visit of this car is at least 40 days away.
                waiting_cars.rotate(-1)
            past = PastJob(
                technician_id=technician_id,
                bay_id=bay_id,
                job=picked,
                vehicle_id=vehicle_id,
                created=created,
                checked_in=checked_in,
                clock_on=at,
                clock_off=at + length,
                completed=completed,
                closed=collected(completed, zone, now, rng),
                comeback_of=comeback,
            )
            if (
                comeback is None
                and picked[1] in COMEBACK_CATEGORIES
                and rng.random() < technician.comeback_share
            ):
                past.returns_at = past.closed + timedelta(days=rng.uniform(*COMEBACK_AFTER_DAYS))
                comebacks.append(past)
            planned.append(past)
            last_visit[vehicle_id] = completed
            free_at[bay_id] = completed
            gap = timedelta(minutes=rng.randint(*technician.gap_minutes))
            heapq.heappush(ready, (completed + gap, technician_id, cutoff))
    return planned


def _next_car(waiting_cars: deque[int], last_visit: dict[int, datetime], at: datetime) -> int | None:
    """The first car in the queue that has not been in for 40 days (so a visit booked up to ten days
    ahead is no comeback); it stays first until it is taken."""
    for _turn in range(len(waiting_cars)):
        seen = last_visit.get(waiting_cars[0])
        if seen is None or seen <= at - timedelta(days=40):
            return waiting_cars[0]
        waiting_cars.rotate(-1)
    return None


def _booked_hours(job: Job) -> float:
    return sum(float(OPERATION_BY_NAME[name][1]) for name in job[2])


async def seed_customer_cars(
    db: Database, tenant: Tenant, admin: Actor, rng: random.Random, today: date
) -> None:
    """The regular customers and their cars, one each, in two statements."""
    async with db.read(tenant.id) as session:
        vins = set(await session.scalars(select(Vehicle.vin)))
        plates = set(await session.scalars(select(Vehicle.plate)))
    weights = [entry[0] for entry in CUSTOMER_LANGUAGES]
    customers: list[dict[str, Any]] = []
    for index in range(CUSTOMER_CARS):
        _weight, language, own_firsts, own_lasts = rng.choices(CUSTOMER_LANGUAGES, weights)[0]
        firsts: tuple[str, ...] = own_firsts + FIRST_NAMES if language == "de" else own_firsts
        lasts: tuple[str, ...] = own_lasts + LAST_NAMES if language == "de" else own_lasts
        first, last = rng.choice(firsts), rng.choice(lasts)
        postal_code, city = rng.choice(TOWNS)
        customers.append(
            {
                "tenant_id": tenant.id,
                "type": "INDIVIDUAL",
                "status": "ACTIVE",
                "first_name": first,
                "last_name": last,
                "email": f"{_ascii(first)}.{_ascii(last)}{VEHICLES + index}@example.ch",
                "phone": f"+417{rng.choice('689')}{rng.randint(1_000_000, 9_999_999)}",
                "preferred_language": language,
                "address_line": f"{rng.choice(STREETS)} {rng.randint(1, 120)}",
                "postal_code": postal_code,
                "city": city,
            }
        )
    async with db.uow(admin) as uow:
        session = uow.session
        customer_ids = list(
            await session.scalars(
                insert(Customer).returning(Customer.id, sort_by_parameter_order=True), customers
            )
        )
        vehicles: list[dict[str, Any]] = []
        for customer_id in customer_ids:
            make, model, fuel, wmi, first_year = rng.choice(MODELS)
            year = rng.randint(first_year, LATEST_MODEL_YEAR)
            vin = demo_vin(rng, wmi, year)
            plate = f"{rng.choice(CANTONS)} {rng.randint(10000, 999999)}"
            while vin in vins or plate in plates:
                vin, plate = demo_vin(rng, wmi, year), f"{rng.choice(CANTONS)} {rng.randint(10000, 999999)}"
            vins.add(vin)
            plates.add(plate)
            vehicles.append(
                {
                    "tenant_id": tenant.id,
                    "vin": vin,
                    "plate": plate,
                    "make": make,
                    "model": model,
                    "year": year,
                    "fuel_type": fuel,
                    "colour": rng.choice(COLOURS),
                    "odometer_km": max(500, int((today - in_service_since(year)).days * rng.uniform(20, 55))),
                    "customer_id": customer_id,
                }
            )
        await session.execute(insert(Vehicle), vehicles)
        await uow.commit()


def _ascii(name: str) -> str:
    """A name as an e-mail address spells it: Müller -> mueller, Valérie -> valerie."""
    spelled = name.lower()
    for letter, plain in (
        ("ä", "ae"),
        ("ö", "oe"),
        ("ü", "ue"),
        ("é", "e"),
        ("è", "e"),
        ("à", "a"),
        ("ç", "c"),
    ):
        spelled = spelled.replace(letter, plain)
    return spelled


async def seed_history(
    db: Database,
    tenant: Tenant,
    users: dict[str, Actor],
    rng: random.Random,
    vehicle_ids: list[int],
    fuel_of: dict[int, str],
    categories: dict[str, int],
    team: dict[int, PlannedTechnician],
    bay_ids: list[int],
    parts: dict[str, Part],
    open_work: OpenWork,
) -> None:
    """The past six weeks' jobs (see plan_history), as the dealership's records before it started with
    Pitwall: closed work orders with their lines, history, time entries and invoices, imported in one
    transaction and a statement per table (hundreds of use-case calls made the seed take minutes).
    Amounts come from ops.money like every invoice's; the parts predate today's opening stock, so the
    stock ledger starts after them. They are numbered WO-000001 and INV-000001 on in the order they were
    booked and invoiced, and the counters continue from there. The invoices are paid as a workshop's
    are (see plan_payments), each payment with the rows and events the app records for it."""
    zone = ZoneInfo(tenant.timezone)
    now = utcnow()
    order = list(vehicle_ids)
    rng.shuffle(order)
    bays = [(bay_id, kind) for bay_id, (_name, kind) in zip(bay_ids, BAYS, strict=True)]
    planned = plan_history(
        working_days(now.astimezone(zone).date(), HISTORY_WEEKS),
        now,
        zone,
        team,
        bays,
        order,
        fuel_of,
        open_work,
        rng,
    )
    planned.sort(key=lambda past: past.created)
    async with db.read(tenant.id) as session:
        vehicles = {
            row.id: row
            for row in await session.execute(
                select(
                    Vehicle.id, Vehicle.customer_id, Vehicle.odometer_km, Vehicle.year, Customer.type
                ).outerjoin(Customer, Customer.id == Vehicle.customer_id)
            )
        }

    def work_order(number: int, past: PastJob, comeback_of_id: int | None) -> dict[str, Any]:
        vehicle = vehicles[past.vehicle_id]
        booked = _booked_hours(past.job)
        slot = past.clock_on.replace(minute=past.clock_on.minute // 15 * 15, second=0, microsecond=0)
        local_day = past.checked_in.astimezone(zone).date()
        promise_by = past.checked_in + timedelta(hours=booked + 0.5)
        promised = next(
            (
                moment
                for moment in (datetime.combine(local_day, at, zone).astimezone(UTC) for at in PROMISE_TIMES)
                if moment >= promise_by
            ),
            datetime.combine(local_day, time(18, 30), zone).astimezone(UTC),
        )
        return {
            "tenant_id": tenant.id,
            "number": number,
            "vehicle_id": past.vehicle_id,
            "customer_id": vehicle.customer_id,
            "category_id": categories[past.job[1]],
            "complaint": past.job[0],
            "priority": "NORMAL",
            "status": "CLOSED",
            "technician_id": past.technician_id,
            "service_advisor_id": None,
            "promised_at": promised,
            "bay_id": past.bay_id,
            "scheduled_start": slot,
            "scheduled_end": slot + timedelta(minutes=15 * math.ceil(booked * 4)),
            "odometer_in_km": int(
                odometer_at(vehicle.odometer_km, in_service_since(vehicle.year), now, past.checked_in)
            ),
            "checked_in_at": past.checked_in,
            "comeback_of_id": comeback_of_id,
            "completed_at": past.completed,
            "closed_at": past.closed,
            "status_changed_at": past.closed,
            "created_at": past.created,
            "updated_at": past.closed,
        }

    numbers = {id(past): number for number, past in enumerate(planned, start=1)}
    # An invoice is numbered when it is issued, at completion: a day's jobs are not done in the order
    # of their numbers, and numbered by job the invoice list would not run newest first.
    by_issue = sorted(planned, key=lambda past: past.completed)
    payments = plan_payments(
        [
            Invoiced(
                number,
                past.completed,
                past.closed,
                tenant.payment_terms_days,
                vehicles[past.vehicle_id].type not in (None, "INDIVIDUAL"),
            )
            for number, past in enumerate(by_issue, start=1)
        ],
        now,
        zone,
        rng,
    )
    async with db.uow(users["workshop_manager"]) as uow:
        session = uow.session
        ids: dict[int, int] = {}
        # The repeated jobs first: a comeback names the id of the job it repeats.
        for batch in (
            [past for past in planned if past.comeback_of is None],
            [past for past in planned if past.comeback_of],
        ):
            if not batch:
                continue
            rows = [
                work_order(
                    numbers[id(past)], past, None if past.comeback_of is None else ids[id(past.comeback_of)]
                )
                for past in batch
            ]
            inserted = await session.scalars(
                insert(WorkOrder).returning(WorkOrder.id, sort_by_parameter_order=True), rows
            )
            ids.update(zip((id(past) for past in batch), inserted, strict=True))
        lines: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        invoices: list[dict[str, Any]] = []
        for invoice_number, (past, payment) in enumerate(zip(by_issue, payments, strict=True), start=1):
            work_order_id = ids[id(past)]
            job_lines = _history_lines(
                work_order_id, [OPERATION_BY_NAME[name] for name in past.job[2]], tenant, parts
            )
            lines += job_lines
            entries.append(
                {
                    "tenant_id": tenant.id,
                    "technician_id": past.technician_id,
                    "work_order_id": work_order_id,
                    "started_at": past.clock_on,
                    "ended_at": past.clock_off,
                }
            )
            for from_status, to_status, at in (
                (None, "NEW", past.created),
                ("NEW", "CHECKED_IN", past.checked_in),
                ("CHECKED_IN", "IN_PROGRESS", past.clock_on),
                ("IN_PROGRESS", "QUALITY_CHECK", past.clock_off),
                ("QUALITY_CHECK", "READY", past.completed),
                ("READY", "CLOSED", past.closed),
            ):
                history.append(
                    {
                        "tenant_id": tenant.id,
                        "work_order_id": work_order_id,
                        "from_status": from_status,
                        "to_status": to_status,
                        "actor_name": "Import",
                        "at": at,
                    }
                )
            invoices.append(
                _history_invoice(
                    work_order_id,
                    vehicles[past.vehicle_id].customer_id,
                    past.completed,
                    invoice_number,
                    job_lines,
                    tenant,
                )
                | paid_fields(payment, users)
            )
        for model, rows in ((WorkOrderLine, lines), (TimeEntry, entries), (WorkOrderHistory, history)):
            await session.execute(insert(model), rows)
        invoice_ids = await session.scalars(
            insert(Invoice).returning(Invoice.id, sort_by_parameter_order=True), invoices
        )
        await import_payments(session, tenant, users, list(zip(invoice_ids, invoices, payments, strict=True)))
        for name in ("work_order", "invoice"):
            counted = await session.execute(
                update(Counter).where(Counter.name == name).values(value=len(planned)).returning(Counter.id)
            )
            if counted.first() is None:
                session.add(Counter(name=name, value=len(planned)))
        await uow.commit()


def _history_lines(
    work_order_id: int, operations: list[Operation], tenant: Tenant, parts: dict[str, Part]
) -> list[dict[str, Any]]:
    """Each operation's labour line followed by its parts."""
    lines: list[dict[str, Any]] = []
    for description, hours, used in operations:
        lines.append(
            {
                "tenant_id": tenant.id,
                "work_order_id": work_order_id,
                "kind": "LABOUR",
                "description": description,
                "part_id": None,
                "quantity": Decimal(hours),
                "unit_price": tenant.labour_rate,
                "used": False,
                "position": len(lines),
            }
        )
        for sku, quantity in used:
            part = parts[sku]
            lines.append(
                {
                    "tenant_id": tenant.id,
                    "work_order_id": work_order_id,
                    "kind": "PART",
                    "description": part.name,
                    "part_id": part.id,
                    "quantity": Decimal(quantity),
                    "unit_price": part.price,
                    "used": True,
                    "position": len(lines),
                }
            )
    return lines


def _history_invoice(
    work_order_id: int,
    customer_id: int | None,
    issued_at: datetime,
    number: int,
    lines: list[dict[str, Any]],
    tenant: Tenant,
) -> dict[str, Any]:
    currency = tenant.currency
    sums = totals(
        [PricedLine(line["kind"], line["quantity"], line["unit_price"]) for line in lines],
        tenant.vat_rate,
        currency,
    )
    return {
        "tenant_id": tenant.id,
        "number": number,
        "work_order_id": work_order_id,
        "customer_id": customer_id,
        "currency": currency,
        "lines": [
            {
                "description": line["description"],
                "kind": line["kind"],
                "quantity": str(line["quantity"]),
                "unit_price": str(line["unit_price"]),
                "net": str(line_net(line["quantity"], line["unit_price"], currency)),
            }
            for line in lines
        ],
        "labour_net": sums.labour,
        "parts_net": sums.parts,
        "net": sums.net,
        "vat_rate": tenant.vat_rate,
        "vat": sums.vat,
        "payment_terms_days": tenant.payment_terms_days,
        "total": sums.total,
        "issued_at": issued_at,
    }
