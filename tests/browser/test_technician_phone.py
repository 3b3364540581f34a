"""The technician's day on a phone (390x844, touch): clock on, a note with a photo from the camera,
send the car to quality check; a job the manager assigns meanwhile appears by itself. And the
manager's technician view reassigns by keyboard."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from ops.workshop.service import assign_work_order
from tests.browser.pages import BoardPage
from tests.workshop.technicians.helpers import (
    assigned_job,
    estimate_sent,
    part_line,
    png,
    reload,
    time_entries,
)

pytestmark = pytest.mark.browser

# Apple's and Google's guidance for a finger: 44 px and more.
MIN_TARGET_PX = 44
SMALLEST_TARGET_SCRIPT = """
() => Math.min(...Array.from(document.querySelectorAll(
  "#my-jobs button, #my-jobs textarea, #my-jobs input[type=file]"))
  .map((element) => element.getBoundingClientRect().height))
"""


async def test_a_technician_works_a_job_from_the_phone(open_page, shop, live_server, tmp_path: Path):
    tech = await shop.user("technician", locale="en", name="Luca Rossi")
    job = await assigned_job(shop, tech, status="CHECKED_IN", complaint="Squeal from the front left brake")
    line = await part_line(shop, job, name="Brake pads front")
    phone: BoardPage = await open_page(phone=True)
    page = phone.page
    # Signing in lands on their own jobs, not on the whole board.
    await phone.sign_in(tech.email)
    await page.wait_for_url("**/workshop/my-jobs")
    await phone.wait_until_live()
    card = page.locator(f"#job-{job.id}")
    await expect(card).to_contain_text("Squeal from the front left brake")

    # Clock on: the job starts and its clock ticks.
    await card.get_by_role("button", name="Clock on").click()
    await expect(card.get_by_role("button", name="Clock off")).to_be_visible()
    await expect(card.locator(".badge.status")).to_have_text("In progress")
    clock = card.locator("time.elapsed")
    first = await clock.text_content()
    await expect(clock).not_to_have_text(first or "", timeout=5_000)

    # The part goes on the car.
    await card.get_by_role("button", name="Brake pads front used").click()
    await expect(page.locator(f"#used-{line.id}")).to_have_attribute("aria-pressed", "true")

    # A note with a photo from the camera.
    await card.get_by_label(f"Note on {job.code}").fill("Disc scored, replaced pads and cleaned the caliper.")
    await card.get_by_label("Photo").set_input_files(
        {"name": "IMG_0042.PNG", "mimeType": "image/png", "buffer": png(320, 240, (30, 120, 200))}
    )
    await card.get_by_role("button", name="Add note").click()
    await expect(card.locator(".job-note")).to_contain_text("Disc scored, replaced pads")
    photo = card.locator(".job-note img")
    await expect(photo).to_be_visible()
    assert await photo.evaluate("img => img.complete && img.naturalWidth") == 320
    # The form is empty again for the next note.
    await expect(card.get_by_label(f"Note on {job.code}")).to_have_value("")

    # Usable with a finger and nothing wider than the phone.
    assert await page.evaluate(SMALLEST_TARGET_SCRIPT) >= MIN_TARGET_PX
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await page.screenshot(path=str(tmp_path / "my-jobs-phone.png"), full_page=True)

    # To quality check: the clock stops by itself.
    await card.get_by_role("button", name="Quality check").click()
    await expect(card.locator(".badge.status")).to_have_text("Quality check")
    await expect(card.get_by_role("button", name="Clock off")).to_have_count(0)
    await expect(card.get_by_role("button", name="Ready")).to_be_visible()
    stored = await reload(shop, job.id)
    assert stored.status == "QUALITY_CHECK"
    assert [entry.ended_at is not None for entry in await time_entries(shop)] == [True]

    # The manager gives Luca another job: it appears on the phone without a reload.
    manager = await shop.user("workshop_manager")
    another = await assigned_job(
        shop, None, status="CHECKED_IN", complaint="Air con blows warm", with_bay=False
    )
    async with live_server.runtime.db.uow(manager.actor) as uow:
        await assign_work_order(uow, another.id, tech.actor.user_id, None, another.version)
    await expect(page.locator(f"#job-{another.id}")).to_contain_text("Air con blows warm")
    await page.screenshot(path=str(tmp_path / "my-jobs-phone-after.png"), full_page=True)

    assert phone.console_errors == []
    assert await phone.csp_violations() == []


async def test_ready_asks_first_because_it_completes_the_job(open_page, shop):
    tech = await shop.user("technician", locale="en")
    job = await assigned_job(shop, tech, status="QUALITY_CHECK")
    phone: BoardPage = await open_page(phone=True)
    page = phone.page
    await phone.sign_in(tech.email)
    await page.goto("/workshop/my-jobs")
    await phone.wait_until_live()
    card = page.locator(f"#job-{job.id}")
    questions: list[str] = []

    async def decline(dialog) -> None:  # type: ignore[no-untyped-def]
        questions.append(dialog.message)
        await dialog.dismiss()

    page.once("dialog", decline)
    await card.get_by_role("button", name="Ready").click()
    await expect(card).to_be_visible()
    assert questions == [f"Mark {job.code} ready? This completes the job and creates the invoice."]
    assert (await reload(shop, job.id)).status == "QUALITY_CHECK"

    page.once("dialog", lambda dialog: dialog.accept())
    await card.get_by_role("button", name="Ready").click()
    # A ready job has left the technician's list.
    await expect(card).to_have_count(0)
    assert (await reload(shop, job.id)).status == "READY"


async def test_the_manager_reassigns_a_job_with_the_keyboard(open_page, shop, tmp_path: Path):
    luca = await shop.user("technician", name="Luca Rossi")
    nina = await shop.user("technician", name="Nina Brunner")
    manager = await shop.user("workshop_manager", locale="en")
    job = await assigned_job(shop, luca, status="CHECKED_IN")
    desk: BoardPage = await open_page()
    page = desk.page
    await desk.sign_in(manager.email)
    await page.get_by_role("link", name="Technicians").click()
    await page.wait_for_url("**/workshop/technicians")
    await desk.wait_until_live()
    await expect(page.locator(f"#tech-{luca.actor.user_id} #queued-{job.id}")).to_be_visible()

    menu = page.get_by_label(f"Give {job.code} to")
    await menu.focus()
    await menu.select_option(label="Nina Brunner")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")

    await expect(page.locator(f"#tech-{nina.actor.user_id} #queued-{job.id}")).to_be_visible()
    await expect(page.locator(f"#tech-{luca.actor.user_id} #queued-{job.id}")).to_have_count(0)
    assert (await reload(shop, job.id)).technician_id == nina.actor.user_id
    await page.screenshot(path=str(tmp_path / "technicians-desk.png"), full_page=True)
    assert desk.console_errors == []


# Every button of the list whose text runs past its own edges.
OVERFLOWING_BUTTONS_SCRIPT = """
() => Array.from(document.querySelectorAll("#my-jobs button"))
  .filter((button) => button.scrollWidth > button.clientWidth || button.getBoundingClientRect().right >
    button.closest(".job").getBoundingClientRect().right)
  .map((button) => button.textContent.trim())
"""


@pytest.mark.parametrize(
    ("locale", "labels"),
    [("de", ["Wartet auf Teile", "Qualitätskontrolle"]), ("en", ["Waiting for parts", "Quality check"])],
)
async def test_long_move_labels_stay_inside_their_buttons_on_a_phone(
    open_page, shop, tmp_path: Path, locale, labels
):
    """German's 'Qualitätskontrolle' ran past its button's right edge, and out of the job's card."""
    tech = await shop.user("technician", locale=locale)
    job = await assigned_job(shop, tech, status="IN_PROGRESS")
    phone: BoardPage = await open_page(phone=True)
    page = phone.page
    await phone.sign_in(tech.email)
    await page.goto("/workshop/my-jobs")
    await phone.wait_until_live()
    card = page.locator(f"#job-{job.id}")
    for label in labels:
        await expect(card.get_by_role("button", name=label)).to_be_visible()

    await page.screenshot(path=str(tmp_path / f"my-jobs-moves-{locale}.png"), full_page=True)
    assert await page.evaluate(OVERFLOWING_BUTTONS_SCRIPT) == []
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390


async def test_a_job_with_parts_fits_the_phone(open_page, shop, tmp_path: Path):
    """The German Used button (Verbaut) stuck out of the card beside a part name with a long word,
    and the page scrolled sideways."""
    tech = await shop.user("technician", locale="de")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")
    fitted = await part_line(shop, job, name="Bremsflüssigkeitsbehälterdeckel vorne")
    waiting = await part_line(shop, job, name="Scheibenwischer Bosch Aerotwin A863S", approval="PENDING")
    await estimate_sent(shop, job)
    phone: BoardPage = await open_page(phone=True)
    page = phone.page
    await phone.sign_in(tech.email)
    await page.goto("/workshop/my-jobs")
    await phone.wait_until_live()
    card = page.locator(f"#job-{job.id}")
    await expect(card.locator(f"#used-{fitted.id}")).to_be_visible()
    await expect(card.locator(".part-use").filter(has_text="Scheibenwischer")).to_contain_text(
        "Wartet auf Freigabe"
    )
    await expect(card.locator(f"#used-{waiting.id}")).to_have_count(0)

    await page.screenshot(path=str(tmp_path / "my-jobs-parts-de.png"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth") == 390
    card_right = await card.evaluate("card => card.getBoundingClientRect().right")
    button_right = await card.locator(f"#used-{fitted.id}").evaluate(
        "button => button.getBoundingClientRect().right"
    )
    assert button_right <= card_right
