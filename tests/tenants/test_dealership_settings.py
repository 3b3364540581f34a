"""`/settings/dealership`: the admin edits the dealership's own settings and sees the plan in use;
a refusal names the field and saves nothing; nobody else may open the page."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

from sqlalchemy import select

from ops.events import Event
from ops.i18n import current_currency, current_timezone
from ops.tenants.models import Tenant
from ops.tenants.service import save_dealership_settings
from realtime.hub import View
from tests.factories import TenantHandle
from tests.web import sign_in
from tests.workshop.invoices.builders import make_invoice


def _form(csrf: str, version: str = "1", **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "version": version,
        "name": "Garage Alpenblick AG",
        "street": "Seestrasse 41",
        "postal_code": "8820",
        "city": "Wädenswil",
        "country": "CH",
        "vat_number": "CHE123456788MWST",
        "timezone": "Europe/Zurich",
        "locale": "de",
        "currency": "CHF",
        "distance_unit": "km",
        "fuel_unit": "liters",
        "vat_rate": "8,1",
        "labour_rate": "172.50",
        "discount_approval_percent": "6",
        "margin_floor_percent": "2.5",
        "quote_valid_days": "10",
        "payment_terms_days": "20",
        "maintenance_reminders": "on",
        "email_notifications": "on",
    }
    form.update(changes)
    return {name: value for name, value in form.items() if value is not None}


async def _stored(shop: TenantHandle) -> Tenant:
    async with shop.db.system() as session:
        return (await session.execute(select(Tenant).where(Tenant.id == shop.id))).scalar_one()


async def test_the_admin_saves_the_dealerships_settings(client, factory):
    """An admin could not set the address, VAT number or rates that quotes and invoices use."""
    shop = await factory.tenant(plan="STARTER")
    await shop.user("technician")
    csrf = await sign_in(client, (await shop.user("admin", locale="en")).email)

    page = await client.get("/settings/dealership")

    assert page.status_code == 200
    html = await page.get_data(as_text=True)
    assert 'href="/settings/dealership"' in html
    assert re.search(r'id="plan-users">\s*3 of 5', html) and re.search(r'id="plan-vehicles">\s*0 of 25', html)

    saved = await client.post("/settings/dealership", form=_form(csrf))

    assert saved.status_code == 302
    tenant = await _stored(shop)
    assert (tenant.name, tenant.street, tenant.postal_code, tenant.city) == (
        "Garage Alpenblick AG",
        "Seestrasse 41",
        "8820",
        "Wädenswil",
    )
    assert tenant.vat_number == "CHE-123.456.788 MWST"
    assert (tenant.vat_rate, tenant.labour_rate, tenant.margin_floor_percent) == (
        Decimal("8.1"),
        Decimal("172.5"),
        Decimal("2.5"),
    )
    assert (tenant.quote_valid_days, tenant.payment_terms_days, tenant.version) == (10, 20, 2)
    # `de` is the German the CH tenant was set up with: its Swiss region is kept.
    assert tenant.locale == "de_CH"
    assert (tenant.maintenance_reminders, tenant.auto_work_order_numbering) == (True, False)
    async with shop.db.system() as session:
        event = await session.scalar(select(Event).where(Event.type == "tenant.settings_changed"))
    assert event is not None and event.payload["changed"]["vat_number"] == [None, "CHE-123.456.788 MWST"]


async def test_the_plan_price_is_money_in_the_price_lists_dollars_whatever_the_dealerships_currency(
    app, factory
):
    """A bare "99" leaves the admin guessing the currency, and "CHF 99" would be a price nobody set:
    the plans are priced in US dollars (DOMAIN.md's figures come from the US design documents)."""
    shop = await factory.tenant(plan="STARTER")
    assert shop.tenant.currency == "CHF"
    # Each reader's own locale writes the dollars its way.
    for locale, shown in (("en", "US$\xa099.00"), ("de", "$\xa099.00")):
        admin = app.test_client()
        await sign_in(admin, (await shop.user("admin", locale=locale)).email)
        html = await (await admin.get("/settings/dealership")).get_data(as_text=True)
        assert f'<dd id="plan-price">{shown}</dd>' in html, locale


async def test_invalid_fields_are_named_and_nothing_is_saved(client, factory):
    """A mistyped rate or VAT number would go onto every invoice."""
    shop = await factory.tenant()
    csrf = await sign_in(client, (await shop.user("admin", locale="en")).email)
    form = _form(
        csrf,
        vat_rate="31",
        vat_number="CHE-123.456.789 MWST",
        timezone="Europe/Atlantis",
        postal_code="88200",
        quote_valid_days="0",
        name="Renamed AG",
    )

    response = await client.post("/settings/dealership", form=form)

    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    for field in ("vat_rate", "vat_number", "timezone", "postal_code", "quote_valid_days"):
        assert f'id="dealership-{field}-error"' in html, field
    assert "Enter a number from 0 to 30." in html
    assert 'value="Renamed AG"' in html
    tenant = await _stored(shop)
    assert (tenant.name, tenant.vat_rate, tenant.version) == (shop.tenant.name, Decimal("8.1"), 1)


async def test_the_currency_cannot_change_once_an_invoice_exists(client, factory):
    """Stored CHF amounts would silently be read as euros."""
    shop = await factory.tenant()
    await make_invoice(shop, await shop.work_order(status="IN_PROGRESS"), [("LABOUR", "Service", "1", "165")])
    csrf = await sign_in(client, (await shop.user("admin", locale="en")).email)

    response = await client.post("/settings/dealership", form=_form(csrf, currency="EUR"))

    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert 'id="dealership-currency-error"' in html and "amounts are stored in CHF" in html
    assert (await _stored(shop)).currency == "CHF"


async def test_the_currency_may_change_before_anything_is_priced(client, factory):
    shop = await factory.tenant()
    csrf = await sign_in(client, (await shop.user("admin", locale="en")).email)

    response = await client.post("/settings/dealership", form=_form(csrf, currency="EUR"))

    assert response.status_code == 302
    assert (await _stored(shop)).currency == "EUR"


async def test_a_stale_save_is_refused_with_what_is_stored_now(app, client, factory):
    """Two admins saving at once: the second would silently undo the first."""
    shop = await factory.tenant()
    csrf = await sign_in(client, (await shop.user("admin", locale="en")).email)
    other = app.test_client()
    other_csrf = await sign_in(other, shop.admin.email)
    first = await other.post("/settings/dealership", form=_form(other_csrf, vat_rate="7.7"))
    assert first.status_code == 302

    response = await client.post("/settings/dealership", form=_form(csrf, vat_rate="9"))

    assert response.status_code == 409
    html = await response.get_data(as_text=True)
    assert "Another administrator saved these settings" in html
    assert 'name="version" value="2"' in html and 'value="7.7"' in html
    assert (await _stored(shop)).vat_rate == Decimal("7.7")


async def test_only_an_admin_may_open_the_dealership_settings(app, factory):
    shop = await factory.tenant()
    for role in ("sales_manager", "workshop_manager", "service_advisor", "viewer"):
        user = await shop.user(role, locale="en")
        desk = app.test_client()
        csrf = await sign_in(desk, user.email)
        assert (await desk.get("/settings/dealership")).status_code == 403
        saved = await desk.post("/settings/dealership", form=_form(csrf, name="Taken over"))
        assert saved.status_code == 403
        assert "/settings/dealership" not in await (await desk.get("/workshop/board")).get_data(as_text=True)
    assert (await _stored(shop)).name == shop.tenant.name


async def test_live_renders_pick_up_the_new_timezone_and_currency_at_once(runtime, factory):
    """Wall boards would go on showing the old currency and times for up to a minute (the cache's TTL)."""
    shop = await factory.tenant()
    view = View.for_actor(shop.admin.actor)

    async def shown() -> tuple[str, str]:
        restore = await runtime.hub.context_for(shop.id, view)
        try:
            return current_timezone.get(), current_currency.get()
        finally:
            restore()

    assert await shown() == ("Europe/Zurich", "CHF")
    async with runtime.db.uow(shop.admin.actor) as uow:
        await save_dealership_settings(uow, _form("", timezone="Europe/Berlin", currency="EUR"), 1)

    for _attempt in range(250):
        if await shown() == ("Europe/Berlin", "EUR"):
            break
        await asyncio.sleep(0.02)
    assert await shown() == ("Europe/Berlin", "EUR")


async def test_a_downgrade_below_what_is_in_use_is_refused(client, factory):
    """A Starter dealership with 6 active users would be over its limit from the first day."""
    shop = await factory.tenant(plan="PROFESSIONAL")
    csrf = await sign_in(client, (await shop.user("admin", locale="en")).email)
    for role in ("technician", "technician", "service_advisor", "viewer"):
        await shop.user(role)

    refused = await client.post("/settings/dealership/plan", form={"csrf_token": csrf, "plan": "STARTER"})

    assert refused.status_code == 422
    html = await refused.get_data(as_text=True)
    assert 'id="dealership-plan-error"' in html and "allows 5 users and 6 are active" in html
    # The refusal stands beside the plan; the details form above has nothing to correct.
    assert "Please correct the marked fields" not in html
    assert (await _stored(shop)).plan == "PROFESSIONAL"

    upgraded = await client.post("/settings/dealership/plan", form={"csrf_token": csrf, "plan": "ENTERPRISE"})

    assert upgraded.status_code == 302
    assert (await _stored(shop)).plan == "ENTERPRISE"


async def test_a_downgrade_names_every_limit_it_is_over_at_once(client, factory):
    """Over both limits, the admin learns both in one answer, not the second after fixing the first."""
    shop = await factory.tenant(plan="PROFESSIONAL")
    csrf = await sign_in(client, (await shop.user("admin", locale="en")).email)
    for role in ("technician", "technician", "service_advisor", "viewer"):
        await shop.user(role)
    for _number in range(26):
        await shop.vehicle()

    refused = await client.post("/settings/dealership/plan", form={"csrf_token": csrf, "plan": "STARTER"})

    assert refused.status_code == 422
    html = await refused.get_data(as_text=True)
    assert "allows 5 users and 6 are active" in html and "allows 25 vehicles and there are 26" in html
    assert (await _stored(shop)).plan == "PROFESSIONAL"
