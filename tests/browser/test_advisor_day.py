"""The service advisor's day in headless Chromium: from a vehicle search to an invoiced, closed job."""

from __future__ import annotations

from decimal import Decimal

from playwright.async_api import expect
from sqlalchemy import select

from ops.vehicles.models import Vehicle
from ops.workshop.jobs.service import add_labour_line
from ops.workshop.models import Bay, WorkOrder
from ops.workshop.parts.service import NewPart, create_part
from ops.workshop.service import move_work_order
from tests.browser.conftest import OpenPage
from tests.browser.pages import Cable, answer_next_question
from tests.browser.test_board_live import (
    _resume_from_a_forgotten_position as resume_from_a_forgotten_position,
)
from tests.conftest import LiveServer
from tests.factories import TenantHandle
from tests.workshop.order_helpers import give_bay

PLATE = "ZH 424242"


async def test_an_advisor_takes_a_car_from_check_in_to_invoice(
    open_page: OpenPage, shop: TenantHandle, live_server: LiveServer
):
    """If any step breaks, the counter cannot get a car through the workshop and billed."""
    db = live_server.runtime.db
    advisor = await shop.user("service_advisor", locale="en", name="Sara Advisor")
    await shop.user("technician", locale="en", name="Luca Technician")
    await shop.vehicle(plate=PLATE, make="Skoda", model="Octavia")
    async with db.uow(shop.admin.actor) as uow:
        uow.session.add(Bay(name="Lift 1", kind="LIFT"))
        await uow.commit()
    async with db.uow(shop.admin.actor) as uow:
        await create_part(
            uow,
            NewPart(sku="BP-100", name="Brake pad set", price=Decimal("45.00"), opening_stock=Decimal("5")),
        )
    board = await open_page()
    page = board.page
    await board.sign_in(advisor.email)

    # A new work order, found by the car's plate.
    await page.get_by_role("link", name="New work order").first.click()
    await page.get_by_label("Find by plate, VIN or customer name").fill("424242")
    await page.get_by_label(PLATE).check()
    await page.get_by_label("Complaint").fill("Brakes squeal when stopping")
    await page.get_by_role("button", name="Create work order").click()
    async with db.read(shop.id) as session:
        work_order = (await session.scalars(select(WorkOrder))).one()
    await expect(board.toast("success")).to_contain_text(f"Work order {work_order.code} created.")

    # Straight on the new job's page.
    await page.wait_for_url(f"**/workshop/work-orders/{work_order.id}")
    await board.wait_until_live()
    status = page.locator(".status-badge")
    await expect(status).to_have_text("New")

    # Book a bay and a technician, then check the car in.
    schedule = page.locator("details.action").filter(has=page.locator("summary", has_text="Schedule"))
    await schedule.locator("summary").click()
    await schedule.get_by_label("Bay").select_option(label="Lift 1")
    await schedule.get_by_label("Technician").select_option(label="Luca Technician")
    await schedule.get_by_label("Start").fill("2030-03-04T08:00")
    await schedule.get_by_label("End").fill("2030-03-04T10:00")
    await schedule.get_by_role("button", name="Schedule").click()
    await expect(status).to_have_text("Scheduled")
    await expect(page.locator("#order-header")).to_contain_text("Lift 1")

    await page.locator("summary", has_text="Check in").click()  # the car arrives
    await page.get_by_label("Odometer (km)").fill("48250")
    await page.get_by_role("button", name="Check the vehicle in").click()
    await expect(status).to_have_text("Checked in")
    await expect(page.locator("#order-header")).to_contain_text("48\u2019250 km")

    # Build the job: 1.5 h of labour at the dealership's rate and two pads from stock.
    await page.get_by_label("Operation").fill("Replace front brake pads")
    await page.get_by_label("Hours").fill("1.5")
    await page.get_by_role("button", name="Add labour").click()
    lines = page.locator("#order-lines")
    await expect(lines).to_contain_text("Replace front brake pads")
    await expect(page.locator("#order-totals")).to_contain_text("CHF 267.55")  # 247.50 + 8.1 % VAT

    await page.get_by_label("Find a part by SKU or name").fill("BP-1")
    await page.get_by_label("BP-100").check()
    await page.get_by_label("Quantity", exact=True).fill("2")
    await page.get_by_role("button", name="Add part").click()
    await expect(lines).to_contain_text("2 reserved")
    # The search kept through the labour line's answer is cleared once the part is added.
    await expect(page.get_by_label("Find a part by SKU or name")).to_have_value("")
    await expect(page.locator("#part-results input")).to_have_count(0)
    await expect(page.locator("#order-totals")).to_contain_text("CHF 364.84")  # + 90.00 + 7.29 VAT

    # Through the workshop to READY: completion creates the invoice.
    for target in ("In progress", "Quality check", "Ready"):
        await page.get_by_label("Move to").select_option(label=target)
        await page.get_by_role("button", name="Move", exact=True).click()
        await expect(status).to_have_text(target)
    invoice_link = page.get_by_role("link", name="Invoice INV-000001")
    await expect(invoice_link).to_be_visible()
    await expect(page.locator("#order-line-forms")).to_contain_text("its lines can no longer change")

    await invoice_link.click()
    await expect(page.locator("#invoice-title")).to_contain_text("INV-000001")
    await expect(page.locator(".grand-total")).to_contain_text("CHF 364.84")
    await page.go_back()

    # The customer picks the car up; closing asks first.
    answer_next_question(page, yes=True)
    await page.get_by_role("button", name="Close: picked up by the customer").click()
    await expect(status).to_have_text("Closed")
    await expect(page.locator("#order-history")).to_contain_text("Ready → Closed")

    assert board.console_errors == []
    assert await board.csp_violations() == []


async def test_the_open_page_follows_changes_made_elsewhere_without_losing_what_is_typed(
    open_page: OpenPage, shop: TenantHandle, live_server: LiveServer
):
    """A manager adds work and the job moves on while the advisor is typing the next line."""
    db = live_server.runtime.db
    advisor = await shop.user("service_advisor", locale="en")
    manager = await shop.user("workshop_manager", locale="en", name="Mia Manager")
    work_order = await give_bay(shop, await shop.work_order(status="CHECKED_IN"))
    board = await open_page()
    page = board.page
    await board.sign_in(advisor.email)
    await page.goto(f"/workshop/work-orders/{work_order.id}")
    await board.wait_until_live()
    await page.get_by_label("Operation").fill("Replace wiper blades")
    await page.get_by_label("Hours").fill("0.5")

    async with db.uow(manager.actor) as uow:
        await add_labour_line(uow, work_order.id, "Diagnosis", Decimal("1"))
    await expect(page.locator("#order-lines")).to_contain_text("Diagnosis")
    await expect(page.locator("#order-totals")).to_contain_text("CHF 178.37")  # 165.00 + 13.37 VAT
    await expect(board.announcer).to_have_text(f"Diagnosis added to {work_order.code} by Mia Manager.")
    async with db.uow(manager.actor) as uow:
        await move_work_order(uow, work_order.id, "IN_PROGRESS", work_order.version)
    await expect(page.locator(".status-badge")).to_have_text("In progress")
    await expect(page.locator("#order-history")).to_contain_text("Checked in → In progress")

    # What the advisor typed is still there, and it goes on the job.
    await expect(page.get_by_label("Operation")).to_have_value("Replace wiper blades")
    await page.get_by_role("button", name="Add labour").click()
    await expect(page.locator("#order-lines")).to_contain_text("Replace wiper blades")
    await expect(page.get_by_label("Operation")).to_have_value("")
    # The move menu carries the version the live update brought, so the advisor's move is not stale.
    await page.get_by_label("Move to").select_option(label="Quality check")
    await page.get_by_role("button", name="Move", exact=True).click()
    await expect(page.locator(".status-badge")).to_have_text("Quality check")
    assert board.console_errors == []
    assert await board.csp_violations() == []


async def test_an_open_page_the_live_log_cannot_catch_up_re_fetches_the_order(
    open_page: OpenPage, shop: TenantHandle, live_server: LiveServer, cable: Cable
):
    """After a gap the log no longer holds, the server can only say `reset`: the page reads the order
    again from the database instead of showing an old total."""
    db = live_server.runtime.db
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="CHECKED_IN")
    away = await open_page(base_url=cable.url)
    page = away.page
    await away.sign_in(advisor.email)
    await page.goto(f"/workshop/work-orders/{work_order.id}")
    await away.wait_until_live()
    await cable.unplug()
    await expect(away.connection).to_have_attribute("data-connection", "reconnecting")
    async with db.uow(shop.admin.actor) as uow:
        await add_labour_line(uow, work_order.id, "Added while away", Decimal("1"))
    before = await away.live_messages()
    await page.route("**/live?*", resume_from_a_forgotten_position)

    async with page.expect_request(
        lambda request: (
            request.url.endswith(f"/workshop/work-orders/{work_order.id}")
            and request.headers.get("hx-request") == "true"
        )
    ):
        await cable.plug()

    await expect(page.locator("#order-lines")).to_contain_text("Added while away")
    await expect(page.locator("#order-totals")).to_contain_text("CHF 178.37")
    assert [message.type for message in (await away.live_messages())[len(before) :]] == ["reset"]
    # The re-fetched page is live again.
    await page.unroute("**/live?*")
    await away.wait_until_live()
    async with db.uow(shop.admin.actor) as uow:
        await add_labour_line(uow, work_order.id, "Added after the reset", Decimal("1"))
    await expect(page.locator("#order-lines")).to_contain_text("Added after the reset")


async def test_a_refused_check_in_keeps_the_form_open_with_the_reading_and_the_focus_on_it(
    open_page: OpenPage, shop: TenantHandle, live_server: LiveServer
):
    """The panel closed and the reason only flashed by in a toast: the advisor opened it again and retyped."""
    db = live_server.runtime.db
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order()
    async with db.uow(shop.admin.actor) as uow:
        vehicle = await uow.session.get(Vehicle, work_order.vehicle_id)
        assert vehicle is not None
        vehicle.odometer_km = 177_053
        await uow.commit()
    desk = await open_page()
    page = desk.page
    await desk.sign_in(advisor.email)
    await page.goto(f"/workshop/work-orders/{work_order.id}")
    await desk.wait_until_live()
    check_in = page.locator("details.action").filter(has=page.locator("summary", has_text="Check in"))

    await check_in.locator("summary").click()
    await check_in.get_by_label("Odometer (km)").fill("17705")
    await check_in.get_by_role("button", name="Check the vehicle in").click()

    odometer = page.get_by_label("Odometer (km)")
    await expect(odometer).to_have_attribute("aria-invalid", "true")
    await expect(odometer).to_be_focused()
    await expect(odometer).to_have_value("17705")
    await expect(odometer).to_have_accessible_description(
        "The odometer reading 17\u2019705 km is below the 177\u2019053 km already recorded for this vehicle; "
        "check the reading."
    )
    assert await check_in.evaluate("details => details.open")
    await expect(page.locator(".status-badge")).to_have_text("New")

    # Typed right, the car is checked in.
    await odometer.fill("177100")
    await page.get_by_role("button", name="Check the vehicle in").click()
    await expect(page.locator(".status-badge")).to_have_text("Checked in")
    # Chromium logs the refused request's 422 by itself; nothing else may go wrong.
    assert [error for error in desk.console_errors if "status of 422" not in error] == []


async def test_a_refused_schedule_keeps_the_panel_open_with_the_choices_and_the_focus_on_the_field(
    open_page: OpenPage, shop: TenantHandle, live_server: LiveServer
):
    """The panel closed on a bay taken at that time; the advisor chose bay, technician and times again."""
    db = live_server.runtime.db
    advisor = await shop.user("service_advisor", locale="en")
    await shop.user("technician", locale="en", name="Luca Technician")
    async with db.uow(shop.admin.actor) as uow:
        uow.session.add_all([Bay(name="Lift 1", kind="LIFT"), Bay(name="Lift 2", kind="LIFT")])
        await uow.commit()
    work_order = await shop.work_order()
    desk = await open_page()
    page = desk.page
    await desk.sign_in(advisor.email)
    await page.goto(f"/workshop/work-orders/{work_order.id}")
    await desk.wait_until_live()
    schedule = page.locator("details.action").filter(has=page.locator("summary", has_text="Schedule"))

    await schedule.locator("summary").click()
    await schedule.get_by_label("Bay").select_option(label="Lift 1")
    await schedule.get_by_label("Technician").select_option(label="Luca Technician")
    await schedule.get_by_label("Start").fill("2030-03-04T10:00")
    await schedule.get_by_label("End").fill("2030-03-04T09:00")
    await schedule.get_by_role("button", name="Schedule").click()

    end = schedule.get_by_label("End")
    await expect(end).to_have_attribute("aria-invalid", "true")
    await expect(end).to_be_focused()
    await expect(end).to_have_accessible_description("The end must be after the start.")
    await expect(schedule.get_by_label("Start")).to_have_value("2030-03-04T10:00")
    assert await schedule.get_by_label("Bay").evaluate("select => select.selectedOptions[0].text") == "Lift 1"
    assert await schedule.evaluate("details => details.open")
    await expect(page.locator(".status-badge")).to_have_text("New")

    # The end put right, the job is booked.
    await end.fill("2030-03-04T12:00")
    await schedule.get_by_role("button", name="Schedule").click()
    await expect(page.locator(".status-badge")).to_have_text("Scheduled")
    await expect(page.locator("#order-header")).to_contain_text("Lift 1")
    assert [error for error in desk.console_errors if "status of 422" not in error] == []
