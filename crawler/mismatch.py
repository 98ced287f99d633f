"""404/405 diagnosis: why a route the caller expected is not served, and what is served instead.

`diagnose(call, inventory)` tries small named rules in order; the first that explains the
miss wins. Each rule states its reasoning in its docstring and is table-tested. Pure: no
network, no httpx. `annotate(run, inventory)` puts a `Diagnosis` on every result that
expected something other than 404 and got a 404 or 405.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from crawler.results import CheckResult, Diagnosis, Response, Run
from crawler.routes import PARAM, Inventory, module_of, normalise, segments

# How alike two segments must be (difflib ratio) to count as a near-miss spelling.
NEAR_MISS = 0.75
# At most this many suggested routes per diagnosis.
MAX_SUGGESTIONS = 3

_VERSION = re.compile(r"^v\d+$")
# A segment that looks like a value rather than a name: a number, a UUID, a long token.
_VALUE = re.compile(r"^(\d+|[0-9a-f]{8}-[0-9a-f-]{27,}|[0-9a-f]{16,}|\{\})$", re.IGNORECASE)


@dataclass(frozen=True)
class Call:
    """What was requested and what came back: the facts a rule looks at."""

    method: str
    path: str
    status: int = 404
    allow: frozenset[str] = frozenset()

    @property
    def segments(self) -> tuple[str, ...]:
        return segments(self.path)

    @property
    def template(self) -> str:
        return normalise(self.path)


Rule = Callable[[Call, Inventory], Diagnosis | None]


def _routes(inventory: Inventory, method: str, templates: Iterable[str]) -> tuple[str, ...]:
    """Suggested routes as the backend writes them: `GET /api/recordings/{id}`."""
    unique = list(dict.fromkeys(templates))[:MAX_SUGGESTIONS]
    return tuple(f"{method} {inventory.shown(t)}" for t in unique)


def _served(inventory: Inventory, method: str, templates: Iterable[str]) -> list[str]:
    """The templates (or paths) among `templates` that `inventory` serves for `method`,
    a parameter standing only for a value that looks like one."""
    return [
        t
        for t in templates
        if any(_strict_fit(r.segments, segments(t)) for r in inventory.serving(method, t))
    ]


# --- the rules, in the order they are tried ----------------------------------------------------


def wrong_method(call: Call, inventory: Inventory) -> Diagnosis | None:
    """The path exists with other methods: from a 405's Allow header, or the inventory."""
    methods = set(call.allow) or inventory.methods_for(call.path)
    methods.discard("*")
    if not methods or call.method in methods or (call.method == "HEAD" and "GET" in methods):
        return None
    listed = ", ".join(sorted(methods))
    return Diagnosis(
        cause="wrong_method",
        detail=f"wrong method: {call.template} serves {listed}, not {call.method}",
        suggestions=tuple(f"{m} {call.template}" for m in sorted(methods))[:MAX_SUGGESTIONS],
    )


def trailing_slash(call: Call, inventory: Inventory) -> Diagnosis | None:
    """The route is served, but spelled with(out) the trailing slash the call (does not) use."""
    raw = call.path.split("?", 1)[0]
    called_slash = len(raw) > 1 and raw.endswith("/")
    for route in inventory.serving(call.method, raw):
        if route.slash != called_slash and _strict_fit(route.segments, call.segments):
            fixed = raw.rstrip("/") + ("/" if route.slash else "")
            where = "with" if route.slash else "without"
            return Diagnosis(
                cause="trailing_slash",
                detail=f"trailing slash: the backend serves the path {where} one",
                suggestions=(f"{call.method} {fixed}",),
            )
    return None


def resource_missing(call: Call, inventory: Inventory) -> Diagnosis | None:
    """The route is served and the call's values look like ids: the 404 is the resource."""
    if call.status != 404 or not any(
        _strict_fit(r.segments, call.segments) for r in inventory.serving(call.method, call.path)
    ):
        return None
    return RESOURCE


RESOURCE = Diagnosis(
    cause="resource_not_found",
    detail="route exists: the 404 is the resource (check the id or the data)",
    suggestions=(),
)


def resource_missing_loosely(call: Call, inventory: Inventory) -> Diagnosis | None:
    """Last resort: a parameter route takes the call's word as its value (`/recordings/notes`
    goes to `/recordings/{id}`), and nothing closer was found."""
    if call.status == 404 and inventory.serves(call.method, call.path):
        return RESOURCE
    return None


def prefix_skew(call: Call, inventory: Inventory) -> Diagnosis | None:
    """The same path under another prefix or API version: `/api/v1/x` vs `/api/x`."""
    parts = call.segments
    candidates: list[tuple[str, ...]] = []
    rest = [p for p in parts if not _VERSION.match(p)]
    if rest != list(parts):
        candidates.append(tuple(rest))  # drop the version
    has_api = bool(parts) and parts[0] == "api"
    body = parts[1:] if has_api else parts
    body_no_version = tuple(p for p in body if not _VERSION.match(p))
    if has_api:
        candidates.append(tuple(body))  # drop /api
        candidates.append(body_no_version)
    else:
        candidates.append(("api", *body))  # add /api
    for version in ("v1", "v2", "v3"):
        candidates.append(("api", version, *body_no_version))
        candidates.append((version, *body_no_version))
    templates = ["/" + "/".join(c) for c in candidates if c and c != parts]
    found = _served(inventory, call.method, templates)
    if not found:
        return None
    return Diagnosis(
        cause="prefix_skew",
        detail=f"prefix or version skew: served as {inventory.shown(found[0])}",
        suggestions=_routes(inventory, call.method, found),
    )


def no_list_handler(call: Call, inventory: Inventory) -> Diagnosis | None:
    """`GET /api/recordings` is 404 while `/api/recordings/{id}` exists: no list handler."""
    item = call.template.rstrip("/") + "/" + PARAM
    if call.method != "GET" or not _served(inventory, "GET", [item]):
        return None
    shown = _shown_serving(inventory, "GET", item)
    return Diagnosis(
        cause="no_list_handler",
        detail=f"no list handler: only GET {shown} exists",
        suggestions=(f"GET {shown}",),
    )


def extra_segment(call: Call, inventory: Inventory) -> Diagnosis | None:
    """The call has a trailing segment the backend does not: `/scripts/manage` vs `/scripts`."""
    parts = call.segments
    if len(parts) < 2:
        return None
    parent = "/" + "/".join(parts[:-1])
    if not _served(inventory, call.method, [parent]):
        return None
    return Diagnosis(
        cause="extra_segment",
        detail=f"path mismatch: extra segment '{parts[-1]}'",
        suggestions=(f"{call.method} {_shown_serving(inventory, call.method, parent)}",),
    )


def missing_segment(call: Call, inventory: Inventory) -> Diagnosis | None:
    """The backend's route has one literal segment more: `/api/users` vs `/api/users/me`."""
    parts = call.segments
    found = []
    for template in inventory.templates():
        want = segments(template)
        if len(want) != len(parts) + 1:
            continue
        for gap in range(len(want)):
            if _strict_fit(want[:gap] + want[gap + 1 :], parts):
                found.append(template)
                break
    found = _served(inventory, call.method, found)
    if not found:
        return None
    return Diagnosis(
        cause="missing_segment",
        detail="path mismatch: missing segment",
        suggestions=_routes(inventory, call.method, found),
    )


def param_shape(call: Call, inventory: Inventory) -> Diagnosis | None:
    """A value where the backend has a literal (`/users/42/profile` vs `/users/me/profile`)."""
    parts = call.segments
    found = []
    for template in inventory.templates():
        want = segments(template)
        diffs = _differences(want, parts)
        if diffs is not None and len(diffs) == 1:
            w, h = diffs[0]
            if w != PARAM and _VALUE.match(h):
                found.append(template)
    found = _served(inventory, call.method, found)
    if not found:
        return None
    return Diagnosis(
        cause="param_shape",
        detail="literal vs parameter: the backend has a fixed segment where a value was sent",
        suggestions=_routes(inventory, call.method, found),
    )


def renamed(call: Call, inventory: Inventory) -> Diagnosis | None:
    """Mounted under another name: same place, a segment that contains or extends the called
    one (`/api/audit` vs `/api/audit-logs`, `/api/user` vs `/api/users`)."""
    found = _one_segment_apart(call, inventory, _related_name)
    if not found:
        return None
    return Diagnosis(
        cause="renamed",
        detail=f"mounted under another name: {inventory.shown(found[0])}",
        suggestions=_routes(inventory, call.method, found),
    )


def near_miss(call: Call, inventory: Inventory) -> Diagnosis | None:
    """A near-miss spelling of one segment (`/api/recordigns` vs `/api/recordings`)."""
    found = _one_segment_apart(call, inventory, _similar)
    if not found:
        return None
    return Diagnosis(
        cause="near_miss",
        detail=f"near-miss spelling: did you mean {inventory.shown(found[0])}?",
        suggestions=_routes(inventory, call.method, found),
    )


def module_missing(call: Call, inventory: Inventory) -> Diagnosis | None:
    """Nothing in the inventory lives under the call's module: the whole module is missing."""
    module = module_of(call.path)
    if module in ("/", "/api") or not len(inventory):
        return None
    prefix = segments(module)
    if any(segments(t)[: len(prefix)] == prefix for t in inventory.templates()):
        return None
    return Diagnosis(
        cause="module_missing",
        detail=f"route missing: nothing is served under {module}",
        suggestions=(),
    )


RULES: tuple[Rule, ...] = (
    wrong_method,
    trailing_slash,
    resource_missing,
    prefix_skew,
    no_list_handler,
    param_shape,
    extra_segment,
    missing_segment,
    renamed,
    near_miss,
    module_missing,
    resource_missing_loosely,
)

UNKNOWN = Diagnosis(cause="unknown", detail="not served, and nothing similar is", suggestions=())


def diagnose(call: Call, inventory: Inventory) -> Diagnosis:
    """The first rule that explains why `call` is not served; `unknown` when none does."""
    for rule in RULES:
        found = rule(call, inventory)
        if found is not None:
            return found
    return UNKNOWN


# --- segment comparisons ------------------------------------------------------------------------


def _shown_serving(inventory: Inventory, method: str, path: str) -> str:
    """How the backend writes the route that serves `path` (the path itself if none)."""
    for route in inventory.serving(method, path):
        if _strict_fit(route.segments, segments(path)):
            return inventory.shown(route.template)
    return path


def _strict_fit(want: tuple[str, ...], have: tuple[str, ...]) -> bool:
    """Like `segments_fit`, but a parameter only takes a value that looks like one (an id),
    so `/api/{}` does not explain `/api/audit`."""
    return len(want) == len(have) and all(
        w == h or h == PARAM or (w == PARAM and bool(_VALUE.match(h)))
        for w, h in zip(want, have, strict=True)
    )


def _differences(want: tuple[str, ...], have: tuple[str, ...]) -> list[tuple[str, str]] | None:
    """Segments that differ (a parameter matches anything); None when lengths differ."""
    if len(want) != len(have):
        return None
    return [(w, h) for w, h in zip(want, have, strict=True) if w != h and PARAM not in (w, h)]


def _one_segment_apart(
    call: Call, inventory: Inventory, alike: Callable[[str, str], bool]
) -> list[str]:
    found = []
    for template in inventory.templates():
        diffs = _differences(segments(template), call.segments)
        if diffs is not None and len(diffs) == 1 and alike(*diffs[0]):
            found.append(template)
    return _served(inventory, call.method, found)


def _words(segment: str) -> list[str]:
    return [w for w in re.split(r"[-_.]", segment.lower()) if w]


def _related_name(backend: str, called: str) -> bool:
    # `audit` vs `audit-logs`, `user` vs `users`, `auditLogs` vs `audit-logs`
    a, b = backend.lower(), called.lower()
    if a.rstrip("s") == b.rstrip("s"):
        return True
    wa, wb = _words(a), _words(b)
    shorter, longer = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    if shorter and shorter != longer and longer[: len(shorter)] == shorter:
        return True
    squashed_a, squashed_b = "".join(wa), "".join(wb)
    return squashed_a == squashed_b


def _similar(backend: str, called: str) -> bool:
    return difflib.SequenceMatcher(None, backend.lower(), called.lower()).ratio() >= NEAR_MISS


# --- annotating a run ----------------------------------------------------------------------------


def needs_diagnosis(result: CheckResult) -> bool:
    """Expected something other than 404, got a 404 or a 405."""
    expected_404 = "404" in result.expect.split("|") or "4xx" in result.expect
    return result.status in (404, 405) and not expected_404


def call_of(result: CheckResult) -> Call:
    allow: frozenset[str] = frozenset()
    observation = result.observation
    if isinstance(observation, Response):
        header = next((v for k, v in observation.headers.items() if k.lower() == "allow"), "")
        allow = frozenset(m.strip().upper() for m in header.split(",") if m.strip())
    return Call(result.method, result.path, result.status or 404, allow)


def annotate(run: Run, inventory: Inventory) -> Run:
    """The run with a diagnosis on every 404/405 mismatch (others untouched)."""
    results = tuple(
        r.model_copy(update={"diagnosis": diagnose(call_of(r), inventory)})
        if needs_diagnosis(r)
        else r
        for r in run.results
    )
    return run.model_copy(update={"results": results, "inventory": inventory.source or None})
