"""Prometheus metrics of a run, in the text exposition format (node_exporter's textfile
collector reads it from a `.prom` file; a pushgateway accepts it as is).

Every series is a gauge: a run is a snapshot, not a process that counts::

    crawler_check_success{group="Billing",check="GET /api/billing",identity="admin"} 1
    crawler_check_duration_seconds{group="Billing",check="GET /api/billing",identity="admin"} 0.012
    crawler_run_checks{verdict="FAIL"} 2
    crawler_run_timestamp_seconds 1.7959428e+09
    crawler_run_duration_seconds 1.32

The rules:

- `crawler_check_success` is 1 for PASS and XPASS, 0 for FAIL, ERROR and XFAIL (a known
  failure still fails). A SKIP has no series: it was never sent (a mutation not allowed, an
  identity that could not log in, a missing capture), so it says nothing of the route, and
  a 0 would page someone for every POST a safe run leaves alone. SKIPs are counted in
  `crawler_run_checks{verdict="SKIP"}`, and a failed login shows in the exit code.
- `check` is the check's label as every report shows it: its `name:`, else `METHOD path`.
  (`METHOD path` alone would not do: a manifest often checks one route twice, e.g. with
  another query or as another organisation.) Two results that still share all three
  labels are one series: success is 1 only if both passed, the duration is the longer.
- `crawler_check_duration_seconds` exists only where there was an HTTP answer: a timeout or
  a refused connection has no duration worth graphing.
- `crawler_run_checks` has a series for every verdict, zeros included, so a dashboard
  never shows "no data" for a good run; `crawler_run_timestamp_seconds` is when the run
  started (Unix time), for staleness alerts.

Label values are escaped by the official client library (`prometheus_client`), which
writes the format, so a group name with a quote, backslash or newline stays one label.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from crawler.results import VERDICTS, CheckResult, Run, Verdict, tally

# The text format 0.0.4, which every Prometheus, node_exporter and pushgateway reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# The pushgateway grouping key: `--pushgateway URL` pushes to URL + PUSH_PATH.
PUSH_PATH = "/metrics/job/crawler"

CHECK_LABELS = ("group", "check", "identity")
_SUCCESS: frozenset[Verdict] = frozenset({"PASS", "XPASS", "STUB"})  # a STUB answered as expected


def render(run: Run) -> str:
    """The run's metrics in the Prometheus text exposition format. See the module docstring."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RunCollector(run))
    return generate_latest(registry).decode("utf-8")


def push_url(gateway: str) -> str:
    """Where `--pushgateway URL` puts the metrics: `URL/metrics/job/crawler`."""
    return gateway.rstrip("/") + PUSH_PATH


def success(result: CheckResult) -> int | None:
    """1 for PASS, XPASS or STUB, 0 for FAIL, ERROR or XFAIL, None (no series) for SKIP."""
    if result.verdict == "SKIP":
        return None
    return 1 if result.verdict in _SUCCESS else 0


def labels(result: CheckResult) -> tuple[str, str, str]:
    """The label values of a result's series, in `CHECK_LABELS` order."""
    return (result.group, result.title, result.identity)


class _RunCollector:
    """A custom collector (the client library's idiom for exporting a snapshot)."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def collect(self) -> Iterator[Metric]:
        run = self.run
        counts = tally(run.results)
        checks = GaugeMetricFamily(
            "crawler_run_checks",
            "Results of the last crawler run with each verdict.",
            labels=["verdict"],
        )
        for verdict in VERDICTS:
            checks.add_metric([verdict], counts[verdict])
        yield checks
        started = run.started_at
        started = started.replace(tzinfo=UTC) if started.tzinfo is None else started
        yield GaugeMetricFamily(
            "crawler_run_timestamp_seconds",
            "When the last crawler run started, in seconds since the Unix epoch.",
            value=started.timestamp(),
        )
        yield GaugeMetricFamily(
            "crawler_run_duration_seconds",
            "How long the last crawler run took, in seconds.",
            value=run.duration_s,
        )
        successes: dict[tuple[str, str, str], int] = {}
        durations: dict[tuple[str, str, str], float] = {}
        for result in run.results:
            key = labels(result)
            value = success(result)
            if value is not None:
                successes[key] = min(value, successes.get(key, 1))
            if result.status is not None and result.elapsed_ms is not None:
                durations[key] = max(result.elapsed_ms / 1000, durations.get(key, 0.0))
        success_family = GaugeMetricFamily(
            "crawler_check_success",
            "1 if the check passed (PASS or XPASS), 0 if not (FAIL, ERROR, XFAIL); "
            "skipped checks have no series.",
            labels=CHECK_LABELS,
        )
        for key, ok in successes.items():
            success_family.add_metric(key, ok)
        yield success_family
        duration_family = GaugeMetricFamily(
            "crawler_check_duration_seconds",
            "Seconds until the check's HTTP answer (only checks that got one).",
            labels=CHECK_LABELS,
        )
        for key, seconds in durations.items():
            duration_family.add_metric(key, seconds)
        yield duration_family
