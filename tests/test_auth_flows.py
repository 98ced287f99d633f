"""Identities end to end: YAML manifests with real login flows, crawled against loopback servers.

Each test writes its manifest as a user would, loads it with `manifest.loads`, logs in with
`engine.open_sessions` and crawls with `engine.crawl` (a few go through `crawler run`), then
checks both what came back and what the server saw (its counters), so "logged in once",
"one extra login" and "one token fetch" are facts about the wire, not about our objects.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from auth_servers import (
    DjangoApp,
    ForgetfulNextAuthApp,
    JsonLoginApp,
    KindsApp,
    NextAuthApp,
    OAuthApp,
)
from click.testing import CliRunner
from servers import closed_port, serve

from crawler import auth, engine, manifest
from crawler.cli import cli
from crawler.redact import Redactor
from crawler.results import CheckResult, Response, load_run

ADMIN = "admin@example.test"
VIEWER = "viewer@example.test"


@pytest.fixture
def nextauth() -> NextAuthApp:
    return NextAuthApp()


@pytest.fixture
def nextauth_url(nextauth: NextAuthApp) -> Iterator[str]:
    with serve(nextauth) as url:
        yield url


@dataclass
class Outcome:
    """What a crawl produced: results in manifest order, each identity's login failure (None
    when it logged in) and what its login captured."""

    results: list[CheckResult]
    failures: dict[str, str | None]
    captures: dict[str, dict[str, str]]

    def cells(self) -> list[tuple[str, str, str, str]]:
        """(check path, identity, verdict, what came back) per result: the matrix, flat."""
        return [(r.path, r.identity, r.verdict, r.got) for r in self.results]

    def of(self, identity: str) -> list[CheckResult]:
        return [r for r in self.results if r.identity == identity]


# Crawls the manifest again with the same, still open sessions.
Again = Callable[[], Awaitable[list[CheckResult]]]


async def crawl(
    text: str,
    base_url: str,
    *,
    environ: dict[str, str] | None = None,
    then: Callable[[Again], Awaitable[None]] | None = None,
    **settings: Any,
) -> Outcome:
    """Load the YAML, log every identity in, crawl: what `crawler run` does, minus reports.

    `then(again)` runs after the crawl, while the sessions are open: `await again()`
    crawls once more as the same identities (their tokens and cookies kept).
    """
    loaded = manifest.loads(text, "auth.yaml", environ or {})
    redactor = Redactor(loaded.secrets)
    config = engine.Settings(**settings)
    target = engine.Target(base_url=base_url)
    async with engine.open_sessions(target, config, loaded.identities, redactor) as sessions:

        async def again() -> list[CheckResult]:
            return await engine.crawl(loaded.planned(), sessions, config, redactor=redactor)

        results = await again()
        if then is not None:
            await then(again)
        return Outcome(
            results,
            {name: s.failure for name, s in sessions.items()},
            {name: dict(s.captures) for name, s in sessions.items()},
        )


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def body(result: CheckResult) -> Any:
    assert isinstance(result.observation, Response), result.observation
    return json.loads(result.observation.body_excerpt)


# --- NextAuth-style -------------------------------------------------------------------------

# The login as a user writes it: anchors (top-level `x-` keys) share the steps.
NEXTAUTH_IDENTITIES = """
version: 1
name: NextAuth-style
x-csrf: &csrf {path: /api/auth/csrf, expect: 200, capture: {csrf: $.csrfToken}}
x-session: &session
  path: /api/auth/session
  expect: 200
  capture:
    org_id: $.user.orgId
    email: {json: $.user.email}
    session_cookie: {cookie: next-auth.session-token, secret: true}
identities:
  admin:
    kind: login
    steps:
      - *csrf
      - method: POST
        path: /api/auth/callback/credentials
        form: {csrfToken: "{csrf}", email: admin@example.test, password: admin-pass}
        expect: 302
      - *session
  viewer:
    kind: login
    steps:
      - *csrf
      - method: POST
        path: /api/auth/callback/credentials
        form:
          csrfToken: "{csrf}"
          email: viewer@example.test
          password: ${VIEWER_PASSWORD:-viewer-pass}
        expect: 302
      - *session
  anonymous: {kind: anonymous}
"""


@pytest.mark.anyio
async def test_nextauth_login_captures_the_org_and_checks_use_it(
    nextauth: NextAuthApp, nextauth_url: str, transport: engine.Transport
) -> None:
    text = (
        NEXTAUTH_IDENTITIES
        + """
groups:
  Billing:
    - path: /api/billing/subscription?orgId={org_id}
      identities: [admin, viewer]
      expect: {admin: 200, viewer: 403}
    - path: /api/billing/subscription
      query: {orgId: "{org_id}"}
      identities: [admin]
    - GET /api/orgs/{org_id}/members -> 200
    - path: /api/admin/users
      expect: {admin: 200, viewer: 403, anonymous: 401}
"""
    )
    outcome = await crawl(text, nextauth_url, transport=transport)
    assert outcome.failures == {"admin": None, "viewer": None, "anonymous": None}
    assert outcome.cells() == [
        ("/api/billing/subscription?orgId={org_id}", "admin", "PASS", "200"),
        ("/api/billing/subscription?orgId={org_id}", "viewer", "PASS", "403"),
        ("/api/billing/subscription", "admin", "PASS", "200"),
        ("/api/orgs/{org_id}/members", "admin", "PASS", "200"),
        ("/api/orgs/{org_id}/members", "viewer", "PASS", "200"),
        ("/api/orgs/{org_id}/members", "anonymous", "SKIP", "not sent"),
        ("/api/admin/users", "admin", "PASS", "200"),
        ("/api/admin/users", "viewer", "PASS", "403"),
        ("/api/admin/users", "anonymous", "PASS", "401"),
    ]
    # The server answers 200 only for the right org: the 200s prove `{org_id}` became 42.
    sent = outcome.results[0].request.url
    assert sent.endswith("/api/billing/subscription?orgId=42")
    assert outcome.results[5].reason == "capture org_id missing"  # anonymous captured nothing
    assert outcome.captures["admin"]["org_id"] == "42"
    # Each identity logged in once, all before the checks.
    assert (nextauth.csrf_requests, nextauth.logins, nextauth.failed_logins) == (2, 2, 0)


@pytest.mark.anyio
async def test_each_identity_keeps_its_own_cookies(
    nextauth: NextAuthApp, nextauth_url: str, transport: engine.Transport
) -> None:
    # Expecting 299 makes the checks FAIL, so the session each identity got back is kept.
    text = NEXTAUTH_IDENTITIES + "groups:\n  Who:\n    - GET /api/auth/session -> 299\n"
    outcome = await crawl(text, nextauth_url, transport=transport)
    seen = {r.identity: body(r) for r in outcome.results}
    assert seen["admin"]["user"]["email"] == ADMIN
    assert seen["viewer"]["user"]["email"] == VIEWER
    assert seen["anonymous"] == {}
    assert [r.verdict for r in outcome.results] == ["FAIL"] * 3
    assert outcome.captures["admin"]["email"] == ADMIN
    assert outcome.captures["viewer"]["email"] == VIEWER
    admin_cookie = outcome.captures["admin"]["session_cookie"]
    assert admin_cookie != outcome.captures["viewer"]["session_cookie"]


@pytest.mark.anyio
async def test_the_server_sees_each_identity_as_itself(
    nextauth: NextAuthApp, nextauth_url: str
) -> None:
    text = (
        NEXTAUTH_IDENTITIES
        + """
groups:
  Who:
    - path: /api/whoami
      expect: {admin: 200, viewer: 200, anonymous: 401}
"""
    )
    outcome = await crawl(text, nextauth_url, concurrency=1)
    assert [r.verdict for r in outcome.results] == ["PASS"] * 3
    assert nextauth.whoami == [ADMIN, VIEWER, None]


@pytest.mark.anyio
async def test_a_placeholder_nobody_captured_skips_the_check(nextauth_url: str) -> None:
    text = (
        NEXTAUTH_IDENTITIES
        + """
groups:
  G:
    identities: [admin]
    checks:
      - GET /api/orgs/{missing}/members -> 200
      - {path: /api/admin/users, headers: {X-Trace: "{nope}"}}
      - {path: /api/admin/users, query: {org: "{also_missing}"}}
      - GET /api/orgs/{org_id}/members -> 200
"""
    )
    outcome = await crawl(text, nextauth_url)
    assert [(r.verdict, r.reason) for r in outcome.results] == [
        ("SKIP", "capture missing missing"),
        ("SKIP", "capture nope missing"),
        ("SKIP", "capture also_missing missing"),
        ("PASS", ""),
    ]


@pytest.mark.anyio
async def test_identities_come_from_the_check_then_the_group_then_the_defaults(
    nextauth_url: str,
) -> None:
    text = (
        NEXTAUTH_IDENTITIES
        + """
defaults: {identities: [viewer]}
groups:
  Defaults:
    - GET /api/whoami -> 200
  Group:
    identities: [admin, anonymous]
    checks:
      - path: /api/admin/users
        expect: {admin: 200, anonymous: 401}
      - {path: /api/whoami, identities: [anonymous], expect: 401}
"""
    )
    outcome = await crawl(text, nextauth_url)
    assert [(r.group, r.identity, r.verdict) for r in outcome.results] == [
        ("Defaults", "viewer", "PASS"),
        ("Group", "admin", "PASS"),
        ("Group", "anonymous", "PASS"),
        ("Group", "anonymous", "PASS"),
    ]


@pytest.mark.anyio
async def test_each_identity_is_judged_by_its_own_expectation(nextauth_url: str) -> None:
    text = (
        NEXTAUTH_IDENTITIES
        + """
groups:
  Admin:
    - path: /api/admin/users
      expect: {admin: 200, viewer: 200, anonymous: 403}
"""
    )
    outcome = await crawl(text, nextauth_url)
    assert [(r.identity, r.expect, r.verdict, r.reason) for r in outcome.results] == [
        ("admin", "200", "PASS", ""),
        ("viewer", "200", "FAIL", "expected 200, got 403"),
        ("anonymous", "403", "FAIL", "expected 403, got 401"),
    ]


# --- login failure ---------------------------------------------------------------------------

FAILING_LOGIN = (
    NEXTAUTH_IDENTITIES
    + """
groups:
  Admin:
    - path: /api/admin/users
      identities: [admin, viewer]
      expect: {admin: 200, viewer: 403}
    - {path: /api/whoami, identities: [admin, viewer]}
"""
)


@pytest.mark.anyio
async def test_a_wrong_password_fails_that_identity_only(
    nextauth: NextAuthApp, nextauth_url: str
) -> None:
    outcome = await crawl(FAILING_LOGIN, nextauth_url, environ={"VIEWER_PASSWORD": "wrong-pw"})
    failure = outcome.failures["viewer"]
    assert failure is not None
    assert failure.startswith(
        "step 2 (POST /api/auth/callback/credentials): expected 302, got 401: "
    )
    assert "CredentialsSignin" in failure  # the server's answer, as an excerpt
    assert "wrong-pw" not in failure  # echoed back by the server, hidden by us
    assert outcome.failures["admin"] is None
    assert [(r.identity, r.verdict, r.reason) for r in outcome.results] == [
        ("admin", "PASS", ""),
        ("viewer", "SKIP", "identity viewer could not log in"),
        ("admin", "PASS", ""),
        ("viewer", "SKIP", "identity viewer could not log in"),
    ]
    assert (nextauth.logins, nextauth.failed_logins) == (1, 1)
    assert nextauth.whoami == [ADMIN]  # nothing was sent as viewer


@pytest.mark.anyio
async def test_a_capture_that_finds_nothing_fails_the_login(nextauth_url: str) -> None:
    text = NEXTAUTH_IDENTITIES.replace("$.user.orgId", "$.user.organisation") + (
        "groups:\n  G:\n    - {path: /api/whoami, identities: [admin]}\n"
    )
    outcome = await crawl(text, nextauth_url)
    assert outcome.failures["admin"] == (
        "step 3 (GET /api/auth/session): capture org_id found nothing"
    )
    assert outcome.results[0].reason == "identity admin could not log in"


@pytest.mark.anyio
async def test_a_login_that_gets_no_answer_makes_its_checks_errors() -> None:
    text = NEXTAUTH_IDENTITIES + "groups:\n  G:\n    - {path: /api/whoami, identities: [admin]}\n"
    outcome = await crawl(text, f"http://127.0.0.1:{closed_port()}")
    failure = "step 1 (GET /api/auth/csrf): no answer (connection refused)"
    assert outcome.failures["admin"] == failure
    # The target is down, not the login refused: an ERROR (exit 1), not a SKIP (exit 3).
    (result,) = outcome.results
    assert (result.verdict, result.got) == ("ERROR", "connect_refused")
    assert result.reason == f"identity admin could not log in: {failure}"


def test_cli_login_failure_exits_3_and_says_why(
    nextauth: NextAuthApp, nextauth_url: str, tmp_path: Path
) -> None:
    spec = tmp_path / "auth.yaml"
    spec.write_text(FAILING_LOGIN)
    code, out, err = invoke(
        "run",
        str(spec),
        "--base-url",
        nextauth_url,
        "--out",
        str(tmp_path / "out"),
        "--format",
        "json",
        "-q",
        env={"VIEWER_PASSWORD": "wrong-pw"},
    )
    assert code == 3, err
    assert (
        "identity viewer could not log in: step 2 (POST /api/auth/callback/credentials): "
        "expected 302, got 401: " in err
    )
    assert "wrong-pw" not in out + err
    run = load_run(tmp_path / "out" / "run.json")
    statuses = {i.name: i for i in run.identities}
    assert statuses["admin"].failure is None
    assert (statuses["viewer"].failure or "").startswith("step 2 ")
    assert [(r.identity, r.verdict) for r in run.results] == [
        ("admin", "PASS"),
        ("viewer", "SKIP"),
        ("admin", "PASS"),
        ("viewer", "SKIP"),
    ]


def test_cli_runs_the_identity_matrix(nextauth_url: str, tmp_path: Path) -> None:
    spec = tmp_path / "auth.yaml"
    spec.write_text(
        NEXTAUTH_IDENTITIES
        + """
groups:
  Admin:
    - path: /api/admin/users
      expect: {admin: 200, viewer: 403, anonymous: 401}
  Billing:
    - path: /api/billing/subscription?orgId={org_id}
      identities: [admin, viewer]
      expect: {admin: 200, viewer: 403}
"""
    )
    code, _, err = invoke(
        "run", str(spec), "--base-url", nextauth_url, "--out", str(tmp_path), "-q"
    )
    assert code == 0, err
    run = load_run(tmp_path / "run.json")
    assert [i.name for i in run.identities] == ["admin", "viewer", "anonymous"]
    assert all(i.failure is None for i in run.identities)
    assert [(r.group, r.identity, r.verdict, r.got) for r in run.results] == [
        ("Admin", "admin", "PASS", "200"),
        ("Admin", "viewer", "PASS", "403"),
        ("Admin", "anonymous", "PASS", "401"),
        ("Billing", "admin", "PASS", "200"),
        ("Billing", "viewer", "PASS", "403"),
    ]


# --- session expiry ---------------------------------------------------------------------------

ADMIN_ONLY = """
version: 1
name: expiry
x-csrf: &csrf {path: /api/auth/csrf, capture: {csrf: $.csrfToken}}
identities:
  admin:
    kind: login
    steps:
      - *csrf
      - method: POST
        path: /api/auth/callback/credentials
        form: {csrfToken: "{csrf}", email: admin@example.test, password: admin-pass}
        expect: 302
groups:
  Items:
"""


def items(count: int) -> str:
    return ADMIN_ONLY + "".join(f"    - GET /api/items/{n} -> 200\n" for n in range(count))


@pytest.mark.anyio
async def test_an_expired_session_logs_in_again_and_retries() -> None:
    app = NextAuthApp(lifetimes=[2])  # the first session allows 2 requests
    with serve(app) as url:
        outcome = await crawl(items(4), url, concurrency=1)
    assert [(r.verdict, r.reauthenticated) for r in outcome.results] == [
        ("PASS", False),
        ("PASS", False),
        ("PASS", True),  # got 401, logged in again, retried: 200
        ("PASS", False),
    ]
    assert (app.logins, app.csrf_requests, app.rejected) == (2, 2, 1)


@pytest.mark.parametrize("server", [NextAuthApp, ForgetfulNextAuthApp])
@pytest.mark.anyio
async def test_many_concurrent_expiries_cause_one_login(
    server: type[NextAuthApp], transport: engine.Transport
) -> None:
    app = server(lifetimes=[5])
    with serve(app) as url:
        outcome = await crawl(items(20), url, concurrency=20, transport=transport)
    assert [r.verdict for r in outcome.results] == ["PASS"] * 20
    assert app.logins == 2  # the first login, and one more for all the 401s (single flight)
    reauthenticated = sum(r.reauthenticated for r in outcome.results)
    # Every check that met a 401 (and only those) logged in again and retried.
    assert reauthenticated == app.rejected >= 15


@pytest.mark.anyio
async def test_a_late_401_that_deletes_the_cookie_does_not_undo_the_new_login(
    transport: engine.Transport,
) -> None:
    # The first session is dead on arrival; the server's second 401 (and its cookie
    # deletion) reaches us only after the new login: it must not log us out again.
    app = ForgetfulNextAuthApp(lifetimes=[0])
    with serve(app) as url:
        outcome = await crawl(items(2), url, concurrency=2, transport=transport)
    assert [(r.verdict, r.reason) for r in outcome.results] == [("PASS", ""), ("PASS", "")]
    assert [r.reauthenticated for r in outcome.results] == [True, True]
    assert app.logins == 2


@pytest.mark.anyio
async def test_an_expected_401_is_an_answer_not_an_expired_session() -> None:
    app = NextAuthApp()
    with serve(app) as url:
        outcome = await crawl(ADMIN_ONLY + "    - GET /api/step-up -> 401\n", url)
    (result,) = outcome.results
    assert (result.verdict, result.reauthenticated) == ("PASS", False)
    assert app.logins == 1


@pytest.mark.anyio
async def test_a_401_that_persists_after_logging_in_again_fails() -> None:
    app = NextAuthApp()
    with serve(app) as url:
        outcome = await crawl(ADMIN_ONLY + "    - GET /api/step-up -> 200\n", url)
    (result,) = outcome.results
    assert (result.verdict, result.reason, result.reauthenticated) == (
        "FAIL",
        "expected 200, got 401",
        True,
    )
    assert app.logins == 2


@pytest.mark.anyio
async def test_a_route_that_always_answers_401_cannot_cause_a_login_storm() -> None:
    """Ten checks of a route that rejects the user: logins stop at the cap, all FAIL."""
    app = NextAuthApp()
    with serve(app) as url:
        checks = ADMIN_ONLY + "    - GET /api/step-up -> 200\n" * 10
        outcome = await crawl(checks, url, concurrency=1)  # one at a time: no single flight
    assert [r.verdict for r in outcome.results] == ["FAIL"] * 10
    assert app.logins == auth.MAX_RELOGINS + 1  # the first login, then the capped re-logins
    assert sum(r.reauthenticated for r in outcome.results) == auth.MAX_RELOGINS


# --- Django-style ------------------------------------------------------------------------------

DJANGO = """
version: 1
name: Django-style
x-page: &page
  path: /accounts/login/
  expect: 200
  capture:
    csrf: {form_field: csrfmiddlewaretoken}
    csrf_cookie: {cookie: csrftoken}
x-profile: &profile
  path: /accounts/profile/
  expect: 200
  capture: {org_id: {regex: 'Organisation (\\d+)\\.'}}
identities:
  alice:
    kind: login
    steps:
      - *page
      - method: POST
        path: /accounts/login/
        headers: {Referer: "${BASE_URL}/accounts/login/"}
        form: {csrfmiddlewaretoken: "{csrf}", username: alice, password: alice-pass}
        expect: 302
      - *profile
  bob:
    kind: login
    steps:
      - *page
      - method: POST
        path: /accounts/login/
        headers: {Origin: "${BASE_URL}"}
        form: {csrfmiddlewaretoken: "{csrf}", username: bob, password: "${BOB_PASSWORD:-bob-pass}"}
        expect: 302
      - *profile
groups:
  Me:
    - GET /api/me -> 200
    - GET /api/orgs/{org_id}/projects -> 200
"""


@pytest.mark.anyio
async def test_django_form_login(transport: engine.Transport) -> None:
    app = DjangoApp()
    with serve(app) as url:
        outcome = await crawl(DJANGO, url, environ={"BASE_URL": url}, transport=transport)
    assert outcome.failures == {"alice": None, "bob": None}
    assert [(r.identity, r.verdict) for r in outcome.results] == [
        ("alice", "PASS"),
        ("bob", "PASS"),
        ("alice", "PASS"),
        ("bob", "PASS"),
    ]
    assert outcome.captures["alice"]["org_id"] == "7"
    assert outcome.captures["bob"]["org_id"] == "8"
    # The hidden field and the cookie carry the same token (this server does not mask it).
    assert outcome.captures["alice"]["csrf"] == outcome.captures["alice"]["csrf_cookie"]
    assert (app.logins, app.csrf_failures) == (2, 0)


@pytest.mark.anyio
async def test_django_login_without_referer_fails_csrf() -> None:
    text = DJANGO.replace('headers: {Referer: "${BASE_URL}/accounts/login/"}', "headers: {}")
    app = DjangoApp()
    with serve(app) as url:
        outcome = await crawl(text, url, environ={"BASE_URL": url})
    assert outcome.failures["alice"] == (
        "step 2 (POST /accounts/login/): expected 302, got 403: "
        "CSRF verification failed: Referer checking failed."
    )
    assert outcome.failures["bob"] is None
    assert app.csrf_failures == 1


@pytest.mark.anyio
async def test_django_wrong_password_says_what_came_back() -> None:
    app = DjangoApp()
    with serve(app) as url:
        outcome = await crawl(DJANGO, url, environ={"BASE_URL": url, "BOB_PASSWORD": "nope!"})
    failure = outcome.failures["bob"] or ""
    # Django answers a wrong password with the form again, 200: the step expected 302.
    assert failure.startswith("step 2 (POST /accounts/login/): expected 302, got 200: <!doctype")
    assert [r.verdict for r in outcome.of("bob")] == ["SKIP", "SKIP"]
    assert [r.verdict for r in outcome.of("alice")] == ["PASS", "PASS"]


# --- JSON login ------------------------------------------------------------------------------

JSON_LOGIN = """
version: 1
name: JSON login
identities:
  carol:
    kind: login
    headers: {Authorization: "Bearer {access_token}"}
    steps:
      - method: POST
        path: /api/login
        json: {username: carol, password: carol-pass}
        expect: 200
        capture:
          access_token: {json: $.access_token, secret: true}
          user_id: {header: X-User-Id}
  nobody: {kind: anonymous}
groups:
  Private:
    - path: /api/private
      expect: {carol: 200, nobody: 401}
    - {path: "/api/users/{user_id}/profile", identities: [carol]}
"""


@pytest.mark.anyio
async def test_json_login_token_is_sent_as_bearer() -> None:
    app = JsonLoginApp()
    with serve(app) as url:
        outcome = await crawl(JSON_LOGIN, url)
    assert [(r.identity, r.verdict, r.got) for r in outcome.results] == [
        ("carol", "PASS", "200"),
        ("nobody", "PASS", "401"),
        ("carol", "PASS", "200"),
    ]
    assert outcome.captures["carol"]["user_id"] == "7"
    token = outcome.captures["carol"]["access_token"]
    assert token in app.tokens
    # The captured token is a secret: the request records show the header, never its value.
    headers = outcome.results[0].request.headers
    assert headers["Authorization"] == "[REDACTED]"
    assert token not in json.dumps([r.model_dump() for r in outcome.results])


# --- OAuth2 client credentials -----------------------------------------------------------------

OAUTH = """
version: 1
name: OAuth2
identities:
  machine:
    kind: oauth2_client_credentials
    token_url: ${TOKEN_URL:-/oauth/token}
    client_id: machine
    client_secret: ${CLIENT_SECRET:-machine-secret}
    scope: read:all
groups:
  Machine:
"""


def machine_checks(count: int) -> str:
    return OAUTH + "".join(f"    - GET /api/machine?n={n} -> 200\n" for n in range(count))


@pytest.mark.anyio
async def test_oauth_token_is_fetched_once_for_many_checks() -> None:
    app = OAuthApp()
    with serve(app) as url:
        outcome = await crawl(machine_checks(10), url, concurrency=10)
    assert [r.verdict for r in outcome.results] == ["PASS"] * 10
    assert app.token_calls == 1
    assert app.scopes == ["read:all"]
    assert app.rejected == 0


@pytest.mark.anyio
async def test_oauth_token_url_may_be_absolute() -> None:
    app = OAuthApp()
    with serve(app) as url, serve(KindsApp()) as elsewhere:
        # The API is on another server than the token endpoint: its /api/machine is a 404.
        outcome = await crawl(
            OAUTH + "    - GET /echo/200 -> 200\n",
            elsewhere,
            environ={"TOKEN_URL": f"{url}/oauth/token"},
        )
    assert outcome.failures["machine"] is None
    assert outcome.results[0].verdict == "PASS"
    assert app.token_calls == 1


@pytest.mark.anyio
async def test_a_revoked_oauth_token_is_refreshed_once() -> None:
    app = OAuthApp()

    async def revoke_and_crawl_again(again: Again) -> None:
        app.revoke_all()  # every token issued so far is now invalid, server side
        assert [x.verdict for x in await again()] == ["PASS"] * 8

    with serve(app) as url:
        outcome = await crawl(machine_checks(8), url, concurrency=8, then=revoke_and_crawl_again)
    assert [r.verdict for r in outcome.results] == ["PASS"] * 8
    assert app.token_calls == 2  # one at login, one refresh shared by 8 concurrent 401s
    assert app.rejected == 8  # each check of the second crawl met the revoked token once


@pytest.mark.anyio
async def test_a_used_up_oauth_token_is_refreshed() -> None:
    app = OAuthApp(uses_per_token=2)
    with serve(app) as url:
        outcome = await crawl(machine_checks(5), url, concurrency=1)
    assert [r.verdict for r in outcome.results] == ["PASS"] * 5
    # Uses: t1 t1 | 401 t2 t2 | 401 t3: a refresh each time a token was used up.
    assert app.token_calls == 3
    assert app.rejected == 2


@pytest.mark.anyio
async def test_a_token_about_to_expire_is_refreshed_before_use() -> None:
    # A token that expires at once is past its refresh point at every use: each use fetches
    # a fresh one, and none is refused. (A 10 s token would be reused for 5 s.)
    app = OAuthApp(expires_in=0)
    with serve(app) as url:
        outcome = await crawl(machine_checks(3), url, concurrency=1)
    assert [r.verdict for r in outcome.results] == ["PASS"] * 3
    assert app.rejected == 0
    assert app.token_calls == 1 + 3


@pytest.mark.anyio
async def test_oauth_wrong_secret_is_a_login_failure() -> None:
    app = OAuthApp()
    with serve(app) as url:
        outcome = await crawl(
            machine_checks(2), url, environ={"CLIENT_SECRET": "wrong-secret-value"}
        )
    failure = outcome.failures["machine"] or ""
    assert failure.startswith("token endpoint answered 401: ")
    assert "invalid_client" in failure
    assert "wrong-secret-value" not in failure  # the server echoed the form; we hid it
    assert [r.reason for r in outcome.results] == ["identity machine could not log in"] * 2
    assert app.token_calls == 1


@pytest.mark.anyio
async def test_oauth_token_endpoint_error_is_a_login_failure() -> None:
    app = OAuthApp()
    app.token_status = 503
    with serve(app) as url:
        outcome = await crawl(machine_checks(1), url)
    assert (outcome.failures["machine"] or "").startswith("token endpoint answered 503: ")
    assert outcome.results[0].verdict == "SKIP"


@pytest.mark.anyio
async def test_a_refused_token_refresh_mid_crawl_is_an_error_of_that_check() -> None:
    app = OAuthApp()

    async def break_the_token_endpoint(again: Again) -> None:
        app.revoke_all()
        app.token_status = 500
        (result,) = await again()
        assert (result.verdict, result.got) == ("ERROR", "other")
        assert result.reason.startswith("token refresh failed: token endpoint answered 500: ")
        assert "machine-secret" not in result.reason  # echoed by the server, hidden

    with serve(app) as url:
        outcome = await crawl(machine_checks(1), url, then=break_the_token_endpoint)
    assert outcome.results[0].verdict == "PASS"
    assert app.token_calls == 2


def test_cli_oauth_login_failure_exits_3(tmp_path: Path) -> None:
    spec = tmp_path / "oauth.yaml"
    spec.write_text(machine_checks(1))
    app = OAuthApp(client_secret="the-right-one")
    with serve(app) as url:
        code, out, err = invoke(
            "run", str(spec), "--base-url", url, "--out", str(tmp_path), "-q", "--format", "json"
        )
    assert code == 3
    assert "identity machine could not log in: token endpoint answered 401: " in err
    assert "machine-secret" not in out + err


# --- static kinds -------------------------------------------------------------------------------

KINDS = """
version: 1
name: static kinds
identities:
  token: {kind: bearer, token: bearer-token}
  basic: {kind: basic, user: basic-user, password: basic-pass}
  header_key: {kind: api_key, name: X-Api-Key, value: header-key}
  query_key: {kind: api_key, in: query, name: api_key, value: query-key}
  cookie_key: {kind: api_key, in: cookie, name: api_key, value: cookie-key}
  remembered: {kind: anonymous, cookies: {remember_me: cookie-value}}
groups:
  Kinds:
    - {path: /kinds/bearer, expect: {token: 200, basic: 401}}
    - {path: /kinds/basic, expect: {basic: 200, token: 401}}
    - {path: /kinds/api-key-header, expect: {header_key: 200, query_key: 401}}
    - {path: /kinds/api-key-query, expect: {query_key: 200, header_key: 401}}
    - {path: /kinds/api-key-cookie, expect: {cookie_key: 200, remembered: 401}}
    - {path: /kinds/cookie, expect: {remembered: 200, cookie_key: 401}}
"""


@pytest.mark.anyio
async def test_every_static_kind_sends_its_credential_and_only_its_own(
    transport: engine.Transport,
) -> None:
    with serve(KindsApp()) as url:
        outcome = await crawl(KINDS, url, transport=transport)
    assert [(r.identity, r.verdict, r.got) for r in outcome.results] == [
        ("token", "PASS", "200"),
        ("basic", "PASS", "401"),
        ("basic", "PASS", "200"),
        ("token", "PASS", "401"),
        ("header_key", "PASS", "200"),
        ("query_key", "PASS", "401"),
        ("query_key", "PASS", "200"),
        ("header_key", "PASS", "401"),
        ("cookie_key", "PASS", "200"),
        ("remembered", "PASS", "401"),
        ("remembered", "PASS", "200"),
        ("cookie_key", "PASS", "401"),
    ]
    # The query key went on the URL, and the URL kept for the report hides it.
    assert outcome.results[6].request.url.endswith("/kinds/api-key-query?api_key=[REDACTED]")
