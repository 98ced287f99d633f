"""The JUnit XML report, read back with junitparser as CI tools read it."""

from __future__ import annotations

import xml.dom.minidom
from pathlib import Path

import pytest
import samples
from click.testing import CliRunner
from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from crawler.baseline import compare
from crawler.cli import cli
from crawler.reports import FORMATS, junit
from crawler.results import Run, Stub, TransportError


def parse(run: Run) -> JUnitXml:
    text = FORMATS["junit"].render(run)
    parsed = JUnitXml.fromstring(text)
    assert isinstance(parsed, JUnitXml)
    return parsed


def suites(run: Run) -> dict[str, TestSuite]:
    return {suite.name: suite for suite in parse(run)}


def cases(run: Run) -> dict[str, TestCase]:
    return {case.name: case for suite in parse(run) for case in suite}


def test_a_testsuite_per_group_with_counts(sample_run: Run) -> None:
    document = parse(sample_run)
    assert (document.tests, document.failures, document.errors, document.skipped) == (8, 3, 1, 1)
    assert document.time == pytest.approx(1.32)
    found = suites(sample_run)
    assert list(found) == ["Health", "Billing", "Users"]
    counts = {
        name: (suite.tests, suite.failures, suite.errors, suite.skipped)
        for name, suite in found.items()
    }
    assert counts == {"Health": (2, 0, 0, 0), "Billing": (4, 2, 0, 1), "Users": (2, 1, 1, 0)}
    assert found["Billing"].time == pytest.approx((8.49 + 5.5 + 41.2) / 1000, abs=0.002)
    assert found["Billing"].timestamp == "2026-11-24T09:00:00"


def test_a_testcase_per_result_named_by_method_and_path(sample_run: Run) -> None:
    found = [(case.classname, case.name) for suite in parse(sample_run) for case in suite]
    assert found == [(r.group, f"{r.method} {r.path}") for r in sample_run.results]
    health = cases(sample_run)["GET /api/health"]
    assert health.is_passed
    assert health.time == pytest.approx(0.0034, abs=0.0005)
    assert cases(sample_run)["POST /api/billing/checkout"].time == 0


def test_failures_carry_expected_got_and_the_curl_line(sample_run: Run) -> None:
    invoices = cases(sample_run)["GET /api/billing/invoices"]
    (failure,) = invoices.result
    assert isinstance(failure, Failure)
    assert failure.message == "expected 200, got 404"
    assert failure.type == "FAIL"
    text = failure.text or ""
    assert "Expected: 200\nGot: 404 Not Found\n" in text
    assert "Reproduce: curl -sS -i https://api.example.test/api/billing/invoices" in text
    assert "-H 'Authorization: [REDACTED]'" in text
    assert '{"detail":"Not Found"}' in text
    assert samples.SECRET not in FORMATS["junit"].render(sample_run)


def test_errors_and_skips(sample_run: Run) -> None:
    found = cases(sample_run)
    (error,) = found["GET /api/users"].result
    assert isinstance(error, Error)
    assert (error.message, error.type) == ("connection refused", "connect_refused")
    assert "Got: no HTTP answer (connect_refused): connection refused" in (error.text or "")
    (skipped,) = found["POST /api/billing/checkout"].result
    assert isinstance(skipped, Skipped)
    assert skipped.message == samples.MUTATION_NOT_ALLOWED


def test_hostile_text_from_the_target_is_escaped(sample_run: Run) -> None:
    odd = cases(sample_run)[f"GET {samples.ODD_PATH}"]
    (failure,) = odd.result
    assert failure.message == "expected 200, got 418 | <b>see `body`</b>\nsecond line"
    assert samples.PAYLOAD in (failure.text or "")
    assert "<script>" not in FORMATS["junit"].render(sample_run)


def test_identity_in_brackets_only_with_several_identities(matrix_run: Run) -> None:
    names = [case.name for suite in parse(matrix_run) for case in suite]
    assert names[:4] == [
        "GET /api/health [admin]",
        "GET /api/health [viewer]",
        "GET /api/health [anonymous]",
        "GET /api/health [ops]",
    ]
    assert len(names) == len(matrix_run.results)
    (skipped,) = cases(matrix_run)["GET /api/health [ops]"].result
    assert skipped.message == samples.OPS_SKIP
    failure = cases(matrix_run)["GET /api/admin/users [viewer]"].result[0]
    assert "  # as viewer" in (failure.text or "")
    # One named identity is not "more than one": no brackets.
    one = samples.run([samples.sample_run().results[0].model_copy(update={"identity": "admin"})])
    assert list(cases(one)) == ["GET /api/health"]


def test_failures_carry_the_404_diagnosis(mismatch_run: Run) -> None:
    (failure,) = cases(mismatch_run)["GET /api/recordings [viewer]"].result
    text = failure.text or ""
    assert "Cause: no list handler: no list handler: only GET /api/recordings/{id} exists" in text
    assert "Backend has: GET /api/recordings/{id}" in text
    assert "Suggestion: add a list handler or call GET /api/recordings/{id}" in text


def test_known_failures_are_skipped_and_xpass_passes(known_run: Run) -> None:
    document = parse(known_run)
    assert (document.tests, document.failures, document.errors, document.skipped) == (10, 1, 0, 4)
    found = cases(known_run)
    recordings = found["GET /api/recordings [admin]"]
    assert recordings.is_skipped
    (skipped,) = recordings.result
    assert skipped.message == "known failure T2-3 BACKLOG: no list handler yet"
    assert "Got: 404 Not Found" in (skipped.text or "")
    # A known check that got no answer is a known failure too, not an error.
    export = found["GET /api/recordings/export [admin]"]
    assert export.is_skipped
    assert export.result[0].message == "known failure T2-5 BACKLOG: export moved to a job queue"
    invoices = found["GET /api/billing/invoices [admin]"]
    assert invoices.is_passed
    assert invoices.system_out == "now passing: close T2-7?"
    flaky = found["GET /api/health [viewer]"]
    assert flaky.is_passed
    assert flaky.system_out == "flaky: failed 2 times, then passed on attempt 3"


def test_failures_say_what_changed_against_the_baseline(baseline_run: Run) -> None:
    (failure,) = cases(baseline_run)["GET /api/billing/plans"].result
    assert "Change: REGRESSED (was PASS 200)" in (failure.text or "")
    (new,) = cases(baseline_run)["GET /api/billing/coupons"].result
    assert "Change: NEW (was not in the baseline)" in (new.text or "")
    (same,) = cases(baseline_run)["GET /api/users"].result
    assert "Change:" not in (same.text or "")


HOSTILE = "".join(chr(c) for c in range(32)) + "\x7f\ud800\udfff\ufffe\uffff ok <&>\"' ]]>"


def test_control_characters_and_hostile_bytes_keep_the_xml_well_formed(sample_run: Run) -> None:
    base = sample_run.results[3]
    observation = samples.response(500, reason=HOSTILE, body=HOSTILE + "\x00" * 10)
    hostile = base.model_copy(
        update={
            "group": f"G{HOSTILE}",
            "path": f"/api/{HOSTILE}",
            "identity": f"who{HOSTILE}",
            "reason": f"expected 200, got 500 {HOSTILE}",
            "observation": observation,
            "name": HOSTILE,
        }
    )
    error = sample_run.results[6].model_copy(
        update={
            "observation": TransportError(error="other", message=HOSTILE, elapsed_ms=1),
            "reason": HOSTILE,
        }
    )
    run = sample_run.model_copy(update={"results": (hostile, error), "name": HOSTILE})
    text = junit.render(run)
    # A strict parser (expat) accepts it, and so does junitparser.
    xml.dom.minidom.parseString(text.encode("utf-8"))
    document = JUnitXml.fromstring(text)
    assert document.tests == 2
    (failure,) = next(iter(next(iter(document)))).result
    assert failure.message.startswith("expected 200, got 500 \\x00\\x01")
    assert "\\x1b" in failure.message
    assert "\\ud800" in (failure.text or "")
    assert " ok <&>\"' ]]>" in (failure.text or "")  # what XML can hold is kept as is


def test_output_is_deterministic_and_declares_utf8(known_run: Run) -> None:
    text = junit.render(known_run)
    assert text == junit.render(known_run)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')
    assert text.endswith("</testsuites>\n")


def test_an_empty_run_is_an_empty_suite_list() -> None:
    document = parse(samples.run([]))
    assert document.tests == 0
    assert list(document) == []


def test_baseline_compare_does_not_change_the_counts(sample_run: Run) -> None:
    compared = compare(sample_run, sample_run, "old.json")
    assert [(s.tests, s.failures) for s in parse(compared)] == [
        (s.tests, s.failures) for s in parse(sample_run)
    ]


# --- likely stubs: failures only when the run gates on them (`--fail-on stubs`) -----------------

STUB_REASON = "likely stub (placeholder_values): 4 of 7 values are placeholders: $.id = 12345"


def stub_run() -> Run:
    health, *rest = samples.all_pass_run().results
    stub = health.with_details(
        stub=Stub(rule="placeholder_values", evidence=STUB_REASON.split(": ", 1)[1]),
        update={"verdict": "STUB", "reason": STUB_REASON},
    )
    return samples.run([stub, *rest])


def test_a_stub_is_a_failure_when_the_run_fails_on_stubs() -> None:
    run = stub_run()
    gated = JUnitXml.fromstring(junit.render(run, fail_on="stubs"))
    assert isinstance(gated, JUnitXml)
    assert (gated.tests, gated.failures, gated.errors) == (len(run.results), 1, 0)
    name = f"{run.results[0].method} {run.results[0].path}"
    (failure,) = next(case for suite in gated for case in suite if case.name == name).result
    assert isinstance(failure, Failure)
    assert (failure.type, failure.message) == ("STUB", STUB_REASON)
    assert "Reproduce: curl " in (failure.text or "")
    # Without the gate, the same stub is a passing testcase that says so.
    for warned in (parse(run), JUnitXml.fromstring(junit.render(run, fail_on="any"))):
        assert isinstance(warned, JUnitXml)
        assert (warned.failures, warned.errors) == (0, 0)
        stub = next(case for suite in warned for case in suite if case.name == name)
        assert stub.is_passed and stub.system_out == STUB_REASON
    assert FORMATS["junit"].render_for(run, "stubs") == junit.render(run, fail_on="stubs")
    assert FORMATS["md"].render_for(run, "stubs") == FORMATS["md"].render(run)


def test_the_cli_junit_agrees_with_its_exit_code_on_stubs(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parent.parent / "specs" / "demo.yaml"
    command = ["run", str(demo), "--app", "crawler.demo.app:app", "--out", str(tmp_path)]
    command += ["--only", "group:Analytics & Feedback", "--format", "junit", "-q"]
    for fail_on, code, failures in (("stubs", 1, 5), ("any", 0, 0)):
        ran = CliRunner().invoke(cli, [*command, "--fail-on", fail_on], catch_exceptions=False)
        assert ran.exit_code == code, ran.output
        document = JUnitXml.fromfile(str(tmp_path / "junit.xml"))
        assert isinstance(document, JUnitXml)
        assert (document.failures, document.errors) == (failures, 0), fail_on
        types = {r.type for suite in document for case in suite for r in case.result}
        assert types == ({"STUB"} if failures else set()), fail_on
