"""Stub detection: named rules that flag passing answers which look like fake data.

A route that answers 200 may still be a stub: hard-coded analytics, an always-empty list,
a POST that echoes its request. `facts` keeps what the rules need of each body (a digest,
array lengths, placeholder values found, ...) while the engine has it; `detect` runs the
rules over the whole run afterwards, since most compare results with each other, and
turns each flagged PASS into STUB with the rule and its evidence. A STUB is a warning: it
fails the run only with `--fail-on stubs`.

The rules, each a pure function over the run's results (see each for its exact terms):

- `same_body_for_params`: different path parameters (`/calls/1`, `/calls/2`, or a
  captured `{org_id}` that differs between identities) answer the same record: one body
  with three meaningful values whose identifier names one of them, or that has none;
- `placeholder_values`: a share of the values are placeholders (`lorem ipsum`, `TODO`,
  `test@...`, `example.com`, `0000-0000`, `N/A` everywhere ...);
- `always_empty`: every answer of a route has only empty collections while other routes
  of its module answer the same identity with data;
- `echoed_request`: a POST answered its JSON request body back verbatim (no id, no
  timestamp added); a PUT or PATCH may honestly answer the resource it stored;
- `constant_samples`: several samples of one check (a repeated or merged run) answered
  the same body, though it has a field that should change (`now`, `generated_at`, ...).

Never flagged: answers that did not pass, that are not 2xx or are 204, small bodies
(`{"ok": true}`), and health, version, status and API-description routes, which are
constant by nature.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from crawler.manifest import SAFE_METHODS
from crawler.results import BodyFacts, CheckResult, Response, Run, Stub
from crawler.routes import looks_like_value, module_of

# --- facts about one body ----------------------------------------------------------------------

# Placeholder values, matched on the whole value (case-insensitive).
_PLACEHOLDER_VALUES = frozenset(
    {
        "todo",
        "tbd",
        "fixme",
        "mock",
        "fake",
        "dummy",
        "placeholder",
        "sample",
        "test",
        "xxx",
        "foo",
        "bar",
        "foobar",
        "changeme",
        "john doe",
        "jane doe",
        "acme",
        "acme corp",
        "example",
    }
)
# Placeholder markers inside a value: words (on word boundaries) and well-known fake data.
_PLACEHOLDER_TEXT = re.compile(
    r"""lorem\s+ipsum
      | \b(?:TODO|FIXME|TBD)\b
      | (?i:\b(?:mock|fake|dummy|placeholder)\b)
      | (?i:(?:@|\b)example\.(?:com|org|net)\b)
      | (?i:\btest@)
      | (?i:\bfoo@bar\b)
      | \b0000-0000\b
      | \b123-456-7890\b
    """,
    re.VERBOSE,
)
# Inside a long text (a description, a comment), a word such as "mock" is just a word.
_SHORT_VALUE = 40
# Numbers nobody measures: typed in by hand.
_PLACEHOLDER_NUMBERS = frozenset({12345, 123456, 1234567, 1234567890, 99999, 999999})
# Values that say "nothing here" (or OpenAPI's example "string"); a stub has them everywhere.
# Not "none", "unknown" or "na": words of real enums (`"mfa": "none"`, `"risk": "unknown"`,
# the region `"NA"`), which a settings record may well have in every field.
_WEAK_VALUES = frozenset({"n/a", "null", "string", "-"})
# Top-level fields whose value should change from one request to the next.
_TIME_FIELD = re.compile(
    r"^(now|time|timestamp|server_?time|generated_?at|served_?at|as_?of|checked_?at|"
    r"uptime(_s|_ms|_seconds)?|counter|request_?count|requests_?served)$",
    re.IGNORECASE,
)
# Arrays deeper than this are a record's own lists, not the answer's collections.
_COLLECTION_DEPTH = 2
# Fields that say which record a body is (`id`, `uuid`, `slug`, `org_id`, `orgId`), kept
# when they are no deeper than `$.data.id` and not inside a list.
_ID_FIELD = re.compile(r"(?i:^(?:id|uuid|guid|slug)$|[_-](?:id|uuid)$)|[a-z0-9](?:Id|ID|Uuid)$")
_ID_DEPTH = 2
_IDS_KEPT = 5
_ID_LENGTH = 64
_MARKERS_KEPT = 3
# Values looked at in one body: the share of placeholders is as clear in a sample, and a
# large body costs no more than this.
_SCAN_LIMIT = 1000


# Facts of small bodies seen before, shared: 100,000 answers of `{"ok":true}` need one.
_SHARED: dict[tuple[bytes, str | None], BodyFacts] = {}
_SHARED_BODY = 4096
_SHARED_LIMIT = 10_000


def facts(
    body: bytes,
    content_type: str | None = None,
    request_body: bytes | None = None,
    clean: Callable[[str], str] = str,
) -> BodyFacts:
    """What the stub rules need of `body` (see `BodyFacts`); `clean` redacts the evidence.

    The same small body without a request body gives the same facts: they are made once
    and shared (frozen), unless they quote values (`markers`, which `clean` redacts).
    """
    if request_body is not None or len(body) > _SHARED_BODY:
        return _facts_of(body, content_type, request_body, clean)
    key = (body, content_type)
    found = _SHARED.get(key)
    if found is None:
        found = _facts_of(body, content_type, None, clean)
        if not found.markers and len(_SHARED) < _SHARED_LIMIT:
            _SHARED[key] = found
    return found


def _facts_of(
    body: bytes,
    content_type: str | None,
    request_body: bytes | None,
    clean: Callable[[str], str],
) -> BodyFacts:
    try:
        data = json.loads(body) if body.strip()[:1] in (b"{", b"[") else None
        is_json = data is not None
    except (ValueError, RecursionError):
        data, is_json = None, False
    if not is_json:
        return BodyFacts(digest=_digest(body))
    scan = _Scan(clean)
    scan.walk(data, "$", 0)
    echo = request_body is not None and _json_echo(request_body, data)
    time_fields = tuple(
        f"$.{key}" for key in (data if isinstance(data, dict) else {}) if _TIME_FIELD.match(key)
    )
    return BodyFacts(
        digest=_digest(body),
        is_json=True,
        leaves=scan.leaves,
        strings=scan.values,
        collections=scan.collections,
        markers=tuple(scan.markers[:_MARKERS_KEPT]),
        marker_count=len(scan.markers),
        weak_markers=scan.weak,
        time_fields=time_fields,
        echo=echo,
        meaningful=scan.meaningful,
        ids=scan.ids,
    )


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _json_echo(request_body: bytes, data: Any) -> bool:
    # Rule: the answer is the request's JSON body itself, a non-trivial object (two or more
    # fields): nothing was stored, no id or timestamp was added.
    try:
        sent = json.loads(request_body)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(sent, dict) and len(sent) >= 2 and sent == data


class _Scan:
    """One walk over a JSON body: leaves, values, arrays near the top, placeholder markers."""

    def __init__(self, clean: Callable[[str], str]) -> None:
        self.clean = clean
        self.leaves = 0
        self.meaningful = 0
        self.ids: dict[str, str] = {}
        self.values = 0
        self.weak = 0
        self.collections: dict[str, int] = {}
        self.markers: list[str] = []

    def identifier(self, value: Any, path: str) -> None:
        key = path.rsplit(".", 1)[-1]
        near = path.count(".") <= _ID_DEPTH and "[*]" not in path
        if near and len(self.ids) < _IDS_KEPT and _ID_FIELD.search(key):
            self.ids[path] = self.clean(str(value).strip()[:_ID_LENGTH])

    def walk(self, node: Any, path: str, depth: int) -> None:
        if self.leaves >= _SCAN_LIMIT and depth > _COLLECTION_DEPTH:
            return  # enough values seen: only the collections near the top are still wanted
        if isinstance(node, dict):
            for key, value in node.items():
                self.walk(value, f"{path}.{key}", depth + 1)
        elif isinstance(node, list):
            if depth <= _COLLECTION_DEPTH:
                self.collections[path] = len(node)
            item_path = f"{path}[*]"
            for item in node:
                self.walk(item, item_path, depth + 1)
        elif self.leaves < _SCAN_LIMIT:
            self.leaf(node, path)

    def leaf(self, value: Any, path: str) -> None:
        self.leaves += 1
        if isinstance(value, bool) or value is None:
            return
        if value != 0 and (not isinstance(value, str) or value.strip()):
            self.meaningful += 1  # booleans, null, '' and 0 say nothing of which record
            self.identifier(value, path)
        self.values += 1
        if isinstance(value, int | float):
            if value in _PLACEHOLDER_NUMBERS:
                self.markers.append(f"{path} = {value}")
            return
        text = str(value).strip()
        if text.lower() in _WEAK_VALUES:
            self.weak += 1
        elif text.lower() in _PLACEHOLDER_VALUES or (
            len(text) <= _SHORT_VALUE and _PLACEHOLDER_TEXT.search(text)
        ):
            self.markers.append(f"{path} = {json.dumps(self.clean(text[:_SHORT_VALUE]))}")
        elif re.search(r"(?i)lorem\s+ipsum", text):
            self.markers.append(f"{path} = {json.dumps(self.clean(text[:_SHORT_VALUE]) + '…')}")


# --- the rules over a run ----------------------------------------------------------------------

# Routes constant by nature: never stubs.
_EXEMPT = re.compile(
    r"(^|/)(health|healthz|livez|readyz|ready|live|alive|ping|version|status|metrics|"
    r"openapi\.json|openapi\.yaml|swagger\.json|api-docs)$",
    re.IGNORECASE,
)
# A body below this is too small to say anything (`{"ok": true}`, `[]`).
_MIN_LEAVES = 3
_MIN_TEXT_BYTES = 64

Found = dict[int, Stub]
Rule = Callable[[Sequence[CheckResult]], Found]


def _facts(result: CheckResult) -> BodyFacts | None:
    """The facts of a passing 2xx answer with a body (not 204), else None: not judged."""
    observation = result.observation
    if result.verdict != "PASS" or not isinstance(observation, Response):
        return None
    if not 200 <= observation.status < 300 or observation.status == 204:
        return None
    if _EXEMPT.search(_bare(result.path)):
        return None
    return observation.facts


def _bare(path: str) -> str:
    return path.split("?", 1)[0].rstrip("/")


def _sent_path(result: CheckResult) -> str:
    return urlsplit(result.request.url).path


def _sent_url(result: CheckResult) -> str:
    parts = urlsplit(result.request.url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _template(result: CheckResult) -> str:
    """The route of a result: placeholders and values in its written path become `{}`."""
    parts = [
        "{}" if (s.startswith("{") and s.endswith("}")) or looks_like_value(s) else s
        for s in _bare(result.path).split("/")
    ]
    return "/".join(parts)


def _nontrivial(facts: BodyFacts, result: CheckResult) -> bool:
    if facts.is_json:  # a run saved before `meaningful` was counted: its leaves
        count = facts.leaves if facts.meaningful is None else facts.meaningful
        return count >= _MIN_LEAVES
    size = result.observation.body_bytes if isinstance(result.observation, Response) else 0
    return size >= _MIN_TEXT_BYTES


def same_body_for_params(results: Sequence[CheckResult]) -> Found:
    """Rule: two or more different parameter values answer the same record. Exactly:

    - the parameter values: the path parameters of one route (`/calls/1`, `/calls/2`), or
      the URLs of one check that differ per identity because a captured `{org_id}` does
      (in its path or query); the same URL asked by several identities (a catalogue) is
      one value, not several;
    - they got the very same body (its digest), passing, 2xx, not 204;
    - the body says something: at least three meaningful values (JSON leaves other than
      booleans, null, '' and 0; empty lists have none), or 64 bytes of a non-JSON body;
    - and it is a record, not a shared answer: an identifier field near the top (`$.id`,
      `$.orgId`, `$.data.user_id`, ...) names one of the parameter values (`/calls/2`
      answering `"id": "call_1"`, the record of `1`), or the body has no identifier at all
      (hard-coded figures).

    Not flagged: a body whose identifiers name none of the values (the same plan,
    `"plan_id": "pro"`, for two organisations), an empty page, the same permissions of two
    members (`{"role": "member", "can_edit": false}`)."""
    routes: dict[tuple[str, str], list[int]] = defaultdict(list)
    checks: dict[tuple[str, int], list[int]] = defaultdict(list)
    for index, result in enumerate(results):
        found = _facts(result)
        if found is None or not _nontrivial(found, result):
            continue
        checks[(result.group, result.index)].append(index)
        if "{}" in _template(result):
            routes[(result.method, _template(result))].append(index)
    flagged: Found = {}
    for indexes in routes.values():
        flagged.update(_same_body(results, indexes, _sent_path))
    for indexes in checks.values():
        flagged.update(_same_body(results, indexes, _sent_url))
    return flagged


def _same_body(
    results: Sequence[CheckResult], indexes: list[int], value: Callable[[CheckResult], str]
) -> Found:
    """The results among `indexes` whose body another `value` (path, URL) answered too."""
    by_digest: dict[str, list[int]] = defaultdict(list)
    for index in indexes:
        by_digest[_digest_of(results[index])].append(index)
    flagged: Found = {}
    for same in by_digest.values():
        values = sorted({value(results[i]) for i in same})
        if len(values) < 2:
            continue
        first = results[same[0]]
        found = first.observation.facts if isinstance(first.observation, Response) else None
        ids = found.ids if found is not None else {}
        named = _named(ids, values)
        if ids and named is None:
            continue  # identified as something none of the values is: a shared answer
        size = first.observation.body_bytes if isinstance(first.observation, Response) else 0
        more = f" (+{len(values) - 2} more)" if len(values) > 2 else ""
        evidence = (
            f"{first.method} {' and '.join(values[:2])}{more} answer the same {size}-byte body"
        )
        if named is not None:
            field, record, parameter = named
            evidence += f" ({field} = {json.dumps(record)}: the record of {parameter})"
        flagged.update((i, Stub(rule="same_body_for_params", evidence=evidence)) for i in same)
    return flagged


def _named(ids: dict[str, str], values: list[str]) -> tuple[str, str, str] | None:
    """The first identifier among `ids` that names a parameter value, as (field, value,
    parameter); the parameter values are the parts (`/`, `?`, `&`, `=`) in which `values`
    differ. An identifier names `1` when it is `1` or ends in `_1`, `-1`, `:1`, `/1`."""
    parts = [set(re.split(r"[/?&=]", v)) - {""} for v in values]
    parameters = sorted(set().union(*parts) - set.intersection(*parts))
    for field, record in ids.items():
        for parameter in parameters:
            if record == parameter or record.endswith(tuple(f"{sep}{parameter}" for sep in "_-:/")):
                return field, record, parameter
    return None


def _digest_of(result: CheckResult) -> str:
    found = result.observation.facts if isinstance(result.observation, Response) else None
    return found.digest if found is not None else ""


def placeholder_values(results: Sequence[CheckResult]) -> Found:
    """Rule: at least two placeholder values (`lorem ipsum`, `TODO`, `test@...`,
    `example.com`, `0000-0000`, 12345 ...) making up a fifth or more of the body's values,
    or "nothing" values (`N/A`, `string`) in half or more of them (three at least). A
    real record that merely contains a common word (one "Mock interview" among twenty
    titles, a word inside a long description) is not flagged."""
    flagged: Found = {}
    for index, result in enumerate(results):
        found = _facts(result)
        if found is None or not found.is_json or found.strings == 0:
            continue
        markers = found.marker_count >= 2 and found.marker_count * 5 >= found.strings
        empty = found.weak_markers >= 3 and found.weak_markers * 2 >= found.strings
        if markers:
            shown = ", ".join(found.markers)
            more = found.marker_count - len(found.markers)
            evidence = f"{found.marker_count} of {found.strings} values are placeholders: {shown}"
            flagged[index] = Stub(
                rule="placeholder_values", evidence=evidence + (f" (+{more} more)" if more else "")
            )
        elif empty:
            evidence = (
                f"{found.weak_markers} of {found.strings} values say nothing (N/A, string ...)"
            )
            flagged[index] = Stub(rule="placeholder_values", evidence=evidence)
    return flagged


def always_empty(results: Sequence[CheckResult]) -> Found:
    """Rule: every answer of a route (each identity's, each query's) has collections and
    all of them are empty, while another route of the same module (`/api/users`)
    answers the same identity with a non-empty collection. A list that is empty on page 2
    but not on page 1 is one route with data: not flagged."""
    routes: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, result in enumerate(results):
        found = _facts(result)
        if found is not None and found.is_json and found.collections:
            routes[(result.method, _template(result))].append(index)
    empty = {
        route: indexes
        for route, indexes in routes.items()
        if all(not any(_collections(results[i]).values()) for i in indexes)
    }
    # Data a sibling route gave: any 2xx answer counts, passing or not (a leak is data too).
    data_for: dict[tuple[str, str], set[str]] = defaultdict(set)  # (module, identity) -> routes
    for result in results:
        status = result.status or 0
        if 200 <= status < 300 and any(_collections(result).values()):
            template = _template(result)
            data_for[(module_of(template), result.identity)].add(f"{result.method} {template}")
    flagged: Found = {}
    for (_, template), indexes in empty.items():
        for i in indexes:
            siblings = sorted(data_for.get((module_of(template), results[i].identity), set()))
            if not siblings:
                continue
            paths = ", ".join(_collections(results[i]))
            evidence = (
                f"{paths} always empty, while {siblings[0]}"
                + (f" (+{len(siblings) - 1} more)" if len(siblings) > 1 else "")
                + f" in {module_of(template)} returns data to {results[i].identity}"
            )
            flagged[i] = Stub(rule="always_empty", evidence=evidence)
    return flagged


def _collections(result: CheckResult) -> dict[str, int]:
    found = result.observation.facts if isinstance(result.observation, Response) else None
    return found.collections if found is not None else {}


# Mutations whose honest answer may be the request body itself: a PUT replaces the resource
# with the representation it sent, and a PATCH that names every field of a small resource
# (`{"theme", "language"}`) leaves it equal to the patch; both answer the stored resource.
_ECHO_EXPECTED = frozenset({"PUT", "PATCH"})


def echoed_request(results: Sequence[CheckResult]) -> Found:
    """Rule: a POST (or another mutation but PUT and PATCH, see `_ECHO_EXPECTED`) answered
    2xx with its own JSON request body, verbatim: no id, no timestamp, nothing stored. A
    real create answers with what it made."""
    flagged: Found = {}
    for index, result in enumerate(results):
        observation = result.observation
        if result.method in SAFE_METHODS or result.method in _ECHO_EXPECTED:
            continue
        if result.verdict != "PASS":
            continue
        if not isinstance(observation, Response) or not 200 <= observation.status < 300:
            continue
        if observation.facts is not None and observation.facts.echo:
            evidence = (
                f"{result.method} {_bare(result.path)} answered its request body verbatim "
                "(no id, no timestamp)"
            )
            flagged[index] = Stub(rule="echoed_request", evidence=evidence)
    return flagged


def constant_samples(results: Sequence[CheckResult]) -> Found:
    """Rule: two or more samples of the same check and identity (a repeated or merged run)
    answered the very same body, though it has a field that should change between
    requests (`now`, `timestamp`, `generated_at`, `uptime`, a counter). A clock that does
    not move is hard-coded. A constant body without such a field is not flagged."""
    samples: dict[tuple[str, int, str, str, str], list[int]] = defaultdict(list)
    for index, result in enumerate(results):
        found = _facts(result)
        if found is not None and found.time_fields:
            samples[
                (result.group, result.index, result.identity, result.method, result.path)
            ].append(index)
    flagged: Found = {}
    for index, result in enumerate(results):  # --repeat: the samples folded into one result
        found = _facts(result)
        if (
            found is not None
            and found.time_fields
            and result.distinct_bodies == 1
            and len(result.samples_ms) >= 2
        ):
            evidence = (
                f"{len(result.samples_ms)} samples (--repeat) answered the same body, though "
                f"{', '.join(found.time_fields)} should change"
            )
            flagged[index] = Stub(rule="constant_samples", evidence=evidence)
    for indexes in samples.values():
        digests = {_digest_of(results[i]) for i in indexes}
        if len(indexes) >= 2 and len(digests) == 1:
            first = results[indexes[0]].observation
            fields = first.facts.time_fields if isinstance(first, Response) and first.facts else ()
            evidence = (
                f"{len(indexes)} samples answered the same body, though {', '.join(fields)} "
                "should change"
            )
            flagged.update((i, Stub(rule="constant_samples", evidence=evidence)) for i in indexes)
    return flagged


# In order: the first rule that flags a result is the one reported.
RULES: tuple[Rule, ...] = (
    echoed_request,
    same_body_for_params,
    placeholder_values,
    always_empty,
    constant_samples,
)


def find(results: Sequence[CheckResult]) -> Found:
    """Every result a rule flags, by position, with the first rule's finding."""
    flagged: Found = {}
    for rule in RULES:
        for index, stub in rule(results).items():
            flagged.setdefault(index, stub)
    return flagged


def detect(run: Run) -> Run:
    """`run` with every likely stub's PASS turned into STUB, with its rule and evidence."""
    flagged = find(run.results)
    if not flagged:
        return run
    results = tuple(
        _flag(result, flagged[index]) if index in flagged else result
        for index, result in enumerate(run.results)
    )
    return run.model_copy(update={"results": results})


def _flag(result: CheckResult, stub: Stub) -> CheckResult:
    return result.with_details(
        stub=stub,
        update={"verdict": "STUB", "reason": f"likely stub ({stub.rule}): {stub.evidence}"},
    )


def stubs_of(run: Run) -> Iterator[CheckResult]:
    """The run's STUB results, in manifest order."""
    return (result for result in run.results if result.verdict == "STUB")
