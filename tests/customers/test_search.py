"""Finding a customer: one search box over names, company, email and phone; 20 a page; htmx fragment."""

from __future__ import annotations

import re

from tests.customers.helpers import new_customer
from tests.web import sign_in


def names(page: str) -> list[str]:
    return re.findall(r'<a class="customer-name" href="/customers/\d+">([^<]+)</a>', page)


async def _page(client, url: str, **headers: str) -> str:  # type: ignore[no-untyped-def]
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.status_code
    return await response.get_data(as_text=True)  # type: ignore[no-any-return]


async def test_one_box_finds_a_customer_by_name_company_email_or_phone(client, factory):
    """A rep with a caller on the line could not find the customer in seconds."""
    shop = await factory.tenant()
    other = await factory.tenant()
    await new_customer(
        shop, first_name="Anna", last_name="Muster", email="anna@example.ch", phone="079 123 45 67"
    )
    await new_customer(
        shop,
        first_name="Beat",
        last_name="Keller",
        type="BUSINESS",
        company_name="Keller Bau AG",
        email="beat@keller.ch",
    )
    await new_customer(shop, first_name="Carla", last_name="Rossi", phone="+39 06 1234 5678")
    await new_customer(other, first_name="Anna", last_name="Fremd", email="anna@fremd.ch")
    await sign_in(client, (await shop.user("viewer", locale="en")).email)

    assert names(await _page(client, "/customers")) == ["Beat Keller", "Anna Muster", "Carla Rossi"]
    assert names(await _page(client, "/customers?q=anna")) == ["Anna Muster"]
    assert names(await _page(client, "/customers?q=MUSTER")) == ["Anna Muster"]
    assert names(await _page(client, "/customers?q=anna+muster")) == ["Anna Muster"]
    assert names(await _page(client, "/customers?q=keller+bau")) == ["Beat Keller"]
    assert names(await _page(client, "/customers?q=beat%40keller")) == ["Beat Keller"]
    assert names(await _page(client, "/customers?q=079+123+45+67")) == ["Anna Muster"]
    assert names(await _page(client, "/customers?q=%2B41791234567")) == ["Anna Muster"]
    assert names(await _page(client, "/customers?q=79+123")) == ["Anna Muster"]
    assert names(await _page(client, "/customers?q=06+1234")) == ["Carla Rossi"]
    assert names(await _page(client, "/customers?q=100%25")) == []
    empty = await _page(client, "/customers?q=nobody")
    assert "No customer matches" in empty and "Create a new customer" not in empty, "a viewer cannot create"


async def test_no_match_offers_to_create_the_customer_with_what_was_typed(client, factory):
    shop = await factory.tenant()
    await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    by_phone = await _page(client, "/customers?q=079+765+43+21")
    by_name = await _page(client, "/customers?q=Hans+Meier")

    assert 'href="/customers/new?phone=079+765+43+21"' in by_phone
    assert 'href="/customers/new?first_name=Hans&amp;last_name=Meier"' in by_name
    form = await _page(client, "/customers/new?first_name=Hans&last_name=Meier")
    assert 'value="Hans"' in form and 'value="Meier"' in form
    assert "There are no customers yet." in await _page(client, "/customers")


async def test_twenty_customers_a_page(client, factory):
    shop = await factory.tenant()
    for number in range(23):
        await new_customer(shop, first_name="Kunde", last_name=f"N{number:02d}")
    await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    first = await _page(client, "/customers")
    second = await _page(client, "/customers?page=2")

    assert len(names(first)) == 20 and len(names(second)) == 3
    assert "Page 1 of 2" in first and 'href="/customers?page=2"' in first
    assert "Kunde N22" in second
    assert "23 customers" in first


async def test_typing_fetches_only_the_results_for_htmx(client, factory):
    shop = await factory.tenant()
    await new_customer(shop)
    await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    fragment = await _page(client, "/customers?q=anna", **{"HX-Request": "true"})
    page = await _page(client, "/customers")

    assert fragment.lstrip().startswith('<div id="customer-results"') and "<html" not in fragment
    assert names(fragment) == ["Anna Muster"]
    assert 'hx-trigger="submit, input changed delay:250ms from:#customer-q"' in page
    assert 'method="get" action="/customers"' in page, "works without JavaScript too"
