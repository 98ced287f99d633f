"""Hand-built, frozen sample runs for renderer tests (fixtures for them live in conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crawler.baseline import compare
from crawler.results import (
    CheckResult,
    Diagnosis,
    IdentityStatus,
    Known,
    NotSent,
    Observation,
    RequestInfo,
    Response,
    Run,
    RunSettings,
    TransportError,
    Verdict,
)

STARTED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TARGET = "https://api.example.test"
SETTINGS = RunSettings(concurrency=16, timeout=10.0, allow_mutations=False, transport="aiohttp")

# A token that a real run would have redacted: it is never put into any model below, so
# no report may show it. Reports show `[REDACTED]` where a credential header was sent.
SECRET = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
REDACTED = "[REDACTED]"

MUTATION_NOT_ALLOWED = "mutation not allowed (use --allow-mutations or mark the check safe: true)"

# Response text that must never run or render as markup in any report.
PAYLOAD = (
    "<script>alert(1)</script><img src=x onerror=alert(2)>"
    "<script>document.title='pwned'</script>"
    "<img src=x onerror=\"document.title='pwned'\">"
)
# A path that would break a markdown table or inline code if not escaped.
ODD_PATH = "/api/search/a|b`c"


def response(
    status: int,
    *,
    reason: str = "",
    headers: dict[str, str] | None = None,
    body: str = "",
    ms: float = 12.0,
) -> Response:
    return Response(
        status=status,
        reason_phrase=reason,
        headers=headers or {},
        body_excerpt=body,
        body_bytes=len(body.encode(errors="surrogatepass")),
        elapsed_ms=ms,
    )


def result(
    group: str,
    index: int,
    path: str,
    observation: Observation,
    verdict: Verdict,
    *,
    method: str = "GET",
    expect: str = "200",
    reason: str = "",
    name: str | None = None,
    url: str | None = None,
    headers: dict[str, str] | None = None,
    body: str | None = None,
    content_type: str | None = None,
    identity: str = "anonymous",
    reauthenticated: bool = False,
    diagnosis: Diagnosis | None = None,
) -> CheckResult:
    """One result; the request URL defaults to the target plus the path."""
    return CheckResult(
        group=group,
        index=index,
        name=name,
        method=method,
        path=path,
        expect=expect,
        request=RequestInfo(
            method=method,
            url=url or f"{TARGET}{path}",
            headers={"Accept": "application/json"} if headers is None else headers,
            body=body,
            content_type=content_type,
        ),
        observation=observation,
        verdict=verdict,
        reason=reason,
        identity=identity,
        reauthenticated=reauthenticated,
        diagnosis=diagnosis,
    )


def run(
    results: list[CheckResult],
    *,
    name: str = "Demo API",
    in_process: bool = False,
    interrupted: bool = False,
    duration_s: float = 1.32,
    identities: tuple[IdentityStatus, ...] = (),
    inventory: str | None = None,
) -> Run:
    return Run(
        name=name,
        manifest="specs/demo.yaml",
        target="app:crawler.demo.app:app" if in_process else TARGET,
        in_process=in_process,
        started_at=STARTED,
        duration_s=duration_s,
        interrupted=interrupted,
        settings=SETTINGS,
        identities=identities,
        inventory=inventory,
        results=tuple(results),
    )


def sample_run() -> Run:
    """Three groups covering every verdict, an expected 404, a JSON 500, and hostile text."""
    return run(
        [
            result("Health", 0, "/api/health", response(200, ms=3.4), "PASS"),
            result(
                "Health",
                1,
                "/api/audio/transcriptions",
                response(404, ms=2.6),
                "PASS",
                expect="404",
                name="transcriptions removed",
            ),
            result("Billing", 0, "/api/billing/plans", response(200, ms=8.49), "PASS"),
            result(
                "Billing",
                1,
                "/api/billing/invoices",
                response(
                    404,
                    reason="Not Found",
                    headers={"content-type": "application/json", "set-cookie": REDACTED},
                    body='{"detail":"Not Found"}',
                    ms=5.5,
                ),
                "FAIL",
                reason="expected 200, got 404",
                headers={"Accept": "application/json", "Authorization": REDACTED},
            ),
            result(
                "Billing",
                2,
                "/api/reports/export",
                response(
                    500,
                    reason="Internal Server Error",
                    headers={"content-type": "application/json"},
                    body='{"error":"internal","trace_id":"t-123"}',
                    ms=41.2,
                ),
                "FAIL",
                reason="expected 200|204, got 500",
                expect="200|204",
                name="export report",
            ),
            result(
                "Billing",
                3,
                "/api/billing/checkout",
                NotSent(reason=MUTATION_NOT_ALLOWED),
                "SKIP",
                method="POST",
                reason=MUTATION_NOT_ALLOWED,
                headers={"Accept": "application/json", "Content-Type": "application/json"},
                body='{"plan":"pro"}',
                content_type="application/json",
            ),
            result(
                "Users",
                0,
                "/api/users",
                TransportError(
                    error="connect_refused", message="connection refused", elapsed_ms=1.0
                ),
                "ERROR",
                reason="connection refused",
            ),
            result(
                "Users",
                1,
                ODD_PATH,
                response(
                    418,
                    reason="<b>teapot</b>",
                    headers={"content-type": "text/html", "x-echo": "<script>alert(3)</script>"},
                    body=PAYLOAD,
                    ms=7.0,
                ),
                "FAIL",
                reason="expected 200, got 418 | <b>see `body`</b>\nsecond line",
                url=f"{TARGET}/api/search/a%7Cb%60c",
            ),
        ]
    )


def all_pass_run() -> Run:
    """Two groups, every check PASS."""
    return run(
        [
            result("Health", 0, "/api/health", response(200, ms=2.0), "PASS"),
            result("Billing", 0, "/api/billing/plans", response(200, ms=4.0), "PASS"),
            result("Billing", 1, "/api/billing", response(200, ms=5.0), "PASS"),
        ],
        duration_s=0.25,
    )


# --- several identities: the matrix --------------------------------------------------------

IDENTITIES = ("admin", "viewer", "anonymous", "ops")
OPS_FAILURE = (
    "step 2 (POST /api/auth/callback/credentials): expected 302, got 401: "
    '{"error":"CredentialsSignin"}'
)
OPS_SKIP = "identity ops could not log in"


def _as(identity: str) -> dict[str, str]:
    """The request headers a logged-in identity sends (its session cookie, redacted)."""
    if identity == "anonymous":
        return {"Accept": "application/json"}
    return {"Accept": "application/json", "Cookie": REDACTED}


def _ops_skip(group: str, index: int, path: str, *, expect: str = "200") -> CheckResult:
    """What the engine records for a check of an identity that could not log in."""
    return result(
        group,
        index,
        path,
        NotSent(reason=OPS_SKIP),
        "SKIP",
        expect=expect,
        reason=OPS_SKIP,
        headers={},
        identity="ops",
    )


def matrix_run() -> Run:
    """Three groups run as admin, viewer and anonymous; `ops` could not log in (its checks
    SKIP). One cell re-authenticated, one check runs as two identities only, every verdict
    appears, and a response carries hostile markup. Results in manifest order: for each
    check, its identities in column order.
    """

    def cell(
        identity: str,
        group: str,
        index: int,
        path: str,
        observation: Observation,
        verdict: Verdict,
        **changes: Any,
    ) -> CheckResult:
        return result(
            group,
            index,
            path,
            observation,
            verdict,
            identity=identity,
            headers=_as(identity),
            **changes,
        )

    health = [
        cell(who, "Health", 0, "/api/health", response(200, ms=3.0), "PASS")
        for who in ("admin", "viewer", "anonymous")
    ]
    plans = [
        cell(who, "Billing", 0, "/api/billing/plans", response(200, ms=8.0), "PASS")
        for who in ("admin", "viewer", "anonymous")
    ]
    subscription = "/api/billing/subscription?orgId={org_id}"
    subscription_url = f"{TARGET}/api/billing/subscription?orgId=org_42"
    invoices = "/api/billing/invoices"
    checkout = "/api/billing/checkout"
    users = "/api/admin/users"
    audit = "/api/admin/audit"
    not_found = response(
        404,
        reason="Not Found",
        headers={"content-type": "application/json"},
        body='{"detail":"Not Found"}',
        ms=5.0,
    )
    return run(
        [
            *health,
            _ops_skip("Health", 0, "/api/health"),
            *plans,
            _ops_skip("Billing", 0, "/api/billing/plans"),
            cell(
                "admin",
                "Billing",
                1,
                subscription,
                response(200, ms=21.0),
                "PASS",
                url=subscription_url,
                name="subscription of the org",
                reauthenticated=True,
            ),
            cell(
                "viewer",
                "Billing",
                1,
                subscription,
                response(200, ms=9.0),
                "PASS",
                url=subscription_url,
                name="subscription of the org",
            ),
            cell(
                "admin",
                "Billing",
                2,
                invoices,
                not_found,
                "FAIL",
                reason="expected 200, got 404",
            ),
            cell("viewer", "Billing", 2, invoices, response(403, ms=4.0), "PASS", expect="403"),
            cell("anonymous", "Billing", 2, invoices, response(401, ms=2.0), "PASS", expect="401"),
            _ops_skip("Billing", 2, invoices),
            *(
                cell(
                    who,
                    "Billing",
                    3,
                    checkout,
                    NotSent(reason=MUTATION_NOT_ALLOWED),
                    "SKIP",
                    method="POST",
                    expect=expect,
                    reason=MUTATION_NOT_ALLOWED,
                    body='{"plan":"pro"}',
                    content_type="application/json",
                )
                for who, expect in (("admin", "200"), ("viewer", "403"))
            ),
            cell("admin", "Admin", 0, users, response(200, ms=11.0), "PASS", name="list users"),
            cell(
                "viewer",
                "Admin",
                0,
                users,
                response(
                    200,
                    reason="OK",
                    headers={"content-type": "application/json"},
                    body='[{"email":"a@example.test"}]',
                    ms=10.0,
                ),
                "FAIL",
                expect="403",
                name="list users",
                reason="expected 403, got 200",
            ),
            cell(
                "anonymous",
                "Admin",
                0,
                users,
                response(401, ms=1.5),
                "PASS",
                expect="401",
                name="list users",
            ),
            _ops_skip("Admin", 0, users),
            cell(
                "admin",
                "Admin",
                1,
                audit,
                TransportError(error="read_timeout", message="read timed out", elapsed_ms=10000),
                "ERROR",
                reason="read timed out",
            ),
            cell("viewer", "Admin", 1, audit, response(403, ms=3.0), "PASS", expect="403"),
            cell(
                "anonymous",
                "Admin",
                1,
                audit,
                response(
                    500,
                    reason="<b>oops</b>",
                    headers={"content-type": "text/html"},
                    body=PAYLOAD,
                    ms=30.0,
                ),
                "FAIL",
                expect="401",
                reason="expected 401, got 500 | <b>see `body`</b>",
            ),
            _ops_skip("Admin", 1, audit),
        ],
        name="Demo API",
        identities=(
            IdentityStatus(name="admin", kind="login"),
            IdentityStatus(name="viewer", kind="login"),
            IdentityStatus(name="anonymous", kind="anonymous"),
            IdentityStatus(name="ops", kind="login", failure=OPS_FAILURE),
        ),
    )


# --- 404 mismatches: diagnosed results -------------------------------------------------------

INVENTORY = "/openapi.json + checks that answered"

# The diagnoses `crawler.mismatch` gives these calls against the demo-like inventory
# (GET /api/shopper/scripts, GET /api/shopper/audit-logs, POST /api/shopper/checkout,
# GET /api/recordings/{id}, nothing under /api/billing), frozen here as data.
EXTRA_SEGMENT = Diagnosis(
    cause="extra_segment",
    detail="path mismatch: extra segment 'manage'",
    suggestions=("GET /api/shopper/scripts",),
)
RENAMED = Diagnosis(
    cause="renamed",
    detail="mounted under another name: /api/shopper/audit-logs",
    suggestions=("GET /api/shopper/audit-logs",),
)
WRONG_METHOD = Diagnosis(
    cause="wrong_method",
    detail="wrong method: /api/shopper/checkout serves POST, not GET",
    suggestions=("POST /api/shopper/checkout",),
)
NO_LIST_HANDLER = Diagnosis(
    cause="no_list_handler",
    detail="no list handler: only GET /api/recordings/{id} exists",
    suggestions=("GET /api/recordings/{id}",),
)
RESOURCE_NOT_FOUND = Diagnosis(
    cause="resource_not_found",
    detail="route exists: the 404 is the resource (check the id or the data)",
)
BILLING_MISSING = Diagnosis(
    cause="module_missing", detail="route missing: nothing is served under /api/billing"
)


def diagnosed(
    identity: str,
    group: str,
    index: int,
    path: str,
    diagnosis: Diagnosis,
    *,
    method: str = "GET",
    status: int = 404,
    allow: str | None = None,
    name: str | None = None,
) -> CheckResult:
    """A FAIL: expected 200, got `status`, with its diagnosis."""
    headers = {"content-type": "application/json"}
    if allow:
        headers["allow"] = allow
    return result(
        group,
        index,
        path,
        response(
            status,
            reason="Not Found" if status == 404 else "Method Not Allowed",
            headers=headers,
            body='{"detail":"Not Found"}',
            ms=4.0,
        ),
        "FAIL",
        method=method,
        reason=f"expected 200, got {status}",
        name=name,
        identity=identity,
        headers=_as(identity),
        diagnosis=diagnosis,
    )


def mismatch_run() -> Run:
    """Run as admin and viewer against a backend that lacks routes the manifest expects:
    seven 404/405 mismatches across three modules (/api/shopper, /api/recordings,
    /api/billing), /api/billing missing entirely, one route (GET /api/recordings) missing
    for both identities, and one mismatch for admin only. Causes: extra segment, mounted
    under another name, wrong method (a 405), no list handler, resource not found, route
    missing. A PASS per identity shows passing checks are left out.
    """
    admin_and_viewer = ("admin", "viewer")
    return run(
        [
            *(
                result(
                    "Shopper",
                    0,
                    "/api/shopper/scripts",
                    response(200, ms=6.0),
                    "PASS",
                    identity=who,
                    headers=_as(who),
                )
                for who in admin_and_viewer
            ),
            diagnosed("admin", "Shopper", 1, "/api/shopper/scripts/manage", EXTRA_SEGMENT),
            diagnosed("admin", "Shopper", 2, "/api/shopper/audit", RENAMED, name="audit log"),
            diagnosed(
                "admin",
                "Shopper",
                3,
                "/api/shopper/checkout",
                WRONG_METHOD,
                status=405,
                allow="POST",
            ),
            *(
                diagnosed(who, "Recordings", 0, "/api/recordings", NO_LIST_HANDLER)
                for who in admin_and_viewer
            ),
            diagnosed("admin", "Recordings", 1, "/api/recordings/rec_999", RESOURCE_NOT_FOUND),
            diagnosed("admin", "Billing", 0, "/api/billing/invoices", BILLING_MISSING),
            diagnosed(
                "admin", "Billing", 1, "/api/billing/checkout", BILLING_MISSING, method="POST"
            ),
        ],
        name="Shop API",
        identities=(
            IdentityStatus(name="admin", kind="login"),
            IdentityStatus(name="viewer", kind="login"),
        ),
        inventory=INVENTORY,
    )


def one_mismatch(path: str, diagnosis: Diagnosis, *, method: str = "GET") -> CheckResult:
    """A single anonymous FAIL with `diagnosis`, for small hand-made runs."""
    return diagnosed("anonymous", "G", 0, path, diagnosis, method=method)


# --- known failures, flaky checks, and a baseline -------------------------------------------

NO_LIST = Known(ticket="T2-3", status="BACKLOG", reason="no list handler yet")
EXPORT_ASYNC = Known(ticket="T2-5", status="BACKLOG", reason="export moved to a job queue")
PAYMENTS = Known(ticket="T2-7", status="BLOCKED", reason="waiting on the payments team")
AUDIT_RENAME = Known(ticket="T2-9", status="BACKLOG", reason="renamed to /api/audit-logs")


def known(result_: CheckResult, ticket: Known) -> CheckResult:
    """`result_` as `verdict.with_known` makes it: a FAIL/ERROR is XFAIL, a PASS is XPASS."""
    if result_.verdict in ("FAIL", "ERROR"):
        verdict: Verdict = "XFAIL"
        reason = f"{result_.reason} (known: {ticket})"
    elif result_.verdict == "PASS":
        verdict, reason = "XPASS", f"now passing: close {ticket.ticket}?"
    else:
        verdict, reason = result_.verdict, result_.reason
    return result_.model_copy(update={"known": ticket, "verdict": verdict, "reason": reason})


def flaky(result_: CheckResult, attempts: int = 2) -> CheckResult:
    """`result_` as a PASS on its `attempts`-th try (`--retries`)."""
    return result_.model_copy(update={"flaky": True, "attempts": attempts})


def known_run() -> Run:
    """Run as admin and viewer, with four known checks (3 BACKLOG, 1 BLOCKED, 0 DEFERRED):
    T2-3 XFAIL for both identities, T2-5 XFAIL on a timeout (ERROR), T2-7 now passing
    (XPASS: close it?), T2-9 XFAIL for admin only. One flaky PASS (viewer, third attempt)
    and one plain FAIL that is not known, so the gate still fails.
    """

    def cell(identity: str, *args: Any, **changes: Any) -> CheckResult:
        return result(*args, identity=identity, headers=_as(identity), **changes)

    not_found = response(404, reason="Not Found", body='{"detail":"Not Found"}', ms=4.0)
    return run(
        [
            cell("admin", "Health", 0, "/api/health", response(200, ms=3.0), "PASS"),
            flaky(cell("viewer", "Health", 0, "/api/health", response(200, ms=9.0), "PASS"), 3),
            *(
                known(
                    cell(
                        who,
                        "Recordings",
                        0,
                        "/api/recordings",
                        not_found,
                        "FAIL",
                        reason="expected 200, got 404",
                    ),
                    NO_LIST,
                )
                for who in ("admin", "viewer")
            ),
            known(
                cell(
                    "admin",
                    "Recordings",
                    1,
                    "/api/recordings/export",
                    TransportError(
                        error="read_timeout", message="read timed out", elapsed_ms=10000
                    ),
                    "ERROR",
                    reason="read timed out",
                ),
                EXPORT_ASYNC,
            ),
            known(
                cell("admin", "Billing", 0, "/api/billing/invoices", response(200, ms=7.0), "PASS"),
                PAYMENTS,
            ),
            cell(
                "admin",
                "Billing",
                1,
                "/api/billing/plans",
                response(500, reason="Internal Server Error", body="oops", ms=30.0),
                "FAIL",
                reason="expected 200, got 500",
            ),
            cell("viewer", "Billing", 1, "/api/billing/plans", response(200, ms=8.0), "PASS"),
            known(
                cell(
                    "admin",
                    "Admin",
                    0,
                    "/api/audit",
                    not_found,
                    "FAIL",
                    reason="expected 200, got 404",
                ),
                AUDIT_RENAME,
            ),
            cell("viewer", "Admin", 0, "/api/audit", response(403, ms=2.0), "PASS", expect="403"),
        ],
        name="Demo API",
        identities=(
            IdentityStatus(name="admin", kind="login"),
            IdentityStatus(name="viewer", kind="login"),
        ),
    )


BASELINE = "runs/2026-11-23/run.json"


def previous_run() -> Run:
    """Yesterday's run of the API of `baseline_run`, saved as its baseline."""
    return run(
        [
            result("Health", 0, "/api/health", response(200, ms=3.0), "PASS"),
            result("Billing", 0, "/api/billing/plans", response(200, ms=8.0), "PASS"),
            result(
                "Billing",
                1,
                "/api/billing/invoices",
                response(404, ms=5.0),
                "FAIL",
                reason="expected 200, got 404",
            ),
            result(
                "Billing",
                2,
                "/api/reports/export",
                TransportError(error="read_timeout", message="read timed out", elapsed_ms=10000),
                "ERROR",
                reason="read timed out",
            ),
            result(
                "Users",
                0,
                "/api/users",
                response(500, ms=20.0),
                "FAIL",
                reason="expected 200, got 500",
            ),
            result("Legacy", 0, "/api/v1/status", response(200, ms=2.0), "PASS"),
        ],
        duration_s=1.1,
    )


def baseline_run() -> Run:
    """Today's run compared with `previous_run` (`crawler run --baseline`): one REGRESSED
    (plans now 500), two FIXED (invoices, export), three NEW (refunds PASS, coupons FAIL,
    teams SKIP), one GONE (the legacy status route), two UNCHANGED (health, users still
    failing) and a flaky PASS.
    """
    today = run(
        [
            result("Health", 0, "/api/health", response(200, ms=3.0), "PASS"),
            result(
                "Billing",
                0,
                "/api/billing/plans",
                response(500, reason="Internal Server Error", ms=31.0),
                "FAIL",
                reason="expected 200, got 500",
            ),
            result("Billing", 1, "/api/billing/invoices", response(200, ms=6.0), "PASS"),
            flaky(result("Billing", 2, "/api/reports/export", response(200, ms=90.0), "PASS")),
            result("Billing", 3, "/api/billing/refunds", response(200, ms=7.0), "PASS"),
            result(
                "Billing",
                4,
                "/api/billing/coupons",
                response(404, ms=4.0),
                "FAIL",
                reason="expected 200, got 404",
            ),
            result(
                "Users",
                0,
                "/api/users",
                response(500, ms=18.0),
                "FAIL",
                reason="expected 200, got 500",
            ),
            result(
                "Users",
                1,
                "/api/teams",
                NotSent(reason=MUTATION_NOT_ALLOWED),
                "SKIP",
                method="POST",
                reason=MUTATION_NOT_ALLOWED,
            ),
        ],
        duration_s=1.2,
    )
    return compare(today, previous_run(), BASELINE)
