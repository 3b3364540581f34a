"""`/settings/payments`: an admin stores the Stripe keys, sees them masked and never in full again;
wrong-looking keys are refused with the field named; nobody else may open the page."""

from __future__ import annotations

from sqlalchemy import select

from ops.tenants.models import Tenant
from tests.payments.stripe_server import SECRET_KEY, WEBHOOK_SECRET
from tests.web import sign_in


async def test_an_admin_stores_the_keys_and_sees_them_masked(client, factory, runtime, stripe):
    shop = await factory.tenant()
    admin = await shop.user("admin", locale="en")
    csrf = await sign_in(client, admin.email)

    response = await client.post(
        "/settings/payments",
        form={"csrf_token": csrf, "secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET},
    )

    assert response.status_code == 302
    page = await (await client.get("/settings/payments")).get_data(as_text=True)
    assert SECRET_KEY not in page and WEBHOOK_SECRET not in page
    assert f"{SECRET_KEY[:8]}…{SECRET_KEY[-4:]}" in page
    assert f"/hooks/stripe/{shop.tenant.slug}" in page
    async with runtime.db.system() as session:
        tenant = (await session.execute(select(Tenant).where(Tenant.id == shop.id))).scalar_one()
    assert (tenant.stripe_secret_key, tenant.stripe_webhook_secret) == (SECRET_KEY, WEBHOOK_SECRET)


async def test_a_publishable_key_is_refused_with_the_field_named(client, factory, runtime, stripe):
    shop = await factory.tenant()
    admin = await shop.user("admin", locale="en")
    csrf = await sign_in(client, admin.email)

    response = await client.post("/settings/payments", form={"csrf_token": csrf, "secret_key": "pk_test_123"})

    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    assert 'id="stripe-secret_key-error"' in page and "starts with sk_" in page
    assert "pk_test_123" not in page


async def test_only_an_admin_may_open_the_payment_settings(app, factory, runtime, stripe):
    shop = await factory.tenant()
    for role in ("sales_manager", "workshop_manager", "viewer"):
        user = await shop.user(role, locale="en")
        desk = app.test_client()
        csrf = await sign_in(desk, user.email)
        assert (await desk.get("/settings/payments")).status_code == 403
        saved = await desk.post("/settings/payments", form={"csrf_token": csrf, "secret_key": SECRET_KEY})
        assert saved.status_code == 403
