"""`engine.describe_error`: exception chains as both transports raise them -> stable codes."""

from __future__ import annotations

import socket
import ssl

import aiohttp
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey

from crawler import engine

TIMEOUT = 5.0


def caused(outer: BaseException, *inner: BaseException) -> BaseException:
    """`outer` raised `from` inner[0], which was raised `from` inner[1] ..."""
    current = outer
    for cause in inner:
        current.__cause__ = cause
        current = cause
    return outer


def cert_error(message: str | None) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED]")
    if message is not None:  # set by the ssl module on real errors; absent when constructed
        error.verify_message = message
    return error


def dns_error() -> aiohttp.ClientConnectorDNSError:
    key = ConnectionKey("nonexistent.invalid", 80, False, True, None, None, None)
    return aiohttp.ClientConnectorDNSError(
        key, socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    )


CASES: list[tuple[str, BaseException, str, str]] = [
    (
        "httpx refused",
        caused(httpx.ConnectError("All connection attempts failed"), ConnectionRefusedError(111)),
        "connect_refused",
        "connection refused",
    ),
    (
        "refused deep in the chain (aiohttp connector error under httpx)",
        caused(
            httpx.ConnectError("Cannot connect to host"),
            aiohttp.ClientConnectionError("Cannot connect to host"),
            ConnectionRefusedError(111, "Connect call failed"),
        ),
        "connect_refused",
        "connection refused",
    ),
    (
        "TLS certificate",
        caused(httpx.ConnectError("verify failed"), cert_error("self-signed certificate")),
        "tls",
        "TLS certificate verify failed: self-signed certificate",
    ),
    (
        "TLS certificate without verify_message",
        caused(httpx.ConnectError("verify failed"), cert_error(None)),
        "tls",
        "TLS certificate verify failed: certificate verify failed",
    ),
    (
        "other TLS error",
        caused(httpx.ConnectError("handshake"), ssl.SSLError(1, "wrong version number")),
        "tls",
        "TLS error: ",
    ),
    (
        "httpx DNS",
        caused(
            httpx.ConnectError("[Errno -2] Name or service not known"),
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        ),
        "dns",
        "DNS lookup failed (no such host)",
    ),
    (
        "aiohttp DNS",
        caused(httpx.ConnectError("Cannot connect to host"), dns_error()),
        "dns",
        "DNS lookup failed (no such host)",
    ),
    (
        "reset",
        caused(httpx.ReadError("reset"), ConnectionResetError(104, "Connection reset by peer")),
        "reset",
        "connection reset by peer",
    ),
    (
        "httpx read timeout",
        httpx.ReadTimeout("timed out"),
        "read_timeout",
        "read timeout after 5 s",
    ),
    (
        "aiohttp read timeout (SocketTimeoutError mapped to ReadTimeout)",
        caused(
            httpx.ReadTimeout("Timeout on reading data from socket"), aiohttp.SocketTimeoutError()
        ),
        "read_timeout",
        "read timeout after 5 s",
    ),
    (
        "connect timeout",
        httpx.ConnectTimeout("timed out"),
        "connect_timeout",
        "connect timeout after 5 s",
    ),
    ("write timeout", httpx.WriteTimeout("timed out"), "write_timeout", "write timeout after 5 s"),
    ("pool timeout", httpx.PoolTimeout("timed out"), "timeout", "timed out after 5 s"),
    (
        "httpx server disconnected",
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        "reset",
        "server closed the connection without a complete answer",
    ),
    (
        "aiohttp ServerDisconnectedError wrapped in ConnectTimeout, as httpx-aiohttp does",
        caused(httpx.ConnectTimeout("Server disconnected"), aiohttp.ServerDisconnectedError()),
        "reset",
        "server closed the connection without a complete answer",
    ),
    (
        "malformed answer",
        httpx.RemoteProtocolError("illegal status line: bytearray(b'garbage')"),
        "protocol",
        "protocol error: illegal status line: bytearray(b'garbage')",
    ),
    (
        "bad content encoding",
        httpx.DecodingError("Error -3 while decompressing data"),
        "protocol",
        "protocol error: Error -3 while decompressing data",
    ),
    (
        "connect error of no known kind",
        httpx.ConnectError("network is unreachable"),
        "connect_refused",
        "cannot connect: network is unreachable",
    ),
    (
        "too many redirects",
        httpx.TooManyRedirects("Exceeded maximum allowed redirects."),
        "too_many_redirects",
        "too many redirects",
    ),
    ("some other OS error", OSError("no buffer space"), "other", "OSError: no buffer space"),
    (
        "the app raised",
        RuntimeError("boom\nsecond line"),
        "app_error",
        "the app raised RuntimeError: boom",
    ),
    ("an exception without a message", ValueError(), "app_error", "the app raised ValueError: "),
]


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [pytest.param(exc, code, message, id=name) for name, exc, code, message in CASES],
)
def test_describe_error(exc: BaseException, code: str, message: str) -> None:
    got_code, got_message = engine.describe_error(exc, TIMEOUT)
    assert got_code == code
    assert got_message.startswith(message)


def test_timeouts_are_shown_as_given() -> None:
    assert engine.describe_error(httpx.ReadTimeout(""), 0.25) == (
        "read_timeout",
        "read timeout after 0.25 s",
    )


def test_implicit_context_is_followed_too() -> None:
    # `raise X` inside `except Y` links Y as __context__ rather than __cause__.
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError:
            raise httpx.ConnectError("All connection attempts failed")  # noqa: B904
    except httpx.ConnectError as exc:
        assert engine.describe_error(exc, TIMEOUT) == ("connect_refused", "connection refused")


def test_a_cyclic_chain_terminates() -> None:
    outer = httpx.ReadTimeout("timed out")
    inner = OSError("inner")
    outer.__cause__ = inner
    inner.__cause__ = outer
    assert engine.describe_error(outer, TIMEOUT)[0] == "read_timeout"


def test_a_long_message_is_cut_to_its_first_line_and_200_characters() -> None:
    _, message = engine.describe_error(RuntimeError("x" * 500 + "\nmore"), TIMEOUT)
    assert message == "the app raised RuntimeError: " + "x" * 200


def test_aiohttp_os_error_wrapped_as_connect_timeout_is_not_a_timeout() -> None:
    """httpx-aiohttp maps every aiohttp connection error to httpx.ConnectTimeout."""
    import aiohttp

    inner = aiohttp.ClientOSError(32, "Broken pipe")
    outer = httpx.ConnectTimeout("Broken pipe")
    outer.__cause__ = inner
    code, message = engine.describe_error(outer, 5.0)
    assert code == "reset"
    assert message.startswith("connection error:")
