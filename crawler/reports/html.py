"""The `html` report: one self-contained, offline page of tiles, filters, matrix, failures."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from crawler.reports import (
    changes,
    diagnosis_of,
    duration_text,
    flaky_text,
    known,
    likely_stubs,
    ms_text,
    note_text,
    reason_text,
    started_text,
)
from crawler.reports import latency as latency_
from crawler.reports.curl import curl_command
from crawler.reports.matrix import (
    FLAKY_MARK,
    FLAKY_NOTE,
    REAUTH_MARK,
    REAUTH_NOTE,
    Cell,
    Matrix,
    cell_text,
    columns_only,
    identity_line,
    identity_names,
    identity_tallies,
    login_failures,
    shows_identity,
    verdict_text,
)
from crawler.reports.mismatches import Mismatch, Module, collect
from crawler.results import (
    CORE_VERDICTS,
    SEVERITY,
    CheckResult,
    Run,
    Verdict,
    group_label,
    shown_verdicts,
    tally,
    title_name,  # environments: titles name it
)

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Row:
    """One result as the template shows it; `anchor` links a FAIL/ERROR to its details."""

    result: CheckResult
    ms: str
    note: str
    anchor: str | None
    curl: str | None
    # The result's 404/405 diagnosis, as a one-result mismatch (label, routes, suggestion).
    mismatch: Mismatch | None = None

    @property
    def cell(self) -> str:
        """The matrix cell: `PASS 200`, `FAIL 404 ↻`, `PASS 200 ⚑`."""
        return cell_text(self.result)

    @property
    def verdict(self) -> str:
        """The Verdict column: `FAIL`, `PASS ⚑`."""
        return verdict_text(self.result)

    @property
    def was(self) -> str:
        """With a baseline: what it was (`FAIL 404`, `—` for a NEW result)."""
        return changes.was_text(self.result)

    @property
    def tooltip(self) -> str:
        """The cell's title: `viewer: expected 200, got 403 · 4 ms`; with a baseline, what
        changed (`was FAIL 404: FIXED`)."""
        result = self.result
        parts = [f"{result.identity}: {reason_text(result) or result.verdict}"]
        if self.ms:
            parts.append(f"{self.ms} ms")
        if result.reauthenticated:
            parts.append(REAUTH_NOTE)
        if result.flaky:
            parts.append(flaky_text(result))
        if result.change is not None and result.change != "UNCHANGED":
            parts.append(f"was {self.was}: {result.change}")
        return " · ".join(parts)


@dataclass(frozen=True)
class GroupTally:
    name: str
    label: str
    counts: dict[Verdict, int]
    total: int
    by_identity: str


@dataclass(frozen=True)
class IdentityTally:
    name: str
    kind: str
    failure: str | None
    counts: dict[Verdict, int]
    total: int


@dataclass(frozen=True)
class MatrixRow:
    """A check across the identity columns: its rows (None where it did not run so)."""

    group: str
    first: CheckResult
    expected: str
    cells: list[Row | None]


@dataclass(frozen=True)
class MismatchRow:
    """A mismatch and links to the failure details of its results: (text, anchor)."""

    mismatch: Mismatch
    links: list[tuple[str, str]]


@dataclass(frozen=True)
class MismatchModule:
    module: Module
    rows: list[MismatchRow]


def render(run: Run) -> str:
    """The HTML report as one string; see `stream`."""
    return "".join(stream(run))


def stream(run: Run) -> Iterator[str]:
    """The HTML report, piece by piece (a big run's page is written so, never held whole):
    header, totals tiles, group tallies, a filterable table of all
    results (manifest order), then the request, curl line and response of every FAIL
    and ERROR.

    With several identities the table is the matrix: a row per check, a coloured cell
    per identity (`data-verdict`, `data-identity`), filtered by verdict, group and
    identity; tallies per identity come first, and every failure names its identity.
    Identities that could not log in are shown at the top (`.login-failures`).

    Tiles and tallies show XFAIL (muted amber) and XPASS (blue) when the run has any,
    and a FLAKY tile when results passed only when checked again (their cells are marked
    `⚑`). With a baseline a `#changes` section follows the tallies (counts, the changed
    results REGRESSED first with Was | Now, the GONE ones apart) and the results table
    gains Was and Change columns; known failures get a `#known` section (the legend
    with counts per status, and a row per known check; XPASS rows say `close T2-3?`).

    When checks got a 404/405 where a route was expected, a `#mismatches` section follows
    the group tallies: the summary line, then per module a table (Method, Called, Backend
    has, Cause as a badge, Suggestion) whose rows link to the failure details of their
    results; each of those shows its diagnosis (`.diagnosis`).

    The page loads nothing: CSS and JS are inline, and its Content-Security-Policy
    forbids every fetch and lets only the report's own script run (by hash). Everything
    from the target is escaped by jinja2's autoescape; the table reads fine without JS.
    """
    counts = tally(run.results)
    verdicts = shown_verdicts(run.results)
    matrix = columns_only(run)  # no rows to build for one identity
    label = shows_identity(run)
    several = len(identity_names(run)) > 1
    known_failures = known.collect(run)
    moved = changes.collect(run)
    flaky = sum(1 for r in run.results if r.flaky)
    # A big run: failures first, the passing results collapsed per group (see `big_layout`).
    big = len(run.results) > BIG_RUN
    collapsed: list[tuple[str, int, Markup]] = []
    if big and not matrix.several:
        rows, collapsed = big_layout(run, label)
    else:
        rows = [_row(run, position, result, label) for position, result in enumerate(run.results)]
    groups = [
        GroupTally(
            group,
            group_label(group, results),
            dict(tally(results)),
            len(results),
            identity_line(matrix.identities, results),
        )
        for group, results in run.groups().items()
    ]
    found = collect(run)
    return (
        _environment()
        .get_template("report.html.j2")
        .generate(
            run=run,
            title=f"{title_name(run)} verification ({counts['PASS']}/{len(run.results)} PASS)",
            started=started_text(run),
            duration=duration_text(run),
            verdicts=verdicts,
            counts=counts,
            flaky=flaky,
            flaky_mark=FLAKY_MARK,
            flaky_note=FLAKY_NOTE,
            several=several,
            known=known_failures,
            changes=moved,
            was_text=changes.was_text,
            # Styles for the verdicts, marks and sections a run of old did not have: a run
            # without them renders byte for byte as before.
            extra_styles=bool(
                set(verdicts) - set(CORE_VERDICTS) or flaky or moved or known_failures.rows
            ),
            groups=groups,
            rows=rows,
            big=big,
            collapsed=collapsed,
            latency=latency_.html(run),
            failures=[row for row in rows if row.anchor],
            login_failures=login_failures(run),
            show_identity=label,
            matrix=_matrix_rows(matrix, rows, big=big) if matrix.several else None,
            identities=matrix.identities,
            identity_tallies=_identity_tallies(run, matrix) if matrix.several else [],
            reauth_mark=REAUTH_MARK,
            reauth_note=REAUTH_NOTE,
            mismatch_line=found.line,
            stubs=likely_stubs.collect(run),  # stub detection
            stub_rules=likely_stubs.RULES,
            mismatches=[
                MismatchModule(
                    module, [_mismatch_row(m, several=matrix.several) for m in module.rows]
                )
                for module in found.modules
            ],
        )
    )


# --- big runs ---------------------------------------------------------------------------------

# Above this many results the page puts failures first and collapses what passed.
BIG_RUN = 2000


def big_layout(run: Run, label: bool) -> tuple[list[Row], list[tuple[str, int, Markup]]]:
    """A big run's results table: the results that did not pass, failures first; and per
    group the PASS results as table rows, shown in a collapsed `<details>` (a browser lays
    out nothing inside a closed one, so a page of 100,000 results opens at once).

    The PASS rows are escaped and joined here, one string per group, not by the template:
    a template yields ~20 pieces a row, millions for a big run, all held before the join.
    """
    rows = [
        _row(run, position, result, label)
        for position, result in enumerate(run.results)
        if result.verdict != "PASS"
    ]
    collapsed = []
    for group, results in run.groups().items():
        passed = [_passed_row(result) for result in results if result.verdict == "PASS"]
        if passed:  # joined group by group: never every row's string at once
            collapsed.append((group, len(passed), Markup("\n".join(passed))))
    return sorted(rows, key=lambda row: SEVERITY[row.result.verdict]), collapsed


def _passed_row(result: CheckResult) -> str:
    cells = (result.method, result.path, result.expect, result.got, ms_text(result))
    method, path, expect, got, ms = (str(escape(cell)) for cell in cells)
    return (
        f'<tr><td>{method}</td><td class="path"><code>{path}</code></td><td>{expect}</td>'
        f'<td>{got}</td><td class="num">{ms}</td></tr>'
    )


def _matrix_rows(matrix: Matrix, rows: list[Row], *, big: bool) -> list[MatrixRow]:
    """The matrix rows; in a big run, rows with a cell that did not pass come first."""
    built = _matrix(matrix, rows)
    if not big:
        return built
    return sorted(
        built, key=lambda m: min(SEVERITY[c.result.verdict] for c in m.cells if c is not None)
    )


def _row(run: Run, position: int, result: CheckResult, label: bool) -> Row:
    failed = _has_details(result)
    diagnosis = diagnosis_of(result)
    return Row(
        result=result,
        ms=ms_text(result),
        note=note_text(result),
        anchor=_anchor(position) if failed else None,
        curl=curl_command(run, result, label=label) if failed else None,
        mismatch=(
            Mismatch(result.method, result.path, diagnosis, (Cell(position, result),))
            if diagnosis
            else None
        ),
    )


def _has_details(result: CheckResult) -> bool:
    """FAIL and ERROR results get a details article (request, curl, response)."""
    return result.verdict in ("FAIL", "ERROR")


def _anchor(position: int) -> str:
    """The id of the failure details of `run.results[position]`."""
    return f"failure-{position + 1}"


def _mismatch_row(mismatch: Mismatch, *, several: bool) -> MismatchRow:
    # Mismatches are FAILs, which have details; the guard keeps links from dangling.
    links = [
        (cell.result.identity if several else "details", _anchor(cell.position))
        for cell in mismatch.cells
        if _has_details(cell.result)
    ]
    return MismatchRow(mismatch, links)


def _matrix(matrix: Matrix, rows: list[Row]) -> list[MatrixRow]:
    return [
        MatrixRow(
            group=row.group,
            first=row.first,
            expected=matrix.expected(row),
            cells=[None if cell is None else rows[cell.position] for cell in row.cells],
        )
        for row in matrix.rows
    ]


def _identity_tallies(run: Run, matrix: Matrix) -> list[IdentityTally]:
    statuses = {status.name: status for status in run.identities}
    tallies = []
    for name, counts in identity_tallies(matrix.identities, run.results).items():
        status = statuses.get(name)
        tallies.append(
            IdentityTally(
                name=name,
                kind=status.kind if status else "",
                failure=status.failure if status else None,
                counts=dict(counts),
                total=sum(counts.values()),
            )
        )
    return tallies


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
