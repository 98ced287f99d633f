"""The report formats: a name -> `Format` registry (the CLI's `--format` choices) and cell text.

Every format is a pure `render(run) -> str`; writing files is the caller's job. Each entry
imports its renderer only when called, so `crawler --help` never loads jinja2 or rich::

    text = FORMATS["md"].render(run)
    for name in FILE_FORMATS:
        write(out / FORMATS[name].filename, FORMATS[name].render(run))

The small helpers below are the few pieces of text every human-readable report shares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.results import CheckResult, Diagnosis, FailOn, Run


@dataclass(frozen=True)
class Format:
    """A report format: its name, the file it is written to (None: printed), its renderer."""

    name: str
    filename: str | None
    render: Callable[[Run], str]
    description: str
    # --fail-on: a format whose verdicts follow the gate (junit) renders with it.
    gated: Callable[[Run, FailOn], str] | None = None

    def render_for(self, run: Run, fail_on: FailOn = "any") -> str:
        """The report of a run made with `--fail-on fail_on` (`render` if it is not gated)."""
        return self.render(run) if self.gated is None else self.gated(run, fail_on)


def _markdown(run: Run) -> str:
    from crawler.reports import markdown

    return markdown.render(run)


def _mismatches(run: Run) -> str:
    from crawler.reports import markdown

    return markdown.render_mismatches(run)


def _html(run: Run) -> str:
    from crawler.reports import html

    return html.render(run)


def _json(run: Run) -> str:
    from crawler.reports import json_report

    return json_report.render(run)


def _junit(run: Run) -> str:
    from crawler.reports import junit

    return junit.render(run)


def _junit_gated(run: Run, fail_on: FailOn) -> str:
    from crawler.reports import junit

    return junit.render(run, fail_on=fail_on)


def _terminal(run: Run) -> str:
    from crawler.reports import terminal

    return terminal.render(run)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "md",
            "report.md",
            _markdown,
            "Markdown sprint tables: group tallies, 404 mismatches, the matrix.",
        ),
        Format("html", "report.html", _html, "Self-contained HTML: tiles, filters, matrix."),
        Format("json", "run.json", _json, "The run itself (crawler.run/1), to re-render later."),
        Format(
            "mismatches",
            "mismatches.md",
            _mismatches,
            "Markdown 404-mismatch table by module: cause, what the backend has, the fix.",
        ),
        Format(
            "junit",
            "junit.xml",
            _junit,
            "JUnit XML for CI: a testsuite per group, a testcase per check and identity.",
            gated=_junit_gated,
        ),
        Format("terminal", None, _terminal, "Failures first with curl lines; the matrix."),
    )
}

# The formats written to files (the rest are printed).
FILE_FORMATS: tuple[str, ...] = tuple(name for name, f in FORMATS.items() if f.filename)


# --- text shared by the human-readable reports ---------------------------------------------


def started_text(run: Run) -> str:
    """When the run started, ISO 8601 in UTC: `2026-11-24T09:00:00Z` (naive times are UTC)."""
    started = run.started_at
    started = started.replace(tzinfo=UTC) if started.tzinfo is None else started.astimezone(UTC)
    return started.strftime("%Y-%m-%dT%H:%M:%SZ")


def duration_text(run: Run) -> str:
    """`1.32 s`."""
    return f"{run.duration_s:.2f} s"


def ms_text(result: CheckResult) -> str:
    """Elapsed milliseconds as a whole number, '' when nothing was sent."""
    elapsed = result.elapsed_ms
    return "" if elapsed is None else str(round(elapsed))


def diagnosis_of(result: CheckResult) -> Diagnosis | None:
    """The 404/405 diagnosis reports show for a result: only on one that did not pass."""
    return result.diagnosis if result.verdict != "PASS" else None


def reason_text(result: CheckResult) -> str:
    """The verdict's reason, then the diagnosis if any:
    `expected 200, got 404 — mounted under another name: /api/audit-logs`."""
    diagnosis = diagnosis_of(result)
    detail = diagnosis.detail if diagnosis else ""
    # Body assertions: the first failure is the reason; the others follow it.
    also = "also " + "; ".join(result.assertions[1:]) if len(result.assertions) > 1 else ""
    return " — ".join(part for part in (result.reason, also, detail) if part)


def check_name(result: CheckResult, *, several: bool) -> str:
    """`GET /api/billing`, or `GET /api/billing [admin]` when a run has several identities
    (JUnit testcase names, annotation titles)."""
    name = f"{result.method} {result.path}"
    return f"{name} [{result.identity}]" if several else name


def flaky_text(result: CheckResult) -> str:
    """`flaky: passed on attempt 3` for a flaky result, '' for any other."""
    if not result.flaky:
        return ""
    return f"flaky: passed on attempt {result.attempts}" if result.attempts > 1 else "flaky"


def note_text(result: CheckResult) -> str:
    """The check's name (if any), its reason (see `reason_text`) and whether it is flaky:
    `export — expected 200, got 500`, `flaky: passed on attempt 2`."""
    parts = (result.name, reason_text(result), flaky_text(result))
    return " — ".join(part for part in parts if part)
