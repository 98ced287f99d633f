"""The `terminal` report: what is not PASS, failures first, with curl lines; summary line last."""

from __future__ import annotations

import io
import re

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from crawler.reports import changes, flaky_text, known, likely_stubs
from crawler.reports import latency as latency_
from crawler.reports.curl import curl_command
from crawler.reports.matrix import (
    Matrix,
    cell_text,
    columns_only,
    identity_line,
    login_failures,
    shows_identity,
    verdict_text,
)
from crawler.reports.mismatches import collect
from crawler.results import (
    Change,
    CheckResult,
    Run,
    Verdict,
    failures_first,
    group_label,
    summarize,
)

STYLES: dict[Verdict, str] = {
    "PASS": "bold green",
    "FAIL": "bold red",
    "ERROR": "bold dark_orange",
    "SKIP": "dim",
    "XFAIL": "yellow",  # known and tracked: muted, it does not block
    "XPASS": "bold blue",  # a known failure that passes: close its ticket?
    "STUB": "magenta",  # answered, but likely fake data: a warning unless --fail-on stubs
}

CHANGE_STYLES: dict[Change, str] = {
    "REGRESSED": "bold red",
    "FIXED": "bold green",
    "NEW": "bold cyan",
    "GONE": "dim",
    "UNCHANGED": "",
}

# Control characters (ESC, BEL, ...) from the target could drive the user's terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_WHITESPACE = re.compile(r"\r\n|[\r\n\t]")


def render(run: Run, *, color: bool = False, width: int = 100) -> str:
    """The end-of-run summary as text, ANSI-coloured only when `color` is True.

    1. a table of every result that is not PASS, and of every flaky one (`PASS ⚑`),
       failures first (`failures_first`: FAIL, ERROR, XPASS, XFAIL, SKIP), numbered;
       columns Verdict, Group, Check, Expected, Got, Reason (and Identity when the run
       has several);
    2. for each FAIL and ERROR, its `curl` reproduction under the same number;
    3. the 404 mismatches, one line each (`GET /api/audit  ->  mounted under another
       name: /api/audit-logs`, then who got it when the run has several identities),
       by module, and their summary line (see `mismatches.collect`);
    4. with a baseline, what changed (see `render_changes`);
    5. with several identities, the matrix: a row per check, a column per identity,
       cells such as `PASS 200`; when it is wider than `width`, the same cells listed
       per identity instead;
    6. per-group tallies (`Billing (17/17 PASS)`), and per identity;
    7. with known failures, one line: `Known failures: 3 BACKLOG · 1 BLOCKED · 0
       DEFERRED; 1 now passing: close T2-7?`;
    8. the identities that could not log in, with the reason;
    9. last, `summarize(run).line`.

    The SKIPs of an identity that could not log in are left out of the first table: (6)
    says why once. Nothing from the target is read as rich markup, and control
    characters are shown as `?`, so a response cannot restyle or drive the terminal.
    """
    buffer = io.StringIO()
    console = _console(buffer, color=color, width=width)
    matrix = columns_only(run)  # no rows to build for one identity
    label = shows_identity(run)
    if run.interrupted:
        console.print(Text("Interrupted: these results are partial.", style="bold red"))
    for notice in run.notices():
        console.print(Text(f"Warning: {notice}", style="bold red"))
    explained = {status.name for status in login_failures(run)}
    shown = [
        r
        for r in failures_first(run.results)
        if (r.verdict != "PASS" or r.flaky)
        and not (r.verdict == "SKIP" and r.identity in explained)
    ]
    if shown:
        console.print(_table(shown, identity=matrix.several))
        _print_curl_lines(console, run, shown, label=label)
        _print_mismatches(console, run, several=matrix.several)
    elif not run.results:
        console.print(Text("No checks were run."))
    elif all(r.verdict == "PASS" for r in run.results):
        console.print(Text(f"All {len(run.results)} checks passed.", style=STYLES["PASS"]))
    moved = changes.collect(run)
    if moved is not None:
        if not any(r.verdict in ("FAIL", "ERROR") for r in shown):
            console.print()  # the curl lines end with a blank line; nothing else does
        _print_changes(console, moved, several=matrix.several)
        console.print()
    if matrix.several:
        if shown and moved is None:
            console.print()
        _print_matrix(console, matrix, width, color=color)
    for table in latency_.terminal_tables(run):  # with --repeat or SLOs
        console.print(table)
        console.print()
    _print_tallies(console, run, width)
    if matrix.several:
        line = identity_line(matrix.identities, run.results)
        console.print(_plain(f"By identity: {line}"))
    _print_known(console, run)
    likely = likely_stubs.collect(run)  # stub detection: the count in the totals
    if likely.count:
        console.print(
            Text(f"{likely.line} (STUB: answered, but likely fake data)", style="magenta")
        )
    _print_login_failures(console, run)
    console.print(_plain(summarize(run).line), soft_wrap=True)
    return _lines(buffer)


def render_changes(run: Run, *, color: bool = False, width: int = 100) -> str:
    """What changed against the baseline, for `crawler diff`: nothing else of the run.

    A table of the changed results, REGRESSED first, then FIXED, then NEW (manifest order
    within), columns Change, Group, Check, Was, Now (and Identity when there are several);
    then the GONE results (only in the baseline) apart; last, the counts line
    (`1 REGRESSED, 2 FIXED, 3 NEW, 1 GONE (2 UNCHANGED)`, see `changes.Changes.line`).
    A run without a baseline says so in one line. Coloured only when `color` is True;
    text from the runs is shown as plain text, control characters as `?`.
    """
    buffer = io.StringIO()
    console = _console(buffer, color=color, width=width)
    moved = changes.collect(run)
    if moved is None:
        console.print(_plain("No baseline: nothing to compare."))
    else:
        identities = {r.identity for r in (*run.results, *run.gone)}
        _print_changes(console, moved, several=len(identities) > 1)
    return _lines(buffer)


def _print_changes(console: Console, found: changes.Changes, *, several: bool) -> None:
    """The changes table, the GONE results, then the counts line."""
    if not found.count:
        console.print(_plain(f"No changes since {found.baseline}."))
    if found.rows:
        console.print(_plain(f"Changes since {found.baseline}:"), style="bold")
        console.print(_change_table(found.rows, several=several, now=True))
    if found.gone:
        if found.rows:
            console.print()
        console.print(_plain("Gone (in the baseline, not in this run):"), style="bold")
        console.print(_change_table(found.gone, several=several, now=False))
    console.print(_plain(found.line), soft_wrap=True)


def _change_table(results: tuple[CheckResult, ...], *, several: bool, now: bool) -> Table:
    table = _plain_table()
    table.add_column("Change", no_wrap=True)
    if several:
        table.add_column("Identity", overflow="fold", max_width=14)
    table.add_column("Group", overflow="fold", max_width=20)
    table.add_column("Check", overflow="fold", min_width=12)
    table.add_column("Was", no_wrap=True)
    if now:
        table.add_column("Now", no_wrap=True)
    for result in results:
        change = result.change or "UNCHANGED"
        table.add_row(
            Text(change, style=CHANGE_STYLES[change]),
            *([_plain(result.identity)] if several else []),
            _plain(result.group),
            _plain(result.title),
            _plain(changes.was_text(result)),
            *([Text(result.cell, style=STYLES[result.verdict])] if now else []),
        )
    return table


def _print_known(console: Console, run: Run) -> None:
    found = known.collect(run)
    if not found.rows:
        return
    line = f"Known failures: {found.line}"
    if found.passing:
        line += f"; {found.passing_line}"
    console.print(_plain(line), soft_wrap=True)


def _lines(buffer: io.StringIO) -> str:
    # Rich pads every cell to the column width; trailing blanks only make diffs noisy.
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def _console(file: io.StringIO, *, color: bool, width: int) -> Console:
    return Console(
        file=file,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
    )


def _table(results: list[CheckResult], *, identity: bool) -> Table:
    # A minimum width that the columns cannot all get makes rich crop the table's right
    # edge; with the Identity column there is no room for them at 80 columns.
    least = None if identity else 12
    table = _plain_table()
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    if identity:
        table.add_column("Identity", overflow="fold", max_width=14)
    table.add_column("Group", overflow="fold", max_width=20)
    table.add_column("Check", overflow="fold", min_width=least)
    table.add_column("Expected", overflow="fold", max_width=12)
    table.add_column("Got", overflow="fold", max_width=16)
    table.add_column("Reason", overflow="fold", min_width=least)
    for number, result in enumerate(results, 1):
        table.add_row(
            Text(str(number)),
            Text(verdict_text(result), style=STYLES[result.verdict]),
            *([_plain(result.identity)] if identity else []),
            _plain(result.group),
            _plain(result.title),
            _plain(result.expect),
            _plain(result.got),
            _plain(result.reason or flaky_text(result)),
        )
    return table


def _plain_table() -> Table:
    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)


def _print_curl_lines(console: Console, run: Run, shown: list[CheckResult], *, label: bool) -> None:
    failed = [(n, r) for n, r in enumerate(shown, 1) if r.verdict in ("FAIL", "ERROR")]
    if not failed:
        return
    console.print()
    console.print(Text("Reproduce:", style="bold"))
    for number, result in failed:
        # soft_wrap: one physical line, so it copies and pastes as one command.
        line = curl_command(run, result, label=label)
        console.print(_plain(f"{number:>3}  {line}"), soft_wrap=True)
    console.print()


def _print_mismatches(console: Console, run: Run, *, several: bool) -> None:
    found = collect(run)
    if not found.count:
        return
    console.print(Text("404 mismatches:", style="bold"))
    for mismatch in found.rows:
        detail = mismatch.detail
        if several:
            detail += f"  (as {', '.join(mismatch.identities)})"
        # One line; wrapped, the detail continues under itself, after the arrow.
        line = Table.grid(padding=(0, 2))
        line.add_column(overflow="fold", max_width=max(20, console.width // 2))
        line.add_column(overflow="fold")
        line.add_row(_plain(f"{mismatch.method} {mismatch.path}  ->"), _plain(detail))
        console.print(Padding(line, (0, 0, 0, 2)))
    console.print(_plain(found.line))
    console.print()


# Below these widths the check and group columns of the matrix would be folded to slivers.
_CHECK_MIN = 16
_GROUP_MIN = 8


def _print_matrix(console: Console, matrix: Matrix, width: int, *, color: bool) -> None:
    """The matrix as a table, or listed per identity when its cells cannot fit `width`."""
    table = _matrix_table(matrix)
    # The width it needs with nothing folded, less what folding group and check may save.
    scratch = io.StringIO()
    _console(scratch, color=False, width=10_000).print(table)
    widest = max((len(line.rstrip()) for line in scratch.getvalue().splitlines()), default=0)
    groups = [_plain(row.group).cell_len for row in matrix.rows] + [len("Group")]
    checks = [_plain(row.first.title).cell_len for row in matrix.rows] + [len("Check")]
    foldable = max(0, max(groups) - _GROUP_MIN) + max(0, max(checks) - _CHECK_MIN)
    console.print(Text("Matrix:", style="bold"))
    if widest - foldable <= width:
        console.print(table)
    else:
        _print_per_identity(console, matrix)
    console.print()


def _matrix_table(matrix: Matrix) -> Table:
    table = _plain_table()
    table.add_column("Group", overflow="fold", min_width=_GROUP_MIN)
    table.add_column("Check", overflow="fold", min_width=_CHECK_MIN)
    for name in matrix.identities:
        table.add_column(_plain(name), no_wrap=True)
    for row in matrix.rows:
        table.add_row(
            _plain(row.group),
            _plain(row.first.title),
            *(Text("") if cell is None else _cell(cell.result) for cell in row.cells),
        )
    return table


def _print_per_identity(console: Console, matrix: Matrix) -> None:
    """The matrix transposed into lines: under each identity, its cells in manifest order."""
    cells = [cell.result for row in matrix.rows for cell in row.cells if cell is not None]
    pad = max((len(cell_text(result)) for result in cells), default=0)
    for number, name in enumerate(matrix.identities):
        results = [row.cells[number] for row in matrix.rows]
        mine = [cell.result for cell in results if cell is not None]
        passed = sum(1 for r in mine if r.verdict == "PASS")
        console.print(_plain(f"as {name} ({passed}/{len(mine)} PASS)"), style="bold")
        for result in mine:
            line = _cell(result)
            line.append(" " * (pad - len(cell_text(result))))
            line.append_text(_plain(f"  {result.group} · {result.title}"))
            console.print(Padding(line, (0, 0, 0, 2)))


def _cell(result: CheckResult) -> Text:
    return Text(cell_text(result), style=STYLES[result.verdict])


def _print_tallies(console: Console, run: Run, width: int) -> None:
    labels = [group_label(group, results) for group, results in run.groups().items()]
    line = ""
    for label in labels:
        if line and len(line) + 3 + len(label) > width:
            console.print(_plain(line), soft_wrap=True)
            line = ""
        line = f"{line}   {label}" if line else label
    if line:
        console.print(_plain(line), soft_wrap=True)


def _print_login_failures(console: Console, run: Run) -> None:
    failed = login_failures(run)
    if not failed:
        return
    console.print(Text("Could not log in (their checks were not sent):", style="bold red"))
    for status in failed:
        console.print(
            Padding(_plain(f"{status.name} ({status.kind}): {status.failure}"), (0, 0, 0, 2))
        )


def _plain(value: str) -> Text:
    return Text(_CONTROL.sub("?", _WHITESPACE.sub(" ", value)))
