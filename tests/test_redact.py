"""Redaction rules: credential headers, secret query values, URL passwords, known secret values."""

from __future__ import annotations

import pytest

from crawler import redact
from crawler.redact import REDACTED, Redactor


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("Authorization", True),
        ("authorization", True),
        ("Cookie", True),
        ("Set-Cookie", True),
        ("X-API-Key", True),
        ("X-Auth-Token", True),
        ("api_key", True),
        ("access_token", True),
        ("password", True),
        ("Accept", False),
        ("Content-Type", False),
        ("limit", False),
        ("q", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert redact.is_secret_name(name) is secret


def test_headers_keep_names_and_join_repeats() -> None:
    shown = redact.headers(
        [
            ("Authorization", "Bearer abc"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("Accept", "*/*"),
        ]
    )
    assert shown == {
        "Authorization": REDACTED,
        "Set-Cookie": f"{REDACTED}, {REDACTED}",
        "Accept": "*/*",
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://h/x?api_key=abc&limit=5", f"https://h/x?api_key={REDACTED}&limit=5"),
        ("https://user:pw@h/x", f"https://user:{REDACTED}@h/x"),
        ("https://token@h/x", f"https://{REDACTED}@h/x"),
        ("https://h/x?limit=5&q=a+b", "https://h/x?limit=5&q=a+b"),
    ],
)
def test_url(url: str, expected: str) -> None:
    assert redact.url(url) == expected


def test_known_secret_values_are_replaced_in_free_text() -> None:
    redactor = Redactor(["s3cr3t-token", "abc"])  # "abc" is too short to hunt for in text
    assert redactor.text("token s3cr3t-token echoed abc") == f"token {REDACTED} echoed abc"
    assert "s3cr3t" not in repr(redactor)
    assert redactor.url("https://h/s3cr3t-token/x") == f"https://h/{REDACTED}/x"


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (
            '{"user":"a","password":"pw","nested":[{"token":"t"}]}',
            "application/json",
            '{"user":"a","password":"[REDACTED]","nested":[{"token":"[REDACTED]"}]}',
        ),
        (
            "user=a&password=pw",
            "application/x-www-form-urlencoded",
            "user=a&password=%5BREDACTED%5D",
        ),
        ("plain text password=pw", "text/plain", "plain text password=pw"),
        ("{not json", "application/json", "{not json"),
    ],
)
def test_body(body: str, content_type: str, expected: str) -> None:
    assert redact.body(body, content_type) == expected
