"""Was -> Now against a baseline, known failures, flaky retries and the --fail-on gate."""

from __future__ import annotations

from pathlib import Path

import pytest
import samples
from click.testing import CliRunner

from crawler.baseline import change_of, compare
from crawler.cli import cli
from crawler.results import (
    CheckResult,
    Known,
    NotSent,
    Response,
    TransportError,
    Verdict,
    changes,
    load_run,
    summarize,
)
from crawler.verdict import Judgement, with_known

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "specs" / "demo.yaml"


def outcome(verdict: Verdict, path: str = "/a", identity: str = "anonymous") -> CheckResult:
    observation = {
        "PASS": Response(status=200, elapsed_ms=1),
        "XPASS": Response(status=200, elapsed_ms=1),
        "FAIL": Response(status=404, elapsed_ms=1),
        "XFAIL": Response(status=404, elapsed_ms=1),
        "ERROR": TransportError(error="connect_refused", message="refused", elapsed_ms=1),
        "SKIP": NotSent(reason="mutation not allowed"),
    }[verdict]
    return samples.result("G", 0, path, observation, verdict, identity=identity)


@pytest.mark.parametrize(
    ("was", "now", "change"),
    [
        (None, "PASS", "NEW"),
        ("FAIL", "PASS", "FIXED"),
        ("ERROR", "PASS", "FIXED"),
        ("FAIL", "XPASS", "FIXED"),
        ("PASS", "FAIL", "REGRESSED"),
        ("PASS", "ERROR", "REGRESSED"),
        ("XPASS", "FAIL", "REGRESSED"),
        ("PASS", "XFAIL", "UNCHANGED"),  # known: tracked, not a new problem
        ("PASS", "PASS", "UNCHANGED"),
        ("FAIL", "FAIL", "UNCHANGED"),
        ("SKIP", "FAIL", "UNCHANGED"),  # a skip learnt nothing to compare with
        ("PASS", "SKIP", "UNCHANGED"),
    ],
)
def test_change_rules(was: Verdict | None, now: Verdict, change: str) -> None:
    before = outcome(was) if was else None
    assert change_of(before, outcome(now)) == change


def test_compare_matches_by_key_and_lists_gone() -> None:
    old = samples.run(
        [
            outcome("PASS", "/a"),
            outcome("FAIL", "/b"),
            outcome("PASS", "/gone"),
            outcome("PASS", "/a", identity="admin"),
        ]
    )
    new = samples.run(
        [
            outcome("FAIL", "/a"),
            outcome("PASS", "/b"),
            outcome("PASS", "/new"),
            outcome("PASS", "/a", identity="admin"),
        ]
    )
    compared = compare(new, old, "old.json")
    assert [(r.path, r.identity, r.was, r.change) for r in compared.results] == [
        ("/a", "anonymous", "PASS 200", "REGRESSED"),
        ("/b", "anonymous", "FAIL 404", "FIXED"),
        ("/new", "anonymous", None, "NEW"),
        ("/a", "admin", "PASS 200", "UNCHANGED"),
    ]
    assert [(r.path, r.change) for r in compared.gone] == [("/gone", "GONE")]
    counts = changes(compared)
    assert (counts["REGRESSED"], counts["FIXED"], counts["NEW"], counts["GONE"]) == (1, 1, 1, 1)
    line = summarize(compared).line
    assert "1 REGRESSED, 1 FIXED, 1 NEW, 1 GONE" in line
    assert compared.baseline == "old.json"


def test_fail_on_regressions_only_fails_for_regressions() -> None:
    old = samples.run([outcome("FAIL", "/a"), outcome("PASS", "/b")])
    still_failing = compare(samples.run([outcome("FAIL", "/a"), outcome("PASS", "/b")]), old, "o")
    regressed = compare(samples.run([outcome("FAIL", "/a"), outcome("FAIL", "/b")]), old, "o")
    assert summarize(still_failing).exit_code == 1
    assert summarize(still_failing, "regressions").exit_code == 0
    assert summarize(regressed, "regressions").exit_code == 1


KNOWN = Known(ticket="T2-3", status="BACKLOG", reason="no list handler yet")


@pytest.mark.parametrize(
    ("judged", "expected"),
    [
        (
            Judgement("FAIL", "expected 200, got 404"),
            Judgement("XFAIL", "expected 200, got 404 (known: T2-3 BACKLOG: no list handler yet)"),
        ),
        (
            Judgement("ERROR", "connection refused"),
            Judgement("XFAIL", "connection refused (known: T2-3 BACKLOG: no list handler yet)"),
        ),
        (Judgement("PASS"), Judgement("XPASS", "now passing: close T2-3?")),
        (Judgement("SKIP", "mutation not allowed"), Judgement("SKIP", "mutation not allowed")),
    ],
)
def test_known_failures(judged: Judgement, expected: Judgement) -> None:
    assert with_known(judged, KNOWN) == expected
    assert with_known(judged, None) == judged


def test_xfail_and_xpass_do_not_fail_the_run() -> None:
    run = samples.run([outcome("PASS"), outcome("XFAIL", "/b"), outcome("XPASS", "/c")])
    summary = summarize(run)
    assert summary.exit_code == 0
    assert "1 XFAIL, 1 XPASS" in summary.line


def test_known_failures_and_baseline_end_to_end(tmp_path: Path) -> None:
    """A known check in the manifest is XFAIL; a second run against the first as baseline
    with --fail-on regressions passes the gate although checks still fail."""
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "version: 1\nname: Known\napp: crawler.demo.app:app\ngroups:\n"
        "  Recordings:\n"
        "    known: {ticket: T2-3, status: BACKLOG, reason: no list handler yet}\n"
        "    checks:\n      - GET /api/recordings -> 200\n"
        "  Health:\n    - GET /api/health -> 200\n    - GET /api/legacy -> 200\n"
    )
    runner = CliRunner()
    first = runner.invoke(cli, ["run", str(spec), "--out", str(tmp_path / "a"), "-q"])
    assert first.exit_code == 1  # /api/legacy is a 302: a plain FAIL
    run = load_run(tmp_path / "a" / "run.json")
    verdicts = {r.path: r.verdict for r in run.results}
    assert verdicts == {"/api/recordings": "XFAIL", "/api/health": "PASS", "/api/legacy": "FAIL"}
    assert run.results[0].known == KNOWN
    second = runner.invoke(
        cli,
        [
            "run",
            str(spec),
            "--out",
            str(tmp_path / "b"),
            "-q",
            "--baseline",
            str(tmp_path / "a" / "run.json"),
            "--fail-on",
            "regressions",
        ],
    )
    assert second.exit_code == 0, second.output
    assert {r.change for r in load_run(tmp_path / "b" / "run.json").results} == {"UNCHANGED"}


def test_fail_on_regressions_needs_a_baseline(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["run", str(DEMO), "--out", str(tmp_path), "--fail-on", "regressions"]
    )
    assert result.exit_code == 2
    assert "needs --baseline" in result.stderr


def test_retries_mark_a_check_that_passes_on_retry_flaky(tmp_path: Path) -> None:
    """A route that fails once then answers: with --retries it is PASS and FLAKY."""
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "version: 1\nname: Flaky\napp: tests.apps:flaky_app\ngroups:\n  G:\n"
        "    - GET /flaky -> 200\n    - GET /broken -> 200\n    - POST /flaky -> 200\n"
    )
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "run",
            str(spec),
            "--out",
            str(tmp_path),
            "-q",
            "--format",
            "json",
            "--retries",
            "2",
            "--allow-mutations",
        ],
    )
    assert result.exit_code == 1
    flaky, broken, post = load_run(tmp_path / "run.json").results
    assert (flaky.verdict, flaky.flaky, flaky.attempts) == ("PASS", True, 2)
    assert (broken.verdict, broken.flaky, broken.attempts) == ("FAIL", False, 3)
    assert (post.verdict, post.attempts) == ("FAIL", 1)  # POST is never sent twice
    assert "FLAKY" in result.stdout
