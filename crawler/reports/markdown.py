"""The `md` report: the sprint verification table, per group with `Billing (17/17 PASS)` tallies."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from crawler.reports import duration_text, ms_text, note_text, reason_text, started_text
from crawler.reports.matrix import (
    REAUTH_MARK,
    REAUTH_NOTE,
    Matrix,
    Row,
    build,
    cell_text,
    identity_line,
    identity_names,
    identity_tallies,
    login_failures,
)
from crawler.reports.mismatches import Mismatch, Mismatches, collect
from crawler.results import VERDICTS, CheckResult, Run, Verdict, group_label, tally

# Characters that would end a table cell, start a link, raw HTML or inline code, or escape
# (`>` is harmless once `<` is escaped, and "302 -> /login" reads better unescaped):
# backslash-escaped (CommonMark lets any ASCII punctuation be escaped).
_MARKDOWN_SPECIAL = re.compile(r"([\\`|<\[\]*])")
_NEWLINES = re.compile(r"\r\n|\r|\n")

_RESULT_COLUMNS = ("Verdict", "Method", "Path", "Expected", "Got", "ms", "Note")
_MISMATCH_COLUMNS = ("Method", "Called", "Backend has", "Cause", "Suggestion")


def render(run: Run) -> str:
    """The markdown report: title with the overall tally, target/date/duration, totals,
    per-group tallies, then one table per group (rows in manifest order).

    With several identities the totals are followed by tallies per identity, and each
    group's table is the matrix: a row per check, a column per identity, each cell the
    verdict and status (`PASS 200`), then the group's failures with their identity.
    Identities that could not log in are listed at the top with the reason.

    When checks got a 404/405 where a route was expected (results with a diagnosis), a
    `## 404 mismatches` section follows the tallies, before the per-group tables: what
    is broken and how to fix it, by module (see `render_mismatches`). A failure's note
    carries its diagnosis: `expected 200, got 404 — mounted under another name: /x`.

    Text from the target or the manifest (paths, reasons, names) is escaped so it can
    neither break a table nor inject links or HTML.
    """
    matrix = build(run)
    counts = tally(run.results)
    total = len(run.results)
    lines = [f"# {text(run.name)} verification ({counts['PASS']}/{total} PASS)", ""]
    if run.interrupted:
        lines += [
            "> **Interrupted:** the run was stopped before every check finished; "
            "these results are partial.",
            "",
        ]
    lines += _login_failures(run)
    lines += [
        f"**Target:** {code(run.target, in_table=False)} · **Date:** {started_text(run)} · "
        f"**Duration:** {duration_text(run)}",
        "",
        *_table(("Verdict", "Count"), [(v, str(counts[v])) for v in VERDICTS], range(1, 2)),
        f"| **Total** | **{total}** |",
        "",
    ]
    if matrix.several:
        per_identity = identity_tallies(matrix.identities, run.results)
        lines += [*_tally_table("Identity", per_identity.items()), ""]
    groups = run.groups()
    lines += [*_tally_table("Group", ((g, tally(rs)) for g, rs in groups.items())), ""]
    found = collect(run)
    if found.count:
        lines += ["## 404 mismatches", "", *_mismatch_body(run, found, level=3)]
    for group, results in groups.items():
        lines += [f"## {text(group_label(group, results))}", ""]
        if matrix.several:
            lines += _matrix_section(run, matrix, matrix.groups()[group], results)
        else:
            lines += [*_table(_RESULT_COLUMNS, [_row(r) for r in results], range(5, 6)), ""]
    return "\n".join(lines)


def render_mismatches(run: Run) -> str:
    """The `mismatches` report: a standalone document of the run's 404 mismatches, to paste
    into a status page.

    A title, target/date/inventory, the summary line (`12 404 mismatches across 5 modules;
    2 modules missing entirely`), then per module (`## /api/billing (3)`, manifest order) a
    table: Method | Called | Backend has | Cause | Suggestion, and an Identities column when
    the run has several. A route that failed for several identities is one row. A run
    without mismatches says so in one line.
    """
    found = collect(run)
    lines = [f"# {text(run.name)}: 404 mismatches", ""]
    if run.interrupted:
        lines += ["> **Interrupted:** these results are partial.", ""]
    lines += [
        f"**Target:** {code(run.target, in_table=False)} · **Date:** {started_text(run)}",
        "",
    ]
    if found.count:
        lines += _mismatch_body(run, found, level=2)
    else:
        lines += ["No 404 mismatches: no check that expected a route got a 404 or 405.", ""]
    return "\n".join(lines)


def _mismatch_body(run: Run, found: Mismatches, *, level: int) -> list[str]:
    """The summary line, where routes came from, then a table per module."""
    lines = [f"**{found.line}**", ""]
    if run.inventory:
        lines += [
            f"Diagnosed against the route inventory {code(run.inventory, in_table=False)}.",
            "",
        ]
    several = len(identity_names(run)) > 1
    header = (*_MISMATCH_COLUMNS, "Identities") if several else _MISMATCH_COLUMNS
    for module in found.modules:
        lines += [f"{'#' * level} {text(module.heading)}", ""]
        if module.missing:
            where = code(module.name, in_table=False)
            lines += [f"Nothing is served under {where}: the whole module is missing.", ""]
        rows = [_mismatch_row(m, several=several) for m in module.rows]
        lines += [*_table(header, rows, range(0)), ""]
    return lines


def _mismatch_row(mismatch: Mismatch, *, several: bool) -> tuple[str, ...]:
    row = (
        text(mismatch.method),
        code(mismatch.path),
        mismatch.backend_has(code),
        text(mismatch.label),
        text(mismatch.suggestion),
    )
    return (*row, text(", ".join(mismatch.identities))) if several else row


def _tally_table(label: str, counts: Iterable[tuple[str, Counter[Verdict]]]) -> list[str]:
    rows = [
        (text(name), *(str(c[v]) for v in VERDICTS), str(sum(c.values()))) for name, c in counts
    ]
    return _table((label, *VERDICTS, "Total"), rows, range(1, len(VERDICTS) + 2))


def _login_failures(run: Run) -> list[str]:
    failed = login_failures(run)
    if not failed:
        return []
    lines = ["> **Could not log in:** the checks of these identities were not sent.", ">"]
    for status in failed:
        lines.append(
            f"> - **{text(status.name)}** ({text(status.kind)}): {text(status.failure or '')}"
        )
    return [*lines, ""]


def _matrix_section(
    run: Run, matrix: Matrix, rows: list[Row], results: list[CheckResult]
) -> list[str]:
    """A group as a matrix: per-identity tallies, the table, then what did not pass."""
    header = ("Method", "Path", "Expected", *(text(name) for name in matrix.identities))
    table = [
        (
            row.first.method,
            _check_cell(row.first),
            text(matrix.expected(row)),
            *("" if cell is None else text(cell_text(cell.result)) for cell in row.cells),
        )
        for row in rows
    ]
    lines = [
        f"**By identity:** {text(identity_line(matrix.identities, results))}",
        "",
        *_table(header, table, range(0)),
        "",
    ]
    if any(r.reauthenticated for r in results):
        lines += [f"{REAUTH_MARK} {REAUTH_NOTE}.", ""]
    failed = [r for r in results if r.verdict in ("FAIL", "ERROR")]
    if failed:
        lines += ["**Failures**", ""]
        lines += [
            f"- **{text(r.identity)}** · {text(cell_text(r))} · {_check_text(r)} — "
            f"{text(reason_text(r))}"
            for r in failed
        ]
        lines += [""]
    # A SKIP because the identity could not log in is said once, at the top.
    unexplained = set(matrix.identities) - {s.name for s in login_failures(run)}
    skipped: dict[tuple[int, str], list[CheckResult]] = {}
    for number, row in enumerate(rows):
        for r in row.results:
            if r.verdict == "SKIP" and r.identity in unexplained:
                skipped.setdefault((number, r.reason), []).append(r)
    if skipped:
        lines += ["**Skipped**", ""]
        for (_, reason), same in skipped.items():
            names = ", ".join(text(r.identity) for r in same)
            lines.append(f"- {_check_text(same[0])} as {names} — {text(reason)}")
        lines += [""]
    return lines


def _check_cell(result: CheckResult) -> str:
    """The path in code, then the check's name if it has one."""
    path = code(result.path)
    return f"{path} {text(result.name)}" if result.name else path


def _check_text(result: CheckResult) -> str:
    """`GET `/api/x` (name)` for a line of text."""
    name = f" ({text(result.name)})" if result.name else ""
    return f"{result.method} {code(result.path, in_table=False)}{name}"


def _row(result: CheckResult) -> tuple[str, ...]:
    return (
        result.verdict,
        result.method,
        code(result.path),
        text(result.expect),
        text(result.got),
        ms_text(result),
        text(note_text(result)),
    )


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], right: range) -> list[str]:
    """A GFM table whose columns numbered in `right` are right-aligned."""
    rule = tuple("---:" if i in right else "---" for i in range(len(header)))
    return [_line(header), _line(rule), *(_line(row) for row in rows)]


def _line(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cells) + " |"


def text(value: str) -> str:
    """Plain text safe in a table cell or heading: one line, markdown punctuation escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _NEWLINES.sub(" ", value))


def code(value: str, *, in_table: bool = True) -> str:
    """Inline code of any text: a fence longer than any run of backticks inside it.

    Backslashes do not escape inside code, so a backtick is handled by the fence; in a
    table cell `\\|` still stands for a literal pipe (GFM), outside one it is left as is.
    """
    value = _NEWLINES.sub(" ", value)
    if in_table:
        value = value.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    if value.startswith("`") or value.endswith("`") or (value[:1] == value[-1:] == " "):
        value = f" {value} "  # CommonMark strips one space each side of such content
    return f"{fence}{value}{fence}"
