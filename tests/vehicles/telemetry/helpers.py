"""Telemetry test helpers: set-up through the real services, realistic provider payloads, and reads."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from ops.db import Database
from ops.events import Event
from ops.vehicles.models import TelematicsDevice, TelemetryReading, Vehicle, VehicleAlert
from ops.vehicles.telemetry.service import (
    register_device,
    rotate_signing_secret,
    rotate_traccar_secret,
)
from tests.factories import TenantHandle

KNOT_MPS = 1852 / 3600


def ago(minutes: float = 0, *, now: datetime | None = None) -> datetime:
    """A moment `minutes` before now, whole milliseconds (devices send milliseconds)."""
    moment = (now or datetime.now(UTC)) - timedelta(minutes=minutes)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def traccar_time(moment: datetime) -> str:
    """Traccar's format: `2026-11-22T14:00:00.000+00:00`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"


async def tracked_vehicle(shop: TenantHandle, kind: str = "TRACCAR") -> tuple[Vehicle, str, str | None]:
    """A vehicle with a registered device: (vehicle, device unique id, OsmAnd token or None)."""
    vehicle = await shop.vehicle()
    unique_id = f"{secrets.randbelow(10**14) + 860000000000000}"
    async with shop.db.uow(shop.admin.actor) as uow:
        _device, token = await register_device(uow, vehicle.id, kind, unique_id)
    return vehicle, unique_id, token


async def traccar_secret(shop: TenantHandle) -> str:
    async with shop.db.uow(shop.admin.actor) as uow:
        return await rotate_traccar_secret(uow)


async def signing_secret(shop: TenantHandle) -> str:
    async with shop.db.uow(shop.admin.actor) as uow:
        return await rotate_signing_secret(uow)


def traccar_position(
    unique_id: str, fix_time: datetime, *, speed_knots: float = 27.0, **attributes: Any
) -> dict[str, Any]:
    """A position forward as Traccar 6 sends it (`forward.type=json`)."""
    return {
        "position": {
            "id": secrets.randbelow(10**6),
            "attributes": {
                "batteryLevel": 85,
                "distance": 15.4,
                "totalDistance": 812500.5,
                "motion": True,
                "ignition": True,
                **attributes,
            },
            "deviceId": 10,
            "protocol": "teltonika",
            "serverTime": traccar_time(fix_time + timedelta(seconds=2)),
            "deviceTime": traccar_time(fix_time),
            "fixTime": traccar_time(fix_time),
            "outdated": False,
            "valid": True,
            "latitude": 47.3769,
            "longitude": 8.5417,
            "altitude": 408.0,
            "speed": speed_knots,
            "course": 180.0,
            "address": None,
            "accuracy": 0.0,
            "network": None,
            "geofenceIds": None,
        },
        "device": traccar_device(unique_id),
    }


def traccar_device(unique_id: str) -> dict[str, Any]:
    return {
        "id": 10,
        "attributes": {},
        "groupId": 0,
        "calendarId": 0,
        "name": "Service van 3",
        "uniqueId": unique_id,
        "status": "online",
        "lastUpdate": "2026-11-22T14:30:00.000+00:00",
        "positionId": 12345,
        "phone": None,
        "model": "FMC130",
        "contact": None,
        "category": "van",
        "disabled": False,
        "expirationTime": None,
    }


def traccar_event(
    unique_id: str, fix_time: datetime, event_type: str = "alarm", **attributes: Any
) -> dict[str, Any]:
    """An event forward: the event, its position and the device."""
    payload = traccar_position(unique_id, fix_time, **attributes)
    payload["event"] = {
        "id": 43334,
        "attributes": {"alarm": "overspeed"} if event_type == "alarm" else {},
        "deviceId": 10,
        "type": event_type,
        "eventTime": traccar_time(fix_time),
        "positionId": payload["position"]["id"],
        "geofenceId": 0,
        "maintenanceId": 0,
    }
    return payload


def signed(secret: str, body: str, slug: str, *, msg_id: str | None = None) -> dict[str, str]:
    """Standard Webhooks headers for `body`, plus the tenant header."""
    msg_id = msg_id or f"msg_{secrets.token_hex(8)}"
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, now, body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "X-Pitwall-Tenant": slug,
        "Content-Type": "application/json",
    }


def batch_body(readings: list[dict[str, Any]]) -> str:
    return json.dumps(readings)


async def reading_count(db: Database, tenant_id: int, vehicle_id: int | None = None) -> int:
    async with db.read(tenant_id) as session:
        query = select(func.count()).select_from(TelemetryReading)
        if vehicle_id is not None:
            query = query.where(TelemetryReading.vehicle_id == vehicle_id)
        return int(await session.scalar(query) or 0)


async def vehicle_state(db: Database, tenant_id: int, vehicle_id: int) -> Vehicle:
    async with db.read(tenant_id) as session:
        vehicle = await session.get(Vehicle, vehicle_id)
        assert vehicle is not None
        return vehicle


async def alerts(
    db: Database, tenant_id: int, vehicle_id: int, status: str | None = None
) -> list[VehicleAlert]:
    async with db.read(tenant_id) as session:
        query = select(VehicleAlert).where(VehicleAlert.vehicle_id == vehicle_id).order_by(VehicleAlert.id)
        if status:
            query = query.where(VehicleAlert.status == status)
        return list((await session.scalars(query)).all())


async def open_conditions(db: Database, tenant_id: int, vehicle_id: int) -> dict[str, str]:
    return {a.condition: a.severity for a in await alerts(db, tenant_id, vehicle_id, "OPEN")}


async def events(db: Database, tenant_id: int, *types: str) -> list[Event]:
    async with db.read(tenant_id) as session:
        query = select(Event).order_by(Event.id)
        if types:
            query = query.where(Event.type.in_(types))
        return list((await session.scalars(query)).all())


async def device(db: Database, tenant_id: int, unique_id: str) -> TelematicsDevice:
    async with db.read(tenant_id) as session:
        found = await session.scalar(select(TelematicsDevice).where(TelematicsDevice.unique_id == unique_id))
        assert found is not None
        return found
