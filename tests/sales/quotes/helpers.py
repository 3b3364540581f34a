"""A showroom with a catalog, a rep and a manager; quotes built, priced and sent through the services."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select, update

from ops.customers.models import Customer
from ops.db import Database
from ops.events import Event
from ops.mail.models import OutgoingMail
from ops.sales.models import CatalogOption, CatalogTrim, Lead, OptionGroup, Quote
from ops.sales.quotes.service import QuoteLinks, QuoteTerms, create_quote, send_quote, update_quote
from tests.factories import TenantHandle, UserHandle

SECRET = "test-secret-key-not-for-production"
BASE_URL = "http://pitwall.test"
LINK = re.compile(r"http://pitwall\.test/quote/([A-Za-z0-9_.\-]+)")
LINKS = QuoteLinks(SECRET, BASE_URL)


@dataclass
class Showroom:
    shop: TenantHandle
    rep: UserHandle
    manager: UserHandle

    @property
    def db(self) -> Database:
        return self.shop.db


async def showroom(shop: TenantHandle) -> Showroom:
    rep = shop.users.get("sales_rep") or await shop.user("sales_rep", locale="en", name="Rita Rep")
    manager = shop.users.get("sales_manager") or await shop.user(
        "sales_manager", locale="en", name="Max Manager"
    )
    return Showroom(shop, rep, manager)


async def configurable_trim(shop: TenantHandle) -> CatalogTrim:
    """A trim at 40,000 with Paint (exactly one), Wheels (up to one), Packages and Extras."""
    trim = await shop.trim(make="Skoda", model="Kodiaq", trim="Sportline", msrp="40000.00")
    async with shop.db.uow(shop.admin.actor) as uow:
        groups = {}
        for position, (name, low, high) in enumerate(
            [("Paint", 1, 1), ("Wheels", 0, 1), ("Packages", 0, 3), ("Extras", 0, 5)]
        ):
            group = OptionGroup(
                trim_id=trim.id, name=name, min_select=low, max_select=high, position=position
            )
            uow.session.add(group)
            await uow.session.flush()
            groups[name] = group.id
        for group, code, name, price, cost, requires, conflicts in [
            ("Paint", "WHITE", "Moon white", "0.00", "0.00", [], []),
            ("Paint", "BLUE", "Race blue metallic", "950.00", "600.00", [], []),
            ("Wheels", "W18", "18-inch wheels", "0.00", "0.00", [], []),
            ("Wheels", "W19", "19-inch wheels", "1200.00", "800.00", [], []),
            ("Packages", "SPORT", "Sport package", "2500.00", "1700.00", ["W19"], []),
            ("Extras", "TOWBAR", "Towbar", "1100.00", "700.00", [], ["DIFFUSER"]),
            ("Extras", "DIFFUSER", "Rear diffuser", "600.00", "350.00", [], []),
        ]:
            uow.session.add(
                CatalogOption(
                    group_id=groups[group],
                    code=code,
                    name=name,
                    price=Decimal(price),
                    cost=Decimal(cost),
                    requires=requires,
                    conflicts=conflicts,
                )
            )
        await uow.commit()
    return trim


async def lead_for(
    room: Showroom, *, language: str = "en", email: str | None = "keep", first_name: str = "Lea"
) -> Lead:
    lead = await room.shop.lead(owner=room.rep, first_name=first_name)
    values: dict[str, object] = {"preferred_language": language}
    if email != "keep":
        values["email"] = email
    async with room.db.uow(room.shop.admin.actor) as uow:
        await uow.session.execute(update(Customer).where(Customer.id == lead.customer_id).values(**values))
        await uow.commit()
    return lead


async def unit_quote(
    room: Showroom,
    *,
    list_price: str = "40000.00",
    cost: str = "34000.00",
    language: str = "en",
    lead: Lead | None = None,
) -> Quote:
    """A DRAFT quote of a stock unit (list price and cost as given) for a new lead of the rep."""
    lead = lead or await lead_for(room, language=language)
    unit = await room.shop.stock_unit(list_price=list_price, cost=cost)
    async with room.db.uow(room.rep.actor) as uow:
        return await create_quote(uow, lead.id, stock_unit_id=unit.id)


def terms(**values: object) -> QuoteTerms:
    return QuoteTerms(**values)  # type: ignore[arg-type]


async def with_terms(room: Showroom, quote: Quote, **values: object) -> Quote:
    async with room.db.uow(room.rep.actor) as uow:
        return await update_quote(uow, quote.id, terms(**values), quote.version)


async def send(room: Showroom, quote: Quote) -> str:
    """Send the quote as the rep; returns the token of the link in the queued mail."""
    async with room.db.uow(room.rep.actor) as uow:
        await send_quote(uow, quote.id, quote.version, links=LINKS)
    mail = await last_mail(room.db, room.shop.id)
    match = LINK.search(mail.text)
    assert match, mail.text
    return match.group(1)


async def reload(db: Database, tenant_id: int, quote_id: int) -> Quote:
    async with db.read(tenant_id) as session:
        return (await session.execute(select(Quote).where(Quote.id == quote_id))).scalar_one()


async def last_mail(db: Database, tenant_id: int) -> OutgoingMail:
    async with db.read(tenant_id) as session:
        return (
            await session.execute(select(OutgoingMail).order_by(OutgoingMail.id.desc()).limit(1))
        ).scalar_one()


async def count(db: Database, tenant_id: int, model: type) -> int:
    async with db.read(tenant_id) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def events_of(db: Database, tenant_id: int, *types: str) -> list[Event]:
    async with db.read(tenant_id) as session:
        query = select(Event).where(Event.type.like("quote.%")).order_by(Event.id)
        if types:
            query = query.where(Event.type.in_(types))
        return list((await session.scalars(query)).all())
