"""Writing a long-lived `/live` response straight to its connection, under Hypercorn's ASGI send.

A board watcher receives every update for hours, so the cost of one write is paid (watchers x
updates) times: at 1000 watchers and 20 moves/s, 20,000 writes a second. Through ASGI each write
passes Hypercorn's HTTPStream, its h11 protocol, h11's chunked writer, the TCP server's send lock and
the StreamWriter before reaching the transport; the same bytes framed here and handed to the
transport take well under half the CPU (bench/live_fanout.py, bench/README.md).

ASGI has no supported way to reach the transport, so `chunked_writer` recognises Hypercorn's
HTTP/1.1 objects behind the `send` callable it was given and checks every assumption it makes; when
any of them does not hold (another server or Hypercorn version, HTTP/2, an HTTP/1.0 client), it
returns None and the caller keeps writing through ASGI, which is always correct. Each direct write
also falls back to the ASGI send whenever the socket is not plainly writable (earlier bytes still
queued, the server busy writing, the connection closing), so waiting for a slow reader, noticing a
closed connection and ending the response all stay Hypercorn's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

ChunkWrite = Callable[[bytes], Coroutine[Any, Any, None] | None]


def chunked_writer(send: Callable[[Any], Coroutine[Any, Any, None]]) -> ChunkWrite | None:
    """A write for response body chunks that bypasses the ASGI chain when it safely can.

    Call it after `http.response.start` was sent. The returned function writes one chunk in HTTP/1.1
    chunked framing directly to the transport and returns None, or, when the socket is not plainly
    writable, returns the coroutine of the ordinary ASGI send for the caller to await.
    """
    try:
        import h11
        from hypercorn.asyncio.tcp_server import TCPServer
        from hypercorn.protocol.h11 import H11Protocol
        from hypercorn.protocol.http_stream import HTTPStream
    except ImportError:
        return None
    stream = getattr(send, "__self__", None)
    protocol = getattr(getattr(stream, "send", None), "__self__", None)
    server = getattr(getattr(protocol, "send", None), "__self__", None)
    if not (
        isinstance(stream, HTTPStream)
        and isinstance(protocol, H11Protocol)
        and isinstance(server, TCPServer)
        and isinstance(protocol.connection, h11.Connection)
    ):
        return None
    connection = protocol.connection
    # h11 frames a response without a length in chunks only for an HTTP/1.1 peer, and only while
    # the body is being sent; chunked framing keeps no state in h11, so writing chunks ourselves
    # leaves it ready to write the final empty chunk when the response ends through ASGI.
    if connection.our_state is not h11.SEND_BODY or connection.their_http_version != b"1.1":
        return None
    transport = server.writer.transport
    send_lock: asyncio.Lock = server.send_lock

    def write(chunk: bytes) -> Coroutine[Any, Any, None] | None:
        if not chunk:
            return None  # an empty chunk would end the response
        if transport.get_write_buffer_size() or send_lock.locked() or transport.is_closing():
            return send({"type": "http.response.body", "body": chunk, "more_body": True})
        transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        return None

    return write
