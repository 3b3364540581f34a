"""The vehicle-ready mail: when a job reaches READY, its customer learns in their language that the car
can be collected, in the completion's own transaction, once, and only if they may be mailed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from integrations.mail.smtp import SmtpMailer
from ops.auth.actor import Conflict, RuleViolation
from ops.customers.models import Customer
from ops.db import utcnow
from ops.mail.models import OutgoingMail
from ops.tenants.models import Tenant
from ops.workshop.models import WorkOrder
from ops.workshop.parts.service import StockShortage
from ops.workshop.service import move_work_order
from tests.factories import TenantHandle
from tests.mail.helpers import deliver_all
from tests.mail.smtp import SmtpServer, text_of
from tests.workshop.order_helpers import add_line, add_part, move, stored


async def _in_quality_check(shop: TenantHandle, **customer: Any) -> WorkOrder:
    """A job with one labour line waiting for its quality check; `customer` columns are set first."""
    work_order = await shop.work_order(status="QUALITY_CHECK")
    if customer:
        async with shop.db.uow(shop.admin.actor) as uow:
            await uow.session.execute(
                update(Customer).where(Customer.id == work_order.customer_id).values(**customer)
            )
            await uow.commit()
    await add_line(shop, work_order, description="Brake service", quantity="2", unit_price="150.00")
    return work_order


async def _ready_mails(shop: TenantHandle, work_order_id: int) -> list[OutgoingMail]:
    async with shop.db.read(shop.id) as session:
        rows = await session.scalars(
            select(OutgoingMail).where(OutgoingMail.work_order_id == work_order_id).order_by(OutgoingMail.id)
        )
        return list(rows.all())


async def test_the_customer_reads_in_german_that_the_car_is_ready_with_the_invoice_total(factory):
    shop = await factory.tenant(country="CH")  # CHF, VAT 8.1 %
    work_order = await _in_quality_check(shop, preferred_language="de")

    await move(shop, work_order, "READY")

    [mail] = await _ready_mails(shop, work_order.id)
    assert work_order.customer_id is not None
    customer = await stored(shop.db, shop.id, Customer, work_order.customer_id)
    assert mail.recipient == customer.email
    assert mail.language == "de"
    assert mail.subject == f"Ihr Skoda Octavia ist bei {shop.tenant.name} abholbereit"
    assert mail.text.startswith("Guten Tag Anna Muster")
    # 2 h at 150.00 plus 8.1 % VAT, as the invoice says (Swiss formats: CHF, a no-break space, 324.30).
    assert "CHF\xa0324.30" in mail.text and "INV-" in mail.text
    assert work_order.code in mail.text
    assert '<html lang="de">' in (mail.html or "")


@pytest.mark.parametrize(
    ("language", "subject_start", "greeting"),
    [
        ("fr", "Votre véhicule Skoda Octavia est prêt", "Bonjour Anna Muster,"),
        ("it", "Il suo veicolo Skoda Octavia è pronto", "Buongiorno Anna Muster,"),
        ("en", "Your Skoda Octavia is ready for collection", "Hello Anna Muster,"),
    ],
)
async def test_french_italian_and_english_customers_read_it_in_their_language(
    factory, language: str, subject_start: str, greeting: str
):
    shop = await factory.tenant(country="CH")
    work_order = await _in_quality_check(shop, preferred_language=language)

    await move(shop, work_order, "READY")

    [mail] = await _ready_mails(shop, work_order.id)
    assert mail.language == language
    assert mail.subject.startswith(subject_start)
    assert mail.text.startswith(greeting)


@pytest.mark.parametrize(
    "customer",
    [
        {"email": None},
        {"email": "not an address"},
        {"do_not_contact": True},
        {"erased_at": datetime(2030, 1, 1, tzinfo=UTC)},
    ],
    ids=["no email", "bad email", "do not contact", "erased"],
)
async def test_no_mail_to_a_customer_who_cannot_or_may_not_be_mailed(factory, customer: dict[str, Any]):
    shop = await factory.tenant()
    work_order = await _in_quality_check(shop, **customer)

    await move(shop, work_order, "READY")

    assert (await stored(shop.db, shop.id, WorkOrder, work_order.id)).status == "READY"
    assert await _ready_mails(shop, work_order.id) == []


async def test_no_mail_when_the_dealership_switched_email_notifications_off(factory):
    shop = await factory.tenant()
    async with shop.db.system(write=True) as session:
        await session.execute(update(Tenant).where(Tenant.id == shop.id).values(email_notifications=False))
        await session.commit()
    work_order = await _in_quality_check(shop)

    await move(shop, work_order, "READY")

    assert await _ready_mails(shop, work_order.id) == []


async def test_one_mail_per_job_however_often_it_is_moved_to_ready(factory):
    shop = await factory.tenant()
    work_order = await _in_quality_check(shop)

    async def to_ready() -> Any:
        async with shop.db.uow(shop.admin.actor) as uow:
            return await move_work_order(uow, work_order.id, "READY", work_order.version)

    # Two people press "Ready" at once: one completes the job, the other is told it changed.
    results = await asyncio.gather(to_ready(), to_ready(), return_exceptions=True)
    assert sorted(type(result).__name__ for result in results) == ["Conflict", "WorkOrder"]
    # Pressed again later, and on to CLOSED: no second mail.
    ready = await stored(shop.db, shop.id, WorkOrder, work_order.id)
    with pytest.raises(RuleViolation):
        async with shop.db.uow(shop.admin.actor) as uow:
            await move_work_order(uow, work_order.id, "READY", ready.version)
    await move(shop, ready, "CLOSED")

    assert len(await _ready_mails(shop, work_order.id)) == 1
    assert isinstance(next(r for r in results if isinstance(r, Exception)), Conflict)


async def test_a_completion_that_fails_queues_no_mail(factory):
    shop = await factory.tenant()
    work_order = await _in_quality_check(shop)
    oil = await add_part(shop, "OIL", "Engine oil", on_hand="1", unit="l")
    await add_line(shop, work_order, kind="PART", description="Engine oil", part=oil, quantity="5")

    with pytest.raises(StockShortage):
        await move(shop, work_order, "READY")

    assert await _ready_mails(shop, work_order.id) == []


async def test_the_mail_reaches_the_smtp_server(factory, runtime, smtp_server: SmtpServer):
    shop = await factory.tenant(country="CH")
    work_order = await _in_quality_check(shop, preferred_language="de")
    await move(shop, work_order, "READY")
    [mail] = await _ready_mails(shop, work_order.id)

    await deliver_all(runtime.db, SmtpMailer.from_url(smtp_server.url), utcnow())

    [message] = [m for m in smtp_server.inbox.messages if m["To"] == mail.recipient]
    assert message["Subject"] == mail.subject
    assert message["Content-Language"] == "de"
    assert "324.30" in text_of(message, "plain")
    assert "324.30" in text_of(message, "html")
