"""Odoo over its external JSON-RPC API (`POST <base>/jsonrpc`, services `common` and `object`).

Every write is find-or-create: search by our reference first, create only when nothing has it. A
find-or-create is retried as a whole (stamina), so a create whose answer was lost in a timeout is
found by the next attempt's search instead of being made twice. Reads are retried the same way;
nothing else is. Each HTTP exchange goes through the ERP's circuit breaker.
"""

from __future__ import annotations

import itertools
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from integrations.erp import (
    ERP_BREAKER,
    ErpDocument,
    ErpRejected,
    PartLevel,
    PartnerDoc,
    PurchaseRequestCancellationDoc,
    PurchaseRequestDoc,
)
from integrations.erp.transport import exchange, retried
from integrations.resilience import breaker

PART_FIELDS = ["default_code", "qty_available", "list_price", "standard_price"]
# A purchase order nobody has confirmed with the supplier yet: a request for quotation, sent or not.
UNCONFIRMED_STATES = ("draft", "sent", "to approve")


class OdooErp:
    """An ErpAdapter for Odoo; `api_key` is an Odoo API key (or the user's password)."""

    name = "odoo"

    def __init__(
        self,
        base_url: str,
        *,
        database: str,
        login: str,
        api_key: str,
        timeout: float = 10.0,
        breaker_name: str = ERP_BREAKER,
    ) -> None:
        self.endpoint = base_url.rstrip("/") + "/jsonrpc"
        self.database = database
        self.login = login
        self.api_key = api_key
        self.breaker = breaker(breaker_name)
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False)
        self._uid: int | None = None
        self._ids = itertools.count(1)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def push_sales_order(self, document: ErpDocument) -> str:
        async def find_or_create() -> str:
            found = await self._search_read(
                "sale.order", [["client_order_ref", "=", document.reference]], ["name"]
            )
            if found:
                return str(found[0]["name"])
            partner_id = await self._partner_id(document.customer)
            lines = []
            for line in document.lines:
                values: dict[str, Any] = {
                    "name": line.description,
                    "product_uom_qty": float(Decimal(line.quantity)),
                    "price_unit": float(Decimal(line.unit_price)),
                }
                if line.sku:
                    values["product_id"] = await self._product_id(line.sku, line.description)
                lines.append([0, 0, values])
            created = await self._execute(
                "sale.order",
                "create",
                [
                    {
                        "partner_id": partner_id,
                        "client_order_ref": document.reference,
                        "origin": document.number,
                        "date_order": document.date,
                        "order_line": lines,
                    }
                ],
            )
            return await self._name_of("sale.order", int(created))

        return await retried("Odoo", find_or_create)

    async def push_invoice(self, document: ErpDocument) -> str:
        async def find_or_create() -> str:
            domain = [["move_type", "=", "out_invoice"], ["ref", "=", document.reference]]
            found = await self._search_read("account.move", domain, ["name"])
            if found:
                return _move_name(found[0])
            partner_id = await self._partner_id(document.customer)
            created = await self._execute(
                "account.move",
                "create",
                [
                    {
                        "move_type": "out_invoice",
                        "partner_id": partner_id,
                        "ref": document.reference,
                        "payment_reference": document.reference,
                        "invoice_date": document.date,
                        "invoice_line_ids": [
                            [
                                0,
                                0,
                                {
                                    "name": line.description,
                                    "quantity": float(Decimal(line.quantity)),
                                    "price_unit": float(Decimal(line.unit_price)),
                                },
                            ]
                            for line in document.lines
                        ],
                    }
                ],
            )
            rows = await self._execute("account.move", "read", [[int(created)]], {"fields": ["name"]})
            return _move_name(rows[0]) if rows else f"#{created}"

        return await retried("Odoo", find_or_create)

    async def push_purchase_request(self, document: PurchaseRequestDoc) -> str:
        """A draft request for quotation (purchase.order) for the purchasing team to confirm in Odoo,
        found again by our reference in its source document. The part must be a product in Odoo already:
        one made here would have no stock, and the next parts pull would empty Pitwall's shelf with it."""

        async def find_or_create() -> str:
            found = await self._search_read("purchase.order", [["origin", "=", document.reference]], ["name"])
            if found:
                return str(found[0]["name"])
            partner_id = await self._vendor_id(document.supplier)
            lines = [
                [
                    0,
                    0,
                    {
                        "product_id": await self._existing_product_id(line.sku),
                        "name": line.description,
                        "product_qty": float(Decimal(line.quantity)),
                        "price_unit": float(Decimal(line.unit_price)),
                    },
                ]
                for line in document.lines
            ]
            created = await self._execute(
                "purchase.order",
                "create",
                [
                    {
                        "partner_id": partner_id,
                        "origin": document.reference,
                        "date_order": document.date,
                        "order_line": lines,
                    }
                ],
            )
            return await self._name_of("purchase.order", int(created))

        return await retried("Odoo", find_or_create)

    async def cancel_purchase_request(self, document: PurchaseRequestCancellationDoc) -> str:
        """Cancel the request for quotation the push made, with purchase.order's own `button_cancel`:
        the order of our reference (its source document), by the name the push learned when it did. An
        order the purchasing team has confirmed is refused, not cancelled: it went to the supplier, and
        calling it off is theirs to do in Odoo. Safe to repeat: a cancelled order is left as it is."""
        domain: list[Any] = [["origin", "=", document.reference]]
        if document.erp_ref:
            domain.append(["name", "=", document.erp_ref])

        async def find_and_cancel() -> str:
            found = await self._search_read("purchase.order", domain, ["name", "state"])
            if not found:
                return ""
            order = found[0]
            name, state = str(order["name"]), order.get("state")
            if state == "cancel":
                return name
            if state not in UNCONFIRMED_STATES:
                raise ErpRejected(
                    f"{name} is already confirmed in Odoo ({state}); the purchasing team cancels it there"
                )
            await self._execute("purchase.order", "button_cancel", [[int(order["id"])]])
            return name

        return await retried("Odoo", find_and_cancel)

    async def pull_parts(self, skus: list[str] | None) -> list[PartLevel]:
        domain: list[Any] = (
            [["default_code", "in", skus]] if skus is not None else [["default_code", "!=", False]]
        )
        if skus == []:
            return []

        async def read() -> list[dict[str, Any]]:
            return await self._search_read("product.product", domain, PART_FIELDS)

        rows = await retried("Odoo", read)
        levels = []
        for row in rows:
            sku = row.get("default_code")
            if not sku:
                continue
            try:
                levels.append(
                    PartLevel(
                        sku=str(sku),
                        # Odoo's floats become Decimal through their shortest repr: 4.5 stays 4.5.
                        on_hand=Decimal(str(row.get("qty_available") or 0)),
                        price=Decimal(str(row.get("list_price") or 0)),
                        cost=Decimal(str(row.get("standard_price") or 0)),
                    )
                )
            except InvalidOperation:
                raise ErpRejected(f"product {sku} has a level that is not a number") from None
        return levels

    async def _partner_id(self, partner: PartnerDoc) -> int:
        found = await self._execute(
            "res.partner", "search", [[["ref", "=", partner.reference]]], {"limit": 1}
        )
        if found:
            return int(found[0])
        values: dict[str, Any] = {
            "name": partner.name,
            "ref": partner.reference,
            "is_company": partner.is_company,
            "email": partner.email or False,
            "phone": partner.phone or False,
            "street": partner.street or False,
            "zip": partner.postal_code or False,
            "city": partner.city or False,
            "vat": partner.vat or False,
        }
        if partner.country:
            countries = await self._execute(
                "res.country", "search", [[["code", "=", partner.country.upper()]]], {"limit": 1}
            )
            if countries:
                values["country_id"] = int(countries[0])
        return int(await self._execute("res.partner", "create", [values]))

    async def _vendor_id(self, supplier: PartnerDoc) -> int:
        """The supplier as Odoo knows them: ours by reference, else a vendor the purchasing team keeps
        under the same name, else a new vendor."""
        for domain in ([["ref", "=", supplier.reference]], [["name", "=", supplier.name]]):
            found = await self._execute("res.partner", "search", [domain], {"limit": 1})
            if found:
                return int(found[0])
        values = {"name": supplier.name, "ref": supplier.reference, "is_company": True, "supplier_rank": 1}
        return int(await self._execute("res.partner", "create", [values]))

    async def _existing_product_id(self, sku: str) -> int:
        found = await self._execute("product.product", "search", [[["default_code", "=", sku]]], {"limit": 1})
        if not found:
            raise ErpRejected(f"no product with the internal reference {sku} in Odoo; add it there first")
        return int(found[0])

    async def _product_id(self, sku: str, description: str) -> int:
        found = await self._execute("product.product", "search", [[["default_code", "=", sku]]], {"limit": 1})
        if found:
            return int(found[0])
        return int(
            await self._execute("product.product", "create", [{"name": description, "default_code": sku}])
        )

    async def _name_of(self, model: str, record_id: int) -> str:
        rows = await self._execute(model, "read", [[record_id]], {"fields": ["name"]})
        return str(rows[0]["name"]) if rows else f"#{record_id}"

    async def _search_read(self, model: str, domain: list[Any], fields: list[str]) -> list[dict[str, Any]]:
        rows = await self._execute(model, "search_read", [domain], {"fields": fields, "limit": 1000})
        return list(rows)

    async def _execute(
        self, model: str, method: str, args: list[Any], kwargs: dict[str, Any] | None = None
    ) -> Any:
        uid = await self._authenticated_uid()
        return await self._rpc(
            "object", "execute_kw", [self.database, uid, self.api_key, model, method, args, kwargs or {}]
        )

    async def _authenticated_uid(self) -> int:
        if self._uid is None:
            uid = await self._rpc("common", "authenticate", [self.database, self.login, self.api_key, {}])
            if not uid:
                raise ErpRejected("Odoo refused the login: check the ERP user and API key")
            self._uid = int(uid)
        return self._uid

    async def _rpc(self, service: str, method: str, args: list[Any]) -> Any:
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": args},
            "id": next(self._ids),
        }

        response = await exchange(self.breaker, lambda: self._client.post(self.endpoint, json=payload))
        if response.status_code >= 400:
            raise ErpRejected(f"Odoo answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise ErpRejected("Odoo answered something that is not JSON-RPC") from None
        error = body.get("error")
        if error:
            data = error.get("data") or {}
            raise ErpRejected(str(data.get("message") or error.get("message") or "Odoo error")[:300])
        return body.get("result")


def _move_name(row: dict[str, Any]) -> str:
    # A draft invoice is named "/" until an accountant posts it in Odoo.
    name = str(row.get("name") or "")
    return name if name and name != "/" else f"#{row['id']}"
