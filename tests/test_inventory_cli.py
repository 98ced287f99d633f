"""Route inventories and 404 diagnosis end to end through `crawler run`, and `--probe`.

Targets: the demo app in-process (it serves `/openapi.json`) and loopback servers started
here, which record every request they get, so a test sees what reached the target.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import pytest
from click.testing import CliRunner
from servers import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from crawler import engine, runner
from crawler.cli import cli
from crawler.results import Diagnosis, Run, load_run

DEMO_APP = "crawler.demo.app:app"
ANSWERED = "checks that answered"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def manifest(folder: Path, target: str, checks: list[str], inventory: str = "") -> Path:
    """A manifest crawling `checks` (one-line shorthand) as anonymous."""
    path = folder / "api.yaml"
    lines = ["version: 1", "name: Inventory test", target]
    if inventory:
        lines.append(f"inventory: {inventory}")
    lines += ["groups:", "  API:", *(f"    - {check}" for check in checks)]
    path.write_text("\n".join(lines) + "\n")
    return path


def crawl(path: Path, out: Path, *options: str) -> tuple[int, str, Run]:
    code, _, err = invoke("run", str(path), "--out", str(out), "--format", "json", "-q", *options)
    return code, err, load_run(out / "run.json")


def diagnoses(run: Run) -> dict[str, Diagnosis | None]:
    return {f"{r.method} {r.path}": r.diagnosis for r in run.results}


def cause(run: Run, check: str) -> tuple[str, tuple[str, ...]] | None:
    found = diagnoses(run)[check]
    return None if found is None else (found.cause, found.suggestions)


# The demo API's deliberate mismatches, and routes that are right and must not be flagged.
DEMO_CHECKS = [
    "GET /api/audit -> 200",  # served as /api/audit-logs
    "GET /api/recordings -> 200",  # only /api/recordings/{id}
    "GET /api/webhooks -> 200",  # POST only: 405
    "GET /api/health -> 200",  # PASS
    "GET /api/audio/transcriptions -> 404",  # an expected 404: PASS, not a mismatch
    "GET /api/reports/export -> 200",  # 500: a bug, not a routing problem
]


def assert_demo_diagnosed(run: Run) -> None:
    assert cause(run, "GET /api/audit") == ("renamed", ("GET /api/audit-logs",))
    assert cause(run, "GET /api/recordings") == ("no_list_handler", ("GET /api/recordings/{id}",))
    assert cause(run, "GET /api/webhooks") == ("wrong_method", ("POST /api/webhooks",))
    for right in ("GET /api/health", "GET /api/audio/transcriptions", "GET /api/reports/export"):
        assert diagnoses(run)[right] is None, right


# --- where the inventory comes from ---------------------------------------------------------------


def test_manifest_openapi_path_on_the_in_process_target(tmp_path: Path) -> None:
    path = manifest(tmp_path, f"app: {DEMO_APP}", DEMO_CHECKS, "{openapi: /openapi.json}")
    code, err, run = crawl(path, tmp_path / "out")
    assert code == 1
    assert "warning" not in err
    assert run.inventory == f"/openapi.json + {ANSWERED}"
    assert_demo_diagnosed(run)
    saved = json.loads((tmp_path / "out" / "run.json").read_text())
    audit = next(r for r in saved["results"] if r["path"] == "/api/audit")
    assert audit["diagnosis"]["cause"] == "renamed"
    assert saved["inventory"] == run.inventory


def test_inventory_option_with_a_route_list(tmp_path: Path) -> None:
    routes = tmp_path / "routes.txt"
    routes.write_text(
        "# from the backend's router\nGET /api/audit-logs\nget /api/recordings/:id\n"
        "POST /api/webhooks\n"
    )
    path = manifest(tmp_path, f"app: {DEMO_APP}", DEMO_CHECKS)
    code, _, run = crawl(path, tmp_path / "out", "--inventory", str(routes))
    assert code == 1
    assert run.inventory == f"{routes} + {ANSWERED}"
    assert_demo_diagnosed(run)


def test_inventory_option_with_an_openapi_file(tmp_path: Path) -> None:
    document = {
        "openapi": "3.0.3",
        "info": {"title": "Demo", "version": "1"},
        "servers": [{"url": "/api"}],
        "paths": {
            "/audit-logs": {"get": {}},
            "/recordings/{recordingId}": {"get": {}},
            "/webhooks": {"post": {}},
        },
    }
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))
    path = manifest(tmp_path, f"app: {DEMO_APP}", DEMO_CHECKS)
    code, _, run = crawl(path, tmp_path / "out", "--inventory", str(spec))
    assert code == 1
    assert run.inventory == f"{spec} + {ANSWERED}"
    assert cause(run, "GET /api/recordings") == (
        "no_list_handler",
        ("GET /api/recordings/{recordingId}",),
    )


def test_manifest_routes_file_is_relative_to_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "backend-routes.txt").write_text("GET /api/audit-logs\n")
    path = manifest(
        tmp_path, f"app: {DEMO_APP}", ["GET /api/audit -> 200"], "{routes: backend-routes.txt}"
    )
    _, _, run = crawl(path, tmp_path / "out")
    assert run.inventory == f"{tmp_path / 'backend-routes.txt'} + {ANSWERED}"
    assert cause(run, "GET /api/audit") == ("renamed", ("GET /api/audit-logs",))


class DocumentServer:
    """Serves one OpenAPI document at `/docs/openapi.json` and records what it was asked."""

    def __init__(self, document: dict[str, object]) -> None:
        self.document = document
        self.requests: list[tuple[str, str, str | None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        self.requests.append(
            (request.method, request.url.path, request.headers.get("authorization"))
        )
        if request.url.path == "/docs/openapi.json":
            response: Response = JSONResponse(self.document)
        else:
            response = JSONResponse({"detail": "not found"}, status_code=404)
        await response(scope, receive, send)


def test_inventory_url_is_fetched_from_that_url(tmp_path: Path) -> None:
    # A document that differs from the demo's own: the diagnosis shows where it came from.
    document = {"openapi": "3.0.3", "paths": {"/api/audit-trail": {"get": {}}}}
    server = DocumentServer(document)
    with serve(server) as url:
        path = manifest(tmp_path, f"app: {DEMO_APP}", ["GET /api/audit -> 200"])
        code, err, run = crawl(path, tmp_path / "out", "--inventory", f"{url}/docs/openapi.json")
    assert code == 1
    assert "warning" not in err
    assert run.inventory == f"{url}/docs/openapi.json + {ANSWERED}"
    assert cause(run, "GET /api/audit") == ("renamed", ("GET /api/audit-trail",))
    assert server.requests == [("GET", "/docs/openapi.json", None)]


def test_manifest_inventory_url_gets_no_credentials(tmp_path: Path) -> None:
    document = {"openapi": "3.0.3", "paths": {"/api/audit-logs": {"get": {}}}}
    server = DocumentServer(document)
    with serve(server) as url:
        path = tmp_path / "api.yaml"
        path.write_text(
            f"version: 1\nname: T\napp: {DEMO_APP}\n"
            f"inventory: {{openapi: '{url}/docs/openapi.json'}}\n"
            "identities:\n  ci: {kind: bearer, token: s3cret-token}\n"
            "groups:\n  API:\n    - GET /api/audit -> 200\n"
        )
        _, _, run = crawl(path, tmp_path / "out")
    assert cause(run, "GET /api/audit") == ("renamed", ("GET /api/audit-logs",))
    # The identity's token goes to the target only, never to where the document lives.
    assert server.requests == [("GET", "/docs/openapi.json", None)]


def test_inventory_url_that_404s_warns_and_diagnoses_against_answered_checks(
    tmp_path: Path,
) -> None:
    server = DocumentServer({})
    with serve(server) as url:
        checks = ["GET /api/audit-logs -> 401", "GET /api/audit -> 200", "GET /api/health -> 200"]
        path = manifest(tmp_path, f"app: {DEMO_APP}", checks, f"{{openapi: '{url}/missing.json'}}")
        code, err, run = crawl(path, tmp_path / "out")
    assert code == 1  # the run completes, and reports its failure
    assert f"warning: route inventory {url}/missing.json not read: answered 404" in err
    assert run.inventory == ANSWERED
    assert len(run.results) == 3
    assert cause(run, "GET /api/audit") == ("renamed", ("GET /api/audit-logs",))


def test_openapi_path_on_a_live_target_that_404s_warns(tmp_path: Path) -> None:
    server = DocumentServer({})
    with serve(server) as url:
        path = manifest(
            tmp_path, f"base_url: {url}", ["GET /api/x -> 200"], "{openapi: /openapi.json}"
        )
        code, err, run = crawl(path, tmp_path / "out")
    assert code == 1
    assert "warning: route inventory /openapi.json not read: answered 404" in err
    assert run.inventory == ANSWERED
    assert cause(run, "GET /api/x") == ("unknown", ())


def test_openapi_path_that_is_not_a_document_warns(tmp_path: Path) -> None:
    path = manifest(
        tmp_path, f"app: {DEMO_APP}", ["GET /api/audit -> 200"], "{openapi: /api/health}"
    )
    code, err, run = crawl(path, tmp_path / "out")
    assert code == 1
    assert (
        "warning: route inventory not used: /api/health: not an OpenAPI or Swagger document" in err
    )
    assert run.inventory == ANSWERED


# --- bad inventories stop the run before anything is sent ----------------------------------------


@pytest.fixture
def recorder() -> Iterator[tuple[str, DocumentServer]]:
    server = DocumentServer({})
    with serve(server) as url:
        yield url, server


@pytest.mark.parametrize(
    ("options", "declared", "message"),
    [
        pytest.param(
            ["--inventory", "nope.txt"],
            "",
            "error: inventory nope.txt: no such file.",
            id="missing --inventory file",
        ),
        pytest.param(
            [],
            "{routes: gone.txt}",
            "error: inventory {folder}/gone.txt: no such file.",
            id="missing manifest routes file",
        ),
        pytest.param(
            ["--inventory", "{folder}/routes.txt"],
            "",
            "error: {folder}/routes.txt:2: 'FETCH' is not an HTTP method",
            id="malformed route list",
        ),
        pytest.param(
            ["--inventory", "http://:99999/x"],
            "",
            "error: inventory http://:99999/x:",
            id="bad inventory URL",
        ),
    ],
)
def test_a_bad_inventory_exits_2_before_anything_is_sent(
    tmp_path: Path,
    recorder: tuple[str, DocumentServer],
    options: list[str],
    declared: str,
    message: str,
) -> None:
    url, server = recorder
    (tmp_path / "routes.txt").write_text("GET /api/a\nFETCH /api/b\n")
    path = manifest(tmp_path, f"base_url: {url}", ["GET /api/x -> 200"], declared)
    args = [option.format(folder=tmp_path) for option in options]
    code, out, err = invoke("run", str(path), "--out", str(tmp_path / "out"), *args)
    assert code == 2
    assert message.format(folder=tmp_path) in err
    assert "Traceback" not in out + err
    assert server.requests == []
    assert not (tmp_path / "out" / "run.json").exists()


# --- --probe ------------------------------------------------------------------------------------


@dataclass
class Backend:
    """A backend that differs from its own OpenAPI document, and records every request."""

    requests: list[tuple[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def ok(request: Request) -> Response:
            return JSONResponse({"ok": True})

        async def document(request: Request) -> Response:
            return JSONResponse(
                {
                    "openapi": "3.0.3",
                    "paths": {
                        "/api/audit-logs": {"get": {}},
                        "/api/recordings/{id}": {"get": {}},
                        "/api/webhooks": {"post": {}},
                        "/api/items/{id}": {"delete": {}},
                        "/api/reports": {"get": {}},  # stale: not served any more
                        "/api/things/{id}": {"get": {}},
                    },
                }
            )

        inner = Starlette(
            routes=[
                Route("/openapi.json", document),
                Route("/api/health", ok),
                Route("/api/audit-logs", ok),
                Route("/api/recordings/{id}", ok),
                Route("/api/webhooks", ok, methods=["POST"]),
                Route("/api/items/{id}", ok, methods=["DELETE"]),
                Route("/api/things/{id}", ok),
            ]
        )

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                self.requests.append((scope["method"], scope["path"]))
            await inner(scope, receive, send)

        return app  # type: ignore[return-value]

    def after_crawl(self, checks: list[str]) -> list[tuple[str, str]]:
        """The requests that were neither a check nor the document: the probes."""
        sent = {tuple(check.split(" -> ")[0].split(" ", 1)) for check in checks}
        return [r for r in self.requests if r not in sent and r != ("GET", "/openapi.json")]


PROBE_CHECKS = [
    "GET /api/audit -> 200",  # renamed: GET /api/audit-logs, confirmed
    "GET /api/webhooks -> 200",  # 405: POST /api/webhooks, asked with OPTIONS, confirmed
    "GET /api/items/7 -> 200",  # 405: DELETE /api/items/{id}, asked with OPTIONS, confirmed
    "GET /api/v1/reports -> 200",  # prefix skew: GET /api/reports, stale, not confirmed
    "GET /api/recordings -> 200",  # no list handler: no id to fill in, not probed
    "GET /api/health -> 200",  # PASS: nothing to probe
]


def test_probe_confirms_suggestions_with_safe_requests_only(tmp_path: Path) -> None:
    backend = Backend()
    with serve(backend.app()) as url:
        path = manifest(tmp_path, f"base_url: {url}", PROBE_CHECKS, "{openapi: /openapi.json}")
        code, err, run = crawl(path, tmp_path / "out", "--probe")
    assert code == 1
    assert "warning" not in err
    assert {method for method, _ in backend.requests} <= {"GET", "HEAD", "OPTIONS"}
    assert sorted(backend.after_crawl(PROBE_CHECKS)) == [
        ("GET", "/api/audit-logs"),
        ("GET", "/api/reports"),
        ("OPTIONS", "/api/items/7"),
        ("OPTIONS", "/api/webhooks"),
    ]
    found = diagnoses(run)
    audit, webhooks, items, reports, recordings = (
        found[check.split(" -> ")[0]] for check in PROBE_CHECKS[:5]
    )
    assert audit is not None and audit.confirmed == ("GET /api/audit-logs",)
    assert "probe: GET /api/audit-logs -> 200 confirmed" in audit.detail
    assert webhooks is not None and webhooks.confirmed == ("POST /api/webhooks",)
    assert "OPTIONS /api/webhooks -> 405 (Allow: POST) confirmed" in webhooks.detail
    assert items is not None and items.confirmed == ("DELETE /api/items/{id}",)
    assert reports is not None and reports.suggestions == ("GET /api/reports",)
    assert reports.confirmed == ()
    assert "probe: GET /api/reports -> 404" in reports.detail
    assert recordings is not None and recordings.confirmed == ()
    assert "probe" not in recordings.detail
    assert found["GET /api/health"] is None


def test_without_probe_nothing_more_is_sent(tmp_path: Path) -> None:
    backend = Backend()
    with serve(backend.app()) as url:
        path = manifest(tmp_path, f"base_url: {url}", PROBE_CHECKS, "{openapi: /openapi.json}")
        _, _, run = crawl(path, tmp_path / "out")
    assert backend.after_crawl(PROBE_CHECKS) == []
    assert all(d is None or d.confirmed == () for d in diagnoses(run).values())


def test_probe_sends_at_most_the_limit(tmp_path: Path) -> None:
    checks = [f"GET /api/thing/{n} -> 200" for n in range(1, 26)]  # 25 different suggestions
    backend = Backend()
    with serve(backend.app()) as url:
        path = manifest(tmp_path, f"base_url: {url}", checks, "{openapi: /openapi.json}")
        code, err, run = crawl(path, tmp_path / "out", "--probe")
    assert code == 1
    probes = backend.after_crawl(checks)
    assert len(probes) == runner.PROBE_LIMIT == 20
    # the first 20 in manifest order (sent concurrently, so they arrive in any order)
    assert set(probes) == {("GET", f"/api/things/{n}") for n in range(1, 21)}
    assert "probe: 5 suggested route(s) not confirmed: at most 20 probe requests per run" in err
    confirmed = [d.confirmed for d in diagnoses(run).values() if d is not None]
    assert confirmed == [("GET /api/things/{id}",)] * 20 + [()] * 5


def test_probe_sends_a_repeated_suggestion_once(tmp_path: Path) -> None:
    checks = ["GET /api/audit -> 200", "GET /api/audit_logs -> 200", "GET /api/auditlogs -> 200"]
    backend = Backend()
    with serve(backend.app()) as url:
        path = manifest(tmp_path, f"base_url: {url}", checks, "{openapi: /openapi.json}")
        _, _, run = crawl(path, tmp_path / "out", "--probe")
    assert backend.after_crawl(checks) == [("GET", "/api/audit-logs")]
    assert [d.confirmed for d in diagnoses(run).values() if d] == [("GET /api/audit-logs",)] * 3


def test_probe_on_the_in_process_demo(tmp_path: Path) -> None:
    path = manifest(tmp_path, f"app: {DEMO_APP}", DEMO_CHECKS, "{openapi: /openapi.json}")
    _, _, run = crawl(path, tmp_path / "out", "--probe")
    assert_demo_diagnosed(run)
    audit, webhooks = diagnoses(run)["GET /api/audit"], diagnoses(run)["GET /api/webhooks"]
    # /api/audit-logs answers an anonymous caller 401: the route is there.
    assert audit is not None and audit.confirmed == ("GET /api/audit-logs",)
    assert webhooks is not None and webhooks.confirmed == ("POST /api/webhooks",)


# --- the network half of the probe: engine.probe -------------------------------------------------


def test_engine_probe_refuses_unsafe_methods() -> None:
    async def main() -> None:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(lambda r: httpx.Response(200))
        ) as client:
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                with pytest.raises(ValueError, match="only GET, HEAD or OPTIONS"):
                    await engine.probe(client, method, "http://t/x", 1)

    anyio.run(main)


def test_engine_probe_reads_status_and_allow() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return httpx.Response(405, headers={"Allow": "POST, options"})

    async def main() -> engine.ProbeAnswer:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await engine.probe(client, "OPTIONS", "http://t/x", 1)

    answer = anyio.run(main)
    assert answer == engine.ProbeAnswer(405, frozenset({"POST", "OPTIONS"}))
    assert seen == ["OPTIONS"]


def test_engine_probe_is_bounded_by_its_timeout() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def main() -> engine.ProbeAnswer:
        async with httpx.AsyncClient(transport=httpx.MockTransport(hang)) as client:
            return await engine.probe(client, "GET", "http://t/x", 0.05)

    answer = anyio.run(main)
    assert answer.status is None
    assert answer.problem == "no answer within 0.05 s"


def test_engine_probe_turns_a_transport_failure_into_a_problem() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async def main() -> engine.ProbeAnswer:
        async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
            return await engine.probe(client, "HEAD", "http://t/x", 1)

    answer = anyio.run(main)
    assert answer.status is None and answer.problem


def test_engine_probe_all_keeps_order_and_limits_concurrency() -> None:
    inflight = 0
    most = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal inflight, most
        inflight += 1
        most = max(most, inflight)
        await anyio.lowlevel.checkpoint()
        inflight -= 1
        return httpx.Response(int(request.url.path.strip("/")))

    async def main() -> list[engine.ProbeAnswer]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            probes = [(client, "GET", f"http://t/{status}", 1.0) for status in (200, 404, 401, 302)]
            return await engine.probe_all(probes, concurrency=2)

    answers = anyio.run(main)
    assert [a.status for a in answers] == [200, 404, 401, 302]
    assert most <= 2
