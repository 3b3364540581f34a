"""The showroom: catalog trims and their options, stock units, leads over the stages, test drives,
quotes and deals."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ops.auth.actor import Actor
from ops.auth.models import User
from ops.customers.models import Customer
from ops.db import Database, utcnow
from ops.events import Event
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
from ops.seed.data import COMPANIES, FIRST_NAMES, LAST_NAMES, STREETS, TOWNS, VIN_VALUES, VIN_WEIGHTS
from ops.tenants.models import Counter, Tenant
from ops.vehicles.models import Vehicle

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
    total = sum(VIN_VALUES[c] * w for c, w in zip(chars, VIN_WEIGHTS, strict=True))
    chars[8] = "X" if total % 11 == 10 else str(total % 11)
    return "".join(chars)


async def seed_showroom(db: Database, tenant: Tenant, users: dict[str, Actor], rng: random.Random) -> None:
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
