"""The engine against real servers: a loopback uvicorn mock server and in-process apps.

Every test that crosses the network runs under both live transports (aiohttp, httpx), and
checks what reached the server (`/stats`), not only what came back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from servers import MockApp, closed_port, mock_app, serve

from crawler import engine, manifest
from crawler.errors import TargetError
from crawler.manifest import PlannedCheck
from crawler.redact import REDACTED
from crawler.results import CheckResult, NotSent, Response, TransportError
from crawler.verdict import MUTATION_NOT_ALLOWED

TOKEN = "s3cr3t-token-value"


@pytest.fixture
def mock() -> MockApp:
    return mock_app()


@pytest.fixture
def base_url(mock: MockApp) -> Iterator[str]:
    with serve(mock) as url:
        yield url


def plan(*checks: str | dict[str, Any], **defaults: Any) -> list[PlannedCheck]:
    """Checks of one group through the real manifest loader (JSON is YAML)."""
    document: dict[str, Any] = {"version": 1, "name": "engine tests", "groups": {"G": checks}}
    if defaults:
        document["defaults"] = defaults
    return manifest.loads(json.dumps(document)).planned()


async def crawl(
    target: engine.Target | str, checks: list[PlannedCheck], **settings: Any
) -> list[CheckResult]:
    """`open_client` + `crawl`, as the CLI runs them."""
    if isinstance(target, str):
        target = engine.Target(base_url=target)
    config = engine.Settings(**settings)
    async with engine.open_client(target, config) as client:
        return await engine.crawl(checks, client, config)


def stats(base_url: str) -> dict[str, Any]:
    """What the mock server received (the `/stats` request itself is not counted)."""
    data: dict[str, Any] = httpx.get(f"{base_url}/stats").json()
    return data


def response(result: CheckResult) -> Response:
    assert isinstance(result.observation, Response), result.observation
    return result.observation


def transport_error(result: CheckResult) -> TransportError:
    assert isinstance(result.observation, TransportError), result.observation
    return result.observation


# --- statuses and redirects ----------------------------------------------------------------


@pytest.mark.anyio
async def test_statuses_are_judged(base_url: str, transport: engine.Transport) -> None:
    checks = manifest.loads(
        """
        version: 1
        name: statuses
        groups:
          G:
            - GET /status/200 -> 200
            - GET /status/404 -> 200
            - GET /status/500 -> 200
            - GET /status/404 -> 404
            - {path: /status/204, expect: 2xx}
        """
    ).planned()
    results = await crawl(base_url, checks, transport=transport)
    assert [(r.verdict, r.status, r.reason) for r in results] == [
        ("PASS", 200, ""),
        ("FAIL", 404, "expected 200, got 404"),
        ("FAIL", 500, "expected 200, got 500"),
        ("PASS", 404, ""),
        ("PASS", 204, ""),
    ]
    failed = response(results[1])
    assert json.loads(failed.body_excerpt) == {"status": 404}
    assert failed.headers["content-type"] == "application/json"
    assert stats(base_url)["requests"] == 5


@pytest.mark.anyio
async def test_a_redirect_is_an_answer_not_followed(
    base_url: str, transport: engine.Transport
) -> None:
    results = await crawl(base_url, plan("GET /redirect -> 200"), transport=transport)
    (result,) = results
    assert result.verdict == "FAIL"
    assert result.status == 302
    assert result.reason == "expected 200, got 302 -> /status/200"
    assert stats(base_url)["paths"] == ["/redirect"]  # /status/200 was never requested


# --- transport failures are data -----------------------------------------------------------


@pytest.mark.anyio
async def test_a_slow_answer_is_a_read_timeout(base_url: str, transport: engine.Transport) -> None:
    checks = plan({"path": "/delay", "query": {"s": 0.5}, "timeout": 0.1})
    (result,) = await crawl(base_url, checks, transport=transport)
    error = transport_error(result)
    assert result.verdict == "ERROR"
    assert error.error == "read_timeout"
    assert error.message.startswith("read timeout after")
    assert result.reason == error.message == "read timeout after 0.1 s"
    assert error.elapsed_ms < 500  # gave up at the timeout, did not wait for the answer


@pytest.mark.anyio
async def test_a_closed_port_is_connection_refused(transport: engine.Transport) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}"
    (result,) = await crawl(base_url, plan("GET /status/200"), transport=transport)
    error = transport_error(result)
    assert result.verdict == "ERROR"
    assert (error.error, error.message) == ("connect_refused", "connection refused")


@pytest.mark.anyio
async def test_an_unresolvable_host_is_a_dns_error(transport: engine.Transport) -> None:
    # The .invalid TLD never resolves (RFC 2606), so nothing is sent anywhere.
    checks = plan("GET /", timeout=2)
    (result,) = await crawl("http://nonexistent.invalid", checks, transport=transport)
    error = transport_error(result)
    if error.error in ("connect_timeout", "timeout"):
        pytest.skip(f"DNS lookups do not answer on this machine within 2 s ({error.message})")
    assert result.verdict == "ERROR"
    assert (error.error, error.message) == ("dns", "DNS lookup failed (no such host)")


# --- concurrency and order -----------------------------------------------------------------


@pytest.mark.anyio
async def test_concurrency_is_bounded_and_requests_overlap(
    base_url: str, transport: engine.Transport
) -> None:
    checks = plan(*["GET /inflight"] * 60)
    results = await crawl(base_url, checks, transport=transport, concurrency=5)
    assert [r.verdict for r in results] == ["PASS"] * 60
    seen = stats(base_url)
    assert seen["requests"] == 60
    assert 2 <= seen["max_inflight"] <= 5


@pytest.mark.anyio
async def test_rate_spaces_requests_evenly(base_url: str, transport: engine.Transport) -> None:
    checks = plan(*["GET /status/200"] * 10)
    results = await crawl(base_url, checks, transport=transport, concurrency=10, rate=20)
    assert [r.verdict for r in results] == ["PASS"] * 10
    arrivals = stats(base_url)["arrivals"]
    # 10 starts 1/20 s apart span 0.45 s; a lower bound only (a slow machine is slower).
    assert max(arrivals) - min(arrivals) >= 0.4


@pytest.mark.anyio
async def test_per_host_caps_requests_in_flight(base_url: str, transport: engine.Transport) -> None:
    checks = plan(*["GET /inflight"] * 20)
    results = await crawl(base_url, checks, transport=transport, concurrency=10, per_host=2)
    assert [r.verdict for r in results] == ["PASS"] * 20
    assert 1 <= stats(base_url)["max_inflight"] <= 2


@pytest.mark.anyio
async def test_results_come_back_in_manifest_order(
    base_url: str, transport: engine.Transport
) -> None:
    checks = plan(
        {"name": "slowest", "path": "/delay", "query": {"s": 0.3}},
        {"name": "fast 1", "path": "/status/200"},
        {"name": "slow", "path": "/delay", "query": {"s": 0.15}},
        {"name": "fast 2", "path": "/status/404", "expect": 404},
        {"name": "fast 3", "path": "/status/500", "expect": 500},
    )
    finished: list[int] = []
    config = engine.Settings(transport=transport, concurrency=5)
    async with engine.open_client(engine.Target(base_url=base_url), config) as client:
        results = await engine.crawl(
            checks, client, config, on_result=lambda index, _: finished.append(index)
        )
    assert [r.name for r in results] == ["slowest", "fast 1", "slow", "fast 2", "fast 3"]
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert [r.verdict for r in results] == ["PASS"] * 5
    assert sorted(finished) == [0, 1, 2, 3, 4]
    assert finished[0] != 0  # the answers did arrive out of order


# --- the mutation guard --------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_mutation_is_not_sent_by_default(
    base_url: str, transport: engine.Transport
) -> None:
    checks = plan(
        {"method": "POST", "path": "/echo", "json": {"a": 1}},
        "DELETE /status/200",
        "GET /status/200",
    )
    results = await crawl(base_url, checks, transport=transport)
    assert [(r.verdict, r.reason) for r in results] == [
        ("SKIP", MUTATION_NOT_ALLOWED),
        ("SKIP", MUTATION_NOT_ALLOWED),
        ("PASS", ""),
    ]
    assert isinstance(results[0].observation, NotSent)
    assert results[0].request.method == "POST"  # what would have been sent is still shown
    assert stats(base_url)["methods"] == ["GET"]


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["safe: true", "allow_mutations"])
async def test_a_mutation_is_sent_when_allowed(
    base_url: str, transport: engine.Transport, how: str
) -> None:
    check: dict[str, Any] = {"method": "POST", "path": "/echo", "json": {"a": 1}}
    if how == "safe: true":
        check["safe"] = True
    results = await crawl(
        base_url, plan(check), transport=transport, allow_mutations=how == "allow_mutations"
    )
    assert [r.verdict for r in results] == ["PASS"]
    seen = stats(base_url)
    assert seen["methods"] == ["POST"]
    assert json.loads(seen["echoes"][0]["body"]) == {"a": 1}


# --- what is sent --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_query_headers_and_json_arrive_as_sent(
    base_url: str, transport: engine.Transport
) -> None:
    body = {"name": "Ada", "tags": ["x", "y"], "nested": {"n": 1.5, "ok": True, "none": None}}
    check = {
        "method": "POST",
        "path": "/echo",
        "safe": True,
        "query": {"q": "a b&c=d", "n": 3, "flag": True, "ratio": 0.5},
        "headers": {"X-Trace": "abc-123"},
        "json": body,
    }
    (result,) = await crawl(base_url, plan(check), transport=transport)
    assert result.verdict == "PASS"
    (echo,) = stats(base_url)["echoes"]
    assert echo["method"] == "POST"
    assert echo["query"] == {"q": "a b&c=d", "n": "3", "flag": "true", "ratio": "0.5"}
    assert json.loads(echo["body"]) == body
    assert echo["headers"]["content-type"] == "application/json"
    assert echo["headers"]["x-trace"] == "abc-123"
    assert echo["headers"]["user-agent"] == engine.USER_AGENT


@pytest.mark.anyio
async def test_a_form_body_arrives_encoded(base_url: str, transport: engine.Transport) -> None:
    check = {"method": "PUT", "path": "/echo", "safe": True, "form": {"a": 1, "b": "x y"}}
    (result,) = await crawl(base_url, plan(check), transport=transport)
    assert result.verdict == "PASS"
    (echo,) = stats(base_url)["echoes"]
    assert echo["method"] == "PUT"
    assert echo["body"] == "a=1&b=x+y"
    assert echo["headers"]["content-type"] == "application/x-www-form-urlencoded"


# --- what is kept of an answer -------------------------------------------------------------


@pytest.mark.anyio
async def test_a_big_body_is_read_only_up_to_the_cap(
    base_url: str, transport: engine.Transport
) -> None:
    cap = 64 * 1024
    checks = plan(
        {"path": "/big", "query": {"kb": 1024}, "expect": 201},  # fails: the excerpt is kept
        {"path": "/big", "query": {"kb": 1024}},  # passes: the excerpt is dropped
        {"path": "/big", "query": {"kb": 4}, "expect": 201},  # under the cap
    )
    results = await crawl(base_url, checks, transport=transport, body_cap=cap, excerpt_cap=1000)
    failed, passed, small = (response(r) for r in results)
    assert [r.verdict for r in results] == ["FAIL", "PASS", "FAIL"]
    assert (failed.truncated, failed.body_bytes) == (True, cap)
    assert failed.body_excerpt == "x" * 1000  # the excerpt cap, not the body cap
    assert (passed.truncated, passed.body_bytes) == (True, cap)
    assert (passed.body_excerpt, passed.headers) == ("", {})  # a PASS keeps no body nor headers
    assert (small.truncated, small.body_bytes, small.body_excerpt) == (False, 4096, "x" * 1000)


@pytest.mark.anyio
@pytest.mark.parametrize("expect", [200, 201], ids=["pass", "fail"])
async def test_secrets_never_reach_a_result(
    base_url: str, transport: engine.Transport, expect: int
) -> None:
    # /echo sends the Authorization header back, so a failed check's body excerpt holds it.
    check = {"path": "/echo", "expect": expect, "headers": {"Authorization": f"Bearer {TOKEN}"}}
    (result,) = await crawl(base_url, plan(check), transport=transport)
    assert result.verdict == ("PASS" if expect == 200 else "FAIL")
    assert stats(base_url)["echoes"][0]["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert result.request.headers["Authorization"] == REDACTED
    assert TOKEN not in result.model_dump_json()


def test_fill_unsent_keeps_what_finished_and_skips_the_rest_in_order() -> None:
    checks = plan(
        "GET /a",
        "GET /b",
        {"path": "/c", "headers": {"Authorization": f"Bearer {TOKEN}"}},
        "POST /d",
    )
    target = engine.Target(base_url="http://127.0.0.1:9")
    first = engine.fill_unsent(checks, {}, target, "not started")
    assert [(r.path, r.verdict, r.reason) for r in first] == [
        ("/a", "SKIP", "not started"),
        ("/b", "SKIP", "not started"),
        ("/c", "SKIP", "not started"),
        ("/d", "SKIP", "not started"),
    ]
    done = {1: first[1], 3: first[3]}
    results = engine.fill_unsent(checks, done, target, "interrupted")
    assert [r.reason for r in results] == [
        "interrupted",
        "not started",
        "interrupted",
        "not started",
    ]
    assert results[1] is done[1]
    assert results[0].request.url == "http://127.0.0.1:9/a"
    assert results[2].request.headers["Authorization"] == REDACTED
    assert TOKEN not in results[2].model_dump_json()


# --- in-process targets --------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_asgi_app_in_process() -> None:
    checks = plan("GET /api/health -> 200", "GET /api/legacy -> 200", "GET /api/nope -> 404")
    results = await crawl(engine.Target(app="crawler.demo.app:app"), checks)
    assert [(r.verdict, r.status) for r in results] == [("PASS", 200), ("FAIL", 302), ("PASS", 404)]
    assert results[0].request.url == f"{engine.IN_PROCESS_BASE}/api/health"
    assert results[1].reason == "expected 200, got 302 -> /api/health"


@pytest.mark.anyio
async def test_a_wsgi_app_in_process() -> None:
    checks = plan(
        "GET /health -> 200",
        {"method": "POST", "path": "/health", "safe": True, "json": {"a": 1}, "expect": 201},
        "GET /nope -> 200",
    )
    results = await crawl(engine.Target(app="tests.apps:wsgi_app"), checks)
    assert [(r.verdict, r.status) for r in results] == [("PASS", 200), ("FAIL", 200), ("FAIL", 404)]
    assert json.loads(response(results[1]).body_excerpt) == {"status": "ok", "method": "POST"}
    assert results[2].reason == "expected 200, got 404"


@pytest.mark.anyio
@pytest.mark.parametrize("app", ["tests.apps:failing_asgi_app", "tests.apps:failing_wsgi_app"])
async def test_an_app_that_raises_is_a_500_fail(app: str) -> None:
    results = await crawl(engine.Target(app=app), plan("GET /x -> 200", "GET /y -> 500"))
    assert [(r.verdict, r.status, r.reason) for r in results] == [
        ("FAIL", 500, "expected 200, got 500"),
        ("PASS", 500, ""),
    ]


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("no_such_module_xyz:app", "cannot import no_such_module_xyz"),
        ("tests.apps:missing", "tests.apps has no attribute missing"),
        ("tests.apps:NOT_AN_APP", "NOT_AN_APP is not an ASGI or WSGI application"),
        ("tests.apps", "write it as package.module:attr"),
    ],
)
def test_an_app_that_cannot_be_loaded_is_a_target_error(reference: str, message: str) -> None:
    with pytest.raises(TargetError, match="--app") as caught:
        engine.load_app(reference)
    assert message in str(caught.value)


@pytest.mark.anyio
async def test_open_client_raises_target_error_for_a_missing_module() -> None:
    with pytest.raises(TargetError, match="cannot import no_such_module_xyz"):
        async with engine.open_client(
            engine.Target(app="no_such_module_xyz:app"), engine.Settings()
        ):
            pass  # pragma: no cover
    with pytest.raises(TargetError, match="No target"):
        async with engine.open_client(engine.Target(), engine.Settings()):
            pass  # pragma: no cover


@pytest.mark.anyio
async def test_probes_are_paced_too(base_url: str) -> None:
    pace = engine.Pace(engine.Settings(per_host=1, rate=50))
    async with httpx.AsyncClient(base_url=base_url) as client:
        probes = [(client, "GET", "/inflight", 5.0)] * 6
        answers = await engine.probe_all(probes, concurrency=6, pace=pace)
    assert [a.status for a in answers] == [200] * 6
    seen = stats(base_url)
    assert seen["max_inflight"] == 1
    assert max(seen["arrivals"]) - min(seen["arrivals"]) >= 0.09  # 6 starts >= 1/50 s apart
