"""The job board page: GET /workshop/board, its columns, cards and move menus."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ops.workshop import queries
from ops.workshop.service import NewWorkOrder, create_work_order
from tests.web import sign_in

BOARD = "/workshop/board"
OPEN_STATUSES_IN_DOMAIN_ORDER = [
    "NEW",
    "SCHEDULED",
    "CHECKED_IN",
    "IN_PROGRESS",
    "WAITING_PARTS",
    "WAITING_APPROVAL",
    "QUALITY_CHECK",
    "READY",
]


def columns_of(page: str) -> dict[str, str]:
    """Each column's card list markup, by status, in page order."""
    return {
        status: body
        for status, body in re.findall(r'<ol class="cards" id="cards-([A-Z_]+)"[^>]*>(.*?)</ol>', page, re.S)
    }


def counts_of(page: str) -> dict[str, int]:
    return {
        status: int(n)
        for status, n in re.findall(r'<span class="count" id="count-([A-Z_]+)">(\d+)</span>', page)
    }


def column_titles(page: str) -> list[str]:
    """The visible column headings, without their counts."""
    titles = []
    for heading in re.findall(r'<h2 id="col-title-[A-Z_]+">(.*?)</h2>', page, re.S):
        without_count = re.sub(r'<span class="count"[^>]*>\d+</span>', "", heading)
        titles.append(" ".join(re.sub(r"<[^>]+>", " ", without_count).split()))
    return titles


def card_of(page: str, work_order_id: int) -> str:
    match = re.search(rf'<li class="card[^"]*" id="wo-{work_order_id}".*?</li>', page, re.S)
    assert match, f"card wo-{work_order_id} is not on the board"
    return match.group(0)


def move_targets(card: str) -> list[str]:
    menu = re.search(r"<select[^>]*name=\"status\"[^>]*>(.*?)</select>", card, re.S)
    assert menu, "card has no move menu"
    return [value for value in re.findall(r'<option value="([^"]*)"', menu.group(1)) if value]


async def test_the_board_has_one_column_per_open_status_in_order_with_counts(client, factory):
    """Staff would look for a job in the wrong column, or trust a wrong count."""
    shop = await factory.tenant()
    viewer = await shop.user("viewer", locale="en")
    placed = {
        "NEW": [await shop.work_order(), await shop.work_order()],
        "SCHEDULED": [await shop.work_order(status="SCHEDULED")],
        "IN_PROGRESS": [await shop.work_order(status="IN_PROGRESS")],
        "WAITING_PARTS": [await shop.work_order(status="WAITING_PARTS")],
        "READY": [await shop.work_order(status="READY")],
    }
    closed = await shop.work_order(status="CLOSED")
    cancelled = await shop.work_order(status="CANCELLED")
    await sign_in(client, viewer.email)

    response = await client.get(BOARD)

    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    columns = columns_of(page)
    assert list(columns) == OPEN_STATUSES_IN_DOMAIN_ORDER
    expected_counts = {status: len(placed.get(status, [])) for status in OPEN_STATUSES_IN_DOMAIN_ORDER}
    assert counts_of(page) == expected_counts
    for status, orders in placed.items():
        assert sorted(map(int, re.findall(r'id="wo-(\d+)"', columns[status]))) == sorted(o.id for o in orders)
    for finished in (closed, cancelled):
        assert f'id="wo-{finished.id}"' not in page
        assert finished.code not in page
    headings = column_titles(page)
    assert headings == [
        "New",
        "Scheduled",
        "Checked in",
        "In progress",
        "Waiting for parts",
        "Waiting for approval",
        "Quality check",
        "Ready",
    ]


async def test_a_card_shows_number_vehicle_customer_complaint_priority_technician_and_promised_time(
    client, factory, runtime
):
    """The workshop would have to open each job to know whose car it is and when it is due."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    technician = await shop.user("technician", name="Luca Brunner")
    vehicle = await shop.vehicle(plate="ZH 314159", make="Volvo", model="XC60")
    promised = datetime(2031, 3, 14, 15, 0, tzinfo=UTC)
    async with runtime.db.uow(advisor.actor) as uow:
        work_order = await create_work_order(
            uow,
            NewWorkOrder(
                vehicle_id=vehicle.id,
                complaint="Check engine light on after cold start",
                priority="URGENT",
                technician_id=technician.actor.user_id,
                promised_at=promised,
            ),
        )
    await sign_in(client, advisor.email)

    card = card_of(await (await client.get(BOARD)).get_data(as_text=True), work_order.id)

    # The number opens the work-order page.
    assert f'<a class="number" href="/workshop/work-orders/{work_order.id}">WO-000001</a>' in card
    assert '<span class="plate">ZH 314159</span> Volvo XC60' in card
    assert '<div class="customer">Anna Muster</div>' in card
    assert "Check engine light on after cold start" in card
    assert "priority-urgent" in card
    assert ">Urgent</span>" in card
    assert "<dd>Luca Brunner</dd>" in card
    # Europe/Zurich is UTC+1 in March: 15:00 UTC is shown as 16:00 (4:00 PM where the locale uses 12 hours).
    assert re.search(r"<dt>Promised</dt><dd>[^<]*(16:00|4:00\W*PM)[^<]*</dd>", card)
    assert "overdue" not in card


async def test_a_job_past_its_promised_time_is_marked_overdue(client, factory, runtime):
    """A car the customer is already waiting for would look like any other job."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    vehicle = await shop.vehicle()
    async with runtime.db.uow(advisor.actor) as uow:
        late = await create_work_order(
            uow,
            NewWorkOrder(
                vehicle_id=vehicle.id, complaint="Late", promised_at=datetime.now(UTC) - timedelta(hours=1)
            ),
        )
    async with runtime.db.uow(advisor.actor) as uow:
        unpromised = await create_work_order(uow, NewWorkOrder(vehicle_id=vehicle.id, complaint="No date"))
    await sign_in(client, advisor.email)

    page = await (await client.get(BOARD)).get_data(as_text=True)

    late_card = card_of(page, late.id)
    assert re.search(r'<li class="card[^"]*\boverdue\b', late_card)
    assert '<dd class="late">' in late_card
    unpromised_card = card_of(page, unpromised.id)
    assert "overdue" not in unpromised_card
    assert "<dt>Promised</dt><dd>—</dd>" in unpromised_card


async def test_the_move_menu_offers_exactly_the_allowed_transitions(client, factory):
    """The menu would offer moves that are then refused, or hide moves that are allowed."""
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    orders = {
        "NEW": await shop.work_order(),
        "CHECKED_IN": await shop.work_order(status="CHECKED_IN"),
        "IN_PROGRESS": await shop.work_order(status="IN_PROGRESS"),
        "WAITING_PARTS": await shop.work_order(status="WAITING_PARTS"),
        "READY": await shop.work_order(status="READY"),
    }
    await sign_in(client, manager.email)

    page = await (await client.get(BOARD)).get_data(as_text=True)

    offered = {status: move_targets(card_of(page, order.id)) for status, order in orders.items()}
    assert offered == {
        "NEW": ["SCHEDULED", "CHECKED_IN", "CANCELLED"],
        "CHECKED_IN": ["SCHEDULED", "IN_PROGRESS", "WAITING_APPROVAL", "CANCELLED"],
        "IN_PROGRESS": ["WAITING_PARTS", "WAITING_APPROVAL", "QUALITY_CHECK"],
        "WAITING_PARTS": ["IN_PROGRESS"],
        # Invoiced: the job is only closed, never reopened.
        "READY": ["CLOSED"],
    }
    new_card = card_of(page, orders["NEW"].id)
    assert f'action="/workshop/work-orders/{orders["NEW"].id}/move"' in new_card
    assert f'name="version" value="{orders["NEW"].version}"' in new_card


async def test_a_technician_gets_the_move_menu(client, factory):
    """The technician could not take a car into work from the board."""
    shop = await factory.tenant()
    technician = await shop.user("technician", locale="en")
    order = await shop.work_order(status="CHECKED_IN")
    await sign_in(client, technician.email)

    page = await (await client.get(BOARD)).get_data(as_text=True)

    assert move_targets(card_of(page, order.id)) == [
        "SCHEDULED",
        "IN_PROGRESS",
        "WAITING_APPROVAL",
        "CANCELLED",
    ]


async def test_a_viewer_sees_the_cards_but_no_move_menu(client, factory):
    """A read-only wall screen would show controls that only answer 403."""
    shop = await factory.tenant()
    viewer = await shop.user("viewer", locale="en")
    order = await shop.work_order()
    await sign_in(client, viewer.email)

    page = await (await client.get(BOARD)).get_data(as_text=True)

    card = card_of(page, order.id)
    assert "<select" not in card
    assert "/move" not in page
    assert 'class="board can-move"' not in page


async def test_a_signed_out_visitor_is_sent_to_the_sign_in_page(client, factory):
    """Anyone on the network could read the dealership's jobs."""
    shop = await factory.tenant()
    order = await shop.work_order(complaint="Private complaint")

    response = await client.get(BOARD)
    htmx = await client.get(BOARD, headers={"HX-Request": "true"})

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert "Private complaint" not in await response.get_data(as_text=True)
    assert htmx.status_code == 401
    assert htmx.headers["HX-Redirect"] == "/login"
    assert order.code not in await htmx.get_data(as_text=True)


async def test_an_htmx_request_gets_only_the_board_block(client, factory):
    """After a live `reset` the page would nest a whole page inside the board, or show stale cards."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    order = await shop.work_order(status="SCHEDULED")
    await sign_in(client, advisor.email)

    response = await client.get(BOARD, headers={"HX-Request": "true"})

    assert response.status_code == 200
    fragment = (await response.get_data(as_text=True)).strip()
    assert fragment.startswith('<div id="board"')
    assert fragment.endswith("</div>")
    assert "<html" not in fragment
    assert "<nav" not in fragment
    assert "sse-connect" not in fragment
    assert 'hx-trigger="sse:reset"' in fragment
    assert list(columns_of(fragment)) == OPEN_STATUSES_IN_DOMAIN_ORDER
    assert counts_of(fragment)["SCHEDULED"] == 1
    assert move_targets(card_of(fragment, order.id)) == ["NEW", "CHECKED_IN", "CANCELLED"]


async def test_a_long_column_shows_its_newest_cards_counts_all_and_offers_to_show_all(
    client, factory, monkeypatch
):
    """A column of hundreds of jobs made the board slow to draw (and no wall screen shows them all);
    but its count must stay the real one, and every job must stay one click away."""
    monkeypatch.setattr(queries, "COLUMN_LIMIT", 3)
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    new = [await shop.work_order() for _ in range(5)]
    scheduled = await shop.work_order(status="SCHEDULED")
    await sign_in(client, advisor.email)

    page = await (await client.get(BOARD)).get_data(as_text=True)

    columns = columns_of(page)
    assert _card_ids(columns["NEW"]) == [order.id for order in reversed(new)][:3]
    assert _card_ids(columns["SCHEDULED"]) == [scheduled.id]
    assert counts_of(page)["NEW"] == 5 and counts_of(page)["SCHEDULED"] == 1
    assert show_all_links(page) == {"NEW": ("/workshop/board?expand=NEW#column-NEW", "Show all 5")}

    expanded = await (await client.get(f"{BOARD}?expand=NEW")).get_data(as_text=True)

    assert _card_ids(columns_of(expanded)["NEW"]) == [order.id for order in reversed(new)]
    assert show_all_links(expanded) == {}
    # A live reset re-reads the board as it was opened, the long column still in full.
    assert 'hx-get="/workshop/board?expand=NEW"' in expanded


async def test_a_filtered_board_shows_every_card_it_counts(client, factory, monkeypatch):
    """app.js recounts a filtered board's columns from its cards on live updates: a cut column
    would count only the cards drawn."""
    monkeypatch.setattr(queries, "COLUMN_LIMIT", 2)
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    urgent = [await shop.work_order(priority="URGENT") for _ in range(3)]
    await shop.work_order(priority="LOW")
    await sign_in(client, advisor.email)

    page = await (await client.get(f"{BOARD}?priority=URGENT")).get_data(as_text=True)

    assert sorted(_card_ids(columns_of(page)["NEW"])) == sorted(order.id for order in urgent)
    assert counts_of(page)["NEW"] == 3
    assert show_all_links(page) == {}


async def test_cards_are_labelled_in_each_readers_language(app, factory):
    """The labels are made once per language and kept: a German reader must not get the English
    ones made for the reader before, nor the other way round."""
    shop = await factory.tenant()
    english = await shop.user("workshop_manager", locale="en")
    german = await shop.user("workshop_manager", locale="de")
    order = await shop.work_order(status="SCHEDULED", priority="URGENT")

    for user, expected in (
        (english, ["Urgent", "Technician", "Move WO-000001 to", "Move to…", "New", "Checked in"]),
        (german, ["Dringend", "Mechaniker", "WO-000001 verschieben nach", "Verschieben…", "Neu"]),
        (english, ["Urgent", "Technician", "Move WO-000001 to"]),
    ):
        client = app.test_client()
        await sign_in(client, user.email)
        card = card_of(await (await client.get(BOARD)).get_data(as_text=True), order.id)
        for text in expected:
            assert text in card, f"{text!r} missing for the reader in {user.actor.locale}"


async def test_a_moved_card_is_drawn_by_the_live_update_as_on_the_page(client, factory):
    """The live update and the page draw a card from the same block; a card that looked different
    after a move would be a drift between the two."""
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    order = await shop.work_order()
    csrf = await sign_in(client, manager.email)

    response = await client.post(
        f"/workshop/work-orders/{order.id}/move",
        form={"status": "SCHEDULED", "version": str(order.version), "csrf_token": csrf},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    update = await response.get_data(as_text=True)
    assert f'<div id="wo-{order.id}" hx-swap-oob="delete"></div>' in update
    assert 'hx-swap-oob="afterbegin:#cards-SCHEDULED"' in update
    on_page = card_of(await (await client.get(BOARD)).get_data(as_text=True), order.id)
    # The page's form carries the CSRF token for a post without JavaScript; htmx sends it as a header.
    without_token = re.sub(r'<input type="hidden" name="csrf_token"[^>]*>', "", on_page)
    assert card_of(update, order.id).split() == without_token.split()
    assert move_targets(without_token) == ["NEW", "CHECKED_IN", "CANCELLED"]


def _card_ids(column: str) -> list[int]:
    return [int(found) for found in re.findall(r'<li class="card[^"]*" id="wo-(\d+)"', column)]


def show_all_links(page: str) -> dict[str, tuple[str, str]]:
    return {
        status: (href.replace("&amp;", "&"), text)
        for href, status, text in re.findall(
            r'<a class="show-all" href="([^"]*expand=([A-Z_]+)[^"]*)">([^<]*)</a>', page
        )
    }
