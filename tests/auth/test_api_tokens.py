"""Partner API tokens: issued once, stored hashed, scoped, revocable, tied to an active tenant."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ops.auth.actor import PermissionDenied, RuleViolation
from ops.auth.models import ApiToken
from ops.auth.service import (
    actor_for_api_token,
    create_api_token,
    list_api_tokens,
    revoke_api_token,
)
from ops.db import utcnow
from ops.tenants.models import Tenant
from tests.web import sign_in


async def _issue(tenant, name="ERP connector", scopes=("customers:write", "stock:read")):  # type: ignore[no-untyped-def]
    async with tenant.db.uow(tenant.admin.actor) as uow:
        return await create_api_token(uow, name=name, scopes=list(scopes))


async def test_a_token_is_shown_once_and_only_its_hash_is_stored(factory, runtime):
    """A stolen database dump must not hand out working partner tokens."""
    tenant = await factory.tenant()
    issued = await _issue(tenant)

    assert issued.raw.startswith("pw_") and len(issued.raw) > 40
    async with runtime.db.read(tenant.id) as session:
        row = (await session.scalars(select(ApiToken))).one()
    assert row.token_hash == hashlib.sha256(issued.raw.encode()).hexdigest()
    assert issued.raw not in (row.token_hash, row.prefix)
    assert issued.raw.startswith(row.prefix)
    listed = await list_api_tokens(runtime.db, tenant.admin.actor)
    assert [t.name for t in listed] == ["ERP connector"]


async def test_a_token_acts_as_a_partner_with_its_scopes_and_write_implies_read(factory, runtime):
    """The partner can read what it may write, and nothing outside its scopes."""
    tenant = await factory.tenant()
    issued = await _issue(tenant)

    actor = await actor_for_api_token(runtime.db, issued.raw)

    assert actor is not None
    assert (actor.kind, actor.role, actor.tenant_id, actor.user_id) == ("partner", "partner", tenant.id, None)
    assert actor.name == "ERP connector"
    assert actor.can("customer.edit") and actor.can("customer.view") and actor.can("stock.view")
    assert not actor.can("stock.manage") and not actor.can("lead.view")


async def test_unknown_revoked_and_suspended_tenants_tokens_do_not_work(factory, runtime):
    """A revoked token, or any token of a suspended dealership, is refused at once."""
    tenant = await factory.tenant()
    issued = await _issue(tenant)
    other = await _issue(tenant, name="Website")

    assert await actor_for_api_token(runtime.db, "pw_" + "x" * 43) is None
    assert await actor_for_api_token(runtime.db, "not-a-token") is None
    async with runtime.db.uow(tenant.admin.actor) as uow:
        await revoke_api_token(uow, issued.token.id)
    assert await actor_for_api_token(runtime.db, issued.raw) is None
    assert await actor_for_api_token(runtime.db, other.raw) is not None

    async with runtime.db.system(write=True) as session:
        await session.execute(update(Tenant).where(Tenant.id == tenant.id).values(status="SUSPENDED"))
        await session.commit()
    assert await actor_for_api_token(runtime.db, other.raw) is None


async def test_last_used_is_written_at_most_once_a_minute(factory, runtime):
    """The settings page shows when a token was last used, without a write per API request."""
    tenant = await factory.tenant()
    issued = await _issue(tenant)

    await actor_for_api_token(runtime.db, issued.raw)
    async with runtime.db.read(tenant.id) as session:
        first = await session.scalar(select(ApiToken.last_used_at))
    assert first is not None and utcnow() - first < timedelta(seconds=5)

    await actor_for_api_token(runtime.db, issued.raw)
    async with runtime.db.read(tenant.id) as session:
        assert await session.scalar(select(ApiToken.last_used_at)) == first

    async with runtime.db.system(write=True) as session:
        await session.execute(update(ApiToken).values(last_used_at=first - timedelta(minutes=2)))
        await session.commit()
    await actor_for_api_token(runtime.db, issued.raw)
    async with runtime.db.read(tenant.id) as session:
        assert await session.scalar(select(ApiToken.last_used_at)) > first


async def test_only_an_admin_issues_tokens_and_input_is_checked(factory):
    """A sales rep cannot mint a partner token; a nameless or unknown-scope token is refused."""
    tenant = await factory.tenant()
    rep = await tenant.user("sales_rep")
    with pytest.raises(PermissionDenied):
        async with tenant.db.uow(rep.actor) as uow:
            await create_api_token(uow, name="Mine", scopes=["customers:read"])
    with pytest.raises(RuleViolation) as error:
        await _issue(tenant, name="  ")
    assert error.value.field == "name"
    with pytest.raises(RuleViolation) as error:
        await _issue(tenant, scopes=["customers:delete"])
    assert error.value.field == "scopes"
    with pytest.raises(RuleViolation) as error:
        await _issue(tenant, scopes=[])
    assert error.value.field == "scopes"


# --- The settings page -------------------------------------------------------------------------------


async def test_the_admin_creates_a_token_on_the_settings_page_and_sees_it_once(factory, client, runtime):
    """The raw token is on the answer to the form and nowhere after; the list shows its prefix."""
    tenant = await factory.tenant(country="US")
    csrf = await sign_in(client, tenant.admin.email)

    empty = await client.get("/settings/api-tokens")
    assert empty.status_code == 200
    assert "No tokens yet" in await empty.get_data(as_text=True)

    response = await client.post(
        "/settings/api-tokens",
        form={
            "csrf_token": csrf,
            "name": "Odoo connector",
            "customers": "write",
            "stock": "read",
            "leads": "",
        },
    )
    html = await response.get_data(as_text=True)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    raw = re.search(r'id="issued-token"[^>]*value="(pw_[^"]+)"', html)
    assert raw is not None

    again = await (await client.get("/settings/api-tokens")).get_data(as_text=True)
    assert raw.group(1) not in again
    assert raw.group(1)[:10] in again and "Odoo connector" in again and "Never" in again
    actor = await actor_for_api_token(runtime.db, raw.group(1))
    assert actor is not None and actor.scopes == {"customers:write", "customers:read", "stock:read"}
    used = await (await client.get("/settings/api-tokens")).get_data(as_text=True)
    assert "Never" not in used


async def test_a_nameless_token_is_refused_with_the_field_marked(factory, client):
    tenant = await factory.tenant(country="US")
    csrf = await sign_in(client, tenant.admin.email)

    response = await client.post(
        "/settings/api-tokens", form={"csrf_token": csrf, "name": "", "customers": "read"}
    )
    html = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="token-name-error"' in html and "Nothing was saved" in html
    response = await client.post("/settings/api-tokens", form={"csrf_token": csrf, "name": "Nothing"})
    assert response.status_code == 422
    assert 'id="token-scopes-error"' in await response.get_data(as_text=True)


async def test_revoking_on_the_page_stops_the_token(factory, client, runtime):
    tenant = await factory.tenant(country="US")
    issued = await _issue(tenant)
    csrf = await sign_in(client, tenant.admin.email)

    response = await client.post(f"/settings/api-tokens/{issued.token.id}/revoke", form={"csrf_token": csrf})
    assert response.status_code == 303
    assert await actor_for_api_token(runtime.db, issued.raw) is None
    html = await (await client.get("/settings/api-tokens")).get_data(as_text=True)
    assert "Revoked" in html


async def test_only_admins_reach_the_page_and_other_tenants_tokens_are_404(factory, client):
    """A sales rep gets 403; an admin of another dealership cannot revoke this one's token."""
    tenant, other = await factory.tenant(country="US"), await factory.tenant(country="US")
    issued = await _issue(tenant)
    rep = await tenant.user("sales_rep")

    await sign_in(client, rep.email)
    assert (await client.get("/settings/api-tokens")).status_code == 403

    other_client = client.app.test_client()
    csrf = await sign_in(other_client, other.admin.email)
    response = await other_client.post(
        f"/settings/api-tokens/{issued.token.id}/revoke", form={"csrf_token": csrf}
    )
    assert response.status_code == 404
