"""The demo product backend: a Starlette app whose routes fail in the ways real deploys do.

Crawl it in-process with `app: crawler.demo.app:app` (see `specs/demo.yaml`) or serve it
with `python -m crawler.demo`. The faults are deliberate and stable, so reports built from
it can be golden-tested:

    GET /api/recordings      404  only GET /api/recordings/{id} exists (no list handler)
    GET /api/audit           404  the audit log is served under /api/audit-logs
    GET /api/reports/export  500  a server bug, answered as JSON
    GET /api/webhooks        405  the route accepts POST only
    GET /api/legacy          302  redirects to /api/health (crawlers do not follow it)
    GET /api/search?q=...    404  echoes q into HTML unescaped, to test report escaping
    GET /api/slow            200  after 0.2 s

Bodies hold no clocks and no randomness: the same request always gets the same answer.
`GET /openapi.json` describes the routes below (generated from the same table), and is
what a route inventory imports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]

# --- data: fixed, so every body is byte-for-byte reproducible ----------------------------------

USERS: dict[int, dict[str, Any]] = {
    1: {"id": 1, "name": "Ada Lovelace", "email": "ada@example.com", "role": "admin"},
    2: {"id": 2, "name": "Grace Hopper", "email": "grace@example.com", "role": "member"},
    3: {"id": 3, "name": "Alan Turing", "email": "alan@example.com", "role": "member"},
}
PLANS: list[dict[str, Any]] = [
    {"id": "free", "name": "Free", "price_cents": 0, "currency": "USD"},
    {"id": "pro", "name": "Pro", "price_cents": 1900, "currency": "USD"},
    {"id": "team", "name": "Team", "price_cents": 4900, "currency": "USD"},
]
INVOICES: list[dict[str, Any]] = [
    {"id": f"inv_{n:04d}", "period": f"2024-{n:02d}", "amount_cents": 1900, "status": "paid"}
    for n in range(1, 13)
]
SUBSCRIPTION: dict[str, Any] = {
    "plan": "pro",
    "status": "active",
    "seats": 3,
    "renews_on": "2025-01-01",
}
RECORDINGS: dict[str, dict[str, Any]] = {
    "rec_001": {"id": "rec_001", "title": "Kick-off call", "duration_s": 1840, "owner": 1},
    "rec_002": {"id": "rec_002", "title": "Design review", "duration_s": 2710, "owner": 2},
}
AUDIT_LOGS: list[dict[str, Any]] = [
    {"id": 1, "actor": "ada@example.com", "action": "user.login", "at": "2024-05-01T09:00:00Z"},
    {"id": 2, "actor": "ada@example.com", "action": "plan.change", "at": "2024-05-01T09:05:00Z"},
    {"id": 3, "actor": "grace@example.com", "action": "user.login", "at": "2024-05-02T14:30:00Z"},
]
DEFAULT_LIMIT = 20


def _not_found(what: str) -> JSONResponse:
    return JSONResponse({"detail": f"{what} not found"}, status_code=404)


def _page(request: Request, key: str, items: list[dict[str, Any]]) -> JSONResponse:
    """`{key: first items, "total": n}`; `?limit=` (default 20) must be a positive integer."""
    raw = request.query_params.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or int(raw) == 0:
        return JSONResponse({"detail": "limit must be a positive integer"}, status_code=422)
    return JSONResponse({key: items[: int(raw)], "total": len(items)})


# --- health and platform -----------------------------------------------------------------------


async def health(request: Request) -> Response:
    """Liveness probe."""
    return JSONResponse({"status": "ok", "service": "demo-api", "version": "1.4.2"})


async def slow(request: Request) -> Response:
    """A dependency that takes 0.2 s to answer."""
    await anyio.sleep(0.2)
    return JSONResponse({"status": "ok", "waited_ms": 200})


async def legacy(request: Request) -> Response:
    """Old health endpoint; redirects to /api/health."""
    return RedirectResponse("/api/health", status_code=302)


async def search(request: Request) -> Response:
    """Search page (HTML); 404 when nothing matches the query."""
    query = request.query_params.get("q", "")
    if not query:
        return HTMLResponse("<!doctype html><title>Search</title><p>Type something to search.</p>")
    # Deliberate fault: the query is reflected without escaping, so reports must escape it.
    page = f"<!doctype html><title>Search</title><p>No results for {query}</p>"
    return HTMLResponse(page, status_code=404)


# --- billing -----------------------------------------------------------------------------------


async def billing(request: Request) -> Response:
    """Billing overview."""
    return JSONResponse(
        {
            "plan": SUBSCRIPTION["plan"],
            "balance_cents": 0,
            "links": {
                "plans": "/api/billing/plans",
                "invoices": "/api/billing/invoices",
                "subscription": "/api/billing/subscription",
            },
        }
    )


async def billing_plans(request: Request) -> Response:
    """Plans on sale."""
    return JSONResponse({"plans": PLANS})


async def billing_invoices(request: Request) -> Response:
    """Invoices, newest last; `?limit=` caps the count."""
    return _page(request, "invoices", INVOICES)


async def billing_subscription(request: Request) -> Response:
    """The current subscription."""
    return JSONResponse(SUBSCRIPTION)


async def billing_checkout(request: Request) -> Response:
    """Start a checkout for a plan (body `{"plan": "pro"}`, the default)."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return JSONResponse({"detail": "body must be JSON"}, status_code=400)
    plan = body.get("plan", "pro") if isinstance(body, dict) else None
    if plan not in {p["id"] for p in PLANS}:
        return JSONResponse({"detail": "unknown plan"}, status_code=422)
    return JSONResponse(
        {"checkout_id": f"chk_demo_{plan}", "plan": plan, "status": "pending"}, status_code=201
    )


async def webhooks(request: Request) -> Response:
    """Receive a payment-provider webhook (POST only)."""
    return JSONResponse({"received": True}, status_code=202)


# --- users -------------------------------------------------------------------------------------


async def users_me(request: Request) -> Response:
    """The signed-in user (always user 1 in the demo)."""
    return JSONResponse(USERS[1])


async def users_list(request: Request) -> Response:
    """All users."""
    return JSONResponse({"users": list(USERS.values()), "total": len(USERS)})


async def users_get(request: Request) -> Response:
    """One user by id."""
    user = USERS.get(request.path_params["id"])
    return JSONResponse(user) if user else _not_found("user")


# --- recordings, audit logs, reports -----------------------------------------------------------


async def recordings_get(request: Request) -> Response:
    """One recording by id (there is deliberately no list handler)."""
    recording = RECORDINGS.get(request.path_params["id"])
    return JSONResponse(recording) if recording else _not_found("recording")


async def audit_logs_list(request: Request) -> Response:
    """Audit log entries, oldest first; `?limit=` caps the count."""
    return _page(request, "entries", AUDIT_LOGS)


async def audit_logs_get(request: Request) -> Response:
    """One audit log entry by id."""
    entry = next((e for e in AUDIT_LOGS if e["id"] == request.path_params["id"]), None)
    return JSONResponse(entry) if entry else _not_found("audit log entry")


async def reports_export(request: Request) -> Response:
    """Export the monthly report."""
    # Deliberate fault: the documented 200 never happens; the server fails the same way each time.
    return JSONResponse(
        {"detail": "export failed: report template 'monthly' is missing", "code": "EXPORT_FAILED"},
        status_code=500,
    )


# --- the route table: drives both the router and /openapi.json ---------------------------------


@dataclass(frozen=True)
class Operation:
    """One method on one path, with the statuses the API documents for it."""

    method: str
    path: str  # Starlette template, e.g. /api/users/{id:int}
    endpoint: Endpoint
    documented: tuple[int, ...] = (200,)
    query: tuple[str, ...] = ()


OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/api/health", health),
    Operation("GET", "/api/slow", slow),
    Operation("GET", "/api/legacy", legacy, documented=(302,)),
    Operation("GET", "/api/search", search, documented=(200, 404), query=("q",)),
    Operation("GET", "/api/billing", billing),
    Operation("GET", "/api/billing/plans", billing_plans),
    Operation("GET", "/api/billing/invoices", billing_invoices, query=("limit",)),
    Operation("GET", "/api/billing/subscription", billing_subscription),
    Operation("POST", "/api/billing/checkout", billing_checkout, documented=(201, 422)),
    Operation("POST", "/api/webhooks", webhooks, documented=(202,)),
    Operation("GET", "/api/users/me", users_me),
    Operation("GET", "/api/users", users_list),
    Operation("GET", "/api/users/{id:int}", users_get, documented=(200, 404)),
    Operation("GET", "/api/recordings/{id}", recordings_get, documented=(200, 404)),
    Operation("GET", "/api/audit-logs", audit_logs_list, query=("limit",)),
    Operation("GET", "/api/audit-logs/{id:int}", audit_logs_get, documented=(200, 404)),
    Operation("GET", "/api/reports/export", reports_export),
)

_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


def openapi(operations: tuple[Operation, ...] = OPERATIONS) -> dict[str, Any]:
    """An OpenAPI 3.0 document of `operations` (path converters become parameter types)."""
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        params = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer" if converter == "int" else "string"},
            }
            for name, converter in _PARAM.findall(op.path)
        ]
        params += [{"name": name, "in": "query", "schema": {"type": "string"}} for name in op.query]
        operation: dict[str, Any] = {
            "operationId": op.endpoint.__name__,
            "summary": (op.endpoint.__doc__ or "").strip().splitlines()[0],
            "responses": {
                str(status): {"description": HTTPStatus(status).phrase} for status in op.documented
            },
        }
        if params:
            operation["parameters"] = params
        paths.setdefault(_PARAM.sub(r"{\1}", op.path), {})[op.method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "Demo API", "version": "1.4.2"},
        "paths": paths,
    }


_OPENAPI = openapi()


async def openapi_json(request: Request) -> Response:
    """This API's OpenAPI document."""
    return JSONResponse(_OPENAPI)


app = Starlette(
    routes=[Route(op.path, op.endpoint, methods=[op.method]) for op in OPERATIONS]
    + [Route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False)]
)
