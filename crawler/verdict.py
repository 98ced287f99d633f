"""Verdicts: pure rules that turn a check and what was observed into PASS/FAIL/ERROR/SKIP.

`guard` decides before sending whether a check may be sent at all; `judge` decides after.
Neither touches the network, so both are tested table-driven without a server.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import assert_never
from urllib.parse import urlsplit

from crawler.manifest import ANONYMOUS, SAFE_METHODS, Check, Expect, PlannedCheck
from crawler.results import Known, NotSent, Observation, Response, TransportError, Verdict

MUTATION_NOT_ALLOWED = "mutation not allowed (use --allow-mutations or mark the check safe: true)"


@dataclass(frozen=True)
class Judgement:
    """A verdict and the human reason for it ('' for a plain PASS)."""

    verdict: Verdict
    reason: str = ""


def guard(check: Check, *, allow_mutations: bool) -> NotSent | None:
    """The reason a check must not be sent, or None when it may be.

    Rule: only GET, HEAD and OPTIONS are sent by default; any other method needs the
    check's `safe: true` or the run's `--allow-mutations`, so a smoke check against
    production never writes by accident.
    """
    if check.method in SAFE_METHODS or check.safe or allow_mutations:
        return None
    return NotSent(reason=MUTATION_NOT_ALLOWED)


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine: `localhost`, 127.0.0.0/8 or ::1 (brackets allowed)."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mutation_preview(
    checks: Sequence[PlannedCheck], *, allow_mutations: bool, base_url: str | None
) -> str | None:
    """The line to show before a run that will write to a remote service, else None.

    Rule: a run that will send anything but GET, HEAD and OPTIONS (allowed by
    `--allow-mutations` or a check's `safe: true`, see `guard`) to a host that is not this
    machine says so first: `will send 3 POST, 1 DELETE to https://api.example.com
    (--allow-mutations)`. An in-process app (`base_url` None) and loopback hosts are local:
    nothing to say. Methods come in manifest order; each check x identity is one request
    (logins' own steps are not counted: they are declared in the manifest and always sent).
    """
    if base_url is None:
        return None
    parts = urlsplit(base_url)
    if is_loopback(parts.hostname or ""):
        return None
    counts = Counter(
        planned.check.method
        for planned in checks
        if planned.check.method not in SAFE_METHODS
        and guard(planned.check, allow_mutations=allow_mutations) is None
    )
    if not counts:
        return None
    methods = ", ".join(f"{count} {method}" for method, count in counts.items())
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"  # never a user:password@
    why = "--allow-mutations" if allow_mutations else "checks marked safe: true"
    return f"will send {methods} to {origin} ({why})"


def judge(check: Check, observation: Observation, identity: str = ANONYMOUS) -> Judgement:
    """The verdict for one check given what came back.

    - not sent -> SKIP with the reason it was not sent;
    - no HTTP answer (refused, timeout, TLS ...) -> ERROR with the transport's reason;
    - an answer whose status the check expects of `identity` -> PASS (an expected 404 that is a 404
      passes too);
    - any other answer -> FAIL `expected 200, got 404`.
    """
    if isinstance(observation, NotSent):
        return Judgement("SKIP", observation.reason)
    if isinstance(observation, TransportError):
        return Judgement("ERROR", observation.message)
    if isinstance(observation, Response):
        return _judge_status(check.expect_for(identity), observation)
    assert_never(observation)


def _judge_status(expect: Expect, response: Response) -> Judgement:
    if expect.matches(response.status):
        return Judgement("PASS")
    return Judgement("FAIL", f"expected {expect}, got {_status_text(response)}")


def _status_text(response: Response) -> str:
    # A redirect's answer is where it points: "got 302 -> /login" says more than "got 302".
    location = next((v for k, v in response.headers.items() if k.lower() == "location"), None)
    if 300 <= response.status < 400 and location:
        return f"{response.status} -> {location}"
    return str(response.status)


def with_known(judgement: Judgement, known: Known | None) -> Judgement:
    """A known failure's verdict: failing is XFAIL (tracked, not a new problem), passing is
    XPASS (the ticket may be done). SKIP stays SKIP: nothing was learnt."""
    if known is None:
        return judgement
    if judgement.verdict in ("FAIL", "ERROR"):
        return Judgement("XFAIL", f"{judgement.reason} (known: {known})")
    if judgement.verdict == "PASS":
        return Judgement("XPASS", f"now passing: close {known.ticket}?")
    return judgement
