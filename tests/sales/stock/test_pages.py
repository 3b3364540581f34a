"""The stock pages as a rep and a manager use them: the filtered, sorted, paginated list with who holds
what, a unit's page with its history, holding and releasing from it, the test-drive calendar and the
booking, check-out and return forms; other dealerships' units are 404 and roles are respected."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ops.db import utcnow
from ops.sales.stock.service import book_test_drive, reserve_unit
from tests.sales.stock.helpers import drives, holds, unit_state
from tests.web import sign_in


def _titles(page: str) -> list[str]:
    return re.findall(r'<th scope="row"[^>]*>\s*<a [^>]*>([^<]+)</a>', page)


async def _page(client, url: str) -> str:  # type: ignore[no-untyped-def]
    response = await client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return await response.get_data(as_text=True)  # type: ignore[no-any-return]


async def test_the_list_shows_trim_colour_mileage_price_status_age_and_who_holds_a_unit(client, factory):
    shop, other = await factory.tenant(), await factory.tenant()
    rep = await shop.user("sales_rep", locale="en", name="Rita Rep")
    trim = await shop.trim(make="Skoda", model="Kodiaq", year=2024, trim="Sportline", body_style="SUV")
    held = await shop.stock_unit(trim=trim, colour="Velvet red", mileage_km=1234, list_price="45990.00")
    await shop.stock_unit(trim=trim, status="DELIVERED")
    await other.stock_unit(trim=await other.trim(make="Foreign", model="Car"))
    async with shop.db.uow(rep.actor) as uow:
        await reserve_unit(uow, held.id, (await shop.lead(first_name="Hans", last_name="Meier")).id)
    await sign_in(client, rep.email)

    page = await _page(client, "/sales/stock")

    assert _titles(page) == ["Skoda Kodiaq 2024 Sportline"]
    row = re.search(rf'<tr id="unit-{held.id}".*?</tr>', page, re.S)
    assert row is not None
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.group(0)))
    assert "Velvet red" in text and "1\u2019234 km" in text and "CHF 45\u2019990.00" in text
    assert "Reserved" in text and "Held by Rita Rep for Hans Meier until" in text
    assert "10 days" in text
    assert "Foreign" not in page
    assert f'sse-connect="/live?topic=stock&amp;topic=user:{rep.actor.user_id}&amp;' in page
    assert '<a href="/sales/stock" aria-current="page">Stock</a>' in page


async def test_filters_by_make_model_body_fuel_price_status_and_age(client, factory):
    shop = await factory.tenant()
    viewer = await shop.user("viewer", locale="en")
    octavia = await shop.trim(make="Skoda", model="Octavia", trim="Style", body_style="WAGON")
    enyaq = await shop.trim(make="Skoda", model="Enyaq", trim="80", body_style="SUV", fuel_type="ELECTRIC")
    golf = await shop.trim(make="VW", model="Golf", trim="Life", body_style="HATCHBACK", fuel_type="DIESEL")
    await shop.stock_unit(trim=octavia, list_price="31000.00", days_in_stock=5)
    await shop.stock_unit(trim=enyaq, list_price="52000.00", days_in_stock=45, status="DEMO")
    await shop.stock_unit(trim=golf, list_price="27000.00", days_in_stock=75)
    await shop.stock_unit(trim=golf, list_price="26000.00", days_in_stock=130, status="INCOMING")
    await sign_in(client, viewer.email)

    async def titles(query: str) -> list[str]:
        return sorted(_titles(await _page(client, f"/sales/stock?{query}")))

    assert len(await titles("")) == 4
    assert await titles("make=Skoda") == ["Skoda Enyaq 2025 80", "Skoda Octavia 2025 Style"]
    assert await titles("model=Golf") == ["VW Golf 2025 Life"] * 2
    assert await titles("body_style=SUV") == ["Skoda Enyaq 2025 80"]
    assert await titles("fuel_type=DIESEL&status=AVAILABLE") == ["VW Golf 2025 Life"]
    assert await titles("price_min=27000&price_max=31000") == [
        "Skoda Octavia 2025 Style",
        "VW Golf 2025 Life",
    ]
    assert await titles("status=DEMO") == ["Skoda Enyaq 2025 80"]
    assert await titles("age=0-30") == ["Skoda Octavia 2025 Style"]
    assert await titles("age=31-60") == ["Skoda Enyaq 2025 80"]
    assert await titles("age=61-90") == ["VW Golf 2025 Life"]
    assert await titles("age=90%2B") == ["VW Golf 2025 Life"]
    assert await titles("make=Skoda&age=61-90") == []
    empty = await _page(client, "/sales/stock?make=Nope")
    assert "No units match these filters." in empty
    # Garbled filters are ignored rather than an error.
    assert len(await titles("status=EXPLODED&age=7&sort=sideways&price_min=abc")) == 4
    # With a make chosen, the model filter offers that make's models only.
    skoda = await _page(client, "/sales/stock?make=Skoda")
    models = re.search(r'<select id="stock-model".*?</select>', skoda, re.S)
    assert models is not None and "Golf" not in models.group(0) and "Enyaq" in models.group(0)


async def test_sorting_by_price_age_and_make_and_20_a_page(client, factory):
    shop = await factory.tenant()
    viewer = await shop.user("viewer", locale="en")
    trims = [await shop.trim(make="Make", model=f"M{n:02d}") for n in range(3)]
    await shop.stock_unit(trim=trims[0], list_price="30000.00", days_in_stock=20)
    await shop.stock_unit(trim=trims[1], list_price="10000.00", days_in_stock=50)
    await shop.stock_unit(trim=trims[2], list_price="20000.00", days_in_stock=None, status="INCOMING")
    await sign_in(client, viewer.email)

    def models(page: str) -> list[str]:
        return [title.split()[1] for title in _titles(page)]

    assert models(await _page(client, "/sales/stock")) == ["M00", "M01", "M02"]
    assert models(await _page(client, "/sales/stock?sort=price")) == ["M01", "M02", "M00"]
    assert models(await _page(client, "/sales/stock?sort=-price")) == ["M00", "M02", "M01"]
    assert models(await _page(client, "/sales/stock?sort=age")) == ["M01", "M00", "M02"]
    assert models(await _page(client, "/sales/stock?sort=-age")) == ["M00", "M01", "M02"]

    for _ in range(20):
        await shop.stock_unit(trim=trims[0], list_price="99000.00")
    first = await _page(client, "/sales/stock?sort=price")
    second = await _page(client, "/sales/stock?sort=price&page=2")
    assert len(_titles(first)) == 20 and len(_titles(second)) == 3
    assert "Page 1 of 2" in first and 'href="/sales/stock?page=2&amp;sort=price"' in first
    # A page past the end shows the last one.
    assert _titles(await _page(client, "/sales/stock?sort=price&page=9")) == _titles(second)


async def test_the_unit_page_shows_holds_and_test_drives_and_the_actions_a_role_may_take(client, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en", name="Rita Rep")
    unit = await shop.stock_unit(mileage_km=40)
    lead = await shop.lead(owner=rep, first_name="Hans", last_name="Meier")
    async with shop.db.uow(rep.actor) as uow:
        await reserve_unit(uow, unit.id, lead.id)
    start = utcnow() + timedelta(hours=2)
    async with shop.db.uow(rep.actor) as uow:
        await book_test_drive(uow, unit.id, lead.id, start, start + timedelta(hours=1))
    await sign_in(client, rep.email)

    page = await _page(client, f"/sales/stock/{unit.id}")

    history = page[page.index('id="unit-history"') :]
    assert (
        "Hans Meier" in history and "Rita Rep" in history and "Holding" in history and "Scheduled" in history
    )
    assert "Release the hold" in page and "Hold for a lead" not in page
    assert "Book a test drive" in page and "Edit unit" not in page
    assert "Cost" not in page


async def test_a_rep_holds_a_unit_from_its_page_and_a_second_rep_is_told_who_holds_it(
    app, client, factory, runtime
):
    shop = await factory.tenant()
    first = await shop.user("sales_rep", locale="en", name="Rita Rep")
    second = await shop.user("sales_rep", locale="en", name="Sam Second")
    unit = await shop.stock_unit()
    lead = await shop.lead(owner=first, first_name="Hans", last_name="Meier")
    other_lead = await shop.lead(owner=second)
    token = await sign_in(client, first.email)
    form_page = await _page(client, f"/sales/stock/{unit.id}?lead_id={lead.id}")
    assert f'<option value="{lead.id}" selected>' in form_page

    held = await client.post(
        f"/sales/stock/{unit.id}/reserve", form={"csrf_token": token, "lead_id": str(lead.id)}
    )
    assert held.status_code == 302
    assert (await unit_state(runtime.db, shop.id, unit.id)).status == "RESERVED"

    # The second rep opened the page before the hold and submits now.
    client = app.test_client()
    token = await sign_in(client, second.email)
    late = await client.post(
        f"/sales/stock/{unit.id}/reserve", form={"csrf_token": token, "lead_id": str(other_lead.id)}
    )
    assert late.status_code == 409
    page = await late.get_data(as_text=True)
    assert re.search(
        r'class="form-error" role="alert">Rita Rep already holds this unit for Hans Meier until ', page
    )
    missing = await client.post(f"/sales/stock/{unit.id}/reserve", form={"csrf_token": token, "lead_id": ""})
    assert missing.status_code == 422
    assert len(await holds(runtime.db, shop.id, unit.id)) == 1


async def test_releasing_from_the_page_needs_a_reason(client, factory, runtime):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    unit = await shop.stock_unit()
    async with shop.db.uow(rep.actor) as uow:
        reservation = await reserve_unit(uow, unit.id, (await shop.lead(owner=rep)).id)
    token = await sign_in(client, rep.email)
    url = f"/sales/stock/holds/{reservation.id}/release"

    blank = await client.post(url, form={"csrf_token": token, "unit_id": str(unit.id), "reason": ""})
    assert blank.status_code == 422
    assert 'id="release-reason-error">Say why the hold ends.' in await blank.get_data(as_text=True)
    assert (await unit_state(runtime.db, shop.id, unit.id)).status == "RESERVED"

    done = await client.post(
        url, form={"csrf_token": token, "unit_id": str(unit.id), "reason": "Changed mind"}
    )
    assert done.status_code == 302 and done.headers["Location"] == f"/sales/stock/{unit.id}"
    assert (await unit_state(runtime.db, shop.id, unit.id)).status == "AVAILABLE"


async def test_another_dealerships_units_holds_and_drives_are_404(client, factory, runtime):
    shop, other = await factory.tenant(), await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    foreign_rep = await other.user("sales_rep")
    foreign_unit = await other.stock_unit(status="AVAILABLE")
    foreign_lead = await other.lead()
    async with other.db.uow(foreign_rep.actor) as uow:
        foreign_hold = await reserve_unit(uow, foreign_unit.id, foreign_lead.id)
    start = utcnow() + timedelta(hours=1)
    async with other.db.uow(foreign_rep.actor) as uow:
        foreign_drive = await book_test_drive(
            uow, foreign_unit.id, foreign_lead.id, start, start + timedelta(hours=1)
        )
    own_lead = await shop.lead(owner=rep)
    token = await sign_in(client, rep.email)

    for url in (
        f"/sales/stock/{foreign_unit.id}",
        f"/sales/stock/{foreign_unit.id}/edit",
        f"/sales/test-drives/{foreign_drive.id}",
    ):
        assert (await client.get(url)).status_code == 404, url
    for url, form in (
        (f"/sales/stock/{foreign_unit.id}/reserve", {"lead_id": str(own_lead.id)}),
        (f"/sales/stock/holds/{foreign_hold.id}/release", {"reason": "mine now"}),
        (f"/sales/test-drives/{foreign_drive.id}/cancel", {}),
        (f"/sales/test-drives/{foreign_drive.id}/check-out", {"licence_number": "X", "licence_checked": "1"}),
    ):
        response = await client.post(url, form={"csrf_token": token, **form})
        assert response.status_code == 404, url
    assert [hold.status for hold in await holds(runtime.db, other.id, foreign_unit.id)] == ["ACTIVE"]
    assert [drive.status for drive in await drives(runtime.db, other.id, foreign_unit.id)] == ["SCHEDULED"]


@pytest.mark.parametrize("role", ["technician", "service_advisor", "workshop_manager"])
async def test_workshop_roles_do_not_see_stock(client, factory, role):
    shop = await factory.tenant()
    user = await shop.user(role, locale="en")
    unit = await shop.stock_unit()
    await sign_in(client, user.email)

    for url in ("/sales/stock", f"/sales/stock/{unit.id}", "/sales/test-drives"):
        assert (await client.get(url)).status_code == 403, url
    board = await _page(client, "/workshop/board")
    assert 'href="/sales/stock"' not in board


async def test_a_viewer_sees_stock_but_cannot_hold_or_book(client, factory, runtime):
    shop = await factory.tenant()
    viewer = await shop.user("viewer", locale="en")
    unit = await shop.stock_unit(status="DEMO")
    lead = await shop.lead()
    token = await sign_in(client, viewer.email)

    page = await _page(client, f"/sales/stock/{unit.id}")
    assert "Hold for a lead" not in page and "Book a test drive" not in page
    assert (await client.get("/sales/test-drives/new")).status_code == 403
    reserve = await client.post(
        f"/sales/stock/{unit.id}/reserve", form={"csrf_token": token, "lead_id": str(lead.id)}
    )
    assert reserve.status_code == 403
    assert await holds(runtime.db, shop.id, unit.id) == []


def _local(value: datetime) -> str:
    return value.astimezone(ZoneInfo("Europe/Zurich")).strftime("%Y-%m-%dT%H:%M")


async def test_booking_checking_out_and_returning_through_the_pages(client, factory, runtime):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en", name="Rita Rep")
    unit = await shop.stock_unit(status="DEMO", mileage_km=800)
    lead = await shop.lead(owner=rep, first_name="Hans", last_name="Meier")
    token = await sign_in(client, rep.email)
    form = await _page(client, f"/sales/test-drives/new?unit_id={unit.id}&lead_id={lead.id}")
    assert f'<option value="{unit.id}" selected>' in form and f'<option value="{lead.id}" selected>' in form
    start = (utcnow() + timedelta(hours=1)).replace(second=0, microsecond=0)

    booked = await client.post(
        "/sales/test-drives",
        form={
            "csrf_token": token,
            "unit_id": str(unit.id),
            "lead_id": str(lead.id),
            "rep_id": str(rep.actor.user_id),
            "starts_at": _local(start),
            "duration": "45",
        },
    )
    assert booked.status_code == 302
    drive_url = booked.headers["Location"]
    (drive,) = await drives(runtime.db, shop.id, unit.id)
    assert (drive.starts_at, drive.ends_at) == (start, start + timedelta(minutes=45))

    clash = await client.post(
        "/sales/test-drives",
        form={
            "csrf_token": token,
            "unit_id": str(unit.id),
            "lead_id": str(lead.id),
            "starts_at": _local(start + timedelta(minutes=30)),
            "duration": "30",
        },
    )
    assert clash.status_code == 422
    assert 'id="drive-starts_at-error">This car is already booked from' in await clash.get_data(as_text=True)
    bad = await client.post(
        "/sales/test-drives", form={"csrf_token": token, "unit_id": "", "starts_at": "soon", "duration": "7"}
    )
    page = await bad.get_data(as_text=True)
    assert bad.status_code == 422
    for field in ("unit_id", "lead_id", "starts_at", "duration"):
        assert f'id="drive-{field}-error"' in page, field

    calendar = await _page(client, "/sales/test-drives")
    assert "Hans Meier · Rita Rep" in calendar and "Today" in calendar
    assert "Hans Meier" not in await _page(client, f"/sales/test-drives?rep_id={lead.id + 10_000}")

    unchecked = await client.post(
        f"{drive_url}/check-out",
        form={"csrf_token": token, "licence_number": "ZH 123", "odometer_out_km": "800"},
    )
    assert unchecked.status_code == 422
    assert 'id="check_out-licence_checked-error">Confirm that you have seen' in await unchecked.get_data(
        as_text=True
    )
    out = await client.post(
        f"{drive_url}/check-out",
        form={
            "csrf_token": token,
            "licence_number": "ZH 123",
            "licence_checked": "1",
            "odometer_out_km": "800",
        },
    )
    assert out.status_code == 302
    short = await client.post(f"{drive_url}/return", form={"csrf_token": token, "odometer_in_km": "799"})
    assert short.status_code == 422
    assert 'id="return-odometer_in_km-error">The odometer cannot read less than at check-out' in (
        await short.get_data(as_text=True)
    )
    back = await client.post(f"{drive_url}/return", form={"csrf_token": token, "odometer_in_km": "823"})
    assert back.status_code == 302
    assert (await unit_state(runtime.db, shop.id, unit.id)).mileage_km == 823
    done = await _page(client, drive_url)
    assert "Returned" in done and "23 km driven" in done
