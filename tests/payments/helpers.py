"""Helpers for the payments tests: a dealership with Stripe set up, webhooks posted as Stripe posts
them, and rows read back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ops.db import Database
from ops.events import Event
from ops.payments.models import Payment, PaymentRefund, ProviderEvent
from ops.payments.service import save_stripe_settings
from tests.factories import TenantHandle
from tests.payments.stripe_server import SECRET_KEY, WEBHOOK_SECRET, body_of, signature_header


async def with_stripe(
    shop: TenantHandle, secret_key: str = SECRET_KEY, webhook_secret: str = WEBHOOK_SECRET
) -> None:
    async with shop.db.uow(shop.admin.actor) as uow:
        tenant = await save_stripe_settings(uow, secret_key, webhook_secret)
    shop.tenant.stripe_secret_key = tenant.stripe_secret_key
    shop.tenant.stripe_webhook_secret = tenant.stripe_webhook_secret


async def post_event(client, slug: str, event: dict[str, Any], secret: str = WEBHOOK_SECRET, **sign: Any):  # type: ignore[no-untyped-def]
    body = body_of(event)
    return await client.post(
        f"/hooks/stripe/{slug}",
        data=body,
        headers={
            "Stripe-Signature": signature_header(body, secret, **sign),
            "Content-Type": "application/json",
        },
    )


async def rows(db: Database, tenant_id: int, model: type, *conditions: Any) -> list[Any]:
    async with db.read(tenant_id) as session:
        return list((await session.scalars(select(model).where(*conditions).order_by(model.id))).all())


async def payments_of(db: Database, tenant_id: int) -> list[Payment]:
    return await rows(db, tenant_id, Payment)


async def refunds_of(db: Database, tenant_id: int) -> list[PaymentRefund]:
    return await rows(db, tenant_id, PaymentRefund)


async def provider_events(db: Database, tenant_id: int) -> list[ProviderEvent]:
    return await rows(db, tenant_id, ProviderEvent)


async def events_of(db: Database, tenant_id: int, *types: str) -> list[Event]:
    return await rows(db, tenant_id, Event, Event.type.in_(types))
