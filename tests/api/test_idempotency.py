"""Idempotency-Key on POST: a partner's retry after a lost answer never creates a second record."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select, update

from ops.api.models import IdempotencyRecord
from ops.api.service import purge_expired_keys
from ops.customers.models import Customer
from ops.db import utcnow
from ops.workshop.models import WorkOrder
from tests.api.helpers import call, issue_token


async def _count(tenant, model) -> int:  # type: ignore[no-untyped-def]
    async with tenant.db.read(tenant.id) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_retry_with_the_same_key_gets_the_first_answer_and_writes_nothing(factory, client):
    tenant = await factory.tenant()
    token = await issue_token(tenant)
    body = {"first_name": "Retry", "last_name": "Once", "email": "retry@example.ch"}

    first = await call(client, "POST", "/api/v1/customers", token, body, **{"Idempotency-Key": "order-17"})
    again = await call(client, "POST", "/api/v1/customers", token, body, **{"Idempotency-Key": "order-17"})

    assert first[0] == again[0] == 201
    assert first[1] == again[1]
    assert again[2]["Idempotent-Replayed"] == "true"
    assert await _count(tenant, Customer) == 1


async def test_an_error_answer_is_replayed_too(factory, client):
    """A refused request retried with its key is refused the same way, not run again."""
    tenant = await factory.tenant()
    token = await issue_token(tenant)
    body = {"first_name": "Bad", "last_name": "Mail", "email": "nope"}

    first = await call(client, "POST", "/api/v1/customers", token, body, **{"Idempotency-Key": "k-bad"})
    again = await call(client, "POST", "/api/v1/customers", token, body, **{"Idempotency-Key": "k-bad"})
    assert first[0] == again[0] == 422 and first[1] == again[1]


async def test_the_same_key_with_another_body_is_refused(factory, client):
    tenant = await factory.tenant()
    token = await issue_token(tenant)

    await call(
        client,
        "POST",
        "/api/v1/customers",
        token,
        {"first_name": "A", "last_name": "One"},
        **{"Idempotency-Key": "k1"},
    )
    status, body, _ = await call(
        client,
        "POST",
        "/api/v1/customers",
        token,
        {"first_name": "A", "last_name": "Two"},
        **{"Idempotency-Key": "k1"},
    )
    assert status == 422 and body["code"] == "idempotency_key_reused"
    assert body["details"][0]["field"] == "Idempotency-Key"
    assert await _count(tenant, Customer) == 1


async def test_keys_belong_to_one_token(factory, client):
    """Two partners that happen to pick the same key each get their own record."""
    tenant = await factory.tenant()
    first_token, second_token = await issue_token(tenant), await issue_token(tenant)
    body = {"first_name": "Same", "last_name": "Key"}

    assert (await call(client, "POST", "/api/v1/customers", first_token, body, **{"Idempotency-Key": "1"}))[
        0
    ] == 201
    assert (await call(client, "POST", "/api/v1/customers", second_token, body, **{"Idempotency-Key": "1"}))[
        0
    ] == 201
    assert await _count(tenant, Customer) == 2


async def test_concurrent_duplicates_run_once(factory, client):
    """Eight copies of one request at the same moment: exactly one work order is opened; the others
    get its answer or are told it is in progress."""
    tenant = await factory.tenant()
    token = await issue_token(tenant)
    vehicle = await tenant.vehicle()
    body = {"vehicle_id": vehicle.id, "complaint": "Noise from the front axle"}

    results = await asyncio.gather(
        *(
            call(client, "POST", "/api/v1/work-orders", token, body, **{"Idempotency-Key": "wo-1"})
            for _ in range(8)
        )
    )

    statuses = sorted(status for status, _, _ in results)
    assert set(statuses) <= {201, 409}, statuses
    created = {result[1]["id"] for result in results if result[0] == 201}
    assert len(created) == 1
    assert all(result[1]["code"] == "idempotency_in_progress" for result in results if result[0] == 409)
    assert await _count(tenant, WorkOrder) == 1


async def test_keys_expire_after_24_hours(factory, client, runtime):
    """After a day the key is free again and the worker purges the old answers."""
    tenant = await factory.tenant()
    token = await issue_token(tenant)
    body = {"first_name": "Day", "last_name": "Old"}
    await call(client, "POST", "/api/v1/customers", token, body, **{"Idempotency-Key": "daily"})

    async with runtime.db.system(write=True) as session:
        await session.execute(update(IdempotencyRecord).values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    status, _, headers = await call(
        client, "POST", "/api/v1/customers", token, body, **{"Idempotency-Key": "daily"}
    )
    assert status == 201 and "Idempotent-Replayed" not in headers
    assert await _count(tenant, Customer) == 2

    async with runtime.db.system(write=True) as session:
        await session.execute(update(IdempotencyRecord).values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    assert await purge_expired_keys(runtime.db) >= 1
    assert await _count(tenant, IdempotencyRecord) == 0


async def test_a_key_that_is_too_long_is_refused(factory, client):
    tenant = await factory.tenant()
    token = await issue_token(tenant)
    status, body, _ = await call(
        client,
        "POST",
        "/api/v1/customers",
        token,
        {"first_name": "A", "last_name": "B"},
        **{"Idempotency-Key": "x" * 256},
    )
    assert status == 422 and body["details"][0]["field"] == "Idempotency-Key"
    assert await _count(tenant, Customer) == 0
