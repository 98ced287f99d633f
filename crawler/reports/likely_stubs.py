"""The likely-stubs model the reports share: STUB results folded into one row per route and rule.

A passing answer that looks like fake data (see `crawler/stubs.py`) is STUB with the rule
that fired and its evidence. `collect(run)` folds them, like an audit's "Stubbed routes
(fake data)" list::

    found = collect(run)
    found.count               # results flagged (the "Likely stubs: N" of the totals)
    row = found.rows[0]
    row.route                 # "GET /api/analytics/summary"
    row.rule, row.evidence    # "placeholder_values", "4 of 9 values are placeholders: ..."
    row.identities            # ("admin", "viewer")

Rows come in manifest order. Pure and deterministic: no I/O, no jinja2, no rich.
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler.results import CheckResult, Run, StubRule

# What each rule means, for a report's legend.
RULES: dict[StubRule, str] = {
    "same_body_for_params": "the same body for different path parameters",
    "placeholder_values": "placeholder values (lorem ipsum, TODO, test@..., N/A everywhere)",
    "always_empty": "always-empty collections while sibling routes return data",
    "echoed_request": "a mutation that echoes its request body back",
    "constant_samples": "a constant body across samples though it has a clock or counter",
}


@dataclass(frozen=True)
class StubRow:
    """One route flagged by one rule: the evidence (of its first result) and who got it."""

    route: str
    rule: StubRule
    evidence: str
    identities: tuple[str, ...]
    group: str


@dataclass(frozen=True)
class LikelyStubs:
    rows: tuple[StubRow, ...]
    count: int

    @property
    def line(self) -> str:
        """`Likely stubs: 3` (results flagged)."""
        return f"Likely stubs: {self.count}"


def collect(run: Run) -> LikelyStubs:
    """The run's STUB results as rows, one per (group, check, rule), in manifest order."""
    rows: dict[tuple[str, int, str], list[CheckResult]] = {}
    for result in run.results:
        if result.verdict == "STUB" and result.stub is not None:
            rows.setdefault((result.group, result.index, result.stub.rule), []).append(result)
    folded = []
    for results in rows.values():
        first = results[0]
        assert first.stub is not None
        folded.append(
            StubRow(
                route=f"{first.method} {first.path}",
                rule=first.stub.rule,
                evidence=first.stub.evidence,
                identities=tuple(r.identity for r in results),
                group=first.group,
            )
        )
    count = sum(len(v) for v in rows.values())
    return LikelyStubs(tuple(folded), count)
