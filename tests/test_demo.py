"""The demo API answers as documented (faults, sign-in and roles included), and
specs/demo.yaml, crawled by the engine as admin, viewer and anonymous, agrees with it."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from crawler import engine, manifest, runner
from crawler.demo.__main__ import main
from crawler.demo.app import (
    BOOKINGS,
    CSRF_COOKIE,
    OPERATIONS,
    SESSION_COOKIE,
    Sessions,
    app,
    openapi,
)
from crawler.redact import Redactor
from crawler.results import CheckResult

ROOT = Path(__file__).resolve().parent.parent
DEMO_SPEC = ROOT / "specs" / "demo.yaml"
BASE = "http://testserver"
ADMIN = ("admin@demo.test", "demo-admin-pass")
VIEWER = ("viewer@demo.test", "demo-viewer-pass")


def demo_client() -> httpx.AsyncClient:
    # Each client has its own cookie jar, so each one is a separate browser.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    """The NextAuth credentials flow: fetch a CSRF token, post it with the credentials."""
    csrf = (await client.get("/api/auth/csrf")).json()["csrfToken"]
    return await client.post(
        "/api/auth/callback/credentials",
        data={"csrfToken": csrf, "email": email, "password": password},
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with demo_client() as anonymous:
        yield anonymous


@pytest.fixture
async def admin() -> AsyncIterator[httpx.AsyncClient]:
    async with demo_client() as signed_in:
        assert (await sign_in(signed_in, *ADMIN)).status_code == 302
        yield signed_in


@pytest.fixture
async def viewer() -> AsyncIterator[httpx.AsyncClient]:
    async with demo_client() as signed_in:
        assert (await sign_in(signed_in, *VIEWER)).status_code == 302
        yield signed_in


# --- routes, as anonymous ----------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/health", 200),
        ("HEAD", "/api/health", 200),
        ("GET", "/api/slow", 200),
        ("GET", "/api/billing/plans", 200),
        ("POST", "/api/webhooks", 202),
        ("GET", "/api/auth/csrf", 200),
        ("GET", "/api/auth/session", 200),
        ("GET", "/openapi.json", 200),
        # Behind sign-in: 401 before anything else (even before a 404 or a 422).
        ("GET", "/api/billing", 401),
        ("GET", "/api/billing/invoices?limit=0", 401),
        ("GET", "/api/billing/subscription", 401),
        ("POST", "/api/billing/checkout", 401),
        ("GET", "/api/users/me", 401),
        ("GET", "/api/users", 401),
        ("GET", "/api/users/1", 401),
        ("GET", "/api/users/999", 401),
        ("GET", "/api/admin/users", 401),
        ("GET", "/api/recordings/rec_001", 401),
        ("GET", "/api/audit-logs", 401),
        ("GET", "/api/audit-logs/1", 401),
        # The deliberate faults.
        ("GET", "/api/recordings", 404),
        ("GET", "/api/audit", 404),
        ("GET", "/api/reports/export", 500),
        ("GET", "/api/webhooks", 405),
        ("GET", "/api/legacy", 302),
        ("GET", "/api/search?q=x", 404),
        ("GET", "/api/search", 200),
        # Never shipped, and not routes whoever asks.
        ("GET", "/api/audio/transcriptions", 404),
        ("GET", "/api/organizations", 404),
        ("GET", "/api/users/abc", 404),
    ],
)
async def test_route_status(client: httpx.AsyncClient, method: str, path: str, status: int) -> None:
    response = await client.request(method, path)
    assert response.status_code == status


@pytest.mark.anyio
async def test_signed_out_is_a_json_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/users/me")
    assert (response.status_code, response.json()) == (401, {"detail": "sign in first"})


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/api/recordings", "/api/audit", "/no/such/route"])
async def test_missing_routes_get_starlettes_default_404(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert (response.status_code, response.text) == (404, "Not Found")


@pytest.mark.anyio
async def test_webhooks_accept_post_only(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/webhooks")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


@pytest.mark.anyio
async def test_legacy_redirect_is_an_answer_not_followed(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/legacy", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "/api/health"


@pytest.mark.anyio
async def test_export_fails_with_a_json_error(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/reports/export", params={"format": "csv"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == "EXPORT_FAILED"


@pytest.mark.anyio
async def test_search_reflects_the_query_unescaped(client: httpx.AsyncClient) -> None:
    script = "<script>alert(1)</script>"
    response = await client.get("/api/search", params={"q": script})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert script in response.text


# --- signing in --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_csrf_token_comes_with_a_cookie_that_vouches_for_it(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/auth/csrf")
    token = response.json()["csrfToken"]
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert client.cookies[CSRF_COOKIE].startswith(f"{token}|")


@pytest.mark.anyio
@pytest.mark.parametrize(("email", "password"), [ADMIN, VIEWER])
async def test_the_right_password_signs_in(email: str, password: str) -> None:
    async with demo_client() as browser:
        response = await sign_in(browser, email, password)
        assert response.status_code == 302
        assert response.headers["location"] == "/"
        assert "httponly" in response.headers["set-cookie"].lower()
        assert browser.cookies[SESSION_COOKIE]
        session = (await browser.get("/api/auth/session")).json()
    user = session["user"]
    assert (user["email"], user["role"], user["orgId"]) == (email, email.split("@")[0], "org_42")
    assert set(user) == {"name", "email", "role", "orgId"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("viewer@demo.test", "wrong"),
        ("viewer@demo.test", ""),
        ("nobody@demo.test", "demo-viewer-pass"),
        ("alan@demo.test", ""),  # a user without a password cannot sign in
    ],
)
async def test_wrong_credentials_are_a_401_without_a_session(email: str, password: str) -> None:
    async with demo_client() as browser:
        response = await sign_in(browser, email, password)
        assert response.status_code == 401
        assert response.json() == {
            "error": "CredentialsSignin",
            "detail": "invalid email or password",
        }
        assert SESSION_COOKIE not in browser.cookies
        assert (await browser.get("/api/auth/session")).json() == {}
        assert (await browser.get("/api/users/me")).status_code == 401


@pytest.mark.anyio
@pytest.mark.parametrize("case", ["no cookie", "no token", "other token", "forged cookie"])
async def test_credentials_need_the_csrf_token_of_the_cookie(case: str) -> None:
    async with demo_client() as browser, demo_client() as other:
        token = (await browser.get("/api/auth/csrf")).json()["csrfToken"]
        other_token = (await other.get("/api/auth/csrf")).json()["csrfToken"]
        form = {"csrfToken": token, "email": VIEWER[0], "password": VIEWER[1]}
        if case == "no cookie":
            browser.cookies.clear()
        elif case == "no token":
            del form["csrfToken"]
        elif case == "other token":
            form["csrfToken"] = other_token
        else:  # a cookie made up to match the form, but not signed by the server
            browser.cookies.set(CSRF_COOKIE, f"{token}|{'0' * 64}")
        response = await browser.post("/api/auth/callback/credentials", data=form)
    assert response.status_code == 401
    assert response.json()["error"] == "MissingCSRF"


@pytest.mark.anyio
async def test_signed_out_session_is_empty(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/session")
    assert (response.status_code, response.json()) == (200, {})


@pytest.mark.anyio
async def test_a_made_up_session_cookie_is_anonymous(client: httpx.AsyncClient) -> None:
    client.cookies.set(SESSION_COOKIE, "0" * 64)
    assert (await client.get("/api/users/me")).status_code == 401


@pytest.mark.anyio
async def test_users_me_is_the_session_user(
    admin: httpx.AsyncClient, viewer: httpx.AsyncClient
) -> None:
    me = (await admin.get("/api/users/me")).json()
    assert (me["email"], me["role"], me["orgId"]) == ("admin@demo.test", "admin", "org_42")
    me = (await viewer.get("/api/users/me")).json()
    assert (me["email"], me["role"], me["orgId"]) == ("viewer@demo.test", "viewer", "org_42")


def test_session_tokens_are_deterministic_and_bounded() -> None:
    first, second = Sessions(), Sessions()
    assert [first.start(1) for _ in range(3)] == [second.start(1) for _ in range(3)]
    assert first.new_csrf() == second.new_csrf()
    small = Sessions()
    small.LIMIT = 2
    oldest, *_ = [small.start(user_id) for user_id in (1, 2, 1)]
    assert small.user(oldest) is None  # evicted, oldest first


# --- roles -------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "path", "as_admin", "as_viewer", "as_anonymous"),
    [
        ("GET", "/api/auth/session", 200, 200, 200),
        ("GET", "/api/users/me", 200, 200, 401),
        ("GET", "/api/admin/users", 200, 403, 401),
        ("GET", "/api/users", 200, 200, 401),  # the deliberate fault: the viewer gets in
        ("GET", "/api/users/1", 200, 200, 401),
        ("GET", "/api/users/999", 404, 404, 401),
        ("GET", "/api/billing", 200, 200, 401),
        ("GET", "/api/billing/plans", 200, 200, 200),
        ("GET", "/api/billing/invoices?limit=2", 200, 200, 401),
        ("GET", "/api/billing/invoices?limit=0", 422, 422, 401),
        ("GET", "/api/billing/subscription", 200, 200, 401),
        ("GET", "/api/billing/subscription?orgId=org_42", 200, 200, 401),
        ("GET", "/api/billing/subscription?orgId=org_7", 403, 403, 401),
        ("POST", "/api/billing/checkout", 201, 403, 401),
        ("GET", "/api/recordings/rec_001", 200, 200, 401),
        ("GET", "/api/recordings/rec_999", 404, 404, 401),
        ("GET", "/api/audit-logs", 200, 403, 401),
        ("GET", "/api/audit-logs/1", 200, 403, 401),
        ("GET", "/api/audit-logs/99", 404, 403, 401),
    ],
)
async def test_role_based_statuses(
    admin: httpx.AsyncClient,
    viewer: httpx.AsyncClient,
    client: httpx.AsyncClient,
    method: str,
    path: str,
    as_admin: int,
    as_viewer: int,
    as_anonymous: int,
) -> None:
    statuses = [(await who.request(method, path)).status_code for who in (admin, viewer, client)]
    assert statuses == [as_admin, as_viewer, as_anonymous]


@pytest.mark.anyio
async def test_viewer_is_told_why_it_is_forbidden(viewer: httpx.AsyncClient) -> None:
    response = await viewer.get("/api/admin/users")
    assert response.json() == {"detail": "administrators only"}
    response = await viewer.get("/api/billing/subscription", params={"orgId": "org_7"})
    assert response.json() == {"detail": "not a member of organization org_7"}


@pytest.mark.anyio
async def test_admin_users_lists_roles(admin: httpx.AsyncClient) -> None:
    body = (await admin.get("/api/admin/users")).json()
    assert body["total"] == 3
    assert body["users"][0] == {"id": 1, "email": "admin@demo.test", "role": "admin"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "status", "answer"),
    [
        (None, 201, {"checkout_id": "chk_demo_pro", "plan": "pro", "status": "pending"}),
        (
            b'{"plan": "team"}',
            201,
            {"checkout_id": "chk_demo_team", "plan": "team", "status": "pending"},
        ),
        (b'{"plan": "gold"}', 422, {"detail": "unknown plan"}),
        (b"[1, 2]", 422, {"detail": "unknown plan"}),
        (b"not json", 400, {"detail": "body must be JSON"}),
    ],
)
async def test_checkout(
    admin: httpx.AsyncClient, body: bytes | None, status: int, answer: dict[str, Any]
) -> None:
    response = await admin.post("/api/billing/checkout", content=body)
    assert (response.status_code, response.json()) == (status, answer)


@pytest.mark.anyio
async def test_answers_are_deterministic(admin: httpx.AsyncClient) -> None:
    paths = ["/openapi.json", "/api/health", "/api/users", "/api/audit-logs", "/api/billing"]
    first = [(await admin.get(path)).content for path in paths]
    second = [(await admin.get(path)).content for path in paths]
    assert first == second


# --- openapi -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_openapi_lists_the_real_routes_and_nothing_else(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.0")
    listed = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert listed == {
        ("GET", "/api/health"),
        ("GET", "/api/slow"),
        ("GET", "/api/legacy"),
        ("GET", "/api/search"),
        ("GET", "/api/auth/csrf"),
        ("POST", "/api/auth/callback/credentials"),
        ("GET", "/api/auth/session"),
        ("GET", "/api/billing"),
        ("GET", "/api/billing/plans"),
        ("GET", "/api/billing/invoices"),
        ("GET", "/api/billing/subscription"),
        ("POST", "/api/billing/checkout"),
        ("POST", "/api/webhooks"),
        ("GET", "/api/users/me"),
        ("GET", "/api/users"),
        ("GET", "/api/users/{id}"),
        ("GET", "/api/admin/users"),
        ("GET", "/api/recordings/{id}"),
        ("GET", "/api/audit-logs"),
        ("GET", "/api/audit-logs/{id}"),
        ("GET", "/api/reports/export"),
        ("POST", "/api/bookings"),
        ("GET", "/api/bookings/{id}"),
        ("PUT", "/api/bookings/{id}"),
        ("DELETE", "/api/bookings/{id}"),
        # The stubbed routes (stub detection's demo).
        ("GET", "/api/analytics/summary"),
        ("GET", "/api/analytics/calls/{id}"),
        ("GET", "/api/users/me/notifications"),
        ("POST", "/api/feedback"),
    }


def test_openapi_path_parameters_are_typed() -> None:
    paths = openapi()["paths"]
    assert paths["/api/users/{id}"]["get"]["parameters"] == [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    ]
    assert paths["/api/recordings/{id}"]["get"]["parameters"][0]["schema"] == {"type": "string"}
    assert set(paths["/api/users/{id}"]["get"]["responses"]) == {"200", "401", "404"}


def test_openapi_documents_access() -> None:
    document = openapi()
    paths = document["paths"]
    assert document["components"]["securitySchemes"]["session"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
    }
    assert "security" not in paths["/api/health"]["get"]
    assert paths["/api/users/me"]["get"]["security"] == [{"session": []}]
    assert set(paths["/api/admin/users"]["get"]["responses"]) == {"200", "401", "403"}
    login = paths["/api/auth/callback/credentials"]["post"]
    assert set(login["responses"]) == {"302", "401"}
    form = login["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["required"] == ["csrfToken", "email", "password"]


def test_every_operation_has_a_summary() -> None:
    assert all(op.endpoint.__doc__ for op in OPERATIONS)


# --- the manifest, crawled by the engine -------------------------------------------------------


def test_demo_manifest_validates() -> None:
    spec = manifest.load(DEMO_SPEC, environ={})
    assert spec.app == "crawler.demo.app:app"
    assert spec.base_url is None
    assert 3 <= len(spec.groups) <= 6
    assert {name: i.kind for name, i in spec.identities.items()} == {
        "admin": "login",
        "viewer": "login",
        "anonymous": "anonymous",
    }
    planned = spec.planned()
    assert 40 <= len(planned) <= 80
    assert {p.identity for p in planned if p.group == "Health"} == {"anonymous"}


def test_credentials_come_from_the_environment() -> None:
    spec = manifest.load(DEMO_SPEC, environ={"DEMO_ADMIN_PASSWORD": "from-env"})
    steps = spec.identities["admin"].steps
    assert steps is not None
    assert steps[1].form is not None and steps[1].form["password"] == "from-env"
    assert "from-env" in spec.secrets  # a secret-named variable: hidden in every output


async def crawl_demo(environ: dict[str, str]) -> tuple[dict[str, str | None], list[CheckResult]]:
    """Crawl specs/demo.yaml in-process as `crawler run` does (see `cli._crawl`)."""
    spec = manifest.load(DEMO_SPEC, environ=environ)
    assert spec.app is not None
    settings = engine.Settings(concurrency=spec.defaults.concurrency, timeout=spec.defaults.timeout)
    checks = spec.planned(settings.timeout)
    redactor = Redactor(spec.secrets)
    target = engine.Target(app=spec.app)
    place = runner.inventory_place(spec, DEMO_SPEC, None)
    async with engine.open_sessions(target, settings, spec.identities, redactor) as sessions:
        failures = {name: session.failure for name, session in sessions.items()}
        # `schema: {from: openapi}` checks get the document's schemas first, as the runner does.
        client = next(iter(sessions.values())).client
        document = (await client.get("/openapi.json")).text
        checks = runner.bind_schemas(checks, place, document)
        results = await engine.crawl(checks, sessions, settings, redactor=redactor)
    return failures, results


Cell = tuple[str, str]  # (check position, identity)


def cells(results: list[CheckResult]) -> dict[Cell, CheckResult]:
    return {(f"groups.{r.group}[{r.index}]", r.identity): r for r in results}


# What `crawler run specs/demo.yaml` must conclude: every (check, identity) not listed here
# PASSes. Keyed by position, since the safe and the unsafe checkout share a label.
EXPECTED_NOT_PASS: dict[Cell, tuple[str, str, int | None]] = {
    ("groups.Health[4]", "anonymous"): ("GET /api/legacy", "FAIL", 302),
    ("groups.Billing[6]", "admin"): ("POST /api/billing/checkout", "SKIP", None),
    ("groups.Billing[8]", "anonymous"): ("GET /api/webhooks", "FAIL", 405),
    ("groups.Users[3]", "viewer"): ("GET /api/users", "FAIL", 200),
    ("groups.Recordings & Audit[0]", "admin"): ("GET /api/recordings", "FAIL", 404),
    # A body assertion: the recording has no transcript_url (the anonymous 401 is not asserted).
    ("groups.Recordings & Audit[1]", "admin"): ("GET /api/recordings/rec_001", "FAIL", 200),
    ("groups.Recordings & Audit[1]", "viewer"): ("GET /api/recordings/rec_001", "FAIL", 200),
    ("groups.Recordings & Audit[3]", "admin"): ("GET /api/audit", "FAIL", 404),
    ("groups.Recordings & Audit[6]", "admin"): ("GET /api/reports/export", "FAIL", 500),
}

# The checks whose answer depends on who asks: status as (admin, viewer, anonymous).
ROLE_STATUSES: dict[str, tuple[int, int, int]] = {
    "groups.Billing[0]": (200, 200, 401),  # GET /api/billing
    "groups.Billing[4]": (403, 403, 401),  # another organization's subscription
    "groups.Billing[7]": (201, 403, 401),  # checkout (safe)
    "groups.Users[1]": (200, 200, 401),  # GET /api/users/me
    "groups.Users[2]": (200, 403, 401),  # GET /api/admin/users
    "groups.Users[3]": (200, 200, 401),  # GET /api/users: the viewer should get 403
    "groups.Recordings & Audit[4]": (200, 403, 401),  # GET /api/audit-logs
}
WHO = ("admin", "viewer", "anonymous")


@pytest.mark.anyio
async def test_demo_manifest_fails_exactly_where_intended() -> None:
    failures, results = await crawl_demo({})
    assert failures == {"admin": None, "viewer": None, "anonymous": None}
    assert len(results) == len(manifest.load(DEMO_SPEC, environ={}).planned())
    by_cell = cells(results)
    not_pass = {
        cell: (f"{r.method} {r.path}", r.verdict, r.status)
        for cell, r in by_cell.items()
        if r.verdict != "PASS"
    }
    assert not_pass == EXPECTED_NOT_PASS
    assert by_cell[("groups.Billing[6]", "admin")].reason.startswith("mutation not allowed")
    for check, statuses in ROLE_STATUSES.items():
        assert tuple(by_cell[(check, who)].status for who in WHO) == statuses, check
    # Three identities, three different answers to the same requests.
    columns = {who: [by_cell[(c, who)].status for c in ROLE_STATUSES] for who in WHO}
    assert len({tuple(column) for column in columns.values()}) == 3
    # `{org_id}` was filled from each login's capture.
    for who in ("admin", "viewer"):
        own = by_cell[("groups.Billing[3]", who)]
        assert own.request.url.endswith("/api/billing/subscription?orgId=org_42")
    assert not any(r.reauthenticated for r in results)


@pytest.mark.anyio
async def test_a_wrong_viewer_password_skips_the_viewer_only() -> None:
    failures, results = await crawl_demo({"DEMO_VIEWER_PASSWORD": "wrong"})
    assert failures["admin"] is None and failures["anonymous"] is None
    message = failures["viewer"]
    assert message is not None
    assert message.startswith("step 2 (POST /api/auth/callback/credentials): expected 302, got 401")
    assert "CredentialsSignin" in message
    by_cell = cells(results)
    viewer = [r for r in results if r.identity == "viewer"]
    assert viewer and all(r.verdict == "SKIP" for r in viewer)
    assert {r.reason for r in viewer} == {"identity viewer could not log in"}
    # Everybody else is judged as usual: the same verdicts as with the right password.
    others = {
        cell: (f"{r.method} {r.path}", r.verdict, r.status)
        for cell, r in by_cell.items()
        if r.identity != "viewer" and r.verdict != "PASS"
    }
    assert others == {k: v for k, v in EXPECTED_NOT_PASS.items() if k[1] != "viewer"}
    admin = [r for r in results if r.identity == "admin"]
    assert sum(r.verdict == "PASS" for r in admin) == len(admin) - 5  # 4 FAIL, 1 SKIP


# --- python -m crawler.demo --------------------------------------------------------------------


def test_serves_over_http_on_a_free_port() -> None:
    command = [sys.executable, "-m", "crawler.demo", "--port", "0"]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as server:
        try:
            assert server.stdout is not None
            line = server.stdout.readline()  # printed only once the socket listens
            match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            assert match, f"no address in {line!r}"
            assert "crawler run specs/demo.yaml --base-url http://127.0.0.1:" in line
            with httpx.Client(base_url=f"http://127.0.0.1:{match[1]}", timeout=10) as http:
                assert http.get("/api/health").json()["status"] == "ok"
                # Signing in over a real socket: the cookies travel as real headers.
                csrf = http.get("/api/auth/csrf").json()["csrfToken"]
                form = {"csrfToken": csrf, "email": ADMIN[0], "password": ADMIN[1]}
                signed_in = http.post("/api/auth/callback/credentials", data=form)
                assert signed_in.status_code == 302
                assert http.get("/api/users/me").json()["email"] == ADMIN[0]
        finally:
            server.terminate()
            server.wait(timeout=10)


def test_a_busy_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(SystemExit) as exit_info:
            main(["--port", str(busy.getsockname()[1])])
    assert exit_info.value.code == 2
    assert "try --port 0" in capsys.readouterr().err


# --- the demo's flow -----------------------------------------------------------------------------


def test_demo_flow_creates_reads_updates_and_deletes_a_booking(tmp_path: Path) -> None:
    spec = manifest.load(DEMO_SPEC, environ={})
    settings = engine.Settings(timeout=spec.defaults.timeout)
    run = runner.execute(spec, DEMO_SPEC, engine.Target(app=spec.app), settings)
    flow = [r for r in run.results if r.flow == "Bookings CRUD"]
    assert [(r.identity, r.cell) for r in flow] == [
        ("admin", "PASS 201"),
        ("admin", "PASS 200"),
        ("admin", "PASS 304"),
        ("admin", "PASS 200"),
        ("admin", "PASS 204"),
        ("admin", "PASS 404"),
    ]
    assert run.results[-6:] == tuple(flow)  # after every check, in step order
    assert BOOKINGS == {}  # the flow left nothing behind
    assert flow[0].request.body == '{"room":"Orion"}'


def test_demo_environments_resolve_without_a_network() -> None:
    spec = manifest.load(DEMO_SPEC, environ={})
    assert set(spec.environments) == {"local", "staging"}
    local = spec.for_environment("local")
    assert (local.app, local.environment) == ("crawler.demo.app:app", "local")
    staging = spec.for_environment("staging")
    assert (staging.base_url, staging.app) == ("http://127.0.0.1:8000", None)
    assert staging.values == {"room": "Orion-staging"}


# --- stub detection on the demo ----------------------------------------------------------------

# Every deliberate stub of the demo, flagged with its rule; no other result is STUB.
EXPECTED_STUBS: dict[Cell, str] = {
    ("groups.Analytics & Feedback[0]", "admin"): "placeholder_values",
    ("groups.Analytics & Feedback[0]", "viewer"): "placeholder_values",
    ("groups.Analytics & Feedback[1]", "admin"): "same_body_for_params",
    ("groups.Analytics & Feedback[2]", "admin"): "same_body_for_params",
    ("groups.Analytics & Feedback[3]", "admin"): "always_empty",
    ("groups.Analytics & Feedback[3]", "viewer"): "always_empty",
    ("groups.Analytics & Feedback[4]", "anonymous"): "echoed_request",
}


def run_demo(**settings: Any) -> Any:
    """`crawler run specs/demo.yaml` as the CLI runs it: the Run, stubs detected."""
    spec = manifest.load(DEMO_SPEC, environ={})
    assert spec.app is not None
    place = runner.inventory_place(spec, DEMO_SPEC, None)
    return runner.execute(
        spec,
        DEMO_SPEC,
        engine.Target(app=spec.app),
        engine.Settings(concurrency=spec.defaults.concurrency, **settings),
        place=place,
    )


def test_every_deliberate_stub_is_flagged_with_its_rule_and_no_honest_route() -> None:
    run = run_demo()
    by_cell = cells(list(run.results))
    stubs = {
        cell: r.stub.rule
        for cell, r in by_cell.items()
        if r.verdict == "STUB" and r.stub is not None
    }
    assert stubs == EXPECTED_STUBS
    assert all(r.stub is not None for r in run.results if r.verdict == "STUB")
    # Every other result is judged as without stub detection: the honest routes stay PASS.
    not_pass = {
        cell: (f"{r.method} {r.path}", r.verdict, r.status)
        for cell, r in by_cell.items()
        if r.verdict not in ("PASS", "STUB")
    }
    assert not_pass == EXPECTED_NOT_PASS
    summary = by_cell[("groups.Analytics & Feedback[0]", "admin")]
    assert summary.stub is not None and '"test@example.com"' in summary.stub.evidence
    assert summary.reason.startswith("likely stub (placeholder_values): ")


def test_without_stub_detection_the_stubs_pass() -> None:
    run = run_demo(detect_stubs=False)
    assert not any(r.verdict == "STUB" for r in run.results)
    by_cell = cells(list(run.results))
    assert all(by_cell[cell].verdict == "PASS" for cell in EXPECTED_STUBS)
