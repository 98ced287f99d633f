"""`--repeat N` and `slo:` end to end: samples folded per check, SLO verdicts, reports."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import samples
from click.testing import CliRunner
from servers import serve

from crawler.cli import cli
from crawler.repeat import Sampler, rounds
from crawler.results import CheckResult, TransportError, Verdict, load_run

Scope = dict[str, Any]


class CountingApp:
    """`/flaky` answers 503 to its 3rd request, 200 otherwise; `/slow` after 50 ms; else 200."""

    def __init__(self) -> None:
        self.flaky_calls = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        status = 200
        if scope["path"] == "/flaky":
            self.flaky_calls += 1
            status = 503 if self.flaky_calls == 3 else 200
        elif scope["path"] == "/slow":
            await asyncio.sleep(0.05)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# --- the fold ---------------------------------------------------------------------------------


def _sample(verdict: Verdict, status: int = 200, ms: float = 10.0, reason: str = "") -> CheckResult:
    return samples.result("G", 0, "/x", samples.response(status, ms=ms), verdict, reason=reason)


def test_rounds_send_every_check_once_per_round() -> None:
    assert rounds(["a", "b"], 3) == ["a", "b", "a", "b", "a", "b"]


def test_any_failing_sample_fails_the_check_with_the_count() -> None:
    sampler = Sampler(1)
    for ms in (10.0, 11.0, 12.0):
        sampler.add(0, _sample("PASS", ms=ms))
    sampler.add(0, _sample("FAIL", 503, ms=13.0, reason="expected 200, got 503"))
    (folded,) = sampler.results().values()
    assert folded.verdict == "FAIL"
    assert folded.reason == "1 of 4 samples: expected 200, got 503"
    assert folded.status == 503  # the sample kept is the failing one
    assert folded.samples_ms == (10.0, 11.0, 12.0, 13.0)


def test_all_passing_samples_pass_with_every_latency() -> None:
    sampler = Sampler(2)
    for position in range(6):
        sampler.add(position % 2, _sample("PASS", ms=float(position)))
    results = sampler.results()
    assert [r.verdict for r in results.values()] == ["PASS", "PASS"]
    assert results[0].samples_ms == (0.0, 2.0, 4.0) and results[1].samples_ms == (1.0, 3.0, 5.0)
    assert results[0].reason == ""


def test_errors_count_in_the_verdict_but_not_in_the_latencies() -> None:
    sampler = Sampler(1)
    sampler.add(0, _sample("PASS", ms=5.0))
    error = TransportError(error="read_timeout", message="no answer", elapsed_ms=10_000)
    sampler.add(0, samples.result("G", 0, "/x", error, "ERROR", reason="read_timeout"))
    (folded,) = sampler.results().values()
    assert (folded.verdict, folded.reason) == ("ERROR", "1 of 2 samples: read_timeout")
    assert folded.samples_ms == (5.0,)


def test_a_known_failure_that_still_fails_sometimes_is_xfail() -> None:
    sampler = Sampler(1)
    sampler.add(0, _sample("XPASS"))
    sampler.add(0, _sample("XFAIL", 500, reason="expected 200, got 500"))
    (folded,) = sampler.results().values()
    assert folded.verdict == "XFAIL"


# --- end to end -------------------------------------------------------------------------------

MANIFEST = """\
version: 1
name: repeat
defaults: {concurrency: 4}
groups:
  Hot:
    - {path: /ok, tags: [hot]}
    - {path: /flaky, tags: [hot]}
  Cold:
    - GET /other -> 200
"""


def test_repeat_samples_every_check_and_fails_the_flaky_one(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST)
    out = tmp_path / "out"
    with serve(CountingApp()) as base_url:
        code, stdout, _ = invoke(
            "run", str(manifest), "--base-url", base_url, "--out", str(out), "-q",
            "--repeat", "5", "--only", "tag:hot", "--format", "md,html,json",
        )  # fmt: skip
    assert code == 1
    run = load_run(out / "run.json")
    assert run.settings.repeat == 5
    by_path = {r.path: r for r in run.results}
    assert set(by_path) == {"/ok", "/flaky"}  # --only tag:hot
    assert by_path["/ok"].verdict == "PASS" and len(by_path["/ok"].samples_ms) == 5
    flaky = by_path["/flaky"]
    assert (flaky.verdict, flaky.reason) == ("FAIL", "1 of 5 samples: expected 200, got 503")
    assert len(flaky.samples_ms) == 5
    assert "Latency per check (ms)" in stdout and "Latency per group (ms)" in stdout
    markdown = (out / "report.md").read_text()
    assert "## Latency" in markdown and "5 samples per check (--repeat 5)" in markdown
    assert '<svg id="latency-chart"' in (out / "report.html").read_text()


SLO_MANIFEST = """\
version: 1
name: slo
defaults: {slo: {p95_ms: 10}}
groups:
  Slow:
    - GET /slow -> 200
    - {path: /slow, name: generous, slo: {max_ms: 60000}}
  Missing:
    slo: {p50_ms: 60000}
    checks:
      - GET /nothing -> 404
"""


def test_slo_breach_fails_a_passing_check_and_the_most_specific_slo_wins(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(SLO_MANIFEST)
    out = tmp_path / "out"
    with serve(CountingApp()) as base_url:
        code, stdout, _ = invoke(
            "run", str(manifest), "--base-url", base_url, "--out", str(out), "-q",
            "--repeat", "2", "--format", "md,json",
        )  # fmt: skip
    assert code == 1
    strict, generous, missing = load_run(out / "run.json").results
    # The server sleeps 50 ms: a p95 limit of 10 ms (the defaults') cannot be met.
    assert strict.verdict == "FAIL" and strict.slo == {"p95_ms": 10}
    assert strict.reason.startswith("p95 ") and strict.reason.endswith(" ms > 10 ms")
    assert (generous.verdict, generous.slo) == ("PASS", {"max_ms": 60000})
    assert (missing.verdict, missing.slo) == ("FAIL", {"p50_ms": 60000})  # got 200, not 404
    assert missing.reason == "2 of 2 samples: expected 404, got 200"
    markdown = (out / "report.md").read_text()
    assert "| SLO | SLO verdict |" in markdown and "**FAIL** p95 " in markdown
    assert "SLO breached by 2 of the 3" not in markdown  # /nothing: FAIL, not breach
    assert "SLO breached by 1 of the 3 checks that have one" in markdown
    assert "FAIL p95" in stdout


def test_repeat_is_bounded(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST)
    code, _, err = invoke("run", str(manifest), "--base-url", "http://127.0.0.1:9", "--repeat", "0")
    assert code == 2 and "--repeat" in err
    code, _, err = invoke(
        "run", str(manifest), "--base-url", "http://127.0.0.1:9", "--repeat", "10001"
    )
    assert code == 2 and "at most 10000 samples per check" in err and "k6" in err


def test_an_older_run_json_without_latency_fields_still_renders(tmp_path: Path) -> None:
    data = json.loads(samples.sample_run().model_dump_json(by_alias=True))
    for result in data["results"]:
        result.pop("details")
    data["settings"].pop("repeat")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    run = load_run(old)
    assert run.settings.repeat == 1 and all(r.samples_ms == () for r in run.results)
    code, _, _ = invoke("render", str(old), "--out", str(tmp_path / "out"), "--summary-only")
    assert code == 0
    summary = (tmp_path / "out" / "report.md").read_text()
    assert "## Not passing" in summary and "## Latency" not in summary


@pytest.mark.parametrize("extra", [(), ("--summary-only",)])
def test_summary_only_leaves_out_the_per_check_tables(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    saved = tmp_path / "run.json"
    saved.write_text(samples.sample_run().model_dump_json(by_alias=True))
    code, _, _ = invoke("render", str(saved), "--out", str(tmp_path), "--format", "md", *extra)
    assert code == 0
    text = (tmp_path / "report.md").read_text()
    assert ("| Verdict | Method | Path |" in text) is not bool(extra)
    assert ("## Not passing" in text) is bool(extra)
