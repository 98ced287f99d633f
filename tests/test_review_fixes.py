"""Regressions for a review's findings, one section per finding.

1. Secrets never show: inventory, import and xref URLs; `crawler check`; login passwords in
   fields not named like one, and `${SECRET:-default}`s.
2. User input never ends in exit 70: bad JSONPaths, non-ASCII captured headers, documents
   and sources nested without end, odd keys and server URLs.
3. `--probe` sends one safe request per probe; a word id is a missing resource; static
   cookies stay on the target's host.
4. A login that drips its answer cannot hang a run; xref never blocks on a FIFO or device.

Servers are loopback ones started here, or `httpx.MockTransport`s.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import yaml
from auth_servers import OAuthApp, bearer
from click.testing import CliRunner
from servers import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from crawler import auth, engine, manifest, openapi_import, redact, routes, xref
from crawler.auth import Session
from crawler.cli import cli
from crawler.manifest import Identity
from crawler.redact import REDACTED, Redactor
from crawler.results import load_run

DEMO_APP = "crawler.demo.app:app"
TOKEN = "tok-5e3c7a91"
PASSWORD = "pw-8d2f6b40"
DOCUMENT = {"openapi": "3.0.3", "info": {"title": "Docs", "version": "1"}, "paths": {}}
AUDIT_LOGS = {**DOCUMENT, "paths": {"/api/audit-logs": {"get": {"responses": {"200": {}}}}}}


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)
    return result.exit_code, result.stdout, result.stderr


def guarded_document(document: dict[str, Any]) -> Starlette:
    """Serves `document` at /openapi.json to `?token=TOKEN` (with basic auth `ci:PASSWORD`
    when the request has any Authorization); and /api/audit-logs."""

    async def openapi(request: Request) -> Response:
        if request.query_params.get("token") != TOKEN:
            return JSONResponse({"detail": "bad token", "got": dict(request.query_params)}, 401)
        sent = request.headers.get("authorization")
        if sent is not None and sent != httpx.BasicAuth("ci", PASSWORD)._auth_header:
            return JSONResponse({"detail": "bad password"}, 401)
        return JSONResponse(document)

    async def ok(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/openapi.json", openapi), Route("/api/audit-logs", ok)])


def leaked(*texts: str) -> list[str]:
    return [secret for secret in (TOKEN, PASSWORD) if any(secret in text for text in texts)]


# --- 1a. inventory, import and xref URLs -----------------------------------------------------


def test_inventory_url_secrets_are_not_in_reports_nor_warnings(tmp_path: Path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(
        f"version: 1\nname: T\napp: {DEMO_APP}\ngroups:\n  API:\n    - GET /api/audit -> 200\n"
    )
    out = tmp_path / "out"
    with serve(guarded_document(AUDIT_LOGS)) as url:
        code, _, err = invoke(
            "run", str(path), "--out", str(out), "-q", "--format", "md,html,json",
            "--inventory", f"{url}/openapi.json?token={TOKEN}",
        )  # fmt: skip
        _, _, missing = invoke(
            "run", str(path), "--out", str(tmp_path / "o2"), "-q", "--format", "json",
            "--inventory", f"{url}/missing.json?token={TOKEN}",
        )  # fmt: skip
    assert code == 1
    run = load_run(out / "run.json")
    assert run.inventory is not None
    assert run.inventory.startswith(f"{url}/openapi.json?token={REDACTED}")
    assert run.results[0].diagnosis is not None
    assert run.results[0].diagnosis.suggestions == ("GET /api/audit-logs",)  # it was read
    reports = [(out / name).read_text() for name in ("run.json", "report.md", "report.html")]
    assert leaked(*reports, err) == []
    assert f"route inventory {url}/missing.json?token={REDACTED} not read" in missing
    assert leaked(missing) == []


@pytest.fixture
def frontend(tmp_path: Path) -> Path:
    folder = tmp_path / "fe"
    folder.mkdir()
    (folder / "app.ts").write_text('fetch("/api/audit");\nfetch("/api/audit-logs");\n')
    return folder


def test_xref_backend_url_secrets_are_not_in_reports_nor_the_manifest(
    tmp_path: Path, frontend: Path
) -> None:
    out, emitted = tmp_path / "out", tmp_path / "em.yaml"
    with serve(guarded_document(AUDIT_LOGS)) as url:
        backend = url.replace("http://", f"http://ci:{PASSWORD}@") + f"/openapi.json?token={TOKEN}"
        code, stdout, err = invoke(
            "xref", "--frontend", str(frontend), "--backend", backend, "--out", str(out),
            "--emit-manifest", str(emitted), "--live", "--base-url", url,
        )  # fmt: skip
    assert code == 1, err  # /api/audit is not served
    written = [p.read_text() for p in (*out.iterdir(), emitted)]
    assert {p.name for p in out.iterdir()} >= {"xref.md", "xref.html", "xref.json", "live-run.json"}
    assert leaked(*written, stdout, err) == []
    assert "warning: route inventory" not in err  # --live read it, with the real credentials
    text = emitted.read_text()
    assert "${INVENTORY_PASSWORD}" in text and "${INVENTORY_TOKEN}" in text
    # Exported, the placeholders make the URL again, and their values are secrets of the run.
    environ = {"INVENTORY_PASSWORD": PASSWORD, "INVENTORY_TOKEN": TOKEN}
    loaded = manifest.load(emitted, environ)
    assert loaded.inventory is not None
    assert loaded.inventory.openapi == backend
    assert {PASSWORD, TOKEN} <= set(loaded.secrets)


def test_import_openapi_url_secrets_are_not_written(tmp_path: Path) -> None:
    document = {**DOCUMENT, "paths": {"/api/x": {"get": {"responses": {"200": {}}}}}}
    out = tmp_path / "api.yaml"
    with serve(guarded_document(document)) as url:
        spec = url.replace("http://", f"http://ci:{PASSWORD}@") + f"/openapi.json?token={TOKEN}"
        code, stdout, err = invoke("import", "openapi", spec, "-o", str(out))
        failed, _, refused = invoke(
            "import", "openapi", spec.replace("openapi", "missing"), "-o", "-"
        )
    assert code == 0, err
    text = out.read_text()
    assert leaked(text, stdout, err) == []
    data = yaml.safe_load(text)
    assert data["base_url"] == "${BASE_URL:-" + url + "}"
    assert data["inventory"] == {"openapi": "/openapi.json"}
    assert "carries credentials (a password, token)" in text
    assert failed == 2
    assert leaked(refused) == []


# --- 1b. crawler check ---------------------------------------------------------------------------


def test_check_prints_paths_and_target_redacted(tmp_path: Path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(
        "version: 1\nname: T\nbase_url: http://ci:${API_PASSWORD}@127.0.0.1:9\n"
        "groups:\n  API:\n"
        "    - GET /me?token=${API_TOKEN} -> 200\n"
        "    - GET /api/{TODO_id}?token=${API_TOKEN} -> 200\n"
    )
    code, stdout, err = invoke(
        "check", str(path), env={"API_TOKEN": TOKEN, "API_PASSWORD": PASSWORD}
    )
    assert code == 0, err
    assert leaked(stdout, err) == []
    assert f"GET /me?token={REDACTED}" in stdout
    assert f"GET /api/{{TODO_id}}?token={REDACTED}: unresolved placeholder" in err


# --- 1c. login passwords by any name; secret defaults ---------------------------------------


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("pass", True),
        ("user_pass", True),
        ("pwd", True),
        ("pw", True),
        ("passcode", True),
        ("passphrase", True),
        ("pin", True),
        ("user_pin", True),
        ("PIN", True),
        ("passenger", False),
        ("passage", False),
        ("spin", False),
        ("pinned", False),
        ("shipping", False),
        ("username", False),
    ],
)
def test_more_password_spellings_are_secret_names(name: str, secret: bool) -> None:
    assert redact.is_secret_name(name) is secret


def refusing(request: httpx.Request) -> httpx.Response:
    """A login endpoint that refuses, echoing what was posted (as careless servers do)."""
    return httpx.Response(401, json={"error": "bad login", "posted": request.content.decode()})


async def log_in(
    identity: dict[str, Any],
    handler: Callable[[httpx.Request], httpx.Response],
    base_url: str = "https://api.example.test",
    **options: Any,
) -> Session:
    """`identity` logged in through `handler`, as `open_sessions` does (in a task group)."""
    parsed = Identity.model_validate(identity)
    redactor = Redactor(parsed.secrets())
    transport = httpx.MockTransport(handler)
    client = auth.identity_client(parsed, transport, base_url, redactor, **options)
    session = Session("someone", parsed, client, redactor)
    async with client:
        await auth.login_all([session])
    return session


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "secret"),
    [
        ({"form": {"user": "alice", "pin": "4812-7731"}}, "4812-7731"),
        ({"form": {"user": "alice", "pw": "hunter2-xyz"}}, "hunter2-xyz"),
        ({"json": {"user": "alice", "pass": "hunter2-xyz"}}, "hunter2-xyz"),
        ({"json": {"user": "alice", "passcode": "998877"}}, "998877"),
        # a field no name rule knows: what a login step sends is hidden in its own failure
        ({"form": {"user": "alice", "code": "zq-71-ab"}}, "zq-71-ab"),
        ({"json": {"login": {"user": "alice", "answer": "blue-moon"}}}, "blue-moon"),
    ],
)
async def test_login_failure_never_echoes_what_the_step_sent(
    body: dict[str, Any], secret: str
) -> None:
    step = {"method": "POST", "path": "/login", "expect": 200, **body}
    session = await log_in({"kind": "login", "steps": [step]}, refusing)
    assert session.failure is not None
    assert "expected 200, got 401" in session.failure
    assert secret not in session.failure
    assert REDACTED in session.failure


def test_secret_named_variable_defaults_are_secrets() -> None:
    loaded = manifest.loads(
        "version: 1\nname: T\nbase_url: http://127.0.0.1:9\n"
        "defaults: {headers: {X-Trace: '${TRACE_TOKEN:-trace-default-99}'}}\n"
        "identities:\n"
        "  u:\n"
        "    kind: login\n"
        "    steps:\n"
        "      - {method: POST, path: /login, form: {code: '${LOGIN_SECRET:-s3cr3t-default}'}}\n"
        "groups:\n  API:\n    - GET /x -> 200\n",
        environ={},
    )
    assert {"trace-default-99", "s3cr3t-default"} <= set(loaded.secrets)


# --- 2. user input never ends in exit 70 --------------------------------------------------------


def test_an_invalid_capture_jsonpath_is_a_located_manifest_error(tmp_path: Path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(
        "version: 1\nname: T\nbase_url: http://127.0.0.1:9\n"
        "identities:\n"
        "  u:\n"
        "    kind: login\n"
        "    steps:\n"
        '      - {method: POST, path: /login, capture: {v: {json: "$[?"}}}\n'
        "groups:\n  API:\n    - GET /x -> 200\n"
    )
    code, _, err = invoke("check", str(path))
    assert code == 2
    assert f"{path}:8: identities.u.steps[0].capture.v:" in err
    assert "not a valid JSONPath" in err


@pytest.mark.anyio
async def test_an_unexpected_login_exception_is_a_login_failure() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError(f"transport bug near {PASSWORD}")

    step = {"method": "POST", "path": "/login", "form": {"password": PASSWORD}}
    session = await log_in({"kind": "login", "steps": [step]}, broken)
    assert session.failure is not None
    assert "RuntimeError" in session.failure
    assert PASSWORD not in session.failure


def org_login(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/login":
        return httpx.Response(200, json={"org": "Zürich"})
    return httpx.Response(200, json={"ok": True})


@pytest.mark.anyio
async def test_a_non_ascii_capture_in_an_identity_header_is_a_login_failure() -> None:
    step = {"method": "POST", "path": "/login", "capture": {"org": "$.org"}}
    identity = {"kind": "login", "headers": {"X-Org": "{org}"}, "steps": [step]}
    session = await log_in(identity, org_login)
    assert session.failure is not None
    assert "header X-Org" in session.failure
    assert "non-ASCII" in session.failure


@pytest.mark.anyio
async def test_a_non_ascii_capture_in_a_later_step_header_is_a_login_failure() -> None:
    first = {"method": "POST", "path": "/login", "capture": {"org": "$.org"}}
    second = {"method": "GET", "path": "/me", "headers": {"X-Org": "{org}"}}
    session = await log_in({"kind": "login", "steps": [first, second]}, org_login)
    assert session.failure is not None
    assert session.failure.startswith("step 2 (GET /me): header X-Org")


@pytest.fixture
def deep_json(tmp_path: Path) -> Path:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000)
    return path


def test_a_deeply_nested_inventory_is_a_usage_error(tmp_path: Path, deep_json: Path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(f"version: 1\nname: T\napp: {DEMO_APP}\ngroups:\n  API:\n    - GET /x\n")
    code, _, err = invoke(
        "run", str(path), "--out", str(tmp_path / "out"), "--inventory", str(deep_json)
    )
    assert code == 2
    assert "nested too deeply" in err


def test_a_deeply_nested_document_to_import_is_a_spec_error(deep_json: Path) -> None:
    code, _, err = invoke("import", "openapi", str(deep_json), "-o", "-")
    assert code == 2
    assert "nested too deeply" in err


def test_a_deeply_nested_xref_backend_is_a_usage_error(
    tmp_path: Path, frontend: Path, deep_json: Path
) -> None:
    code, _, err = invoke(
        "xref", "--frontend", str(frontend), "--backend", str(deep_json), "--out", str(tmp_path)
    )
    assert code == 2
    assert "nested too deeply" in err


def test_a_deeply_nested_manifest_is_a_manifest_error() -> None:
    # PyYAML 6.0.4 stops it in the parser ("maximum nesting depth"); older ones recurse.
    text = "version: 1\nname: T\ngroups: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(manifest.ManifestError, match=r"nested too deeply|nesting depth"):
        manifest.loads(text, environ={})


def test_an_import_whose_examples_nest_deeper_than_python_recurses_is_a_spec_error() -> None:
    example = json.loads("[" * 900 + "]" * 900)  # parses, but nests deeper than any real one
    body = {"content": {"application/json": {"example": example}}}
    operation = {"requestBody": body, "responses": {"200": {}}}
    document = {**DOCUMENT, "paths": {"/api/x": {"post": operation}}}
    with pytest.raises(openapi_import.SpecError, match="nested too deeply"):
        openapi_import.convert(document, source="deep.json")


def test_an_integer_key_in_a_path_item_is_not_an_operation(tmp_path: Path) -> None:
    path = tmp_path / "openapi.yaml"
    path.write_text(
        "openapi: 3.0.3\npaths:\n  /api/x:\n    1: {}\n    get: {}\n  2:\n    get: {}\n"
    )
    assert [str(route) for route in routes.load_file(path).routes] == ["GET /api/x", "GET /2"]


@pytest.mark.parametrize(
    "document",
    [
        {**DOCUMENT, "servers": [{"url": "http://[::1"}]},
        {"swagger": "2.0", "info": {"title": "T"}, "host": "[::1", "paths": {}},
        {"swagger": "2.0", "info": {"title": "T"}, "host": "[::1", "basePath": "/v2", "paths": {}},
    ],
)
def test_an_unparseable_server_url_is_no_server(document: dict[str, Any]) -> None:
    document = {**document, "paths": {"/api/x": {"get": {"responses": {"200": {}}}}}}
    text = openapi_import.convert(document, source="spec.yaml").text
    assert yaml.safe_load(text)["base_url"] == "${BASE_URL:-http://127.0.0.1:8000}"


@pytest.mark.parametrize(
    "source",
    [
        "fetch(`" + "${`" * 2000 + "`}" * 2000 + "`)",  # template literals nested 2000 deep
        "fetch(`" + "${`" * 200_000,  # ... and never closed
        "fetch(" + "(" * 3000 + '"/api/x"' + ")" * 3000 + ")",
        "fetch(" + "[" * 3000 + '"/api/x"' + "]" * 3000 + ")",
        "fetch(" + 'a ? "/api/x" : ' * 3000 + '"/api/y")',
        "fetch(" + '"/api/x" || ' * 3000 + '"/api/y")',
    ],
)
def test_xref_survives_sources_nested_without_end(source: str) -> None:
    xref.scan_source(source, "deep.ts")  # no RecursionError


def test_xref_still_reads_nested_templates() -> None:
    source = "fetch(`/api/a/${`x${y}`}/b`); fetch(`/api/c/${ {a: 1}[k] }`); fetch((('/api/d')))"
    paths = [call.path for call in xref.scan_source(source, "a.ts")]
    assert paths == ["/api/a/{param}/b", "/api/c/{param}", "/api/d"]


# --- 3a. a probe is one safe request ---------------------------------------------------------


def recording(app: ASGIApp, log: list[tuple[str, str]]) -> ASGIApp:
    async def recorder(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            log.append((scope["method"], scope["path"]))
        await app(scope, receive, send)

    return recorder


def test_probe_never_fetches_a_token_nor_retries(tmp_path: Path) -> None:
    # expires_in 0: every request through the OAuth2 auth flow fetches a token first.
    oauth = OAuthApp(expires_in=0)

    async def user(request: Request) -> Response:
        if bearer(request) not in oauth.tokens:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse({"id": request.path_params["id"]})

    log: list[tuple[str, str]] = []
    app = Starlette(routes=[*oauth.routes, Route("/api/users/{id}", user)])
    (tmp_path / "routes.txt").write_text("GET /api/users/{id}\n")
    path = tmp_path / "api.yaml"
    with serve(recording(app, log)) as url:
        path.write_text(
            f"version: 1\nname: T\nbase_url: {url}\n"
            "identities:\n"
            "  machine: {kind: oauth2_client_credentials, token_url: /oauth/token,\n"
            "            client_id: machine, client_secret: machine-secret}\n"
            "groups:\n  API:\n    - GET /api/user/7 -> 200\n"
        )
        invoke(
            "run", str(path), "--out", str(tmp_path / "out"), "-q", "--format", "json",
            "--inventory", str(tmp_path / "routes.txt"), "--probe",
        )  # fmt: skip
    checked = log.index(("GET", "/api/user/7"))
    assert log[checked + 1 :] == [("GET", "/api/users/7")]  # no POST /oauth/token
    diagnosis = load_run(tmp_path / "out" / "run.json").results[0].diagnosis
    assert diagnosis is not None
    assert diagnosis.confirmed == ("GET /api/users/{id}",)  # sent with the cached token


def test_authorization_is_found_without_sending_anything() -> None:
    basic = httpx.BasicAuth("ci", PASSWORD)
    assert auth.authorization(basic) == basic._auth_header
    identity = Identity.model_validate(
        {
            "kind": "oauth2_client_credentials",
            "token_url": "/t",
            "client_id": "a",
            "client_secret": "b",
        }
    )
    assert auth.authorization(auth.ClientCredentials(identity, Redactor())) is None
    assert auth.authorization(None) is None


# --- 3c. static cookies stay on the target's host ------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "base_url", ["http://testserver", "http://127.0.0.1:8000", "https://api.example.test"]
)
@pytest.mark.parametrize(
    "identity",
    [
        {
            "kind": "login",
            "cookies": {"remember_me": "rm-7c1d9e22"},
            "steps": [{"method": "POST", "path": "https://idp.example.net/login", "expect": 200}],
        },
        {"kind": "api_key", "in": "cookie", "name": "remember_me", "value": "rm-7c1d9e22"},
    ],
)
async def test_static_cookies_go_to_the_target_only(
    base_url: str, identity: dict[str, Any]
) -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get("cookie")))
        return httpx.Response(200)

    parsed = Identity.model_validate(identity)
    redactor = Redactor()
    client = auth.identity_client(parsed, httpx.MockTransport(handler), base_url, redactor)
    session = Session("someone", parsed, client, redactor)
    async with client:
        await session.login()
        await client.get("/api/me")
        await client.get("https://elsewhere.example.net/x")
    assert session.failure is None
    target = httpx.URL(base_url).host
    assert [(h, c) for h, c in seen if h != target] == [
        *([("idp.example.net", None)] if identity["kind"] == "login" else []),
        ("elsewhere.example.net", None),
    ]
    assert (target, "remember_me=rm-7c1d9e22") in seen


# --- 4a. login deadlines and body caps ---------------------------------------------------------


def dripping() -> Starlette:
    """Answers a login step and a token request one byte every 0.2 s, for 30 s."""

    async def drip(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(150):
                if await request.is_disconnected():
                    return
                yield b" "
                await anyio.sleep(0.2)  # the server's pace, not a test's synchronisation

        return StreamingResponse(body(), media_type="application/json")

    return Starlette(
        routes=[Route("/login", drip, methods=["POST"]), Route("/token", drip, methods=["POST"])]
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    "identity",
    [
        {"kind": "login", "steps": [{"method": "POST", "path": "/login", "expect": 200}]},
        {
            "kind": "oauth2_client_credentials",
            "token_url": "/token",
            "client_id": "a",
            "client_secret": "b",
        },
    ],
)
async def test_a_login_that_drips_its_answer_times_out(identity: dict[str, Any]) -> None:
    timeout = 0.5  # per read; the drip (0.2 s a byte) never lets a read time out
    settings = engine.Settings(timeout=timeout, transport="httpx")
    loaded = manifest.loads(
        "version: 1\nname: T\nbase_url: http://127.0.0.1:9\n"
        f"identities: {{u: {json.dumps(identity)}}}\ngroups:\n  API:\n    - GET /x -> 200\n",
        environ={},
    )
    with serve(dripping()) as url:
        target = engine.Target(base_url=url)
        started = time.monotonic()
        redactor = Redactor()
        async with engine.open_sessions(target, settings, loaded.identities, redactor) as sessions:
            results = await engine.crawl(loaded.planned(), sessions, settings, redactor=redactor)
        took = time.monotonic() - started
    failure = sessions["u"].failure
    assert failure is not None
    assert "no complete answer within 1 s (timeout)" in failure
    assert sessions["u"].failure_error == "timeout"
    assert results[0].verdict == "ERROR"  # unreachable, not a refused login
    assert took < 20 * timeout  # a generous bound: without a deadline it takes 30 s


class Endless(httpx.AsyncByteStream):
    """64 MiB of `x` in 64 KiB chunks, counting how many were asked for."""

    def __init__(self) -> None:
        self.chunks = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(1024):
            self.chunks += 1
            yield b"x" * 65536


@pytest.mark.anyio
@pytest.mark.parametrize(
    "identity",
    [
        {
            "kind": "login",
            "steps": [{"method": "POST", "path": "/login", "capture": {"x": {"regex": "x"}}}],
        },
        {
            "kind": "oauth2_client_credentials",
            "token_url": "/token",
            "client_id": "a",
            "client_secret": "b",
        },
    ],
)
async def test_a_login_answer_is_read_up_to_a_cap(identity: dict[str, Any]) -> None:
    stream = Endless()
    session = await log_in(identity, lambda request: httpx.Response(200, stream=stream))
    assert stream.chunks <= auth.LOGIN_BODY_CAP // 65536 + 2
    if identity["kind"] == "login":
        assert session.failure is None  # what it needed was in the first bytes
    else:
        assert session.failure == "token endpoint answered without an access_token"


# --- 4b. xref reads regular files only ------------------------------------------------------


def _limit_memory() -> None:  # pragma: no cover - runs in the child process
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def test_xref_skips_fifos_and_devices(tmp_path: Path) -> None:
    folder = tmp_path / "fe"
    folder.mkdir()
    (folder / "app.ts").write_text('fetch("/api/x");\n')
    os.mkfifo(folder / "pipe.ts")  # opening it would wait for a writer forever
    (folder / "zero.js").symlink_to("/dev/zero")  # reading it never ends
    # In a child with a memory limit and a timeout: before the fix it blocked or filled memory.
    code = "import sys, pathlib, crawler.xref as x; s = x.scan(pathlib.Path(sys.argv[1])); "
    code += "print(len(s.calls), s.files)"
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limit_memory,
        check=False,
    )
    assert (done.returncode, done.stdout.split()) == (0, ["1", "1"]), done.stderr


def test_xref_skips_files_larger_than_the_limit(tmp_path: Path) -> None:
    (tmp_path / "small.ts").write_text('fetch("/api/x");\n')
    (tmp_path / "big.ts").write_text('fetch("/api/y");\n'.ljust(xref.MAX_FILE_BYTES + 1))
    found = xref.scan(tmp_path)
    assert ([call.path for call in found.calls], found.files) == (["/api/x"], 1)
