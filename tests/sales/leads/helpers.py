"""Helpers for the lead tests: customers and leads made directly or through the real service, rows read
back, and the board's markup taken apart."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from ops.customers.models import Customer
from ops.db import Database, utcnow
from ops.events import Event
from ops.sales.leads.service import create_lead, move_lead
from ops.sales.models import Lead, LeadStageChange, Quote, StockUnit, TestDrive
from tests.factories import PASSWORD, TenantHandle, UserHandle
from tests.web import csrf_from

BOARD = "/sales/board"


async def customer(shop: TenantHandle, **values: Any) -> Customer:
    fields = {
        "first_name": "Anna",
        "last_name": "Muster",
        "email": f"c{secrets.token_hex(5)}@example.ch",
        **values,
    }
    async with shop.db.uow(shop.admin.actor) as uow:
        row = Customer(**fields)
        uow.session.add(row)
        await uow.commit()
    return row


async def new_lead(
    shop: TenantHandle, by: UserHandle | None = None, *, stage: str = "NEW", **values: Any
) -> Lead:
    """A lead captured through `create_lead`, then moved forward to `stage` in one step."""
    actor = (by or shop.admin).actor
    if "customer_id" not in values:
        values["customer_id"] = (await customer(shop)).id
    data = {"source": "WALK_IN", "interest_note": "Family estate car", **values}
    async with shop.db.uow(actor) as uow:
        lead = await create_lead(uow, data)
    if stage != "NEW":
        async with shop.db.uow(actor) as uow:
            lead = await move_lead(uow, lead.id, stage, lead.version)
    return lead


async def accepted_quote(shop: TenantHandle, lead: Lead, status: str = "ACCEPTED") -> Quote:
    """A quote row for the lead, inserted as it is (the QUOTES area builds real ones)."""
    async with shop.db.uow(shop.admin.actor) as uow:
        quote = Quote(
            number=secrets.randbelow(10**6),
            lead_id=lead.id,
            customer_id=lead.customer_id,
            status=status,
            vehicle_price=Decimal("36900.00"),
            vat_rate=Decimal("8.10"),
            total=Decimal("39888.90"),
        )
        uow.session.add(quote)
        await uow.commit()
    return quote


async def returned_drive(
    shop: TenantHandle, lead: Lead, unit: StockUnit, status: str = "RETURNED"
) -> TestDrive:
    starts = utcnow() - timedelta(hours=3)
    async with shop.db.uow(shop.admin.actor) as uow:
        drive = TestDrive(
            lead_id=lead.id,
            stock_unit_id=unit.id,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=30),
            status=status,
        )
        uow.session.add(drive)
        await uow.commit()
    return drive


async def set_lead(shop: TenantHandle, lead_id: int, **values: Any) -> None:
    """Change a lead's columns directly (dates in the past, a stage long closed)."""
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(update(Lead).where(Lead.id == lead_id).values(**values))
        await uow.commit()


async def stored_lead(db: Database, tenant_id: int, lead_id: int) -> Lead:
    async with db.read(tenant_id) as session:
        return (await session.execute(select(Lead).where(Lead.id == lead_id))).scalar_one()


async def leads_of(db: Database, tenant_id: int) -> list[Lead]:
    async with db.read(tenant_id) as session:
        return list((await session.scalars(select(Lead).order_by(Lead.id))).all())


async def history(db: Database, tenant_id: int, lead_id: int) -> list[LeadStageChange]:
    async with db.read(tenant_id) as session:
        query = select(LeadStageChange).where(LeadStageChange.lead_id == lead_id).order_by(LeadStageChange.id)
        return list((await session.scalars(query)).all())


async def events_of(db: Database, tenant_id: int, type: str) -> list[Event]:
    async with db.read(tenant_id) as session:
        query = select(Event).where(Event.type == type).order_by(Event.id)
        return list((await session.scalars(query)).all())


def columns_of(page: str) -> dict[str, list[int]]:
    """Each column's lead ids, top to bottom, by stage, in page order."""
    return {
        stage: [int(n) for n in re.findall(r'<li class="card[^"]*" id="lead-(\d+)"', body)]
        for stage, body in re.findall(r'<ol class="cards" id="cards-([A-Z_]+)"[^>]*>(.*?)</ol>', page, re.S)
    }


def counts_of(page: str) -> dict[str, int]:
    return {
        stage: int(n)
        for stage, n in re.findall(r'<span class="count" id="count-([A-Z_]+)"[^>]*>(\d+)</span>', page)
    }


def card_of(page: str, lead_id: int) -> str:
    card = rf'<li class="card[^"]*" id="lead-{lead_id}".*?(?=<li class="card|</ol>|\Z)'
    match = re.search(card, page, re.S)
    assert match, f"card lead-{lead_id} is not on the board"
    return match.group(0)


def move_targets(card: str) -> list[str]:
    menu = re.search(r'<select[^>]*name="stage"[^>]*>(.*?)</select>', card, re.S)
    assert menu, "card has no move menu"
    return [value for value in re.findall(r'<option value="([^"]*)"', menu.group(1)) if value]


async def sign_in(client, email: str) -> str:  # type: ignore[no-untyped-def]
    """Sign a test client in; the CSRF token for form posts, read from the pipeline board (or the
    error page a role without it gets), so these tests do not depend on other areas' pages."""
    page = await client.get("/login")
    token = csrf_from(await page.get_data(as_text=True))
    response = await client.post("/login", form={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, await response.get_data(as_text=True)
    page = await client.get(BOARD)
    return csrf_from(await page.get_data(as_text=True))
