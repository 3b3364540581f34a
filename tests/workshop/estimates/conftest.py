from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.config import Settings
from tests.conftest import Backend, make_settings
from tests.mail.smtp import SmtpServer


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    # The PostgreSQL backend keeps rate-limit counts in Redis for the whole session, where every test
    # is the same address; the limit itself has its own test with its own settings.
    return make_settings(backend, tmp_path, public_requests_per_window=100_000)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
