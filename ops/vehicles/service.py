"""Vehicle use cases: profiles, fleets and who may see them, documents, and turning an alert or a due
service into a work order. The only code that changes these rows (telemetry has its own service).

A user with rows in `user_fleets` sees only the vehicles of those fleets, everywhere: lists, profiles,
the fleet board and live topics all ask `allowed_fleet_ids`, and a vehicle they may not see is a 404,
exactly like another tenant's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ops.auth.actor import Actor, Conflict, NotFound, RuleViolation
from ops.auth.models import User
from ops.customers.models import Customer
from ops.db import UnitOfWork, utcnow
from ops.events import record
from ops.i18n import gettext as _
from ops.sales.stock.service import validated_vin
from ops.tenants.models import PLANS, Tenant
from ops.vehicles.maintenance.service import refresh_vehicle_maintenance
from ops.vehicles.models import (
    FUEL_TYPES,
    TRANSMISSIONS,
    VEHICLE_STATUSES,
    Fleet,
    MaintenanceSchedule,
    UserFleet,
    Vehicle,
    VehicleAlert,
    VehicleDocument,
    VehicleMaintenance,
    vehicle_topics,
)
from ops.vehicles.telemetry.service import alert_label as condition_label
from ops.vehicles.telemetry.service import severity_label
from ops.workshop.models import WorkOrder, WorkOrderCategory
from ops.workshop.service import NewWorkOrder, create_work_order
from ops.workshop.technicians.service import sniff_photo_type

FLEET_TOPIC = "fleet"
FIRST_MODEL_YEAR = 1900
MAX_ODOMETER_KM = 9_999_999
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
DOCUMENTS_FOLDER = "vehicle-documents"
# What a document may be: read from its bytes, never from the name or the browser's claim.
PDF_TYPE = "application/pdf"
DOCUMENT_TYPES = (PDF_TYPE, "image/jpeg", "image/png", "image/webp", "image/heic", "image/heif")
# The work order an alert becomes: how urgent, by the alert's severity.
PRIORITY_FOR_SEVERITY = {"CRITICAL": "URGENT", "HIGH": "HIGH", "MEDIUM": "NORMAL", "LOW": "LOW"}

VEHICLE_COLOUR_LENGTH = 30


def vehicle_status_label(status: str) -> str:
    labels = {
        "ACTIVE": _("Active"),
        "IN_SERVICE": _("In service"),
        "OUT_OF_SERVICE": _("Out of service"),
        "SOLD": _("Sold"),
        "RETIRED": _("Retired"),
    }
    return labels.get(status, status)


def fuel_type_label(value: str) -> str:
    labels = {
        "GASOLINE": _("Petrol"),
        "DIESEL": _("Diesel"),
        "ELECTRIC": _("Electric"),
        "HYBRID": _("Hybrid"),
        "PLUGIN_HYBRID": _("Plug-in hybrid"),
        "HYDROGEN": _("Hydrogen"),
    }
    return labels.get(value, value)


def transmission_label(value: str | None) -> str:
    labels = {
        "AUTOMATIC": _("Automatic"),
        "MANUAL": _("Manual"),
        "CVT": _("CVT"),
        "SEMI_AUTOMATIC": _("Semi-automatic"),
    }
    return labels.get(value or "", value or "—")


# --- Who sees which vehicles -----------------------------------------------------------------------------


async def allowed_fleet_ids(session: AsyncSession, user_id: int | None) -> frozenset[int] | None:
    """The fleets a user is limited to, or None when they see every vehicle of the dealership."""
    if user_id is None:
        return None
    rows = (await session.scalars(select(UserFleet.fleet_id).where(UserFleet.user_id == user_id))).all()
    return frozenset(int(fleet_id) for fleet_id in rows) if rows else None


async def visible_vehicle(
    session: AsyncSession, actor: Actor, vehicle_id: int, *, lock: bool = False
) -> Vehicle:
    """The vehicle if the actor may see it; NotFound for another tenant's and for one outside their fleets."""
    query = select(Vehicle).where(Vehicle.id == vehicle_id)
    if lock:
        query = query.with_for_update()
    vehicle = (await session.execute(query)).scalar_one_or_none()
    if vehicle is None:
        raise NotFound(vehicle_id)
    allowed = await allowed_fleet_ids(session, actor.user_id)
    if allowed is not None and vehicle.fleet_id not in allowed:
        raise NotFound(vehicle_id)
    actor.require("vehicle.view")
    return vehicle


# --- Vehicle profiles ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VehicleData:
    """A vehicle as typed into the form; the web layer has already turned text into numbers."""

    vin: str
    plate: str
    make: str
    model: str
    year: int | None
    fuel_type: str
    transmission: str
    colour: str
    engine_number: str
    odometer_km: int | None
    status: str
    customer_id: int | None
    fleet_id: int | None


class VehicleInvalid(RuleViolation):
    """A vehicle form with one or more bad fields; `errors` has a message per field."""

    def __init__(self, errors: dict[str, str]) -> None:
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = errors


def _text(value: str, limit: int, field: str, errors: dict[str, str], *, required: bool = False) -> str:
    text = " ".join((value or "").split())
    if required and not text:
        errors[field] = _("This field is required.")
    elif len(text) > limit:
        errors[field] = _("Use at most %(max)s characters.", max=limit)
    return text


async def _validated(
    session: AsyncSession, data: VehicleData, today: date, vehicle_id: int | None = None
) -> dict[str, Any]:
    """The row's values from the form, or VehicleInvalid naming every bad field at once; `vehicle_id` is
    the vehicle being edited, whose own VIN is not taken."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    try:
        values["vin"] = validated_vin(data.vin)
    except RuleViolation as error:
        errors["vin"] = str(error)
    values["plate"] = _text(data.plate, 20, "plate", errors).upper() or None
    values["make"] = _text(data.make, 40, "make", errors, required=True)
    values["model"] = _text(data.model, 60, "model", errors, required=True)
    if data.year is None:
        errors.setdefault("year", _("This field is required."))
    elif not FIRST_MODEL_YEAR <= data.year <= today.year + 1:
        errors["year"] = _(
            "Enter a model year from %(first)s to %(last)s.", first=FIRST_MODEL_YEAR, last=today.year + 1
        )
    values["year"] = data.year
    if data.fuel_type not in FUEL_TYPES:
        errors["fuel_type"] = _("Choose one of the options.")
    values["fuel_type"] = data.fuel_type
    if data.transmission and data.transmission not in TRANSMISSIONS:
        errors["transmission"] = _("Choose one of the options.")
    values["transmission"] = data.transmission or None
    values["colour"] = _text(data.colour, VEHICLE_COLOUR_LENGTH, "colour", errors) or None
    values["engine_number"] = _text(data.engine_number, 40, "engine_number", errors) or None
    if data.odometer_km is not None and not 0 <= data.odometer_km <= MAX_ODOMETER_KM:
        errors["odometer_km"] = _("Enter a reading from 0 to %(max)s km.", max=MAX_ODOMETER_KM)
    values["odometer_km"] = data.odometer_km or 0
    if data.status not in VEHICLE_STATUSES:
        errors["status"] = _("Choose one of the options.")
    values["status"] = data.status
    if data.customer_id is not None and not await session.scalar(
        select(Customer.id).where(Customer.id == data.customer_id)
    ):
        errors["customer_id"] = _("Choose a customer of this dealership.")
    values["customer_id"] = data.customer_id
    if data.fleet_id is not None and not await session.scalar(
        select(Fleet.id).where(Fleet.id == data.fleet_id)
    ):
        errors["fleet_id"] = _("Choose one of the fleets.")
    values["fleet_id"] = data.fleet_id
    if "vin" in values and "vin" not in errors:
        taken = await session.scalar(select(Vehicle.id).where(Vehicle.vin == values["vin"]))
        if taken is not None and taken != vehicle_id:
            errors["vin"] = _("Another vehicle of this dealership already has this VIN.")
    if errors:
        raise VehicleInvalid(errors)
    return values


async def _refuse_over_plan(session: AsyncSession, tenant_id: int) -> None:
    """The plan's vehicle limit (DOMAIN.md Plans); the tenant row is locked so two adds cannot both fit."""
    tenant = (
        await session.execute(select(Tenant).where(Tenant.id == tenant_id).with_for_update())
    ).scalar_one()
    limit = PLANS.get(tenant.plan, (None, None))[1]
    if limit is None:
        return
    count = await session.scalar(select(func.count()).select_from(Vehicle)) or 0
    if count >= limit:
        raise RuleViolation(
            _(
                "The %(plan)s plan allows %(limit)s vehicles and all are in use. "
                "Upgrade the plan or retire a vehicle profile first.",
                plan=tenant.plan.title(),
                limit=limit,
            )
        )


def _payload(vehicle: Vehicle, **extra: Any) -> dict[str, Any]:
    return {"id": vehicle.id, "vin": vehicle.vin, "fleet_id": vehicle.fleet_id, **extra}


async def create_vehicle(uow: UnitOfWork, data: VehicleData, today: date) -> Vehicle:
    uow.actor.require("vehicle.edit")
    session = uow.session
    values = await _validated(session, data, today)
    await _refuse_over_plan(session, uow.actor.tenant_id)
    vehicle = Vehicle(**values, odometer_m=values["odometer_km"] * 1000, created_at=utcnow())
    session.add(vehicle)
    try:
        await session.flush()
    except IntegrityError as error:
        # Someone registered the same VIN a moment ago.
        raise VehicleInvalid(
            {"vin": _("Another vehicle of this dealership already has this VIN.")}
        ) from error
    record(uow, "vehicle.created", _payload(vehicle), vehicle_topics(vehicle.id, vehicle.fleet_id))
    await refresh_vehicle_maintenance(uow, vehicle, today)
    await uow.commit()
    return vehicle


@dataclass(frozen=True)
class HandedOverCar:
    """A car the showroom hands to a buyer, as the buyer's vehicle profile needs it."""

    vin: str
    make: str
    model: str
    year: int
    fuel_type: str
    colour: str | None
    odometer_km: int


async def vehicle_for_buyer(
    uow: UnitOfWork, car: HandedOverCar, customer_id: int, today: date
) -> tuple[Vehicle, bool]:
    """The buyer's profile of a car handed over (no commit): the one already known by its VIN (a
    trade-in resold, a car serviced here before), now the buyer's, and True; or a new one within the
    plan's vehicle limit, and False. The delivery's own permission covers it."""
    session = uow.session
    existing = await session.scalar(select(Vehicle).where(Vehicle.vin == car.vin))
    if existing is None:
        await _refuse_over_plan(session, uow.actor.tenant_id)
        vehicle = Vehicle(
            **asdict(car) | {"colour": (car.colour or "")[:VEHICLE_COLOUR_LENGTH] or None},
            odometer_m=car.odometer_km * 1000,
            status="ACTIVE",
            customer_id=customer_id,
            created_at=utcnow(),
        )
        try:
            async with session.begin_nested():
                session.add(vehicle)
        except IntegrityError:
            # The workshop registered the same VIN a moment ago: link that one.
            existing = (await session.execute(select(Vehicle).where(Vehicle.vin == car.vin))).scalar_one()
        else:
            record(uow, "vehicle.created", _payload(vehicle), vehicle_topics(vehicle.id, vehicle.fleet_id))
            await refresh_vehicle_maintenance(uow, vehicle, today)
            return vehicle, False
    existing.customer_id = customer_id
    existing.status = "ACTIVE"
    existing.odometer_km = max(existing.odometer_km, car.odometer_km)
    existing.odometer_m = max(existing.odometer_m, existing.odometer_km * 1000)
    existing.version += 1
    await session.flush()
    changed = ["customer_id", "odometer_km", "status"]
    record(
        uow,
        "vehicle.updated",
        _payload(existing, changed=changed),
        vehicle_topics(existing.id, existing.fleet_id),
    )
    await refresh_vehicle_maintenance(uow, existing, today)
    return existing, True


async def update_vehicle(
    uow: UnitOfWork, vehicle_id: int, data: VehicleData, today: date, *, expected_version: int | None
) -> Vehicle:
    """Save the form; a stale `expected_version` is a Conflict, never an overwrite."""
    session = uow.session
    vehicle = await visible_vehicle(session, uow.actor, vehicle_id, lock=True)
    uow.actor.require("vehicle.edit")
    if expected_version != vehicle.version:
        raise Conflict(_("Someone else changed this vehicle in the meantime; here is what it is now."))
    values = await _validated(session, data, today, vehicle.id)
    if values["odometer_km"] < vehicle.odometer_km:
        raise VehicleInvalid(
            {"odometer_km": _("An odometer never goes back: %(km)s km are recorded.", km=vehicle.odometer_km)}
        )
    old_fleet = vehicle.fleet_id
    changed = {name: value for name, value in values.items() if getattr(vehicle, name) != value}
    for name, value in changed.items():
        setattr(vehicle, name, value)
    if "odometer_km" in changed:
        vehicle.odometer_m = max(vehicle.odometer_m, vehicle.odometer_km * 1000)
    vehicle.version += 1
    try:
        await session.flush()
    except IntegrityError as error:
        raise VehicleInvalid(
            {"vin": _("Another vehicle of this dealership already has this VIN.")}
        ) from error
    topics = vehicle_topics(vehicle.id, vehicle.fleet_id)
    if old_fleet is not None and old_fleet != vehicle.fleet_id:
        topics.append(f"fleet:{old_fleet}")
    record(uow, "vehicle.updated", _payload(vehicle, changed=sorted(changed)), topics)
    if {"make", "model", "odometer_km", "status", "last_service_on"} & changed.keys():
        await refresh_vehicle_maintenance(uow, vehicle, today)
    await uow.commit()
    return vehicle


# --- Fleets ----------------------------------------------------------------------------------------------


async def _fleet_name(session: AsyncSession, name: str, fleet_id: int | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise RuleViolation(_("Enter a name."), field="name")
    if len(name) > 80:
        raise RuleViolation(_("Use at most %(max)s characters.", max=80), field="name")
    taken = await session.scalar(select(Fleet.id).where(func.lower(Fleet.name) == name.lower()))
    if taken is not None and taken != fleet_id:
        raise RuleViolation(_("There is already a fleet with this name."), field="name")
    return name


def _description(text: str) -> str:
    text = (text or "").strip()
    if len(text) > 500:
        raise RuleViolation(_("Use at most %(max)s characters.", max=500), field="description")
    return text


async def create_fleet(uow: UnitOfWork, name: str, description: str) -> Fleet:
    uow.actor.require("fleet.manage")
    fleet = Fleet(name=await _fleet_name(uow.session, name, None), description=_description(description))
    uow.session.add(fleet)
    try:
        await uow.session.flush()
    except IntegrityError as error:
        raise RuleViolation(_("There is already a fleet with this name."), field="name") from error
    record(uow, "fleet.created", {"id": fleet.id, "name": fleet.name}, [FLEET_TOPIC])
    await uow.commit()
    return fleet


async def _fleet(session: AsyncSession, fleet_id: int) -> Fleet:
    fleet = (await session.execute(select(Fleet).where(Fleet.id == fleet_id))).scalar_one_or_none()
    if fleet is None:
        raise NotFound(fleet_id)
    return fleet


async def update_fleet(uow: UnitOfWork, fleet_id: int, name: str, description: str) -> Fleet:
    fleet = await _fleet(uow.session, fleet_id)
    uow.actor.require("fleet.manage")
    fleet.name = await _fleet_name(uow.session, name, fleet.id)
    fleet.description = _description(description)
    record(uow, "fleet.updated", {"id": fleet.id, "name": fleet.name}, [FLEET_TOPIC, f"fleet:{fleet.id}"])
    await uow.commit()
    return fleet


async def delete_fleet(uow: UnitOfWork, fleet_id: int) -> None:
    """Remove a fleet: its vehicles stay, without a fleet; users limited to it lose that fleet."""
    fleet = await _fleet(uow.session, fleet_id)
    uow.actor.require("fleet.manage")
    await uow.session.delete(fleet)
    record(uow, "fleet.deleted", {"id": fleet.id, "name": fleet.name}, [FLEET_TOPIC, f"fleet:{fleet.id}"])
    await uow.commit()


async def move_vehicles_to_fleet(uow: UnitOfWork, fleet_id: int | None, vehicle_ids: list[int]) -> int:
    """Put vehicles in a fleet (None: in no fleet); returns how many moved."""
    uow.actor.require("fleet.manage")
    session = uow.session
    if fleet_id is not None:
        await _fleet(session, fleet_id)
    if not vehicle_ids:
        raise RuleViolation(_("Choose at least one vehicle."), field="vehicle_ids")
    vehicles = (
        await session.scalars(select(Vehicle).where(Vehicle.id.in_(vehicle_ids)).with_for_update())
    ).all()
    if len(vehicles) != len(set(vehicle_ids)):
        raise RuleViolation(_("Choose vehicles of this dealership."), field="vehicle_ids")
    moved = 0
    for vehicle in vehicles:
        if vehicle.fleet_id == fleet_id:
            continue
        old = vehicle.fleet_id
        vehicle.fleet_id = fleet_id
        vehicle.version += 1
        moved += 1
        topics = vehicle_topics(vehicle.id, fleet_id)
        if old is not None:
            topics.append(f"fleet:{old}")
        record(uow, "vehicle.updated", _payload(vehicle, changed=["fleet_id"]), topics)
    await uow.commit()
    return moved


async def limit_user_to_fleets(uow: UnitOfWork, user_id: int, fleet_ids: list[int]) -> None:
    """Limit a user to these fleets; an empty list lets them see every vehicle again."""
    uow.actor.require("fleet.manage")
    session = uow.session
    if await session.scalar(select(User.id).where(User.id == user_id)) is None:
        raise NotFound(user_id)
    wanted = set(fleet_ids)
    known = (
        set((await session.scalars(select(Fleet.id).where(Fleet.id.in_(wanted)))).all()) if wanted else set()
    )
    if known != wanted:
        raise RuleViolation(_("Choose fleets of this dealership."), field="fleet_ids")
    await session.execute(delete(UserFleet).where(UserFleet.user_id == user_id))
    session.add_all(UserFleet(user_id=user_id, fleet_id=fleet_id) for fleet_id in sorted(wanted))
    record(
        uow,
        "user.fleets_limited",
        {"user_id": user_id, "fleet_ids": sorted(wanted)},
        [f"user:{user_id}"],
    )
    await uow.commit()


# --- Documents -------------------------------------------------------------------------------------------


def document_type(data: bytes) -> str | None:
    """PDF or a photo, by the file's bytes."""
    if data.startswith(b"%PDF-"):
        return PDF_TYPE
    return sniff_photo_type(data)


def _safe_filename(name: str) -> str:
    """The name as the browser sent it, without folders or control characters, for the download."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '"').strip()
    return cleaned[:200] or "document"


async def add_document(
    uow: UnitOfWork, vehicle_id: int, filename: str, data: bytes, data_dir: Path
) -> VehicleDocument:
    """Store an uploaded document; the bytes go to disk first and are removed again if the row fails."""
    vehicle = await visible_vehicle(uow.session, uow.actor, vehicle_id)
    uow.actor.require("vehicle.edit")
    if not data:
        raise RuleViolation(_("Choose a file to upload."), field="document")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise RuleViolation(
            _("The file is larger than %(size)s MB.", size=MAX_DOCUMENT_BYTES // (1024 * 1024)),
            field="document",
        )
    content_type = document_type(data)
    if content_type is None:
        raise RuleViolation(_("Upload a PDF or a photo (JPEG, PNG, WebP or HEIC)."), field="document")
    storage_key = f"{DOCUMENTS_FOLDER}/{uow.actor.tenant_id}/{uuid.uuid4().hex}"
    path = data_dir / storage_key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        document = VehicleDocument(
            vehicle_id=vehicle.id,
            filename=_safe_filename(filename),
            content_type=content_type,
            size_bytes=len(data),
            storage_key=storage_key,
            uploaded_by_id=uow.actor.user_id,
            uploaded_at=utcnow(),
        )
        uow.session.add(document)
        await uow.session.flush()
        record(
            uow,
            "vehicle.document_added",
            {"id": document.id, "vehicle_id": vehicle.id, "filename": document.filename},
            [f"vehicle:{vehicle.id}"],
        )
        await uow.commit()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return document


async def delete_document(uow: UnitOfWork, vehicle_id: int, document_id: int, data_dir: Path) -> None:
    vehicle = await visible_vehicle(uow.session, uow.actor, vehicle_id)
    uow.actor.require("vehicle.edit")
    document = await uow.session.scalar(
        select(VehicleDocument).where(
            VehicleDocument.id == document_id, VehicleDocument.vehicle_id == vehicle.id
        )
    )
    if document is None:
        raise NotFound(document_id)
    await uow.session.delete(document)
    record(
        uow,
        "vehicle.document_removed",
        {"id": document.id, "vehicle_id": vehicle.id, "filename": document.filename},
        [f"vehicle:{vehicle.id}"],
    )
    await uow.commit()
    (data_dir / document.storage_key).unlink(missing_ok=True)


# --- From an alert or a due service to a work order -----------------------------------------------------


@dataclass(frozen=True)
class LinkedWorkOrder:
    work_order: WorkOrder
    # False when the alert or service already had its work order: nothing was created.
    created: bool


async def _linked(session: AsyncSession, work_order_id: int | None) -> WorkOrder | None:
    if work_order_id is None:
        return None
    return await session.scalar(select(WorkOrder).where(WorkOrder.id == work_order_id))


async def _category_named(session: AsyncSession, name: str) -> int | None:
    return await session.scalar(select(WorkOrderCategory.id).where(WorkOrderCategory.name == name).limit(1))


def _category_for_condition(condition: str) -> str:
    if condition.startswith("tyre"):
        return "Tire Service"
    if condition.startswith("engine"):
        return "Engine Repair"
    if condition.startswith("battery"):
        return "Electrical"
    return "Repair"


async def _create_linked(uow: UnitOfWork, data: NewWorkOrder, link: Callable[[int], None]) -> WorkOrder:
    """create_work_order commits by itself; the link back is set in that same transaction, just before
    its commit, so two clicks at once cannot both find the alert unlinked and make two work orders."""
    sync_session = uow.session.sync_session

    def before_commit(session: Any) -> None:
        created = [obj for obj in session.identity_map.values() if isinstance(obj, WorkOrder)]
        link(max(created, key=lambda row: row.id).id)

    event.listen(sync_session, "before_commit", before_commit, once=True)
    try:
        return await create_work_order(uow, data)
    finally:
        if event.contains(sync_session, "before_commit", before_commit):
            event.remove(sync_session, "before_commit", before_commit)


async def work_order_for_alert(uow: UnitOfWork, alert_id: int) -> LinkedWorkOrder:
    """The alert's work order: the one it already has, or a new one prefilled from the alert."""
    session = uow.session
    alert = (
        await session.execute(select(VehicleAlert).where(VehicleAlert.id == alert_id).with_for_update())
    ).scalar_one_or_none()
    if alert is None:
        raise NotFound(alert_id)
    vehicle = await visible_vehicle(session, uow.actor, alert.vehicle_id)
    existing = await _linked(session, alert.work_order_id)
    if existing is not None:
        # Ends the transaction (and its row lock) without expiring what the caller reads.
        await uow.commit()
        return LinkedWorkOrder(existing, created=False)
    uow.actor.require("work_order.create")
    complaint = _(
        "%(condition)s (%(severity)s alert from telemetry since %(since)s).",
        condition=condition_label(alert.condition),
        severity=severity_label(alert.severity),
        since=alert.opened_at.date().isoformat(),
    )

    def link(work_order_id: int) -> None:
        alert.work_order_id = work_order_id

    data = NewWorkOrder(
        vehicle_id=vehicle.id,
        complaint=complaint,
        priority=PRIORITY_FOR_SEVERITY.get(alert.severity, "NORMAL"),
        category_id=await _category_named(session, _category_for_condition(alert.condition)),
    )
    record(
        uow,
        "vehicle_alert.work_order_linked",
        {"id": alert.id, "vehicle_id": vehicle.id, "condition": alert.condition},
        vehicle_topics(vehicle.id, vehicle.fleet_id),
    )
    return LinkedWorkOrder(await _create_linked(uow, data, link), created=True)


async def work_order_for_maintenance(uow: UnitOfWork, maintenance_id: int) -> LinkedWorkOrder:
    """The due service's work order: the one it already has, or a new one for the service."""
    session = uow.session
    row = (
        await session.execute(
            select(VehicleMaintenance, MaintenanceSchedule)
            .join(MaintenanceSchedule, MaintenanceSchedule.id == VehicleMaintenance.schedule_id)
            .where(VehicleMaintenance.id == maintenance_id)
            .with_for_update(of=VehicleMaintenance)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(maintenance_id)
    maintenance, schedule = row
    vehicle = await visible_vehicle(session, uow.actor, maintenance.vehicle_id)
    existing = await _linked(session, maintenance.work_order_id)
    if existing is not None and existing.status != "CANCELLED":
        await uow.commit()
        return LinkedWorkOrder(existing, created=False)
    uow.actor.require("work_order.create")

    def link(work_order_id: int) -> None:
        maintenance.work_order_id = work_order_id

    data = NewWorkOrder(
        vehicle_id=vehicle.id,
        complaint=_("%(service)s due (maintenance schedule).", service=schedule.service_type),
        priority="HIGH" if maintenance.state == "OVERDUE" else "NORMAL",
        category_id=schedule.category_id,
    )
    record(
        uow,
        "maintenance.work_order_linked",
        {"id": maintenance.id, "vehicle_id": vehicle.id, "service_type": schedule.service_type},
        vehicle_topics(vehicle.id, vehicle.fleet_id),
    )
    return LinkedWorkOrder(await _create_linked(uow, data, link), created=True)


def vin_warning(text: str) -> str | None:
    """Why a typed VIN cannot be right (length, letters, a North American check digit), or None."""
    try:
        validated_vin(text)
    except RuleViolation as error:
        return str(error)
    return None
