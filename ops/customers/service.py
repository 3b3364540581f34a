"""Customer use cases: create and edit (validated and deduplicated), consent, interactions, and the
customer's rights to a copy of their data and to erasure.

Duplicates are caught by email and by phone (E.164) within the tenant. Email has a unique constraint on
(tenant_id, email), so two reps saving the same person at the same moment cannot both win: the loser's
INSERT fails and is answered as DuplicateCustomer naming the winner. Phone has no constraint, so on
PostgreSQL the check and the write are serialised per (tenant, number) with a transaction-scoped
advisory lock; SQLite serialises every writer already (BEGIN IMMEDIATE), so the check alone is enough.

Event payloads carry ids, codes and the names of changed fields, never personal data: events are the
audit trail and are kept, so an erased customer must not live on in them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from babel import Locale
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.ch import uid as swiss_uid
from stdnum.exceptions import InvalidChecksum, ValidationError

from ops.auth.actor import Conflict, NotFound, RuleViolation
from ops.auth.models import User
from ops.customers.models import (
    CONSENT_CHANNELS,
    CUSTOMER_STATUSES,
    CUSTOMER_TYPES,
    INTERACTION_CHANNELS,
    INTERACTION_STATUSES,
    INTERACTION_TYPES,
    Consent,
    Customer,
    Interaction,
)
from ops.db import UnitOfWork, utcnow
from ops.events import record
from ops.i18n import current_locale, format_date
from ops.i18n import gettext as _
from ops.sales.models import Deal, Lead, Quote
from ops.tenants.models import Tenant
from ops.vehicles.models import Vehicle
from ops.workshop.models import Invoice, WorkOrder, WorkOrderLine

LANGUAGES = ("de", "fr", "it", "en")
# Interactions still waiting for someone: they stay on the owner's follow-up list.
OPEN_INTERACTION_STATUSES = ("OPEN", "IN_PROGRESS", "FOLLOW_UP_REQUIRED")
# People a customer can be assigned to: those who may edit customers.
OWNER_ROLES = ("admin", "sales_manager", "sales_rep", "service_advisor")
ERASED_NAME = "Erased"
MAX_AMOUNT = Decimal("9999999999.99")
MAX_INTERESTS = 10


def customer_topic(customer_id: int) -> str:
    return f"customer:{customer_id}"


# --- Validation with the libraries (DESIGN.md §7) ------------------------------------------------------


class InvalidCustomer(RuleViolation):
    """One or more fields are not valid; `errors` has a message per field."""

    def __init__(self, errors: dict[str, str], valid: dict[str, Any] | None = None) -> None:
        first = next(iter(errors))
        super().__init__(errors[first], field=first)
        self.errors = errors
        # The fields that were valid: enough to tell a duplicate before the rest is corrected.
        self.valid = valid or {}


class DuplicateCustomer(RuleViolation):
    """Another customer of the tenant has this email or phone number; nothing was saved. `errors` has
    the message next to that field and those of any other field still wrong, so the form marks all."""

    def __init__(self, existing_id: int, existing_name: str, by: str) -> None:
        message = (
            _("This looks like %(name)s (same email).", name=existing_name)
            if by == "email"
            else _("This looks like %(name)s (same phone number).", name=existing_name)
        )
        super().__init__(message, field=by)
        self.existing_id = existing_id
        self.existing_name = existing_name
        self.by = by
        self.errors = {by: message}

    def besides(self, errors: dict[str, str]) -> DuplicateCustomer:
        """The same duplicate, with the other fields' errors of the same submit marked too."""
        self.errors = {**errors, self.by: str(self)}
        return self


def normalise_email(value: str) -> str:
    """The address as stored and compared: validated, domain and local part in lower case.

    Mail servers treat local parts case-insensitively in practice, and `Anna@x.ch` and `anna@x.ch`
    are one customer at the counter. No DNS look-up: the showroom must work offline.
    """
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise RuleViolation(_("Enter a valid email address, such as anna@example.ch."), "email") from None
    return result.normalized.lower()


def normalise_phone(value: str, region: str) -> str:
    """E.164 (+41791234567); a number without a country code is read as one of `region`."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise RuleViolation(
            _("Enter a valid phone number; add the country code (+49 ...) for a foreign one."), "phone"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str | None) -> str:
    """A stored number as people write it: +41 79 123 45 67."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalise_uid(value: str) -> str:
    """A Swiss enterprise id, checksum-validated, stored formatted: CHE-123.456.789."""
    try:
        compact = swiss_uid.validate(value)
    except InvalidChecksum:
        raise RuleViolation(_("The UID's check digit does not match: look for a typo."), "uid") from None
    except ValidationError:
        raise RuleViolation(_("Enter the UID as CHE-123.456.789."), "uid") from None
    return str(swiss_uid.format(compact))


def _amount(value: Any, name: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float):
        raise TypeError("amounts are Decimal, never float")
    text_value = str(value).strip().replace("'", "").replace(" ", "")
    try:
        amount = Decimal(text_value)
    except InvalidOperation:
        raise RuleViolation(_("Enter an amount."), name) from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise RuleViolation(_("Enter an amount of zero or more."), name)
    if amount != amount.quantize(Decimal("0.01")):
        raise RuleViolation(_("Use at most two decimal places."), name)
    return amount


def _text(value: Any, name: str, *, max_length: int, required: bool = False) -> str | None:
    cleaned = " ".join(str(value or "").split())
    if not cleaned:
        if required:
            raise RuleViolation(_("This field is required."), name)
        return None
    if len(cleaned) > max_length:
        raise RuleViolation(_("Use at most %(max)s characters.", max=max_length), name)
    return cleaned


def _choice(value: Any, name: str, choices: tuple[str, ...], default: str) -> str:
    chosen = str(value or "").strip() or default
    if chosen not in choices:
        raise RuleViolation(_("Choose one of the options."), name)
    return chosen


def _country(value: Any, default: str) -> str:
    code = (str(value or "").strip() or default).upper()
    if len(code) != 2 or code not in Locale("en").territories:
        raise RuleViolation(_("Choose a country."), "country")
    return code


# Postal codes of the dealerships' neighbours, by country: how many digits, and one people know.
POSTAL_CODE_DIGITS = {
    "CH": (4, "8001"),
    "LI": (4, "9490"),
    "AT": (4, "1010"),
    "DE": (5, "80331"),
    "FR": (5, "75001"),
    "IT": (5, "20121"),
}
# Elsewhere: letters, digits, spaces and hyphens (SW1A 1AA, 1012 AB, 00-950), 2 to 10 of them.
OTHER_POSTAL_CODE = re.compile(r"[A-Z0-9][A-Z0-9 -]{0,8}[A-Z0-9]")


def _postal_code(value: Any, country: str | None) -> str | None:
    """A postal code as the address's country writes it; `country` None (not valid) checks the form
    every country shares."""
    code = " ".join(str(value or "").split()).upper()
    if not code:
        return None
    rule = POSTAL_CODE_DIGITS.get(country or "")
    if rule is not None:
        digits, example = rule
        if len(code) != digits or not code.isascii() or not code.isdigit():
            raise RuleViolation(
                _(
                    "Postal code for %(country)s: %(digits)s digits, such as %(example)s.",
                    country=Locale.parse(current_locale.get()).territories.get(country, country),
                    digits=digits,
                    example=example,
                ),
                "postal_code",
            )
    elif not OTHER_POSTAL_CODE.fullmatch(code):
        raise RuleViolation(_("Postal code: use 2 to 10 letters, digits, spaces or hyphens."), "postal_code")
    return code


def _interests(value: Any) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value or [])
    interests = [" ".join(str(item).split()) for item in items]
    interests = [item for item in interests if item]
    if len(interests) > MAX_INTERESTS:
        raise RuleViolation(_("List at most %(max)s interests.", max=MAX_INTERESTS), "vehicle_interests")
    if any(len(item) > 60 for item in interests):
        raise RuleViolation(_("Keep each interest under %(max)s characters.", max=60), "vehicle_interests")
    return list(dict.fromkeys(interests))


@dataclass
class CustomerData:
    """What a person typed (or another area passes in); validated by `create_customer`/`update_customer`."""

    first_name: str = ""
    last_name: str = ""
    type: str = "INDIVIDUAL"
    status: str = "ACTIVE"
    email: str | None = None
    phone: str | None = None
    company_name: str | None = None
    uid: str | None = None
    address_line: str | None = None
    postal_code: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    preferred_language: str | None = None
    budget_min: Any = None
    budget_max: Any = None
    vehicle_interests: Any = field(default_factory=list)
    owner_id: int | str | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> CustomerData:
        names = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in names})


async def _tenant(session: AsyncSession, tenant_id: int) -> Tenant:
    return (await session.execute(select(Tenant).where(Tenant.id == tenant_id))).scalar_one()


async def _owner(session: AsyncSession, value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        owner_id = int(value)
    except (TypeError, ValueError):
        raise RuleViolation(_("Choose one of the options."), "owner_id") from None
    found = await session.scalar(
        select(User.id).where(User.id == owner_id, User.active.is_(True), User.role.in_(OWNER_ROLES))
    )
    if found is None:
        raise RuleViolation(_("Choose one of the options."), "owner_id")
    return owner_id


async def _validated(session: AsyncSession, data: CustomerData, tenant: Tenant) -> dict[str, Any]:
    """Every field checked; all the problems at once, so the form can mark each of them."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}

    def check(name: str, run: Any) -> None:
        try:
            values[name] = run()
        except RuleViolation as violation:
            errors[violation.field or name] = str(violation)

    region = tenant.country or "CH"
    check("type", lambda: _choice(data.type, "type", CUSTOMER_TYPES, "INDIVIDUAL"))
    check("status", lambda: _choice(data.status, "status", CUSTOMER_STATUSES, "ACTIVE"))
    check("first_name", lambda: _text(data.first_name, "first_name", max_length=50, required=True))
    check("last_name", lambda: _text(data.last_name, "last_name", max_length=50, required=True))
    email, phone, uid = (str(value or "").strip() for value in (data.email, data.phone, data.uid))
    check("email", lambda: normalise_email(email) if email else None)
    check("phone", lambda: normalise_phone(phone, region) if phone else None)
    organisation = values.get("type", "INDIVIDUAL") != "INDIVIDUAL"
    if organisation:
        check("company_name", lambda: _text(data.company_name, "company_name", max_length=120, required=True))
        check("uid", lambda: normalise_uid(uid) if uid else None)
    else:
        values["company_name"] = values["uid"] = None
    check("address_line", lambda: _text(data.address_line, "address_line", max_length=200))
    check("country", lambda: _country(data.country, region))
    check("postal_code", lambda: _postal_code(data.postal_code, values.get("country")))
    check("city", lambda: _text(data.city, "city", max_length=80))
    check("region", lambda: _text(data.region, "region", max_length=40))
    check(
        "preferred_language",
        lambda: _choice(data.preferred_language, "preferred_language", LANGUAGES, "de"),
    )
    check("budget_min", lambda: _amount(data.budget_min, "budget_min"))
    check("budget_max", lambda: _amount(data.budget_max, "budget_max"))
    low, high = values.get("budget_min"), values.get("budget_max")
    if low is not None and high is not None and low > high:
        errors.setdefault("budget_max", _("The upper end of the budget is below the lower end."))
    check("vehicle_interests", lambda: _interests(data.vehicle_interests))
    try:
        values["owner_id"] = await _owner(session, data.owner_id)
    except RuleViolation as violation:
        errors["owner_id"] = str(violation)
    if errors:
        raise InvalidCustomer(errors, values)
    return values


# --- Duplicates ------------------------------------------------------------------------------------------


async def _find_duplicate(
    session: AsyncSession, email: str | None, phone: str | None, *, excluding: int | None = None
) -> DuplicateCustomer | None:
    for column, value, by in ((Customer.email, email, "email"), (Customer.phone, phone, "phone")):
        if value is None:
            continue
        query = select(Customer).where(column == value)
        if excluding is not None:
            query = query.where(Customer.id != excluding)
        existing = (await session.execute(query.order_by(Customer.id).limit(1))).scalar_one_or_none()
        if existing is not None:
            return DuplicateCustomer(existing.id, existing.display_name, by)
    return None


async def _serialise_phone(uow: UnitOfWork, phone: str | None) -> None:
    """PostgreSQL: one writer at a time per (tenant, phone), until this transaction ends."""
    if phone is None or uow.db.is_sqlite:
        return
    digest = hashlib.sha256(f"customer-phone:{uow.actor.tenant_id}:{phone}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    await uow.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# --- Create and edit -----------------------------------------------------------------------------------


def _as_data(data: CustomerData | Mapping[str, Any]) -> CustomerData:
    return data if isinstance(data, CustomerData) else CustomerData.from_mapping(data)


async def create_customer(uow: UnitOfWork, data: CustomerData | Mapping[str, Any]) -> Customer:
    """A new customer, or DuplicateCustomer when the email or phone already belongs to one."""
    actor = uow.actor
    actor.require("customer.edit")
    session = uow.session
    tenant = await _tenant(session, actor.tenant_id)
    try:
        values = await _validated(session, _as_data(data), tenant)
    except InvalidCustomer as invalid:
        # Someone already on file matters more than a typo in the rest of the form: named on top,
        # with the typos still marked.
        known = await _find_duplicate(session, invalid.valid.get("email"), invalid.valid.get("phone"))
        raise (known.besides(invalid.errors) if known else invalid) from None
    if values["owner_id"] is None and actor.role in OWNER_ROLES and actor.kind == "user":
        values["owner_id"] = actor.user_id
    await _serialise_phone(uow, values["phone"])
    duplicate = await _find_duplicate(session, values["email"], values["phone"])
    if duplicate is not None:
        raise duplicate
    customer = Customer(**values, created_at=utcnow())
    try:
        async with session.begin_nested():
            session.add(customer)
    except IntegrityError:
        # Another rep saved the same email in the moment since the check: the constraint decided.
        duplicate = await _find_duplicate(session, values["email"], None)
        if duplicate is None:
            raise
        raise duplicate from None
    record(
        uow,
        "customer.created",
        {"id": customer.id, "type": customer.type, "owner_id": customer.owner_id},
        topics=[customer_topic(customer.id)],
    )
    await uow.commit()
    return customer


async def _customer(session: AsyncSession, customer_id: int, *, for_update: bool = False) -> Customer:
    query = select(Customer).where(Customer.id == customer_id)
    if for_update:
        query = query.with_for_update()
    customer = (await session.execute(query)).scalar_one_or_none()
    if customer is None:
        raise NotFound(customer_id)
    return customer


def _refuse_if_erased(customer: Customer) -> None:
    if customer.erased_at is not None:
        raise RuleViolation(
            _(
                "This customer's data was erased on %(day)s; they can no longer be changed or contacted.",
                day=format_date(customer.erased_at),
            )
        )


EDITABLE_FIELDS = (
    "type",
    "status",
    "first_name",
    "last_name",
    "company_name",
    "email",
    "phone",
    "uid",
    "address_line",
    "postal_code",
    "city",
    "region",
    "country",
    "preferred_language",
    "budget_min",
    "budget_max",
    "vehicle_interests",
    "owner_id",
)


async def update_customer(
    uow: UnitOfWork,
    customer_id: int,
    data: CustomerData | Mapping[str, Any],
    expected_version: int | None,
) -> Customer:
    """Save an edited profile; Conflict (409) when someone saved it since the form was loaded."""
    actor = uow.actor
    session = uow.session
    customer = await _customer(session, customer_id, for_update=True)
    actor.require("customer.edit")
    _refuse_if_erased(customer)
    if expected_version != customer.version:
        raise Conflict(_("%(name)s was changed by someone else in the meantime.", name=customer.display_name))
    tenant = await _tenant(session, actor.tenant_id)
    try:
        values = await _validated(session, _as_data(data), tenant)
    except InvalidCustomer as invalid:
        email, phone = invalid.valid.get("email"), invalid.valid.get("phone")
        known = await _find_duplicate(
            session,
            email if email != customer.email else None,
            phone if phone != customer.phone else None,
            excluding=customer.id,
        )
        raise (known.besides(invalid.errors) if known else invalid) from None
    if values["phone"] != customer.phone:
        await _serialise_phone(uow, values["phone"])
    duplicate = await _find_duplicate(
        session,
        values["email"] if values["email"] != customer.email else None,
        values["phone"] if values["phone"] != customer.phone else None,
        excluding=customer.id,
    )
    if duplicate is not None:
        raise duplicate
    changed = [name for name in EDITABLE_FIELDS if getattr(customer, name) != values[name]]
    if not changed:
        return customer
    try:
        # The changes go inside the savepoint: begin_nested() flushes what is pending before it starts.
        async with session.begin_nested():
            for name in changed:
                setattr(customer, name, values[name])
            customer.version += 1
    except IntegrityError:
        duplicate = await _find_duplicate(session, values["email"], None, excluding=customer.id)
        if duplicate is None:
            raise
        raise duplicate from None
    # The pipeline board shows customers' names on its cards.
    record(
        uow,
        "customer.updated",
        {"id": customer.id, "changed": changed, "version": customer.version},
        topics=[customer_topic(customer.id), "sales"],
    )
    await uow.commit()
    return customer


# --- Consent -------------------------------------------------------------------------------------------


async def record_consent(
    uow: UnitOfWork, customer_id: int, channel: str, granted: bool, source: str
) -> Consent:
    """Consent given or withdrawn for one channel, with how (the source) and by whom; the latest counts."""
    actor = uow.actor
    session = uow.session
    customer = await _customer(session, customer_id, for_update=True)
    actor.require("customer.edit")
    _refuse_if_erased(customer)
    channel = (channel or "").upper()
    if channel not in CONSENT_CHANNELS:
        raise RuleViolation(_("Choose one of the options."), "channel")
    how = _text(source, "source", max_length=200, required=True)
    consent = Consent(
        customer_id=customer.id,
        channel=channel,
        granted=bool(granted),
        source=how or "",
        recorded_by_id=actor.user_id,
        at=utcnow(),
    )
    session.add(consent)
    await session.flush()
    record(
        uow,
        "customer.consent_recorded",
        {"id": customer.id, "channel": channel, "granted": consent.granted},
        topics=[customer_topic(customer.id)],
    )
    await uow.commit()
    return consent


async def set_do_not_contact(uow: UnitOfWork, customer_id: int, do_not_contact: bool) -> Customer:
    """Do not contact overrides every channel's consent (and is lifted only on the customer's word)."""
    actor = uow.actor
    session = uow.session
    customer = await _customer(session, customer_id, for_update=True)
    actor.require("customer.edit")
    _refuse_if_erased(customer)
    if customer.do_not_contact == do_not_contact:
        return customer
    customer.do_not_contact = do_not_contact
    record(
        uow,
        "customer.do_not_contact_changed",
        {"id": customer.id, "do_not_contact": do_not_contact},
        topics=[customer_topic(customer.id)],
    )
    await uow.commit()
    return customer


# --- Interactions --------------------------------------------------------------------------------------


async def log_interaction(
    uow: UnitOfWork,
    customer_id: int,
    type: str,
    channel: str,
    subject: str,
    body: str = "",
    follow_up_on: date | None = None,
    lead_id: int | None = None,
    status: str = "OPEN",
) -> Interaction:
    """A call, mail, meeting or note; a follow-up date puts it on the logger's follow-up list."""
    actor = uow.actor
    session = uow.session
    customer = await _customer(session, customer_id)
    actor.require("customer.edit")
    _refuse_if_erased(customer)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, run in (
        ("type", lambda: _choice(type, "type", INTERACTION_TYPES, "")),
        ("channel", lambda: _choice(channel, "channel", INTERACTION_CHANNELS, "")),
        ("status", lambda: _choice(status, "status", INTERACTION_STATUSES, "OPEN")),
        ("subject", lambda: _text(subject, "subject", max_length=200, required=True)),
    ):
        try:
            values[name] = run()
        except RuleViolation as violation:
            errors[name] = str(violation)
    text_body = (body or "").strip()
    if len(text_body) > 5000:
        errors["body"] = _("Use at most %(max)s characters.", max=5000)
    if lead_id is not None:
        lead_customer = await session.scalar(select(Lead.customer_id).where(Lead.id == lead_id))
        if lead_customer != customer.id:
            errors["lead_id"] = _("Choose one of the options.")
    if errors:
        raise InvalidCustomer(errors)
    interaction = Interaction(
        customer_id=customer.id,
        lead_id=lead_id,
        type=values["type"],
        channel=values["channel"],
        status=values["status"],
        subject=values["subject"],
        body=text_body,
        follow_up_on=follow_up_on,
        owner_id=actor.user_id,
        created_at=utcnow(),
    )
    session.add(interaction)
    await session.flush()
    record(
        uow,
        "interaction.logged",
        {
            "id": interaction.id,
            "customer_id": customer.id,
            "type": interaction.type,
            "lead_id": lead_id,
            "follow_up_on": follow_up_on.isoformat() if follow_up_on else None,
        },
        topics=[customer_topic(customer.id)],
    )
    await uow.commit()
    return interaction


async def resolve_interaction(uow: UnitOfWork, interaction_id: int) -> Interaction:
    """Done: the interaction leaves the follow-up list."""
    actor = uow.actor
    session = uow.session
    interaction = (
        await session.execute(select(Interaction).where(Interaction.id == interaction_id))
    ).scalar_one_or_none()
    if interaction is None:
        raise NotFound(interaction_id)
    actor.require("customer.edit")
    if interaction.status not in OPEN_INTERACTION_STATUSES:
        return interaction
    interaction.status = "RESOLVED"
    record(
        uow,
        "interaction.resolved",
        {"id": interaction.id, "customer_id": interaction.customer_id},
        topics=[customer_topic(interaction.customer_id)],
    )
    await uow.commit()
    return interaction


# --- The customer's rights: a copy of their data, and erasure -------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-ready: Decimals as strings (exact), dates as ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _row_dict(row: Any, *, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    columns = row.__table__.columns
    return {
        column.key: _plain(getattr(row, column.key))
        for column in columns
        if column.key not in ("tenant_id", *leave_out)
    }


async def export_customer(session: AsyncSession, customer_id: int) -> dict[str, Any]:
    """Everything stored about one customer, as plain JSON-ready data (the right of access)."""
    customer = await _customer(session, customer_id)

    async def rows(model: Any, *conditions: Any, order: Any = None) -> list[Any]:
        query = select(model).where(*conditions).order_by(order if order is not None else model.id)
        return list((await session.scalars(query)).all())

    work_orders = await rows(WorkOrder, WorkOrder.customer_id == customer.id)
    order_ids = [order.id for order in work_orders]
    lines = await rows(WorkOrderLine, WorkOrderLine.work_order_id.in_(order_ids)) if order_ids else []
    lines_by_order: dict[int, list[dict[str, Any]]] = {}
    for line in lines:
        lines_by_order.setdefault(line.work_order_id, []).append(_row_dict(line))
    invoices = await rows(
        Invoice,
        (Invoice.customer_id == customer.id) | Invoice.work_order_id.in_(order_ids or [-1]),
    )
    return {
        "format": "pitwall.customer-export.v1",
        "exported_at": utcnow().isoformat(),
        "customer": _row_dict(customer),
        "consents": [_row_dict(row) for row in await rows(Consent, Consent.customer_id == customer.id)],
        "interactions": [
            _row_dict(row) for row in await rows(Interaction, Interaction.customer_id == customer.id)
        ],
        "leads": [_row_dict(row) for row in await rows(Lead, Lead.customer_id == customer.id)],
        "quotes": [
            _row_dict(row, leave_out=("link_nonce",))
            for row in await rows(Quote, Quote.customer_id == customer.id)
        ],
        "deals": [_row_dict(row) for row in await rows(Deal, Deal.customer_id == customer.id)],
        "vehicles": [_row_dict(row) for row in await rows(Vehicle, Vehicle.customer_id == customer.id)],
        "work_orders": [
            {
                **_row_dict(order, leave_out=("estimate_nonce",)),
                "lines": lines_by_order.get(order.id, []),
            }
            for order in work_orders
        ],
        "invoices": [_row_dict(row) for row in invoices],
    }


async def export_customer_data(uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
    """The export as handed out: checked, and recorded in the audit trail in the same transaction."""
    actor = uow.actor
    await _customer(uow.session, customer_id)
    actor.require("customer.export")
    data = await export_customer(uow.session, customer_id)
    record(uow, "customer.exported", {"id": customer_id}, topics=[customer_topic(customer_id)])
    await uow.commit()
    return data


async def erase_customer(uow: UnitOfWork, customer_id: int) -> Customer:
    """Anonymise the customer's personal data on request; deals, quotes, invoices and work orders stay
    (the law keeps financial records) with their amounts untouched, and the erasure is recorded."""
    actor = uow.actor
    session = uow.session
    customer = await _customer(session, customer_id, for_update=True)
    actor.require("customer.erase")
    if customer.erased_at is not None:
        raise RuleViolation(
            _("This customer's data was already erased on %(day)s.", day=format_date(customer.erased_at))
        )
    now = utcnow()
    customer.first_name = customer.last_name = ERASED_NAME
    for name in ("company_name", "email", "phone", "address_line", "postal_code", "city", "region"):
        setattr(customer, name, None)
    customer.uid = None
    customer.budget_min = customer.budget_max = None
    customer.vehicle_interests = []
    customer.do_not_contact = True
    customer.erased_at = now
    customer.version += 1
    latest = await current_consents(session, customer.id)
    for channel in CONSENT_CHANNELS:
        consent = latest.get(channel)
        if consent is not None and consent.granted:
            session.add(
                Consent(
                    customer_id=customer.id,
                    channel=channel,
                    granted=False,
                    source="Erasure on request",
                    recorded_by_id=actor.user_id,
                    at=now,
                )
            )
    interactions = await session.scalars(select(Interaction).where(Interaction.customer_id == customer.id))
    for interaction in interactions:
        interaction.subject = ""
        interaction.body = ""
        interaction.follow_up_on = None
        if interaction.status in OPEN_INTERACTION_STATUSES:
            interaction.status = "CLOSED"
    record(
        uow,
        "customer.erased",
        {"id": customer.id, "erased_at": now.isoformat()},
        topics=[customer_topic(customer.id), "sales"],
    )
    await uow.commit()
    return customer


async def current_consents(session: AsyncSession, customer_id: int) -> dict[str, Consent]:
    """The latest consent row per channel (channels never recorded are missing)."""
    newest = (
        select(Consent.channel, func.max(Consent.id).label("id"))
        .where(Consent.customer_id == customer_id)
        .group_by(Consent.channel)
        .subquery()
    )
    rows = await session.scalars(select(Consent).join(newest, newest.c.id == Consent.id))
    return {row.channel: row for row in rows}
