"""A line the customer has answered stays as answered: its hours and quantity cannot change afterwards,
so the invoice never bills more than the customer approved."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from ops.auth.actor import RuleViolation
from ops.workshop.estimates.service import EstimateLinks, decide_estimate
from ops.workshop.jobs.service import change_line_quantity
from ops.workshop.models import Invoice
from ops.workshop.service import move_work_order
from tests.web import sign_in
from tests.workshop.estimates.helpers import SECRET, QuotedJob, quoted_job, reload, send
from tests.workshop.jobs.helpers import lines_of

HTMX = {"HX-Request": "true"}


async def _answered(shop) -> QuotedJob:  # type: ignore[no-untyped-def]
    """The customer approved the labour (1.5 h) and declined the part."""
    job = await quoted_job(shop)
    token = await send(job)
    decisions = {job.labour.id: "APPROVED", job.part_line.id: "DECLINED"}
    await decide_estimate(shop.db, token, decisions, links=EstimateLinks(SECRET))
    return job


@pytest.mark.parametrize("line", ["labour", "part_line"])
async def test_an_answered_line_keeps_its_figures(factory, runtime, line):
    shop = await factory.tenant()
    job = await _answered(shop)
    line_id = getattr(job, line).id

    with pytest.raises(RuleViolation, match="The customer has answered the estimate for") as refused:
        async with runtime.db.uow(job.advisor.actor) as uow:
            await change_line_quantity(uow, line_id, Decimal("3"))

    assert refused.value.field == "quantity"
    stored = {row.id: (row.quantity, row.approval) for row in await lines_of(runtime.db, shop.id, job.id)}
    assert stored[job.labour.id] == (Decimal("1.50"), "APPROVED")
    assert stored[job.part_line.id] == (Decimal("2"), "DECLINED")


async def test_the_invoice_bills_what_the_customer_approved(factory, runtime):
    shop = await factory.tenant()
    job = await _answered(shop)
    with pytest.raises(RuleViolation):
        async with runtime.db.uow(job.advisor.actor) as uow:
            await change_line_quantity(uow, job.labour.id, Decimal("3"))

    for status in ("QUALITY_CHECK", "READY"):
        async with runtime.db.uow(job.advisor.actor) as uow:
            await move_work_order(uow, job.id, status, (await reload(runtime.db, shop.id, job.id)).version)

    async with runtime.db.read(shop.id) as session:
        invoice = (await session.execute(select(Invoice).where(Invoice.work_order_id == job.id))).scalar_one()
    # 1.5 h at 165.00: the approved labour; the declined part is not billed.
    assert invoice.net == Decimal("247.50")


async def test_the_page_offers_no_quantity_field_for_an_answered_line_and_names_the_refusal(
    client, factory, runtime
):
    shop = await factory.tenant()
    job = await _answered(shop)
    token = await sign_in(client, job.advisor.email)
    page = await (await client.get(f"/workshop/work-orders/{job.id}")).get_data(as_text=True)
    assert f'id="quantity-{job.labour.id}"' not in page
    assert f'id="quantity-{job.part_line.id}"' not in page

    # A page loaded before the customer answered still posts the old form.
    refused = await client.post(
        f"/workshop/work-orders/{job.id}/lines/{job.labour.id}/quantity",
        form={"quantity": "3"},
        headers={**HTMX, "X-CSRF-Token": token},
    )

    assert refused.status_code == 422
    html = await refused.get_data(as_text=True)
    assert f'id="line-{job.labour.id}-quantity-error">The customer has answered the estimate for' in html
    [stored] = [line for line in await lines_of(runtime.db, shop.id, job.id) if line.id == job.labour.id]
    assert stored.quantity == Decimal("1.50")
