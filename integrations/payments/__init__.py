"""Payment providers: the `PaymentProvider` interface, its errors, and the factory.

A provider takes card payments (PaymentIntents) and gives money back (refunds) over its HTTP API, and
signs the webhooks it sends about them. Amounts cross this boundary in the currency's minor units
(cents, Rappen), as every provider's API wants them; `to_minor_units` converts our Decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from babel.numbers import get_currency_precision

from ops.money import round_money


@dataclass(frozen=True)
class Intent:
    """A PaymentIntent as the provider reports it (`requires_payment_method`, `succeeded`, ...)."""

    id: str
    status: str
    client_secret: str | None
    amount_minor: int = 0
    currency: str = ""


@dataclass(frozen=True)
class Refund:
    id: str
    status: str
    amount_minor: int
    payment_intent_id: str


class PaymentRefused(Exception):
    """The provider answered and said no (a declined card, an invalid key, a refund too large).

    Retrying the same request gets the same answer; the message is meant for the person at the desk."""

    def __init__(self, message: str, *, code: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class WebhookSignatureError(ValueError):
    """A webhook whose signature or timestamp does not check out: refused, nothing stored."""


class PaymentProvider(Protocol):
    async def create_payment_intent(
        self, amount_minor: int, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> Intent: ...

    async def retrieve_payment_intent(self, intent_id: str) -> Intent: ...

    async def refund(
        self, payment_intent_id: str, amount_minor: int | None, idempotency_key: str
    ) -> Refund: ...

    def verify_webhook(self, raw_body: bytes, signature_header: str, now: datetime) -> dict[str, Any]: ...


def to_minor_units(amount: Decimal, currency: str) -> int:
    """CHF 3,989.50 -> 398950; the currency's exponent comes from Babel (JPY has none)."""
    rounded = round_money(amount, currency)
    return int(rounded.scaleb(get_currency_precision(currency)))


def from_minor_units(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-get_currency_precision(currency))


def create_payment_provider(
    api_base: str, secret_key: str | None, webhook_secret: str | None, *, timeout: float = 10.0
) -> PaymentProvider:
    """The tenant's provider. Stripe is the one there is; its keys come from the tenant's settings."""
    from integrations.payments.stripe import StripeProvider

    return StripeProvider(api_base, secret_key or "", webhook_secret or "", timeout=timeout)
