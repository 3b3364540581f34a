"""Provisioning tenants: one transaction creates the tenant, its admin, categories and settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.ch import vat as swiss_vat

from ops.auth.actor import Actor, Conflict, RuleViolation
from ops.auth.models import User
from ops.auth.service import NAME_MAX_LENGTH, check_new_password, hash_password_off_loop, normalise_email
from ops.db import Database, UnitOfWork
from ops.events import record
from ops.i18n import gettext as _
from ops.mail.service import queue_welcome_mail
from ops.sales.models import Quote
from ops.tenants.models import PLANS, Counter, Tenant
from ops.tenants.queries import plan_usage
from ops.workshop.models import DEFAULT_CATEGORIES, Invoice, WorkOrderCategory

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


# The settings page's choices. The time zone select offers the region's zones; any IANA zone is valid.
TIMEZONES = (
    "Europe/Zurich",
    "Europe/Vaduz",
    "Europe/Berlin",
    "Europe/Vienna",
    "Europe/Paris",
    "Europe/Rome",
    "Europe/London",
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
)
SETTINGS_LOCALES = ("en", "de")
CURRENCIES = ("CHF", "EUR", "USD")
DISTANCE_UNITS = ("km", "miles")
FUEL_UNITS = ("liters", "gallons")
COUNTRIES = ("CH", "LI", "DE", "AT", "FR", "IT", "US")
SWITCHES = ("maintenance_reminders", "email_notifications", "auto_work_order_numbering")
# (lowest, highest) for each number of the form.
DECIMAL_RANGES = {
    "vat_rate": (Decimal("0"), Decimal("30")),
    "labour_rate": (Decimal("0"), Decimal("9999.99")),
    "discount_approval_percent": (Decimal("0"), Decimal("100")),
    "margin_floor_percent": (Decimal("0"), Decimal("100")),
}
WHOLE_RANGES = {"quote_valid_days": (1, 90), "payment_terms_days": (0, 120)}
TEXT_LIMITS = {"street": 120, "postal_code": 12, "city": 80}


class InvalidSettings(RuleViolation):
    """One or more fields of the settings page are not valid; `errors` has a message per field."""

    def __init__(self, errors: dict[str, str]) -> None:
        first = next(iter(errors))
        super().__init__(errors[first], field=first)
        self.errors = errors


def language_of(locale: str) -> str:
    """The settings page's language for a stored locale (`de_CH` -> `de`)."""
    return locale.split("_")[0]


def _decimal_in_range(text: str, lowest: Decimal, highest: Decimal) -> Decimal | str:
    """The number typed (a decimal comma too), or the message saying why it is refused."""
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        return _("Enter a number, e.g. 8.1.")
    if not value.is_finite() or int(value.as_tuple().exponent) < -2:
        return _("Enter a number with at most two decimals.")
    if not lowest <= value <= highest:
        return _("Enter a number from %(low)s to %(high)s.", low=lowest, high=highest)
    return value


def _settings_values(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    name = form.get("name", "").strip()
    if not name:
        errors["name"] = _("Enter a name.")
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = _("Use at most %(max)s characters.", max=NAME_MAX_LENGTH)
    values["name"] = name
    timezone = form.get("timezone", "").strip()
    try:
        ZoneInfo(timezone)
        values["timezone"] = timezone
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = _("Choose a time zone from the list.")
    for field, choices in (
        ("locale", SETTINGS_LOCALES),
        ("currency", CURRENCIES),
        ("distance_unit", DISTANCE_UNITS),
        ("fuel_unit", FUEL_UNITS),
        ("country", COUNTRIES),
    ):
        value = form.get(field, "")
        if value in choices:
            values[field] = value
        else:
            errors[field] = _("Choose one of the options.")
    for field, (lowest, highest) in DECIMAL_RANGES.items():
        number = _decimal_in_range(form.get(field, ""), lowest, highest)
        if isinstance(number, str):
            errors[field] = number
        else:
            values[field] = number
    for field, (low, high) in WHOLE_RANGES.items():
        text = form.get(field, "").strip()
        if not text.isdigit() or not low <= int(text) <= high:
            errors[field] = _("Enter a whole number from %(low)s to %(high)s.", low=low, high=high)
        else:
            values[field] = int(text)
    for field, limit in TEXT_LIMITS.items():
        text = form.get(field, "").strip()
        if len(text) > limit:
            errors[field] = _("Use at most %(max)s characters.", max=limit)
        values[field] = text or None
    if (
        values.get("country") == "CH"
        and values["postal_code"]
        and not re.fullmatch(r"\d{4}", values["postal_code"])
    ):
        errors["postal_code"] = _("A Swiss postal code has four digits, e.g. 8004.")
    vat_number = form.get("vat_number", "").strip()
    if vat_number and not swiss_vat.is_valid(vat_number):
        errors["vat_number"] = _("Enter the Swiss VAT number as on the register, e.g. CHE-123.456.788 MWST.")
    values["vat_number"] = swiss_vat.format(vat_number) if vat_number and "vat_number" not in errors else None
    for field in SWITCHES:
        values[field] = form.get(field) == "on"
    return values, errors


async def save_dealership_settings(
    uow: UnitOfWork, form: Mapping[str, str], expected_version: int | None
) -> Tenant:
    """The admin saves the dealership's settings: all of them or, with a message per field, none.

    Conflict when another admin saved since the form was loaded. The currency cannot change once
    quotes or invoices exist: their stored amounts would silently change meaning.
    """
    uow.actor.require("tenant.manage")
    session = uow.session
    tenant = (
        await session.execute(select(Tenant).where(Tenant.id == uow.actor.tenant_id).with_for_update())
    ).scalar_one()
    if expected_version != tenant.version:
        raise Conflict(_("Another administrator saved these settings in the meantime."))
    values, errors = _settings_values(form)
    if values.get("locale") == language_of(tenant.locale):
        # `de` and the stored `de_CH` are the same choice: keep the region the tenant was set up with.
        values["locale"] = tenant.locale
    if "currency" in values and values["currency"] != tenant.currency:
        quoted = await session.scalar(select(Quote.id).limit(1))
        if quoted is not None or await session.scalar(select(Invoice.id).limit(1)) is not None:
            errors["currency"] = _(
                "The currency cannot change: quotes or invoices exist, "
                "and their amounts are stored in %(currency)s.",
                currency=tenant.currency,
            )
    if errors:
        raise InvalidSettings(errors)
    changed = {name: value for name, value in values.items() if getattr(tenant, name) != value}
    if not changed:
        return tenant
    before = {name: getattr(tenant, name) for name in changed}
    for name, value in changed.items():
        setattr(tenant, name, value)
    tenant.version += 1
    await session.flush()
    # Every web process drops its cached tenant context when it sees this event (ops/app.py).
    record(
        uow,
        "tenant.settings_changed",
        {
            "id": tenant.id,
            "version": tenant.version,
            "changed": {name: [_plain(before[name]), _plain(value)] for name, value in changed.items()},
        },
        topics=[],
    )
    await uow.commit()
    return tenant


def _plain(value: Any) -> Any:
    # Event payloads are JSON: decimals travel as strings, never as floats.
    return str(value) if isinstance(value, Decimal) else value


async def change_plan(uow: UnitOfWork, plan: str) -> Tenant:
    """The admin moves the dealership to another plan; a plan whose limits are below what is in use
    now is refused (DOMAIN.md Plans), naming what to reduce first."""
    uow.actor.require("tenant.manage")
    if plan not in PLANS:
        raise RuleViolation(_("Choose one of the plans."), field="plan")
    session = uow.session
    # The row lock also serialises this with adding users and vehicles, which check the limits under it.
    tenant = (
        await session.execute(select(Tenant).where(Tenant.id == uow.actor.tenant_id).with_for_update())
    ).scalar_one()
    if plan == tenant.plan:
        return tenant
    usage = await plan_usage(session, plan)
    # Every limit that is over, in one answer: naming only the first sends the admin round twice.
    over = []
    if usage.max_users is not None and usage.users > usage.max_users:
        over.append(
            _(
                "The %(plan)s plan allows %(limit)s users and %(count)s are active. Deactivate users first.",
                plan=plan.title(),
                limit=usage.max_users,
                count=usage.users,
            )
        )
    if usage.max_vehicles is not None and usage.vehicles > usage.max_vehicles:
        over.append(
            _(
                "The %(plan)s plan allows %(limit)s vehicles and there are %(count)s. "
                "Retire vehicle profiles first.",
                plan=plan.title(),
                limit=usage.max_vehicles,
                count=usage.vehicles,
            )
        )
    if over:
        raise RuleViolation(" ".join(over), field="plan")
    record(uow, "tenant.plan_changed", {"id": tenant.id, "from": tenant.plan, "to": plan}, topics=[])
    tenant.plan = plan
    await uow.commit()
    return tenant
