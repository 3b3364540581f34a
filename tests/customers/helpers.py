"""Helpers for the CRM tests: customers made through the real service, pages fetched, rows read back."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from ops.auth.actor import Actor
from ops.customers.models import Consent, Customer, Interaction
from ops.customers.service import CustomerData, create_customer
from ops.db import Database, utcnow
from ops.events import Event
from ops.sales.models import CatalogTrim, Deal, Lead, Quote
from tests.factories import TenantHandle


async def new_customer(shop: TenantHandle, by: Actor | None = None, **values: Any) -> Customer:
    data = {"first_name": "Anna", "last_name": "Muster", **values}
    async with shop.db.uow(by or shop.admin.actor) as uow:
        return await create_customer(uow, CustomerData.from_mapping(data))


async def customers(db: Database, tenant_id: int) -> list[Customer]:
    async with db.read(tenant_id) as session:
        return list((await session.scalars(select(Customer).order_by(Customer.id))).all())


async def customer_count(db: Database, tenant_id: int) -> int:
    async with db.read(tenant_id) as session:
        return int(await session.scalar(select(func.count()).select_from(Customer)) or 0)


async def stored(db: Database, tenant_id: int, customer_id: int) -> Customer:
    async with db.read(tenant_id) as session:
        return (await session.execute(select(Customer).where(Customer.id == customer_id))).scalar_one()


async def consents(db: Database, tenant_id: int, customer_id: int) -> list[Consent]:
    async with db.read(tenant_id) as session:
        query = select(Consent).where(Consent.customer_id == customer_id).order_by(Consent.id)
        return list((await session.scalars(query)).all())


async def interactions(db: Database, tenant_id: int, customer_id: int) -> list[Interaction]:
    async with db.read(tenant_id) as session:
        query = select(Interaction).where(Interaction.customer_id == customer_id).order_by(Interaction.id)
        return list((await session.scalars(query)).all())


async def events(db: Database, tenant_id: int, *types: str) -> list[Event]:
    async with db.read(tenant_id) as session:
        query = select(Event).order_by(Event.id)
        if types:
            query = query.where(Event.type.in_(types))
        return list((await session.scalars(query)).all())


async def sales_history(
    shop: TenantHandle, customer_id: int, at: datetime | None = None
) -> tuple[Lead, Quote, Deal]:
    """A lead, an accepted quote and an open deal of the customer, written as rows: the sales areas'
    services are built by other areas, and the customer page only reads these tables. The lead is
    created at `at`, the quote an hour later, the deal two hours later."""
    start = at or utcnow()
    async with shop.db.uow(shop.admin.actor) as uow:
        session = uow.session
        trim = CatalogTrim(
            make="Skoda",
            model="Enyaq",
            year=2026,
            trim="85",
            body_style="SUV",
            fuel_type="ELECTRIC",
            transmission="AUTOMATIC",
            drivetrain="RWD",
            msrp=Decimal("52000.00"),
        )
        session.add(trim)
        await session.flush()
        lead = Lead(
            customer_id=customer_id,
            interest_trim_id=trim.id,
            interest_note="Enyaq 85 in grey",
            source="WALK_IN",
            stage="QUOTE",
            budget=Decimal("55000.00"),
            created_at=start,
        )
        session.add(lead)
        await session.flush()
        quote = Quote(
            number=1,
            lead_id=lead.id,
            customer_id=customer_id,
            trim_id=trim.id,
            status="ACCEPTED",
            vehicle_price=Decimal("52000.00"),
            vat_rate=Decimal("8.10"),
            net=Decimal("50000.00"),
            vat=Decimal("4050.00"),
            total=Decimal("54050.00"),
            created_at=start + timedelta(hours=1),
        )
        session.add(quote)
        await session.flush()
        deal = Deal(
            number=1,
            quote_id=quote.id,
            lead_id=lead.id,
            customer_id=customer_id,
            total=Decimal("54050.00"),
            gross_profit=Decimal("3100.00"),
            deposit_due=Decimal("5000.00"),
            created_at=start + timedelta(hours=2),
        )
        session.add(deal)
        await uow.commit()
    return lead, quote, deal
