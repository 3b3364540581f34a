"""Sending signed webhooks over HTTP: where a URL may point (SSRF), and one POST with its outcome.

A target is resolved once per attempt, every address it resolves to is checked, and the request then goes
to the checked address (the Host header and TLS server name stay the URL's host), so a DNS answer that
changes between the check and the connection cannot lead the request inside the network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ops.i18n import gettext as _

# Any answer from the receiver is judged within this; a slow receiver is a failed attempt.
REQUEST_TIMEOUT_SECONDS = 10.0
RESPONSE_EXCERPT_BYTES = 500
USER_AGENT = "Pitwall-Webhooks/1"


class TargetRefused(Exception):
    """The URL may not receive webhooks: bad scheme, no such host, or an address inside the network."""


@dataclass(frozen=True)
class TargetPolicy:
    """What endpoint URLs may be: https only in production; private addresses only when allowed."""

    allow_private: bool = False
    require_https: bool = True


def _refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_url(url: str, policy: TargetPolicy) -> tuple[str, str, int]:
    """The URL's scheme, host and port, or TargetRefused saying what is wrong with it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetRefused(_("not a valid URL")) from error
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(_("use an http:// or https:// URL"))
    if scheme == "http" and policy.require_https:
        raise TargetRefused(_("use an https:// URL"))
    if parts.username or parts.password:
        raise TargetRefused(_("a URL with a user name or password is not accepted"))
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


async def resolve_target(url: str, policy: TargetPolicy) -> str:
    """The address to connect to for `url`, after checking every address its host resolves to."""
    _scheme, host, port = check_url(url, policy)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefused(_("the host %(host)s could not be found", host=host)) from error
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise TargetRefused(_("the host %(host)s could not be found", host=host))
    if not policy.allow_private:
        for address in addresses:
            if _refused_address(address):
                raise TargetRefused(
                    _(
                        "%(host)s resolves to %(address)s, an address inside a private network",
                        host=host,
                        address=str(address),
                    )
                )
    return str(addresses[0])


@dataclass(frozen=True)
class SendResult:
    """What one POST came to: a status code (None when no answer came) and what to show in the log."""

    status_code: int | None
    latency_ms: int
    response_excerpt: str
    error: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender:
    """One pooled HTTP client for every endpoint; redirects are never followed (a 3xx is a failure)."""

    def __init__(self, timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        self._timeout = timeout
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            headers={"user-agent": USER_AGENT},
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, address: str, headers: dict[str, str], body: bytes) -> SendResult:
        """POST `body` to `url` at the already checked `address`; never raises for network trouble."""
        target = httpx.URL(url)
        pinned = target.copy_with(host=address)
        request_headers = {
            **headers,
            "host": target.netloc.decode("ascii"),
            "content-type": "application/json",
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        started = time.perf_counter()
        try:
            # The whole exchange, not each read, is bounded: a receiver trickling bytes is a timeout too.
            async with asyncio.timeout(self._timeout):
                status_code, location, excerpt = await self._exchange(
                    pinned, request_headers, body, extensions
                )
        except TimeoutError:
            return SendResult(None, _elapsed_ms(started), "", "timed out")
        except httpx.HTTPError as error:
            return SendResult(None, _elapsed_ms(started), "", _describe(error))
        error_text = ""
        if 300 <= status_code < 400:
            error_text = f"redirect to {location or '?'} not followed"
        elif not 200 <= status_code < 300:
            error_text = f"HTTP {status_code}"
        return SendResult(status_code, _elapsed_ms(started), excerpt, error_text)

    async def _exchange(
        self, url: httpx.URL, headers: dict[str, str], body: bytes, extensions: dict[str, str]
    ) -> tuple[int, str | None, str]:
        # Streamed, so only the excerpt of a large answer is ever read into memory.
        request = self._client.build_request(
            "POST", url, content=body, headers=headers, extensions=extensions
        )
        response = await self._client.send(request, stream=True)
        try:
            head = b""
            async for chunk in response.aiter_bytes():
                head += chunk
                if len(head) >= RESPONSE_EXCERPT_BYTES:
                    break
        finally:
            await response.aclose()
        excerpt = head[:RESPONSE_EXCERPT_BYTES].decode("utf-8", errors="replace")
        return response.status_code, response.headers.get("location"), excerpt


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _describe(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectError):
        return f"could not connect: {error}"[:300] if str(error) else "could not connect"
    return f"{type(error).__name__}: {error}"[:300]
