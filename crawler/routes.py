"""Route inventory: what the backend claims to serve, with path templates normalised.

Sources: an OpenAPI 3.x or Swagger 2 document, a plain route list (`GET /api/users/{id}`,
also Express/Hono `:id`, Flask `<int:id>`, Next.js `[id]` / `[...slug]`), or the checks that
passed in a run. Every parameter spelling normalises to `{}` so routes compare equal:

>>> normalise("/api/users/:id/notes/")
'/api/users/{}/notes'
>>> Route.parse("get /api/users/<int:user_id>").template
'/api/users/{}'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.errors import CrawlerError

# One normalised placeholder for every way of writing a path parameter.
PARAM = "{}"

HTTP_METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")

_PARAM_SEGMENT = re.compile(
    r"""^(
        \{[^}]*\}           # OpenAPI {id}
      | :[A-Za-z_]\w*[?*+]? # Express/Hono :id, :id?, :path*
      | <(?:\w+:)?\w+>      # Flask <int:id>
      | \[\[?\.{0,3}\w+\]\]? # Next.js [id], [...slug], [[...slug]]
      | \*                  # a wildcard
    )$""",
    re.VERBOSE,
)


# A segment that reads as a value rather than a name: a number, a UUID, a hex digest, a
# prefixed id (`rec_001`, `cus_9Xa`), a long token with digits in it, or a parameter.
_VALUE = re.compile(
    r"""^(
        \d+
      | [0-9a-f]{8}-[0-9a-f-]{27,}
      | [0-9a-f]{16,}
      | [a-z][a-z0-9]*_[a-z0-9]*\d[a-z0-9]*
      | (?=[a-z0-9_-]*\d)(?=[0-9_-]*[a-z])[a-z0-9_-]{12,}
      | \{\}
    )$""",
    re.IGNORECASE | re.VERBOSE,
)


class InventoryError(CrawlerError):
    """A route inventory (OpenAPI document or route list) cannot be read."""


def looks_like_value(segment: str) -> bool:
    """Whether a path segment reads as a value (an id) rather than a word.

    >>> [looks_like_value(s) for s in ("42", "rec_001", "audit-logs", "me", "v1")]
    [True, True, False, False, False]
    """
    return bool(_VALUE.match(segment))


def normalise(path: str) -> str:
    """A path template with every parameter as `{}`, no query, no trailing slash."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    segments = [PARAM if _PARAM_SEGMENT.match(s) else s for s in path.split("/") if s]
    return "/" + "/".join(segments)


def segments(path: str) -> tuple[str, ...]:
    """The non-empty segments of a (normalised) path."""
    return tuple(s for s in normalise(path).split("/") if s)


@dataclass(frozen=True)
class Route:
    """One operation the backend serves: a method and a normalised path template."""

    method: str
    template: str
    # Whether the backend spells it with a trailing slash (normalised away in `template`).
    slash: bool = field(default=False, compare=False)
    # The path as the backend writes it (`/api/users/{id}`), for showing to people.
    shown: str = field(default="", compare=False)

    @classmethod
    def of(cls, method: str, path: str) -> Route:
        bare = path.split("?", 1)[0]
        slash = len(bare) > 1 and bare.endswith("/")
        return cls(method.upper(), normalise(bare), slash, bare.rstrip("/") or "/")

    @classmethod
    def parse(cls, line: str) -> Route:
        """`GET /api/users/{id}`; a line without a method means GET; `ANY` means every one."""
        parts = line.split()
        if len(parts) == 1:
            method, path = "GET", parts[0]
        else:
            method, path = parts[0].upper(), parts[1]
        if method not in (*HTTP_METHODS, "ANY", "ALL", "*"):
            raise ValueError(f"{parts[0]!r} is not an HTTP method")
        if not path.startswith("/"):
            raise ValueError(f"{path!r} is not a path (it starts with /)")
        return cls.of("*" if method in ("ANY", "ALL") else method, path)

    @property
    def segments(self) -> tuple[str, ...]:
        return segments(self.template)

    def serves_method(self, method: str) -> bool:
        """Its own method, any for `*`; and HEAD wherever GET is (as HTTP servers do)."""
        return self.method in (method, "*") or (method == "HEAD" and self.method == "GET")

    def matches(self, method: str, path: str) -> bool:
        """Whether this route serves `method path` (a concrete path or a template)."""
        return self.serves_method(method) and path_matches(self.template, path)

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def path_matches(template: str, path: str) -> bool:
    """Whether a concrete (or template) `path` fits `template`, segment by segment."""
    return segments_fit(segments(template), segments(path))


def segments_fit(want: tuple[str, ...], have: tuple[str, ...]) -> bool:
    """Same length, and each segment equal or a parameter on either side."""
    return len(want) == len(have) and all(
        PARAM in (w, h) or w == h for w, h in zip(want, have, strict=True)
    )


@dataclass(frozen=True)
class Inventory:
    """The routes a backend serves, and where that knowledge came from."""

    routes: tuple[Route, ...]
    source: str = ""
    _by_template: dict[str, set[str]] = field(default_factory=dict, compare=False, repr=False)

    _shown: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for route in self.routes:
            self._by_template.setdefault(route.template, set()).add(route.method)
        # A spelling written with {name} wins; the others are shown renamed to it.
        for route in sorted(self.routes, key=lambda r: not _readable(r.shown)):
            if route.shown:
                self._shown.setdefault(route.template, _named(route.shown))

    def shown(self, template: str) -> str:
        """How the backend writes a template, its parameters as `{name}`
        (`/api/users/:id` shows as `/api/users/{id}`); else the template itself."""
        return self._shown.get(template, template)

    def __len__(self) -> int:
        return len(self.routes)

    def serves(self, method: str, path: str) -> bool:
        return any(route.matches(method, path) for route in self.routes)

    def serving(self, method: str, path: str) -> list[Route]:
        return [route for route in self.routes if route.matches(method, path)]

    def methods_for(self, path: str) -> set[str]:
        """Every method served on a path (any template that fits it)."""
        return {
            method
            for template, methods in self._by_template.items()
            if path_matches(template, path)
            for method in methods
        }

    def templates(self) -> list[str]:
        return list(self._by_template)

    def merged(self, other: Inventory) -> Inventory:
        seen = dict.fromkeys((*self.routes, *other.routes))
        sources = " + ".join(s for s in (self.source, other.source) if s)
        return Inventory(tuple(seen), sources)


# The name inside a parameter segment, however it is spelled.
_PARAM_NAME = re.compile(
    r"^(?:\{(\w+)[^}]*\}|:(\w+)[?*+]?|<(?:\w+:)?(\w+)>|\[\[?(?:\.\.\.)?(\w+)\]\]?)$"
)


def _named(path: str) -> str:
    """`path` with each parameter spelled `{name}` (`{}` when it has none, as `*`)."""

    def one(segment: str) -> str:
        if not _PARAM_SEGMENT.match(segment):
            return segment
        found = _PARAM_NAME.match(segment)
        name = next((g for g in found.groups() if g), "") if found else ""
        return "{" + name + "}"

    return "/".join(one(s) for s in path.split("/"))


def _readable(path: str) -> bool:
    # OpenAPI-style {name} parameters read best; `:id`, `<int:id>` and `[id]` are shown as {}.
    return all(
        not _PARAM_SEGMENT.match(s) or (s.startswith("{") and s.endswith("}"))
        for s in path.split("/")
        if s
    )


def from_route_list(text: str, source: str = "route list") -> Inventory:
    """One route per line; blank lines and `#` comments are ignored."""
    routes = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            routes.append(Route.parse(line))
        except ValueError as exc:
            raise InventoryError(
                f"{source}:{number}: {exc}; write one route per line, e.g. GET /api/users/{{id}}"
            ) from None
    return Inventory(tuple(routes), source)


def from_openapi(document: Mapping[str, Any], source: str = "openapi") -> Inventory:
    """Every operation of an OpenAPI 3.x or Swagger 2 document, with its base path."""
    if not isinstance(document.get("paths"), Mapping):
        raise InventoryError(f"{source}: not an OpenAPI or Swagger document (no paths).")
    prefix = _base_path(document)
    routes = []
    for path, item in document["paths"].items():
        if not isinstance(item, Mapping):
            continue
        for method in item:
            # YAML reads a key `1:` as a number, not a method: not an operation.
            if isinstance(method, str) and method.upper() in HTTP_METHODS:
                routes.append(Route.of(method, prefix + str(path)))
    return Inventory(tuple(routes), source)


def base_path(document: Mapping[str, Any]) -> str:
    """The prefix every path of an OpenAPI/Swagger document is served under (`/api/v2`)."""
    return _base_path(document)


def _base_path(document: Mapping[str, Any]) -> str:
    # Swagger 2 has basePath; OpenAPI 3 may put a path in its first server's URL.
    if "swagger" in document:
        return str(document.get("basePath") or "").rstrip("/")
    servers = document.get("servers") or []
    if servers and isinstance(servers[0], Mapping):
        url = str(servers[0].get("url", ""))
        path = re.sub(r"^[a-z]+://[^/]+", "", url)
        return path.rstrip("/") if path.startswith("/") else ""
    return ""


def load_document(text: str, source: str) -> dict[str, Any]:
    """Parse an OpenAPI document given as JSON or YAML; `InventoryError` when it cannot be."""
    import yaml

    try:
        try:
            data = json.loads(text)
        except ValueError:
            data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InventoryError(f"{source}: neither JSON nor YAML ({exc}).") from None
    except RecursionError:  # `[[[[...` a hundred thousand deep: no document is like that
        raise InventoryError(
            f"{source}: nested too deeply to be an OpenAPI document; check the file."
        ) from None
    if not isinstance(data, dict):
        raise InventoryError(f"{source}: not an OpenAPI document (expected a mapping).")
    return data


def load_file(path: str | Path) -> Inventory:
    """An inventory from a file: an OpenAPI/Swagger document (.json/.yaml) or a route list."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"{path}: cannot be read ({exc}).") from None
    if file.suffix in (".json", ".yaml", ".yml") or text.lstrip().startswith("{"):
        return from_openapi(load_document(text, str(path)), str(path))
    return from_route_list(text, str(path))


def from_passed(results: Iterable[Any]) -> Inventory:
    """Routes proven by this run: every check that answered with a non-404/405 status.

    A segment that reads as a value is taken as a parameter: `GET /api/users/1` answering
    200 shows that `GET /api/users/{id}` is served, not that only user 1 is.
    """
    routes = [
        Route.of(r.method, _generalised(r.path))
        for r in results
        if r.status is not None and r.status not in (404, 405) and r.status < 500
    ]
    return Inventory(tuple(dict.fromkeys(routes)), "checks that answered")


def _generalised(path: str) -> str:
    bare = path.split("?", 1)[0]
    parts = ["{id}" if looks_like_value(s) else s for s in bare.split("/")]
    return "/".join(parts)


def module_of(path: str) -> str:
    """The module a path belongs to: `/api/billing` for `/api/billing/plans/3`.

    The first segment after an `/api` (and a version such as `/v1`) prefix, with the prefix.
    """
    parts = list(segments(path))
    prefix = []
    while parts and (parts[0] == "api" or re.fullmatch(r"v\d+", parts[0])):
        prefix.append(parts.pop(0))
    head = parts[:1] if parts and parts[0] != PARAM else []
    return "/" + "/".join(prefix + head)
