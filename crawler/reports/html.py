"""The `html` report: one self-contained, offline page of tiles, filters and failure details."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from crawler.reports import duration_text, ms_text, note_text, started_text
from crawler.reports.curl import curl_command
from crawler.results import VERDICTS, CheckResult, Run, Verdict, group_label, tally

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Row:
    """One result as the template shows it; `anchor` links a FAIL/ERROR to its details."""

    result: CheckResult
    ms: str
    note: str
    anchor: str | None
    curl: str | None


@dataclass(frozen=True)
class GroupTally:
    name: str
    label: str
    counts: dict[Verdict, int]
    total: int


def render(run: Run) -> str:
    """The HTML report: header, totals tiles, group tallies, a filterable table of all
    results (manifest order), then the request, curl line and response of every FAIL
    and ERROR.

    The page loads nothing: CSS and JS are inline, and its Content-Security-Policy
    forbids every fetch and lets only the report's own script run (by hash). Everything
    from the target is escaped by jinja2's autoescape; the table reads fine without JS.
    """
    counts = tally(run.results)
    rows = [_row(run, position, result) for position, result in enumerate(run.results)]
    groups = [
        GroupTally(group, group_label(group, results), dict(tally(results)), len(results))
        for group, results in run.groups().items()
    ]
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            run=run,
            title=f"{run.name} verification ({counts['PASS']}/{len(run.results)} PASS)",
            started=started_text(run),
            duration=duration_text(run),
            verdicts=VERDICTS,
            counts=counts,
            groups=groups,
            rows=rows,
            failures=[row for row in rows if row.anchor],
        )
    )


def _row(run: Run, position: int, result: CheckResult) -> Row:
    failed = result.verdict in ("FAIL", "ERROR")
    return Row(
        result=result,
        ms=ms_text(result),
        note=note_text(result),
        anchor=f"failure-{position + 1}" if failed else None,
        curl=curl_command(run, result) if failed else None,
    )


def csp_hash(script: str) -> str:
    """The CSP source that allows exactly this inline script: `'sha256-…'`."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # everything from the target is untrusted
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["csp_hash"] = csp_hash
    return env
