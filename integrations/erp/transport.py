"""HTTP plumbing both ERP adapters share: the breaker around each exchange, and retries of whole
idempotent operations that end as "unavailable" when the ERP cannot be reached."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import stamina

from integrations.resilience import CircuitBreaker, ProviderUnavailable

T = TypeVar("T")

# Failures worth another try at once: the network or an overloaded server, never a refusal.
RETRYABLE = (httpx.TransportError, httpx.HTTPStatusError)
ATTEMPTS = 3


async def exchange(circuit: CircuitBreaker, send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """One request through the breaker; a 5xx, 408 or 429 counts as the ERP being unwell."""

    async def checked() -> httpx.Response:
        response = await send()
        if response.status_code >= 500 or response.status_code in (408, 429):
            response.raise_for_status()
        return response

    return await circuit.call(checked)


async def retried(provider: str, operation: Callable[[], Awaitable[T]]) -> T:
    """Run an idempotent operation, again on network trouble; in the end `ProviderUnavailable`."""
    try:
        async for attempt in stamina.retry_context(
            on=RETRYABLE, attempts=ATTEMPTS, timeout=60.0, wait_max=2.0
        ):
            with attempt:
                return await operation()
    except RETRYABLE as error:
        raise ProviderUnavailable(provider, transport_reason(error)) from error
    raise AssertionError("stamina ended without an outcome")


def transport_reason(error: Exception) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, httpx.ConnectError):
        return "connection refused"
    return type(error).__name__
