"""Loopback servers for the benchmarks, each in its own process: a fast one and a slow one."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
BODY = b'{"ok":true}'
SLOW_DELAY_S = 0.1
READY_DEADLINE_S = 15.0

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


# --- the apps (raw ASGI, no framework: the server should cost as little CPU as it can) ----


async def fast_app(scope: Scope, receive: Receive, send: Send) -> None:
    """200 `{"ok":true}` for every path, at once."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": BODY})


async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
    """200 `{"ok":true}` for every path, after 100 ms."""
    if scope["type"] != "http":
        return
    await asyncio.sleep(SLOW_DELAY_S)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": BODY})


# --- processes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """A running loopback server: what it is and where it listens."""

    kind: str  # e.g. "nginx 1.26" or "uvicorn (h11), raw ASGI"
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it; the child binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes], deadline_s: float) -> None:
    """Poll a TCP connect until it succeeds; fail if the process dies or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} not ready within {deadline_s:g} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate one process we started; kill it if it does not leave within 5 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _has_module(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None


def _uvicorn(app: str) -> tuple[list[str], str]:
    http = "httptools" if _has_module("httptools") else "h11"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        f"servers:{app}",
        "--app-dir",
        str(Path(__file__).parent),
        "--host",
        HOST,
        "--log-level",
        "warning",
        "--no-access-log",
        "--lifespan",
        "off",
        "--http",
        http,
    ]
    return command, f"uvicorn ({http}), raw ASGI"


_NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 100000;
    server {{
        listen {host}:{port};
        default_type application/json;
        location / {{ return 200 '{{"ok":true}}'; }}
    }}
}}
"""


@contextmanager
def _process(command: list[str], port: int, kind: str) -> Iterator[Server]:
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    try:
        wait_ready(port, process, READY_DEADLINE_S)
        yield Server(kind=kind, port=port)
    finally:
        stop(process)


APT_LIMIT_S = 300


def ensure_nginx() -> tuple[str | None, str]:
    """nginx's path, installing it with apt-get when it is missing and we are root; else
    None and why (the bench then says so and uses uvicorn)."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if found:
        return found, ""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, "nginx not installed (installing it needs root and apt-get)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "nginx"]):
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, env=env, timeout=APT_LIMIT_S, check=False
            )
        except subprocess.TimeoutExpired:
            return None, f"nginx not installed: `{' '.join(command)}` took over {APT_LIMIT_S} s"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
            return None, f"nginx not installed: `{' '.join(command)}` failed: {' '.join(tail)}"
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    return (found, "installed with apt-get") if found else (None, "apt-get installed no nginx")


@contextmanager
def fast_server() -> Iterator[Server]:
    """nginx (installed with apt-get if missing and root), else uvicorn with `fast_app`."""
    port = free_port()
    nginx, note = ensure_nginx()
    if note:
        print(f"bench: {note}", file=sys.stderr, flush=True)
    if nginx is None:
        command, kind = _uvicorn("fast_app")
        with _process([*command, "--port", str(port)], port, kind) as server:
            yield server
        return
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(_NGINX_CONF.format(tmp=tmp, host=HOST, port=port), encoding="utf-8")
        version = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False)
        kind = version.stderr.strip().removeprefix("nginx version: ") or "nginx"
        with _process([nginx, "-p", tmp, "-c", str(conf)], port, kind) as server:
            yield server


@contextmanager
def slow_server() -> Iterator[Server]:
    """uvicorn with the raw `slow_app` (every answer after 100 ms)."""
    port = free_port()
    command, kind = _uvicorn("slow_app")
    with _process([*command, "--port", str(port)], port, f"{kind}, sleep 0.1 s") as server:
        yield server


if __name__ == "__main__":  # a quick look: start both, print where, stop on Enter
    with fast_server() as fast, slow_server() as slow:
        print(f"fast: {fast.base_url} ({fast.kind})\nslow: {slow.base_url} ({slow.kind})")
        print(f"pid {os.getpid()}; press Enter to stop")
        input()
