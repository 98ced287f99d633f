"""`crawler import openapi`: an OpenAPI 3.x or Swagger 2 document turned into a manifest to review.

Pure: `convert(document, ...)` (and its shorthand `build_manifest`) returns YAML text that
`crawler.manifest.loads` accepts; reading the document is `read_spec`, whose network fetch
is injected by the caller (the CLI passes one built on `engine.fetch_text`).

What the manifest says, per operation, in document order:

- one check, in the group of the operation's first tag, else of its first path segment after
  `/api` (and a version such as `/v1`); named by its `summary`, else its `operationId`;
- `expect`: the first documented 2xx, else the lowest documented status (`default` ignored);
  for an operation that requires security, a map `{<identity>: <2xx>, anonymous: 401}`;
- path parameters (and required query and header parameters) from the parameter's example,
  examples, or its schema's example/default/enum; otherwise the placeholder `{TODO_<name>}`,
  which `crawler check` reports and `crawler run` SKIPs (`capture TODO_<name> missing`);
- a JSON (or form) body from the media type's example, else none and a comment saying so;
- POST/PUT/PATCH/DELETE never `safe`, tagged `mutation`: the mutation guard applies.

Security schemes become identity stubs whose credentials come from the environment
(`${API_TOKEN}` ...). Paths keep the server's base path (`/v2/pet`), so `base_url` is the
server's origin only (`${BASE_URL:-https://petstore.swagger.io}`).

>>> text = build_manifest({"openapi": "3.0.3", "info": {"title": "T", "version": "1"},
...     "paths": {"/api/health": {"get": {"responses": {"200": {"description": "OK"}}}}}})
>>> print(text[text.index("version:"):], end="")
version: 1
name: T
base_url: ${BASE_URL:-http://127.0.0.1:8000}
groups:
  health:
    - method: GET
      path: /api/health
      expect: 200
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain, count
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus, urljoin, urlsplit

import yaml

from crawler import manifest, redact
from crawler.errors import CrawlerError, ManifestError
from crawler.manifest import ANONYMOUS, SAFE_METHODS, Check, url_problem
from crawler.redact import is_secret_name
from crawler.routes import load_document, module_of

# Where a document names no server, the manifest still needs a valid URL to validate.
FALLBACK_BASE_URL = "http://127.0.0.1:8000"

TODO_PREFIX = "TODO_"
MUTATION_TAG = "mutation"

# The methods a manifest can send (TRACE cannot be a check), in OpenAPI's spelling.
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")

# The `{name}` grammar of `crawler.auth.fill` (`{{` and `}}` are literal braces), reduced to
# the placeholders this importer writes.
_TODO = re.compile(r"\{\{|\}\}|\{(" + TODO_PREFIX + r"[A-Za-z0-9_]*)\}")

# Header parameters OpenAPI says to ignore: the client and the identity set them.
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})

_JSON_MEDIA = re.compile(r"^application/(?:[\w.+-]*\+)?json\b", re.IGNORECASE)
_FORM_MEDIA = "application/x-www-form-urlencoded"

# Comments above a check whose documented body has no example: it is sent without one.
_NO_JSON_EXAMPLE = "no example for the JSON body: add `json:` with a real one"
_NO_FORM_EXAMPLE = "no example for the form body: add `form:` with real fields"

# Nothing found: distinct from a documented `null` or `false`.
_MISSING = object()

Fetch = Callable[[str], str]


class SpecError(CrawlerError):
    """The OpenAPI document cannot be read, or describes nothing to check (exit 2)."""


# --- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """A parsed document and where it came from (a file path or the URL it was fetched from)."""

    document: dict[str, Any]
    source: str


def is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def read_spec(spec: str, fetch: Fetch) -> Spec:
    """Read SPEC, a file or an http(s) URL (got through `fetch`, which raises `CrawlerError`)."""
    if is_url(spec):
        text = fetch(spec)
    else:
        try:
            text = Path(spec).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SpecError(
                f"{spec}: no such file; pass an OpenAPI file or an http(s) URL."
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"{spec}: cannot be read ({exc}).") from None
    return Spec(parse_spec(text, redact.url(spec) if is_url(spec) else spec), spec)


def parse_spec(text: str, source: str) -> dict[str, Any]:
    """An OpenAPI 3.x or Swagger 2 document from JSON or YAML text, or `SpecError`."""
    try:
        document = load_document(text, source)
    except CrawlerError as exc:
        raise SpecError(str(exc)) from None
    version = str(document.get("openapi") or document.get("swagger") or "")
    if not (version.startswith("3.") or version.startswith("2.")):
        raise SpecError(
            f"{source}: not an OpenAPI document (no `openapi: 3.x` or `swagger: 2.0` field)."
        )
    if not isinstance(document.get("paths"), Mapping):
        raise SpecError(f"{source}: the document has no `paths`, so nothing to check.")
    return document


# --- the result -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Imported:
    """A generated manifest and what a person should know about it."""

    text: str
    checks: int
    groups: int
    todo_checks: int
    mutations: int
    env: tuple[str, ...]  # environment variables the identity stubs read


def build_manifest(
    document: Mapping[str, Any],
    *,
    name: str | None = None,
    base_url: str | None = None,
    source: str | None = None,
) -> str:
    """The manifest text for `document`. See `convert`."""
    return convert(document, name=name, base_url=base_url, source=source).text


def convert(
    document: Mapping[str, Any],
    *,
    name: str | None = None,
    base_url: str | None = None,
    source: str | None = None,
) -> Imported:
    """Turn an OpenAPI 3.x / Swagger 2 document into manifest YAML (see the module docstring).

    `name` defaults to the document's title; `base_url` (an origin such as
    `https://api.example.com`) to the document's first server. `source` is where the
    document came from, for the header; when it is the URL the document was fetched from,
    it also resolves relative server URLs and, when the target served it, becomes the
    manifest's `inventory: {openapi: <path>}`.
    """
    try:
        return _convert(document, name=name, base_url=base_url, source=source)
    except RecursionError:  # a document that parsed, nested deeper than any real one
        shown = redact.url(source) if source and is_url(source) else source
        raise SpecError(
            f"{shown or 'the document'}: nested too deeply to turn into a manifest; "
            "check the document's examples and schemas."
        ) from None


def _convert(
    document: Mapping[str, Any],
    *,
    name: str | None,
    base_url: str | None,
    source: str | None,
) -> Imported:
    """See `convert`."""
    spec_url = source if source and is_url(source) else None
    if spec_url is not None and _bad_url(spec_url):
        spec_url = None
    source = redact.url(source) if source and is_url(source) else source  # shown from here on
    doc = _Document(document)
    origin, prefix = _server(document, spec_url)
    if base_url:
        origin = base_url.rstrip("/")
    identities = _identities(doc, prefix)
    runners = {scheme: stub.name for scheme, stub in identities.items()}
    operations = list(_operations(doc))
    entries = [_check(doc, op, prefix, runners) for op in operations if op.method in _METHODS]
    if not entries:
        raise SpecError(f"{source or 'the document'}: no operations to check under `paths`.")
    groups: dict[str, list[_Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.group, []).append(entry)
    # Only the identities some check runs as: an unused stub would still need its variables.
    used = {
        who
        for entry in entries
        if isinstance(entry.data["expect"], dict)
        for who in entry.data["expect"]
    }
    stubs = [stub for stub in identities.values() if stub.name in used]
    notes = list(doc.scheme_notes)
    if note := _credential_note(spec_url):
        notes.append(note)
    notes += [
        f"security scheme {s.name} is required by no operation: no identity for it"
        for s in identities.values()
        if s.name not in used
    ]

    head: dict[str, Any] = {
        "version": 1,
        "name": _env_literal(name or _title(document)),
        "base_url": "${BASE_URL:-" + (origin or FALLBACK_BASE_URL) + "}",
    }
    if stubs:
        # Public operations run anonymously; secured ones as the identities their map names.
        head["defaults"] = {"identities": [ANONYMOUS]}
    env = tuple(dict.fromkeys(var for stub in stubs for var in stub.env))
    todo_checks = sum(1 for entry in entries if entry.todos)
    mutations = sum(1 for entry in entries if entry.mutation)
    header = _header(
        document,
        source=source,
        origin=origin,
        prefix=prefix,
        checks=len(entries),
        groups=len(groups),
        todo_checks=todo_checks,
        mutations=mutations,
        env=env,
        notes=notes,
        skipped=[
            f"{op.method.upper()} {op.path}" for op in operations if op.method not in _METHODS
        ],
    )
    text = header + _render(head, stubs, _inventory_path(spec_url, origin), groups)
    try:
        manifest.loads(text, "<generated>", environ=dict.fromkeys(env, "placeholder"))
    except ManifestError as exc:  # a shape of document this importer does not handle yet
        raise SpecError(
            f"{source or 'the document'}: the manifest made from it does not validate ({exc}); "
            "please report this, with the document, as a bug in crawler."
        ) from None
    return Imported(text, len(entries), len(groups), todo_checks, mutations, env)


def _render(
    head: dict[str, Any],
    stubs: list[_Stub],
    inventory: str | None,
    groups: dict[str, list[_Entry]],
) -> str:
    """The manifest's YAML, with a comment above each identity and check that needs one."""
    parts = [_dump(head)]
    if stubs:
        parts.append("identities:\n")
        for stub in stubs:
            parts.append(_comment(stub.notes, 2) + _dump({stub.name: stub.data}, 2))
        parts.append(_dump({ANONYMOUS: {"kind": "anonymous"}}, 2))
    if inventory:
        parts.append("# The target serves this document: 404s are diagnosed against it.\n")
        parts.append(_dump({"inventory": {"openapi": _env_literal(inventory)}}))
    parts.append("groups:\n")
    for group, members in groups.items():
        parts.append(_key(group, 2))
        for entry in members:
            parts.append(_comment(entry.notes, 4) + _dump([entry.data], 4, flow_from=2))
    return "".join(parts)


def unresolved(check: Check) -> list[str]:
    """The `{TODO_name}` placeholders left in a check (path, query, headers, body), in order."""
    texts = [check.path, *map(str, check.query.values()), *check.headers.values()]
    texts += [str(v) for v in (check.form or {}).values()]
    texts += list(manifest.strings_in(check.json_body))
    names = [m[1] for text in texts for m in _TODO.finditer(text) if m[1]]
    return list(dict.fromkeys(names))


# --- the document ---------------------------------------------------------------------------------


class _Document:
    """The document with its local `$ref`s resolvable, and notes on what could not be used."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.swagger2 = "swagger" in data
        self.scheme_notes: list[str] = []

    def resolve(self, node: Any) -> Any:
        """`node`, or what its local `$ref` points to (following chains; external: None)."""
        seen: set[str] = set()
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#/") or ref in seen:
                return None
            seen.add(ref)
            node = self._pointer(ref)
        return node

    def _pointer(self, ref: str) -> Any:
        node: Any = self.data
        for raw in ref[2:].split("/"):
            key = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                return None
        return node


@dataclass(frozen=True)
class _Operation:
    method: str  # lower case, as OpenAPI writes it
    path: str  # as the document writes it, without the server's base path
    operation: Mapping[str, Any]
    item: Mapping[str, Any]


def _operations(doc: _Document) -> Iterator[_Operation]:
    for path, raw in doc.data["paths"].items():
        item = doc.resolve(raw)
        if not isinstance(item, Mapping):
            continue
        for method, operation in item.items():
            if str(method).lower() in (*_METHODS, "trace") and isinstance(operation, Mapping):
                yield _Operation(str(method).lower(), str(path), operation, item)


def _title(document: Mapping[str, Any]) -> str:
    info = document.get("info")
    title = info.get("title") if isinstance(info, Mapping) else None
    return " ".join(str(title).split()) if title else "Imported API"


# --- target ---------------------------------------------------------------------------------------


def _server(document: Mapping[str, Any], spec_url: str | None) -> tuple[str | None, str]:
    """The first server's origin (None when unknown) and base path (`/v2`, or "")."""
    try:
        return _server_parts(document, spec_url)
    except ValueError:  # `http://[::1`: no URL at all, so no server is known
        return None, ""


def _server_parts(document: Mapping[str, Any], spec_url: str | None) -> tuple[str | None, str]:
    if "swagger" in document:
        host = document.get("host")
        schemes = document.get("schemes") or []
        if host:
            # Swagger 2: the document's own scheme when none is listed; https otherwise.
            scheme = str(schemes[0]) if schemes else urlsplit(spec_url or "https:").scheme
            url = f"{scheme}://{host}{document.get('basePath') or ''}"
        else:
            url = urljoin(spec_url or "", str(document.get("basePath") or "/"))
    else:
        servers = document.get("servers") or [{"url": "/"}]
        first = servers[0] if isinstance(servers, list) and servers else {}
        url = _server_url(first) if isinstance(first, Mapping) else "/"
        if spec_url:
            url = urljoin(spec_url, url)
    parts = urlsplit(url)
    prefix = parts.path.rstrip("/")
    # Never a user:password@ the document's URL had: BASE_URL is where one belongs.
    host = parts.netloc.rpartition("@")[2]
    origin = f"{parts.scheme}://{host}" if parts.scheme and host else None
    if origin is not None and ("}" in origin or url_problem(origin) is not None):
        origin = None
    return origin, prefix


def _bad_url(url: str) -> bool:
    try:
        urlsplit(url)
    except ValueError:
        return True
    return False


def _server_url(server: Mapping[str, Any]) -> str:
    """A server URL with its `{variables}` replaced by their defaults."""
    variables = server.get("variables") or {}

    def value(match: re.Match[str]) -> str:
        variable = variables.get(match[1]) if isinstance(variables, Mapping) else None
        if isinstance(variable, Mapping) and variable.get("default") is not None:
            return str(variable["default"])
        return match[0]

    return re.sub(r"\{([^}]*)\}", value, str(server.get("url") or "/"))


def _inventory_path(spec_url: str | None, origin: str | None) -> str | None:
    # Obvious only when the document was fetched from the target the manifest crawls.
    # Its credentials (user:password@, ?token=...) stay out of the manifest.
    if not spec_url or not origin:
        return None
    parts = urlsplit(spec_url)
    if f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" != origin:
        return None
    kept = [f for f in parts.query.split("&") if f and not _secret_field(f)]
    return (parts.path or "/") + ("?" + "&".join(kept) if kept else "")


def _secret_field(field: str) -> bool:
    return is_secret_name(unquote_plus(field.partition("=")[0]))


def _credential_note(spec_url: str | None) -> str | None:
    """A note for the reviewer when the document's URL carried credentials (not written)."""
    if not spec_url:
        return None
    parts = urlsplit(spec_url)
    found = ["a password"] if ":" in parts.netloc.rpartition("@")[0] else []
    found += [unquote_plus(f.partition("=")[0]) for f in parts.query.split("&") if _secret_field(f)]
    if not found:
        return None
    return (
        f"the document's URL carries credentials ({', '.join(found)}): not written here; "
        "set them where needed (BASE_URL, the inventory URL) from the environment"
    )


# --- identities -----------------------------------------------------------------------------------


@dataclass
class _Stub:
    name: str
    data: dict[str, Any]
    env: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)


class _EnvNames:
    """`API_TOKEN` for the first identity that needs one, `<SCHEME>_TOKEN` after that."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, scheme: str, base: str, plain: str) -> str:
        # What `${NAME}` accepts: ASCII letters, digits and _, not starting with a digit.
        words = re.sub(r"[^A-Za-z0-9]+", "_", scheme).strip("_").upper() or "SCHEME"
        own = f"{words}_{base}" if words[0].isalpha() else f"X_{words}_{base}"
        candidates = chain([plain, own], (f"{own}_{n}" for n in count(2)))
        name = next(c for c in candidates if c not in self.used)
        self.used.add(name)
        return name


def _identities(doc: _Document, prefix: str) -> dict[str, _Stub]:
    """An identity stub per usable security scheme, keyed by the scheme's name."""
    if doc.swagger2:
        schemes = doc.data.get("securityDefinitions") or {}
    else:
        components = doc.data.get("components") or {}
        schemes = components.get("securitySchemes") or {} if isinstance(components, Mapping) else {}
    if not isinstance(schemes, Mapping):
        return {}
    env = _EnvNames()
    stubs: dict[str, _Stub] = {}
    for scheme, raw in schemes.items():
        definition = doc.resolve(raw)
        if not isinstance(definition, Mapping):
            continue
        name = str(scheme) if str(scheme) != ANONYMOUS else f"{scheme}_scheme"
        stub = _stub(name, definition, env, prefix)
        if stub is None:
            doc.scheme_notes.append(
                f"security scheme {scheme} ({_describe(definition)}) has no identity kind: "
                "its operations are checked as anonymous only"
            )
        else:
            stubs[str(scheme)] = stub
    return stubs


def _describe(definition: Mapping[str, Any]) -> str:
    return " ".join(str(definition.get(k)) for k in ("type", "scheme") if definition.get(k))


def _stub(name: str, definition: Mapping[str, Any], env: _EnvNames, prefix: str) -> _Stub | None:
    kind = str(definition.get("type", "")).lower()
    http_scheme = str(definition.get("scheme", "")).lower()
    if (kind == "http" and http_scheme == "bearer") or kind == "openidconnect":
        token = env(name, "TOKEN", "API_TOKEN")
        note = f"{name}: a bearer token; export {token}"
        if kind == "openidconnect":
            note += " (an OpenID Connect token obtained elsewhere)"
        return _Stub(name, {"kind": "bearer", "token": f"${{{token}:-}}"}, (token,), [note])
    if (kind == "http" and http_scheme == "basic") or kind == "basic":
        user, password = env(name, "USER", "API_USER"), env(name, "PASSWORD", "API_PASSWORD")
        data = {"kind": "basic", "username": f"${{{user}:-}}", "password": f"${{{password}:-}}"}
        return _Stub(
            name, data, (user, password), [f"{name}: basic auth; export {user} and {password}"]
        )
    if kind == "apikey":
        where = str(definition.get("in", "header")).lower()
        key = env(name, "API_KEY", "API_KEY")
        data = {
            "kind": "api_key",
            "in": where if where in ("header", "query", "cookie") else "header",
            "name": _env_literal(str(definition.get("name", "X-API-Key"))),
            "value": f"${{{key}:-}}",
        }
        return _Stub(
            name, data, (key,), [f"{name}: an API key in {data['in']} {data['name']}; export {key}"]
        )
    if kind == "oauth2":
        return _oauth2(name, definition, env, prefix)
    return None


def _oauth2(name: str, definition: Mapping[str, Any], env: _EnvNames, prefix: str) -> _Stub:
    flows = definition.get("flows")
    if isinstance(flows, Mapping):  # OpenAPI 3
        found = {str(k): v for k, v in flows.items() if isinstance(v, Mapping)}
    else:  # Swagger 2: one flow, with its own names
        flow = {"application": "clientCredentials", "accessCode": "authorizationCode"}
        raw = str(definition.get("flow", ""))
        found = {flow.get(raw, raw): definition}
    if "clientCredentials" in found:
        token_url = _url_or_path(str(found["clientCredentials"].get("tokenUrl", "")), prefix)
        client_id = env(name, "CLIENT_ID", "CLIENT_ID")
        secret = env(name, "CLIENT_SECRET", "CLIENT_SECRET")
        data: dict[str, Any] = {
            "kind": "oauth2_client_credentials",
            "token_url": _env_literal(token_url),
            "client_id": f"${{{client_id}:-}}",
            "client_secret": f"${{{secret}:-}}",
        }
        note = f"{name}: OAuth2 client credentials; export {client_id} and {secret}"
        return _Stub(name, data, (client_id, secret), [note])
    if "password" in found:
        # FastAPI's OAuth2PasswordBearer: POST username and password as a form to tokenUrl,
        # then send the access_token it answers as a bearer token.
        token_url = _url_or_path(str(found["password"].get("tokenUrl", "")), prefix)
        user, password = env(name, "USER", "API_USER"), env(name, "PASSWORD", "API_PASSWORD")
        data = {
            "kind": "login",
            "headers": {"Authorization": "Bearer {access_token}"},
            "steps": [
                {
                    "method": "POST",
                    "path": _env_literal(token_url),
                    "form": {"username": f"${{{user}:-}}", "password": f"${{{password}:-}}"},
                    "expect": 200,
                    "capture": {"access_token": {"json": "$.access_token", "secret": True}},
                }
            ],
        }
        note = f"{name}: OAuth2 password flow (a login); export {user} and {password}"
        return _Stub(name, data, (user, password), [note])
    token = env(name, "TOKEN", "API_TOKEN")
    flow_names = ", ".join(found) or "no"
    note = (
        f"{name}: OAuth2 ({flow_names} flow) needs a person to sign in: "
        f"export a token obtained elsewhere as {token}"
    )
    return _Stub(name, {"kind": "bearer", "token": f"${{{token}:-}}"}, (token,), [note])


def _url_or_path(url: str, prefix: str) -> str:
    """A token URL as a manifest step wants it: absolute, or a path on the target."""
    if is_url(url):
        return url
    if url.startswith("/"):
        return url
    # Relative URLs are relative to the server, base path included (FastAPI's "token").
    return f"{prefix}/{url}" if url else prefix or "/"


# --- checks ---------------------------------------------------------------------------------------


@dataclass
class _Entry:
    group: str
    data: dict[str, Any]
    notes: list[str]
    todos: list[str]
    mutation: bool


def _check(doc: _Document, op: _Operation, prefix: str, runners: Mapping[str, str]) -> _Entry:
    operation = op.operation
    method = op.method.upper()
    notes: list[str] = []
    todos: list[str] = []
    params = _parameters(doc, op)

    def todo(name: str) -> str:
        # Only what the `{name}` placeholder grammar accepts, or the engine would send it as is.
        todos.append(TODO_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", name))
        return "{" + todos[-1] + "}"

    def in_path(match: re.Match[str]) -> str:
        found = _example(doc, params.get(("path", match[1]), {}))
        if found is _MISSING:
            return todo(match[1])
        return quote(_text(found), safe="-._~!'()*+,;=:@")

    data: dict[str, Any] = {}
    name = operation.get("summary") or operation.get("operationId")
    if name:
        data["name"] = _env_literal(" ".join(str(name).split()))
    data["method"] = method
    path = _env_literal(prefix) + re.sub(r"\{([^}]+)\}", in_path, _env_literal(op.path))
    data["path"] = "/" + path.lstrip("/")  # a manifest path starts with one "/"

    query: dict[str, Any] = {}
    headers: dict[str, str] = {}
    for (where, param_name), param in params.items():
        if not param.get("required") or where not in ("query", "header"):
            continue
        found = _example(doc, param)
        if where == "query":
            query[param_name] = todo(param_name) if found is _MISSING else _fillable(found)
        elif param_name.lower() in _IGNORED_HEADERS:
            continue
        elif not re.fullmatch(r"[A-Za-z0-9_-]+", param_name):
            notes.append(f"header parameter {param_name!r} left out: not a header name")
        elif found is _MISSING or not _header_safe(_text(found)):
            headers[param_name] = todo(param_name)
        else:
            headers[param_name] = _fillable(_text(found))
    if query:
        data["query"] = query
    if headers:
        data["headers"] = headers

    body, note = _body(doc, op, params)
    if body is not None:
        data.update(body)
    if note:
        notes.append(note)

    ok, status_note = _status(operation.get("responses"))
    if status_note:
        notes.append(status_note)
    data["expect"] = _expect(doc, op, runners, ok)
    mutation = method not in SAFE_METHODS
    tags = [MUTATION_TAG] if mutation else []
    if operation.get("deprecated"):
        tags.append("deprecated")
    if tags:
        data["tags"] = tags
    if todos:
        shown = ", ".join("{" + t + "}" for t in dict.fromkeys(todos))
        value = "a real value" if len(set(todos)) == 1 else "real values"
        notes.append(f"no example for {shown}: fill in {value}")
    return _Entry(_group(op), data, notes, todos, mutation)


def _header_safe(value: str) -> bool:
    # What the manifest accepts in a header value: ASCII without line breaks.
    return value.isascii() and not any(c in value for c in "\r\n\0")


def _group(op: _Operation) -> str:
    tags = op.operation.get("tags")
    if isinstance(tags, list) and tags and str(tags[0]).strip():
        return str(tags[0]).strip()
    module = module_of(op.path).rstrip("/").rsplit("/", 1)[-1]
    return module or "default"


def _parameters(doc: _Document, op: _Operation) -> dict[tuple[str, str], Mapping[str, Any]]:
    """The operation's parameters by (in, name): the path item's, overridden by its own."""
    found: dict[tuple[str, str], Mapping[str, Any]] = {}
    for source in (op.item.get("parameters"), op.operation.get("parameters")):
        for raw in source if isinstance(source, list) else []:
            param = doc.resolve(raw)
            if isinstance(param, Mapping) and "name" in param:
                found[(str(param.get("in", "")), str(param["name"]))] = param
    return found


def _example(doc: _Document, param: Mapping[str, Any]) -> Any:
    """A scalar value for a parameter, from its examples or its schema; `_MISSING` if none."""
    candidates: list[Any] = [param.get("example", _MISSING), param.get("x-example", _MISSING)]
    examples = param.get("examples")
    if isinstance(examples, Mapping):  # OpenAPI 3: named Example objects
        candidates += [_example_value(doc, e) for e in examples.values()]
    for candidate in candidates:
        value = _scalar(candidate)
        if value is not _MISSING:
            return value
    # OpenAPI 3 puts the type in `schema`; Swagger 2 on the parameter itself.
    return _schema_value(doc, param.get("schema", param if doc.swagger2 else None), 0)


def _example_value(doc: _Document, example: Any) -> Any:
    resolved = doc.resolve(example)
    return resolved.get("value", _MISSING) if isinstance(resolved, Mapping) else _MISSING


def _schema_value(doc: _Document, raw: Any, depth: int) -> Any:
    schema = doc.resolve(raw)
    if not isinstance(schema, Mapping) or depth > 8:
        return _MISSING
    candidates: list[Any] = [schema.get("example", _MISSING)]
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:  # JSON Schema (OpenAPI 3.1)
        candidates.append(examples[0])
    candidates += [schema.get("default", _MISSING), schema.get("const", _MISSING)]
    enum = schema.get("enum")
    if isinstance(enum, list):
        candidates += [e for e in enum if e is not None][:1]
    for candidate in candidates:
        value = _scalar(candidate)
        if value is not _MISSING:
            return value
    for key in ("anyOf", "oneOf", "allOf"):
        members = schema.get(key)
        for member in members if isinstance(members, list) else []:
            value = _schema_value(doc, member, depth + 1)
            if value is not _MISSING:
                return value
    if "items" in schema:  # an array parameter: one element of it
        return _schema_value(doc, schema["items"], depth + 1)
    return _MISSING


def _scalar(value: Any) -> Any:
    """A value usable in a path, query or header: a scalar, or an array's first scalar."""
    if isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, str | int | float | bool) else _MISSING


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # as JSON and URLs spell it
    return str(value)


def _body(
    doc: _Document, op: _Operation, params: Mapping[tuple[str, str], Mapping[str, Any]]
) -> tuple[dict[str, Any] | None, str | None]:
    """`{"json": ...}` or `{"form": ...}` from the documented example, and a note when none."""
    if doc.swagger2:
        body = next((p for (where, _), p in params.items() if where == "body"), None)
        if body is not None:
            value = _first(
                body.get("x-example", _MISSING),
                _schema_example(doc, body.get("schema")),
            )
            if value is not _MISSING:
                return {"json": _fillable(value)}, None
            return None, _NO_JSON_EXAMPLE
        if any(where == "formData" for where, _ in params):
            return None, _NO_FORM_EXAMPLE
        return None, None
    request = doc.resolve(op.operation.get("requestBody"))
    content = request.get("content") if isinstance(request, Mapping) else None
    if not isinstance(content, Mapping) or not content:
        return None, None
    for media, raw in content.items():
        entry = doc.resolve(raw)
        if not isinstance(entry, Mapping):
            continue
        examples = entry.get("examples")
        value = _first(
            entry.get("example", _MISSING),
            *(
                [_example_value(doc, e) for e in examples.values()]
                if isinstance(examples, Mapping)
                else []
            ),
            _schema_example(doc, entry.get("schema")),
        )
        if _JSON_MEDIA.match(str(media)):
            if value is not _MISSING:
                return {"json": _fillable(value)}, None
            return None, _NO_JSON_EXAMPLE
        if str(media).lower().startswith(_FORM_MEDIA):
            if (
                isinstance(value, Mapping)
                and value
                and all(isinstance(v, str | int | float | bool) for v in value.values())
            ):
                return {"form": {str(k): _fillable(v) for k, v in value.items()}}, None
            return None, _NO_FORM_EXAMPLE
    media = ", ".join(map(str, content))
    return None, f"a {media} body cannot be written in a manifest: the check sends none"


def _schema_example(doc: _Document, raw: Any) -> Any:
    """A whole example the schema carries (`example`, or the first of `examples`)."""
    schema = doc.resolve(raw)
    if not isinstance(schema, Mapping):
        return _MISSING
    if "example" in schema:
        return schema["example"]
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    return _MISSING


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not _MISSING and v is not None), _MISSING)


def _expect(doc: _Document, op: _Operation, runners: Mapping[str, str], ok: int | str) -> Any:
    """`ok`; or, when the operation is secured, `ok` per identity and 401 for anonymous."""
    requirements = op.operation.get("security", doc.data.get("security"))
    if not isinstance(requirements, list) or not requirements:
        return ok
    if any(isinstance(r, Mapping) and not r for r in requirements):
        return ok  # `{}` among the alternatives: anonymous access is allowed
    expect: dict[str, Any] = {}
    for requirement in requirements:
        # One scheme per alternative: an identity. Several at once (AND) are not expressible.
        if isinstance(requirement, Mapping) and len(requirement) == 1:
            scheme = str(next(iter(requirement)))
            if scheme in runners:
                expect[runners[scheme]] = ok
    expect[ANONYMOUS] = 401
    return expect


def _status(responses: Any) -> tuple[int | str, str | None]:
    """The first documented 2xx, else a 2XX range, else the lowest documented status; and a
    note for the reviewer when that is not a success."""
    codes: list[int] = []
    ranges: list[str] = []
    for key in responses if isinstance(responses, Mapping) else []:
        text = str(key).strip().upper()
        if re.fullmatch(r"[1-5]\d\d", text):
            codes.append(int(text))
        elif re.fullmatch(r"[1-5]XX", text):
            ranges.append(text[0] + "xx")
    for code in codes:
        if 200 <= code < 300:
            return code, None
    if "2xx" in ranges:
        return "2xx", None
    if codes or ranges:
        lowest = min(codes) if codes else min(ranges)
        return lowest, f"no 2xx documented: expecting {lowest}, the lowest documented status"
    return "2xx", "no status documented (`default` only): expecting any 2xx"


# --- text -----------------------------------------------------------------------------------------


def _env_literal(text: str) -> str:
    """Text that `${VAR}` substitution leaves alone: `$` is written `$$`."""
    return text.replace("$", "$$")


def _fillable(value: Any) -> Any:
    """A value checks send: `$` for the loader, and `{` `}` for placeholder filling, escaped."""
    if isinstance(value, str):
        return _env_literal(value).replace("{", "{{").replace("}", "}}")
    if isinstance(value, Mapping):
        return {str(k): _fillable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fillable(v) for v in value]
    return value


class _Flow(dict[Any, Any]):
    """A mapping written on one line: `expect: {session: 200, anonymous: 401}`."""


class _FlowList(list[Any]):
    """A list written on one line: `tags: [mutation]`."""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a value the document reuses through $ref is written out each time


_Dumper.add_representer(
    _Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True)
)
_Dumper.add_representer(
    _FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)

# A collection of scalars shorter than this (as JSON) is written on one line.
_FLOW_WIDTH = 72


def _styled(value: Any, depth: int, flow_from: int) -> Any:
    """`value` with short collections of scalars from `flow_from` levels down on one line."""
    if isinstance(value, dict | list):
        items = value.values() if isinstance(value, dict) else value
        leaf = all(not isinstance(item, dict | list) for item in items)
        if depth >= flow_from and leaf and len(json.dumps(value, default=str)) < _FLOW_WIDTH:
            return _Flow(value) if isinstance(value, dict) else _FlowList(value)
        if isinstance(value, dict):
            return {k: _styled(v, depth + 1, flow_from) for k, v in value.items()}
        return [_styled(v, depth + 1, flow_from) for v in value]
    return value


def _dump(value: Any, indent: int = 0, flow_from: int = 1) -> str:
    text = yaml.dump(
        _styled(value, 0, flow_from),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=96,
    )
    pad = " " * indent
    return "".join(pad + line if line.strip() else line for line in text.splitlines(True))


def _key(name: str, indent: int) -> str:
    """`name:` as a YAML mapping key (quoted when it must be), on its own line."""
    # Under 128 characters, or YAML would write it as an explicit `? key`.
    return " " * indent + _dump({name[:100]: None}).removesuffix(" null\n") + "\n"


def _comment(lines: list[str], indent: int) -> str:
    """`lines` as YAML comments, each wrapped to fit 100 columns."""
    pad = " " * indent + "# "
    out = []
    for line in lines:
        text = " ".join(line.splitlines())
        hang = " " * (len(text) - len(text.lstrip(" -")))  # a list item continues under itself
        out += textwrap.wrap(text, 100 - len(pad), subsequent_indent=hang or "  ") or [""]
    return "".join(f"{pad}{text}".rstrip() + "\n" for text in out)


def _header(
    document: Mapping[str, Any],
    *,
    source: str | None,
    origin: str | None,
    prefix: str,
    checks: int,
    groups: int,
    todo_checks: int,
    mutations: int,
    env: tuple[str, ...],
    notes: list[str],
    skipped: list[str],
) -> str:
    version = document.get("openapi") or document.get("swagger")
    kind = "Swagger" if "swagger" in document else "OpenAPI"
    info = document.get("info") if isinstance(document.get("info"), Mapping) else {}
    about = f"{_title(document)} {info.get('version', '')}".strip() if info else _title(document)
    lines = [
        f"Generated by `crawler import openapi` from {source or 'a document'}",
        f"({about}, {kind} {version}): {checks} checks in {groups} groups.",
        "Review before relying on it:",
        "- expect: the first documented 2xx, else the lowest documented status; secured",
        "  operations expect it of each identity that may call them and 401 of anonymous.",
    ]
    if origin is None:
        lines.append(
            f"- base_url: the document names no server; {FALLBACK_BASE_URL} is a guess, "
            "set BASE_URL."
        )
    else:
        lines.append("- base_url: the document's first server; set BASE_URL for another one.")
    if prefix:
        lines.append(
            f"  Paths include the server's base path {prefix}: BASE_URL is the origin only."
        )
    if todo_checks:
        lines.append(
            f"- {todo_checks} checks have {{{TODO_PREFIX}...}} placeholders where the document "
            "gives no example:"
        )
        lines.append(
            "  `crawler check` lists them; `crawler run` SKIPs them until they are filled in."
        )
    if mutations:
        lines.append(
            f"- {mutations} checks change data (tagged {MUTATION_TAG}): sent only with "
            "--allow-mutations."
        )
    if env:
        lines.append(f"- identities are stubs: export {', '.join(env)} before check or run.")
    lines += [f"- {note}." for note in notes]
    if skipped:
        lines.append(f"- not checked (a manifest cannot send TRACE): {', '.join(skipped)}.")
    return _comment(lines, 0) + "\n"
