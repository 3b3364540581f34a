"""Signing in and reading Server-Sent Events the way a browser does, for HTTP-level tests."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from tests.factories import PASSWORD

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_META.search(html)
    assert match, "page has no csrf-token meta"
    return match.group(1)


async def sign_in(client, email: str, password: str = PASSWORD) -> str:  # type: ignore[no-untyped-def]
    """Sign a Quart test client in; returns the CSRF token for later form posts."""
    page = await client.get("/login")
    token = csrf_from(await page.get_data(as_text=True))
    response = await client.post("/login", form={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 302, await response.get_data(as_text=True)
    page = await client.get("/workshop/board")
    return csrf_from(await page.get_data(as_text=True))


@asynccontextmanager
async def http_sign_in(
    base_url: str, email: str, password: str = PASSWORD
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """An httpx client signed in to a live server, and its CSRF token."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        page = await client.get("/login")
        response = await client.post(
            "/login", data={"email": email, "password": password, "csrf_token": csrf_from(page.text)}
        )
        assert response.status_code == 302, response.text
        board = await client.get("/workshop/board")
        yield client, csrf_from(board.text)


@dataclass
class SseMessage:
    id: str | None
    event: str
    data: str


def parse_sse_message(lines: list[str]) -> SseMessage | None:
    """One message from the lines of one SSE block; None for a comment-only block (a heartbeat)."""
    message_id, event, data = None, "message", []
    for line in lines:
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "id":
            message_id = value
        elif name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if not data and event == "message":
        return None
    return SseMessage(message_id, event, "\n".join(data))


class SseStream:
    """An open /live connection; `next()` returns the next message (heartbeats skipped).

    One task reads the response for the stream's whole life: a `next()` that times out must not
    cancel a read half-way through, which would end the line iterator and lose the connection."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._messages: asyncio.Queue[SseMessage | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read_all())

    async def next(self, wait: float = 5.0) -> SseMessage:
        message = await asyncio.wait_for(self._messages.get(), wait)
        if message is None:
            self._messages.put_nowait(None)
            raise EOFError("stream closed")
        return message

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def _read_all(self) -> None:
        lines: list[str] = []
        try:
            async for line in self.response.aiter_lines():
                if line:
                    lines.append(line)
                    continue
                message = parse_sse_message(lines)
                lines = []
                if message is not None:
                    self._messages.put_nowait(message)
        except httpx.HTTPError:
            pass
        finally:
            self._messages.put_nowait(None)

    async def expect_silence(self, seconds: float) -> None:
        try:
            message = await self.next(wait=seconds)
        except TimeoutError:
            return
        raise AssertionError(f"expected no message, got {message}")


@asynccontextmanager
async def open_sse(
    client: httpx.AsyncClient, *topics: str, last_event_id: str | None = None, header: bool = False
) -> AsyncIterator[SseStream]:
    """A page's stream; `header` also carries the header's notices, as every page's stream does."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    params = [("topic", topic) for topic in topics] + ([("header", "1")] if header else [])
    async with client.stream("GET", "/live", params=params, headers=headers, timeout=None) as response:
        assert response.status_code == 200, await response.aread()
        stream = SseStream(response)
        try:
            yield stream
        finally:
            await stream.close()
