"""Helpers for the vehicle tests: vehicles, fleets, alerts and readings inserted as they are."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from ops.db import Database, utcnow
from ops.events import Event
from ops.vehicles.models import Fleet, TelematicsDevice, TelemetryReading, UserFleet, Vehicle, VehicleAlert
from tests.factories import TenantHandle

_plates = itertools.count(100)
# North American VINs with a valid check digit (the 9th character), from the makers' WMIs.
VALID_NA_VIN = "1HGCM82633A004352"
WRONG_CHECK_DIGIT_VIN = "1HGCM82623A004352"


def european_vin(number: int) -> str:
    """A VW VIN (no check digit in Europe), unique per number."""
    return f"WVWZZZ1KZ{number:08d}"


async def vehicle(
    shop: TenantHandle,
    *,
    make: str = "Skoda",
    model: str = "Octavia",
    fuel_type: str = "GASOLINE",
    year: int = 2021,
    vin: str | None = None,
    plate: str | None = None,
    fleet_id: int | None = None,
    customer_id: int | None = None,
    odometer_km: int = 10_000,
    status: str = "ACTIVE",
    created_on: date | None = None,
    last_service_on: date | None = None,
) -> Vehicle:
    number = next(_plates)
    async with shop.db.uow(shop.admin.actor) as uow:
        row = Vehicle(
            vin=vin or european_vin(number),
            plate=plate or f"ZH {number}",
            make=make,
            model=model,
            fuel_type=fuel_type,
            year=year,
            odometer_km=odometer_km,
            odometer_m=odometer_km * 1000,
            status=status,
            fleet_id=fleet_id,
            customer_id=customer_id,
            last_service_on=last_service_on,
            created_at=datetime.combine(created_on, datetime.min.time()).astimezone()
            if created_on
            else utcnow(),
        )
        uow.session.add(row)
        await uow.commit()
    return row


async def fleet(shop: TenantHandle, name: str) -> Fleet:
    async with shop.db.uow(shop.admin.actor) as uow:
        row = Fleet(name=name, description="")
        uow.session.add(row)
        await uow.commit()
    return row


async def limit(shop: TenantHandle, user_id: int | None, *fleet_ids: int) -> None:
    async with shop.db.uow(shop.admin.actor) as uow:
        uow.session.add_all(UserFleet(user_id=user_id, fleet_id=fleet_id) for fleet_id in fleet_ids)
        await uow.commit()


async def alert(
    shop: TenantHandle, vehicle_id: int, *, condition: str = "engine_temp_high", severity: str = "CRITICAL"
) -> VehicleAlert:
    async with shop.db.uow(shop.admin.actor) as uow:
        row = VehicleAlert(
            vehicle_id=vehicle_id, condition=condition, severity=severity, value=120.0, threshold=104.4
        )
        uow.session.add(row)
        await uow.commit()
    return row


async def device(shop: TenantHandle, vehicle_id: int, unique_id: str) -> TelematicsDevice:
    async with shop.db.uow(shop.admin.actor) as uow:
        row = TelematicsDevice(
            vehicle_id=vehicle_id,
            kind="TRACCAR",
            unique_id=unique_id,
            created_at=utcnow() - timedelta(days=3),
        )
        uow.session.add(row)
        await uow.commit()
    return row


async def readings(shop: TenantHandle, vehicle_id: int, rows: list[dict[str, object]]) -> None:
    async with shop.db.uow(shop.admin.actor) as uow:
        uow.session.add_all(TelemetryReading(vehicle_id=vehicle_id, **row) for row in rows)
        await uow.commit()


async def events(db: Database, tenant_id: int, *types: str) -> list[Event]:
    async with db.read(tenant_id) as session:
        query = select(Event).order_by(Event.id)
        if types:
            query = query.where(Event.type.in_(types))
        return list((await session.scalars(query)).all())


async def reload(db: Database, tenant_id: int, vehicle_id: int) -> Vehicle:
    async with db.read(tenant_id) as session:
        return (await session.execute(select(Vehicle).where(Vehicle.id == vehicle_id))).scalar_one()


async def sign_in_as(client: Any, shop: TenantHandle, role: str = "workshop_manager") -> str:
    """Sign a test client in as a new English-speaking user of this role; returns the CSRF token."""
    from tests.web import sign_in

    user = await shop.user(role, locale="en")
    return await sign_in(client, user.email)
