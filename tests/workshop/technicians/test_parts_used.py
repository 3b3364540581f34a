"""A technician marks the parts they fitted as used (and can take the mark back)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from ops.auth.actor import NotFound, RuleViolation
from ops.events import Event
from ops.workshop.jobs.service import add_labour_line
from ops.workshop.models import WorkOrderLine
from ops.workshop.technicians.service import mark_part_used
from tests.web import sign_in
from tests.workshop.technicians.helpers import assigned_job, estimate_sent, part_line


async def _line(shop, line_id: int) -> WorkOrderLine:  # type: ignore[no-untyped-def]
    async with shop.db.read(shop.id) as session:
        return (await session.execute(select(WorkOrderLine).where(WorkOrderLine.id == line_id))).scalar_one()


async def test_marking_a_part_used_and_back_records_each_change(factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")
    line = await part_line(shop, job)

    async with shop.db.uow(tech.actor) as uow:
        await mark_part_used(uow, line.id, True)
    assert (await _line(shop, line.id)).used is True
    # Marking it again changes nothing and says nothing.
    async with shop.db.uow(tech.actor) as uow:
        await mark_part_used(uow, line.id, True)
    async with shop.db.uow(tech.actor) as uow:
        await mark_part_used(uow, line.id, False)

    assert (await _line(shop, line.id)).used is False
    async with shop.db.read(shop.id) as session:
        events = (
            await session.scalars(
                select(Event).where(Event.type == "work_order.part_marked_used").order_by(Event.id)
            )
        ).all()
    assert [(e.payload["id"], e.payload["line_id"], e.payload["used"]) for e in events] == [
        (job.id, line.id, True),
        (job.id, line.id, False),
    ]
    assert events[0].topics == ["workshop", f"wo:{job.id}"]


async def test_labour_is_not_a_part_and_other_peoples_jobs_are_not_yours(factory):
    shop = await factory.tenant()
    tech = await shop.user("technician")
    other = await shop.user("technician")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")
    line = await part_line(shop, job)
    async with shop.db.uow(shop.admin.actor) as uow:
        labour = await add_labour_line(uow, job.id, "Replace pads", Decimal("1.5"))

    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(tech.actor) as uow:
            await mark_part_used(uow, labour.id, True)
    assert str(refused.value) == "Only parts can be marked as used."
    with pytest.raises(RuleViolation):
        async with shop.db.uow(other.actor) as uow:
            await mark_part_used(uow, line.id, True)
    assert (await _line(shop, line.id)).used is False


async def test_another_dealerships_line_is_not_found(client, factory):
    shop, other_shop = await factory.tenant(), await factory.tenant()
    tech = await shop.user("technician")
    foreign_job = await assigned_job(other_shop, None, status="IN_PROGRESS")
    foreign_line = await part_line(other_shop, foreign_job)

    with pytest.raises(NotFound):
        async with shop.db.uow(tech.actor) as uow:
            await mark_part_used(uow, foreign_line.id, True)
    token = await sign_in(client, tech.email)
    response = await client.post(
        f"/workshop/my-jobs/lines/{foreign_line.id}/used",
        form={"used": "1", "work_order_id": str(foreign_job.id)},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert response.status_code == 404
    assert (await _line(other_shop, foreign_line.id)).used is False


async def test_the_used_toggle_on_the_phone_flips_the_part(client, factory):
    shop = await factory.tenant()
    tech = await shop.user("technician", locale="en")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")
    line = await part_line(shop, job, name="Brake pads")
    token = await sign_in(client, tech.email)
    page = await (await client.get("/workshop/my-jobs")).get_data(as_text=True)
    assert f'id="used-{line.id}" aria-pressed="false"' in page

    response = await client.post(
        f"/workshop/my-jobs/lines/{line.id}/used",
        form={"used": "1", "work_order_id": str(job.id)},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )

    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert f'id="used-{line.id}" aria-pressed="true"' in html
    assert "Brake pads marked as used." in html
    assert (await _line(shop, line.id)).used is True


async def test_a_part_awaiting_the_customers_answer_cannot_be_marked_used(client, factory):
    """Fitted before the answer, a part the customer then declines is used and cannot be billed. A part
    the workshop added after the estimate went out (or on a job with no estimate) is its own work."""
    shop = await factory.tenant()
    tech = await shop.user("technician", locale="en")
    job = await assigned_job(shop, tech, status="IN_PROGRESS")
    pending = await part_line(shop, job, name="Wiper blades", approval="PENDING")
    approved = await part_line(shop, job, name="Brake pads")
    await estimate_sent(shop, job)
    not_asked = await part_line(shop, job, name="Oil filter", approval="PENDING")

    with pytest.raises(RuleViolation) as refused:
        async with shop.db.uow(tech.actor) as uow:
            await mark_part_used(uow, pending.id, True)
    assert str(refused.value) == (
        "Wiper blades is awaiting the customer's approval; fit it once they have approved it."
    )
    assert (await _line(shop, pending.id)).used is False

    # The phone offers the button only on the approved part, and a forged post is answered with why.
    token = await sign_in(client, tech.email)
    page = await (await client.get("/workshop/my-jobs")).get_data(as_text=True)
    assert f'id="used-{approved.id}"' in page and f'id="used-{not_asked.id}"' in page
    assert f'id="used-{pending.id}"' not in page
    response = await client.post(
        f"/workshop/my-jobs/lines/{pending.id}/used",
        form={"used": "1", "work_order_id": str(job.id)},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert response.status_code == 422
    assert "Wiper blades is awaiting the customer&#39;s approval" in await response.get_data(as_text=True)
    assert (await _line(shop, pending.id)).used is False
    async with shop.db.uow(tech.actor) as uow:
        await mark_part_used(uow, not_asked.id, True)
    assert (await _line(shop, not_asked.id)).used is True
