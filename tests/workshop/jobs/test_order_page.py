"""The work-order page, GET /workshop/work-orders/<id>: every section, per role, and tenant isolation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import update

from ops.customers.models import Customer
from ops.vehicles.models import Vehicle
from ops.workshop.jobs.service import add_labour_line, add_part_line
from ops.workshop.models import Bay, WorkOrder, WorkOrderCategory, WorkOrderNote
from ops.workshop.service import assign_work_order, check_in_work_order, schedule_work_order
from tests.factories import TenantHandle
from tests.web import sign_in
from tests.workshop.jobs.helpers import stocked_part
from tests.workshop.order_helpers import add_bay, move

# Two bytes short of nothing: a 1x1 transparent PNG, enough for the page to show a photo.
PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
START = datetime(2030, 3, 4, 7, 30, tzinfo=UTC)


def page_path(work_order_id: int) -> str:
    return f"/workshop/work-orders/{work_order_id}"


def section(page: str, section_id: str) -> str:
    """One live section of the page: from its start to the start of the next one."""
    start = page.find(f'<section id="{section_id}"')
    assert start >= 0, f"the page has no #{section_id}"
    following = page.find("data-live-key=", page.index("data-live-key=", start) + 1)
    return page[start : following if following >= 0 else len(page)]


def forms_in(page: str) -> list[str]:
    """The action of every form inside the order's part of the page (not the sign-out form)."""
    order_part = page[page.index('id="order-page"') :]
    return re.findall(r'<form[^>]*action="([^"]+)"', order_part)


async def _full_order(shop: TenantHandle) -> tuple[WorkOrder, dict[str, object]]:
    """A checked-in job with a bay, a technician, a category, lines, a note with a photo and history."""
    db = shop.db
    technician = await shop.user("technician", name="Luca Technician")
    async with db.uow(shop.admin.actor) as uow:
        bay = Bay(name="Lift 2", kind="LIFT")
        uow.session.add(bay)
        category = await uow.session.scalar(
            WorkOrderCategory.__table__.select().where(WorkOrderCategory.name == "Brake Service")
        )
        await uow.commit()
    work_order = await shop.work_order(complaint="Squealing brakes at low speed")
    async with db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(WorkOrder)
            .where(WorkOrder.id == work_order.id)
            .values(category_id=category, promised_at=START + timedelta(hours=8))
        )
        await uow.session.execute(
            update(Vehicle).where(Vehicle.id == work_order.vehicle_id).values(odometer_km=48_000)
        )
        await uow.commit()
    async with db.uow(shop.admin.actor) as uow:
        work_order = await schedule_work_order(
            uow, work_order.id, bay.id, technician.actor.user_id, START, START + timedelta(hours=2), 1
        )
    async with db.uow(shop.admin.actor) as uow:
        work_order = await check_in_work_order(uow, work_order.id, 48_250, work_order.version)
    part = await stocked_part(shop, on_hand="10", price="45.00", sku="BP-100")
    async with db.uow(shop.admin.actor) as uow:
        await add_labour_line(uow, work_order.id, "Replace front pads", Decimal("1.5"))
    async with db.uow(shop.admin.actor) as uow:
        await add_part_line(uow, work_order.id, part.id, Decimal("2"))
    async with db.uow(shop.admin.actor) as uow:
        uow.session.add(
            WorkOrderNote(
                work_order_id=work_order.id,
                author_id=technician.actor.user_id,
                body="Discs scored, pads at 2 mm",
                photo=PIXEL_PNG,
                photo_type="image/png",
            )
        )
        await uow.commit()
    return work_order, {"technician": technician, "bay": bay}


async def test_the_page_shows_every_section_of_the_order(client, factory):
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="en")
    work_order, _ = await _full_order(shop)
    await sign_in(client, advisor.email)

    response = await client.get(page_path(work_order.id))

    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    header = section(page, "order-header")
    for shown in (
        "Checked in",  # the status
        "Priority: Normal",
        "Skoda Octavia",
        "TESTVIN",
        "Anna Muster",
        "mailto:",
        "Squealing brakes at low speed",
        "Brake Service",
        "Admin Person",  # the advisor who created it
        "Luca Technician",
        "Lift 2",
        "4 Mar 2030, 08:30\u201310:30",  # the slot, in Zurich time, its end on the same day
        "4 Mar 2030, 16:30",  # promised
        "48\u2019250 km",  # checked in with
    ):
        assert shown in header, shown
    # The vehicle's odometer is the check-in reading, as the Swiss write it, not the 48'000 from before.
    assert header.count("48\u2019250 km") == 2 and "48\u2019000 km" not in header
    lines = section(page, "order-lines")
    assert "Replace front pads" in lines and "Brake pad set" in lines and "BP-100" in lines
    assert lines.count('class="approval approval-pending">Pending<') == 2
    assert "2 reserved" in lines
    # 1.5 h x 165 = 247.50 (VAT 20.05) and 2 x 45 = 90.00 (VAT 7.29)
    for amount in ("CHF\xa0247.50", "CHF\xa090.00", "CHF\xa0337.50", "CHF\xa027.34", "CHF\xa0364.84"):
        assert amount in lines, amount
    assert "VAT 8.1 %" in lines
    history = section(page, "order-history")
    assert "Scheduled → <strong>Checked in</strong>" in history
    assert "New → <strong>Scheduled</strong>" in history
    assert "Admin Person" in history
    notes = section(page, "order-notes")
    assert "Discs scored, pads at 2 mm" in notes and "Luca Technician" in notes
    photo = r'<img class="note-photo" src="/workshop/notes/\d+/photo" alt="Photo by Luca Technician"'
    assert re.search(photo, notes)
    # The page follows its own order live.
    assert f'sse-connect="/live?topic=wo:{work_order.id}' in page
    assert 'data-connection="connecting"' in page


async def test_an_advisor_gets_the_actions_the_status_allows(client, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    new = await shop.work_order()
    checked_in = await shop.work_order(status="CHECKED_IN")
    await sign_in(client, advisor.email)

    new_page = await (await client.get(page_path(new.id))).get_data(as_text=True)
    checked_in_page = await (await client.get(page_path(checked_in.id))).get_data(as_text=True)

    assert f"/workshop/work-orders/{new.id}/move" in forms_in(new_page)
    assert f"/workshop/work-orders/{new.id}/schedule" in forms_in(new_page)
    assert f"/workshop/work-orders/{new.id}/check-in" in forms_in(new_page)
    assert f"/workshop/work-orders/{new.id}/lines/labour" in forms_in(new_page)
    assert f"/workshop/work-orders/{new.id}/lines/part" in forms_in(new_page)
    assert f"/workshop/work-orders/{checked_in.id}/schedule" not in forms_in(checked_in_page)
    assert f"/workshop/work-orders/{checked_in.id}/close" not in forms_in(checked_in_page)
    # The move menu offers exactly the allowed transitions.
    menu = re.search(r'<select id="order-move".*?</select>', new_page, re.S)
    assert menu
    assert re.findall(r'<option value="([A-Z_]+)"', menu.group(0)) == ["SCHEDULED", "CHECKED_IN", "CANCELLED"]


async def test_a_viewer_sees_the_order_but_no_forms(client, factory):
    shop = await factory.tenant(country="CH")
    viewer = await shop.user("viewer", locale="en")
    work_order, _ = await _full_order(shop)
    await sign_in(client, viewer.email)

    page = await (await client.get(page_path(work_order.id))).get_data(as_text=True)

    assert forms_in(page) == []
    assert "Replace front pads" in page and "CHF\xa0364.84" in page and "Discs scored" in page
    assert 'id="order-line-forms"' in page and "Add to the job" not in page


async def test_a_technician_may_move_the_job_and_add_notes_but_not_price_or_plan_it(client, factory):
    shop = await factory.tenant(country="CH")
    work_order, people = await _full_order(shop)
    technician = people["technician"]
    await sign_in(client, technician.email)  # type: ignore[attr-defined]

    page = await (await client.get(page_path(work_order.id))).get_data(as_text=True)

    assert forms_in(page) == [
        f"/workshop/work-orders/{work_order.id}/move",
        f"/workshop/work-orders/{work_order.id}/notes",
    ]
    assert "Replace front pads" in page and "Remove" not in section(page, "order-lines")


async def test_an_order_of_another_dealership_is_not_found(client, factory):
    shop = await factory.tenant()
    other = await factory.tenant()
    advisor = await shop.user("service_advisor")
    theirs = await other.work_order()
    await sign_in(client, advisor.email)

    assert (await client.get(page_path(theirs.id))).status_code == 404
    assert (await client.get(page_path(999_999_999))).status_code == 404
    assert (await client.get(page_path(theirs.id), headers={"HX-Request": "true"})).status_code == 404


async def test_a_done_job_shows_its_lines_without_the_forms_to_change_them(client, factory, runtime):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="CLOSED")
    await sign_in(client, advisor.email)

    page = await (await client.get(page_path(work_order.id))).get_data(as_text=True)

    assert "This job is Closed: its lines can no longer change." in page
    assert not any("/lines/" in action for action in forms_in(page))
    assert "No labour or parts on this job yet." in page


async def test_a_comeback_is_flagged_with_the_job_it_repeats(client, factory, runtime):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    earlier = await shop.work_order(status="CLOSED")
    work_order = await shop.work_order()
    async with runtime.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(WorkOrder).where(WorkOrder.id == work_order.id).values(comeback_of_id=earlier.id)
        )
        await uow.commit()
    await sign_in(client, advisor.email)

    page = await (await client.get(page_path(work_order.id))).get_data(as_text=True)

    assert f'href="/workshop/work-orders/{earlier.id}"' in page
    assert f"Comeback of {earlier.code}" in page


async def test_the_page_re_fetches_only_its_live_part_after_a_reset(client, factory):
    """On `reset` the page asks for the part that live updates swap, not a page inside the page."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order()
    await sign_in(client, advisor.email)

    response = await client.get(page_path(work_order.id), headers={"HX-Request": "true"})

    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="order-page"') and "<html" not in html
    assert 'hx-trigger="sse:reset"' in html


async def test_the_part_search_finds_parts_by_sku_or_name(client, factory):
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order()
    await stocked_part(shop, on_hand="4", name="Oil filter", sku="OF-7")
    await stocked_part(shop, on_hand="0", name="Brake disc", sku="BD-1")
    await sign_in(client, advisor.email)

    async def search(text: str) -> str:
        response = await client.get(f"/workshop/work-orders/{work_order.id}/parts", query_string={"q": text})
        return await response.get_data(as_text=True)  # type: ignore[no-any-return]

    by_sku, by_name, nothing = await search("of-"), await search("disc"), await search("%")

    assert "OF-7" in by_sku and "Oil filter" in by_sku and "4 pc available" in by_sku and "BD-1" not in by_sku
    assert "BD-1" in by_name and "0 pc available" in by_name
    assert "No part matches" in nothing


async def test_the_part_search_is_for_people_who_price_this_dealerships_jobs(app, client, factory):
    shop = await factory.tenant()
    other = await factory.tenant()
    technician = await shop.user("technician")
    advisor = await shop.user("service_advisor")
    ours, theirs = await shop.work_order(), await other.work_order()

    await sign_in(client, technician.email)
    assert (await client.get(f"/workshop/work-orders/{ours.id}/parts?q=a")).status_code == 403
    advisor_client = app.test_client()
    await sign_in(advisor_client, advisor.email)
    assert (await advisor_client.get(f"/workshop/work-orders/{theirs.id}/parts?q=a")).status_code == 404


async def test_a_german_page_names_part_units_in_german_and_formats_the_customers_phone(client, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="de")
    work_order, _context = await _full_order(shop)
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(Customer).where(Customer.id == work_order.customer_id).values(phone="+41791234567")
        )
        await uow.commit()
    await sign_in(client, advisor.email)

    page = await (await client.get(page_path(work_order.id))).get_data(as_text=True)

    assert '<span class="unit">Stk</span>' in page and '<span class="unit">pc</span>' not in page
    # Written as people read it; the link dials the stored E.164 number.
    assert '<a href="tel:+41791234567">+41 79 123 45 67</a>' in page


async def test_a_job_booked_on_a_bay_another_job_is_in_says_which_job_holds_it(client, factory):
    """Booking a busy bay gave no sign that the car could not go in until the other job leaves it."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    technician = await shop.user("technician")
    alignment = await add_bay(shop, "Achsvermessung")
    holder = await move(shop, await shop.work_order(status="CHECKED_IN"), "IN_PROGRESS")
    async with shop.db.uow(shop.admin.actor) as uow:
        await assign_work_order(uow, holder.id, None, alignment.id, holder.version)
    booked = await shop.work_order()
    async with shop.db.uow(shop.admin.actor) as uow:
        await schedule_work_order(
            uow, booked.id, alignment.id, technician.actor.user_id, START, START + timedelta(hours=1), 1
        )
    await sign_in(client, advisor.email)

    booked_page = await (await client.get(page_path(booked.id))).get_data(as_text=True)
    holder_page = await (await client.get(page_path(holder.id))).get_data(as_text=True)

    assert f'Achsvermessung <span class="late">in use by {holder.code} now</span>' in booked_page
    assert "in use by" not in holder_page
