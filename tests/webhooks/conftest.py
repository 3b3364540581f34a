"""Fixtures of the webhook tests: a receiver on 127.0.0.1 and a sender with a short timeout."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update

from integrations.webhooks import WebhookSender
from ops.config import Settings
from ops.runtime import Runtime
from ops.webhooks.models import WebhookEndpoint
from tests.conftest import Backend, make_settings
from tests.webhooks.helpers import Receiver, close_breakers


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    # The receivers run on 127.0.0.1, which an installation refuses unless it allows private targets.
    return make_settings(backend, tmp_path, webhook_allow_private_targets=True)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    await found.start()
    yield found
    await found.stop()


@pytest.fixture
async def sender() -> AsyncIterator[WebhookSender]:
    # One second instead of ten, so the timeout test does not wait the real limit.
    client = WebhookSender(timeout=1.0)
    close_breakers()
    yield client
    await client.close()


@pytest.fixture(autouse=True)
async def no_endpoints_left_enabled(runtime: Runtime) -> AsyncIterator[None]:
    """The tests of a run share a database: one test's endpoints must not get the next test's passes."""
    yield
    async with runtime.db.system(write=True) as session:
        await session.execute(update(WebhookEndpoint).values(enabled=False))
        await session.commit()
