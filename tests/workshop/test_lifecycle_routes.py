"""The lifecycle routes: POST schedule, assign, check-in, close (and move) with CSRF and the version the
user saw; how each answers the board, the work-order page and a plain form."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from ops.vehicles.models import Vehicle
from ops.workshop.models import WorkOrder
from tests.web import sign_in
from tests.workshop.order_helpers import add_bay, stored

HTMX = {"HX-Request": "true"}


def url(work_order, action: str) -> str:  # type: ignore[no-untyped-def]
    return f"/workshop/work-orders/{work_order.id}/{action}"


async def _staff(client, factory, role="service_advisor"):  # type: ignore[no-untyped-def]
    shop = await factory.tenant(country="CH")
    user = await shop.user(role, locale="en")
    token = await sign_in(client, user.email)
    return shop, user, token


async def test_scheduling_from_the_board_books_the_slot_in_the_dealerships_time(client, factory, runtime):
    """A slot typed as 09:00 in Zurich would be booked at 09:00 UTC, an hour late."""
    shop, _advisor, token = await _staff(client, factory)
    technician = await shop.user("technician", name="Luca Brunner")
    bay = await add_bay(shop, "Lift 3")
    work_order = await shop.work_order()

    response = await client.post(
        url(work_order, "schedule"),
        form={
            "bay_id": str(bay.id),
            "technician_id": str(technician.actor.user_id),
            "start": "2031-03-03T09:00",
            "end": "2031-03-03T11:30",
            "version": str(work_order.version),
        },
        headers={**HTMX, "X-CSRF-Token": token},
    )

    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert 'hx-swap-oob="afterbegin:#cards-SCHEDULED"' in html
    assert "<dd>Lift 3</dd>" in html and "<dd>Luca Brunner</dd>" in html
    assert f"{work_order.code} moved to Scheduled by" in html
    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.status, row.bay_id, row.technician_id) == ("SCHEDULED", bay.id, technician.actor.user_id)
    assert (row.scheduled_start, row.scheduled_end) == (
        datetime(2031, 3, 3, 8, 0, tzinfo=UTC),
        datetime(2031, 3, 3, 10, 30, tzinfo=UTC),
    )


async def _schedule_form(shop, bay, technician, version, start="2031-03-03T09:00", end="2031-03-03T11:00"):  # type: ignore[no-untyped-def]
    return {
        "bay_id": str(bay.id),
        "technician_id": str(technician.actor.user_id),
        "start": start,
        "end": end,
        "version": str(version),
    }


async def test_a_refused_schedule_answers_422_with_the_reason_and_changes_nothing(client, factory, runtime):
    shop, _advisor, token = await _staff(client, factory)
    technician = await shop.user("technician")
    bay = await add_bay(shop)
    booked = await shop.work_order()
    await client.post(
        url(booked, "schedule"),
        form=await _schedule_form(shop, bay, technician, booked.version),
        headers={**HTMX, "X-CSRF-Token": token},
    )
    work_order = await shop.work_order()

    response = await client.post(
        url(work_order, "schedule"),
        form=await _schedule_form(shop, bay, technician, work_order.version, start="2031-03-03T10:00"),
        headers={**HTMX, "X-CSRF-Token": token},
    )

    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert f"Lift 1 is booked for {booked.code} from" in html
    assert 'class="toast toast-error"' in html
    # The card is put back where it is.
    assert 'hx-swap-oob="afterbegin:#cards-NEW"' in html
    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).status == "NEW"


async def test_a_job_whose_promised_time_has_passed_can_still_be_scheduled_and_assigned(
    client, factory, runtime
):
    """Only a promise being made is checked: a late job would be stuck where it was, unbookable."""
    shop, _advisor, token = await _staff(client, factory)
    technician = await shop.user("technician")
    bay = await add_bay(shop)
    work_order = await shop.work_order()
    promised = datetime(2020, 5, 4, 16, 0, tzinfo=UTC)
    async with runtime.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(WorkOrder).where(WorkOrder.id == work_order.id).values(promised_at=promised)
        )
        await uow.commit()

    scheduled = await client.post(
        url(work_order, "schedule"),
        form=await _schedule_form(shop, bay, technician, work_order.version),
        headers={**HTMX, "X-CSRF-Token": token},
    )
    assigned = await client.post(
        url(work_order, "assign"),
        form={"technician_id": "", "bay_id": str(bay.id), "version": str(work_order.version + 1)},
        headers={**HTMX, "X-CSRF-Token": token},
    )

    assert (scheduled.status_code, assigned.status_code) == (200, 200)
    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.status, row.technician_id, row.promised_at) == ("SCHEDULED", None, promised)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bay_id", "", "Bay: This field is required."),
        ("technician_id", "x", "Technician: Enter a whole number."),
        ("start", "tomorrow", "Start: Enter a date and time."),
    ],
)
async def test_a_bad_schedule_field_is_named_in_the_422(client, factory, runtime, field, value, message):
    shop, _advisor, token = await _staff(client, factory)
    technician = await shop.user("technician")
    bay = await add_bay(shop)
    work_order = await shop.work_order()
    form = {**await _schedule_form(shop, bay, technician, work_order.version), field: value}

    response = await client.post(
        url(work_order, "schedule"), form=form, headers={**HTMX, "X-CSRF-Token": token}
    )

    assert response.status_code == 422
    assert message in await response.get_data(as_text=True)
    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).version == work_order.version


async def test_a_stale_version_answers_409_with_the_card_as_it_is_now(client, factory, runtime):
    shop, _advisor, token = await _staff(client, factory)
    technician = await shop.user("technician")
    bay = await add_bay(shop)
    work_order = await shop.work_order()
    await client.post(
        url(work_order, "move"),
        form={"status": "CHECKED_IN", "version": str(work_order.version)},
        headers={**HTMX, "X-CSRF-Token": token},
    )

    response = await client.post(
        url(work_order, "assign"),
        form={"technician_id": str(technician.actor.user_id), "bay_id": str(bay.id), "version": "1"},
        headers={**HTMX, "X-CSRF-Token": token},
    )

    assert response.status_code == 409
    html = await response.get_data(as_text=True)
    assert "changed by someone else" in html
    assert 'hx-swap-oob="afterbegin:#cards-CHECKED_IN"' in html
    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.technician_id, row.bay_id) == (None, None)


@pytest.mark.parametrize("action", ["schedule", "assign", "check-in", "close", "move", "details"])
@pytest.mark.parametrize("htmx", [True, False])
async def test_another_dealerships_job_is_not_found_whatever_the_form_says(
    client, factory, runtime, action, htmx
):
    """A user could probe or change a competitor's jobs by guessing ids."""
    _shop, _advisor, token = await _staff(client, factory)
    other = await factory.tenant()
    theirs = await other.work_order(status="READY", complaint="B's secret")
    headers = {"X-CSRF-Token": token, **(HTMX if htmx else {})}

    for form in ({"version": str(theirs.version)}, {"version": "", "odometer_km": "x", "bay_id": "y"}):
        response = await client.post(url(theirs, action), form=form, headers=headers)
        body = await response.get_data(as_text=True)
        assert response.status_code == 404, (form, body)
        assert theirs.code not in body and "B's secret" not in body
    assert (await stored(runtime.db, other.id, WorkOrder, theirs.id)).status == "READY"


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("schedule", {"bay_id": "", "technician_id": "", "start": "", "end": ""}),
        ("assign", {"technician_id": ""}),
        ("check-in", {"odometer_km": "100"}),
    ],
)
async def test_a_technician_may_not_schedule_assign_or_check_in(client, factory, runtime, action, form):
    shop, _technician, token = await _staff(client, factory, role="technician")
    work_order = await shop.work_order()

    response = await client.post(
        url(work_order, action),
        form={**form, "version": str(work_order.version)},
        headers={"X-CSRF-Token": token},
    )

    assert response.status_code == 403
    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).version == work_order.version


async def test_a_post_without_the_csrf_token_is_refused(client, factory, runtime):
    shop, _advisor, _token = await _staff(client, factory)
    work_order = await shop.work_order(status="READY")

    response = await client.post(url(work_order, "close"), form={"version": str(work_order.version)})

    assert response.status_code in (400, 403)
    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).status == "READY"


async def test_a_plain_form_post_from_the_work_order_page_returns_there_with_a_flash(
    client, factory, runtime
):
    """Without JavaScript the advisor would land on the board, away from the job they were working on."""
    shop, _advisor, token = await _staff(client, factory)
    work_order = await shop.work_order()
    page = f"http://localhost/workshop/work-orders/{work_order.id}"

    response = await client.post(
        url(work_order, "check-in"),
        form={"odometer_km": "12345", "version": str(work_order.version), "csrf_token": token},
        headers={"Referer": page},
    )

    assert response.status_code == 303
    assert response.headers["Location"] == f"/workshop/work-orders/{work_order.id}"
    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.status, row.odometer_in_km) == ("CHECKED_IN", 12345)
    board = await (await client.get("/workshop/board")).get_data(as_text=True)
    assert f"{work_order.code} checked in." in board


async def test_a_refused_plain_form_post_returns_with_the_reason(client, factory, runtime):
    shop, _advisor, token = await _staff(client, factory)
    work_order = await shop.work_order(status="IN_PROGRESS")

    response = await client.post(
        url(work_order, "close"),
        form={"version": str(work_order.version), "csrf_token": token},
        headers={"Referer": "http://localhost/workshop/board?priority=HIGH"},
    )

    assert response.status_code == 303
    # Back to the board it came from, with its filter; the Referer cannot send anyone elsewhere.
    assert response.headers["Location"] == "/workshop/board?priority=HIGH"
    board = await (await client.get("/workshop/board")).get_data(as_text=True)
    assert "Only a job that is ready can be closed" in board
    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).status == "IN_PROGRESS"


async def test_a_foreign_referer_sends_a_plain_post_back_to_the_board(client, factory):
    shop, _advisor, token = await _staff(client, factory)
    work_order = await shop.work_order(status="READY")

    response = await client.post(
        url(work_order, "close"),
        form={"version": str(work_order.version), "csrf_token": token},
        headers={"Referer": "https://evil.example/workshop/work-orders/1"},
    )

    assert response.headers["Location"] == "/workshop/board"


async def _scheduled_at(runtime, shop, odometer_km: int):  # type: ignore[no-untyped-def]
    work_order = await shop.work_order(status="SCHEDULED")
    async with runtime.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(Vehicle).where(Vehicle.id == work_order.vehicle_id).values(odometer_km=odometer_km)
        )
        await uow.commit()
    return work_order


async def test_an_htmx_post_from_the_work_order_page_redirects_it_to_itself(client, factory, runtime):
    """The work-order page would keep showing the old state, or swap a board card into itself."""
    shop, _advisor, token = await _staff(client, factory)
    work_order = await _scheduled_at(runtime, shop, 20_000)
    page = f"/workshop/work-orders/{work_order.id}"

    response = await client.post(
        url(work_order, "check-in"),
        form={"odometer_km": "25000", "version": str(work_order.version)},
        headers={**HTMX, "X-CSRF-Token": token, "HX-Current-URL": f"http://localhost{page}"},
    )

    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == page
    assert "hx-swap-oob" not in await response.get_data(as_text=True)
    board = await (await client.get("/workshop/board")).get_data(as_text=True)
    assert f"{work_order.code} checked in." in board


def _panel(html: str, summary: str) -> str:
    """The work-order page's action panel opened with `summary`."""
    found = re.search(
        rf'<details class="action"[^>]*>\s*<summary class="button">{summary}</summary>.*?</details>',
        html,
        re.S,
    )
    assert found, html
    return found.group()


def _check_in_form(html: str) -> str:
    return _panel(html, "Check in")


def _control(form: str, control_id: str) -> str:
    found = re.search(rf'<(?:input|select) id="{control_id}"[^>]*>(?:.*?</select>)?', form, re.S)
    assert found, form
    return found.group()


@pytest.mark.parametrize(
    ("odometer", "message"),
    [
        (
            "17705",
            "The odometer reading 17\u2019705 km is below the 177\u2019053 km already recorded for this "
            "vehicle",
        ),
        ("abc", "Enter a whole number."),
    ],
)
async def test_a_refused_check_in_keeps_its_form_open_with_the_reading_and_the_reason_next_to_it(
    client, factory, runtime, odometer, message
):
    """The panel closed and the reason only flashed by in a toast: the advisor opened it again and retyped."""
    shop, _advisor, token = await _staff(client, factory)
    work_order = await _scheduled_at(runtime, shop, 177_053)
    page = f"/workshop/work-orders/{work_order.id}"

    response = await client.post(
        url(work_order, "check-in"),
        form={"odometer_km": odometer, "version": str(work_order.version)},
        headers={**HTMX, "X-CSRF-Token": token, "HX-Current-URL": f"http://localhost{page}"},
    )

    assert response.status_code == 422
    assert "HX-Redirect" not in response.headers
    html = await response.get_data(as_text=True)
    assert re.search(r'<section id="order-actions"[^>]* hx-swap-oob="true"', html)
    form = _check_in_form(html)
    assert form.startswith('<details class="action" open>')
    field = re.search(r'<input id="check-in-odometer"[^>]*>', form)
    assert field and f'value="{odometer}"' in field.group()
    assert 'aria-invalid="true" aria-describedby="check-in-odometer_km-error"' in field.group()
    assert "autofocus" in field.group()
    assert f'<p class="field-error" id="check-in-odometer_km-error">{message}' in form
    assert 'class="toast' not in html
    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).status == "SCHEDULED"


async def test_a_refused_plain_check_in_shows_the_page_with_its_form_open(client, factory, runtime):
    shop, _advisor, token = await _staff(client, factory)
    work_order = await _scheduled_at(runtime, shop, 177_053)

    response = await client.post(
        url(work_order, "check-in"),
        form={"odometer_km": "17705", "version": str(work_order.version), "csrf_token": token},
        headers={"Referer": f"http://localhost/workshop/work-orders/{work_order.id}"},
    )

    assert response.status_code == 422
    form = _check_in_form(await response.get_data(as_text=True))
    assert form.startswith('<details class="action" open>') and 'value="17705"' in form
    assert "below the 177\u2019053 km already recorded" in form


async def test_a_stale_check_in_keeps_the_reading_and_says_why_above_the_form(client, factory, runtime):
    """The reading was lost to a change someone else made; the form now carries the version shown, so
    sending it again is a decision taken on the state the page shows."""
    shop, _advisor, token = await _staff(client, factory)
    work_order = await _scheduled_at(runtime, shop, 20_000)
    page = f"/workshop/work-orders/{work_order.id}"

    response = await client.post(
        url(work_order, "check-in"),
        form={"odometer_km": "25000", "version": str(work_order.version + 7)},
        headers={**HTMX, "X-CSRF-Token": token, "HX-Current-URL": f"http://localhost{page}"},
    )

    assert response.status_code == 409
    assert "HX-Redirect" not in response.headers
    form = _check_in_form(await response.get_data(as_text=True))
    assert form.startswith('<details class="action" open>') and 'value="25000"' in form
    assert f'<p class="form-error" role="alert">{work_order.code} was changed by someone else' in form
    assert f'name="version" value="{work_order.version}"' in form
    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).status == "SCHEDULED"


async def _booked_lift(client, shop, token, technician, bay):  # type: ignore[no-untyped-def]
    """Another job holding `bay` and `technician` on 3 March 2031 from 09:00 to 11:00."""
    booked = await shop.work_order()
    await client.post(
        url(booked, "schedule"),
        form=await _schedule_form(shop, bay, technician, booked.version),
        headers={**HTMX, "X-CSRF-Token": token},
    )
    return booked


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("bay_id", {}, "Lift 1 is booked for WO-000001 from"),
        ("start", {"start": "3.3.2031 10:00"}, "Enter a date and time."),
        ("end", {"start": "2031-03-05T10:00", "end": "2031-03-05T09:00"}, "The end must be after the start."),
    ],
)
async def test_a_refused_schedule_keeps_its_panel_open_with_what_was_typed_and_the_reason_next_to_it(
    client, factory, runtime, field, typed, message
):
    """The panel closed and the reason only flashed by in a toast: the advisor chose bay, technician and
    times all over again."""
    shop, _advisor, token = await _staff(client, factory)
    technician = await shop.user("technician", name="Luca Brunner")
    bay = await add_bay(shop)
    await _booked_lift(client, shop, token, await shop.user("technician"), bay)
    work_order = await shop.work_order()
    form = {
        **await _schedule_form(shop, bay, technician, work_order.version, start="2031-03-03T10:00"),
        **typed,
    }
    page = f"/workshop/work-orders/{work_order.id}"

    response = await client.post(
        url(work_order, "schedule"),
        form=form,
        headers={**HTMX, "X-CSRF-Token": token, "HX-Current-URL": f"http://localhost{page}"},
    )

    assert response.status_code == 422
    assert "HX-Redirect" not in response.headers
    html = await response.get_data(as_text=True)
    assert re.search(r'<section id="order-actions"[^>]* hx-swap-oob="true"', html)
    panel = _panel(html, "Schedule")
    assert panel.startswith('<details class="action" open>')
    assert f'<option value="{bay.id}" selected>' in _control(panel, "schedule-bay")
    assert f'<option value="{technician.actor.user_id}" selected>' in _control(panel, "schedule-technician")
    assert f'value="{form["start"]}"' in _control(panel, "schedule-start")
    assert f'value="{form["end"]}"' in _control(panel, "schedule-end")
    control = _control(
        panel, {"bay_id": "schedule-bay", "start": "schedule-start", "end": "schedule-end"}[field]
    )
    assert f'aria-invalid="true" aria-describedby="schedule-{field}-error"' in control
    assert "autofocus" in control
    assert f'<p class="field-error" id="schedule-{field}-error">{message}' in panel
    assert 'class="toast' not in html
    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.status, row.version, row.bay_id) == ("NEW", work_order.version, None)


async def test_a_refused_assignment_keeps_its_panel_open_with_the_choice_and_the_reason(
    client, factory, runtime
):
    """Moving a booked job to a bay taken at its time closed the panel; the choice had to be made again."""
    shop, _manager, token = await _staff(client, factory, role="workshop_manager")
    technician = await shop.user("technician")
    lift, other_lift = await add_bay(shop, "Lift 1"), await add_bay(shop, "Lift 2")
    booked = await _booked_lift(client, shop, token, await shop.user("technician"), other_lift)
    work_order = await shop.work_order()
    await client.post(
        url(work_order, "schedule"),
        form=await _schedule_form(shop, lift, technician, work_order.version),
        headers={**HTMX, "X-CSRF-Token": token},
    )
    version = work_order.version + 1
    page = f"/workshop/work-orders/{work_order.id}"

    response = await client.post(
        url(work_order, "assign"),
        form={
            "technician_id": str(technician.actor.user_id),
            "bay_id": str(other_lift.id),
            "version": str(version),
        },
        headers={**HTMX, "X-CSRF-Token": token, "HX-Current-URL": f"http://localhost{page}"},
    )

    assert response.status_code == 422
    panel = _panel(await response.get_data(as_text=True), "Assign")
    assert panel.startswith('<details class="action" open>')
    bay_control = _control(panel, "assign-bay")
    assert f'<option value="{other_lift.id}" selected>' in bay_control
    assert 'aria-invalid="true" aria-describedby="assign-bay_id-error"' in bay_control
    assert f'<p class="field-error" id="assign-bay_id-error">Lift 2 is booked for {booked.code} from' in panel
    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.bay_id, row.version) == (lift.id, version)


async def test_a_stale_schedule_keeps_what_was_typed_with_the_current_version(client, factory, runtime):
    """Someone assigned the job meanwhile: the advisor's slot stays typed, the reason above it."""
    shop, _advisor, token = await _staff(client, factory)
    technician = await shop.user("technician")
    bay = await add_bay(shop)
    work_order = await shop.work_order()
    await client.post(
        url(work_order, "assign"),
        form={"technician_id": str(technician.actor.user_id), "version": str(work_order.version)},
        headers={**HTMX, "X-CSRF-Token": token},
    )
    form = await _schedule_form(shop, bay, technician, work_order.version, start="2031-03-04T08:00")
    page = f"/workshop/work-orders/{work_order.id}"

    response = await client.post(
        url(work_order, "schedule"),
        form=form,
        headers={**HTMX, "X-CSRF-Token": token, "HX-Current-URL": f"http://localhost{page}"},
    )

    assert response.status_code == 409
    panel = _panel(await response.get_data(as_text=True), "Schedule")
    assert panel.startswith('<details class="action" open>')
    assert f'<p class="form-error" role="alert">{work_order.code} was changed by someone else' in panel
    assert 'value="2031-03-04T08:00"' in _control(panel, "schedule-start")
    assert f'name="version" value="{work_order.version + 1}"' in panel
    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).status == "NEW"


async def test_a_refusal_of_a_form_the_job_no_longer_offers_is_still_said(client, factory, runtime):
    """Checked in by a colleague meanwhile, the job has no Schedule panel any more to hold the reason."""
    shop, _advisor, token = await _staff(client, factory)
    technician = await shop.user("technician")
    bay = await add_bay(shop)
    work_order = await _scheduled_at(runtime, shop, 20_000)
    await client.post(
        url(work_order, "check-in"),
        form={"odometer_km": "21000", "version": str(work_order.version)},
        headers={**HTMX, "X-CSRF-Token": token},
    )
    page = f"/workshop/work-orders/{work_order.id}"

    response = await client.post(
        url(work_order, "schedule"),
        form=await _schedule_form(shop, bay, technician, work_order.version),
        headers={**HTMX, "X-CSRF-Token": token, "HX-Current-URL": f"http://localhost{page}"},
    )

    assert response.status_code == 409
    html = await response.get_data(as_text=True)
    assert '<summary class="button">Schedule</summary>' not in html
    assert f'<p class="form-error" role="alert">{work_order.code} was changed by someone else' in html


async def test_a_refused_plain_schedule_shows_the_page_with_its_panel_open(client, factory, runtime):
    shop, _advisor, token = await _staff(client, factory)
    technician = await shop.user("technician")
    bay = await add_bay(shop)
    work_order = await shop.work_order()
    form = await _schedule_form(shop, bay, technician, work_order.version, end="2031-03-03T08:00")

    response = await client.post(
        url(work_order, "schedule"),
        form={**form, "csrf_token": token},
        headers={"Referer": f"http://localhost/workshop/work-orders/{work_order.id}"},
    )

    assert response.status_code == 422
    panel = _panel(await response.get_data(as_text=True), "Schedule")
    assert panel.startswith('<details class="action" open>') and 'value="2031-03-03T08:00"' in panel
    assert "The end must be after the start." in panel


async def test_assigning_from_the_board_shows_the_new_technician_and_bay_on_the_card(
    client, factory, runtime
):
    shop, _manager, token = await _staff(client, factory, role="workshop_manager")
    technician = await shop.user("technician", name="Mia Keller")
    bay = await add_bay(shop, "EV bay")
    work_order = await shop.work_order(status="IN_PROGRESS")

    form = await client.get(url(work_order, "assign"), headers=HTMX)
    response = await client.post(
        url(work_order, "assign"),
        form={
            "technician_id": str(technician.actor.user_id),
            "bay_id": str(bay.id),
            "version": str(work_order.version),
        },
        headers={**HTMX, "X-CSRF-Token": token},
    )

    fragment = await form.get_data(as_text=True)
    assert fragment.lstrip().startswith('<form class="assign-form"')
    assert f'name="version" value="{work_order.version}"' in fragment
    assert f'<option value="{technician.actor.user_id}">Mia Keller</option>' in fragment
    assert f'<option value="{bay.id}">EV bay</option>' in fragment
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert 'hx-swap-oob="afterbegin:#cards-IN_PROGRESS"' in html
    assert "<dd>Mia Keller</dd>" in html and "<dd>EV bay</dd>" in html
    assert f"{work_order.code} reassigned by" in html
    row = await stored(runtime.db, shop.id, WorkOrder, work_order.id)
    assert (row.status, row.technician_id, row.bay_id, row.occupied_bay_id) == (
        "IN_PROGRESS",
        technician.actor.user_id,
        bay.id,
        bay.id,
    )


async def test_assigning_the_same_technician_and_bay_again_answers_the_card_as_is(client, factory, runtime):
    shop, _manager, token = await _staff(client, factory, role="workshop_manager")
    work_order = await shop.work_order(status="IN_PROGRESS")

    response = await client.post(
        url(work_order, "assign"),
        form={"technician_id": "", "bay_id": str(work_order.bay_id), "version": str(work_order.version)},
        headers={**HTMX, "X-CSRF-Token": token},
    )

    # Nothing to change: the card as it is, not a server error from reading the unchanged order.
    assert response.status_code == 200
    assert f'id="wo-{work_order.id}"' in await response.get_data(as_text=True)
    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).version == work_order.version


async def test_the_assign_form_is_a_page_of_its_own_without_javascript(client, factory):
    shop, _advisor, _token = await _staff(client, factory)
    work_order = await shop.work_order()
    other = await factory.tenant()
    theirs = await other.work_order()

    page = await client.get(url(work_order, "assign"))
    foreign = await client.get(url(theirs, "assign"))

    assert page.status_code == 200
    html = await page.get_data(as_text=True)
    assert f"<h1>Assign {work_order.code}</h1>" in html
    assert 'name="csrf_token"' in html
    assert foreign.status_code == 404


async def test_closing_from_the_board_takes_the_card_off_it(client, factory, runtime):
    shop, _advisor, token = await _staff(client, factory)
    work_order = await shop.work_order(status="READY")

    response = await client.post(
        url(work_order, "close"),
        form={"version": str(work_order.version)},
        headers={**HTMX, "X-CSRF-Token": token},
    )

    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert f'<div id="wo-{work_order.id}" hx-swap-oob="delete"></div>' in html
    assert "afterbegin:#cards-" not in html
    assert (await stored(runtime.db, shop.id, WorkOrder, work_order.id)).status == "CLOSED"


async def test_completing_from_the_board_announces_the_move(client, factory, runtime):
    """The completion's further events (invoice) would drown the sentence a screen reader says."""
    shop = await factory.tenant(country="CH")
    advisor = await shop.user("service_advisor", locale="en", name="Jonas Meier")
    token = await sign_in(client, advisor.email)
    work_order = await shop.work_order(status="QUALITY_CHECK")

    response = await client.post(
        url(work_order, "move"),
        form={"status": "READY", "version": str(work_order.version)},
        headers={**HTMX, "X-CSRF-Token": token},
    )

    assert response.status_code == 200
    assert f"{work_order.code} moved to Ready by Jonas Meier." in await response.get_data(as_text=True)
    async with runtime.db.read(shop.id) as session:
        assert (
            await session.scalar(select(WorkOrder.status).where(WorkOrder.id == work_order.id))
        ) == "READY"
