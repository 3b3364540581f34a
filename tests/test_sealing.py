"""Partner secrets at rest (ops/sealing.py): stored sealed, read back plain, opened by an earlier key
after a key change and sealed again under the new one, and never written without a key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import Text, select, type_coerce, update

from ops.db import Database
from ops.payments.queries import stripe_configured
from ops.payments.service import save_stripe_settings
from ops.runtime import Runtime
from ops.sealing import SEALED_PREFIX, SecretBox, reseal_stored_secrets, sealed_columns
from ops.tenants.models import Tenant
from ops.vehicles.telemetry.service import rotate_signing_secret
from ops.webhooks.models import WebhookEndpoint
from ops.webhooks.service import create_endpoint, rotate_secret
from tests.conftest import Backend
from tests.factories import TenantFactory
from tests.webhooks.helpers import LOCAL_POLICY

STRIPE_KEY = "sk_test_51SealedAtRestKey0000000000000000000"
STRIPE_WEBHOOK_SECRET = "whsec_sealed0000000000000000000000"
OLD_KEY = "the-key-this-server-had-last-year"
NEW_KEY = "the-key-this-server-has-now"


@asynccontextmanager
async def database(backend: Backend, keys: Sequence[str] = ()) -> AsyncIterator[Database]:
    """The test database opened with other keys than the app's, as another server would."""
    db = Database(backend.database_url, keys)
    try:
        yield db
    finally:
        await db.dispose()


async def stored(db: Database, model: type[Tenant | WebhookEndpoint], column: Any, row_id: int) -> str | None:
    """A sealed column's value as it sits in the database."""
    async with db.system() as session:
        return await session.scalar(select(type_coerce(column, Text())).where(model.id == row_id))


async def test_every_partner_secret_is_stored_sealed_and_read_back_plain(
    runtime: Runtime, factory: TenantFactory
) -> None:
    shop = await factory.tenant()
    async with shop.db.uow(shop.admin.actor) as uow:
        await save_stripe_settings(uow, STRIPE_KEY, STRIPE_WEBHOOK_SECRET)
    async with shop.db.uow(shop.admin.actor) as uow:
        telemetry_secret = await rotate_signing_secret(uow)
    async with shop.db.uow(shop.admin.actor) as uow:
        endpoint, first_secret = await create_endpoint(
            uow, "http://127.0.0.1:9/hook", ["*"], "Partner", policy=LOCAL_POLICY
        )
    async with shop.db.uow(shop.admin.actor) as uow:
        endpoint, second_secret = await rotate_secret(uow, endpoint.id)
    plaintexts = [STRIPE_KEY, STRIPE_WEBHOOK_SECRET, telemetry_secret, first_secret, second_secret]

    raw = {
        column.key: await stored(runtime.db, model, column, shop.id if model is Tenant else endpoint.id)
        for model, column in sealed_columns()
    }
    async with runtime.db.system() as session:
        tenant = (await session.execute(select(Tenant).where(Tenant.id == shop.id))).scalar_one()
        loaded = await session.get(WebhookEndpoint, endpoint.id)

    # Every sealed column of the schema was written here, and none holds its secret in the clear.
    assert sorted(raw) == [
        "previous_secret",
        "secret",
        "stripe_secret_key",
        "stripe_webhook_secret",
        "telemetry_signing_secret",
    ]
    for value in raw.values():
        assert value is not None and value.startswith(SEALED_PREFIX)
        assert not any(secret in value or secret[6:] in value for secret in plaintexts)
    assert len(set(raw.values())) == 5
    assert (tenant.stripe_secret_key, tenant.stripe_webhook_secret, tenant.telemetry_signing_secret) == (
        STRIPE_KEY,
        STRIPE_WEBHOOK_SECRET,
        telemetry_secret,
    )
    assert loaded is not None and (loaded.secret, loaded.previous_secret) == (second_secret, first_secret)


async def test_after_a_key_change_the_old_key_opens_and_resealing_moves_every_secret_to_the_new_one(
    backend: Backend, factory: TenantFactory
) -> None:
    shop = await factory.tenant()
    async with database(backend, [OLD_KEY]) as last_year:
        async with last_year.system(write=True) as session:
            await session.execute(
                update(Tenant).where(Tenant.id == shop.id).values(stripe_secret_key=STRIPE_KEY)
            )
            # Stored before sealing existed: in the clear.
            await session.execute(
                update(Tenant)
                .where(Tenant.id == shop.id)
                .values({type_coerce(Tenant.stripe_webhook_secret, Text()): STRIPE_WEBHOOK_SECRET})
            )
            await session.commit()
        sealed_last_year = await stored(last_year, Tenant, Tenant.stripe_secret_key, shop.id)

    async with database(backend, [NEW_KEY]) as only_the_new_key, only_the_new_key.system() as session:
        unopened = await session.get(Tenant, shop.id)
        assert unopened is not None and unopened.stripe_secret_key is None
        assert unopened.stripe_webhook_secret == STRIPE_WEBHOOK_SECRET
        assert not await stripe_configured(session, shop.id)

    async with database(backend, [NEW_KEY, OLD_KEY]) as both:
        async with both.system(write=True) as session:
            tenant = await session.get(Tenant, shop.id)
            assert tenant is not None and tenant.stripe_secret_key == STRIPE_KEY
            assert both.secret_box is not None
            written = await reseal_stored_secrets(session, both.secret_box)
            await session.commit()
        async with both.system(write=True) as session:
            assert await reseal_stored_secrets(session, both.secret_box) == 0

    async with database(backend, [NEW_KEY]) as after:
        async with after.system() as session:
            tenant = await session.get(Tenant, shop.id)
            assert tenant is not None
            assert (tenant.stripe_secret_key, tenant.stripe_webhook_secret) == (
                STRIPE_KEY,
                STRIPE_WEBHOOK_SECRET,
            )
        resealed = await stored(after, Tenant, Tenant.stripe_secret_key, shop.id)
        was_plain = await stored(after, Tenant, Tenant.stripe_webhook_secret, shop.id)
    # At least this tenant's two; other tests' rows sealed under the app's key are moved too.
    assert written >= 2
    assert resealed != sealed_last_year and resealed is not None and resealed.startswith(SEALED_PREFIX)
    assert was_plain is not None and was_plain.startswith(SEALED_PREFIX)


async def test_a_database_opened_without_the_key_refuses_to_store_a_secret(
    backend: Backend, runtime: Runtime, factory: TenantFactory
) -> None:
    shop = await factory.tenant()
    async with database(backend) as keyless, keyless.system(write=True) as session:
        with pytest.raises(Exception, match="without the server's secret key"):
            await session.execute(
                update(Tenant).where(Tenant.id == shop.id).values(stripe_secret_key=STRIPE_KEY)
            )
        await session.rollback()
    async with runtime.db.system() as session:
        assert not await stripe_configured(session, shop.id)


def test_a_sealed_value_differs_each_time_and_only_its_keys_open_it() -> None:
    box = SecretBox([NEW_KEY])
    first, second = box.seal(STRIPE_KEY), box.seal(STRIPE_KEY)

    assert first != second
    assert box.open(first) == box.open(second) == STRIPE_KEY
    assert SecretBox([OLD_KEY]).open(first) is None
    assert SecretBox([OLD_KEY, NEW_KEY]).open(first) == STRIPE_KEY
    assert box.is_current(first) and not SecretBox([OLD_KEY, NEW_KEY]).is_current(first)
    with pytest.raises(ValueError):
        SecretBox([""])
