"""Verdict rules, table-driven: guard (mutation safety) and judge (status, errors, skips)."""

from __future__ import annotations

import pytest

from crawler.manifest import Check
from crawler.results import NotSent, Observation, Response, TransportError
from crawler.verdict import MUTATION_NOT_ALLOWED, Judgement, guard, judge


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
