"""The `junit` report: JUnit XML for CI test views, a testsuite per group, a testcase per result."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from crawler.reports import check_name, diagnosis_of, flaky_text, started_text
from crawler.reports.curl import curl_command
from crawler.reports.matrix import identity_names, shows_identity
from crawler.reports.mismatches import cause_label, suggestion
from crawler.results import (
    CheckResult,
    FailOn,
    Response,
    Run,
    TransportError,
    title_name,  # environments: titles name it
)

# What XML 1.0 cannot carry at all, not even as a character reference: C0 controls other
# than tab, newline and carriage return, lone surrogates, U+FFFE and U+FFFF. A body from
# the target may hold any of them; they are written as `\x1b` (`\ud800`), so the file stays
# well-formed.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# How much of a response body a failure shows: enough to recognise it, not a whole page.
BODY_LIMIT = 2000


def render(run: Run, *, fail_on: FailOn = "any") -> str:
    """JUnit XML: `<testsuites>` with the run's totals, one `<testsuite>` per group (manifest
    order; `tests`, `failures`, `errors`, `skipped`, `time` in seconds, `timestamp`), and one
    `<testcase>` per result: `name` is `GET /api/billing`, with the identity in brackets
    (`GET /api/billing [admin]`) when the run has more than one; `classname` is the group;
    `time` the response's elapsed seconds (0 when nothing was sent).

    - FAIL: `<failure message="expected 200, got 404" type="FAIL">` whose text says what
      was expected and what came back, the 404 diagnosis (cause, detail, what the backend
      has, the suggestion), the change against a baseline, the `curl` line, and a capped
      excerpt of the response body;
    - ERROR: `<error message="connection refused" type="connect_refused">`, same text;
    - SKIP: `<skipped message="...reason...">`;
    - XFAIL: `<skipped message="known failure T2-3 BACKLOG: no list handler yet">` (known
      and tracked: it does not fail the build), the failure in its text;
    - XPASS: a pass with `<system-out>now passing: close T2-3?</system-out>`;
    - STUB: a pass with `<system-out>likely stub (rule): evidence</system-out>`; with
      `fail_on="stubs"` (the run gates on stubs: it exits 1) a
      `<failure message="likely stub (rule): evidence" type="STUB">`, same text as FAIL;
    - flaky: a pass with `<system-out>flaky: passed on attempt 2</system-out>`.

    Secrets are already redacted on the run. Characters XML cannot hold (control
    characters from a hostile body) are written as `\\x..` escapes, so any run gives a
    well-formed document; ElementTree escapes the rest.
    """
    several = len(identity_names(run)) > 1
    stubs_fail = fail_on == "stubs"
    root = ET.Element(
        "testsuites",
        _counts(title_name(run), run.results, f"{run.duration_s:.3f}", stubs_fail=stubs_fail),
    )
    for group, results in run.groups().items():
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                **_counts(
                    group,
                    results,
                    _seconds(sum(_elapsed(r) for r in results)),
                    stubs_fail=stubs_fail,
                ),
                "timestamp": started_text(run).removesuffix("Z"),
            },
        )
        if run.notices():  # e.g. --insecure: each suite says so, where CI shows it
            properties = ET.SubElement(suite, "properties")
            for notice in run.notices():
                ET.SubElement(properties, "property", {"name": "warning", "value": notice})
        for result in results:
            _testcase(suite, run, result, several=several, stubs_fail=stubs_fail)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _counts(
    name: str, results: Iterable[CheckResult], time: str, *, stubs_fail: bool = False
) -> dict[str, str]:
    items = list(results)
    verdicts = [r.verdict for r in items]
    stubs = verdicts.count("STUB") if stubs_fail else 0
    return {
        "name": _clean(name),
        "tests": str(len(items)),
        "failures": str(verdicts.count("FAIL") + stubs),
        "errors": str(verdicts.count("ERROR")),
        "skipped": str(verdicts.count("SKIP") + verdicts.count("XFAIL")),
        "time": time,
    }


def _testcase(
    suite: ET.Element, run: Run, result: CheckResult, *, several: bool, stubs_fail: bool = False
) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        {
            "name": _clean(check_name(result, several=several)),
            "classname": _clean(result.group),
            "time": _seconds(_elapsed(result)),
        },
    )
    verdict = result.verdict
    if verdict == "FAIL":
        _child(case, "failure", _details(run, result), message=result.reason, type="FAIL")
    elif verdict == "ERROR":
        error = result.observation
        kind = error.error if isinstance(error, TransportError) else "ERROR"
        _child(case, "error", _details(run, result), message=result.reason, type=kind)
    elif verdict == "SKIP":
        _child(case, "skipped", None, message=result.reason)
    elif verdict == "XFAIL":
        known = f"known failure {result.known}" if result.known else "known failure"
        _child(case, "skipped", _details(run, result), message=known)
    elif verdict == "XPASS":
        ticket = result.known.ticket if result.known else "its ticket"
        _child(case, "system-out", f"now passing: close {ticket}?")
    elif verdict == "STUB" and stubs_fail:  # --fail-on stubs: the run exits 1 for it
        _child(case, "failure", _details(run, result), message=result.reason, type="STUB")
    elif verdict == "STUB":  # a passing testcase: stubs gate only with --fail-on stubs
        _child(case, "system-out", result.reason)
    elif result.flaky:
        _child(case, "system-out", _flaky(result))


def _flaky(result: CheckResult) -> str:
    """`flaky: failed 2 times, then passed on attempt 3`."""
    failed = result.attempts - 1
    if failed < 1:
        return flaky_text(result)
    times = "1 time" if failed == 1 else f"{failed} times"
    return f"flaky: failed {times}, then passed on attempt {result.attempts}"


def _child(parent: ET.Element, tag: str, text: str | None, **attributes: str) -> None:
    element = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attributes.items()})
    if text:
        element.text = _clean(text)


def _details(run: Run, result: CheckResult) -> str:
    """What a reader of the CI view needs to act: expected vs got, why, how to reproduce."""
    who = f" · as {result.identity}" if shows_identity(run) else ""
    lines = [
        f"{result.group} · {result.title}{who}",
        f"Expected: {result.expect}",
        f"Got: {_got(result)}",
    ]
    diagnosis = diagnosis_of(result)
    if diagnosis is not None:
        lines.append(f"Cause: {cause_label(diagnosis.cause)}: {diagnosis.detail}")
        if diagnosis.suggestions:
            lines.append(f"Backend has: {', '.join(diagnosis.suggestions)}")
        lines.append(f"Suggestion: {suggestion(diagnosis)}")
    if result.change is not None and result.change != "UNCHANGED":
        lines.append(f"Change: {result.change} (was {result.was or 'not in the baseline'})")
    lines.append(f"Reproduce: {curl_command(run, result)}")
    observation = result.observation
    if isinstance(observation, Response) and observation.body_excerpt:
        excerpt = observation.body_excerpt
        cut = len(excerpt) > BODY_LIMIT or observation.truncated
        lines += ["Response body:", excerpt[:BODY_LIMIT] + (" …(truncated)" if cut else "")]
    return "\n".join(lines)


def _got(result: CheckResult) -> str:
    observation = result.observation
    if isinstance(observation, Response):
        return f"{observation.status} {observation.reason_phrase}".rstrip()
    if isinstance(observation, TransportError):
        return f"no HTTP answer ({observation.error}): {observation.message}"
    return "not sent"


def _elapsed(result: CheckResult) -> float:
    return (result.elapsed_ms or 0.0) / 1000


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _clean(value: str) -> str:
    """`value` with what XML cannot carry written as `\\x1b`, `\\ud800` (see `_NOT_XML`)."""
    return _NOT_XML.sub(_escape, value)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
