"""Invoices written straight into the table, with the totals completion would compute.

Pages and KPIs read invoices; how they come about (completion) is tested with the work-order
lifecycle. Building them here keeps these tests about what is shown and computed from them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from ops.db import utcnow
from ops.money import PricedLine, line_net, totals
from ops.workshop.models import Invoice, WorkOrder
from tests.factories import TenantHandle

# kind, description, quantity, unit price
Line = tuple[str, str, str, str]


async def make_invoice(
    shop: TenantHandle,
    work_order: WorkOrder,
    lines: list[Line],
    *,
    issued_at: datetime | None = None,
    payment_terms_days: int = 30,
) -> Invoice:
    currency, vat_rate = shop.tenant.currency, shop.tenant.vat_rate
    priced = [PricedLine(kind, Decimal(qty), Decimal(price)) for kind, _desc, qty, price in lines]
    sums = totals(priced, vat_rate, currency)
    async with shop.db.uow(shop.admin.actor) as uow:
        number = (await uow.session.scalar(select(func.max(Invoice.number))) or 0) + 1
        invoice = Invoice(
            number=number,
            work_order_id=work_order.id,
            customer_id=work_order.customer_id,
            currency=currency,
            lines=[
                {
                    "description": description,
                    "kind": kind,
                    "quantity": qty,
                    "unit_price": price,
                    "net": str(line_net(Decimal(qty), Decimal(price), currency)),
                }
                for kind, description, qty, price in lines
            ],
            labour_net=sums.labour,
            parts_net=sums.parts,
            net=sums.net,
            vat_rate=vat_rate,
            vat=sums.vat,
            total=sums.total,
            issued_at=issued_at or utcnow(),
            payment_terms_days=payment_terms_days,
        )
        uow.session.add(invoice)
        await uow.commit()
    return invoice
