"""Report renderers: the contract every format keeps, then markdown, JSON, terminal and curl."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import pytest
import samples

from crawler.baseline import compare
from crawler.reports import (
    FILE_FORMATS,
    FORMATS,
    changes,
    github,
    known,
    markdown,
    matrix,
    mismatches,
    terminal,
)
from crawler.reports.curl import curl_command
from crawler.results import (
    Cause,
    CheckResult,
    Diagnosis,
    IdentityStatus,
    NotSent,
    Run,
    summarize,
)

GOLDEN = Path(__file__).parent / "golden"
RUNS = ("sample_run", "all_pass_run", "matrix_run", "mismatch_run", "known_run", "baseline_run")
HUMAN_FORMATS = ("md", "html", "terminal")


# --- the contract: every registered format ----------------------------------------------


@pytest.mark.parametrize("run_name", RUNS)
@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_renders_deterministic_text_without_secrets(
    name: str, run_name: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(run_name)
    render = FORMATS[name].render
    text = render(run)
    assert isinstance(text, str)
    assert text.strip()
    assert render(run) == text
    assert samples.SECRET not in text
    assert text.endswith("\n")


# The formats that show request or response headers show the redacted value as is.
@pytest.mark.parametrize("name", ["html", "json", "terminal"])
def test_formats_with_headers_show_redacted_placeholders(name: str, sample_run: Run) -> None:
    assert "[REDACTED]" in FORMATS[name].render(sample_run)


# The mismatches report shows identities only on its rows, and this run has none.
@pytest.mark.parametrize("name", sorted(set(FORMATS) - {"mismatches"}))
def test_every_format_shows_every_identity_of_a_matrix_run(name: str, matrix_run: Run) -> None:
    text = FORMATS[name].render(matrix_run)
    for identity in samples.IDENTITIES:
        assert identity in text
    assert "[REDACTED]" in text or name == "md"  # md shows no request headers


@pytest.mark.parametrize("name", HUMAN_FORMATS)
def test_human_formats_show_the_login_failure(name: str, matrix_run: Run) -> None:
    text = FORMATS[name].render(matrix_run)
    assert "Could not log in" in text
    assert "CredentialsSignin" in text


@pytest.mark.parametrize("name", HUMAN_FORMATS)
def test_human_formats_show_matrix_cells(name: str, matrix_run: Run) -> None:
    text = FORMATS[name].render(matrix_run)
    for cell in ("PASS 200", "FAIL 404", "PASS 403", "PASS 401", "FAIL 500", "ERROR", "SKIP"):
        assert cell in text, cell
    assert f"PASS 200 {matrix.REAUTH_MARK}" in text


@pytest.mark.parametrize("name", HUMAN_FORMATS)
def test_human_formats_of_one_identity_show_no_matrix(name: str, sample_run: Run) -> None:
    text = FORMATS[name].render(sample_run)
    assert "PASS 200" not in text
    assert "Could not log in" not in text
    assert "# as " not in text


def test_registry_names_files_and_descriptions() -> None:
    assert FILE_FORMATS == ("md", "html", "json", "mismatches", "junit")
    assert {n: f.filename for n, f in FORMATS.items()} == {
        "md": "report.md",
        "html": "report.html",
        "json": "run.json",
        "mismatches": "mismatches.md",
        "junit": "junit.xml",
        "terminal": None,
    }
    for name, fmt in FORMATS.items():
        assert fmt.name == name
        assert fmt.description


def test_importing_the_registry_loads_neither_jinja2_nor_rich() -> None:
    code = (
        "import sys, crawler.reports; "
        "print(sorted(m for m in ('jinja2', 'rich') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# --- markdown ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "name", "run_name"),
    [
        ("report.md", "md", "sample_run"),
        ("report-matrix.md", "md", "matrix_run"),
        ("report-mismatches.md", "md", "mismatch_run"),
        ("mismatches.md", "mismatches", "mismatch_run"),
        ("report-known.md", "md", "known_run"),
        ("report-baseline.md", "md", "baseline_run"),
        ("terminal-known.txt", "terminal", "known_run"),
        ("terminal-baseline.txt", "terminal", "baseline_run"),
        ("changes.txt", "changes", "baseline_run"),
        ("junit-known.xml", "junit", "known_run"),
        ("step-summary-baseline.md", "step-summary", "baseline_run"),
    ],
)
def test_report_matches_golden_file(
    filename: str, name: str, run_name: str, request: pytest.FixtureRequest
) -> None:
    """Compare with tests/golden/<filename> exactly.

    After an intended change to a report, regenerate the files with
    `UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_reports.py -k golden` and review the diff.
    """
    golden = GOLDEN / filename
    renderers: dict[str, Callable[[Run], str]] = {
        **{n: f.render for n, f in FORMATS.items()},
        "changes": terminal.render_changes,
        "step-summary": github.step_summary,
    }
    text = renderers[name](request.getfixturevalue(run_name))
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_markdown_matrix_tallies_and_table(matrix_run: Run) -> None:
    text = markdown.render(matrix_run)
    assert text.startswith("# Demo API verification (13/24 PASS)\n")
    assert "| Identity | PASS | FAIL | ERROR | SKIP | Total |" in text
    assert "| ops | 0 | 0 | 0 | 5 | 5 |" in text
    assert "\n## Billing (7/12 PASS)\n" in text
    assert "**By identity:** admin 2/4 · viewer 3/4 · anonymous 2/2 · ops 0/2" in text
    assert "| Method | Path | Expected | admin | viewer | anonymous | ops |" in text
    # Blank where the check does not run as that identity; the expectation per identity.
    assert "| POST | `/api/billing/checkout` | admin 200 · viewer 403 | SKIP | SKIP |  |  |" in text
    assert "| GET | `/api/health` | 200 | PASS 200 | PASS 200 | PASS 200 | SKIP |" in text
    assert "- **viewer** · FAIL 200 · GET `/api/admin/users` (list users) — expected 403" in text
    # The login failure is said once at the top, not as a SKIP per check.
    assert text.count("CredentialsSignin") == 1
    assert "could not log in" not in text.split("## Health")[1]
    assert text.index("Could not log in") < text.index("| Verdict | Count |")


def test_markdown_matrix_rows_follow_the_manifest(matrix_run: Run) -> None:
    rows = [
        line.split(" | ")[1]
        for line in markdown.render(matrix_run).splitlines()
        if line.startswith(("| GET ", "| POST "))
    ]
    assert rows == [
        "`/api/health`",
        "`/api/billing/plans`",
        "`/api/billing/subscription?orgId={org_id}` subscription of the org",
        "`/api/billing/invoices`",
        "`/api/billing/checkout`",
        "`/api/admin/users` list users",
        "`/api/admin/audit`",
    ]


def test_markdown_matrix_is_the_same_whatever_order_results_finish_in(matrix_run: Run) -> None:
    """Results are stored in manifest order; a shuffled copy per check still renders the
    same cells, because columns follow `run.identities`."""
    shuffled = matrix_run.model_copy(
        update={"results": tuple(sorted(matrix_run.results, key=lambda r: r.identity))}
    )
    table = [line for line in markdown.render(shuffled).splitlines() if "`/api/health`" in line]
    assert table == ["| GET | `/api/health` | 200 | PASS 200 | PASS 200 | PASS 200 | SKIP |"]


def test_markdown_title_and_group_tallies(sample_run: Run) -> None:
    text = markdown.render(sample_run)
    assert text.startswith("# Demo API verification (3/8 PASS)\n")
    assert "2026-11-24T09:00:00Z" in text
    assert "1.32 s" in text
    for heading in ("## Health (2/2 PASS)", "## Billing (1/4 PASS)", "## Users (0/2 PASS)"):
        assert f"\n{heading}\n" in text
    assert "| Billing | 1 | 2 | 0 | 1 | 4 |" in text
    assert "Interrupted" not in text


def test_markdown_cells_never_break_the_table(sample_run: Run) -> None:
    text = markdown.render(sample_run)
    assert "| ``/api/search/a\\|b`c`` |" in text
    assert "\\| \\<b>see \\`body\\`\\</b> second line" in text
    _assert_columns(text, (2, 6, 7))


def test_markdown_matrix_escapes_identity_names(matrix_run: Run) -> None:
    text = markdown.render(_rename(matrix_run, "viewer", "<b>v|w</b>"))
    assert "| \\<b>v\\|w\\</b> |" in text
    assert not re.search(r"(?<!\\)<", text)
    _assert_columns(text, (2, 6, 7))


def _assert_columns(text: str, widths: tuple[int, ...]) -> None:
    for line in (line for line in text.splitlines() if line.startswith("| ")):
        cells = re.split(r"(?<!\\)\|", line)[1:-1]
        assert len(cells) in widths, line


def _rename(run: Run, old: str, new: str) -> Run:
    """The run with identity `old` called `new` everywhere."""
    results = tuple(
        r.model_copy(update={"identity": new}) if r.identity == old else r for r in run.results
    )
    identities = tuple(
        i.model_copy(update={"name": new}) if i.name == old else i for i in run.identities
    )
    return run.model_copy(update={"results": results, "identities": identities})


def test_one_named_identity_is_a_plain_report_that_names_it(all_pass_run: Run) -> None:
    results = tuple(r.model_copy(update={"identity": "admin"}) for r in all_pass_run.results)
    run = all_pass_run.model_copy(
        update={"results": results, "identities": (IdentityStatus(name="admin", kind="bearer"),)}
    )
    assert markdown.render(run) == markdown.render(all_pass_run)
    assert "Matrix" not in terminal.render(run)


def test_one_identity_that_could_not_log_in_is_reported(sample_run: Run) -> None:
    failed = IdentityStatus(name="anonymous", kind="anonymous", failure="no answer (refused)")
    run = sample_run.model_copy(update={"identities": (failed,)})
    text = markdown.render(run)
    assert "> - **anonymous** (anonymous): no answer (refused)" in text
    assert "| Verdict | Method |" in text  # still the plain table
    lines = terminal.render(run).splitlines()
    assert lines[-3:] == [
        "Could not log in (their checks were not sent):",
        "  anonymous (anonymous): no answer (refused)",
        summarize(run).line,
    ]


def test_markdown_marks_an_interrupted_run(sample_run: Run) -> None:
    text = markdown.render(sample_run.model_copy(update={"interrupted": True}))
    assert text.splitlines()[2].startswith("> **Interrupted:**")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/api/x", "`/api/x`"),
        ("/a`b", "``/a`b``"),
        ("/a``b`", "``` /a``b` ```"),
        ("/a|b", "`/a\\|b`"),
        ("/a\nb", "`/a b`"),
    ],
)
def test_markdown_code_spans(value: str, expected: str) -> None:
    assert markdown.code(value) == expected


# --- json -------------------------------------------------------------------------------


@pytest.mark.parametrize("run_name", RUNS)
def test_json_round_trips(run_name: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(run_name)
    text = FORMATS["json"].render(run)
    assert '"schema": "crawler.run/1"' in text
    assert Run.model_validate_json(text) == run


def test_json_records_the_identity_of_every_result(matrix_run: Run) -> None:
    document = json.loads(FORMATS["json"].render(matrix_run))
    assert [r["identity"] for r in document["results"]] == [r.identity for r in matrix_run.results]
    assert [i["name"] for i in document["identities"]] == list(samples.IDENTITIES)
    assert sum(r["reauthenticated"] for r in document["results"]) == 1


# --- the matrix model -------------------------------------------------------------------


def test_matrix_columns_follow_run_identities_and_rows_the_manifest(matrix_run: Run) -> None:
    m = matrix.build(matrix_run)
    assert m.identities == samples.IDENTITIES
    assert m.several
    assert [(row.group, row.index) for row in m.rows] == [
        ("Health", 0),
        ("Billing", 0),
        ("Billing", 1),
        ("Billing", 2),
        ("Billing", 3),
        ("Admin", 0),
        ("Admin", 1),
    ]
    assert sum(len(row.results) for row in m.rows) == len(matrix_run.results)
    checkout = m.rows[4]
    assert [None if c is None else c.result.identity for c in checkout.cells] == [
        "admin",
        "viewer",
        None,
        None,
    ]
    for row in m.rows:
        for cell in row.cells:
            if cell is not None:
                assert matrix_run.results[cell.position] is cell.result


def test_matrix_columns_without_run_identities_in_order_of_appearance(matrix_run: Run) -> None:
    results = tuple(r for r in matrix_run.results if r.group != "Health")
    run = matrix_run.model_copy(update={"identities": (), "results": results[::-1]})
    assert matrix.build(run).identities == ("ops", "anonymous", "viewer", "admin")


def test_one_anonymous_identity_is_not_a_matrix(sample_run: Run) -> None:
    m = matrix.build(sample_run)
    assert m.identities == ("anonymous",)
    assert not m.several
    assert len(m.rows) == len(sample_run.results)


@pytest.mark.parametrize(
    ("changes", "text"),
    [
        ({}, "FAIL 500"),
        ({"reauthenticated": True}, "FAIL 500 ↻"),
        ({"verdict": "PASS", "reason": ""}, "PASS 500"),
        ({"observation": NotSent(reason="x"), "verdict": "SKIP"}, "SKIP"),
        (
            {
                "observation": samples.TransportError(
                    error="tls", message="bad certificate", elapsed_ms=1
                ),
                "verdict": "ERROR",
            },
            "ERROR",
        ),
    ],
)
def test_matrix_cell_text(changes: dict[str, Any], text: str) -> None:
    assert matrix.cell_text(_result().model_copy(update=changes)) == text


def test_matrix_expected_is_compact(matrix_run: Run) -> None:
    m = matrix.build(matrix_run)
    assert [m.expected(row) for row in m.rows[:5]] == [
        "200",
        "200",
        "200",
        "admin 200 · viewer 403 · anonymous 401 · ops 200",
        "admin 200 · viewer 403",
    ]


# --- terminal ---------------------------------------------------------------------------


def test_terminal_lists_failures_first_with_curl_and_summary_last(sample_run: Run) -> None:
    text = terminal.render(sample_run)
    lines = text.splitlines()
    first = {v: next(i for i, line in enumerate(lines) if v in line) for v in ("FAIL", "SKIP")}
    assert first["FAIL"] < first["SKIP"]
    assert "ERROR" in text
    assert "/api/health" not in text.split("Reproduce:")[0]  # PASS rows are not listed
    assert "  1  curl -sS -i https://api.example.test/api/billing/invoices" in text
    assert "-H 'Authorization: [REDACTED]'" in text
    assert "Billing (1/4 PASS)" in text
    assert lines[-1] == summarize(sample_run).line
    assert "\x1b" not in text


def test_terminal_colour_only_when_asked(sample_run: Run) -> None:
    assert "\x1b[" in terminal.render(sample_run, color=True)
    assert (
        terminal.render(sample_run, color=True)
        .splitlines()[-1]
        .endswith(summarize(sample_run).line)
    )


def test_terminal_says_when_everything_passed(all_pass_run: Run) -> None:
    lines = terminal.render(all_pass_run).splitlines()
    assert lines[0] == "All 3 checks passed."
    assert lines[-1] == summarize(all_pass_run).line
    assert "curl" not in "\n".join(lines)


def test_terminal_fits_80_columns_except_curl_lines(sample_run: Run) -> None:
    for line in terminal.render(sample_run, width=80).splitlines():
        assert len(line) <= 80 or line.lstrip().split("  ")[1].startswith("curl "), line


def test_terminal_neutralises_control_characters_and_markup(sample_run: Run) -> None:
    hostile = sample_run.results[3].model_copy(
        update={"reason": "\x1b[2J\x1b]0;owned\x07 [bold red]x[/] :smile:"}
    )
    run = sample_run.model_copy(update={"results": (hostile,)})
    text = terminal.render(run, color=False)
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "[bold red]x[/]" in text
    assert ":smile:" in text


def test_terminal_marks_an_interrupted_run(sample_run: Run) -> None:
    text = terminal.render(sample_run.model_copy(update={"interrupted": True}))
    assert text.splitlines()[0].startswith("Interrupted")
    assert text.splitlines()[-1].endswith("(interrupted)")


def test_terminal_matrix_run(matrix_run: Run) -> None:
    text = terminal.render(matrix_run)
    lines = text.splitlines()
    assert lines[0].split() == [
        "#",
        "Verdict",
        "Identity",
        "Group",
        "Check",
        "Expected",
        "Got",
        "Reason",
    ]
    assert lines[2].split()[:4] == ["1", "FAIL", "admin", "Billing"]
    # The SKIPs of ops are explained once, with the login failure, before the summary.
    assert "identity ops could not log in" not in text
    assert lines[-4:] == [
        "Could not log in (their checks were not sent):",
        "  ops (login): step 2 (POST /api/auth/callback/credentials): expected 302, got 401:",
        '  {"error":"CredentialsSignin"}',
        summarize(matrix_run).line,
    ]
    assert "  1  curl -sS -i https://api.example.test/api/billing/invoices" in text
    assert "-H 'Cookie: [REDACTED]'  # as admin" in text
    assert "'Accept: application/json'  # as anonymous" in text
    matrix_lines = text.split("Matrix:\n")[1].split("\n\n")[0].splitlines()
    assert matrix_lines[0].split() == ["Group", "Check", *samples.IDENTITIES]
    assert matrix_lines[2].split() == [
        "Health",
        "GET",
        "/api/health",
        *["PASS", "200"] * 3,
        "SKIP",
    ]
    assert "PASS 200 ↻  PASS 200" in matrix_lines[4]
    assert "By identity: admin 4/7 · viewer 5/7 · anonymous 4/5 · ops 0/5" in text


def test_terminal_matrix_fits_80_columns_without_losing_text(matrix_run: Run) -> None:
    text = terminal.render(matrix_run, width=80)
    for line in text.splitlines():
        assert len(line) <= 80 or line.lstrip().split("  ")[1].startswith("curl "), line
    # Rich crops a table that cannot fit: the last characters of a cell would be lost.
    for reason in ("got 404", "got 200", "got 500"):
        assert reason in text
    assert "Matrix:\nGroup" in text


def test_terminal_matrix_too_wide_is_listed_per_identity(matrix_run: Run) -> None:
    text = terminal.render(matrix_run, width=60)
    listing = text.split("Matrix:\n")[1].split("\n\n")[0].splitlines()
    assert listing[0] == "as admin (4/7 PASS)"
    assert listing[1].split() == ["PASS", "200", "Health", "·", "GET", "/api/health"]
    assert "as ops (0/5 PASS)" in listing
    assert len(listing) == len(samples.IDENTITIES) + len(matrix_run.results)
    assert text.splitlines()[-1] == summarize(matrix_run).line


def test_terminal_matrix_cells_coloured_only_when_asked(matrix_run: Run) -> None:
    plain = terminal.render(matrix_run)
    coloured = terminal.render(matrix_run, color=True)
    assert "\x1b" not in plain
    matrix_part = coloured.split("Matrix:")[1]
    assert "\x1b[1;32mPASS 200" in matrix_part
    assert "\x1b[1;31mFAIL 404" in matrix_part
    assert coloured.splitlines()[-1].endswith(summarize(matrix_run).line)


# --- 404 mismatches ---------------------------------------------------------------------

HOSTILE_PATH = "/api/<img src=x onerror=alert(1)>/a|b`c*[x](y)"
HOSTILE = Diagnosis(
    cause="renamed",
    detail=f"mounted under another name: {HOSTILE_PATH}-logs",
    suggestions=(f"GET {HOSTILE_PATH}-logs",),
)


def _mismatch_only(*results: CheckResult) -> Run:
    return samples.run(list(results), inventory=samples.INVENTORY)


def test_mismatches_are_one_row_per_route_by_module_in_manifest_order(mismatch_run: Run) -> None:
    found = mismatches.collect(mismatch_run)
    assert found.count == 7
    assert [m.heading for m in found.modules] == [
        "/api/shopper (3)",
        "/api/recordings (2)",
        "/api/billing (2)",
    ]
    assert [m.name for m in found.missing] == ["/api/billing"]
    assert [(r.method, r.path, r.cause) for r in found.rows] == [
        ("GET", "/api/shopper/scripts/manage", "extra_segment"),
        ("GET", "/api/shopper/audit", "renamed"),
        ("GET", "/api/shopper/checkout", "wrong_method"),
        ("GET", "/api/recordings", "no_list_handler"),
        ("GET", "/api/recordings/rec_999", "resource_not_found"),
        ("GET", "/api/billing/invoices", "module_missing"),
        ("POST", "/api/billing/checkout", "module_missing"),
    ]
    listing = found.modules[1].rows[0]
    assert listing.identities == ("admin", "viewer")
    for cell in listing.cells:
        assert mismatch_run.results[cell.position] is cell.result
    assert found.line == "7 404 mismatches across 3 modules; 1 module missing entirely"


@pytest.mark.parametrize(
    ("count", "modules", "missing", "line"),
    [
        (0, 0, 0, "no 404 mismatches"),
        (1, 1, 0, "1 404 mismatch in 1 module"),
        (1, 1, 1, "1 404 mismatch in 1 module; 1 module missing entirely"),
        (3, 1, 0, "3 404 mismatches in 1 module"),
        (2, 2, 0, "2 404 mismatches across 2 modules"),
        (2, 2, 1, "2 404 mismatches across 2 modules; 1 module missing entirely"),
        (12, 5, 2, "12 404 mismatches across 5 modules; 2 modules missing entirely"),
    ],
)
def test_mismatch_summary_line(count: int, modules: int, missing: int, line: str) -> None:
    assert mismatches.summary_line(count, modules, missing) == line


@pytest.mark.parametrize(
    ("results", "line"),
    [
        ([], "no 404 mismatches"),
        (
            [samples.one_mismatch("/api/audit", samples.RENAMED)],
            "1 404 mismatch in 1 module",
        ),
        (
            [
                samples.one_mismatch("/api/billing/a", samples.BILLING_MISSING),
                samples.one_mismatch("/api/billing/b", samples.BILLING_MISSING),
            ],
            "2 404 mismatches in 1 module; 1 module missing entirely",
        ),
        (
            [
                samples.one_mismatch("/api/billing/a", samples.BILLING_MISSING),
                samples.one_mismatch("/api/billing/b", samples.RESOURCE_NOT_FOUND),
                samples.one_mismatch("/api/v1/audit", samples.RENAMED),
            ],
            "3 404 mismatches across 2 modules",  # billing is not missing *entirely*
        ),
    ],
)
def test_mismatch_summary_of_a_run(results: list[CheckResult], line: str) -> None:
    run = _mismatch_only(*results)
    assert mismatches.collect(run).line == line
    md = markdown.render(run)
    standalone = FORMATS["mismatches"].render(run)
    if results:
        assert f"\n**{line}**\n" in md
        assert f"\n**{line}**\n" in standalone
        assert f"\n{line}\n" in terminal.render(run)
    else:
        assert "404 mismatches" not in md
        assert "No 404 mismatches" in standalone
        assert "404 mismatches" not in terminal.render(run)


@pytest.mark.parametrize("run_name", ["sample_run", "all_pass_run", "matrix_run"])
def test_runs_without_diagnoses_have_no_mismatch_section(
    run_name: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(run_name)
    assert not mismatches.collect(run).rows
    for name in ("md", "html", "terminal"):
        assert "404 mismatches" not in FORMATS[name].render(run), name
    assert 'class="diagnosis"' not in FORMATS["html"].render(run)


def test_one_row_per_route_and_diagnosis() -> None:
    """Two identities, same answer: one row. A different diagnosis for the same route gets
    its own row, so no cause is hidden; a PASS that carries a diagnosis is no mismatch."""
    admin = samples.diagnosed("admin", "G", 0, "/api/calls", samples.WRONG_METHOD, status=405)
    viewer = samples.diagnosed("viewer", "G", 0, "/api/calls", samples.WRONG_METHOD, status=405)
    other = samples.diagnosed("ops", "G", 0, "/api/calls", samples.RENAMED)
    passed = samples.diagnosed("x", "G", 1, "/api/jobs", samples.WRONG_METHOD).model_copy(
        update={"verdict": "PASS", "expect": "405", "reason": ""}
    )
    found = mismatches.collect(_mismatch_only(admin, viewer, other, passed))
    assert [(r.cause, r.identities) for r in found.rows] == [
        ("wrong_method", ("admin", "viewer")),
        ("renamed", ("ops",)),
    ]
    assert "— wrong method" not in markdown.render(_mismatch_only(passed))


def test_every_cause_has_a_label_and_a_suggestion() -> None:
    for cause in get_args(Cause):
        bare = Diagnosis(cause=cause, detail="d")
        routed = Diagnosis(cause=cause, detail="d", suggestions=("GET /api/x", "GET /api/y"))
        assert mismatches.cause_label(cause)
        assert mismatches.suggestion(bare)
        assert mismatches.suggestion(routed)


@pytest.mark.parametrize(
    ("diagnosis", "backend_has", "suggestion"),
    [
        (samples.RENAMED, "GET /api/shopper/audit-logs", "call GET /api/shopper/audit-logs"),
        (samples.EXTRA_SEGMENT, "GET /api/shopper/scripts", "call GET /api/shopper/scripts"),
        (
            samples.NO_LIST_HANDLER,
            "GET /api/recordings/{id} only",
            "add a list handler or call GET /api/recordings/{id}",
        ),
        (samples.WRONG_METHOD, "POST /api/shopper/checkout", "use POST"),
        (
            Diagnosis(cause="wrong_method", detail="d", suggestions=("POST /x", "PUT /x")),
            "POST /x, PUT /x",
            "use POST or PUT",
        ),
        (samples.BILLING_MISSING, "nothing", "add the route or remove the call"),
        (samples.RESOURCE_NOT_FOUND, "the route itself", "check the id or the test data"),
        (
            Diagnosis(cause="prefix_skew", detail="d", suggestions=("GET /a", "GET /b")),
            "GET /a, GET /b",
            "call GET /a or GET /b",
        ),
        (Diagnosis(cause="unknown", detail="d"), "nothing", "add the route or remove the call"),
    ],
)
def test_mismatch_backend_has_and_suggestion(
    diagnosis: Diagnosis, backend_has: str, suggestion: str
) -> None:
    row = mismatches.collect(_mismatch_only(samples.one_mismatch("/api/x", diagnosis))).rows[0]
    assert row.backend_has() == backend_has
    assert row.suggestion == suggestion


def test_markdown_mismatch_section_follows_the_tallies(mismatch_run: Run) -> None:
    text = markdown.render(mismatch_run)
    assert (
        text.index("| Group | PASS |")
        < text.index("\n## 404 mismatches\n")
        < text.index("\n## Shopper (2/5 PASS)\n")
    )
    section = text.split("\n## 404 mismatches\n")[1].split("\n## Shopper")[0]
    assert "\n### /api/billing (2)\n\nNothing is served under `/api/billing`" in section
    assert "\n### /api/shopper (3)\n\n| Method" in section  # only missing modules say so
    assert (
        "| GET | `/api/recordings` | `GET /api/recordings/{id}` only | no list handler "
        "| add a list handler or call GET /api/recordings/{id} | admin, viewer |" in section
    )
    _assert_columns(text, (2, 5, 6, 7))


def test_markdown_notes_carry_the_diagnosis(mismatch_run: Run) -> None:
    row = samples.one_mismatch("/api/shopper/audit", samples.RENAMED)
    text = markdown.render(_mismatch_only(row.model_copy(update={"name": "audit log"})))
    assert (
        "| FAIL | GET | `/api/shopper/audit` | 200 | 404 | 4 | audit log — expected 200, got 404"
        " — mounted under another name: /api/shopper/audit-logs |" in text
    )
    # With several identities, in the list of the group's failures.
    assert (
        "- **viewer** · FAIL 404 · GET `/api/recordings` — expected 200, got 404 — "
        "no list handler: only GET /api/recordings/{id} exists" in markdown.render(mismatch_run)
    )


def test_mismatch_tables_escape_hostile_paths() -> None:
    run = _mismatch_only(samples.one_mismatch(HOSTILE_PATH, HOSTILE))
    for name in ("md", "mismatches"):
        text = FORMATS[name].render(run)
        _assert_columns(text, (2, 5, 6, 7))
        # Outside code spans (where `<` is literal) nothing may open a tag or a link.
        prose = re.sub(r"(`+).*?\1", "", text)
        assert not re.search(r"(?<!\\)[<\[]", prose), name
        (row,) = [line for line in text.splitlines() if line.startswith("| GET ")]
        cells = re.split(r"(?<!\\)\|", row)[1:-1]
        assert cells[1].strip() == "``/api/<img src=x onerror=alert(1)>/a\\|b`c*[x](y)``"
        if name == "mismatches":
            assert (
                cells[2].strip() == "``GET /api/<img src=x onerror=alert(1)>/a\\|b`c*[x](y)-logs``"
            )


def test_mismatches_md_of_a_run_without_identities_has_no_identity_column() -> None:
    text = FORMATS["mismatches"].render(
        _mismatch_only(samples.one_mismatch("/api/a", samples.RENAMED))
    )
    assert "| Method | Called | Backend has | Cause | Suggestion |\n" in text
    assert "Identities" not in text
    assert "Diagnosed against the route inventory `/openapi.json + checks that answered`." in text


def test_terminal_lists_mismatches_after_the_failures(mismatch_run: Run) -> None:
    text = terminal.render(mismatch_run)
    lines = text.splitlines()
    start = lines.index("404 mismatches:")
    assert text.index("Reproduce:") < text.index("404 mismatches:") < text.index("Matrix:")
    block = lines[start + 1 : start + 9]
    assert block == [
        "  GET /api/shopper/scripts/manage  ->  path mismatch: extra segment 'manage'  (as admin)",
        "  GET /api/shopper/audit  ->  mounted under another name: /api/shopper/audit-logs  "
        "(as admin)",
        "  GET /api/shopper/checkout  ->  wrong method: /api/shopper/checkout serves POST, "
        "not GET  (as",
        "                                 admin)",
        "  GET /api/recordings  ->  no list handler: only GET /api/recordings/{id} exists  "
        "(as admin, viewer)",
        "  GET /api/recordings/rec_999  ->  route exists: the 404 is the resource (check the id "
        "or the data)",
        "                                   (as admin)",
        "  GET /api/billing/invoices  ->  route missing: nothing is served under /api/billing  "
        "(as admin)",
    ]
    assert lines[start + 10] == "7 404 mismatches across 3 modules; 1 module missing entirely"
    assert lines[-1] == summarize(mismatch_run).line


def test_terminal_mismatch_of_one_identity_is_one_plain_line() -> None:
    run = _mismatch_only(samples.one_mismatch("/api/audit", samples.RENAMED))
    lines = terminal.render(run).splitlines()
    start = lines.index("404 mismatches:")
    assert lines[start + 1 : start + 3] == [
        "  GET /api/audit  ->  mounted under another name: /api/shopper/audit-logs",
        "1 404 mismatch in 1 module",
    ]
    assert lines[-1] == summarize(run).line


def test_terminal_mismatches_fit_80_columns_and_neutralise_control_characters(
    mismatch_run: Run,
) -> None:
    hostile = samples.one_mismatch(
        "/api/\x1b[2J" + "long-segment/" * 10,
        Diagnosis(cause="renamed", detail="x\x1b]0;owned\x07 [bold]y[/]"),
    )
    run = mismatch_run.model_copy(update={"results": (*mismatch_run.results, hostile)})
    text = terminal.render(run, width=80)
    for line in text.splitlines():
        assert len(line) <= 80 or line.lstrip().split("  ")[1].startswith("curl "), line
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "[bold]y[/]" in text
    assert text.splitlines()[-1] == summarize(run).line


def test_json_carries_the_diagnosis(mismatch_run: Run) -> None:
    document = json.loads(FORMATS["json"].render(mismatch_run))
    assert document["inventory"] == samples.INVENTORY
    diagnosis = document["results"][2]["diagnosis"]
    assert diagnosis["cause"] == "extra_segment"
    assert diagnosis["detail"] == "path mismatch: extra segment 'manage'"
    assert diagnosis["suggestions"] == ["GET /api/shopper/scripts"]
    assert Run.model_validate_json(json.dumps(document)) == mismatch_run


def test_routes_confirmed_by_probing_are_marked() -> None:
    probed = samples.RENAMED.model_copy(update={"confirmed": samples.RENAMED.suggestions})
    run = _mismatch_only(samples.one_mismatch("/api/shopper/audit", probed))
    assert "| `GET /api/shopper/audit-logs` (confirmed) |" in FORMATS["mismatches"].render(run)


# --- curl -------------------------------------------------------------------------------

SHELL_ARGV = 'curl() { for a in "$@"; do printf "%s\\0" "$a"; done; }; '


def _shell_argv(command: str) -> list[str]:
    """The argv a POSIX shell (bash) passes to curl for this command line."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    out = subprocess.run(
        ["bash", "-c", SHELL_ARGV + command],
        capture_output=True,
        check=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "BASE_URL": "http://app:9000"},
    ).stdout
    return out.decode().split("\0")[:-1]


def _result(**changes: Any) -> CheckResult:
    return samples.result("G", 0, "/api/x", samples.response(500), "FAIL", **changes)


CURL_CASES = [
    pytest.param(
        _result(url="https://api.example.test/api/x?q=1&r=a+b"),
        False,
        "curl -sS -i 'https://api.example.test/api/x?q=1&r=a+b' -H 'Accept: application/json'",
        ["-sS", "-i", "https://api.example.test/api/x?q=1&r=a+b", "-H", "Accept: application/json"],
        id="get",
    ),
    pytest.param(
        _result(method="HEAD", headers={}),
        False,
        "curl -sS -I https://api.example.test/api/x",
        ["-sS", "-I", "https://api.example.test/api/x"],
        id="head",
    ),
    pytest.param(
        _result(
            method="POST",
            headers={"Content-Type": "application/json"},
            body='{"a":1,"s":"it\'s"}',
            content_type="application/json",
        ),
        False,
        "curl -sS -i -X POST https://api.example.test/api/x -H 'Content-Type: application/json' "
        '--data-raw \'{"a":1,"s":"it\'"\'"\'s"}\'',
        [
            "-sS",
            "-i",
            "-X",
            "POST",
            "https://api.example.test/api/x",
            "-H",
            "Content-Type: application/json",
            "--data-raw",
            '{"a":1,"s":"it\'s"}',
        ],
        id="post-json",
    ),
    pytest.param(
        _result(
            method="PUT", headers={}, body="a=1", content_type="application/x-www-form-urlencoded"
        ),
        False,
        "curl -sS -i -X PUT https://api.example.test/api/x "
        "-H 'Content-Type: application/x-www-form-urlencoded' --data-raw a=1",
        [
            "-sS",
            "-i",
            "-X",
            "PUT",
            "https://api.example.test/api/x",
            "-H",
            "Content-Type: application/x-www-form-urlencoded",
            "--data-raw",
            "a=1",
        ],
        id="content-type-from-request",
    ),
    pytest.param(
        _result(
            headers={"X-Note": "it's [REDACTED]", "Authorization": "[REDACTED]", "X-Empty": ""}
        ),
        False,
        "curl -sS -i https://api.example.test/api/x -H 'X-Note: it'\"'\"'s [REDACTED]' "
        "-H 'Authorization: [REDACTED]' -H 'X-Empty;'",
        [
            "-sS",
            "-i",
            "https://api.example.test/api/x",
            "-H",
            "X-Note: it's [REDACTED]",
            "-H",
            "Authorization: [REDACTED]",
            "-H",
            "X-Empty;",
        ],
        id="header-quoting",
    ),
    pytest.param(
        _result(url="https://api.example.test/api/x?token=[REDACTED]", headers={}),
        False,
        "curl -sS -i --globoff 'https://api.example.test/api/x?token=[REDACTED]'",
        ["-sS", "-i", "--globoff", "https://api.example.test/api/x?token=[REDACTED]"],
        id="redacted-query-no-globbing",
    ),
    pytest.param(
        _result(url="http://testserver/api/x?y=1", headers={}),
        True,
        'curl -sS -i "${BASE_URL:-http://127.0.0.1:8000}/api/x?y=1"',
        ["-sS", "-i", "http://app:9000/api/x?y=1"],
        id="in-process",
    ),
    pytest.param(
        _result(url='http://testserver/a$b`c"d\\e', headers={}),
        True,
        'curl -sS -i "${BASE_URL:-http://127.0.0.1:8000}/a\\$b\\`c\\"d\\\\e"',
        ["-sS", "-i", 'http://app:9000/a$b`c"d\\e'],
        id="in-process-escapes",
    ),
    pytest.param(
        _result(url="http://testserver/a!b", headers={}),
        True,
        "curl -sS -i \"${BASE_URL:-http://127.0.0.1:8000}\"'/a!b'",
        ["-sS", "-i", "http://app:9000/a!b"],
        id="in-process-bang",
    ),
]


@pytest.mark.parametrize(("result", "in_process", "command", "argv"), CURL_CASES)
def test_curl_command(result: CheckResult, in_process: bool, command: str, argv: list[str]) -> None:
    run = samples.run([result], in_process=in_process)
    line = curl_command(run, result)
    assert line == command
    assert "\n" not in line
    assert _shell_argv(line) == argv


def test_curl_names_the_identity_in_a_comment(matrix_run: Run) -> None:
    viewer = next(r for r in matrix_run.results if r.identity == "viewer" and r.verdict == "FAIL")
    line = curl_command(matrix_run, viewer)
    assert line == (
        "curl -sS -i https://api.example.test/api/admin/users "
        "-H 'Accept: application/json' -H 'Cookie: [REDACTED]'  # as viewer"
    )
    assert _shell_argv(line) == [
        "-sS",
        "-i",
        "https://api.example.test/api/admin/users",
        "-H",
        "Accept: application/json",
        "-H",
        "Cookie: [REDACTED]",
    ]
    assert curl_command(matrix_run, viewer, label=False) == line.split("  #")[0]


def test_curl_identity_comment_stays_on_one_line() -> None:
    result = _result(identity="evil\nrm -rf /")
    line = curl_command(samples.run([result]), result)
    assert line.endswith("  # as evil?rm -rf /")
    assert "\n" not in line


def test_curl_for_a_skipped_check_reproduces_the_request_it_would_send(sample_run: Run) -> None:
    skipped = next(r for r in sample_run.results if isinstance(r.observation, NotSent))
    assert curl_command(sample_run, skipped) == (
        "curl -sS -i -X POST https://api.example.test/api/billing/checkout "
        "-H 'Accept: application/json' -H 'Content-Type: application/json' "
        '--data-raw \'{"plan":"pro"}\''
    )


# --- verdicts a run of old did not have: XFAIL, XPASS, flaky ----------------------------------


@pytest.mark.parametrize("run_name", ["sample_run", "matrix_run", "mismatch_run", "baseline_run"])
@pytest.mark.parametrize("name", HUMAN_FORMATS)
def test_runs_without_known_failures_show_only_the_core_verdicts(
    name: str, run_name: str, request: pytest.FixtureRequest
) -> None:
    text = FORMATS[name].render(request.getfixturevalue(run_name))
    if name == "html":  # its style sheet names them whenever a run has anything new to show
        text = text.split("</style>")[1]
    assert "XFAIL" not in text
    assert "XPASS" not in text
    assert "Known failures" not in text


def test_markdown_tallies_show_xfail_and_xpass_when_present(known_run: Run) -> None:
    text = markdown.render(known_run)
    assert "| XFAIL | 4 |\n| XPASS | 1 |\n| **Total** | **10** |" in text
    assert "| Group | PASS | FAIL | ERROR | SKIP | XFAIL | XPASS | Total |" in text
    assert "| admin | 1 | 1 | 0 | 0 | 3 | 1 | 6 |" in text
    assert "| Recordings | 0 | 0 | 0 | 0 | 3 | 0 | 3 |" in text
    _assert_columns(text, (2, 5, 8))


def test_markdown_known_failures_legend_and_table(known_run: Run) -> None:
    text = markdown.render(known_run)
    section = text.split("\n## Known failures\n")[1].split("\n## ")[0]
    assert "**Known failures:** 3 BACKLOG · 1 BLOCKED · 0 DEFERRED" in section
    assert "**XPASS:** 1 now passing: close T2-7?" in section
    assert "| Ticket | Status | Check | Now | Reason |" in section
    assert (
        "| T2-3 | BACKLOG | GET `/api/recordings` | admin XFAIL 404 · viewer XFAIL 404 "
        "| no list handler yet |" in section
    )
    assert (
        "| T2-7 | BLOCKED | GET `/api/billing/invoices` | admin XPASS 200 "
        "| waiting on the payments team — now passing: close T2-7? |" in section
    )
    # Before the per-group tables, after the tallies.
    assert (
        text.index("| Group | PASS |") < text.index("## Known failures") < text.index("## Health")
    )


def test_known_model_counts_every_status_and_folds_identities(known_run: Run) -> None:
    found = known.collect(known_run)
    assert found.counts == {"BACKLOG": 3, "BLOCKED": 1, "DEFERRED": 0}
    assert [row.known.ticket for row in found.rows] == ["T2-3", "T2-5", "T2-7", "T2-9"]
    assert [len(row.results) for row in found.rows] == [2, 1, 1, 1]
    assert [row.known.ticket for row in found.passing] == ["T2-7"]
    assert found.rows[0].now(several=False) == "XFAIL 404 · XFAIL 404"
    assert known.collect(samples.sample_run()).rows == ()


def test_known_legend_with_every_status() -> None:
    deferred = samples.Known(ticket="T9", status="DEFERRED")
    run = samples.run(
        [
            samples.known(
                samples.result("G", 0, "/a", samples.response(404), "FAIL", reason="r"),
                deferred,
            ),
            samples.known(samples.result("G", 1, "/b", samples.response(200), "PASS"), deferred),
        ]
    )
    found = known.collect(run)
    assert found.line == "0 BACKLOG · 0 BLOCKED · 2 DEFERRED"
    assert found.passing_line == "1 now passing: close T9?"
    assert "| T9 | DEFERRED | GET `/a` | XFAIL 404 |  |" in markdown.render(run)


def test_markdown_flaky_results_are_marked_and_counted(known_run: Run, baseline_run: Run) -> None:
    text = markdown.render(known_run)
    assert "**Flaky:** 1 result failed, then passed when checked again (⚑)." in text
    assert "| GET | `/api/health` | 200 | PASS 200 | PASS 200 ⚑ |" in text
    assert "⚑ flaky: failed, then passed when checked again." in text
    # In a plain table the Verdict (or, with a baseline, Now) column carries the mark.
    plain = markdown.render(samples.run([samples.flaky(samples.sample_run().results[0], 3)]))
    assert "| PASS ⚑ | GET | `/api/health` | 200 | 200 | 3 | flaky: passed on attempt 3 |" in plain
    assert "| PASS 200 ⚑ | FIXED |" in markdown.render(baseline_run)


@pytest.mark.parametrize(
    ("changes_", "text"),
    [
        ({"flaky": True, "attempts": 2, "verdict": "PASS", "reason": ""}, "PASS 500 ⚑"),
        ({"verdict": "XFAIL"}, "XFAIL 500"),
        ({"verdict": "XPASS", "reauthenticated": True}, "XPASS 500 ↻"),
    ],
)
def test_matrix_cell_text_of_known_and_flaky_results(changes_: dict[str, Any], text: str) -> None:
    assert matrix.cell_text(_result().model_copy(update=changes_)) == text


def test_terminal_known_failures_line_and_flaky_rows(known_run: Run) -> None:
    text = terminal.render(known_run, width=140)
    lines = text.splitlines()
    assert lines[-2] == (
        "Known failures: 3 BACKLOG · 1 BLOCKED · 0 DEFERRED; 1 now passing: close T2-7?"
    )
    assert lines[-1] == summarize(known_run).line
    table = text.split("Reproduce:")[0].splitlines()
    verdicts = [line.split()[1] for line in table[2:] if line[:3].strip().isdigit()]
    # FAIL first, then XPASS (called out), then XFAIL, then the flaky PASS.
    assert verdicts == ["FAIL", "XPASS", "XFAIL", "XFAIL", "XFAIL", "XFAIL", "PASS"]
    assert "PASS ⚑" in text
    assert "flaky: passed on attempt 3" in text
    assert "now passing: close T2-7?" in text.split("Reproduce:")[0]
    # Only the real failure gets a curl line: known ones are tracked elsewhere.
    assert text.split("Reproduce:")[1].count("curl ") == 1


def test_terminal_colours_xfail_muted_and_xpass_blue(known_run: Run) -> None:
    coloured = terminal.render(known_run, color=True)
    assert "\x1b[33mXFAIL 404" in coloured  # yellow: known, not blocking
    assert "\x1b[1;34mXPASS 200" in coloured  # bold blue: close the ticket?


# --- Was -> Now against a baseline ------------------------------------------------------------


def test_changes_model_lists_regressions_first_and_gone_apart(baseline_run: Run) -> None:
    found = changes.collect(baseline_run)
    assert found is not None
    assert [(r.change, r.path) for r in found.rows] == [
        ("REGRESSED", "/api/billing/plans"),
        ("FIXED", "/api/billing/invoices"),
        ("FIXED", "/api/reports/export"),
        ("NEW", "/api/billing/refunds"),
        ("NEW", "/api/billing/coupons"),
        ("NEW", "/api/teams"),
    ]
    assert [r.path for r in found.gone] == ["/api/v1/status"]
    assert found.line == "1 REGRESSED, 2 FIXED, 3 NEW, 1 GONE (2 UNCHANGED)"
    assert found.line.split(" (")[0] in summarize(baseline_run).line
    assert [changes.was_text(r) for r in found.rows] == [
        "PASS 200",
        "FAIL 404",
        "ERROR",
        "—",
        "—",
        "—",
    ]
    assert changes.collect(samples.sample_run()) is None


def test_markdown_changes_section(baseline_run: Run) -> None:
    text = markdown.render(baseline_run)
    section = text.split("\n## Changes since the baseline\n")[1].split("\n## ")[0]
    assert (
        "**Baseline:** `runs/2026-11-23/run.json` · "
        "**1 REGRESSED, 2 FIXED, 3 NEW, 1 GONE (2 UNCHANGED)**" in section
    )
    assert "| Change | Group | Method | Path | Was | Now |" in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1] == "| REGRESSED | Billing | GET | `/api/billing/plans` | PASS 200 | FAIL 500 |"
    assert rows[4] == "| NEW | Billing | GET | `/api/billing/refunds` | — | PASS 200 |"
    assert "**Gone** (in the baseline, not in this run):" in section
    assert "| Legacy | GET | `/api/v1/status` | PASS 200 |" in section
    assert "UNCHANGED |" not in section  # listed in the group tables only
    # The group tables show Was | Now | Change.
    assert "| Method | Path | Expected | Was | Now | Change | ms | Note |" in text
    assert "| GET | `/api/health` | 200 | PASS 200 | PASS 200 | UNCHANGED | 3 |  |" in text
    _assert_columns(text, (2, 4, 5, 6, 8))


def test_markdown_changes_with_several_identities_name_them(matrix_run: Run) -> None:
    before = matrix_run.model_copy(
        update={"results": tuple(r for r in matrix_run.results if r.group != "Admin")}
    )
    compared = compare(matrix_run, before, "last <b>run</b>.json")
    text = markdown.render(compared)
    assert "| Change | Group | Method | Path | Identity | Was | Now |" in text
    assert "| NEW | Admin | GET | `/api/admin/users` | viewer | — | FAIL 200 |" in text
    assert "**Baseline:** `last <b>run</b>.json`" in text
    nothing = markdown.render(compare(matrix_run, matrix_run, "same.json"))
    assert "No changes: every result is as it was in the baseline." in nothing


def test_terminal_shows_changes_before_the_tallies(baseline_run: Run) -> None:
    text = terminal.render(baseline_run)
    assert text.index("Reproduce:") < text.index("Changes since runs/2026-11-23/run.json:")
    assert text.index("Gone (in the baseline, not in this run):") < text.index("Health (1/1")
    assert "1 REGRESSED, 2 FIXED, 3 NEW, 1 GONE (2 UNCHANGED)" in text
    assert text.splitlines()[-1] == summarize(baseline_run).line


def test_render_changes_lists_only_what_changed_and_ends_with_the_counts(
    baseline_run: Run,
) -> None:
    text = terminal.render_changes(baseline_run)
    lines = text.splitlines()
    assert lines[0] == "Changes since runs/2026-11-23/run.json:"
    assert lines[-1] == "1 REGRESSED, 2 FIXED, 3 NEW, 1 GONE (2 UNCHANGED)"
    listed = [line.split()[0] for line in lines[3:] if line.split()[:1] != []]
    assert listed[:6] == ["REGRESSED", "FIXED", "FIXED", "NEW", "NEW", "NEW"]
    assert "GONE    Legacy  GET /api/v1/status  PASS 200" in text
    assert "/api/health" not in text  # UNCHANGED
    assert "/api/users " not in text
    assert "curl" not in text
    assert "\x1b" not in text
    assert "\x1b[1;31mREGRESSED" in terminal.render_changes(baseline_run, color=True)


def test_render_changes_without_changes_or_baseline(sample_run: Run) -> None:
    same = compare(sample_run, sample_run, "old.json")
    assert terminal.render_changes(same).splitlines() == [
        "No changes since old.json.",
        "0 REGRESSED, 0 FIXED, 0 NEW, 0 GONE (8 UNCHANGED)",
    ]
    assert terminal.render_changes(sample_run) == "No baseline: nothing to compare.\n"


def test_render_changes_neutralises_control_characters(baseline_run: Run) -> None:
    hostile = baseline_run.model_copy(update={"baseline": "\x1b]0;owned\x07[bold]x[/].json"})
    changed = hostile.results[1].model_copy(update={"path": "/a\x1b[2J\nb"})
    text = terminal.render_changes(hostile.model_copy(update={"results": (changed,)}), width=80)
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "[bold]x[/].json" in text
    for line in text.splitlines():
        assert len(line) <= 80, line


def test_render_changes_with_several_identities(matrix_run: Run) -> None:
    before = matrix_run.model_copy(
        update={"results": tuple(r for r in matrix_run.results if r.identity != "viewer")}
    )
    text = terminal.render_changes(compare(matrix_run, before, "old.json"))
    assert text.splitlines()[1].split() == ["Change", "Identity", "Group", "Check", "Was", "Now"]
    assert text.splitlines()[-1] == "0 REGRESSED, 0 FIXED, 7 NEW, 0 GONE (17 UNCHANGED)"


def test_run_json_is_streamed_result_by_result_and_equals_the_whole_dump(
    sample_run: Run,
) -> None:
    """run.json is written in pieces (a 100,000-check run never becomes one string), and
    the pieces are exactly the document: also with fields after `results` (`run_id`)."""
    from crawler.reports import json_report
    from crawler.results import dump_run

    for run in (sample_run, sample_run.model_copy(update={"run_id": "20261124T131500-3f9a2c"})):
        pieces = list(json_report.chunks(run))
        assert len(pieces) == len(run.results) + 2
        assert "".join(pieces) == dump_run(run)
