"""A generic ERP bridge for SAP and other middleware: our documents as signed JSON.

Pushes are `POST <url>` with the body `{"type", "timestamp", "data"}` signed with the Standard Webhooks
scheme; `webhook-id` is the document's stable id, so a middleware that dedupes on it processes a
retried push once (that makes the retry safe). A cancelled purchase request is a document of its own,
`erp.purchase_request_cancellation`, naming the request's `reference` (and the ERP's `erp_ref` when
known). The answer may name the ERP's record as
`{"reference": "..."}`. Part levels come from `GET <pull_url>?sku=...` as a JSON list of
`{"sku", "on_hand", "price", "cost"}`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import httpx
from standardwebhooks.webhooks import Webhook

from integrations.erp import (
    ERP_BREAKER,
    ErpDocument,
    ErpRejected,
    PartLevel,
    PurchaseRequestCancellationDoc,
    PurchaseRequestDoc,
)
from integrations.erp.transport import exchange, retried
from integrations.resilience import breaker


class GenericErp:
    """An ErpAdapter that speaks signed JSON to a configurable endpoint."""

    name = "generic"

    def __init__(
        self,
        url: str,
        *,
        secret: str,
        pull_url: str | None = None,
        timeout: float = 10.0,
        breaker_name: str = ERP_BREAKER,
    ) -> None:
        self.url = url
        self.pull_url = pull_url
        self.signer = Webhook(secret)
        self.breaker = breaker(breaker_name)
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def push_sales_order(self, document: ErpDocument) -> str:
        return await self._push(document)

    async def push_invoice(self, document: ErpDocument) -> str:
        return await self._push(document)

    async def push_purchase_request(self, document: PurchaseRequestDoc) -> str:
        return await self._push(document)

    async def cancel_purchase_request(self, document: PurchaseRequestCancellationDoc) -> str:
        return await self._push(document)

    async def pull_parts(self, skus: list[str] | None) -> list[PartLevel]:
        if self.pull_url is None:
            raise ErpRejected("no pull address is configured for the ERP (PITWALL_ERP_PULL_URL)")
        if skus == []:
            return []
        params = httpx.QueryParams([("sku", sku) for sku in skus] if skus is not None else [])
        pull_url = self.pull_url

        async def fetch() -> httpx.Response:
            return await self._exchange(lambda: self._client.get(pull_url, params=params))

        response = await retried("ERP", fetch)
        try:
            rows = response.json()
            return [
                PartLevel(
                    sku=str(row["sku"]),
                    on_hand=Decimal(str(row["on_hand"])),
                    price=Decimal(str(row["price"])),
                    cost=Decimal(str(row["cost"])),
                )
                for row in rows
            ]
        except (ValueError, KeyError, TypeError, InvalidOperation):
            raise ErpRejected("the ERP's part list is not a list of sku, on_hand, price and cost") from None

    async def _push(self, document: ErpDocument | PurchaseRequestDoc | PurchaseRequestCancellationDoc) -> str:
        body = json.dumps(
            {
                "type": f"erp.{document.kind}",
                "timestamp": datetime.now(UTC).isoformat(),
                "data": document.to_json(),
            },
            separators=(",", ":"),
        )

        async def post() -> httpx.Response:
            # Signed per attempt: the timestamp must be fresh, the id stays the same.
            now = datetime.now(UTC)
            headers = {
                "content-type": "application/json",
                "webhook-id": document.id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self.signer.sign(document.id, now, body),
            }
            return await self._exchange(lambda: self._client.post(self.url, content=body, headers=headers))

        response = await retried("ERP", post)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict) and answer.get("reference"):
            return str(answer["reference"])[:120]
        return document.number

    async def _exchange(self, send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        response = await exchange(self.breaker, send)
        if response.status_code >= 300:
            raise ErpRejected(f"the ERP answered HTTP {response.status_code}: {response.text[:200]}")
        return response
