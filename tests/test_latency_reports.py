"""Latency in the reports: tables, SLO verdicts, the inline SVG chart; big runs' HTML layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import samples
from test_html_report import dump_dom, parse

from crawler.reports import html, markdown, terminal
from crawler.reports import latency as latency_report
from crawler.results import CheckResult, Run, RunSettings

HOSTILE_GROUP = "<script>alert(1)</script>"


def _result(group: str, index: int, identity: str, ms: tuple[float, ...]) -> CheckResult:
    result = samples.result(group, index, f"/api/{index}", samples.response(200), "PASS")
    return result.with_details(samples_ms=ms, update={"identity": identity})


def latency_run(*, repeat: int = 4) -> Run:
    """Two groups (one with a hostile name), two identities, one check breaching its SLO."""
    breach = _result("Billing", 1, "admin", (90.0, 100.0, 110.0, 200.0)).with_details(
        slo={"p95_ms": 100.0}, update={"verdict": "FAIL", "reason": "p95 186.5 ms > 100 ms"}
    )
    results = [
        _result("Billing", 0, "admin", (1.0, 2.0, 3.0, 4.0)),
        breach,
        _result(HOSTILE_GROUP, 0, "viewer", (10.0, 20.0, 30.0, 40.0)).with_details(
            slo={"max_ms": 50.0}
        ),
    ]
    settings = RunSettings(
        concurrency=4, timeout=10, allow_mutations=False, transport="aiohttp", repeat=repeat
    )
    return samples.run(results).model_copy(update={"settings": settings})


def test_no_latency_section_without_repeat_or_slo(sample_run: Run) -> None:
    assert not latency_report.shown(sample_run)
    assert "## Latency" not in markdown.render(sample_run)
    assert 'id="latency"' not in html.render(sample_run)
    assert "Latency per" not in terminal.render(sample_run)


def test_markdown_latency_tables_and_slo_verdicts() -> None:
    text = markdown.render(latency_run())
    assert (
        "4 samples per check (--repeat 4); SLO breached by 1 of the 2 checks that have one." in text
    )
    assert "| Group | n | min | p50 | p95 | p99 | max |" in text
    # Billing pools 8 samples: 1, 2, 3, 4, 90, 100, 110, 200.
    assert "| Billing | 8 | 1.0 | 47 | 168 | 194 | 200 |" in text
    assert "| Identity | n | min | p50 | p95 | p99 | max |" in text
    assert "| admin | 8 |" in text and "| viewer | 4 |" in text
    row = "| Billing | GET /api/1 \\[admin\\] | 4 | 90 | 105 | 186 | 197 | 200 | p95 ≤ 100 ms |"
    assert f"{row} **FAIL** p95 186.5 ms > 100 ms |" in text
    assert "| max ≤ 50 ms | met |" in text
    assert "&lt;script&gt;" not in text and "\\<script>alert(1)\\</script>" in text


def test_terminal_latency_tables_put_breaches_first() -> None:
    text = terminal.render(latency_run(), width=140)
    checks = text.split("Latency per check (ms)")[1]
    assert checks.index("FAIL p95 186.5 ms > 100 ms") < checks.index("met")
    assert "Latency per group (ms)" in text and "Latency per identity (ms)" in text


def test_html_latency_section_chart_and_escaping() -> None:
    text = html.render(latency_run())
    assert "<script>alert(1)" not in text
    page = parse(text)
    section = page.one(id="latency")
    chart = section.one("svg", id="latency-chart")
    bars = chart.find("g", cls="latency-bar")
    assert [bar.attrs["data-group"] for bar in bars] == ["Billing", HOSTILE_GROUP]
    # Bars are scaled to the slowest p99: the Billing group's p99 spans the full width.
    widths = [float(rect.attrs["width"] or 0) for rect in bars[0].find("rect")]
    assert widths[0] == max(widths) > 0
    breached = section.one("table", id="latency-checks").find("tr")
    assert [row.attrs.get("data-slo") for row in breached[1:]] == [None, "breached", None]
    assert section.one(cls="slo-breach").all_text == "FAIL p95 186.5 ms > 100 ms"
    for element in page.all():  # inline SVG only: nothing fetched, links within the page
        assert "src" not in element.attrs
        assert (element.attrs.get("href") or "#").startswith("#")


def _big_run(count: int) -> Run:
    results = [
        samples.result("A" if i % 2 else "B", i, f"/r/{i}", samples.response(200), "PASS")
        for i in range(count)
    ]
    results[count - 1] = samples.result(
        "A", count - 1, "/broken", samples.response(500), "FAIL", reason="expected 200, got 500"
    )
    return samples.run(results)


def test_big_html_lists_failures_first_and_collapses_what_passed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(html, "BIG_RUN", 5)
    page = parse(html.render(_big_run(8)))
    rows = page.one("table", id="results").find("tr")[1:]
    assert [row.attrs["data-verdict"] for row in rows] == ["FAIL"]
    details = page.one(id="passed").find("details")
    assert [d.attrs["data-group"] for d in details] == ["B", "A"]
    assert all("open" not in d.attrs for d in details)
    assert [d.one("summary").all_text for d in details] == ["B (4 PASS)", "A (3 PASS)"]


def test_small_runs_keep_one_table() -> None:
    page = parse(html.render(_big_run(8)))
    assert len(page.one("table", id="results").find("tr")) == 9
    assert not page.find(id="passed")


def test_latency_and_big_layout_in_headless_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(html, "BIG_RUN", 5)
    big = _big_run(8)
    run = big.model_copy(update={"settings": latency_run().settings})  # --repeat 4
    report = tmp_path / "report.html"
    report.write_text(html.render(run), encoding="utf-8")
    page = parse(dump_dom(report, tmp_path / "profile"))
    assert page.one("body").attrs.get("data-ready") == "1"  # the script ran under the CSP
    assert len(page.one("svg", id="latency-chart").find("g", cls="latency-bar")) == 2
    assert page.one(id="shown-count").all_text == "1 of 1 shown"  # the FAIL; PASS collapsed
    assert len(page.one(id="passed").find("details")) == 2


def test_big_html_escapes_the_collapsed_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(html, "BIG_RUN", 5)
    run = _big_run(8)
    hostile = samples.result("B", 0, "/<b>x</b>&", samples.response(200), "PASS")
    run = run.model_copy(update={"results": (hostile, *run.results[1:])})
    text = html.render(run)
    assert "<b>x</b>" not in text and "/&lt;b&gt;x&lt;/b&gt;&amp;" in text
    codes = [c.all_text for c in parse(text).one(id="passed").find("code")]
    assert "/<b>x</b>&" in codes
