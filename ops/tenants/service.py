"""Provisioning tenants: one transaction creates the tenant, its admin, categories and settings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ops.auth.actor import Actor, RuleViolation
from ops.auth.models import User
from ops.auth.service import NAME_MAX_LENGTH, check_new_password, hash_password_off_loop, normalise_email
from ops.db import Database, UnitOfWork
from ops.events import record
from ops.i18n import gettext as _
from ops.mail.service import queue_welcome_mail
from ops.tenants.models import PLANS, Counter, Tenant
from ops.workshop.models import DEFAULT_CATEGORIES, WorkOrderCategory

SLUG_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{1,58}[a-z0-9]")
COUNTRY_PATTERN = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class CountryDefaults:
    timezone: str
    currency: str
    locale: str
    distance_unit: str
    fuel_unit: str
    vat_rate: Decimal
    labour_rate: Decimal


COUNTRY_DEFAULTS = {
    "CH": CountryDefaults("Europe/Zurich", "CHF", "de_CH", "km", "liters", Decimal("8.1"), Decimal("165")),
    "US": CountryDefaults("America/New_York", "USD", "en", "miles", "gallons", Decimal("0"), Decimal("120")),
}


@dataclass(frozen=True)
class Provisioned:
    tenant: Tenant
    admin: User


async def provision_tenant(
    db: Database,
    *,
    slug: str,
    name: str,
    admin_email: str,
    admin_name: str,
    admin_password: str,
    country: str = "US",
    plan: str = "STARTER",
    sign_in_url: str | None = None,
) -> Provisioned:
    """Create a tenant with everything it needs to be used, all or nothing; the admin's welcome mail
    (how to sign in at `sign_in_url`) goes out once it committed."""
    # fullmatch: `$` in `match` would also accept a slug with a trailing newline.
    if not SLUG_PATTERN.fullmatch(slug):
        raise RuleViolation(_("Use 3 to 60 lower-case letters, digits and dashes."), field="slug")
    name, admin_name, country = name.strip(), admin_name.strip(), country.strip().upper()
    for field, value in (("name", name), ("admin_name", admin_name)):
        if not value:
            raise RuleViolation(_("Enter a name."), field=field)
        if len(value) > NAME_MAX_LENGTH:
            raise RuleViolation(_("Use at most %(max)s characters.", max=NAME_MAX_LENGTH), field=field)
    if not COUNTRY_PATTERN.fullmatch(country):
        raise RuleViolation(_("Use the two-letter country code, e.g. CH."), field="country")
    if plan not in PLANS:
        raise RuleViolation(_("Choose one of the plans."), field="plan")
    check_new_password(admin_password, field="admin_password")
    try:
        admin_email = normalise_email(admin_email)
    except RuleViolation as error:
        raise RuleViolation(str(error), field="admin_email") from error
    password_hash = await hash_password_off_loop(admin_password)
    defaults = COUNTRY_DEFAULTS.get(country, COUNTRY_DEFAULTS["US"])
    try:
        return await _insert_tenant(
            db, slug, name, admin_email, admin_name, password_hash, country, plan, defaults, sign_in_url
        )
    except IntegrityError as error:
        # Another provisioning committed the same slug or email after our checks: name the field.
        async with db.system() as session:
            await _refuse_taken(session, slug, admin_email)
        raise error


async def _insert_tenant(
    db: Database,
    slug: str,
    name: str,
    admin_email: str,
    admin_name: str,
    password_hash: str,
    country: str,
    plan: str,
    defaults: CountryDefaults,
    sign_in_url: str | None,
) -> Provisioned:
    async with UnitOfWork(db, Actor.system(0), new_tenant=True) as uow:
        session = uow.session
        await _refuse_taken(session, slug, admin_email)
        tenant = Tenant(
            slug=slug,
            name=name,
            plan=plan,
            country=country,
            timezone=defaults.timezone,
            currency=defaults.currency,
            locale=defaults.locale,
            distance_unit=defaults.distance_unit,
            fuel_unit=defaults.fuel_unit,
            vat_rate=defaults.vat_rate,
            labour_rate=defaults.labour_rate,
        )
        session.add(tenant)
        await session.flush()
        uow.enter_tenant(Actor.system(tenant.id, "provisioning"))
        admin = User(
            email=admin_email,
            name=admin_name,
            role="admin",
            password_hash=password_hash,
        )
        session.add(admin)
        session.add(Counter(name="work_order", value=0))
        session.add_all(WorkOrderCategory(name=category) for category in DEFAULT_CATEGORIES)
        await session.flush()
        record(uow, "tenant.provisioned", {"id": tenant.id, "slug": slug, "plan": plan}, topics=["kpi"])
        queue_welcome_mail(uow, admin, tenant, sign_in_url=sign_in_url, first_admin=True)
        await uow.commit()
        return Provisioned(tenant, admin)


async def _refuse_taken(session: AsyncSession, slug: str, admin_email: str) -> None:
    if await session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise RuleViolation(_("This slug is taken."), field="slug")
    if await session.scalar(select(User.id).where(User.email == admin_email)) is not None:
        raise RuleViolation(_("A user with this email already exists."), field="admin_email")


async def tenant_by_slug(db: Database, slug: str) -> Tenant | None:
    async with db.system() as session:
        return await session.scalar(select(Tenant).where(Tenant.slug == slug))


async def tenant_by_id(db: Database, tenant_id: int) -> Tenant | None:
    async with db.system() as session:
        return await session.scalar(select(Tenant).where(Tenant.id == tenant_id))


async def next_number(uow: UnitOfWork, name: str) -> int:
    """The next number of a per-tenant sequence (work orders, invoices, quotes, deals), gap-free
    under concurrent use."""
    session = uow.session
    # The UPDATE takes the counter's row lock, so concurrent callers queue up and get distinct numbers.
    statement = (
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    )
    value = (await session.execute(statement)).scalar_one_or_none()
    if value is not None:
        return int(value)
    # The tenant's first number of this kind. Two first users at once: one insert wins, the other
    # waits for it, fails on the unique name and takes the next number like everyone else.
    try:
        async with session.begin_nested():
            session.add(Counter(name=name, value=1))
        return 1
    except IntegrityError:
        return int((await session.execute(statement)).scalar_one())
