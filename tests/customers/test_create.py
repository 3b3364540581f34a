"""Creating a customer: every field validated with the libraries, duplicates caught by email and phone,
and two reps saving the same person at once: exactly one customer."""

from __future__ import annotations

import asyncio
import re

import pytest

from ops.customers.service import CustomerData, DuplicateCustomer, InvalidCustomer, create_customer
from tests.customers.helpers import customer_count, customers, events, new_customer
from tests.web import sign_in

GOOD = {
    "type": "INDIVIDUAL",
    "status": "PROSPECT",
    "first_name": "Anna",
    "last_name": "Muster",
    "email": "anna.muster@example.ch",
    "phone": "079 123 45 67",
    "address_line": "Bahnhofstrasse 1",
    "postal_code": "8001",
    "city": "Zürich",
    "region": "ZH",
    "country": "CH",
    "preferred_language": "de",
    "budget_min": "30000",
    "budget_max": "45000.50",
    "vehicle_interests": "Octavia Combi, Enyaq",
}


async def _post(client, token: str, **changes: str):  # type: ignore[no-untyped-def]
    form = {**GOOD, **changes, "csrf_token": token}
    return await client.post("/customers", form=form)


async def test_a_rep_creates_a_customer_and_lands_on_their_page(client, factory):
    """A walk-in's details would be lost, or stored in a form nobody could search by."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en", name="Rita Rep")
    token = await sign_in(client, rep.email)

    response = await _post(client, token, email="Anna.Muster@Example.CH", uid="CHE-109.322.551")

    assert response.status_code == 302
    [customer] = await customers(shop.db, shop.id)
    assert response.headers["Location"] == f"/customers/{customer.id}"
    assert (customer.first_name, customer.last_name) == ("Anna", "Muster")
    assert customer.email == "anna.muster@example.ch"
    assert customer.phone == "+41791234567"
    assert (customer.postal_code, customer.city, customer.region, customer.country) == (
        "8001",
        "Zürich",
        "ZH",
        "CH",
    )
    assert str(customer.budget_min) == "30000.00" and str(customer.budget_max) == "45000.50"
    assert customer.vehicle_interests == ["Octavia Combi", "Enyaq"]
    assert customer.uid is None, "a private person has no company UID"
    assert customer.owner_id == rep.actor.user_id
    [created] = await events(shop.db, shop.id, "customer.created")
    assert created.topics == [f"customer:{customer.id}"]
    assert "Anna" not in str(created.payload) and "example.ch" not in str(created.payload)
    page = await (await client.get(f"/customers/{customer.id}")).get_data(as_text=True)
    assert "+41 79 123 45 67" in page and "Anna Muster" in page


async def test_a_business_gets_its_company_and_uid_stored_formatted(factory):
    shop = await factory.tenant()
    customer = await new_customer(
        shop, type="BUSINESS", company_name="Muster Transporte AG", uid="che109322551", email="info@muster.ch"
    )
    assert customer.uid == "CHE-109.322.551"
    assert customer.company_name == "Muster Transporte AG"
    assert customer.display_name == "Muster Transporte AG (Anna Muster)"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "anna@", "valid email"),
        ("email", "anna muster@example.ch", "valid email"),
        ("phone", "12", "valid phone"),
        ("phone", "+41 79 123", "valid phone"),
        ("first_name", "", "required"),
        ("last_name", "M" * 51, "at most 50"),
        ("first_name", "A" * 51, "at most 50"),
        ("budget_max", "lots", "amount"),
        ("budget_max", "1000", "below the lower end"),
        ("preferred_language", "es", "Choose one"),
        ("type", "ALIEN", "Choose one"),
        ("country", "XX", "country"),
    ],
)
async def test_a_bad_value_is_named_next_to_its_field_and_nothing_is_saved(
    client, factory, field, value, message
):
    shop = await factory.tenant()
    token = await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    response = await _post(client, token, **{field: value})

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="customer-{field}-error">([^<]*)</p>', page)
    assert error, f"no error next to {field}"
    assert message in error.group(1)
    assert f'aria-describedby="customer-{field}-error"' in page
    assert await customer_count(shop.db, shop.id) == 0
    assert "Please correct the marked fields" in page


@pytest.mark.parametrize(
    ("uid", "message"),
    [("CHE-109.322.552", "check digit"), ("CHE-12", "CHE-123.456.789"), ("DE123456789", "CHE-123.456.789")],
)
async def test_a_business_uid_is_checked_with_its_checksum(client, factory, uid, message):
    shop = await factory.tenant()
    token = await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    response = await _post(client, token, type="BUSINESS", company_name="Muster AG", uid=uid)

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    assert re.search(rf'id="customer-uid-error">[^<]*{re.escape(message)}', page)
    assert await customer_count(shop.db, shop.id) == 0


async def test_a_business_needs_its_company_name(factory):
    shop = await factory.tenant()
    with pytest.raises(InvalidCustomer) as refused:
        await new_customer(shop, type="FLEET")
    assert set(refused.value.errors) == {"company_name"}
    assert await customer_count(shop.db, shop.id) == 0


async def test_every_bad_field_is_reported_at_once(factory):
    shop = await factory.tenant()
    with pytest.raises(InvalidCustomer) as refused:
        await new_customer(shop, first_name="", email="nope", phone="x", budget_min="-1")
    assert set(refused.value.errors) == {"first_name", "email", "phone", "budget_min"}


async def test_the_same_email_is_refused_with_a_link_to_the_customer_it_belongs_to(client, factory):
    """Two records of one person split their history and their consent."""
    shop = await factory.tenant()
    existing = await new_customer(shop, first_name="Anna", last_name="Muster", email="anna@example.ch")
    token = await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    response = await _post(
        client, token, first_name="Anne", last_name="Muster", email="ANNA@example.ch", phone=""
    )

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    assert "This looks like Anna Muster (same email)." in page
    assert f'href="/customers/{existing.id}"' in page
    assert "Nothing was saved." in page
    assert 'id="customer-email-error"' in page
    assert await customer_count(shop.db, shop.id) == 1


@pytest.mark.parametrize("typed", ["+41 79 123 45 67", "0791234567", "0041 79 123 45 67", "+41791234567"])
async def test_the_same_phone_number_written_differently_is_refused(factory, typed):
    shop = await factory.tenant()
    existing = await new_customer(shop, phone="079 123 45 67")

    with pytest.raises(DuplicateCustomer) as refused:
        await new_customer(shop, first_name="Hans", phone=typed)

    assert refused.value.existing_id == existing.id and refused.value.by == "phone"
    assert str(refused.value) == "This looks like Anna Muster (same phone number)."
    assert await customer_count(shop.db, shop.id) == 1


async def test_another_dealerships_customer_is_no_duplicate(factory):
    shop, other = await factory.tenant(), await factory.tenant()
    await new_customer(other, email="anna@example.ch", phone="0791234567")
    await new_customer(shop, email="anna@example.ch", phone="0791234567")
    assert await customer_count(shop.db, shop.id) == 1


async def test_a_number_without_country_code_is_read_in_the_dealerships_country(factory):
    swiss, german = await factory.tenant(country="CH"), await factory.tenant(country="DE")
    assert (await new_customer(swiss, phone="044 668 18 00")).phone == "+41446681800"
    assert (await new_customer(german, phone="030 1234567")).phone == "+49301234567"


async def test_two_reps_saving_the_same_email_at_once_make_exactly_one_customer(factory, backend):
    """The database's unique (tenant, email) decides the race; the loser hears whom it lost to."""
    shop = await factory.tenant()
    reps = [await shop.user("sales_rep", locale="en") for _ in range(2)]
    start = asyncio.Event()

    async def save(index: int):  # type: ignore[no-untyped-def]
        await start.wait()
        async with shop.db.uow(reps[index].actor) as uow:
            return await create_customer(
                uow, CustomerData(first_name="Anna", last_name=f"Muster {index}", email="anna@example.ch")
            )

    tasks = [asyncio.create_task(save(index)) for index in range(2)]
    await asyncio.sleep(0)
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    winners = [result for result in results if not isinstance(result, BaseException)]
    losers = [result for result in results if isinstance(result, BaseException)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert isinstance(losers[0], DuplicateCustomer)
    assert losers[0].existing_id == winners[0].id
    stored = await customers(shop.db, shop.id)
    assert [customer.id for customer in stored] == [winners[0].id]
    assert len(await events(shop.db, shop.id, "customer.created")) == 1


async def test_two_reps_saving_the_same_phone_at_once_make_exactly_one_customer(factory, backend):
    """No unique constraint on phone: the check and the insert are serialised per number."""
    shop = await factory.tenant()
    reps = [await shop.user("sales_rep", locale="en") for _ in range(2)]
    start = asyncio.Event()

    async def save(index: int, phone: str):  # type: ignore[no-untyped-def]
        await start.wait()
        async with shop.db.uow(reps[index].actor) as uow:
            return await create_customer(
                uow, CustomerData(first_name="Anna", last_name=f"Muster {index}", phone=phone)
            )

    tasks = [
        asyncio.create_task(save(0, "079 123 45 67")),
        asyncio.create_task(save(1, "+41 79 123 45 67")),
    ]
    await asyncio.sleep(0)
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert sum(isinstance(result, DuplicateCustomer) for result in results) == 1, results
    assert await customer_count(shop.db, shop.id) == 1


async def test_a_known_customer_is_named_even_while_other_fields_are_still_wrong(factory):
    """A rep typing a known caller's email should hear at once that the customer exists."""
    shop = await factory.tenant()
    existing = await new_customer(shop, email="anna@example.ch")

    with pytest.raises(DuplicateCustomer) as refused:
        await new_customer(shop, first_name="", email="Anna@Example.ch", uid="CHE-1", type="BUSINESS")

    assert refused.value.existing_id == existing.id
    assert await customer_count(shop.db, shop.id) == 1


async def test_a_known_email_is_named_together_with_the_other_bad_fields(client, factory):
    """The duplicate hid the bad phone and the inverted budget until it was fixed: one error per submit."""
    shop = await factory.tenant()
    existing = await new_customer(shop, first_name="Anna", last_name="Muster", email="anna@example.ch")
    token = await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    response = await _post(
        client, token, email="anna@example.ch", phone="12345", budget_min="50000", budget_max="10000"
    )

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    assert f'href="/customers/{existing.id}"' in page and "Nothing was saved." in page
    marked = dict(re.findall(r'<p class="field-error" id="customer-([a-z_]+)-error">([^<]*)</p>', page))
    assert marked == {
        "email": "This looks like Anna Muster (same email).",
        "phone": "Enter a valid phone number; add the country code (+49 ...) for a foreign one.",
        "budget_max": "The upper end of the budget is below the lower end.",
    }
    assert await customer_count(shop.db, shop.id) == 1


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [
        ("CH", "8001", "8001"),
        ("LI", "9490", "9490"),
        ("AT", "1010", "1010"),
        ("DE", "80331", "80331"),
        ("FR", "75001", "75001"),
        ("IT", "20121", "20121"),
        ("GB", "sw1a 1aa", "SW1A 1AA"),
        ("NL", "1012  AB", "1012 AB"),
        ("PL", "00-950", "00-950"),
        ("CH", "", None),
    ],
)
async def test_a_postal_code_is_kept_as_its_country_writes_it(factory, country, typed, stored):
    shop = await factory.tenant()
    customer = await new_customer(shop, country=country, postal_code=typed, city="Somewhere")
    assert customer.postal_code == stored


@pytest.mark.parametrize(
    ("country", "typed", "message"),
    [
        ("CH", "ABCDE", "Postal code for Switzerland: 4 digits, such as 8001."),
        ("CH", "80011", "Postal code for Switzerland: 4 digits, such as 8001."),
        ("LI", "949", "Postal code for Liechtenstein: 4 digits, such as 9490."),
        ("AT", "A-1010", "Postal code for Austria: 4 digits, such as 1010."),
        ("DE", "8033", "Postal code for Germany: 5 digits, such as 80331."),
        ("FR", "75 001", "Postal code for France: 5 digits, such as 75001."),
        ("IT", "\uff12\uff10\uff11\uff12\uff11", "Postal code for Italy: 5 digits, such as 20121."),
        ("GB", "SW1A 1AA 1234", "Postal code: use 2 to 10 letters, digits, spaces or hyphens."),
        ("US", "1", "Postal code: use 2 to 10 letters, digits, spaces or hyphens."),
        ("US", "10001!", "Postal code: use 2 to 10 letters, digits, spaces or hyphens."),
    ],
)
async def test_a_postal_code_that_does_not_fit_its_country_is_named_and_nothing_is_saved(
    client, factory, country, typed, message
):
    """ABCDE for a Swiss address was stored, and the address then read "—" on the customer's page."""
    shop = await factory.tenant()
    token = await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    response = await _post(client, token, country=country, postal_code=typed)

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    assert f'<p class="field-error" id="customer-postal_code-error">{message}</p>' in page
    assert await customer_count(shop.db, shop.id) == 0


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        (
            {"address_line": "Bahnhofstrasse 1", "postal_code": "8001", "city": "Zürich"},
            "Bahnhofstrasse 1, 8001 Zürich · CH",
        ),
        ({"postal_code": "8001"}, "8001 · CH"),
        ({"address_line": "Bahnhofstrasse 1", "postal_code": "8001"}, "Bahnhofstrasse 1, 8001 · CH"),
        ({"postal_code": "6300", "region": "ZG"}, "6300 ZG · CH"),
        ({}, "—"),
    ],
)
async def test_every_part_of_the_address_is_shown_on_the_customers_page(client, factory, address, shown):
    """An address with a postal code but no city read "Address —", as if there were none."""
    shop = await factory.tenant()
    customer = await new_customer(shop, country="CH", **address)
    await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    page = await (await client.get(f"/customers/{customer.id}")).get_data(as_text=True)

    assert f"<dt>Address</dt><dd>{shown}</dd>" in page
