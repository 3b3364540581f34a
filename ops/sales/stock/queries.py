"""Read models for the stock pages: the filtered stock list, one unit with its history, the test-drive
calendar, and the choices the forms offer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ops.auth.models import User
from ops.customers.models import Customer
from ops.paging import Page
from ops.sales.models import CatalogTrim, Deal, Lead, Reservation, StockUnit, TestDrive
from ops.sales.stock.service import CLOSED_LEAD_STAGES, SALES_ROLES

PAGE_SIZE = 20
# Age bands of the filter: days since arrival, both ends included; None is open-ended.
AGE_BANDS: dict[str, tuple[int, int | None]] = {
    "0-30": (0, 30),
    "31-60": (31, 60),
    "61-90": (61, 90),
    "90+": (91, None),
}
SORTS = ("make", "price", "-price", "age", "-age")
# What the list shows unless a status is chosen: everything still on the premises.
IN_STOCK_EXCLUDES = ("DELIVERED",)


def person_name(first: str | None, last: str | None, company: str | None) -> str:
    person = f"{first or ''} {last or ''}".strip()
    return f"{company} ({person})" if company else person


@dataclass(frozen=True)
class StockFilters:
    make: str = ""
    model: str = ""
    body_style: str = ""
    fuel_type: str = ""
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    status: str = ""
    age: str = ""
    sort: str = "make"

    @property
    def active(self) -> bool:
        return any((self.make, self.model, self.body_style, self.fuel_type, self.status, self.age)) or (
            self.price_min is not None or self.price_max is not None
        )

    def args(self) -> dict[str, str | None]:
        """The filters as URL query arguments, leaving out what is not set."""
        values: dict[str, str | None] = {
            "make": self.make,
            "model": self.model,
            "body_style": self.body_style,
            "fuel_type": self.fuel_type,
            "price_min": None if self.price_min is None else str(self.price_min),
            "price_max": None if self.price_max is None else str(self.price_max),
            "status": self.status,
            "age": self.age,
            "sort": None if self.sort == "make" else self.sort,
        }
        return {name: value or None for name, value in values.items()}


@dataclass(frozen=True)
class UnitRow:
    id: int
    vin: str
    trim_id: int
    make: str
    model: str
    year: int
    trim: str
    body_style: str
    fuel_type: str
    transmission: str
    drivetrain: str
    colour: str
    mileage_km: int
    cost: Decimal
    list_price: Decimal
    location: str
    arrived_on: date | None
    status: str
    version: int
    age_days: int | None
    held_by_reservation_id: int | None
    holder_name: str | None
    holder_customer: str | None
    holder_lead_id: int | None
    holder_rep_id: int | None
    hold_expires_at: datetime | None
    deal_id: int | None
    deal_code: str | None

    @property
    def title(self) -> str:
        return f"{self.make} {self.model} {self.year} {self.trim}"


HolderUser = aliased(User)
HolderCustomer = aliased(Customer)


def _unit_query() -> Any:
    return (
        select(
            StockUnit,
            CatalogTrim,
            Reservation.lead_id,
            Reservation.rep_id,
            Reservation.expires_at,
            HolderUser.name,
            HolderCustomer.first_name,
            HolderCustomer.last_name,
            HolderCustomer.company_name,
            Deal.number,
        )
        .join(CatalogTrim, CatalogTrim.id == StockUnit.trim_id)
        .outerjoin(Reservation, Reservation.id == StockUnit.held_by_reservation_id)
        .outerjoin(HolderUser, HolderUser.id == Reservation.rep_id)
        .outerjoin(Lead, Lead.id == Reservation.lead_id)
        .outerjoin(HolderCustomer, HolderCustomer.id == Lead.customer_id)
        .outerjoin(Deal, Deal.id == StockUnit.deal_id)
    )


def _unit_row(row: Any, today: date) -> UnitRow:
    unit: StockUnit = row[0]
    trim: CatalogTrim = row[1]
    held = unit.held_by_reservation_id is not None
    return UnitRow(
        id=unit.id,
        vin=unit.vin,
        trim_id=trim.id,
        make=trim.make,
        model=trim.model,
        year=trim.year,
        trim=trim.trim,
        body_style=trim.body_style,
        fuel_type=trim.fuel_type,
        transmission=trim.transmission,
        drivetrain=trim.drivetrain,
        colour=unit.colour,
        mileage_km=unit.mileage_km,
        cost=unit.cost,
        list_price=unit.list_price,
        location=unit.location,
        arrived_on=unit.arrived_on,
        status=unit.status,
        version=unit.version,
        age_days=None if unit.arrived_on is None else max(0, (today - unit.arrived_on).days),
        held_by_reservation_id=unit.held_by_reservation_id,
        holder_name=row.name if held else None,
        holder_customer=person_name(row.first_name, row.last_name, row.company_name) if held else None,
        holder_lead_id=row.lead_id if held else None,
        holder_rep_id=row.rep_id if held else None,
        hold_expires_at=row.expires_at if held else None,
        deal_id=unit.deal_id,
        deal_code=None if row.number is None else f"D-{row.number:06d}",
    )


def _conditions(filters: StockFilters, today: date) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.make:
        conditions.append(CatalogTrim.make == filters.make)
    if filters.model:
        conditions.append(CatalogTrim.model == filters.model)
    if filters.body_style:
        conditions.append(CatalogTrim.body_style == filters.body_style)
    if filters.fuel_type:
        conditions.append(CatalogTrim.fuel_type == filters.fuel_type)
    if filters.price_min is not None:
        conditions.append(StockUnit.list_price >= filters.price_min)
    if filters.price_max is not None:
        conditions.append(StockUnit.list_price <= filters.price_max)
    if filters.status:
        conditions.append(StockUnit.status == filters.status)
    else:
        conditions.append(StockUnit.status.not_in(IN_STOCK_EXCLUDES))
    band = AGE_BANDS.get(filters.age)
    if band is not None:
        youngest, oldest = band
        conditions.append(StockUnit.arrived_on <= today - timedelta(days=youngest))
        if oldest is not None:
            conditions.append(StockUnit.arrived_on >= today - timedelta(days=oldest))
    return conditions


def _order(sort: str) -> list[Any]:
    by_make = [CatalogTrim.make, CatalogTrim.model, CatalogTrim.year, CatalogTrim.trim]
    if sort == "price":
        return [StockUnit.list_price, *by_make, StockUnit.id]
    if sort == "-price":
        return [StockUnit.list_price.desc(), *by_make, StockUnit.id]
    # Units that have not arrived have no age: they go last either way.
    not_arrived = case((StockUnit.arrived_on.is_(None), 1), else_=0)
    if sort == "age":
        return [not_arrived, StockUnit.arrived_on, StockUnit.id]
    if sort == "-age":
        return [not_arrived, StockUnit.arrived_on.desc(), StockUnit.id]
    return [*by_make, StockUnit.id]


@dataclass(frozen=True)
class StockList:
    rows: list[UnitRow]
    page: Page


async def stock_list(session: AsyncSession, filters: StockFilters, today: date, page: int = 1) -> StockList:
    conditions = _conditions(filters, today)
    total = int(
        await session.scalar(
            select(func.count())
            .select_from(StockUnit)
            .join(CatalogTrim, CatalogTrim.id == StockUnit.trim_id)
            .where(*conditions)
        )
        or 0
    )
    current = Page.of(page, total, PAGE_SIZE)
    rows = await session.execute(
        _unit_query()
        .where(*conditions)
        .order_by(*_order(filters.sort))
        .offset(current.offset)
        .limit(current.size)
    )
    return StockList([_unit_row(row, today) for row in rows], current)


@dataclass(frozen=True)
class FilterChoices:
    makes: list[str]
    models: list[str]


async def filter_choices(session: AsyncSession, make: str = "") -> FilterChoices:
    """The makes and models that stock units have (the models of one make when a make is chosen)."""
    base = select(CatalogTrim.make, CatalogTrim.model).join(StockUnit, StockUnit.trim_id == CatalogTrim.id)
    pairs = (await session.execute(base.distinct())).all()
    makes = sorted({pair.make for pair in pairs})
    models = sorted({pair.model for pair in pairs if not make or pair.make == make})
    return FilterChoices(makes, models)


async def unit(session: AsyncSession, unit_id: int, today: date) -> UnitRow | None:
    row = (await session.execute(_unit_query().where(StockUnit.id == unit_id))).one_or_none()
    return None if row is None else _unit_row(row, today)


@dataclass(frozen=True)
class HoldRow:
    id: int
    status: str
    lead_id: int
    customer_id: int
    customer_name: str
    rep_id: int | None
    rep_name: str | None
    created_at: datetime
    expires_at: datetime | None
    ended_at: datetime | None


async def holds_of(session: AsyncSession, unit_id: int, limit: int = 50) -> list[HoldRow]:
    """A unit's holds, newest first."""
    rows = await session.execute(
        select(
            Reservation,
            User.name,
            Lead.customer_id,
            Customer.first_name,
            Customer.last_name,
            Customer.company_name,
        )
        .join(Lead, Lead.id == Reservation.lead_id)
        .join(Customer, Customer.id == Lead.customer_id)
        .outerjoin(User, User.id == Reservation.rep_id)
        .where(Reservation.stock_unit_id == unit_id)
        .order_by(Reservation.created_at.desc(), Reservation.id.desc())
        .limit(limit)
    )
    return [
        HoldRow(
            id=reservation.id,
            status=reservation.status,
            lead_id=reservation.lead_id,
            customer_id=customer_id,
            customer_name=person_name(first, last, company),
            rep_id=reservation.rep_id,
            rep_name=rep_name,
            created_at=reservation.created_at,
            expires_at=reservation.expires_at,
            ended_at=reservation.ended_at,
        )
        for reservation, rep_name, customer_id, first, last, company in rows
    ]


@dataclass(frozen=True)
class DriveRow:
    id: int
    status: str
    starts_at: datetime
    ends_at: datetime
    unit_id: int
    unit_title: str
    vin: str
    unit_status: str
    unit_mileage_km: int
    lead_id: int
    customer_id: int
    customer_name: str
    rep_id: int | None
    rep_name: str | None
    licence_number: str | None
    licence_checked_at: datetime | None
    odometer_out_km: int | None
    odometer_in_km: int | None
    version: int

    @property
    def km_driven(self) -> int | None:
        if self.odometer_in_km is None or self.odometer_out_km is None:
            return None
        return self.odometer_in_km - self.odometer_out_km


def _drive_query() -> Any:
    return (
        select(
            TestDrive,
            StockUnit.vin,
            StockUnit.status,
            StockUnit.mileage_km,
            CatalogTrim.make,
            CatalogTrim.model,
            CatalogTrim.year,
            CatalogTrim.trim,
            Lead.customer_id,
            Customer.first_name,
            Customer.last_name,
            Customer.company_name,
            User.name,
        )
        .join(StockUnit, StockUnit.id == TestDrive.stock_unit_id)
        .join(CatalogTrim, CatalogTrim.id == StockUnit.trim_id)
        .join(Lead, Lead.id == TestDrive.lead_id)
        .join(Customer, Customer.id == Lead.customer_id)
        .outerjoin(User, User.id == TestDrive.rep_id)
    )


def _drive_row(row: Any) -> DriveRow:
    drive: TestDrive = row[0]
    return DriveRow(
        id=drive.id,
        status=drive.status,
        starts_at=drive.starts_at,
        ends_at=drive.ends_at,
        unit_id=drive.stock_unit_id,
        unit_title=f"{row.make} {row.model} {row.year} {row.trim}",
        vin=row.vin,
        unit_status=row.status,
        unit_mileage_km=row.mileage_km,
        lead_id=drive.lead_id,
        customer_id=row.customer_id,
        customer_name=person_name(row.first_name, row.last_name, row.company_name),
        rep_id=drive.rep_id,
        rep_name=row.name,
        licence_number=drive.licence_number,
        licence_checked_at=drive.licence_checked_at,
        odometer_out_km=drive.odometer_out_km,
        odometer_in_km=drive.odometer_in_km,
        version=drive.version,
    )


async def drives_of(session: AsyncSession, unit_id: int, limit: int = 50) -> list[DriveRow]:
    """A unit's test drives, newest slot first."""
    rows = await session.execute(
        _drive_query()
        .where(TestDrive.stock_unit_id == unit_id)
        .order_by(TestDrive.starts_at.desc(), TestDrive.id.desc())
        .limit(limit)
    )
    return [_drive_row(row) for row in rows]


async def drive(session: AsyncSession, drive_id: int) -> DriveRow | None:
    row = (await session.execute(_drive_query().where(TestDrive.id == drive_id))).one_or_none()
    return None if row is None else _drive_row(row)


async def drive_calendar(
    session: AsyncSession,
    starts: datetime,
    ends: datetime,
    *,
    unit_id: int | None = None,
    rep_id: int | None = None,
) -> list[DriveRow]:
    """Drives whose slot touches [starts, ends), plus any car still out from before, by start."""
    conditions: list[ColumnElement[bool]] = [
        ((TestDrive.starts_at < ends) & (TestDrive.ends_at > starts)) | (TestDrive.status == "CHECKED_OUT")
    ]
    if unit_id is not None:
        conditions.append(TestDrive.stock_unit_id == unit_id)
    if rep_id is not None:
        conditions.append(TestDrive.rep_id == rep_id)
    rows = await session.execute(
        _drive_query().where(*conditions).order_by(TestDrive.starts_at, TestDrive.id).limit(500)
    )
    return [_drive_row(row) for row in rows]


@dataclass(frozen=True)
class Choice:
    id: int
    label: str
    group: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


async def trim_choices(session: AsyncSession, include_id: int | None = None) -> list[Choice]:
    """Active catalog trims (and the unit's own, should it have been retired since)."""
    query = select(CatalogTrim).order_by(
        CatalogTrim.make, CatalogTrim.model, CatalogTrim.year.desc(), CatalogTrim.trim
    )
    condition: ColumnElement[bool] = CatalogTrim.active.is_(True)
    if include_id is not None:
        condition = condition | (CatalogTrim.id == include_id)
    trims = await session.scalars(query.where(condition))
    return [
        Choice(trim.id, f"{trim.model} {trim.year} {trim.trim}", group=trim.make, extra={"msrp": trim.msrp})
        for trim in trims
    ]


async def open_lead_choices(session: AsyncSession, mine_first: int | None, limit: int = 300) -> list[Choice]:
    """Open leads for the hold and booking forms: the person's own first, then by customer."""
    own = case((Lead.owner_id == mine_first, 0), else_=1) if mine_first is not None else None
    order = [Customer.last_name, Customer.first_name, Lead.id]
    rows = await session.execute(
        select(Lead.id, Lead.interest_note, Customer.first_name, Customer.last_name, Customer.company_name)
        .join(Customer, Customer.id == Lead.customer_id)
        .where(Lead.stage.not_in(CLOSED_LEAD_STAGES))
        .order_by(*([own] if own is not None else []), *order)
        .limit(limit)
    )
    choices = []
    for lead_id, note, first, last, company in rows:
        name = person_name(first, last, company)
        choices.append(Choice(lead_id, f"{name} · {note}" if note else name))
    return choices


async def bookable_unit_choices(session: AsyncSession) -> list[Choice]:
    """Units a test drive may be booked on: demo cars, available and held units, none in a deal."""
    rows = await session.execute(
        select(StockUnit.id, StockUnit.vin, StockUnit.status, CatalogTrim)
        .join(CatalogTrim, CatalogTrim.id == StockUnit.trim_id)
        .where(StockUnit.status.in_(("DEMO", "AVAILABLE", "RESERVED")), StockUnit.deal_id.is_(None))
        .order_by(CatalogTrim.make, CatalogTrim.model, CatalogTrim.year, CatalogTrim.trim, StockUnit.id)
    )
    return [
        Choice(
            unit_id,
            f"{trim.make} {trim.model} {trim.year} {trim.trim} · {vin[-6:]}",
            extra={"status": status},
        )
        for unit_id, vin, status, trim in rows
    ]


async def sales_people(session: AsyncSession) -> list[Choice]:
    users = await session.scalars(
        select(User).where(User.active.is_(True), User.role.in_(SALES_ROLES)).order_by(User.name, User.id)
    )
    return [Choice(user.id, user.name) for user in users]
