"""The demo seed on both backends: a Swiss dealership someone can sign in to and find a busy board."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import func, select

from ops.auth.models import User
from ops.customers.models import Customer
from ops.events import Event
from ops.seed import DEMO_PASSWORD, seed_demo
from ops.tenants.models import Tenant
from ops.vehicles.models import Vehicle
from ops.workshop.models import WorkOrder
from ops.workshop.service import OPEN_STATUSES
from tests.web import sign_in

# The contract of issue 2: one account per role, all with the same demo password.
DEMO_ACCOUNTS = {
    "admin@demo.test": "admin",
    "sales.manager@demo.test": "sales_manager",
    "sales@demo.test": "sales_rep",
    "advisor@demo.test": "service_advisor",
    "workshop.manager@demo.test": "workshop_manager",
    "tech@demo.test": "technician",
    "viewer@demo.test": "viewer",
}
SWISS_PLATE = re.compile(r"(ZH|AG|SZ|ZG|LU|SG|BE) \d{5,6}")
VIN_VALUES = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit_is_valid(vin: str) -> bool:
    """ISO 3779 / North American check digit at position 9, as a VIN decoder would verify it."""
    if len(vin) != 17 or any(char not in VIN_VALUES for char in vin):
        return False
    remainder = sum(VIN_VALUES[char] * weight for char, weight in zip(vin, VIN_WEIGHTS, strict=True)) % 11
    return vin[8] == ("X" if remainder == 10 else str(remainder))


async def _demo(runtime) -> Tenant:  # type: ignore[no-untyped-def]
    tenant, _created = await seed_demo(runtime.db)
    return tenant


async def _table_sizes(db, tenant_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with db.read(tenant_id) as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (User, Customer, Vehicle, WorkOrder, Event)
        }


async def test_the_demo_is_a_swiss_dealership(runtime):
    tenant = await _demo(runtime)

    assert (tenant.slug, tenant.country, tenant.currency, tenant.timezone, tenant.locale) == (
        "demo",
        "CH",
        "CHF",
        "Europe/Zurich",
        "de_CH",
    )
    assert (tenant.distance_unit, tenant.fuel_unit, tenant.vat_rate) == ("km", "liters", Decimal("8.1"))


async def test_every_demo_account_exists_with_its_role(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        roles = {email: role for email, role in await session.execute(select(User.email, User.role))}

    assert {email: roles.get(email) for email in DEMO_ACCOUNTS} == DEMO_ACCOUNTS


async def test_the_service_advisor_signs_in_and_finds_a_busy_board(runtime, client):
    await _demo(runtime)

    await sign_in(client, "advisor@demo.test", DEMO_PASSWORD)
    html = await (await client.get("/workshop/board")).get_data(as_text=True)

    cards = re.findall(r'id="wo-\d+"', html)
    assert len(cards) == 28  # 30 work orders, 2 of them closed
    assert "WO-000001" in html


async def test_forty_vehicles_each_with_a_customer_a_swiss_plate_and_a_valid_vin(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        rows = (
            await session.execute(
                select(Vehicle.vin, Vehicle.plate, Customer.last_name).join(
                    Customer, Customer.id == Vehicle.customer_id
                )
            )
        ).all()

    assert len(rows) == 40
    assert len({vin for vin, _plate, _name in rows}) == 40
    assert [vin for vin, _plate, _name in rows if not vin_check_digit_is_valid(vin)] == []
    assert [plate for _vin, plate, _name in rows if not SWISS_PLATE.fullmatch(plate or "")] == []


async def test_thirty_work_orders_cover_every_column_of_the_board(runtime):
    tenant = await _demo(runtime)

    async with runtime.db.read(tenant.id) as session:
        orders = (await session.execute(select(WorkOrder.number, WorkOrder.status))).all()
        moves = await session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "work_order.moved")
        )

    assert sorted(number for number, _status in orders) == list(range(1, 31))
    statuses = [status for _number, status in orders]
    assert {status: statuses.count(status) > 0 for status in OPEN_STATUSES} == dict.fromkeys(
        OPEN_STATUSES, True
    )
    assert statuses.count("CLOSED") == 2
    # The demo's history was made through the real moves, so its audit trail is real too.
    assert (moves or 0) > 30


async def test_seeding_twice_changes_nothing(runtime):
    tenant = await _demo(runtime)
    before = await _table_sizes(runtime.db, tenant.id)

    again, created = await seed_demo(runtime.db)

    assert (again.id, created) == (tenant.id, False)
    assert await _table_sizes(runtime.db, tenant.id) == before
    async with runtime.db.system() as session:
        assert (
            await session.scalar(select(func.count()).select_from(Tenant).where(Tenant.slug == "demo")) == 1
        )
