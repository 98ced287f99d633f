"""Real loopback HTTP servers for tests: uvicorn on 127.0.0.1, port 0, in a background thread.

`serve(app)` yields the base URL once the server is listening and stops it afterwards.
`mock_app()` is a scrapy-style mock server whose routes answer with a status, a delay, a
redirect, an echo of the request or a big streamed body, and which records what it
received (`/stats`), so a test can check what reached the server, not only what came back:

    with serve(mock_app()) as base_url:
        httpx.get(f"{base_url}/status/404")          # 404 {"status": 404}
        httpx.get(f"{base_url}/stats").json()        # {"requests": 1, "methods": ["GET"], ...}

Tests talk only to these servers; nothing here reaches the internet.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

STARTUP_LIMIT_S = 10.0
SHUTDOWN_LIMIT_S = 10.0
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]


@dataclass
class Stats:
    """What one mock server received (`/stats` itself is not counted)."""

    requests: int = 0
    methods: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    inflight: int = 0
    max_inflight: int = 0
    echoes: list[dict[str, Any]] = field(default_factory=list)
    # When each request arrived (`time.monotonic()`: the tests' clock too, same process).
    arrivals: list[float] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "methods": self.methods,
            "paths": self.paths,
            "max_inflight": self.max_inflight,
            "echoes": self.echoes,
            "arrivals": self.arrivals,
        }


class MockApp:
    """The mock server's ASGI app; its `stats` belong to this instance only."""

    def __init__(self) -> None:
        self.stats = Stats()
        self._app = Starlette(
            routes=[
                Route("/status/{n:int}", self.status, methods=ALL_METHODS),
                Route("/delay", self.delay),
                Route("/redirect", self.redirect),
                Route("/echo", self.echo, methods=ALL_METHODS),
                Route("/big", self.big),
                Route("/inflight", self.inflight),
                Route("/stats", self.get_stats),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != "/stats":
            self.stats.requests += 1
            self.stats.methods.append(scope["method"])
            self.stats.paths.append(scope["path"])
            self.stats.arrivals.append(time.monotonic())
        await self._app(scope, receive, send)

    async def status(self, request: Request) -> Response:
        """`/status/{n}`: answers status n with `{"status": n}` (no body where HTTP forbids)."""
        n: int = request.path_params["n"]
        if n < 200 or n in (204, 304):
            return Response(status_code=n)
        return JSONResponse({"status": n}, status_code=n)

    async def delay(self, request: Request) -> Response:
        """`/delay?s=0.2`: waits s seconds (the server simulating latency), then 200."""
        seconds = float(request.query_params.get("s", "0.2"))
        await anyio.sleep(seconds)
        return JSONResponse({"delayed": seconds})

    async def redirect(self, request: Request) -> Response:
        """`/redirect`: 302 to `/status/200`."""
        return RedirectResponse("/status/200", status_code=302)

    async def echo(self, request: Request) -> Response:
        """`/echo`: the method, headers, query and body as JSON (also kept in the stats)."""
        body = await request.body()
        payload = {
            "method": request.method,
            "headers": dict(request.headers),
            "query": dict(request.query_params),
            "body": body.decode("utf-8", errors="replace"),
        }
        self.stats.echoes.append(payload)
        return JSONResponse(payload)

    async def big(self, request: Request) -> Response:
        """`/big?kb=N`: streams N KiB of `x`, 16 KiB at a time."""
        kib = int(request.query_params.get("kb", "1"))

        async def chunks() -> AsyncIterator[bytes]:
            left = kib
            while left > 0:
                step = min(16, left)
                yield b"x" * (1024 * step)
                left -= step

        return StreamingResponse(chunks(), media_type="text/plain")

    async def inflight(self, request: Request) -> Response:
        """`/inflight`: counts requests in flight (and the most seen at once) for ~50 ms."""
        stats = self.stats
        stats.inflight += 1
        stats.max_inflight = max(stats.max_inflight, stats.inflight)
        try:
            await anyio.sleep(0.05)  # server-side latency, so that concurrent requests overlap
        finally:
            stats.inflight -= 1
        return JSONResponse({"ok": True})

    async def get_stats(self, request: Request) -> Response:
        """`/stats`: what this server received so far."""
        return Response(json.dumps(self.stats.as_json()), media_type="application/json")


def mock_app() -> MockApp:
    """A fresh mock server app with its own, empty stats."""
    return MockApp()


@dataclass(frozen=True)
class TLSFiles:
    """A server certificate and key (PEM), and the CA its clients must be signed by, if any."""

    cert: Path
    key: Path
    client_ca: Path | None = None


class _Server(uvicorn.Server):
    """A uvicorn server that signals once it is listening."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextmanager
def serve(app: ASGIApp, tls: TLSFiles | None = None) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a free port) in a thread; yield its base URL; stop it.

    With `tls`, the server speaks HTTPS with that certificate (and, when `tls.client_ca` is
    set, refuses a client without a certificate signed by that CA); the URL is https://.
    """
    options: dict[str, Any] = {}
    if tls is not None:
        options = {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)}
        if tls.client_ca is not None:
            options |= {"ssl_ca_certs": str(tls.client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        ws="none",
        log_level="critical" if tls else "warning",  # refused handshakes are the point
        access_log=False,
        timeout_graceful_shutdown=2,
        **options,
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while not server.ready.wait(0.05):
            if not thread.is_alive():
                raise RuntimeError("the test server stopped before it was listening")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test server did not start within {STARTUP_LIMIT_S:g} s")
        if not server.started:  # startup failed (e.g. the port could not be bound)
            raise RuntimeError("the test server could not start listening")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_LIMIT_S)
        if thread.is_alive():  # pragma: no cover - a hung server must not go unnoticed
            raise RuntimeError(f"the test server did not stop within {SHUTDOWN_LIMIT_S:g} s")


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, read, closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
