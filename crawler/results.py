"""Results: observations, verdicts and the Run document every report is rendered from.

A `Run` is versioned JSON (`schema: "crawler.run/1"`): save it with `dump_run`, read it
back with `load_run`, and any report can be rendered again later. Secrets never reach
these models: requests and headers are redacted before a result is built.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from crawler.errors import RunFileError

RUN_SCHEMA = "crawler.run/1"

Verdict = Literal["PASS", "FAIL", "ERROR", "SKIP", "XFAIL", "XPASS", "STUB"]
VERDICTS: tuple[Verdict, ...] = ("PASS", "FAIL", "ERROR", "SKIP", "XFAIL", "XPASS", "STUB")
# The verdicts every report shows; XFAIL and XPASS join them when a run has any.
CORE_VERDICTS: tuple[Verdict, ...] = ("PASS", "FAIL", "ERROR", "SKIP")

# Failures first: the order in which the terminal summary lists results.
SEVERITY: dict[Verdict, int] = {
    "FAIL": 0,
    "ERROR": 1,
    "XPASS": 2,
    "XFAIL": 3,
    "SKIP": 4,
    "PASS": 5,
    "STUB": 3,  # stub detection: answered, but likely fake data (a warning unless gated)
}

# Change statuses against a baseline run.
Change = Literal["FIXED", "REGRESSED", "NEW", "GONE", "UNCHANGED"]
CHANGES: tuple[Change, ...] = ("REGRESSED", "FIXED", "NEW", "GONE", "UNCHANGED")

KnownStatus = Literal["BACKLOG", "BLOCKED", "DEFERRED"]

_frozen = ConfigDict(frozen=True, extra="forbid")


# Stable codes for "no HTTP answer", so reports and later runs can compare them.
ErrorCode = Literal[
    "connect_refused",
    "connect_timeout",
    "dns",
    "read_timeout",
    "write_timeout",
    "timeout",
    "tls",
    "reset",
    "protocol",
    "too_many_redirects",
    "app_error",
    "other",
]


class Response(BaseModel):
    """An HTTP answer: status, redacted headers, a capped excerpt of the body, timing."""

    model_config = _frozen

    kind: Literal["response"] = "response"
    status: int
    reason_phrase: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    body_excerpt: str = ""
    body_bytes: int = 0
    truncated: bool = False
    note: str = Field(
        default="",
        description="What the crawler did to the answer: 'body over 64 KiB cap, truncated'.",
    )
    elapsed_ms: float
    # Stub detection (crawler/stubs.py): facts about the whole body, kept for every answer.
    facts: BodyFacts | None = None
    # Body assertions: the body as read (up to the cap), for judging only; never saved.
    _body: bytes | None = PrivateAttr(default=None)
    # ... and its headers as sent, unredacted (a header assertion judges what came back).
    _raw_headers: dict[str, str] | None = PrivateAttr(default=None)


class TransportError(BaseModel):
    """No HTTP answer: `error` is a stable code, `message` a short human reason."""

    model_config = _frozen

    kind: Literal["error"] = "error"
    error: ErrorCode
    message: str
    elapsed_ms: float


class NotSent(BaseModel):
    """The request was deliberately not sent; `reason` says why."""

    model_config = _frozen

    kind: Literal["not_sent"] = "not_sent"
    reason: str


# --- stub detection: what is kept of a body, and a finding (see crawler/stubs.py) -----------

StubRule = Literal[
    "same_body_for_params",
    "placeholder_values",
    "always_empty",
    "echoed_request",
    "constant_samples",
]


class BodyFacts(BaseModel):
    """What stub detection needs of a body, kept even when the body itself is not.

    Computed by `stubs.facts` from the whole body read (up to the body cap); every text in
    it is redacted and short.
    """

    model_config = _frozen

    digest: str = Field(description="sha256 (16 hex digits) of the body.")
    is_json: bool = False
    leaves: int = Field(default=0, description="Scalar values in the JSON body (up to 1000).")
    strings: int = Field(default=0, description="String and number values looked at for markers.")
    collections: dict[str, int] = Field(
        default_factory=dict, description="JSONPath -> length of each array near the top."
    )
    markers: tuple[str, ...] = Field(default=(), description="A few placeholder values found.")
    marker_count: int = 0
    weak_markers: int = Field(default=0, description="Values such as N/A or 'string'.")
    time_fields: tuple[str, ...] = Field(
        default=(), description="Fields that should change between samples (timestamps, counters)."
    )
    echo: bool = Field(default=False, description="The body is the request's JSON body verbatim.")
    # same_body_for_params: what tells a record from a shared or empty body (stubs.py).
    meaningful: int | None = Field(
        default=None, description="Leaves other than booleans, null, '' and 0 (None: not counted)."
    )
    ids: dict[str, str] = Field(
        default_factory=dict, description="Identifier fields near the top: JSONPath -> value."
    )


class Details(BaseModel):
    """What only some results have; see `CheckResult.details`."""

    model_config = _frozen

    # Body assertions and stub detection.
    assertions: tuple[str, ...] = Field(
        default=(), description="Every body assertion that failed (the first is in `reason`)."
    )
    stub: Stub | None = Field(default=None, description="STUB: the rule and its evidence.")
    # Latency (--repeat, slo:): every sample's elapsed ms, and the SLO limits judged against.
    samples_ms: tuple[float, ...] = Field(
        default=(), description="With --repeat: each answered sample's elapsed ms."
    )
    slo: dict[str, float] = Field(
        default_factory=dict, description="The SLO limits it was judged by ({p95_ms: 100})."
    )
    distinct_bodies: int | None = Field(
        default=None,
        description="With --repeat: how many different bodies its samples answered "
        "(stub detection's constant_samples; None when not known).",
    )


class Stub(BaseModel):
    """Why a passing answer looks like a stub: the rule that fired and its evidence."""

    model_config = _frozen

    rule: StubRule
    evidence: str


Observation = Annotated[Response | TransportError | NotSent, Field(discriminator="kind")]


Cause = Literal[
    "wrong_method",
    "trailing_slash",
    "resource_not_found",
    "prefix_skew",
    "no_list_handler",
    "extra_segment",
    "missing_segment",
    "param_shape",
    "renamed",
    "near_miss",
    "module_missing",
    "unknown",
]


class Diagnosis(BaseModel):
    """Why a route answered 404/405: a cause, a human detail, and routes that do exist."""

    model_config = _frozen

    cause: Cause
    detail: str
    suggestions: tuple[str, ...] = ()
    confirmed: tuple[str, ...] = Field(
        default=(), description="The suggestions `--probe` saw answer on the target."
    )


class Known(BaseModel):
    """A known failure: the ticket that tracks it, its status and why (`T2-3 BACKLOG`)."""

    model_config = _frozen

    ticket: str
    status: KnownStatus = "BACKLOG"
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.ticket} {self.status}" + (f": {self.reason}" if self.reason else "")


class RequestInfo(BaseModel):
    """What was (or would have been) sent, with secrets already redacted."""

    model_config = _frozen

    method: str
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    content_type: str | None = None


class CheckResult(BaseModel):
    """One check, what was observed, and the verdict with its reason."""

    model_config = _frozen

    group: str
    index: int = Field(description="Position of the check within its group, from 0.")
    name: str | None = None
    method: str
    path: str
    expect: str
    tags: tuple[str, ...] = ()
    identity: str = Field(default="anonymous", description="Who the request was sent as.")
    request: RequestInfo
    observation: Observation
    verdict: Verdict
    reason: str = Field(description="Why the verdict: 'expected 200, got 404'; '' for PASS.")
    reauthenticated: bool = Field(
        default=False, description="The session had expired: logged in again and retried."
    )
    diagnosis: Diagnosis | None = Field(
        default=None, description="For a 404/405 where a route was expected: why."
    )
    known: Known | None = Field(default=None, description="A known failure's ticket.")
    flaky: bool = Field(default=False, description="Failed, then passed when checked again.")
    attempts: int = Field(default=1, description="Times the check was sent (retries).")
    was: str | None = Field(
        default=None, description="With a baseline: the verdict and status then (`FAIL 404`)."
    )
    change: Change | None = Field(default=None, description="With a baseline: what changed.")
    # flows: the flow this result is a step of (its group is the flow, its index the step)
    flow: str | None = Field(
        default=None, description="The flow this result is a step of; `index` is the step."
    )
    # What only some results have (assertions, stubs, latency), in one field: a result's
    # attribute dict stays at 21 keys, half the memory of 25 (100,000 results, see bench/).
    details: Details | None = Field(
        default=None, description="Failed assertions, a likely stub, latency samples, SLO."
    )

    @property
    def assertions(self) -> tuple[str, ...]:
        """Every body assertion that failed (the first is in `reason`)."""
        return self.details.assertions if self.details else ()

    @property
    def stub(self) -> Stub | None:
        """STUB: the rule and its evidence."""
        return self.details.stub if self.details else None

    @property
    def samples_ms(self) -> tuple[float, ...]:
        """With --repeat: each answered sample's elapsed ms."""
        return self.details.samples_ms if self.details else ()

    @property
    def slo(self) -> dict[str, float]:
        """The SLO limits it was judged by ({p95_ms: 100}); empty without any."""
        return self.details.slo if self.details else {}

    @property
    def distinct_bodies(self) -> int | None:
        """With --repeat: how many different bodies its samples answered (None: unknown)."""
        return self.details.distinct_bodies if self.details else None

    def with_details(self, **changes: Any) -> CheckResult:
        """This result with `changes` to its details (assertions, stub, samples_ms, slo,
        distinct_bodies); other fields, as `model_copy`, in `update`."""
        update = changes.pop("update", {})
        details = (self.details or Details()).model_copy(update=changes)
        return self.model_copy(update={**update, "details": details})

    @property
    def status(self) -> int | None:
        return self.observation.status if isinstance(self.observation, Response) else None

    @property
    def elapsed_ms(self) -> float | None:
        if isinstance(self.observation, Response | TransportError):
            return self.observation.elapsed_ms
        return None

    @property
    def got(self) -> str:
        """What came back, in a word: the status, the error code, or `not sent`."""
        observation = self.observation
        if isinstance(observation, Response):
            return str(observation.status)
        if isinstance(observation, TransportError):
            return observation.error
        return "not sent"

    @property
    def title(self) -> str:
        return self.name or f"{self.method} {self.path}"

    @property
    def cell(self) -> str:
        """The verdict and what came back, as a matrix cell: `PASS 200`, `ERROR`, `SKIP`."""
        return f"{self.verdict} {self.status}" if self.status is not None else self.verdict

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What identifies this result across runs: group, method, path, identity."""
        return (self.group, self.method, self.path, self.identity)


INSECURE_NOTICE = (
    "TLS certificate verification was OFF (--insecure): "
    "these answers may not come from the real server."
)


class RunSettings(BaseModel):
    """The settings a run was made with, recorded so a reader knows what was allowed."""

    model_config = _frozen

    concurrency: int
    timeout: float
    allow_mutations: bool
    transport: str
    # Network options a reader must know about (reports warn about `insecure`)
    insecure: bool = Field(default=False, description="TLS certificates were not verified.")
    proxy: str | None = Field(default=None, description="The proxy requests went through.")
    # --repeat: times each check was sent (its latency samples).
    repeat: int = 1


class IdentityStatus(BaseModel):
    """An identity of the run and whether it could log in (`failure` says why not)."""

    model_config = _frozen

    name: str
    kind: str
    failure: str | None = None
    unreachable: bool = Field(
        default=False, description="The login got no HTTP answer: its checks are ERROR."
    )


class Run(BaseModel):
    """A whole crawl: where, when, with what settings, and every result in manifest order."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    schema_: Literal["crawler.run/1"] = Field(default="crawler.run/1", alias="schema")
    name: str
    manifest: str
    target: str
    in_process: bool = False
    environment: str | None = Field(
        default=None, description="The manifest's environment crawled (`--env NAME`)."
    )
    started_at: datetime
    duration_s: float
    interrupted: bool = False
    settings: RunSettings
    identities: tuple[IdentityStatus, ...] = ()
    inventory: str | None = Field(
        default=None, description="Where the route inventory for diagnoses came from."
    )
    baseline: str | None = Field(default=None, description="The run compared against.")
    gone: tuple[CheckResult, ...] = Field(
        default=(), description="With a baseline: results it had that this run has not."
    )
    results: tuple[CheckResult, ...]
    # generated data: the run's `{run_id}`, the same in every request of it
    run_id: str | None = Field(default=None, description="The run's {run_id} placeholder.")

    def notices(self) -> list[str]:
        """What every report must say before its results: settings that weaken them."""
        found = []
        if self.settings.insecure:
            found.append(INSECURE_NOTICE)
        return found

    def groups(self) -> dict[str, list[CheckResult]]:
        """Results by group, groups and results in manifest order."""
        grouped: dict[str, list[CheckResult]] = {}
        for result in self.results:
            grouped.setdefault(result.group, []).append(result)
        return grouped


def tally(results: Iterable[CheckResult]) -> Counter[Verdict]:
    """How many results have each verdict (every verdict present, zeros included)."""
    counts: Counter[Verdict] = Counter(dict.fromkeys(VERDICTS, 0))
    counts.update(result.verdict for result in results)
    return counts


def shown_verdicts(results: Iterable[CheckResult]) -> tuple[Verdict, ...]:
    """The verdicts a report's tallies show: the core four, plus XFAIL/XPASS when present."""
    present = {result.verdict for result in results}
    return tuple(v for v in VERDICTS if v in CORE_VERDICTS or v in present)


def changes(run: Run) -> Counter[Change]:
    """How many results changed how against the baseline (GONE from `run.gone`)."""
    counts: Counter[Change] = Counter(dict.fromkeys(CHANGES, 0))
    counts.update(result.change for result in run.results if result.change is not None)
    counts["GONE"] = len(run.gone)
    return counts


def group_label(group: str, results: Iterable[CheckResult]) -> str:
    """`Billing (17/17 PASS)`: passed out of all checks in the group."""
    items = list(results)
    passed = sum(1 for r in items if r.verdict == "PASS")
    if items and items[0].flow is not None:  # flows: `Flow Bookings CRUD (4/5 PASS)`
        return f"Flow {group} ({passed}/{len(items)} PASS)"
    return f"{group} ({passed}/{len(items)} PASS)"


def title_name(run: Run) -> str:
    """What a report's title calls the run: its name, and its environment when it has one
    (`Demo API · staging`)."""
    return f"{run.name} · {run.environment}" if run.environment else run.name


def failures_first(results: Iterable[CheckResult]) -> list[CheckResult]:
    """Results ordered FAIL, ERROR, SKIP, PASS; manifest order within each verdict."""
    return sorted(results, key=lambda r: SEVERITY[r.verdict])


@dataclass(frozen=True)
class Summary:
    """The one-line outcome of a run and the exit code it maps to."""

    counts: Counter[Verdict]
    total: int
    exit_code: int
    line: str


# Exit codes users and CI rely on.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOGIN = 3
EXIT_INTERRUPTED = 130


FailOn = Literal["any", "regressions", "stubs"]


def summarize(run: Run, fail_on: FailOn = "any") -> Summary:
    """`29 checks: 27 PASS, 1 FAIL, 1 ERROR, 0 SKIP in 1.32 s` and the exit code.

    Exit 0 when every check is PASS, SKIP, XFAIL, XPASS or STUB; 1 when any is FAIL or ERROR
    (with `fail_on="regressions"`: only when one REGRESSED against the baseline; with
    `fail_on="stubs"`: a STUB too); 3 when an
    identity's login was rejected (its checks SKIP; it outranks 1, since a broken login
    hides what those checks would say); 130 when the run was interrupted (outranks
    everything). A login that got no answer at all makes its checks ERROR: exit 1.
    """
    counts = tally(run.results)
    total = len(run.results)
    noun = "check" if total == 1 else "checks"
    shown = shown_verdicts(run.results)
    parts = ", ".join(f"{counts[v]} {v}" for v in shown if v != "PASS")
    flaky = sum(1 for r in run.results if r.flaky)
    if flaky:
        parts += f" ({flaky} FLAKY)"
    if run.baseline is not None:
        moved = changes(run)
        parts += "; " + ", ".join(f"{moved[c]} {c}" for c in CHANGES if c != "UNCHANGED")
    failed_logins = [i.name for i in run.identities if i.failure and not i.unreachable]
    unreachable = [i.name for i in run.identities if i.failure and i.unreachable]
    notes = "".join(
        f" ({label} {', '.join(names)})"
        for label, names in (
            ("could not log in:", failed_logins),
            ("no answer to the login of", unreachable),
        )
        if names
    )
    line = f"{total} {noun}: {counts['PASS']} PASS, {parts}{notes} in {run.duration_s:.2f} s"
    if run.interrupted:
        line += " (interrupted)"
        code = EXIT_INTERRUPTED
    elif failed_logins:
        code = EXIT_LOGIN
    elif fail_on == "regressions":
        code = EXIT_FAILED if changes(run)["REGRESSED"] else EXIT_OK
    elif fail_on == "stubs":  # likely stubs gate too
        code = EXIT_FAILED if counts["FAIL"] or counts["ERROR"] or counts["STUB"] else EXIT_OK
    elif counts["FAIL"] or counts["ERROR"]:
        code = EXIT_FAILED
    else:
        code = EXIT_OK
    return Summary(counts=counts, total=total, exit_code=code, line=line)


def dump_run(run: Run) -> str:
    """The run as indented JSON (the `json` report format)."""
    return run.model_dump_json(by_alias=True, indent=2) + "\n"


def load_run(path: str | Path) -> Run:
    """Read a saved run; raise `RunFileError` with the reason when it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RunFileError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    except UnicodeDecodeError:
        raise RunFileError(f"{path}: not a crawler run (not UTF-8 text).") from None
    newer = _newer_schema(text)
    if newer:
        raise RunFileError(
            f"{path}: written by a newer crawler ({newer}); upgrade crawler to read it."
        )
    try:
        return Run.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RunFileError(
            f"{path}: not a crawler run ({RUN_SCHEMA}): {where}: {first['msg']}. "
            "Pass the run.json written by `crawler run`."
        ) from None


def _newer_schema(text: str) -> str | None:
    """The `schema` of a run written by a later crawler (`crawler.run/2`), else None."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    schema = data.get("schema") if isinstance(data, dict) else None
    if not isinstance(schema, str) or not schema.startswith("crawler.run/"):
        return None
    version = schema.removeprefix("crawler.run/")
    current = int(RUN_SCHEMA.removeprefix("crawler.run/"))
    return schema if version.isdigit() and int(version) > current else None
