"""The inventory pages: the part list, a part with its ledger, and the create, edit, receive, adjust forms."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import update

from ops.workshop.models import Part
from ops.workshop.parts.service import consume_part, receive_stock, reserve_part
from tests.factories import TenantFactory
from tests.web import http_sign_in, open_sse, sign_in
from tests.workshop.parts.stock import events, levels, movements, new_part

D = Decimal
FLAG = '<span class="badge reorder"'


def _row(page: str, part_id: int) -> str:
    match = re.search(rf'<tr id="part-{part_id}"[^>]*>.*?</tr>', page, re.S)
    assert match, f"no row for part {part_id}"
    return match.group(0)


async def _page(client, url: str) -> str:  # type: ignore[no-untyped-def]
    response = await client.get(url)
    assert response.status_code == 200, response.status_code
    return await response.get_data(as_text=True)  # type: ignore[no-any-return]


async def test_the_list_shows_each_parts_levels_price_and_supplier_and_flags_those_to_reorder(
    client, factory
):
    """The parts desk could not see what is on the shelf, or which parts to order."""
    shop = await factory.tenant()
    other = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    plenty = await new_part(shop, sku="OF-1", name="Oil filter", stock="12", reorder_point="4", price="12.50")
    scarce = await new_part(shop, sku="BP-1", name="Brake pads", stock="3", reorder_point="2", supplier="ATE")
    job = await shop.work_order()
    async with shop.db.uow(shop.admin.actor) as uow:
        await reserve_part(uow, scarce.id, D(1), job.id)
        await uow.commit()
    await new_part(other, sku="XX-FOREIGN", name="Not ours")
    await sign_in(client, manager.email)

    page = await _page(client, "/workshop/parts")

    assert "XX-FOREIGN" not in page
    assert page.index("BP-1") < page.index("OF-1")
    scarce_row, plenty_row = _row(page, scarce.id), _row(page, plenty.id)
    assert scarce_row.startswith(f'<tr id="part-{scarce.id}" class="below">') and FLAG in scarce_row
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", scarce_row, re.S)
    texts = [re.sub(r"<[^>]+>", "", cell).split()[0] if cell.strip() else "" for cell in cells]
    assert texts[:6] == ["BP-1", "Brake", "3", "1", "2", "2"]
    assert "ATE" in scarce_row and "CHF" in scarce_row
    assert plenty_row.startswith(f'<tr id="part-{plenty.id}">') and FLAG not in plenty_row
    assert "12.50" in plenty_row
    assert "1 needs reorder" in page
    assert 'href="/workshop/parts/new"' in page
    assert 'sse-connect="/live?topic=parts' in page


async def test_searching_by_sku_name_or_supplier_and_filtering_to_reorder(client, factory):
    shop = await factory.tenant()
    viewer = await shop.user("viewer", locale="en")
    await new_part(shop, sku="OF-1", name="Oil filter", stock="12", reorder_point="4", supplier="Mann")
    await new_part(shop, sku="BP-1", name="Brake pads", stock="1", reorder_point="2", supplier="ATE")
    await new_part(shop, sku="WB-100%", name="Wiper blade", stock="9", supplier="Bosch")
    await sign_in(client, viewer.email)

    def skus(page: str) -> list[str]:
        return re.findall(r'<th scope="row"[^>]*><a [^>]*>([^<]+)</a>', page)

    assert skus(await _page(client, "/workshop/parts?q=bp-")) == ["BP-1"]
    assert skus(await _page(client, "/workshop/parts?q=FILTER")) == ["OF-1"]
    assert skus(await _page(client, "/workshop/parts?q=bosch")) == ["WB-100%"]
    assert skus(await _page(client, "/workshop/parts?q=100%25")) == ["WB-100%"]
    assert skus(await _page(client, "/workshop/parts?q=0%25")) == ["WB-100%"]
    assert skus(await _page(client, "/workshop/parts?below=1")) == ["BP-1"]
    assert skus(await _page(client, "/workshop/parts?below=1&q=oil")) == []
    assert "No parts match" in await _page(client, "/workshop/parts?q=nothing-like-this")
    viewer_page = await _page(client, "/workshop/parts")
    assert "New part" not in viewer_page


async def test_the_list_has_twenty_parts_a_page(client, factory):
    """A dealership with a thousand parts would get one endless page."""
    shop = await factory.tenant()
    await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)
    for number in range(25):
        await new_part(shop, sku=f"P-{number:03d}", name=f"Part {number}")

    first = await _page(client, "/workshop/parts")
    second = await _page(client, "/workshop/parts?page=2")
    beyond = await _page(client, "/workshop/parts?page=99")

    assert "P-000" in first and "P-019" in first and "P-020" not in first
    assert "P-020" in second and "P-024" in second and "P-019" not in second
    assert "Page 1 of 2" in first and 'href="/workshop/parts?page=2"' in first
    assert "Page 2 of 2" in beyond


async def test_an_htmx_request_gets_only_the_list_for_the_live_refetch(client, factory):
    shop = await factory.tenant()
    await new_part(shop, sku="OF-1", name="Oil filter", stock="1", reorder_point="4")
    await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)

    fragment = await (await client.get("/workshop/parts?below=1", headers={"HX-Request": "true"})).get_data(
        as_text=True
    )

    assert fragment.lstrip().startswith('<div id="parts-list"')
    assert "<html" not in fragment
    assert 'hx-get="/workshop/parts?below=1"' in fragment
    assert "OF-1" in fragment


async def test_the_part_page_shows_every_movement_with_levels_reason_job_and_who(client, factory, runtime):
    """Nobody could tell why the shelf holds what it does."""
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en", name="Mira Manager")
    part = await new_part(shop, sku="BP-1", name="Brake pads", stock="5")
    job = await shop.work_order()
    async with shop.db.uow(manager.actor) as uow:
        await reserve_part(uow, part.id, D(2), job.id)
        await consume_part(uow, part.id, D(2), D(2), job.id)
        await uow.commit()
    await sign_in(client, manager.email)

    page = await _page(client, f"/workshop/parts/{part.id}")

    assert '<h1><span class="sku">BP-1</span> Brake pads</h1>' in page
    rows = re.findall(r'<tr class="movement movement-(\w+)">(.*?)</tr>', page, re.S)
    assert [kind for kind, _ in rows] == ["consume", "reserve", "receive"]
    used = rows[0][1]
    assert "Used" in used and "\u22122" in used and f'href="/workshop/work-orders/{job.id}"' in used
    assert "WO-000001" in used and "Mira Manager" in used
    assert "Opening stock" in rows[2][1] and "Admin Person" in rows[2][1]
    assert 'sse-connect="/live?topic=part%3A' in page or f"topic=part:{part.id}" in page
    assert f'action="/workshop/parts/{part.id}/receive"' in page
    assert f'action="/workshop/parts/{part.id}/adjust"' in page


async def test_the_ledger_has_twenty_movements_a_page(client, factory, runtime):
    shop = await factory.tenant()
    part = await new_part(shop, stock="1")
    for number in range(24):
        async with shop.db.uow(shop.admin.actor) as uow:
            await receive_stock(uow, part.id, D(1), f"Delivery {number}")
    await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)

    first = await _page(client, f"/workshop/parts/{part.id}")
    second = await _page(client, f"/workshop/parts/{part.id}?page=2")

    assert first.count('class="movement ') == 20 and "Delivery 23" in first and "Delivery 3<" not in first
    assert second.count('class="movement ') == 5 and "Opening stock" in second


async def test_creating_a_part_redirects_to_its_page(client, factory, runtime):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    token = await sign_in(client, advisor.email)
    assert "Create part" in await _page(client, "/workshop/parts/new")

    response = await client.post(
        "/workshop/parts",
        form={
            "csrf_token": token,
            "sku": "SP-4",
            "name": "Spark plug",
            "unit": "pc",
            "supplier": "NGK",
            "cost": "4.20",
            "price": "9.90",
            "reorder_point": "8",
            "opening_stock": "16",
        },
    )

    assert response.status_code == 302
    part_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert await levels(runtime.db, shop.id, part_id) == (D(16), D(0))
    page = await _page(client, f"/workshop/parts/{part_id}")
    assert "SP-4 created." in page and "NGK" in page


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"sku": "DUP-1"}, "sku", "A part with this SKU exists already."),
        ({"sku": ""}, "sku", "This field is required."),
        ({"price": "abc"}, "price", "Enter a number."),
        ({"price": "1.234"}, "price", "Use at most two decimal places."),
        ({"reorder_point": "-1"}, "reorder_point", "Enter zero or more."),
    ],
)
async def test_a_part_form_with_bad_input_answers_422_with_the_field_named(
    client, factory, runtime, form, field, message
):
    """The user would not know what to fix, or a broken part would be stored."""
    shop = await factory.tenant()
    await new_part(shop, sku="DUP-1")
    token = await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)
    data = {"csrf_token": token, "sku": "NEW-1", "name": "Part", "price": "1", "cost": "1"} | form

    response = await client.post("/workshop/parts", form=data)

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    assert f'<p class="field-error" id="part-{field}-error">{message}</p>' in page
    assert f'aria-describedby="part-{field}-error"' in page or f'part-{field}-error"' in page
    assert len(await events(runtime.db, shop.id, "part.created")) == 1


async def test_receiving_through_the_form_books_the_stock_in(client, factory, runtime):
    shop = await factory.tenant()
    part = await new_part(shop, stock="2")
    token = await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)

    response = await client.post(
        f"/workshop/parts/{part.id}/receive",
        form={"csrf_token": token, "quantity": "10", "reason": "Delivery note 4711"},
    )

    assert response.status_code == 302
    assert await levels(runtime.db, shop.id, part.id) == (D(12), D(0))
    page = await _page(client, f"/workshop/parts/{part.id}")
    assert "Received 10 of BP-001; 12 on hand." in page
    assert "Delivery note 4711" in page


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"quantity": ""}, "This field is required."),
        ({"quantity": "-3"}, "Enter a quantity greater than zero."),
        ({"quantity": "1.5"}, "1.5 pc: this part is counted in whole items; enter a whole number."),
    ],
)
async def test_receiving_a_bad_quantity_answers_422_next_to_the_field_and_books_nothing(
    client, factory, runtime, form, message
):
    shop = await factory.tenant()
    part = await new_part(shop, stock="2")
    token = await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)

    response = await client.post(f"/workshop/parts/{part.id}/receive", form={"csrf_token": token} | form)

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    assert f'<p class="field-error" id="receive-quantity-error">{message}</p>' in page
    assert await levels(runtime.db, shop.id, part.id) == (D(2), D(0))


async def test_adjusting_through_the_form_needs_a_reason_and_then_sets_the_counted_stock(
    client, factory, runtime
):
    shop = await factory.tenant()
    part = await new_part(shop, stock="10")
    token = await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)
    url = f"/workshop/parts/{part.id}/adjust"

    refused = await client.post(url, form={"csrf_token": token, "counted": "7", "reason": ""})
    accepted = await client.post(url, form={"csrf_token": token, "counted": "7", "reason": "Stock take"})

    assert refused.status_code == 422
    refused_page = await refused.get_data(as_text=True)
    assert '<p class="field-error" id="adjust-reason-error">Say why the stock changes.</p>' in refused_page
    assert 'value="7"' in refused_page
    assert accepted.status_code == 302
    assert await levels(runtime.db, shop.id, part.id) == (D(7), D(0))
    assert [m.kind for m in await movements(runtime.db, shop.id, part.id)] == ["RECEIVE", "ADJUST"]


async def test_adjusting_below_zero_through_the_form_answers_422_on_the_change_field(
    client, factory, runtime
):
    shop = await factory.tenant()
    part = await new_part(shop, stock="2")
    token = await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)

    response = await client.post(
        f"/workshop/parts/{part.id}/adjust", form={"csrf_token": token, "change": "-5", "reason": "Broken"}
    )

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    assert 'id="adjust-change-error">Stock cannot go below zero: 2 of BP-001 on hand.</p>' in page
    assert await levels(runtime.db, shop.id, part.id) == (D(2), D(0))


async def test_a_technician_sees_stock_but_cannot_change_it(client, factory, runtime):
    """A technician could book parts in or out behind the parts desk's back."""
    shop = await factory.tenant()
    technician = await shop.user("technician", locale="en")
    part = await new_part(shop, stock="3")
    token = await sign_in(client, technician.email)

    page = await _page(client, f"/workshop/parts/{part.id}")
    adjust = await client.post(
        f"/workshop/parts/{part.id}/adjust", form={"csrf_token": token, "counted": "0", "reason": "x"}
    )
    receive = await client.post(
        f"/workshop/parts/{part.id}/receive", form={"csrf_token": token, "quantity": "1"}
    )
    create = await client.post("/workshop/parts", form={"csrf_token": token, "sku": "T-1", "name": "T"})
    new_form = await client.get("/workshop/parts/new")

    assert "Adjust stock" not in page and "Receive stock" not in page and "Edit part" not in page
    assert [adjust.status_code, receive.status_code, create.status_code, new_form.status_code] == [403] * 4
    assert await levels(runtime.db, shop.id, part.id) == (D(3), D(0))


async def test_a_sales_rep_cannot_see_the_parts(client, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    await sign_in(client, rep.email)

    assert (await client.get("/workshop/parts")).status_code == 403


async def test_another_dealerships_part_answers_404_everywhere(client, factory, runtime):
    """A user could read or book stock on a competitor's shelf by typing its id."""
    shop = await factory.tenant()
    other = await factory.tenant()
    foreign = await new_part(other, stock="3")
    token = await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)
    base = f"/workshop/parts/{foreign.id}"

    responses = [
        await client.get(base),
        await client.get(f"{base}/edit"),
        await client.post(f"{base}/receive", form={"csrf_token": token, "quantity": "1"}),
        await client.post(f"{base}/adjust", form={"csrf_token": token, "counted": "0", "reason": "x"}),
        await client.post(f"{base}/edit", form={"csrf_token": token, "name": "Mine", "version": "1"}),
    ]

    assert [response.status_code for response in responses] == [404] * 5
    assert await levels(runtime.db, other.id, foreign.id) == (D(3), D(0))


async def test_editing_a_part_raises_its_reorder_point_and_a_stale_form_answers_409(client, factory, runtime):
    """Two managers editing the same part: the second would silently undo the first."""
    shop = await factory.tenant()
    part = await new_part(shop, stock="5", reorder_point="1")
    token = await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)
    form = {
        "csrf_token": token,
        "name": "Brake pads front axle",
        "unit": "set",
        "supplier": "ATE",
        "cost": "40",
        "price": "95",
        "reorder_point": "6",
        "version": str(part.version),
    }

    saved = await client.post(f"/workshop/parts/{part.id}/edit", form=form)
    stale = await client.post(f"/workshop/parts/{part.id}/edit", form=form | {"reorder_point": "1"})

    assert saved.status_code == 302
    assert stale.status_code == 409
    stale_page = await stale.get_data(as_text=True)
    assert "was changed by someone else in the meantime" in stale_page
    assert 'value="6.00"' in stale_page and f'name="version" value="{part.version + 1}"' in stale_page
    alerts = await events(runtime.db, shop.id, "part.below_reorder_point")
    assert [(a.payload["available"], a.payload["reorder_point"]) for a in alerts] == [("5.00", "6.00")]
    page = await _page(client, "/workshop/parts")
    assert "Brake pads front axle" in page and FLAG in _row(page, part.id)


async def test_the_list_is_told_live_when_stock_changes_and_hears_when_a_part_falls_to_reorder(live_server):
    """A manager watching the list would not see a part become short until reloading."""
    factory = TenantFactory(live_server.runtime.db)
    shop = await factory.tenant()
    other = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    part = await new_part(shop, sku="BP-1", name="Brake pads", stock="3", reorder_point="1")
    foreign = await new_part(other, stock="1")
    job = await shop.work_order()

    async with http_sign_in(live_server.url, manager.email) as (client, _token):
        async with open_sse(client, "parts") as stream:
            async with shop.db.uow(shop.admin.actor) as uow:
                await reserve_part(uow, part.id, D(2), job.id)
                await uow.commit()
            changed, crossing = await stream.next(), await stream.next()
            assert (changed.event, crossing.event) == ("update", "update")
            assert 'class="part-changed"' in changed.data
            assert "BP-1 Brake pads is at or below its reorder point." in crossing.data
            await stream.expect_silence(0.2)
        refused = await client.get("/live", params={"topic": f"part:{foreign.id}"})
        assert refused.status_code == 404


@pytest.mark.parametrize("role", ["sales_rep"])
async def test_the_parts_topic_is_refused_to_roles_without_parts_view(live_server, role):
    factory = TenantFactory(live_server.runtime.db)
    shop = await factory.tenant()
    user = await shop.user(role, locale="en")

    async with http_sign_in(live_server.url, user.email) as (client, _token):
        response = await client.get("/live", params={"topic": "parts"})

    assert response.status_code == 404


async def test_returning_a_part_from_a_job_by_its_number_links_the_movement_to_it(client, factory, runtime):
    shop = await factory.tenant()
    other = await factory.tenant()
    part = await new_part(shop, stock="1")
    job = await shop.work_order()
    await other.work_order()
    await other.work_order()
    token = await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)
    url = f"/workshop/parts/{part.id}/return"

    unknown = await client.post(url, form={"csrf_token": token, "quantity": "1", "work_order": "WO-000002"})
    returned = await client.post(
        url, form={"csrf_token": token, "quantity": "1", "work_order": "wo-1", "reason": "Not fitted"}
    )

    assert unknown.status_code == 422
    unknown_page = await unknown.get_data(as_text=True)
    assert 'id="return-work_order-error">There is no work order with this number.</p>' in unknown_page
    assert returned.status_code == 302
    assert await levels(runtime.db, shop.id, part.id) == (D(2), D(0))
    back = (await movements(runtime.db, shop.id, part.id))[-1]
    assert (back.kind, back.work_order_id, back.reason) == ("RETURN", job.id, "Not fitted")


async def test_a_german_list_and_part_page_name_the_known_units_in_german_and_others_as_entered(
    client, factory
):
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="de")
    pieces = await new_part(shop, sku="OF-1", name="Oil filter", stock="12")
    kit = await new_part(shop, sku="SK-1", name="Seal kit", stock="3")
    tape = await new_part(shop, sku="TP-1", name="Tape", stock="5")
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(update(Part).where(Part.id == kit.id).values(unit="set"))
        await uow.session.execute(update(Part).where(Part.id == tape.id).values(unit="Rolle"))
        await uow.commit()
    await sign_in(client, manager.email)

    page = await _page(client, "/workshop/parts")
    part_page = await _page(client, f"/workshop/parts/{kit.id}")

    assert '12 <span class="unit">Stk</span>' in _row(page, pieces.id)
    assert '3 <span class="unit">Satz</span>' in _row(page, kit.id)
    assert '5 <span class="unit">Rolle</span>' in _row(page, tape.id)
    assert '3 <span class="unit">Satz</span>' in part_page and "Menge (Satz)" in part_page
