"""A forward proxy for tests: raw asyncio on 127.0.0.1, port 0, in a thread, counting what
passes through it. It forwards plain HTTP requests in absolute form
(`GET http://127.0.0.1:5000/x HTTP/1.1`) one per connection, and tunnels `CONNECT` (for
https targets) byte for byte. Every upstream it reaches is on 127.0.0.1: tests point it
only at servers they started themselves.

    with serve_proxy() as proxy:
        crawl through proxy.url ...
        proxy.forwarded    # ["GET http://127.0.0.1:5000/ok", ...]
        proxy.tunnels      # ["127.0.0.1:5443", ...]
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

LIMIT_S = 10.0


@dataclass
class Proxy:
    port: int = 0
    forwarded: list[str] = field(default_factory=list)
    tunnels: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    open_writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            if method == "CONNECT":
                await self._tunnel(target, reader, writer)
            else:
                await self._forward(method, target, head, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self.open_writers.discard(writer)
            writer.close()

    async def _tunnel(
        self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, _, port = target.rpartition(":")
        if host != "127.0.0.1":
            self.refused.append(target)
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        self.tunnels.append(target)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await _pipe_both(reader, writer, up_reader, up_writer)

    async def _forward(
        self,
        method: str,
        target: str,
        head: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        url = urlsplit(target)
        if url.hostname != "127.0.0.1" or url.port is None:
            self.refused.append(target)
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        self.forwarded.append(f"{method} {target}")
        lines = head.decode("latin-1").split("\r\n")[1:]
        headers = [
            line
            for line in lines
            if line and not line.lower().startswith(("connection:", "proxy-", "keep-alive:"))
        ]
        length = next(
            (int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")),
            0,
        )
        body = await reader.readexactly(length) if length else b""
        origin = url.path + (f"?{url.query}" if url.query else "") or "/"
        request = "\r\n".join([f"{method} {origin} HTTP/1.1", *headers, "Connection: close"])
        up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port)
        up_writer.write(request.encode("latin-1") + b"\r\n\r\n" + body)
        await up_writer.drain()
        answer = await up_reader.read()  # the upstream closes: Connection: close
        up_writer.close()
        # One request per client connection: tell the client so, then close.
        head_end = answer.find(b"\r\n\r\n")
        answer = answer[:head_end] + b"\r\nProxy-Connection: close" + answer[head_end:]
        writer.write(answer)
        await writer.drain()


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()

    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@contextmanager
def serve_proxy() -> Iterator[Proxy]:
    """Run a `Proxy` in a background thread; yield it once it listens; stop it after."""
    proxy = Proxy()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    servers: list[asyncio.Server] = []

    async def start() -> None:
        server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
        proxy.port = server.sockets[0].getsockname()[1]
        servers.append(server)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    async def stop() -> None:
        for server in servers:
            server.close()
        for writer in proxy.open_writers:
            writer.transport.abort()

    thread = threading.Thread(target=run, name="test-proxy", daemon=True)
    thread.start()
    if not ready.wait(LIMIT_S):
        raise RuntimeError("the test proxy did not start")
    try:
        yield proxy
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(LIMIT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(LIMIT_S)
        loop.close()
