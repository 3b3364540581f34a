"""A job without a bay sent into work from the job board: the refusal offers the free bays right there,
and the bay and the move go together, once, for everyone."""

from __future__ import annotations

import pytest
from playwright.async_api import Locator, expect

from ops.workshop.models import WorkOrder
from ops.workshop.service import move_work_order
from tests.browser.pages import BoardPage
from tests.workshop.order_helpers import add_bay

pytestmark = pytest.mark.browser

# Every column a card with this id is put into, in order, as the page swaps it in.
WATCH_INSERTS_SCRIPT = """
(id) => {
  window.insertedInto = [];
  new MutationObserver((changes) => changes.forEach((change) => change.addedNodes.forEach((node) => {
    if (node.id === id) window.insertedInto.push(node.parentElement.dataset.status);
  }))).observe(document.getElementById("board"), { childList: true, subtree: true });
}
"""


async def _stored(live_server, work_order_id: int) -> WorkOrder:  # type: ignore[no-untyped-def]
    async with live_server.runtime.db.system() as session:
        return await session.get_one(WorkOrder, work_order_id)


def _script_errors(board: BoardPage) -> list[str]:
    """What the page's scripts got wrong; the browser also logs each refused move's 422 (meant)."""
    return [error for error in board.console_errors if "status of 422" not in error]


async def _watch_inserts(board: BoardPage, work_order_id: int) -> None:
    await board.page.evaluate(WATCH_INSERTS_SCRIPT, f"wo-{work_order_id}")


async def _columns_since(board: BoardPage, first: str) -> list[str]:
    """The columns the card was put into from its first arrival in `first` on. The setup's own events
    may still reach the page after it loaded (with PostgreSQL and Redis the relay can lag) and put the
    card back into the column it is in; only what follows the move tells whether it ever showed wrong."""
    inserted: list[str] = await board.page.evaluate("window.insertedInto")
    assert first in inserted, inserted
    return inserted[inserted.index(first) :]


async def _refused_into_work_by_keyboard(board: BoardPage, job: WorkOrder) -> Locator:
    """Send the job into work with the keyboard alone (the move menu, then Move); the server refuses it
    for want of a bay. Returns the bay dialog that opens instead."""
    page = board.page
    menu = page.locator(f"#move-{job.id}")
    await board.tab_to(menu)
    await menu.select_option("IN_PROGRESS")
    await page.keyboard.press("Tab")
    async with page.expect_response(lambda r: r.url.endswith(f"/work-orders/{job.id}/move")) as refused:
        await page.keyboard.press("Enter")
    assert (await refused.value).status == 422
    return page.get_by_role("dialog", name=f"A bay for {job.code}")


async def test_a_job_without_a_bay_gets_one_from_the_refusal_and_moves_into_work_once(
    open_page, shop, live_server, tmp_path
):
    manager = await shop.user("workshop_manager", locale="en")
    advisor = await shop.user("service_advisor", locale="en")
    await add_bay(shop, "Lift 1")
    lift_2 = await add_bay(shop, "Lift 2")
    await add_bay(shop, "Wash bay", active=False)
    # A job in work is in a bay of its own (the factory's "Lift #<number>"): that bay is not free.
    busy = await shop.work_order(status="IN_PROGRESS")
    job = await shop.work_order(status="CHECKED_IN")
    mover, watcher = await open_page(), await open_page()
    await mover.sign_in(manager.email)
    await watcher.sign_in(advisor.email)
    await mover.wait_until_live()
    await watcher.wait_until_live()
    await _watch_inserts(watcher, job.id)
    page = mover.page

    dialog = await _refused_into_work_by_keyboard(mover, job)
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("It has no bay yet.")
    await expect(dialog).to_contain_text("Choose a free bay: the job goes to In progress on it.")
    bay_menu = dialog.get_by_label("Free bay")
    await expect(bay_menu).to_be_focused()
    # Only the bays a job can go into work on now: not the one in use, not the one out of service.
    options = await bay_menu.locator("option").all_inner_texts()
    assert options == ["Choose a bay", "Lift 1", "Lift 2"]
    # The dialog says it; no toast behind it, and the card stays where it is until the bay is chosen.
    await expect(mover.toast("error")).to_have_count(0)
    await expect(mover.card_in("CHECKED_IN", job.id)).to_be_visible()
    await page.screenshot(path=str(tmp_path / "board-bay-dialog.png"))

    await bay_menu.select_option(label="Lift 2")
    await page.keyboard.press("Tab")
    await expect(dialog.get_by_role("button", name="Move to In progress")).to_be_focused()
    async with page.expect_response(lambda r: r.url.endswith(f"/work-orders/{job.id}/move")) as moved:
        await page.keyboard.press("Enter")
    assert (await moved.value).status == 200

    await expect(dialog).to_be_hidden()
    for screen in (mover, watcher):
        card = screen.card_in("IN_PROGRESS", job.id)
        await expect(card).to_be_visible()
        await expect(card.locator("dd").nth(1)).to_have_text("Lift 2")
        await expect(screen.card(job.id)).to_have_count(1)
        await expect(screen.count("CHECKED_IN")).to_have_text("0")
        await expect(screen.count("IN_PROGRESS")).to_have_text("2")
    # The watcher saw the card go into one column only: the one it is in.
    assert set(await _columns_since(watcher, "IN_PROGRESS")) == {"IN_PROGRESS"}
    await expect(watcher.announcer).to_have_text(f"{job.code} moved to In progress by {manager.actor.name}.")
    # The keyboard user is on the card in its new place.
    await expect(page.locator(f"#move-{job.id}")).to_be_focused()
    await page.screenshot(path=str(tmp_path / "board-bay-moved.png"))
    stored = await _stored(live_server, job.id)
    assert (stored.status, stored.bay_id, stored.occupied_bay_id) == ("IN_PROGRESS", lift_2.id, lift_2.id)
    assert (await _stored(live_server, busy.id)).status == "IN_PROGRESS"
    assert _script_errors(mover) == [] and _script_errors(watcher) == []


async def test_a_bay_taken_while_the_dialog_is_open_is_refused_in_it_and_cancel_leaves_the_card(
    open_page, shop, live_server
):
    manager = await shop.user("workshop_manager", locale="en")
    lift_1 = await add_bay(shop, "Lift 1")
    job = await shop.work_order(status="CHECKED_IN")
    other = await shop.work_order(status="CHECKED_IN")
    board = await open_page()
    await board.sign_in(manager.email)
    await board.wait_until_live()
    page = board.page

    # By drag and drop this time.
    async with page.expect_response(lambda r: r.url.endswith(f"/work-orders/{job.id}/move")) as refused:
        await board.card(job.id).locator(".vehicle").drag_to(page.locator("#cards-IN_PROGRESS"))
    assert (await refused.value).status == 422
    dialog = page.get_by_role("dialog", name=f"A bay for {job.code}")
    await expect(dialog.get_by_label("Free bay")).to_be_focused()
    await expect(board.card_in("CHECKED_IN", job.id)).to_be_visible()

    # Someone else puts the other job into work on Lift 1 while the dialog is open.
    async with shop.db.uow(shop.admin.actor) as uow:
        await move_work_order(uow, other.id, "IN_PROGRESS", other.version, bay_id=lift_1.id)
    await expect(board.card_in("IN_PROGRESS", other.id)).to_be_visible()
    await dialog.get_by_label("Free bay").select_option(label="Lift 1")
    async with page.expect_response(lambda r: r.url.endswith(f"/work-orders/{job.id}/move")) as taken:
        await dialog.get_by_role("button", name="Move to In progress").click()
    assert (await taken.value).status == 422

    # The reason is next to the bay, the dialog stays open, and nothing moved.
    bay_menu = dialog.get_by_label("Free bay")
    await expect(bay_menu).to_have_attribute("aria-invalid", "true")
    await expect(dialog.locator("#bay-choice-error")).to_contain_text(f"Lift 1 is taken by {other.code}")
    await expect(board.card_in("CHECKED_IN", job.id)).to_be_visible()
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(board.card_in("CHECKED_IN", job.id)).to_be_visible()
    await expect(board.card(job.id)).to_have_count(1)
    stored = await _stored(live_server, job.id)
    assert (stored.status, stored.version, stored.bay_id) == ("CHECKED_IN", job.version, None)
    assert _script_errors(board) == []


async def test_with_every_bay_taken_the_dialog_says_so_and_closes(open_page, shop, live_server):
    manager = await shop.user("workshop_manager", locale="en")
    await shop.work_order(status="IN_PROGRESS")
    job = await shop.work_order(status="CHECKED_IN")
    board = await open_page()
    await board.sign_in(manager.email)
    await board.wait_until_live()

    await board.move_with_menu(job.id, "IN_PROGRESS", expect_status=422)

    dialog = board.page.get_by_role("dialog", name=f"A bay for {job.code}")
    await expect(dialog).to_contain_text("No bay is free: every bay in use has a job in it.")
    await expect(dialog.get_by_label("Free bay")).to_have_count(0)
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()
    await expect(board.card_in("CHECKED_IN", job.id)).to_be_visible()
    await expect(board.page.locator(f"#move-{job.id}")).to_be_focused()
    assert (await _stored(live_server, job.id)).status == "CHECKED_IN"


async def test_someone_who_may_not_assign_bays_gets_the_reason_as_before(open_page, shop, live_server):
    technician = await shop.user("technician", locale="en")
    await add_bay(shop, "Lift 1")
    job = await shop.work_order(status="CHECKED_IN")
    board = await open_page()
    await board.sign_in(technician.email)
    await board.page.goto("/workshop/board")
    await board.wait_until_live()

    await board.move_with_menu(job.id, "IN_PROGRESS", expect_status=422)

    await expect(board.toast("error")).to_contain_text(f"{job.code} has no bay")
    await expect(board.page.get_by_role("dialog")).to_have_count(0)
    await expect(board.card_in("CHECKED_IN", job.id)).to_be_visible()


async def test_the_keyboard_stays_on_the_card_when_its_live_update_comes_before_the_answer(
    open_page, shop, live_server
):
    manager = await shop.user("workshop_manager", locale="en")
    await add_bay(shop, "Lift 1")
    job = await shop.work_order(status="CHECKED_IN")
    board = await open_page()
    await board.sign_in(manager.email)
    await board.wait_until_live()
    page = board.page

    dialog = await _refused_into_work_by_keyboard(board, job)
    await dialog.get_by_label("Free bay").select_option(label="Lift 1")

    # The server moves the job at once, but its answer reaches the page only after the live update of
    # the same move has replaced the card (under load the stream can win that race).
    async def answer_after_the_live_update(route):  # type: ignore[no-untyped-def]
        answer = await route.fetch()
        await expect(board.card_in("IN_PROGRESS", job.id)).to_be_visible()
        await route.fulfill(response=answer)

    await page.route(f"**/work-orders/{job.id}/move", answer_after_the_live_update)
    await dialog.get_by_role("button", name="Move to In progress").focus()
    async with page.expect_response(lambda r: r.url.endswith(f"/work-orders/{job.id}/move")) as moved:
        await page.keyboard.press("Enter")
    assert (await moved.value).status == 200

    await expect(dialog).to_be_hidden()
    await expect(board.card_in("IN_PROGRESS", job.id)).to_be_visible()
    await expect(board.card(job.id)).to_have_count(1)
    await expect(page.locator(f"#move-{job.id}")).to_be_focused()
    assert (await _stored(live_server, job.id)).status == "IN_PROGRESS"
    assert _script_errors(board) == []
