"""Fixtures of the ERP tests: the local Odoo and middleware, running for one test each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.erp.servers import FakeOdoo, LocalServer, MiddlewareReceiver

MIDDLEWARE_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
async def odoo() -> AsyncIterator[tuple[FakeOdoo, LocalServer]]:
    fake = FakeOdoo()
    server = LocalServer(fake.app())
    await server.start()
    try:
        yield fake, server
    finally:
        await server.stop()


@pytest.fixture
async def middleware() -> AsyncIterator[tuple[MiddlewareReceiver, LocalServer]]:
    receiver = MiddlewareReceiver(MIDDLEWARE_SECRET)
    server = LocalServer(receiver.app())
    await server.start()
    try:
        yield receiver, server
    finally:
        await server.stop()
