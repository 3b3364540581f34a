"""A job with lines waiting for the customer, the estimate sent, and the link read from its mail."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select, update

from ops.customers.models import Customer
from ops.db import Database
from ops.events import Event
from ops.mail.models import OutgoingMail
from ops.workshop.estimates.service import EstimateLinks, send_estimate
from ops.workshop.jobs.service import add_labour_line, add_part_line
from ops.workshop.models import Part, WorkOrder, WorkOrderHistory, WorkOrderLine
from tests.factories import TenantHandle, UserHandle
from tests.workshop.jobs.helpers import stocked_part

SECRET = "test-secret-key-not-for-production"
BASE_URL = "http://pitwall.test"
LINK = re.compile(r"http://pitwall\.test/estimate/([A-Za-z0-9_.\-]+)")


@dataclass
class QuotedJob:
    shop: TenantHandle
    advisor: UserHandle
    work_order: WorkOrder
    labour: WorkOrderLine
    part_line: WorkOrderLine
    part: Part

    @property
    def id(self) -> int:
        return self.work_order.id


async def quoted_job(
    shop: TenantHandle,
    *,
    language: str = "en",
    email: str | None = "keep",
    status: str = "IN_PROGRESS",
    first_name: str = "Anna",
) -> QuotedJob:
    """An order in `status` with a labour line (1.5 h at the tenant rate) and a part line (2 x 45.00,
    reserved), both awaiting the customer; the customer reads `language`."""
    advisor = shop.users.get("service_advisor") or await shop.user("service_advisor", locale="en")
    work_order = await shop.work_order(status=status)
    async with shop.db.uow(shop.admin.actor) as uow:
        values: dict[str, object] = {"preferred_language": language, "first_name": first_name}
        if email != "keep":
            values["email"] = email
        await uow.session.execute(
            update(Customer).where(Customer.id == work_order.customer_id).values(**values)
        )
        await uow.commit()
    part = await stocked_part(shop, on_hand="10", price="45.00", name="Brake pad set")
    async with shop.db.uow(advisor.actor) as uow:
        labour = await add_labour_line(uow, work_order.id, "Replace front brake pads", Decimal("1.5"))
    async with shop.db.uow(advisor.actor) as uow:
        part_line = await add_part_line(uow, work_order.id, part.id, Decimal("2"))
    return QuotedJob(shop, advisor, await reload(shop.db, shop.id, work_order.id), labour, part_line, part)


async def send(job: QuotedJob) -> str:
    """Send the estimate as the advisor; returns the token of the link in the queued mail."""
    async with job.shop.db.uow(job.advisor.actor) as uow:
        job.work_order = await send_estimate(
            uow, job.id, job.work_order.version, links=EstimateLinks(SECRET, BASE_URL)
        )
    mail = await last_mail(job.shop.db, job.shop.id)
    match = LINK.search(mail.text)
    assert match, mail.text
    return match.group(1)


async def reload(db: Database, tenant_id: int, work_order_id: int) -> WorkOrder:
    async with db.read(tenant_id) as session:
        return (await session.execute(select(WorkOrder).where(WorkOrder.id == work_order_id))).scalar_one()


async def last_mail(db: Database, tenant_id: int) -> OutgoingMail:
    async with db.read(tenant_id) as session:
        return (
            await session.execute(select(OutgoingMail).order_by(OutgoingMail.id.desc()).limit(1))
        ).scalar_one()


async def mail_count(db: Database, tenant_id: int) -> int:
    """Mails about work orders: the users' welcome mails are not the estimate's business."""
    async with db.read(tenant_id) as session:
        about_work_orders = (
            select(func.count()).select_from(OutgoingMail).where(OutgoingMail.work_order_id.is_not(None))
        )
        return int(await session.scalar(about_work_orders) or 0)


async def events_of(db: Database, tenant_id: int, type_: str) -> list[Event]:
    async with db.read(tenant_id) as session:
        return list(
            (await session.scalars(select(Event).where(Event.type == type_).order_by(Event.id))).all()
        )


async def history_of(db: Database, tenant_id: int, work_order_id: int) -> list[tuple[str | None, str, str]]:
    async with db.read(tenant_id) as session:
        rows = await session.scalars(
            select(WorkOrderHistory)
            .where(WorkOrderHistory.work_order_id == work_order_id)
            .order_by(WorkOrderHistory.id)
        )
        return [(row.from_status, row.to_status, row.actor_name) for row in rows]


async def snapshot(db: Database, tenant_id: int, job: QuotedJob) -> tuple[object, ...]:
    """Everything a decision changes: the order, its lines, the part's stock, the events."""
    async with db.read(tenant_id) as session:
        order = (await session.execute(select(WorkOrder).where(WorkOrder.id == job.id))).scalar_one()
        lines = (
            await session.execute(
                select(
                    WorkOrderLine.id,
                    WorkOrderLine.approval,
                    WorkOrderLine.decided_at,
                    WorkOrderLine.reserved_quantity,
                )
                .where(WorkOrderLine.work_order_id == job.id)
                .order_by(WorkOrderLine.id)
            )
        ).all()
        part = (
            await session.execute(select(Part.on_hand, Part.reserved).where(Part.id == job.part.id))
        ).one()
        events = await session.scalar(select(func.count()).select_from(Event))
    return (order.status, order.version, [tuple(line) for line in lines], tuple(part), events)
