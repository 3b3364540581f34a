"""An open work-order page follows its order live (`wo:<id>`): lines, totals, status, history, notes."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

from ops.workshop.jobs.service import add_labour_line
from ops.workshop.service import move_work_order
from tests.factories import TenantFactory
from tests.web import SseStream, http_sign_in, open_sse
from tests.workshop.order_helpers import give_bay


async def _update_with(stream: SseStream, text: str) -> str:
    """The next `update` whose HTML contains `text` (other updates may come first)."""
    for _ in range(10):
        message = await stream.next(wait=10)
        if message.event == "update" and text in message.data:
            return message.data
    raise AssertionError(f"no update with {text!r}")


async def test_a_line_added_in_another_session_reaches_the_open_page(live_server):
    """The advisor at the counter and the manager on the same order both see the new total at once."""
    shop = await TenantFactory(live_server.runtime.db).tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="en", name="Sara Advisor")
    manager = await shop.user("workshop_manager", locale="en")
    viewer = await shop.user("viewer", locale="en")
    work_order = await shop.work_order(status="CHECKED_IN")
    async with (
        http_sign_in(live_server.url, advisor.email) as (advisor_client, token),
        http_sign_in(live_server.url, manager.email) as (manager_client, _),
        http_sign_in(live_server.url, viewer.email) as (viewer_client, _),
        open_sse(manager_client, f"wo:{work_order.id}") as manager_stream,
        open_sse(viewer_client, f"wo:{work_order.id}") as viewer_stream,
    ):
        await asyncio.sleep(0.05)
        answer = await advisor_client.post(
            f"/workshop/work-orders/{work_order.id}/lines/labour",
            data={"description": "Replace front pads", "hours": "1.5"},
            headers={"HX-Request": "true", "X-CSRF-Token": token},
        )
        assert answer.status_code == 200
        seen_by_manager = await _update_with(manager_stream, "Replace front pads")
        seen_by_viewer = await _update_with(viewer_stream, "Replace front pads")

    # Every section comes out of band, marked as a live update with its fingerprint.
    for section_id in ("order-header", "order-actions", "order-lines", "order-line-forms", "order-history"):
        opening = (
            rf'<section id="{section_id}"[^>]* data-live-key="[0-9a-z]+" hx-swap-oob="true" data-live-update'
        )
        assert re.search(opening, seen_by_manager), section_id
    assert "CHF\xa0267.55" in seen_by_manager  # 247.50 + 20.05 VAT
    assert "Replace front pads added to " + work_order.code + " by Sara Advisor." in seen_by_manager
    # Forms follow the watcher's role: the manager may change lines, the viewer may not.
    assert "/lines/labour" in seen_by_manager
    assert "CHF\xa0267.55" in seen_by_viewer and "<form" not in seen_by_viewer


async def test_a_status_change_from_elsewhere_updates_the_header_and_history(live_server):
    """Whoever moves the job (the board, the technician, the customer's estimate answer), the page
    shows the new status, the move in the history and actions for the new version."""
    shop = await TenantFactory(live_server.runtime.db).tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await give_bay(shop, await shop.work_order(status="CHECKED_IN"))
    async with (
        http_sign_in(live_server.url, advisor.email) as (client, _),
        open_sse(client, f"wo:{work_order.id}") as stream,
    ):
        await asyncio.sleep(0.05)
        async with live_server.runtime.db.uow(shop.admin.actor) as uow:
            moved = await move_work_order(uow, work_order.id, "IN_PROGRESS", work_order.version)
        update = await _update_with(stream, 'class="status-badge status-in_progress"')

    assert "Checked in → <strong>In progress</strong>" in update
    assert f'name="version" value="{moved.version}"' in update


async def test_a_watcher_of_one_order_gets_nothing_about_another(live_server):
    shop = await TenantFactory(live_server.runtime.db).tenant()
    advisor = await shop.user("service_advisor", locale="en")
    watched = await shop.work_order(status="CHECKED_IN")
    other = await shop.work_order(status="CHECKED_IN")
    async with (
        http_sign_in(live_server.url, advisor.email) as (client, _),
        open_sse(client, f"wo:{watched.id}") as stream,
    ):
        await asyncio.sleep(0.05)
        async with live_server.runtime.db.uow(shop.admin.actor) as uow:
            await add_labour_line(uow, other.id, "Elsewhere", Decimal("1"))
        await stream.expect_silence(1.0)
