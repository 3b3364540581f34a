"""Partner API test helpers: a token with chosen scopes, and requests that carry it."""

from __future__ import annotations

from typing import Any

from ops.auth.service import API_SCOPES, create_api_token
from tests.factories import TenantHandle

ALL_SCOPES = list(API_SCOPES)


async def issue_token(tenant: TenantHandle, scopes: list[str] | None = None, name: str = "Partner") -> str:
    """A working token of the tenant with these scopes (all of them by default)."""
    async with tenant.db.uow(tenant.admin.actor) as uow:
        issued = await create_api_token(uow, name=name, scopes=scopes if scopes is not None else ALL_SCOPES)
    return issued.raw


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


async def call(client, method: str, path: str, token: str | None, body: Any = None, **headers: str):  # type: ignore[no-untyped-def]
    """One API request through the Quart test client; returns (status, JSON body, headers)."""
    sent = bearer(token, **headers) if token else dict(headers)
    response = await client.open(path, method=method, headers=sent, json=body)
    return response.status_code, await response.get_json(), response.headers
