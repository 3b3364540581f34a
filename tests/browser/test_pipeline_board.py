"""The pipeline board in two browsers: a rep's keyboard move shows on the manager's board with both
counts, a move to Lost asks for the reason first (from the menu and from a drop), and Cancel leaves the
lead where it was; Won is offered once the customer has accepted a quote; a rep's own board keeps its
column limit and its own counts through live updates, and "Show all" keeps the filter."""

from __future__ import annotations

import pytest
from playwright.async_api import Locator, expect

from ops.sales.leads.queries import COLUMN_LIMIT
from ops.sales.leads.service import move_lead
from ops.sales.quotes.service import accept_quote
from tests.browser.pages import BoardPage
from tests.factories import PASSWORD, TenantHandle
from tests.sales.leads.helpers import customer, new_lead, stored_lead
from tests.sales.quotes.helpers import LINKS, send, showroom, unit_quote

pytestmark = pytest.mark.browser


async def open_pipeline(open_page, email: str) -> BoardPage:  # type: ignore[no-untyped-def]
    board: BoardPage = await open_page()
    page = board.page
    await page.goto("/login?next=/sales/board")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/sales/board")
    await board.wait_until_live()
    return board


def card(board: BoardPage, lead_id: int) -> Locator:
    return board.page.locator(f"#lead-{lead_id}")


def card_in(board: BoardPage, stage: str, lead_id: int) -> Locator:
    return board.page.locator(f"#cards-{stage} > #lead-{lead_id}")


async def test_a_keyboard_move_in_one_browser_shows_in_the_other_with_both_counts(open_page, shop):
    rep = await shop.user("sales_rep", locale="en", name="Lea Frei")
    manager = await shop.user("sales_manager", locale="en")
    buyer = await customer(shop, first_name="Beat", last_name="Gerber")
    lead = await new_lead(shop, rep, customer_id=buyer.id)
    mover = await open_pipeline(open_page, rep.email)
    watcher = await open_pipeline(open_page, manager.email)
    await expect(card_in(watcher, "NEW", lead.id)).to_be_visible()
    await expect(watcher.presence).to_have_text("2 watching")
    await watcher.page.evaluate("window.sameDocument = true")

    menu = mover.page.locator(f"#move-{lead.id}")
    await mover.tab_to(menu)
    await mover.page.keyboard.press("ArrowDown")
    await expect(menu).to_have_value("CONTACTED")
    await mover.page.keyboard.press("Tab")
    async with mover.page.expect_response(lambda r: f"/sales/leads/{lead.id}/move" in r.url) as answer:
        await mover.page.keyboard.press("Enter")
    assert (await answer.value).status == 200

    await expect(card_in(mover, "CONTACTED", lead.id)).to_be_visible()
    await expect(mover.page.locator(f"#move-{lead.id}")).to_be_focused()  # the focus followed the card
    await expect(card_in(watcher, "CONTACTED", lead.id)).to_be_visible()
    await expect(card(watcher, lead.id)).to_have_count(1)
    await expect(watcher.count("NEW")).to_have_text("0")
    await expect(watcher.count("CONTACTED")).to_have_text("1")
    await expect(watcher.announcer).to_have_text("Lead of Beat Gerber moved to Contacted by Lea Frei.")
    assert await watcher.page.evaluate("window.sameDocument === true"), "the watcher's page reloaded"
    assert mover.console_errors == [] and watcher.console_errors == []
    assert await mover.csp_violations() == [] and await watcher.csp_violations() == []


async def test_a_move_to_lost_asks_for_the_reason_first(open_page, shop, live_server):
    rep = await shop.user("sales_rep", locale="en")
    manager = await shop.user("sales_manager", locale="en")
    lead = await new_lead(shop, rep, stage="QUALIFIED")
    mover = await open_pipeline(open_page, rep.email)
    watcher = await open_pipeline(open_page, manager.email)
    dialog = mover.page.locator("#lost-dialog")

    # From the move menu: the dialog opens instead of a move; Escape calls it off.
    await mover.page.select_option(f"#move-{lead.id}", "LOST")
    await card(mover, lead.id).get_by_role("button", name="Move").click()
    await expect(dialog).to_be_visible()
    await expect(mover.page.get_by_label("Reason")).to_be_focused()
    await mover.page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(card_in(mover, "QUALIFIED", lead.id)).to_be_visible()
    assert (await stored_lead(live_server.runtime.db, shop.id, lead.id)).stage == "QUALIFIED"

    # The reason is required; with it the lead moves for everyone.
    await card(mover, lead.id).get_by_role("button", name="Move").click()
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Mark as lost").click()
    await expect(dialog).to_be_visible()  # refused in the browser: no reason chosen
    await mover.page.get_by_label("Reason").select_option("BOUGHT_ELSEWHERE")
    await mover.page.get_by_label("Note (needed for Other)").fill("Went to the dealer next door")
    async with mover.page.expect_response(lambda r: f"/sales/leads/{lead.id}/move" in r.url) as answer:
        await dialog.get_by_role("button", name="Mark as lost").click()
    assert (await answer.value).status == 200
    await expect(dialog).to_be_hidden()
    await expect(card_in(mover, "LOST", lead.id)).to_be_visible()
    await expect(card_in(watcher, "LOST", lead.id)).to_be_visible()
    await expect(watcher.count("QUALIFIED")).to_have_text("0")
    await expect(watcher.count("LOST")).to_have_text("1")
    stored = await stored_lead(live_server.runtime.db, shop.id, lead.id)
    assert (stored.stage, stored.lost_reason, stored.lost_note) == (
        "LOST",
        "BOUGHT_ELSEWHERE",
        "Went to the dealer next door",
    )


async def test_dropping_a_card_on_lost_asks_for_the_reason_and_cancel_puts_it_back(
    open_page, shop, live_server
):
    rep = await shop.user("sales_rep", locale="en")
    lead = await new_lead(shop, rep, stage="CONTACTED")
    other = await new_lead(shop, rep, stage="CONTACTED")
    board = await open_pipeline(open_page, rep.email)
    dialog = board.page.locator("#lost-dialog")
    target = board.page.locator("#cards-LOST")
    await expect(target).to_be_in_viewport()

    await card(board, lead.id).locator(".interest").drag_to(target)
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(card_in(board, "CONTACTED", lead.id)).to_be_visible()
    assert (await stored_lead(live_server.runtime.db, shop.id, lead.id)).stage == "CONTACTED"

    await card(board, other.id).locator(".interest").drag_to(target)
    await expect(dialog).to_be_visible()
    await board.page.get_by_label("Reason").select_option("PRICE")
    await dialog.get_by_role("button", name="Mark as lost").click()
    await expect(card_in(board, "LOST", other.id)).to_be_visible()
    await expect(board.count("CONTACTED")).to_have_text("1")
    assert (await stored_lead(live_server.runtime.db, shop.id, other.id)).lost_reason == "PRICE"


async def test_a_refused_reason_keeps_the_dialog_open_with_the_error_at_the_note(
    open_page, shop, live_server
):
    """ "Other" without a note closed the dialog with a toast, and the chosen reason was gone: the rep
    had to start over. The refusal now shows at the note, the reason still chosen."""
    rep = await shop.user("sales_rep", locale="en")
    lead = await new_lead(shop, rep, stage="CONTACTED")
    board = await open_pipeline(open_page, rep.email)
    page = board.page
    dialog = page.locator("#lost-dialog")
    note = page.get_by_label("Note (needed for Other)")

    await card(board, lead.id).locator(".interest").drag_to(page.locator("#cards-LOST"))
    await expect(dialog).to_be_visible()
    await page.get_by_label("Reason").select_option("OTHER")
    async with page.expect_response(lambda r: f"/sales/leads/{lead.id}/move" in r.url) as answer:
        await dialog.get_by_role("button", name="Mark as lost").click()
    assert (await answer.value).status == 422

    await expect(page.locator("#lost-note-error")).to_have_text("Say in a few words why the lead was lost.")
    await expect(dialog).to_be_visible()
    await expect(page.get_by_label("Reason")).to_have_value("OTHER")
    await expect(note).to_be_focused()
    await expect(note).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#toasts .toast")).to_have_count(0)
    assert (await stored_lead(live_server.runtime.db, shop.id, lead.id)).stage == "CONTACTED"

    # With the note the same dialog sends the move; the error is gone with it.
    await note.fill("Moved abroad")
    async with page.expect_response(lambda r: f"/sales/leads/{lead.id}/move" in r.url) as answer:
        await dialog.get_by_role("button", name="Mark as lost").click()
    assert (await answer.value).status == 200
    await expect(dialog).to_be_hidden()
    await expect(card_in(board, "LOST", lead.id)).to_be_visible()
    await expect(board.count("LOST")).to_have_text("1")
    stored = await stored_lead(live_server.runtime.db, shop.id, lead.id)
    assert (stored.stage, stored.lost_reason, stored.lost_note) == ("LOST", "OTHER", "Moved abroad")
    # The browser logs the refused request's status; nothing else went wrong.
    assert [error for error in board.console_errors if "status of 422" not in error] == []


async def test_a_dialog_called_off_after_a_refusal_opens_clean_the_next_time(open_page, shop, live_server):
    rep = await shop.user("sales_rep", locale="en")
    lead = await new_lead(shop, rep, stage="CONTACTED")
    board = await open_pipeline(open_page, rep.email)
    page = board.page
    dialog = page.locator("#lost-dialog")
    await card(board, lead.id).locator(".interest").drag_to(page.locator("#cards-LOST"))
    await page.get_by_label("Reason").select_option("OTHER")
    async with page.expect_response(lambda r: f"/sales/leads/{lead.id}/move" in r.url):
        await dialog.get_by_role("button", name="Mark as lost").click()
    await expect(page.locator("#lost-note-error")).to_be_visible()

    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(card_in(board, "CONTACTED", lead.id)).to_be_visible()

    await card(board, lead.id).locator(".interest").drag_to(page.locator("#cards-LOST"))
    await expect(dialog).to_be_visible()
    await expect(page.locator("#lost-note-error")).to_be_hidden()
    await expect(page.get_by_label("Reason")).to_have_value("")
    await expect(page.get_by_label("Note (needed for Other)")).not_to_have_attribute("aria-invalid", "true")
    assert (await stored_lead(live_server.runtime.db, shop.id, lead.id)).stage == "CONTACTED"


async def test_won_waits_for_an_accepted_quote_and_opens_when_the_customer_accepts(
    open_page, shop, live_server
):
    rep = await shop.user("sales_rep", locale="en")
    lead = await new_lead(shop, rep, stage="NEGOTIATION")
    room = await showroom(shop)
    token = await send(room, await unit_quote(room, lead=lead))
    board = await open_pipeline(open_page, rep.email)
    won = board.page.locator(f"#move-{lead.id} option[value=WON]")
    await expect(won).to_be_disabled()
    await expect(won).to_have_text("Won (needs an accepted quote)")

    # A drop on Won still asks the server, which says why; the card goes back.
    await card(board, lead.id).locator(".interest").drag_to(board.page.locator("#cards-WON"))
    await expect(board.toast("error")).to_have_text(
        "A lead is won with an accepted quote, and this lead has none yet."
    )
    await expect(card_in(board, "NEGOTIATION", lead.id)).to_be_visible()
    await expect(board.count("WON")).to_have_text("0")

    # The customer accepts the quote: Won opens on the open board, and the lead is won from the menu.
    await accept_quote(live_server.runtime.db, token, links=LINKS)
    await expect(won).to_be_enabled()
    await expect(won).to_have_text("Won")
    await board.page.select_option(f"#move-{lead.id}", "WON")
    await card(board, lead.id).get_by_role("button", name="Move").click()
    await expect(card_in(board, "WON", lead.id)).to_be_visible()
    assert (await stored_lead(live_server.runtime.db, shop.id, lead.id)).stage == "WON"


async def move_elsewhere(shop: TenantHandle, lead_id: int, stage: str) -> None:
    """A move made by someone on another screen: the board hears of it only through the live stream."""
    lead = await stored_lead(shop.db, shop.id, lead_id)
    async with shop.db.uow(shop.admin.actor) as uow:
        await move_lead(uow, lead_id, stage, lead.version)


async def test_a_reps_own_board_stays_limited_and_counts_only_the_reps_leads_live(open_page, shop):
    rep = await shop.user("sales_rep", locale="en")
    colleague = await shop.user("sales_rep", locale="en")
    mine = [await new_lead(shop, rep) for _ in range(COLUMN_LIMIT + 3)]
    theirs = await new_lead(shop, colleague, stage="CONTACTED")
    board = await open_pipeline(open_page, rep.email)
    await board.page.goto("/sales/board?owner=mine")
    await board.wait_until_live()
    await expect(board.page.locator("#cards-NEW > .card")).to_have_count(COLUMN_LIMIT)
    await expect(board.count("NEW")).to_have_text(str(COLUMN_LIMIT + 3))
    await expect(board.count("CONTACTED")).to_have_text("0")
    oldest = mine[0]
    await expect(card(board, oldest.id)).to_have_count(0)  # past the column's limit

    # The rep's lead that the column did not show moves: it appears where it went, and both counts
    # are the rep's (everyone's Contacted would be 2), not the cards the columns happen to show, not
    # even for a moment before the board's own counts arrive.
    await board.page.evaluate(
        """() => {
            window.newCounts = [];
            new MutationObserver(() => {
                window.newCounts.push(document.getElementById("count-NEW").textContent);
            }).observe(
                document.getElementById("column-NEW"), {subtree: true, childList: true, characterData: true}
            );
        }"""
    )
    await move_elsewhere(shop, oldest.id, "CONTACTED")
    await expect(card_in(board, "CONTACTED", oldest.id)).to_be_visible()
    await expect(board.count("NEW")).to_have_text(str(COLUMN_LIMIT + 2))
    await expect(board.count("CONTACTED")).to_have_text("1")
    assert set(await board.page.evaluate("window.newCounts")) <= {
        str(COLUMN_LIMIT + 3),
        str(COLUMN_LIMIT + 2),
    }
    # A colleague's lead moves: nothing of it shows; then one of the rep's, shown, leaves its column.
    await move_elsewhere(shop, theirs.id, "QUALIFIED")
    await move_elsewhere(shop, mine[-1].id, "QUALIFIED")
    await expect(card_in(board, "QUALIFIED", mine[-1].id)).to_be_visible()
    await expect(board.count("QUALIFIED")).to_have_text("1")
    await expect(board.count("CONTACTED")).to_have_text("1")
    await expect(board.count("NEW")).to_have_text(str(COLUMN_LIMIT + 1))
    await expect(card(board, theirs.id)).to_have_count(0)

    # "Show all" from the keyboard opens the whole column of the rep's leads, still only the rep's.
    show_all = board.page.locator("#column-NEW a.show-all")
    await board.tab_to(show_all)
    await board.page.keyboard.press("Enter")
    await board.page.wait_for_url("**/sales/board?expand=NEW&owner=mine#column-NEW")
    await board.wait_until_live()
    await expect(board.page.locator("#cards-NEW > .card")).to_have_count(COLUMN_LIMIT + 1)
    await expect(board.count("NEW")).to_have_text(str(COLUMN_LIMIT + 1))
    await expect(board.page.locator("#column-NEW a.show-all")).to_have_count(0)
    # Updates about cards this board does not show (a colleague's, one past a column's limit) leave
    # nothing behind, not even an error in the console.
    assert board.console_errors == []
    assert await board.csp_violations() == []


async def test_long_words_wrap_inside_the_card(open_page, shop):
    # German runs words together; a narrow column must break them rather than spill past the card.
    rep = await shop.user("sales_rep", locale="en")
    word = "Finanzierungsvorschlagsunterlagenzusammenstellung"
    buyer = await customer(shop, first_name="Hans-Rudolf", last_name="Zimmermann-Schwarzenbach")
    lead = await new_lead(shop, rep, customer_id=buyer.id, next_action=f"{word} senden", interest_note=word)
    board = await open_pipeline(open_page, rep.email)
    lead_card = card_in(board, "NEW", lead.id)
    await expect(lead_card).to_contain_text(word)
    spilled = await lead_card.evaluate(
        """card => {
            const edge = card.getBoundingClientRect().right;
            return [...card.querySelectorAll("*")]
                .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > edge + 0.5)
                .map(e => e.tagName + ": " + e.textContent.slice(0, 40));
        }"""
    )
    assert spilled == []
