"""The vehicle search: filters, sorting by the headers, pages, VINs that cannot be right, empty states."""

from __future__ import annotations

import re

from tests.vehicles import helpers


def _plates(html: str) -> list[str]:
    return re.findall(r'class="plate-cell" data-label="[^"]*">([^<]+)</td>', html)


async def test_filters_narrow_the_list_and_say_so_when_nothing_matches(client, factory):
    """An advisor looking for a customer's car would wade through every vehicle of the dealership."""
    shop = await factory.tenant()
    fleet = await helpers.fleet(shop, "Alpine Taxis")
    await helpers.vehicle(shop, make="Skoda", model="Octavia", plate="ZH 1001", fleet_id=fleet.id)
    await helpers.vehicle(shop, make="Toyota", model="Corolla", plate="ZH 1002")
    await helpers.vehicle(shop, make="Toyota", model="Yaris", plate="BE 2003", status="RETIRED")
    await helpers.sign_in_as(client, shop)

    response = await client.get("/vehicles?make=toyota")
    page = await response.get_data(as_text=True)
    assert response.status_code == 200, page[-3000:]
    assert sorted(_plates(page)) == ["BE 2003", "ZH 1002"]
    page = await (await client.get("/vehicles?plate=zh1001")).get_data(as_text=True)
    assert _plates(page) == ["ZH 1001"]
    page = await (await client.get(f"/vehicles?fleet={fleet.id}")).get_data(as_text=True)
    assert _plates(page) == ["ZH 1001"]
    page = await (await client.get("/vehicles?fleet=none")).get_data(as_text=True)
    assert sorted(_plates(page)) == ["BE 2003", "ZH 1002"]
    page = await (await client.get("/vehicles?status=RETIRED")).get_data(as_text=True)
    assert _plates(page) == ["BE 2003"]
    page = await (await client.get("/vehicles?q=yaris")).get_data(as_text=True)
    assert _plates(page) == ["BE 2003"]
    page = await (await client.get("/vehicles?q=alpine")).get_data(as_text=True)
    assert _plates(page) == ["ZH 1001"]
    page = await (await client.get("/vehicles?model=Tesla")).get_data(as_text=True)
    assert _plates(page) == [] and "No vehicles match this search." in page


async def test_owner_filter_finds_the_customers_car(client, factory):
    shop = await factory.tenant()
    owned = await shop.vehicle(plate="SG 4711")  # owned by Anna Muster
    await helpers.vehicle(shop, plate="SG 4712")
    await helpers.sign_in_as(client, shop)
    page = await (await client.get("/vehicles?customer=muster")).get_data(as_text=True)
    assert _plates(page) == [owned.plate]
    page = await (await client.get("/vehicles?q=anna")).get_data(as_text=True)
    assert _plates(page) == [owned.plate]


async def test_headers_sort_both_ways_and_pages_do_not_overlap(client, factory):
    """A fleet manager sorting by odometer to find the cars with the most kilometres."""
    shop = await factory.tenant()
    for number in range(25):
        await helpers.vehicle(shop, plate=f"LU {number:03d}", odometer_km=1000 * number)
    await helpers.sign_in_as(client, shop)

    first = await (await client.get("/vehicles?sort=-odometer")).get_data(as_text=True)
    assert _plates(first)[:3] == ["LU 024", "LU 023", "LU 022"]
    assert len(_plates(first)) == 20 and "Page 1 of 2" in first
    # The header that sorts descending offers ascending next.
    assert 'aria-sort="descending"' in first and "sort=odometer" in first
    second = await (await client.get("/vehicles?sort=-odometer&page=2")).get_data(as_text=True)
    assert _plates(second) == [f"LU {number:03d}" for number in range(4, -1, -1)]
    ascending = await (await client.get("/vehicles?sort=odometer&page_size=5")).get_data(as_text=True)
    assert _plates(ascending) == [f"LU {number:03d}" for number in range(5)]
    assert "Page 1 of 5" in ascending
    # At most 100 a page, whatever is asked.
    everything = await (await client.get("/vehicles?page_size=1000")).get_data(as_text=True)
    assert len(_plates(everything)) == 25


async def test_a_vin_with_a_wrong_check_digit_is_flagged(client, factory):
    """A VIN mistyped by one character would otherwise find nothing, silently."""
    shop = await factory.tenant()
    await helpers.vehicle(shop, vin=helpers.WRONG_CHECK_DIGIT_VIN, plate="TI 1")
    await helpers.vehicle(shop, vin=helpers.VALID_NA_VIN, plate="TI 2")
    await helpers.vehicle(shop, vin="WVWZZZ1KZ8W000001", plate="TI 3")
    await helpers.sign_in_as(client, shop)

    page = await (await client.get(f"/vehicles?vin={helpers.WRONG_CHECK_DIGIT_VIN}")).get_data(as_text=True)
    assert "The VIN you typed cannot be right" in page and "check digit" in page
    page = await (await client.get(f"/vehicles?vin={helpers.VALID_NA_VIN}")).get_data(as_text=True)
    assert "cannot be right" not in page and _plates(page) == ["TI 2"]
    # The listing marks stored VINs that fail their check digit; a European VIN has none to fail.
    listing = await (await client.get("/vehicles?sort=plate")).get_data(as_text=True)
    rows = listing.split('id="vehicle-row-')[1:]
    assert ["check VIN" in row for row in rows] == [True, False, False]


async def test_an_empty_dealership_is_invited_to_add_its_first_vehicle(client, factory):
    shop = await factory.tenant()
    await helpers.sign_in_as(client, shop)
    page = await (await client.get("/vehicles")).get_data(as_text=True)
    assert "There are no vehicles yet." in page and "Add the first vehicle" in page


async def test_the_filter_form_answers_htmx_with_the_list_and_its_address(client, factory):
    shop = await factory.tenant()
    await helpers.vehicle(shop, plate="GE 77")
    token = await helpers.sign_in_as(client, shop)
    response = await client.get("/vehicles?plate=GE", headers={"HX-Request": "true", "X-CSRF-Token": token})
    fragment = await response.get_data(as_text=True)
    assert fragment.startswith('<div id="vehicle-list"') or 'id="vehicle-list"' in fragment[:200]
    assert "<html" not in fragment
    assert response.headers["HX-Push-Url"] == "/vehicles?plate=GE"
