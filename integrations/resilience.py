"""What every adapter shares: a circuit breaker per provider and the error that says "unavailable".

A breaker is this process's opinion of a provider. After `failure_threshold` failures in a row it opens
and calls fail at once with `ProviderUnavailable` (the work stays queued in the outbox and the user sees
"unavailable, will retry"); after `reset_after` seconds one trial call is let through (half-open), and
its outcome closes or re-opens the breaker. Nothing here is shared between processes on purpose: each
process finds out for itself, which costs at most `failure_threshold` calls.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from ops.db import utcnow

T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class ProviderUnavailable(Exception):
    """The provider cannot be reached or its breaker is open; retry later, invent nothing."""

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"{provider} unavailable: {reason}")
        self.provider = provider
        self.reason = reason


@dataclass
class CircuitBreaker:
    name: str
    failure_threshold: int = 5
    reset_after: float = 30.0
    clock: Callable[[], float] = time.monotonic
    consecutive_failures: int = 0
    opened_at: float | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: str = ""
    _trial_running: bool = field(default=False, repr=False)

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return CLOSED
        if self.clock() - self.opened_at >= self.reset_after:
            return HALF_OPEN
        return OPEN

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one trial call at a time."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def record_success(self) -> None:
        self.consecutive_failures = 0
        self.opened_at = None
        self._trial_running = False
        self.last_success_at = utcnow()

    def record_failure(self, error: Exception | str) -> None:
        self.consecutive_failures += 1
        self.last_failure_at = utcnow()
        self.last_error = str(error)[:300]
        if self._trial_running or self.consecutive_failures >= self.failure_threshold:
            self.opened_at = self.clock()
        self._trial_running = False

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run one call to the provider through the breaker; any exception counts as a failure."""
        if not self.allow():
            raise ProviderUnavailable(self.name, self.last_error or "circuit open")
        try:
            result = await operation()
        except Exception as error:
            self.record_failure(error)
            raise
        self.record_success()
        return result


_breakers: dict[str, CircuitBreaker] = {}


def breaker(name: str) -> CircuitBreaker:
    """The process-wide breaker of one provider (`odoo`, `stripe`, `webhooks:<endpoint id>`)."""
    found = _breakers.get(name)
    if found is None:
        found = _breakers[name] = CircuitBreaker(name)
    return found


def all_breakers() -> dict[str, CircuitBreaker]:
    return dict(_breakers)
