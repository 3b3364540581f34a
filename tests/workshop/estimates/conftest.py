from __future__ import annotations

from pathlib import Path

import pytest

from ops.config import Settings
from tests.conftest import Backend, make_settings


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    # The PostgreSQL backend keeps rate-limit counts in Redis for the whole session, where every test
    # is the same address; the limit itself has its own test with its own settings.
    return make_settings(backend, tmp_path, public_requests_per_window=100_000)
