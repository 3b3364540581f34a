"""Who may do what: another dealership's customer is 404 on every URL; roles without the permission 403."""

from __future__ import annotations

import pytest

from ops.customers.service import log_interaction
from tests.customers.helpers import customer_count, interactions, new_customer, stored
from tests.web import sign_in


def _urls(customer_id: int, interaction_id: int) -> list[tuple[str, str, dict[str, str]]]:
    return [
        ("GET", f"/customers/{customer_id}", {}),
        ("GET", f"/customers/{customer_id}/edit", {}),
        ("POST", f"/customers/{customer_id}/edit", {"first_name": "X", "last_name": "Y", "version": "1"}),
        (
            "POST",
            f"/customers/{customer_id}/interactions",
            {"type": "CALL", "channel": "PHONE", "subject": "Hi"},
        ),
        (
            "POST",
            f"/customers/{customer_id}/consents",
            {"channel": "EMAIL", "granted": "1", "source": "Form"},
        ),
        ("POST", f"/customers/{customer_id}/do-not-contact", {"do_not_contact": "1"}),
        ("POST", f"/customers/interactions/{interaction_id}/resolve", {}),
        ("GET", f"/customers/{customer_id}/export.json", {}),
        ("GET", f"/customers/{customer_id}/erase", {}),
        ("POST", f"/customers/{customer_id}/erase", {"confirm_name": "Anna Muster"}),
    ]


async def test_another_dealerships_customer_is_not_found_on_every_url(client, factory):
    """A rep must never read or change a competitor's customer by guessing an id."""
    shop, other = await factory.tenant(), await factory.tenant()
    foreign = await new_customer(other, email="anna@example.ch")
    async with other.db.uow(other.admin.actor) as uow:
        note = await log_interaction(uow, foreign.id, "CALL", "PHONE", "Hello", follow_up_on=None)
    token = await sign_in(client, (await shop.user("admin", locale="en")).email)

    for method, url, form in _urls(foreign.id, note.id):
        if method == "GET":
            response = await client.get(url)
        else:
            response = await client.post(url, form={**form, "csrf_token": token})
        assert response.status_code == 404, (method, url, response.status_code)

    after = await stored(other.db, other.id, foreign.id)
    assert (after.first_name, after.erased_at, after.do_not_contact, after.version) == (
        "Anna",
        None,
        False,
        1,
    )
    assert len(await interactions(other.db, other.id, foreign.id)) == 1
    assert (await interactions(other.db, other.id, foreign.id))[0].status == "OPEN"


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("technician", set()),
        ("viewer", {"view"}),
        ("workshop_manager", {"view"}),
        ("service_advisor", {"view", "edit"}),
        ("sales_rep", {"view", "edit"}),
        ("sales_manager", {"view", "edit", "rights"}),
        ("admin", {"view", "edit", "rights"}),
    ],
)
async def test_each_role_sees_and_does_only_what_it_may(client, factory, role, allowed):
    shop = await factory.tenant()
    customer = await new_customer(shop)
    user = await shop.user(role, locale="en")
    token = await sign_in(client, user.email)

    view = await client.get(f"/customers/{customer.id}")
    search = await client.get("/customers")
    follow_ups = await client.get("/customers/follow-ups")
    new_form = await client.get("/customers/new")
    create = await client.post(
        "/customers", form={"first_name": "Hans", "last_name": "Meier", "csrf_token": token}
    )
    log = await client.post(
        f"/customers/{customer.id}/interactions",
        form={"type": "CALL", "channel": "PHONE", "subject": "Hi", "csrf_token": token},
    )
    export = await client.get(f"/customers/{customer.id}/export.json")
    erase_form = await client.get(f"/customers/{customer.id}/erase")

    def expected(kind: str, ok: int) -> int:
        return ok if kind in allowed else 403

    assert view.status_code == expected("view", 200)
    assert search.status_code == expected("view", 200)
    assert follow_ups.status_code == expected("view", 200)
    assert new_form.status_code == expected("edit", 200)
    assert create.status_code == expected("edit", 302)
    assert log.status_code == expected("edit", 302)
    assert export.status_code == expected("rights", 200)
    assert erase_form.status_code == expected("rights", 200)
    assert await customer_count(shop.db, shop.id) == (2 if "edit" in allowed else 1)
    assert len(await interactions(shop.db, shop.id, customer.id)) == (1 if "edit" in allowed else 0)
    board = await (await client.get("/workshop/board")).get_data(as_text=True)
    assert ('href="/customers"' in board) == ("view" in allowed), "Customers in the navigation"
    if "view" in allowed:
        page = await view.get_data(as_text=True)
        assert ("Log a call or note" in page) == ("edit" in allowed)
        assert ("Export data" in page) == ("rights" in allowed)
        assert ("Erase…" in page) == ("rights" in allowed)
