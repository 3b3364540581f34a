"""Editing a customer: validated like creation, duplicates refused, a stale form answered with 409."""

from __future__ import annotations

import pytest

from ops.customers.service import CustomerData, DuplicateCustomer, update_customer
from tests.customers.helpers import events, new_customer, stored
from tests.web import sign_in


def _form(customer, **changes: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "type": customer.type,
        "status": customer.status,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email or "",
        "phone": customer.phone or "",
        "country": customer.country,
        "preferred_language": customer.preferred_language,
        "owner_id": str(customer.owner_id or ""),
        "version": str(customer.version),
        **changes,
    }


async def test_a_rep_edits_a_customer(client, factory):
    shop = await factory.tenant()
    customer = await new_customer(shop, email="anna@example.ch")
    token = await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    form = await (await client.get(f"/customers/{customer.id}/edit")).get_data(as_text=True)
    response = await client.post(
        f"/customers/{customer.id}/edit",
        form={**_form(customer, city="Bern", phone="031 123 45 67"), "csrf_token": token},
    )

    assert 'name="version" value="1"' in form
    assert response.status_code == 302
    after = await stored(shop.db, shop.id, customer.id)
    assert (after.city, after.phone, after.version) == ("Bern", "+41311234567", 2)
    [updated] = await events(shop.db, shop.id, "customer.updated")
    assert set(updated.payload["changed"]) == {"city", "phone"}
    assert "Bern" not in str(updated.payload)
    assert updated.topics == [f"customer:{customer.id}", "sales"]


async def test_a_stale_form_is_answered_with_409_and_the_current_state(client, factory):
    """Two people editing one customer: the second would silently undo the first's change."""
    shop = await factory.tenant()
    customer = await new_customer(shop)
    async with shop.db.uow(shop.admin.actor) as uow:
        await update_customer(uow, customer.id, CustomerData.from_mapping(_form(customer, city="Luzern")), 1)
    token = await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    response = await client.post(
        f"/customers/{customer.id}/edit", form={**_form(customer, city="Basel"), "csrf_token": token}
    )

    assert response.status_code == 409
    page = await response.get_data(as_text=True)
    assert (
        "changed by someone else" in page and 'value="Luzern"' in page and 'name="version" value="2"' in page
    )
    assert (await stored(shop.db, shop.id, customer.id)).city == "Luzern"


async def test_an_edit_may_not_take_another_customers_email(factory):
    shop = await factory.tenant()
    await new_customer(shop, first_name="Beat", email="beat@example.ch")
    customer = await new_customer(shop, email="anna@example.ch")
    async with shop.db.uow(shop.admin.actor) as uow:
        with pytest.raises(DuplicateCustomer) as refused:
            await update_customer(
                uow, customer.id, CustomerData.from_mapping(_form(customer, email="beat@example.ch")), 1
            )
    assert refused.value.by == "email"
    assert (await stored(shop.db, shop.id, customer.id)).email == "anna@example.ch"


async def test_a_bad_value_in_an_edit_is_named_and_nothing_changes(client, factory):
    shop = await factory.tenant()
    customer = await new_customer(shop)
    token = await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    response = await client.post(
        f"/customers/{customer.id}/edit",
        form={**_form(customer, email="bad@", city="Bern"), "csrf_token": token},
    )

    assert response.status_code == 422
    assert 'id="customer-email-error"' in await response.get_data(as_text=True)
    after = await stored(shop.db, shop.id, customer.id)
    assert (after.city, after.version) == (None, 1)


async def test_a_known_phone_is_named_together_with_the_other_bad_fields(client, factory):
    shop = await factory.tenant()
    other = await new_customer(shop, first_name="Hans", last_name="Keller", phone="079 123 45 67")
    customer = await new_customer(shop, email="anna@example.ch")
    token = await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    response = await client.post(
        f"/customers/{customer.id}/edit",
        form={**_form(customer, phone="+41 79 123 45 67", email="anna@"), "csrf_token": token},
    )

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    assert f'href="/customers/{other.id}"' in page
    assert 'id="customer-phone-error">This looks like Hans Keller (same phone number).</p>' in page
    assert 'id="customer-email-error">Enter a valid email address, such as anna@example.ch.</p>' in page
    assert (await stored(shop.db, shop.id, customer.id)).version == 1
