"""Labour and parts lines on a work order: pricing, stock reservations, totals, refusals, races."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from ops.auth.actor import NotFound, PermissionDenied, RuleViolation
from ops.events import Event
from ops.workshop.jobs import queries
from ops.workshop.jobs.service import add_labour_line, add_part_line, change_line_quantity, remove_line
from ops.workshop.models import Invoice, WorkOrderLine
from ops.workshop.service import move_work_order
from tests.web import sign_in
from tests.workshop.jobs.helpers import lines_of, part_levels, stocked_part

HTMX = {"HX-Request": "true"}


async def _events(db, tenant_id: int, type_: str) -> list[Event]:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        rows = await session.scalars(select(Event).where(Event.type == type_).order_by(Event.id))
        return list(rows.all())


async def _detail(db, tenant_id: int, work_order_id: int) -> queries.OrderDetail:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        detail = await queries.order_detail(session, work_order_id)
    assert detail is not None
    return detail


async def test_a_labour_line_is_priced_at_the_dealerships_rate_and_awaits_the_customer(factory, runtime):
    """An advisor quoting without typing a rate must get the workshop's rate, not zero."""
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor")
    work_order = await shop.work_order(status="CHECKED_IN")

    async with runtime.db.uow(advisor.actor) as uow:
        line = await add_labour_line(uow, work_order.id, "  Replace front pads  ", Decimal("1.5"))

    [stored] = await lines_of(runtime.db, shop.id, work_order.id)
    assert (stored.id, stored.kind, stored.description) == (line.id, "LABOUR", "Replace front pads")
    assert (stored.quantity, stored.unit_price) == (Decimal("1.5"), Decimal("165"))
    assert stored.approval == "PENDING"
    [event] = await _events(runtime.db, shop.id, "work_order.line_added")
    assert event.topics == ["workshop", f"wo:{work_order.id}"]
    assert event.payload["id"] == work_order.id and event.payload["line_id"] == line.id
    assert event.actor_id == advisor.actor.user_id


async def test_a_labour_line_may_have_its_own_rate(factory, runtime):
    shop = await factory.tenant(country="CH")
    work_order = await shop.work_order(status="CHECKED_IN")

    async with runtime.db.uow(shop.admin.actor) as uow:
        await add_labour_line(uow, work_order.id, "Diagnosis", Decimal("0.5"), Decimal("190"))

    [stored] = await lines_of(runtime.db, shop.id, work_order.id)
    assert stored.unit_price == Decimal("190")


async def test_a_part_line_reserves_the_stock_it_needs(factory, runtime):
    """Without the reservation another job could take the pads this car is waiting for."""
    shop = await factory.tenant()
    work_order = await shop.work_order(status="CHECKED_IN")
    part = await stocked_part(shop, on_hand="10", price="45.00")

    async with runtime.db.uow(shop.admin.actor) as uow:
        line = await add_part_line(uow, work_order.id, part.id, Decimal("2"))

    assert (line.reserved_quantity, line.unit_price, line.description) == (
        Decimal("2"),
        Decimal("45.00"),
        "Brake pad set",
    )
    assert await part_levels(runtime.db, shop.id, part.id) == (Decimal("10"), Decimal("2"))
    detail = await _detail(runtime.db, shop.id, work_order.id)
    assert detail.lines[0].short_by == 0


async def test_a_part_line_beyond_the_stock_holds_what_is_there_and_shows_the_shortfall(
    client, factory, runtime
):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="CHECKED_IN")
    part = await stocked_part(shop, on_hand="1")

    async with runtime.db.uow(advisor.actor) as uow:
        line = await add_part_line(uow, work_order.id, part.id, Decimal("3"))

    assert line.reserved_quantity == Decimal("1")
    assert await part_levels(runtime.db, shop.id, part.id) == (Decimal("1"), Decimal("1"))
    await sign_in(client, advisor.email)
    page = await (await client.get(f"/workshop/work-orders/{work_order.id}")).get_data(as_text=True)
    assert "short by 2" in page and "1 reserved" in page


async def test_removing_a_part_line_gives_its_reservation_back(factory, runtime):
    shop = await factory.tenant()
    work_order = await shop.work_order(status="IN_PROGRESS")
    part = await stocked_part(shop, on_hand="4")
    async with runtime.db.uow(shop.admin.actor) as uow:
        line = await add_part_line(uow, work_order.id, part.id, Decimal("3"))

    async with runtime.db.uow(shop.admin.actor) as uow:
        await remove_line(uow, line.id)

    assert await lines_of(runtime.db, shop.id, work_order.id) == []
    assert await part_levels(runtime.db, shop.id, part.id) == (Decimal("4"), Decimal("0"))
    [removed] = await _events(runtime.db, shop.id, "work_order.line_removed")
    assert removed.payload["line_id"] == line.id
    assert removed.topics == ["workshop", f"wo:{work_order.id}"]


async def test_changing_a_quantity_reserves_or_releases_the_difference(factory, runtime):
    shop = await factory.tenant()
    work_order = await shop.work_order(status="CHECKED_IN")
    part = await stocked_part(shop, on_hand="5")
    async with runtime.db.uow(shop.admin.actor) as uow:
        line = await add_part_line(uow, work_order.id, part.id, Decimal("2"))

    async with runtime.db.uow(shop.admin.actor) as uow:
        await change_line_quantity(uow, line.id, Decimal("7"))
    [stored] = await lines_of(runtime.db, shop.id, work_order.id)
    assert (stored.quantity, stored.reserved_quantity) == (Decimal("7"), Decimal("5"))
    assert await part_levels(runtime.db, shop.id, part.id) == (Decimal("5"), Decimal("5"))

    async with runtime.db.uow(shop.admin.actor) as uow:
        await change_line_quantity(uow, line.id, Decimal("1"))
    [stored] = await lines_of(runtime.db, shop.id, work_order.id)
    assert (stored.quantity, stored.reserved_quantity) == (Decimal("1"), Decimal("1"))
    assert await part_levels(runtime.db, shop.id, part.id) == (Decimal("5"), Decimal("1"))


async def test_totals_are_decimal_with_vat_rounded_half_up_at_each_line(factory, runtime):
    """CHF 5.00 at 8.1 % is 0.405 of VAT: half-up makes it 0.41 on each line, so two such lines carry
    0.82, where VAT on their sum would be 0.81 and banker's rounding 0.80."""
    shop = await factory.tenant(country="CH")
    work_order = await shop.work_order(status="CHECKED_IN")
    part = await stocked_part(shop, on_hand="10", price="5.00")
    async with runtime.db.uow(shop.admin.actor) as uow:
        await add_labour_line(uow, work_order.id, "Replace pads", Decimal("1.5"))  # 247.50, VAT 20.0475
    for _ in range(2):
        async with runtime.db.uow(shop.admin.actor) as uow:
            await add_part_line(uow, work_order.id, part.id, Decimal("1"))

    totals = (await _detail(runtime.db, shop.id, work_order.id)).totals

    assert totals is not None
    assert all(isinstance(value, Decimal) for value in vars(totals).values())
    assert (totals.labour, totals.parts) == (Decimal("247.50"), Decimal("10.00"))
    assert totals.net == Decimal("257.50")
    assert totals.vat == Decimal("20.87")  # 20.05 + 0.41 + 0.41
    assert totals.total == Decimal("278.37")


async def test_declined_work_is_shown_struck_through_and_left_out_of_the_totals(client, factory, runtime):
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="IN_PROGRESS")
    async with runtime.db.uow(advisor.actor) as uow:
        await add_labour_line(uow, work_order.id, "Replace pads", Decimal("1"))
    async with runtime.db.uow(advisor.actor) as uow:
        declined = await add_labour_line(uow, work_order.id, "Polish headlights", Decimal("2"))
    # The customer's decision is recorded by the estimate link (another area); here only its outcome.
    async with runtime.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(WorkOrderLine).where(WorkOrderLine.id == declined.id).values(approval="DECLINED")
        )
        await uow.commit()

    totals = (await _detail(runtime.db, shop.id, work_order.id)).totals
    assert totals is not None
    assert (totals.net, totals.vat, totals.total) == (Decimal("165.00"), Decimal("13.37"), Decimal("178.37"))
    await sign_in(client, advisor.email)
    page = await (await client.get(f"/workshop/work-orders/{work_order.id}")).get_data(as_text=True)
    row = page[page.index(f'id="line-{declined.id}"') :].split("</tr>")[0]
    assert "<del>Polish headlights</del>" in row and "declined work" in row
    assert "<del>CHF\xa0330.00</del>" in row
    assert "1 declined line is not included in the totals." in page


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ("0", "Enter hours above 0 and at most 99.99."),
        ("100", "Enter hours above 0 and at most 99.99."),
        ("-1", "Enter hours above 0 and at most 99.99."),
        ("1.555", "Use at most two decimals."),
        ("abc", "Enter a number."),
        ("", "This field is required."),
    ],
)
async def test_bad_hours_answer_422_next_to_the_field_and_write_nothing(
    client, factory, runtime, hours, message
):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="CHECKED_IN")
    token = await sign_in(client, advisor.email)

    response = await client.post(
        f"/workshop/work-orders/{work_order.id}/lines/labour",
        form={"description": "Replace pads", "hours": hours, "rate": ""},
        headers={**HTMX, "X-CSRF-Token": token},
    )

    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert f'<p class="field-error" id="labour-hours-error">{message}</p>' in html
    assert 'id="labour-hours" name="hours"' in html and 'aria-invalid="true"' in html
    # What was typed stays in the form.
    assert 'value="Replace pads"' in html
    assert await lines_of(runtime.db, shop.id, work_order.id) == []
    assert await _events(runtime.db, shop.id, "work_order.line_added") == []


async def test_a_missing_operation_is_named(client, factory, runtime):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="CHECKED_IN")
    token = await sign_in(client, advisor.email)

    response = await client.post(
        f"/workshop/work-orders/{work_order.id}/lines/labour",
        form={"description": "   ", "hours": "1", "csrf_token": token},
    )

    assert response.status_code == 422
    assert 'id="labour-description-error">This field is required.' in await response.get_data(as_text=True)
    assert await lines_of(runtime.db, shop.id, work_order.id) == []


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0", "Enter a quantity above 0."),
        ("-2", "Enter a quantity above 0."),
        ("two", "Enter a number."),
        ("1.5", "1.5 pc: this part is counted in whole items; enter a whole number."),
    ],
)
async def test_a_bad_part_quantity_answers_422_and_reserves_nothing(
    client, factory, runtime, quantity, message
):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="CHECKED_IN")
    part = await stocked_part(shop, on_hand="3")
    token = await sign_in(client, advisor.email)

    response = await client.post(
        f"/workshop/work-orders/{work_order.id}/lines/part",
        form={"part_id": str(part.id), "quantity": quantity, "q": "brake"},
        headers={**HTMX, "X-CSRF-Token": token},
    )

    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert f'id="part-quantity-error">{message}</p>' in html
    # The part chosen from the search stays chosen for the next try.
    assert f'name="part_id" value="{part.id}" required checked' in html
    assert await lines_of(runtime.db, shop.id, work_order.id) == []
    assert await part_levels(runtime.db, shop.id, part.id) == (Decimal("3"), Decimal("0"))


async def test_more_than_is_in_stock_is_added_only_once_confirmed(client, factory, runtime):
    """999 typed for 9 would have sat on the job as 'short by 996': the form asks first, and the
    advisor who meant it ticks the box and the line holds what there is."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="CHECKED_IN")
    part = await stocked_part(shop, on_hand="3")
    token = await sign_in(client, advisor.email)
    path = f"/workshop/work-orders/{work_order.id}/lines/part"
    form = {"part_id": str(part.id), "quantity": "999", "q": "brake"}

    asked = await client.post(path, form=form, headers={**HTMX, "X-CSRF-Token": token})

    assert asked.status_code == 422
    html = await asked.get_data(as_text=True)
    assert (
        'id="part-short_ok-error">Only 3 pc in stock, 996 pc short of 999. Check the quantity, or add it '
        "anyway and the job waits for the rest.</p>"
    ) in html
    assert 'name="short_ok" value="on"' in html and 'value="999"' in html
    assert await lines_of(runtime.db, shop.id, work_order.id) == []
    assert await part_levels(runtime.db, shop.id, part.id) == (Decimal("3"), Decimal("0"))

    confirmed = await client.post(
        path, form={**form, "short_ok": "on"}, headers={**HTMX, "X-CSRF-Token": token}
    )

    assert confirmed.status_code == 200
    assert await part_levels(runtime.db, shop.id, part.id) == (Decimal("3"), Decimal("3"))
    (line,) = await lines_of(runtime.db, shop.id, work_order.id)
    assert (line.quantity, line.reserved_quantity) == (Decimal("999"), Decimal("3"))


async def test_a_part_line_needs_a_part_of_this_dealership(client, factory, runtime):
    shop = await factory.tenant()
    other = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="CHECKED_IN")
    foreign_part = await stocked_part(other, on_hand="3")
    token = await sign_in(client, advisor.email)

    for part_id in ("", str(foreign_part.id)):
        response = await client.post(
            f"/workshop/work-orders/{work_order.id}/lines/part",
            form={"part_id": part_id, "quantity": "1"},
            headers={**HTMX, "X-CSRF-Token": token},
        )
        assert response.status_code == 422
        html = await response.get_data(as_text=True)
        assert 'id="part-part_id-error"' in html
        # The refusal's search box replaces the one in the page (not kept), marked as in error.
        search = re.search(r'<input id="part-search"[^>]*>', html)
        assert search and 'aria-invalid="true"' in search.group() and "hx-preserve" not in search.group()

    assert await lines_of(runtime.db, shop.id, work_order.id) == []
    assert await part_levels(runtime.db, other.id, foreign_part.id) == (Decimal("3"), Decimal("0"))


async def test_an_htmx_line_answer_carries_the_new_lines_and_totals(client, factory, runtime):
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="CHECKED_IN")
    token = await sign_in(client, advisor.email)

    response = await client.post(
        f"/workshop/work-orders/{work_order.id}/lines/labour",
        form={"description": "Replace pads", "hours": "1,5"},
        headers={**HTMX, "X-CSRF-Token": token},
    )

    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert '<section id="order-lines"' in html and 'hx-swap-oob="true"' in html
    assert "Replace pads" in html and "CHF\xa0267.55" in html  # 247.50 + 20.05 VAT
    # The form comes back empty for the next line.
    assert 'id="labour-description" name="description" maxlength="200" required value=""' in html
    [stored] = await lines_of(runtime.db, shop.id, work_order.id)
    assert stored.quantity == Decimal("1.5")


async def test_a_plain_form_post_redirects_back_to_the_page(client, factory, runtime):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="CHECKED_IN")
    token = await sign_in(client, advisor.email)

    response = await client.post(
        f"/workshop/work-orders/{work_order.id}/lines/labour",
        form={"description": "Replace pads", "hours": "1", "csrf_token": token},
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/workshop/work-orders/{work_order.id}")


@pytest.mark.parametrize("status", ["READY", "CLOSED", "CANCELLED"])
async def test_lines_cannot_be_added_once_the_job_is_done(client, factory, runtime, status):
    """A line added after completion would be neither invoiced nor taken from stock."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status=status)
    part = await stocked_part(shop, on_hand="3")

    with pytest.raises(RuleViolation, match="can no longer change"):
        async with runtime.db.uow(advisor.actor) as uow:
            await add_labour_line(uow, work_order.id, "More work", Decimal("1"))
    with pytest.raises(RuleViolation, match="can no longer change"):
        async with runtime.db.uow(advisor.actor) as uow:
            await add_part_line(uow, work_order.id, part.id, Decimal("1"))
    token = await sign_in(client, advisor.email)
    response = await client.post(
        f"/workshop/work-orders/{work_order.id}/lines/labour",
        form={"description": "More work", "hours": "1"},
        headers={**HTMX, "X-CSRF-Token": token},
    )

    assert response.status_code == 422
    assert "its lines can no longer change" in await response.get_data(as_text=True)
    assert await lines_of(runtime.db, shop.id, work_order.id) == []
    assert await part_levels(runtime.db, shop.id, part.id) == (Decimal("3"), Decimal("0"))


async def test_lines_of_a_ready_job_cannot_be_removed_or_changed(factory, runtime):
    shop = await factory.tenant()
    work_order = await shop.work_order(status="QUALITY_CHECK")
    async with runtime.db.uow(shop.admin.actor) as uow:
        line = await add_labour_line(uow, work_order.id, "Replace pads", Decimal("1"))
    async with runtime.db.uow(shop.admin.actor) as uow:
        await move_work_order(uow, work_order.id, "READY", work_order.version)

    with pytest.raises(RuleViolation):
        async with runtime.db.uow(shop.admin.actor) as uow:
            await remove_line(uow, line.id)
    with pytest.raises(RuleViolation):
        async with runtime.db.uow(shop.admin.actor) as uow:
            await change_line_quantity(uow, line.id, Decimal("3"))

    [stored] = await lines_of(runtime.db, shop.id, work_order.id)
    assert stored.quantity == Decimal("1")


@pytest.mark.parametrize("role", ["technician", "viewer"])
async def test_only_advisors_managers_and_admins_change_lines(client, factory, runtime, role):
    shop = await factory.tenant()
    person = await shop.user(role)
    work_order = await shop.work_order(status="IN_PROGRESS")
    async with runtime.db.uow(shop.admin.actor) as uow:
        line = await add_labour_line(uow, work_order.id, "Replace pads", Decimal("1"))

    with pytest.raises(PermissionDenied):
        async with runtime.db.uow(person.actor) as uow:
            await add_labour_line(uow, work_order.id, "More", Decimal("1"))
    token = await sign_in(client, person.email)
    for path, form in [
        (f"/workshop/work-orders/{work_order.id}/lines/labour", {"description": "More", "hours": "1"}),
        (f"/workshop/work-orders/{work_order.id}/lines/labour", {"description": "", "hours": "x"}),
        (f"/workshop/work-orders/{work_order.id}/lines/{line.id}/remove", {}),
        (f"/workshop/work-orders/{work_order.id}/lines/{line.id}/quantity", {"quantity": "4"}),
    ]:
        response = await client.post(path, form=form, headers={"X-CSRF-Token": token})
        assert response.status_code == 403, path

    stored = await lines_of(runtime.db, shop.id, work_order.id)
    assert [line.quantity for line in stored] == [Decimal("1")]


async def test_another_dealerships_order_or_line_is_not_found(client, factory, runtime):
    shop = await factory.tenant()
    other = await factory.tenant()
    advisor = await shop.user("service_advisor")
    theirs = await other.work_order(status="CHECKED_IN")
    ours = await shop.work_order(status="CHECKED_IN")
    async with runtime.db.uow(other.admin.actor) as uow:
        their_line = await add_labour_line(uow, theirs.id, "Their work", Decimal("1"))

    with pytest.raises(NotFound):
        async with runtime.db.uow(advisor.actor) as uow:
            await add_labour_line(uow, theirs.id, "Sneaky", Decimal("1"))
    token = await sign_in(client, advisor.email)
    for path, form in [
        (f"/workshop/work-orders/{theirs.id}/lines/labour", {"description": "Sneaky", "hours": "1"}),
        (f"/workshop/work-orders/{theirs.id}/lines/labour", {"description": "", "hours": ""}),
        (f"/workshop/work-orders/{theirs.id}/lines/{their_line.id}/remove", {}),
        # Their line through our order's address is not found either.
        (f"/workshop/work-orders/{ours.id}/lines/{their_line.id}/remove", {}),
        (f"/workshop/work-orders/{ours.id}/lines/{their_line.id}/quantity", {"quantity": "2"}),
    ]:
        response = await client.post(path, form=form, headers={**HTMX, "X-CSRF-Token": token})
        assert response.status_code == 404, path

    assert [line.description for line in await lines_of(runtime.db, other.id, theirs.id)] == ["Their work"]


async def test_two_jobs_racing_for_the_last_unit_one_holds_it_the_other_is_short(factory, runtime):
    shop = await factory.tenant()
    first = await shop.work_order(status="CHECKED_IN")
    second = await shop.work_order(status="CHECKED_IN")
    part = await stocked_part(shop, on_hand="1")

    async def add(work_order_id: int) -> Decimal:
        async with runtime.db.uow(shop.admin.actor) as uow:
            line = await add_part_line(uow, work_order_id, part.id, Decimal("1"))
        return line.reserved_quantity

    reserved = await asyncio.gather(add(first.id), add(second.id))

    assert sorted(reserved) == [Decimal("0"), Decimal("1")]
    assert await part_levels(runtime.db, shop.id, part.id) == (Decimal("1"), Decimal("1"))
    details = [await _detail(runtime.db, shop.id, work_order.id) for work_order in (first, second)]
    shown = [detail.lines[0].short_by for detail in details]
    assert sorted(shown) == [Decimal("0"), Decimal("1")]


async def test_a_line_added_while_the_job_completes_is_invoiced_or_refused_never_lost(factory, runtime):
    """Completion and a new line race: either the line is on the invoice, or it is refused."""
    shop = await factory.tenant()
    work_order = await shop.work_order(status="QUALITY_CHECK")
    async with runtime.db.uow(shop.admin.actor) as uow:
        await add_labour_line(uow, work_order.id, "Replace pads", Decimal("1"))

    async def add_line() -> str:
        try:
            async with runtime.db.uow(shop.admin.actor) as uow:
                await add_labour_line(uow, work_order.id, "Late extra", Decimal("1"))
        except RuleViolation:
            return "refused"
        return "added"

    async def complete() -> None:
        async with runtime.db.uow(shop.admin.actor) as uow:
            await move_work_order(uow, work_order.id, "READY", work_order.version)

    outcome, _ = await asyncio.gather(add_line(), complete())

    lines = await lines_of(runtime.db, shop.id, work_order.id)
    async with runtime.db.read(shop.id) as session:
        invoice = await session.scalar(select(Invoice).where(Invoice.work_order_id == work_order.id))
    assert invoice is not None
    assert len(lines) == (2 if outcome == "added" else 1)
    assert len(invoice.lines) == len(lines)


async def test_after_completion_part_lines_show_as_taken_from_stock_not_short(client, factory, runtime):
    """Completion turns reservations into consumption; the page must not then claim the job is short."""
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="QUALITY_CHECK")
    part = await stocked_part(shop, on_hand="5")
    async with runtime.db.uow(advisor.actor) as uow:
        await add_part_line(uow, work_order.id, part.id, Decimal("2"))
    async with runtime.db.uow(advisor.actor) as uow:
        await move_work_order(uow, work_order.id, "READY", work_order.version)

    [line] = (await _detail(runtime.db, shop.id, work_order.id)).lines
    assert (line.taken_from_stock, line.short_by) == (True, Decimal("0"))
    assert await part_levels(runtime.db, shop.id, part.id) == (Decimal("3"), Decimal("0"))
    await sign_in(client, advisor.email)
    page = await (await client.get(f"/workshop/work-orders/{work_order.id}")).get_data(as_text=True)
    assert "taken from stock" in page and "short by" not in page


async def test_a_quantity_is_changed_from_the_page_and_a_bad_one_is_named(client, factory, runtime):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status="CHECKED_IN")
    async with runtime.db.uow(advisor.actor) as uow:
        line = await add_labour_line(uow, work_order.id, "Replace pads", Decimal("1"))
    token = await sign_in(client, advisor.email)
    path = f"/workshop/work-orders/{work_order.id}/lines/{line.id}/quantity"

    refused = await client.post(path, form={"quantity": "0"}, headers={**HTMX, "X-CSRF-Token": token})
    changed = await client.post(path, form={"quantity": "2,25"}, headers={**HTMX, "X-CSRF-Token": token})

    assert refused.status_code == 422
    html = await refused.get_data(as_text=True)
    assert f'id="line-{line.id}-quantity-error">Enter hours above 0 and at most 99.99.</p>' in html
    assert changed.status_code == 200
    [stored] = await lines_of(runtime.db, shop.id, work_order.id)
    assert stored.quantity == Decimal("2.25")
    [event] = await _events(runtime.db, shop.id, "work_order.line_changed")
    assert event.payload["quantity"] == "2.25"


async def test_a_part_line_of_a_part_counted_in_pieces_takes_whole_pieces_only(factory, runtime):
    """1.5 brake pad sets were accepted on a job, reserved and billed: half a set is never fitted."""
    shop = await factory.tenant()
    work_order = await shop.work_order(status="CHECKED_IN")
    part = await stocked_part(shop, on_hand="10")
    async with runtime.db.uow(shop.admin.actor) as uow:
        line = await add_part_line(uow, work_order.id, part.id, Decimal("2"))

    with pytest.raises(RuleViolation) as added:
        async with runtime.db.uow(shop.admin.actor) as uow:
            await add_part_line(uow, work_order.id, part.id, Decimal("1.5"))
    with pytest.raises(RuleViolation) as changed:
        async with runtime.db.uow(shop.admin.actor) as uow:
            await change_line_quantity(uow, line.id, Decimal("2.5"))

    assert str(added.value) == "1.5 pc: this part is counted in whole items; enter a whole number."
    assert (changed.value.field, str(changed.value)) == (
        "quantity",
        "2.5 pc: this part is counted in whole items; enter a whole number.",
    )
    [stored] = await lines_of(runtime.db, shop.id, work_order.id)
    assert (stored.quantity, stored.reserved_quantity) == (Decimal("2"), Decimal("2"))
    assert await part_levels(runtime.db, shop.id, part.id) == (Decimal("10"), Decimal("2"))


async def test_a_part_line_of_oil_keeps_its_decimals(factory, runtime):
    shop = await factory.tenant()
    work_order = await shop.work_order(status="CHECKED_IN")
    oil = await stocked_part(shop, on_hand="20", name="Engine oil 5W-30", unit="l")

    async with runtime.db.uow(shop.admin.actor) as uow:
        line = await add_part_line(uow, work_order.id, oil.id, Decimal("4.5"))
    async with runtime.db.uow(shop.admin.actor) as uow:
        await change_line_quantity(uow, line.id, Decimal("5.25"))

    [stored] = await lines_of(runtime.db, shop.id, work_order.id)
    assert (stored.quantity, stored.reserved_quantity) == (Decimal("5.25"), Decimal("5.25"))
