"""Latency in the reports: percentile tables per check, group and identity, SLO verdicts, and
the per-group bar chart of the HTML report.

Shown when a run has something to say about latency (`shown`): it was made with
`--repeat N` (N > 1), or some check has an SLO. Otherwise the reports keep their light
`ms` column only. Statistics and SLO rules come from `crawler.latency`; this module only
lays them out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crawler import latency
from crawler.latency import Stats
from crawler.results import CheckResult, Run

if TYPE_CHECKING:
    from rich.table import Table

COLUMNS: tuple[str, ...] = ("n", "min", "p50", "p95", "p99", "max")
# Per-check rows a terminal shows at most (the md and HTML reports show them all).
TERMINAL_ROWS = 40


@dataclass(frozen=True)
class LatencyRow:
    """One line of a latency table: what it is about, its statistics, its SLO verdict."""

    label: str
    stats: Stats
    slo: str = ""  # the limits: `p95 ≤ 100 ms`
    verdict: str = ""  # `met`, or the breaches: `p95 128 ms > 100 ms`; '' without an SLO
    group: str = ""
    identity: str = ""

    @property
    def cells(self) -> tuple[str, ...]:
        """The statistics as text: `200`, `3.1`, ..., milliseconds."""
        s = self.stats
        return (str(s.n), *(number(v) for v in (s.min, s.p50, s.p95, s.p99, s.max)))

    @property
    def breached(self) -> bool:
        return bool(self.verdict) and self.verdict != "met"


def number(value: float) -> str:
    """Milliseconds as a table shows them: `128`, `3.4` (a decimal below 10 ms)."""
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def shown(run: Run) -> bool:
    """Whether the reports show the latency section: `--repeat` > 1, or an SLO anywhere."""
    return run.settings.repeat > 1 or any(result.slo for result in run.results)


def slo_text(limits: dict[str, float]) -> str:
    """`p95 ≤ 100 ms, max ≤ 500 ms`."""
    return ", ".join(
        f"{name.removesuffix('_ms')} ≤ {latency.ms(limits[name])}"
        for name in latency.LIMITS
        if name in limits
    )


def check_rows(run: Run) -> list[LatencyRow]:
    """A row per result that has samples, manifest order; with its SLO and verdict."""
    several = len({r.identity for r in run.results}) > 1
    rows = []
    for result in run.results:
        measured = latency.stats(latency.samples_of(result))
        if measured is None:
            continue
        verdict = ""
        if result.slo:
            verdict = "; ".join(latency.breaches(measured, result.slo)) or "met"
        label = f"{result.method} {result.path}" + (f" [{result.identity}]" if several else "")
        rows.append(
            LatencyRow(
                label,
                measured,
                slo_text(result.slo),
                verdict,
                group=result.group,
                identity=result.identity,
            )
        )
    return rows


def pooled_rows(results: Iterable[CheckResult], key: str) -> list[LatencyRow]:
    """A row per group or identity (`key`): the statistics of all its samples together."""
    return [LatencyRow(name, s) for name, s in latency.by(results, key).items()]


def headline(run: Run) -> str:
    """`200 samples per check (--repeat 200); SLO breached by 2 of the 14 checks that have one.`"""
    rows = check_rows(run)
    parts = []
    if run.settings.repeat > 1:
        parts.append(f"{run.settings.repeat} samples per check (--repeat {run.settings.repeat})")
    with_slo = [row for row in rows if row.verdict]
    if with_slo:
        breached = sum(1 for row in with_slo if row.breached)
        parts.append(f"SLO breached by {breached} of the {len(with_slo)} checks that have one")
    return "; ".join(parts) + ". Milliseconds; percentiles interpolate linearly between ranks."


# --- markdown --------------------------------------------------------------------------------


def markdown_lines(run: Run) -> list[str]:
    """`## Latency`: the headline, then tables per group, per identity (when several) and
    per check (with its SLO and verdict); nothing when `shown(run)` is False."""
    if not shown(run):
        return []
    from crawler.reports.markdown import gfm_table, text

    def pooled(row: LatencyRow) -> tuple[str, ...]:
        return (text(row.label), *row.cells)

    right = range(1, 1 + len(COLUMNS))
    lines = ["## Latency", "", headline(run), ""]
    groups = [pooled(row) for row in pooled_rows(run.results, "group")]
    lines += [*gfm_table(("Group", *COLUMNS), groups, right), ""]
    identities = [pooled(row) for row in pooled_rows(run.results, "identity")]
    if len(identities) > 1:
        lines += [*gfm_table(("Identity", *COLUMNS), identities, right), ""]
    checks = check_rows(run)
    if checks:
        with_slo = any(row.slo for row in checks)
        header = ("Group", "Check", *COLUMNS, *(("SLO", "SLO verdict") if with_slo else ()))
        rows = [
            (
                text(row.group),
                text(row.label),
                *row.cells,
                *((text(row.slo), _verdict_md(row)) if with_slo else ()),
            )
            for row in checks
        ]
        lines += [*gfm_table(header, rows, range(2, 2 + len(COLUMNS))), ""]
    return lines


def _verdict_md(row: LatencyRow) -> str:
    if not row.verdict:
        return ""
    return f"**FAIL** {row.verdict}" if row.breached else "met"


# --- HTML ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One group in the chart: p50, p95 and p99 as bar widths in the chart's units."""

    label: str
    stats: Stats
    y: int
    p50: float
    p95: float
    p99: float

    @property
    def title(self) -> str:
        """The bar's tooltip: `p50 12 ms · p95 40 ms · p99 51 ms · 200 samples`."""
        s = self.stats
        return (
            f"p50 {number(s.p50)} ms · p95 {number(s.p95)} ms · p99 {number(s.p99)} ms · "
            f"{s.n} samples"
        )

    @property
    def note(self) -> str:
        """What the bar's end says: `p95 40`."""
        return f"p95 {number(self.stats.p95)}"


@dataclass(frozen=True)
class Chart:
    """The per-group latency chart: an inline SVG the template draws (no external assets)."""

    bars: list[Bar]
    width: int
    height: int
    left: int  # where the bars start (room for the labels)
    scale_ms: float  # the milliseconds at the right edge
    ticks: list[tuple[float, str]]  # (x, label) of the axis ticks


CHART_WIDTH = 720
CHART_LEFT = 180
BAR_HEIGHT = 18
BAR_GAP = 8


def chart(run: Run) -> Chart | None:
    """p50/p95/p99 per group as horizontal bars, scaled to the slowest p99; None when no
    group has samples."""
    groups = latency.by(run.results, "group")
    if not groups:
        return None
    top = max(s.p99 for s in groups.values()) or 1.0
    span = CHART_WIDTH - CHART_LEFT - 60

    def x(value: float) -> float:
        return round(value / top * span, 1)

    bars = [
        Bar(name, s, 24 + i * (BAR_HEIGHT + BAR_GAP), x(s.p50), x(s.p95), x(s.p99))
        for i, (name, s) in enumerate(groups.items())
    ]
    ticks = [(round(CHART_LEFT + span * f, 1), number(top * f)) for f in (0, 0.25, 0.5, 0.75, 1)]
    height = 24 + len(bars) * (BAR_HEIGHT + BAR_GAP) + 24
    return Chart(bars, CHART_WIDTH, height, CHART_LEFT, top, ticks)


@dataclass(frozen=True)
class HtmlLatency:
    """What the template's `#latency` section shows."""

    headline: str
    chart: Chart | None
    groups: list[LatencyRow]
    identities: list[LatencyRow]
    checks: list[LatencyRow]
    with_slo: bool
    columns: tuple[str, ...] = COLUMNS


def html(run: Run) -> HtmlLatency | None:
    """The `#latency` section's content; None when `shown(run)` is False."""
    if not shown(run):
        return None
    identities = pooled_rows(run.results, "identity")
    checks = check_rows(run)
    return HtmlLatency(
        headline=headline(run),
        chart=chart(run),
        groups=pooled_rows(run.results, "group"),
        identities=identities if len(identities) > 1 else [],
        checks=checks,
        with_slo=any(row.slo for row in checks),
    )


# --- terminal --------------------------------------------------------------------------------


def terminal_tables(run: Run) -> list[Table]:
    """Rich tables: per check (at most `TERMINAL_ROWS`, SLO breaches first), per group and
    per identity (when several); none when `shown(run)` is False."""
    if not shown(run):
        return []
    from rich import box
    from rich.table import Table
    from rich.text import Text

    def table(title: str, first: str, rows: list[LatencyRow], *, slo: bool = False) -> Table:
        t = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, title_justify="left")
        t.add_column(first, overflow="fold")
        for column in COLUMNS:
            t.add_column(column, justify="right", no_wrap=True)
        if slo:
            t.add_column("SLO", overflow="fold")
        for row in rows:
            verdict = Text(f"FAIL {row.verdict}" if row.breached else row.verdict)
            if row.breached:
                verdict.stylize("bold red")
            cells = [Text(_printable(row.label)), *(Text(c) for c in row.cells)]
            t.add_row(*cells, *([verdict] if slo else []))
        return t

    checks = sorted(check_rows(run), key=lambda row: not row.breached)
    with_slo = any(row.slo for row in checks)
    left = len(checks) - TERMINAL_ROWS
    title = "Latency per check (ms)" + (
        f", the first {TERMINAL_ROWS} (SLO breaches first); {left} more in the reports"
        if left > 0
        else ""
    )
    tables = [table(title, "Check", checks[:TERMINAL_ROWS], slo=with_slo)]
    tables.append(table("Latency per group (ms)", "Group", pooled_rows(run.results, "group")))
    identities = pooled_rows(run.results, "identity")
    if len(identities) > 1:
        tables.append(table("Latency per identity (ms)", "Identity", identities))
    return tables


def _printable(value: str) -> str:
    # Control characters from the target could drive the terminal (see terminal.py).
    return "".join("?" if ord(c) < 32 or 127 <= ord(c) < 160 else c for c in value)
