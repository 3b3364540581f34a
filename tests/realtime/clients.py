"""Clients for the live endpoints that httpx does not provide (a WebSocket client, a browser tab that
stops reading), and a live server whose sockets buffer little, so that a stalled tab shows quickly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import h11
import httpx
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

from ops.config import Settings
from ops.db import Database
from ops.workshop import queries
from ops.workshop.service import move_work_order
from tests.conftest import LiveServer, start_live_server
from tests.factories import TenantHandle
from tests.web import SseMessage, parse_sse_message


def cookie_header(client: httpx.AsyncClient) -> str:
    """The session cookie of a signed-in httpx client, for a connection httpx does not make."""
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


async def move_card(db: Database, shop: TenantHandle, work_order_id: int, status: str) -> None:
    """Move a card through the real service as the shop's admin, at its current version."""
    async with db.read(shop.id) as session:
        card = await queries.card(session, work_order_id)
    assert card is not None
    async with db.uow(shop.admin.actor) as uow:
        await move_work_order(uow, work_order_id, status, card.version)


class WebSocketRejected(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"handshake rejected with HTTP {status_code}")
        self.status_code = status_code


class WebSocketClient:
    """A JSON-over-WebSocket client (RFC 6455 through wsproto, which Hypercorn itself uses)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ws: WSConnection) -> None:
        self._reader = reader
        self._writer = writer
        self._ws = ws
        self._inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.close_code: int | None = None
        self._text = ""
        self._pump = asyncio.create_task(self._read_forever())

    @classmethod
    async def connect(
        cls, base_url: str, cookie: str | None = None, path: str = "/ws", origin: str | None = None
    ) -> WebSocketClient:
        url = urlsplit(base_url)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        ws = WSConnection(ConnectionType.CLIENT)
        headers = [(b"cookie", cookie.encode())] if cookie else []
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        writer.write(ws.send(Request(host=url.netloc, target=path, extra_headers=headers)))
        await writer.drain()
        while True:
            data = await asyncio.wait_for(reader.read(65536), 10)
            ws.receive_data(data or None)
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    return cls(reader, writer, ws)
                if isinstance(event, RejectConnection):
                    writer.close()
                    raise WebSocketRejected(event.status_code)
            if not data:
                writer.close()
                raise ConnectionError("server closed the connection during the handshake")

    async def _read_forever(self) -> None:
        try:
            while True:
                data = await self._reader.read(65536)
                self._ws.receive_data(data or None)
                for event in self._ws.events():
                    if isinstance(event, TextMessage):
                        self._text += event.data
                        if event.message_finished:
                            self._inbox.put_nowait(json.loads(self._text))
                            self._text = ""
                    elif isinstance(event, Ping):
                        self._writer.write(self._ws.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        self.close_code = event.code
                        with contextlib.suppress(Exception):
                            self._writer.write(self._ws.send(event.response()))
                        return
                if not data:
                    return
        finally:
            self._inbox.put_nowait(None)

    async def send(self, message: dict[str, Any]) -> None:
        self._writer.write(self._ws.send(TextMessage(data=json.dumps(message))))
        await self._writer.drain()

    async def receive(self, wait: float = 5.0) -> dict[str, Any]:
        message = await asyncio.wait_for(self._inbox.get(), wait)
        if message is None:
            self._inbox.put_nowait(None)
            raise EOFError(f"websocket closed (code {self.close_code})")
        return message

    async def receive_until(
        self, wanted: Callable[[dict[str, Any]], bool], wait: float = 10.0
    ) -> dict[str, Any]:
        """The first message that `wanted` accepts; earlier ones (e.g. an older count) are passed over."""

        async def scan() -> dict[str, Any]:
            while True:
                message = await self.receive(wait)
                if wanted(message):
                    return message

        return await asyncio.wait_for(scan(), wait)

    async def close(self) -> None:
        if not self._pump.done():
            with contextlib.suppress(Exception):
                self._writer.write(self._ws.send(CloseConnection(code=1000)))
                await self._writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pump), 5)
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()


class StalledSseClient:
    """A tab that stops reading `/live`: its socket has a tiny receive buffer and nothing reads it
    until `read_all()`, so once the server's buffers are full its writes to this tab block."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    @classmethod
    async def open(cls, base_url: str, cookie: str, topics: list[str]) -> StalledSseClient:
        url = urlsplit(base_url)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (url.hostname, url.port))
        query = "&".join(f"topic={topic}" for topic in topics)
        request = (
            f"GET /live?{query} HTTP/1.1\r\nHost: {url.netloc}\r\nAccept: text/event-stream\r\n"
            f"Cookie: {cookie}\r\n\r\n"
        )
        await loop.sock_sendall(sock, request.encode())
        return cls(sock)

    async def read_all(self, wait: float = 15.0) -> tuple[int, list[SseMessage], bool]:
        """Read until the server ends the response (or `wait` passes).

        Returns the status, the messages, and whether the server ended the response."""
        loop = asyncio.get_running_loop()
        parser = h11.Connection(our_role=h11.CLIENT)
        parser.send(h11.Request(method="GET", target="/live", headers=[("Host", "stalled")]))
        parser.send(h11.EndOfMessage())
        status, body, ended = 0, bytearray(), False

        async def pump() -> None:
            nonlocal status, ended
            while not ended:
                event = parser.next_event()
                if event is h11.NEED_DATA:
                    parser.receive_data(await loop.sock_recv(self._sock, 65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    body.extend(event.data)
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    ended = True

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pump(), wait)
        return status, parse_sse(bytes(body)), ended

    async def close(self) -> None:
        self._sock.close()


def parse_sse(raw: bytes) -> list[SseMessage]:
    """The messages in an SSE body (comments and the retry prelude are not messages)."""
    blocks = (parse_sse_message(block.splitlines()) for block in raw.decode().split("\n\n"))
    return [message for message in blocks if message is not None and message.data]


@asynccontextmanager
async def running_server(
    settings: Settings, *, send_buffer_bytes: int | None = None
) -> AsyncIterator[LiveServer]:
    """A live server with settings of the test's own (short heartbeats, tiny mailboxes, a worker).

    `send_buffer_bytes` caps the kernel's send buffer of every accepted connection (inherited from
    the listening socket), so a client that stops reading blocks the server's writes after a few
    dozen kilobytes instead of a few megabytes."""
    if send_buffer_bytes is None:
        server, stop, task = await start_live_server(settings)
    else:
        server, stop, task = await _serve_with_small_send_buffers(settings, send_buffer_bytes)
    try:
        yield server
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def _serve_with_small_send_buffers(
    settings: Settings, send_buffer_bytes: int
) -> tuple[LiveServer, asyncio.Event, asyncio.Task[None]]:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer_bytes)
    listener.bind(("127.0.0.1", 0))
    return await start_live_server(settings, listener)


async def wait_until(condition: Callable[[], bool], wait: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + wait
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
