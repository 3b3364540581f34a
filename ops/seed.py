"""The demo seed: a Swiss dealership with one user per role, 40 vehicles and 30 work orders.

Demo passwords exist only here, and the seed refuses to run in production.
"""

from __future__ import annotations

import random
from collections import deque
from datetime import timedelta

from sqlalchemy import select

from ops.auth.actor import Actor
from ops.auth.models import User
from ops.auth.service import create_user
from ops.customers.models import Customer
from ops.db import Database, utcnow
from ops.tenants.models import Tenant
from ops.tenants.service import provision_tenant
from ops.vehicles.models import Vehicle
from ops.workshop.models import WorkOrderCategory
from ops.workshop.service import OPEN_STATUSES, TRANSITIONS, NewWorkOrder, create_work_order, move_work_order

DEMO_SLUG = "demo"
DEMO_PASSWORD = "pitwall-demo"
DEMO_USERS = (
    # email, name, role, locale (None: the tenant's de-CH)
    ("admin@demo.test", "Martina Keller", "admin", "en"),
    ("sales.manager@demo.test", "Reto Baumann", "sales_manager", None),
    ("sales@demo.test", "Lea Frei", "sales_rep", None),
    ("advisor@demo.test", "Jonas Meier", "service_advisor", "en"),
    ("workshop.manager@demo.test", "Sandra Huber", "workshop_manager", "en"),
    ("tech@demo.test", "Luca Rossi", "technician", None),
    ("viewer@demo.test", "Peter Graf", "viewer", "en"),
    ("nina.brunner@demo.test", "Nina Brunner", "technician", None),
    ("marco.bianchi@demo.test", "Marco Bianchi", "technician", None),
)
FIRST_NAMES = (
    "Anna",
    "Beat",
    "Claudia",
    "Daniel",
    "Esther",
    "Fabio",
    "Gabriela",
    "Hans",
    "Irene",
    "Jan",
    "Karin",
    "Lukas",
    "Monika",
    "Nicolas",
    "Olivia",
    "Patrick",
    "Ruth",
    "Simon",
    "Tanja",
    "Urs",
)
LAST_NAMES = (
    "Müller",
    "Schmid",
    "Keller",
    "Weber",
    "Huber",
    "Meyer",
    "Schneider",
    "Steiner",
    "Fischer",
    "Gerber",
    "Brunner",
    "Baumann",
    "Frei",
    "Zimmermann",
    "Moser",
    "Widmer",
    "Wyss",
    "Graf",
    "Roth",
)
COMPANIES = (
    "Bäckerei Sutter AG",
    "Elektro Gisler GmbH",
    "Spitex Zürichsee",
    "Gartenbau Amrein",
    "Transporte Lüthi AG",
)
MODELS = (
    ("Volkswagen", "Golf", "GASOLINE"),
    ("Volkswagen", "ID.4", "ELECTRIC"),
    ("Skoda", "Octavia Combi", "DIESEL"),
    ("Skoda", "Enyaq", "ELECTRIC"),
    ("Toyota", "Yaris Hybrid", "HYBRID"),
    ("BMW", "320d Touring", "DIESEL"),
    ("Audi", "A4 Avant", "DIESEL"),
    ("Tesla", "Model 3", "ELECTRIC"),
    ("Renault", "Kangoo", "DIESEL"),
    ("Ford", "Transit Custom", "DIESEL"),
    ("Mercedes-Benz", "C 300 e", "PLUGIN_HYBRID"),
    ("Subaru", "Forester", "GASOLINE"),
)
CANTONS = ("ZH", "ZH", "ZH", "AG", "SZ", "ZG", "LU", "SG", "BE")
COLOURS = ("Schwarz", "Weiss", "Silber", "Blau", "Grau", "Rot")
COMPLAINTS = (
    "Bremsen quietschen beim Anhalten, vor allem morgens.",
    "Service 30'000 km fällig, bitte auch Wischerblätter prüfen.",
    "Motorkontrollleuchte leuchtet seit gestern.",
    "Klimaanlage kühlt nicht mehr richtig.",
    "Räderwechsel auf Winterreifen, Reifen einlagern.",
    "Vibration im Lenkrad ab 100 km/h.",
    "Batterie entlädt sich über Nacht.",
    "Ölwechsel und Inspektion nach Herstellervorgabe.",
    "Kratzer an der Heckstossstange nach Parkschaden.",
    "Ladeklappe öffnet nicht (Elektrofahrzeug).",
    "Getriebe ruckelt beim Schalten vom 2. in den 3. Gang.",
    "MFK-Vorbereitung (Motorfahrzeugkontrolle) im nächsten Monat.",
    "Scheinwerfer links defekt.",
    "Reifendruckwarnung trotz korrektem Druck.",
    "Geräusch von der Hinterachse über Bodenwellen.",
)

_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def demo_vin(rng: random.Random) -> str:
    """A VIN with a correct ISO 3779 check digit (position 9)."""
    alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    chars = list("WVW" + "".join(rng.choice(alphabet) for _ in range(14)))
    total = sum(_VIN_VALUES[c] * w for c, w in zip(chars, _VIN_WEIGHTS, strict=True))
    check = total % 11
    chars[8] = "X" if check == 10 else str(check)
    return "".join(chars)


def _path_to(status: str) -> list[str]:
    """The shortest chain of allowed moves from NEW to `status`."""
    queue: deque[list[str]] = deque([["NEW"]])
    while queue:
        path = queue.popleft()
        if path[-1] == status:
            return path[1:]
        queue.extend([*path, nxt] for nxt in TRANSITIONS[path[-1]] if nxt not in path)
    raise ValueError(status)


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
        plan="PROFESSIONAL",
    )
    tenant = provisioned.tenant
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

    async with db.uow(admin) as uow:
        session = uow.session
        for index in range(40):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            company = COMPANIES[index % len(COMPANIES)] if index % 8 == 0 else None
            customer = Customer(
                type="BUSINESS" if company else "INDIVIDUAL",
                first_name=first,
                last_name=last,
                company_name=company,
                email=f"{first.lower()}.{last.lower()}{index}@example.ch".replace("ü", "ue"),
                phone=f"+41 79 {rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}".replace(
                    " ", ""
                ),
                preferred_language=rng.choice(("de", "de", "de", "fr", "it", "en")),
            )
            session.add(customer)
            await session.flush()
            make, model, fuel = rng.choice(MODELS)
            session.add(
                Vehicle(
                    vin=demo_vin(rng),
                    plate=f"{rng.choice(CANTONS)} {rng.randint(10000, 999999)}",
                    make=make,
                    model=model,
                    year=rng.randint(2014, 2025),
                    fuel_type=fuel,
                    colour=rng.choice(COLOURS),
                    odometer_km=rng.randint(3_000, 180_000),
                    customer_id=customer.id,
                )
            )
        await uow.commit()

    async with db.read(tenant.id) as session:
        vehicle_ids = list((await session.scalars(select(Vehicle.id).order_by(Vehicle.id))).all())
        category_ids = list((await session.scalars(select(WorkOrderCategory.id))).all())
        technician_ids = list((await session.scalars(select(User.id).where(User.role == "technician"))).all())
    advisor = users["service_advisor"]
    now = utcnow()
    statuses = [OPEN_STATUSES[i % len(OPEN_STATUSES)] for i in range(28)] + ["CLOSED", "CLOSED"]
    for index, status in enumerate(statuses):
        async with db.uow(advisor) as uow:
            work_order = await create_work_order(
                uow,
                NewWorkOrder(
                    vehicle_id=vehicle_ids[index],
                    complaint=COMPLAINTS[index % len(COMPLAINTS)],
                    priority=rng.choice(("LOW", "NORMAL", "NORMAL", "NORMAL", "HIGH", "URGENT")),
                    category_id=rng.choice(category_ids),
                    technician_id=rng.choice(technician_ids) if status != "NEW" else None,
                    promised_at=now + timedelta(hours=rng.randint(-6, 72)),
                ),
            )
        version = work_order.version
        for step in _path_to(status):
            async with db.uow(advisor) as uow:
                moved = await move_work_order(uow, work_order.id, step, version)
            version = moved.version
    return tenant, True
