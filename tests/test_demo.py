"""The demo API answers as documented (faults included), and specs/demo.yaml agrees with it."""

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

from crawler import manifest
from crawler.demo.__main__ import main
from crawler.demo.app import OPERATIONS, app, openapi

ROOT = Path(__file__).resolve().parent.parent
DEMO_SPEC = ROOT / "specs" / "demo.yaml"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


# --- routes ------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/health", 200),
        ("HEAD", "/api/health", 200),
        ("GET", "/api/slow", 200),
        ("GET", "/api/billing", 200),
        ("GET", "/api/billing/plans", 200),
        ("GET", "/api/billing/invoices", 200),
        ("GET", "/api/billing/invoices?limit=2", 200),
        ("GET", "/api/billing/invoices?limit=0", 422),
        ("GET", "/api/billing/subscription", 200),
        ("POST", "/api/billing/checkout", 201),
        ("POST", "/api/webhooks", 202),
        ("GET", "/api/users/me", 200),
        ("GET", "/api/users", 200),
        ("GET", "/api/users/1", 200),
        ("GET", "/api/users/2", 200),
        ("GET", "/api/users/3", 200),
        ("GET", "/api/users/0", 404),
        ("GET", "/api/users/4", 404),
        ("GET", "/api/users/999", 404),
        ("GET", "/api/users/abc", 404),
        ("GET", "/api/recordings/rec_001", 200),
        ("GET", "/api/recordings/rec_999", 404),
        ("GET", "/api/audit-logs", 200),
        ("GET", "/api/audit-logs/1", 200),
        ("GET", "/api/audit-logs/99", 404),
        ("GET", "/openapi.json", 200),
        # The deliberate faults.
        ("GET", "/api/recordings", 404),
        ("GET", "/api/audit", 404),
        ("GET", "/api/reports/export", 500),
        ("GET", "/api/webhooks", 405),
        ("GET", "/api/legacy", 302),
        ("GET", "/api/search?q=x", 404),
        ("GET", "/api/search", 200),
        # Never shipped.
        ("GET", "/api/audio/transcriptions", 404),
        ("GET", "/api/organizations", 404),
    ],
)
async def test_route_status(client: httpx.AsyncClient, method: str, path: str, status: int) -> None:
    response = await client.request(method, path)
    assert response.status_code == status


@pytest.mark.anyio
async def test_unknown_user_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/users/999")
    assert response.status_code == 404
    assert response.json() == {"detail": "user not found"}


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
    client: httpx.AsyncClient, body: bytes | None, status: int, answer: dict[str, Any]
) -> None:
    response = await client.post("/api/billing/checkout", content=body)
    assert (response.status_code, response.json()) == (status, answer)


@pytest.mark.anyio
async def test_answers_are_deterministic(client: httpx.AsyncClient) -> None:
    paths = ["/openapi.json", "/api/health", "/api/users", "/api/audit-logs", "/api/billing"]
    first = [(await client.get(path)).content for path in paths]
    second = [(await client.get(path)).content for path in paths]
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
        ("GET", "/api/billing"),
        ("GET", "/api/billing/plans"),
        ("GET", "/api/billing/invoices"),
        ("GET", "/api/billing/subscription"),
        ("POST", "/api/billing/checkout"),
        ("POST", "/api/webhooks"),
        ("GET", "/api/users/me"),
        ("GET", "/api/users"),
        ("GET", "/api/users/{id}"),
        ("GET", "/api/recordings/{id}"),
        ("GET", "/api/audit-logs"),
        ("GET", "/api/audit-logs/{id}"),
        ("GET", "/api/reports/export"),
    }


def test_openapi_path_parameters_are_typed() -> None:
    paths = openapi()["paths"]
    assert paths["/api/users/{id}"]["get"]["parameters"] == [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    ]
    assert paths["/api/recordings/{id}"]["get"]["parameters"][0]["schema"] == {"type": "string"}
    assert set(paths["/api/users/{id}"]["get"]["responses"]) == {"200", "404"}


def test_every_operation_has_a_summary() -> None:
    assert all(op.endpoint.__doc__ for op in OPERATIONS)


# --- the manifest ------------------------------------------------------------------------------


def test_demo_manifest_validates() -> None:
    spec = manifest.load(DEMO_SPEC)
    assert spec.app == "crawler.demo.app:app"
    assert spec.base_url is None
    assert 3 <= len(spec.groups) <= 4
    assert 25 <= len(spec.planned()) <= 40


# What `crawler run specs/demo.yaml` must conclude: every check not listed here PASSes.
# Keyed by position, since the safe and the unsafe checkout share a label.
EXPECTED_NOT_PASS: dict[str, tuple[str, str, int | None]] = {
    "groups.Health[4]": ("GET /api/legacy", "FAIL", 302),
    "groups.Billing[5]": ("POST /api/billing/checkout", "SKIP", None),
    "groups.Billing[7]": ("GET /api/webhooks", "FAIL", 405),
    "groups.Recordings & Audit[0]": ("GET /api/recordings", "FAIL", 404),
    "groups.Recordings & Audit[3]": ("GET /api/audit", "FAIL", 404),
    "groups.Recordings & Audit[6]": ("GET /api/reports/export", "FAIL", 500),
}


@pytest.mark.anyio
async def test_demo_manifest_fails_exactly_where_intended(client: httpx.AsyncClient) -> None:
    """A minimal crawl of the manifest (not the engine): the verdicts the reports must show."""
    not_pass: dict[str, tuple[str, str, int | None]] = {}
    for planned in manifest.load(DEMO_SPEC).planned():
        check = planned.check
        if check.method not in manifest.SAFE_METHODS and not check.safe:
            not_pass[planned.field] = (check.label, "SKIP", None)
            continue
        response = await client.request(
            check.method,
            check.path,
            params=check.query,
            headers=planned.headers,
            json=check.json_body,
            follow_redirects=False,
        )
        if not check.expect.matches(response.status_code):
            not_pass[planned.field] = (check.label, "FAIL", response.status_code)
    assert not_pass == EXPECTED_NOT_PASS


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
            response = httpx.get(f"http://127.0.0.1:{match[1]}/api/health", timeout=10)
            assert response.json()["status"] == "ok"
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
