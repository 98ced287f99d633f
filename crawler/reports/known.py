"""The known-failures model the reports share: checks carrying a ticket, and counts per status.

A check (or its group) may carry `known: {ticket: T2-3, status: BACKLOG, reason: ...}`; its
results are then XFAIL when they fail and XPASS when they pass. `collect(run)` folds them into
one row per check, however many identities ran it, like a truth-pass audit::

    found = collect(run)
    found.line                # "3 BACKLOG · 1 BLOCKED · 0 DEFERRED"
    row = found.rows[0]
    row.known.ticket          # "T2-3"
    row.now(several=True)     # "admin XFAIL 404 · viewer XFAIL 404"
    row.passing               # True when any of its results is XPASS: close the ticket?
    found.passing_line        # "1 now passing: close T2-7?"

Rows come in manifest order. Pure and deterministic: no I/O, no jinja2, no rich.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from crawler.results import CheckResult, Known, KnownStatus, Run

STATUSES: tuple[KnownStatus, ...] = get_args(KnownStatus)


@dataclass(frozen=True)
class KnownRow:
    """One known check: its ticket and its results (one per identity that ran it)."""

    known: Known
    results: tuple[CheckResult, ...]

    @property
    def first(self) -> CheckResult:
        return self.results[0]

    @property
    def check(self) -> str:
        """`GET /api/recordings`."""
        return f"{self.first.method} {self.first.path}"

    @property
    def passing(self) -> bool:
        """It answered as expected (XPASS): the ticket may be done."""
        return any(result.verdict == "XPASS" for result in self.results)

    @property
    def close(self) -> str:
        """`now passing: close T2-3?`."""
        return f"now passing: close {self.known.ticket}?"

    def now(self, *, several: bool) -> str:
        """`XFAIL 404`; with several identities `admin XFAIL 404 · viewer XPASS 200`."""
        if not several:
            return " · ".join(result.cell for result in self.results)
        return " · ".join(f"{result.identity} {result.cell}" for result in self.results)

    @property
    def reason(self) -> str:
        """The ticket's reason, then `now passing: close T2-3?` when it passes."""
        parts = (self.known.reason, self.close if self.passing else "")
        return " — ".join(part for part in parts if part)


@dataclass(frozen=True)
class KnownFailures:
    """Every known check of a run. Empty when no check carries a ticket."""

    rows: tuple[KnownRow, ...]

    @property
    def counts(self) -> dict[KnownStatus, int]:
        """Known checks per status, every status present (zeros included)."""
        counts = dict.fromkeys(STATUSES, 0)
        for row in self.rows:
            counts[row.known.status] += 1
        return counts

    @property
    def line(self) -> str:
        """`3 BACKLOG · 1 BLOCKED · 0 DEFERRED`."""
        return " · ".join(f"{count} {status}" for status, count in self.counts.items())

    @property
    def passing(self) -> list[KnownRow]:
        """The known checks that pass now (XPASS)."""
        return [row for row in self.rows if row.passing]

    @property
    def passing_line(self) -> str:
        """`2 now passing: close T2-3, T2-7?`; '' when none passes."""
        tickets = ", ".join(dict.fromkeys(row.known.ticket for row in self.passing))
        return f"{len(self.passing)} now passing: close {tickets}?" if tickets else ""


def collect(run: Run) -> KnownFailures:
    """The run's known checks, one row per check (group and index), in manifest order."""
    rows: dict[tuple[str, int, Known], list[CheckResult]] = {}
    for result in run.results:
        if result.known is not None:
            rows.setdefault((result.group, result.index, result.known), []).append(result)
    return KnownFailures(
        tuple(KnownRow(known, tuple(results)) for (_, _, known), results in rows.items())
    )
