"""Tiny in-process targets for engine tests, referenced as `tests.apps:<name>`.

The demo API (`crawler.demo.app:app`) covers a real ASGI app; these cover what it does not:
a WSGI app, and apps that raise instead of answering.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from starlette.types import Receive, Scope, Send

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def wsgi_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """WSGI: `/health` answers 200 with the method; anything else 404."""
    if environ["PATH_INFO"] == "/health":
        body = json.dumps({"status": "ok", "method": environ["REQUEST_METHOD"]}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


def failing_wsgi_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """WSGI: raises on every request, as a buggy handler does."""
    raise RuntimeError("boom from wsgi")


async def failing_asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    """ASGI: raises on every request before it starts an answer."""
    raise RuntimeError("boom from asgi")


NOT_AN_APP = "a string is not callable"


def slow_wsgi_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """WSGI: a handler stuck for 3 s (a blocking call); the crawl must not wait for it."""
    done = threading.Event()
    done.wait(3.0)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"late"]


class _FlakyApp:
    """ASGI: `/flaky` fails its first request and answers 200 after; `/broken` always 503."""

    def __init__(self) -> None:
        self.seen = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        status = 503
        if scope["path"] == "/flaky" and scope["method"] == "GET":
            self.seen += 1
            status = 503 if self.seen == 1 else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


flaky_app = _FlakyApp()
