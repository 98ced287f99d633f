"""The CI gate end to end: crawl the demo, deploy a change, crawl again against the baseline.

Between the two runs the demo's next release (`DEMO_RELEASE=next`) fixes the report export
and breaks the plans list. The second run must say so (FIXED and REGRESSED), fail the gate
with `--fail-on regressions` only for the regression, write JUnit a JUnit parser reads,
append the GitHub step summary, and rewrite only the marked blocks of a status document.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner
from junitparser import Failure, JUnitXml

from crawler.cli import cli
from crawler.results import changes, load_run

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "specs" / "demo.yaml"
STATUS = ROOT / "examples" / "status.md"


def crawl(out: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["run", str(DEMO), "--out", str(out), "-q", *args], env=env or {}
    )
    return result.exit_code, result.stdout + result.stderr


def outside_blocks(text: str) -> list[str]:
    """The document's lines that are not inside a crawler block."""
    kept, inside = [], False
    for line in text.splitlines():
        if line.startswith("<!-- crawler:begin"):
            inside = True
        if not inside:
            kept.append(line)
        if line.startswith("<!-- crawler:end"):
            inside = False
    return kept


def test_deploy_with_a_fix_and_a_regression(tmp_path: Path) -> None:
    # 1. Today's deploy: the baseline.
    code, _ = crawl(tmp_path / "before", "--format", "json", env={"DEMO_RELEASE": ""})
    assert code == 1  # the demo fails some checks on purpose
    baseline = tmp_path / "before" / "run.json"

    # 2. The next deploy, gated on regressions, in "CI".
    document = tmp_path / "status.md"
    shutil.copy(STATUS, document)
    summary_file = tmp_path / "step-summary.md"
    summary_file.write_text("earlier step output\n")
    code, output = crawl(
        tmp_path / "after",
        "--format",
        "md,json,junit",
        "--baseline",
        str(baseline),
        "--fail-on",
        "regressions",
        "--annotations",
        "--update-doc",
        str(document),
        env={"DEMO_RELEASE": "next", "GITHUB_STEP_SUMMARY": str(summary_file)},
    )
    assert code == 1, output  # a regression fails the gate

    run = load_run(tmp_path / "after" / "run.json")
    moved = {(r.path, r.identity): r.change for r in run.results}
    assert moved[("/api/billing/plans", "admin")] == "REGRESSED"
    assert moved[("/api/reports/export", "admin")] == "FIXED"
    counts = changes(run)
    assert counts["REGRESSED"] == 3  # plans, as admin, viewer and anonymous
    assert counts["FIXED"] == 1 and counts["NEW"] == 0 and counts["GONE"] == 0
    assert "3 REGRESSED, 1 FIXED" in output

    # JUnit, read by a JUnit parser: the regression is a failure with expected vs got.
    xml = JUnitXml.fromfile(str(tmp_path / "after" / "junit.xml"))
    cases = {case.name: case for suite in xml for case in suite}
    plans = cases["GET /api/billing/plans [admin]"]
    failure = next(r for r in plans.result if isinstance(r, Failure))
    assert failure.message == "expected 200|204, got 500"
    assert not cases["GET /api/reports/export [admin]"].result  # fixed: a pass

    # GitHub: annotations on stdout, the step summary appended after the earlier output.
    assert "::error title=" in output and "/api/billing/plans" in output
    summary = summary_file.read_text()
    assert summary.startswith("earlier step output\n")
    assert "REGRESSED" in summary and "/api/billing/plans" in summary

    # The status document: its blocks rewritten, every other line as it was.
    text = document.read_text()
    assert outside_blocks(text) == outside_blocks(STATUS.read_text())
    assert "(filled in by crawler)" not in text
    assert "REGRESSED" in text and "Billing (" in text

    # 3. The same release again, against the last run: old failures no longer block.
    code, output = crawl(
        tmp_path / "again",
        "--format",
        "json",
        "--baseline",
        str(tmp_path / "after" / "run.json"),
        "--fail-on",
        "regressions",
        env={"DEMO_RELEASE": "next"},
    )
    assert code == 0, output
    again = load_run(tmp_path / "again" / "run.json")
    assert {r.change for r in again.results} == {"UNCHANGED"}
    assert any(r.verdict == "FAIL" for r in again.results)  # failures remain, not blocking

    # And `crawler diff` tells the same story without crawling.
    result = CliRunner().invoke(cli, ["diff", str(baseline), str(tmp_path / "after" / "run.json")])
    assert result.exit_code == 1
    assert "REGRESSED" in result.stdout and "FIXED" in result.stdout
