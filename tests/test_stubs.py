"""Stub detection: each rule flags the fake data it names, and leaves realistic answers alone."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawler import stubs
from crawler.reports import FORMATS, github, likely_stubs
from crawler.results import (
    CheckResult,
    RequestInfo,
    Response,
    Run,
    RunSettings,
    Stub,
    summarize,
)

BASE = "http://api.test"


def result(
    path: str,
    body: Any,
    *,
    identity: str = "admin",
    method: str = "GET",
    status: int = 200,
    sent: str | None = None,
    request_body: Any = None,
    verdict: str = "PASS",
    group: str = "G",
    index: int = 0,
) -> CheckResult:
    """A result whose answer was `body` (JSON unless bytes), with its facts as the engine keeps."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent_body = json.dumps(request_body).encode() if request_body is not None else None
    return CheckResult(
        group=group,
        index=index,
        method=method,
        path=path,
        expect="200",
        identity=identity,
        request=RequestInfo(method=method, url=BASE + (sent or path)),
        observation=Response(
            status=status,
            body_bytes=len(data),
            elapsed_ms=1.0,
            facts=stubs.facts(data, "application/json", sent_body),
        ),
        verdict=verdict,  # type: ignore[arg-type]
        reason="",
    )


def numbered(results: list[CheckResult]) -> list[CheckResult]:
    return [r.model_copy(update={"index": i}) for i, r in enumerate(results)]


def flagged(results: list[CheckResult]) -> dict[int, Stub]:
    return stubs.find(numbered(results))


def rules(results: list[CheckResult]) -> dict[int, str]:
    return {i: s.rule for i, s in flagged(results).items()}


# Realistic, honest answers.
CALL_1 = {
    "id": 1,
    "agent": "Ada Lovelace",
    "duration_s": 1840,
    "started_at": "2024-05-01T09:00:00Z",
}
CALL_2 = {
    "id": 2,
    "agent": "Grace Hopper",
    "duration_s": 2710,
    "started_at": "2024-05-02T14:30:00Z",
}
PAGE_1 = {"items": [CALL_1, CALL_2], "page": 1, "total": 2}
PAGE_99 = {"items": [], "page": 99, "total": 2}
PROFILE = {
    "id": 7,
    "name": "Ada Lovelace",
    "email": "ada@acme.io",
    "role": "admin",
    "orgId": "org_42",
    "bio": "Writes the first program; mock interviews on Fridays, TODO lists on Mondays.",
}
HEALTH = {"status": "ok", "service": "api", "version": "1.4.2", "uptime": "N/A"}


# --- same_body_for_params ----------------------------------------------------------------------


def test_the_same_record_for_different_ids_is_flagged() -> None:
    found = flagged([result("/api/calls/1", CALL_1), result("/api/calls/2", CALL_1)])
    assert {i: s.rule for i, s in found.items()} == {
        0: "same_body_for_params",
        1: "same_body_for_params",
    }
    assert found[0].evidence.startswith("GET /api/calls/1 and /api/calls/2 answer the same ")


def test_a_captured_parameter_that_differs_per_identity_but_gets_the_same_body() -> None:
    summary = {"orgId": "org_1", "calls": 120, "minutes": 5400, "agents": 4}
    results = [
        result("/api/orgs/{org_id}/summary", summary, sent="/api/orgs/org_1/summary"),
        result(
            "/api/orgs/{org_id}/summary", summary, identity="viewer", sent="/api/orgs/org_2/summary"
        ),
    ]
    assert rules(results) == {0: "same_body_for_params", 1: "same_body_for_params"}


@pytest.mark.parametrize(
    "results",
    [
        # different records: honest
        [result("/api/calls/1", CALL_1), result("/api/calls/2", CALL_2)],
        # the same id asked by two identities: the same record, of course
        [result("/api/calls/1", CALL_1), result("/api/calls/1", CALL_1, identity="viewer")],
        # small bodies: `{"ok": true}` for any id says nothing
        [result("/api/jobs/1/ack", {"ok": True}), result("/api/jobs/2/ack", {"ok": True})],
        # error bodies are the same for every missing id
        [
            result(
                "/api/calls/998",
                {"detail": "call not found", "code": "NOT_FOUND", "n": 1},
                status=404,
            ),
            result(
                "/api/calls/999",
                {"detail": "call not found", "code": "NOT_FOUND", "n": 1},
                status=404,
            ),
        ],
        # a catalogue is the same for everyone: no parameter, no rule
        [result("/api/plans", PAGE_1), result("/api/plans", PAGE_1, identity="viewer")],
    ],
)
def test_same_body_negatives(results: list[CheckResult]) -> None:
    assert rules(results) == {}


PERMISSIONS = {"role": "member", "can_edit": False, "can_delete": False}
EMPTY_PAGE = {"items": [], "page": 1, "per_page": 20, "total": 0}
PRO_PLAN = {"plan_id": "pro", "name": "Pro", "price_cents": 4900, "seats": 10}


@pytest.mark.parametrize(
    "results",
    [
        # two members with the same role: booleans say yes or no, not which record this is
        [
            result("/api/users/1/permissions", PERMISSIONS),
            result("/api/users/2/permissions", PERMISSIONS),
        ],
        # no invites yet in either project: an empty page is the same for everyone
        [
            result("/projects/1/invites", EMPTY_PAGE),
            result("/projects/2/invites", EMPTY_PAGE),
        ],
        # two organisations on the same plan: its identifier names the plan, not either org
        [result("/api/orgs/1/plan", PRO_PLAN), result("/api/orgs/2/plan", PRO_PLAN)],
    ],
)
def test_same_body_honest_shared_answers(results: list[CheckResult]) -> None:
    assert rules(results) == {}


def test_the_record_of_one_id_answered_for_another_is_flagged_with_its_identifier() -> None:
    call = {"id": "call_1", "duration_s": 1840, "agent": "Ada Lovelace", "sentiment": 0.82}
    found = flagged(
        [result("/api/analytics/calls/1", call), result("/api/analytics/calls/2", call)]
    )
    assert {i: s.rule for i, s in found.items()} == {
        0: "same_body_for_params",
        1: "same_body_for_params",
    }
    assert found[1].evidence.endswith('body ($.id = "call_1": the record of 1)')
    # A body without any identifier: nothing says which record it is; the same figures
    # for two organisations are hard-coded.
    figures = {"calls": 120, "minutes": 5400, "agents": 4}
    results = [result("/api/orgs/1/summary", figures), result("/api/orgs/2/summary", figures)]
    assert rules(results) == {0: "same_body_for_params", 1: "same_body_for_params"}


def test_facts_count_meaningful_leaves_and_keep_identifiers_near_the_top() -> None:
    body = {
        "id": "call_1",
        "orgId": 7,
        "flag": True,
        "note": "",
        "zero": 0,
        "none": None,
        "data": {"user_id": "u_9", "name": "Ada"},
        "items": [{"id": 3}],
        "tags": [],
    }
    found = stubs.facts(json.dumps(body).encode())
    assert found.meaningful == 5  # call_1, 7, u_9, Ada, 3: not True, "", 0, None
    assert found.ids == {"$.id": "call_1", "$.orgId": "7", "$.data.user_id": "u_9"}


# --- placeholder_values ------------------------------------------------------------------------

HARDCODED = {
    "month": "2024-05",
    "revenue_cents": 123456,
    "orders": 42,
    "best_customer": "Jane Doe",
    "contact": "foo@bar.com",
    "comment": "FIXME: real numbers",
    "country": "N/A",
}


def test_hard_coded_placeholder_figures_are_flagged_with_the_values() -> None:
    found = flagged([result("/api/analytics/summary", HARDCODED)])
    assert found[0].rule == "placeholder_values"
    assert found[0].evidence.startswith("4 of 7 values are placeholders: $.revenue_cents = 123456")
    assert '$.contact = "foo@bar.com"' in found[0].evidence


def test_lorem_ipsum_and_na_everywhere() -> None:
    lorem = {
        "title": "Lorem ipsum",
        "body": "Lorem ipsum dolor sit amet, consectetur " * 3,
        "id": 3,
    }
    assert rules([result("/api/posts/3", lorem)]) == {0: "placeholder_values"}
    empty = {"name": "N/A", "phone": "N/A", "address": "N/A", "company": "n/a", "id": 9}
    assert rules([result("/api/contacts/9", empty)]) == {0: "placeholder_values"}
    swagger = {"id": "string", "name": "string", "email": "string"}
    assert rules([result("/api/me", swagger)]) == {0: "placeholder_values"}
    dashes = {"name": "-", "phone": "-", "address": "n/a", "plan": "pro"}
    assert rules([result("/api/contacts/10", dashes)]) == {0: "placeholder_values"}
    fake = {"name": "John Doe", "email": "test@example.com", "phone": "0000-0000", "id": 12345}
    assert rules([result("/api/contacts/11", fake)]) == {0: "placeholder_values"}


@pytest.mark.parametrize(
    "body",
    [
        PROFILE,  # "mock" and "TODO" inside a long text are words, not placeholders
        # one "Mock interview" among real titles
        {
            "items": [
                {"id": n, "title": title, "owner": "ada@acme.io"}
                for n, title in enumerate(
                    ["Mock interview", "Kick-off call", "Design review", "Retro", "Planning"]
                )
            ]
        },
        # a single example.com link in a page of real data
        {
            "name": "Acme Support",
            "email": "support@acme.io",
            "docs": "https://docs.acme.io",
            "sample_url": "https://example.com/widget",
            "phone": "+44 20 7946 0000",
            "city": "London",
        },
        {"id": 1, "plan": "pro", "seats": 3},  # nothing suspicious at all
        # security settings: "none" and "unknown" are values of an enum, not placeholders
        {"mfa": "none", "sso": "none", "ip_allowlist": "none", "audit": "basic"},
        {"risk": "unknown", "kyc": "unknown", "region": "NA", "tier": "none"},
    ],
)
def test_placeholder_negatives(body: Any) -> None:
    assert rules([result("/api/things/1", body)]) == {}


def test_a_health_check_is_never_a_stub() -> None:
    results = [
        result("/health", HEALTH),
        result("/api/health", HEALTH, identity="viewer"),
        result("/version", {"version": "N/A", "commit": "N/A", "built": "N/A", "n": 1}),
        result(
            "/openapi.json",
            {"openapi": "3.0.3", "info": {"title": "x", "version": "1"}, "paths": {}},
        ),
    ]
    assert rules(results) == {}


# --- always_empty ------------------------------------------------------------------------------


def test_an_always_empty_list_beside_siblings_with_data() -> None:
    results = [
        result("/api/users", {"users": [PROFILE], "total": 1}),
        result("/api/users/me/notifications", {"notifications": [], "unread": 0}),
        result(
            "/api/users/me/notifications", {"notifications": [], "unread": 0}, identity="viewer"
        ),
        result("/api/users", {"users": [PROFILE], "total": 1}, identity="viewer", verdict="FAIL"),
    ]
    found = flagged(results)
    assert {i: s.rule for i, s in found.items()} == {1: "always_empty", 2: "always_empty"}
    assert found[1].evidence == (
        "$.notifications always empty, while GET /api/users in /api/users returns data to admin"
    )


@pytest.mark.parametrize(
    "results",
    [
        # a paginated list: page 99 is empty, page 1 is not: one route with data
        [
            result("/api/calls", PAGE_1, sent="/api/calls?page=1"),
            result("/api/calls?page=99", PAGE_99, sent="/api/calls?page=99"),
            result("/api/calls/export-jobs", {"jobs": [], "total": 0}, verdict="FAIL"),
        ],
        # empty, but nothing in its module has data either (a new tenant)
        [
            result("/api/invoices", {"invoices": [], "total": 0}),
            result("/api/invoices/drafts", {"drafts": [], "total": 0}),
            result("/api/users", {"users": [PROFILE]}),
        ],
        # empty for one identity only while another gets data: scoped, not stubbed
        [
            result("/api/reports", {"reports": [CALL_1]}),
            result("/api/reports/shared", {"reports": [CALL_1]}),
            result("/api/reports/shared", {"reports": []}, identity="viewer"),
        ],
    ],
)
def test_always_empty_negatives(results: list[CheckResult]) -> None:
    assert rules(results) == {}


# --- echoed_request ----------------------------------------------------------------------------

FEEDBACK = {"rating": 4, "comment": "Faster exports, please"}
PREFERENCES = {"theme": "dark", "language": "en-GB"}


def test_a_post_answering_its_own_body_is_flagged() -> None:
    found = flagged([result("/api/feedback", FEEDBACK, method="POST", request_body=FEEDBACK)])
    assert found[0].rule == "echoed_request"
    assert (
        found[0].evidence
        == "POST /api/feedback answered its request body verbatim (no id, no timestamp)"
    )


@pytest.mark.parametrize(
    ("method", "request_body", "body", "status"),
    [
        ("POST", FEEDBACK, {**FEEDBACK, "id": "fb_1", "created_at": "2024-05-01T09:00:00Z"}, 201),
        ("POST", {"plan": "pro"}, {"plan": "pro"}, 200),  # one field: too small to say
        ("POST", FEEDBACK, {"detail": "invalid"}, 422),
        ("PUT", FEEDBACK, FEEDBACK, 400),  # an error that quotes the input
        ("GET", None, FEEDBACK, 200),  # not a mutation
        # a PUT replaces the resource with what it sent: the stored resource is that body
        ("PUT", PREFERENCES, PREFERENCES, 200),
        # a PATCH naming every field of a small resource: the updated resource is the patch
        ("PATCH", PREFERENCES, PREFERENCES, 200),
    ],
)
def test_echo_negatives(method: str, request_body: Any, body: Any, status: int) -> None:
    results = [
        result("/api/feedback", body, method=method, request_body=request_body, status=status)
    ]
    assert rules(results) == {}


# --- constant_samples --------------------------------------------------------------------------


def test_a_clock_that_does_not_move_across_samples() -> None:
    body = {"now": "2024-01-01T00:00:00Z", "queue": 3, "workers": 2}
    samples = [result("/api/status/queue", body) for _ in range(3)]  # same check, three samples
    found = stubs.find(samples)
    assert {i: s.rule for i, s in found.items()} == dict.fromkeys(range(3), "constant_samples")
    assert found[0].evidence == "3 samples answered the same body, though $.now should change"


def test_constant_samples_negatives() -> None:
    ticking = [
        result("/api/status/queue", {"now": f"2024-01-01T00:00:0{n}Z", "queue": 3, "workers": 2})
        for n in range(3)
    ]
    assert stubs.find(ticking) == {}
    no_clock = [
        result("/api/plans", {"plans": ["free", "pro"], "currency": "USD"}) for _ in range(3)
    ]
    assert stubs.find(no_clock) == {}
    health = [
        result("/health", {"status": "ok", "time": "2024-01-01T00:00:00Z", "v": 1})
        for _ in range(2)
    ]
    assert stubs.find(health) == {}
    once = [result("/api/status/queue", {"now": "2024-01-01T00:00:00Z", "queue": 3, "workers": 2})]
    assert stubs.find(once) == {}


# --- never a stub ------------------------------------------------------------------------------


def test_only_passing_2xx_answers_with_a_body_are_judged() -> None:
    for status, verdict in (
        (204, "PASS"),
        (304, "PASS"),
        (500, "PASS"),
        (200, "FAIL"),
        (200, "SKIP"),
    ):
        results = [
            result("/api/analytics/summary", HARDCODED, status=status, verdict=verdict),
            result("/api/calls/1", CALL_1, status=status, verdict=verdict),
            result("/api/calls/2", CALL_1, status=status, verdict=verdict),
        ]
        assert rules(results) == {}, (status, verdict)


def test_facts_of_a_body_that_is_not_json() -> None:
    found = stubs.facts(b"<!doctype html><p>hello</p>", "text/html")
    assert not found.is_json and found.leaves == 0 and len(found.digest) == 16
    assert stubs.facts(b"{not json").is_json is False


def test_facts_redact_the_values_they_keep() -> None:
    body = json.dumps({"a": "test@example.com", "b": "TODO", "c": "x"}).encode()
    found = stubs.facts(body, clean=lambda text: text.replace("example", "[hidden]"))
    assert found.markers == ('$.a = "test@[hidden].com"', '$.b = "TODO"')


# --- the run: STUB verdicts, the gate, the reports ---------------------------------------------


def demo_run() -> Run:
    results = numbered(
        [
            result("/api/health", HEALTH, identity="anonymous"),
            result("/api/analytics/summary", HARDCODED),
            result("/api/feedback", FEEDBACK, method="POST", request_body=FEEDBACK),
            result("/api/calls/1", CALL_1),
        ]
    )
    return Run(
        name="Stubs",
        manifest="m.yaml",
        target=BASE,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        duration_s=0.5,
        settings=RunSettings(concurrency=1, timeout=1, allow_mutations=False, transport="httpx"),
        results=tuple(results),
    )


def test_detect_turns_passes_into_stubs_and_the_gate_ignores_them_unless_asked() -> None:
    run = stubs.detect(demo_run())
    assert [r.verdict for r in run.results] == ["PASS", "STUB", "STUB", "PASS"]
    assert run.results[1].reason.startswith("likely stub (placeholder_values): 4 of 7 values")
    assert summarize(run).exit_code == 0
    assert summarize(run, "stubs").exit_code == 1
    assert "2 STUB" in summarize(run).line
    found = likely_stubs.collect(run)
    assert found.line == "Likely stubs: 2"
    assert [(row.route, row.rule) for row in found.rows] == [
        ("GET /api/analytics/summary", "placeholder_values"),
        ("POST /api/feedback", "echoed_request"),
    ]


def test_every_report_renders_stubs_and_the_totals() -> None:
    run = stubs.detect(demo_run())
    for name, fmt in FORMATS.items():
        text = fmt.render(run)  # none crashes on STUB
        assert name == "mismatches" or "/api/analytics/summary" in text, name
    markdown = FORMATS["md"].render(run)
    assert "**Likely stubs: 2**" in markdown and "## Likely stubs" in markdown
    assert "| `GET /api/analytics/summary` | admin | placeholder_values | 4 of 7 values" in markdown
    html = FORMATS["html"].render(run)
    assert '<section id="stubs">' in html and 'data-rule="echoed_request"' in html
    junit = FORMATS["junit"].render(run)
    assert "likely stub (echoed_request)" in junit and "<failure" not in junit
    summary = github.step_summary(run)
    assert "### Likely stubs: 2" in summary and summary.startswith("## ✅")
    assert github.step_summary(run, fail_on="stubs").startswith("## ❌")
    assert "::warning title=STUB G" in github.annotations(run)
    assert "::error title=STUB G" in github.annotations(run, fail_on="stubs")
    terminal = FORMATS["terminal"].render(run)
    assert "Likely stubs: 2" in terminal and "STUB" in terminal


def test_the_verdict_counts_include_stub() -> None:
    run = stubs.detect(demo_run())
    assert Counter(r.verdict for r in run.results) == {"PASS": 2, "STUB": 2}


def test_a_stub_answered_as_expected_for_baselines_and_metrics() -> None:
    from crawler import metrics
    from crawler.baseline import change_of

    stub = stubs.detect(demo_run()).results[1]
    failed = stub.model_copy(update={"verdict": "FAIL"})
    assert change_of(failed, stub) == "FIXED"
    assert change_of(stub, failed) == "REGRESSED"
    assert metrics.success(stub) == 1


def test_the_cli_warns_of_stubs_and_gates_on_them_only_when_asked(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parent.parent / "specs" / "demo.yaml"
    command = [sys.executable, "-m", "crawler", "run", str(demo), "--out", str(tmp_path)]
    command += ["--only", "group:Analytics & Feedback", "--format", "md", "-q"]
    warned = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert warned.returncode == 0, warned.stderr
    assert "Likely stubs: 5" in warned.stdout  # notifications' siblings were not selected
    assert "STUB" in warned.stdout and "placeholder_values" in warned.stdout
    assert "## Likely stubs" in (tmp_path / "report.md").read_text()
    gated = subprocess.run(
        [*command, "--fail-on", "stubs"], capture_output=True, text=True, timeout=120, check=False
    )
    assert gated.returncode == 1, gated.stderr
    off = subprocess.run(
        [*command, "--no-detect-stubs"], capture_output=True, text=True, timeout=120, check=False
    )
    assert off.returncode == 0 and "STUB" not in off.stdout


def test_a_captured_query_parameter_that_differs_per_identity_but_gets_the_same_body() -> None:
    subscription = {"orgId": "org_1", "plan": "pro", "seats": 3, "status": "active"}
    path = "/api/billing/subscription"
    results = [
        result(path, subscription, sent=f"{path}?orgId=org_1"),
        result(path, subscription, identity="viewer", sent=f"{path}?orgId=org_2"),
    ]
    found = stubs.find(results)  # one check (index 0) sent as two identities
    assert {i: s.rule for i, s in found.items()} == {
        0: "same_body_for_params",
        1: "same_body_for_params",
    }
    assert found[0].evidence == (
        f"GET {path}?orgId=org_1 and {path}?orgId=org_2 answer the same "
        f"{len(json.dumps(subscription))}-byte body"
        ' ($.orgId = "org_1": the record of org_1)'
    )
    # Both identities in one organization: the same URL, the same body, as it should be.
    same_org = [
        result(path, subscription, sent=f"{path}?orgId=org_1"),
        result(path, subscription, identity="viewer", sent=f"{path}?orgId=org_1"),
    ]
    assert stubs.find(same_org) == {}


def test_a_large_body_is_sampled_and_its_collections_still_measured() -> None:
    body = {
        "items": [{"id": n, "name": f"Customer {n}", "city": "Leeds"} for n in range(5000)],
        "tags": [],
        "total": 5000,
    }
    found = stubs.facts(json.dumps(body).encode())
    assert found.leaves == 1000
    assert found.collections == {"$.items": 5000, "$.tags": 0}
    assert rules([result("/api/customers", body)]) == {}


# --- constant_samples over --repeat -------------------------------------------------------------


def test_repeat_flags_a_clock_that_never_moves_and_not_one_that_does() -> None:
    """`--repeat 3` folds each check's samples into one result; the rule still sees that
    every sample of `/frozen` answered the same body with a `generated_at` that should
    change, while `/live`'s counter moves. A constant body without a clock is not flagged."""
    import itertools

    from servers import serve
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from crawler import engine, manifest, runner

    ticks = itertools.count()
    frozen = {"generated_at": "2024-01-01T00:00:00Z", "calls": 120, "agents": 7, "queue": "main"}

    async def frozen_route(request: Any) -> JSONResponse:
        return JSONResponse(frozen)

    async def live_route(request: Any) -> JSONResponse:
        return JSONResponse({**frozen, "generated_at": f"2024-01-01T00:00:{next(ticks):02d}Z"})

    async def config_route(request: Any) -> JSONResponse:
        return JSONResponse({"region": "eu-west-1", "features": ["a", "b"], "limit": 50})

    app = Starlette(
        routes=[
            Route("/frozen", frozen_route),
            Route("/live", live_route),
            Route("/config", config_route),
        ]
    )
    text = (
        "version: 1\nname: r\nbase_url: BASE\ngroups:\n  G: [GET /frozen, GET /live, GET /config]\n"
    )
    with serve(app) as base_url:
        loaded = manifest.loads(text.replace("BASE", base_url))
        settings = engine.Settings(transport="httpx", repeat=3)
        run = runner.execute(loaded, Path("r.yaml"), engine.Target(base_url=base_url), settings)
    frozen_result, live, config = run.results
    assert (frozen_result.verdict, frozen_result.distinct_bodies) == ("STUB", 1)
    assert frozen_result.stub is not None and frozen_result.stub.rule == "constant_samples"
    assert "3 samples (--repeat) answered the same body" in frozen_result.stub.evidence
    assert (live.verdict, live.distinct_bodies) == ("PASS", 3)
    assert (config.verdict, config.distinct_bodies) == ("PASS", None)  # no clock: not judged
