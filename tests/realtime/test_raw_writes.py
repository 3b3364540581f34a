"""chunked_writer: `/live` writes go straight to the connection under Hypercorn, framed as Hypercorn would.

If the bypass stopped being found (a Hypercorn upgrade), every board update would quietly cost twice
the CPU again (bench/live_fanout.py); if its framing or its hand-over to Hypercorn were wrong, browsers
would get garbled or unterminated streams, or a kept-alive connection would break on its next request.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import h11
from hypercorn.asyncio import serve
from hypercorn.config import Config

from realtime.raw_writes import chunked_writer


class StreamingApp:
    """Answers every request with a chunked body: direct writes where chunked_writer allows them."""

    def __init__(self) -> None:
        self.found_writer: list[bool] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-app", b"yes")]})
        write = chunked_writer(send)
        self.found_writer.append(write is not None)
        for number in range(3):
            chunk = f"line {number}\n".encode()
            if write is None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                continue
            pending = write(chunk)
            if pending is not None:
                await pending
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@asynccontextmanager
async def hypercorn_serving(app: Callable[..., Coroutine[Any, Any, None]]) -> AsyncIterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    stop = asyncio.Event()
    listener.close()
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    for _ in range(100):
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        break
    try:
        yield port
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, client: h11.Connection
) -> tuple[h11.Response, bytes]:
    """One GET on a kept-alive HTTP/1.1 connection, parsed by h11 as a browser would."""
    writer.write(client.send(h11.Request(method="GET", target="/live", headers=[("Host", "test")])))
    writer.write(client.send(h11.EndOfMessage()))
    response: h11.Response | None = None
    body = bytearray()
    while True:
        event = client.next_event()
        if event is h11.NEED_DATA:
            client.receive_data(await asyncio.wait_for(reader.read(65536), 5))
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            body.extend(event.data)
        elif isinstance(event, h11.EndOfMessage):
            assert response is not None
            return response, bytes(body)
        else:
            raise AssertionError(f"unexpected {event!r}")


async def test_under_hypercorn_chunks_go_straight_to_the_connection_and_the_response_ends_cleanly():
    app = StreamingApp()
    async with hypercorn_serving(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            client = h11.Connection(h11.CLIENT)
            for _ in range(2):
                response, body = await _exchange(reader, writer, client)
                assert response.status_code == 200
                assert (b"transfer-encoding", b"chunked") in response.headers
                assert body == b"line 0\nline 1\nline 2\n"
                # The same connection serves the next request: Hypercorn's h11 state was left intact.
                client.start_next_cycle()
        finally:
            writer.close()
    assert app.found_writer == [True, True]


async def test_an_http_1_0_client_is_written_through_asgi():
    app = StreamingApp()
    async with hypercorn_serving(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"GET /live HTTP/1.0\r\nHost: test\r\n\r\n")
            raw = await asyncio.wait_for(reader.read(), 5)
        finally:
            writer.close()
    # HTTP/1.0 has no chunked framing: the body is the bare bytes, ended by closing the connection.
    assert raw.endswith(b"\r\n\r\nline 0\nline 1\nline 2\n")
    assert app.found_writer == [False]


async def test_a_send_that_is_not_hypercorns_gets_no_direct_writer():
    async def send(message: dict[str, Any]) -> None:
        return None

    assert chunked_writer(send) is None
