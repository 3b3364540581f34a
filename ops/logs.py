"""Log lines that carry the request's correlation id, so one request can be followed across lines."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

correlation_id: ContextVar[str] = ContextVar("correlation_id", default="-")

CORRELATION_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def accepted_correlation_id(sent: str | None) -> str:
    """A caller's id is kept so one request can be followed across systems; anything that could forge
    or flood a log line is replaced by a fresh one."""
    return sent if sent and CORRELATION_ID_PATTERN.fullmatch(sent) else uuid.uuid4().hex


class CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        return True


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(isinstance(f, CorrelationFilter) for h in root.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level)
