"""The demo's data tables (its users and technicians, bays, parts, operations and jobs, customers'
names and car models) and the small rules the other modules share: a VIN of the maker's WMI, the job a
car comes in with, its odometer at any moment, a work order's way along the board."""

from __future__ import annotations

import random
from collections import deque
from datetime import UTC, date, datetime, time

from ops.workshop.service import TRANSITIONS

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
HISTORY_WEEKS = 6
# The open jobs' cars first, then those of the customers whose cars came in over the past six weeks.
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
# The regular customers' cars besides: a workshop that finishes some 40 jobs a working day sees over
# a thousand different cars in six weeks (each car about once, so a visit within 30 days of the last
# one is the comeback it is counted as). Imported in bulk, one customer each.
CUSTOMER_CARS = 1200
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
# The regular customers by the language they prefer, with names that go with it: (weight, first names,
# last names); German names also from the lists above.
CUSTOMER_LANGUAGES = (
    (
        70,
        "de",
        (
            "Andrea",
            "Barbara",
            "Christian",
            "Corinne",
            "Reto",
            "Stefan",
            "Sandra",
            "Thomas",
            "Ursula",
            "Marcel",
        ),
        ("Bachmann", "Lehmann", "Kaufmann", "Bühler", "Suter", "Hofmann", "Koch", "Arnold", "Hess", "Vogel"),
    ),
    (
        14,
        "fr",
        ("Sophie", "Nicolas", "Julien", "Camille", "Laurent", "Nathalie", "Olivier", "Valérie", "Pierre"),
        (
            "Favre",
            "Rochat",
            "Morel",
            "Girard",
            "Bonvin",
            "Perrin",
            "Dubois",
            "Chevalley",
            "Mercier",
            "Jaquet",
        ),
    ),
    (
        10,
        "it",
        ("Marco", "Giulia", "Matteo", "Chiara", "Paolo", "Elena", "Alessandro", "Francesca", "Sara"),
        ("Bernasconi", "Ferrari", "Colombo", "Galli", "Pedrazzini", "Fontana", "Lombardi", "Moretti"),
    ),
    (
        6,
        "en",
        ("James", "Emily", "David", "Sarah", "Michael", "Laura"),
        ("Smith", "Taylor", "Walker", "Evans"),
    ),
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

VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


# ISO 3779's model year letters and digits, 2010 to 2039.
MODEL_YEAR_LETTERS = "ABCDEFGHJKLMNPRSTVWXY123456789"


def demo_vin(rng: random.Random, wmi: str, year: int) -> str:
    """A VIN of the maker's WMI and the car's model year, with a correct ISO 3779 check digit (position 9)."""
    alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    descriptor = "".join(rng.choice(alphabet) for _ in range(5))
    plant = rng.choice(alphabet)
    serial = "".join(rng.choice("0123456789") for _ in range(6))
    chars = list(f"{wmi}{descriptor}0{MODEL_YEAR_LETTERS[year - 2010]}{plant}{serial}")
    total = sum(VIN_VALUES[c] * w for c, w in zip(chars, VIN_WEIGHTS, strict=True))
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


def path_to(status: str) -> list[str]:
    """The shortest chain of allowed moves from NEW to `status`."""
    queue: deque[list[str]] = deque([["NEW"]])
    while queue:
        path = queue.popleft()
        if path[-1] == status:
            return path[1:]
        queue.extend([*path, nxt] for nxt in TRANSITIONS[path[-1]] if nxt not in path)
    raise ValueError(status)
