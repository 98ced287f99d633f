"""Latency: percentiles of elapsed times, and the SLO rules that judge them. Pure functions.

Percentile method: **linear interpolation between closest ranks** (Hyndman & Fan type 7,
numpy's default `linear`, `statistics.quantiles(method="inclusive")`). For the sorted
samples `x[0] <= ... <= x[n-1]` and `p` in 0..100::

    h = (n - 1) * p / 100
    value = x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])

so p0 is the minimum, p100 the maximum, and p50 of an even count is the mean of the two
middle samples. One sample is every percentile of itself.

>>> stats([10.0, 20.0, 30.0, 40.0])
Stats(n=4, min=10.0, p50=25.0, p95=38.5, p99=39.7, max=40.0)

Which samples a result has (`samples_of`): with `--repeat N`, the elapsed time of every
sample that got an HTTP answer (`CheckResult.samples_ms`); otherwise its one answer's
elapsed time. A transport error's time is not a latency (a timeout would say the limit,
not the service), and a request not sent has none.

SLO rule (`judge_slo`): a check's limits (`slo: {p50_ms, p95_ms, p99_ms, max_ms}`, the most
specific of check, group and defaults) are compared with its samples' statistics; a limit
is breached when the statistic is strictly above it. A breach turns PASS into FAIL with the
reason `p95 128 ms > 100 ms` (every breached limit, `; `-separated). It never changes any
other verdict: an ERROR, SKIP, FAIL, XFAIL or XPASS already says more than its latency.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from crawler.results import CheckResult, Response

# The SLO limits a manifest may set, in the order they are checked and reported.
LIMITS: tuple[str, ...] = ("p50_ms", "p95_ms", "p99_ms", "max_ms")


def percentile(ordered: Sequence[float], p: float) -> float:
    """The `p`-th percentile (0..100) of samples sorted ascending; see the module docstring.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    """
    if not ordered:
        raise ValueError("no samples")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is not within 0..100")
    h = (len(ordered) - 1) * p / 100
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


@dataclass(frozen=True)
class Stats:
    """How long answers took, in milliseconds: count, min, p50, p95, p99, max."""

    n: int
    min: float
    p50: float
    p95: float
    p99: float
    max: float

    def value(self, limit: str) -> float:
        """The statistic an SLO limit (`p95_ms`) is about."""
        return float(getattr(self, limit.removesuffix("_ms")))


def stats(samples: Iterable[float]) -> Stats | None:
    """The statistics of `samples` (any order); None when there are none."""
    ordered = sorted(samples)
    if not ordered:
        return None
    return Stats(
        n=len(ordered),
        min=ordered[0],
        p50=round(percentile(ordered, 50), 3),
        p95=round(percentile(ordered, 95), 3),
        p99=round(percentile(ordered, 99), 3),
        max=ordered[-1],
    )


def samples_of(result: CheckResult) -> tuple[float, ...]:
    """The latency samples of a result (see the module docstring)."""
    if result.samples_ms:
        return result.samples_ms
    if isinstance(result.observation, Response):
        return (result.observation.elapsed_ms,)
    return ()


def pooled(results: Iterable[CheckResult]) -> Stats | None:
    """The statistics of every sample of every result (a group's, an identity's)."""
    return stats(sample for result in results for sample in samples_of(result))


def by(results: Iterable[CheckResult], key: str) -> dict[str, Stats]:
    """Pooled statistics per `group` or per `identity`, in first-seen order; a key whose
    results have no samples at all is left out."""
    samples: dict[str, list[float]] = {}
    for result in results:
        samples.setdefault(getattr(result, key), []).extend(samples_of(result))
    found = {name: stats(values) for name, values in samples.items()}
    return {name: value for name, value in found.items() if value is not None}


def ms(value: float) -> str:
    """`128 ms`, or `100.4 ms` when rounding to a whole number would hide the difference."""
    return f"{value:.0f} ms" if abs(value - round(value)) < 0.05 else f"{value:.1f} ms"


def breaches(measured: Stats, limits: Mapping[str, float]) -> list[str]:
    """Each limit the statistics are above: `["p95 128 ms > 100 ms"]`, in `LIMITS` order."""
    found = []
    for limit in LIMITS:
        bound = limits.get(limit)
        if bound is None:
            continue
        value = measured.value(limit)
        if value > bound:
            found.append(f"{limit.removesuffix('_ms')} {ms(value)} > {ms(bound)}")
    return found


def judge_slo(result: CheckResult, limits: Mapping[str, float] | None) -> CheckResult:
    """The result with its SLO limits recorded, and FAIL when a PASS breaches them.

    Rule: only a PASS can become FAIL, and only on a breach of a limit it was given;
    a result without samples (nothing answered) keeps its verdict.
    """
    if not limits:
        return result
    update: dict[str, object] = {}
    measured = stats(samples_of(result))
    if result.verdict == "PASS" and measured is not None:
        found = breaches(measured, limits)
        if found:
            update |= {"verdict": "FAIL", "reason": "; ".join(found)}
    return result.with_details(slo=dict(limits), update=update)
