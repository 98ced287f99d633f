"""404/405 diagnosis: every rule table-tested with real-looking path pairs, and the negatives
(a correct route is never reported, rules do not fire on unrelated paths)."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime

import pytest

from crawler import engine, mismatch
from crawler.mismatch import (
    RULES,
    Call,
    Probe,
    annotate,
    call_of,
    confirms,
    diagnose,
    fill_from,
    needs_diagnosis,
    probe_for,
    probes,
)
from crawler.results import (
    CheckResult,
    Diagnosis,
    NotSent,
    RequestInfo,
    Response,
    Run,
    RunSettings,
    TransportError,
)
from crawler.routes import Inventory, from_passed, from_route_list

# A realistic backend: the routes of a product API, as `flask routes` or an OpenAPI document
# would list them, in mixed parameter spellings.
BACKEND = from_route_list(
    """
    GET    /api/health
    GET    /api/shopper/scripts
    POST   /api/shopper/scripts
    GET    /api/audit-logs
    GET    /api/audit-logs/{id}
    GET    /api/recordings/:id
    GET    /api/users
    POST   /api/users
    GET    /api/users/me
    GET    /api/users/me/profile
    GET    /api/users/{id}
    PATCH  /api/users/{id}
    GET    /api/users/{id}/avatar
    GET    /api/billing/plans
    GET    /api/billing/invoices
    GET    /api/billing/invoices/<int:invoice_id>
    POST   /api/webhooks
    GET    /api/calls/{callId}/notes
    GET    /api/orgs/[orgId]/members/[memberId]
    GET    /api/items/
    GET    /api/items/{id}/
    GET    /api/v1/reports
    GET    /api/v1/reports/{reportId}
    """,
    "routes.txt",
)


def routes(*lines: str) -> Inventory:
    return from_route_list("\n".join(lines), "test")


def rule_names() -> list[str]:
    return [rule.__name__ for rule in RULES]


# --- the table: (call, inventory) -> cause and suggested routes ----------------------------------

CASES = [
    # -- the rows of DESIGN.md's "frontend -> backend 404 mismatch" table
    pytest.param(
        "GET",
        "/api/shopper/scripts/manage",
        routes("GET /api/shopper/scripts"),
        "extra_segment",
        ("GET /api/shopper/scripts",),
        id="design: /scripts/manage vs /scripts is an extra segment",
    ),
    pytest.param(
        "GET",
        "/api/audit",
        routes("GET /api/audit-logs"),
        "renamed",
        ("GET /api/audit-logs",),
        id="design: /api/audit vs /api/audit-logs is mounted under another name",
    ),
    pytest.param(
        "GET",
        "/api/recordings",
        routes("GET /api/recordings/:id"),
        "no_list_handler",
        ("GET /api/recordings/{id}",),
        id="design: GET /api/recordings vs only /api/recordings/:id is no list handler",
    ),
    pytest.param(
        "POST",
        "/api/billing/checkout",
        routes("GET /api/users", "GET /api/health"),
        "module_missing",
        (),
        id="design: POST /api/billing/checkout vs nothing under /api/billing: module missing",
    ),
    pytest.param(
        "POST",
        "/api/billing/checkout",
        BACKEND,
        "unknown",
        (),
        id="design: POST /api/billing/checkout vs a billing module without it: route missing",
    ),
    # -- the same rows against the whole backend: other routes do not distract
    pytest.param(
        "GET",
        "/api/shopper/scripts/manage",
        BACKEND,
        "extra_segment",
        ("GET /api/shopper/scripts",),
        id="backend: extra segment",
    ),
    pytest.param(
        "GET",
        "/api/audit",
        BACKEND,
        "renamed",
        ("GET /api/audit-logs",),
        id="backend: renamed",
    ),
    pytest.param(
        "GET",
        "/api/recordings",
        BACKEND,
        "no_list_handler",
        ("GET /api/recordings/{id}",),
        id="backend: no list handler",
    ),
    # -- wrong method
    pytest.param(
        "GET",
        "/api/webhooks",
        BACKEND,
        "wrong_method",
        ("POST /api/webhooks",),
        id="wrong method from the inventory",
    ),
    pytest.param(
        "DELETE",
        "/api/users/42",
        BACKEND,
        "wrong_method",
        ("GET /api/users/{id}", "PATCH /api/users/{id}"),
        id="wrong method on a parameter route, shown as the backend writes it",
    ),
    pytest.param(
        "PUT",
        "/api/shopper/scripts",
        BACKEND,
        "wrong_method",
        ("GET /api/shopper/scripts", "POST /api/shopper/scripts"),
        id="wrong method: PUT where GET and POST are served",
    ),
    pytest.param(
        "HEAD",
        "/api/webhooks",
        BACKEND,
        "wrong_method",
        ("POST /api/webhooks",),
        id="wrong method: HEAD where only POST is served",
    ),
    # -- prefix or version skew
    pytest.param(
        "GET",
        "/api/v1/users",
        BACKEND,
        "prefix_skew",
        ("GET /api/users",),
        id="prefix skew: /api/v1/x vs /api/x",
    ),
    pytest.param(
        "GET",
        "/api/v2/users/42",
        BACKEND,
        "prefix_skew",
        ("GET /api/users/{id}",),
        id="prefix skew: /api/v2/x/{id} vs /api/x/{id}",
    ),
    pytest.param(
        "GET",
        "/api/reports",
        BACKEND,
        "prefix_skew",
        ("GET /api/v1/reports",),
        id="prefix skew: the backend is versioned, the call is not",
    ),
    pytest.param(
        "GET",
        "/api/v2/reports/rep_2024",
        BACKEND,
        "prefix_skew",
        ("GET /api/v1/reports/{reportId}",),
        id="prefix skew: /v2 called, /v1 served",
    ),
    pytest.param(
        "GET",
        "/users/me",
        BACKEND,
        "prefix_skew",
        ("GET /api/users/me",),
        id="prefix skew: missing /api",
    ),
    pytest.param(
        "GET",
        "/api/status",
        routes("GET /status"),
        "prefix_skew",
        ("GET /status",),
        id="prefix skew: an /api the backend does not have",
    ),
    pytest.param(
        "GET",
        "/v2/users",
        routes("GET /api/v2/users"),
        "prefix_skew",
        ("GET /api/v2/users",),
        id="prefix skew: /v2 without /api",
    ),
    # -- trailing slash
    pytest.param(
        "GET",
        "/api/users/",
        BACKEND,
        "trailing_slash",
        ("GET /api/users",),
        id="trailing slash: called with, served without",
    ),
    pytest.param(
        "GET",
        "/api/items",
        BACKEND,
        "trailing_slash",
        ("GET /api/items/",),
        id="trailing slash: called without, served with",
    ),
    pytest.param(
        "GET",
        "/api/items/7",
        BACKEND,
        "trailing_slash",
        ("GET /api/items/7/",),
        id="trailing slash on a parameter route",
    ),
    # -- extra and missing segments
    pytest.param(
        "GET",
        "/api/users/42/avatar/large",
        BACKEND,
        "extra_segment",
        ("GET /api/users/{id}/avatar",),
        id="extra trailing segment after a parameter",
    ),
    pytest.param(
        "GET",
        "/api/shopper/admin/scripts",
        BACKEND,
        "extra_segment",
        ("GET /api/shopper/scripts",),
        id="extra segment in the middle",
    ),
    pytest.param(
        "GET",
        "/api/users/profile",
        BACKEND,
        "missing_segment",
        ("GET /api/users/me/profile",),
        id="missing literal segment",
    ),
    pytest.param(
        "GET",
        "/api/calls/notes",
        BACKEND,
        "missing_segment",
        ("GET /api/calls/{callId}/notes",),
        id="missing id segment",
    ),
    pytest.param(
        "GET",
        "/api/calls/42",
        BACKEND,
        "missing_segment",
        ("GET /api/calls/{callId}/notes",),
        id="missing trailing segment: /calls/42 vs /calls/{id}/notes (not a list handler)",
    ),
    pytest.param(
        "GET",
        "/api/billing",
        BACKEND,
        "missing_segment",
        ("GET /api/billing/plans", "GET /api/billing/invoices"),
        id="missing segment: a module root with no handler (not a list handler)",
    ),
    # -- no list handler, deeper
    pytest.param(
        "GET",
        "/api/orgs/org_42/members",
        BACKEND,
        "no_list_handler",
        ("GET /api/orgs/{orgId}/members/{memberId}",),
        id="no list handler under a parent id",
    ),
    pytest.param(
        "GET",
        "/api/audit-logs",
        routes("GET /api/audit-logs/{id}", "POST /api/audit-logs"),
        "no_list_handler",
        ("GET /api/audit-logs/{id}",),
        id="no list handler though POST is served there",
    ),
    # -- literal vs parameter
    pytest.param(
        "GET",
        "/api/users/42/profile",
        BACKEND,
        "param_shape",
        ("GET /api/users/me/profile",),
        id="literal vs parameter: an id where the backend has 'me'",
    ),
    pytest.param(
        "GET",
        "/api/accounts/3fa85f64-5717-4562-b3fc-2c963f66afa6/settings",
        routes("GET /api/accounts/current/settings"),
        "param_shape",
        ("GET /api/accounts/current/settings",),
        id="literal vs parameter: a UUID where the backend has 'current'",
    ),
    # -- near-miss spelling
    pytest.param(
        "GET",
        "/api/helth",
        BACKEND,
        "near_miss",
        ("GET /api/health",),
        id="near miss: helth",
    ),
    pytest.param(
        "GET",
        "/api/recordigns/rec_001",
        BACKEND,
        "near_miss",
        ("GET /api/recordings/{id}",),
        id="near miss: recordigns with an id",
    ),
    pytest.param(
        "GET",
        "/api/billing/invoces/12",
        BACKEND,
        "near_miss",
        ("GET /api/billing/invoices/{invoice_id}",),
        id="near miss: a deeper segment",
    ),
    pytest.param(
        "GET",
        "/api/recordigns",
        BACKEND,
        "near_miss",
        ("GET /api/recordings/{id}",),
        id="near miss of a module with no list: not 'module missing'",
    ),
    # -- mounted under another name
    pytest.param(
        "GET",
        "/api/user",
        BACKEND,
        "renamed",
        ("GET /api/users",),
        id="renamed: singular vs plural",
    ),
    pytest.param(
        "GET",
        "/api/auditLogs/7",
        BACKEND,
        "renamed",
        ("GET /api/audit-logs/{id}",),
        id="renamed: camelCase vs kebab-case",
    ),
    pytest.param(
        "GET",
        "/api/audit_logs",
        BACKEND,
        "renamed",
        ("GET /api/audit-logs",),
        id="renamed: snake_case vs kebab-case",
    ),
    pytest.param(
        "GET",
        "/api/audit",
        routes("GET /api/audit-logs/{id}", "GET /api/health"),
        "renamed",
        ("GET /api/audit-logs/{id}",),
        id="renamed module: only /api/audit-logs/{id} exists",
    ),
    # -- resource not found: the route is served
    pytest.param(
        "GET",
        "/api/users/42",
        BACKEND,
        "resource_not_found",
        (),
        id="resource: numeric id",
    ),
    pytest.param(
        "GET",
        "/api/recordings/rec_001",
        BACKEND,
        "resource_not_found",
        (),
        id="resource: prefixed id",
    ),
    pytest.param(
        "GET",
        "/api/users/3fa85f64-5717-4562-b3fc-2c963f66afa6",
        BACKEND,
        "resource_not_found",
        (),
        id="resource: UUID",
    ),
    pytest.param(
        "GET",
        "/api/orgs/org_42/members/9f86d081884c7d659a2feaa0c55ad015",
        BACKEND,
        "resource_not_found",
        (),
        id="resource: two ids",
    ),
    pytest.param(
        "HEAD",
        "/api/users/42",
        BACKEND,
        "resource_not_found",
        (),
        id="resource: HEAD on a GET route",
    ),
    pytest.param(
        "GET",
        "/api/health",
        BACKEND,
        "resource_not_found",
        (),
        id="resource: a route without parameters that answered 404",
    ),
    pytest.param(
        "GET",
        "/api/recordings/latest",
        BACKEND,
        "resource_not_found",
        ("GET /api/recordings/{id}",),
        id="last resort: only a parameter route fits the word",
    ),
    # -- module missing and unknown
    pytest.param(
        "GET",
        "/api/invoices-export/2024",
        BACKEND,
        "module_missing",
        (),
        id="module missing",
    ),
    pytest.param(
        "GET",
        "/api/v1/telemetry",
        BACKEND,
        "module_missing",
        (),
        id="module missing under a version prefix",
    ),
    pytest.param("GET", "/api", BACKEND, "unknown", (), id="unknown: the bare /api prefix"),
    pytest.param("GET", "/", BACKEND, "unknown", (), id="unknown: the root"),
    pytest.param(
        "GET", "/api/users", Inventory(()), "unknown", (), id="unknown: an empty inventory"
    ),
    pytest.param(
        "GET",
        "/api/users/me/sessions",
        routes("GET /api/users/{id}", "GET /api/users/me/tokens/{id}"),
        "unknown",
        (),
        id="unknown: a module with nothing alike",
    ),
]


@pytest.mark.parametrize(("method", "path", "inventory", "cause", "suggestions"), CASES)
def test_diagnose(
    method: str, path: str, inventory: Inventory, cause: str, suggestions: tuple[str, ...]
) -> None:
    found = diagnose(Call(method, path), inventory)
    assert (found.cause, found.suggestions) == (cause, suggestions), found.detail
    assert found.detail
    assert found.confirmed == ()


# --- wrong method from a 405 ---------------------------------------------------------------------

ALLOW_CASES = [
    pytest.param(
        frozenset({"POST", "OPTIONS"}),
        Inventory(()),
        ("POST /api/webhooks",),
        id="Allow header, no inventory",
    ),
    pytest.param(
        frozenset({"PUT", "DELETE", "HEAD", "OPTIONS"}),
        BACKEND,
        ("DELETE /api/webhooks", "PUT /api/webhooks"),
        id="the Allow header wins over the inventory",
    ),
    pytest.param(frozenset(), Inventory(()), (), id="a bare 405 is still a wrong method"),
    pytest.param(
        frozenset({"HEAD", "OPTIONS"}),
        Inventory(()),
        (),
        id="HEAD and OPTIONS are no suggestion",
    ),
]


@pytest.mark.parametrize(("allow", "inventory", "suggestions"), ALLOW_CASES)
def test_a_405_is_a_wrong_method(
    allow: frozenset[str], inventory: Inventory, suggestions: tuple[str, ...]
) -> None:
    found = diagnose(Call("GET", "/api/webhooks", 405, allow), inventory)
    assert (found.cause, found.suggestions) == ("wrong_method", suggestions)


def test_wrong_method_detail_names_the_route_and_methods() -> None:
    found = diagnose(Call("DELETE", "/api/users/42"), BACKEND)
    assert found.detail == "wrong method: /api/users/{id} serves GET, PATCH, not DELETE"


# --- details people read -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "detail"),
    [
        ("GET", "/api/shopper/scripts/manage", "path mismatch: extra segment 'manage'"),
        ("GET", "/api/audit", "mounted under another name: /api/audit-logs"),
        ("GET", "/api/recordings", "no list handler: only GET /api/recordings/{id} exists"),
        ("GET", "/api/helth", "near-miss spelling: did you mean /api/health?"),
        ("GET", "/api/v1/users", "prefix or version skew: served as /api/users"),
        ("GET", "/api/users/", "trailing slash: the backend serves the path without one"),
        ("GET", "/api/items", "trailing slash: the backend serves the path with one"),
        (
            "GET",
            "/api/invoices-export/1",
            "route missing: nothing is served under /api/invoices-export",
        ),
        (
            "POST",
            "/api/billing/checkout",
            "route missing: not served, and nothing similar is served under /api/billing",
        ),
        (
            "GET",
            "/api/users/42",
            "route exists (GET /api/users/{id}): the 404 is the resource; check the id or the data",
        ),
    ],
)
def test_details(method: str, path: str, detail: str) -> None:
    assert diagnose(Call(method, path), BACKEND).detail == detail


def test_last_resort_says_which_word_the_parameter_took() -> None:
    found = diagnose(Call("GET", "/api/recordings/latest"), BACKEND)
    assert "/api/recordings/{id}" in found.detail
    assert "'latest'" in found.detail


# --- negatives: a correct route is never reported; rules stay on their own paths -----------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/users/1",
        "/api/users/123456",
        "/api/users/3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "/api/recordings/rec_001",
        "/api/billing/invoices/2024",
        "/api/audit-logs/9",
        "/api/orgs/org_7/members/usr_2",
        "/api/v1/reports/rep_42",
        "/api/items/7/",
        "/api/calls/c0ffee0123456789/notes",
    ],
)
def test_a_served_route_with_a_plausible_id_is_the_resource_and_nothing_else(path: str) -> None:
    found = diagnose(Call("GET", path), BACKEND)
    assert found == Diagnosis(cause="resource_not_found", detail=found.detail, suggestions=())


@pytest.mark.parametrize(
    ("method", "path", "inventory", "not_suggested"),
    [
        # /api/audit is about audit logs, never recordings or users
        ("GET", "/api/audit", BACKEND, "/api/recordings"),
        ("GET", "/api/audit", routes("GET /api/recordings/{id}", "GET /api/users"), "recordings"),
        # a word where a user id goes is a missing user, not a call to the list
        ("GET", "/api/users/john", BACKEND, "extra segment"),
        # /api/billing/plans says nothing about a list handler at /api/billing
        ("GET", "/api/billing", BACKEND, "no list handler"),
        # /api/calls/{id}/notes is not the item route of /api/calls/42
        ("GET", "/api/calls/42", BACKEND, "no list handler"),
        # a route that happens to be one segment longer elsewhere does not explain /api
        ("GET", "/api", BACKEND, "/api/"),
        # CORS preflights answer OPTIONS on any path: no evidence of a route
        ("GET", "/api/things", routes("OPTIONS /api/things"), "OPTIONS"),
        # an unrelated route is not a near miss
        ("GET", "/api/orders", BACKEND, "/api/users"),
        ("GET", "/api/orders", BACKEND, "/api/audit"),
    ],
)
def test_rules_do_not_fire_on_unrelated_paths(
    method: str, path: str, inventory: Inventory, not_suggested: str
) -> None:
    found = diagnose(Call(method, path), inventory)
    shown = " ".join((found.detail, *found.suggestions))
    assert not_suggested not in shown, found


def test_a_word_id_is_a_missing_resource_not_an_extra_segment() -> None:
    # Review fix: `/api/users/john` with both `/api/users` and `/api/users/{id}` served is
    # user john not found; it was "extra segment 'john'", suggesting the list.
    found = diagnose(Call("GET", "/api/users/john"), BACKEND)
    assert (found.cause, found.suggestions) == ("resource_not_found", ("GET /api/users/{id}",))
    # Without an item route the word is still an extra segment.
    found = diagnose(Call("GET", "/api/shopper/scripts/manage"), BACKEND)
    assert (found.cause, found.suggestions) == ("extra_segment", ("GET /api/shopper/scripts",))
    # A segment before the last is still an extra one (`/api/admin/users/7`).
    found = diagnose(Call("GET", "/api/admin/users/7"), BACKEND)
    assert (found.cause, found.suggestions) == ("extra_segment", ("GET /api/users/{id}",))


def test_parameters_do_not_swallow_literal_words() -> None:
    # `/api/{resource}` does not make every /api/word a missing resource
    catch_all = routes("GET /api/{resource}", "GET /api/health")
    assert diagnose(Call("GET", "/api/audit"), catch_all).cause != "resource_not_found"


def test_a_parameter_route_does_not_make_a_word_a_wrong_method() -> None:
    inventory = routes("PUT /api/items/{id}", "GET /api/items")
    found = diagnose(Call("GET", "/api/items/export"), inventory)
    assert found.cause == "extra_segment"  # not "wrong method: serves PUT"


def test_answered_ids_are_not_literals_to_match() -> None:
    # Without a declared inventory, the routes that answered are the inventory: GET
    # /api/users/1 answering 200 makes /api/users/999 a missing user, not a "literal vs
    # parameter" mismatch nor an "extra segment" of /api/users.
    answered = from_passed([_result("GET", "/api/users/1", 200), _result("GET", "/api/users", 200)])
    found = diagnose(Call("GET", "/api/users/999"), answered)
    assert (found.cause, found.suggestions) == ("resource_not_found", ())


def test_every_rule_states_its_rule() -> None:
    assert all(rule.__doc__ and rule.__doc__.strip() for rule in RULES)
    assert rule_names()[0] == "no_list_handler"
    assert rule_names()[-1] == "resource_missing_loosely"


def test_suggestions_are_capped() -> None:
    inventory = routes(*(f"GET /api/billing/{name}" for name in ("a", "b", "c", "d", "e")))
    found = diagnose(Call("GET", "/api/billing"), inventory)
    assert len(found.suggestions) == mismatch.MAX_SUGGESTIONS


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(mismatch).failed == 0


# --- which results are mismatches ----------------------------------------------------------------


def _result(
    method: str,
    path: str,
    status: int | None,
    expect: str = "200",
    verdict: str = "FAIL",
    headers: dict[str, str] | None = None,
    identity: str = "anonymous",
) -> CheckResult:
    observation: Response | NotSent | TransportError
    if status is None:
        observation = TransportError(error="connect_refused", message="refused", elapsed_ms=1)
    else:
        observation = Response(status=status, headers=headers or {}, elapsed_ms=1)
    return CheckResult(
        group="G",
        index=0,
        method=method,
        path=path,
        expect=expect,
        identity=identity,
        request=RequestInfo(method=method, url=f"http://testserver{path}"),
        observation=observation,
        verdict=verdict,  # type: ignore[arg-type]
        reason="",
    )


@pytest.mark.parametrize(
    ("status", "expect", "verdict", "mismatch_"),
    [
        (404, "200", "FAIL", True),
        (405, "200", "FAIL", True),
        (404, "2xx", "FAIL", True),
        (404, "200|204", "FAIL", True),
        (404, "401|403", "FAIL", True),
        (404, "405", "FAIL", True),  # a route expected to exist with another method is gone
        # negatives: a correct answer is never a mismatch
        (200, "200", "PASS", False),
        (404, "404", "PASS", False),  # expected 404s: modules that must stay absent
        (404, "4xx", "PASS", False),
        (404, "200|404", "PASS", False),
        (405, "405", "PASS", False),  # a check that verifies the method is refused
        (405, "404", "FAIL", False),  # expected absent, got 405: the route exists; not a 404
        (500, "200", "FAIL", False),  # a server error is not a routing problem
        (401, "200", "FAIL", False),
        (302, "200", "FAIL", False),
        (None, "200", "ERROR", False),
    ],
)
def test_needs_diagnosis(status: int | None, expect: str, verdict: str, mismatch_: bool) -> None:
    assert needs_diagnosis(_result("GET", "/api/x", status, expect, verdict)) is mismatch_


def test_needs_diagnosis_is_false_for_a_check_not_sent() -> None:
    result = _result("POST", "/api/x", 200).model_copy(
        update={"observation": NotSent(reason="mutation"), "verdict": "SKIP"}
    )
    assert not needs_diagnosis(result)


def test_call_of_reads_the_allow_header_in_any_case() -> None:
    result = _result("GET", "/api/webhooks", 405, headers={"ALLOW": "post, Options"})
    assert call_of(result) == Call("GET", "/api/webhooks", 405, frozenset({"POST", "OPTIONS"}))


def _run(*results: CheckResult) -> Run:
    return Run(
        name="t",
        manifest="m.yaml",
        target="http://127.0.0.1:1",
        started_at=datetime(2024, 1, 1, tzinfo=UTC),
        duration_s=0.1,
        settings=RunSettings(concurrency=1, timeout=1, allow_mutations=False, transport="httpx"),
        results=results,
    )


def test_annotate_diagnoses_mismatches_only_and_names_the_inventory() -> None:
    run = _run(
        _result("GET", "/api/audit", 404),
        _result("GET", "/api/health", 200, verdict="PASS"),
        _result("GET", "/api/organizations", 404, expect="404", verdict="PASS"),
        _result("GET", "/api/reports/export", 500),
        _result("GET", "/api/webhooks", 405, headers={"Allow": "POST"}),
    )
    annotated = annotate(run, BACKEND)
    assert annotated.inventory == "routes.txt"
    diagnoses = [r.diagnosis for r in annotated.results]
    assert diagnoses[0] is not None and diagnoses[0].cause == "renamed"
    assert diagnoses[1:4] == [None, None, None]
    assert diagnoses[4] is not None and diagnoses[4].suggestions == ("POST /api/webhooks",)
    assert annotate(run, Inventory(())).inventory is None


# --- probes: the pure half of --probe ------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "called", "filled"),
    [
        ("/api/audit-logs", "/api/audit", "/api/audit-logs"),  # no parameters
        ("/api/users/{id}", "/api/users/42/avatar/large", "/api/users/42"),
        ("/api/users/{id}/avatar", "/api/users/42/avatar/large", "/api/users/42/avatar"),
        ("/api/users/{id}", "/api/v2/users/42", "/api/users/42"),  # aligned on 'users'
        ("/api/recordings/{id}", "/api/recordigns/rec_001", "/api/recordings/rec_001"),
        ("/api/recordings/{id}", "/api/recordings", None),  # no list handler: nothing to fill
        ("/api/calls/{callId}/notes", "/api/calls/42", "/api/calls/42/notes"),
        ("/api/calls/{callId}/notes", "/api/calls/notes", None),  # 'notes' is not an id
        ("/api/orgs/{orgId}/members/{memberId}", "/api/orgs/org_42/members", None),
        ("/api/items/7/", "/api/items/7", "/api/items/7/"),  # the trailing slash is kept
        ("/api/users/{}", "/api/users/:id", None),  # a placeholder is not a value
        ("/api/users/{id}", "/api/users/42?expand=1", "/api/users/42"),
    ],
)
def test_fill_from(template: str, called: str, filled: str | None) -> None:
    assert fill_from(template, called) == filled


def test_fill_from_positions_for_equal_lengths() -> None:
    assert fill_from("/api/users/{id}/avatar", "/api/users/42/avtar") == "/api/users/42/avatar"


@pytest.mark.parametrize(
    ("suggestion", "called", "probe"),
    [
        (
            "GET /api/audit-logs",
            "/api/audit",
            Probe("GET /api/audit-logs", "GET", "/api/audit-logs", "GET"),
        ),
        (
            "HEAD /api/health",
            "/api/helth",
            Probe("HEAD /api/health", "HEAD", "/api/health", "HEAD"),
        ),
        # never a mutation: POST, PUT, PATCH and DELETE are asked about with OPTIONS
        (
            "POST /api/webhooks",
            "/api/webhooks",
            Probe("POST /api/webhooks", "OPTIONS", "/api/webhooks", "POST"),
        ),
        (
            "DELETE /api/users/{id}",
            "/api/users/42",
            Probe("DELETE /api/users/{id}", "OPTIONS", "/api/users/42", "DELETE"),
        ),
        ("GET /api/recordings/{id}", "/api/recordings", None),
    ],
)
def test_probe_for(suggestion: str, called: str, probe: Probe | None) -> None:
    assert probe_for(suggestion, called) == probe


def test_probes_leave_out_the_request_that_failed() -> None:
    result = _result("GET", "/api/recordings/latest", 404)
    loose = diagnose(Call("GET", "/api/recordings/latest"), BACKEND)
    assert loose.suggestions == ("GET /api/recordings/{id}",)
    assert probes(result, loose, "/api/recordings/latest") == []  # the same GET again
    slash = diagnose(Call("GET", "/api/items"), BACKEND)
    found = probes(_result("GET", "/api/items", 404), slash, "/api/items")
    assert [p.label for p in found] == ["GET /api/items/"]  # differs by the slash: sent


def test_probes_only_use_safe_methods() -> None:
    for method, path in [
        ("DELETE", "/api/users/42"),
        ("PUT", "/api/shopper/scripts"),
        ("GET", "/api/webhooks"),
        ("POST", "/api/user"),
    ]:
        found = diagnose(Call(method, path), BACKEND)
        for item in probes(_result(method, path, 404), found, path):
            assert item.method in engine.SAFE_PROBE_METHODS


@pytest.mark.parametrize(
    ("probe", "status", "allow", "confirmed"),
    [
        (Probe("GET /a", "GET", "/a", "GET"), 200, frozenset(), True),
        (Probe("GET /a", "GET", "/a", "GET"), 401, frozenset(), True),  # protected: it is there
        (Probe("GET /a", "GET", "/a", "GET"), 403, frozenset(), True),
        (Probe("GET /a", "GET", "/a", "GET"), 302, frozenset(), True),
        (Probe("GET /a", "GET", "/a", "GET"), 422, frozenset(), True),
        (Probe("GET /a", "GET", "/a", "GET"), 404, frozenset(), False),
        (Probe("GET /a", "GET", "/a", "GET"), 405, frozenset({"POST"}), False),
        (Probe("GET /a", "GET", "/a", "GET"), 410, frozenset(), False),
        (Probe("GET /a", "GET", "/a", "GET"), 429, frozenset(), False),
        (Probe("GET /a", "GET", "/a", "GET"), 502, frozenset(), False),  # a gateway says that
        (Probe("POST /a", "OPTIONS", "/a", "POST"), 405, frozenset({"POST"}), True),
        (Probe("POST /a", "OPTIONS", "/a", "POST"), 200, frozenset({"GET", "POST"}), True),
        (Probe("POST /a", "OPTIONS", "/a", "POST"), 200, frozenset(), False),  # a CORS preflight
        (Probe("POST /a", "OPTIONS", "/a", "POST"), 200, frozenset({"GET"}), False),
        (Probe("POST /a", "OPTIONS", "/a", "POST"), 404, frozenset({"POST"}), False),
    ],
)
def test_confirms(probe: Probe, status: int, allow: frozenset[str], confirmed: bool) -> None:
    assert confirms(probe, status, allow) is confirmed
