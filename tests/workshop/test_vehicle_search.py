"""Finding the vehicle for a new work order: by plate, VIN or customer name, as the advisor types (htmx)
or with a plain search; and opening the form for a given vehicle (`?vehicle_id=`)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from ops.customers.models import Customer
from ops.vehicles.models import Vehicle
from ops.workshop.models import WorkOrder
from tests.web import sign_in

NEW_FORM = "/workshop/work-orders/new"
SEARCH = "/workshop/vehicles/search"
HTMX = {"HX-Request": "true"}


def radios(html: str) -> dict[int, bool]:
    """The vehicle options offered: id -> checked."""
    return {
        int(value): bool(checked)
        for value, checked in re.findall(
            r'<input type="radio"[^>]*name="vehicle_id" value="(\d+)"( checked)?>', html
        )
    }


@pytest.fixture
async def garage(factory):  # type: ignore[no-untyped-def]
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    golf = await shop.vehicle(plate="ZH 123 456", make="VW", model="Golf")
    tesla = await shop.vehicle(plate="BE 98765", make="Tesla", model="Model 3")
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(Vehicle).where(Vehicle.id == tesla.id).values(vin="5YJ3E1EA7KF317000")
        )
        await uow.session.execute(
            update(Customer)
            .where(Customer.id == tesla.customer_id)
            .values(first_name="Jürg", last_name="Zürcher", company_name="Zürcher Transporte AG")
        )
        await uow.commit()
    other = await factory.tenant()
    foreign = await other.vehicle(plate="ZH 123 999", make="VW", model="Polo")
    return shop, advisor, {"golf": golf, "tesla": tesla, "foreign": foreign}


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("ZH 123 456", {"golf"}),
        ("zh123", {"golf"}),  # any case, with or without the plate's spaces
        ("123 456", {"golf"}),
        ("kf317", {"tesla"}),  # part of the VIN
        ("zürcher", {"tesla"}),  # the customer's name
        ("transporte", {"tesla"}),  # the company
        ("anna muster", {"golf"}),  # every word must match somewhere
        ("golf anna", {"golf"}),  # the make and model too
        ("anna tesla", set()),
        ("%", set()),  # a wildcard is a character like any other
        ("", set()),
    ],
)
async def test_the_search_finds_vehicles_by_plate_vin_or_customer_name(client, garage, typed, found):
    """The advisor at the counter could not find the customer's car, or would pick the wrong one."""
    _shop, advisor, cars = garage
    await sign_in(client, advisor.email)

    response = await client.get(SEARCH, query_string={"q": typed}, headers=HTMX)

    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert set(radios(html)) == {cars[name].id for name in found}
    assert "<html" not in html
    # Another dealership's car never shows, even when its plate matches.
    assert "ZH 123 999" not in html


async def test_the_results_say_what_to_do_when_nothing_or_too_much_matches(client, garage, runtime):
    shop, advisor, _cars = garage
    for n in range(21):
        await shop.vehicle(plate=f"LU {1000 + n}", make="Fiat", model="Panda")
    await sign_in(client, advisor.email)

    empty = await (await client.get(SEARCH, headers=HTMX)).get_data(as_text=True)
    nothing = await (await client.get(SEARCH, query_string={"q": "xyz"}, headers=HTMX)).get_data(as_text=True)
    many = await (await client.get(SEARCH, query_string={"q": "panda"}, headers=HTMX)).get_data(as_text=True)
    one = await (await client.get(SEARCH, query_string={"q": "LU 1007"}, headers=HTMX)).get_data(as_text=True)

    assert "Type a plate, VIN or customer name to find the vehicle." in empty
    assert "No vehicle matches “xyz”." in nothing
    assert len(radios(many)) == 20
    assert "More vehicles match; type more of the plate, VIN or name." in many
    # A single match is chosen already: one key less at the counter.
    assert list(radios(one).values()) == [True]


async def test_the_chosen_vehicle_stays_chosen_while_searching_on(client, garage):
    _shop, advisor, cars = garage
    await sign_in(client, advisor.email)

    html = await (
        await client.get(
            SEARCH, query_string={"q": "tesla", "vehicle_id": str(cars["golf"].id)}, headers=HTMX
        )
    ).get_data(as_text=True)

    assert radios(html) == {cars["golf"].id: True, cars["tesla"].id: False}


async def test_without_javascript_the_search_reloads_the_form_with_the_results(client, garage):
    _shop, advisor, cars = garage
    await sign_in(client, advisor.email)

    redirected = await client.get(SEARCH, query_string={"q": "golf"})
    page = await client.get(NEW_FORM, query_string={"q": "zh 123"})

    assert redirected.status_code == 302
    assert redirected.headers["Location"] == f"{NEW_FORM}?q=golf"
    html = await page.get_data(as_text=True)
    assert radios(html) == {cars["golf"].id: True}
    assert 'value="zh 123"' in html
    # The search box belongs to a GET form of its own; the create form posts the chosen vehicle.
    assert re.search(r'<form id="vehicle-search" method="get" action="/workshop/work-orders/new"', html)
    assert 'form="vehicle-search"' in html


async def test_the_form_opens_with_a_given_vehicle_chosen(client, garage):
    """The vehicle page's "new work order" link would make the advisor search for the car again."""
    _shop, advisor, cars = garage
    await sign_in(client, advisor.email)

    chosen = await (await client.get(NEW_FORM, query_string={"vehicle_id": str(cars["tesla"].id)})).get_data(
        as_text=True
    )
    foreign = await (
        await client.get(NEW_FORM, query_string={"vehicle_id": str(cars["foreign"].id)})
    ).get_data(as_text=True)
    garbled = await client.get(NEW_FORM, query_string={"vehicle_id": "99999999999999999999999"})

    assert radios(chosen) == {cars["tesla"].id: True}
    assert "Zürcher Transporte AG" in chosen and "5YJ3E1EA7KF317000" in chosen
    assert radios(foreign) == {}
    assert "ZH 123 999" not in foreign
    assert garbled.status_code == 200


async def test_a_work_order_is_created_for_the_vehicle_chosen_in_the_search(client, garage, runtime):
    shop, advisor, cars = garage
    token = await sign_in(client, advisor.email)

    response = await client.post(
        "/workshop/work-orders",
        form={"csrf_token": token, "vehicle_id": str(cars["tesla"].id), "complaint": "Squeaky suspension"},
    )

    assert response.status_code == 302
    async with runtime.db.read(shop.id) as session:
        stored = (await session.scalars(select(WorkOrder))).one()
    assert (stored.vehicle_id, stored.customer_id) == (cars["tesla"].id, cars["tesla"].customer_id)


@pytest.mark.parametrize("role", ["technician", "viewer"])
async def test_only_those_who_create_work_orders_may_search_vehicles(client, garage, factory, role):
    shop, _advisor, _cars = garage
    user = await shop.user(role)
    await sign_in(client, user.email)

    response = await client.get(SEARCH, query_string={"q": "zh"}, headers=HTMX)

    assert response.status_code == 403


async def test_a_car_not_found_is_added_and_the_new_work_order_comes_back_with_it_chosen(client, garage):
    """Without the link the advisor hit a dead end for every car the dealership had not seen before."""
    shop, advisor, _cars = garage
    token = await sign_in(client, advisor.email)
    page = await (await client.get(NEW_FORM, query_string={"q": "ZZ 999999"})).get_data(as_text=True)
    assert "No vehicle matches “ZZ 999999”." in page
    link = re.search(r'Not found\? <a href="([^"]+)">Add the vehicle</a>', page)
    assert link is not None

    form = await (await client.get(link.group(1).replace("&amp;", "&"))).get_data(as_text=True)
    assert '<input type="hidden" name="then" value="work_order">' in form
    response = await client.post(
        "/vehicles",
        form={
            "vin": "WVWZZZ1KZ8W123456",
            "plate": "ZZ 999999",
            "make": "VW",
            "model": "Caddy",
            "year": "2019",
            "fuel_type": "DIESEL",
            "status": "ACTIVE",
            "odometer_km": "54321",
            "then": "work_order",
            "csrf_token": token,
        },
    )

    async with shop.db.read(shop.id) as session:
        added = (await session.execute(select(Vehicle).where(Vehicle.model == "Caddy"))).scalar_one()
    assert response.status_code == 302
    assert response.headers["Location"] == f"{NEW_FORM}?vehicle_id={added.id}"
    back = await (await client.get(response.headers["Location"])).get_data(as_text=True)
    assert radios(back) == {added.id: True}
