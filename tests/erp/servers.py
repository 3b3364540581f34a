"""Stand-ins for the ERPs on 127.0.0.1: a small Odoo that speaks `/jsonrpc` (authenticate, execute_kw
with search, search_read, read, create, write and purchase.order's button_cancel, records kept in
memory, Odoo's error shape), and a middleware receiver that verifies our signed documents with the
`standardwebhooks` package."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import free_port

ODOO_DB, ODOO_LOGIN, ODOO_KEY, ODOO_UID = "dealer", "pitwall@erp.test", "odoo-api-key-1", 7


class LocalServer:
    """A Quart app served by Hypercorn on a fixed free port; it can be stopped and started again."""

    def __init__(self, app: Quart) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = Config()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.graceful_timeout = 0.5
        config.loglevel = "WARNING"
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(serve(self.app, config, shutdown_trigger=self._stop.wait))
        for _ in range(200):
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.025)
        raise RuntimeError("local ERP did not start")

    async def stop(self) -> None:
        if self._stop is not None and self._task is not None:
            self._stop.set()
            await asyncio.wait_for(self._task, 10)
            self._stop = self._task = None


def _matches(record: dict[str, Any], domain: list[Any]) -> bool:
    for field_name, operator, value in domain:
        actual = record.get(field_name, False)
        if operator == "=" and actual != value:
            return False
        if operator == "!=" and actual == value:
            return False
        if operator == "in" and actual not in value:
            return False
    return True


class OdooError(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


@dataclass
class FakeOdoo:
    """The in-memory Odoo. `stall_after_create` seconds: a create is stored, then its answer is late
    (the caller's timeout fires after Odoo made the record)."""

    records: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    stall_after_create: float = 0.0
    # model -> the message Odoo refuses a create on that model with (a validation rule of theirs).
    refusals: dict[str, str] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # Notified on each create, so that a test can act while that create's answer is still on its way.
    _created: asyncio.Condition = field(default_factory=asyncio.Condition)

    def __post_init__(self) -> None:
        models = (
            "res.partner",
            "sale.order",
            "purchase.order",
            "account.move",
            "product.product",
            "res.country",
        )
        for model in models:
            self.records.setdefault(model, {})
        self.add("res.country", code="CH", name="Switzerland")
        self.add("res.country", code="DE", name="Germany")

    def add(self, model: str, **values: Any) -> int:
        record_id = next(self._ids)
        self.records[model][record_id] = {"id": record_id, **values}
        return record_id

    def find(self, model: str, **values: Any) -> list[dict[str, Any]]:
        return [r for r in self.records[model].values() if all(r.get(k) == v for k, v in values.items())]

    async def made(self, model: str, **values: Any) -> dict[str, Any]:
        """The record with these values, once a create (perhaps still answering) has stored it."""
        async with self._created:
            await self._created.wait_for(lambda: bool(self.find(model, **values)))
        return self.find(model, **values)[0]

    def app(self) -> Quart:
        app = Quart("fake-odoo")

        @app.post("/jsonrpc")
        async def jsonrpc() -> Any:
            body = await request.get_json()
            params = body["params"]
            try:
                result = await self._dispatch(params["service"], params["method"], params["args"])
            except OdooError as error:
                return {
                    "jsonrpc": "2.0",
                    "id": body.get("id"),
                    "error": {
                        "code": 200,
                        "message": "Odoo Server Error",
                        "data": {"name": error.name, "message": str(error), "debug": ""},
                    },
                }
            return {"jsonrpc": "2.0", "id": body.get("id"), "result": result}

        return app

    async def _dispatch(self, service: str, method: str, args: list[Any]) -> Any:
        if service == "common" and method in ("authenticate", "login"):
            database, login, key = args[0], args[1], args[2]
            return ODOO_UID if (database, login, key) == (ODOO_DB, ODOO_LOGIN, ODOO_KEY) else False
        if service != "object" or method != "execute_kw":
            raise OdooError("odoo.exceptions.UserError", f"unknown call {service}.{method}")
        database, uid, key, model, model_method, margs = args[:6]
        kwargs = args[6] if len(args) > 6 else {}
        if (database, uid, key) != (ODOO_DB, ODOO_UID, ODOO_KEY):
            raise OdooError("odoo.exceptions.AccessDenied", "Access Denied")
        if model not in self.records:
            raise OdooError("builtins.KeyError", model)
        self.calls.append((model, model_method))
        table = self.records[model]
        if model_method == "search":
            found = [r["id"] for r in table.values() if _matches(r, margs[0])]
            return found[: kwargs.get("limit") or None]
        if model_method == "search_read":
            rows = [r for r in table.values() if _matches(r, margs[0])][: kwargs.get("limit") or None]
            return [self._fields(r, kwargs.get("fields")) for r in rows]
        if model_method == "read":
            return [self._fields(table[i], kwargs.get("fields")) for i in margs[0] if i in table]
        if model_method == "write":
            for record_id in margs[0]:
                table[record_id].update(margs[1])
            return True
        if model_method == "button_cancel" and model == "purchase.order":
            # Odoo refuses to cancel an order whose goods were received (locked, "done").
            for record_id in margs[0]:
                if table[record_id].get("state") == "done":
                    raise OdooError("odoo.exceptions.UserError", "Unable to cancel a locked purchase order.")
                table[record_id]["state"] = "cancel"
            return None
        if model_method == "create":
            record_id = self._create(model, dict(margs[0]))
            async with self._created:
                self._created.notify_all()
            if self.stall_after_create:
                stall, self.stall_after_create = self.stall_after_create, 0.0
                await asyncio.sleep(stall)
            return record_id
        raise OdooError("odoo.exceptions.UserError", f"{model}.{model_method} is not supported here")

    def _create(self, model: str, values: dict[str, Any]) -> int:
        if model in self.refusals:
            raise OdooError("odoo.exceptions.ValidationError", self.refusals[model])
        if model == "sale.order":
            for _zero, _none, line in values.get("order_line", []):
                # Odoo's sale_order_line "accountable_required_fields" constraint.
                if not line.get("product_id"):
                    raise OdooError(
                        "odoo.exceptions.ValidationError", "Missing required product on a sale order line"
                    )
            values["name"] = f"S{len(self.records[model]) + 1:05d}"
            values["state"] = "draft"
        if model == "purchase.order":
            # purchase.order's partner_id is required; every line names its product.
            if not values.get("partner_id"):
                raise OdooError("odoo.exceptions.ValidationError", "A purchase order needs a vendor")
            if any(not line.get("product_id") for _zero, _none, line in values.get("order_line", [])):
                raise OdooError(
                    "odoo.exceptions.ValidationError", "Missing required product on a purchase line"
                )
            values["name"] = f"P{len(self.records[model]) + 1:05d}"
            values["state"] = "draft"
        if model == "account.move":
            if not values.get("partner_id"):
                raise OdooError("odoo.exceptions.UserError", "An invoice needs a customer")
            values["name"] = "/"
            values["state"] = "draft"
        return self.add(model, **values)

    @staticmethod
    def _fields(record: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        if not fields:
            return dict(record)
        return {"id": record["id"], **{name: record.get(name, False) for name in fields}}


@dataclass
class MiddlewareReceiver:
    """A middleware endpoint for the generic adapter: verifies each push with `standardwebhooks`,
    processes each `webhook-id` once, and serves part levels."""

    secret: str
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: list[str] = field(default_factory=list)
    rejected: int = 0
    levels: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> Quart:
        app = Quart("middleware")
        verifier = Webhook(self.secret)

        @app.post("/erp/documents")
        async def documents() -> Any:
            body = await request.get_data(as_text=True)
            try:
                payload = verifier.verify(body, dict(request.headers))
            except WebhookVerificationError:
                self.rejected += 1
                return {"error": "bad signature"}, 401
            message_id = request.headers["webhook-id"]
            self.deliveries.append(message_id)
            if message_id not in self.processed:
                self.processed[message_id] = payload
            return {"reference": f"SAP-{list(self.processed).index(message_id) + 1:04d}"}

        @app.get("/erp/parts")
        async def parts() -> Any:
            wanted = set(request.args.getlist("sku"))
            rows = [row for row in self.levels if not wanted or row["sku"] in wanted]
            return app.response_class(json.dumps(rows), content_type="application/json")

        return app
