"""CSRF: another site cannot make a signed-in browser change anything; every page carries the token."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from ops.events import Event
from ops.workshop.models import WorkOrder
from tests.factories import PASSWORD
from tests.web import csrf_from, sign_in

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
EXPIRED = "This form has expired. Reload the page and try again."
# Partner endpoints authenticate by signature or API token, not by the browser's cookie.
EXEMPT_PREFIXES = ("/hooks/", "/api/")
NOT_PAGES = ("/static/", "/live", "/ws", "/healthz", "/readyz", "/metrics")


def _state_changing_paths(app, object_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    paths = []
    for rule in app.url_map.iter_rules():
        if rule.websocket or rule.rule.startswith(EXEMPT_PREFIXES):
            continue
        path = re.sub(r"<int:[^>]+>", str(object_id), rule.rule)
        path = re.sub(r"<[^>]+>", "x", path)
        paths.extend((method, path) for method in sorted(rule.methods & STATE_CHANGING))
    return paths


async def _counts(db, tenant_id: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        work_orders = await session.scalar(select(func.count()).select_from(WorkOrder))
        events = await session.scalar(select(func.count()).select_from(Event))
    return work_orders or 0, events or 0


async def test_every_state_changing_route_refuses_a_request_without_a_valid_token(
    app, client, factory, runtime
):
    shop = await factory.tenant()
    work_order = await shop.work_order()
    await sign_in(client, shop.admin.email)
    before = await _counts(runtime.db, shop.id)
    routes = _state_changing_paths(app, work_order.id)
    assert ("POST", "/logout") in routes
    assert ("POST", f"/workshop/work-orders/{work_order.id}/move") in routes

    refused = []
    for method, path in routes:
        missing = await client.open(path, method=method, form={"status": "SCHEDULED", "version": "1"})
        forged = await client.open(
            path,
            method=method,
            form={"status": "SCHEDULED", "version": "1", "csrf_token": "0" * 64},
            headers={"X-CSRF-Token": "0" * 64},
        )
        refused.append((method, path, missing.status_code, forged.status_code))

    assert [entry for entry in refused if entry[2:] != (403, 403)] == []
    assert await _counts(runtime.db, shop.id) == before
    # Still signed in: the refused sign-out did not sign anyone out.
    assert (await client.get("/workshop/board")).status_code == 200


async def test_a_move_with_a_token_from_another_browser_is_refused_and_changes_nothing(
    app, client, factory, runtime
):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order()
    await sign_in(client, advisor.email)
    attacker = app.test_client()
    attackers_token = await sign_in(attacker, (await shop.user("service_advisor")).email)

    response = await client.post(
        f"/workshop/work-orders/{work_order.id}/move",
        form={"status": "SCHEDULED", "version": str(work_order.version)},
        headers={"HX-Request": "true", "X-CSRF-Token": attackers_token},
    )

    assert response.status_code == 403
    assert EXPIRED in await response.get_data(as_text=True)
    async with runtime.db.read(shop.id) as session:
        stored = await session.get_one(WorkOrder, work_order.id)
    assert (stored.status, stored.version) == ("NEW", work_order.version)


async def test_the_token_is_accepted_from_the_htmx_header_and_from_the_form_field(client, factory, runtime):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    first, second = await shop.work_order(), await shop.work_order()
    token = await sign_in(client, advisor.email)

    by_header = await client.post(
        f"/workshop/work-orders/{first.id}/move",
        form={"status": "SCHEDULED", "version": str(first.version)},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    by_field = await client.post(
        f"/workshop/work-orders/{second.id}/move",
        form={"status": "SCHEDULED", "version": str(second.version), "csrf_token": token},
    )

    assert by_header.status_code == 200
    assert by_field.status_code == 303
    async with runtime.db.read(shop.id) as session:
        statuses = {wo.id: wo.status for wo in await session.scalars(select(WorkOrder))}
    assert statuses[first.id] == statuses[second.id] == "SCHEDULED"


async def test_creating_a_work_order_without_a_token_creates_nothing(client, factory, runtime):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    vehicle = await shop.vehicle()
    await sign_in(client, advisor.email)
    before = await _counts(runtime.db, shop.id)

    response = await client.post(
        "/workshop/work-orders", form={"vehicle_id": str(vehicle.id), "complaint": "Brakes squeal"}
    )

    assert response.status_code == 403
    assert await _counts(runtime.db, shop.id) == before


async def test_another_site_cannot_sign_a_browser_in_to_its_own_account(client, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")

    response = await client.post("/login", form={"email": advisor.email, "password": PASSWORD})

    assert response.status_code == 403
    assert (await client.get("/workshop/board")).status_code == 302


async def test_a_token_from_before_sign_in_stops_working_after_sign_in(client, factory):
    shop = await factory.tenant()
    advisor = await shop.user("service_advisor")
    page = await client.get("/login")
    anonymous_token = csrf_from(await page.get_data(as_text=True))
    await sign_in(client, advisor.email)

    response = await client.post("/logout", form={"csrf_token": anonymous_token})

    assert response.status_code == 403
    assert (await client.get("/workshop/board")).status_code == 200


async def test_every_page_carries_the_csrf_token_that_its_forms_need(app, client, factory):
    shop = await factory.tenant()
    await shop.work_order()
    login_page = await client.get("/login")
    assert csrf_from(await login_page.get_data(as_text=True))
    token = await sign_in(client, shop.admin.email)
    pages = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods
        and not rule.websocket
        and not rule.arguments
        and not rule.rule.startswith(NOT_PAGES + EXEMPT_PREFIXES)
    ]
    assert "/workshop/board" in pages
    pages.append("/no-such-page")  # error pages too

    missing = []
    for path in pages:
        response = await client.get(path, follow_redirects=True)
        html = await response.get_data(as_text=True)
        if f'<meta name="csrf-token" content="{token}">' not in html:
            missing.append((path, response.status_code))

    assert missing == []
