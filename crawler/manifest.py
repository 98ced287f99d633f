"""The manifest: pydantic models of checks, and the loader that reports errors by file:line.

A manifest is YAML (or JSON)::

    version: 1
    name: Demo API
    base_url: ${BASE_URL:-http://127.0.0.1:8000}   # or  app: package.module:attr
    defaults: {timeout: 10, concurrency: 16, headers: {Accept: application/json}}
    groups:
      Billing:
        - GET /api/billing -> 200                   # shorthand
        - {method: GET, path: /api/billing/plans, expect: [200, 204]}

`load(path)` returns a validated `Manifest` or raises `ManifestError` whose issues name
the file, the line, the field path (`groups.Billing[3].expect`) and what is allowed.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from crawler.assertions import Assertions, JsonCondition
from crawler.compact import compact
from crawler.errors import ManifestError, ManifestIssue, UsageError
from crawler.redact import SECRET_ENV_NAME, is_secret_name
from crawler.results import Known

METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
Method = Literal["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]

# Methods that cannot change server state; everything else is a mutation and is guarded.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# The identity checks run as when a manifest defines none.
ANONYMOUS = "anonymous"

_EXPECT_HELP = 'use 200, [200, 204], "200|204" or "2xx"'


@dataclass(frozen=True)
class Expect:
    """The statuses a check accepts: exact codes and/or whole classes (`2xx` is class 2)."""

    codes: tuple[int, ...] = ()
    classes: tuple[int, ...] = ()

    def matches(self, status: int) -> bool:
        return status in self.codes or status // 100 in self.classes

    def __str__(self) -> str:
        return "|".join([str(code) for code in self.codes] + [f"{c}xx" for c in self.classes])


def _status_code(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise ValueError(f"{value!r} is not a status; {_EXPECT_HELP}")
    return value


def parse_expect(value: object) -> Expect:
    """Parse `200`, `[200, 204]`, `"200|204"`, `"2xx"` (or an `Expect`) into an `Expect`.

    >>> str(parse_expect("2xx|404"))
    '404|2xx'
    """
    if isinstance(value, Expect):
        return value
    parts: list[object]
    if isinstance(value, list):
        parts = list(value)
    elif isinstance(value, str):
        parts = [p.strip() for p in value.split("|")]
    else:
        parts = [value]
    if not parts:
        raise ValueError(f"an empty list is not a status; {_EXPECT_HELP}")
    codes: list[int] = []
    classes: list[int] = []
    for part in parts:
        if isinstance(part, str):
            if re.fullmatch(r"[1-5][xX][xX]", part):
                classes.append(int(part[0]))
                continue
            if not re.fullmatch(r"\d{3}", part):
                shown = value if isinstance(value, str) else part
                raise ValueError(f"{json.dumps(shown)} is not a status; {_EXPECT_HELP}")
            part = int(part)
        codes.append(_status_code(part))
    expect = Expect(tuple(dict.fromkeys(codes)), tuple(dict.fromkeys(classes)))
    return _EXPECTS.setdefault(expect, expect)  # one object per distinct value (100k checks)


_NO_HEADERS: dict[str, str] = {}

# Interned expectations: a manifest of 100,000 `-> 200` checks holds one Expect, not 100,000.
_EXPECTS: dict[Expect, Expect] = {}


ExpectField = Annotated[
    Expect,
    BeforeValidator(parse_expect),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "description": 'Accepted status: 200, [200, 204], "200|204" or a class such as "2xx".',
            "anyOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "array", "items": {"type": "integer", "minimum": 100, "maximum": 599}},
                {"type": "string", "pattern": r"^([1-5]([0-9]{2}|xx))(\|[1-5]([0-9]{2}|xx))*$"},
            ],
        }
    ),
]

_EXPECT_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": 100, "maximum": 599},
        {"type": "array", "items": {"type": "integer", "minimum": 100, "maximum": 599}},
        {"type": "string", "pattern": r"^([1-5]([0-9]{2}|xx))(\|[1-5]([0-9]{2}|xx))*$"},
    ]
}


def parse_expect_spec(value: object) -> Expect | dict[str, Expect]:
    """An expectation, or a map of them per identity: `{admin: 200, viewer: 403}`."""
    if isinstance(value, dict):
        if not value:
            raise ValueError("an empty map expects nothing; name identities: {admin: 200}")
        return {str(name): parse_expect(status) for name, status in value.items()}
    return parse_expect(value)


def _expect_text(value: Expect | dict[str, Expect]) -> str | dict[str, str]:
    return {k: str(v) for k, v in value.items()} if isinstance(value, dict) else str(value)


ExpectSpec = Annotated[
    Expect | dict[str, Expect],
    BeforeValidator(parse_expect_spec),
    PlainSerializer(_expect_text),
    WithJsonSchema(
        {
            "description": "Accepted status, or a map of them per identity: {admin: 200, "
            "viewer: 403}.",
            "anyOf": [
                *_EXPECT_SCHEMA["anyOf"],
                {"type": "object", "additionalProperties": _EXPECT_SCHEMA},
            ],
        }
    ),
]

Scalar = str | int | float | bool

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _check_headers(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"{json.dumps(name)} is not a header name (letters, digits, '-')")
        if not value.isascii() or any(c in value for c in "\r\n\0"):
            shown = "its value" if is_secret_name(name) else json.dumps(value)  # no credentials
            raise ValueError(
                f"header {name}: {shown} has a character HTTP does not allow "
                "(non-ASCII or a line break); percent-encode it or leave it out"
            )
    return headers


def _numbers_as_text(value: object) -> object:
    # YAML reads `password: 123456` or `X-Count: 5` as numbers; they are text on the wire.
    if isinstance(value, dict):
        return {k: _numbers_as_text(v) for k, v in value.items()}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


HeaderMap = Annotated[
    dict[str, str], BeforeValidator(_numbers_as_text), AfterValidator(_check_headers)
]

_SHORTHAND = re.compile(
    r"^\s*(?:(?P<method>[A-Za-z]+)\s+)?(?P<path>\S+?)\s*(?:->\s*(?P<expect>\S+))?\s*$"
)
_SHORTHAND_HELP = 'write it as "GET /api/path -> 200" (method and "-> status" are optional)'


def parse_shorthand(text: str) -> dict[str, Any]:
    """Turn `"GET /api/x -> 200|204"` into the fields of a `Check`."""
    match = _SHORTHAND.match(text)
    if not match:
        raise ValueError(f"{json.dumps(text)} is not a check; {_SHORTHAND_HELP}")
    fields: dict[str, Any] = {"path": match["path"]}
    if match["method"]:
        fields["method"] = match["method"].upper()
    if match["expect"]:
        fields["expect"] = match["expect"]
    return fields


def url_problem(value: str) -> str | None:
    """Why `value` cannot be a base URL, or None when it can (http(s), a host, a valid port)."""
    usage = "use an http:// or https:// URL such as https://api.example.com"
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError as exc:
        return f"{exc}; {usage}"
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in value:
        return f"not an http(s) URL; {usage}"
    if not port_ok:
        return f"port out of range; {usage}"
    return None


class _Request(BaseModel):
    """What a check and a login step share: the request, and its one-line form."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    # Login steps may name another host (an identity provider); checks stay on the target.
    _ABSOLUTE_URLS: ClassVar[bool] = False

    method: Method = "GET"
    path: str = Field(description="Path on the target, starting with '/'.")
    headers: HeaderMap = Field(default_factory=dict)
    query: dict[str, Scalar] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json", description="JSON request body.")
    form: dict[str, Scalar] | None = Field(default=None, description="Form request body.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        return parse_shorthand(data) if isinstance(data, str) else data

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: object) -> object:
        if isinstance(value, str) and value.upper() in METHODS:
            return value.upper()
        if isinstance(value, str):
            raise ValueError(
                f"{json.dumps(value)} is not a method; use one of {', '.join(METHODS)}"
            )
        return value

    @field_validator("path")
    @classmethod
    def _path_starts_with_slash(cls, value: str) -> str:
        if cls._ABSOLUTE_URLS and value.startswith(("http://", "https://")):
            return value
        if not value.startswith("/"):
            raise ValueError(f"{json.dumps(value)} is not a path; it must start with '/'")
        if value.startswith("//"):
            # httpx would read "//x/y" as host x: the request would go somewhere else.
            raise ValueError(f"{json.dumps(value)} starts with '//'; write a single '/'")
        return value

    @model_validator(mode="after")
    def _one_body(self) -> Self:
        if self.json_body is not None and self.form is not None:
            what = type(self).__name__.lower()
            raise ValueError(f"a {what} has either a json or a form body, not both")
        return self


# --- latency SLOs ----------------------------------------------------------------------------


class Slo(BaseModel):
    """Latency limits in milliseconds (`slo: {p95_ms: 100}`); see `crawler.latency`.

    On `defaults`, a group or a check: the most specific `slo:` replaces the others whole.
    A PASS whose samples breach a limit becomes FAIL (`p95 128 ms > 100 ms`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    p50_ms: float | None = Field(default=None, gt=0, description="Median at most this.")
    p95_ms: float | None = Field(default=None, gt=0, description="95th percentile at most this.")
    p99_ms: float | None = Field(default=None, gt=0, description="99th percentile at most this.")
    max_ms: float | None = Field(default=None, gt=0, description="Slowest sample at most this.")

    @model_validator(mode="after")
    def _some_limit(self) -> Slo:
        if not self.limits():
            raise ValueError("an slo needs at least one of p50_ms, p95_ms, p99_ms, max_ms")
        return self

    def limits(self) -> dict[str, float]:
        """The limits set: `{"p95_ms": 100.0}`."""
        return {name: value for name, value in self.model_dump().items() if value is not None}


class Check(_Request):
    """One request to send and the status it must answer with."""

    expect: ExpectSpec = Field(default=Expect(codes=(200,)), description="Accepted status.")
    name: str | None = None
    tags: tuple[str, ...] = ()
    identities: tuple[str, ...] | None = Field(
        default=None, description="Send as these identities (default: the group's, then all)."
    )
    safe: bool = Field(
        default=False, description="Send even if the method is a mutation (POST, PUT, ...)."
    )
    timeout: float | None = Field(default=None, gt=0, description="Seconds; overrides defaults.")
    known: Known | None = Field(
        default=None,
        description="A known failure: {ticket: T2-3, status: BACKLOG, reason: ...}; "
        "failing is XFAIL (does not fail the run), passing is XPASS (close the ticket?).",
    )
    # Time bounds and retries beyond `timeout` (reliability)
    connect_timeout: float | None = Field(
        default=None, gt=0, description="Seconds to connect; overrides defaults (else timeout)."
    )
    total_timeout: float | None = Field(
        default=None, gt=0, description="Seconds for the whole check; else twice the timeout."
    )
    idempotent: bool = Field(
        default=False,
        description="Sending it twice changes nothing more than once: --retries may resend "
        "it even when it is a POST or PATCH.",
    )
    # environments: a check sent only in these environments (`--env`)
    only_env: tuple[str, ...] | None = Field(
        default=None, description="Send only when the run's --env is one of these."
    )
    # Body assertions (crawler/assertions.py): what the answer's body and headers must hold.
    assert_: Assertions | None = Field(
        default=None,
        alias="assert",
        description="Assertions on the answer: json (JSONPath conditions), contains, "
        "not_contains, headers, max_bytes, schema.",
    )
    # Latency SLO of this check (replaces its group's and the defaults').
    slo: Slo | None = Field(default=None, description="Latency limits: {p95_ms: 100}.")

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def expects_2xx(self) -> bool:
        """Whether any identity is expected to get a 2xx (body assertions then judge 2xx only)."""
        expects = self.expect.values() if isinstance(self.expect, dict) else [self.expect]
        return any(2 in e.classes or any(200 <= c < 300 for c in e.codes) for e in expects)

    def expect_for(self, identity: str) -> Expect:
        """What this check expects when sent as `identity`."""
        if isinstance(self.expect, dict):
            return self.expect[identity]
        return self.expect


# --- identities -------------------------------------------------------------------------------


class Capture(BaseModel):
    """Where a login step finds a value: exactly one of json, header, cookie, form_field, regex."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    json_path: str | None = Field(default=None, alias="json", description="JSONPath: $.user.orgId")
    header: str | None = None
    cookie: str | None = None
    form_field: str | None = Field(default=None, description="An HTML input's name.")
    regex: str | None = Field(default=None, description="Group 1 (or the match) over the body.")
    secret: bool = Field(default=False, description="Hide the value in every output.")

    @model_validator(mode="before")
    @classmethod
    def _jsonpath_shorthand(cls, data: object) -> object:
        return {"json": data} if isinstance(data, str) else data  # "$.csrfToken"

    @model_validator(mode="after")
    def _one_source(self) -> Capture:
        sources = [self.json_path, self.header, self.cookie, self.form_field, self.regex]
        if sum(source is not None for source in sources) != 1:
            raise ValueError(
                "a capture takes exactly one of json, header, cookie, form_field, regex"
            )
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(
                    f"regex {json.dumps(self.regex)} does not compile: {exc}"
                ) from None
        if self.json_path is not None and not self.json_path.startswith("$"):
            raise ValueError(f"{json.dumps(self.json_path)} is not a JSONPath; start it with $")
        if self.json_path is not None:
            import jsonpath  # compiled now, so a bad one is found by `crawler check`

            try:
                jsonpath.compile(self.json_path)
            except jsonpath.JSONPathError as exc:
                problem = str(exc).splitlines()[0]
                raise ValueError(
                    f"{json.dumps(self.json_path)} is not a valid JSONPath: {problem}"
                ) from None
        return self


class Step(_Request):
    """One request of a login flow, whose answer may yield captured values."""

    _ABSOLUTE_URLS: ClassVar[bool] = True

    expect: ExpectField = Field(
        default=Expect(classes=(2, 3)), description="Default: any 2xx or 3xx."
    )
    capture: dict[str, Capture] = Field(default_factory=dict)


# --- flows ------------------------------------------------------------------------------------


class FlowStep(Check):
    """One step of a flow: a check, sent after the previous step, whose answer may yield
    captured values (`capture`, as login steps do) for the steps after it."""

    capture: dict[str, Capture] = Field(
        default_factory=dict, description="Values to keep from the answer, used as {name}."
    )
    always: bool = Field(
        default=False,
        description="Cleanup: sent even after an earlier step failed (when its values exist).",
    )


class Flow(BaseModel):
    """Ordered steps (create, read, update, delete ...), sent one after the other as each of
    its identities; a failed step SKIPs the rest except `always: true` steps."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    identities: tuple[str, ...] | None = Field(
        default=None, description="Run the flow as each of these (default: as checks do)."
    )
    only_env: tuple[str, ...] | None = Field(
        default=None, description="Run only when the run's --env is one of these."
    )
    steps: list[FlowStep] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _plain_list(cls, data: object) -> object:
        return {"steps": data} if isinstance(data, list) else data


IdentityKind = Literal[
    "anonymous", "bearer", "basic", "digest", "api_key", "login", "oauth2_client_credentials"
]

# The fields each kind needs (beyond kind, headers and cookies, which every kind may have).
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "anonymous": (),
    "bearer": ("token",),
    "basic": ("username", "password"),
    "digest": ("username", "password"),
    "api_key": ("name", "value"),
    "login": ("steps",),
    "oauth2_client_credentials": ("token_url", "client_id", "client_secret"),
}
_OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "api_key": ("in_",),
    "oauth2_client_credentials": ("scope",),
}


class Identity(BaseModel):
    """Who requests are sent as: a kind, its credentials, and static headers/cookies.

    The credentials never reach a repr, and their values join the redactor's secrets.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    kind: IdentityKind = "anonymous"
    token: str | None = Field(default=None, repr=False, description="bearer: the token.")
    username: str | None = Field(default=None, description="basic, digest: the user.")
    password: str | None = Field(
        default=None, repr=False, description="basic, digest: the password."
    )
    name: str | None = Field(default=None, description="api_key: header/parameter/cookie name.")
    value: str | None = Field(default=None, repr=False, description="api_key: the key.")
    in_: Literal["header", "query", "cookie"] = Field(default="header", alias="in")
    steps: tuple[Step, ...] | None = Field(default=None, description="login: the requests.")
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    scope: str | None = None
    headers: HeaderMap = Field(default_factory=dict)
    cookies: dict[str, str] = Field(default_factory=dict, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _user_alias(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        if "user" in data and "username" not in data:
            data = {**data, "username": data["user"]}
            del data["user"]
        credentials = (
            "token",
            "username",
            "password",
            "value",
            "client_id",
            "client_secret",
            "cookies",
        )
        return {k: _numbers_as_text(v) if k in credentials else v for k, v in data.items()}

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Identity:
        needed = _KIND_FIELDS[self.kind]
        missing = [f for f in needed if getattr(self, f) in (None, ())]
        if missing:
            raise ValueError(f"kind {self.kind} needs {', '.join(missing)}")
        allowed = {*needed, *_OPTIONAL_FIELDS.get(self.kind, ())}
        stray = [
            f
            for f in (
                "token",
                "username",
                "password",
                "name",
                "value",
                "steps",
                "token_url",
                "client_id",
                "client_secret",
                "scope",
            )
            if getattr(self, f) is not None and f not in allowed
        ]
        if stray:
            raise ValueError(f"kind {self.kind} does not use {', '.join(stray)}")
        return self

    def empty_credentials(self) -> list[str]:
        """The credentials this kind needs that are empty (`${API_TOKEN:-}` with it unset)."""
        return [f for f in _KIND_FIELDS[self.kind] if getattr(self, f) == ""]

    def secrets(self) -> list[str]:
        """Every credential value this identity holds (for the redactor)."""
        values = [self.token, self.password, self.value, self.client_secret]
        values += list(self.cookies.values())
        if self.kind == "basic" and self.password:
            # What is sent: `Authorization: Basic base64(user:password)`, which servers echo.
            pair = f"{self.username}:{self.password}".encode()
            values.append(base64.b64encode(pair).decode())
        return [v for v in values if v]


class Group(BaseModel):
    """A group's checks, and the identities they run as unless a check names its own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    identities: tuple[str, ...] | None = None
    known: Known | None = Field(
        default=None, description="A known failure of every check in the group."
    )
    checks: list[Check] = Field(min_length=1)
    # Latency SLO of the group's checks (replaces the defaults').
    slo: Slo | None = Field(default=None, description="Latency limits: {p95_ms: 100}.")

    @model_validator(mode="before")
    @classmethod
    def _plain_list(cls, data: object) -> object:
        return {"checks": data} if isinstance(data, list) else data


class InventorySource(BaseModel):
    """Where the backend's route inventory comes from, for diagnosing 404s.

    `openapi`: a path on the target (`/openapi.json`), an http(s) URL, or a file (relative to
    the manifest); `routes`: a route-list file (one `GET /api/users/{id}` per line).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    openapi: str | None = None
    routes: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> InventorySource:
        if (self.openapi is None) == (self.routes is None):
            raise ValueError("an inventory takes one of openapi or routes")
        return self


class Defaults(BaseModel):
    """Settings applied to every check unless the check or the command line overrides them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout: float = Field(default=10.0, gt=0, description="Seconds per check.")
    concurrency: int = Field(default=16, ge=1, le=1024, description="Requests in flight.")
    headers: HeaderMap = Field(default_factory=dict)
    identities: tuple[str, ...] | None = Field(
        default=None, description="Identities every check runs as (default: all defined)."
    )
    # Time bounds beyond `timeout` (reliability)
    connect_timeout: float | None = Field(
        default=None, gt=0, description="Seconds to connect (default: timeout)."
    )
    total_timeout: float | None = Field(
        default=None, gt=0, description="Seconds a whole check may take (default: 2 x timeout)."
    )
    # Network options; files are relative to the manifest's folder (see netconfig)
    ca_bundle: str | None = Field(
        default=None, description="PEM file of the CAs to trust (a private CA)."
    )
    cert: str | None = Field(default=None, description="Client certificate (PEM) for mTLS.")
    key: str | None = Field(default=None, description="The client certificate's key (PEM).")
    insecure: bool = Field(
        default=False, description="Do not verify TLS certificates (every report says so)."
    )
    proxy: str | None = Field(
        default=None,
        description="http(s):// proxy for every request (default: HTTPS_PROXY, NO_PROXY ...).",
    )

    # Latency SLO of every check unless its group or itself sets one.
    slo: Slo | None = Field(default=None, description="Latency limits: {p95_ms: 100}.")

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{json.dumps(value)} is not a proxy URL; write http://host:port")
        return value


def _base_url(value: str | None) -> str | None:
    problem = url_problem(value) if value is not None else None
    if problem:
        raise ValueError(f"{json.dumps(value)}: {problem}")
    return value.rstrip("/") if value else value


def _app_reference(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[\w.]+:[\w.]+", value):
        raise ValueError(f"{json.dumps(value)} is not an app reference such as package.module:app")
    return value


BaseUrl = Annotated[str | None, AfterValidator(_base_url)]
AppRef = Annotated[str | None, AfterValidator(_app_reference)]


class Environment(BaseModel):
    """A named deployment of the same API (`--env staging`): its target, and what differs there.

    ::

        environments:
          staging: {base_url: https://staging.example.com}
          production:
            base_url: https://api.example.com
            headers: {X-Env: prod}                  # merged over defaults.headers
            identities:                             # replace the manifest's admin here
              admin: {kind: bearer, token: "${PROD_ADMIN_TOKEN:-}"}

    The checks are the manifest's, so the runs of several environments merge into one matrix.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: BaseUrl = Field(default=None, description="This environment's deployment.")
    app: AppRef = Field(default=None, description="Or an ASGI/WSGI app (package.module:attr).")
    headers: HeaderMap = Field(
        default_factory=dict, description="Merged over defaults.headers in this environment."
    )
    identities: dict[str, Identity] = Field(
        default_factory=dict,
        description="Replace the manifest's identities of these names (other credentials here).",
    )
    # generated data: this environment's values of the manifest's vars
    vars: dict[str, Scalar] = Field(
        default_factory=dict, description="Override the manifest's vars in this environment."
    )

    @model_validator(mode="after")
    def _one_target(self) -> Environment:
        if self.base_url and self.app:
            raise ValueError("set base_url or app, not both")
        return self


class Manifest(BaseModel):
    """A validated manifest: the target and the checks, grouped, in file order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = Field(description="Manifest format version; always 1.")
    name: str
    base_url: BaseUrl = Field(default=None, description="A live deployment, e.g. https://…")
    app: AppRef = Field(default=None, description="An ASGI/WSGI app as package.module:attr.")
    defaults: Defaults = Field(default_factory=Defaults)
    identities: dict[str, Identity] = Field(
        default_factory=dict, description="Who checks are sent as; none means anonymous only."
    )
    inventory: InventorySource | None = Field(
        default=None, description="The backend's routes, to diagnose 404s against."
    )
    environments: dict[str, Environment] = Field(
        default_factory=dict, description="Named deployments `--env NAME` picks from."
    )
    groups: dict[str, Group] = Field(min_length=1)
    # flows and generated data: ordered steps, and values for `{name}` placeholders
    vars: dict[str, Scalar] = Field(
        default_factory=dict, description="Values for {name} placeholders (env: overrides)."
    )
    flows: dict[str, Flow] = Field(
        default_factory=dict, description="Ordered steps that share captured values."
    )

    # Values substituted from secret-named environment variables (API_TOKEN, ...), so the
    # redactor can remove them wherever they turn up. Never serialised, never in a repr.
    _secrets: tuple[str, ...] = PrivateAttr(default=())
    # The environment chosen by `for_environment` (`--env`), for `only_env`.
    _environment: str | None = PrivateAttr(default=None)

    @property
    def environment(self) -> str | None:
        """The environment this manifest was resolved for (`--env`), or None."""
        return self._environment

    @property
    def secrets(self) -> tuple[str, ...]:
        """Secret values from the environment and every identity's credentials."""
        every = [*self.identities.values()]
        every += [i for env in self.environments.values() for i in env.identities.values()]
        return (*self._secrets, *(v for i in every for v in i.secrets()))

    @property
    def identity_names(self) -> tuple[str, ...]:
        """The identities in manifest order; `anonymous` alone when none are defined."""
        return tuple(self.identities) or (ANONYMOUS,)

    @model_validator(mode="before")
    @classmethod
    def _drop_extensions(cls, data: object) -> object:
        # Top-level `x-...` keys are the user's own (e.g. YAML anchors to merge into checks).
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not str(k).startswith("x-")}
        return data

    @model_validator(mode="after")
    def _one_target(self) -> Manifest:
        if self.base_url and self.app:
            raise ValueError("set base_url or app, not both (the command line can override either)")
        return self

    def identity_problems(self) -> Iterator[tuple[Path_, str]]:
        """Identity names used but not defined, and expect maps that miss a runner.

        Checked by `loads`, which knows the line of each field.
        """
        known = set(self.identity_names)
        defined = f"(defined: {', '.join(self.identity_names)})"

        def unknown(names: Iterable[str], where: Path_) -> Iterator[tuple[Path_, str]]:
            for name in names:
                if name not in known:
                    yield where, f"unknown identity {name} {defined}"

        if self.defaults.identities:
            yield from unknown(self.defaults.identities, ("defaults", "identities"))
        for env_name, env in self.environments.items():
            for name in env.identities:
                if name not in self.identities:
                    yield (
                        ("environments", env_name, "identities", name),
                        f"unknown identity {name}: an environment replaces identities the "
                        f"manifest defines {defined}",
                    )
        for group_name, group in self.groups.items():
            if group.identities:
                yield from unknown(group.identities, ("groups", group_name, "identities"))
            for index, check in enumerate(group.checks):
                where: Path_ = ("groups", group_name, "checks", index)
                if check.identities:
                    yield from unknown(check.identities, (*where, "identities"))
                if isinstance(check.expect, dict):
                    yield from unknown(check.expect, (*where, "expect"))
                    for name in self._runs_as(group, check):
                        if name not in check.expect:
                            yield (*where, "expect"), f"runs as {name} but expects nothing of it"

    def _runs_as(self, group: Group, check: Check) -> tuple[str, ...]:
        """Identities a check is sent as: its own, else its expect map's, its group's,
        the defaults', else every identity defined."""
        if check.identities:
            return check.identities
        if isinstance(check.expect, dict):
            return tuple(check.expect)
        return group.identities or self.defaults.identities or self.identity_names

    def for_environment(self, name: str) -> Manifest:
        """This manifest as deployed in environment `name` (`--env`): the environment's
        target (if it names one) replaces the manifest's, its headers are merged over
        `defaults.headers`, its identities replace the manifest's of the same names.

        Raises `UsageError` listing the environments when `name` is not one of them.
        """
        env = self.environments.get(name)
        if env is None:
            if not self.environments:
                raise UsageError(
                    f"--env {name}: the manifest defines no environments; add an "
                    "`environments:` map such as {staging: {base_url: https://...}}."
                )
            defined = ", ".join(self.environments)
            raise UsageError(f"--env {name}: no such environment; the manifest defines {defined}.")
        update: dict[str, Any] = {
            "identities": {**self.identities, **env.identities},
            "defaults": self.defaults.model_copy(
                update={"headers": {**self.defaults.headers, **env.headers}}
            ),
        }
        if env.base_url or env.app:
            update |= {"base_url": env.base_url, "app": env.app}
        update["vars"] = {**self.vars, **env.vars}  # environments: its vars win
        resolved = self.model_copy(update=update)  # private secrets are copied along
        resolved._environment = name
        return resolved

    def planned(self, default_timeout: float | None = None) -> list[PlannedCheck]:
        """Every check in file order, with the defaults applied.

        `default_timeout` (the command line's `--timeout`) replaces `defaults.timeout`;
        a check's own `timeout` still wins over both.
        """
        return list(self._plan(default_timeout or self.defaults.timeout))

    def _plan(self, default_timeout: float) -> Iterator[PlannedCheck]:
        values = self.values
        for group_name, group in self.groups.items():
            for index, check in enumerate(group.checks):
                if not self.in_environment(check.only_env):  # environments: only_env
                    continue
                for identity in self._runs_as(group, check):
                    yield PlannedCheck(
                        group=group_name,
                        index=index,
                        check=check,
                        headers=(
                            {**self.defaults.headers, **check.headers}
                            if self.defaults.headers or check.headers
                            else _NO_HEADERS  # shared, never written to
                        ),
                        timeout=check.timeout or default_timeout,
                        identity=identity,
                        known=check.known or group.known,
                        connect_timeout=check.connect_timeout or self.defaults.connect_timeout,
                        total_timeout=check.total_timeout or self.defaults.total_timeout,
                        values=values,
                        slo=check.slo or group.slo or self.defaults.slo,
                    )

    # --- environments, generated data and flows ---------------------------------------------

    def in_environment(self, only_env: tuple[str, ...] | None) -> bool:
        """Whether something limited to `only_env` runs here: always when unlimited, else
        only when the manifest was resolved for one of those environments (`--env`)."""
        return only_env is None or self._environment in only_env

    @property
    def values(self) -> dict[str, str]:
        """The `vars` as the text `{name}` placeholders are filled with."""
        return {name: scalar_text(value) for name, value in self.vars.items()}

    def planned_flows(self, default_timeout: float | None = None) -> list[PlannedFlow]:
        """Every flow x identity it runs as, in file order (flows left out by `only_env`
        are not planned). Each step is a `PlannedCheck` whose group is the flow's name and
        whose index is the step's position."""
        timeout = default_timeout or self.defaults.timeout
        values = self.values
        planned = []
        for name, flow in self.flows.items():
            if not self.in_environment(flow.only_env):
                continue
            for identity in self.flow_identities(flow):
                steps = tuple(
                    PlannedCheck(
                        group=name,
                        index=index,
                        check=step,
                        headers={**self.defaults.headers, **step.headers},
                        timeout=step.timeout or timeout,
                        identity=identity,
                        known=step.known,
                        values=values,
                        connect_timeout=step.connect_timeout or self.defaults.connect_timeout,
                        total_timeout=step.total_timeout or self.defaults.total_timeout,
                        slo=step.slo or self.defaults.slo,
                    )
                    for index, step in enumerate(flow.steps)
                )
                planned.append(PlannedFlow(name=name, identity=identity, steps=steps))
        return planned

    def flow_identities(self, flow: Flow) -> tuple[str, ...]:
        """Who a flow runs as: its own identities, else the defaults', else all."""
        return flow.identities or self.defaults.identities or self.identity_names

    def flow_problems(self) -> Iterator[tuple[Path_, str]]:
        """Flows that cannot work as written, and unknown environments and vars: checked by
        `loads`, which knows the line of each field."""
        known = set(self.identity_names)
        defined = f"(defined: {', '.join(self.identity_names)})"
        environments = set(self.environments)
        for name in self.vars:
            if name in GENERATED:
                yield ("vars", name), f"{name} is a generated value; choose another name"
        for env_name, env in self.environments.items():
            for name in env.vars:
                if name in GENERATED:
                    yield (
                        ("environments", env_name, "vars", name),
                        f"{name} is a generated value; choose another name",
                    )

        def env_problems(only: tuple[str, ...] | None, where: Path_) -> Iterator[tuple[Path_, str]]:
            for env_name in only or ():
                if env_name not in environments:
                    listed = ", ".join(self.environments) or "none"
                    yield where, f"unknown environment {env_name} (defined: {listed})"

        for group_name, group in self.groups.items():
            for index, check in enumerate(group.checks):
                where: Path_ = ("groups", group_name, "checks", index, "only_env")
                yield from env_problems(check.only_env, where)
        login_captures = {
            capture
            for identity in self.identities.values()
            for step in identity.steps or ()
            for capture in step.capture
        }
        for flow_name, flow in self.flows.items():
            at: Path_ = ("flows", flow_name)
            if flow_name in self.groups:
                yield at, f"flow {flow_name} has the name of a group; name it differently"
            yield from env_problems(flow.only_env, (*at, "only_env"))
            for name in flow.identities or ():
                if name not in known:
                    yield (*at, "identities"), f"unknown identity {name} {defined}"
            available = {*self.vars, *GENERATED, *login_captures}
            for env in self.environments.values():
                available |= set(env.vars)
            for index, step in enumerate(flow.steps):
                where = (*at, "steps", index)
                if step.identities is not None:
                    yield (
                        (*where, "identities"),
                        "a step runs as its flow's identities; set identities on the flow",
                    )
                if step.only_env is not None:
                    yield (*where, "only_env"), "set only_env on the flow, not on a step"
                if isinstance(step.expect, dict):
                    for identity in self.flow_identities(flow):
                        if identity not in step.expect:
                            yield (
                                (*where, "expect"),
                                f"runs as {identity} but expects nothing of it",
                            )
                for used in request_placeholders(step):
                    if used not in available:
                        yield (
                            where,
                            f"uses {{{used}}}, which no earlier step captures (nor vars, a "
                            "login or a generated value: uuid, random_int, timestamp, run_id)",
                        )
                available |= set(step.capture)


@dataclass(frozen=True, slots=True)  # slots: one per check and identity, 100,000s of them
class PlannedCheck:
    """A check ready to send: its group, position and effective headers and timeout."""

    group: str
    index: int
    check: Check
    headers: dict[str, str]
    timeout: float
    identity: str = "anonymous"
    known: Known | None = None
    # Separate time bounds (None: connect within `timeout`, the whole check within twice it)
    connect_timeout: float | None = None
    total_timeout: float | None = None

    @property
    def whole_timeout(self) -> float:
        """Seconds the whole check may take, connecting to the last byte of the body."""
        return self.total_timeout or 2 * self.timeout

    # generated data: the manifest's vars (and the run's run_id) for `{name}` placeholders
    values: Mapping[str, str] = dataclass_field(default_factory=dict, compare=False)
    # The latency SLO that applies (check's, else group's, else defaults').
    slo: Slo | None = None

    @property
    def field(self) -> str:
        return f"groups.{self.group}[{self.index}]"

    @property
    def expect(self) -> Expect:
        return self.check.expect_for(self.identity)


@dataclass(frozen=True)
class PlannedFlow:
    """A flow ready to run as one identity: its steps, in order (see `Manifest.planned_flows`)."""

    name: str
    identity: str
    steps: tuple[PlannedCheck, ...]


# Placeholders whose values the crawler makes up (see crawler/values.py).
GENERATED = frozenset({"uuid", "random_int", "timestamp", "run_id"})

_PLACEHOLDER_NAME = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def scalar_text(value: Scalar) -> str:
    """A scalar as it is written into a path, query, form or header: YAML `true` is the
    word true, not Python's "True"."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


def strings_in(data: Any) -> Iterator[str]:
    """Every string in a JSON-like value (a request body), depth first."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from strings_in(value)
    elif isinstance(data, list):
        for item in data:
            yield from strings_in(item)


def request_placeholders(check: Check) -> list[str]:
    """The `{name}` placeholders a check's request uses (path, query, headers, body)."""
    texts = [check.path, *check.headers.values(), *map(str, check.query.values())]
    texts += strings_in(check.json_body)
    texts += [str(value) for value in (check.form or {}).values()]
    names = (m[1] for text in texts for m in _PLACEHOLDER_NAME.finditer(text) if m[1])
    return list(dict.fromkeys(names))


def json_schema() -> dict[str, Any]:
    """The manifest's JSON Schema, accepting the one-line string form of a check too."""
    schema = Manifest.model_json_schema(by_alias=True)
    shorthand = {
        "type": "string",
        "description": 'One-line check: "GET /api/path -> 200" or "POST /x -> 200|201".',
        "pattern": r"^\s*([A-Za-z]+\s+)?/\S*\s*(->\s*\S+)?\s*$",
    }
    check = {"anyOf": [{"$ref": "#/$defs/Check"}, shorthand]}
    schema["$defs"]["Group"]["properties"]["checks"]["items"] = check
    schema["properties"]["groups"]["additionalProperties"] = {
        "anyOf": [{"$ref": "#/$defs/Group"}, {"type": "array", "items": check, "minItems": 1}]
    }
    # flows: a step may be one line too, and a flow a plain list of steps
    step = {"anyOf": [{"$ref": "#/$defs/FlowStep"}, shorthand]}
    schema["$defs"]["Flow"]["properties"]["steps"]["items"] = step
    schema["properties"]["flows"]["additionalProperties"] = {
        "anyOf": [{"$ref": "#/$defs/Flow"}, {"type": "array", "items": step, "minItems": 1}]
    }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "crawler manifest"
    return schema


# --- loading -------------------------------------------------------------------------------

Path_ = tuple[str | int, ...]

_ENV = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


Environ = dict[str, str] | os._Environ[str]


def substitute_env(text: str, environ: Environ, secrets: list[str] | None = None) -> str:
    """Replace `${VAR}` and `${VAR:-default}` (default when unset or empty); `$$` is a `$`.

    Values of secret-named variables (`API_TOKEN`, `DB_PASSWORD` ...) are appended to
    `secrets`, defaults too (`${API_PASSWORD:-hunter2}`). Raises `KeyError(name)` for an
    unset variable without a default.
    """

    def replace(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name, default = match[1], match[2]
        value = environ.get(name)
        secret = bool(SECRET_ENV_NAME.search(name.upper()))
        if value:
            if secret and secrets is not None:
                secrets.append(value)
            return value
        if default is not None:
            if secret and default and secrets is not None:
                secrets.append(default)
            return default
        if value is not None:
            return value
        raise KeyError(name)

    return _ENV.sub(replace, text)


def format_field(path: Path_) -> str:
    """`("groups", "Billing", 3, "expect")` -> `groups.Billing[3].expect`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


# More values than any real manifest has: stops "billion laughs" alias expansion.
MAX_NODES = 2_000_000


class _TooBig(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


class _Reader:
    """Turns a YAML node tree into plain data, remembering the line of every value."""

    def __init__(self, file: str, loader: yaml.SafeLoader, environ: Environ):
        self.file = file
        self.loader = loader
        self.environ = environ
        self.secrets: list[str] = []
        self.lines: dict[Path_, int] = {}
        self.issues: list[ManifestIssue] = []
        self.nodes = 0
        self.open: set[int] = set()

    def read(self, node: yaml.Node, path: Path_) -> Any:
        self.lines[path] = node.start_mark.line + 1
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooBig(node)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self.open:  # an alias inside itself: `a: &x [*x]`
                self.issue(node, path, "an alias refers to itself; YAML anchors cannot nest so")
                return None
            self.open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, path)
                return [self.read(item, (*path, i)) for i, item in enumerate(node.value)]
            finally:
                self.open.discard(id(node))
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        # Duplicates are looked for among the keys written here; keys merged in with
        # `<<: *base` come first and may be overridden, as YAML intends.
        explicit = [k for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"]
        merged = len(node.value) - len(explicit) > 0
        self.loader.flatten_mapping(node)
        first_own = len(node.value) - len(explicit) if merged else 0
        result: dict[Any, Any] = {}
        own: set[Any] = set()
        for position, (key_node, value_node) in enumerate(node.value):
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                self.issue(key_node, path, f"a key must be a plain word, not {type(key).__name__}")
                continue
            key = key if isinstance(key, str) else str(key)  # `2024:` names a group "2024"
            if position >= first_own:
                if key in own:
                    self.issue(key_node, (*path, key), "duplicate key; each key may appear once")
                own.add(key)
            result[key] = self.read(value_node, (*path, key))
        return result

    def _scalar(self, node: yaml.Node, path: Path_) -> Any:
        value = self.loader.construct_object(node, deep=True)
        if isinstance(value, str):
            try:
                return substitute_env(value, self.environ, self.secrets)
            except KeyError as missing:
                name = missing.args[0]
                self.issue(
                    node,
                    path,
                    f"environment variable {name} is not set and has no default; "
                    f"export {name}=... or write ${{{name}:-default}}",
                )
        return value

    def issue(self, node: yaml.Node, path: Path_, message: str) -> None:
        self.issues.append(
            ManifestIssue(self.file, node.start_mark.line + 1, format_field(path), message)
        )


def load(path: str | Path, environ: dict[str, str] | None = None) -> Manifest:
    """Read and validate a manifest file; raise `ManifestError` naming file, line and field."""
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ManifestError([ManifestIssue(file, None, "", "no such file")]) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ManifestError([ManifestIssue(file, None, "", f"cannot be read: {reason}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = f"not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        raise ManifestError([ManifestIssue(file, line, "", message)]) from None
    return loads(text, file, environ)


# libyaml's parser when installed (10x faster on big manifests); its nodes carry lines too.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def loads(text: str, file: str = "<manifest>", environ: dict[str, str] | None = None) -> Manifest:
    """Validate manifest text (YAML or JSON, which is YAML too). See `load`."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ManifestError([ManifestIssue(file, None, "", "the file is empty")])
        reader = _Reader(file, loader, os.environ if environ is None else environ)
        data = reader.read(node, ())
    except _TooBig as big:
        line = big.node.start_mark.line + 1
        message = f"more than {MAX_NODES:,} values (aliases expanding without end?)"
        raise ManifestError([ManifestIssue(file, line, "", message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ManifestError([ManifestIssue(file, line, "", f"not valid YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise ManifestError([ManifestIssue(file, None, "", f"not valid YAML: {exc}")]) from None
    except RecursionError:  # `[[[[...]]]]` thousands deep: no manifest is like that
        message = "nested too deeply to be a manifest; check the file"
        raise ManifestError([ManifestIssue(file, None, "", message)]) from None
    finally:
        loader.dispose()
    if reader.issues:
        raise ManifestError(reader.issues)
    if not isinstance(data, dict):
        raise ManifestError(
            [ManifestIssue(file, 1, "", "a manifest is a mapping with version, name and groups")]
        )
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(_issues(exc, data, reader.lines, file)) from None
    problems = []
    every = [*manifest.identity_problems(), *manifest.flow_problems()]  # flows: checked too
    for path, message in every:
        located = _data_path(path, data)  # a list-form group has no "checks" level
        line = _line_of(located, reader.lines)
        problems.append(ManifestIssue(file, line, format_field(located), message))
    if problems:
        raise ManifestError(problems)
    manifest._secrets = tuple(reader.secrets)
    return compact(manifest)  # shared field sets: 100,000 checks fit in memory (compact.py)


def _issues(
    exc: ValidationError, data: Any, lines: dict[Path_, int], file: str
) -> list[ManifestIssue]:
    issues = []
    for error in exc.errors():
        path = _data_path(error["loc"], data)
        line = _line_of(path, lines)
        issues.append(ManifestIssue(file, line, format_field(path), _message(error, path)))
    return issues


def _line_of(path: Path_, lines: dict[Path_, int]) -> int | None:
    """The line of `path` in the file, or of its nearest ancestor that has one."""
    return next((lines[path[:n]] for n in range(len(path), -1, -1) if path[:n] in lines), None)


# Parts of a pydantic error location that name a union member, not a field.
_UNION_TAGS = ("function-", "json-", "str", "int", "float", "bool", "list", "dict")


def _data_path(loc: tuple[int | str, ...], data: Any) -> Path_:
    """Keep the parts of a pydantic location that exist in the data (drops union tags)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif (
            isinstance(part, str)
            and not isinstance(node, list)
            and not part.startswith(_UNION_TAGS)
        ):
            path.append(part)  # a missing field, or one inside a one-line check: name it
            break
        else:
            continue  # a union member's tag, not a place in the file
        path.append(part)
    return tuple(path)


_MODELS: dict[str, type[BaseModel]] = {"defaults": Defaults}


def _model_at(path: Path_) -> type[BaseModel]:
    """The model an unknown field at `path` was written in (whose fields are allowed there)."""
    if path[:1] == ("groups",) and "assert" in path:  # body assertions
        return JsonCondition if "json" in path[path.index("assert") :] else Assertions
    if "slo" in path[:-1]:  # latency SLO limits, wherever they are set
        return Slo
    if path[:1] == ("groups",):
        # groups.G.colour is in a group; groups.G[0].colour, groups.G.checks[0].x in a check.
        return Group if len(path) == 3 else Check
    if path[:1] == ("flows",):  # flows: flows.F.x, flows.F.steps[0].x, ...capture.c.x
        if "capture" in path:
            return Capture
        return Flow if len(path) == 3 else FlowStep
    if path[:1] == ("environments",):
        if path[2:3] != ("identities",):
            return Environment
        path = path[2:]  # an environment's identities are identities
    if path[:1] == ("identities",):
        inside = path[2:]  # past the identity's name
        if "capture" in inside:
            return Capture
        return Step if "steps" in inside else Identity
    if path and isinstance(path[0], str) and path[0] in _MODELS:
        return _MODELS[path[0]]
    return Manifest


# Identity fields whose values are credentials: never repeated in an error message.
_CREDENTIAL_FIELDS = frozenset({"token", "password", "value", "client_secret", "cookies"})


def _credential_at(path: Path_) -> bool:
    """Whether the value at `path` may be a credential (`identities.x.password`,
    `...form.password`, `headers.Authorization`)."""
    if path[:1] == ("environments",) and path[2:3] == ("identities",):
        path = path[2:]  # an environment's identities are identities
    if path[:1] == ("identities",) and path[2:3] and path[2] in _CREDENTIAL_FIELDS:
        return True
    return bool(path) and isinstance(path[-1], str) and is_secret_name(path[-1])


def _message(error: Any, path: Path_) -> str:
    kind = error["type"]
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "missing":
        return "required field is missing"
    if kind == "too_short":
        what = "a group needs at least one check" if len(path) == 2 else "at least one is needed"
        if path[:1] == ("flows",) and len(path) == 2:  # flows
            what = "a flow needs at least one step"
        return f"{json.dumps(error.get('input'), default=str)} is empty; {what}"
    if kind == "extra_forbidden":
        model = _model_at(path)
        allowed = ", ".join(f.alias or n for n, f in model.model_fields.items())
        return f"unknown field; allowed here: {allowed}"
    shown = json.dumps(error.get("input"), default=str)
    if _credential_at(path):
        shown = "the value (not shown: a credential)"
    if kind == "literal_error" and path == ("version",):
        return f"{shown} is not a supported version; use version: 1"
    if kind == "literal_error" and path[-1:] == ("method",):
        return f"{shown} is not a method; use one of {', '.join(METHODS)}"
    return f"{shown}: {error['msg'][0].lower()}{error['msg'][1:]}"
