"""The `md` report: the sprint verification table, per group with `Billing (17/17 PASS)` tallies."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from crawler.reports import changes as changes_
from crawler.reports import duration_text, ms_text, note_text, reason_text, started_text
from crawler.reports import known as known_
from crawler.reports import latency as latency_
from crawler.reports import likely_stubs as stubs_
from crawler.reports.matrix import (
    FLAKY_MARK,
    FLAKY_NOTE,
    REAUTH_MARK,
    REAUTH_NOTE,
    Matrix,
    Row,
    cell_text,
    columns_only,
    identity_line,
    identity_names,
    identity_tallies,
    login_failures,
    verdict_text,
)
from crawler.reports.mismatches import Mismatch, Mismatches, collect
from crawler.results import (
    CheckResult,
    Run,
    Verdict,
    failures_first,
    group_label,
    shown_verdicts,
    tally,
    title_name,  # environments: titles name it
)

# Characters that would end a table cell, start a link, raw HTML or inline code, or escape
# (`>` is harmless once `<` is escaped, and "302 -> /login" reads better unescaped):
# backslash-escaped (CommonMark lets any ASCII punctuation be escaped).
_MARKDOWN_SPECIAL = re.compile(r"([\\`|<\[\]*])")
_NEWLINES = re.compile(r"\r\n|\r|\n")

_RESULT_COLUMNS = ("Verdict", "Method", "Path", "Expected", "Got", "ms", "Note")
# With a baseline: what it was, what it is, and the change, in place of Verdict and Got.
_CHANGE_COLUMNS = ("Method", "Path", "Expected", "Was", "Now", "Change", "ms", "Note")
MISMATCH_COLUMNS = ("Method", "Called", "Backend has", "Cause", "Suggestion")


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

    Tallies show PASS, FAIL, ERROR and SKIP, and XFAIL and XPASS when the run has any. A
    flaky result (failed, then passed when checked again) is marked `⚑` (`PASS 200 ⚑`),
    and the totals say how many there were.

    With a baseline (`run.baseline`), a `## Changes since the baseline` section follows the
    tallies: the counts (`1 REGRESSED, 2 FIXED, 3 NEW, 0 GONE`), a table of what changed,
    REGRESSED first (Change | Group | Method | Path | Was | Now), and the GONE results
    apart; the per-group tables then show Was | Now | Change (see `changes.collect`).

    When checks carry a known failure's ticket, a `## Known failures` section follows: the
    legend with counts per status (`**Known failures:** 3 BACKLOG · 1 BLOCKED · 0
    DEFERRED`), the ones that now pass (`close T2-3?`), and a table Ticket | Status |
    Check | Now | Reason (see `known.collect`).

    Text from the target or the manifest (paths, reasons, names) is escaped so it can
    neither break a table nor inject links or HTML.
    """
    matrix = columns_only(run)  # no rows to build for one identity
    counts = tally(run.results)
    verdicts = shown_verdicts(run.results)
    total = len(run.results)
    lines = [f"# {text(title_name(run))} verification ({counts['PASS']}/{total} PASS)", ""]
    if run.interrupted:
        lines += [
            "> **Interrupted:** the run was stopped before every check finished; "
            "these results are partial.",
            "",
        ]
    lines += [line for notice in run.notices() for line in (f"> **Warning:** {notice}", "")]
    lines += _login_failures(run)
    lines += [
        f"**Target:** {code(run.target, in_table=False)} · **Date:** {started_text(run)} · "
        f"**Duration:** {duration_text(run)}",
        "",
        *gfm_table(("Verdict", "Count"), [(v, str(counts[v])) for v in verdicts], range(1, 2)),
        f"| **Total** | **{total}** |",
        "",
        *flaky_lines(run.results),
    ]
    likely = stubs_.collect(run)  # stub detection: the count in the totals
    if likely.count:
        lines += [f"**{likely.line}** (answered, but likely fake data; see below)", ""]
    if matrix.several:
        per_identity = identity_tallies(matrix.identities, run.results)
        lines += [*tally_table("Identity", per_identity.items(), verdicts), ""]
    groups = run.groups()
    lines += [*tally_table("Group", ((g, tally(rs)) for g, rs in groups.items()), verdicts), ""]
    lines += latency_.markdown_lines(run)  # with --repeat or SLOs: percentiles, SLO verdicts
    moved = changes_.collect(run)
    if moved is not None:
        several = len(identity_names(run)) > 1
        lines += ["## Changes since the baseline", "", *changes_lines(moved, several=several)]
    known = known_.collect(run)
    if known.rows:
        lines += ["## Known failures", "", *known_lines(run, known)]
    if likely.rows:
        lines += ["## Likely stubs", "", *stub_lines(run, likely)]
    found = collect(run)
    if found.count:
        lines += ["## 404 mismatches", "", *_mismatch_body(run, found, level=3)]
    for group, results in groups.items():
        lines += [f"## {text(group_label(group, results))}", ""]
        if matrix.several:
            lines += _matrix_section(run, matrix, matrix.groups()[group], results)
        elif moved is not None:
            rows = [_change_row(r) for r in results]
            lines += [*gfm_table(_CHANGE_COLUMNS, rows, range(6, 7)), ""]
        else:
            lines += [*gfm_table(_RESULT_COLUMNS, [_row(r) for r in results], range(5, 6)), ""]
    return "\n".join(lines)


def stub_lines(run: Run, found: stubs_.LikelyStubs) -> list[str]:
    """The likely stubs: a table Route | Identity | Rule | Evidence, one row per route and rule."""
    several = len(identity_names(run)) > 1
    columns = (
        ("Route", "Identity", "Rule", "Evidence") if several else ("Route", "Rule", "Evidence")
    )
    rows = []
    for row in found.rows:
        who = (text(", ".join(row.identities)),) if several else ()
        rows.append((code(row.route), *who, row.rule, text(row.evidence)))
    return [*gfm_table(columns, rows), ""]


def flaky_lines(results: Iterable[CheckResult]) -> list[str]:
    """`**Flaky:** 2 results passed only when checked again (⚑).`; none when none is."""
    flaky = sum(1 for r in results if r.flaky)
    if not flaky:
        return []
    noun = "result" if flaky == 1 else "results"
    return [f"**Flaky:** {flaky} {noun} failed, then passed when checked again ({FLAKY_MARK}).", ""]


GONE_INTRO = "**Gone** (in the baseline, not in this run):"
NO_CHANGES = "No changes: every result is as it was in the baseline."


def changes_lines(found: changes_.Changes, *, several: bool) -> list[str]:
    """The changes against the baseline: counts, the changed results, then the GONE ones."""
    lines = changes_legend(found)
    if not found.count:
        return [*lines, NO_CHANGES, ""]
    if found.rows:
        rows = [change_row(r, several=several) for r in found.rows]
        lines += [*gfm_table(change_columns(several=several), rows), ""]
    if found.gone:
        rows = [gone_row(r, several=several) for r in found.gone]
        lines += [GONE_INTRO, "", *gfm_table(gone_columns(several=several), rows), ""]
    return lines


def changes_legend(found: changes_.Changes) -> list[str]:
    """`**Baseline:** `runs/last.json` · **1 REGRESSED, 2 FIXED, 3 NEW, 0 GONE (…)**`."""
    return [f"**Baseline:** {code(found.baseline, in_table=False)} · **{found.line}**", ""]


def change_columns(*, several: bool) -> tuple[str, ...]:
    return ("Change", "Group", "Method", "Path", *(("Identity",) if several else ()), "Was", "Now")


def gone_columns(*, several: bool) -> tuple[str, ...]:
    return change_columns(several=several)[1:-1]


def change_row(result: CheckResult, *, several: bool) -> tuple[str, ...]:
    """Change | Group | Method | Path | (Identity) | Was | Now, as table cells."""
    return (
        result.change or "",
        text(result.group),
        text(result.method),
        code(result.path),
        *((text(result.identity),) if several else ()),
        text(changes_.was_text(result)),
        text(result.cell),
    )


def gone_row(result: CheckResult, *, several: bool) -> tuple[str, ...]:
    """Group | Method | Path | (Identity) | Was: a result only the baseline had."""
    return change_row(result, several=several)[1:-1]


KNOWN_COLUMNS = ("Ticket", "Status", "Check", "Now", "Reason")


def known_lines(run: Run, found: known_.KnownFailures) -> list[str]:
    """The legend with counts per status, what now passes, and a row per known check."""
    several = len(identity_names(run)) > 1
    rows = [known_row(row, several=several) for row in found.rows]
    return [*known_legend(found), *gfm_table(KNOWN_COLUMNS, rows), ""]


def known_legend(found: known_.KnownFailures) -> list[str]:
    """`**Known failures:** 3 BACKLOG · 1 BLOCKED · 0 DEFERRED`, then what now passes."""
    lines = [f"**Known failures:** {found.line}", ""]
    if found.passing:
        lines += [f"**XPASS:** {text(found.passing_line)}", ""]
    return lines


def known_row(row: known_.KnownRow, *, several: bool) -> tuple[str, ...]:
    """Ticket | Status | Check | Now | Reason, as table cells."""
    return (
        text(row.known.ticket),
        row.known.status,
        f"{text(row.first.method)} {code(row.first.path)}",
        text(row.now(several=several)),
        text(row.reason),
    )


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
    lines += [line for notice in run.notices() for line in (f"> **Warning:** {notice}", "")]
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
    header = (*MISMATCH_COLUMNS, "Identities") if several else MISMATCH_COLUMNS
    for module in found.modules:
        lines += [f"{'#' * level} {text(module.heading)}", ""]
        if module.missing:
            where = code(module.name, in_table=False)
            lines += [f"Nothing is served under {where}: the whole module is missing.", ""]
        rows = [mismatch_row(m, several=several) for m in module.rows]
        lines += [*gfm_table(header, rows, range(0)), ""]
    return lines


def mismatch_row(mismatch: Mismatch, *, several: bool) -> tuple[str, ...]:
    row = (
        text(mismatch.method),
        code(mismatch.path),
        mismatch.backend_has(code),
        text(mismatch.label),
        text(mismatch.suggestion),
    )
    return (*row, text(", ".join(mismatch.identities))) if several else row


def tally_table(
    label: str, counts: Iterable[tuple[str, Counter[Verdict]]], verdicts: tuple[Verdict, ...]
) -> list[str]:
    """A table of verdict counts per name (group, identity): a column per shown verdict."""
    rows = [
        (text(name), *(str(c[v]) for v in verdicts), str(sum(c.values()))) for name, c in counts
    ]
    return gfm_table((label, *verdicts, "Total"), rows, range(1, len(verdicts) + 2))


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
        *gfm_table(header, table, range(0)),
        "",
    ]
    if any(r.reauthenticated for r in results):
        lines += [f"{REAUTH_MARK} {REAUTH_NOTE}.", ""]
    if any(r.flaky for r in results):
        lines += [f"{FLAKY_MARK} {FLAKY_NOTE}.", ""]
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
        verdict_text(result),
        result.method,
        code(result.path),
        text(result.expect),
        text(result.got),
        ms_text(result),
        text(note_text(result)),
    )


def _change_row(result: CheckResult) -> tuple[str, ...]:
    """A result against the baseline: Method | Path | Expected | Was | Now | Change | ms | Note."""
    return (
        result.method,
        code(result.path),
        text(result.expect),
        text(changes_.was_text(result)),
        text(cell_text(result)),
        result.change or "",
        ms_text(result),
        text(note_text(result)),
    )


def gfm_table(
    header: tuple[str, ...], rows: Sequence[tuple[str, ...]], right: range = range(0)
) -> list[str]:
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


# --- the summary form (`--summary-only`), for huge runs -------------------------------------

# Rows of the summary's table of what did not pass, at most (the rest are in run.json).
SUMMARY_ROWS = 1000
_SUMMARY_COLUMNS = ("Verdict", "Group", "Identity", "Method", "Path", "Expected", "Got", "Note")


def render_summary(run: Run) -> str:
    """The markdown report without its per-check tables: the title, the totals, tallies per
    identity and per group, the latency section (see `latency.markdown_lines`), and one
    table of the results that did not pass, failures first (at most `SUMMARY_ROWS`).
    Its size depends on what failed, not on how many checks ran."""
    counts = tally(run.results)
    verdicts = shown_verdicts(run.results)
    total = len(run.results)
    lines = [f"# {text(run.name)} verification ({counts['PASS']}/{total} PASS)", ""]
    if run.interrupted:
        lines += ["> **Interrupted:** these results are partial.", ""]
    lines += _login_failures(run)
    lines += [
        f"**Target:** {code(run.target, in_table=False)} · **Date:** {started_text(run)} · "
        f"**Duration:** {duration_text(run)}",
        "",
        *gfm_table(("Verdict", "Count"), [(v, str(counts[v])) for v in verdicts], range(1, 2)),
        f"| **Total** | **{total}** |",
        "",
        *flaky_lines(run.results),
    ]
    names = identity_names(run)
    if len(names) > 1:
        lines += [*tally_table("Identity", identity_tallies(names, run.results).items(), verdicts)]
        lines.append("")
    groups = run.groups()
    lines += [*tally_table("Group", ((g, tally(rs)) for g, rs in groups.items()), verdicts), ""]
    lines += latency_.markdown_lines(run)
    failing = [r for r in failures_first(run.results) if r.verdict != "PASS"]
    lines += ["## Not passing", ""]
    if not failing:
        return "\n".join([*lines, "Every check passed.", ""])
    rows = [
        (
            r.verdict,
            text(r.group),
            text(r.identity),
            r.method,
            code(r.path),
            text(r.expect),
            text(r.got),
            text(note_text(r)),
        )
        for r in failing[:SUMMARY_ROWS]
    ]
    lines += [*gfm_table(_SUMMARY_COLUMNS, rows), ""]
    if len(failing) > SUMMARY_ROWS:
        lines += [f"{len(failing) - SUMMARY_ROWS} more not shown: see run.json.", ""]
    return "\n".join(lines)
