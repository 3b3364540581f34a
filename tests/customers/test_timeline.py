"""The customer's page: profile, then one timeline of interactions, leads, quotes, deals, vehicles and
workshop visits, newest first; logging a call or note from the page; the follow-up list."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ops.customers.service import log_interaction
from ops.i18n import current_currency, current_locale, format_money
from ops.vehicles.models import Vehicle
from ops.workshop.jobs.service import add_labour_line
from ops.workshop.models import Invoice
from ops.workshop.service import NewWorkOrder, create_work_order, move_work_order
from tests.customers.helpers import events, interactions, new_customer, sales_history
from tests.web import sign_in
from tests.workshop.order_helpers import give_bay


def entry_ids(page: str) -> list[str]:
    return re.findall(r'<li class="entry entry-\w+" id="([\w-]+)">', page)


def entry(page: str, entry_id: str) -> str:
    match = re.search(rf'<li class="entry entry-\w+" id="{entry_id}">(.*?)</li>', page, re.S)
    assert match, f"no timeline entry {entry_id}"
    return match.group(1)


async def workshop_visit(shop, customer_id: int):  # type: ignore[no-untyped-def]
    """The customer's car, and a job on it that was finished and invoiced."""
    async with shop.db.uow(shop.admin.actor) as uow:
        vehicle = Vehicle(
            vin="TMBJJ7NE8L0123456",
            plate="ZH 12345",
            make="Skoda",
            model="Octavia",
            year=2021,
            customer_id=customer_id,
        )
        uow.session.add(vehicle)
        await uow.commit()
    async with shop.db.uow(shop.admin.actor) as uow:
        order = await create_work_order(uow, NewWorkOrder(vehicle_id=vehicle.id, complaint="Brakes squeal"))
    async with shop.db.uow(shop.admin.actor) as uow:
        await add_labour_line(uow, order.id, "Replace brake pads", Decimal("1.5"), Decimal("120"))
    order = await give_bay(shop, order)
    for step in ("CHECKED_IN", "IN_PROGRESS", "QUALITY_CHECK", "READY"):
        async with shop.db.uow(shop.admin.actor) as uow:
            order = await move_work_order(uow, order.id, step, order.version)
    async with shop.db.read(shop.id) as session:
        invoice = (
            await session.execute(select(Invoice).where(Invoice.work_order_id == order.id))
        ).scalar_one()
    return vehicle, order, invoice


async def test_the_page_shows_everything_done_with_the_customer_newest_first(client, factory):
    """A rep taking a call would not see that the caller has an open deal and a car in the workshop."""
    shop = await factory.tenant()
    customer = await new_customer(shop, email="anna@example.ch", phone="0791234567", city="Zürich")
    lead, quote, deal = await sales_history(
        shop, customer.id, at=datetime.now(ZoneInfo("UTC")) - timedelta(days=3)
    )
    vehicle, order, invoice = await workshop_visit(shop, customer.id)
    rep = await shop.user("sales_rep", locale="en", name="Rita Rep")
    token = await sign_in(client, rep.email)

    response = await client.post(
        f"/customers/{customer.id}/interactions",
        form={
            "type": "CALL",
            "channel": "PHONE",
            "subject": "Asked about winter tyres",
            "body": "Call back with prices",
            "status": "OPEN",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    page = await (await client.get(f"/customers/{customer.id}")).get_data(as_text=True)

    [note] = await interactions(shop.db, shop.id, customer.id)
    assert entry_ids(page) == [
        f"interaction-{note.id}",
        f"work_order-{order.id}",
        f"vehicle-{vehicle.id}",
        f"deal-{deal.id}",
        f"quote-{quote.id}",
        f"lead-{lead.id}",
    ]
    token_locale, token_currency = current_locale.set("en_CH"), current_currency.set("CHF")
    try:
        invoice_total, quote_total = format_money(invoice.total), format_money(quote.total)
    finally:
        current_locale.reset(token_locale)
        current_currency.reset(token_currency)
    assert invoice.total > 0
    call = entry(page, f"interaction-{note.id}")
    assert "Asked about winter tyres" in call and "Call back with prices" in call and "Rita Rep" in call
    visit = entry(page, f"work_order-{order.id}")
    assert "WO-" in visit and "Ready" in visit and invoice_total in visit and "ZH 12345" in visit
    assert f'href="/workshop/work-orders/{order.id}"' in visit
    assert "Skoda Octavia (2021)" in entry(page, f"vehicle-{vehicle.id}")
    assert "D-000001" in entry(page, f"deal-{deal.id}")
    assert "Q-000001" in entry(page, f"quote-{quote.id}") and "Accepted" in entry(page, f"quote-{quote.id}")
    assert quote_total in entry(page, f"quote-{quote.id}")
    assert "Enyaq 85 in grey" in entry(page, f"lead-{lead.id}") and "Quote" in entry(page, f"lead-{lead.id}")
    assert "anna@example.ch" in page and "+41 79 123 45 67" in page and "Zürich" in page
    assert f"topic=customer%3A{customer.id}" in page or f"topic=customer:{customer.id}" in page


async def test_logging_with_htmx_answers_with_a_fresh_form_and_the_timeline(client, factory):
    shop = await factory.tenant()
    customer = await new_customer(shop)
    token = await sign_in(client, (await shop.user("service_advisor", locale="en")).email)

    response = await client.post(
        f"/customers/{customer.id}/interactions",
        form={"type": "NOTE", "channel": "IN_PERSON", "subject": "Prefers mornings", "csrf_token": token},
        headers={"HX-Request": "true"},
    )

    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert (
        html.lstrip().startswith('<form id="log-form"')
        and 'name="subject" maxlength="200" required value=""' in html
    )
    assert '<section id="customer-timeline"' in html and 'hx-swap-oob="outerHTML"' in html
    assert "Prefers mornings" in html
    [logged] = await events(shop.db, shop.id, "interaction.logged")
    assert logged.topics == [f"customer:{customer.id}"]


async def test_a_log_without_subject_or_with_a_past_follow_up_is_refused_next_to_the_field(client, factory):
    shop = await factory.tenant()
    customer = await new_customer(shop)
    token = await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    empty = await client.post(
        f"/customers/{customer.id}/interactions",
        form={"type": "CALL", "channel": "PHONE", "subject": "  ", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    past = await client.post(
        f"/customers/{customer.id}/interactions",
        form={
            "type": "CALL",
            "channel": "PHONE",
            "subject": "Call",
            "follow_up_on": "2001-01-01",
            "csrf_token": token,
        },
    )
    odd = await client.post(
        f"/customers/{customer.id}/interactions",
        form={"type": "SMOKE_SIGNAL", "channel": "PHONE", "subject": "Call", "csrf_token": token},
    )

    assert empty.status_code == 422 and 'id="log-subject-error"' in await empty.get_data(as_text=True)
    assert past.status_code == 422 and 'id="log-follow_up_on-error"' in await past.get_data(as_text=True)
    assert odd.status_code == 422 and 'id="log-type-error"' in await odd.get_data(as_text=True)
    assert await interactions(shop.db, shop.id, customer.id) == []


async def test_my_follow_ups_lists_my_open_calls_due_within_a_week_overdue_first(client, factory):
    """A promised call-back that nobody sees is a lost customer."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    colleague = await shop.user("sales_rep", locale="en")
    anna = await new_customer(shop)
    beat = await new_customer(shop, first_name="Beat", last_name="Keller")
    today = datetime.now(ZoneInfo(shop.tenant.timezone)).date()

    async def log(by, customer, subject: str, due: date | None, status: str = "OPEN"):  # type: ignore[no-untyped-def]
        async with shop.db.uow(by.actor) as uow:
            return await log_interaction(
                uow, customer.id, "CALL", "PHONE", subject, follow_up_on=due, status=status
            )

    await log(rep, anna, "Next week", today + timedelta(days=7))
    await log(rep, beat, "Today", today)
    overdue = await log(rep, anna, "Overdue", today - timedelta(days=2))
    await log(rep, anna, "Too far ahead", today + timedelta(days=8))
    await log(rep, anna, "Already done", today, status="RESOLVED")
    await log(rep, anna, "No date", None)
    await log(colleague, beat, "Someone else's", today)
    token = await sign_in(client, rep.email)

    page = await (await client.get("/customers/follow-ups")).get_data(as_text=True)

    subjects = re.findall(r": ([^<]+)</span>\s*</div>", page)
    assert subjects == ["Overdue", "Today", "Next week"]
    assert f'id="follow-up-{overdue.id}"' in page and "Overdue" in page
    done = await client.post(f"/customers/interactions/{overdue.id}/resolve", form={"csrf_token": token})
    assert done.status_code == 302
    page = await (await client.get("/customers/follow-ups")).get_data(as_text=True)
    assert re.findall(r": ([^<]+)</span>\s*</div>", page) == ["Today", "Next week"]


async def test_the_follow_up_list_and_timeline_have_empty_states(client, factory):
    shop = await factory.tenant()
    customer = await new_customer(shop)
    await sign_in(client, (await shop.user("sales_rep", locale="en")).email)

    assert "Nothing to follow up this week" in await (await client.get("/customers/follow-ups")).get_data(
        as_text=True
    )
    assert "Nothing yet. Log the first call or note." in await (
        await client.get(f"/customers/{customer.id}")
    ).get_data(as_text=True)
