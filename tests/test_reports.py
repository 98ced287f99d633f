"""Report renderers: the contract every format keeps, then markdown, JSON, terminal and curl."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import samples

from crawler.reports import FILE_FORMATS, FORMATS, markdown, terminal
from crawler.reports.curl import curl_command
from crawler.results import CheckResult, NotSent, Run, summarize

GOLDEN = Path(__file__).parent / "golden"
RUNS = ("sample_run", "all_pass_run")


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


def test_registry_names_files_and_descriptions() -> None:
    assert FILE_FORMATS == ("md", "html", "json")
    assert {n: f.filename for n, f in FORMATS.items()} == {
        "md": "report.md",
        "html": "report.html",
        "json": "run.json",
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


def test_markdown_matches_golden_file(sample_run: Run) -> None:
    """Compare with tests/golden/report.md exactly.

    After an intended change to the markdown report, regenerate the file with
    `UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_reports.py -k golden` and review the diff.
    """
    golden = GOLDEN / "report.md"
    text = markdown.render(sample_run)
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


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
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    for line in rows:
        cells = re.split(r"(?<!\\)\|", line)[1:-1]
        assert len(cells) in (2, 6, 7), line


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


def test_curl_for_a_skipped_check_reproduces_the_request_it_would_send(sample_run: Run) -> None:
    skipped = next(r for r in sample_run.results if isinstance(r.observation, NotSent))
    assert curl_command(sample_run, skipped) == (
        "curl -sS -i -X POST https://api.example.test/api/billing/checkout "
        "-H 'Accept: application/json' -H 'Content-Type: application/json' "
        '--data-raw \'{"plan":"pro"}\''
    )
