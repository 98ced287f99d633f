"""The identity matrix the human reports share: rows are checks, columns are identities.

A run holds one result per check x identity. `build(run)` folds them back into rows, one
per check (`group`, `index`), in manifest order, with a cell per identity column::

    m = build(run)
    m.identities                 # ("admin", "viewer", "anonymous")
    m.rows[0].cells[1].result    # the first check as viewer (None: not run as viewer)
    cell_text(result)            # "PASS 200", "FAIL 404", "XFAIL 404", "SKIP", "PASS 200 ⚑"

A run with one identity (`m.several` is False) is reported as a plain table, as before
identities existed. Everything here is pure and deterministic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crawler.results import CheckResult, IdentityStatus, Run, Verdict, tally

ANONYMOUS = "anonymous"

# Marks a cell whose session expired mid-run: logged in again, then the request was retried.
REAUTH_MARK = "↻"
REAUTH_NOTE = "logged in again after the session expired, then retried"
# Marks a result that failed, then passed when checked again (`--retries`): flaky.
FLAKY_MARK = "⚑"
FLAKY_NOTE = "flaky: failed, then passed when checked again"


@dataclass(frozen=True)
class Cell:
    """One result in the matrix; `position` is its index in `run.results` (stable anchors)."""

    position: int
    result: CheckResult


@dataclass(frozen=True)
class Row:
    """One check: its cells in identity-column order (None where it was not run as that one)."""

    group: str
    index: int
    cells: tuple[Cell | None, ...]

    @property
    def results(self) -> list[CheckResult]:
        return [cell.result for cell in self.cells if cell is not None]

    @property
    def first(self) -> CheckResult:
        """The check's first result: method, path and name are the same in all of them."""
        return self.results[0]


@dataclass(frozen=True)
class Matrix:
    identities: tuple[str, ...]
    rows: tuple[Row, ...]

    @property
    def several(self) -> bool:
        """More than one identity: reports show the matrix instead of a plain table."""
        return len(self.identities) > 1

    def groups(self) -> dict[str, list[Row]]:
        """Rows by group, groups and rows in manifest order (as `Run.groups`)."""
        grouped: dict[str, list[Row]] = {}
        for row in self.rows:
            grouped.setdefault(row.group, []).append(row)
        return grouped

    def expected(self, row: Row) -> str:
        """`200` when every identity expects the same, else `admin 200 · viewer 403`."""
        pairs = [
            (name, cell.result.expect)
            for name, cell in zip(self.identities, row.cells, strict=True)
            if cell is not None
        ]
        if len({expect for _, expect in pairs}) == 1:
            return pairs[0][1]
        return " · ".join(f"{name} {expect}" for name, expect in pairs)


def identity_names(run: Run) -> tuple[str, ...]:
    """The identity columns: `run.identities` in order, then any other identity that has a
    result, in order of first appearance (a run without `identities` names them this way).
    """
    names = dict.fromkeys(status.name for status in run.identities)
    names.update(dict.fromkeys(result.identity for result in run.results))
    return tuple(names)


def build(run: Run) -> Matrix:
    """The run as a matrix. See the module docstring.

    Rows follow the first appearance of each (group, index), which is manifest order; if
    a check somehow has two results for one identity, the first is shown.
    """
    identities = identity_names(run)
    column = {name: number for number, name in enumerate(identities)}
    keys: dict[tuple[str, int], list[Cell | None]] = {}
    for position, result in enumerate(run.results):
        cells = keys.setdefault((result.group, result.index), [None] * len(identities))
        slot = column[result.identity]
        if cells[slot] is None:
            cells[slot] = Cell(position, result)
    rows = tuple(Row(group, index, tuple(cells)) for (group, index), cells in keys.items())
    return Matrix(identities=identities, rows=rows)


def cell_text(result: CheckResult) -> str:
    """`PASS 200`, `FAIL 404`, `XFAIL 404`, `ERROR`, `SKIP`; `↻` appended when it
    re-authenticated, `⚑` when it is flaky (`PASS 200 ⚑`)."""
    text = result.cell
    if result.reauthenticated:
        text += f" {REAUTH_MARK}"
    return f"{text} {FLAKY_MARK}" if result.flaky else text


def verdict_text(result: CheckResult) -> str:
    """The verdict as a Verdict column shows it: `PASS`, or `PASS ⚑` when flaky."""
    return f"{result.verdict} {FLAKY_MARK}" if result.flaky else result.verdict


def identity_tallies(
    identities: Sequence[str], results: Iterable[CheckResult]
) -> dict[str, Counter[Verdict]]:
    """Verdict counts per identity, in column order (identities with no result count 0)."""
    by_identity: dict[str, list[CheckResult]] = {name: [] for name in identities}
    for result in results:
        by_identity.setdefault(result.identity, []).append(result)
    return {name: tally(items) for name, items in by_identity.items()}


def identity_line(identities: Sequence[str], results: Iterable[CheckResult]) -> str:
    """`admin 7/7 · viewer 5/7 · anonymous 5/7`: passed of run, per identity that ran."""
    parts = []
    for name, counts in identity_tallies(identities, results).items():
        total = sum(counts.values())
        if total:
            parts.append(f"{name} {counts['PASS']}/{total}")
    return " · ".join(parts)


def login_failures(run: Run) -> list[IdentityStatus]:
    """The identities that could not log in (their checks are SKIP), in run order."""
    return [status for status in run.identities if status.failure]


def shows_identity(run: Run) -> bool:
    """Whether reports name the identity of each result: several, or a named one."""
    return bool(run.identities) or any(r.identity != ANONYMOUS for r in run.results)


# --- big runs: no matrix to build when there is one identity ---------------------------------


def columns_only(run: Run) -> Matrix:
    """`build(run)` when the run has several identities; with one, only its column and no
    rows: the reports then show a plain table, and building 100,000 rows of one cell each
    would only cost memory."""
    names = identity_names(run)
    return build(run) if len(names) > 1 else Matrix(names, ())
