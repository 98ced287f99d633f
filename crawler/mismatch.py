"""404/405 diagnosis: why a route the caller expected is not served, and what is served instead.

`diagnose(call, inventory)` tries small named rules in order; the first that explains the
miss wins. Each rule states its reasoning in its docstring and is table-tested. Pure: no
network, no httpx. `annotate(run, inventory)` puts a `Diagnosis` on every result that
expected something other than 404 and got a 404 or 405. For `--probe`, `probes` turns a
diagnosis's suggestions into safe requests (GET, HEAD or OPTIONS) and `confirms` judges
their answers; the runner sends them through `engine.probe`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from crawler.manifest import parse_expect
from crawler.results import Cause, CheckResult, Diagnosis, Response, Run
from crawler.routes import PARAM, Inventory, looks_like_value, module_of, normalise, segments

# How alike two segments must be (difflib ratio) to count as a near-miss spelling.
NEAR_MISS = 0.75
# At most this many suggested routes per diagnosis.
MAX_SUGGESTIONS = 3

_VERSION = re.compile(r"^v\d+$")
# Methods every path may answer (CORS preflights, HEAD for GET): no evidence of a route.
_INCIDENTAL = frozenset({"*", "HEAD", "OPTIONS"})


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
    """The path exists with other methods: from a 405's Allow header, or the inventory.

    HEAD and OPTIONS are no evidence (servers answer them on any path), and a parameter
    takes only a value that looks like one. A 405 is a wrong method even when nothing says
    which methods would do.
    """
    methods = set(call.allow) or {
        route.method for route in inventory.routes if _strict_fit(route.segments, call.segments)
    }
    methods -= _INCIDENTAL
    if call.method in methods or (call.method == "HEAD" and "GET" in methods):
        return None
    if not methods:
        if call.status != 405:
            return None
        return Diagnosis(
            cause="wrong_method",
            detail=f"wrong method: the path exists, but not for {call.method} (405)",
        )
    listed = ", ".join(sorted(methods))
    shown = {m: _shown_serving(inventory, m, call.template) for m in sorted(methods)}
    return Diagnosis(
        cause="wrong_method",
        detail=f"wrong method: {next(iter(shown.values()))} serves {listed}, not {call.method}",
        suggestions=tuple(f"{m} {path}" for m, path in shown.items())[:MAX_SUGGESTIONS],
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
    if call.status != 404:
        return None
    for route in inventory.serving(call.method, call.path):
        if _strict_fit(route.segments, call.segments):
            shown = f"{call.method} {inventory.shown(route.template)}"
            if PARAM in route.segments:
                return Diagnosis(
                    cause="resource_not_found",
                    detail=f"route exists ({shown}): the 404 is the resource; "
                    "check the id or the data",
                )
            return Diagnosis(
                cause="resource_not_found",
                detail=f"route exists ({shown}), and its handler answered 404: missing data, "
                "a permission that hides as 404, or an out-of-date inventory",
            )
    return None


def resource_missing_loosely(call: Call, inventory: Inventory) -> Diagnosis | None:
    """Last resort: a parameter route takes the call's word as its value (`/recordings/notes`
    goes to `/recordings/{id}`), and nothing closer was found."""
    if call.status != 404:
        return None
    served = inventory.serving(call.method, call.path)
    if not served:
        return None
    route = inventory.shown(served[0].template)
    words = [h for w, h in zip(served[0].segments, call.segments, strict=True) if w != h]
    taken = f"'{words[0]}'" if words else "the call's value"
    return Diagnosis(
        cause="resource_not_found",
        detail=f"only {route} fits, taking {taken} as its parameter: the 404 is its answer "
        "(or the word was meant as a route the backend lacks)",
        suggestions=(f"{call.method} {route}",),
    )


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
    paths = ["/" + "/".join(c) for c in candidates if c and c != parts]
    found = [
        _shown_serving(inventory, call.method, p) for p in _served(inventory, call.method, paths)
    ]
    if not found:
        return None
    return Diagnosis(
        cause="prefix_skew",
        detail=f"prefix or version skew: served as {found[0]}",
        suggestions=_routes(inventory, call.method, found),
    )


def no_list_handler(call: Call, inventory: Inventory) -> Diagnosis | None:
    """`GET /api/recordings` is 404 while `GET /api/recordings/{id}` exists: no list handler.

    Only a route that is the call plus one trailing parameter counts; `/api/billing/plans`
    says nothing about a list at `/api/billing`. Tried first: a POST served on the same path
    (to create) does not make the list call a wrong method.
    """
    if call.method != "GET" or not call.segments or _served(inventory, "GET", [call.path]):
        return None
    items = [
        route
        for route in inventory.serving("GET", call.template + "/" + PARAM)
        if route.segments[-1] == PARAM and _strict_fit(route.segments[:-1], call.segments)
    ]
    if not items:
        return None
    shown = inventory.shown(items[0].template)
    return Diagnosis(
        cause="no_list_handler",
        detail=f"no list handler: only GET {shown} exists",
        suggestions=(f"GET {shown}",),
    )


def extra_segment(call: Call, inventory: Inventory) -> Diagnosis | None:
    """The call has a segment the backend does not: `/scripts/manage` vs `/scripts`.

    The last segment is tried first, then the others (`/shopper/admin/scripts`). Not the
    last one when a `.../{id}` route takes it as its value: `/api/users/john` next to
    `/api/users/{id}` is a user that does not exist, not a call to `/api/users`.
    """
    parts = call.segments
    if len(parts) < 2:
        return None
    for gap in reversed(range(len(parts))):
        if gap == len(parts) - 1 and _item_route_fits(call, inventory):
            continue
        shorter = "/" + "/".join(parts[:gap] + parts[gap + 1 :])
        if _served(inventory, call.method, [shorter]):
            return Diagnosis(
                cause="extra_segment",
                detail=f"path mismatch: extra segment '{parts[gap]}'",
                suggestions=(f"{call.method} {_shown_serving(inventory, call.method, shorter)}",),
            )
    return None


def _item_route_fits(call: Call, inventory: Inventory) -> bool:
    """A route serving the call ends in a parameter where the call has its last segment,
    the segments before it fitting strictly: the call names one item of a collection."""
    return any(
        route.segments[-1] == PARAM and _strict_fit(route.segments[:-1], call.segments[:-1])
        for route in inventory.serving(call.method, call.path)
    )


def missing_segment(call: Call, inventory: Inventory) -> Diagnosis | None:
    """The backend's route has one segment more: `/api/users` vs `/api/users/me`, or
    `/api/calls/notes` vs `/api/calls/{id}/notes`. Tried before `extra_segment`: a route that
    keeps every word of the call (`/users/profile` vs `/users/me/profile`) says more than
    one that drops a word (`/users`).

    Only for a call that names a module (`/api` alone is missing everything).
    """
    parts = call.segments
    if not _names_module(segments(module_of(call.path))):
        return None
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
    """A value where the backend has a literal word (`/users/42/profile` vs
    `/users/me/profile`)."""
    parts = call.segments
    found = []
    for template in inventory.templates():
        diffs = _differences(segments(template), parts)
        if diffs is not None and len(diffs) == 1:
            w, h = diffs[0]
            if not looks_like_value(w) and looks_like_value(h):
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


def module_elsewhere(call: Call, inventory: Inventory) -> Diagnosis | None:
    """Nothing is served under the call's module, but under a sibling of a related or
    near-miss name (`/api/audit` vs only `/api/audit-logs/{id}`): suggest its routes."""
    module = segments(module_of(call.path))
    if not _names_module(module) or _under(inventory, module):
        return None
    parent, name = module[:-1], module[-1]
    served = [r.template for r in inventory.routes if r.serves_method(call.method)]
    kinds: tuple[tuple[Cause, str, Callable[[str, str], bool]], ...] = (
        ("renamed", "mounted under another name", _related_name),
        ("near_miss", "near-miss spelling", _similar),
    )
    for cause, words, alike in kinds:
        found = sorted(
            (t for t in dict.fromkeys(served) if _sibling(segments(t), parent, name, alike)),
            key=lambda t: len(segments(t)),
        )
        if found:
            other = "/" + "/".join(segments(found[0])[: len(module)])
            return Diagnosis(
                cause=cause,
                detail=f"{words}: nothing is served under {module_of(call.path)}, "
                f"but under {other}",
                suggestions=_routes(inventory, call.method, found),
            )
    return None


def module_missing(call: Call, inventory: Inventory) -> Diagnosis | None:
    """Nothing in the inventory lives under the call's module: the whole module is missing."""
    module = segments(module_of(call.path))
    if not _names_module(module) or not len(inventory) or _under(inventory, module):
        return None
    return Diagnosis(
        cause="module_missing",
        detail=f"route missing: nothing is served under {module_of(call.path)}",
        suggestions=(),
    )


RULES: tuple[Rule, ...] = (
    no_list_handler,
    wrong_method,
    trailing_slash,
    resource_missing,
    prefix_skew,
    param_shape,
    missing_segment,
    extra_segment,
    renamed,
    near_miss,
    module_elsewhere,
    module_missing,
    resource_missing_loosely,
)


def diagnose(call: Call, inventory: Inventory) -> Diagnosis:
    """The first rule that explains why `call` is not served; `unknown` when none does."""
    for rule in RULES:
        found = rule(call, inventory)
        if found is not None:
            return found
    return unknown(call, inventory)


def unknown(call: Call, inventory: Inventory) -> Diagnosis:
    """No rule explains the miss: the route is missing, and nothing like it is served."""
    module = module_of(call.path)
    where = f" under {module}" if _names_module(segments(module)) else ""
    return Diagnosis(
        cause="unknown",
        detail=f"route missing: not served, and nothing similar is served{where}",
        suggestions=(),
    )


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
        w == h or h == PARAM or (w == PARAM and looks_like_value(h))
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


def _names_module(module: tuple[str, ...]) -> bool:
    """Whether a module (`module_of`) names something beyond the `/api/v1` prefix."""
    return bool(module) and module[-1] != "api" and not _VERSION.match(module[-1])


def _under(inventory: Inventory, module: tuple[str, ...]) -> bool:
    return any(segments(t)[: len(module)] == module for t in inventory.templates())


def _sibling(
    want: tuple[str, ...], parent: tuple[str, ...], name: str, alike: Callable[[str, str], bool]
) -> bool:
    """`want` lives under `parent` + a segment that is `alike` to `name`."""
    depth = len(parent)
    return (
        len(want) > depth
        and want[:depth] == parent
        and want[depth] != PARAM
        and alike(want[depth], name)
    )


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
    """Expected something other than 404, got a 404 or a 405 it did not expect.

    An answer the check expected is never a mismatch (a check that verifies a 405).
    """
    status = result.status
    if status not in (404, 405):
        return False
    expected = parse_expect(result.expect)
    return not expected.matches(404) and not expected.matches(status)


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


# --- confirming suggestions on the target (`--probe`) --------------------------------------------


@dataclass(frozen=True)
class Probe:
    """A safe request that confirms a suggested route: `method path` stands for `suggestion`.

    A GET or HEAD suggestion is sent as itself; any other method is asked about with OPTIONS
    (the answer's Allow header must list it), never sent.
    """

    suggestion: str
    method: str
    path: str
    wanted: str

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def probe_for(suggestion: str, called: str) -> Probe | None:
    """The probe of a suggested route (`GET /api/users/{id}`), its parameters filled from
    the concrete `called` path; None when they cannot be (`fill_from`).

    >>> probe_for("POST /api/billing/{id}/checkout", "/api/billing/7/pay").label
    'OPTIONS /api/billing/7/checkout'
    """
    wanted, _, template = suggestion.partition(" ")
    path = fill_from(template, called)
    if path is None:
        return None
    method = wanted if wanted in ("GET", "HEAD") else "OPTIONS"
    return Probe(suggestion, method, path, wanted)


def fill_from(template: str, called: str) -> str | None:
    """`template` with each parameter replaced by the called path's value in that place.

    Same number of segments: the value at the same position. Otherwise the value after the
    literal segment that precedes the parameter (`/api/v1/users/42` fills
    `/api/users/{id}` with 42), which must look like an id. None when a parameter has no
    such value: a probe never guesses one.

    >>> fill_from("/api/recordings/{id}", "/api/recordings")  # no list handler: no id
    >>> fill_from("/api/users/{id}", "/api/v1/users/42")
    '/api/users/42'
    """
    raw = [s for s in template.split("/") if s]
    want = segments(template)
    have = [s for s in called.split("?", 1)[0].split("/") if s]
    filled = []
    for index, (segment, shape) in enumerate(zip(raw, want, strict=True)):
        if shape != PARAM:
            filled.append(segment)
            continue
        value = _value_for(index, want, have)
        if value is None:
            return None
        filled.append(value)
    slash = "/" if template.endswith("/") and len(template) > 1 else ""
    return "/" + "/".join(filled) + slash


def _value_for(index: int, want: tuple[str, ...], have: list[str]) -> str | None:
    if len(want) == len(have):
        value = have[index]
    else:
        anchor = want[index - 1] if index else None
        if anchor is None or anchor == PARAM or anchor not in have:
            return None
        after = have.index(anchor) + 1
        value = have[after] if after < len(have) else ""
        if not looks_like_value(value):
            return None
    return value if value and normalise(value) != "/" + PARAM else None


def probes(result: CheckResult, diagnosis: Diagnosis, called: str) -> list[Probe]:
    """The probes that would confirm `diagnosis`'s suggestions for a result whose request
    went to the concrete path `called`; a probe that would repeat the request is left out."""
    found = []
    for suggestion in diagnosis.suggestions:
        probe = probe_for(suggestion, called)
        if probe is None:
            continue
        same = probe.method == result.method and probe.path == called.split("?", 1)[0]
        if not same:
            found.append(probe)
    return found


def confirms(probe: Probe, status: int, allow: frozenset[str]) -> bool:
    """Whether a probe's answer shows the suggested route is served.

    The same identity got a 404 for the called path, so any other answer from the suggested
    one shows a route there, except not found or gone, method not allowed, rate limited and
    server errors (a gateway says those for anything). An OPTIONS probe for another method
    confirms only when the Allow header lists that method.
    """
    if probe.method != probe.wanted:
        return status != 404 and probe.wanted in allow
    return status < 500 and status not in (404, 405, 410, 429)
