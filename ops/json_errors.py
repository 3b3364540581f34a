"""The JSON error of DOMAIN.md ("Figures"), `{code, message, details, timestamp, path}`, for everything
that answers machines: the partner API, the partners' hooks and the live stream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from quart import request

DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "validation_failed",
    429: "rate_limited",
}


def error_body(
    status: int, message: str, code: str | None = None, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """`code` is a stable machine word (`bad_signature`); the correlation id is in X-Correlation-ID."""
    return {
        "code": code or DEFAULT_CODES.get(status, "internal_error"),
        "message": message,
        "details": details or [],
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "path": request.path,
    }
