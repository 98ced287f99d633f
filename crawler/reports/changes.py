"""The Was -> Now model the reports share: what changed against the baseline run, and counts.

`crawler.baseline.compare` puts `was` and `change` on every result of a run and the results
only the baseline had on `run.gone`. `collect(run)` picks what the reports list::

    found = collect(run)          # None: the run has no baseline
    found.rows                    # REGRESSED, then FIXED, then NEW; manifest order within
    found.gone                    # GONE: in the baseline, not in this run
    found.line                    # "1 REGRESSED, 2 FIXED, 3 NEW, 1 GONE (2 UNCHANGED)"
    was_text(result)              # "FAIL 404", or "—" for a NEW result

Pure and deterministic: no I/O, no jinja2, no rich.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from crawler.results import CHANGES, Change, CheckResult, Run, changes

# Listed, in this order: regressions first, since they are what a gate blocks on.
LISTED: tuple[Change, ...] = ("REGRESSED", "FIXED", "NEW")
# Was, for a result the baseline did not have.
NOTHING = "—"


@dataclass(frozen=True)
class Changes:
    """The changes of a run against its baseline (`baseline` names it, e.g. its path)."""

    baseline: str
    rows: tuple[CheckResult, ...]
    gone: tuple[CheckResult, ...]
    counts: Counter[Change]

    @property
    def count(self) -> int:
        """Results that changed, GONE included."""
        return len(self.rows) + len(self.gone)

    @property
    def line(self) -> str:
        """`1 REGRESSED, 2 FIXED, 3 NEW, 1 GONE (2 UNCHANGED)`, as in `summarize`."""
        moved = ", ".join(f"{self.counts[c]} {c}" for c in CHANGES if c != "UNCHANGED")
        return f"{moved} ({self.counts['UNCHANGED']} UNCHANGED)"


def collect(run: Run) -> Changes | None:
    """The run's changes, or None when it was not compared with a baseline."""
    if run.baseline is None:
        return None
    rows = [r for change in LISTED for r in run.results if r.change == change]
    return Changes(run.baseline, tuple(rows), run.gone, changes(run))


def was_text(result: CheckResult) -> str:
    """What the baseline said of it (`FAIL 404`), or `—` when it did not have it."""
    return result.was if result.was is not None else NOTHING
