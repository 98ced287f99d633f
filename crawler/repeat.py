"""`--repeat N`: send every check N times and fold its N samples into one result.

The crawl sends `rounds(checks, n)`: all the checks once, then all again, N times (so the
load spreads over the routes); the sample at position `i` is check `i % len(checks)`.
`Sampler` folds the samples as they arrive and keeps, per check, one result and the
elapsed milliseconds of the samples that got an HTTP answer, never N observations: memory
is one result plus N floats per check.

The verdict of a repeated check (`Sampler.results`):

- the worst verdict any sample got, in the order FAIL, ERROR, XFAIL, XPASS, PASS, SKIP
  (a SKIP only when no sample was sent, e.g. an identity that could not log in);
- its reason says how many samples got it: `3 of 200 samples: expected 200, got 503`;
- the result kept is the first sample that got that verdict (its request, its answer);
- `samples_ms` holds every answered sample's elapsed time, for percentiles and SLOs.

Usage (the runner's)::

    sampler = Sampler(len(checks))
    await crawl(rounds(checks, 3), ..., on_result=lambda i, r: sampler.add(i % len(checks), r))
    sampler.results()  # {index: CheckResult}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from crawler.results import CheckResult, Response, Verdict

# --repeat at most: a quick latency sample, not a load test (see the README: Locust, k6).
MAX_REPEAT = 10_000

# The verdict a repeated check gets: the first of these any sample got.
FOLD_ORDER: dict[Verdict, int] = {
    "FAIL": 0,
    "ERROR": 1,
    "XFAIL": 2,
    "XPASS": 3,
    "PASS": 4,
    "SKIP": 5,
}

T = TypeVar("T")


def rounds(checks: Sequence[T], n: int) -> list[T]:
    """The checks N times over, round after round: position `i` is `checks[i % len]`."""
    return [item for _ in range(n) for item in checks]


@dataclass
class _Folded:
    kept: CheckResult
    verdicts: Counter[Verdict] = field(default_factory=Counter)
    samples: list[float] = field(default_factory=list)
    # Digests of the bodies of samples whose body has a clock or counter field (stubs.py).
    digests: set[str] = field(default_factory=set)


class Sampler:
    """Folds the samples of `count` checks, as they come, into one result per check."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._folded: dict[int, _Folded] = {}

    def add(self, index: int, result: CheckResult) -> None:
        """One sample of check `index` (its position in the checks, not in the rounds)."""
        folded = self._folded.get(index)
        if folded is None:
            folded = self._folded[index] = _Folded(result)
        elif FOLD_ORDER[result.verdict] < FOLD_ORDER[folded.kept.verdict]:
            folded.kept = result
        folded.verdicts[result.verdict] += 1
        if isinstance(result.observation, Response):
            folded.samples.append(result.observation.elapsed_ms)
            facts = result.observation.facts
            if facts is not None and facts.time_fields:
                folded.digests.add(facts.digest)

    def results(self) -> dict[int, CheckResult]:
        """One result per check that has samples, keyed by its index (see the module doc)."""
        return {index: _result(folded) for index, folded in self._folded.items()}


def _result(folded: _Folded) -> CheckResult:
    kept = folded.kept
    total = sum(folded.verdicts.values())
    update: dict[str, object] = {}
    if total > 1 and kept.verdict not in ("PASS", "SKIP"):
        count = folded.verdicts[kept.verdict]
        update["reason"] = f"{count} of {total} samples: {kept.reason}".rstrip(": ")
    return kept.with_details(
        samples_ms=tuple(folded.samples),
        # constant_samples: a clock that never moves across the samples
        distinct_bodies=len(folded.digests) if folded.digests else None,
        update=update,
    )
