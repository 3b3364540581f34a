"""Read models for vehicles: the search, a vehicle's profile, the fleet board and the fleets page.

Every function that lists or finds vehicles takes `allowed`: the fleets the reader is limited to
(ops.vehicles.service.allowed_fleet_ids), None for every vehicle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.auth.models import User
from ops.customers.models import Customer
from ops.paging import Page
from ops.vehicles.models import (
    ALERT_SEVERITIES,
    Fleet,
    MaintenanceSchedule,
    TelematicsDevice,
    TelemetryReading,
    UserFleet,
    Vehicle,
    VehicleAlert,
    VehicleDocument,
    VehicleMaintenance,
)
from ops.vehicles.telemetry.queries import latest_reading, stopped_reporting
from ops.vehicles.telemetry.thresholds import STOPPED_REPORTING
from ops.workshop.models import Invoice, WorkOrder, format_work_order_number

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
SEVERITY_ORDER = tuple(reversed(ALERT_SEVERITIES))  # CRITICAL first
STOPPED_REPORTING_HOURS = 24
NO_FLEET = "none"


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _compact(column: Any) -> Any:
    """Lower case without spaces or dashes: "ZH 123-456" and "zh123456" are the same plate."""
    return func.replace(func.replace(func.lower(func.coalesce(column, "")), " ", ""), "-", "")


def _visible(allowed: frozenset[int] | None) -> ColumnElement[bool] | None:
    if allowed is None:
        return None
    return Vehicle.fleet_id.in_(sorted(allowed))


def customer_name(first: str | None, last: str | None, company: str | None) -> str:
    person = f"{first or ''} {last or ''}".strip()
    return f"{company} ({person})" if company and person else company or person


# --- The search ------------------------------------------------------------------------------------------


# Sort keys of the clickable headers; "-key" sorts the other way.
SORT_COLUMNS: dict[str, tuple[Any, ...]] = {
    "vehicle": (Vehicle.make, Vehicle.model, Vehicle.year),
    "vin": (Vehicle.vin,),
    "plate": (Vehicle.plate,),
    "year": (Vehicle.year,),
    "odometer": (Vehicle.odometer_km,),
    "customer": (Customer.last_name, Customer.first_name),
    "fleet": (Fleet.name,),
    "status": (Vehicle.status,),
    "health": (Vehicle.health_score,),
}
DEFAULT_SORT = "vehicle"


@dataclass(frozen=True)
class VehicleFilters:
    q: str = ""
    vin: str = ""
    plate: str = ""
    make: str = ""
    model: str = ""
    customer: str = ""
    fleet: str = ""  # a fleet id, NO_FLEET, or "" for any
    status: str = ""
    sort: str = DEFAULT_SORT
    page_size: int = PAGE_SIZE

    @property
    def active(self) -> bool:
        return any(
            (self.q, self.vin, self.plate, self.make, self.model, self.customer, self.fleet, self.status)
        )

    def args(self, **changes: str | int | None) -> dict[str, str | None]:
        """The filters as URL query arguments, leaving out what is not set."""
        values: dict[str, Any] = {
            "q": self.q,
            "vin": self.vin,
            "plate": self.plate,
            "make": self.make,
            "model": self.model,
            "customer": self.customer,
            "fleet": self.fleet,
            "status": self.status,
            "sort": None if self.sort == DEFAULT_SORT else self.sort,
            "page_size": None if self.page_size == PAGE_SIZE else self.page_size,
        }
        values.update(changes)
        return {name: (str(value) if value not in (None, "") else None) for name, value in values.items()}

    def sort_for(self, key: str) -> str:
        """The sort a header link asks for: this column ascending, or descending when it already is."""
        return f"-{key}" if self.sort == key else key


@dataclass(frozen=True)
class VehicleRow:
    id: int
    vin: str
    plate: str | None
    make: str
    model: str
    year: int
    odometer_km: int
    status: str
    health_score: int
    customer_id: int | None
    customer: str | None
    fleet_id: int | None
    fleet: str | None
    open_alerts: int
    last_reading_at: datetime | None

    @property
    def title(self) -> str:
        return f"{self.make} {self.model} {self.year}"


@dataclass(frozen=True)
class VehicleList:
    rows: list[VehicleRow]
    page: Page


def _open_alerts() -> Any:
    return (
        select(func.count())
        .where(VehicleAlert.vehicle_id == Vehicle.id, VehicleAlert.status == "OPEN")
        .correlate(Vehicle)
        .scalar_subquery()
    )


def _list_query() -> Select[*tuple[Any, ...]]:
    return (
        select(
            Vehicle,
            Customer.first_name,
            Customer.last_name,
            Customer.company_name,
            Fleet.name,
            _open_alerts().label("open_alerts"),
        )
        .outerjoin(Customer, Customer.id == Vehicle.customer_id)
        .outerjoin(Fleet, Fleet.id == Vehicle.fleet_id)
    )


def _row(row: Any) -> VehicleRow:
    vehicle: Vehicle = row[0]
    return VehicleRow(
        id=vehicle.id,
        vin=vehicle.vin,
        plate=vehicle.plate,
        make=vehicle.make,
        model=vehicle.model,
        year=vehicle.year,
        odometer_km=vehicle.odometer_km,
        status=vehicle.status,
        health_score=vehicle.health_score,
        customer_id=vehicle.customer_id,
        customer=customer_name(row.first_name, row.last_name, row.company_name)
        if vehicle.customer_id
        else None,
        fleet_id=vehicle.fleet_id,
        fleet=row.name,
        open_alerts=int(row.open_alerts or 0),
        last_reading_at=vehicle.last_reading_at,
    )


def _conditions(filters: VehicleFilters, allowed: frozenset[int] | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    visible = _visible(allowed)
    if visible is not None:
        conditions.append(visible)
    if filters.vin:
        conditions.append(func.lower(Vehicle.vin).like(_like(filters.vin), escape="\\"))
    if filters.plate:
        plate = filters.plate.lower().replace(" ", "").replace("-", "")
        conditions.append(_compact(Vehicle.plate).like(_like(plate), escape="\\"))
    if filters.make:
        conditions.append(func.lower(Vehicle.make) == filters.make.lower())
    if filters.model:
        conditions.append(func.lower(Vehicle.model).like(_like(filters.model), escape="\\"))
    if filters.customer:
        for word in filters.customer.split():
            pattern = _like(word)
            conditions.append(
                or_(
                    func.lower(Customer.first_name).like(pattern, escape="\\"),
                    func.lower(Customer.last_name).like(pattern, escape="\\"),
                    func.lower(func.coalesce(Customer.company_name, "")).like(pattern, escape="\\"),
                )
            )
    if filters.fleet == NO_FLEET:
        conditions.append(Vehicle.fleet_id.is_(None))
    elif filters.fleet.isdigit():
        conditions.append(Vehicle.fleet_id == int(filters.fleet))
    if filters.status:
        conditions.append(Vehicle.status == filters.status)
    for word in filters.q.split():
        pattern = _like(word)
        compact = _like(word.replace("-", ""))
        conditions.append(
            or_(
                func.lower(Vehicle.vin).like(pattern, escape="\\"),
                _compact(Vehicle.plate).like(compact, escape="\\"),
                func.lower(Vehicle.make).like(pattern, escape="\\"),
                func.lower(Vehicle.model).like(pattern, escape="\\"),
                func.lower(func.coalesce(Vehicle.colour, "")).like(pattern, escape="\\"),
                func.lower(func.coalesce(Vehicle.engine_number, "")).like(pattern, escape="\\"),
                func.lower(func.coalesce(Customer.first_name, "")).like(pattern, escape="\\"),
                func.lower(func.coalesce(Customer.last_name, "")).like(pattern, escape="\\"),
                func.lower(func.coalesce(Customer.company_name, "")).like(pattern, escape="\\"),
                func.lower(func.coalesce(Fleet.name, "")).like(pattern, escape="\\"),
            )
        )
    return conditions


def _order(sort: str) -> list[Any]:
    key = sort.removeprefix("-")
    columns = SORT_COLUMNS.get(key, SORT_COLUMNS[DEFAULT_SORT])
    descending = sort.startswith("-")
    # Empty values last either way, then the id so that pages never overlap.
    ordered = [
        part
        for column in columns
        for part in (column.is_(None), column.desc() if descending else column.asc())
    ]
    return [*ordered, Vehicle.id.desc() if descending else Vehicle.id.asc()]


async def search_vehicles(
    session: AsyncSession, filters: VehicleFilters, page: int, allowed: frozenset[int] | None
) -> VehicleList:
    conditions = _conditions(filters, allowed)
    counted = (
        select(func.count())
        .select_from(Vehicle)
        .outerjoin(Customer, Customer.id == Vehicle.customer_id)
        .outerjoin(Fleet, Fleet.id == Vehicle.fleet_id)
        .where(*conditions)
    )
    total = int(await session.scalar(counted) or 0)
    current = Page.of(page, total, filters.page_size)
    rows = await session.execute(
        _list_query()
        .where(*conditions)
        .order_by(*_order(filters.sort))
        .limit(current.size)
        .offset(current.offset)
    )
    return VehicleList([_row(row) for row in rows], current)


async def make_choices(session: AsyncSession, allowed: frozenset[int] | None) -> list[str]:
    query = select(Vehicle.make).distinct().order_by(Vehicle.make)
    visible = _visible(allowed)
    if visible is not None:
        query = query.where(visible)
    return [str(make) for make in (await session.scalars(query)).all()]


@dataclass(frozen=True)
class FleetChoice:
    id: int
    name: str


async def fleet_choices(session: AsyncSession, allowed: frozenset[int] | None = None) -> list[FleetChoice]:
    query = select(Fleet.id, Fleet.name).order_by(func.lower(Fleet.name))
    if allowed is not None:
        query = query.where(Fleet.id.in_(sorted(allowed)))
    return [FleetChoice(int(fleet_id), str(name)) for fleet_id, name in await session.execute(query)]


@dataclass(frozen=True)
class CustomerChoice:
    id: int
    name: str
    email: str | None


async def customer_choices(session: AsyncSession, text: str, limit: int = 20) -> list[CustomerChoice]:
    """Customers whose name, company or email contain every word typed, for the vehicle form's picker."""
    query = select(Customer).where(Customer.erased_at.is_(None))
    for word in text.split()[:5]:
        pattern = _like(word)
        query = query.where(
            or_(
                func.lower(Customer.first_name).like(pattern, escape="\\"),
                func.lower(Customer.last_name).like(pattern, escape="\\"),
                func.lower(func.coalesce(Customer.company_name, "")).like(pattern, escape="\\"),
                func.lower(func.coalesce(Customer.email, "")).like(pattern, escape="\\"),
            )
        )
    rows = await session.scalars(
        query.order_by(Customer.last_name, Customer.first_name, Customer.id).limit(limit)
    )
    return [
        CustomerChoice(row.id, customer_name(row.first_name, row.last_name, row.company_name), row.email)
        for row in rows
    ]


async def customer_choice(session: AsyncSession, customer_id: int | None) -> CustomerChoice | None:
    if customer_id is None:
        return None
    row = await session.scalar(select(Customer).where(Customer.id == customer_id))
    if row is None:
        return None
    return CustomerChoice(row.id, customer_name(row.first_name, row.last_name, row.company_name), row.email)


# --- A vehicle's profile ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertRow:
    id: int
    vehicle_id: int
    condition: str
    severity: str
    value: float | None
    threshold: float | None
    opened_at: datetime
    last_seen_at: datetime
    work_order_id: int | None
    work_order_code: str | None


@dataclass(frozen=True)
class MaintenanceRow:
    id: int
    vehicle_id: int
    service_type: str
    interval_km: int | None
    interval_months: int | None
    last_done_on: date | None
    last_done_km: int | None
    due_on: date | None
    due_km: int | None
    predicted_on: date | None
    state: str
    work_order_id: int | None
    work_order_code: str | None


@dataclass(frozen=True)
class ServiceRow:
    id: int
    code: str
    status: str
    complaint: str
    created_at: datetime
    completed_at: datetime | None
    odometer_in_km: int | None
    total: Decimal | None
    currency: str | None


@dataclass(frozen=True)
class DocumentRow:
    id: int
    filename: str
    content_type: str
    size_bytes: int
    uploaded_at: datetime
    uploaded_by: str | None


@dataclass(frozen=True)
class Profile:
    vehicle: Vehicle
    customer: str | None
    fleet: str | None
    alerts: list[AlertRow]
    latest: TelemetryReading | None
    maintenance: list[MaintenanceRow]
    history: list[ServiceRow]
    documents: list[DocumentRow]
    devices: list[str]


def _alert_query() -> Select[*tuple[Any, ...]]:
    return (
        select(VehicleAlert, WorkOrder.number)
        .outerjoin(WorkOrder, WorkOrder.id == VehicleAlert.work_order_id)
        .where(VehicleAlert.status == "OPEN")
    )


def _alert_row(alert: VehicleAlert, number: int | None) -> AlertRow:
    return AlertRow(
        id=alert.id,
        vehicle_id=alert.vehicle_id,
        condition=alert.condition,
        severity=alert.severity,
        value=alert.value,
        threshold=alert.threshold,
        opened_at=alert.opened_at,
        last_seen_at=alert.last_seen_at,
        work_order_id=alert.work_order_id if number is not None else None,
        work_order_code=None if number is None else format_work_order_number(number),
    )


def _severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


async def open_alerts(session: AsyncSession, vehicle_id: int) -> list[AlertRow]:
    rows = await session.execute(_alert_query().where(VehicleAlert.vehicle_id == vehicle_id))
    alerts = [_alert_row(alert, number) for alert, number in rows]
    return sorted(alerts, key=lambda alert: (_severity_rank(alert.severity), alert.opened_at))


def _maintenance_query() -> Select[*tuple[Any, ...]]:
    return (
        select(VehicleMaintenance, MaintenanceSchedule, WorkOrder.number, WorkOrder.status)
        .join(MaintenanceSchedule, MaintenanceSchedule.id == VehicleMaintenance.schedule_id)
        .outerjoin(WorkOrder, WorkOrder.id == VehicleMaintenance.work_order_id)
    )


def _maintenance_row(row: Any) -> MaintenanceRow:
    maintenance: VehicleMaintenance = row[0]
    schedule: MaintenanceSchedule = row[1]
    linked = row.number is not None and row.status != "CANCELLED"
    return MaintenanceRow(
        id=maintenance.id,
        vehicle_id=maintenance.vehicle_id,
        service_type=schedule.service_type,
        interval_km=schedule.interval_km,
        interval_months=schedule.interval_months,
        last_done_on=maintenance.last_done_on,
        last_done_km=maintenance.last_done_km,
        due_on=maintenance.due_on,
        due_km=maintenance.due_km,
        predicted_on=maintenance.predicted_on,
        state=maintenance.state,
        work_order_id=maintenance.work_order_id if linked else None,
        work_order_code=format_work_order_number(row.number) if linked else None,
    )


async def vehicle_maintenance(session: AsyncSession, vehicle_id: int) -> list[MaintenanceRow]:
    rows = await session.execute(
        _maintenance_query()
        .where(VehicleMaintenance.vehicle_id == vehicle_id)
        .order_by(
            VehicleMaintenance.predicted_on.is_(None), VehicleMaintenance.predicted_on, MaintenanceSchedule.id
        )
    )
    return [_maintenance_row(row) for row in rows]


async def service_history(session: AsyncSession, vehicle_id: int, limit: int = 50) -> list[ServiceRow]:
    rows = await session.execute(
        select(WorkOrder, Invoice.total, Invoice.currency)
        .outerjoin(Invoice, Invoice.work_order_id == WorkOrder.id)
        .where(WorkOrder.vehicle_id == vehicle_id)
        .order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
        .limit(limit)
    )
    return [
        ServiceRow(
            id=work_order.id,
            code=format_work_order_number(work_order.number),
            status=work_order.status,
            complaint=work_order.complaint,
            created_at=work_order.created_at,
            completed_at=work_order.completed_at,
            odometer_in_km=work_order.odometer_in_km,
            total=total,
            currency=currency,
        )
        for work_order, total, currency in rows
    ]


async def documents(session: AsyncSession, vehicle_id: int) -> list[DocumentRow]:
    rows = await session.execute(
        select(VehicleDocument, User.name)
        .outerjoin(User, User.id == VehicleDocument.uploaded_by_id)
        .where(VehicleDocument.vehicle_id == vehicle_id)
        .order_by(VehicleDocument.uploaded_at.desc(), VehicleDocument.id.desc())
    )
    return [
        DocumentRow(
            id=document.id,
            filename=document.filename,
            content_type=document.content_type,
            size_bytes=document.size_bytes,
            uploaded_at=document.uploaded_at,
            uploaded_by=name,
        )
        for document, name in rows
    ]


async def document(session: AsyncSession, vehicle_id: int, document_id: int) -> VehicleDocument | None:
    return await session.scalar(
        select(VehicleDocument).where(
            VehicleDocument.id == document_id, VehicleDocument.vehicle_id == vehicle_id
        )
    )


async def profile(session: AsyncSession, vehicle: Vehicle) -> Profile:
    customer = fleet = None
    if vehicle.customer_id is not None:
        row = (
            await session.execute(
                select(Customer.first_name, Customer.last_name, Customer.company_name).where(
                    Customer.id == vehicle.customer_id
                )
            )
        ).one_or_none()
        customer = customer_name(*row) if row else None
    if vehicle.fleet_id is not None:
        fleet = await session.scalar(select(Fleet.name).where(Fleet.id == vehicle.fleet_id))
    devices = (
        await session.scalars(
            select(TelematicsDevice.unique_id)
            .where(TelematicsDevice.vehicle_id == vehicle.id)
            .order_by(TelematicsDevice.id)
        )
    ).all()
    return Profile(
        vehicle=vehicle,
        customer=customer,
        fleet=fleet,
        alerts=await open_alerts(session, vehicle.id),
        latest=await latest_reading(session, vehicle.id),
        maintenance=await vehicle_maintenance(session, vehicle.id),
        history=await service_history(session, vehicle.id),
        documents=await documents(session, vehicle.id),
        devices=[str(device) for device in devices],
    )


# --- The fleet board -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardVehicle:
    id: int
    title: str
    plate: str | None
    fleet: str | None
    health_score: int


@dataclass(frozen=True)
class BoardAlert:
    alert: AlertRow
    vehicle: BoardVehicle


@dataclass(frozen=True)
class BoardService:
    maintenance: MaintenanceRow
    vehicle: BoardVehicle


@dataclass(frozen=True)
class BoardSilent:
    vehicle: BoardVehicle
    last_reading_at: datetime | None


@dataclass(frozen=True)
class Board:
    # Severity -> alerts, CRITICAL first; every severity present, possibly empty.
    alerts: dict[str, list[BoardAlert]]
    overdue: list[BoardService]
    due: list[BoardService]
    silent: list[BoardSilent]

    @property
    def alert_count(self) -> int:
        return sum(len(alerts) for alerts in self.alerts.values())


def _board_vehicle(vehicle: Vehicle, fleet: str | None) -> BoardVehicle:
    return BoardVehicle(
        vehicle.id,
        f"{vehicle.make} {vehicle.model} {vehicle.year}",
        vehicle.plate,
        fleet,
        vehicle.health_score,
    )


def _with_vehicle(query: Select[Any], allowed: frozenset[int] | None) -> Select[*tuple[Any, ...]]:
    query = query.add_columns(Vehicle, Fleet.name.label("fleet_name")).outerjoin(
        Fleet, Fleet.id == Vehicle.fleet_id
    )
    visible = _visible(allowed)
    return query if visible is None else query.where(visible)


async def board(session: AsyncSession, now: datetime, allowed: frozenset[int] | None) -> Board:
    alert_rows = await session.execute(
        _with_vehicle(_alert_query().join(Vehicle, Vehicle.id == VehicleAlert.vehicle_id), allowed)
        # Silent vehicles have a section of their own.
        .where(VehicleAlert.condition != STOPPED_REPORTING)
        .order_by(VehicleAlert.opened_at.desc(), VehicleAlert.id.desc())
    )
    alerts: dict[str, list[BoardAlert]] = {severity: [] for severity in SEVERITY_ORDER}
    for row in alert_rows:
        alert = _alert_row(row[0], row.number)
        alerts.setdefault(alert.severity, []).append(
            BoardAlert(alert, _board_vehicle(row.Vehicle, row.fleet_name))
        )
    service_rows = await session.execute(
        _with_vehicle(
            _maintenance_query().join(Vehicle, Vehicle.id == VehicleMaintenance.vehicle_id), allowed
        )
        .where(VehicleMaintenance.state.in_(("DUE", "OVERDUE")))
        .order_by(
            VehicleMaintenance.predicted_on.is_(None), VehicleMaintenance.predicted_on, VehicleMaintenance.id
        )
    )
    overdue: list[BoardService] = []
    due: list[BoardService] = []
    for row in service_rows:
        service = BoardService(_maintenance_row(row), _board_vehicle(row.Vehicle, row.fleet_name))
        (overdue if service.maintenance.state == "OVERDUE" else due).append(service)
    return Board(alerts, overdue, due, await silent_vehicles(session, now, allowed))


async def silent_vehicles(
    session: AsyncSession, now: datetime, allowed: frozenset[int] | None
) -> list[BoardSilent]:
    """Vehicles whose device sent nothing for a day, longest silent first, as far as the reader may see."""
    silent = [
        vehicle
        for vehicle in await stopped_reporting(session, now, STOPPED_REPORTING_HOURS)
        if allowed is None or vehicle.fleet_id in allowed
    ]
    if not silent:
        return []
    rows = await session.execute(
        _with_vehicle(select(), None).where(Vehicle.id.in_([vehicle.vehicle_id for vehicle in silent]))
    )
    by_id = {row.Vehicle.id: _board_vehicle(row.Vehicle, row.fleet_name) for row in rows}
    return [
        BoardSilent(by_id[vehicle.vehicle_id], vehicle.last_reading_at)
        for vehicle in silent
        if vehicle.vehicle_id in by_id
    ]


async def critical_alert_count(session: AsyncSession, allowed: frozenset[int] | None) -> int:
    query = (
        select(func.count())
        .select_from(VehicleAlert)
        .join(Vehicle, Vehicle.id == VehicleAlert.vehicle_id)
        .where(VehicleAlert.status == "OPEN", VehicleAlert.severity == "CRITICAL")
    )
    visible = _visible(allowed)
    if visible is not None:
        query = query.where(visible)
    return int(await session.scalar(query) or 0)


# --- Fleets ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetRow:
    id: int
    name: str
    description: str
    vehicle_count: int
    user_count: int


async def fleets(session: AsyncSession) -> list[FleetRow]:
    vehicles = select(func.count()).where(Vehicle.fleet_id == Fleet.id).correlate(Fleet).scalar_subquery()
    users = select(func.count()).where(UserFleet.fleet_id == Fleet.id).correlate(Fleet).scalar_subquery()
    rows = await session.execute(
        select(Fleet, vehicles.label("vehicles"), users.label("users")).order_by(func.lower(Fleet.name))
    )
    return [
        FleetRow(fleet.id, fleet.name, fleet.description, int(count), int(user_count))
        for fleet, count, user_count in rows
    ]


async def fleet(session: AsyncSession, fleet_id: int) -> Fleet | None:
    return await session.scalar(select(Fleet).where(Fleet.id == fleet_id))


async def fleet_exists(session: AsyncSession, fleet_id: int) -> bool:
    return await session.scalar(select(Fleet.id).where(Fleet.id == fleet_id)) is not None


@dataclass(frozen=True)
class UserLimit:
    id: int
    name: str
    role: str
    fleet_ids: frozenset[int]


async def user_limits(session: AsyncSession) -> list[UserLimit]:
    """Every active user with the fleets they are limited to (empty: they see every vehicle)."""
    users = (
        await session.execute(
            select(User.id, User.name, User.role).where(User.active.is_(True)).order_by(User.name)
        )
    ).all()
    limits: dict[int, set[int]] = {}
    for user_id, fleet_id in await session.execute(select(UserFleet.user_id, UserFleet.fleet_id)):
        limits.setdefault(int(user_id), set()).add(int(fleet_id))
    return [
        UserLimit(int(user_id), str(name), str(role), frozenset(limits.get(int(user_id), ())))
        for user_id, name, role in users
    ]


async def vehicle_exists(session: AsyncSession, vehicle_id: int, allowed: frozenset[int] | None) -> bool:
    query = select(Vehicle.id).where(Vehicle.id == vehicle_id)
    visible = _visible(allowed)
    if visible is not None:
        query = query.where(visible)
    return await session.scalar(query) is not None


async def vehicles_by_plate_or_vin(
    session: AsyncSession, identifiers: list[str]
) -> tuple[list[int], list[str]]:
    """The vehicles typed by plate (spaces and dashes ignored) or VIN, and what matched none."""
    found: list[int] = []
    missing: list[str] = []
    for text in identifiers:
        compact = text.lower().replace(" ", "").replace("-", "")
        vehicle_id = await session.scalar(
            select(Vehicle.id)
            .where(or_(func.lower(Vehicle.vin) == compact, _compact(Vehicle.plate) == compact))
            .order_by(Vehicle.id)
            .limit(1)
        )
        if vehicle_id is None:
            missing.append(text)
        else:
            found.append(int(vehicle_id))
    return found, missing
