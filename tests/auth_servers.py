"""Loopback servers with real login flows, for the identity tests. Serve them with `serve(app)`.

- `NextAuthApp`: GET a CSRF token (JSON + cookie), POST credentials as a form, keep the
  session cookie, read `orgId` from `/api/auth/session`; role- and org-checked routes.
  Sessions can be made to expire after N authenticated requests (`lifetimes`).
- `DjangoApp`: a login page with a `csrftoken` cookie and a hidden `csrfmiddlewaretoken`
  field; the POST needs both, a same-origin `Referer` and the right password; `sessionid`.
- `JsonLoginApp`: `POST /api/login` with JSON answers `{"access_token": ...}` (and the user's
  id in an `X-User-Id` header); routes that need `Authorization: Bearer <that token>`.
- `OAuthApp`: an OAuth2 client-credentials token endpoint whose tokens can be revoked, used
  up after N requests, or refused, so a test forces a refresh without waiting for a clock.
- `KindsApp`: one route per static credential kind (bearer, basic, API key in a header, a
  query parameter or a cookie, a plain cookie) and `/echo/{status}`.

Every app keeps its state (users, sessions, counters) on the instance. Rejections and
`/echo` put what was sent (headers, query, cookies, posted form) in the body, as careless
servers do, so a secret that crawler failed to hide would show up in a report.
`combine(*apps)` serves several on one port.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import anyio
from servers import ALL_METHODS
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(16)


async def posted_form(request: Request) -> dict[str, str]:
    """The urlencoded body as a dict (python-multipart is not a dependency)."""
    return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))


def echo(request: Request, body: str = "") -> dict[str, Any]:
    """What the request carried, as a server that reflects its input would show it."""
    return {
        "method": request.method,
        "path": request.url.path,
        "headers": dict(request.headers),
        "query": dict(request.query_params),
        "cookies": dict(request.cookies),
        "body": body,
    }


def bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value if scheme.lower() == "bearer" and value else None


class App:
    """A Starlette app built from `routes`; several apps can share a server (`combine`)."""

    routes: list[BaseRoute]
    _app: Starlette | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            self._app = Starlette(routes=self.routes)
        await self._app(scope, receive, send)


def combine(*apps: App) -> Starlette:
    """One server for several apps (their paths must not overlap)."""
    return Starlette(routes=[route for app in apps for route in app.routes])


# --- NextAuth-style ------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    password: str
    org_id: str
    role: str
    extra: dict[str, str] = field(default_factory=dict)  # more fields of the session JSON


@dataclass
class ServerSession:
    email: str
    uses_left: int | None  # authenticated requests it still allows; None: no limit
    number: int = 1  # the how-manieth login made it


class NextAuthApp(App):
    """NextAuth-style credentials login. `lifetimes[n]` limits the n-th session to that many
    authenticated requests (then 401 "session expired"); later sessions never expire.

    Counters: `csrf_requests`, `logins` (successful), `failed_logins`, `rejected` (401s
    from protected routes: no session, or one used up); `whoami` lists who asked `/api/whoami`.
    """

    CSRF_COOKIE = "next-auth.csrf-token"
    SESSION_COOKIE = "next-auth.session-token"

    def __init__(self, users: dict[str, User] | None = None, lifetimes: Iterable[int] = ()) -> None:
        self.users = users or {
            "admin@example.test": User("admin-pass", "42", "admin"),
            "viewer@example.test": User("viewer-pass", "42", "viewer"),
        }
        self.lifetimes = list(lifetimes)
        self.sessions: dict[str, ServerSession] = {}
        self.csrf_requests = 0
        self.logins = 0
        self.failed_logins = 0
        self.rejected = 0
        self.whoami: list[str | None] = []
        self.routes = [
            Route("/api/auth/csrf", self.csrf),
            Route("/api/auth/callback/credentials", self.callback, methods=["POST"]),
            Route("/api/auth/session", self.session),
            Route("/api/billing/subscription", self.subscription),
            Route("/api/orgs/{org_id}/members", self.members),
            Route("/api/admin/users", self.admin_users),
            Route("/api/items/{n:int}", self.item),
            Route("/api/whoami", self.who),
            Route("/api/step-up", self.step_up),
        ]

    async def csrf(self, request: Request) -> Response:
        self.csrf_requests += 1
        token = new_token()
        response = JSONResponse({"csrfToken": token})
        response.set_cookie(self.CSRF_COOKIE, token, httponly=True, samesite="lax")
        return response

    async def callback(self, request: Request) -> Response:
        form = await posted_form(request)
        cookie = request.cookies.get(self.CSRF_COOKIE)
        user = self.users.get(form.get("email", ""))
        if not cookie or form.get("csrfToken") != cookie:
            error = "MissingCSRF"
        elif user is None or form.get("password") != user.password:
            error = "CredentialsSignin"
        else:
            self.logins += 1
            token = new_token("sess-")
            uses = self.lifetimes[self.logins - 1] if self.logins <= len(self.lifetimes) else None
            self.sessions[token] = ServerSession(form["email"], uses, self.logins)
            response = RedirectResponse("/", status_code=302)
            response.set_cookie(self.SESSION_COOKIE, token, httponly=True, samesite="lax")
            return response
        self.failed_logins += 1
        # Careless, as some servers are: the rejection echoes what was posted.
        return JSONResponse({"error": error, "received": form}, status_code=401)

    def _email(self, request: Request, *, use: bool) -> str | None:
        token = request.cookies.get(self.SESSION_COOKIE)
        session = self.sessions.get(token or "")
        if session is None:
            return None
        if use and session.uses_left is not None:
            if session.uses_left <= 0:
                return None
            session.uses_left -= 1
        return session.email

    def _user(self, request: Request) -> tuple[str, User] | Response:
        email = self._email(request, use=True)
        if email is None:
            self.rejected += 1
            return JSONResponse({"error": "not signed in", **echo(request)}, status_code=401)
        return email, self.users[email]

    async def session(self, request: Request) -> Response:
        # Reading the session does not use it up (NextAuth's client polls it freely).
        email = self._email(request, use=False)
        if email is None:
            return JSONResponse({})
        user = self.users[email]
        return JSONResponse(
            {"user": {"email": email, "orgId": user.org_id, "role": user.role, **user.extra}}
        )

    async def subscription(self, request: Request) -> Response:
        found = self._user(request)
        if isinstance(found, Response):
            return found
        _, user = found
        if user.role != "admin":
            return JSONResponse({"error": "billing is for admins"}, status_code=403)
        if request.query_params.get("orgId") != user.org_id:
            return JSONResponse({"error": "no such organisation"}, status_code=404)
        return JSONResponse({"orgId": user.org_id, "plan": "pro"})

    async def members(self, request: Request) -> Response:
        found = self._user(request)
        if isinstance(found, Response):
            return found
        _, user = found
        if request.path_params["org_id"] != user.org_id:
            return JSONResponse({"error": "no such organisation"}, status_code=404)
        return JSONResponse({"members": list(self.users)})

    async def admin_users(self, request: Request) -> Response:
        found = self._user(request)
        if isinstance(found, Response):
            return found
        _, user = found
        if user.role != "admin":
            return JSONResponse({"error": "admins only"}, status_code=403)
        return JSONResponse({"users": list(self.users)})

    async def item(self, request: Request) -> Response:
        found = self._user(request)
        if isinstance(found, Response):
            return found
        return JSONResponse({"item": request.path_params["n"], "for": found[0]})

    async def who(self, request: Request) -> Response:
        email = self._email(request, use=False)
        self.whoami.append(email)
        if email is None:
            return JSONResponse({"error": "not signed in"}, status_code=401)
        return JSONResponse({"email": email})

    async def step_up(self, request: Request) -> Response:
        """Always 401, signed in or not: a route that wants a fresher login than any session."""
        return JSONResponse({"error": "re-authentication required"}, status_code=401)


class ForgetfulNextAuthApp(NextAuthApp):
    """As Django and NextAuth do, a 401 for a dead session also deletes the session cookie.

    The race this opens is made deterministic: every such 401 after the first is held back
    until a request arrives with a newer session, so it reaches the client only after the
    client logged in again, and then deletes the new session's cookie from its jar.
    """

    def __init__(self, lifetimes: Iterable[int] = ()) -> None:
        super().__init__(lifetimes=lifetimes)
        self._newer: anyio.Event | None = None

    def _newer_session(self) -> anyio.Event:
        if self._newer is None:  # created in the server's own event loop
            self._newer = anyio.Event()
        return self._newer

    async def item(self, request: Request) -> Response:
        session = self.sessions.get(request.cookies.get(self.SESSION_COOKIE, ""))
        if session is not None and session.number > 1:
            self._newer_session().set()
        response = await super().item(request)
        if response.status_code == 401:
            if self.rejected > 1:
                await self._newer_session().wait()
            response.delete_cookie(self.SESSION_COOKIE)
        return response


# --- Django-style ---------------------------------------------------------------------------

LOGIN_PAGE = """<!doctype html>
<html><body>
<form method="post" action="/accounts/login/">
  <input type="hidden" name="csrfmiddlewaretoken" value="{csrf}">
  <input type="hidden" name="next" value="/accounts/profile/">
  <input type="text" name="username"> <input type="password" name="password">
  {error}
  <button type="submit">Log in</button>
</form>
</body></html>
"""


class DjangoApp(App):
    """Django-style form login; a wrong password re-renders the form with 200, as Django does.

    Counters: `logins`, `csrf_failures`.
    """

    def __init__(self, users: dict[str, tuple[str, str]] | None = None) -> None:
        self.users = users or {"alice": ("alice-pass", "7"), "bob": ("bob-pass", "8")}
        self.sessions: dict[str, str] = {}
        self.logins = 0
        self.csrf_failures = 0
        self.routes = [
            Route("/accounts/login/", self.login, methods=["GET", "POST"]),
            Route("/accounts/profile/", self.profile),
            Route("/api/me", self.me),
            Route("/api/orgs/{org_id}/projects", self.projects),
        ]

    def _origin(self, request: Request) -> str:
        return f"{request.url.scheme}://{request.headers['host']}"

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self._page(request, "")
        form = await posted_form(request)
        cookie = request.cookies.get("csrftoken")
        if not cookie or form.get("csrfmiddlewaretoken") != cookie:
            self.csrf_failures += 1
            return HTMLResponse("CSRF verification failed: token missing or incorrect.", 403)
        # As Django: the Origin header when sent, else the Referer, must be this site.
        origin = request.headers.get("origin")
        if origin is not None and origin != self._origin(request):
            self.csrf_failures += 1
            return HTMLResponse("CSRF verification failed: Origin checking failed.", 403)
        referer = request.headers.get("referer", "")
        if origin is None and not referer.startswith(self._origin(request) + "/"):
            self.csrf_failures += 1
            return HTMLResponse("CSRF verification failed: Referer checking failed.", 403)
        user = self.users.get(form.get("username", ""))
        if user is None or form.get("password") != user[0]:
            return self._page(request, "<p>Please enter a correct username and password.</p>")
        self.logins += 1
        session = new_token()
        self.sessions[session] = form["username"]
        response = RedirectResponse(form.get("next") or "/", status_code=302)
        response.set_cookie("sessionid", session, httponly=True, samesite="lax")
        response.set_cookie("csrftoken", new_token(), samesite="lax")  # rotated on login
        return response

    def _page(self, request: Request, error: str) -> Response:
        csrf = request.cookies.get("csrftoken") or new_token()
        response = HTMLResponse(LOGIN_PAGE.format(csrf=html.escape(csrf), error=error))
        response.set_cookie("csrftoken", csrf, samesite="lax")
        return response

    def _username(self, request: Request) -> str | None:
        return self.sessions.get(request.cookies.get("sessionid", ""))

    async def profile(self, request: Request) -> Response:
        username = self._username(request)
        if username is None:
            return RedirectResponse("/accounts/login/", status_code=302)
        org = self.users[username][1]
        return HTMLResponse(f"<p>Signed in as {username}. Organisation {org}.</p>")

    async def me(self, request: Request) -> Response:
        username = self._username(request)
        if username is None:
            return JSONResponse({"detail": "Authentication credentials were not provided."}, 401)
        return JSONResponse({"username": username})

    async def projects(self, request: Request) -> Response:
        username = self._username(request)
        if username is None:
            return JSONResponse({"detail": "not signed in"}, 401)
        if request.path_params["org_id"] != self.users[username][1]:
            return JSONResponse({"detail": "not found"}, 404)
        return JSONResponse({"projects": []})


# --- JSON login -----------------------------------------------------------------------------


class JsonLoginApp(App):
    """`POST /api/login` {username, password} -> {"access_token"}; bearer-protected routes."""

    def __init__(self, users: dict[str, tuple[str, str]] | None = None) -> None:
        self.users = users or {"carol": ("carol-pass", "7")}
        self.tokens: dict[str, str] = {}
        self.logins = 0
        self.routes = [
            Route("/api/login", self.login, methods=["POST"]),
            Route("/api/private", self.private),
            Route("/api/users/{user_id}/profile", self.profile),
        ]

    async def login(self, request: Request) -> Response:
        try:
            data = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "send JSON"}, status_code=400)
        user = self.users.get(str(data.get("username")))
        if user is None or data.get("password") != user[0]:
            return JSONResponse({"error": "invalid credentials", "received": data}, 401)
        self.logins += 1
        token = new_token("jwt-")
        self.tokens[token] = str(data["username"])
        return JSONResponse(
            {"access_token": token, "token_type": "bearer"}, headers={"X-User-Id": user[1]}
        )

    def _username(self, request: Request) -> str | None:
        return self.tokens.get(bearer(request) or "")

    async def private(self, request: Request) -> Response:
        username = self._username(request)
        if username is None:
            return JSONResponse({"error": "bearer token required"}, status_code=401)
        return JSONResponse({"username": username})

    async def profile(self, request: Request) -> Response:
        username = self._username(request)
        if username is None:
            return JSONResponse({"error": "bearer token required"}, status_code=401)
        if request.path_params["user_id"] != self.users[username][1]:
            return JSONResponse({"error": "not yours"}, status_code=403)
        return JSONResponse({"username": username})


# --- OAuth2 client credentials -------------------------------------------------------------


class OAuthApp(App):
    """An OAuth2 client-credentials token endpoint and a route that needs a valid token.

    Expiry is in the test's hands, never the clock's: `expires_in` is what the endpoint
    announces; `uses_per_token` makes a token invalid after that many requests; `revoke_all()`
    invalidates every token issued so far; `token_status` makes the endpoint refuse.
    Counters: `token_calls` (every call), `issued`, `rejected` (401s from `/api/machine`).
    """

    def __init__(
        self,
        client_id: str = "machine",
        client_secret: str = "machine-secret",
        *,
        expires_in: int = 3600,
        uses_per_token: int | None = None,
        token_prefix: str = "at-",
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.expires_in = expires_in
        self.uses_per_token = uses_per_token
        self.token_prefix = token_prefix
        self.token_status: int | None = None
        self.tokens: dict[str, int | None] = {}  # valid token -> uses left
        self.issued: list[str] = []
        self.scopes: list[str] = []
        self.token_calls = 0
        self.rejected = 0
        self.routes = [
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/api/machine", self.machine),
        ]

    def revoke_all(self) -> None:
        self.tokens.clear()

    async def token(self, request: Request) -> Response:
        self.token_calls += 1
        form = await posted_form(request)
        if self.token_status is not None:
            return JSONResponse({"error": "server_error", "received": form}, self.token_status)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return JSONResponse({"error": "invalid_client", "received": form}, status_code=401)
        self.scopes.append(form.get("scope", ""))
        token = f"{self.token_prefix}{len(self.issued) + 1}-{secrets.token_hex(4)}"
        self.issued.append(token)
        self.tokens[token] = self.uses_per_token
        return JSONResponse(
            {"access_token": token, "expires_in": self.expires_in, "token_type": "bearer"}
        )

    async def machine(self, request: Request) -> Response:
        token = bearer(request) or ""
        if token not in self.tokens:
            self.rejected += 1
            return JSONResponse({"error": "invalid_token", **echo(request)}, status_code=401)
        left = self.tokens[token]
        if left is not None:
            if left <= 1:
                del self.tokens[token]  # that was its last use
            else:
                self.tokens[token] = left - 1
        return JSONResponse({"ok": True})


# --- static credential kinds ----------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """What `KindsApp` accepts for each static kind."""

    bearer: str = "bearer-token"
    basic: tuple[str, str] = ("basic-user", "basic-pass")
    api_key_header: tuple[str, str] = ("X-Api-Key", "header-key")
    api_key_query: tuple[str, str] = ("api_key", "query-key")
    api_key_cookie: tuple[str, str] = ("api_key", "cookie-key")
    cookie: tuple[str, str] = ("remember_me", "cookie-value")


class KindsApp(App):
    """`/kinds/<kind>` answers 200 when the request carries that kind's credential, else 401
    with an echo of the request; `/echo/{status}` echoes anything with that status."""

    def __init__(self, accepted: Credentials | None = None) -> None:
        self.accepted = accepted or Credentials()
        self.routes = [
            Route("/kinds/{kind}", self.kind),
            Route("/echo/{status:int}", self.echo, methods=ALL_METHODS),
        ]

    def _carries(self, kind: str, request: Request) -> bool:
        accepted = self.accepted
        if kind == "bearer":
            return bearer(request) == accepted.bearer
        if kind == "basic":
            token = base64.b64encode(":".join(accepted.basic).encode()).decode()
            return request.headers.get("authorization") == f"Basic {token}"
        if kind == "api-key-header":
            name, value = accepted.api_key_header
            return request.headers.get(name) == value
        if kind == "api-key-query":
            name, value = accepted.api_key_query
            return request.query_params.get(name) == value
        if kind == "api-key-cookie":
            name, value = accepted.api_key_cookie
            return request.cookies.get(name) == value
        if kind == "cookie":
            name, value = accepted.cookie
            return request.cookies.get(name) == value
        return False

    async def kind(self, request: Request) -> Response:
        if self._carries(request.path_params["kind"], request):
            return JSONResponse({"ok": True})
        return JSONResponse({"error": "unauthorized", **echo(request)}, status_code=401)

    async def echo(self, request: Request) -> Response:
        body = (await request.body()).decode("utf-8", errors="replace")
        return JSONResponse(echo(request, body), status_code=request.path_params["status"])


class DigestApp(App):
    """HTTP digest auth (RFC 7616, MD5, qop=auth): `/digest/ok` answers 200 to a valid
    `Authorization: Digest ...` for `user`/`password`, else 401 with a fresh challenge.
    Counts the challenges it sent and the requests it accepted."""

    realm = "crawler-tests"

    def __init__(self, user: str = "digest-user", password: str = "digest-pass") -> None:
        self.user, self.password = user, password
        self.nonces: set[str] = set()
        self.challenges = 0
        self.accepted = 0
        self.routes = [Route("/digest/ok", self.ok, methods=ALL_METHODS)]

    def _valid(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Digest "):
            return False
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', header[len("Digest ") :]))
        if fields.get("nonce") not in self.nonces or fields.get("username") != self.user:
            return False

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"{self.user}:{self.realm}:{self.password}")
        ha2 = md5(f"{request.method}:{fields.get('uri', '')}")
        parts = [fields["nonce"], fields.get("nc", ""), fields.get("cnonce", ""), "auth", ha2]
        return fields.get("response") == md5(":".join([ha1, *parts]))

    async def ok(self, request: Request) -> Response:
        if self._valid(request):
            self.accepted += 1
            return JSONResponse({"ok": True, "user": self.user})
        self.challenges += 1
        nonce = secrets.token_hex(8)
        self.nonces.add(nonce)
        challenge = f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}", algorithm=MD5'
        return JSONResponse(
            {"error": "unauthorized"}, status_code=401, headers={"WWW-Authenticate": challenge}
        )
