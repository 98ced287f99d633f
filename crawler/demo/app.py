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
    GET /api/users           200  to a viewer too: the admin-only check is missing
    GET /api/slow            200  after 0.2 s

Bookings are an in-memory CRUD resource for the demo's flow: POST /api/bookings (201 with
an id and an ETag), GET (304 when If-None-Match matches), PUT and DELETE /api/bookings/{id}.

Signing in works like NextAuth's credentials provider:

    GET  /api/auth/csrf                  {"csrfToken": ...} plus the next-auth.csrf-token cookie
    POST /api/auth/callback/credentials  form csrfToken, email, password: 302 plus the
                                         next-auth.session-token cookie (401 JSON if wrong)
    GET  /api/auth/session               {"user": {name, email, role, orgId}}; {} signed out

Accounts, both in organization org_42: admin@demo.test / demo-admin-pass (role admin) and
viewer@demo.test / demo-viewer-pass (role viewer). Each route is `public`, for any signed-in
`member`, or `admin` only (the `access` of its `Operation`): an anonymous request to the
others gets 401, a viewer's request to an admin route 403.

`DEMO_RELEASE=next` (read at each request) stands for the next deploy, to rehearse a CI gate
against a baseline: the report export is fixed (200) and the plans list breaks (500).

Bodies hold no clocks and no randomness: the same request always gets the same answer.
Sessions live in memory (`SESSIONS`); their tokens come from a counter and a fixed key, so
they are predictable (this is a demo) and a run never depends on chance. `GET /openapi.json`
describes the routes below (generated from the same table), and is what a route inventory
imports.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qsl

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]

# --- data: fixed, so every body is byte-for-byte reproducible ----------------------------------

ORG_ID = "org_42"
USERS: dict[int, dict[str, Any]] = {
    n: {"id": n, "name": name, "email": email, "role": role, "orgId": ORG_ID}
    for n, name, email, role in [
        (1, "Ada Lovelace", "admin@demo.test", "admin"),
        (2, "Grace Hopper", "viewer@demo.test", "viewer"),
        (3, "Alan Turing", "alan@demo.test", "viewer"),
    ]
}
# Who can sign in, and with what. (Alan has no password: he cannot.)
PASSWORDS: dict[str, str] = {
    "admin@demo.test": "demo-admin-pass",
    "viewer@demo.test": "demo-viewer-pass",
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
    "orgId": ORG_ID,
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
    {"id": 1, "actor": "admin@demo.test", "action": "user.login", "at": "2024-05-01T09:00:00Z"},
    {"id": 2, "actor": "admin@demo.test", "action": "plan.change", "at": "2024-05-01T09:05:00Z"},
    {"id": 3, "actor": "viewer@demo.test", "action": "user.login", "at": "2024-05-02T14:30:00Z"},
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


# --- sessions ----------------------------------------------------------------------------------

CSRF_COOKIE = "next-auth.csrf-token"
SESSION_COOKIE = "next-auth.session-token"


class Sessions:
    """Signed-in sessions in memory (token -> user id), and NextAuth-style CSRF tokens.

    The CSRF check is a double submit, as NextAuth's: the cookie holds `token|signature`,
    and the form must send the same token. Tokens are digests of a counter under a fixed
    key: stable from run to run, unlike random ones. At most `LIMIT` sessions are kept (the
    oldest go first), so a demo server crawled all day does not grow without end.
    """

    LIMIT = 10_000

    def __init__(self, key: str = "demo-signing-key") -> None:
        self._key = key.encode()
        self._counter = itertools.count(1)
        self._users: OrderedDict[str, int] = OrderedDict()

    def _digest(self, *parts: str) -> str:
        return hmac.new(self._key, "|".join(parts).encode(), hashlib.sha256).hexdigest()

    def new_csrf(self) -> tuple[str, str]:
        """A CSRF token and the cookie value that vouches for it."""
        token = self._digest("csrf", str(next(self._counter)))[:32]
        return token, f"{token}|{self._digest('csrf-cookie', token)}"

    def csrf_ok(self, cookie: str | None, submitted: str) -> bool:
        """The form's token is the cookie's, and the cookie was signed here."""
        token, _, signature = (cookie or "").partition("|")
        expected = self._digest("csrf-cookie", token)
        return bool(token) and _same(signature, expected) and _same(submitted, token)

    def start(self, user_id: int) -> str:
        """A new session for `user_id`; returns its token (the session cookie's value)."""
        token = self._digest("session", str(next(self._counter)))
        self._users[token] = user_id
        while len(self._users) > self.LIMIT:
            self._users.popitem(last=False)
        return token

    def user(self, token: str | None) -> dict[str, Any] | None:
        """The user signed in with `token`, or None."""
        user_id = self._users.get(token or "")
        return USERS[user_id] if user_id is not None else None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


SESSIONS = Sessions()


def current_user(request: Request) -> dict[str, Any] | None:
    """The user whose session cookie came with `request`, or None (anonymous)."""
    return SESSIONS.user(request.cookies.get(SESSION_COOKIE))


def _signed_in(request: Request) -> dict[str, Any]:
    user = current_user(request)
    if user is None:  # only routes behind `_guarded` call this
        raise RuntimeError(f"{request.url.path} is not behind a sign-in check")
    return user


def _account(email: str, password: str) -> dict[str, Any] | None:
    """The user with these credentials, or None."""
    known = PASSWORDS.get(email)
    if known is None or not _same(password, known):
        return None
    return next(user for user in USERS.values() if user["email"] == email)


# --- sign-in (NextAuth-style) ------------------------------------------------------------------


async def auth_csrf(request: Request) -> Response:
    """A CSRF token for the sign-in form (also set as a cookie)."""
    token, cookie = SESSIONS.new_csrf()
    response = JSONResponse({"csrfToken": token})
    response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="lax")
    return response


async def auth_callback_credentials(request: Request) -> Response:
    """Sign in with email and password; redirects with a session cookie."""
    # The body is a URL-encoded form; parsed here so the demo needs no multipart package.
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    if not SESSIONS.csrf_ok(request.cookies.get(CSRF_COOKIE), form.get("csrfToken", "")):
        return JSONResponse(
            {"error": "MissingCSRF", "detail": "csrfToken does not match the csrf cookie"},
            status_code=401,
        )
    user = _account(form.get("email", ""), form.get("password", ""))
    if user is None:
        return JSONResponse(
            {"error": "CredentialsSignin", "detail": "invalid email or password"}, status_code=401
        )
    response = RedirectResponse("/", status_code=302)
    response.set_cookie(SESSION_COOKIE, SESSIONS.start(user["id"]), httponly=True, samesite="lax")
    return response


async def auth_session(request: Request) -> Response:
    """The signed-in user, or {} when signed out."""
    user = current_user(request)
    if user is None:
        return JSONResponse({})
    return JSONResponse({"user": {k: user[k] for k in ("name", "email", "role", "orgId")}})


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


def _next_release() -> bool:
    """`DEMO_RELEASE=next`: the next deploy, with one route fixed and one broken."""
    return os.environ.get("DEMO_RELEASE") == "next"


async def billing_plans(request: Request) -> Response:
    """Plans on sale."""
    if _next_release():  # the regression the next deploy brings
        return JSONResponse({"detail": "plans cache unavailable"}, status_code=500)
    return JSONResponse({"plans": PLANS})


async def billing_invoices(request: Request) -> Response:
    """Invoices, newest last; `?limit=` caps the count."""
    return _page(request, "invoices", INVOICES)


async def billing_subscription(request: Request) -> Response:
    """The subscription of `?orgId=` (default: the user's organization)."""
    own = _signed_in(request)["orgId"]
    org_id = request.query_params.get("orgId") or own
    if org_id != own:
        return JSONResponse({"detail": f"not a member of organization {org_id}"}, status_code=403)
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
    """The signed-in user."""
    return JSONResponse(_signed_in(request))


async def users_list(request: Request) -> Response:
    """All users of the organization."""
    return JSONResponse({"users": list(USERS.values()), "total": len(USERS)})


async def users_get(request: Request) -> Response:
    """One user by id."""
    user = USERS.get(request.path_params["id"])
    return JSONResponse(user) if user else _not_found("user")


async def admin_users(request: Request) -> Response:
    """Every user with their role, for administrators."""
    rows = [{k: user[k] for k in ("id", "email", "role")} for user in USERS.values()]
    return JSONResponse({"users": rows, "total": len(rows)})


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
    if _next_release():  # the fix the next deploy brings
        return Response("month,revenue\n2026-10,1200\n", media_type="text/csv")
    # Deliberate fault: the documented 200 never happens; the server fails the same way each time.
    return JSONResponse(
        {"detail": "export failed: report template 'monthly' is missing", "code": "EXPORT_FAILED"},
        status_code=500,
    )


# --- bookings: in-memory CRUD for the demo's flow (specs/demo.yaml `flows:`) --------------------

# Bookings live in memory, ids from a counter: a flow creates one and deletes it again.
BOOKINGS: dict[str, dict[str, Any]] = {}
_BOOKING_IDS = itertools.count(1)


def _booking(booking: dict[str, Any], status: int = 200) -> Response:
    etag = f'"{booking["id"]}-v{booking["version"]}"'
    return JSONResponse(booking, status_code=status, headers={"ETag": etag})


async def _room(request: Request) -> str | None:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return None
    room = body.get("room") if isinstance(body, dict) else None
    return room if isinstance(room, str) and room else None


async def bookings_create(request: Request) -> Response:
    """Book a room (body `{"room": "Orion"}`); answers the booking with its id and ETag."""
    room = await _room(request)
    if room is None:
        return JSONResponse({"detail": "room is required"}, status_code=422)
    booking_id = f"bk_{next(_BOOKING_IDS)}"
    booking: dict[str, Any] = {"id": booking_id, "room": room, "version": 1}
    BOOKINGS[booking_id] = booking
    return _booking(booking, 201)


async def bookings_get(request: Request) -> Response:
    """One booking; 304 when If-None-Match is its ETag."""
    booking = BOOKINGS.get(request.path_params["id"])
    if booking is None:
        return _not_found("booking")
    etag = f'"{booking["id"]}-v{booking["version"]}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return _booking(booking)


async def bookings_update(request: Request) -> Response:
    """Move a booking to another room (body `{"room": ...}`)."""
    booking = BOOKINGS.get(request.path_params["id"])
    if booking is None:
        return _not_found("booking")
    room = await _room(request)
    if room is None:
        return JSONResponse({"detail": "room is required"}, status_code=422)
    booking.update(room=room, version=booking["version"] + 1)
    return _booking(booking)


async def bookings_delete(request: Request) -> Response:
    """Cancel a booking."""
    if BOOKINGS.pop(request.path_params["id"], None) is None:
        return _not_found("booking")
    return Response(status_code=204)


# --- the route table: drives the router, the access checks and /openapi.json -------------------

Access = Literal["public", "member", "admin"]


@dataclass(frozen=True)
class Operation:
    """One method on one path, who may call it, and the statuses the API documents for it.

    `access`: `public` (anyone), `member` (signed in: else 401) or `admin` (signed in as an
    admin: else 401, or 403 for other roles). The 401/403 are documented automatically.
    """

    method: str
    path: str  # Starlette template, e.g. /api/users/{id:int}
    endpoint: Endpoint
    documented: tuple[int, ...] = (200,)
    query: tuple[str, ...] = ()
    access: Access = "public"
    form: tuple[str, ...] = ()  # fields of a URL-encoded form body

    @property
    def statuses(self) -> tuple[int, ...]:
        denied = {"public": (), "member": (401,), "admin": (401, 403)}[self.access]
        return tuple(sorted({*self.documented, *denied}))


OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/api/health", health),
    Operation("GET", "/api/slow", slow),
    Operation("GET", "/api/legacy", legacy, documented=(302,)),
    Operation("GET", "/api/search", search, documented=(200, 404), query=("q",)),
    Operation("GET", "/api/auth/csrf", auth_csrf),
    Operation(
        "POST",
        "/api/auth/callback/credentials",
        auth_callback_credentials,
        documented=(302, 401),
        form=("csrfToken", "email", "password"),
    ),
    Operation("GET", "/api/auth/session", auth_session),
    Operation("GET", "/api/billing", billing, access="member"),
    Operation("GET", "/api/billing/plans", billing_plans),
    Operation("GET", "/api/billing/invoices", billing_invoices, query=("limit",), access="member"),
    Operation(
        "GET",
        "/api/billing/subscription",
        billing_subscription,
        documented=(200, 403),
        query=("orgId",),
        access="member",
    ),
    Operation(
        "POST", "/api/billing/checkout", billing_checkout, documented=(201, 422), access="admin"
    ),
    Operation("POST", "/api/webhooks", webhooks, documented=(202,)),
    Operation("GET", "/api/users/me", users_me, access="member"),
    # Deliberate fault: every user's email, and a viewer may read it. It should be "admin".
    Operation("GET", "/api/users", users_list, access="member"),
    Operation("GET", "/api/users/{id:int}", users_get, documented=(200, 404), access="member"),
    Operation("GET", "/api/admin/users", admin_users, access="admin"),
    Operation(
        "GET", "/api/recordings/{id}", recordings_get, documented=(200, 404), access="member"
    ),
    Operation("GET", "/api/audit-logs", audit_logs_list, query=("limit",), access="admin"),
    Operation(
        "GET", "/api/audit-logs/{id:int}", audit_logs_get, documented=(200, 404), access="admin"
    ),
    Operation("GET", "/api/reports/export", reports_export),
    # bookings: the demo flow's CRUD
    Operation("POST", "/api/bookings", bookings_create, documented=(201, 422), access="member"),
    Operation(
        "GET", "/api/bookings/{id}", bookings_get, documented=(200, 304, 404), access="member"
    ),
    Operation(
        "PUT", "/api/bookings/{id}", bookings_update, documented=(200, 404, 422), access="member"
    ),
    Operation(
        "DELETE", "/api/bookings/{id}", bookings_delete, documented=(204, 404), access="member"
    ),
)


# --- stubbed routes: stub detection's demo ----------------------------------------------------
# Deliberate fakes, as sprint audits find them: each answers 200, so a status check passes
# it, but its data is not real. `crawler run` flags each as STUB with the rule that fired:
#   GET  /api/analytics/summary        placeholder_values    hard-coded, placeholder figures
#   GET  /api/analytics/calls/{id}     same_body_for_params  the same call whatever the id
#   GET  /api/users/me/notifications   always_empty          [] while /api/users has data
#   POST /api/feedback                 echoed_request        the request body, sent back
# The plans list's response schema is documented in /openapi.json (`schema: {from: openapi}`).


async def analytics_summary(request: Request) -> Response:
    """Call analytics for the organization (hard-coded: not wired to any data yet)."""
    return JSONResponse(
        {
            "period": "2024-Q1",
            "total_calls": 12345,
            "avg_duration_s": 312,
            "top_agent": "John Doe",
            "top_agent_email": "test@example.com",
            "notes": "TODO: wire to the warehouse",
            "region": "N/A",
        }
    )


async def analytics_call(request: Request) -> Response:
    """One call's analytics by id (hard-coded: the same call for every id)."""
    return JSONResponse(
        {"id": "call_1", "duration_s": 1840, "agent": "Ada Lovelace", "sentiment": 0.82}
    )


async def notifications(request: Request) -> Response:
    """The signed-in user's notifications (never implemented: always none)."""
    return JSONResponse({"notifications": [], "unread": 0})


async def feedback(request: Request) -> Response:
    """Send product feedback (nothing is stored: the body is answered back as it came)."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return JSONResponse({"detail": "body must be JSON"}, status_code=400)
    return JSONResponse(body)


OPERATIONS += (
    Operation("GET", "/api/analytics/summary", analytics_summary, access="member"),
    Operation("GET", "/api/analytics/calls/{id:int}", analytics_call, access="member"),
    Operation("GET", "/api/users/me/notifications", notifications, access="member"),
    Operation("POST", "/api/feedback", feedback),
)

# Documented response bodies, by (method, path): `schema: {from: openapi}` validates against them.
RESPONSE_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/api/billing/plans"): {
        "type": "object",
        "required": ["plans"],
        "properties": {"plans": {"type": "array", "items": {"$ref": "#/components/schemas/Plan"}}},
    },
}
COMPONENT_SCHEMAS: dict[str, Any] = {
    "Plan": {
        "type": "object",
        "required": ["id", "name", "price_cents", "currency"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "price_cents": {"type": "integer", "minimum": 0},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        },
    }
}


def guarded(op: Operation) -> Endpoint:
    """`op`'s endpoint behind its access rule: 401 without a session, 403 for a wrong role."""
    if op.access == "public":
        return op.endpoint

    async def endpoint(request: Request) -> Response:
        user = current_user(request)
        if user is None:
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        if op.access == "admin" and user["role"] != "admin":
            return JSONResponse({"detail": "administrators only"}, status_code=403)
        return await op.endpoint(request)

    return endpoint


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
                str(status): {"description": HTTPStatus(status).phrase} for status in op.statuses
            },
        }
        if params:
            operation["parameters"] = params
        documented = RESPONSE_SCHEMAS.get((op.method, op.path))  # see the stubbed routes
        if documented is not None:
            content = {"application/json": {"schema": documented}}
            operation["responses"]["200"]["content"] = content
        if op.form:
            fields = {name: {"type": "string"} for name in op.form}
            schema = {"type": "object", "properties": fields, "required": list(op.form)}
            operation["requestBody"] = {
                "required": True,
                "content": {"application/x-www-form-urlencoded": {"schema": schema}},
            }
        if op.access != "public":
            operation["security"] = [{"session": []}]
        paths.setdefault(_PARAM.sub(r"{\1}", op.path), {})[op.method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "Demo API", "version": "1.4.2"},
        "paths": paths,
        "components": {
            "schemas": COMPONENT_SCHEMAS,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE}
            },
        },
    }


_OPENAPI = openapi()


async def openapi_json(request: Request) -> Response:
    """This API's OpenAPI document."""
    return JSONResponse(_OPENAPI)


app = Starlette(
    routes=[Route(op.path, guarded(op), methods=[op.method]) for op in OPERATIONS]
    + [Route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False)]
)
app.state.sessions = SESSIONS
