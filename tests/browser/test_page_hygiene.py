"""The sign-in page and the job board run cleanly in a real browser: no script errors, nothing the
Content Security Policy had to block (it forbids inline script and style); a page fits a phone's
screen."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from ops.customers.models import Customer
from ops.workshop.service import assign_work_order
from tests.vehicles.helpers import fleet

pytestmark = pytest.mark.browser


async def test_sign_in_and_the_live_board_run_without_console_errors_or_csp_violations(open_page, shop):
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order()
    board = await open_page()

    await board.page.goto("/login")
    await expect(board.page.get_by_role("button", name="Sign in")).to_be_visible()
    assert await board.csp_violations() == []
    await board.sign_in(advisor.email)
    await board.wait_until_live()
    await expect(board.presence).to_have_text("only you are watching")
    await board.move_with_menu(work_order.id, "SCHEDULED")
    await expect(board.card_in("SCHEDULED", work_order.id)).to_be_visible()
    await board.page.wait_for_function("window.pitwallTest.messages.some((m) => m.type === 'update')")

    assert await board.csp_violations() == []
    assert board.console_errors == []


@pytest.mark.parametrize(
    "path",
    ["/sales/quotes", "/customers", "/vehicles/new", "/settings/mail", "/settings/users", "/fleet/fleets"],
)
async def test_a_page_fits_a_phone(open_page, shop, path):
    # A page wider than the phone makes it zoom out, and what sits on the right (a filter's button,
    # a form's field) ends up off the screen.
    admin = await shop.user("admin", locale="en")
    await fleet(shop, "Alpenblick Ersatzwagen für Kundinnen und Kunden")  # the fleets' tables
    phone = await open_page(phone=True)
    await phone.sign_in(admin.email)
    await phone.page.goto(path)
    await expect(phone.page.locator("main h1")).to_be_in_viewport()
    widths = await phone.page.evaluate("[window.innerWidth, document.documentElement.scrollWidth]")
    assert widths == [390, 390]


async def test_the_customer_list_lines_up_whether_or_not_a_customer_has_an_owner(open_page, shop):
    """Each row of the list is a grid of its own; an owner's name took width from the contact details of
    its row only, so the emails of a page started at different places."""
    advisor = await shop.user("service_advisor", locale="en")
    rep = await shop.user("sales_rep", locale="en", name="Daniela Suter-Brunschwiler")
    async with shop.db.uow(shop.admin.actor) as uow:
        for index, owner in enumerate((None, rep.actor.user_id, None)):
            uow.session.add(
                Customer(
                    first_name="Lea",
                    last_name=f"Keller{index}",
                    email=f"lea.keller{index}@example.ch",
                    owner_id=owner,
                )
            )
        await uow.commit()
    browser = await open_page()
    await browser.sign_in(advisor.email)
    page = browser.page
    await page.goto("/customers?q=Keller")

    lefts = [
        (await contact.bounding_box() or {})["x"]
        for contact in await page.locator(".customer-row .contact").all()
    ]
    assert len(lefts) == 3 and len(set(lefts)) == 1, lefts


async def test_a_dragged_job_and_its_toast_apply_no_inline_style(open_page, shop):
    """SortableJS leaves an empty style attribute on the jobs it animated; the technician view's re-read
    then replaced them, and htmx's settling copied that attribute onto the new ones, which the policy
    refuses and Chromium logs as an error each time."""
    manager = await shop.user("workshop_manager", locale="en")
    luca = await shop.user("technician", name="Luca Brunner")
    mia = await shop.user("technician", name="Mia Keller")
    jobs = [await shop.work_order(status="CHECKED_IN") for _ in range(3)]
    async with shop.db.uow(shop.admin.actor) as uow:
        for job in jobs:
            await assign_work_order(uow, job.id, luca.actor.user_id, None, job.version)
    view = await open_page()
    await view.sign_in(manager.email)
    page = view.page
    await page.goto("/workshop/technicians")
    await view.wait_until_live()

    await page.locator(f"#queued-{jobs[0].id} .vehicle").drag_to(
        page.locator(f"#tech-{mia.actor.user_id} .queue")
    )

    await expect(page.locator(f"#tech-{mia.actor.user_id} #queued-{jobs[0].id}")).to_be_visible()
    await expect(page.locator(f"#tech-{luca.actor.user_id} .queue > li")).to_have_count(2)
    assert await view.csp_violations() == []
    # A drop the rules refuse: the card goes back and a toast says why.
    await page.goto("/workshop/board")
    await view.wait_until_live()
    await view.card(jobs[1].id).locator(".vehicle").drag_to(page.locator("#cards-READY"))
    await expect(page.locator("#toasts .toast-error")).to_be_visible()
    await expect(view.card_in("CHECKED_IN", jobs[1].id)).to_be_visible()

    assert await view.csp_violations() == []
    assert not [error for error in view.console_errors if "Content Security Policy" in error]


@pytest.mark.parametrize("path", ["/workshop/invoices", "/workshop/kpis", "/settings/mail"])
async def test_every_choice_of_a_filter_switch_shows_on_the_narrowest_phone(open_page, shop, path):
    # In German on a 320 px phone the choices no longer fit one row: they wrap to a second one rather
    # than leave the last off the edge, to be found only by scrolling the switch sideways.
    admin = await shop.user("admin", locale="de")
    phone = await open_page(phone=True)
    await phone.sign_in(admin.email)
    await phone.page.set_viewport_size({"width": 320, "height": 700})
    await phone.page.goto(path)
    switch = phone.page.locator("main .period-switch")
    await expect(switch.locator("a").first).to_be_visible()
    overflow = await switch.evaluate("(nav) => nav.scrollWidth - nav.clientWidth")
    assert overflow == 0
    for choice in await switch.locator("a").all():
        box = await choice.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320, await choice.inner_text()
