"""Serve the demo API over HTTP: `python -m crawler.demo [--host 127.0.0.1] [--port 8000]`.

The socket is bound and listening before the first line is printed, so whoever reads that
line (a person, or a test that asked for `--port 0`) can connect at once: connections wait
in the backlog until uvicorn accepts them.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: the kernel picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crawler.demo",
        description="Serve the demo API (deliberate faults included).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8000, help="port to bind; 0 picks a free one (default 8000)"
    )
    args = parser.parse_args(argv)
    try:
        import uvicorn

        from crawler.demo.app import app
    except ImportError as exc:
        parser.exit(2, f"The demo needs {exc.name}; install it with: pip install 'crawler[demo]'\n")
    try:
        sock = _listen(args.host, args.port)
    except OSError as exc:
        parser.exit(2, f"Cannot listen on {args.host}:{args.port}: {exc.strerror}; try --port 0.\n")
    with sock:
        port = sock.getsockname()[1]
        host = f"[{args.host}]" if ":" in args.host else args.host
        url = f"http://{host}:{port}"
        print(
            f"Demo API serving at {url}; crawl it with: "
            f"crawler run specs/demo.yaml --base-url {url}",
            flush=True,
        )
        config = uvicorn.Config(app, host=args.host, port=port, log_level="info")
        try:
            uvicorn.Server(config).run(sockets=[sock])
        except KeyboardInterrupt:
            return 130  # Ctrl+C: uvicorn has shut down cleanly already; no traceback
    return 0


if __name__ == "__main__":
    sys.exit(main())
