"""The customer's rights: a copy of all their data (JSON), and erasure that keeps the financial records;
both recorded in the audit trail."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from ops.auth.actor import RuleViolation
from ops.customers.service import (
    CustomerData,
    erase_customer,
    log_interaction,
    record_consent,
    update_customer,
)
from ops.sales.models import Deal, Quote
from ops.workshop.models import Invoice, WorkOrder
from tests.customers.helpers import consents, events, interactions, new_customer, sales_history, stored
from tests.customers.test_timeline import workshop_visit
from tests.web import sign_in


async def _customer_with_history(shop):  # type: ignore[no-untyped-def]
    customer = await new_customer(
        shop,
        type="BUSINESS",
        company_name="Muster Transporte AG",
        uid="CHE-109.322.551",
        email="anna@example.ch",
        phone="079 123 45 67",
        address_line="Bahnhofstrasse 1",
        postal_code="8001",
        city="Zürich",
        region="ZH",
        budget_min="30000",
        budget_max="45000",
        vehicle_interests="Enyaq",
    )
    async with shop.db.uow(shop.admin.actor) as uow:
        await record_consent(uow, customer.id, "EMAIL", True, "Signed form")
    async with shop.db.uow(shop.admin.actor) as uow:
        await log_interaction(
            uow, customer.id, "CALL", "PHONE", "Anna asked about the Enyaq", "Lives in Zürich"
        )
    lead, quote, deal = await sales_history(shop, customer.id)
    vehicle, order, invoice = await workshop_visit(shop, customer.id)
    return customer, lead, quote, deal, vehicle, order, invoice


async def test_the_export_holds_all_of_the_customers_data_and_is_recorded(client, factory):
    """A customer asking what the dealership stores about them is owed all of it (DSG/GDPR)."""
    shop = await factory.tenant()
    customer, lead, quote, deal, vehicle, order, invoice = await _customer_with_history(shop)
    manager = await shop.user("sales_manager", locale="en")
    await sign_in(client, manager.email)

    response = await client.get(f"/customers/{customer.id}/export.json")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="customer-{customer.id}.json"'
    assert response.mimetype == "application/json"
    data = json.loads(await response.get_data(as_text=True))
    assert data["customer"]["email"] == "anna@example.ch" and data["customer"]["uid"] == "CHE-109.322.551"
    assert data["customer"]["budget_max"] == "45000.00"
    assert [row["channel"] for row in data["consents"]] == ["EMAIL"]
    assert data["interactions"][0]["body"] == "Lives in Zürich"
    assert [row["id"] for row in data["leads"]] == [lead.id]
    assert [row["id"] for row in data["quotes"]] == [quote.id] and data["quotes"][0]["total"] == "54050.00"
    assert [row["id"] for row in data["deals"]] == [deal.id]
    assert [row["vin"] for row in data["vehicles"]] == [vehicle.vin]
    assert [row["id"] for row in data["work_orders"]] == [order.id]
    assert [line["description"] for line in data["work_orders"][0]["lines"]] == ["Replace brake pads"]
    assert [row["total"] for row in data["invoices"]] == [str(invoice.total)]
    assert "link_nonce" not in data["quotes"][0] and "estimate_nonce" not in data["work_orders"][0]
    assert all("tenant_id" not in row for row in data["leads"])
    [exported] = await events(shop.db, shop.id, "customer.exported")
    assert exported.payload == {"id": customer.id} and exported.actor_id == manager.actor.user_id


async def test_erasure_anonymises_the_person_and_keeps_the_financial_records(client, factory):
    shop = await factory.tenant()
    customer, _lead, quote, deal, _vehicle, order, invoice = await _customer_with_history(shop)
    manager = await shop.user("sales_manager", locale="en")
    token = await sign_in(client, manager.email)

    wrong = await client.post(
        f"/customers/{customer.id}/erase", form={"confirm_name": "Anna", "csrf_token": token}
    )
    assert wrong.status_code == 422 and "exactly as shown" in await wrong.get_data(as_text=True)
    assert (await stored(shop.db, shop.id, customer.id)).erased_at is None

    response = await client.post(
        f"/customers/{customer.id}/erase", form={"confirm_name": " anna  MUSTER ", "csrf_token": token}
    )

    assert response.status_code == 302
    after = await stored(shop.db, shop.id, customer.id)
    assert (after.first_name, after.last_name) == ("Erased", "Erased")
    assert [after.email, after.phone, after.address_line, after.postal_code, after.city, after.region] == [
        None
    ] * 6
    assert (after.company_name, after.uid, after.budget_min, after.budget_max) == (None, None, None, None)
    assert after.vehicle_interests == [] and after.do_not_contact and after.erased_at is not None
    latest = await consents(shop.db, shop.id, customer.id)
    assert [(row.channel, row.granted) for row in latest] == [("EMAIL", True), ("EMAIL", False)]
    [call] = await interactions(shop.db, shop.id, customer.id)
    assert (call.subject, call.body, call.status) == ("", "", "CLOSED")
    async with shop.db.read(shop.id) as session:
        kept_quote = (await session.execute(select(Quote).where(Quote.id == quote.id))).scalar_one()
        kept_deal = (await session.execute(select(Deal).where(Deal.id == deal.id))).scalar_one()
        kept_order = (await session.execute(select(WorkOrder).where(WorkOrder.id == order.id))).scalar_one()
        kept_invoice = (await session.execute(select(Invoice).where(Invoice.id == invoice.id))).scalar_one()
    assert (kept_quote.total, kept_quote.customer_id) == (quote.total, customer.id)
    assert (kept_deal.total, kept_deal.customer_id) == (deal.total, customer.id)
    assert kept_order.customer_id == customer.id
    assert (kept_invoice.total, kept_invoice.net) == (invoice.total, invoice.net)
    [erased] = await events(shop.db, shop.id, "customer.erased")
    assert erased.actor_id == manager.actor.user_id and set(erased.payload) == {"id", "erased_at"}
    assert erased.topics == [f"customer:{customer.id}", "sales"]
    every_payload = json.dumps([event.payload for event in await events(shop.db, shop.id)])
    for personal in ("anna@example.ch", "Muster", "+41791234567", "Bahnhofstrasse", "CHE-109"):
        assert personal not in every_payload, f"{personal} lives on in the audit trail"
    page = await (await client.get(f"/customers/{customer.id}")).get_data(as_text=True)
    assert "personal data was erased" in page and "Log a call or note" not in page and "Erase…" not in page
    assert "Q-000001" in page, "the financial records stay on the timeline"


async def test_an_erased_customer_cannot_be_edited_contacted_or_erased_again(client, factory):
    shop = await factory.tenant()
    customer = await new_customer(shop)
    async with shop.db.uow(shop.admin.actor) as uow:
        await erase_customer(uow, customer.id)
    token = await sign_in(client, (await shop.user("admin", locale="en")).email)

    again = await client.post(
        f"/customers/{customer.id}/erase", form={"confirm_name": "Erased Erased", "csrf_token": token}
    )
    assert again.status_code == 422 and "already erased" in await again.get_data(as_text=True)
    log = await client.post(
        f"/customers/{customer.id}/interactions",
        form={"type": "CALL", "channel": "PHONE", "subject": "Hello", "csrf_token": token},
    )
    assert log.status_code == 422 and "can no longer be changed or contacted" in await log.get_data(
        as_text=True
    )
    edit = await client.get(f"/customers/{customer.id}/edit")
    assert edit.status_code == 302
    async with shop.db.uow(shop.admin.actor) as uow:
        with pytest.raises(RuleViolation):
            await update_customer(uow, customer.id, CustomerData("Anna", "Muster"), 2)
    async with shop.db.uow(shop.admin.actor) as uow:
        with pytest.raises(RuleViolation):
            await record_consent(uow, customer.id, "EMAIL", True, "Form")
    assert len(await events(shop.db, shop.id, "customer.erased")) == 1
