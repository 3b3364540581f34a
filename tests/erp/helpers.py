"""ERP test helpers: adapters pointed at the local stand-ins, documents made by the real services, and
one worker pass driven by hand."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from integrations.erp import (
    DocLine,
    ErpDocument,
    PartnerDoc,
    PurchaseRequestCancellationDoc,
    PurchaseRequestDoc,
)
from integrations.erp.generic import GenericErp
from integrations.erp.odoo import OdooErp
from ops.db import Database, utcnow
from ops.erp.models import ErpSyncJob
from ops.erp.service import enqueue_from_events, run_due_jobs, schedule_parts_pulls
from ops.sales.models import Deal
from ops.workshop.models import Invoice, Part, PurchaseRequest
from ops.workshop.parts.service import cancel_purchase_request, request_purchase
from tests.erp.servers import ODOO_DB, ODOO_KEY, ODOO_LOGIN
from tests.factories import TenantHandle
from tests.sales.deals.helpers import make_deal
from tests.workshop.order_helpers import add_line, move, path_between
from tests.workshop.parts.stock import new_part

PULL_EVERY = timedelta(minutes=60)


def odoo_adapter(url: str, *, timeout: float = 2.0) -> OdooErp:
    """An Odoo adapter with a breaker of its own, so one test's outage never opens another's."""
    return OdooErp(
        url,
        database=ODOO_DB,
        login=ODOO_LOGIN,
        api_key=ODOO_KEY,
        timeout=timeout,
        breaker_name=f"erp-test-{secrets.token_hex(4)}",
    )


def generic_adapter(url: str, secret: str) -> GenericErp:
    return GenericErp(
        f"{url}/erp/documents",
        secret=secret,
        pull_url=f"{url}/erp/parts",
        timeout=2.0,
        breaker_name=f"erp-test-{secrets.token_hex(4)}",
    )


async def sync(db: Database, adapter: Any, now: datetime | None = None) -> None:
    """One worker pass, repeated until nothing due is left (other tests' jobs share the database)."""
    moment = now or utcnow()
    await enqueue_from_events(db, moment, grace_seconds=0)
    await schedule_parts_pulls(db, moment)
    while await run_due_jobs(db, adapter, moment, pull_every=PULL_EVERY):
        pass


async def deal_made(shop: TenantHandle) -> Deal:
    rep = await shop.user("sales_rep", locale="en")
    return await make_deal(shop, rep)


async def invoiced_work_order(shop: TenantHandle) -> Invoice:
    """A work order completed through the real lifecycle, which issues its invoice."""
    work_order = await shop.work_order(status="IN_PROGRESS")
    await add_line(
        shop, work_order, description="Brake pads front, fitted", quantity="1.5", unit_price="140.00"
    )
    await move(shop, work_order, *path_between(work_order.status, "READY"))
    async with shop.db.read(shop.id) as session:
        return (
            await session.execute(select(Invoice).where(Invoice.work_order_id == work_order.id))
        ).scalar_one()


async def purchase_requested(
    shop: TenantHandle, *, sku: str = "BRK-100", supplier: str | None = "Bosch", quantity: str = "6"
) -> tuple[Part, PurchaseRequest]:
    """A part at its reorder point (cost 40.00) and the reorder a workshop manager asked for."""
    part = await new_part(
        shop, sku=sku, name="Brake pads front", stock="1", reorder_point="3", supplier=supplier
    )
    manager = await shop.user("workshop_manager", locale="en")
    async with shop.db.uow(manager.actor) as uow:
        request = await request_purchase(uow, part.id, Decimal(quantity))
    return part, request


async def purchase_request_cancelled(
    shop: TenantHandle, part: Part, request: PurchaseRequest, reason: str = "Supplier discontinued the part"
) -> None:
    manager = await shop.user("workshop_manager", locale="en")
    async with shop.db.uow(manager.actor) as uow:
        await cancel_purchase_request(uow, part.id, request.id, reason)


async def jobs_of(db: Database, tenant_id: int, kind: str | None = None) -> list[ErpSyncJob]:
    async with db.read(tenant_id) as session:
        query = select(ErpSyncJob).order_by(ErpSyncJob.id)
        if kind is not None:
            query = query.where(ErpSyncJob.kind == kind)
        return list((await session.scalars(query)).all())


async def part_named(db: Database, tenant_id: int, part_id: int) -> Part:
    async with db.read(tenant_id) as session:
        return (await session.execute(select(Part).where(Part.id == part_id))).scalar_one()


def sample_order(reference: str = "garage/D-000007", sku: str = "WVWZZZ1JZXW000001") -> ErpDocument:
    """A sales order as the deals area would hand it over, for the adapter tests."""
    return ErpDocument(
        kind="sales_order",
        id="pitwall-garage-deal-7",
        reference=reference,
        number="D-000007",
        date="2026-11-22",
        currency="CHF",
        customer=PartnerDoc(
            reference="garage/C-000003", name="Anna Muster", email="anna@example.ch", country="CH"
        ),
        lines=[DocLine("VW Golf Life (2026), VIN " + sku, "1", "36900.00", sku=sku)],
        net="36900.00",
        vat="2988.90",
        total="39888.90",
    )


def sample_purchase_request(supplier: str = "Bosch AG") -> PurchaseRequestDoc:
    """A purchase request as the parts area would hand it over, for the adapter tests."""
    return PurchaseRequestDoc(
        kind="purchase_request",
        id="pitwall-garage-purchase-request-3",
        reference="garage/PR-000003",
        number="PR-000003",
        date="2026-11-24",
        currency="CHF",
        supplier=PartnerDoc(reference=f"garage/supplier/{supplier}", name=supplier, is_company=True),
        lines=[DocLine("Brake pads front", "6.00", "40.00", sku="BRK-100")],
    )


def sample_cancellation(erp_ref: str = "") -> PurchaseRequestCancellationDoc:
    """The cancellation of sample_purchase_request(), for the adapter tests."""
    return PurchaseRequestCancellationDoc(
        kind="purchase_request_cancellation",
        id="pitwall-garage-purchase-request-3-cancellation",
        reference="garage/PR-000003",
        number="PR-000003",
        date="2026-11-25",
        reason="Supplier discontinued the part",
        erp_ref=erp_ref,
    )
