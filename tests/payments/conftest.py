"""Payments tests run against a fake Stripe on 127.0.0.1 (tests/payments/stripe_server.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from integrations.resilience import breaker
from ops.config import Settings
from tests.conftest import Backend, make_settings
from tests.payments.stripe_server import FakeStripe, start_fake_stripe


@pytest.fixture
async def stripe() -> AsyncIterator[FakeStripe]:
    fake, stop, task = await start_fake_stripe()
    # The breaker is per process: an outage another test simulated must not leak into this one.
    breaker("stripe").record_success()
    try:
        yield fake
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        breaker("stripe").record_success()


@pytest.fixture
def settings(backend: Backend, tmp_path: Path, stripe: FakeStripe) -> Settings:
    return make_settings(backend, tmp_path, stripe_api_base=stripe.url)
