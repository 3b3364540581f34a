"""Test data through the real services: tenants, users, vehicles, work orders."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ops.auth.actor import Actor
from ops.auth.service import create_user
from ops.customers.models import Customer
from ops.db import Database, utcnow
from ops.sales.models import CatalogTrim, Lead, StockUnit
from ops.tenants.models import Tenant
from ops.tenants.service import provision_tenant
from ops.vehicles.models import Vehicle
from ops.workshop.models import Bay, WorkOrder
from ops.workshop.service import (
    IN_BAY_STATUSES,
    NewWorkOrder,
    assign_work_order,
    create_work_order,
    move_work_order,
)

PASSWORD = "correct-horse-battery"
_vin_counter = itertools.count(1)
_stock_vin_counter = itertools.count(1)


def european_vin() -> str:
    """A VIN of a European maker (WMI WVW): no check digit to get right, unique per test run."""
    return f"WVWZZZ3CZ{next(_stock_vin_counter):08d}"


@dataclass
class UserHandle:
    actor: Actor
    email: str
    password: str = PASSWORD


@dataclass
class TenantHandle:
    db: Database
    tenant: Tenant
    admin: UserHandle
    users: dict[str, UserHandle] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.tenant.id

    async def user(self, role: str, *, locale: str | None = None, name: str | None = None) -> UserHandle:
        """A new user with this role (each call makes another one)."""
        email = f"{role}-{secrets.token_hex(4)}@{self.tenant.slug}.test"
        async with self.db.uow(self.admin.actor) as uow:
            user = await create_user(
                uow,
                email=email,
                name=name or role.replace("_", " ").title(),
                role=role,
                password=PASSWORD,
                locale=locale,
            )
        handle = UserHandle(
            Actor(self.id, user.id, user.name, role, locale=locale or self.tenant.locale), email
        )
        self.users.setdefault(role, handle)
        return handle

    async def vehicle(
        self, *, plate: str | None = None, make: str = "Skoda", model: str = "Octavia"
    ) -> Vehicle:
        async with self.db.uow(self.admin.actor) as uow:
            customer = Customer(
                first_name="Anna", last_name="Muster", email=f"c{secrets.token_hex(4)}@example.ch"
            )
            uow.session.add(customer)
            await uow.session.flush()
            vehicle = Vehicle(
                vin=f"TESTVIN{next(_vin_counter):010d}",
                plate=plate or f"ZH {secrets.randbelow(900000) + 100000}",
                make=make,
                model=model,
                year=2022,
                customer_id=customer.id,
            )
            uow.session.add(vehicle)
            await uow.commit()
        return vehicle

    async def work_order(
        self,
        *,
        status: str = "NEW",
        complaint: str = "Brakes squeal",
        by: Actor | None = None,
        priority: str = "NORMAL",
    ) -> WorkOrder:
        """A work order, moved along allowed transitions until it has `status`; one that goes into
        work on the way is first given a bay of its own, as a job in work must have one."""
        from ops.seed.data import path_to

        actor = by or self.admin.actor
        vehicle = await self.vehicle()
        async with self.db.uow(actor) as uow:
            work_order = await create_work_order(
                uow, NewWorkOrder(vehicle_id=vehicle.id, complaint=complaint, priority=priority)
            )
        path = path_to(status)
        if any(step in IN_BAY_STATUSES for step in path):
            async with self.db.uow(self.admin.actor) as uow:
                bay = Bay(name=f"Lift #{work_order.number}", kind="LIFT")
                uow.session.add(bay)
                await uow.session.flush()
                work_order = await assign_work_order(uow, work_order.id, None, bay.id, work_order.version)
        for step in path:
            async with self.db.uow(actor) as uow:
                work_order = await move_work_order(uow, work_order.id, step, work_order.version)
        return work_order

    async def trim(
        self,
        *,
        make: str = "Skoda",
        model: str = "Octavia",
        year: int = 2025,
        trim: str = "Style",
        body_style: str = "WAGON",
        fuel_type: str = "GASOLINE",
        msrp: str = "38500.00",
    ) -> CatalogTrim:
        async with self.db.uow(self.admin.actor) as uow:
            row = CatalogTrim(
                make=make,
                model=model,
                year=year,
                trim=trim,
                body_style=body_style,
                fuel_type=fuel_type,
                transmission="AUTOMATIC",
                drivetrain="FWD",
                msrp=Decimal(msrp),
            )
            uow.session.add(row)
            await uow.commit()
        return row

    async def stock_unit(
        self,
        *,
        trim: CatalogTrim | None = None,
        status: str = "AVAILABLE",
        list_price: str = "36900.00",
        cost: str = "31000.00",
        mileage_km: int = 12,
        colour: str = "Moon white",
        days_in_stock: int | None = 10,
        vin: str | None = None,
    ) -> StockUnit:
        """A unit inserted as it is (holds and deals go through ops/sales/stock/service.py)."""
        trim = trim or await self.trim()
        async with self.db.uow(self.admin.actor) as uow:
            unit = StockUnit(
                vin=vin or european_vin(),
                trim_id=trim.id,
                colour=colour,
                mileage_km=mileage_km,
                cost=Decimal(cost),
                list_price=Decimal(list_price),
                location="Showroom",
                arrived_on=None
                if days_in_stock is None
                else datetime.now(ZoneInfo(self.tenant.timezone)).date() - timedelta(days=days_in_stock),
                status=status,
                created_at=utcnow(),
            )
            uow.session.add(unit)
            await uow.commit()
        return unit

    async def lead(
        self, *, owner: UserHandle | None = None, first_name: str = "Lea", last_name: str = "Keller"
    ) -> Lead:
        """An open lead of a new customer, inserted directly."""
        async with self.db.uow(self.admin.actor) as uow:
            customer = Customer(
                first_name=first_name, last_name=last_name, email=f"c{secrets.token_hex(5)}@example.ch"
            )
            uow.session.add(customer)
            await uow.session.flush()
            lead = Lead(
                customer_id=customer.id,
                source="WALK_IN",
                owner_id=owner.actor.user_id if owner else None,
                stage="QUALIFIED",
            )
            uow.session.add(lead)
            await uow.commit()
        return lead


class TenantFactory:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def tenant(self, *, plan: str = "PROFESSIONAL", country: str = "CH") -> TenantHandle:
        slug = f"t-{secrets.token_hex(5)}"
        admin_email = f"admin@{slug}.test"
        provisioned = await provision_tenant(
            self.db,
            slug=slug,
            name=f"Garage {slug}",
            admin_email=admin_email,
            admin_name="Admin Person",
            admin_password=PASSWORD,
            country=country,
            plan=plan,
        )
        tenant = provisioned.tenant
        admin = UserHandle(
            Actor(tenant.id, provisioned.admin.id, "Admin Person", "admin", locale=tenant.locale), admin_email
        )
        return TenantHandle(self.db, tenant, admin, {"admin": admin})
