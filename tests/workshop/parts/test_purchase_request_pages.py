"""The reorder action on the inventory pages: offered for a part at its reorder point, the quantity
checked next to its field, a second request answered with the open one, and only for stock managers
of the part's own dealership. Without an ERP the page says the request was not sent anywhere. The open
request is cancelled from a dialog that asks why; the history shows who, when and why."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from ops.workshop.models import PurchaseRequest
from ops.workshop.parts.service import cancel_purchase_request, request_purchase
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


# --- Cancelling the open request ------------------------------------------------------------------------


async def _open_request(shop):  # type: ignore[no-untyped-def]
    part = await new_part(shop, sku="BP-1", stock="1", reorder_point="3")
    async with shop.db.uow(shop.admin.actor) as uow:
        request = await request_purchase(uow, part.id, Decimal(5))
    return part, request


def _section(page: str, start: str, end: str) -> str:
    return page[page.index(start) : page.index(end)]


async def test_a_manager_cancels_the_open_request_with_a_reason_and_may_reorder_again(
    runtime, factory, client
):
    """A request the supplier can never fill would block the part's reorder for good."""
    shop = await factory.tenant()
    part, request = await _open_request(shop)
    manager = await shop.user("workshop_manager", locale="en", name="Mia Meier")
    csrf = await sign_in(client, manager.email)
    url = f"/workshop/parts/{part.id}/purchase-requests/{request.id}/cancel"

    page = await _text(await client.get(f"/workshop/parts/{part.id}"))
    reorder = _section(page, 'id="part-reorder"', f'action="/workshop/parts/{part.id}/receive"')
    assert (
        'data-dialog-open="cancel-request-dialog" aria-haspopup="dialog">Cancel request…</button>' in reorder
    )
    assert '<dialog id="cancel-request-dialog"' in reorder and f'action="{url}"' in reorder
    assert '<h2 id="cancel-request-title">Cancel PR-000001?</h2>' in reorder
    assert re.search(r'<input id="cancel-reason" name="reason" maxlength="200" required', reorder)

    answer = await client.post(url, form={"csrf_token": csrf, "reason": "Supplier discontinued the part"})

    assert answer.status_code == 302
    [stored] = await _requests(runtime.db, shop.id)
    assert (stored.status, stored.cancelled_by_name) == ("CANCELLED", "Mia Meier")
    page = await _text(await client.get(f"/workshop/parts/{part.id}"))
    assert "PR-000001 cancelled." in page, "no ERP: nothing more to say"
    requests = _section(page, 'id="part-requests"', 'id="part-ledger"')
    row = re.search(
        rf'<tr id="purchase-request-{request.id}" class="purchase-request cancelled">.*?</tr>', requests, re.S
    )
    assert row, requests
    assert re.search(
        r"Cancelled .* by Mia Meier: <span class=\"cancel-reason\">Supplier discontinued the part</span>",
        row.group(0),
    )
    reorder = _section(page, 'id="part-reorder"', 'id="part-requests"')
    assert "cancel-request-dialog" not in reorder and 'name="quantity"' in reorder, "the reorder form is back"
    listing = await _text(await client.get("/workshop/parts"))
    assert "Request reorder" in _row(listing, part.id) and "PR-000001" not in _row(listing, part.id)


async def test_a_missing_reason_keeps_the_dialog_open_with_the_message_and_cancels_nothing(
    runtime, factory, client
):
    shop = await factory.tenant()
    part, request = await _open_request(shop)
    csrf = await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)

    answer = await client.post(
        f"/workshop/parts/{part.id}/purchase-requests/{request.id}/cancel",
        form={"csrf_token": csrf, "reason": "  "},
    )

    assert answer.status_code == 422
    page = await _text(answer)
    assert re.search(r'<dialog id="cancel-request-dialog"[^>]* open data-modal>', page), "sent back open"
    assert '<p class="field-error" id="cancel-reason-error">Say why the request is cancelled.</p>' in page
    assert 'aria-describedby="cancel-reason-hint cancel-reason-error" aria-invalid="true"' in page
    assert [r.status for r in await _requests(runtime.db, shop.id)] == ["OPEN"]


async def test_a_request_closed_meanwhile_is_shown_as_it_is_with_409(runtime, factory, client):
    """Two managers on the same page: the second one's cancel must not pretend to have worked."""
    shop = await factory.tenant()
    part, request = await _open_request(shop)
    first = await shop.user("workshop_manager", locale="en", name="Mia Meier")
    async with shop.db.uow(first.actor) as uow:
        await cancel_purchase_request(uow, part.id, request.id, "Raised by mistake")
    csrf = await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)

    again = await client.post(
        f"/workshop/parts/{part.id}/purchase-requests/{request.id}/cancel",
        form={"csrf_token": csrf, "reason": "Me too"},
    )

    assert again.status_code == 409
    page = await _text(again)
    assert re.search(
        r'<p class="form-error" role="alert">'
        r"PR-000001 was already cancelled by Mia Meier, [^<]*: Raised by mistake</p>",
        page,
    )
    [stored] = await _requests(runtime.db, shop.id)
    assert stored.cancel_reason == "Raised by mistake"


async def test_who_may_not_manage_stock_sees_no_cancel_and_is_refused(runtime, factory, client):
    shop = await factory.tenant()
    part, request = await _open_request(shop)
    for role in ("viewer", "technician"):
        client.cookie_jar.clear()
        csrf = await sign_in(client, (await shop.user(role, locale="en")).email)
        page = await _text(await client.get(f"/workshop/parts/{part.id}"))
        assert "PR-000001" in page and "Cancel request" not in page and "cancel-request-dialog" not in page
        answer = await client.post(
            f"/workshop/parts/{part.id}/purchase-requests/{request.id}/cancel",
            form={"csrf_token": csrf, "reason": "Not mine"},
        )
        assert answer.status_code == 403, role
    assert [r.status for r in await _requests(runtime.db, shop.id)] == ["OPEN"]


async def test_another_dealerships_request_answers_404(runtime, factory, client):
    shop, other = await factory.tenant(), await factory.tenant()
    theirs, their_request = await _open_request(other)
    ours = await new_part(shop, sku="OF-1", stock="0", reorder_point="2")
    csrf = await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)

    for part_id in (theirs.id, ours.id):
        answer = await client.post(
            f"/workshop/parts/{part_id}/purchase-requests/{their_request.id}/cancel",
            form={"csrf_token": csrf, "reason": "Not ours"},
        )
        assert answer.status_code == 404
    assert [r.status for r in await _requests(runtime.db, other.id)] == ["OPEN"]


async def test_the_reorder_section_reloads_alone_for_the_live_update(runtime, factory, client):
    shop = await factory.tenant()
    part, _request = await _open_request(shop)
    await sign_in(client, (await shop.user("workshop_manager", locale="en")).email)

    fragment = await _text(
        await client.get(
            f"/workshop/parts/{part.id}", headers={"HX-Request": "true", "HX-Target": "part-reorder"}
        )
    )

    assert fragment.lstrip().startswith('<div id="part-reorder"') and "Cancel PR-000001?" in fragment
    assert 'id="part-requests"' not in fragment
