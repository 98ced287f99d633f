"""A fault-injection HTTP server for tests: raw asyncio on 127.0.0.1, port 0, in a thread.

Frameworks cannot misbehave enough (reset a socket, send garbage, never answer), so this
server speaks HTTP/1.1 by hand. `serve_faults()` yields it once it is listening and stops
it afterwards, cancelling whatever handlers are still running (`/never`, `/drip`):

    with serve_faults() as server:
        httpx.get(f"{server.base_url}/ok")              # 200 ok
        server.count("/503-then-200")                   # requests that path received

Routes (see `FAULTS` for what each proves):
    /ok                   200, a short body
    /reset-before-headers the socket is reset (RST) as soon as the request is read
    /reset-mid-body       Content-Length 1000, 10 bytes, then reset
    /never                the request is read, no answer ever comes
    /drip                 headers, then one byte every 0.5 s (`?every=`) until the client goes
    /big                  a 1 GiB body generated lazily, until the client goes
    /gzip-bomb            Content-Encoding: gzip, ~1 MB that inflates to 1 GiB of zeros
    /redirect-loop        302 to itself
    /garbage              bytes that are not HTTP
    /http10               HTTP/1.0 200 with Connection: close and no length
    /429                  429 with Retry-After: 1
    /503-then-200         503 (Retry-After: 0) the first time per `?key=`, then 200
    /non-utf8             500 with a latin-1 body declared utf-8
    /huge-header          200 with a 100 KB header value

TLS faults (a self-signed certificate) are served by uvicorn with certificates from `tls.py`.
Tests talk only to this server; nothing here reaches the internet.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

STARTUP_LIMIT_S = 10.0
SHUTDOWN_LIMIT_S = 10.0
HEAD_LIMIT = 64 * 1024
GIB = 1 << 30
MIB = 1 << 20

Writer = asyncio.StreamWriter


def _head(status: str, headers: list[tuple[str, str]], version: str = "HTTP/1.1") -> bytes:
    lines = [f"{version} {status}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _answer(status: str, body: bytes, *extra: tuple[str, str]) -> bytes:
    # Connection: close: every answer ends its connection, so no client reuses a closed one.
    headers = [
        ("Content-Length", str(len(body))),
        ("Content-Type", "text/plain"),
        ("Connection", "close"),
        *extra,
    ]
    return _head(status, headers) + body


def _reset(writer: Writer) -> None:
    """Close with a TCP RST (SO_LINGER 0), not a polite FIN: 'connection reset by peer'."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@functools.cache
def gzip_bomb() -> bytes:
    """A gzip body of ~1 MB that inflates to 1 GiB of zeros; built once, in ~0.3 s.

    Each MiB of zeros is compressed after a full flush (which resets the dictionary and
    aligns to a byte), so every MiB after the first compresses to the same bytes: one is
    computed and repeated. An empty final block and the real CRC and length close it.
    """
    zeros = bytes(MIB)
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = raw.compress(zeros) + raw.flush(zlib.Z_FULL_FLUSH)
    block = raw.compress(zeros) + raw.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(GIB // MIB):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    final_empty_block = b"\x03\x00"
    trailer = struct.pack("<II", crc, GIB & 0xFFFFFFFF)
    return header + first + block * (GIB // MIB - 1) + final_empty_block + trailer


class FaultServer:
    """The server's state: where it listens and how many requests each path received."""

    def __init__(self) -> None:
        self.port = 0
        self.requests: Counter[str] = Counter()
        self._seen_keys: set[str] = set()
        self.stopping = asyncio.Event()  # set when the server stops: hanging routes return
        self._routes: dict[str, Callable[[Writer, dict[str, list[str]]], Awaitable[None]]] = {
            "/ok": self._ok,
            "/reset-before-headers": self._reset_before_headers,
            "/reset-mid-body": self._reset_mid_body,
            "/never": self._never,
            "/drip": self._drip,
            "/big": self._big,
            "/gzip-bomb": self._gzip_bomb,
            "/redirect-loop": self._redirect_loop,
            "/garbage": self._garbage,
            "/http10": self._http10,
            "/429": self._too_many,
            "/503-then-200": self._unavailable_then_ok,
            "/non-utf8": self._non_utf8,
            "/huge-header": self._huge_header,
        }

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, path: str) -> int:
        return self.requests[path]

    async def handle(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > HEAD_LIMIT:
                return
            target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
            parts = urlsplit(target)
            self.requests[parts.path] += 1
            route = self._routes.get(parts.path, self._not_found)
            await route(writer, parse_qs(parts.query))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away: that is what several routes wait for
        finally:
            if not writer.transport.is_closing():
                writer.transport.abort()

    async def _send(self, writer: Writer, data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        # Close after the last byte: the client reads to the end and sees no more is coming.
        writer.close()
        await writer.wait_closed()

    async def _not_found(self, writer: Writer, query: dict[str, list[str]]) -> None:
        await self._send(writer, _answer("404 Not Found", b"no such fault"))

    async def _ok(self, writer: Writer, query: dict[str, list[str]]) -> None:
        await self._send(writer, _answer("200 OK", b"ok"))

    async def _reset_before_headers(self, writer: Writer, query: dict[str, list[str]]) -> None:
        _reset(writer)

    async def _reset_mid_body(self, writer: Writer, query: dict[str, list[str]]) -> None:
        writer.write(_head("200 OK", [("Content-Length", "1000")]) + b"0123456789")
        await writer.drain()
        await asyncio.sleep(0.05)  # let the ten bytes reach the client before the reset
        _reset(writer)

    async def _never(self, writer: Writer, query: dict[str, list[str]]) -> None:
        await self.stopping.wait()

    async def _drip(self, writer: Writer, query: dict[str, list[str]]) -> None:
        every = float(query.get("every", ["0.5"])[0])
        writer.write(_head("200 OK", [("Content-Length", str(MIB))]))
        while True:
            writer.write(b".")
            await writer.drain()
            if writer.transport.is_closing() or await self._stopped_within(every):
                return

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _big(self, writer: Writer, query: dict[str, list[str]]) -> None:
        writer.write(_head("200 OK", [("Content-Length", str(GIB))]))
        chunk = bytes(64 * 1024)
        for _ in range(GIB // len(chunk)):
            writer.write(chunk)
            await writer.drain()  # raises once the client has gone: the rest is never made
            if writer.transport.is_closing() or self.stopping.is_set():
                return

    async def _gzip_bomb(self, writer: Writer, query: dict[str, list[str]]) -> None:
        body = gzip_bomb()
        headers = [
            ("Content-Length", str(len(body))),
            ("Content-Encoding", "gzip"),
            ("Connection", "close"),
        ]
        await self._send(writer, _head("200 OK", headers) + body)

    async def _redirect_loop(self, writer: Writer, query: dict[str, list[str]]) -> None:
        await self._send(writer, _answer("302 Found", b"", ("Location", "/redirect-loop")))

    async def _garbage(self, writer: Writer, query: dict[str, list[str]]) -> None:
        await self._send(writer, b"\x00\xff\xfeNOT HTTP AT ALL\r\n\x07\x08garbage\r\n\r\n")

    async def _http10(self, writer: Writer, query: dict[str, list[str]]) -> None:
        head = _head("200 OK", [("Connection", "close")], version="HTTP/1.0")
        await self._send(writer, head + b"an HTTP/1.0 body that ends when the socket closes")

    async def _too_many(self, writer: Writer, query: dict[str, list[str]]) -> None:
        await self._send(
            writer, _answer("429 Too Many Requests", b"slow down", ("Retry-After", "1"))
        )

    async def _unavailable_then_ok(self, writer: Writer, query: dict[str, list[str]]) -> None:
        key = query.get("key", [""])[0]
        if key not in self._seen_keys:
            self._seen_keys.add(key)
            answer = _answer("503 Service Unavailable", b"warming up", ("Retry-After", "0"))
            await self._send(writer, answer)
            return
        await self._send(writer, _answer("200 OK", b"ready"))

    async def _non_utf8(self, writer: Writer, query: dict[str, list[str]]) -> None:
        body = "café crème: déjà vu".encode("latin-1")
        answer = _answer(
            "500 Internal Server Error", body, ("Content-Type", "text/plain; charset=utf-8")
        )
        await self._send(writer, answer)

    async def _huge_header(self, writer: Writer, query: dict[str, list[str]]) -> None:
        await self._send(writer, _answer("200 OK", b"ok", ("X-Huge", "h" * 100_000)))


@contextmanager
def serve_faults() -> Iterator[FaultServer]:
    """Run a `FaultServer` in a background thread; yield it once it listens; stop it after."""
    server = FaultServer()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    handlers: dict[asyncio.Task[None], Writer] = {}
    listening: list[asyncio.Server] = []

    async def handle(reader: asyncio.StreamReader, writer: Writer) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers[task] = writer
        try:
            await server.handle(reader, writer)
        finally:
            handlers.pop(task, None)

    async def start() -> None:
        listener = await asyncio.start_server(handle, "127.0.0.1", 0, limit=HEAD_LIMIT)
        server.port = listener.sockets[0].getsockname()[1]
        listening.append(listener)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    async def stop() -> None:
        # No task is cancelled (asyncio would log it): hanging routes wait on `stopping`,
        # and a route blocked writing to a client that stopped reading sees the abort.
        server.stopping.set()
        for listener in listening:
            listener.close()
        for writer in list(handlers.values()):
            writer.transport.abort()
        await asyncio.gather(*handlers, return_exceptions=True)

    thread = threading.Thread(target=run, name="fault-server", daemon=True)
    thread.start()
    if not ready.wait(STARTUP_LIMIT_S):
        raise RuntimeError(f"the fault server did not start within {STARTUP_LIMIT_S:g} s")
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(SHUTDOWN_LIMIT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(SHUTDOWN_LIMIT_S)
        loop.close()
