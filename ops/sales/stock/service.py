"""Showroom stock use cases: units, holds for leads, and test drives. The only code that changes them.

Rules that must hold when two people act at once are decided by the database, not by a read followed
by a write:
- A hold is one conditional UPDATE on the unit (AVAILABLE, unheld, in no deal -> RESERVED, held by the
  new reservation). On PostgreSQL a rival queues on the unit's row lock and its UPDATE then finds the
  unit no longer AVAILABLE; SQLite takes the write lock at BEGIN IMMEDIATE. So exactly one of two reps
  wins, and the loser is told who holds the unit and until when. Locks are taken hold first, then
  unit, everywhere a hold and its unit change together, so expiry, release and a sale cannot deadlock.
- Test drives of one car are serialised on the unit's row (SELECT ... FOR UPDATE on PostgreSQL, the
  write lock on SQLite) before the overlap check, so two bookings of the same slot cannot both pass it.
- Expired holds are claimed by the worker with FOR UPDATE SKIP LOCKED, so any number of workers may run.

`keep_hold`, `mark_unit_sold`, `release_unit` and `mark_unit_delivered` run inside a deal's transaction
(ops/sales/deals): they neither check permissions nor commit; the calling use case does both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from vininfo import Vin
from vininfo.exceptions import ValidationError as VinFormatError

from ops.auth.actor import Actor, Conflict, NotFound, PermissionDenied, RuleViolation
from ops.auth.models import User
from ops.customers.models import Customer
from ops.customers.service import customer_topic
from ops.db import Database, UnitOfWork, utcnow
from ops.events import record
from ops.i18n import N_, format_datetime, format_number
from ops.i18n import gettext as _
from ops.notices import notice_payload, user_topic
from ops.sales.models import CatalogTrim, Deal, Lead, Reservation, StockUnit, TestDrive

STOCK_TOPIC = "stock"
SALES_TOPIC = "sales"
HOLD_DURATION = timedelta(hours=48)
# The statuses a manager sets by hand; RESERVED, SOLD and DELIVERED follow holds and deals.
EDITABLE_STATUSES = ("INCOMING", "AVAILABLE", "DEMO", "LOANER")
CLOSED_LEAD_STAGES = ("WON", "LOST")
OPEN_DRIVE_STATUSES = ("SCHEDULED", "CHECKED_OUT")
SALES_ROLES = ("sales_rep", "sales_manager", "admin")
NORTH_AMERICA = "North America"
MAX_MONEY = Decimal("9999999999.99")
MAX_MILEAGE_KM = 2_000_000
MAX_DRIVE_LENGTH = timedelta(hours=8)
# More than this on one test drive is a typing mistake rather than a drive.
MAX_DRIVE_KM = 1_000


def unit_status_label(status: str) -> str:
    labels = {
        "INCOMING": _("Incoming"),
        "AVAILABLE": _("Available"),
        "RESERVED": _("Reserved"),
        "SOLD": _("Sold"),
        "DELIVERED": _("Delivered"),
        "DEMO": _("Demo car"),
        "LOANER": _("Loaner"),
    }
    return labels.get(status, status)


def drive_status_label(status: str) -> str:
    labels = {
        "SCHEDULED": _("Scheduled"),
        "CHECKED_OUT": _("Out on the road"),
        "RETURNED": _("Returned"),
        "CANCELLED": _("Cancelled"),
        "NO_SHOW": _("No-show"),
    }
    return labels.get(status, status)


def format_km(value: int) -> str:
    return _("%(km)s km", km=format_number(value, decimals=0))


# --- Errors that name what is in the way ------------------------------------------------------------------


class UnitHeld(RuleViolation):
    """Another lead holds the unit; the message names the rep who holds it, for whom, and until when."""

    def __init__(self, unit_id: int, holder: str, customer: str, until: datetime | None) -> None:
        if until is None:
            message = _(
                "%(holder)s already holds this unit for %(customer)s; the deposit is paid.",
                holder=holder,
                customer=customer,
            )
        else:
            message = _(
                "%(holder)s already holds this unit for %(customer)s until %(until)s.",
                holder=holder,
                customer=customer,
                until=format_datetime(until),
            )
        super().__init__(message, field="stock_unit_id")
        self.unit_id = unit_id
        self.holder = holder
        self.customer = customer
        self.until = until


class UnitInDeal(RuleViolation):
    """The unit is sold (in a deal) or delivered: it cannot be held, test-driven or sold again."""

    def __init__(self, unit_id: int, deal_code: str | None, action: str) -> None:
        message = (
            _("This unit is in deal %(deal)s, so it cannot be %(action)s.", deal=deal_code, action=action)
            if deal_code
            else _("This unit is sold, so it cannot be %(action)s.", action=action)
        )
        super().__init__(message, field="stock_unit_id")
        self.unit_id = unit_id
        self.deal_code = deal_code


class UnitInvalid(RuleViolation):
    """A unit form with one or more bad fields; `errors` has a message per field."""

    def __init__(self, errors: dict[str, str]) -> None:
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = errors


class DriveOverlap(RuleViolation):
    """The car is already booked for part of the slot; the message gives the booked slot."""

    def __init__(self, drive_id: int, starts_at: datetime, ends_at: datetime) -> None:
        super().__init__(
            _(
                "This car is already booked from %(start)s to %(end)s.",
                start=format_datetime(starts_at),
                end=format_datetime(ends_at),
            ),
            field="starts_at",
        )
        self.drive_id = drive_id


# --- Stock units -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitData:
    """A unit as typed into the form; the web layer has already turned text into numbers and dates."""

    vin: str
    trim_id: int | None
    colour: str
    mileage_km: int | None
    cost: Decimal | None
    list_price: Decimal | None
    location: str
    arrived_on: date | None
    status: str


def validated_vin(value: str) -> str:
    """17 characters without I, O and Q; North American VINs must also match their check digit."""
    text = (value or "").strip().upper()
    if not text:
        raise RuleViolation(_("Enter the VIN."), field="vin")
    try:
        vin = Vin(text)
    except VinFormatError:
        if len(text) != 17:
            raise RuleViolation(
                _("A VIN has 17 characters; this one has %(count)s.", count=len(text)), field="vin"
            ) from None
        raise RuleViolation(_("A VIN uses only letters and digits, never I, O or Q."), field="vin") from None
    # Only North America makes the 9th character a check digit; elsewhere it may be anything.
    if vin.region == NORTH_AMERICA and not vin.verify_checksum(check_year=False):
        raise RuleViolation(
            _("The check digit (9th character) does not match this VIN; check it for a typing mistake."),
            field="vin",
        )
    return text


def _money_error(value: Decimal | None, *, required: bool) -> str | None:
    if value is None:
        return _("This field is required.") if required else None
    if value < 0:
        return _("Enter zero or more.")
    if value > MAX_MONEY:
        return _("That amount is too large.")
    if value != value.quantize(Decimal("0.01")):
        return _("Use at most two decimal places.")
    return None


async def _validated_unit(uow: UnitOfWork, data: UnitData, unit: StockUnit | None) -> dict[str, Any]:
    """The unit's columns, or UnitInvalid with a message for every bad field."""
    errors: dict[str, str] = {}
    vin = ""
    try:
        vin = validated_vin(data.vin)
    except RuleViolation as violation:
        errors["vin"] = str(violation)
    if vin and (unit is None or unit.vin != vin):
        taken = await uow.session.scalar(select(StockUnit.id).where(StockUnit.vin == vin))
        if taken is not None:
            errors["vin"] = _("A unit with this VIN is already in stock.")
    trim_found = data.trim_id is not None and await uow.session.scalar(
        select(CatalogTrim.id).where(CatalogTrim.id == data.trim_id)
    )
    if not trim_found:
        errors["trim_id"] = _("Choose the model and trim from the catalog.")
    colour = (data.colour or "").strip()
    if len(colour) > 40:
        errors["colour"] = _("Use at most %(max)s characters.", max=40)
    location = (data.location or "").strip()
    if len(location) > 60:
        errors["location"] = _("Use at most %(max)s characters.", max=60)
    if data.mileage_km is None:
        errors["mileage_km"] = _("This field is required.")
    elif not 0 <= data.mileage_km <= MAX_MILEAGE_KM:
        errors["mileage_km"] = _(
            "Enter a mileage between 0 and %(max)s km.", max=format_number(MAX_MILEAGE_KM)
        )
    elif unit is not None and data.mileage_km < unit.mileage_km:
        errors["mileage_km"] = _(
            "The mileage cannot go down; it reads %(km)s now.", km=format_km(unit.mileage_km)
        )
    for name, value in (("cost", data.cost), ("list_price", data.list_price)):
        message = _money_error(value, required=True)
        if message:
            errors[name] = message
    status = data.status
    if unit is not None and unit.status not in EDITABLE_STATUSES:
        if status != unit.status:
            errors["status"] = _(
                "A %(status)s unit changes status with its hold or deal, not by hand.",
                status=unit_status_label(unit.status).lower(),
            )
    elif status not in EDITABLE_STATUSES:
        errors["status"] = _("Choose one of the options.")
    if data.arrived_on is None and status != "INCOMING":
        errors["arrived_on"] = _("Enter the day the unit arrived; only incoming units have none yet.")
    elif data.arrived_on is not None and data.arrived_on > utcnow().date() + timedelta(days=1):
        errors["arrived_on"] = _("The arrival day cannot be in the future.")
    if errors:
        raise UnitInvalid(errors)
    return {
        "vin": vin,
        "trim_id": data.trim_id,
        "colour": colour,
        "mileage_km": data.mileage_km,
        "cost": data.cost,
        "list_price": data.list_price,
        "location": location,
        "arrived_on": data.arrived_on,
        "status": status,
    }


def _unit_payload(unit: StockUnit) -> dict[str, Any]:
    return {"unit_id": unit.id, "vin": unit.vin, "status": unit.status}


async def create_unit(uow: UnitOfWork, data: UnitData) -> StockUnit:
    uow.actor.require("stock.manage")
    values = await _validated_unit(uow, data, None)
    unit = StockUnit(**values, created_at=utcnow())
    uow.session.add(unit)
    try:
        await uow.session.flush()
    except IntegrityError:
        # Another manager entered the same VIN a moment ago.
        raise UnitInvalid({"vin": _("A unit with this VIN is already in stock.")}) from None
    record(uow, "unit.created", {**_unit_payload(unit), "list_price": str(unit.list_price)}, [STOCK_TOPIC])
    await uow.commit()
    return unit


async def update_unit(
    uow: UnitOfWork, unit_id: int, data: UnitData, expected_version: int | None
) -> StockUnit:
    """Save a manager's edit; a unit changed since the form was loaded (a hold, a sale) is a Conflict."""
    uow.actor.require("stock.manage")
    unit = await _unit(uow, unit_id)
    if expected_version != unit.version:
        raise Conflict(_("This unit changed since you opened it; here is what it is now."), current=unit)
    values = await _validated_unit(uow, data, unit)
    changed = {name: value for name, value in values.items() if getattr(unit, name) != value}
    if not changed:
        return unit
    try:
        saved = (
            await uow.session.execute(
                update(StockUnit)
                .where(StockUnit.id == unit_id, StockUnit.version == expected_version)
                .values(**changed, version=StockUnit.version + 1)
                .returning(StockUnit.id)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one_or_none()
    except IntegrityError:
        raise UnitInvalid({"vin": _("A unit with this VIN is already in stock.")}) from None
    if saved is None:
        raise Conflict(_("This unit changed since you opened it; here is what it is now."))
    await uow.session.refresh(unit)
    record(
        uow,
        "unit.updated",
        {**_unit_payload(unit), "changed": sorted(changed)},
        [STOCK_TOPIC],
    )
    await uow.commit()
    return unit


async def _unit(uow: UnitOfWork, unit_id: int, *, lock: bool = False) -> StockUnit:
    query = select(StockUnit).where(StockUnit.id == unit_id)
    if lock:
        query = query.with_for_update()
    unit = (await uow.session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
    if unit is None:
        raise NotFound("stock unit")
    return unit


async def _lead(uow: UnitOfWork, lead_id: int | None) -> Lead:
    if lead_id is None:
        raise RuleViolation(_("Choose the lead."), field="lead_id")
    lead = await uow.session.scalar(select(Lead).where(Lead.id == lead_id))
    if lead is None:
        raise NotFound("lead")
    return lead


async def _open_lead(uow: UnitOfWork, lead_id: int | None) -> Lead:
    lead = await _lead(uow, lead_id)
    if lead.stage in CLOSED_LEAD_STAGES:
        raise RuleViolation(_("This lead is closed; reopen it first."), field="lead_id")
    return lead


# --- Holds ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    reservation_id: int
    lead_id: int
    rep_id: int | None
    rep_name: str
    customer_id: int
    customer_name: str
    expires_at: datetime | None


def _person(first: str | None, last: str | None, company: str | None) -> str:
    person = f"{first or ''} {last or ''}".strip()
    return f"{company} ({person})" if company else person


def _holder_query() -> Any:
    return (
        select(
            Reservation.id,
            Reservation.lead_id,
            Reservation.rep_id,
            Reservation.expires_at,
            User.name,
            Lead.customer_id,
            Customer.first_name,
            Customer.last_name,
            Customer.company_name,
        )
        .join(Lead, Lead.id == Reservation.lead_id)
        .join(Customer, Customer.id == Lead.customer_id)
        .outerjoin(User, User.id == Reservation.rep_id)
    )


async def _holder(uow: UnitOfWork, reservation_id: int) -> Holder | None:
    row = (await uow.session.execute(_holder_query().where(Reservation.id == reservation_id))).one_or_none()
    if row is None:
        return None
    return Holder(
        reservation_id=row.id,
        lead_id=row.lead_id,
        rep_id=row.rep_id,
        rep_name=row.name or _("a colleague"),
        customer_id=row.customer_id,
        customer_name=_person(row.first_name, row.last_name, row.company_name),
        expires_at=row.expires_at,
    )


async def _deal_code(uow: UnitOfWork, deal_id: int | None) -> str | None:
    if deal_id is None:
        return None
    number = await uow.session.scalar(select(Deal.number).where(Deal.id == deal_id))
    return None if number is None else f"D-{number:06d}"


async def _refusal(uow: UnitOfWork, unit_id: int, action: str) -> RuleViolation:
    """Why the unit cannot be held (or driven, or sold) as it is now: who holds it, which deal has it."""
    unit = await _unit(uow, unit_id)
    if unit.deal_id is not None or unit.status in ("SOLD", "DELIVERED"):
        return UnitInDeal(unit_id, await _deal_code(uow, unit.deal_id), action)
    if unit.held_by_reservation_id is not None:
        holder = await _holder(uow, unit.held_by_reservation_id)
        if holder is not None:
            return UnitHeld(unit_id, holder.rep_name, holder.customer_name, holder.expires_at)
    return RuleViolation(
        _(
            "This unit is %(status)s; only available units can be held.",
            status=unit_status_label(unit.status).lower(),
        ),
        field="stock_unit_id",
    )


def _hold_payload(unit_id: int, reservation: Reservation, customer_id: int) -> dict[str, Any]:
    return {
        "unit_id": unit_id,
        "reservation_id": reservation.id,
        "lead_id": reservation.lead_id,
        "customer_id": customer_id,
        "rep_id": reservation.rep_id,
    }


async def reserve_unit(uow: UnitOfWork, unit_id: int, lead_id: int | None) -> Reservation:
    """Hold an available unit for a lead for 48 hours. Of two reps at the same moment exactly one wins;
    the other gets UnitHeld naming the holder."""
    actor = uow.actor
    actor.require("stock.reserve")
    lead = await _open_lead(uow, lead_id)
    # Queue on the unit's row before inserting the hold: the hold's foreign key share-locks the row,
    # and two holders of that share lock would deadlock on the UPDATE below (held_by_reservation_id
    # is unique, so updating it needs the row's exclusive lock).
    await _unit(uow, unit_id, lock=True)
    now = utcnow()
    reservation = Reservation(
        stock_unit_id=unit_id,
        lead_id=lead.id,
        rep_id=actor.user_id if actor.user_id is not None else lead.owner_id,
        status="ACTIVE",
        expires_at=now + HOLD_DURATION,
        created_at=now,
    )
    uow.session.add(reservation)
    await uow.session.flush()
    won = (
        await uow.session.execute(
            update(StockUnit)
            .where(
                StockUnit.id == unit_id,
                StockUnit.status == "AVAILABLE",
                StockUnit.held_by_reservation_id.is_(None),
                StockUnit.deal_id.is_(None),
            )
            .values(status="RESERVED", held_by_reservation_id=reservation.id, version=StockUnit.version + 1)
            .returning(StockUnit.vin)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if won is None:
        # The reservation row goes with the rolled-back transaction.
        raise await _refusal(uow, unit_id, _("held"))
    record(
        uow,
        "unit.reserved",
        {
            **_hold_payload(unit_id, reservation, lead.customer_id),
            "vin": won.vin,
            "expires_at": reservation.expires_at.isoformat() if reservation.expires_at else None,
        },
        [STOCK_TOPIC, SALES_TOPIC, customer_topic(lead.customer_id)],
    )
    await uow.commit()
    return reservation


async def _reservation(uow: UnitOfWork, reservation_id: int) -> Reservation:
    reservation = await uow.session.scalar(select(Reservation).where(Reservation.id == reservation_id))
    if reservation is None:
        raise NotFound("reservation")
    return reservation


async def _free_unit_of(uow: UnitOfWork, reservation_id: int) -> None:
    """The unit this hold had is available again (unless a deal took it meanwhile)."""
    await uow.session.execute(
        update(StockUnit)
        .where(StockUnit.held_by_reservation_id == reservation_id, StockUnit.deal_id.is_(None))
        .values(status="AVAILABLE", held_by_reservation_id=None, version=StockUnit.version + 1)
        .execution_options(synchronize_session=False)
    )


async def _unit_label(uow: UnitOfWork, unit_id: int) -> str:
    row = (
        await uow.session.execute(
            select(CatalogTrim.make, CatalogTrim.model, CatalogTrim.trim, StockUnit.vin)
            .join(StockUnit, StockUnit.trim_id == CatalogTrim.id)
            .where(StockUnit.id == unit_id)
        )
    ).one()
    return f"{row.make} {row.model} {row.trim} ({row.vin[-6:]})"


async def release_hold(uow: UnitOfWork, reservation_id: int, reason: str) -> Reservation:
    """End a hold before it expires, with a reason; a rep may end their own holds, a manager any."""
    actor = uow.actor
    actor.require("stock.reserve")
    text = (reason or "").strip()
    if not text:
        raise RuleViolation(_("Say why the hold ends."), field="reason")
    if len(text) > 200:
        raise RuleViolation(_("Use at most %(max)s characters.", max=200), field="reason")
    reservation = await _reservation(uow, reservation_id)
    lead = await _lead(uow, reservation.lead_id)
    own = actor.user_id is not None and actor.user_id in (reservation.rep_id, lead.owner_id)
    if not own and not actor.can("stock.manage"):
        raise PermissionDenied("stock.manage")
    now = utcnow()
    ended = (
        await uow.session.execute(
            update(Reservation)
            .where(Reservation.id == reservation_id, Reservation.status == "ACTIVE")
            .values(status="RELEASED", ended_at=now)
            .returning(Reservation.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if ended is None:
        raise RuleViolation(_("This hold has already ended."), field="reason")
    await _free_unit_of(uow, reservation_id)
    payload = {**_hold_payload(reservation.stock_unit_id, reservation, lead.customer_id), "reason": text}
    topics = [STOCK_TOPIC, SALES_TOPIC, customer_topic(lead.customer_id)]
    if reservation.rep_id is not None and reservation.rep_id != actor.user_id:
        # Someone else ended the rep's hold: the rep hears it at once.
        payload |= notice_payload(
            N_("%(who)s released your hold on %(unit)s: %(reason)s"),
            who=actor.name,
            unit=await _unit_label(uow, reservation.stock_unit_id),
            reason=text,
        )
        topics.append(user_topic(reservation.rep_id))
    record(uow, "unit.hold_released", payload, topics)
    await uow.session.refresh(reservation)
    await uow.commit()
    return reservation


async def keep_hold(uow: UnitOfWork, reservation_id: int) -> Reservation:
    """The deposit is paid: the hold no longer expires. In the deal's transaction; does not commit."""
    kept = (
        await uow.session.execute(
            update(Reservation)
            .where(Reservation.id == reservation_id, Reservation.status == "ACTIVE")
            .values(expires_at=None)
            .returning(Reservation.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    reservation = await _reservation(uow, reservation_id)
    await uow.session.refresh(reservation)
    if kept is None:
        if reservation.status == "CONVERTED":
            # The hold already became the deal's: nothing can expire any more.
            return reservation
        raise RuleViolation(_("The hold on this unit has ended; hold the unit again first."))
    record(
        uow,
        "unit.hold_kept",
        {
            "unit_id": reservation.stock_unit_id,
            "reservation_id": reservation.id,
            "lead_id": reservation.lead_id,
        },
        [STOCK_TOPIC],
    )
    return reservation


def _due(now: datetime) -> Any:
    return (Reservation.status == "ACTIVE") & (Reservation.expires_at <= now)


async def expire_holds(db: Database, now: datetime, *, batch: int = 100) -> int:
    """The worker's timer: end every hold past its expiry, free its unit and tell its rep live.

    Claims holds with FOR UPDATE SKIP LOCKED (PostgreSQL), so several workers share the work, and a
    deposit being recorded at that moment either keeps the hold or finds it expired, never both."""
    async with db.system() as session:
        tenant_ids = list(await session.scalars(select(Reservation.tenant_id).where(_due(now)).distinct()))
    expired = 0
    for tenant_id in tenant_ids:
        async with db.uow(Actor.system(tenant_id, name="Hold timer")) as uow:
            claimed = (
                await uow.session.scalars(
                    select(Reservation)
                    .where(_due(now))
                    .order_by(Reservation.expires_at, Reservation.id)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for reservation in claimed:
                await _expire(uow, reservation, now)
            await uow.commit()
            expired += len(claimed)
    return expired


async def _expire(uow: UnitOfWork, reservation: Reservation, now: datetime) -> None:
    reservation.status = "EXPIRED"
    reservation.ended_at = now
    await _free_unit_of(uow, reservation.id)
    holder = await _holder(uow, reservation.id)
    assert holder is not None
    payload = _hold_payload(reservation.stock_unit_id, reservation, holder.customer_id)
    topics = [STOCK_TOPIC, SALES_TOPIC, customer_topic(holder.customer_id)]
    if reservation.rep_id is not None:
        payload |= notice_payload(
            N_("Your hold on %(unit)s for %(customer)s expired; the unit is available again."),
            unit=await _unit_label(uow, reservation.stock_unit_id),
            customer=holder.customer_name,
        )
        topics.append(user_topic(reservation.rep_id))
    record(uow, "unit.hold_expired", payload, topics)


# --- For deals ----------------------------------------------------------------------------------------------


async def mark_unit_sold(uow: UnitOfWork, unit_id: int, deal_id: int) -> StockUnit:
    """The deal takes the unit: free, or held by the deal's own lead (that hold becomes the deal's).
    A unit in another deal, delivered, or held for another lead is refused. Does not commit."""
    lead_id = await uow.session.scalar(select(Deal.lead_id).where(Deal.id == deal_id))
    if lead_id is None:
        raise NotFound("deal")
    unit = await _unit(uow, unit_id)
    held = unit.held_by_reservation_id
    if held is not None:
        # The hold first, then the unit: the order in which expiry and release take them too.
        await uow.session.execute(select(Reservation.id).where(Reservation.id == held).with_for_update())
        holder = await _holder(uow, held)
        if holder is not None and holder.lead_id != lead_id:
            raise UnitHeld(unit_id, holder.rep_name, holder.customer_name, holder.expires_at)
    sold = (
        await uow.session.execute(
            update(StockUnit)
            .where(
                StockUnit.id == unit_id,
                StockUnit.deal_id.is_(None),
                StockUnit.status.not_in(("SOLD", "DELIVERED")),
                StockUnit.held_by_reservation_id.is_(None)
                if held is None
                else StockUnit.held_by_reservation_id == held,
            )
            .values(
                status="SOLD", deal_id=deal_id, held_by_reservation_id=None, version=StockUnit.version + 1
            )
            .returning(StockUnit.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if sold is None:
        raise await _refusal(uow, unit_id, _("sold again"))
    if held is not None:
        await uow.session.execute(
            update(Reservation)
            .where(Reservation.id == held, Reservation.status == "ACTIVE")
            .values(status="CONVERTED", expires_at=None, ended_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    record(
        uow,
        "unit.sold",
        {"unit_id": unit_id, "deal_id": deal_id, "vin": unit.vin},
        [STOCK_TOPIC, SALES_TOPIC],
    )
    return await _unit(uow, unit_id)


async def release_unit(uow: UnitOfWork, unit_id: int) -> StockUnit:
    """A cancelled deal gives its (undelivered) unit back to stock. Does not commit."""
    released = (
        await uow.session.execute(
            update(StockUnit)
            .where(StockUnit.id == unit_id, StockUnit.status == "SOLD")
            .values(
                status="AVAILABLE", deal_id=None, held_by_reservation_id=None, version=StockUnit.version + 1
            )
            .returning(StockUnit.vin)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if released is None:
        unit = await _unit(uow, unit_id)
        raise RuleViolation(
            _(
                "Only a sold unit can go back to stock; this one is %(status)s.",
                status=unit_status_label(unit.status).lower(),
            )
        )
    record(uow, "unit.released", {"unit_id": unit_id, "vin": released.vin}, [STOCK_TOPIC, SALES_TOPIC])
    return await _unit(uow, unit_id)


async def mark_unit_delivered(uow: UnitOfWork, unit_id: int) -> StockUnit:
    """The customer drove the sold unit away. Does not commit."""
    delivered = (
        await uow.session.execute(
            update(StockUnit)
            .where(StockUnit.id == unit_id, StockUnit.status == "SOLD", StockUnit.deal_id.is_not(None))
            .values(status="DELIVERED", version=StockUnit.version + 1)
            .returning(StockUnit.vin, StockUnit.deal_id)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if delivered is None:
        unit = await _unit(uow, unit_id)
        raise RuleViolation(
            _(
                "Only a sold unit can be delivered; this one is %(status)s.",
                status=unit_status_label(unit.status).lower(),
            )
        )
    record(
        uow,
        "unit.delivered",
        {"unit_id": unit_id, "vin": delivered.vin, "deal_id": delivered.deal_id},
        [STOCK_TOPIC, SALES_TOPIC],
    )
    return await _unit(uow, unit_id)


# --- Test drives ------------------------------------------------------------------------------------------


async def _drivable(uow: UnitOfWork, unit: StockUnit, lead_id: int) -> None:
    """A demo car or an available unit, or one held for this very lead; never one in a deal."""
    if unit.deal_id is not None or unit.status in ("SOLD", "DELIVERED"):
        raise UnitInDeal(unit.id, await _deal_code(uow, unit.deal_id), _("test-driven"))
    if unit.status in ("DEMO", "AVAILABLE"):
        return
    if unit.status == "RESERVED" and unit.held_by_reservation_id is not None:
        holder = await _holder(uow, unit.held_by_reservation_id)
        if holder is None or holder.lead_id == lead_id:
            return
        raise UnitHeld(unit.id, holder.rep_name, holder.customer_name, holder.expires_at)
    raise RuleViolation(
        _(
            "This unit is %(status)s; only demo cars and available units can be test-driven.",
            status=unit_status_label(unit.status).lower(),
        ),
        field="stock_unit_id",
    )


async def _sales_person(uow: UnitOfWork, user_id: int) -> User:
    user = await uow.session.scalar(select(User).where(User.id == user_id))
    if user is None or not user.active or user.role not in SALES_ROLES:
        raise RuleViolation(_("Choose someone from sales."), field="rep_id")
    return user


def _drive_payload(drive: TestDrive, customer_id: int) -> dict[str, Any]:
    return {
        "drive_id": drive.id,
        "unit_id": drive.stock_unit_id,
        "lead_id": drive.lead_id,
        "customer_id": customer_id,
        "rep_id": drive.rep_id,
        "starts_at": drive.starts_at.isoformat(),
        "ends_at": drive.ends_at.isoformat(),
        "status": drive.status,
    }


def _drive_topics(customer_id: int) -> list[str]:
    return [STOCK_TOPIC, SALES_TOPIC, customer_topic(customer_id)]


async def book_test_drive(
    uow: UnitOfWork,
    unit_id: int,
    lead_id: int | None,
    starts_at: datetime,
    ends_at: datetime,
    rep_id: int | None = None,
) -> TestDrive:
    """Book a car for a lead's test drive. No two drives of one car overlap, also when two reps book
    the same slot at once: both bookings queue on the unit's row before the overlap check."""
    actor = uow.actor
    actor.require("test_drive.manage")
    if ends_at <= starts_at:
        raise RuleViolation(_("The drive must end after it starts."), field="ends_at")
    if ends_at - starts_at > MAX_DRIVE_LENGTH:
        raise RuleViolation(_("A test drive lasts at most 8 hours."), field="ends_at")
    if ends_at <= utcnow():
        raise RuleViolation(_("That slot is over; choose one that has not ended."), field="starts_at")
    lead = await _open_lead(uow, lead_id)
    rep = rep_id if rep_id is not None else actor.user_id
    if rep is not None:
        await _sales_person(uow, rep)
    unit = await _unit(uow, unit_id, lock=True)
    await _drivable(uow, unit, lead.id)
    clash = await uow.session.scalar(
        select(TestDrive)
        .where(
            TestDrive.stock_unit_id == unit_id,
            TestDrive.status.in_(OPEN_DRIVE_STATUSES),
            TestDrive.starts_at < ends_at,
            TestDrive.ends_at > starts_at,
        )
        .order_by(TestDrive.starts_at)
        .limit(1)
    )
    if clash is not None:
        raise DriveOverlap(clash.id, clash.starts_at, clash.ends_at)
    drive = TestDrive(
        lead_id=lead.id,
        stock_unit_id=unit_id,
        rep_id=rep,
        starts_at=starts_at,
        ends_at=ends_at,
        status="SCHEDULED",
        created_at=utcnow(),
    )
    uow.session.add(drive)
    await uow.session.flush()
    record(uow, "test_drive.booked", _drive_payload(drive, lead.customer_id), _drive_topics(lead.customer_id))
    await uow.commit()
    return drive


async def _drive(uow: UnitOfWork, drive_id: int) -> TestDrive:
    drive = (
        await uow.session.execute(
            select(TestDrive).where(TestDrive.id == drive_id).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if drive is None:
        raise NotFound("test drive")
    return drive


def _not_now(drive: TestDrive) -> RuleViolation:
    return RuleViolation(
        _("This test drive is %(status)s.", status=drive_status_label(drive.status).lower()), field="status"
    )


async def _move_drive(uow: UnitOfWork, drive: TestDrive, from_status: str, **values: Any) -> None:
    """One conditional UPDATE from the status the drive was read in, so two clicks move it once."""
    moved = (
        await uow.session.execute(
            update(TestDrive)
            .where(TestDrive.id == drive.id, TestDrive.status == from_status)
            .values(**values, version=TestDrive.version + 1)
            .returning(TestDrive.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if moved is None:
        raise _not_now(await _drive(uow, drive.id))
    await uow.session.refresh(drive)


async def _customer_of(uow: UnitOfWork, lead_id: int) -> int:
    return (await _lead(uow, lead_id)).customer_id


async def check_out_test_drive(
    uow: UnitOfWork, drive_id: int, *, licence_number: str, licence_checked: bool, odometer_out_km: int | None
) -> TestDrive:
    """The customer drives off: the licence was seen and its number noted, the odometer read."""
    uow.actor.require("test_drive.manage")
    drive = await _drive(uow, drive_id)
    if drive.status != "SCHEDULED":
        raise _not_now(drive)
    licence = (licence_number or "").strip()
    if not licence:
        raise RuleViolation(_("Enter the driver's licence number."), field="licence_number")
    if len(licence) > 40:
        raise RuleViolation(_("Use at most %(max)s characters.", max=40), field="licence_number")
    if not licence_checked:
        raise RuleViolation(_("Confirm that you have seen the driver's licence."), field="licence_checked")
    if odometer_out_km is None:
        raise RuleViolation(_("Enter the odometer reading."), field="odometer_out_km")
    unit = await _unit(uow, drive.stock_unit_id, lock=True)
    await _drivable(uow, unit, drive.lead_id)
    if odometer_out_km < unit.mileage_km:
        raise RuleViolation(
            _(
                "The odometer cannot read less than the unit's recorded %(km)s.",
                km=format_km(unit.mileage_km),
            ),
            field="odometer_out_km",
        )
    if odometer_out_km > unit.mileage_km + MAX_DRIVE_KM:
        raise RuleViolation(
            _(
                "That is far more than the unit's recorded %(km)s; check the reading.",
                km=format_km(unit.mileage_km),
            ),
            field="odometer_out_km",
        )
    out = await uow.session.scalar(
        select(TestDrive.id).where(
            TestDrive.stock_unit_id == unit.id, TestDrive.status == "CHECKED_OUT", TestDrive.id != drive.id
        )
    )
    if out is not None:
        raise RuleViolation(
            _("The car is still out on another test drive; take that one back first."), field="status"
        )
    await _move_drive(
        uow,
        drive,
        "SCHEDULED",
        status="CHECKED_OUT",
        licence_number=licence,
        licence_checked_at=utcnow(),
        odometer_out_km=odometer_out_km,
    )
    customer_id = await _customer_of(uow, drive.lead_id)
    record(uow, "test_drive.checked_out", _drive_payload(drive, customer_id), _drive_topics(customer_id))
    await uow.commit()
    return drive


async def return_test_drive(uow: UnitOfWork, drive_id: int, odometer_in_km: int | None) -> TestDrive:
    """The car is back: the odometer is read again and becomes the unit's mileage."""
    uow.actor.require("test_drive.manage")
    drive = await _drive(uow, drive_id)
    if drive.status != "CHECKED_OUT":
        raise _not_now(drive)
    out = drive.odometer_out_km or 0
    if odometer_in_km is None:
        raise RuleViolation(_("Enter the odometer reading."), field="odometer_in_km")
    if odometer_in_km < out:
        raise RuleViolation(
            _("The odometer cannot read less than at check-out (%(km)s).", km=format_km(out)),
            field="odometer_in_km",
        )
    if odometer_in_km - out > MAX_DRIVE_KM:
        raise RuleViolation(
            _(
                "That is %(km)s for one test drive; check the reading.",
                km=format_km(odometer_in_km - out),
            ),
            field="odometer_in_km",
        )
    await _move_drive(uow, drive, "CHECKED_OUT", status="RETURNED", odometer_in_km=odometer_in_km)
    await uow.session.execute(
        update(StockUnit)
        .where(StockUnit.id == drive.stock_unit_id, StockUnit.mileage_km < odometer_in_km)
        .values(mileage_km=odometer_in_km, version=StockUnit.version + 1)
        .execution_options(synchronize_session=False)
    )
    customer_id = await _customer_of(uow, drive.lead_id)
    payload = {**_drive_payload(drive, customer_id), "km_driven": odometer_in_km - out}
    record(uow, "test_drive.returned", payload, _drive_topics(customer_id))
    await uow.commit()
    return drive


async def cancel_test_drive(uow: UnitOfWork, drive_id: int) -> TestDrive:
    uow.actor.require("test_drive.manage")
    drive = await _drive(uow, drive_id)
    if drive.status != "SCHEDULED":
        raise _not_now(drive)
    await _move_drive(uow, drive, "SCHEDULED", status="CANCELLED")
    customer_id = await _customer_of(uow, drive.lead_id)
    record(uow, "test_drive.cancelled", _drive_payload(drive, customer_id), _drive_topics(customer_id))
    await uow.commit()
    return drive


async def mark_no_show(uow: UnitOfWork, drive_id: int) -> TestDrive:
    """The customer did not come; only once the slot has begun."""
    uow.actor.require("test_drive.manage")
    drive = await _drive(uow, drive_id)
    if drive.status != "SCHEDULED":
        raise _not_now(drive)
    if drive.starts_at > utcnow():
        raise RuleViolation(_("The slot has not started yet; wait for the customer."), field="status")
    await _move_drive(uow, drive, "SCHEDULED", status="NO_SHOW")
    customer_id = await _customer_of(uow, drive.lead_id)
    record(uow, "test_drive.no_show", _drive_payload(drive, customer_id), _drive_topics(customer_id))
    await uow.commit()
    return drive
