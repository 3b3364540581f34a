"""Test data through the real services: tenants, users, vehicles, work orders."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field

from ops.auth.actor import Actor
from ops.auth.service import create_user
from ops.customers.models import Customer
from ops.db import Database
from ops.tenants.models import Tenant
from ops.tenants.service import provision_tenant
from ops.vehicles.models import Vehicle
from ops.workshop.models import WorkOrder
from ops.workshop.service import NewWorkOrder, create_work_order, move_work_order

PASSWORD = "correct-horse-battery"
_vin_counter = itertools.count(1)


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
        """A work order, moved along allowed transitions until it has `status`."""
        from ops.seed import _path_to

        actor = by or self.admin.actor
        vehicle = await self.vehicle()
        async with self.db.uow(actor) as uow:
            work_order = await create_work_order(
                uow, NewWorkOrder(vehicle_id=vehicle.id, complaint=complaint, priority=priority)
            )
        for step in _path_to(status):
            async with self.db.uow(actor) as uow:
                work_order = await move_work_order(uow, work_order.id, step, work_order.version)
        return work_order


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
