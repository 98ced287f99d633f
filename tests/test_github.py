"""GitHub Actions: the step summary (content, the size limit, appending) and annotations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import samples

from crawler.reports import github
from crawler.results import CheckResult, Run, summarize

# --- the step summary -------------------------------------------------------------------------


def test_summary_has_totals_groups_failures_and_mismatches(mismatch_run: Run) -> None:
    text = github.step_summary(mismatch_run)
    assert text.startswith("## ❌ Shop API verification: 2/10 PASS\n")
    assert f"**{summarize(mismatch_run).line}**" in text
    assert "| FAIL | 8 |" in text
    assert "| Recordings | 0 | 3 | 0 | 0 | 3 |" in text
    assert "### Failures (8)" in text
    assert (
        "| FAIL | Recordings | GET `/api/recordings` | viewer | 200 | 404 | expected 200, got 404"
        " — no list handler: only GET /api/recordings/{id} exists |" in text
    )
    assert "**7 404 mismatches across 3 modules; 1 module missing entirely**" in text
    assert (
        "| GET | `/api/recordings` | `GET /api/recordings/{id}` only | no list handler "
        "| add a list handler or call GET /api/recordings/{id} | admin, viewer |" in text
    )
    assert text.index("### Groups") < text.index("### Failures") < text.index("### 404")
    assert "trimmed" not in text
    assert text.endswith("\n")


def test_summary_of_a_passing_run(all_pass_run: Run) -> None:
    text = github.step_summary(all_pass_run)
    assert text.startswith("## ✅ Demo API verification: 3/3 PASS\n")
    assert "### Failures" not in text
    assert "404 mismatches" not in text


def test_summary_shows_changes_regressions_first_and_the_gate(baseline_run: Run) -> None:
    text = github.step_summary(baseline_run)
    section = text.split("### Changes since the baseline\n")[1].split("\n### ")[0]
    assert "**1 REGRESSED, 2 FIXED, 3 NEW, 1 GONE (2 UNCHANGED)**" in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1].startswith("| REGRESSED | Billing | GET | `/api/billing/plans` | PASS 200 |")
    assert "| Legacy | GET | `/api/v1/status` | PASS 200 |" in section
    # With --fail-on regressions the gate is what the heading says.
    assert github.step_summary(baseline_run, fail_on="regressions").startswith("## ❌")
    fixed_only = baseline_run.model_copy(
        update={"results": tuple(r for r in baseline_run.results if r.change != "REGRESSED")}
    )
    assert github.step_summary(fixed_only, fail_on="regressions").startswith("## ✅")
    assert github.step_summary(fixed_only).startswith("## ❌")


def test_summary_shows_the_known_failures_legend(known_run: Run) -> None:
    text = github.step_summary(known_run)
    assert "### Known failures" in text
    assert "**Known failures:** 3 BACKLOG · 1 BLOCKED · 0 DEFERRED" in text
    assert "**XPASS:** 1 now passing: close T2-7?" in text
    assert "| T2-3 | BACKLOG | GET `/api/recordings` |" in text
    assert "### Failures (1)" in text  # XFAIL is known, not a failure
    assert "**Flaky:** 1 result" in text


def test_summary_escapes_text_from_the_target(sample_run: Run) -> None:
    text = github.step_summary(sample_run)
    assert "\\<b>see \\`body\\`\\</b> second line" in text
    assert "<script>" not in text
    assert samples.SECRET not in text
    for line in (line for line in text.splitlines() if line.startswith("| ")):
        cells = re.split(r"(?<!\\)\|", line)[1:-1]
        assert len(cells) in (2, 6, 7), line


def _many_failures(count: int, *, reason: str = "expected 200, got 404") -> Run:
    results = [
        samples.result(
            f"Group {n // 100}",
            n % 100,
            f"/api/resource-{n}/items",
            samples.response(404, ms=1.0),
            "FAIL",
            reason=reason,
        )
        for n in range(count)
    ]
    return samples.run(results)


def test_thousands_of_failures_stay_under_the_limit_and_say_they_were_trimmed() -> None:
    run = _many_failures(12_000, reason="expected 200, got 404 " + "x" * 200)
    text = github.step_summary(run)
    size = len(text.encode("utf-8"))
    assert size <= github.SUMMARY_LIMIT
    assert size > github.SUMMARY_LIMIT - 20_000  # it uses the room it has
    match = re.search(r"… trimmed: (\d+) more failures not shown; see the HTML report", text)
    assert match, text[-500:]
    shown = text.count("| FAIL | Group ")
    assert shown + int(match.group(1)) == 12_000
    assert text.index("### Groups") < text.index("### Failures (12000)")
    assert text.rstrip().endswith("see the HTML report._")


def test_trimming_counts_every_section_left_out(mismatch_run: Run) -> None:
    text = github.step_summary(mismatch_run, limit=1_800)
    assert len(text.encode("utf-8")) <= 1_800
    note = text.rstrip().splitlines()[-1]
    assert note == (
        "_… trimmed: 3 more failures, 7 more 404 mismatches not shown; see the HTML report._"
    )
    assert text.split("### Failures")[1].count("| FAIL | ") == 5
    assert "### 404 mismatches" not in text  # after a cut, later sections are left out whole
    # With a little more room the failures fit, and the mismatches are cut instead.
    wider = github.step_summary(mismatch_run, limit=2_800)
    assert wider.split("### Failures")[1].count("| FAIL | ") == 8
    assert "… trimmed: 5 more 404 mismatches not shown" in wider


def test_one_huge_reason_is_cut_not_the_table() -> None:
    run = _many_failures(3, reason="expected 200, got 302 -> /" + "a" * 50_000)
    text = github.step_summary(run)
    assert "trimmed" not in text
    assert text.count("| FAIL | Group 0 |") == 3
    assert max(len(line) for line in text.splitlines()) < 2 * github.CELL_LIMIT


def test_clip_never_leaves_an_escape_open() -> None:
    cell = "a" * (github.CELL_LIMIT - 1) + "\\|tail"
    clipped = github._clip(cell)
    assert clipped.endswith("a…")
    assert len(clipped) <= github.CELL_LIMIT + 1


# --- appending to $GITHUB_STEP_SUMMARY ----------------------------------------------------------


def test_append_keeps_what_the_step_wrote_before(tmp_path: Path, sample_run: Run) -> None:
    path = tmp_path / "summary.md"
    path.write_text("# Deploy\n\nshipped v1.2\n", encoding="utf-8")
    github.append_step_summary(sample_run, path)
    github.append_step_summary(sample_run, path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Deploy\n\nshipped v1.2\n\n## ❌ Demo API verification")
    assert text.count("## ❌ Demo API verification: 3/8 PASS") == 2
    assert text.endswith(github.step_summary(sample_run))


def test_append_creates_the_file(tmp_path: Path, all_pass_run: Run) -> None:
    path = tmp_path / "summary.md"
    github.append_step_summary(all_pass_run, path)
    assert path.read_text(encoding="utf-8") == github.step_summary(all_pass_run)


def test_append_fits_in_what_is_left_of_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_text("x" * 900_000 + "\n", encoding="utf-8")
    github.append_step_summary(_many_failures(3_000), path)
    assert path.stat().st_size <= github.SUMMARY_LIMIT
    assert "trimmed:" in path.read_text(encoding="utf-8")


def test_summary_path_from_the_environment(tmp_path: Path) -> None:
    target = tmp_path / "step_summary"
    assert github.summary_path({"GITHUB_STEP_SUMMARY": str(target)}) == target
    assert github.summary_path({"GITHUB_STEP_SUMMARY": ""}) is None
    assert github.summary_path({}) is None


# --- annotations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "data", "prop"),
    [
        ("plain", "plain", "plain"),
        ("50% done", "50%25 done", "50%25 done"),
        ("a\nb\r\nc", "a%0Ab%0D%0Ac", "a%0Ab%0D%0Ac"),
        ("Billing: GET /x, as admin", "Billing: GET /x, as admin", "Billing%3A GET /x%2C as admin"),
        ("%0A", "%250A", "%250A"),
        ("\x1b[31mred\x07", "?[31mred?", "?[31mred?"),
        ("::error::x", "::error::x", "%3A%3Aerror%3A%3Ax"),
    ],
)
def test_workflow_command_escaping(value: str, data: str, prop: str) -> None:
    assert github.escape_data(value) == data
    assert github.escape_property(value) == prop


def test_annotations_for_failures_and_errors(matrix_run: Run) -> None:
    lines = github.annotations(matrix_run).splitlines()
    assert lines == [
        "::error title=FAIL Billing%3A GET /api/billing/invoices [admin]::expected 200, got 404",
        "::error title=FAIL Admin%3A GET /api/admin/users [viewer]::expected 403, got 200",
        "::error title=FAIL Admin%3A GET /api/admin/audit [anonymous]::"
        "expected 401, got 500 | <b>see `body`</b>",
        "::error title=ERROR Admin%3A GET /api/admin/audit [admin]::read timed out",
    ]


def test_annotations_warn_about_xpass_and_flaky(known_run: Run) -> None:
    lines = github.annotations(known_run).splitlines()
    assert lines == [
        "::error title=FAIL Billing%3A GET /api/billing/plans [admin]::expected 200, got 500",
        "::warning title=XPASS Billing%3A GET /api/billing/invoices [admin]::"
        "now passing: close T2-7?",
        "::warning title=FLAKY Health%3A GET /api/health [viewer]::"
        "failed, then passed on attempt 3",
    ]


def test_annotations_with_fail_on_regressions(baseline_run: Run) -> None:
    lines = github.annotations(baseline_run, fail_on="regressions").splitlines()
    assert lines[0] == (
        "::error title=REGRESSED FAIL Billing%3A GET /api/billing/plans::expected 200, got 500"
    )
    assert [line.split(" ", 1)[0] for line in lines] == [
        "::error",
        "::warning",
        "::warning",
        "::warning",
    ]
    assert all(
        line.startswith("::error") for line in github.annotations(baseline_run).split("\n")[:3]
    )


def test_annotations_cannot_be_broken_out_of(sample_run: Run) -> None:
    hostile: CheckResult = sample_run.results[3].model_copy(
        update={
            "reason": "expected 200, got 302 -> /x\n::set-env name=X::1\r\n%0A::error::fake",
            "group": "G,1:2\n::warning::x",
        }
    )
    text = github.annotations(sample_run.model_copy(update={"results": (hostile,)}))
    assert text.count("\n") == 1
    assert text == (
        "::error title=FAIL G%2C1%3A2%0A%3A%3Awarning%3A%3Ax%3A GET /api/billing/invoices::"
        "expected 200, got 302 -> /x%0A::set-env name=X::1%0D%0A%250A::error::fake\n"
    )


def test_no_annotations_for_a_passing_run(all_pass_run: Run) -> None:
    assert github.annotations(all_pass_run) == ""
