"""Edit details on the work-order page: the panel for the roles that may correct a job, the POST with
the version seen, and a refused form that stays open with what was typed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from ops.workshop.models import WorkOrder
from tests.web import sign_in
from tests.workshop.order_helpers import stored
from tests.workshop.test_details import _category
from tests.workshop.test_lifecycle_routes import HTMX, _control, _panel, url


async def _staff(client, factory, role="service_advisor"):  # type: ignore[no-untyped-def]
    shop = await factory.tenant(country="CH")
    user = await shop.user(role, locale="en")
    token = await sign_in(client, user.email)
    return shop, token


def _page(work_order) -> str:  # type: ignore[no-untyped-def]
    return f"/workshop/work-orders/{work_order.id}"


def _from_page(work_order, token: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {**HTMX, "X-CSRF-Token": token, "HX-Current-URL": f"http://localhost{_page(work_order)}"}


def _form(work_order, **fields: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "complaint": work_order.complaint,
        "category_id": "",
        "priority": work_order.priority,
        "promised_at": "",
        "version": str(work_order.version),
        **fields,
    }


def _textarea(panel: str) -> str:
    found = re.search(r'<textarea id="details-complaint"[^>]*>[^<]*</textarea>', panel)
    assert found, panel
    return found.group()


@pytest.mark.parametrize("role", ["service_advisor", "workshop_manager", "admin"])
async def test_workshop_staff_find_edit_details_with_the_order_as_it_is(client, factory, role):
    shop, _token = await _staff(client, factory, role)
    work_order = await shop.work_order(status="IN_PROGRESS", complaint="Brakes squeal")

    html = await (await client.get(_page(work_order))).get_data(as_text=True)

    panel = _panel(html, "Edit details")
    assert panel.startswith('<details class="action">')
    assert ">Brakes squeal</textarea>" in _textarea(panel)
    assert '<option value="NORMAL" selected>Normal</option>' in _control(panel, "details-priority")
    assert ">Brake Service</option>" in _control(panel, "details-category")
    assert f'name="version" value="{work_order.version}"' in panel


@pytest.mark.parametrize("role", ["technician", "viewer"])
async def test_technicians_and_viewers_are_not_offered_edit_details(client, factory, role):
    shop, _token = await _staff(client, factory, role)
    work_order = await shop.work_order()

    html = await (await client.get(_page(work_order))).get_data(as_text=True)

    assert "Edit details" not in html


async def test_a_ready_job_is_not_offered_edit_details(client, factory):
    shop, _token = await _staff(client, factory)
    work_order = await shop.work_order(status="READY")

    html = await (await client.get(_page(work_order))).get_data(as_text=True)

    assert "Edit details" not in html


async def test_a_plain_post_saves_the_details_in_the_dealerships_time_and_returns_to_the_page(
    client, factory, runtime
):
    """Without JavaScript as with it: "I need it by Friday noon" is promised for noon in Zurich."""
    shop, token = await _staff(client, factory)
    work_order = await shop.work_order()
    brakes = await _category(shop, "Brake Service")

    response = await client.post(
        url(work_order, "details"),
        form={
            **_form(
                work_order,
                complaint="  Brakes squeal when cold  ",
                category_id=str(brakes),
                priority="HIGH",
                promised_at="2031-03-07T12:00",
            ),
            "csrf_token": token,
        },
        headers={"Referer": f"http://localhost{_page(work_order)}"},
    )

    assert response.status_code == 303
    assert response.headers["Location"] == _page(work_order)
    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.complaint, row.category_id, row.priority, row.promised_at) == (
        "Brakes squeal when cold",
        brakes,
        "HIGH",
        datetime(2031, 3, 7, 11, 0, tzinfo=UTC),
    )
    html = await (await client.get(_page(work_order))).get_data(as_text=True)
    assert f"{work_order.code}: details saved." in html
    assert "Details changed: Complaint, Category, Priority, Promised" in html
    assert 'value="2031-03-07T12:00"' in _control(_panel(html, "Edit details"), "details-promised")


async def test_an_htmx_post_from_the_page_redirects_it_to_itself(client, factory, runtime):
    shop, token = await _staff(client, factory)
    work_order = await shop.work_order()

    response = await client.post(
        url(work_order, "details"),
        form=_form(work_order, priority="URGENT"),
        headers=_from_page(work_order, token),
    )

    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == _page(work_order)
    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).priority == "URGENT"


async def test_saving_unchanged_details_says_so_and_records_nothing(client, factory, runtime):
    shop, token = await _staff(client, factory)
    work_order = await shop.work_order()

    response = await client.post(
        url(work_order, "details"), form=_form(work_order), headers=_from_page(work_order, token)
    )

    assert response.status_code == 200
    html = await (await client.get(_page(work_order))).get_data(as_text=True)
    assert f"{work_order.code}: nothing to change." in html
    assert "Details changed" not in html
    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).version == work_order.version


@pytest.mark.parametrize(
    ("field", "control", "typed", "message"),
    [
        ("promised_at", "details-promised", "2020-05-04T16:00", "The promised time has already passed."),
        ("promised_at", "details-promised", "next friday", "Enter a date and time."),
        ("complaint", "details-complaint", "   ", "This field is required."),
    ],
)
async def test_a_refused_edit_keeps_its_panel_open_with_what_was_typed_and_the_reason_next_to_it(
    client, factory, runtime, field, control, typed, message
):
    """The advisor on the phone would have to open the panel again and retype the customer's words."""
    shop, token = await _staff(client, factory)
    work_order = await shop.work_order()
    form = _form(work_order, **{"complaint": "Brakes squeal when cold", "priority": "HIGH", field: typed})

    response = await client.post(url(work_order, "details"), form=form, headers=_from_page(work_order, token))

    assert response.status_code == 422
    assert "HX-Redirect" not in response.headers
    html = await response.get_data(as_text=True)
    assert re.search(r'<section id="order-actions"[^>]* hx-swap-oob="true"', html)
    panel = _panel(html, "Edit details")
    assert panel.startswith('<details class="action" open>')
    assert f">{form['complaint']}</textarea>" in _textarea(panel)
    assert '<option value="HIGH" selected>' in _control(panel, "details-priority")
    if field == "promised_at":
        assert f'value="{typed}"' in _control(panel, control)
    invalid = _textarea(panel) if field == "complaint" else _control(panel, control)
    assert f'aria-invalid="true" aria-describedby="details-{field}-error"' in invalid
    assert "autofocus" in invalid
    assert f'<p class="field-error" id="details-{field}-error">{message}</p>' in panel
    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.priority, row.version) == ("NORMAL", work_order.version)


async def test_a_stale_edit_answers_409_with_the_order_as_it_is_now_and_keeps_what_was_typed(
    client, factory, runtime
):
    """A colleague changed the job meanwhile: nothing is overwritten, and the advisor sees what it is now."""
    shop, token = await _staff(client, factory)
    work_order = await shop.work_order()
    await client.post(
        url(work_order, "details"),
        form=_form(work_order, priority="URGENT"),
        headers=_from_page(work_order, token),
    )

    response = await client.post(
        url(work_order, "details"),
        form=_form(work_order, complaint="Clutch slips"),
        headers=_from_page(work_order, token),
    )

    assert response.status_code == 409
    html = await response.get_data(as_text=True)
    # The header, swapped in beside the form, shows the colleague's change.
    assert re.search(r'<section id="order-header"[^>]* hx-swap-oob="true"', html)
    assert "Priority: Urgent" in html
    panel = _panel(html, "Edit details")
    assert panel.startswith('<details class="action" open>')
    assert f'<p class="form-error" role="alert">{work_order.code} was changed by someone else' in panel
    assert ">Clutch slips</textarea>" in _textarea(panel)
    assert f'name="version" value="{work_order.version + 1}"' in panel
    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.complaint, row.priority) == (work_order.complaint, "URGENT")


async def test_a_refused_plain_post_shows_the_page_with_its_panel_open(client, factory, runtime):
    shop, token = await _staff(client, factory)
    work_order = await shop.work_order()

    response = await client.post(
        url(work_order, "details"),
        form={**_form(work_order, promised_at="2020-05-04T16:00"), "csrf_token": token},
        headers={"Referer": f"http://localhost{_page(work_order)}"},
    )

    assert response.status_code == 422
    panel = _panel(await response.get_data(as_text=True), "Edit details")
    assert panel.startswith('<details class="action" open>') and 'value="2020-05-04T16:00"' in panel
    assert "The promised time has already passed." in panel


@pytest.mark.parametrize("role", ["technician", "viewer"])
async def test_a_technician_or_viewer_posting_the_form_is_refused(client, factory, runtime, role):
    shop, token = await _staff(client, factory, role)
    work_order = await shop.work_order()

    for form in (_form(work_order, priority="URGENT"), _form(work_order, complaint="")):
        response = await client.post(url(work_order, "details"), form=form, headers={"X-CSRF-Token": token})
        assert response.status_code == 403

    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).version == work_order.version
