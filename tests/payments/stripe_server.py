"""A local HTTP server on 127.0.0.1 that speaks the part of Stripe's API Pitwall uses, and signs the
webhooks Stripe would send.

Like Stripe (https://docs.stripe.com/api): form-encoded requests, `Authorization: Bearer <secret key>`,
errors as `{"error": {type, code, message}}`, and `Idempotency-Key` honoured: the same key with the same
parameters answers the first answer again (no second object), the same key with other parameters is an
`idempotency_error`. `down = True` answers 503 like an outage (not remembered under the key).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, request

from tests.conftest import free_port

SECRET_KEY = "sk_test_pitwall_local_0123456789"
WEBHOOK_SECRET = "whsec_pitwall_local_0123456789abcdef"


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _error(status: int, kind: str, message: str, code: str | None = None) -> tuple[dict[str, Any], int]:
    return {"error": {"type": kind, "code": code, "message": message}}, status


@dataclass
class Seen:
    method: str
    path: str
    params: dict[str, str]
    idempotency_key: str | None
    authorization: str | None


@dataclass
class FakeStripe:
    url: str = ""
    down: bool = False
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    _saved: dict[str, tuple[str, dict[str, str], dict[str, Any], int]] = field(default_factory=dict)

    def app(self) -> Quart:
        app = Quart(__name__)

        @app.post("/v1/payment_intents")
        async def create_intent() -> Any:
            return await self._idempotent(self._create_intent)

        @app.get("/v1/payment_intents/<intent_id>")
        async def get_intent(intent_id: str) -> Any:
            refused = await self._check()
            if refused:
                return refused
            intent = self.intents.get(intent_id)
            if intent is None:
                return _error(
                    404, "invalid_request_error", f"No such payment_intent: '{intent_id}'", "resource_missing"
                )
            return intent

        @app.post("/v1/refunds")
        async def create_refund() -> Any:
            return await self._idempotent(self._create_refund)

        return app

    async def _check(self) -> tuple[dict[str, Any], int] | None:
        form = await request.form
        self.requests.append(
            Seen(
                request.method,
                request.path,
                dict(form),
                request.headers.get("Idempotency-Key"),
                request.headers.get("Authorization"),
            )
        )
        if self.down:
            return _error(503, "api_error", "Stripe is having a bad day.")
        if request.headers.get("Authorization") != f"Bearer {SECRET_KEY}":
            return _error(401, "invalid_request_error", "Invalid API Key provided.")
        return None

    async def _idempotent(self, create: Any) -> Any:
        refused = await self._check()
        if refused:
            return refused
        params = dict(await request.form)
        key = request.headers.get("Idempotency-Key")
        if key and key in self._saved:
            path, first_params, body, status = self._saved[key]
            if path != request.path or first_params != params:
                return _error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters they were "
                    f"first used with. Try using a key other than '{key}' if you meant to execute a "
                    "different request.",
                )
            return body, status, {"Idempotent-Replayed": "true"}
        body, status = create(params)
        if key:
            self._saved[key] = (request.path, params, body, status)
        return body, status

    def _create_intent(self, params: dict[str, str]) -> tuple[dict[str, Any], int]:
        try:
            amount = int(params.get("amount", ""))
        except ValueError:
            return _error(
                400, "invalid_request_error", "Invalid integer: amount", "parameter_invalid_integer"
            )
        currency = params.get("currency", "")
        if amount < 50 or len(currency) != 3 or currency != currency.lower():
            return _error(
                400, "invalid_request_error", "Amount must be at least 50 cents", "amount_too_small"
            )
        intent_id = _id("pi")
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency,
            "status": "requires_payment_method",
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
            "metadata": {
                key[len("metadata[") : -1]: value
                for key, value in params.items()
                if key.startswith("metadata[")
            },
            "latest_charge": None,
            "last_payment_error": None,
            "created": int(time.time()),
            "livemode": False,
        }
        self.intents[intent_id] = intent
        return intent, 200

    def _create_refund(self, params: dict[str, str]) -> tuple[dict[str, Any], int]:
        intent = self.intents.get(params.get("payment_intent", ""))
        if intent is None:
            return _error(400, "invalid_request_error", "No such payment_intent", "resource_missing")
        if intent["status"] != "succeeded":
            return _error(
                400,
                "invalid_request_error",
                "This PaymentIntent does not have a successful charge to refund.",
                "charge_not_refundable",
            )
        remaining = intent["amount_received"] - self.refunded(intent["id"])
        amount = int(params.get("amount") or remaining)
        if amount > remaining:
            return _error(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                "amount_too_large",
            )
        refund = {
            "id": _id("re"),
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "charge": intent["latest_charge"],
            "status": "succeeded",
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        return refund, 200

    # --- What happens at Stripe's end, as webhook events ---------------------------------------------------

    def refunded(self, intent_id: str) -> int:
        return sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent_id)

    def pay(self, intent_id: str) -> dict[str, Any]:
        """The customer paid: the intent succeeds; the `payment_intent.succeeded` event."""
        intent = self.intents[intent_id]
        intent.update(status="succeeded", amount_received=intent["amount"], latest_charge=_id("ch"))
        return event("payment_intent.succeeded", dict(intent))

    def decline(self, intent_id: str, message: str = "Your card was declined.") -> dict[str, Any]:
        intent = self.intents[intent_id]
        intent.update(
            status="requires_payment_method",
            last_payment_error={"type": "card_error", "code": "card_declined", "message": message},
        )
        return event("payment_intent.payment_failed", dict(intent))

    def charge_refunded(self, intent_id: str, extra_minor: int = 0) -> dict[str, Any]:
        """`charge.refunded`; `extra_minor` is refunded in the dashboard first (not through our API)."""
        intent = self.intents[intent_id]
        if extra_minor:
            self.refunds[_id("re")] = {"amount": extra_minor, "payment_intent": intent_id}
        charge = {
            "id": intent["latest_charge"],
            "object": "charge",
            "amount": intent["amount"],
            "amount_refunded": self.refunded(intent_id),
            "currency": intent["currency"],
            "payment_intent": intent_id,
            "refunded": self.refunded(intent_id) >= intent["amount"],
        }
        return event("charge.refunded", charge)

    def created(self, path: str) -> list[Seen]:
        return [seen for seen in self.requests if seen.path == path and seen.method == "POST"]


def event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": _id("evt"),
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "type": kind,
        "livemode": False,
        "data": {"object": obj},
    }


def signature_header(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """`Stripe-Signature: t=...,v1=...`: HMAC-SHA256 of "{t}.{body}" with the endpoint's secret."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


async def start_fake_stripe() -> tuple[FakeStripe, asyncio.Event, asyncio.Task[None]]:
    fake = FakeStripe()
    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.graceful_timeout = 1
    config.loglevel = "WARNING"
    stop = asyncio.Event()
    task = asyncio.create_task(serve(fake.app(), config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    for _ in range(200):
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.025)
    else:
        raise RuntimeError("fake Stripe did not start")
    fake.url = f"http://127.0.0.1:{port}"
    return fake, stop, task


def body_of(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
