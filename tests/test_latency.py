"""Latency percentiles and SLO rules (crawler/latency.py), with known samples."""

from __future__ import annotations

import statistics

import pytest
import samples
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler import latency
from crawler.latency import Stats, breaches, judge_slo, percentile, samples_of, stats
from crawler.results import NotSent, TransportError

ONE_TO_TEN = [float(v) for v in range(1, 11)]


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        # Hand-computed: h = (n - 1) * p / 100, then interpolate between x[floor h] and the next.
        (ONE_TO_TEN, 0, 1.0),
        (ONE_TO_TEN, 50, 5.5),  # h = 4.5: halfway between 5 and 6
        (ONE_TO_TEN, 95, 9.55),  # h = 8.55: 9 + 0.55 * (10 - 9)
        (ONE_TO_TEN, 99, 9.91),  # h = 8.91
        (ONE_TO_TEN, 100, 10.0),
        ([15.0, 20.0, 35.0, 40.0, 50.0], 40, 29.0),  # h = 1.6: 20 + 0.6 * 15
        ([10.0, 20.0, 30.0, 40.0], 95, 38.5),  # h = 2.85: 30 + 0.85 * 10
        ([7.0], 99, 7.0),  # one sample is every percentile of itself
        ([3.0, 3.0, 3.0], 50, 3.0),
        # numpy.percentile([1, 2, 3, 4, 1000], [50, 95]) == [3.0, 800.8]: h = 3.8, 4 + 0.8 * 996
        ([1.0, 2.0, 3.0, 4.0, 1000.0], 50, 3.0),
        ([1.0, 2.0, 3.0, 4.0, 1000.0], 95, 800.8),
    ],
)
def test_percentile_of_known_samples(values: list[float], p: float, expected: float) -> None:
    assert percentile(values, p) == pytest.approx(expected)


def test_percentile_refuses_no_samples_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        percentile([1.0], 101)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=2, max_size=60))
def test_percentile_agrees_with_statistics_inclusive_quantiles(values: list[float]) -> None:
    # statistics.quantiles(method="inclusive", n=100) is the same type-7 rule at p = 1..99.
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    for p in (1, 25, 50, 95, 99):
        assert percentile(ordered, p) == pytest.approx(cuts[p - 1], rel=1e-9, abs=1e-9)


def test_stats_of_unsorted_samples() -> None:
    assert stats([40.0, 10.0, 30.0, 20.0]) == Stats(
        n=4, min=10.0, p50=25.0, p95=38.5, p99=39.7, max=40.0
    )
    assert stats([]) is None


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"p95_ms": 100.0}, ["p95 128 ms > 100 ms"]),
        ({"p95_ms": 128.0}, []),  # at the limit is within it
        ({"p50_ms": 5.0, "max_ms": 131.0}, ["p50 50 ms > 5 ms"]),
        ({"p99_ms": 100.0, "max_ms": 100.0}, ["p99 130 ms > 100 ms", "max 131 ms > 100 ms"]),
        ({"p95_ms": 127.6}, ["p95 128 ms > 127.6 ms"]),
    ],
)
def test_breaches_name_each_limit_above(limits: dict[str, float], expected: list[str]) -> None:
    measured = Stats(n=200, min=1.0, p50=50.0, p95=128.0, p99=130.0, max=131.0)
    assert breaches(measured, limits) == expected


def test_ms_shows_a_decimal_only_when_rounding_would_hide_it() -> None:
    assert latency.ms(128.0) == "128 ms"
    assert latency.ms(100.4) == "100.4 ms"
    assert breaches(Stats(1, 100.4, 100.4, 100.4, 100.4, 100.4), {"max_ms": 100}) == [
        "max 100.4 ms > 100 ms"
    ]


def _passed(samples_ms: tuple[float, ...] = (), ms: float = 12.0) -> samples.CheckResult:
    result = samples.result("Billing", 0, "/api/billing", samples.response(200, ms=ms), "PASS")
    return result.with_details(samples_ms=samples_ms)


def test_samples_of_a_result() -> None:
    assert samples_of(_passed(ms=12.5)) == (12.5,)
    assert samples_of(_passed((1.0, 2.0, 3.0))) == (1.0, 2.0, 3.0)
    error = TransportError(error="read_timeout", message="no answer", elapsed_ms=10_000)
    assert samples_of(samples.result("G", 0, "/x", error, "ERROR")) == ()
    assert samples_of(samples.result("G", 0, "/x", NotSent(reason="no"), "SKIP")) == ()


def test_a_breach_turns_pass_into_fail_with_the_reason() -> None:
    # 20 samples 10, 20, ..., 200 ms: p95 = 190 + 0.05 * 10 = 190.5 ms.
    judged = judge_slo(_passed(tuple(float(v) for v in range(10, 201, 10))), {"p95_ms": 100})
    assert judged.verdict == "FAIL"
    assert judged.reason == "p95 190.5 ms > 100 ms"
    assert judged.slo == {"p95_ms": 100}


def test_within_the_slo_stays_pass_and_records_the_limits() -> None:
    judged = judge_slo(_passed((5.0, 6.0, 7.0)), {"p95_ms": 100, "max_ms": 7})
    assert (judged.verdict, judged.reason, judged.slo) == ("PASS", "", {"p95_ms": 100, "max_ms": 7})


def test_no_slo_leaves_the_result_as_it_is() -> None:
    result = _passed((500.0,))
    assert judge_slo(result, None) is result
    assert judge_slo(result, {}) is result


@pytest.mark.parametrize("verdict", ["FAIL", "XFAIL", "XPASS"])
def test_a_breach_never_changes_another_verdict(verdict: str) -> None:
    result = _passed((500.0,)).model_copy(update={"verdict": verdict, "reason": "why"})
    judged = judge_slo(result, {"p95_ms": 1})
    assert (judged.verdict, judged.reason) == (verdict, "why")


def test_a_breach_never_turns_error_or_skip_into_fail() -> None:
    error = TransportError(error="read_timeout", message="no answer", elapsed_ms=20_000)
    errored = judge_slo(samples.result("G", 0, "/x", error, "ERROR", reason="x"), {"max_ms": 1})
    skipped = judge_slo(samples.result("G", 0, "/y", NotSent(reason="r"), "SKIP"), {"max_ms": 1})
    assert (errored.verdict, skipped.verdict) == ("ERROR", "SKIP")


def test_pooled_statistics_per_group_and_identity() -> None:
    results = [
        _passed((1.0, 2.0)),
        _passed((3.0, 4.0)).model_copy(update={"identity": "admin"}),
        _passed((100.0,)).model_copy(update={"group": "Users"}),
    ]
    groups = latency.by(results, "group")
    assert list(groups) == ["Billing", "Users"]
    assert groups["Billing"] == Stats(n=4, min=1.0, p50=2.5, p95=3.85, p99=3.97, max=4.0)
    identities = latency.by(results, "identity")
    assert identities["admin"].n == 2 and identities["anonymous"].n == 3
    assert latency.pooled(results) == stats([1.0, 2.0, 3.0, 4.0, 100.0])
