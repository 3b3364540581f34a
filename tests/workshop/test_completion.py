"""Completing a job (the move to READY) is one transaction: parts consumed, vehicle odometer and last
service set, invoice created, events recorded; if any step fails, nothing changes."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from ops.auth.actor import RuleViolation
from ops.events import Event
from ops.tenants.models import Tenant
from ops.vehicles.models import Vehicle
from ops.workshop.models import Invoice, Part, StockMovement, WorkOrder, WorkOrderLine
from ops.workshop.parts.service import StockShortage
from ops.workshop.service import change_status, check_in_work_order, load_for_change
from tests.workshop.order_helpers import add_bay, add_line, add_part, move, snapshot, stored


async def _checked_in_at(shop, odometer_km: int, *, vehicle_km: int = 0):  # type: ignore[no-untyped-def]
    """A job checked in with `odometer_km`, on a car last read at `vehicle_km`, now in quality check."""
    work_order = await shop.work_order()
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(Vehicle).where(Vehicle.id == work_order.vehicle_id).values(odometer_km=vehicle_km)
        )
        await uow.commit()
    async with shop.db.uow(shop.admin.actor) as uow:
        work_order = await check_in_work_order(uow, work_order.id, odometer_km, work_order.version)
    return await move(shop, work_order, "IN_PROGRESS", "QUALITY_CHECK")


async def test_completion_consumes_parts_sets_the_vehicle_and_creates_the_invoice(runtime, factory):
    """The workshop would bill wrong amounts, lose track of stock, or forget when the car was serviced."""
    shop = await factory.tenant(country="CH")  # CHF, VAT 8.1 %
    pads = await add_part(shop, "BP-1", "Brake pads", on_hand="4")
    oil = await add_part(shop, "OIL-5W30", "Engine oil", on_hand="20", unit="l")
    wipers = await add_part(shop, "WB-2", "Wiper blades", on_hand="3")
    work_order = await _checked_in_at(shop, 52_340, vehicle_km=51_900)
    await add_line(
        shop, work_order, description="Replace front brake pads", quantity="1.5", unit_price="165.00"
    )
    await add_line(
        shop,
        work_order,
        kind="PART",
        description="Brake pads",
        part=pads,
        quantity="2",
        unit_price="12.35",
        reserved="2",
    )
    # Reserved only in part when added (stock was short then); the rest comes from the shelf now.
    await add_line(
        shop,
        work_order,
        kind="PART",
        description="Engine oil",
        part=oil,
        quantity="4.5",
        unit_price="7.45",
        reserved="3",
    )
    await add_line(
        shop,
        work_order,
        kind="PART",
        description="Wiper blades",
        part=wipers,
        quantity="1",
        unit_price="29.90",
        reserved="1",
        approval="DECLINED",
    )
    async with runtime.db.read(shop.id) as session:
        last_event = await session.scalar(select(func.max(Event.id)))

    await move(shop, work_order, "READY")

    async with runtime.db.read(shop.id) as session:
        parts = {p.sku: (p.on_hand, p.reserved) for p in await session.scalars(select(Part))}
        invoice = (await session.scalars(select(Invoice))).one()
        vehicle = await session.get_one(Vehicle, work_order.vehicle_id)
        order = await session.get_one(WorkOrder, work_order.id)
        lines = [line.reserved_quantity for line in await session.scalars(select(WorkOrderLine))]
        movements = sorted(
            (m.kind, m.part_id, m.on_hand_change, m.reserved_change)
            for m in await session.scalars(select(StockMovement).where(StockMovement.id > 0))
            if m.kind in ("CONSUME", "RELEASE")
        )
        events = list(await session.scalars(select(Event).order_by(Event.id)))
    # Consumed what the job used; the declined wipers went back to the shelf, unbilled.
    assert parts == {
        "BP-1": (Decimal("2"), Decimal("0")),
        "OIL-5W30": (Decimal("15.5"), Decimal("0")),
        "WB-2": (Decimal("3"), Decimal("0")),
    }
    assert movements == sorted(
        [
            ("CONSUME", pads.id, Decimal("-2"), Decimal("-2")),
            ("CONSUME", oil.id, Decimal("-4.5"), Decimal("-3")),
            ("RELEASE", wipers.id, Decimal("0"), Decimal("-1")),
        ]
    )
    assert lines == [0, 0, 0, 0]
    assert (vehicle.odometer_km, vehicle.last_service_on) == (
        52_340,
        datetime.now(ZoneInfo("Europe/Zurich")).date(),
    )
    assert order.status == "READY" and order.completed_at is not None
    assert (invoice.code, invoice.work_order_id, invoice.customer_id) == (
        "INV-000001",
        work_order.id,
        work_order.customer_id,
    )
    # 1.5 h x 165.00 = 247.50 (VAT 20.0475 -> 20.05); 2 x 12.35 = 24.70 (VAT 2.0007 -> 2.00);
    # 4.5 x 7.45 = 33.525 -> 33.53 (VAT 2.71593 -> 2.72): each line rounded half-up to the centime.
    assert (invoice.currency, invoice.vat_rate) == ("CHF", Decimal("8.10"))
    assert (invoice.labour_net, invoice.parts_net, invoice.net) == (
        Decimal("247.50"),
        Decimal("58.23"),
        Decimal("305.73"),
    )
    assert (invoice.vat, invoice.total) == (Decimal("24.77"), Decimal("330.50"))
    assert invoice.lines == [
        {
            "description": "Replace front brake pads",
            "kind": "LABOUR",
            "quantity": "1.50",
            "unit": "h",
            "unit_price": "165.00",
            "net": "247.50",
        },
        {
            "description": "Brake pads",
            "kind": "PART",
            "quantity": "2.00",
            "unit": "pc",
            "unit_price": "12.35",
            "net": "24.70",
        },
        {
            "description": "Engine oil",
            "kind": "PART",
            "quantity": "4.50",
            "unit": "l",
            "unit_price": "7.45",
            "net": "33.53",
        },
    ]
    completion = [e for e in events if e.id > last_event]
    assert [e.type for e in completion if e.type.startswith(("work_order.", "invoice."))] == [
        "work_order.moved",
        "work_order.completed",
        "invoice.created",
    ]
    completed = next(e for e in completion if e.type == "work_order.completed")
    assert completed.payload == {
        "id": work_order.id,
        "number": work_order.code,
        "invoice_id": invoice.id,
        "invoice_number": "INV-000001",
        "total": "330.50",
        "currency": "CHF",
    }
    assert all(f"wo:{work_order.id}" in e.topics for e in completion if e.type != "part.stock_changed")


async def test_invoices_are_numbered_in_order_per_dealership(runtime, factory):
    shop = await factory.tenant()
    other = await factory.tenant()
    await other.work_order(status="READY")

    first = await shop.work_order(status="READY")
    second = await shop.work_order(status="READY")

    async with runtime.db.read(shop.id) as session:
        numbers = dict((await session.execute(select(Invoice.work_order_id, Invoice.number))).all())
    assert numbers == {first.id: 1, second.id: 2}


async def test_completion_never_lowers_the_vehicles_odometer(runtime, factory):
    """A reading taken since check-in (telematics, another visit) would be rolled back by the invoice."""
    shop = await factory.tenant()
    work_order = await _checked_in_at(shop, 10_000)
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(Vehicle).where(Vehicle.id == work_order.vehicle_id).values(odometer_km=10_250)
        )
        await uow.commit()

    await move(shop, work_order, "READY")

    assert (await stored(runtime.db, shop.id, Vehicle, work_order.vehicle_id)).odometer_km == 10_250


async def test_a_shortage_at_completion_changes_nothing_and_names_the_part(runtime, factory):
    """A half-done completion would take stock for a job that has no invoice, or bill parts never taken."""
    shop = await factory.tenant()
    bay = await add_bay(shop)
    pads = await add_part(shop, "BP-1", "Brake pads", on_hand="4")
    filters = await add_part(shop, "OF-9", "Oil filter", on_hand="1")
    work_order = await _checked_in_at(shop, 30_000, vehicle_km=29_000)
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(WorkOrder).where(WorkOrder.id == work_order.id).values(bay_id=bay.id)
        )
        await uow.commit()
    work_order = await move(shop, work_order, "IN_PROGRESS", "QUALITY_CHECK")
    await add_line(shop, work_order, description="Service", quantity="2", unit_price="120.00")
    await add_line(shop, work_order, kind="PART", part=pads, quantity="2", reserved="2")
    # Another job holds the only filter: this one must not take it.
    await add_part_reservation(shop, filters, "1")
    await add_line(shop, work_order, kind="PART", part=filters, quantity="1", reserved="0")
    before = await snapshot(runtime.db, shop.id, work_order.id)

    try:
        await move(shop, work_order, "READY")
    except StockShortage as shortage:
        refused = shortage
    else:
        raise AssertionError("the completion went through without the filter")

    assert str(refused) == "Not enough OF-9 Oil filter in stock: 1 short."
    assert (refused.sku, refused.short_by) == ("OF-9", Decimal("1"))
    assert await snapshot(runtime.db, shop.id, work_order.id) == before
    assert before["order"][0] == "QUALITY_CHECK" and before["order"][3] == bay.id


async def add_part_reservation(shop, part: Part, quantity: str) -> None:  # type: ignore[no-untyped-def]
    """Another job's reservation of `part`."""
    other = await shop.work_order(status="CHECKED_IN")
    await add_line(shop, other, kind="PART", part=part, quantity=quantity, reserved=quantity)


async def test_two_completions_racing_for_the_last_unit_one_succeeds_the_other_is_told_which_part(
    runtime, factory
):
    """Both jobs would be invoiced with one physical part between them, and stock would go negative."""
    shop = await factory.tenant()
    first_tech, second_tech = await shop.user("technician"), await shop.user("technician")
    sensor = await add_part(shop, "ABS-7", "ABS sensor", on_hand="0")
    jobs = []
    for _ in range(2):
        job = await shop.work_order(status="QUALITY_CHECK")
        # Added while the shelf was empty: nothing reserved.
        await add_line(shop, job, kind="PART", part=sensor, quantity="1", reserved="0")
        jobs.append(job)
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(update(Part).where(Part.id == sensor.id).values(on_hand=Decimal("1")))
        await uow.commit()

    async def complete(job, technician):  # type: ignore[no-untyped-def]
        try:
            await move(shop, job, "READY", by=technician.actor)
            return None
        except RuleViolation as refused:
            return refused

    results = await asyncio.gather(complete(jobs[0], first_tech), complete(jobs[1], second_tech))

    assert results.count(None) == 1
    refusal = next(result for result in results if result is not None)
    assert isinstance(refusal, StockShortage)
    assert str(refusal) == "Not enough ABS-7 ABS sensor in stock: 1 short."
    winner, loser = (jobs[0], jobs[1]) if results[0] is None else (jobs[1], jobs[0])
    async with runtime.db.read(shop.id) as session:
        part = await session.get_one(Part, sensor.id)
        invoices = list(await session.scalars(select(Invoice.work_order_id)))
        statuses = {w.id: (await session.get_one(WorkOrder, w.id)).status for w in jobs}
    assert (part.on_hand, part.reserved) == (Decimal("0"), Decimal("0"))
    assert invoices == [winner.id]
    assert statuses == {winner.id: "READY", loser.id: "QUALITY_CHECK"}


async def test_a_completion_inside_another_use_case_rolls_back_with_it(runtime, factory):
    """Another area (the technician's screen) moving a job to READY in its own transaction gets the
    same completion, and a failure later in that transaction undoes all of it."""
    shop = await factory.tenant()
    work_order = await shop.work_order(status="QUALITY_CHECK")
    before = await snapshot(runtime.db, shop.id, work_order.id)

    try:
        async with runtime.db.uow(shop.admin.actor) as uow:
            loaded = await load_for_change(uow, work_order.id, "work_order.move", work_order.version)
            await change_status(uow, loaded, "READY")
            async with runtime.db.read(shop.id) as session:
                assert await session.scalar(select(Invoice.id)) is None, "visible before commit"
            raise RuntimeError("the caller fails after the completion")
    except RuntimeError:
        pass

    assert await snapshot(runtime.db, shop.id, work_order.id) == before


async def test_the_invoice_keeps_the_payment_terms_it_was_issued_with(runtime, factory):
    """A due date that moved with each later change of the terms would contradict the customer's paper."""
    shop = await factory.tenant()
    async with shop.db.system(write=True) as session:
        await session.execute(update(Tenant).where(Tenant.id == shop.id).values(payment_terms_days=10))
        await session.commit()
    work_order = await _checked_in_at(shop, 52_340)
    await add_line(
        shop, work_order, description="Replace front brake pads", quantity="1", unit_price="165.00"
    )

    await move(shop, work_order, "READY")
    async with shop.db.system(write=True) as session:
        await session.execute(update(Tenant).where(Tenant.id == shop.id).values(payment_terms_days=60))
        await session.commit()

    async with runtime.db.read(shop.id) as session:
        invoice = await session.scalar(select(Invoice).where(Invoice.work_order_id == work_order.id))
    assert invoice is not None and invoice.payment_terms_days == 10
