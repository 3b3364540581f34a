"""Each resource of the partner API end to end: lists with their page figures, reads, writes and the
errors a partner's integration must be able to rely on."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from ops.customers.models import Customer
from tests.api.helpers import call, issue_token
from tests.factories import european_vin
from tests.workshop.order_helpers import add_bay


async def test_lists_page_by_20_unless_asked_and_at_most_100(factory, client):
    """A partner syncing customers walks the pages by the meta figures."""
    tenant = await factory.tenant()
    token = await issue_token(tenant)
    async with tenant.db.uow(tenant.admin.actor) as uow:
        for number in range(45):
            uow.session.add(Customer(first_name="Page", last_name=f"Person{number:02d}"))
        await uow.commit()

    status, body, _ = await call(client, "GET", "/api/v1/customers", token)
    assert status == 200
    assert body["meta"] == {"total": 45, "page": 1, "pageSize": 20, "totalPages": 3}
    assert len(body["data"]) == 20
    _, last, _ = await call(client, "GET", "/api/v1/customers?page=3", token)
    assert len(last["data"]) == 5 and last["meta"]["page"] == 3
    _, big, _ = await call(client, "GET", "/api/v1/customers?pageSize=100", token)
    assert len(big["data"]) == 45 and big["meta"]["totalPages"] == 1
    seen = {
        row["id"]
        for page in (1, 2, 3)
        for row in (await call(client, "GET", f"/api/v1/customers?page={page}", token))[1]["data"]
    }
    assert len(seen) == 45

    for query, field in (("pageSize=101", "pageSize"), ("pageSize=0", "pageSize"), ("page=abc", "page")):
        status, body, _ = await call(client, "GET", f"/api/v1/customers?{query}", token)
        assert status == 422 and body["details"][0]["field"] == field


async def test_customers_search_create_update_and_version_conflict(factory, client):
    tenant = await factory.tenant()
    token = await issue_token(tenant)

    status, created, _ = await call(
        client,
        "POST",
        "/api/v1/customers",
        token,
        {
            "first_name": "Anna",
            "last_name": "Meier",
            "email": "Anna@Example.ch",
            "phone": "044 123 45 67",
            "budget_max": "45000.00",
        },
    )
    assert status == 201
    assert created["email"] == "anna@example.ch" and created["phone"] == "+41441234567"
    assert created["budget_max"] == "45000.00" and created["version"] == 1

    _, found, _ = await call(client, "GET", "/api/v1/customers?q=meier", token)
    assert [row["id"] for row in found["data"]] == [created["id"]]
    _, none, _ = await call(client, "GET", "/api/v1/customers?q=nobody", token)
    assert none["data"] == [] and none["meta"]["total"] == 0

    status, updated, _ = await call(
        client, "PATCH", f"/api/v1/customers/{created['id']}", token, {"version": 1, "city": "Winterthur"}
    )
    assert status == 200 and updated["city"] == "Winterthur" and updated["version"] == 2
    assert updated["email"] == "anna@example.ch", "fields not sent stay as they were"

    status, body, _ = await call(
        client, "PATCH", f"/api/v1/customers/{created['id']}", token, {"version": 1, "city": "Basel"}
    )
    assert status == 409 and body["code"] == "conflict"
    _, current, _ = await call(client, "GET", f"/api/v1/customers/{created['id']}", token)
    assert current["city"] == "Winterthur"


async def test_bad_customer_input_names_the_fields_and_writes_nothing(factory, client):
    tenant = await factory.tenant()
    token = await issue_token(tenant)

    status, body, _ = await call(
        client, "POST", "/api/v1/customers", token, {"first_name": "", "colour": "red"}
    )
    assert status == 422 and body["code"] == "validation_failed"
    assert {"first_name", "last_name", "colour"} <= {d["field"] for d in body["details"]}
    status, body, _ = await call(
        client,
        "POST",
        "/api/v1/customers",
        token,
        {"first_name": "A", "last_name": "B", "email": "not-an-email"},
    )
    assert status == 422 and body["details"][0]["field"] == "email"
    status, body, _ = await call(client, "POST", "/api/v1/customers", token, ["not", "an", "object"])
    assert status == 422 and body["details"][0]["field"] == "body"
    async with tenant.db.read(tenant.id) as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 0


async def test_leads_capture_list_and_move_by_the_pipeline_rules(factory, client):
    tenant = await factory.tenant()
    token = await issue_token(tenant)
    _, customer, _ = await call(
        client, "POST", "/api/v1/customers", token, {"first_name": "Lia", "last_name": "Frei"}
    )

    status, lead, _ = await call(
        client,
        "POST",
        "/api/v1/leads",
        token,
        {"customer_id": customer["id"], "source": "WEB", "interest_note": "An estate car", "budget": "30000"},
    )
    assert status == 201 and lead["stage"] == "NEW" and lead["budget"] == "30000.00"
    _, listed, _ = await call(client, "GET", "/api/v1/leads?stage=NEW", token)
    assert [row["id"] for row in listed["data"]] == [lead["id"]]
    _, other_stage, _ = await call(client, "GET", "/api/v1/leads?stage=WON", token)
    assert other_stage["data"] == []

    status, moved, _ = await call(
        client,
        "POST",
        f"/api/v1/leads/{lead['id']}/move",
        token,
        {"stage": "CONTACTED", "version": lead["version"]},
    )
    assert status == 200 and moved["stage"] == "CONTACTED"
    status, body, _ = await call(
        client,
        "POST",
        f"/api/v1/leads/{lead['id']}/move",
        token,
        {"stage": "QUALIFIED", "version": lead["version"]},
    )
    assert status == 409
    status, body, _ = await call(
        client,
        "POST",
        f"/api/v1/leads/{lead['id']}/move",
        token,
        {"stage": "WON", "version": moved["version"]},
    )
    assert status == 422 and body["details"][0]["field"] == "stage"
    status, body, _ = await call(
        client, "POST", "/api/v1/leads", token, {"customer_id": 999999, "source": "WEB", "interest_note": "x"}
    )
    assert status == 422 and "customer_id" in {d["field"] for d in body["details"]}
    status, _, _ = await call(client, "GET", "/api/v1/leads?stage=SOMEWHERE", token)
    assert status == 422


async def test_stock_units_list_and_get_without_the_dealers_cost(factory, client):
    """A listing site sees price and status of each unit, never what the dealership paid."""
    tenant = await factory.tenant()
    token = await issue_token(tenant, ["stock:read"])
    available = await tenant.stock_unit(list_price="36900.00")
    await tenant.stock_unit(status="SOLD")

    _, listed, _ = await call(client, "GET", "/api/v1/stock-units?status=AVAILABLE", token)
    assert [row["id"] for row in listed["data"]] == [available.id]
    status, unit, _ = await call(client, "GET", f"/api/v1/stock-units/{available.id}", token)
    assert status == 200
    assert unit["list_price"] == "36900.00" and unit["make"] == "Skoda" and "cost" not in unit
    assert (await call(client, "GET", "/api/v1/stock-units/999999", token))[0] == 404


async def test_vehicles_register_list_and_get(factory, client):
    tenant = await factory.tenant()
    token = await issue_token(tenant)
    vin = european_vin()

    status, vehicle, _ = await call(
        client,
        "POST",
        "/api/v1/vehicles",
        token,
        {"vin": vin, "make": "VW", "model": "Golf", "year": 2021, "plate": "zh 1234"},
    )
    assert status == 201 and vehicle["vin"] == vin and vehicle["plate"] == "ZH 1234"
    _, listed, _ = await call(client, "GET", f"/api/v1/vehicles?q={vin[-6:]}", token)
    assert [row["id"] for row in listed["data"]] == [vehicle["id"]]
    assert (await call(client, "GET", f"/api/v1/vehicles/{vehicle['id']}", token))[1]["model"] == "Golf"

    status, body, _ = await call(
        client, "POST", "/api/v1/vehicles", token, {"vin": vin, "make": "VW", "model": "Golf", "year": 2021}
    )
    assert status == 422 and body["details"][0]["field"] == "vin"


async def test_work_orders_open_list_and_move_with_the_version(factory, client):
    """A fleet partner books a job and moves it; a stale version is a 409, never an overwrite."""
    tenant = await factory.tenant()
    token = await issue_token(tenant)
    vehicle = await tenant.vehicle()

    status, opened, _ = await call(
        client,
        "POST",
        "/api/v1/work-orders",
        token,
        {"vehicle_id": vehicle.id, "complaint": "Oil change", "priority": "HIGH"},
    )
    assert status == 201 and opened["status"] == "NEW" and opened["number"].startswith("WO-")
    _, listed, _ = await call(client, "GET", "/api/v1/work-orders?status=NEW", token)
    assert opened["id"] in [row["id"] for row in listed["data"]]

    status, moved, _ = await call(
        client,
        "POST",
        f"/api/v1/work-orders/{opened['id']}/move",
        token,
        {"status": "CANCELLED", "version": opened["version"]},
    )
    assert status == 200 and moved["status"] == "CANCELLED" and moved["version"] == opened["version"] + 1
    status, body, _ = await call(
        client,
        "POST",
        f"/api/v1/work-orders/{opened['id']}/move",
        token,
        {"status": "NEW", "version": opened["version"]},
    )
    assert status == 409 and body["code"] == "conflict"
    status, body, _ = await call(
        client, "POST", "/api/v1/work-orders", token, {"vehicle_id": 999999, "complaint": "x"}
    )
    assert status == 422 and body["details"][0]["field"] == "vehicle_id"


async def test_a_partner_imports_a_historic_work_order_with_its_promised_time(factory, client):
    """The ERP brings over last year's jobs as they were; refusing their past promises would lose them.
    Only staff forms, where a promise is being made, refuse a time already past."""
    tenant = await factory.tenant()
    token = await issue_token(tenant)
    vehicle = await tenant.vehicle()

    status, opened, _ = await call(
        client,
        "POST",
        "/api/v1/work-orders",
        token,
        {"vehicle_id": vehicle.id, "complaint": "Brakes", "promised_at": "2025-03-14T16:00:00+00:00"},
    )

    assert status == 201
    assert opened["promised_at"].startswith("2025-03-14T16:00:00")


async def test_a_partner_opens_a_work_order_on_a_free_bay_and_a_taken_one_is_refused(factory, client):
    """A fleet partner books the job onto the bay it agreed with the workshop; a bay another job is in
    would keep the car out of work, and is refused with the field named and nothing written."""
    tenant = await factory.tenant()
    token = await issue_token(tenant)
    vehicle = await tenant.vehicle()
    lift = await add_bay(tenant, "Lift 1")
    holder = await tenant.work_order(status="IN_PROGRESS")

    status, opened, _ = await call(
        client,
        "POST",
        "/api/v1/work-orders",
        token,
        {"vehicle_id": vehicle.id, "complaint": "Tyres", "bay_id": lift.id},
    )
    assert status == 201 and opened["bay_id"] == lift.id and opened["status"] == "NEW"
    _, read, _ = await call(client, "GET", f"/api/v1/work-orders/{holder.id}", token)
    assert read["bay_id"] == holder.bay_id

    for bay_id, message in (
        (holder.bay_id, f"is taken by {holder.code}"),
        (999_999_999, "Choose one of the bays."),
        ((await add_bay(await factory.tenant(), "Their lift")).id, "Choose one of the bays."),
    ):
        status, body, _ = await call(
            client,
            "POST",
            "/api/v1/work-orders",
            token,
            {"vehicle_id": vehicle.id, "complaint": "x", "bay_id": bay_id},
        )
        assert status == 422 and body["details"][0]["field"] == "bay_id"
        assert message in body["details"][0]["message"]
    status, body, _ = await call(
        client,
        "POST",
        "/api/v1/work-orders",
        token,
        {"vehicle_id": vehicle.id, "complaint": "x", "bay_id": 0},
    )
    assert status == 422 and body["details"][0]["field"] == "bay_id"
    _, listed, _ = await call(client, "GET", "/api/v1/work-orders", token)
    assert sorted(row["id"] for row in listed["data"]) == sorted([opened["id"], holder.id])


async def test_a_partner_puts_a_job_into_work_on_a_free_bay_in_one_move(factory, client):
    """A job without a bay cannot go into work; the partner names the bay with the move, and a bay
    another job is in refuses both, with the field named and the job as it was."""
    tenant = await factory.tenant()
    token = await issue_token(tenant)
    lift = await add_bay(tenant, "Lift 1")
    holder = await tenant.work_order(status="IN_PROGRESS")
    job = await tenant.work_order(status="CHECKED_IN")
    path = f"/api/v1/work-orders/{job.id}/move"

    into_work = {"status": "IN_PROGRESS", "version": job.version}
    status, body, _ = await call(client, "POST", path, token, into_work)
    assert status == 422 and body["details"][0]["field"] == "bay_id"
    status, body, _ = await call(client, "POST", path, token, {**into_work, "bay_id": holder.bay_id})
    assert status == 422 and body["details"][0]["field"] == "bay_id"
    assert f"is taken by {holder.code}" in body["details"][0]["message"]
    _, unchanged, _ = await call(client, "GET", f"/api/v1/work-orders/{job.id}", token)
    assert (unchanged["status"], unchanged["bay_id"]) == ("CHECKED_IN", None)
    assert unchanged["version"] == job.version

    status, moved, _ = await call(client, "POST", path, token, {**into_work, "bay_id": lift.id})
    assert status == 200
    assert (moved["status"], moved["bay_id"], moved["version"]) == ("IN_PROGRESS", lift.id, job.version + 1)


async def test_two_partners_moving_one_work_order_at_once_end_with_one_move(factory, client):
    """Two systems move the same job with the version they read: one wins, the other gets 409."""
    tenant = await factory.tenant()
    first, second = await issue_token(tenant), await issue_token(tenant)
    work_order = await tenant.work_order()
    path = f"/api/v1/work-orders/{work_order.id}/move"

    results = await asyncio.gather(
        call(client, "POST", path, first, {"status": "CANCELLED", "version": work_order.version}),
        call(client, "POST", path, second, {"status": "CANCELLED", "version": work_order.version}),
    )

    assert sorted(status for status, _, _ in results) == [200, 409]
    _, current, _ = await call(client, "GET", f"/api/v1/work-orders/{work_order.id}", first)
    winner = next(body for status, body, _ in results if status == 200)
    assert current["status"] == winner["status"] and current["version"] == work_order.version + 1
