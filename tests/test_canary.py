"""Canary secrets: one distinctive value per auth kind must never come out of crawler.

Each kind's credential is a canary string (some reach the manifest through `${ENV}`). The
real CLI runs in a subprocess against a loopback server that echoes headers, query,
cookies and posted forms back in its error bodies, with checks made to FAIL so those
bodies are kept in the reports. No canary may then appear in any file written, nor in
stdout or stderr: on a run where every login works, and on one where they all fail.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from auth_servers import Credentials, KindsApp, NextAuthApp, OAuthApp, User, combine
from faults import serve_faults
from servers import serve

from crawler.redact import REDACTED
from crawler.reports import FILE_FORMATS
from crawler.results import Response, load_run

ROOT = Path(__file__).resolve().parent.parent

CANARY = {
    "bearer": "CANARY-bearer-7f3a",
    "basic": "CANARY-basic-91c2",
    "api_key_header": "CANARY-hdrkey-3b8e",
    "api_key_query": "CANARY-qkey+55d1/=",
    "api_key_cookie": "CANARY-ckey-0a9f",
    "cookie": "CANARY-cookie-6e21",
    "login_password": "CANARY-login-d4c7",
    "captured": "CANARY-captured-8b3f",
    "client_secret": "CANARY-client-2c6a",
    "access_token": "CANARY-issued-",  # the token endpoint issues CANARY-issued-<n>-<hex>
}

# Through the environment, as a CI job passes them; the names do not all look secret, so
# only the manifest's own knowledge (identity fields) can hide those values.
ENV = {
    "API_TOKEN": CANARY["bearer"],
    "HEADER_K": CANARY["api_key_header"],
    "CLIENT_CREDS": CANARY["client_secret"],
}

MANIFEST = """
version: 1
name: canaries
x-csrf: &csrf {path: /api/auth/csrf, capture: {csrf: $.csrfToken}}
identities:
  token: {kind: bearer, token: "${API_TOKEN}"}
  basic: {kind: basic, user: basic-user, password: CANARY-basic-91c2}
  header_key: {kind: api_key, name: X-Service-Key, value: "${HEADER_K}"}
  query_key: {kind: api_key, in: query, name: key, value: "CANARY-qkey+55d1/="}
  cookie_key: {kind: api_key, in: cookie, name: api_key, value: CANARY-ckey-0a9f}
  remembered: {kind: anonymous, cookies: {remember_me: CANARY-cookie-6e21}}
  member:
    kind: login
    steps:
      - *csrf
      - method: POST
        path: /api/auth/callback/credentials
        form: {csrfToken: "{csrf}", email: member@example.test, password: CANARY-login-d4c7}
        expect: 302
      - path: /api/auth/session
        capture:
          org_id: $.user.orgId
          member_key: {json: $.user.apiKey, secret: true}
  machine:
    kind: oauth2_client_credentials
    token_url: /oauth/token
    client_id: machine
    client_secret: "${CLIENT_CREDS}"
groups:
  Echo:
    # 500 where 200 is expected: FAIL, so each echoed request is kept in the reports.
    - GET /echo/500 -> 200
  Kinds:
    - {path: /kinds/bearer, identities: [token], expect: 299}
    - {path: /kinds/basic, identities: [basic], expect: 299}
    - {path: /kinds/api-key-header, identities: [header_key], expect: 299}
    - {path: /kinds/api-key-query, identities: [query_key], expect: 299}
    - {path: /kinds/api-key-cookie, identities: [cookie_key], expect: 299}
    - {path: /kinds/cookie, identities: [remembered], expect: 299}
    - {path: /api/machine, identities: [machine], expect: 299}
  Captured:
    identities: [member]
    checks:
      - {path: "/echo/500?k={member_key}", headers: {X-Member: "{member_key}"}}
      - {method: POST, path: /echo/500, safe: true, json: {note: "{member_key}"}}
      - {method: POST, path: /echo/500, safe: true, form: {k: "{member_key}"}}
      - GET /api/whoami -> 299
"""


def server_apps(*, accept_logins: bool) -> tuple[NextAuthApp, OAuthApp, KindsApp]:
    """The apps behind one port; with `accept_logins=False` every login is refused (and the
    refusal echoes the posted form or token request)."""
    password = CANARY["login_password"] if accept_logins else "another-password"
    member = User(password, "42", "member", extra={"apiKey": CANARY["captured"]})
    nextauth = NextAuthApp(users={"member@example.test": member})
    oauth = OAuthApp(
        client_secret=CANARY["client_secret"] if accept_logins else "another-secret",
        token_prefix=CANARY["access_token"],
    )
    kinds = KindsApp(
        Credentials(
            bearer=CANARY["bearer"],
            basic=("basic-user", CANARY["basic"]),
            api_key_header=("X-Service-Key", CANARY["api_key_header"]),
            api_key_query=("key", CANARY["api_key_query"]),
            api_key_cookie=("api_key", CANARY["api_key_cookie"]),
            cookie=("remember_me", CANARY["cookie"]),
        )
    )
    return nextauth, oauth, kinds


def forms_of(canary: str) -> list[str]:
    """The canary as it would appear if leaked raw, percent-encoded or in basic auth."""
    basic = base64.b64encode(f"basic-user:{canary}".encode()).decode()
    return [canary, quote(canary, safe=""), quote_plus(canary), basic]


def leaks(text: str, extra: list[str] | None = None) -> list[str]:
    found = [name for name, canary in CANARY.items() for form in forms_of(canary) if form in text]
    found += ["session cookie" for value in extra or [] if value in text]
    return sorted(set(found))


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "canaries.yaml"
    path.write_text(MANIFEST)
    return path


def crawl(spec: Path, base_url: str, out: Path) -> subprocess.CompletedProcess[str]:
    """`crawler run` in a subprocess: stdout and stderr exactly as a user would see them."""
    env = {**os.environ, **ENV, "NO_COLOR": "1"}
    env.pop("CRAWLER_DEBUG", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "crawler",
            "run",
            str(spec),
            "--base-url",
            base_url,
            "--out",
            str(out),
            "--format",
            ",".join(FILE_FORMATS),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def written(out: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(out.rglob("*")):
        if path.is_file():
            yield path.name, path.read_text(encoding="utf-8", errors="replace")


def test_no_canary_leaks_when_every_login_works(spec: Path, tmp_path: Path) -> None:
    nextauth, oauth, kinds = server_apps(accept_logins=True)
    out = tmp_path / "out"
    with serve(combine(nextauth, oauth, kinds)) as url:
        done = crawl(spec, url, out)
    assert done.returncode == 1, done.stderr  # the checks FAIL on purpose; every login worked
    assert "could not log in" not in done.stderr
    # The run really carried every credential: each /kinds route answered 200 (its check
    # FAILs only because it expects 299), the login and the token request worked ...
    assert nextauth.logins == 1
    assert oauth.issued and oauth.issued[0].startswith(CANARY["access_token"])
    files = dict(written(out))
    assert {"report.md", "report.html", "run.json"} <= set(files)
    run = load_run(out / "run.json")
    kinds = [r for r in run.results if r.group == "Kinds"]
    assert [(r.verdict, r.got) for r in kinds] == [("FAIL", "200")] * 7
    # ... and the echoes of them are kept in the reports, redacted, not dropped.
    echoes = [r for r in run.results if r.verdict == "FAIL" and r.got == "500"]
    assert len(echoes) == 8 + 3  # every identity's GET /echo/500, the member's three
    bodies = [r.observation.body_excerpt for r in echoes if isinstance(r.observation, Response)]
    assert len(bodies) == len(echoes) and all(REDACTED in body for body in bodies)
    # Session cookies the server set are credentials too.
    sessions = list(nextauth.sessions)
    found = {
        name: leaks(text, sessions)
        for name, text in [*files.items(), ("stdout", done.stdout), ("stderr", done.stderr)]
    }
    assert {name: found for name, found in found.items() if found} == {}


def test_no_canary_leaks_when_the_logins_fail(spec: Path, tmp_path: Path) -> None:
    nextauth, oauth, kinds = server_apps(accept_logins=False)
    out = tmp_path / "out"
    with serve(combine(nextauth, oauth, kinds)) as url:
        done = crawl(spec, url, out)
    assert done.returncode == 3, done.stderr
    # Both refusals echoed what was posted, canaries included, into the failure messages.
    assert "identity member could not log in: step 2 " in done.stderr
    assert "identity machine could not log in: token endpoint answered 401" in done.stderr
    assert (nextauth.failed_logins, oauth.token_calls) == (1, 1)
    found = {
        name: leaks(text)
        for name, text in [*written(out), ("stdout", done.stdout), ("stderr", done.stderr)]
    }
    assert {name: found for name, found in found.items() if found} == {}


# --- every fault and error path ------------------------------------------------------------------

FAULT_MANIFEST = """
version: 1
name: canaries at fault
identities:
  token: {kind: bearer, token: "${API_TOKEN}"}
  basic: {kind: basic, user: basic-user, password: CANARY-basic-91c2}
  digest: {kind: digest, user: digest-user, password: CANARY-basic-91c2}
  header_key: {kind: api_key, name: X-Service-Key, value: "${HEADER_K}"}
  query_key: {kind: api_key, in: query, name: key, value: "CANARY-qkey+55d1/="}
  cookie_key: {kind: api_key, in: cookie, name: api_key, value: CANARY-ckey-0a9f}
  remembered: {kind: anonymous, cookies: {remember_me: CANARY-cookie-6e21}}
  reset_login:
    kind: login
    steps:
      - method: POST
        path: /reset-before-headers
        form: {email: member@example.test, password: CANARY-login-d4c7}
  garbage_token:
    kind: oauth2_client_credentials
    token_url: /garbage
    client_id: machine
    client_secret: "${CLIENT_CREDS}"
groups:
  Faults:
    - GET /reset-before-headers
    - GET /reset-mid-body
    - GET /never
    - GET /garbage
    - GET /redirect-loop
    - GET /429
    - GET /huge-header -> 204
    - GET /non-utf8
    - GET /ok?key=CANARY-qkey+55d1/= -> 204
"""


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
@pytest.mark.parametrize("debug", [False, True], ids=["plain", "CRAWLER_DEBUG"])
def test_no_canary_leaks_on_any_fault_or_error_path(
    tmp_path: Path, transport: str, debug: bool
) -> None:
    """Transport errors (reset, timeout, garbage, redirect, 429, an oversized header), a
    login whose request is reset, a token endpoint that answers garbage, retries: none of
    their messages may carry a credential, with or without CRAWLER_DEBUG."""
    spec = tmp_path / "faults.yaml"
    spec.write_text(FAULT_MANIFEST)
    out = tmp_path / "out"
    env = {**os.environ, **ENV, "NO_COLOR": "1", "COLUMNS": "250"}
    env.pop("CRAWLER_DEBUG", None)
    if debug:
        env["CRAWLER_DEBUG"] = "1"
    with serve_faults() as server:
        done = subprocess.run(
            [
                sys.executable, "-m", "crawler", "run", str(spec),
                "--base-url", server.base_url, "--out", str(out),
                "--format", ",".join(FILE_FORMATS),
                "--timeout", "0.5", "--retries", "1", "--transport", transport,
                "--allow-mutations",
            ],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False,
        )  # fmt: skip
        reached = server.count("/reset-before-headers")
    # Two logins got no HTTP answer: their checks are ERROR (the target failed), exit 1.
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "identity reset_login could not log in" in done.stderr
    assert "identity garbage_token could not log in" in done.stderr
    assert reached >= 1 + 7  # the login, and the static identities' checks of it
    run = load_run(out / "run.json")
    errors = {r.reason for r in run.results if r.verdict == "ERROR"}
    assert "connection reset by peer" in errors
    found = {
        name: leaks(text)
        for name, text in [*written(out), ("stdout", done.stdout), ("stderr", done.stderr)]
    }
    assert {name: found for name, found in found.items() if found} == {}
