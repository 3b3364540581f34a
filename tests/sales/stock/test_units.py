"""Adding and editing stock units: VINs checked with vininfo, a bad field named next to it and nothing
saved, a stale edit answered with 409, and statuses that follow holds and deals left alone."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ops.auth.actor import RuleViolation
from ops.sales.models import StockUnit
from ops.sales.stock.service import reserve_unit, validated_vin
from tests.factories import european_vin
from tests.sales.stock.helpers import events, unit_state
from tests.web import sign_in

VALID_NORTH_AMERICAN = "1M8GDM9AXKP042788"
WRONG_CHECK_DIGIT = "1M8GDM9A1KP042788"


def test_a_vin_has_17_characters_without_i_o_q_and_north_american_ones_match_their_check_digit():
    assert validated_vin(" 1m8gdm9axkp042788 ") == VALID_NORTH_AMERICAN
    # European makers do not use the check digit: any 9th character is fine.
    assert validated_vin("WVWZZZ1JZXW000001") == "WVWZZZ1JZXW000001"
    for value, message in (
        ("", "Enter the VIN."),
        ("1M8GDM9AXKP04278", "A VIN has 17 characters; this one has 16."),
        ("1M8GDM9AXKP0427888", "A VIN has 17 characters; this one has 18."),
        ("1M8GDM9AXKP04278O", "never I, O or Q"),
        ("1M8GDM9AXKP04278-", "never I, O or Q"),
        (WRONG_CHECK_DIGIT, "The check digit (9th character) does not match"),
    ):
        with pytest.raises(RuleViolation, match=re.escape(message)) as refused:
            validated_vin(value)
        assert refused.value.field == "vin"


async def _count(runtime, tenant_id: int) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.read(tenant_id) as session:
        return int(await session.scalar(select(func.count()).select_from(StockUnit)) or 0)


def _form(token: str, trim: int, **overrides: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "vin": VALID_NORTH_AMERICAN,
        "trim_id": str(trim),
        "colour": "Graphite grey",
        "mileage_km": "15",
        "cost": "29500.00",
        "list_price": "34900.00",
        "location": "Showroom A",
        "arrived_on": "2025-03-01",
        "status": "AVAILABLE",
    }
    form.update(overrides)
    return form


async def test_a_manager_adds_a_unit_and_lands_on_its_page(client, factory, runtime):
    shop = await factory.tenant()
    manager = await shop.user("sales_manager", locale="en")
    trim = await shop.trim(make="Cupra", model="Born", trim="e-Boost", fuel_type="ELECTRIC")
    token = await sign_in(client, manager.email)

    response = await client.post("/sales/stock", form=_form(token, trim.id, vin="1m8gdm9axkp042788"))

    assert response.status_code == 302
    unit_id = int(response.headers["Location"].rsplit("/", 1)[1])
    unit = await unit_state(runtime.db, shop.id, unit_id)
    assert (unit.vin, unit.trim_id, unit.list_price, unit.status) == (
        VALID_NORTH_AMERICAN,
        trim.id,
        Decimal("34900.00"),
        "AVAILABLE",
    )
    page = await (await client.get(f"/sales/stock/{unit_id}")).get_data(as_text=True)
    assert "Cupra Born 2025 e-Boost" in page and VALID_NORTH_AMERICAN in page and "CHF" in page
    (event,) = await events(runtime.db, shop.id, "unit.created")
    assert event.topics == ["stock"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("vin", WRONG_CHECK_DIGIT, "The check digit (9th character) does not match"),
        ("vin", "SHORT", "A VIN has 17 characters; this one has 5."),
        ("trim_id", "999999999", "Choose the model and trim from the catalog."),
        ("mileage_km", "-1", "Enter a mileage between 0 and"),
        ("mileage_km", "lots", "Enter a whole number."),
        ("cost", "", "This field is required."),
        ("list_price", "12.345", "Use at most two decimal places."),
        ("list_price", "-5", "Enter zero or more."),
        ("arrived_on", "", "Enter the day the unit arrived"),
        ("arrived_on", "2999-01-01", "The arrival day cannot be in the future."),
        ("status", "SOLD", "Choose one of the options."),
        ("colour", "x" * 41, "Use at most 40 characters."),
    ],
)
async def test_a_bad_field_is_named_next_to_it_and_nothing_is_saved(
    client, factory, runtime, field, value, message
):
    shop = await factory.tenant()
    manager = await shop.user("sales_manager", locale="en")
    trim = await shop.trim()
    token = await sign_in(client, manager.email)

    response = await client.post("/sales/stock", form=_form(token, trim.id, **{field: value}))

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="unit-{field}-error">([^<]*)</p>', page)
    assert error and message in error.group(1).replace("&#39;", "'"), page[:2000]
    assert f'aria-describedby="unit-{field}-error"' in page or f"unit-{field}-error" in page
    assert await _count(runtime, shop.id) == 0


async def test_a_vin_already_in_stock_is_refused_but_another_dealership_may_have_it(client, factory, runtime):
    shop, other = await factory.tenant(), await factory.tenant()
    manager = await shop.user("sales_manager", locale="en")
    trim = await shop.trim()
    await shop.stock_unit(vin=VALID_NORTH_AMERICAN)
    await other.stock_unit(vin="WVWZZZ1JZXW000009")
    token = await sign_in(client, manager.email)

    taken = await client.post("/sales/stock", form=_form(token, trim.id))
    fine = await client.post("/sales/stock", form=_form(token, trim.id, vin="WVWZZZ1JZXW000009"))

    assert taken.status_code == 422
    assert "A unit with this VIN is already in stock." in await taken.get_data(as_text=True)
    assert fine.status_code == 302
    assert await _count(runtime, shop.id) == 2


async def test_editing_a_unit_saves_it_and_a_stale_form_gets_409_with_what_is_there_now(
    client, factory, runtime
):
    shop = await factory.tenant()
    manager = await shop.user("sales_manager", locale="en")
    rep = await shop.user("sales_rep")
    unit = await shop.stock_unit(list_price="30000.00", mileage_km=100)
    token = await sign_in(client, manager.email)
    edit = await (await client.get(f"/sales/stock/{unit.id}/edit")).get_data(as_text=True)
    assert 'name="version" value="1"' in edit

    saved = await client.post(
        f"/sales/stock/{unit.id}/edit",
        form=_form(token, unit.trim_id, vin=unit.vin, list_price="28900.00", mileage_km="100", version="1"),
    )
    assert saved.status_code == 302
    assert (await unit_state(runtime.db, shop.id, unit.id)).list_price == Decimal("28900.00")

    # Meanwhile a rep holds the unit; the manager's form from before is stale.
    async with shop.db.uow(rep.actor) as uow:
        await reserve_unit(uow, unit.id, (await shop.lead(owner=rep)).id)
    stale = await client.post(
        f"/sales/stock/{unit.id}/edit",
        form=_form(token, unit.trim_id, vin=unit.vin, list_price="1.00", mileage_km="100", version="2"),
    )

    assert stale.status_code == 409
    page = await stale.get_data(as_text=True)
    assert "This unit changed since you opened it" in page
    assert 'value="28900.00"' in page and 'name="version" value="3"' in page
    assert "Changes with the unit's hold or deal." in page
    state = await unit_state(runtime.db, shop.id, unit.id)
    assert (state.list_price, state.status) == (Decimal("28900.00"), "RESERVED")


async def test_a_held_units_status_stays_and_mileage_never_goes_down(client, factory, runtime):
    shop = await factory.tenant()
    manager = await shop.user("sales_manager", locale="en")
    unit = await shop.stock_unit(mileage_km=500)
    async with shop.db.uow(manager.actor) as uow:
        await reserve_unit(uow, unit.id, (await shop.lead()).id)
    token = await sign_in(client, manager.email)

    lower = await client.post(
        f"/sales/stock/{unit.id}/edit",
        form=_form(token, unit.trim_id, vin=unit.vin, mileage_km="499", version="2", status="DEMO"),
    )
    assert lower.status_code == 422
    assert "The mileage cannot go down" in await lower.get_data(as_text=True)

    # A held unit's status is not in the form; a forged one is ignored, the rest is saved.
    saved = await client.post(
        f"/sales/stock/{unit.id}/edit",
        form=_form(token, unit.trim_id, vin=unit.vin, mileage_km="510", version="2", status="DEMO"),
    )
    assert saved.status_code == 302
    state = await unit_state(runtime.db, shop.id, unit.id)
    assert (state.status, state.mileage_km) == ("RESERVED", 510)


@pytest.mark.parametrize("role", ["sales_rep", "viewer", "service_advisor"])
async def test_only_managers_and_admins_add_or_edit_units(client, factory, runtime, role):
    shop = await factory.tenant()
    user = await shop.user(role, locale="en")
    unit = await shop.stock_unit()
    token = await sign_in(client, user.email)

    assert (await client.get("/sales/stock/new")).status_code == 403
    assert (await client.get(f"/sales/stock/{unit.id}/edit")).status_code == 403
    created = await client.post("/sales/stock", form=_form(token, unit.trim_id, vin=european_vin()))
    assert created.status_code == 403
    assert await _count(runtime, shop.id) == 1
