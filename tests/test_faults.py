"""Fault injection: every misbehaviour of `faults.serve_faults()` is a row, never a crash.

Each fault is crawled between two healthy checks, over both live transports: the crawl
finishes, the fault's row has a specific human reason, the healthy rows still PASS, and
the time and memory it costs stay bounded. `docs/reliability.md` is the table of what the
suite observes (`UPDATE_RELIABILITY=1` regenerates it; otherwise it must match).
"""

from __future__ import annotations

import json
import os
import resource
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from click.testing import CliRunner
from faults import FaultServer, serve_faults
from servers import MockApp, TLSFiles, serve
from tls import make_certs

from crawler import engine, manifest
from crawler.cli import cli
from crawler.manifest import PlannedCheck
from crawler.results import CheckResult, NotSent, Response, TransportError, load_run

TIMEOUT = 0.5
CAP = 64 * 1024
# Growth of the process's peak memory that a crawl of a 1 GiB body may cost at most.
RSS_LIMIT = 200 * 1024 * 1024
# Peak of Python allocations during such a crawl: tight enough that inflating one whole
# 64 KB chunk of the gzip bomb (~64 MiB, as httpx's own decoder does) fails it.
TRACED_LIMIT = 32 * 1024 * 1024
RELIABILITY = Path(__file__).parent.parent / "docs" / "reliability.md"


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with serve_faults() as running:
        yield running


def plan(*checks: str | dict[str, Any]) -> list[PlannedCheck]:
    document = {"version": 1, "name": "faults", "groups": {"Faults": list(checks)}}
    return manifest.loads(json.dumps(document)).planned(TIMEOUT)


async def crawl(
    server: FaultServer, checks: list[PlannedCheck], **settings: Any
) -> list[CheckResult]:
    config = engine.Settings(**{"timeout": TIMEOUT, "body_cap": CAP, **settings})
    async with engine.open_client(engine.Target(base_url=server.base_url), config) as client:
        return await engine.crawl(checks, client, config)


def max_rss() -> int:
    """The process's peak resident memory so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass(frozen=True)
class Fault:
    """A route of the fault server and what crawler must make of it, per transport."""

    title: str
    route: str
    verdict: str
    reason: str
    # Where the transports differ: transport -> (verdict, reason).
    otherwise: tuple[tuple[engine.Transport, str, str], ...] = ()
    note: str = ""

    def expected(self, transport: engine.Transport) -> tuple[str, str]:
        for name, verdict, reason in self.otherwise:
            if name == transport:
                return verdict, reason
        return self.verdict, self.reason


TRUNCATED = f"body over {CAP // 1024} KiB cap, truncated"
WHOLE_CHECK = f"no complete answer within {2 * TIMEOUT:g} s (whole-check limit)"

FAULTS = [
    Fault(
        "connection reset before headers",
        "/reset-before-headers",
        "ERROR",
        "connection reset by peer",
    ),
    Fault(
        "connection reset mid-body",
        "/reset-mid-body",
        "ERROR",
        "connection reset by peer",
        otherwise=(("aiohttp", "ERROR", "connection closed mid-body (received 10 of 1000 bytes)"),),
    ),
    Fault("accepts, never answers", "/never", "ERROR", f"read timeout after {TIMEOUT:g} s"),
    Fault("headers, then a body that drips", "/drip?every=0.1", "ERROR", WHOLE_CHECK),
    Fault("1 GiB streamed body", "/big", "PASS", "", note=TRUNCATED),
    Fault("gzip bomb (1 MB -> 1 GiB)", "/gzip-bomb", "PASS", "", note=TRUNCATED),
    Fault("redirect loop", "/redirect-loop", "FAIL", "expected 200, got 302 -> /redirect-loop"),
    Fault(
        "garbage instead of HTTP",
        "/garbage",
        "ERROR",
        "protocol error: illegal status line: bytearray(b'\\x00\\xff\\xfeNOT HTTP AT ALL')",
        otherwise=(("aiohttp", "ERROR", "protocol error: bad status line (not an HTTP answer)"),),
    ),
    Fault("HTTP/1.0, Connection: close, no length", "/http10", "PASS", ""),
    Fault("429 with Retry-After: 1", "/429", "FAIL", "expected 200, got 429"),
    Fault("503 once, then 200", "/503-then-200?key={key}", "FAIL", "expected 200, got 503"),
    Fault("latin-1 body declared utf-8", "/non-utf8", "FAIL", "expected 200, got 500"),
    Fault(
        "100 KB header value",
        "/huge-header",
        "PASS",
        "",
        otherwise=(("aiohttp", "ERROR", "protocol error: a response header line over 8190 bytes"),),
    ),
]


def route_of(fault: Fault, key: str) -> str:
    return fault.route.format(key=key)


def observed_note(result: CheckResult) -> str:
    return result.observation.note if isinstance(result.observation, Response) else ""


@pytest.mark.anyio
@pytest.mark.parametrize("fault", FAULTS, ids=[f.route.split("?")[0] for f in FAULTS])
async def test_a_fault_is_one_row_with_a_reason(
    server: FaultServer, transport: engine.Transport, fault: Fault
) -> None:
    checks = plan("GET /ok -> 200", f"GET {route_of(fault, transport)} -> 200", "GET /ok -> 200")
    started = time.monotonic()
    first, faulty, last = await crawl(server, checks, transport=transport)
    took = time.monotonic() - started
    verdict, reason = fault.expected(transport)
    assert (faulty.verdict, faulty.reason) == (verdict, reason)
    assert observed_note(faulty) == fault.note
    assert (first.verdict, last.verdict) == ("PASS", "PASS")
    # Bounded: nothing hangs. The whole-check limit (twice the timeout) is what ends the
    # slow faults; the margin is wide because this machine is shared (speed is measured
    # in bench/, not here).
    assert took < 2 * TIMEOUT + 10.0


@pytest.mark.anyio
@pytest.mark.parametrize("route", ["/big", "/gzip-bomb"])
async def test_a_huge_body_costs_bounded_memory(
    server: FaultServer, transport: engine.Transport, route: str
) -> None:
    # Failing, so the excerpt is kept: the cap shows in the reason.
    checks = plan("GET /ok -> 200", f"GET {route} -> 204")
    rss = max_rss()
    tracemalloc.start()
    try:
        ok, huge = await crawl(server, checks, transport=transport)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ok.verdict == "PASS"
    assert (huge.verdict, huge.reason) == ("FAIL", f"expected 204, got 200; {TRUNCATED}")
    observation = huge.observation
    assert isinstance(observation, Response)
    assert (observation.truncated, observation.body_bytes) == (True, CAP)
    assert observation.body_excerpt == "\0" * 8 * 1024  # zeros, decoded, cut at the excerpt cap
    assert peak < TRACED_LIMIT
    assert max_rss() - rss < RSS_LIMIT


@pytest.mark.anyio
async def test_a_body_that_is_not_utf8_is_shown_with_replacements(
    server: FaultServer, transport: engine.Transport
) -> None:
    (result,) = await crawl(server, plan("GET /non-utf8 -> 200"), transport=transport)
    assert isinstance(result.observation, Response)
    assert result.observation.body_excerpt == "caf\ufffd cr\ufffdme: d\ufffdj\ufffd vu"


# --- retries ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_503_is_retried_and_marked_flaky(
    server: FaultServer, transport: engine.Transport
) -> None:
    checks = plan("GET /ok -> 200", "GET /503-then-200?key=flaky -> 200")
    ok, flaky = await crawl(server, checks, transport=transport, retries=2)
    assert ok.attempts == 1
    assert (flaky.verdict, flaky.flaky, flaky.attempts) == ("PASS", True, 2)
    assert server.count("/503-then-200") == 2


@pytest.mark.anyio
async def test_a_429_waits_what_retry_after_says(server: FaultServer) -> None:
    started = time.monotonic()
    (result,) = await crawl(server, plan("GET /429 -> 200"), retries=1, backoff=0.01)
    assert (result.verdict, result.attempts) == ("FAIL", 2)
    assert time.monotonic() - started >= 0.9  # Retry-After: 1, not the 0.01 s backoff
    assert server.count("/429") == 2


@pytest.mark.anyio
async def test_a_transport_error_is_retried_with_backoff(
    server: FaultServer, transport: engine.Transport
) -> None:
    checks = plan("GET /reset-before-headers -> 200")
    (result,) = await crawl(server, checks, transport=transport, retries=2, backoff=0.01)
    assert (result.verdict, result.reason, result.attempts) == (
        "ERROR",
        "connection reset by peer",
        3,
    )
    # aiohttp itself sends an idempotent request once more after a reset (meant for a
    # pooled connection the server had closed): each attempt reaches the server twice.
    assert server.count("/reset-before-headers") == 3 * (2 if transport == "aiohttp" else 1)


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_post_and_patch_are_never_retried(server: FaultServer, method: str) -> None:
    checks = plan(
        {"method": method, "path": "/503-then-200?key=" + method, "safe": True, "expect": 200}
    )
    (result,) = await crawl(server, checks, retries=3, backoff=0.01)
    assert (result.verdict, result.attempts) == ("FAIL", 1)
    assert server.count("/503-then-200") == 1


@pytest.mark.anyio
async def test_a_post_marked_idempotent_is_retried(
    server: FaultServer, transport: engine.Transport
) -> None:
    check = {
        "method": "POST",
        "path": f"/503-then-200?key=idem-{transport}",
        "safe": True,
        "idempotent": True,
        "expect": 200,
    }
    (result,) = await crawl(server, plan(check), transport=transport, retries=2, backoff=0.01)
    assert (result.verdict, result.attempts, result.flaky) == ("PASS", 2, True)
    assert server.count("/503-then-200") == 2


# --- time bounds per check ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_check_total_timeout_bounds_a_dripping_body(
    server: FaultServer, transport: engine.Transport
) -> None:
    checks = plan(
        {"path": "/drip?every=0.05", "timeout": 5, "total_timeout": 0.3},
        "GET /ok -> 200",
    )
    started = time.monotonic()
    drip, ok = await crawl(server, checks, transport=transport)
    assert (drip.verdict, drip.reason) == (
        "ERROR",
        "no complete answer within 0.3 s (whole-check limit)",
    )
    assert ok.verdict == "PASS"
    assert time.monotonic() - started < 5  # not the 10 s its read timeout would allow


def test_timeouts_from_defaults_and_checks() -> None:
    document = {
        "version": 1,
        "name": "t",
        "defaults": {"timeout": 4, "connect_timeout": 1.5, "total_timeout": 6},
        "groups": {"G": ["GET /a", {"path": "/b", "connect_timeout": 0.5, "total_timeout": 9}]},
    }
    a, b = manifest.loads(json.dumps(document)).planned()
    assert (a.timeout, a.connect_timeout, a.whole_timeout) == (4, 1.5, 6)
    assert (b.timeout, b.connect_timeout, b.whole_timeout) == (4, 0.5, 9)
    plain = plan("GET /c")[0]
    assert (plain.connect_timeout, plain.whole_timeout) == (None, 2 * TIMEOUT)
    client = httpx.AsyncClient(base_url="http://127.0.0.1")
    request = engine.build_request(client, b, None)
    assert request.extensions["timeout"] == {"connect": 0.5, "read": 4, "write": 4, "pool": 4}


def test_a_connect_timeout_names_its_own_limit() -> None:
    assert engine.describe_error(httpx.ConnectTimeout(""), 4.0, 0.5) == (
        "connect_timeout",
        "connect timeout after 0.5 s",
    )
    assert engine.describe_error(httpx.ReadTimeout(""), 4.0, 0.5)[1] == "read timeout after 4 s"


def answered(status: int, **headers: str) -> Response:
    return Response(status=status, headers=headers, elapsed_ms=1.0)


NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("observation", "attempt", "low", "high"),
    [
        # Rule: Retry-After in seconds is honoured ...
        (answered(429, **{"Retry-After": "3"}), 1, 3.0, 3.0),
        # ... and as an HTTP date ...
        (answered(503, **{"retry-after": format_datetime(NOW + timedelta(seconds=5))}), 1, 5, 5),
        # ... up to the cap.
        (answered(429, **{"Retry-After": "3600"}), 1, 10.0, 10.0),
        (answered(503, **{"Retry-After": format_datetime(NOW - timedelta(hours=1))}), 1, 0, 0),
        # Rule: without Retry-After, and after a transport error: jittered exponential backoff.
        (answered(503), 1, 0.25, 0.5),
        (answered(429, **{"Retry-After": "soon"}), 2, 0.5, 1.0),
        (TransportError(error="reset", message="reset", elapsed_ms=1), 3, 1.0, 2.0),
        (TransportError(error="reset", message="reset", elapsed_ms=1), 10, 5.0, 10.0),
        # Rule: any other answer is checked again at once.
        (answered(404), 1, 0.0, 0.0),
        (answered(500, **{"Retry-After": "3"}), 1, 0.0, 0.0),
        (NotSent(reason="x"), 1, 0.0, 0.0),
    ],
)
def test_retry_delay(observation: Any, attempt: int, low: float, high: float) -> None:
    delay = engine.retry_delay(observation, attempt, 0.5, now=NOW)
    assert low <= delay <= high


# --- the deadline ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_checks_not_started_by_the_deadline_are_skipped(server: FaultServer) -> None:
    checks = plan("GET /never -> 200", "GET /ok -> 200", "GET /ok -> 200")
    results = await crawl(server, checks, concurrency=1, deadline=0.2)
    assert [(r.verdict, r.reason) for r in results] == [
        ("ERROR", f"read timeout after {TIMEOUT:g} s"),  # in flight: ends within its timeout
        ("SKIP", "deadline reached"),
        ("SKIP", "deadline reached"),
    ]
    assert server.count("/ok") == 0


@pytest.mark.anyio
async def test_no_retry_starts_after_the_deadline(server: FaultServer) -> None:
    checks = plan("GET /never -> 200")
    (result,) = await crawl(server, checks, retries=3, backoff=0.01, deadline=0.2)
    assert (result.verdict, result.attempts) == ("ERROR", 1)


def test_deadline_on_the_command_line(server: FaultServer, tmp_path: Path) -> None:
    spec = tmp_path / "faults.yaml"
    spec.write_text(
        "version: 1\nname: faults\ngroups:\n  Faults:\n"
        "    - GET /never -> 200\n    - GET /ok -> 200\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(spec),
            "--base-url",
            server.base_url,
            "--out",
            str(out),
            "--format",
            "json",
            "--concurrency",
            "1",
            "--timeout",
            str(TIMEOUT),
            "--deadline",
            "0.2",
            "--quiet",
        ],
    )
    assert result.exit_code == 1, result.output
    run = load_run(out / "run.json")
    assert [(r.verdict, r.reason) for r in run.results] == [
        ("ERROR", f"read timeout after {TIMEOUT:g} s"),
        ("SKIP", "deadline reached"),
    ]


# --- decoding, bounded -----------------------------------------------------------------------


def streamed(body: bytes, encoding: str | None) -> httpx.Response:
    headers = {"Content-Encoding": encoding} if encoding else {}
    return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))


def deflated(data: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


TEXT = b"hello, world " * 100


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (TEXT, None),
        (TEXT, "identity"),
        (deflated(TEXT, 31), "gzip"),
        (deflated(TEXT, 31), "x-gzip"),
        (deflated(TEXT, 15), "deflate"),  # zlib-wrapped, as the RFC says
        (deflated(TEXT, -15), "deflate"),  # raw, as some servers send it
    ],
)
async def test_bodies_are_decoded(body: bytes, encoding: str | None) -> None:
    read = await engine.read_body(streamed(body, encoding), 1 << 20)
    assert (read.data, read.size, read.truncated, read.compressed) == (TEXT, len(TEXT), False, None)


@pytest.mark.anyio
@pytest.mark.parametrize("encoding", ["br", "zstd", "compress"])
async def test_an_encoding_not_decoded_keeps_its_raw_bytes(encoding: str) -> None:
    read = await engine.read_body(streamed(b"\x8b\x00raw", encoding), 1 << 20)
    assert (read.data, read.compressed) == (b"\x8b\x00raw", encoding)


@pytest.mark.anyio
async def test_an_undecoded_body_is_named_in_the_excerpt() -> None:
    def brotli(request: httpx.Request) -> httpx.Response:
        return streamed(b"\x8b\x00raw", "br")

    config = engine.Settings()
    mock = httpx.MockTransport(brotli)
    async with httpx.AsyncClient(base_url="http://x", transport=mock) as client:
        (result,) = await engine.crawl(plan("GET / -> 204"), client, config)
    assert isinstance(result.observation, Response)
    assert result.observation.body_excerpt == "(compressed: br)"


@pytest.mark.anyio
async def test_a_corrupt_gzip_body_is_a_protocol_error() -> None:
    with pytest.raises(httpx.DecodingError, match="invalid gzip body"):
        await engine.read_body(streamed(b"not gzip at all", "gzip"), 1 << 20)


@pytest.mark.anyio
async def test_an_exactly_full_body_is_not_truncated() -> None:
    read = await engine.read_body(streamed(deflated(TEXT, 31), "gzip"), len(TEXT))
    assert (read.size, read.truncated) == (len(TEXT), False)
    read = await engine.read_body(streamed(deflated(TEXT, 31), "gzip"), len(TEXT) - 1)
    assert (read.size, read.truncated) == (len(TEXT) - 1, True)


# --- the reliability table -------------------------------------------------------------------


async def observe_all(server: FaultServer, transport: engine.Transport) -> list[CheckResult]:
    """Every fault in one crawl, between healthy checks, with one retry (as `--retries 1`)."""
    routes = [route_of(fault, f"table-{transport}") for fault in FAULTS]
    checks = plan(*(f"GET {route} -> 200" for route in ["/ok", *routes, "/ok"]))
    return await crawl(server, checks, transport=transport, retries=1, backoff=0.01)


@contextmanager
def self_signed_server(folder: Path) -> Iterator[str]:
    """An HTTPS server whose certificate signs itself, as a test host's often does."""
    certs = make_certs(folder)
    with serve(MockApp(), TLSFiles(certs.self_signed_cert, certs.self_signed_key)) as url:
        yield url


async def crawl_url(url: str, transport: engine.Transport, *checks: str) -> list[CheckResult]:
    config = engine.Settings(timeout=TIMEOUT, body_cap=CAP, transport=transport)
    async with engine.open_client(engine.Target(base_url=url), config) as client:
        return await engine.crawl(plan(*checks), client, config)


SELF_SIGNED = (
    "TLS certificate verify failed: self-signed certificate (use --ca-bundle or --insecure)"
)


@pytest.mark.anyio
async def test_a_self_signed_certificate_is_an_error_with_a_hint(
    transport: engine.Transport, tmp_path: Path
) -> None:
    with self_signed_server(tmp_path) as url:
        bad, also = await crawl_url(url, transport, "GET /status/200", "GET /status/204 -> 204")
    assert (bad.verdict, bad.reason) == ("ERROR", SELF_SIGNED)
    assert (also.verdict, also.reason) == ("ERROR", SELF_SIGNED)


def render_reliability(
    observed: dict[engine.Transport, list[CheckResult]],
    tls: dict[engine.Transport, CheckResult],
) -> str:
    def cell(result: CheckResult) -> str:
        said = result.reason or observed_note(result)
        tries = f", {result.attempts} attempts" if result.attempts > 1 else ""
        flaky = " (flaky)" if result.flaky else ""
        text = f"{result.verdict}{flaky}{tries}" + (f": {said}" if said else "")
        return text.replace("|", "\\|")

    lines = [
        "# Reliability: what crawler makes of a misbehaving server",
        "",
        "Generated by `tests/test_faults.py` from what the suite observes (regenerate with",
        "`UPDATE_RELIABILITY=1 .venv/bin/pytest tests/test_faults.py`; a test fails when this",
        "file and the suite disagree). Each fault of `tests/faults.py` is crawled in one run",
        f"with a healthy `/ok` before and after it, `--timeout {TIMEOUT:g}`, `--retries 1` and a",
        f"{CAP // 1024} KiB body cap, over both live transports. A PASS with a note passed its",
        "status check; the note says what crawler did to the answer.",
        "",
        "| Fault | Route | aiohttp (default) | httpx | Time bounded | Memory bounded |",
        "|---|---|---|---|---|---|",
    ]
    aiohttp_rows, httpx_rows = observed["aiohttp"][1:-1], observed["httpx"][1:-1]
    for fault, on_aiohttp, on_httpx in zip(FAULTS, aiohttp_rows, httpx_rows, strict=True):
        route = fault.route.split("?")[0]
        # Bounded: every attempt ended within the whole-check limit of twice the timeout.
        slowest = max(r.elapsed_ms or 0.0 for r in (on_aiohttp, on_httpx))
        timely = "yes" if slowest <= 2 * TIMEOUT * 1000 + 250 else f"no ({slowest:.0f} ms)"
        lines.append(
            f"| {fault.title} | `{route}` | {cell(on_aiohttp)} | {cell(on_httpx)} | {timely} | "
            "{memory} |"
        )
    slowest = max(r.elapsed_ms or 0.0 for r in tls.values())
    timely = "yes" if slowest <= 2 * TIMEOUT * 1000 + 250 else f"no ({slowest:.0f} ms)"
    lines += [
        f"| self-signed TLS certificate | `https://…/status/200` | {cell(tls['aiohttp'])} | "
        f"{cell(tls['httpx'])} | {timely} | {{memory}} |",
        "",
        "Memory bounded: the run's peak resident memory grew by less than "
        f"{RSS_LIMIT // (1024 * 1024)} MB while it read the 1 GiB body and the gzip bomb with",
        "the rest; `test_a_huge_body_costs_bounded_memory` also bounds Python allocations",
        f"for each of them alone under {TRACED_LIMIT // (1024 * 1024)} MB.",
        "",
    ]
    return "\n".join(lines)


@pytest.mark.anyio
async def test_docs_reliability_md_is_what_the_suite_observes(
    server: FaultServer, tmp_path: Path
) -> None:
    rss = max_rss()
    observed: dict[engine.Transport, list[CheckResult]] = {}
    tls: dict[engine.Transport, CheckResult] = {}

    async def observe(transport: engine.Transport, https_url: str) -> None:
        observed[transport] = await observe_all(server, transport)
        (tls[transport],) = await crawl_url(https_url, transport, "GET /status/200")

    with self_signed_server(tmp_path) as https_url:
        async with anyio.create_task_group() as both:
            for transport in engine.TRANSPORTS:
                both.start_soon(observe, transport, https_url)
    memory = "yes" if max_rss() - rss < RSS_LIMIT else "no"
    for results in observed.values():
        assert (results[0].verdict, results[-1].verdict) == ("PASS", "PASS")
    text = render_reliability(observed, tls).replace("{memory}", memory)
    if os.environ.get("UPDATE_RELIABILITY"):
        RELIABILITY.parent.mkdir(exist_ok=True)
        RELIABILITY.write_text(text, encoding="utf-8")
    assert RELIABILITY.read_text(encoding="utf-8") == text, (
        "docs/reliability.md is out of date: UPDATE_RELIABILITY=1 .venv/bin/pytest "
        "tests/test_faults.py regenerates it"
    )
