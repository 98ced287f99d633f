"""Identities without a server: placeholders, captures, manifest validation, OAuth2 tokens.

Table-driven where the rule is a table. `ClientCredentials` runs over `httpx.MockTransport`,
whose handler plays the token endpoint and the API and counts what it was sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest

from crawler import manifest
from crawler.auth import ClientCredentials, LoginFailed, MissingCapture, capture, fill, fill_data
from crawler.errors import ManifestError
from crawler.manifest import Capture, Identity
from crawler.redact import REDACTED, Redactor

# --- fill ------------------------------------------------------------------------------------

VALUES = {"org_id": "42", "name": "a b", "empty": ""}


@pytest.mark.parametrize(
    ("template", "filled"),
    [
        ("/api/orgs/{org_id}/billing", "/api/orgs/42/billing"),
        ("{org_id}{org_id}", "4242"),
        ("?q={name}", "?q=a b"),  # filled as is; httpx encodes it when the URL is built
        ("x{empty}y", "xy"),
        ("no placeholders", "no placeholders"),
        ("{{org_id}}", "{org_id}"),  # doubled braces are literal
        ("{{", "{"),
        ("}}", "}"),
        ('{{"json": {org_id}}}', '{"json": 42}'),
        ("{ org_id }", "{ org_id }"),  # not a name: left as written
        ("{1st}", "{1st}"),
        ("{}", "{}"),
        ("a}b{c", "a}b{c"),
    ],
)
def test_fill(template: str, filled: str) -> None:
    assert fill(template, VALUES) == filled


@pytest.mark.parametrize(
    ("template", "missing"),
    [("/orgs/{org}", "org"), ("{org_id}/{user_id}", "user_id"), ("{{ok}} {nope}", "nope")],
)
def test_fill_names_the_missing_value(template: str, missing: str) -> None:
    with pytest.raises(MissingCapture) as raised:
        fill(template, VALUES)
    assert raised.value.name == missing


@pytest.mark.parametrize(
    ("data", "filled"),
    [
        ("{org_id}", "42"),
        ({"org": "{org_id}", "{name}": "key kept"}, {"org": "42", "{name}": "key kept"}),
        (["{org_id}", 1, None, True, 2.5], ["42", 1, None, True, 2.5]),
        ({"a": [{"b": "{{lit}} {org_id}"}]}, {"a": [{"b": "{lit} 42"}]}),
        (None, None),
        (7, 7),
    ],
)
def test_fill_data(data: Any, filled: Any) -> None:
    assert fill_data(data, VALUES) == filled


def test_fill_data_raises_for_a_missing_value_deep_inside() -> None:
    with pytest.raises(MissingCapture, match="token"):
        fill_data({"a": [{"b": "{token}"}]}, VALUES)


# --- capture ---------------------------------------------------------------------------------

LOGIN_PAGE = """<form>
  <input type="hidden" name="csrfmiddlewaretoken" value="tok&amp;en">
  <input type="hidden" name="next">
  <input type="text" name="username" value="first">
  <input type="text" name="username" value="second">
</form>"""


def answer(
    body: str | None = None,
    *,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    request = httpx.Request("GET", "http://testserver/login")
    if json_body is not None:
        return httpx.Response(200, json=json_body, headers=headers, request=request)
    return httpx.Response(200, text=body or "", headers=headers, request=request)


SESSION = {"user": {"orgId": 42, "email": "a@example.test", "tags": ["x"], "gone": None}}


@pytest.mark.parametrize(
    ("rule", "response", "found"),
    [
        # JSONPath over a JSON body; non-strings come back as JSON text
        ({"json": "$.user.email"}, answer(json_body=SESSION), "a@example.test"),
        ("$.user.orgId", answer(json_body=SESSION), "42"),  # a bare string is a JSONPath
        ("$.user.tags", answer(json_body=SESSION), '["x"]'),
        ("$.user.missing", answer(json_body=SESSION), None),
        ("$.user.gone", answer(json_body=SESSION), None),  # null is absent
        ("$.user", answer("<html>not json</html>"), None),
        ("$.csrfToken", answer(json_body={"csrfToken": "abc"}), "abc"),
        # a response header, by any case
        ({"header": "X-User-Id"}, answer(headers={"x-user-id": "7"}), "7"),
        ({"header": "X-User-Id"}, answer(), None),
        # an HTML form's input, by name: the first one, entities decoded, no value is ""
        ({"form_field": "csrfmiddlewaretoken"}, answer(LOGIN_PAGE), "tok&en"),
        ({"form_field": "next"}, answer(LOGIN_PAGE), ""),
        ({"form_field": "username"}, answer(LOGIN_PAGE), "first"),
        ({"form_field": "password"}, answer(LOGIN_PAGE), None),
        # a regex over the body: group 1, else the whole match
        ({"regex": r"Organisation (\d+)"}, answer("<p>Organisation 7.</p>"), "7"),
        ({"regex": r"\d+"}, answer("<p>Organisation 7.</p>"), "7"),
        ({"regex": r"Org (\d+)"}, answer("<p>Organisation 7.</p>"), None),
    ],
)
def test_capture(rule: Any, response: httpx.Response, found: str | None) -> None:
    assert capture(Capture.model_validate(rule), response, httpx.Cookies()) == found


def test_capture_a_cookie_from_the_jar() -> None:
    jar = httpx.Cookies()
    jar.set("sessionid", "s-123", domain="testserver")
    assert capture(Capture(cookie="sessionid"), answer(), jar) == "s-123"
    assert capture(Capture(cookie="csrftoken"), answer(), jar) is None


# --- manifest validation of identities --------------------------------------------------------


def load(identities: str, checks: str = "    - GET /a\n", extra: str = "") -> manifest.Manifest:
    return manifest.loads(
        f"version: 1\nname: x\nidentities:\n{identities}\n{extra}groups:\n  G:\n{checks}",
        "m.yaml",
        {},
    )


@pytest.mark.parametrize(
    ("identity", "error"),
    [
        ("  api: {kind: bearer}", "m.yaml:4: identities.api: kind bearer needs token"),
        (
            "  api:\n    kind: basic\n    user: u",
            "m.yaml:5: identities.api: kind basic needs password",
        ),
        ("  api: {kind: basic}", "m.yaml:4: identities.api: kind basic needs username, password"),
        (
            "  api: {kind: api_key, name: X-Key}",
            "m.yaml:4: identities.api: kind api_key needs value",
        ),
        ("  api: {kind: api_key, value: v}", "m.yaml:4: identities.api: kind api_key needs name"),
        ("  api: {kind: login}", "m.yaml:4: identities.api: kind login needs steps"),
        ("  api: {kind: login, steps: []}", "m.yaml:4: identities.api: kind login needs steps"),
        (
            "  api: {kind: oauth2_client_credentials, token_url: /t, client_id: c}",
            "m.yaml:4: identities.api: kind oauth2_client_credentials needs client_secret",
        ),
        (
            "  api: {kind: bearer, token: t, password: p}",
            "m.yaml:4: identities.api: kind bearer does not use password",
        ),
        (
            "  api: {kind: anonymous, token: t}",
            "m.yaml:4: identities.api: kind anonymous does not use token",
        ),
        ("  api: {kind: kerberos}", 'm.yaml:4: identities.api.kind: "kerberos": input should be'),
        (
            "  api: {kind: api_key, name: k, value: v, in: body}",
            'm.yaml:4: identities.api.in: "body": input should be',
        ),
        (
            "  api: {kind: bearer, token: t, colour: red}",
            "m.yaml:4: identities.api.colour: unknown field; allowed here: kind, token,",
        ),
    ],
)
def test_an_incomplete_identity_is_a_located_error(identity: str, error: str) -> None:
    with pytest.raises(ManifestError) as raised:
        load(identity)
    assert str(raised.value).startswith(error)


LOGIN = "  api:\n    kind: login\n    steps:\n      - {step}"


@pytest.mark.parametrize(
    ("identity", "field"),
    [
        ("  api: {kind: basic, user: u, password: [987654321]}", "identities.api.password"),
        ("  api: {kind: bearer, token: [tok-987654321]}", "identities.api.token"),
        ("  api: {kind: api_key, name: k, value: {v: 987654321}}", "identities.api.value"),
        ("  api: {kind: anonymous, cookies: {sid: [987654321]}}", "identities.api.cookies.sid"),
        (
            LOGIN.format(step="{path: /x, form: {password: [987654321]}}"),
            "identities.api.steps[0].form.password",
        ),
        (
            '  api: {kind: anonymous, headers: {Authorization: "Bearer 987654321\\n"}}',
            "identities.api.headers: header Authorization: its value has a character",
        ),
    ],
)
def test_an_error_about_a_credential_does_not_repeat_it(identity: str, field: str) -> None:
    with pytest.raises(ManifestError) as raised:
        load(identity)
    assert field in str(raised.value)
    assert "987654321" not in str(raised.value)


@pytest.mark.parametrize(
    ("step", "error"),
    [
        (
            "{path: /x, capture: {a: {json: $.a, header: X}}}",
            "identities.api.steps[0].capture.a: a capture takes exactly one of json, header, "
            "cookie, form_field, regex",
        ),
        ("{path: /x, capture: {a: {secret: true}}}", "capture.a: a capture takes exactly one"),
        ("{path: /x, capture: {a: {regex: '('}}}", 'capture.a: regex "(" does not compile'),
        ("{path: /x, capture: {a: user.id}}", 'capture.a: "user.id" is not a JSONPath'),
        ("{path: /x, capture: {a: {json: $.a, colour: 1}}}", "allowed here: json, header,"),
        ("{path: x}", "identities.api.steps[0].path: \"x\" is not a path; it must start with '/'"),
        ("{path: /x, colour: red}", "steps[0].colour: unknown field; allowed here: method, path,"),
        ("{path: /x, expect: 20O}", 'steps[0].expect: "20O" is not a status'),
        ("{method: FETCH, path: /x}", 'steps[0].method: "FETCH" is not a method'),
    ],
)
def test_a_bad_login_step_is_a_located_error(step: str, error: str) -> None:
    with pytest.raises(ManifestError) as raised:
        load(LOGIN.format(step=step))
    assert str(raised.value).startswith("m.yaml:7: ")
    assert error in str(raised.value)


def test_a_step_may_be_an_absolute_url_or_a_one_line_request() -> None:
    loaded = load(LOGIN.format(step="POST https://sso.example.test/token -> 200"))
    (step,) = loaded.identities["api"].steps or ()
    assert (step.method, step.path, str(step.expect)) == (
        "POST",
        "https://sso.example.test/token",
        "200",
    )


TWO = "  admin: {kind: bearer, token: t}\n  viewer: {kind: anonymous}"


@pytest.mark.parametrize(
    ("checks", "extra", "error"),
    [
        (
            "    - {path: /a, identities: [ghost]}\n",
            "",
            "m.yaml:8: groups.G[0].identities: unknown identity ghost (defined: admin, viewer)",
        ),
        (
            "    - {path: /a, expect: {admin: 200, ghost: 401}}\n",
            "",
            "m.yaml:8: groups.G[0].expect: unknown identity ghost (defined: admin, viewer)",
        ),
        (
            "    - {path: /a, identities: [admin, viewer], expect: {admin: 200}}\n",
            "",
            "m.yaml:8: groups.G[0].expect: runs as viewer but expects nothing of it",
        ),
        (
            "    identities: [nobody]\n    checks: [GET /a]\n",
            "",
            "groups.G.identities: unknown identity nobody",
        ),
        ("    - GET /a\n", "defaults: {identities: [ghost]}\n", "defaults.identities: unknown"),
        ("    - {path: /a, expect: {}}\n", "", "groups.G[0].expect: an empty map expects nothing"),
    ],
)
def test_identity_references_are_checked(checks: str, extra: str, error: str) -> None:
    with pytest.raises(ManifestError) as raised:
        load(TWO, checks, extra)
    assert error in str(raised.value)


def test_without_identities_a_check_runs_as_anonymous() -> None:
    loaded = manifest.loads("version: 1\nname: x\ngroups:\n  G: [GET /a]\n")
    assert [p.identity for p in loaded.planned()] == ["anonymous"]


def test_identity_secrets_are_known_and_never_in_a_repr() -> None:
    loaded = load(
        "  a: {kind: bearer, token: tok-secret}\n"
        "  b: {kind: basic, user: u, password: pw-secret}\n"
        "  c: {kind: api_key, name: X-Key, value: key-secret}\n"
        "  d: {kind: oauth2_client_credentials, token_url: /t, client_id: c,"
        " client_secret: client-secret}\n"
        "  e: {kind: anonymous, cookies: {sid: cookie-secret}}"
    )
    values = {"tok-secret", "pw-secret", "key-secret", "client-secret", "cookie-secret"}
    assert values <= set(loaded.secrets)
    assert "dTpwdy1zZWNyZXQ=" in loaded.secrets  # base64("u:pw-secret"), as sent
    shown = repr(loaded) + repr(loaded.identities)
    assert not [value for value in values if value in shown]


# --- OAuth2 client credentials -----------------------------------------------------------------


@dataclass
class TokenServer:
    """The token endpoint and an API behind it, as a MockTransport handler."""

    secret: str = "client-secret"
    expires_in: int | None = 3600
    token_status: int = 200
    token_body: dict[str, Any] | None = None
    valid: set[str] = field(default_factory=set)
    token_forms: list[dict[str, str]] = field(default_factory=list)
    api_calls: list[str | None] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            form = dict(parse_qsl(request.content.decode()))
            self.token_forms.append(form)
            if self.token_status != 200:
                return httpx.Response(self.token_status, json={"received": form})
            if self.token_body is not None:
                return httpx.Response(200, json=self.token_body)
            if form.get("client_secret") != self.secret:
                return httpx.Response(401, json={"error": "invalid_client", "received": form})
            token = f"token-{len(self.token_forms)}"
            self.valid.add(token)
            payload: dict[str, Any] = {"access_token": token, "token_type": "bearer"}
            if self.expires_in is not None:
                payload["expires_in"] = self.expires_in
            return httpx.Response(200, json=payload)
        sent = request.headers.get("authorization")
        self.api_calls.append(sent)
        if sent is None or sent.removeprefix("Bearer ") not in self.valid:
            return httpx.Response(401)
        return httpx.Response(200)


def machine(**fields: Any) -> Identity:
    defaults = {
        "kind": "oauth2_client_credentials",
        "token_url": "/oauth/token",
        "client_id": "machine",
        "client_secret": "client-secret",
        "scope": "read write",
    }
    return Identity.model_validate({**defaults, **fields})


def oauth_client(
    server: Callable[[httpx.Request], httpx.Response], identity: Identity, redactor: Redactor
) -> tuple[httpx.AsyncClient, ClientCredentials]:
    auth = ClientCredentials(identity, redactor)
    client = httpx.AsyncClient(
        base_url="http://api.test", transport=httpx.MockTransport(server), auth=auth
    )
    return client, auth


@pytest.mark.anyio
async def test_client_credentials_fetch_once_and_reuse_the_token() -> None:
    server = TokenServer()
    redactor = Redactor()
    client, auth = oauth_client(server, machine(), redactor)
    async with client:
        statuses = [(await client.get("/api/x")).status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert server.token_forms == [
        {
            "grant_type": "client_credentials",
            "client_id": "machine",
            "client_secret": "client-secret",
            "scope": "read write",
        }
    ]
    assert server.api_calls == ["Bearer token-1"] * 5
    assert auth.fetches == 1
    assert redactor.text("token-1 leaked") == f"{REDACTED} leaked"  # the token is a secret now


@pytest.mark.anyio
async def test_client_credentials_send_no_scope_unless_set() -> None:
    server = TokenServer()
    client, _ = oauth_client(server, machine(scope=None), Redactor())
    async with client:
        await client.get("/api/x")
    assert "scope" not in server.token_forms[0]


@pytest.mark.anyio
async def test_concurrent_requests_share_one_token_fetch() -> None:
    server = TokenServer()
    client, auth = oauth_client(server, machine(), Redactor())
    statuses: list[int] = []

    async def get() -> None:
        statuses.append((await client.get("/api/x")).status_code)

    async with client, anyio.create_task_group() as tasks:
        for _ in range(10):
            tasks.start_soon(get)
    assert statuses == [200] * 10
    assert auth.fetches == 1 == len(server.token_forms)


@pytest.mark.anyio
async def test_a_rejected_token_is_refreshed_once_and_the_request_retried() -> None:
    server = TokenServer()
    client, auth = oauth_client(server, machine(), Redactor())
    async with client:
        assert (await client.get("/api/x")).status_code == 200
        server.valid.clear()  # revoked, server side
        assert (await client.get("/api/x")).status_code == 200
    assert server.api_calls == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]
    assert auth.fetches == 2


@pytest.mark.anyio
async def test_a_401_with_a_fresh_token_is_not_refreshed_forever() -> None:
    server = TokenServer()
    server.valid = set()  # every token is refused: the API itself answers 401

    def refuse(request: httpx.Request) -> httpx.Response:
        response = server(request)
        server.valid.clear()
        return response

    client, auth = oauth_client(refuse, machine(), Redactor())
    async with client:
        assert (await client.get("/api/x")).status_code == 401
    assert auth.fetches == 2  # the first token, one refresh, then the 401 is the answer


# Refreshed 30 s before expiry, or at half its life when it lives less than a minute.
@pytest.mark.parametrize(("expires_in", "fetches"), [(3600, 1), (None, 1), (10, 1), (0, 3)])
@pytest.mark.anyio
async def test_a_token_inside_the_refresh_margin_is_refreshed_before_use(
    expires_in: int | None, fetches: int
) -> None:
    server = TokenServer(expires_in=expires_in)
    client, auth = oauth_client(server, machine(), Redactor())
    async with client:
        for _ in range(3):
            assert (await client.get("/api/x")).status_code == 200
    assert auth.fetches == fetches
    assert server.api_calls.count(None) == 0


@pytest.mark.anyio
async def test_ensure_token_fetches_up_front_and_only_when_needed() -> None:
    server = TokenServer()
    client, auth = oauth_client(server, machine(), Redactor())
    async with client:
        await auth.ensure_token(client)
        await auth.ensure_token(client)
        assert (await client.get("/api/x")).status_code == 200
    assert auth.fetches == 1
    assert server.api_calls == ["Bearer token-1"]


@pytest.mark.parametrize(
    ("server", "message"),
    [
        (TokenServer(secret="other"), "token endpoint answered 401: "),
        (TokenServer(token_status=500), "token endpoint answered 500: "),
        (TokenServer(token_body={"token": "x"}), "token endpoint answered without an access_token"),
    ],
)
@pytest.mark.anyio
async def test_a_token_endpoint_failure_is_a_login_failure(
    server: TokenServer, message: str
) -> None:
    redactor = Redactor(["client-secret"])
    client, auth = oauth_client(server, machine(), redactor)
    async with client:
        with pytest.raises(LoginFailed) as raised:
            await auth.ensure_token(client)
    assert str(raised.value).startswith(message)
    assert "client-secret" not in str(raised.value)  # echoed back by the server, hidden


@pytest.mark.anyio
async def test_an_absolute_token_url_is_used_as_is() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.host == "sso.test":
            return httpx.Response(200, json={"access_token": "abc-token"})
        return httpx.Response(200)

    client, _ = oauth_client(handler, machine(token_url="https://sso.test/oauth/token"), Redactor())
    async with client:
        await client.get("/api/x")
    assert seen == ["https://sso.test/oauth/token", "http://api.test/api/x"]


def test_client_credentials_repr_hides_the_secret() -> None:
    auth = ClientCredentials(machine(client_secret="very-secret-value"), Redactor())
    assert "very-secret-value" not in repr(auth)
    assert "machine" in repr(auth)


def test_numbers_in_credentials_and_headers_are_text() -> None:
    """YAML reads `password: 123456` as a number; on the wire it is text, so accept it."""
    loaded = load(
        "  api: {kind: basic, user: 42, password: 123456, cookies: {sid: 987}, "
        "headers: {X-Count: 5}}"
    )
    identity = loaded.identities["api"]
    assert (identity.username, identity.password) == ("42", "123456")
    assert identity.cookies == {"sid": "987"} and identity.headers == {"X-Count": "5"}
