"""Signed links for customers without an account, and the plumbing their public pages share.

A link is an itsdangerous token signed with the app's secret, carrying the ids it opens (the tenant,
the object, a nonce the object keeps so that sending again voids older links). The workshop's estimate
and the showroom's quote are opened this way; each area decides what its token holds and what makes a
link stop counting, this module only signs, reads and protects.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from quart import request

from ops.pages import render_page
from ops.runtime import runtime

# A token is a few hundred characters; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 400


class LinkInvalid(Exception):
    """Not a link we issued (garbled, too long, signed with another key or salt): 404."""


class LinkExpired(Exception):
    """Older than the link's lifetime: 410."""


class SignedLinks:
    """Issues and reads the tokens of one kind of link (one salt, one path)."""

    def __init__(
        self, secret_key: str, *, salt: str, path: str, max_age: timedelta, base_url: str = ""
    ) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=salt)
        self.path = path.rstrip("/")
        self.max_age = max_age
        self.base_url = base_url.rstrip("/")

    def token_for(self, data: dict[str, Any]) -> str:
        return self._serializer.dumps(data)

    def url_for(self, token: str) -> str:
        return f"{self.base_url}{self.path}/{token}"

    def read(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_LENGTH:
            raise LinkInvalid()
        try:
            data = self._serializer.loads(token, max_age=int(self.max_age.total_seconds()))
        except SignatureExpired as error:
            raise LinkExpired() from error
        except BadData as error:
            raise LinkInvalid() from error
        if not isinstance(data, dict):
            raise LinkInvalid()
        return data


def same_origin() -> bool:
    """A browser names the page a form was posted from; one from another site is refused.

    The session's CSRF token is checked for every post as well; this also refuses a post from
    another site when the browser sends cookies across sites after all.
    """
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        # Older browsers send no Origin on same-site posts; the CSRF token still has to match.
        return origin is None
    return urlsplit(origin).netloc == request.host


def private_headers() -> dict[str, str]:
    """A public page names the customer and their car: never cached on the way, never indexed."""
    return {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


async def rate_limited(scope: str, template: str, message: str) -> Any:
    """None while this address may still open `scope`'s public pages; else the 429 answer, rendered
    with `template` and `message`. Counted per address and scope, in the app's rate limiter."""
    settings = runtime().settings
    limiter = runtime().rate_limiter
    key = f"{scope}:ip:{request.remote_addr or 'unknown'}"
    retry_after = await limiter.retry_after(key, settings.public_requests_per_window)
    if retry_after:
        body = await render_page(template, message=message)
        return body, 429, {"Retry-After": str(retry_after), **private_headers()}
    await limiter.count(key, settings.public_window_seconds)
    return None
