"""Provisioning a dealership: everything it needs in one transaction, or nothing at all."""

from __future__ import annotations

import asyncio
import secrets
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ops.auth.actor import RuleViolation
from ops.auth.models import User
from ops.auth.service import sign_in
from ops.events import Event
from ops.i18n import current_locale
from ops.tenants.models import Counter, Tenant
from ops.tenants.service import provision_tenant
from ops.workshop.models import WorkOrderCategory
from tests.factories import PASSWORD

# DOMAIN.md, Workshop: the design documents' default work-order categories.
DEFAULT_CATEGORIES = {
    "Preventive Maintenance",
    "Repair",
    "Inspection",
    "Tire Service",
    "Oil Change",
    "Brake Service",
    "Engine Repair",
    "Transmission Service",
    "Body Work",
    "Electrical",
}


@pytest.fixture(autouse=True)
def english_messages():  # type: ignore[no-untyped-def]
    token = current_locale.set("en")
    yield
    current_locale.reset(token)


def _new_slug() -> str:
    return f"garage-{secrets.token_hex(4)}"


async def _provision(db, slug: str, **overrides: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "slug": slug,
        "name": "Garage Alpenblick AG",
        "admin_email": f"admin@{slug}.test",
        "admin_name": "Martina Keller",
        "admin_password": PASSWORD,
        "country": "CH",
        "plan": "STARTER",
        **overrides,
    }
    return await provision_tenant(db, **values)  # type: ignore[arg-type]


async def _left_behind(db, slug: str, admin_email: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """What exists of a tenant and its admin, found without knowing the tenant's id."""
    async with db.system() as session:
        tenant_ids = list((await session.scalars(select(Tenant.id).where(Tenant.slug == slug))).all())
        users = await session.scalar(select(func.count()).select_from(User).where(User.email == admin_email))
        found = {"tenants": len(tenant_ids), "users": users or 0}
        for name, table in (("counters", Counter), ("categories", WorkOrderCategory), ("events", Event)):
            rows = await session.scalar(
                select(func.count()).select_from(table).where(table.tenant_id.in_(tenant_ids))
            )
            found[name] = rows or 0
    return found


NOTHING = {"tenants": 0, "users": 0, "counters": 0, "categories": 0, "events": 0}


async def test_a_swiss_dealership_starts_with_swiss_settings_its_admin_and_the_ten_categories(runtime):
    slug = _new_slug()

    provisioned = await _provision(runtime.db, slug, plan="PROFESSIONAL")

    async with runtime.db.system() as session:
        tenant = await session.get_one(Tenant, provisioned.tenant.id)
    assert (tenant.slug, tenant.name, tenant.plan, tenant.status, tenant.country) == (
        slug,
        "Garage Alpenblick AG",
        "PROFESSIONAL",
        "ACTIVE",
        "CH",
    )
    assert (tenant.timezone, tenant.currency, tenant.distance_unit, tenant.fuel_unit, tenant.locale) == (
        "Europe/Zurich",
        "CHF",
        "km",
        "liters",
        "de_CH",
    )
    assert tenant.vat_rate == Decimal("8.1")
    assert (tenant.maintenance_reminders, tenant.email_notifications, tenant.auto_work_order_numbering) == (
        True,
        True,
        True,
    )
    async with runtime.db.read(tenant.id) as session:
        categories = set((await session.scalars(select(WorkOrderCategory.name))).all())
        counters = [(c.name, c.value) for c in await session.scalars(select(Counter))]
        users = [(u.email, u.role, u.name) for u in await session.scalars(select(User))]
        events = [(e.type, e.payload) for e in await session.scalars(select(Event))]
    assert categories == DEFAULT_CATEGORIES
    assert counters == [("work_order", 0)]
    assert users == [(f"admin@{slug}.test", "admin", "Martina Keller")]
    assert events == [("tenant.provisioned", {"id": tenant.id, "slug": slug, "plan": "PROFESSIONAL"})]
    signed_in = await sign_in(runtime.db, f"admin@{slug}.test", PASSWORD)
    assert (signed_in.actor.tenant_id, signed_in.actor.role) == (tenant.id, "admin")


async def test_the_country_code_is_read_in_any_case(runtime):
    provisioned = await _provision(runtime.db, _new_slug(), country=" ch ")

    assert (provisioned.tenant.country, provisioned.tenant.currency) == ("CH", "CHF")


async def test_a_us_dealership_gets_the_design_documents_defaults(runtime):
    provisioned = await _provision(runtime.db, _new_slug(), country="US")

    tenant = provisioned.tenant
    assert (tenant.timezone, tenant.currency, tenant.distance_unit, tenant.fuel_unit, tenant.locale) == (
        "America/New_York",
        "USD",
        "miles",
        "gallons",
        "en",
    )
    assert tenant.vat_rate == Decimal("0")


async def test_a_failure_half_way_leaves_nothing_behind(runtime, monkeypatch):
    slug = _new_slug()
    # The tenant and its admin are already inserted when the categories break a unique constraint.
    monkeypatch.setattr("ops.tenants.service.DEFAULT_CATEGORIES", ("Repair", "Repair"))

    with pytest.raises(IntegrityError):
        await _provision(runtime.db, slug)

    assert await _left_behind(runtime.db, slug, f"admin@{slug}.test") == NOTHING
    monkeypatch.undo()
    # Nothing half-made blocks doing it again.
    await _provision(runtime.db, slug)
    assert (await _left_behind(runtime.db, slug, f"admin@{slug}.test"))["tenants"] == 1


async def test_an_admin_email_already_in_use_is_refused_and_no_tenant_is_created(runtime):
    existing = await _provision(runtime.db, _new_slug())
    slug = _new_slug()

    with pytest.raises(RuleViolation) as refused:
        await _provision(runtime.db, slug, admin_email=existing.admin.email.upper())

    assert (refused.value.field, str(refused.value)) == (
        "admin_email",
        "A user with this email already exists.",
    )
    assert (await _left_behind(runtime.db, slug, "-"))["tenants"] == 0


async def test_a_slug_already_in_use_is_refused(runtime):
    slug = _new_slug()
    await _provision(runtime.db, slug)
    before = await _left_behind(runtime.db, slug, f"other@{slug}.test")

    with pytest.raises(RuleViolation) as refused:
        await _provision(runtime.db, slug, admin_email=f"other@{slug}.test")

    assert (refused.value.field, str(refused.value)) == ("slug", "This slug is taken.")
    assert await _left_behind(runtime.db, slug, f"other@{slug}.test") == before
    assert before["tenants"] == 1


async def test_two_provisionings_racing_for_one_admin_email_create_exactly_one_tenant(runtime):
    first, second = _new_slug(), _new_slug()
    email = f"owner@{first}.test"

    results = await asyncio.gather(
        _provision(runtime.db, first, admin_email=email),
        _provision(runtime.db, second, admin_email=email),
        return_exceptions=True,
    )

    refused = [result for result in results if isinstance(result, Exception)]
    assert len(refused) == 1, results
    assert isinstance(refused[0], RuleViolation)
    assert refused[0].field == "admin_email"
    tenants = [(await _left_behind(runtime.db, slug, email))["tenants"] for slug in (first, second)]
    assert sorted(tenants) == [0, 1]


async def test_two_provisionings_racing_for_one_slug_create_exactly_one_tenant(runtime):
    slug = _new_slug()

    results = await asyncio.gather(
        _provision(runtime.db, slug, admin_email=f"one@{slug}.test"),
        _provision(runtime.db, slug, admin_email=f"two@{slug}.test"),
        return_exceptions=True,
    )

    refused = [result for result in results if isinstance(result, Exception)]
    assert len(refused) == 1, results
    assert isinstance(refused[0], RuleViolation)
    assert refused[0].field == "slug"
    assert (await _left_behind(runtime.db, slug, "-"))["tenants"] == 1


async def test_slugs_are_lower_case_letters_digits_and_dashes_of_3_to_60_characters(runtime):
    accepted = [
        f"a{secrets.token_hex(1)}",
        f"garage-zh-{secrets.token_hex(3)}",
        "g" * 52 + secrets.token_hex(4),
    ]
    refused_slugs = ["ab", "Garage", "-abc", "abc-", "gar age", "garage\n", "garäge", "a" * 61, ""]
    refused = []

    for slug in refused_slugs:
        with pytest.raises(RuleViolation) as error:
            await _provision(runtime.db, slug)
        refused.append((slug, error.value.field, str(error.value)))
    for slug in accepted:
        await _provision(runtime.db, slug)

    rule = "Use 3 to 60 lower-case letters, digits and dashes."
    assert refused == [(slug, "slug", rule) for slug in refused_slugs]
    assert [(await _left_behind(runtime.db, slug, "-"))["tenants"] for slug in accepted] == [1, 1, 1]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "  "}, "name", "Enter a name."),
        ({"name": "G" * 121}, "name", "Use at most 120 characters."),
        ({"admin_name": ""}, "admin_name", "Enter a name."),
        ({"country": "Schweiz"}, "country", "Use the two-letter country code, e.g. CH."),
        ({"plan": "GOLD"}, "plan", "Choose one of the plans."),
        ({"admin_password": "short"}, "admin_password", "Use a password of at least 10 characters."),
        ({"admin_email": "admin.example.ch"}, "admin_email", "Enter a valid email address."),
    ],
)
async def test_bad_input_names_the_field_and_creates_nothing(runtime, changes, field, message):
    slug = _new_slug()

    with pytest.raises(RuleViolation) as refused:
        await _provision(runtime.db, slug, **changes)

    assert (refused.value.field, str(refused.value)) == (field, message)
    assert (await _left_behind(runtime.db, slug, "-"))["tenants"] == 0
