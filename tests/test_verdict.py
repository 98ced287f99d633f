"""Verdict rules, table-driven: guard (mutation safety) and judge (status, errors, skips)."""

from __future__ import annotations

import pytest

from crawler.manifest import Check, PlannedCheck
from crawler.results import NotSent, Observation, Response, TransportError
from crawler.verdict import (
    MUTATION_NOT_ALLOWED,
    Judgement,
    guard,
    is_loopback,
    judge,
    mutation_preview,
)


def check(text: str, **fields: object) -> Check:
    return Check.model_validate(text if not fields else {**_fields(text), **fields})


def _fields(text: str) -> dict[str, object]:
    from crawler.manifest import parse_shorthand

    return parse_shorthand(text)


def answer(status: int, **headers: str) -> Response:
    return Response(status=status, headers=headers, elapsed_ms=1.0)


@pytest.mark.parametrize(
    ("check_", "allow", "sent"),
    [
        (check("GET /a"), False, True),
        (check("HEAD /a"), False, True),
        (check("OPTIONS /a"), False, True),
        (check("POST /a"), False, False),
        (check("PUT /a"), False, False),
        (check("PATCH /a"), False, False),
        (check("DELETE /a"), False, False),
        (check("DELETE /a", safe=True), False, True),
        (check("POST /a"), True, True),
    ],
)
def test_guard_sends_only_safe_methods_unless_allowed(
    check_: Check, allow: bool, sent: bool
) -> None:
    skipped = guard(check_, allow_mutations=allow)
    assert (skipped is None) is sent
    if not sent:
        assert skipped == NotSent(reason=MUTATION_NOT_ALLOWED)


@pytest.mark.parametrize(
    ("check_", "observation", "expected"),
    [
        (check("GET /a -> 200"), answer(200), Judgement("PASS")),
        (check("GET /a -> 200"), answer(404), Judgement("FAIL", "expected 200, got 404")),
        (check("GET /a -> 404"), answer(404), Judgement("PASS")),
        (check("GET /a -> 200|204"), answer(204), Judgement("PASS")),
        (check("GET /a -> 200|204"), answer(500), Judgement("FAIL", "expected 200|204, got 500")),
        (check("GET /a -> 2xx"), answer(201), Judgement("PASS")),
        (check("GET /a -> 2xx"), answer(301), Judgement("FAIL", "expected 2xx, got 301")),
        (
            check("GET /a -> 200"),
            answer(302, location="/login"),
            Judgement("FAIL", "expected 200, got 302 -> /login"),
        ),
        (check("GET /a -> 302"), answer(302, location="/login"), Judgement("PASS")),
        (
            check("GET /a"),
            TransportError(error="connect_refused", message="connection refused", elapsed_ms=1),
            Judgement("ERROR", "connection refused"),
        ),
        (
            check("GET /a -> 404"),
            TransportError(error="read_timeout", message="read timeout after 5 s", elapsed_ms=5000),
            Judgement("ERROR", "read timeout after 5 s"),
        ),
        (
            check("POST /a"),
            NotSent(reason=MUTATION_NOT_ALLOWED),
            Judgement("SKIP", MUTATION_NOT_ALLOWED),
        ),
    ],
)
def test_judge(check_: Check, observation: Observation, expected: Judgement) -> None:
    assert judge(check_, observation) == expected


# --- mutation preview --------------------------------------------------------------------


def planned(*texts: str, safe: bool = False) -> list[PlannedCheck]:
    return [
        PlannedCheck("G", i, check(text, safe=True) if safe else check(text), {}, 1.0)
        for i, text in enumerate(texts)
    ]


MIXED = planned("POST /a", "GET /b", "POST /c", "DELETE /d", "POST /e", "HEAD /f")
REMOTE = "https://api.example.com"


@pytest.mark.parametrize(
    ("checks", "allow", "base_url", "preview"),
    [
        # allowed mutations to a remote host: counted per method, in manifest order
        (MIXED, True, REMOTE, f"will send 3 POST, 1 DELETE to {REMOTE} (--allow-mutations)"),
        # not allowed: nothing but GET/HEAD/OPTIONS goes out, nothing to announce
        (MIXED, False, REMOTE, None),
        # only safe methods: nothing to announce
        (planned("GET /a", "OPTIONS /b"), True, REMOTE, None),
        # checks marked safe: true go out without the flag, and are announced
        (planned("PUT /a", "PATCH /b", safe=True), False, REMOTE,
         f"will send 1 PUT, 1 PATCH to {REMOTE} (checks marked safe: true)"),
        # the origin only: no path, no credentials; the port kept
        (MIXED[:1], True, "https://u:pw@api.example.com:8443/v1/",
         "will send 1 POST to https://api.example.com:8443 (--allow-mutations)"),
        # this machine and in-process apps are local: nothing to announce
        (MIXED, True, "http://127.0.0.1:8000", None),
        (MIXED, True, "http://127.9.9.9", None),
        (MIXED, True, "http://localhost:3000", None),
        (MIXED, True, "http://[::1]:8000", None),
        (MIXED, True, None, None),
        # a private address is not this machine
        (MIXED[:1], True, "http://10.0.0.5",
         "will send 1 POST to http://10.0.0.5 (--allow-mutations)"),
    ],
)  # fmt: skip
def test_mutation_preview(
    checks: list[PlannedCheck], allow: bool, base_url: str | None, preview: str | None
) -> None:
    assert mutation_preview(checks, allow_mutations=allow, base_url=base_url) == preview


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("127.0.0.1", True),
        ("127.255.0.3", True),
        ("::1", True),
        ("[::1]", True),
        ("128.0.0.1", False),
        ("localhost.example.com", False),
        ("api.example.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
