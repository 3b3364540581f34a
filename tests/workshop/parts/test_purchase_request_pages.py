"""The reorder action on the inventory pages: offered for a part at its reorder point, the quantity
checked next to its field, a second request answered with the open one, and only for stock managers
of the part's own dealership. Without an ERP the page says the request was not sent anywhere."""

from __future__ import annotations

import re

from sqlalchemy import select

from ops.workshop.models import PurchaseRequest
from tests.web import sign_in
from tests.workshop.parts.stock import events, levels, new_part


async def _text(response) -> str:  # type: ignore[no-untyped-def]
    return str(await response.get_data(as_text=True))


async def _requests(db, tenant_id: int) -> list[PurchaseRequest]:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        return list((await session.scalars(select(PurchaseRequest).order_by(PurchaseRequest.id))).all())


def _row(page: str, part_id: int) -> str:
    match = re.search(rf'<tr id="part-{part_id}"[^>]*>.*?</tr>', page, re.S)
    assert match, f"no row for part {part_id}"
    return match.group(0)


async def test_a_manager_requests_a_reorder_from_the_parts_pages(runtime, factory, client):
    """The parts desk sees the shortage but has no way to get the part ordered."""
    shop = await factory.tenant()
    scarce = await new_part(shop, sku="BP-1", name="Brake pads", stock="3", reorder_point="4")
    plenty = await new_part(shop, sku="OF-1", name="Oil filter", stock="9", reorder_point="2")
    manager = await shop.user("workshop_manager", locale="en")
    csrf = await sign_in(client, manager.email)

    listing = await _text(await client.get("/workshop/parts"))
    assert f'href="/workshop/parts/{scarce.id}#reorder">Request reorder</a>' in _row(listing, scarce.id)
    assert "Request reorder" not in _row(listing, plenty.id)
    page = await _text(await client.get(f"/workshop/parts/{scarce.id}"))
    assert 'id="reorder"' in page and 'name="quantity"' in page
    assert re.search(r'id="reorder-quantity"[^>]*step="1"[^>]*value="5"', page), "4 x 2 - 3 whole pieces"
    assert "not sent anywhere" in page, "no ERP is configured in this test"
    assert 'id="reorder"' not in await _text(await client.get(f"/workshop/parts/{plenty.id}"))

    answer = await client.post(
        f"/workshop/parts/{scarce.id}/purchase-request", form={"csrf_token": csrf, "quantity": "5"}
    )

    assert answer.status_code == 302
    [made] = await _requests(runtime.db, shop.id)
    assert (made.part_id, made.quantity, made.status) == (scarce.id, 5, "OPEN")
    assert await levels(runtime.db, shop.id, scarce.id) == (3, 0), "stock changes only on receipt"
    page = await _text(await client.get(f"/workshop/parts/{scarce.id}"))
    assert "PR-000001 recorded: 5 pc of BP-1. No ERP is configured, so it was not sent anywhere" in page
    requests = page[page.index('id="part-requests"') : page.index('id="part-ledger"')]
    assert "PR-000001" in requests and "Open until the goods are received" in requests
    assert "Not sent: no ERP is configured." in requests
    assert (
        "PR-000001 for 5 pc of BP-1 is still open" in page
        and 'action="'
        not in page[page.index('id="reorder"') : page.index('id="part-requests"')].split("</section>")[0]
    ), "the open request is shown instead of the form"
    listing = await _text(await client.get("/workshop/parts"))
    assert "PR-000001 requested" in _row(listing, scarce.id)
    assert "Request reorder" not in _row(listing, scarce.id)
    fragment = await _text(
        await client.get(
            f"/workshop/parts/{scarce.id}", headers={"HX-Request": "true", "HX-Target": "part-requests"}
        )
    )
    assert fragment.lstrip().startswith('<section id="part-requests"') and "PR-000001" in fragment


async def test_a_bad_quantity_is_shown_next_to_the_field_and_nothing_is_requested(runtime, factory, client):
    shop = await factory.tenant()
    part = await new_part(shop, sku="BP-1", stock="0", reorder_point="2")
    manager = await shop.user("workshop_manager", locale="en")
    csrf = await sign_in(client, manager.email)
    url = f"/workshop/parts/{part.id}/purchase-request"

    for typed, message in [
        ("", "This field is required."),
        ("abc", "Enter a number."),
        ("0", "Enter a quantity greater than zero."),
        ("1.5", "This part comes in whole pieces; enter a whole number."),
        # A Swiss dealership groups thousands with a typographic apostrophe.
        ("99999", "Request at most 10\u2019000 at once; place a larger order in the ERP."),
    ]:
        answer = await client.post(url, form={"csrf_token": csrf, "quantity": typed})
        page = await _text(answer)
        assert answer.status_code == 422, typed
        assert f'<p class="field-error" id="reorder-quantity-error">{message}</p>' in page, typed
        assert f'value="{typed}"' in page, "the form keeps what was typed"
    assert await _requests(runtime.db, shop.id) == []


async def test_a_second_click_shows_the_open_request_instead_of_making_another(runtime, factory, client):
    shop = await factory.tenant()
    part = await new_part(shop, sku="BP-1", stock="0", reorder_point="2")
    csrf = await sign_in(client, (await shop.user("service_advisor", locale="en", name="Sam Keller")).email)
    url = f"/workshop/parts/{part.id}/purchase-request"
    assert (await client.post(url, form={"csrf_token": csrf, "quantity": "4"})).status_code == 302

    again = await client.post(url, form={"csrf_token": csrf, "quantity": "4"})

    assert again.status_code == 409
    page = await _text(again)
    assert (
        '<p class="form-error" role="alert">PR-000001 for 4 pc of BP-1 is still open (requested by Sam Keller'
        in page
    )
    assert len(await _requests(runtime.db, shop.id)) == 1
    assert len(await events(runtime.db, shop.id, "part.purchase_requested")) == 1


async def test_technicians_and_viewers_see_no_action_and_are_refused(runtime, factory, client):
    shop = await factory.tenant()
    part = await new_part(shop, sku="BP-1", stock="0", reorder_point="2")
    for role in ("technician", "viewer"):
        client.cookie_jar.clear()
        csrf = await sign_in(client, (await shop.user(role, locale="en")).email)
        assert "Request reorder" not in await _text(await client.get("/workshop/parts"))
        assert 'id="reorder"' not in await _text(await client.get(f"/workshop/parts/{part.id}"))
        answer = await client.post(
            f"/workshop/parts/{part.id}/purchase-request", form={"csrf_token": csrf, "quantity": "2"}
        )
        assert answer.status_code == 403, role
    assert await _requests(runtime.db, shop.id) == []


async def test_another_dealerships_part_answers_404(runtime, factory, client):
    shop, other = await factory.tenant(), await factory.tenant()
    theirs = await new_part(other, sku="XX-1", stock="0", reorder_point="2")
    csrf = await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)

    answer = await client.post(
        f"/workshop/parts/{theirs.id}/purchase-request", form={"csrf_token": csrf, "quantity": "2"}
    )

    assert answer.status_code == 404
    assert await _requests(runtime.db, other.id) == []
