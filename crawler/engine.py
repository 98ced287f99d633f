"""The crawl: the only network edge. Sends every check concurrently and records what came back.

Read this module first. `open_client` builds one `httpx.AsyncClient` for the target (a live
base URL through a fast aiohttp transport, or an ASGI/WSGI app in-process). `crawl` sends the
checks through it with bounded concurrency and returns one `CheckResult` per check, in
manifest order, whatever order the answers came in. Nothing here raises for a network
failure: refused connections, timeouts, TLS and protocol errors become `TransportError`
observations, judged ERROR.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import inspect
import random
import re
import socket
import ssl
import sys
import time
import zlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx

from crawler import assertions, auth, netconfig, redact, stubs, verdict
from crawler.auth import MissingCapture, Session, fill, fill_data
from crawler.compact import compact
from crawler.errors import TargetError
from crawler.manifest import ANONYMOUS, Identity, PlannedCheck, scalar_text
from crawler.redact import Redactor
from crawler.results import (
    BodyFacts,
    CheckResult,
    Details,
    ErrorCode,
    NotSent,
    Observation,
    RequestInfo,
    Response,
    TransportError,
)
from crawler.values import Values

USER_AGENT = netconfig.user_agent()
IN_PROCESS_BASE = "http://testserver"

Transport = Literal["aiohttp", "httpx"]
TRANSPORTS: tuple[Transport, ...] = ("aiohttp", "httpx")


@dataclass(frozen=True)
class Settings:
    """How a crawl behaves. Small and explicit; the CLI builds it from flags and defaults.

    >>> Settings(concurrency=32, timeout=5.0, allow_mutations=False)
    Settings(concurrency=32, timeout=5.0, ...)

    - `concurrency`: requests in flight at once (workers and connection pool size).
    - `timeout`: seconds allowed to connect and for each read of a check without its own
      timeout; a whole check never takes more than twice its timeout.
    - `body_cap`: bytes of a body read at most; the rest is never read nor buffered.
    - `excerpt_cap`: characters of the body kept on a result that did not pass.
    - `transport`: `aiohttp` (fast, default) or `httpx` (httpx's own pool) for live targets.
    - `retries`: times a FAIL/ERROR of an idempotent check is checked again (flaky if it
      then passes). After a transport error, a 429 or a 503 it waits first: the answer's
      `Retry-After` (at most `RETRY_AFTER_CAP` s), else a jittered exponential backoff
      from `backoff` seconds.
    - `rate`: requests per second at most, across the run (None: as fast as `concurrency`
      allows); requests are spaced evenly, `1/rate` s apart.
    - `per_host`: requests in flight at once to one host (None: `concurrency`).
    - `deadline`: seconds the run may take (the runner starts the clock before logging in);
      checks not started by then are SKIP `deadline reached` (those in flight end within
      their own timeouts).
    - `network`: TLS trust, client certificate, proxy and extra headers (see `netconfig`).
    """

    concurrency: int = 16
    timeout: float = 10.0
    body_cap: int = 64 * 1024
    excerpt_cap: int = 8 * 1024
    allow_mutations: bool = False
    transport: Transport = "aiohttp"
    retries: int = 0
    backoff: float = 0.5
    deadline: float | None = None
    rate: float | None = None
    per_host: int | None = None
    # TLS, proxy and headers of every request (issue: network options)
    network: netconfig.NetworkOptions = field(default_factory=netconfig.NetworkOptions)
    # Stub detection: keep `BodyFacts` of every answer for the rules run after the crawl.
    detect_stubs: bool = True
    # --repeat: times each check is sent (see crawler/repeat.py); 1 sends it once.
    repeat: int = 1


class Pace:
    """Politeness shared by every request of a run: at most `per_host` in flight to one
    host, and starts at least `1/rate` s apart (`Settings.rate`, `Settings.per_host`).

    >>> pace = Pace(Settings(rate=20, per_host=2))
    >>> async with pace.slot("api.example.com:443"):
    ...     ...  # send one request

    Starts are booked in order (a minimum interval, not a burst-allowing bucket): a
    request that must wait sleeps until its turn, it never polls.
    """

    def __init__(self, settings: Settings) -> None:
        self._per_host = settings.per_host or settings.concurrency
        self._interval = 1.0 / settings.rate if settings.rate else 0.0
        self._hosts: dict[str, anyio.CapacityLimiter] = {}
        self._next_start = 0.0  # the monotonic instant the next request may start
        # Neither a rate nor a per-host limit below the concurrency: nothing to wait for,
        # and `observe` skips the slot (a limiter and a context manager per request).
        self.idle = not self._interval and self._per_host >= settings.concurrency

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Wait for a place among `host`'s requests in flight, then for this request's turn."""
        limiter = self._hosts.setdefault(host, anyio.CapacityLimiter(self._per_host))
        async with limiter:
            await self._turn()
            yield

    async def _turn(self) -> None:
        if not self._interval:
            return
        now = time.monotonic()
        # Booked before sleeping (no await in between): concurrent callers get successive turns.
        start = max(now, self._next_start)
        self._next_start = start + self._interval
        if start > now:
            await anyio.sleep(start - now)


def _host(url: httpx.URL) -> str:
    return f"{url.host}:{url.port or ''}"


@dataclass(frozen=True)
class Target:
    """Where the checks go: a live `base_url`, or an `app` reference crawled in-process."""

    base_url: str | None = None
    app: str | None = None

    @property
    def in_process(self) -> bool:
        return self.app is not None

    @property
    def label(self) -> str:
        return f"app:{self.app}" if self.app else str(self.base_url)

    @property
    def auth(self) -> httpx.BasicAuth | None:
        """`https://user:password@host` means basic auth, sent by httpx, not in the URL."""
        url = httpx.URL(self.base_url) if self.base_url else None
        if url is None or not (url.username or url.password):
            return None
        return httpx.BasicAuth(url.username, url.password)

    @property
    def url_without_userinfo(self) -> str:
        return str(httpx.URL(str(self.base_url)).copy_with(username=None, password=None))

    @property
    def secrets(self) -> list[str]:
        """The password of a base URL and the basic-auth token made from it."""
        auth = self.auth
        if auth is None:
            return []
        url = httpx.URL(str(self.base_url))
        token = base64.b64encode(f"{url.username}:{url.password}".encode()).decode()
        return [url.password, token] if url.password else [token]


# --- the client ----------------------------------------------------------------------------


def _transport(target: Target, settings: Settings) -> tuple[httpx.AsyncBaseTransport, str]:
    """The one transport (connection pool) of a crawl, and the base URL requests go to."""
    if target.app:
        return app_transport(load_app(target.app)), IN_PROCESS_BASE
    if target.base_url:
        proxy = netconfig.proxy_for(target.url_without_userinfo, settings.network)
        return network_transport(settings, proxy), target.url_without_userinfo
    raise TargetError(
        "No target: set base_url or app in the manifest, or pass --base-url or --app."
    )


def _client_options(target: Target, settings: Settings) -> dict[str, Any]:
    return {
        "follow_redirects": False,  # a 302 is an answer to check
        "auth": target.auth,
        "timeout": httpx.Timeout(settings.timeout),
        "headers": {"User-Agent": USER_AGENT, **dict(settings.network.headers)},
    }


@asynccontextmanager
async def open_client(target: Target, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """One anonymous client for the whole crawl: pool sized to the concurrency."""
    transport, base_url = _transport(target, settings)
    options = _client_options(target, settings)
    async with httpx.AsyncClient(base_url=base_url, transport=transport, **options) as client:
        yield client


@asynccontextmanager
async def open_sessions(
    target: Target,
    settings: Settings,
    identities: Mapping[str, Identity],
    redactor: Redactor,
) -> AsyncIterator[dict[str, Session]]:
    """A logged-in session per identity (anonymous alone when none), sharing one pool.

    Every identity logs in once, concurrently, before this yields; a failed login is
    recorded on its session, not raised.
    """
    transport, base_url = _transport(target, settings)
    chosen = dict(identities) or {ANONYMOUS: Identity()}
    sessions = {
        name: Session(
            name,
            identity,
            auth.identity_client(
                identity, transport, base_url, redactor, **_client_options(target, settings)
            ),
            redactor,
        )
        for name, identity in chosen.items()
    }
    try:
        await auth.login_all(sessions.values())
        yield sessions
    finally:
        for session in sessions.values():
            await session.client.aclose()
        await transport.aclose()


def network_transport(settings: Settings, proxy: str | None = None) -> httpx.AsyncBaseTransport:
    """The transport for a live target: aiohttp's (10x faster pool) or httpx's own.

    Both verify TLS with the same context (`netconfig.ssl_context`: certifi's CAs, or the
    `ca_bundle`, plus a client certificate; nothing with `insecure`) and go through
    `proxy` when one is given (http:// or https:// proxies; CONNECT for https targets).
    """
    limits = httpx.Limits(
        max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
    )
    tls = netconfig.ssl_context(settings.network)
    if settings.transport == "httpx":
        return httpx.AsyncHTTPTransport(limits=limits, verify=tls, proxy=proxy, trust_env=False)
    import aiohttp
    from httpx_aiohttp import AiohttpTransport

    def session() -> aiohttp.ClientSession:
        # Cookies live in the httpx client only (one jar per identity), never in aiohttp's.
        connector = aiohttp.TCPConnector(limit=settings.concurrency, ssl=tls)
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    # verify=tls: the transport would otherwise build a second context it never uses.
    transport: httpx.AsyncBaseTransport = AiohttpTransport(
        limits=limits,
        verify=tls,
        client=session,
        trust_env=False,  # the proxy is decided once, by `netconfig.proxy_for`
        proxy=httpx.Proxy(proxy) if proxy else None,
    )
    return transport


def load_app(reference: str) -> Any:
    """Import `package.module:attr` (from the current directory too) and return the app."""
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr:
        raise TargetError(f"--app {reference!r}: write it as package.module:attr.")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TargetError(
            f"--app {reference!r}: cannot import {module_name} ({exc}). "
            "Run crawler from the project folder or install the package."
        ) from None
    except Exception as exc:  # the app's own code failed while importing
        raise TargetError(
            f"--app {reference!r}: importing {module_name} failed: "
            f"{type(exc).__name__}: {exc}. Fix the app, or check it imports on its own."
        ) from None
    app: Any = module
    for part in attr.split("."):
        app = getattr(app, part, None)
        if app is None:
            raise TargetError(f"--app {reference!r}: {module_name} has no attribute {attr}.")
    if not callable(app):
        raise TargetError(f"--app {reference!r}: {attr} is not an ASGI or WSGI application.")
    return app


def is_asgi(app: Any) -> bool:
    """ASGI apps are coroutine functions (or objects whose __call__ is one); WSGI are not."""
    call = app if inspect.isfunction(app) or inspect.ismethod(app) else type(app).__call__
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(app)


def app_transport(app: Any) -> httpx.AsyncBaseTransport:
    """An in-process transport: the app's exceptions become 500 answers, as on a server."""
    if is_asgi(app):
        return httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return _ThreadedWSGITransport(httpx.WSGITransport(app=app, raise_app_exceptions=False))


class _ThreadedWSGITransport(httpx.AsyncBaseTransport):
    """Runs a blocking WSGI app in a worker thread so the async crawl can drive it."""

    def __init__(self, transport: httpx.WSGITransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = await request.aread()
        sync_request = httpx.Request(
            request.method, request.url, headers=request.headers, content=content
        )

        def call() -> tuple[httpx.Response, bytes]:
            try:
                response = self._transport.handle_request(sync_request)
                # The raw bytes, still encoded as the headers say: `read_body` decodes them.
                raw = b"".join(response.iter_raw())
            except Exception:
                # As a WSGI server does: an app that raises answers 500. (httpx's
                # WSGITransport re-raises it whatever raise_app_exceptions says.)
                return httpx.Response(500), b"Internal Server Error"
            return response, raw

        # abandon_on_cancel: a hung app cannot hold the crawl past the check's time limit.
        response, raw = await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(raw),  # not content=: that would decode it all now
            extensions=response.extensions,
        )


# --- the crawl -----------------------------------------------------------------------------

OnResult = Callable[[int, CheckResult], None]


async def crawl(
    checks: Sequence[PlannedCheck],
    sessions: Mapping[str, Session] | httpx.AsyncClient,
    settings: Settings,
    *,
    redactor: Redactor | None = None,
    on_result: OnResult | None = None,
    deadline_at: float | None = None,
    pace: Pace | None = None,
    limiter: anyio.CapacityLimiter | None = None,  # flows: shared with the flows of the run
    keep: bool = True,
) -> list[CheckResult]:
    """Send every check as its identity and judge it; return results in the order of `checks`.

    `sessions` maps identity names to logged-in sessions (`open_sessions`); a bare client
    means one anonymous identity. At most `settings.concurrency` requests are in flight.
    Mutations are not sent unless allowed (`verdict.guard`); checks of an identity that
    could not log in, or that need a value no login captured, are SKIP. A 401 to a
    logged-in identity re-logs it in once and retries. `on_result(index, result)` is called
    as each check finishes, so a caller can show progress and keep what it has if the crawl
    is interrupted. Checks not started by `deadline_at` (a `time.monotonic()` instant; by
    default `settings.deadline` seconds from now) are SKIP `deadline reached`, and no retry
    starts after it. Every request waits for `pace` (by default a new `Pace(settings)`): at
    most `settings.per_host` in flight to a host, and `settings.rate` a second. Never
    raises for a network failure. With `keep=False` the results are only passed to
    `on_result` and the list returned is empty (`--repeat`: memory stays bounded).
    """
    redactor = redactor or Redactor()
    if deadline_at is None and settings.deadline is not None:
        deadline_at = time.monotonic() + settings.deadline
    if isinstance(sessions, httpx.AsyncClient):
        sessions = {ANONYMOUS: Session(ANONYMOUS, Identity(), sessions, redactor)}
    # A credential a check sends is hidden in the answers too.
    redactor.add(
        value
        for planned in checks
        for value in redact.request_secrets(
            planned.headers,
            planned.check.path,
            planned.check.query,
            planned.check.json_body if planned.check.form is None else planned.check.form,
        )
    )
    results: list[CheckResult | None] = [None] * (len(checks) if keep else 0)
    pending = iter(enumerate(checks))  # shared by the workers: each check is taken once
    limiter = limiter or anyio.CapacityLimiter(settings.concurrency)
    pace = pace or Pace(settings)

    async def worker() -> None:
        for index, planned in pending:
            if _past(deadline_at):
                result = _unsent(planned, redactor, DEADLINE_REACHED)
            else:
                async with limiter:
                    session = sessions[planned.identity]
                    result = await check_one(
                        session, planned, settings, redactor, deadline_at=deadline_at, pace=pace
                    )
            if keep:
                results[index] = result
            if on_result is not None:
                on_result(index, result)

    async with anyio.create_task_group() as tasks:
        for _ in range(min(settings.concurrency, len(checks))):
            tasks.start_soon(worker)
    return [result for result in results if result is not None]


DEADLINE_REACHED = "deadline reached"


def _past(deadline_at: float | None, after: float = 0.0) -> bool:
    """Whether `deadline_at` (monotonic) has passed, or will have `after` seconds from now."""
    return deadline_at is not None and time.monotonic() + after >= deadline_at


async def check_one(
    session: Session,
    planned: PlannedCheck,
    settings: Settings,
    redactor: Redactor,
    *,
    deadline_at: float | None = None,
    pace: Pace | None = None,
) -> CheckResult:
    """Send one check as its identity (unless it must not be), observe, judge (see
    `check_step`), then check it again as `--retries` says (see `_retried`)."""
    settings = settings_for(planned, settings)
    result, _ = await check_step(session, planned, {}, settings, redactor, pace=pace)
    return await _retried(session, planned, settings, redactor, result, deadline_at, pace)


# --- flows: one step at a time ------------------------------------------------------------


def not_sent(planned: PlannedCheck, redactor: Redactor, reason: str) -> CheckResult:
    """The SKIP result of a check (a flow's step) deliberately not sent, with `reason`."""
    return _unsent(planned, redactor, reason)


async def check_step(
    session: Session,
    planned: PlannedCheck,
    captured: Mapping[str, str],
    settings: Settings,
    redactor: Redactor,
    *,
    pace: Pace | None = None,
    inspect: Callable[[Answer], str | None] | None = None,
) -> tuple[CheckResult, Answer | None]:
    """Send one check, or one step of a flow, as its identity (unless it must not be:
    a failed login, a missing value, the mutation guard), observe, judge. Its `{name}`
    placeholders are filled from `captured` (a flow's earlier steps), then the session's
    login captures, then the vars and generated values.

    Returns the result and the answer (None when nothing was sent). Sent once: a 401 to a
    logged-in identity logs in again (once for all) and resends it once; `check_one` adds
    `--retries`, which never resend a step of a flow (its order matters).

    `inspect(answer)` sees every HTTP answer before it is judged (a flow captures values
    there, and adds secret ones to the redactor first, so the answer kept is redacted with
    them); what it returns (a capture that found nothing) fails an answer that passed.
    """
    settings = settings_for(planned, settings)
    check = planned.check
    if session.failure is not None:
        return _login_failed(planned, session, redactor), None
    generation = session.generation
    values = {**session.captures, **captured}
    try:
        request = build_request(session.client, planned, values)
    except MissingCapture as missing:
        return _unsent(planned, redactor, f"capture {missing.name} missing"), None
    except Exception as exc:  # e.g. a captured value that breaks the URL
        info = RequestInfo(method=check.method, url=redactor.url(check.path))
        message = f"cannot build the request: {_first_line(exc)}"
        return _result(
            planned, info, TransportError(error="other", message=message, elapsed_ms=0), redactor
        ), None
    skipped = verdict.guard(check, allow_mutations=settings.allow_mutations)
    if skipped is not None:
        return _result(planned, request_info(request, redactor), skipped, redactor), None
    answer = await observe_answer(
        session.client, request, planned.timeout, settings, redactor, pace, planned.whole_timeout
    )
    reauthenticated = False
    if _expired(answer.observation, session, planned) and await session.relogin(generation):
        values = {**session.captures, **captured}  # the new login's captures
        request = build_request(session.client, planned, values)
        answer = await observe_answer(
            session.client,
            request,
            planned.timeout,
            settings,
            redactor,
            pace,
            planned.whole_timeout,
        )
        reauthenticated = True
    observation, nothing = answer.observation, None
    if inspect is not None and isinstance(observation, Response):
        nothing = inspect(answer)
        observation = observation.model_copy(  # private attributes are copied along
            update={
                "body_excerpt": redactor.text(observation.body_excerpt),
                "headers": redactor.headers(observation.headers.items()),
            }
        )
    info = request_info(request, redactor)
    result = _result(planned, info, observation, redactor, values, nothing)
    if reauthenticated:
        result = result.model_copy(update={"reauthenticated": True})
    return result, answer


# Bodies a check asserts on, or a flow step captures from, are read up to this (not only
# `body_cap`), so a long honest list is judged whole, not cut; `max_bytes` reads one more.
JUDGED_BODY_CAP = 1 << 20
JUDGED_BODY_LIMIT = 16 << 20


def settings_for(planned: PlannedCheck, settings: Settings) -> Settings:
    """`settings` with the body cap this check needs (see `JUDGED_BODY_CAP`)."""
    spec = planned.check.assert_
    if spec is None and not getattr(planned.check, "capture", None):
        return settings
    cap = max(settings.body_cap, JUDGED_BODY_CAP)
    if spec is not None and spec.max_bytes is not None:
        cap = max(cap, min(spec.max_bytes + 1, JUDGED_BODY_LIMIT))
    return settings if cap == settings.body_cap else dataclasses.replace(settings, body_cap=cap)


# Methods that may be sent again without changing more than the first request did.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


async def _retried(
    session: Session,
    planned: PlannedCheck,
    settings: Settings,
    redactor: Redactor,
    result: CheckResult,
    deadline_at: float | None = None,
    pace: Pace | None = None,
) -> CheckResult:
    """`--retries N`: check a FAIL/ERROR again, up to N times (idempotent methods only,
    never POST or PATCH unless the check is marked `idempotent: true`), first waiting
    `retry_delay`; never past the run's deadline.

    One that passes on a retry is marked flaky: it passed, but not reliably.
    """
    attempts = 1
    while (
        result.verdict in ("FAIL", "ERROR")
        and attempts <= settings.retries
        and (planned.check.method in IDEMPOTENT or planned.check.idempotent)
    ):
        delay = retry_delay(result.observation, attempts, settings.backoff)
        if _past(deadline_at, delay):
            break
        if delay > 0:
            await anyio.sleep(delay)
        attempts += 1
        request = build_request(session.client, planned, session.captures)
        observation = await observe(
            session.client,
            request,
            planned.timeout,
            settings,
            redactor,
            pace,
            planned.whole_timeout,
        )
        result = _result(
            planned, request_info(request, redactor), observation, redactor, session.captures
        )
    if attempts == 1:
        return result
    return result.model_copy(
        update={"attempts": attempts, "flaky": result.verdict in ("PASS", "XPASS")}
    )


# Answers that say "try again later": retried after a wait, like transport errors.
RETRY_STATUSES = frozenset({429, 503})
# The longest wait before a retry, whatever Retry-After asks.
RETRY_AFTER_CAP = 10.0


def retry_delay(
    observation: Observation, attempt: int, backoff: float, now: datetime | None = None
) -> float:
    """Seconds to wait before retrying after `attempt` sends that ended in `observation`.

    Rule: a 429 or 503 waits what its `Retry-After` says (seconds or an HTTP date), at
    most `RETRY_AFTER_CAP`; without one, and after a transport error, it backs off
    exponentially from `backoff` with jitter (half to all of `backoff * 2**(attempt-1)`),
    so retries from many checks do not arrive together. Any other answer (a plain FAIL)
    is checked again at once.

    >>> retry_delay(Response(status=429, headers={"Retry-After": "3"}, elapsed_ms=1), 1, 0.5)
    3.0
    """
    if isinstance(observation, Response):
        if observation.status not in RETRY_STATUSES:
            return 0.0
        asked = _retry_after(observation.headers, now or datetime.now(UTC))
        if asked is not None:
            return min(asked, RETRY_AFTER_CAP)
    elif not isinstance(observation, TransportError):
        return 0.0
    ceiling = min(backoff * 2 ** (attempt - 1), RETRY_AFTER_CAP)
    return random.uniform(ceiling / 2, ceiling)


def _retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # unreadable: back off instead
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _expired(observation: Observation, session: Session, planned: PlannedCheck) -> bool:
    # Rule: a 401 to an identity that logged in means its session expired, unless the check
    # expected the 401 (then it is the answer being verified).
    return (
        isinstance(observation, Response)
        and observation.status == 401
        and session.can_relogin
        and not planned.expect.matches(401)
    )


def _login_failed(planned: PlannedCheck, session: Session, redactor: Redactor) -> CheckResult:
    # Rule: a rejected login SKIPs the identity's checks (exit 3); a login that got no
    # answer at all means the target is unreachable, an ERROR of each check (exit 1).
    reason = f"identity {session.name} could not log in"
    if session.failure_error is None:
        return _unsent(planned, redactor, reason)
    info = RequestInfo(method=planned.check.method, url=redactor.url(planned.check.path))
    error = TransportError(
        error=session.failure_error, message=f"{reason}: {session.failure}", elapsed_ms=0
    )
    return _result(planned, info, error, redactor)


def _unsent(planned: PlannedCheck, redactor: Redactor, reason: str) -> CheckResult:
    info = RequestInfo(method=planned.check.method, url=redactor.url(planned.check.path))
    return _result(planned, info, NotSent(reason=reason), redactor)


def fill_unsent(
    checks: Sequence[PlannedCheck],
    done: dict[int, CheckResult],
    target: Target,
    reason: str,
    redactor: Redactor | None = None,
) -> list[CheckResult]:
    """All results in manifest order; checks not in `done` become SKIP with `reason`.

    Used when a crawl is interrupted: whatever finished is kept and reported.
    """
    if len(done) == len(checks):
        return [done[index] for index in range(len(checks))]
    redactor = redactor or Redactor()
    base_url = IN_PROCESS_BASE if target.in_process else str(target.base_url)
    # Builds requests only: a transport that cannot send, so no pool or TLS set-up either.
    builder = httpx.AsyncClient(base_url=base_url, transport=httpx.AsyncBaseTransport())
    results = []
    for index, planned in enumerate(checks):
        if index in done:
            results.append(done[index])
            continue
        request = build_request(builder, planned, None)
        info = request_info(request, redactor)
        results.append(_result(planned, info, NotSent(reason=reason), redactor))
    return results


def _result(
    planned: PlannedCheck,
    request: RequestInfo,
    observation: Observation,
    redactor: Redactor,
    values: Mapping[str, str] | None = None,
    missing: str | None = None,
) -> CheckResult:
    """The judged result of `observation`. `values` fill the `{name}`s of body assertions;
    `missing` (a flow step's capture that found nothing) fails an answer that passed."""
    check = planned.check
    judged = verdict.judge(check, observation, planned.identity)
    failed = _asserted(planned, observation, values, redactor) if judged.verdict == "PASS" else []
    if missing is not None and judged.verdict == "PASS":
        failed.append(missing)
    if failed:  # body assertions: a right status with a wrong body fails
        judged = verdict.Judgement("FAIL", failed[0])
    judgement = verdict.with_known(judged, planned.known)
    reason = judgement.reason
    if isinstance(observation, Response) and observation.note and judgement.verdict != "PASS":
        # Rule: what the crawler did to the answer (a body cut at the cap) is said with the
        # verdict; a PASS keeps its empty reason and the note stays on its observation.
        reason = f"{reason}; {observation.note}" if reason else observation.note
    if judgement.verdict in ("PASS", "XPASS") and isinstance(observation, Response):
        # A passing answer's body and headers are not shown anywhere: do not keep them.
        observation = observation.model_copy(update={"headers": {}, "body_excerpt": ""})
    if isinstance(observation, Response):
        # Judged: the whole body and raw headers are not kept. One shared, never-written
        # mapping instead of a private dict per result (100,000 results, see compact.py).
        object.__setattr__(observation, "__pydantic_private__", _JUDGED)
    return compact(  # shared field sets: 100,000 results fit in memory (see compact.py)
        CheckResult(
            group=planned.group,
            index=planned.index,
            name=redactor.text(check.name) if check.name else None,
            method=check.method,
            path=_same(check.path, redactor.url(check.path)),  # the manifest's string if unchanged
            expect=sys.intern(str(planned.expect)),  # one string per distinct value
            tags=check.tags,
            identity=planned.identity,
            request=request,
            observation=observation,
            verdict=judgement.verdict,
            reason=reason,
            known=planned.known,
            details=Details(assertions=tuple(failed)) if failed else None,
        )
    )


# The private attributes of every judged Response: nothing kept (see `_result`).
_JUDGED: dict[str, None] = {"_body": None, "_raw_headers": None}


def _same(original: str, redacted: str) -> str:
    # 100,000 results keep the manifest's path strings instead of equal copies of them.
    return original if redacted == original else redacted


def _asserted(
    planned: PlannedCheck,
    observation: Observation,
    values: Mapping[str, str] | None,
    redactor: Redactor,
) -> list[str]:
    """Every body assertion of the check the answer fails, as redacted text (see
    `assertions.evaluate`); none when the check has none or they do not apply."""
    spec = planned.check.assert_
    if spec is None or not isinstance(observation, Response):
        return []
    if not assertions.applies(planned.check.expects_2xx, observation.status):
        return []
    body = observation._body if observation._body is not None else b""
    headers = observation._raw_headers or observation.headers  # judged unredacted ...
    answer = assertions.Answer(
        observation.status, headers, body, observation.body_bytes, observation.truncated
    )

    known = Values(values or {}, planned.values)  # captures, then vars and run_id

    def fill(text: str) -> str | None:
        try:
            return auth.fill(text, known)
        except MissingCapture:
            return None

    return [redactor.text(str(failure)) for failure in assertions.evaluate(spec, answer, fill)]


def build_request(
    client: httpx.AsyncClient, planned: PlannedCheck, values: Mapping[str, str] | None
) -> httpx.Request:
    """The check's request, `{name}` placeholders filled from `values` (None: left as written).

    Raises `MissingCapture` for a placeholder with no value.
    """
    check = planned.check
    if values is not None:  # generated data: vars, run_id, {uuid} ... after the captures
        values = Values(values, planned.values)

    def text(value: str) -> str:
        return value if values is None else fill(value, values)

    return client.build_request(
        check.method,
        text(check.path),
        params={k: text(scalar_text(v)) for k, v in check.query.items()} or None,
        headers={k: text(v) for k, v in planned.headers.items()},
        json=check.json_body if values is None else fill_data(check.json_body, values),
        data={k: text(scalar_text(v)) for k, v in check.form.items()} if check.form else None,
        timeout=httpx.Timeout(planned.timeout, connect=planned.connect_timeout or planned.timeout),
    )


# Headers every client adds by itself: not worth showing in a report or a curl line.
_TRANSPORT_HEADERS = frozenset(
    {"host", "content-length", "user-agent", "accept-encoding", "connection"}
)


def _raw_headers(headers: httpx.Headers) -> list[tuple[str, str]]:
    """Headers with the spelling the manifest used (`Accept`, not `accept`)."""
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers.raw]


def request_info(request: httpx.Request, redactor: Redactor) -> RequestInfo:
    body = request.content.decode("utf-8", errors="replace") if request.content else None
    content_type = request.headers.get("content-type")
    return RequestInfo(
        method=sys.intern(request.method),
        url=redactor.url(str(request.url)),
        headers=redactor.headers(
            (name, value)
            for name, value in _raw_headers(request.headers)
            if name.lower() not in _TRANSPORT_HEADERS
            and not (name.lower() == "accept" and value == "*/*")
        ),
        body=redactor.text(redact.body(body, content_type)) if body is not None else None,
        content_type=content_type,
    )


async def observe(
    client: httpx.AsyncClient,
    request: httpx.Request,
    timeout: float,
    settings: Settings,
    redactor: Redactor,
    pace: Pace | None = None,
    whole: float | None = None,
) -> Response | TransportError:
    """Send the request (when `pace` allows) and read at most `body_cap` bytes of the answer.

    `timeout` bounds each read (and connecting, unless the request carries its own connect
    timeout); `whole` bounds everything, connecting to the last byte (default: twice
    `timeout`), so a body that drips one byte a second cannot hold a check open.
    """
    answer = await observe_answer(client, request, timeout, settings, redactor, pace, whole)
    return answer.observation


@dataclass(frozen=True)
class Answer:
    """What `observe_answer` got: the observation, and for an HTTP answer the response
    (headers, cookies; its stream already read) and its body, unredacted and capped at
    `body_cap`: what a flow step captures values from. Never stored nor shown."""

    observation: Response | TransportError
    response: httpx.Response | None = None
    body: Body | None = None

    @property
    def text(self) -> str:
        """The body read (at most `body_cap` bytes), decoded; '' without an answer."""
        if self.response is None or self.body is None or self.body.compressed:
            return ""
        return self.body.data.decode(self.response.encoding or "utf-8", errors="replace")


async def observe_answer(
    client: httpx.AsyncClient,
    request: httpx.Request,
    timeout: float,
    settings: Settings,
    redactor: Redactor,
    pace: Pace | None = None,
    whole: float | None = None,
) -> Answer:
    """`observe`, keeping what a capture needs from the answer (see `Answer`)."""
    limit = whole or 2 * timeout
    if pace is None or pace.idle:
        return await _answer(client, request, timeout, limit, settings, redactor)
    async with pace.slot(_host(request.url)):
        return await _answer(client, request, timeout, limit, settings, redactor)


async def _answer(
    client: httpx.AsyncClient,
    request: httpx.Request,
    timeout: float,
    whole: float,
    settings: Settings,
    redactor: Redactor,
) -> Answer:
    start = time.perf_counter()

    def elapsed() -> float:
        return round((time.perf_counter() - start) * 1000, 1)

    try:
        with anyio.fail_after(whole):
            response = await client.send(request, stream=True)
            try:
                body = await read_body(response, settings.body_cap)
            finally:
                await response.aclose()
    except TimeoutError:
        return Answer(
            TransportError(
                error="timeout",
                message=f"no complete answer within {whole:g} s (whole-check limit)",
                elapsed_ms=elapsed(),
            )
        )
    except Exception as exc:  # any failure of the transport or the app is data, not a crash
        connect = request.extensions.get("timeout", {}).get("connect")
        code, message = describe_error(exc, timeout, connect)
        return Answer(
            TransportError(error=code, message=redactor.text(message), elapsed_ms=elapsed())
        )
    if body.compressed:
        text = f"(compressed: {body.compressed})"
    else:
        excerpt = body.data[: settings.excerpt_cap * 4]
        text = excerpt.decode(response.encoding or "utf-8", errors="replace")
    observation = Response(
        status=response.status_code,
        reason_phrase=sys.intern(response.reason_phrase),  # "OK" once, not per answer
        headers=redactor.headers(_raw_headers(response.headers)),
        body_excerpt=redactor.text(text[: settings.excerpt_cap]),
        body_bytes=body.size,
        truncated=body.truncated,
        note=f"body over {_amount(settings.body_cap)} cap, truncated" if body.truncated else "",
        elapsed_ms=elapsed(),
        facts=_facts(body, response, request, settings, redactor),
    )
    if not body.compressed:
        observation._body = body.data  # for body assertions (see `_result`); never saved
    observation._raw_headers = dict(_raw_headers(response.headers))
    return Answer(observation, response, body)


def _facts(
    body: Body,
    response: httpx.Response,
    request: httpx.Request,
    settings: Settings,
    redactor: Redactor,
) -> BodyFacts | None:
    """What stub detection keeps of a whole body (None when off, or cut, or compressed)."""
    if not settings.detect_stubs or body.truncated or body.compressed:
        return None
    return stubs.facts(
        body.data, response.headers.get("content-type"), request.content or None, redactor.text
    )


def _amount(size: int) -> str:
    """`65536` -> `64 KiB`, `1048576` -> `1 MiB`, `1000` -> `1000 bytes`."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


@dataclass(frozen=True)
class Body:
    """What `read_body` read: at most `cap` bytes of the body, decoded unless `compressed`.

    `size` is the bytes kept; `truncated` that the body went on past the cap (the rest
    was never read); `compressed` names a Content-Encoding left undecoded (`br`, `zstd`
    or one we do not know), whose raw bytes are `data`.
    """

    data: bytes
    size: int
    truncated: bool
    compressed: str | None = None


# Encodings decoded here, by zlib, a bounded amount at a time.
_INFLATED = frozenset({"gzip", "x-gzip", "deflate"})


class _Inflater:
    """gzip or deflate, inflated at most `limit` bytes at a time: a 1 MB gzip bomb that
    would inflate to 1 GiB costs no more memory than the cap."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        # gzip: wbits 47 reads a gzip or zlib header. deflate: zlib-wrapped, as the RFC
        # says, or raw deflate, as some servers send it (tried on the first error).
        self._raw_fallback = encoding == "deflate"
        self._inflater = zlib.decompressobj(15 if encoding == "deflate" else 47)

    def inflate(self, chunk: bytes, limit: int) -> bytes:
        if self._inflater.eof:
            return b""  # trailing bytes after the stream end: ignored, as httpx does
        try:
            return self._inflater.decompress(chunk, limit)
        except zlib.error as exc:
            if self._raw_fallback:
                self._raw_fallback = False
                self._inflater = zlib.decompressobj(-15)
                return self.inflate(chunk, limit)
            raise httpx.DecodingError(f"invalid {self._encoding} body: {exc}") from None


async def read_body(response: httpx.Response, cap: int) -> Body:
    """Read the body up to `cap` decoded bytes; stop there without reading the rest.

    The raw stream is read and gzip/deflate decoded here, never more than the room left
    under `cap` (httpx's own decoding inflates whole chunks: 64 MB from 64 KB of a gzip
    bomb). Raises `httpx.DecodingError` for a body its encoding cannot decode.
    """
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflater = _Inflater(encoding) if encoding in _INFLATED else None
    compressed = encoding if encoding not in ("", "identity") and inflater is None else None
    if response.is_stream_consumed:
        # Built in memory and decoded already (a mock transport's answer): only cut it.
        data = response.content
        return Body(data[:cap], min(len(data), cap), len(data) > cap)
    chunks: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        room = cap - size
        # One byte more than the room: getting it means the body goes on past the cap.
        # (Never 0: to zlib a max_length of 0 means no limit.)
        chunk = inflater.inflate(raw, room + 1) if inflater is not None else raw
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return Body(b"".join(chunks), cap, True, compressed)
        chunks.append(chunk)
        size += len(chunk)
    return Body(b"".join(chunks), size, False, compressed)


async def read_capped(response: httpx.Response, cap: int) -> tuple[bytes, int, bool]:
    """`read_body` as `(data, size, truncated)`."""
    body = await read_body(response, cap)
    return body.data, body.size, body.truncated


# --- documents ----------------------------------------------------------------------------------

# An OpenAPI document larger than this is not a document we should be reading.
DOCUMENT_CAP = 16 * 1024 * 1024


async def fetch_text(
    client: httpx.AsyncClient, location: str, timeout: float = 30.0
) -> tuple[str | None, str | None]:
    """GET a document (a path on the target or a URL): `(text, None)` or `(None, problem)`."""
    try:
        with anyio.fail_after(timeout):
            async with client.stream("GET", location) as response:
                body, _, truncated = await read_capped(response, DOCUMENT_CAP)
    except TimeoutError:
        return None, f"no answer within {timeout:g} s"
    except Exception as exc:  # a transport failure is a reason, not a crash
        return None, describe_error(exc, timeout)[1]
    if response.status_code != 200:
        return None, f"answered {response.status_code}"
    if truncated:
        return None, f"larger than {DOCUMENT_CAP // (1024 * 1024)} MiB"
    return body.decode(response.encoding or "utf-8", errors="replace"), None


def push_text(url: str, text: str, content_type: str, timeout: float = 10.0) -> str | None:
    """PUT `text` to `url` now (a pushgateway's `.../metrics/job/crawler`) within `timeout`
    seconds in all; `https://user:password@host` sends basic auth, as for a target.

    Returns None when it was accepted (2xx), else the problem in a few words (`connection
    refused`, `answered 400`). Never raises for a network failure.
    """
    target = Target(base_url=url)
    settings = Settings(timeout=timeout, transport="httpx")

    async def push() -> str | None:
        try:
            with anyio.fail_after(timeout):
                async with httpx.AsyncClient(
                    transport=network_transport(settings), **_client_options(target, settings)
                ) as client:
                    response = await client.put(
                        target.url_without_userinfo,
                        content=text.encode("utf-8"),
                        headers={"Content-Type": content_type},
                    )
        except TimeoutError:
            return f"no answer within {timeout:g} s"
        except Exception as exc:  # a transport failure is a reason, not a crash
            return describe_error(exc, timeout)[1]
        return None if response.is_success else f"answered {response.status_code}"

    problem: str | None = anyio.run(push)
    return problem


# --- probes ------------------------------------------------------------------------------------

# What a probe may send: it asks whether a route is there, and must never change anything.
SAFE_PROBE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class ProbeAnswer:
    """What a probe got back: a status and the Allow header's methods, or a `problem`."""

    status: int | None
    allow: frozenset[str] = frozenset()
    problem: str | None = None


async def probe(client: httpx.AsyncClient, method: str, path: str, timeout: float) -> ProbeAnswer:
    """Send one GET, HEAD or OPTIONS (anything else raises ValueError) within `timeout`
    seconds; the body is not read. Never raises for a network failure.

    Exactly one request goes on the wire: the client's auth flow is not run (an OAuth2
    flow would POST for a token, or retry after a 401); the Authorization header it
    would add now, if any, is sent instead.
    """
    if method not in SAFE_PROBE_METHODS:
        raise ValueError(f"a probe sends only GET, HEAD or OPTIONS, not {method}")
    try:
        with anyio.fail_after(timeout):
            request = client.build_request(method, path, timeout=httpx.Timeout(timeout))
            header = auth.authorization(client.auth)
            if header is not None:
                request.headers["Authorization"] = header
            response = await client.send(request, auth=None, stream=True)
            allow = response.headers.get("allow", "")
            await response.aclose()
    except TimeoutError:
        return ProbeAnswer(None, problem=f"no answer within {timeout:g} s")
    except Exception as exc:  # a transport failure is a reason, not a crash
        return ProbeAnswer(None, problem=describe_error(exc, timeout)[1])
    methods = frozenset(m.strip().upper() for m in allow.split(",") if m.strip())
    return ProbeAnswer(response.status_code, methods)


async def probe_all(
    probes: Sequence[tuple[httpx.AsyncClient, str, str, float]],
    concurrency: int,
    pace: Pace | None = None,
) -> list[ProbeAnswer]:
    """`probe(client, method, path, timeout)` for each, at most `concurrency` at once (and
    as `pace` allows); the answers in the order of `probes`."""
    answers: list[ProbeAnswer] = [ProbeAnswer(None)] * len(probes)
    limiter = anyio.CapacityLimiter(max(1, concurrency))

    async def one(index: int) -> None:
        client, method, path, _ = probes[index]
        async with limiter:
            if pace is None:
                answers[index] = await probe(*probes[index])
                return
            async with pace.slot(_host(client.build_request(method, path).url)):
                answers[index] = await probe(*probes[index])

    async with anyio.create_task_group() as tasks:
        for index in range(len(probes)):
            tasks.start_soon(one, index)
    return answers


def fetch_document(
    location: str, target: Target | None = None, timeout: float = 30.0
) -> tuple[str | None, str | None]:
    """Fetch a document now (outside a crawl): a URL, or a path on `target` (in-process too).

    Redirects are followed (it is a GET of a document, not a check). Returns what
    `fetch_text` returns: `(text, None)` or `(None, problem)`.
    """
    if target is None:  # a URL: its origin is the target
        origin = re.match(r"^https?://[^/?#]+", location)
        target = Target(base_url=origin.group() if origin else location)
    settings = Settings(timeout=timeout, transport="httpx")

    async def fetch() -> tuple[str | None, str | None]:
        async with open_client(target, settings) as client:
            client.follow_redirects = True
            return await fetch_text(client, location, timeout)

    result: tuple[str | None, str | None] = anyio.run(fetch)
    return result


# --- naming failures -----------------------------------------------------------------------


# What to do about a certificate crawler cannot verify (a private CA, a self-signed test host).
TLS_HINT = "(use --ca-bundle or --insecure)"


def describe_error(
    exc: BaseException, timeout: float, connect_timeout: float | None = None
) -> tuple[ErrorCode, str]:
    """A stable code and a short human reason for a failed request.

    `timeout` is the read timeout; `connect_timeout` the connect one when it differs.

    Looks through the exception's causes, since both transports wrap the OS error
    (`ConnectionRefusedError`, `ssl.SSLCertVerificationError` ...) that says what happened.
    """
    chain = list(_causes(exc))
    names = {type(e).__name__ for e in chain}
    for error in chain:
        if isinstance(error, ssl.SSLCertVerificationError):
            # getattr: the ssl module sets these on the errors it raises, not on aiohttp's
            # wrapper (also an SSLCertVerificationError), which holds the real one further on.
            details = (getattr(e, "verify_message", None) for e in chain)
            detail = next((d for d in details if d), "certificate verify failed")
            return "tls", f"TLS certificate verify failed: {detail} {TLS_HINT}"
        if isinstance(error, ssl.SSLError):
            return "tls", f"TLS error: {getattr(error, 'reason', None) or error}"
        if isinstance(error, ConnectionRefusedError):
            return "connect_refused", "connection refused"
        if isinstance(error, socket.gaierror) or "ClientConnectorDNSError" in names:
            return "dns", "DNS lookup failed (no such host)"
        if isinstance(error, ConnectionResetError):
            return "reset", "connection reset by peer"
    # aiohttp's parser errors, named for a person (their own text quotes raw bytes and URLs).
    if "ContentLengthError" in names or "ClientPayloadError" in names:
        # The body ended before its Content-Length: the connection was closed or reset.
        got = re.search(r"received \d+ of \d+ bytes", str(exc))
        return "reset", "connection closed mid-body" + (f" ({got.group()})" if got else "")
    if "LineTooLong" in names:
        limit = re.search(r"more than (\d+) bytes", str(exc))
        over = f" over {limit.group(1)} bytes" if limit else ""
        return "protocol", f"protocol error: a response header line{over}"
    if "BadStatusLine" in names:
        return "protocol", "protocol error: bad status line (not an HTTP answer)"
    # Before the timeouts: httpx-aiohttp raises a disconnect as httpx.ConnectTimeout.
    if "ServerDisconnectedError" in names or isinstance(exc, httpx.RemoteProtocolError):
        detail = _first_line(exc)
        if "disconnect" in detail.lower() or "without sending" in detail.lower():
            return "reset", "server closed the connection without a complete answer"
        return "protocol", f"protocol error: {detail}"
    if "ClientOSError" in names and "ServerTimeoutError" not in names:
        # httpx-aiohttp raises any aiohttp connection error as httpx.ConnectTimeout too.
        return "reset", f"connection error: {_first_line(exc)}"
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect_timeout", f"connect timeout after {connect_timeout or timeout:g} s"
    if isinstance(exc, httpx.ReadTimeout) or "SocketTimeoutError" in names:
        return "read_timeout", f"read timeout after {timeout:g} s"
    if isinstance(exc, httpx.WriteTimeout):
        return "write_timeout", f"write timeout after {timeout:g} s"
    if isinstance(exc, httpx.PoolTimeout | httpx.TimeoutException):
        return "timeout", f"timed out after {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        return "connect_refused", f"cannot connect: {_first_line(exc)}"
    if "ClientResponseError" in names or isinstance(exc, httpx.DecodingError):
        return "protocol", f"protocol error: {_first_line(exc)}"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too_many_redirects", "too many redirects"
    if isinstance(exc, httpx.HTTPError | OSError) or type(exc).__module__.startswith("aiohttp"):
        return "other", f"{type(exc).__name__}: {_first_line(exc)}"
    if isinstance(exc, auth.LoginFailed):  # an OAuth2 token refresh mid-crawl was refused
        return "other", f"token refresh failed: {_first_line(exc)}"
    return "app_error", f"the app raised {type(exc).__name__}: {_first_line(exc)}"


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        # aiohttp keeps the ssl module's error as an attribute, not as the cause.
        wrapped = getattr(current, "certificate_error", None)
        if isinstance(wrapped, BaseException) and wrapped not in seen:
            seen.append(wrapped)
        current = current.__cause__ or current.__context__
    return seen


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
