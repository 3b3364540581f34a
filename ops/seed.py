"""The demo seed: a Swiss dealership with one user per role, 80 vehicles (six of them its own loan cars),
30 open work orders with their lines, 6 bays, 40 parts, and six weeks of completed jobs with time entries
and invoices; and a showroom with 12 trims and their options, 25 units, 40 leads over the stages, test
drives, quotes and five deals (two delivered). Its records agree with each other as a real dealership's
would: each job's category and lines follow from its complaint, electric cars get no engine work, VINs
carry their maker's WMI, and a car's odometer only goes up.

Demo passwords exist only here, and the seed refuses to run in production.
"""

from __future__ import annotations

import random
from collections import deque
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update

from ops.auth.actor import Actor
from ops.auth.models import User
from ops.auth.service import create_user
from ops.customers.models import Customer
from ops.db import Database, utcnow
from ops.events import Event
from ops.money import PricedLine, line_net, totals
from ops.sales.deals.service import deposit_due_for, is_financed
from ops.sales.models import (
    CatalogOption,
    CatalogTrim,
    Deal,
    DealPayment,
    Lead,
    LeadStageChange,
    OptionGroup,
    Quote,
    Reservation,
    StockUnit,
    TestDrive,
)
from ops.sales.quotes.pricing import approval_reasons, encode_reasons, price_quote
from ops.tenants.models import Counter, Tenant
from ops.tenants.service import provision_tenant
from ops.vehicles.health import refresh_health
from ops.vehicles.maintenance.service import applies_to, refresh_vehicle_maintenance
from ops.vehicles.models import (
    Fleet,
    MaintenanceSchedule,
    TelematicsDevice,
    TelemetryReading,
    Vehicle,
    VehicleAlert,
    VehicleMaintenance,
)
from ops.vehicles.telemetry.thresholds import effective_thresholds
from ops.workshop.bays.service import create_bay
from ops.workshop.jobs.service import add_labour_line, add_part_line
from ops.workshop.models import (
    Invoice,
    Part,
    TechnicianProfile,
    TimeEntry,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderHistory,
    WorkOrderLine,
)
from ops.workshop.parts.service import NewPart, create_part
from ops.workshop.service import (
    IN_BAY_STATUSES,
    TRANSITIONS,
    NewWorkOrder,
    assign_work_order,
    create_work_order,
    move_work_order,
)

DEMO_SLUG = "demo"
DEMO_PASSWORD = "pitwall-demo"
DEMO_VAT_NUMBER = "CHE-123.456.788 MWST"
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
    ("simon.arnold@demo.test", "Simon Arnold", "technician", None),
    ("fabienne.steiner@demo.test", "Fabienne Steiner", "technician", None),
    ("gian.caflisch@demo.test", "Gian Caflisch", "technician", None),
    ("daniel.suter@demo.test", "Daniel Suter", "sales_rep", None),
    ("sara.kaelin@demo.test", "Sara Kälin", "sales_rep", "en"),
)
# Each technician's skills and shift, by email.
TECHNICIAN_PROFILES = {
    "tech@demo.test": (("ENGINE", "DIAGNOSTICS", "ELECTRICAL"), time(7, 30), time(16, 30)),
    "nina.brunner@demo.test": (("EV_HIGH_VOLTAGE", "ELECTRICAL", "AC"), time(8, 0), time(17, 0)),
    "marco.bianchi@demo.test": (("TRANSMISSION", "ENGINE"), time(7, 0), time(16, 0)),
    "simon.arnold@demo.test": (("TIRES", "BODY"), time(7, 30), time(16, 30)),
    "fabienne.steiner@demo.test": (("DIAGNOSTICS", "AC", "ELECTRICAL"), time(8, 0), time(17, 0)),
    "gian.caflisch@demo.test": (("ENGINE", "TIRES"), time(7, 0), time(16, 0)),
}
BAYS = (
    ("Hebebühne 1", "LIFT"),
    ("Hebebühne 2", "LIFT"),
    ("Hebebühne 3", "LIFT"),
    ("Hebebühne 4", "LIFT"),
    ("Achsvermessung", "ALIGNMENT"),
    ("EV-Platz", "EV"),
)
# sku, name, unit, cost, price, reorder point, opening stock, supplier (prices in CHF, without VAT).
PARTS = (
    ("MAN-W712/95", "Ölfilter Mann W 712/95", "pc", "8.40", "16.90", "10", "24", "Derendinger AG"),
    ("MAN-HU7008Z", "Ölfiltereinsatz Mann HU 7008 z", "pc", "9.80", "19.50", "10", "18", "Derendinger AG"),
    ("BOS-F026407", "Ölfilter Bosch F 026 407 006", "pc", "7.90", "15.90", "8", "6", "Technomag AG"),
    ("MTX-5W30-LL", "Motorenöl Motorex Select SP-X 5W-30", "l", "9.20", "21.50", "40", "120", "Motorex AG"),
    ("MTX-0W20-FE", "Motorenöl Motorex Concept R-XL 0W-20", "l", "11.40", "25.90", "30", "60", "Motorex AG"),
    ("MTX-5W40", "Motorenöl Motorex Profile M-XL 5W-40", "l", "8.90", "19.90", "30", "60", "Motorex AG"),
    ("MAN-C27009", "Luftfilter Mann C 27 009", "pc", "14.60", "32.00", "5", "12", "Derendinger AG"),
    (
        "MAN-CUK2939",
        "Innenraumfilter Aktivkohle Mann CUK 2939",
        "pc",
        "16.80",
        "36.50",
        "6",
        "15",
        "Derendinger AG",
    ),
    ("BOS-0986AF6", "Kraftstofffilter Bosch Diesel", "pc", "24.50", "52.00", "4", "7", "Technomag AG"),
    ("TRW-GDB1550", "Bremsbeläge vorne TRW GDB1550", "set", "42.00", "89.90", "4", "16", "SAG Schweiz AG"),
    ("TRW-GDB1551", "Bremsbeläge hinten TRW GDB1551", "set", "36.50", "78.50", "4", "8", "SAG Schweiz AG"),
    (
        "BRE-09A7271",
        "Bremsscheibe vorne Brembo 09.A727.11",
        "pc",
        "48.00",
        "104.00",
        "4",
        "14",
        "SAG Schweiz AG",
    ),
    (
        "BRE-08A7251",
        "Bremsscheibe hinten Brembo 08.A725.11",
        "pc",
        "39.50",
        "86.00",
        "4",
        "3",
        "SAG Schweiz AG",
    ),
    ("ATE-SL6-1L", "Bremsflüssigkeit ATE SL.6 DOT 4", "l", "12.90", "27.50", "5", "14", "Technomag AG"),
    (
        "BOS-AR550S",
        "Wischerblätter Bosch Aerotwin AR550S",
        "set",
        "19.80",
        "44.90",
        "6",
        "16",
        "Technomag AG",
    ),
    ("BOS-AR653S", "Wischerblätter Bosch Aerotwin AR653S", "set", "21.40", "47.90", "6", "4", "Technomag AG"),
    ("BOS-H301", "Heckwischerblatt Bosch H 301", "pc", "8.60", "19.90", "4", "9", "Technomag AG"),
    ("NGK-ILKAR7", "Zündkerze NGK Laser Iridium", "pc", "11.20", "24.50", "12", "32", "Derendinger AG"),
    (
        "VAR-BLUE-E11",
        "Batterie Varta Blue Dynamic E11 74 Ah",
        "pc",
        "98.00",
        "189.00",
        "3",
        "8",
        "Technomag AG",
    ),
    (
        "VAR-SIL-H3",
        "Batterie Varta Silver Dynamic AGM 80 Ah",
        "pc",
        "152.00",
        "289.00",
        "2",
        "2",
        "Technomag AG",
    ),
    ("OSR-H7-NB", "Glühlampe Osram H7 Night Breaker", "pc", "9.90", "22.90", "10", "26", "Derendinger AG"),
    ("OSR-W5W", "Glühlampe Osram W5W", "pc", "0.90", "3.50", "20", "60", "Derendinger AG"),
    (
        "CON-CT1028",
        "Zahnriemensatz Contitech CT1028K1",
        "set",
        "118.00",
        "248.00",
        "2",
        "5",
        "SAG Schweiz AG",
    ),
    ("SKF-VKPC81", "Wasserpumpe SKF VKPC 81", "pc", "72.00", "156.00", "2", "5", "SAG Schweiz AG"),
    ("GAT-6PK1070", "Keilrippenriemen Gates 6PK1070", "pc", "18.50", "39.50", "4", "8", "SAG Schweiz AG"),
    ("MTX-COOL-G13", "Kühlerfrostschutz G13", "l", "6.80", "15.90", "10", "30", "Motorex AG"),
    ("MTX-ATF-VI", "Getriebeöl Motorex ATF Dexron VI", "l", "13.50", "29.90", "10", "6", "Motorex AG"),
    ("SCH-SCR-AdB", "AdBlue 10 l", "pc", "12.00", "24.90", "6", "20", "Technomag AG"),
    ("LIQ-SCHEIBE", "Scheibenreiniger Konzentrat Winter", "l", "3.20", "8.90", "20", "48", "Technomag AG"),
    ("LEM-35211", "Querlenker vorne links Lemförder", "pc", "68.00", "142.00", "2", "4", "SAG Schweiz AG"),
    ("SAC-313473", "Stossdämpfer vorne Sachs 313 473", "pc", "84.00", "176.00", "2", "4", "SAG Schweiz AG"),
    ("BIL-B4-2236", "Stossdämpfer hinten Bilstein B4", "pc", "71.00", "149.00", "2", "4", "SAG Schweiz AG"),
    ("REI-VENTIL", "Reifenventil Gummi TR414", "pc", "0.60", "4.50", "40", "150", "Technomag AG"),
    ("REI-AUSW-G", "Auswuchtgewichte Klebe 60 g", "pc", "0.40", "2.50", "50", "120", "Technomag AG"),
    ("KLI-R1234YF", "Kältemittel R1234yf", "kg", "68.00", "145.00", "2", "5", "Technomag AG"),
    ("KLI-PAG46", "Kompressoröl PAG 46", "l", "24.00", "52.00", "1", "3", "Technomag AG"),
    ("EV-12V-AUX", "12-V-Hilfsbatterie AGM EV 45 Ah", "pc", "118.00", "229.00", "2", "3", "Technomag AG"),
    ("EV-TYP2-KAB", "Ladekabel Typ 2, 7.5 m, 22 kW", "pc", "165.00", "329.00", "1", "2", "Derendinger AG"),
    ("VW-1K0955425", "Waschwasserpumpe VW 1K0 955 425", "pc", "21.00", "46.50", "2", "5", "Derendinger AG"),
    ("KEN-SKT-M14", "Radschrauben M14x1.5 (Satz à 20)", "set", "26.00", "58.00", "2", "6", "Technomag AG"),
)
# Labour operations: description, hours, and the parts (sku, quantity) the job usually takes.
Operation = tuple[str, str, tuple[tuple[str, str], ...]]
OPERATIONS: tuple[Operation, ...] = (
    ("Ölwechsel mit Filter", "0.8", (("MAN-W712/95", "1"), ("MTX-5W30-LL", "4.5"))),
    (
        "Inspektion nach Herstellervorgabe",
        "1.8",
        (("MAN-HU7008Z", "1"), ("MTX-0W20-FE", "4.3"), ("MAN-CUK2939", "1")),
    ),
    ("Bremsbeläge vorne ersetzen", "1.2", (("TRW-GDB1550", "1"), ("ATE-SL6-1L", "0.5"))),
    ("Bremsscheiben und -beläge vorne ersetzen", "1.9", (("BRE-09A7271", "2"), ("TRW-GDB1550", "1"))),
    ("Räderwechsel und Auswuchten", "0.7", (("REI-AUSW-G", "4"), ("REI-VENTIL", "4"))),
    ("Klimaanlage Service", "1.0", (("KLI-R1234YF", "0.5"), ("KLI-PAG46", "0.1"))),
    # An electric compressor takes no PAG oil: refrigerant only.
    ("Klimaanlage Service (Elektrokompressor)", "1.0", (("KLI-R1234YF", "0.5"),)),
    ("Batterie prüfen und ersetzen", "0.5", (("VAR-BLUE-E11", "1"),)),
    ("Fehlerspeicher auslesen und Diagnose", "0.9", ()),
    ("Wischerblätter ersetzen", "0.2", (("BOS-AR550S", "1"),)),
    ("Scheinwerferlampe ersetzen", "0.3", (("OSR-H7-NB", "1"),)),
    (
        "Zahnriemen mit Wasserpumpe ersetzen",
        "3.6",
        (("CON-CT1028", "1"), ("SKF-VKPC81", "1"), ("MTX-COOL-G13", "5")),
    ),
    ("Achsvermessung", "1.1", ()),
    ("Räder auswuchten", "0.6", (("REI-AUSW-G", "4"),)),
    ("Service nach Herstellervorgabe (Elektrofahrzeug)", "1.2", (("MAN-CUK2939", "1"), ("ATE-SL6-1L", "1"))),
    ("12-V-Batterie prüfen und ersetzen", "0.6", (("EV-12V-AUX", "1"),)),
    ("Stellmotor der Ladeklappe prüfen und ersetzen", "0.9", ()),
    ("Getriebeöl wechseln und Schaltvorgänge anlernen", "1.5", (("MTX-ATF-VI", "5"),)),
    ("Stossstange hinten ausbeulen und lackieren", "3.2", ()),
    ("MFK-Vorbereitung und Vorführung", "1.5", (("OSR-W5W", "2"),)),
    ("Reifendrucksensoren prüfen und anlernen", "0.6", ()),
    ("Stossdämpfer hinten ersetzen", "1.6", (("BIL-B4-2236", "2"),)),
    ("Hochvoltsystem prüfen (Diagnose)", "1.2", ()),
)
OPERATION_BY_NAME = {operation[0]: operation for operation in OPERATIONS}
HISTORY_JOBS = 60
HISTORY_WEEKS = 6
# The open jobs' cars first, then the cars of the past six weeks: each of those comes back at most
# every 50 jobs (about 35 days), so only the two planned comebacks are within 30 days.
OPEN_JOBS = 30
# The open jobs on the board by status, mixed the way they arrive: at most five in work, so each has
# one of the six bays and the last bay is free for the jobs that pass through it to READY.
OPEN_BOARD = (
    *("NEW", "SCHEDULED", "CHECKED_IN", "IN_PROGRESS", "WAITING_PARTS", "WAITING_APPROVAL", "QUALITY_CHECK"),
    *("READY", "NEW", "SCHEDULED", "CHECKED_IN", "IN_PROGRESS", "WAITING_APPROVAL", "READY"),
    *("NEW", "SCHEDULED", "CHECKED_IN", "IN_PROGRESS", "WAITING_APPROVAL", "READY", "NEW"),
    *("SCHEDULED", "CHECKED_IN", "WAITING_APPROVAL", "READY", "NEW", "SCHEDULED", "READY"),
)
HISTORY_VEHICLES = 50
VEHICLES = OPEN_JOBS + HISTORY_VEHICLES
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
# make, model, fuel, the maker's WMI (the VIN's first three characters), the model's first model year.
MODELS = (
    ("Volkswagen", "Golf", "GASOLINE", "WVW", 2014),
    ("Volkswagen", "ID.4", "ELECTRIC", "WVG", 2021),
    ("Skoda", "Octavia Combi", "DIESEL", "TMB", 2014),
    ("Skoda", "Enyaq", "ELECTRIC", "TMB", 2021),
    # Europe's Yaris Hybrid comes from Valenciennes: Toyota France's WMI.
    ("Toyota", "Yaris Hybrid", "HYBRID", "VNK", 2014),
    ("BMW", "320d Touring", "DIESEL", "WBA", 2014),
    ("Audi", "A4 Avant", "DIESEL", "WAU", 2014),
    ("Tesla", "Model 3", "ELECTRIC", "5YJ", 2019),
    ("Renault", "Kangoo", "DIESEL", "VF1", 2014),
    ("Ford", "Transit Custom", "DIESEL", "WF0", 2014),
    ("Mercedes-Benz", "C 300 e", "PLUGIN_HYBRID", "W1K", 2020),
    ("Subaru", "Forester", "GASOLINE", "JF1", 2014),
)
LATEST_MODEL_YEAR = 2025
STREETS = (
    "Bahnhofstrasse",
    "Dorfstrasse",
    "Seestrasse",
    "Hauptstrasse",
    "Kirchweg",
    "Industriestrasse",
    "Lindenweg",
)
TOWNS = (
    ("8001", "Zürich"),
    ("8400", "Winterthur"),
    ("8810", "Horgen"),
    ("8820", "Wädenswil"),
    ("6300", "Zug"),
    ("5400", "Baden"),
    ("8640", "Rapperswil-Jona"),
    ("6003", "Luzern"),
)
CANTONS = ("ZH", "ZH", "ZH", "AG", "SZ", "ZG", "LU", "SG", "BE")
COLOURS = ("Schwarz", "Weiss", "Silber", "Blau", "Grau", "Rot")
# What a customer reports, the category the advisor books it under, the operations it takes, and the cars
# it concerns: "engine" for a combustion engine (oil, exhaust, gearbox), "electric" for battery-electric
# cars, "any" for both. Each car gets the first job from its turn on that fits it.
Job = tuple[str, str, tuple[str, ...], str]
JOBS: tuple[Job, ...] = (
    (
        "Bremsen quietschen beim Anhalten, vor allem morgens.",
        "Brake Service",
        ("Bremsbeläge vorne ersetzen",),
        "any",
    ),
    (
        "Service 30'000 km fällig, bitte auch Wischerblätter prüfen.",
        "Preventive Maintenance",
        ("Inspektion nach Herstellervorgabe", "Wischerblätter ersetzen"),
        "engine",
    ),
    (
        "Motorkontrollleuchte leuchtet seit gestern.",
        "Engine Repair",
        ("Fehlerspeicher auslesen und Diagnose",),
        "engine",
    ),
    ("Klimaanlage kühlt nicht mehr richtig.", "Repair", ("Klimaanlage Service",), "engine"),
    (
        "Klimaanlage kühlt nicht mehr richtig.",
        "Repair",
        ("Klimaanlage Service (Elektrokompressor)",),
        "electric",
    ),
    (
        "Räderwechsel auf Winterreifen, Reifen einlagern.",
        "Tire Service",
        ("Räderwechsel und Auswuchten",),
        "any",
    ),
    ("Vibration im Lenkrad ab 100 km/h.", "Tire Service", ("Räder auswuchten",), "any"),
    ("Batterie entlädt sich über Nacht.", "Electrical", ("Batterie prüfen und ersetzen",), "engine"),
    ("Ölwechsel fällig, Serviceanzeige leuchtet.", "Oil Change", ("Ölwechsel mit Filter",), "engine"),
    (
        "Kratzer an der Heckstossstange nach Parkschaden.",
        "Body Work",
        ("Stossstange hinten ausbeulen und lackieren",),
        "any",
    ),
    (
        "Klappe der Ladebuchse öffnet nicht, Laden nicht möglich.",
        "Electrical",
        ("Stellmotor der Ladeklappe prüfen und ersetzen",),
        "electric",
    ),
    (
        "Getriebe ruckelt beim Schalten vom 2. in den 3. Gang.",
        "Transmission Service",
        ("Getriebeöl wechseln und Schaltvorgänge anlernen",),
        "engine",
    ),
    (
        "MFK-Vorbereitung (Motorfahrzeugkontrolle) im nächsten Monat.",
        "Inspection",
        ("MFK-Vorbereitung und Vorführung",),
        "any",
    ),
    ("Scheinwerfer links defekt.", "Electrical", ("Scheinwerferlampe ersetzen",), "engine"),
    (
        "Reifendruckwarnung trotz korrektem Druck.",
        "Tire Service",
        ("Reifendrucksensoren prüfen und anlernen",),
        "any",
    ),
    ("Geräusch von der Hinterachse über Bodenwellen.", "Repair", ("Stossdämpfer hinten ersetzen",), "any"),
    (
        "Service nach Herstellervorgabe fällig.",
        "Preventive Maintenance",
        ("Service nach Herstellervorgabe (Elektrofahrzeug)",),
        "electric",
    ),
    (
        "12-V-Batterie entlädt sich über Nacht.",
        "Electrical",
        ("12-V-Batterie prüfen und ersetzen",),
        "electric",
    ),
    (
        "Warnmeldung Hochvoltsystem im Display.",
        "Electrical",
        ("Hochvoltsystem prüfen (Diagnose)",),
        "electric",
    ),
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


# ISO 3779's model year letters and digits, 2010 to 2039.
MODEL_YEAR_LETTERS = "ABCDEFGHJKLMNPRSTVWXY123456789"


def demo_vin(rng: random.Random, wmi: str, year: int) -> str:
    """A VIN of the maker's WMI and the car's model year, with a correct ISO 3779 check digit (position 9)."""
    alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    descriptor = "".join(rng.choice(alphabet) for _ in range(5))
    plant = rng.choice(alphabet)
    serial = "".join(rng.choice("0123456789") for _ in range(6))
    chars = list(f"{wmi}{descriptor}0{MODEL_YEAR_LETTERS[year - 2010]}{plant}{serial}")
    total = sum(_VIN_VALUES[c] * w for c, w in zip(chars, _VIN_WEIGHTS, strict=True))
    check = total % 11
    chars[8] = "X" if check == 10 else str(check)
    return "".join(chars)


def job_for(fuel_type: str, turn: int) -> Job:
    """The first job from `turn` on that concerns a car with this fuel type."""
    electric = fuel_type == "ELECTRIC"
    for offset in range(len(JOBS)):
        job = JOBS[(turn + offset) % len(JOBS)]
        if job[3] == "any" or (job[3] == "electric") == electric:
            return job
    raise ValueError(fuel_type)


def in_service_since(year: int) -> date:
    """When a workshop car of this model year was first registered (spring of that year)."""
    return date(year, 3, 1)


def odometer_at(odometer_km: int, since: date, now: datetime, at: datetime) -> float:
    """The kilometres a car with `odometer_km` now, driven evenly since `since`, had at `at`: one
    rule for every reading of the seed, so each car's readings only ever go up."""
    driven_days = max(1.0, (now - datetime.combine(since, time(0), UTC)).total_seconds() / 86400)
    days_back = max(0.0, (now - at).total_seconds() / 86400)
    return max(0.0, odometer_km * (1 - days_back / driven_days))


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
    async with db.system(write=True) as session:
        await session.execute(
            update(Tenant)
            .where(Tenant.id == tenant.id)
            .values(street="Seestrasse 41", postal_code="8820", city="Wädenswil", vat_number=DEMO_VAT_NUMBER)
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
    technician_ids = list(technicians.values())
    advisor = users["service_advisor"]
    manager = users["workshop_manager"]
    bay_ids, parts = await _seed_bays_profiles_and_parts(db, manager, technicians)
    await _seed_history(
        db, tenant, manager, rng, vehicle_ids[OPEN_JOBS:], categories, technicians, bay_ids, parts
    )
    statuses = [*OPEN_BOARD, "CLOSED", "CLOSED"]
    open_orders: list[tuple[int, str, int | None, float]] = []
    # A job goes into work on a bay: those that stay in work keep theirs, the finished ones worked on
    # the one left over and gave it back.
    free_bays = list(bay_ids)
    for index, status in enumerate(statuses):
        technician_id = rng.choice(technician_ids) if status != "NEW" else None
        complaint, category, operations, _cars = job_for(fuel_of[vehicle_ids[index]], index)
        async with db.uow(advisor) as uow:
            work_order = await create_work_order(
                uow,
                NewWorkOrder(
                    vehicle_id=vehicle_ids[index],
                    complaint=complaint,
                    priority=rng.choice(("LOW", "NORMAL", "NORMAL", "NORMAL", "HIGH", "URGENT")),
                    category_id=categories[category],
                    technician_id=technician_id,
                    promised_at=_promised(rng, today, zone),
                ),
            )
        for name in operations:
            await _add_lines(db, advisor, work_order.id, OPERATION_BY_NAME[name], parts)
        version = work_order.version
        path = _path_to(status)
        if any(step in IN_BAY_STATUSES for step in path):
            bay_id = free_bays.pop(0) if status in IN_BAY_STATUSES else free_bays[0]
            async with db.uow(manager) as uow:
                assigned = await assign_work_order(uow, work_order.id, technician_id, bay_id, version)
            version = assigned.version
        for step in path:
            async with db.uow(advisor) as uow:
                moved = await move_work_order(uow, work_order.id, step, version)
            version = moved.version
        hours = sum(float(OPERATION_BY_NAME[name][1]) for name in operations)
        open_orders.append((work_order.id, status, technician_id, hours))
    await _put_open_orders_on_bays(db, manager, open_orders, bay_ids, now, rng)
    await _seed_showroom(db, tenant, users, rng)
    await _seed_fleet(db, tenant, users["workshop_manager"], rng)
    return tenant, True


# How much of its labour an open job that was worked on has been clocked: waiting for parts halfway,
# in the quality check and after it all of it (the finished ones are the most recent).
WORKED_SHARE = {"WAITING_PARTS": 0.5, "QUALITY_CHECK": 0.9, "READY": 1.0, "CLOSED": 1.0}

# When a service advisor promises a car back: before lunch or by closing time.
PROMISE_TIMES = (time(11, 0), time(12, 0), time(16, 30), time(17, 0), time(17, 30), time(18, 0))


def _promised(rng: random.Random, today: date, zone: ZoneInfo) -> datetime:
    """A promise on a working day from yesterday (some jobs are overdue) to three days on."""
    day = today + timedelta(days=rng.randint(-1, 3))
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, rng.choice(PROMISE_TIMES), zone).astimezone(UTC)


async def _seed_bays_profiles_and_parts(
    db: Database, manager: Actor, technicians: dict[str, int]
) -> tuple[list[int], dict[str, Part]]:
    bay_ids = []
    for name, kind in BAYS:
        async with db.uow(manager) as uow:
            bay_ids.append((await create_bay(uow, name=name, kind=kind)).id)
    async with db.uow(manager) as uow:
        for email, (skills, shift_start, shift_end) in TECHNICIAN_PROFILES.items():
            uow.session.add(
                TechnicianProfile(
                    user_id=technicians[email],
                    skills=list(skills),
                    shift_start=shift_start,
                    shift_end=shift_end,
                )
            )
        await uow.commit()
    parts = {}
    for sku, name, unit, cost, price, reorder_point, stock, supplier in PARTS:
        async with db.uow(manager) as uow:
            parts[sku] = await create_part(
                uow,
                NewPart(
                    sku=sku,
                    name=name,
                    unit=unit,
                    cost=Decimal(cost),
                    price=Decimal(price),
                    reorder_point=Decimal(reorder_point),
                    opening_stock=Decimal(stock),
                    supplier=supplier,
                ),
            )
    return bay_ids, parts


async def _add_lines(
    db: Database, advisor: Actor, work_order_id: int, operation: Operation, parts: dict[str, Part]
) -> None:
    """The operation's labour line and its parts, through the job's own use cases (parts reserve stock)."""
    description, hours, used = operation
    async with db.uow(advisor) as uow:
        await add_labour_line(uow, work_order_id, description, Decimal(hours))
    for sku, quantity in used:
        async with db.uow(advisor) as uow:
            await add_part_line(uow, work_order_id, parts[sku].id, Decimal(quantity))


async def _put_open_orders_on_bays(
    db: Database,
    manager: Actor,
    open_orders: list[tuple[int, str, int | None, float]],
    bay_ids: list[int],
    now: datetime,
    rng: random.Random,
) -> None:
    """Scheduled jobs are booked on a bay; a working technician's clock runs, and the jobs they have worked
    on were clocked earlier today, one after the other, for about their labour hours (jobs invoiced
    without any clocked time made the efficiency read 365 %).

    Written directly: the demo's open jobs were moved along the board, which knows no clocks. The jobs
    in work got their bays before they went into work, as the board requires."""
    clocked: set[int] = set()
    # Each technician's earlier work ends before the running clock began, the jobs completed (now) last.
    worked_until: dict[int, datetime] = {}
    checked_in: dict[int, datetime] = {}
    async with db.uow(manager) as uow:
        worked = [order for order in open_orders if order[1] in WORKED_SHARE and order[2] is not None]
        for work_order_id, status, technician_id, hours in sorted(worked, key=lambda o: -WORKED_SHARE[o[1]]):
            assert technician_id is not None
            clock_off = worked_until.get(technician_id, now - timedelta(minutes=50))
            clock_on = clock_off - timedelta(hours=hours * WORKED_SHARE[status] * rng.uniform(0.9, 1.15))
            worked_until[technician_id] = clock_on - timedelta(minutes=10)
            checked_in[work_order_id] = clock_on - timedelta(minutes=15)
            uow.session.add(
                TimeEntry(
                    technician_id=technician_id,
                    work_order_id=work_order_id,
                    started_at=clock_on,
                    ended_at=clock_off,
                )
            )
        for position, (work_order_id, status, technician_id, _hours) in enumerate(open_orders):
            values: dict[str, object] = {}
            if status in ("CHECKED_IN", *IN_BAY_STATUSES):
                values = {"checked_in_at": now - timedelta(minutes=25 + 17 * position)}
                if status == "IN_PROGRESS" and technician_id is not None and technician_id not in clocked:
                    clocked.add(technician_id)
                    uow.session.add(
                        TimeEntry(
                            technician_id=technician_id,
                            work_order_id=work_order_id,
                            started_at=now - timedelta(minutes=40),
                        )
                    )
            elif status == "SCHEDULED":
                start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1 + position % 5)
                values = {
                    "bay_id": bay_ids[position % len(bay_ids)],
                    "scheduled_start": start,
                    "scheduled_end": start + timedelta(hours=2),
                }
            if work_order_id in checked_in:
                values["checked_in_at"] = checked_in[work_order_id]
            if values:
                await uow.session.execute(
                    update(WorkOrder).where(WorkOrder.id == work_order_id).values(**values)
                )
        await uow.commit()


def _working_days(today: date, weeks: int) -> list[date]:
    """Monday to Friday of the last `weeks` weeks, oldest first, today excluded."""
    days = [today - timedelta(days=offset) for offset in range(weeks * 7, 0, -1)]
    return [day for day in days if day.weekday() < 5]


async def _seed_history(
    db: Database,
    tenant: Tenant,
    manager: Actor,
    rng: random.Random,
    vehicle_ids: list[int],
    categories: dict[str, int],
    technicians: dict[str, int],
    bay_ids: list[int],
    parts: dict[str, Part],
) -> None:
    """Sixty completed and closed jobs over the last six weeks, as the dealership's records before it
    started with Pitwall: work orders with their lines, history, time entries and invoices, imported
    in one transaction (hundreds of use-case calls made the seed take minutes). Amounts come from
    ops.money like every invoice's; the parts predate today's opening stock, so the stock ledger
    starts after them. They are numbered WO-000001 and INV-000001 on, oldest first, and the counters
    continue from there."""
    zone = ZoneInfo(tenant.timezone)
    now = utcnow()
    days = _working_days(now.astimezone(zone).date(), HISTORY_WEEKS)
    # Luca and Nina take most jobs, so the leaderboard has a clear top.
    shares = {"tech@demo.test": 5, "nina.brunner@demo.test": 4}
    weighted = [technicians[email] for email in TECHNICIAN_PROFILES for _ in range(shares.get(email, 2))]
    # Two jobs come back within 30 days of an earlier one on the same car (neither was Luca's).
    comebacks = {HISTORY_JOBS // 3: HISTORY_JOBS // 3 - 3, 3 * HISTORY_JOBS // 4: 3 * HISTORY_JOBS // 4 - 5}
    luca = technicians["tech@demo.test"]
    async with db.read(tenant.id) as session:
        vehicles = {
            row.id: row
            for row in await session.execute(
                select(Vehicle.id, Vehicle.customer_id, Vehicle.odometer_km, Vehicle.year, Vehicle.fuel_type)
            )
        }
    async with db.uow(manager) as uow:
        session = uow.session
        jobs: list[tuple[WorkOrder, Job, int, tuple[datetime, datetime]]] = []
        for index in range(HISTORY_JOBS):
            day = days[index * len(days) // HISTORY_JOBS]
            technician_id = rng.choice(weighted)
            original = comebacks.get(index)
            if original is not None and jobs[original][0].technician_id == luca:
                technician_id = technicians["marco.bianchi@demo.test"]
            vehicle = vehicles[
                jobs[original][0].vehicle_id
                if original is not None
                else vehicle_ids[index % len(vehicle_ids)]
            ]
            # A comeback is the same complaint again.
            job = (
                jobs[original][1]
                if original is not None
                else job_for(vehicle.fuel_type, rng.randrange(len(JOBS)))
            )
            hours = sum(float(OPERATION_BY_NAME[name][1]) for name in job[2])
            checked_in = datetime.combine(day, time(7, 45) if index % 2 else time(10, 30), zone).astimezone(
                UTC
            )
            clock_on = checked_in + timedelta(minutes=10)
            clock_off = clock_on + timedelta(hours=hours * rng.uniform(0.75, 1.3))
            completed = clock_off + timedelta(minutes=15)
            closed = completed + timedelta(hours=rng.randint(1, 20))
            work_order = WorkOrder(
                number=index + 1,
                vehicle_id=vehicle.id,
                customer_id=vehicle.customer_id,
                category_id=categories[job[1]],
                complaint=job[0],
                status="CLOSED",
                technician_id=technician_id,
                service_advisor_id=None,
                promised_at=checked_in + timedelta(hours=8),
                bay_id=bay_ids[index % len(bay_ids)],
                scheduled_start=checked_in,
                scheduled_end=checked_in + timedelta(hours=3),
                odometer_in_km=int(
                    odometer_at(vehicle.odometer_km, in_service_since(vehicle.year), now, checked_in)
                ),
                checked_in_at=checked_in,
                comeback_of_id=jobs[original][0].id if original is not None else None,
                completed_at=completed,
                closed_at=closed,
                status_changed_at=closed,
                created_at=checked_in - timedelta(days=1),
                updated_at=closed,
            )
            session.add(work_order)
            # Flushed one by one: a comeback needs the id of the job it repeats.
            await session.flush()
            jobs.append((work_order, job, technician_id, (clock_on, clock_off)))
        # An invoice is numbered when it is issued, at completion (a quarter of an hour after clock-off):
        # a day's jobs are not done in the order of their numbers, and numbered by job the invoice list
        # would not run newest first.
        issue_order = sorted(jobs, key=lambda entry: entry[3][1])
        invoice_numbers = {entry[0].id: number for number, entry in enumerate(issue_order, start=1)}
        for work_order, job, technician_id, (clock_on, clock_off) in jobs:
            assert work_order.completed_at is not None and work_order.closed_at is not None
            operations = [OPERATION_BY_NAME[name] for name in job[2]]
            lines = _history_lines(work_order.id, operations, tenant.labour_rate, parts)
            session.add_all(lines)
            session.add(
                TimeEntry(
                    technician_id=technician_id,
                    work_order_id=work_order.id,
                    started_at=clock_on,
                    ended_at=clock_off,
                )
            )
            for from_status, to_status, at in (
                (None, "NEW", work_order.created_at),
                ("NEW", "CHECKED_IN", work_order.checked_in_at),
                ("CHECKED_IN", "IN_PROGRESS", clock_on),
                ("IN_PROGRESS", "QUALITY_CHECK", clock_off),
                ("QUALITY_CHECK", "READY", work_order.completed_at),
                ("READY", "CLOSED", work_order.closed_at),
            ):
                session.add(
                    WorkOrderHistory(
                        work_order_id=work_order.id,
                        from_status=from_status,
                        to_status=to_status,
                        actor_name="Import",
                        at=at,
                    )
                )
            session.add(_history_invoice(work_order, invoice_numbers[work_order.id], lines, tenant))
        for name in ("work_order", "invoice"):
            counted = await session.execute(
                update(Counter).where(Counter.name == name).values(value=HISTORY_JOBS).returning(Counter.id)
            )
            if counted.first() is None:
                session.add(Counter(name=name, value=HISTORY_JOBS))
        await uow.commit()


def _history_lines(
    work_order_id: int, operations: list[Operation], labour_rate: Decimal, parts: dict[str, Part]
) -> list[WorkOrderLine]:
    """Each operation's labour line followed by its parts."""
    lines: list[WorkOrderLine] = []
    for description, hours, used in operations:
        lines.append(
            WorkOrderLine(
                work_order_id=work_order_id,
                kind="LABOUR",
                description=description,
                quantity=Decimal(hours),
                unit_price=labour_rate,
                position=len(lines),
            )
        )
        for sku, quantity in used:
            part = parts[sku]
            lines.append(
                WorkOrderLine(
                    work_order_id=work_order_id,
                    kind="PART",
                    description=part.name,
                    part_id=part.id,
                    quantity=Decimal(quantity),
                    unit_price=part.price,
                    used=True,
                    position=len(lines),
                )
            )
    return lines


def _history_invoice(
    work_order: WorkOrder, number: int, lines: list[WorkOrderLine], tenant: Tenant
) -> Invoice:
    currency = tenant.currency
    sums = totals(
        [PricedLine(line.kind, line.quantity, line.unit_price) for line in lines], tenant.vat_rate, currency
    )
    return Invoice(
        number=number,
        work_order_id=work_order.id,
        customer_id=work_order.customer_id,
        currency=currency,
        lines=[
            {
                "description": line.description,
                "kind": line.kind,
                "quantity": str(line.quantity),
                "unit_price": str(line.unit_price),
                "net": str(line_net(line.quantity, line.unit_price, currency)),
            }
            for line in lines
        ],
        labour_net=sums.labour,
        parts_net=sums.parts,
        net=sums.net,
        vat_rate=tenant.vat_rate,
        vat=sums.vat,
        payment_terms_days=tenant.payment_terms_days,
        total=sums.total,
        issued_at=work_order.completed_at,
    )


# --- The showroom ----------------------------------------------------------------------------------------
# Catalog, stock, leads, test drives, quotes and deals as the dealership's records before it started with
# Pitwall: imported in one transaction like the workshop's history, and consistent with the showroom's
# rules (a won lead has an accepted quote, a deal sells the unit of its accepted quote, a held unit has
# an active hold, a delivered car is in its buyer's vehicles).

# make, model, year, trim, body, fuel, transmission, drivetrain, MSRP, WMI + VDS (the VIN's first 8).
CATALOG = (
    (
        "Volkswagen",
        "Golf",
        2025,
        "Life 1.5 eTSI",
        "HATCHBACK",
        "GASOLINE",
        "AUTOMATIC",
        "FWD",
        "33900",
        "WVWZZZCD",
    ),
    ("Volkswagen", "ID.4", 2025, "Pro 4MOTION", "SUV", "ELECTRIC", "AUTOMATIC", "AWD", "56900", "WVGZZZE2"),
    (
        "Skoda",
        "Octavia Combi",
        2025,
        "Selection 2.0 TDI",
        "WAGON",
        "DIESEL",
        "AUTOMATIC",
        "FWD",
        "41990",
        "TMBJH7NX",
    ),
    ("Skoda", "Enyaq", 2025, "85 Sportline", "SUV", "ELECTRIC", "AUTOMATIC", "RWD", "54990", "TMBAC7NY"),
    ("Toyota", "Yaris Cross", 2025, "Hybrid Trend", "SUV", "HYBRID", "CVT", "FWD", "31900", "VNKKAAB3"),
    (
        "Toyota",
        "RAV4",
        2024,
        "Plug-in Hybrid Premium",
        "SUV",
        "PLUGIN_HYBRID",
        "CVT",
        "AWD",
        "58900",
        "JTMW43FV",
    ),
    (
        "BMW",
        "320d Touring",
        2025,
        "M Sport xDrive",
        "WAGON",
        "DIESEL",
        "AUTOMATIC",
        "AWD",
        "64500",
        "WBA31FY0",
    ),
    ("BMW", "iX1", 2025, "xDrive30", "SUV", "ELECTRIC", "AUTOMATIC", "AWD", "62900", "WBA21EF0"),
    ("Tesla", "Model Y", 2025, "Long Range AWD", "SUV", "ELECTRIC", "AUTOMATIC", "AWD", "52990", "XP7YGCEK"),
    ("Tesla", "Model 3", 2025, "Long Range", "SEDAN", "ELECTRIC", "AUTOMATIC", "AWD", "49990", "LRW3E7FA"),
    ("Volvo", "XC40", 2025, "B4 Plus Dark", "SUV", "HYBRID", "AUTOMATIC", "FWD", "52900", "YV1XZK7V"),
    (
        "Volvo",
        "XC60",
        2025,
        "T6 AWD Plug-in Ultimate",
        "SUV",
        "PLUGIN_HYBRID",
        "AUTOMATIC",
        "AWD",
        "79900",
        "YV1UZL1V",
    ),
)
# Every trim's option groups: name, min, max, options (code, name, price, requires, conflicts). Costs are
# 70 % of the price.
OPTION_GROUPS = (
    (
        "Farbe",
        1,
        1,
        (
            ("PAINT-UNI", "Uni-Lackierung", "0", (), ()),
            ("PAINT-MET", "Metallic-Lackierung", "950", (), ()),
            ("PAINT-PRL", "Perleffekt-Lackierung", "1450", (), ()),
        ),
    ),
    (
        "Räder",
        1,
        1,
        (
            ("WHL-17", "Leichtmetallfelgen 17 Zoll", "0", (), ()),
            ("WHL-18", "Leichtmetallfelgen 18 Zoll", "890", (), ()),
            ("WHL-19", "Leichtmetallfelgen 19 Zoll", "1590", (), ()),
        ),
    ),
    (
        "Pakete",
        0,
        4,
        (
            ("PKG-WINTER", "Winterpaket (Sitz- und Lenkradheizung)", "690", (), ()),
            ("PKG-TECH", "Technologie-Paket (Matrix-LED, 360°-Kamera)", "1890", (), ()),
            ("PKG-HUD", "Head-up-Display", "890", ("PKG-TECH",), ()),
            ("PKG-SPORT", "Sportpaket (Sportfahrwerk, Sportsitze)", "2200", (), ("WHL-17",)),
            ("PKG-TOW", "Anhängerkupplung schwenkbar", "1150", (), ()),
        ),
    ),
)
SALES_COLOURS = (
    "Mondsteinsilber Metallic",
    "Deep Black Perleffekt",
    "Reinweiss",
    "Atlasgrau Metallic",
    "Kings Red Metallic",
    "Sage Green",
    "Pure Grey",
    "Race Blue Metallic",
)
SALES_CUSTOMERS = 34
# Unit statuses in the showroom: AVAILABLE and DEMO cars can be quoted, held and driven.
UNIT_PLAN = (
    ["AVAILABLE"] * 12 + ["DEMO"] * 3 + ["LOANER"] + ["INCOMING"] * 2 + ["RESERVED"] * 2 + ["DEAL"] * 5
)
# (stage, source) of the 40 leads; won leads close with a deal, lost ones with a reason.
LEAD_PLAN = (
    [("NEW", s) for s in ("WEB", "WALK_IN", "PHONE", "EMAIL", "WEB", "EVENT")]
    + [("CONTACTED", s) for s in ("WEB", "PHONE", "REFERRAL", "EMAIL", "WALK_IN", "PARTNER")]
    + [("QUALIFIED", s) for s in ("WALK_IN", "WEB", "FLEET_TENDER", "REFERRAL", "PHONE", "WEB")]
    + [("TEST_DRIVE", s) for s in ("WALK_IN", "WEB", "PHONE", "EVENT", "WALK_IN")]
    + [("QUOTE", s) for s in ("WALK_IN", "WEB", "REFERRAL", "PHONE", "WEB")]
    + [("NEGOTIATION", s) for s in ("WALK_IN", "FLEET_TENDER", "WEB")]
    + [("WON", s) for s in ("WALK_IN", "WEB", "REFERRAL", "PHONE", "WALK_IN")]
    + [("LOST", s) for s in ("WEB", "PHONE", "WALK_IN", "EMAIL")]
)
# Quotes of the QUOTE and NEGOTIATION leads, in their order; the won leads' quotes are ACCEPTED.
OPEN_QUOTE_STATUSES = (
    "DRAFT",
    "PENDING_APPROVAL",
    "APPROVED",
    "SENT",
    "SENT",
    "SENT",
    "REJECTED",
    "DECLINED",
)
# The won leads' deals, newest last: two delivered (one just now), one ready, one paid, one open.
DEAL_PLAN = ("DELIVERED", "DELIVERED", "READY_FOR_DELIVERY", "DEPOSIT_PAID", "OPEN")
LOST_REASONS_PLAN = ("PRICE", "BOUGHT_ELSEWHERE", "NO_RESPONSE", "FINANCING_DECLINED")
NEXT_ACTIONS = (
    "Rückruf wegen Probefahrt",
    "Offerte nachfassen",
    "Finanzierungsvorschlag senden",
    "Eintauschfahrzeug bewerten",
    "Termin im Showroom vereinbaren",
)
# What a customer said about the car they want, as a rep notes it; empty for some leads.
INTEREST_NOTES = (
    "Familienauto, Anhängerkupplung nötig",
    "",
    "Leasing über 48 Monate gewünscht",
    "Farbe Weiss oder Grau, Winterräder dazu",
    "",
    "Ersatz für den Firmenwagen, Lieferung bis Ende Quartal",
    "Vergleicht mit einem Angebot der Konkurrenz",
    "Pendelt täglich nach Zürich, Reichweite wichtig",
)
MODEL_YEAR_CODES = {2023: "P", 2024: "R", 2025: "S"}


def stock_vin(prefix: str, year: int, serial: int) -> str:
    """A VIN of the maker's WMI and VDS with a correct ISO 3779 check digit (position 9)."""
    chars = list(f"{prefix}0{MODEL_YEAR_CODES[year]}A{serial:06d}")
    total = sum(_VIN_VALUES[c] * w for c, w in zip(chars, _VIN_WEIGHTS, strict=True))
    chars[8] = "X" if total % 11 == 10 else str(total % 11)
    return "".join(chars)


async def _seed_showroom(db: Database, tenant: Tenant, users: dict[str, Actor], rng: random.Random) -> None:
    """The showroom: 12 trims with options, 25 units, 40 leads with their history, test drives, quotes
    and five deals, in one transaction."""
    now = utcnow()
    today = now.astimezone(ZoneInfo(tenant.timezone)).date()
    manager = users["sales_manager"]
    async with db.read(tenant.id) as session:
        staff = {
            row.id: row.name
            for row in await session.execute(select(User.id, User.name).where(User.role == "sales_rep"))
        }
        reps = sorted(staff)
    staff[manager.user_id or 0] = manager.name
    async with db.uow(manager) as uow:
        session = uow.session
        trims: list[tuple[CatalogTrim, str, dict[str, CatalogOption]]] = []
        for make, model, year, trim_name, body, fuel, gearbox, drive, msrp, prefix in CATALOG:
            trim = CatalogTrim(
                make=make,
                model=model,
                year=year,
                trim=trim_name,
                body_style=body,
                fuel_type=fuel,
                transmission=gearbox,
                drivetrain=drive,
                msrp=Decimal(msrp),
            )
            session.add(trim)
            await session.flush()
            options: dict[str, CatalogOption] = {}
            for position, (name, low, high, choices) in enumerate(OPTION_GROUPS):
                group = OptionGroup(
                    trim_id=trim.id, name=name, min_select=low, max_select=high, position=position
                )
                session.add(group)
                await session.flush()
                for code, label, price, requires, conflicts in choices:
                    option = CatalogOption(
                        group_id=group.id,
                        code=code,
                        name=label,
                        price=Decimal(price),
                        cost=(Decimal(price) * Decimal("0.7")).quantize(Decimal("0.01")),
                        requires=list(requires),
                        conflicts=list(conflicts),
                    )
                    session.add(option)
                    options[code] = option
            trims.append((trim, prefix, options))

        units = await _import_units(session, trims, rng, today, now)
        customers = []
        for index in range(SALES_CUSTOMERS):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            company = COMPANIES[index % len(COMPANIES)] if index % 9 == 4 else None
            customer = Customer(
                type="BUSINESS" if company else "INDIVIDUAL",
                first_name=first,
                last_name=last,
                company_name=company,
                email=f"{first.lower()}.{last.lower()}.s{index}@example.ch".replace("ü", "ue"),
                phone=f"+4178{rng.randint(1000000, 9999999)}",
                preferred_language=rng.choice(("de", "de", "de", "fr", "it", "en")),
                address_line=f"{rng.choice(STREETS)} {rng.randint(1, 120)}",
                postal_code=(town := rng.choice(TOWNS))[0],
                city=town[1],
                owner_id=reps[index % len(reps)],
                budget_min=Decimal(rng.choice((25_000, 35_000, 45_000))),
                budget_max=Decimal(rng.choice((50_000, 60_000, 80_000))),
            )
            session.add(customer)
            customers.append(customer)
        await session.flush()

        vat = tenant.vat_rate
        available = [unit for unit in units if unit.status == "AVAILABLE"]
        held_units = [unit for unit in units if unit.status == "RESERVED"]
        deal_units = [unit for unit in units if unit.status == "SOLD"]
        demo_units = [unit for unit in units if unit.status == "DEMO"]
        trim_of = {trim.id: (trim, options) for trim, _prefix, options in trims}
        quote_number = deal_number = 0
        open_quotes = iter(OPEN_QUOTE_STATUSES)
        deals_plan = iter(DEAL_PLAN)
        lost_reasons = iter(LOST_REASONS_PLAN)
        drives_booked = 0
        for index, (stage, source) in enumerate(LEAD_PLAN):
            customer = customers[index % len(customers)]
            owner = reps[index % len(reps)] if index % 11 else manager.user_id
            age_days = 4 + (index * 13) % 55
            created = now - timedelta(days=age_days, hours=rng.randint(0, 8))
            closes_now = stage in ("WON", "LOST") and index % 2 == 0
            closed = None
            if stage in ("WON", "LOST"):
                # Some closed within the hour, so that today, this week and this month all have figures.
                closed = (
                    now - timedelta(minutes=40)
                    if closes_now
                    else min(created + timedelta(days=rng.randint(1, age_days - 1)), now - timedelta(hours=3))
                )
            unit: StockUnit | None = None
            if stage in ("QUOTE", "NEGOTIATION"):
                unit = held_units.pop() if held_units and stage == "NEGOTIATION" else available.pop()
            elif stage == "WON":
                unit = deal_units.pop()
            elif stage == "TEST_DRIVE":
                unit = demo_units[index % len(demo_units)]
            trim, options = trim_of[unit.trim_id if unit is not None else trims[index % len(trims)][0].id]
            budget = None if index % 7 == 3 else trim.msrp + Decimal(rng.choice((-3000, 0, 2500, 5000)))
            lead = Lead(
                customer_id=customer.id,
                interest_trim_id=trim.id,
                interest_unit_id=unit.id if unit is not None else None,
                interest_note=INTEREST_NOTES[index % len(INTEREST_NOTES)],
                source=source,
                owner_id=owner,
                stage=stage,
                lost_reason=next(lost_reasons) if stage == "LOST" else None,
                budget=budget,
                trade_in_offered=index % 4 == 1,
                financing_preapproved=index % 5 == 2,
                next_action="" if closed else NEXT_ACTIONS[index % len(NEXT_ACTIONS)],
                next_action_on=None if closed else today + timedelta(days=(index % 9) - 2),
                last_contact_at=now - timedelta(days=index % 12, hours=2),
                created_at=created,
                stage_changed_at=closed or created + timedelta(days=max(1, age_days // 2)),
                closed_at=closed,
            )
            session.add(lead)
            await session.flush()
            for step, (from_stage, to_stage) in enumerate(_stage_path(stage)):
                at = (
                    lead.stage_changed_at
                    if to_stage == stage
                    else created + (lead.stage_changed_at - created) * step / 6
                )
                session.add(
                    LeadStageChange(
                        lead_id=lead.id,
                        from_stage=from_stage,
                        to_stage=to_stage,
                        actor_id=owner,
                        actor_name="Import",
                        at=at,
                    )
                )
            if stage == "TEST_DRIVE" and unit is not None:
                starts = _drive_slot(now, drives_booked)
                status = ("RETURNED", "CHECKED_OUT", "SCHEDULED", "SCHEDULED", "SCHEDULED")[drives_booked]
                session.add(
                    TestDrive(
                        lead_id=lead.id,
                        stock_unit_id=unit.id,
                        rep_id=owner,
                        starts_at=starts,
                        ends_at=starts + timedelta(minutes=45),
                        status=status,
                        licence_number=f"ZH-{rng.randint(100000, 999999)}" if status != "SCHEDULED" else None,
                        licence_checked_at=starts if status != "SCHEDULED" else None,
                        odometer_out_km=unit.mileage_km if status != "SCHEDULED" else None,
                        odometer_in_km=unit.mileage_km + 23 if status == "RETURNED" else None,
                        created_at=starts - timedelta(days=1),
                    )
                )
                if status == "RETURNED":
                    unit.mileage_km += 23
                drives_booked += 1
            if unit is None or stage not in ("QUOTE", "NEGOTIATION", "WON"):
                continue
            status = "ACCEPTED" if stage == "WON" else next(open_quotes)
            chosen = ["PAINT-MET", "WHL-18", "PKG-WINTER"] + (["PKG-TECH", "PKG-HUD"] if index % 2 else [])
            # Above the 5 % threshold the quote needed a manager; the others stay below it.
            if status in ("PENDING_APPROVAL", "APPROVED", "REJECTED"):
                discount = (unit.list_price * Decimal("0.08")).quantize(Decimal("1"))
            else:
                discount = Decimal(rng.choice((0, 500, 1000, 1500))) if status != "DRAFT" else Decimal(0)
            financed = index % 3 == 0
            priced = price_quote(
                vehicle_price=unit.list_price,
                options=[(options[code].name, options[code].price) for code in chosen],
                accessories=[("Fussmatten Premium", Decimal("189"))],
                fees=[("Überführung und Einlösung", Decimal("690"))],
                discount=discount,
                trade_in_allowance=Decimal("8500") if lead.trade_in_offered else Decimal(0),
                trade_in_payoff=Decimal(0),
                vat_rate_percent=vat,
                currency=tenant.currency,
                down_payment=Decimal("10000") if financed else Decimal(0),
                apr_percent=Decimal("3.9") if financed else None,
                term_months=48 if financed else None,
                vehicle_cost=unit.cost,
                options_cost=sum((options[code].cost for code in chosen), Decimal(0)),
                vehicle_name=f"{trim.make} {trim.model} {trim.trim}",
            )
            quote_number += 1
            quoted_at = max(created + timedelta(hours=1), lead.stage_changed_at - timedelta(days=1))
            needs_approval = status in ("PENDING_APPROVAL", "APPROVED", "REJECTED")
            quote = Quote(
                number=quote_number,
                lead_id=lead.id,
                customer_id=customer.id,
                stock_unit_id=unit.id,
                trim_id=trim.id,
                status=status,
                vehicle_price=unit.list_price,
                vehicle_cost=unit.cost,
                option_codes=chosen,
                accessories=[{"name": "Fussmatten Premium", "price": "189.00"}],
                fees=[{"name": "Überführung und Einlösung", "price": "690.00"}],
                discount=priced.discount,
                trade_in_allowance=Decimal("8500") if lead.trade_in_offered else Decimal(0),
                vat_rate=vat,
                net=priced.net,
                vat=priced.vat,
                total=priced.total,
                down_payment=priced.down_payment,
                apr_percent=priced.apr_percent,
                term_months=priced.term_months,
                amount_financed=priced.amount_financed,
                monthly_payment=priced.monthly_payment,
                gross_margin=priced.gross_margin,
                valid_until=today + timedelta(days=tenant.quote_valid_days - 2),
                approval_requested_by_id=owner if needs_approval else None,
                decided_by_id=manager.user_id if status in ("APPROVED", "REJECTED") else None,
                approval_reason=encode_reasons(
                    approval_reasons(priced, tenant.discount_approval_percent, tenant.margin_floor_percent)
                )
                if needs_approval
                else "",
                decision_comment="Marge zu tief, bitte neu rechnen." if status == "REJECTED" else "",
                sent_at=quoted_at if status in ("SENT", "ACCEPTED", "DECLINED") else None,
                accepted_at=max(quoted_at, (closed or now) - timedelta(minutes=20))
                if status == "ACCEPTED"
                else None,
                created_by_id=owner,
                created_at=quoted_at - timedelta(hours=3),
            )
            session.add(quote)
            await session.flush()
            if needs_approval:
                # The request as `request_approval` records it: the managers' queue reads its time (and
                # the quote's history its author) from this event. Already published: nothing to send live.
                requested_at = quoted_at - timedelta(hours=2)
                session.add(
                    Event(
                        type="quote.approval_requested",
                        topics=["approvals", "sales", f"customer:{customer.id}", f"quote:{quote.id}"],
                        payload={
                            "id": quote.id,
                            "number": quote.code,
                            "lead_id": lead.id,
                            "customer_id": customer.id,
                            "status": "PENDING_APPROVAL",
                            "version": quote.version,
                            "total": str(quote.total),
                            "from": "DRAFT",
                            "to": "PENDING_APPROVAL",
                            "reason": quote.approval_reason,
                        },
                        actor_kind="user",
                        actor_id=owner,
                        actor_name=staff.get(owner or 0, ""),
                        created_at=requested_at,
                        published_at=requested_at,
                    )
                )
            hold = None
            if unit.status == "RESERVED" or stage == "WON":
                hold = Reservation(
                    stock_unit_id=unit.id,
                    lead_id=lead.id,
                    rep_id=owner,
                    status="ACTIVE" if unit.status == "RESERVED" else "CONVERTED",
                    expires_at=now + timedelta(hours=30) if unit.status == "RESERVED" else None,
                    created_at=quoted_at,
                    ended_at=None if unit.status == "RESERVED" else closed,
                )
                session.add(hold)
                await session.flush()
                if unit.status == "RESERVED":
                    unit.held_by_reservation_id = hold.id
            if stage == "WON":
                deal_number += 1
                await _import_deal(session, deal_number, next(deals_plan), lead, quote, unit, trim, now)
        for name, value in (("quote", quote_number), ("deal", deal_number)):
            session.add(Counter(name=name, value=value))
        await uow.commit()


async def _import_units(
    session: Any,
    trims: list[tuple[CatalogTrim, str, dict[str, CatalogOption]]],
    rng: random.Random,
    today: date,
    now: datetime,
) -> list[StockUnit]:
    """The 25 units of UNIT_PLAN over the trims; those marked DEAL are sold to the won leads' deals."""
    units: list[StockUnit] = []
    for index, plan in enumerate(UNIT_PLAN):
        trim, prefix, _options = trims[index % len(trims)]
        status = {"DEAL": "SOLD"}.get(plan, plan)
        mileage = {"DEMO": rng.randint(2_500, 9_000), "LOANER": rng.randint(9_000, 16_000)}.get(
            status, rng.randint(5, 40)
        )
        list_price = trim.msrp + Decimal(rng.choice((0, 950, 1450, 2340)))
        unit = StockUnit(
            vin=stock_vin(prefix, trim.year, 100_000 + index * 7_919),
            trim_id=trim.id,
            colour=SALES_COLOURS[index % len(SALES_COLOURS)],
            mileage_km=mileage,
            cost=(list_price * Decimal("0.86")).quantize(Decimal("1")),
            list_price=list_price,
            location="Showroom Horgen" if index % 3 else "Aussenplatz",
            arrived_on=None if status == "INCOMING" else today - timedelta(days=3 + (index * 37) % 140),
            status=status,
            created_at=now - timedelta(days=150),
        )
        session.add(unit)
        units.append(unit)
    await session.flush()
    return units


OPEN_STAGES_ORDER = ("NEW", "CONTACTED", "QUALIFIED", "TEST_DRIVE", "QUOTE", "NEGOTIATION")


def _stage_path(stage: str) -> list[tuple[str | None, str]]:
    """The moves that brought a lead to `stage`: won leads went all the way, lost ones gave up early."""
    if stage == "WON":
        stages = [*OPEN_STAGES_ORDER, "WON"]
    elif stage == "LOST":
        stages = [*OPEN_STAGES_ORDER[:3], "LOST"]
    else:
        stages = list(OPEN_STAGES_ORDER[: OPEN_STAGES_ORDER.index(stage) + 1])
    return list(zip([None, *stages[:-1]], stages, strict=True))


def _drive_slot(now: datetime, index: int) -> datetime:
    """Yesterday's drive, one out on the road now, and three booked for the coming hours and days."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    return (
        hour - timedelta(days=1),
        hour - timedelta(minutes=15),
        hour + timedelta(hours=2),
        hour + timedelta(days=1, hours=1),
        hour + timedelta(days=2, hours=3),
    )[index]


async def _import_deal(
    session: Any,
    number: int,
    status: str,
    lead: Lead,
    quote: Quote,
    unit: StockUnit,
    trim: CatalogTrim,
    now: datetime,
) -> None:
    """A deal of the won lead's accepted quote in `status`, its unit, payments, vehicle and history."""
    assert lead.closed_at is not None
    created = lead.closed_at
    delivered_at = None
    if status == "DELIVERED":
        # Handed over three days after the sale, or within the hour for a sale closed just now.
        delivered_at = max(
            created + timedelta(minutes=10), min(created + timedelta(days=3), now - timedelta(hours=1))
        )
    deal = Deal(
        number=number,
        quote_id=quote.id,
        lead_id=lead.id,
        customer_id=lead.customer_id,
        stock_unit_id=unit.id,
        rep_id=lead.owner_id,
        status=status,
        total=quote.total,
        gross_profit=quote.gross_margin,
        deposit_due=deposit_due_for(quote),
        financed=is_financed(quote),
        delivery_scheduled_at=(
            now.replace(minute=0, second=0, microsecond=0) + timedelta(days=2, hours=2)
            if status == "READY_FOR_DELIVERY"
            else delivered_at
        ),
        delivered_at=delivered_at,
        created_at=created,
    )
    session.add(deal)
    await session.flush()
    unit.deal_id = deal.id
    unit.status = "DELIVERED" if status == "DELIVERED" else "SOLD"
    history: list[tuple[str, datetime, dict[str, Any]]] = [("deal.created", created, {})]
    if status != "OPEN":
        paid_at = created + timedelta(minutes=20)
        session.add(
            DealPayment(
                deal_id=deal.id,
                kind="DEPOSIT",
                amount=deal.deposit_due,
                method="MANUAL",
                reference=f"Quittung {4700 + number}",
                recorded_by_id=lead.owner_id,
                at=paid_at,
            )
        )
        history.append(
            ("deal.deposit_recorded", paid_at, {"amount": str(deal.deposit_due), "method": "MANUAL"})
        )
        if deal.financed:
            history.append(("deal.financing_approved", paid_at + timedelta(hours=20), {}))
    if status == "READY_FOR_DELIVERY":
        assert deal.delivery_scheduled_at is not None
        history.append(
            (
                "deal.delivery_scheduled",
                now - timedelta(hours=3),
                {"delivery_at": deal.delivery_scheduled_at.isoformat()},
            )
        )
    if status == "DELIVERED":
        assert delivered_at is not None
        vehicle = Vehicle(
            vin=unit.vin,
            plate=f"ZH {400000 + number * 1117}",
            make=trim.make,
            model=trim.model,
            year=trim.year,
            fuel_type=trim.fuel_type,
            colour=unit.colour[:30],
            odometer_km=unit.mileage_km,
            customer_id=lead.customer_id,
            created_at=delivered_at,
        )
        session.add(vehicle)
        await session.flush()
        deal.vehicle_id = vehicle.id
        history.append(
            (
                "deal.delivered",
                delivered_at,
                {"vehicle_id": vehicle.id, "vin": unit.vin, "vehicle_linked": False},
            )
        )
    for kind, at, extra in history:
        # The audit trail of the imported deals, already published (nothing to send live).
        session.add(
            Event(
                type=kind,
                topics=["sales", f"customer:{lead.customer_id}", "kpi"],
                payload={"deal_id": deal.id, "number": number, "customer_id": lead.customer_id, **extra},
                actor_kind="system",
                actor_id=None,
                actor_name="Import",
                created_at=at,
                published_at=at,
            )
        )


# --- Vehicles and telematics -------------------------------------------------------------------------------

FLEETS = (
    (
        "Alpenblick Ersatzwagen",
        "Unsere Ersatzwagen für Kundinnen und Kunden, deren Auto in der Werkstatt steht.",
    ),
    ("Taxi Zürisee GmbH", "Die Taxis der Taxi Zürisee GmbH, gewartet im Rahmen eines Flottenvertrags."),
)
TAXI_COMPANY = "Taxi Zürisee GmbH"
FLEET_SIZE = 6
TRACKED_VEHICLES = 10
TELEMETRY_DAYS = 90
# (service, interval km, interval months, work-order category); the oil change only for cars with an engine.
OIL_CHANGE = ("Ölwechsel", 15_000, 12, "Oil Change")
SCHEDULES = (
    ("Service", None, 24, "Inspection"),
    ("Reifen ersetzen", 40_000, None, "Tire Service"),
)
# Open alerts on the tracked cars as the demo starts: condition, severity, value, the threshold it crossed,
# and whether only a car with an engine can raise it (overheating, a catalytic converter's code).
DEMO_ALERTS = (
    ("engine_temp_high", "CRITICAL", 118.0, "engine_temp_high_c", True),
    ("tyre_rl_low", "HIGH", 176.0, "tyre_low_kpa", False),
    ("battery_low", "MEDIUM", 11.9, "battery_low_v", False),
    ("dtc:P0420", "MEDIUM", None, None, True),
)


def oil_change_scopes() -> list[tuple[str, str | None]]:
    """(make, model) of the oil-change schedules: a whole make when none of its cars here is electric,
    else each of its models with an engine."""
    cars = {(make, model, fuel) for make, model, fuel, _wmi, _year in MODELS} | {
        (entry[0], entry[1], entry[5]) for entry in CATALOG
    }
    electric_makes = {make for make, _model, fuel in cars if fuel == "ELECTRIC"}
    scopes = {
        (make, model if make in electric_makes else None) for make, model, fuel in cars if fuel != "ELECTRIC"
    }
    return sorted(scopes, key=lambda scope: (scope[0], scope[1] or ""))


async def _seed_fleet(db: Database, tenant: Tenant, manager: Actor, rng: random.Random) -> None:
    """Ten tracked cars of both fleets and the customers with 90 days of daily readings (one silent for
    three days), open alerts (one critical), and the schedules with some cars due or overdue. Every
    odometer figure (readings, services, check-ins) follows one rule per car, so none goes back in time."""
    zone = ZoneInfo(tenant.timezone)
    now = utcnow()
    today = now.astimezone(zone).date()
    async with db.uow(manager) as uow:
        session = uow.session
        vehicles = list((await session.scalars(select(Vehicle).order_by(Vehicle.id))).all())
        delivered: dict[int, date] = {}
        for vehicle_id, at in await session.execute(
            select(Deal.vehicle_id, Deal.delivered_at).where(Deal.vehicle_id.is_not(None))
        ):
            assert vehicle_id is not None and at is not None
            delivered[vehicle_id] = at.astimezone(zone).date()
        since = {
            vehicle.id: delivered.get(vehicle.id) or in_service_since(vehicle.year) for vehicle in vehicles
        }
        current_km = {vehicle.id: vehicle.odometer_km for vehicle in vehicles}

        def km_at(vehicle: Vehicle, at: datetime) -> int:
            return int(odometer_at(current_km[vehicle.id], since[vehicle.id], now, at))

        # The tracked cars: three loan cars, the taxis and a customer's car.
        tracked = vehicles[FLEET_SIZE - 3 : FLEET_SIZE - 3 + TRACKED_VEHICLES]
        readings: list[dict[str, Any]] = []
        for number, vehicle in enumerate(tracked):
            # The last tracked car stopped reporting three days ago.
            silent_days = 3 if number == TRACKED_VEHICLES - 1 else 0
            rows = _daily_readings(tenant.id, vehicle, now, silent_days, rng)
            for row in rows:
                row["odometer_m"] = int(
                    odometer_at(current_km[vehicle.id], since[vehicle.id], now, row["recorded_at"]) * 1000
                )
            readings += rows
            last = rows[-1]
            vehicle.odometer_m = last["odometer_m"]
            vehicle.odometer_km = vehicle.odometer_m // 1000
            vehicle.last_reading_at = last["recorded_at"]
            session.add(
                TelematicsDevice(
                    vehicle_id=vehicle.id,
                    kind="TRACCAR",
                    unique_id=f"demo-tracker-{number + 1:02d}",
                    created_at=now - timedelta(days=TELEMETRY_DAYS + 1),
                    # Seen when its last reading came in, as ingestion records it.
                    last_seen_at=last["received_at"],
                )
            )
        # The latest reading of each car with an alert shows what raised it; the silent car raises none.
        latest = {row["vehicle_id"]: row for row in readings}
        candidates = list(tracked[:-1])
        thresholds = effective_thresholds(None)
        for position, (condition, severity, value, threshold, needs_engine) in enumerate(DEMO_ALERTS):
            vehicle = next(car for car in candidates if not needs_engine or car.fuel_type != "ELECTRIC")
            candidates.remove(vehicle)
            row = latest[vehicle.id]
            if condition == "engine_temp_high":
                row["engine_temp_c"] = value
            elif condition == "tyre_rl_low":
                row["tyre_rl_kpa"] = value
            elif condition == "battery_low":
                row["battery_v"] = value
            else:
                row["dtc_codes"] = [condition.removeprefix("dtc:")]
            session.add(
                VehicleAlert(
                    vehicle_id=vehicle.id,
                    condition=condition,
                    severity=severity,
                    value=value,
                    threshold=None if threshold is None else thresholds[threshold],
                    opened_at=now - timedelta(hours=2 + position * 5),
                    last_seen_at=now - timedelta(minutes=20),
                )
            )
        # One statement for all readings: the seed stays fast.
        await session.execute(insert(TelemetryReading), readings)
        categories = {
            str(name): int(category_id)
            for category_id, name in await session.execute(
                select(WorkOrderCategory.id, WorkOrderCategory.name)
            )
        }
        service, interval_km, interval_months, category = OIL_CHANGE
        schedules = [
            MaintenanceSchedule(
                service_type=service,
                make=make,
                model=model,
                interval_km=interval_km,
                interval_months=interval_months,
                category_id=categories.get(category),
            )
            for make, model in oil_change_scopes()
        ] + [
            MaintenanceSchedule(
                service_type=service,
                interval_km=interval_km,
                interval_months=interval_months,
                category_id=categories.get(category),
            )
            for service, interval_km, interval_months, category in SCHEDULES
        ]
        session.add_all(schedules)
        await session.flush()
        # When each service was last done: mostly well within the interval, about one in eight near or
        # past it, so the board has a few cars due and overdue; never before the car was on the road.
        done: dict[tuple[int, int], VehicleMaintenance] = {}
        for vehicle in vehicles:
            for schedule in schedules:
                days = (schedule.interval_months or 24) * 30
                share = rng.uniform(0.9, 1.08) if rng.random() < 0.12 else rng.uniform(0.05, 0.75)
                done_on = today - timedelta(days=int(days * share))
                if not applies_to(schedule, vehicle.make, vehicle.model) or done_on < since[vehicle.id]:
                    continue
                done[(vehicle.id, schedule.id)] = VehicleMaintenance(
                    vehicle_id=vehicle.id,
                    schedule_id=schedule.id,
                    last_done_on=done_on,
                    last_done_km=km_at(vehicle, datetime.combine(done_on, time(12), zone)),
                )
        # A completed job counts as the services of its category, as completing one does in Pitwall.
        by_id = {vehicle.id: vehicle for vehicle in vehicles}
        completed = await session.execute(
            select(
                WorkOrder.vehicle_id, WorkOrder.category_id, WorkOrder.completed_at, WorkOrder.odometer_in_km
            )
            .where(WorkOrder.completed_at.is_not(None))
            .order_by(WorkOrder.completed_at)
        )
        for vehicle_id, category_id, completed_at, odometer_in_km in completed:
            assert completed_at is not None
            vehicle = by_id[vehicle_id]
            completed_on = completed_at.astimezone(zone).date()
            vehicle.last_service_on = max(vehicle.last_service_on or completed_on, completed_on)
            for schedule in schedules:
                if schedule.category_id != category_id or not applies_to(
                    schedule, vehicle.make, vehicle.model
                ):
                    continue
                record = done.get((vehicle.id, schedule.id))
                if record is None:
                    record = done[(vehicle.id, schedule.id)] = VehicleMaintenance(
                        vehicle_id=vehicle.id, schedule_id=schedule.id
                    )
                elif record.last_done_on is not None and record.last_done_on > completed_on:
                    continue
                record.last_done_on = completed_on
                record.last_done_km = odometer_in_km or km_at(vehicle, completed_at)
        session.add_all(done.values())
        # The vehicle's last service is the latest of them.
        for (vehicle_id, _schedule_id), record in done.items():
            vehicle = by_id[vehicle_id]
            if record.last_done_on is not None and (
                vehicle.last_service_on is None or record.last_done_on > vehicle.last_service_on
            ):
                vehicle.last_service_on = record.last_done_on
        await session.flush()
        for vehicle in vehicles:
            await refresh_vehicle_maintenance(uow, vehicle, today)
            await refresh_health(uow, vehicle)
        await uow.commit()


def _daily_readings(
    tenant_id: int, vehicle: Vehicle, now: datetime, silent_days: int, rng: random.Random
) -> list[dict[str, Any]]:
    """A reading a day for 90 days, in SI units: a daily drive, a battery that ages, tyres that lose air.
    An electric car reports its state of charge and nothing of an engine. The caller sets the odometer."""
    rows: list[dict[str, Any]] = []
    electric = vehicle.fuel_type == "ELECTRIC"
    base_efficiency = rng.uniform(5.2, 8.4)
    for day in range(TELEMETRY_DAYS, silent_days, -1):
        age = (TELEMETRY_DAYS - day) / TELEMETRY_DAYS
        tyre = 235.0 - 18 * age + rng.uniform(-3, 3)
        level = round(rng.uniform(0.15, 0.95), 2)
        rows.append(
            {
                "tenant_id": tenant_id,
                "vehicle_id": vehicle.id,
                "recorded_at": now - timedelta(days=day - 1, hours=rng.randint(1, 6)),
                "received_at": now - timedelta(days=day - 1),
                "source": "TRACCAR",
                "fuel_level": None if electric else level,
                "state_of_charge": level if electric else None,
                "fuel_l_per_100km": None if electric else round(base_efficiency + rng.uniform(-0.6, 0.9), 2),
                "engine_load": None if electric else round(rng.uniform(0.22, 0.55), 2),
                "engine_temp_c": None if electric else round(rng.uniform(86, 96), 1),
                "battery_v": round(12.7 - 0.3 * age + rng.uniform(-0.1, 0.1), 2),
                "odometer_m": None,
                "tyre_fl_kpa": round(tyre + rng.uniform(-2, 2), 1),
                "tyre_fr_kpa": round(tyre + rng.uniform(-2, 2), 1),
                "tyre_rl_kpa": round(tyre + rng.uniform(-2, 2), 1),
                "tyre_rr_kpa": round(tyre + rng.uniform(-2, 2), 1),
                "latitude": round(47.37 + rng.uniform(-0.08, 0.08), 5),
                "longitude": round(8.54 + rng.uniform(-0.12, 0.12), 5),
                "speed_mps": round(rng.uniform(0, 25), 1),
                "rpm": None if electric else rng.randint(800, 2800),
                "dtc_codes": [],
            }
        )
    return rows
