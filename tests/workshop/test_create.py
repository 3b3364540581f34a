"""The create form: GET /workshop/work-orders/new and POST /workshop/work-orders."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from ops.events import Event
from ops.workshop.models import WorkOrder, WorkOrderCategory
from tests.web import sign_in
from tests.workshop.order_helpers import add_bay

NEW_FORM = "/workshop/work-orders/new"
CREATE = "/workshop/work-orders"


async def _counts(db, tenant_id: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        orders = await session.scalar(select(func.count()).select_from(WorkOrder))
        events = await session.scalar(select(func.count()).select_from(Event))
    return int(orders or 0), int(events or 0)


async def _first_category(db, tenant_id: int) -> int:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        return int(
            (await session.scalars(select(WorkOrderCategory.id).order_by(WorkOrderCategory.id))).first()
        )


async def _object_of_another_dealership(factory, db, field: str):  # type: ignore[no-untyped-def]
    """Another tenant, and the id of its vehicle, category or technician for `field`."""
    other = await factory.tenant()
    if field == "vehicle_id":
        return other, str((await other.vehicle()).id)
    if field == "category_id":
        return other, str(await _first_category(db, other.id))
    return other, str((await other.user("technician")).actor.user_id)


def _field_markup(page: str, name: str) -> str:
    """The opening tag of the form control called `name`."""
    match = re.search(rf'<(?:select|textarea|input)[^>]*\bname="{name}"[^>]*>', page)
    assert match, f"no field {name} on the form"
    return match.group(0)


async def test_the_form_offers_only_this_dealerships_vehicles_categories_and_technicians(client, factory):
    """An advisor could pick another dealership's car or mechanic from the lists."""
    shop = await factory.tenant()
    other = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    await shop.user("technician", name="Luca Brunner")
    await shop.user("workshop_manager", name="Not A Technician")
    await other.user("technician", name="Foreign Mechanic")
    await shop.vehicle(plate="ZH 123456", make="Skoda", model="Octavia")
    await other.vehicle(plate="GE 999999", make="Renault", model="Clio")
    await sign_in(client, advisor.email)

    # Both dealerships' cars belong to an "Anna Muster".
    response = await client.get(NEW_FORM, query_string={"q": "anna"})

    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    assert '<span class="plate">ZH 123456</span>' in page
    assert "Skoda Octavia" in page
    assert "Anna Muster" in page
    assert "Luca Brunner" in page
    assert "Oil Change" in page
    assert "GE 999999" not in page
    assert "Foreign Mechanic" not in page
    assert "Not A Technician" not in page
    assert 'name="csrf_token"' in page


async def test_the_create_address_opened_in_the_browser_leads_to_the_job_board(client, factory):
    """Reloading after a refused create, or typing the address, answered a bare 405 Method Not Allowed."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    await sign_in(client, advisor.email)

    response = await client.get(CREATE)

    assert response.status_code == 303
    assert response.headers["Location"] == "/workshop/board"


async def test_creating_a_work_order_lands_on_its_page_with_a_flash_and_puts_the_card_on_the_board(
    client, factory, runtime
):
    """The advisor landed on the board and had to hunt for the new job among thirty cards."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en", name="Sara Advisor")
    technician = await shop.user("technician", name="Luca Brunner")
    vehicle = await shop.vehicle(plate="ZH 424242", make="VW", model="Golf")
    category = await _first_category(runtime.db, shop.id)
    token = await sign_in(client, advisor.email)

    response = await client.post(
        CREATE,
        form={
            "csrf_token": token,
            "vehicle_id": str(vehicle.id),
            "complaint": "  Clunk from the front axle over bumps  ",
            "priority": "HIGH",
            "category_id": str(category),
            "technician_id": str(technician.actor.user_id),
            "promised_at": "2030-07-01T16:00",
        },
    )

    async with runtime.db.read(shop.id) as session:
        stored = (await session.scalars(select(WorkOrder))).one()
        created = (await session.scalars(select(Event).where(Event.type == "work_order.created"))).one()
    assert response.status_code == 302
    assert response.headers["Location"] == f"/workshop/work-orders/{stored.id}"
    assert (stored.code, stored.status, stored.priority) == ("WO-000001", "NEW", "HIGH")
    assert stored.complaint == "Clunk from the front axle over bumps"
    assert (stored.vehicle_id, stored.customer_id) == (vehicle.id, vehicle.customer_id)
    assert (stored.category_id, stored.technician_id) == (category, technician.actor.user_id)
    assert stored.service_advisor_id == advisor.actor.user_id
    assert created.payload["id"] == stored.id
    assert created.actor_id == advisor.actor.user_id

    page = await (await client.get(response.headers["Location"])).get_data(as_text=True)
    assert "Work order WO-000001 created." in page
    assert '<span class="number">WO-000001</span>' in page
    board = await (await client.get("/workshop/board")).get_data(as_text=True)
    new_column = board.split('id="cards-NEW"', 1)[1].split("</ol>", 1)[0]
    assert f'id="wo-{stored.id}"' in new_column
    assert "ZH 424242" in new_column
    assert "Clunk from the front axle over bumps" in new_column
    assert "Luca Brunner" in new_column


@pytest.mark.parametrize(
    ("country", "typed", "stored_utc", "shown"),
    [
        ("CH", "2030-07-01T10:30", datetime(2030, 7, 1, 8, 30, tzinfo=UTC), "10:30"),
        ("CH", "2030-01-15T10:30", datetime(2030, 1, 15, 9, 30, tzinfo=UTC), "10:30"),
        ("US", "2030-07-01T10:30", datetime(2030, 7, 1, 14, 30, tzinfo=UTC), "10:30"),
        ("CH", "2030-07-01T10:30+00:00", datetime(2030, 7, 1, 10, 30, tzinfo=UTC), "12:30"),
    ],
)
async def test_the_promised_time_is_the_dealerships_local_time_stored_in_utc(
    client, factory, runtime, country, typed, stored_utc, shown
):
    """A customer promised 10:30 in Zurich would find the car promised for 08:30 or 12:30."""
    shop = await factory.tenant(country=country)
    advisor = await shop.user("service_advisor", locale="en")
    vehicle = await shop.vehicle()
    token = await sign_in(client, advisor.email)

    response = await client.post(
        CREATE,
        form={
            "csrf_token": token,
            "vehicle_id": str(vehicle.id),
            "complaint": "Service",
            "promised_at": typed,
        },
    )

    assert response.status_code == 302
    async with runtime.db.read(shop.id) as session:
        stored = (await session.scalars(select(WorkOrder.promised_at))).one()
    assert stored == stored_utc
    board = await (await client.get("/workshop/board")).get_data(as_text=True)
    promised = re.search(r"<dt>Promised</dt><dd[^>]*>([^<]*)</dd>", board)
    assert promised and shown in promised.group(1)


def _zurich_wall_clock(delta: timedelta) -> str:
    """Now in Zurich moved by `delta`, as a datetime-local field holds it."""
    return (datetime.now(ZoneInfo("Europe/Zurich")) + delta).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize("ago", [timedelta(minutes=30), timedelta(days=365)])
async def test_a_promised_time_already_past_in_the_dealerships_time_is_refused_and_writes_nothing(
    client, factory, runtime, ago
):
    """A slip of the day or the year promised the customer a time gone by, and the job was overdue from
    the start. Zurich's half an hour ago would still lie ahead if it were read as UTC."""
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="en")
    vehicle = await shop.vehicle()
    token = await sign_in(client, advisor.email)
    typed = _zurich_wall_clock(-ago)
    before = await _counts(runtime.db, shop.id)

    response = await client.post(
        CREATE,
        form={
            "csrf_token": token,
            "vehicle_id": str(vehicle.id),
            "complaint": "Service",
            "promised_at": typed,
        },
    )

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    control = _field_markup(page, "promised_at")
    assert f'value="{typed}"' in control
    assert 'aria-invalid="true" aria-describedby="promised_at-error"' in control
    assert '<p class="field-error" id="promised_at-error">The promised time has already passed.</p>' in page
    assert await _counts(runtime.db, shop.id) == before


async def test_a_promise_for_the_minute_the_form_was_started_is_still_taken(client, factory, runtime):
    """Filling the form in took a few minutes; refusing the time typed at its start would be petty."""
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="en")
    vehicle = await shop.vehicle()
    token = await sign_in(client, advisor.email)

    response = await client.post(
        CREATE,
        form={
            "csrf_token": token,
            "vehicle_id": str(vehicle.id),
            "complaint": "Service",
            "promised_at": _zurich_wall_clock(-timedelta(minutes=2)),
        },
    )

    assert response.status_code == 302
    assert (await _counts(runtime.db, shop.id))[0] == 1


BAD_FIELDS = [
    pytest.param("vehicle_id", "", "This field is required.", id="missing-vehicle"),
    pytest.param("vehicle_id", "seven", "Enter a whole number.", id="vehicle-not-a-number"),
    pytest.param("complaint", "", "This field is required.", id="empty-complaint"),
    pytest.param("complaint", "   ", "This field is required.", id="blank-complaint"),
    pytest.param("complaint", "x" * 2001, "Use at most 2000 characters.", id="complaint-too-long"),
    pytest.param("priority", "WHENEVER", "Choose one of the options.", id="unknown-priority"),
    pytest.param("promised_at", "next tuesday", "Enter a date and time.", id="malformed-datetime"),
    pytest.param("promised_at", "2030-02-30T10:00", "Enter a date and time.", id="impossible-date"),
    pytest.param("vehicle_id", "other-tenant", "Choose a vehicle of this dealership.", id="foreign-vehicle"),
    pytest.param("category_id", "other-tenant", "Choose one of the categories.", id="foreign-category"),
    pytest.param("technician_id", "other-tenant", "Choose one of the technicians.", id="foreign-technician"),
    pytest.param("technician_id", "non-technician", "Choose one of the technicians.", id="not-a-technician"),
    pytest.param("vehicle_id", "999999999", "Choose a vehicle of this dealership.", id="unknown-vehicle"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_FIELDS)
async def test_a_bad_field_re_renders_the_form_with_the_message_next_to_it_and_writes_nothing(
    client, factory, runtime, field, value, message
):
    """The advisor would lose what they typed, not see what is wrong, or get a half-made job."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    technician = await shop.user("technician")
    vehicle = await shop.vehicle(plate="ZH 777777")
    other = shop
    if value == "other-tenant":
        other, value = await _object_of_another_dealership(factory, runtime.db, field)
    elif value == "non-technician":
        value = str(advisor.actor.user_id)
    typed = {
        "vehicle_id": str(vehicle.id),
        "complaint": "Squeak when braking downhill",
        "priority": "URGENT",
        "category_id": str(await _first_category(runtime.db, shop.id)),
        "technician_id": str(technician.actor.user_id),
        "promised_at": "2030-07-01T10:30",
        field: value,
    }
    token = await sign_in(client, advisor.email)
    before = await _counts(runtime.db, shop.id), await _counts(runtime.db, other.id)

    response = await client.post(CREATE, form={"csrf_token": token, **typed})

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    # The vehicle is chosen with a search: its error belongs to the search box.
    control = _field_markup(page, "q" if field == "vehicle_id" else field)
    assert 'aria-invalid="true"' in control
    assert f'aria-describedby="{field}-error"' in control
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', page)
    assert error and html.unescape(error.group(1)) == message
    assert page.count('class="field-error"') == 1
    # What the user typed is still there.
    if field != "complaint":
        assert ">Squeak when braking downhill</textarea>" in page
    elif value.strip():
        assert f">{value}</textarea>" in page
    if field != "promised_at":
        assert 'value="2030-07-01T10:30"' in _field_markup(page, "promised_at")
    else:
        assert f'value="{value}"' in _field_markup(page, "promised_at")
    if field != "vehicle_id":
        assert re.search(rf'<input type="radio"[^>]*name="vehicle_id" value="{vehicle.id}" checked>', page)
    if field != "priority":
        assert '<option value="URGENT" selected>' in page
    assert (await _counts(runtime.db, shop.id), await _counts(runtime.db, other.id)) == before


async def test_a_dealership_without_vehicles_sees_an_empty_state_instead_of_the_form(client, factory):
    """The advisor would face a form that can never be submitted, with no hint why."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    await sign_in(client, advisor.email)

    response = await client.get(NEW_FORM)

    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    assert "There are no vehicles yet. A work order needs a vehicle." in page
    assert 'name="complaint"' not in page


@pytest.mark.parametrize("role", ["admin", "service_advisor", "workshop_manager"])
async def test_workshop_staff_see_the_new_work_order_link_and_the_form(client, factory, role):
    """The people who open jobs at the counter could not reach the form."""
    shop = await factory.tenant()
    user = await shop.user(role, locale="en")
    await shop.vehicle()
    await sign_in(client, user.email)

    board = await (await client.get("/workshop/board")).get_data(as_text=True)
    form = await client.get(NEW_FORM)

    assert board.count(f'href="{NEW_FORM}"') == 2  # the navigation and the board's button
    assert form.status_code == 200


@pytest.mark.parametrize("role", ["sales_manager", "sales_rep", "technician", "viewer"])
async def test_other_roles_cannot_create_and_are_not_offered_the_link(client, factory, runtime, role):
    """A viewer or salesperson could open jobs, or would be shown a button that only fails."""
    shop = await factory.tenant()
    user = await shop.user(role, locale="en")
    vehicle = await shop.vehicle()
    token = await sign_in(client, user.email)
    before = await _counts(runtime.db, shop.id)

    board = await (await client.get("/workshop/board")).get_data(as_text=True)
    form = await client.get(NEW_FORM)
    created = await client.post(
        CREATE, form={"csrf_token": token, "vehicle_id": str(vehicle.id), "complaint": "Sneaky job"}
    )

    assert NEW_FORM not in board
    assert form.status_code == 403
    assert created.status_code == 403
    assert await _counts(runtime.db, shop.id) == before


async def test_the_form_asks_a_signed_out_visitor_to_sign_in(client):
    """Anyone on the network could open the form."""
    response = await client.get(NEW_FORM)

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def _bay_options(page: str) -> list[str]:
    select_ = page.split('<select id="bay_id"', 1)[1].split("</select>", 1)[0]
    return re.findall(r"<option[^>]*>([^<]*)</option>", select_)


async def test_the_form_offers_the_bays_free_now_and_no_others(client, factory):
    """A bay another job is in would keep the new job's car out of work until that job leaves."""
    shop = await factory.tenant()
    other = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    await shop.vehicle()
    await add_bay(shop, "Lift 1")
    await add_bay(shop, "Old lift", active=False)
    busy = await shop.work_order(status="IN_PROGRESS")
    await add_bay(other, "Their lift")
    await sign_in(client, advisor.email)

    page = await (await client.get(NEW_FORM)).get_data(as_text=True)

    assert _bay_options(page) == ["No bay", "Lift 1"]
    assert f"Lift #{busy.number}" not in page
    assert "Only the bays no job is in now." in page


async def test_a_work_order_opened_on_a_free_bay_is_planned_there_and_does_not_hold_it_yet(
    client, factory, runtime
):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    vehicle = await shop.vehicle()
    lift = await add_bay(shop, "Lift 1")
    token = await sign_in(client, advisor.email)

    response = await client.post(
        CREATE,
        form={
            "csrf_token": token,
            "vehicle_id": str(vehicle.id),
            "complaint": "Tyres",
            "bay_id": str(lift.id),
        },
    )

    assert response.status_code == 302
    async with runtime.db.read(shop.id) as session:
        created = (await session.scalars(select(WorkOrder))).one()
    # Planned on the bay; the car goes onto it when its work starts, so the bay stays free for now.
    assert (created.status, created.bay_id, created.occupied_bay_id) == ("NEW", lift.id, None)
    board = await (await client.get("/workshop/board")).get_data(as_text=True)
    card = board.split(f'id="wo-{created.id}"', 1)[1].split("</li>", 1)[0]
    assert "<dd>Lift 1</dd>" in card
    form = await (await client.get(NEW_FORM)).get_data(as_text=True)
    assert _bay_options(form) == ["No bay", "Lift 1"]


@pytest.mark.parametrize("bay", ["taken", "out of service", "another dealership's", "not a number"])
async def test_a_bay_the_new_job_cannot_have_is_refused_next_to_the_field_and_writes_nothing(
    client, factory, runtime, bay
):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    vehicle = await shop.vehicle()
    await add_bay(shop, "Lift 1")
    if bay == "taken":
        holder = await shop.work_order(status="IN_PROGRESS")
        value = str(holder.bay_id)
        message = f"Lift #{holder.number} is taken by {holder.code}: a bay holds one job at a time. "
        message += "Choose a free bay."
    elif bay == "out of service":
        value, message = (
            str((await add_bay(shop, "Old lift", active=False)).id),
            "Old lift is out of service; choose another bay.",
        )
    elif bay == "another dealership's":
        value, message = (
            str((await add_bay(await factory.tenant(), "Their lift")).id),
            "Choose one of the bays.",
        )
    else:
        value, message = "lift", "Enter a whole number."
    token = await sign_in(client, advisor.email)
    before = await _counts(runtime.db, shop.id)

    response = await client.post(
        CREATE,
        form={
            "csrf_token": token,
            "vehicle_id": str(vehicle.id),
            "complaint": "Tyres squeal",
            "bay_id": value,
        },
    )

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    control = _field_markup(page, "bay_id")
    assert 'aria-invalid="true"' in control
    assert 'aria-describedby="bay_id-hint bay_id-error"' in control
    error = re.search(r'<p class="field-error" id="bay_id-error">([^<]*)</p>', page)
    assert error and html.unescape(error.group(1)) == message
    assert page.count('class="field-error"') == 1
    assert ">Tyres squeal</textarea>" in page
    # The free bays are still offered to choose from.
    assert _bay_options(page) == ["No bay", "Lift 1"]
    assert await _counts(runtime.db, shop.id) == before
