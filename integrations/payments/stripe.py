"""Stripe over its HTTP API (https://docs.stripe.com/api): PaymentIntents, refunds, signed webhooks.

Requests are form-encoded with the secret key as a Bearer token. Every create carries an
`Idempotency-Key` derived from our row, so a retry (ours, after a timeout, or the worker's an hour
later) is the same request and Stripe answers it with the first answer instead of charging twice.
Retries (stamina) happen only for such requests and GETs, only on transport errors, 429 and 5xx;
all calls go through the `stripe` circuit breaker, and a provider that cannot be reached raises
`ProviderUnavailable`: the caller keeps its work pending and invents nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import stamina

from integrations.payments import Intent, PaymentRefused, Refund, WebhookSignatureError
from integrations.resilience import ProviderUnavailable, breaker
from ops.i18n import gettext as _

PROVIDER = "stripe"
# Stripe's own recommendation: refuse signatures older (or newer) than five minutes (replays).
WEBHOOK_TOLERANCE_SECONDS = 300
RETRY_ATTEMPTS = 3


class _StripeBusy(Exception):
    """A 429 or 5xx answer: worth another try with the same idempotency key."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _form(params: dict[str, Any]) -> list[tuple[str, str]]:
    """Stripe's form encoding: nested dictionaries as `metadata[deal_id]=12`."""
    fields: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, dict):
            fields.extend((f"{key}[{inner}]", str(item)) for inner, item in value.items())
        else:
            fields.append((key, str(value)))
    return fields


def _intent(body: dict[str, Any]) -> Intent:
    return Intent(
        id=str(body["id"]),
        status=str(body.get("status", "")),
        client_secret=body.get("client_secret"),
        amount_minor=int(body.get("amount") or 0),
        currency=str(body.get("currency", "")).upper(),
    )


def _refusal(response: httpx.Response) -> PaymentRefused:
    """Stripe's error object (`{"error": {type, code, message}}`) as a sentence for the desk."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    kind, code = str(error.get("type", "")), str(error.get("code") or error.get("decline_code") or "")
    message = str(error.get("message") or "")
    status = response.status_code
    if status == 401:
        text = _("Stripe refused the secret key; check it in the payment settings.")
    elif status == 403:
        text = _("The Stripe key may not do this: %(reason)s", reason=message)
    elif kind == "card_error":
        text = message or _("The card was declined.")
    elif kind == "idempotency_error":
        text = _("Stripe saw this request before with other details: %(reason)s", reason=message)
    elif status == 404:
        text = _("Stripe does not know this payment: %(reason)s", reason=message)
    else:
        text = _("Stripe refused the request: %(reason)s", reason=message or f"HTTP {status}")
    return PaymentRefused(text, code=code or kind, status=status)


def _unavailable_reason(error: BaseException) -> str:
    if isinstance(error, _StripeBusy):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, httpx.ConnectError):
        return "cannot connect"
    return type(error).__name__


class StripeProvider:
    """One tenant's Stripe account: its secret key and its webhook endpoint's signing secret."""

    def __init__(self, api_base: str, secret_key: str, webhook_secret: str, *, timeout: float = 10.0) -> None:
        self.api_base = api_base.rstrip("/")
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.timeout = httpx.Timeout(timeout, connect=min(timeout, 3.0))

    async def create_payment_intent(
        self, amount_minor: int, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> Intent:
        body = await self._request(
            "POST",
            "/v1/payment_intents",
            {
                "amount": amount_minor,
                "currency": currency.lower(),
                "metadata": metadata,
                "automatic_payment_methods[enabled]": "true",
            },
            idempotency_key=idempotency_key,
        )
        return _intent(body)

    async def retrieve_payment_intent(self, intent_id: str) -> Intent:
        return _intent(await self._request("GET", f"/v1/payment_intents/{intent_id}"))

    async def refund(self, payment_intent_id: str, amount_minor: int | None, idempotency_key: str) -> Refund:
        body = await self._request(
            "POST",
            "/v1/refunds",
            {"payment_intent": payment_intent_id, "amount": amount_minor},
            idempotency_key=idempotency_key,
        )
        return Refund(
            id=str(body["id"]),
            status=str(body.get("status", "")),
            amount_minor=int(body.get("amount") or 0),
            payment_intent_id=str(body.get("payment_intent") or payment_intent_id),
        )

    def verify_webhook(self, raw_body: bytes, signature_header: str, now: datetime) -> dict[str, Any]:
        """The event of a webhook whose `Stripe-Signature` (`t=...,v1=...`) matches the raw body."""
        if not self.webhook_secret:
            raise WebhookSignatureError("no webhook signing secret is set up")
        timestamp: int | None = None
        signatures: list[str] = []
        for part in (signature_header or "").split(","):
            name, _sep, value = part.strip().partition("=")
            if name == "t":
                try:
                    timestamp = int(value)
                except ValueError:
                    raise WebhookSignatureError("the timestamp is not a number") from None
            elif name == "v1":
                signatures.append(value)
        if timestamp is None or not signatures:
            raise WebhookSignatureError("the Stripe-Signature header has no t= or no v1=")
        signed = str(timestamp).encode() + b"." + raw_body
        expected = hmac.new(self.webhook_secret.encode(), signed, hashlib.sha256).hexdigest()
        # Any of the v1 values may match: Stripe sends one per active secret while a secret is rolled.
        if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
            raise WebhookSignatureError("no v1 signature matches the body")
        if abs(now.timestamp() - timestamp) > WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookSignatureError("the timestamp is outside the five-minute tolerance")
        try:
            event = json.loads(raw_body)
        except ValueError:
            raise WebhookSignatureError("the body is not JSON") from None
        if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
            raise WebhookSignatureError("the body is not a Stripe event")
        return event

    async def _request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        if not self.secret_key:
            raise PaymentRefused(
                _("No Stripe secret key is set up; an admin adds it in the payment settings.")
            )
        headers = {"Authorization": f"Bearer {self.secret_key}"}
        body = urlencode(_form(params)) if params else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        # A POST without an idempotency key would charge twice if its answer got lost: one try only.
        attempts = RETRY_ATTEMPTS if method == "GET" or idempotency_key else 1

        async def call() -> httpx.Response:
            async with httpx.AsyncClient(base_url=self.api_base, timeout=self.timeout) as client:
                async for attempt in stamina.retry_context(
                    on=(httpx.TransportError, _StripeBusy),
                    attempts=attempts,
                    timeout=self.timeout.read or 10.0,
                    wait_initial=0.2,
                    wait_max=2.0,
                    wait_jitter=0.1,
                ):
                    with attempt:
                        response = await client.request(method, path, content=body, headers=headers)
                        if response.status_code == 429 or response.status_code >= 500:
                            raise _StripeBusy(response)
            return response

        try:
            response = await breaker(PROVIDER).call(call)
        except (httpx.HTTPError, _StripeBusy) as error:
            raise ProviderUnavailable(PROVIDER, _unavailable_reason(error)) from error
        if response.status_code >= 400:
            raise _refusal(response)
        try:
            body = response.json()
        except ValueError:
            raise ProviderUnavailable(PROVIDER, "an answer that is not JSON") from None
        if not isinstance(body, dict):
            raise ProviderUnavailable(PROVIDER, "an answer that is not a Stripe object")
        return body
