"""Identities: each gets its own client (cookie jar, headers, auth) and logs in once per run.

`open_sessions` turns the manifest's identities into logged-in `Session`s, concurrently,
before any check is sent. A login that fails is recorded on its session (`failure`), never
raised: that identity's checks are SKIPped and every other identity still runs. Login steps
and OAuth2 token requests go through the same client as the checks, so tests swap the
transport, not the code. Values are captured from answers by JSONPath, header, cookie,
HTML form field or regex, and fill `{name}` placeholders in later steps and in checks.
Every login request (a step, a token fetch) has a deadline of twice the timeout and reads at
most `LOGIN_BODY_CAP` bytes of its answer, so a server that drips its answer cannot hang a run.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookiejar import Cookie
from typing import Any

import anyio
import httpx

from crawler import redact
from crawler.manifest import Capture, Identity, Step
from crawler.redact import Redactor, request_secrets
from crawler.results import ErrorCode

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


# Re-logins (after 401s) per identity per run, beyond its first login; then 401s are answers.
MAX_RELOGINS = 3
# Cookie values set by a login answer at least this long are treated as session secrets.
SESSION_COOKIE_MIN = 8
# Bytes of a login step's or token endpoint's answer read at most (a login page, a token).
LOGIN_BODY_CAP = 2 * 1024 * 1024
# Seconds per read when the client sets none; a login request's deadline is twice that.
DEFAULT_TIMEOUT = 10.0


class MissingCapture(Exception):
    """A `{name}` placeholder whose value no login captured."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace `{name}` with captured values; `{{` and `}}` are literal braces.

    >>> fill("/api/orgs/{org_id}/billing", {"org_id": "42"})
    '/api/orgs/42/billing'
    """

    def replace(match: re.Match[str]) -> str:
        if match[0] in ("{{", "}}"):
            return match[0][0]
        name = match[1]
        if name not in values:
            raise MissingCapture(name)
        return values[name]

    return _PLACEHOLDER.sub(replace, template)


def fill_data(data: Any, values: Mapping[str, str]) -> Any:
    """`fill` through every string of a JSON-like value (keys are left as written)."""
    if isinstance(data, str):
        return fill(data, values)
    if isinstance(data, dict):
        return {key: fill_data(value, values) for key, value in data.items()}
    if isinstance(data, list):
        return [fill_data(item, values) for item in data]
    return data


def placeholders(text: str) -> list[str]:
    """The names a template refers to."""
    return [m[1] for m in _PLACEHOLDER.finditer(text) if m[1]]


def _deadline(client: httpx.AsyncClient) -> float:
    """Seconds a whole login request may take: twice the timeout, as for a check."""
    return 2 * (client.timeout.read or DEFAULT_TIMEOUT)


async def _exchange(
    client: httpx.AsyncClient, request: httpx.Request, *, anonymous: bool = False
) -> tuple[httpx.Response, str]:
    """Send a login request; its answer and body (at most `LOGIN_BODY_CAP` bytes read).

    Raises `TimeoutError` when the whole exchange takes longer than `_deadline(client)`,
    and `httpx.HTTPError` when there is no answer. `anonymous` sends it without the
    client's auth (a token request must not need the token it fetches).
    """
    from crawler.engine import read_capped  # the engine imports this module

    with anyio.fail_after(_deadline(client)):
        if anonymous:
            response = await client.send(request, auth=None, stream=True)
        else:
            response = await client.send(request, stream=True)
        try:
            body, _, _ = await read_capped(response, LOGIN_BODY_CAP)
        finally:
            await response.aclose()
    return response, body.decode(response.encoding or "utf-8", errors="replace")


def _no_http_answer(exc: BaseException) -> bool:
    """A transport failure: a timeout, httpx's errors, the OS's, and aiohttp's own (some,
    such as a bad status line, reach us unmapped through httpx-aiohttp)."""
    return isinstance(exc, TimeoutError | httpx.HTTPError | OSError) or type(
        exc
    ).__module__.startswith("aiohttp")


def _no_answer(where: str, exc: Exception, client: httpx.AsyncClient) -> LoginFailed:
    """The `LoginFailed` of a login request that got no (complete) answer: unreachable."""
    if isinstance(exc, TimeoutError):
        deadline = _deadline(client)
        return LoginFailed(
            f"{where}: no complete answer within {deadline:g} s (timeout)", "timeout"
        )
    from crawler.engine import describe_error

    code, reason = describe_error(exc, client.timeout.read or DEFAULT_TIMEOUT)
    return LoginFailed(f"{where}: no answer ({reason})", code)


def _ascii_headers(where: str, headers: Mapping[str, str]) -> None:
    """HTTP header values are ASCII: a captured `Zürich` cannot be sent in one."""
    for name, value in headers.items():
        if not value.isascii():
            raise LoginFailed(
                f"{where}: header {name} would carry a non-ASCII value (from a capture?); "
                "capture an ASCII value, or send it in the path, query or body instead"
            )


# --- capturing ----------------------------------------------------------------------------------


class _FormFields(HTMLParser):
    """Collects `<input name=... value=...>` pairs (hidden CSRF fields among them)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "input":
            return
        found = dict(attrs)
        name = found.get("name")
        if name and name not in self.fields:
            self.fields[name] = found.get("value") or ""


def capture(
    rule: Capture, response: httpx.Response, cookies: httpx.Cookies, text: str | None = None
) -> str | None:
    """The value `rule` finds in `response` (or the jar after it), or None when absent.

    `text` is the answer's body when it was read apart from `response` (capped).
    """
    if rule.header is not None:
        header: str | None = response.headers.get(rule.header)
        return header
    if rule.cookie is not None:
        return cookies.get(rule.cookie)
    text = response.text if text is None else text
    if rule.regex is not None:
        match = re.search(rule.regex, text)
        if match is None:
            return None
        return match.group(1) if match.groups() else match.group(0)
    if rule.form_field is not None:
        parser = _FormFields()
        parser.feed(text)
        return parser.fields.get(rule.form_field)
    return _json_capture(str(rule.json_path), text)


def _json_capture(path: str, text: str) -> str | None:
    import jsonpath

    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python parses
        return None
    match = jsonpath.match(path, data)
    if match is None or match.obj is None:
        return None
    value = match.obj
    return value if isinstance(value, str) else json.dumps(value)


# --- OAuth2 client credentials --------------------------------------------------------------


class ClientCredentials(httpx.Auth):
    """OAuth2 client-credentials: fetch a token, cache it, refresh it before it expires.

    Follows httpx's auth-flow shape: the token request is yielded through the same client.
    A 401 with a cached token refreshes it once and retries. Tokens join the redactor.
    """

    # Refresh this many seconds before the server says the token expires.
    MARGIN_S = 30.0

    def __init__(self, identity: Identity, redactor: Redactor) -> None:
        self._identity = identity
        self._redactor = redactor
        self._token: str | None = None
        self._expires_at = 0.0
        self._lifetime = 0.0
        self._lock = anyio.Lock()
        self.fetches = 0

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self._identity.client_id!r}, <secret hidden>)"

    def _fresh(self) -> bool:
        # A short-lived token (expires_in 20) is refreshed at half its life, not every time.
        margin = min(self.MARGIN_S, self._lifetime / 2)
        return self._token is not None and time.monotonic() < self._expires_at - margin

    def _token_request(self) -> httpx.Request:
        identity = self._identity
        form = {
            "grant_type": "client_credentials",
            "client_id": str(identity.client_id),
            "client_secret": str(identity.client_secret),
        }
        if identity.scope:
            form["scope"] = identity.scope
        # Uncompressed: a refresh's size cap (`_capped_text`) counts the bytes received.
        headers = {"Accept-Encoding": "identity"}
        return httpx.Request("POST", str(identity.token_url), data=form, headers=headers)

    @property
    def header(self) -> str | None:
        """The Authorization header of the cached token (None before the first fetch)."""
        return f"Bearer {self._token}" if self._token is not None else None

    def _store(self, status: int, text: str) -> None:
        if status != 200:
            raise LoginFailed(
                f"token endpoint answered {status}: {self._redactor.text(text)[:300]}"
            )
        try:
            payload = json.loads(text)
            token = str(payload["access_token"])
        except (ValueError, KeyError, TypeError):
            raise LoginFailed("token endpoint answered without an access_token") from None
        self._redactor.add([token])
        self._token = token
        expires_in = payload.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        self._lifetime = lifetime
        self._expires_at = time.monotonic() + lifetime
        self.fetches += 1

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not self._fresh():
            async with self._lock:  # single flight: concurrent requests share one fetch
                if not self._fresh():
                    token_response = yield self._resolve(self._token_request(), request)
                    self._store(token_response.status_code, await _capped_text(token_response))
        sent_with = self._token
        request.headers["Authorization"] = f"Bearer {sent_with}"
        response = yield request
        if response.status_code == 401:
            async with self._lock:
                if self._token == sent_with:  # nobody refreshed meanwhile: do it now
                    token_response = yield self._resolve(self._token_request(), request)
                    self._store(token_response.status_code, await _capped_text(token_response))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    async def ensure_token(self, client: httpx.AsyncClient) -> None:
        """Fetch a token now unless a fresh one is cached (a login failure shows up early)."""
        async with self._lock:
            if self._fresh():
                return
            request = self._resolve(self._token_request(), client.build_request("GET", "/"))
            try:
                response, text = await _exchange(client, request, anonymous=True)
            except Exception as exc:
                if not _no_http_answer(exc):
                    raise
                where = f"token request to {redact.url(str(request.url))}"
                raise _no_answer(where, exc, client) from None
            self._store(response.status_code, text)

    @staticmethod
    def _resolve(token_request: httpx.Request, like: httpx.Request) -> httpx.Request:
        # A token_url that is a path is on the target itself.
        if token_request.url.is_relative_url:
            url = like.url.join(token_request.url)
            return httpx.Request(
                "POST", url, headers=token_request.headers, content=token_request.content
            )
        return token_request


async def _capped_text(response: httpx.Response) -> str:
    """The body of a token answer yielded back to an auth flow, at most `LOGIN_BODY_CAP`
    bytes (its time is bounded by the deadline of the check whose request refreshes it).

    Read with `aread`, as httpx reads it again after the flow; the stream stops past the cap.
    """
    if isinstance(response.stream, httpx.AsyncByteStream):
        response.stream = _CappedStream(response.stream, LOGIN_BODY_CAP)
    body = await response.aread()
    return body.decode(response.encoding or "utf-8", errors="replace")


class _CappedStream(httpx.AsyncByteStream):
    """An answer's byte stream that fails with `LoginFailed` past `cap` bytes."""

    def __init__(self, stream: httpx.AsyncByteStream, cap: int) -> None:
        self._stream = stream
        self._cap = cap

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self._stream:
            size += len(chunk)
            if size > self._cap:
                raise LoginFailed(f"token endpoint answered more than {self._cap} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


class LoginFailed(Exception):
    """A login step or token request did not answer as declared; the message says how.

    `error` is set when there was no HTTP answer at all (refused, timeout ...): the target
    is unreachable, which is an ERROR of its checks rather than a rejected login.
    """

    def __init__(self, message: str, error: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.error = error


# --- sessions -----------------------------------------------------------------------------------


@dataclass
class Session:
    """One identity during a run: its client, what its login captured, and whether it works."""

    name: str
    identity: Identity
    client: httpx.AsyncClient
    redactor: Redactor
    captures: dict[str, str] = field(default_factory=dict)
    failure: str | None = None
    failure_error: ErrorCode | None = None  # set when the login got no HTTP answer at all
    generation: int = 0
    _lock: anyio.Lock = field(default_factory=anyio.Lock)
    _login_cookies: list[Cookie] = field(default_factory=list)

    @property
    def can_relogin(self) -> bool:
        # Bounded: a route that keeps answering 401 to this user must not cause a login per
        # check (against production that is an account lockout waiting to happen).
        return (
            self.identity.kind == "login"
            and self.failure is None
            and self.generation <= MAX_RELOGINS
        )

    async def login(self) -> None:
        """Log in (steps, or an OAuth2 token); on failure record why instead of raising."""
        try:
            self.client.cookies.clear()
            self._apply_static()
            if self.identity.kind == "login":
                self.captures = await run_steps(
                    self.client, self.identity.steps or (), self.redactor
                )
                self._apply_captured_headers()
            elif isinstance(self.client.auth, ClientCredentials):
                await self.client.auth.ensure_token(self.client)
            self.failure = self.failure_error = None
            self._login_cookies = list(self.client.cookies.jar)
        except LoginFailed as failed:
            self.failure = self.redactor.text(str(failed))
            self.failure_error = failed.error
        except Exception as exc:  # one identity's odd failure must never end the whole run
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            self.failure = self.redactor.text(f"the login failed unexpectedly ({reason})")
            self.failure_error = None
        self.generation += 1

    async def relogin(self, seen_generation: int) -> bool:
        """Log in again after a 401, once for many concurrent callers (single flight).

        Returns True when the session is usable (logged in by this call or another).
        """
        async with self._lock:
            if self.generation == seen_generation:
                await self.login()
            else:
                self._restore_login_cookies()
        return self.failure is None

    def _restore_login_cookies(self) -> None:
        # A late answer to a request sent with the old session may have deleted the new
        # session's cookie (servers clear a dead session's cookie on 401): put it back.
        jar = self.client.cookies.jar
        present = {(cookie.domain, cookie.path, cookie.name) for cookie in jar}
        for cookie in self._login_cookies:
            if (cookie.domain, cookie.path, cookie.name) not in present:
                jar.set_cookie(cookie)

    def _apply_static(self) -> None:
        identity = self.identity
        static = dict(identity.cookies)
        if identity.kind == "api_key" and identity.in_ == "cookie":
            static[str(identity.name)] = str(identity.value)
        for name, value in static.items():
            self.client.cookies.jar.set_cookie(_host_cookie(self.client.base_url, name, value))

    def _apply_captured_headers(self) -> None:
        # Identity headers may use captured values: Authorization: "Bearer {access_token}".
        filled = {}
        for name, template in self.identity.headers.items():
            if placeholders(template):
                try:
                    filled[name] = fill(template, self.captures)
                except MissingCapture as missing:
                    raise LoginFailed(
                        f"header {name} uses {{{missing.name}}}, which no step captured"
                    ) from None
        _ascii_headers("identity headers", filled)
        self.client.headers.update(filled)


def _host_cookie(base_url: httpx.URL, name: str, value: str) -> Cookie:
    """A cookie for the target's host only, as if the target had set it (no Domain).

    An identity's static cookies must not reach other hosts, such as the identity provider
    a login step posts to. (`testserver` for an in-process target.)
    """
    # As the jar names the host of a cookie set without Domain: lower case, no port, and
    # `.local` after a name without a dot (`localhost.local`, `testserver.local`).
    host = re.sub(r":\d+$", "", base_url.netloc.decode("ascii")).lower()
    host = host if "." in host else f"{host}.local"
    return Cookie(
        version=0,
        name=name,
        value=value,
        port=None,
        port_specified=False,
        domain=host,  # as the jar records a host-only cookie (`localhost.local`)
        domain_specified=False,
        domain_initial_dot=False,
        path="/",
        path_specified=True,
        secure=False,
        expires=None,
        discard=True,
        comment=None,
        comment_url=None,
        rest={},
    )


async def run_steps(
    client: httpx.AsyncClient, steps: Iterable[Step], redactor: Redactor
) -> dict[str, str]:
    """Send the login steps in order; return what they captured. Raises `LoginFailed`."""
    captured: dict[str, str] = {}
    for number, step in enumerate(steps, start=1):
        where = f"step {number} ({step.method} {step.path})"
        try:
            path = fill(step.path, captured)
            headers = {k: fill(v, captured) for k, v in step.headers.items()}
            query = {k: fill(str(v), captured) for k, v in step.query.items()}
            json_body = fill_data(step.json_body, captured)
            form = {k: fill(str(v), captured) for k, v in step.form.items()} if step.form else None
        except MissingCapture as missing:
            message = f"{where}: uses {{{missing.name}}}, which no earlier step captured"
            raise LoginFailed(message) from None
        # The credentials a step sends (password, token fields ...) are hidden wherever they
        # turn up: a server that refuses a login may echo the posted form back.
        sent = json_body if form is None else form
        redactor.add(request_secrets(headers, path, query, sent))
        _ascii_headers(where, headers)
        try:
            request = client.build_request(
                step.method, path, headers=headers, params=query or None, json=json_body, data=form
            )
        except (httpx.InvalidURL, ValueError) as exc:  # a captured value that breaks the URL
            raise LoginFailed(f"{where}: cannot build the request ({exc})") from None
        try:
            response, text = await _exchange(client, request)
        except Exception as exc:
            if not _no_http_answer(exc):
                raise
            raise _no_answer(where, exc, client) from None
        # The cookies a login is answered with are its session: hidden in every output.
        # Short values (`consent=true`) are not credentials and would mask common words.
        redactor.add(
            cookie.value
            for cookie in response.cookies.jar
            if cookie.value and len(cookie.value) >= SESSION_COOKIE_MIN
        )
        if not step.expect.matches(response.status_code):
            # Whatever this step sent may be a credential, whatever its field is called
            # (`pin`, `code`): a refusal that echoes the form shows none of it.
            excerpt = Redactor(_values(sent)).text(redactor.text(text)).strip()[:300]
            raise LoginFailed(
                f"{where}: expected {step.expect}, got {response.status_code}"
                + (f": {excerpt}" if excerpt else "")
            )
        for name, rule in step.capture.items():
            value = capture(rule, response, client.cookies, text)
            if value is None:
                raise LoginFailed(f"{where}: capture {name} found nothing")
            captured[name] = value
            if rule.secret:
                redactor.add([value])
    return captured


def _values(data: object) -> Iterable[str]:
    """Every scalar value of a form or JSON body, as text."""
    if isinstance(data, dict):
        for value in data.values():
            yield from _values(value)
    elif isinstance(data, list):
        for item in data:
            yield from _values(item)
    elif isinstance(data, str | int | float) and not isinstance(data, bool):
        yield str(data)


def authorization(auth: httpx.Auth | None) -> str | None:
    """The Authorization header `auth` would add to a request now, found without sending
    anything: a cached OAuth2 token, or basic credentials. None when it adds none yet."""
    if isinstance(auth, ClientCredentials):
        return auth.header
    if isinstance(auth, httpx.BasicAuth):
        request = next(auth.sync_auth_flow(httpx.Request("GET", "http://probe.invalid/")))
        header: str | None = request.headers.get("Authorization")
        return header
    return None


def identity_client(
    identity: Identity,
    transport: httpx.AsyncBaseTransport,
    base_url: str,
    redactor: Redactor,
    **options: Any,
) -> httpx.AsyncClient:
    """A client of its own for `identity`: its jar, its headers, its auth, a shared transport."""
    headers = {k: v for k, v in identity.headers.items() if not placeholders(v)}
    params: dict[str, str] = {}
    auth: httpx.Auth | None = None
    if identity.kind == "bearer":
        headers["Authorization"] = f"Bearer {identity.token}"
    elif identity.kind == "basic":
        auth = httpx.BasicAuth(str(identity.username), str(identity.password))
    elif identity.kind == "digest":  # RFC 7616: answers the server's 401 challenge
        auth = httpx.DigestAuth(str(identity.username), str(identity.password))
    elif identity.kind == "api_key" and identity.in_ == "header":
        headers[str(identity.name)] = str(identity.value)
    elif identity.kind == "api_key" and identity.in_ == "query":
        params[str(identity.name)] = str(identity.value)
    elif identity.kind == "oauth2_client_credentials":
        auth = ClientCredentials(identity, redactor)
    base_headers = dict(options.pop("headers", {}))
    target_auth = options.pop("auth", None)  # popped always: never passed twice
    return httpx.AsyncClient(
        base_url=base_url,
        transport=_Shared(transport),
        headers={**base_headers, **headers},
        params=params,
        auth=auth or target_auth,  # the identity's own auth wins
        **options,
    )


class _Shared(httpx.AsyncBaseTransport):
    """Lets several identity clients share one connection pool; closed once, by its owner."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        pass


async def login_all(sessions: Iterable[Session]) -> None:
    """Log every identity in, concurrently, before any check starts."""
    async with anyio.create_task_group() as tasks:
        for session in sessions:
            tasks.start_soon(session.login)
