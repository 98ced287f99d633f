"""Manifest loading: valid forms, env substitution, each error kind naming line and field."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from crawler import manifest
from crawler.errors import ManifestError
from crawler.manifest import Expect, parse_expect, parse_shorthand

HEADER = "version: 1\nname: Test\nbase_url: http://127.0.0.1:8000\n"


def load(body: str, environ: dict[str, str] | None = None) -> manifest.Manifest:
    return manifest.loads(HEADER + textwrap.dedent(body), "t.yaml", environ or {})


def error_of(body: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ManifestError) as caught:
        load(body, environ)
    return str(caught.value)


# --- expectations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "codes", "classes", "text"),
    [
        (200, (200,), (), "200"),
        ([200, 204], (200, 204), (), "200|204"),
        ("200|204", (200, 204), (), "200|204"),
        ("2xx", (), (2,), "2xx"),
        ("2XX|404", (404,), (2,), "404|2xx"),
        ("404", (404,), (), "404"),
    ],
)
def test_parse_expect_accepts(
    value: object, codes: tuple[int, ...], classes: tuple[int, ...], text: str
) -> None:
    expect = parse_expect(value)
    assert (expect.codes, expect.classes, str(expect)) == (codes, classes, text)


@pytest.mark.parametrize("value", ["20O", 99, 600, "6xx", [], True, "200|", 2.5, "abc"])
def test_parse_expect_rejects(value: object) -> None:
    with pytest.raises(ValueError, match=r"is not a status|empty list"):
        parse_expect(value)


@pytest.mark.parametrize(
    ("expect", "status", "matches"),
    [
        (Expect(codes=(200,)), 200, True),
        (Expect(codes=(200,)), 201, False),
        (Expect(classes=(2,)), 204, True),
        (Expect(classes=(2,)), 301, False),
        (Expect(codes=(404,), classes=(2,)), 404, True),
    ],
)
def test_expect_matches(expect: Expect, status: int, matches: bool) -> None:
    assert expect.matches(status) is matches


# --- shorthand -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("GET /api/billing -> 200", {"method": "GET", "path": "/api/billing", "expect": "200"}),
        ("get /api/x -> 200|204", {"method": "GET", "path": "/api/x", "expect": "200|204"}),
        ("DELETE /api/x/1 -> 204", {"method": "DELETE", "path": "/api/x/1", "expect": "204"}),
        ("/api/health", {"path": "/api/health"}),
        ("HEAD /x->2xx", {"method": "HEAD", "path": "/x", "expect": "2xx"}),
    ],
)
def test_shorthand(text: str, fields: dict[str, str]) -> None:
    assert parse_shorthand(text) == fields


def test_full_manifest_loads_in_file_order_with_defaults() -> None:
    loaded = load(
        """
        defaults: {timeout: 3, concurrency: 8, headers: {Accept: application/json}}
        groups:
          Billing:
            - GET /api/billing -> 200
            - method: post
              path: /api/billing/checkout
              expect: [200, 201]
              json: {plan: pro}
              safe: true
              headers: {X-Trace: "1"}
              timeout: 1.5
          Health:
            - /api/health
        """
    )
    planned = loaded.planned()
    assert [(p.group, p.index, p.check.label) for p in planned] == [
        ("Billing", 0, "GET /api/billing"),
        ("Billing", 1, "POST /api/billing/checkout"),
        ("Health", 0, "GET /api/health"),
    ]
    checkout = planned[1]
    assert checkout.check.json_body == {"plan": "pro"}
    assert checkout.check.safe is True
    assert checkout.headers == {"Accept": "application/json", "X-Trace": "1"}
    assert checkout.timeout == 1.5
    assert planned[0].timeout == 3
    assert str(planned[2].check.expect) == "200"  # the default expectation
    assert loaded.defaults.concurrency == 8


def test_json_manifest(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    data = {"version": 1, "name": "J", "app": "a.b:app", "groups": {"G": ["GET /x -> 404"]}}
    path.write_text(json.dumps(data, indent=2))
    loaded = manifest.load(path)
    assert loaded.app == "a.b:app"
    assert str(loaded.planned()[0].check.expect) == "404"


# --- environment -------------------------------------------------------------------------------


def test_env_substitution_with_defaults_and_escape() -> None:
    loaded = manifest.loads(
        textwrap.dedent(
            """\
            version: 1
            name: ${NAME:-fallback}
            base_url: ${BASE_URL}
            groups:
              G:
                - path: /x
                  headers: {Authorization: "Bearer ${API_TOKEN}", X-Price: "$$5"}
            """
        ),
        "t.yaml",
        {"BASE_URL": "https://api.example.test/", "API_TOKEN": "tok-123456"},
    )
    assert loaded.name == "fallback"
    assert loaded.base_url == "https://api.example.test"
    check = loaded.planned()[0].check
    assert check.headers == {"Authorization": "Bearer tok-123456", "X-Price": "$5"}
    assert loaded.secrets == ("tok-123456",)
    assert "tok-123456" not in repr(loaded) or "Authorization" in repr(loaded)


def test_unset_env_without_default_names_variable_and_line() -> None:
    message = error_of(
        """
        groups:
          G:
            - path: /x
              headers: {Authorization: "Bearer ${API_TOKEN}"}
        """
    )
    assert message.startswith("t.yaml:8: groups.G[0].headers.Authorization:")
    assert "API_TOKEN is not set" in message


# --- one test per error kind: file, line, field, what is allowed -------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            'groups:\n  Billing:\n    - GET /a -> 200\n    - {path: /b, expect: "20O"}\n',
            't.yaml:7: groups.Billing[1].expect: "20O" is not a status; use 200, [200, 204]',
        ),
        (
            "groups:\n  Billing:\n    - GET /a -> 20O\n",
            't.yaml:6: groups.Billing[0].expect: "20O" is not a status',
        ),
        (
            "groups:\n  G:\n    - path: /a\n      methd: GET\n",
            "t.yaml:7: groups.G[0].methd: unknown field; allowed here: method, path, headers",
        ),
        (
            "groups:\n  G:\n    - {method: FETCH, path: /a}\n",
            't.yaml:6: groups.G[0].method: "FETCH" is not a method; use one of GET, HEAD',
        ),
        (
            "groups:\n  G:\n    - {path: api/a}\n",
            "t.yaml:6: groups.G[0].path: \"api/a\" is not a path; it must start with '/'",
        ),
        (
            "groups:\n  G:\n    - {expect: 200}\n",
            "t.yaml:6: groups.G[0].path: required field is missing",
        ),
        (
            "groups:\n  G:\n    - 'GET /a -> '\n    - 'GET'\n",
            't.yaml:7: groups.G[1].path: "GET" is not a path',
        ),
        (
            "groups:\n  G: []\n",
            "t.yaml:5: groups.G: [] is empty; a group needs at least one check",
        ),
        (
            "defaults: {concurrency: 0}\ngroups:\n  G: [/a]\n",
            "t.yaml:4: defaults.concurrency: 0: input should be greater than or equal to 1",
        ),
        (
            "defaults: {retries: 3}\ngroups:\n  G: [/a]\n",
            "t.yaml:4: defaults.retries: unknown field; allowed here: timeout, concurrency",
        ),
        (
            "groups:\n  G:\n    - {path: /a, json: {a: 1}, form: {b: 2}}\n",
            "t.yaml:6: groups.G[0]: a check has either a json or a form body, not both",
        ),
        (
            "groups:\n  G:\n    - {path: /a, timeout: -1}\n",
            "t.yaml:6: groups.G[0].timeout: -1: input should be greater than 0",
        ),
        (
            "groups:\n  G: [/a]\n  G: [/b]\n",
            "t.yaml:6: groups.G: duplicate key; each key may appear once",
        ),
    ],
)
def test_error_names_line_field_and_fix(body: str, expected: str) -> None:
    assert expected in error_of(body)


def test_version_and_target_errors() -> None:
    with pytest.raises(ManifestError) as caught:
        manifest.loads("version: 2\nname: X\ngroups: {G: [/a]}\n", "v.yaml", {})
    assert "v.yaml:1: version: 2 is not a supported version; use version: 1" in str(caught.value)
    with pytest.raises(ManifestError) as caught:
        manifest.loads("version: 1\nname: X\nbase_url: ftp://x\ngroups: {G: [/a]}\n", "v.yaml", {})
    assert 'v.yaml:3: base_url: "ftp://x": not an http(s) URL' in str(caught.value)
    with pytest.raises(ManifestError) as caught:
        manifest.loads(
            "version: 1\nname: X\nbase_url: http://a\napp: m:app\ngroups: {G: [/a]}\n", "v.yaml", {}
        )
    assert "set base_url or app, not both" in str(caught.value)


def test_missing_top_level_fields_are_all_reported() -> None:
    with pytest.raises(ManifestError) as caught:
        manifest.loads("base_url: http://a\n", "m.yaml", {})
    issues = {issue.field for issue in caught.value.issues}
    assert issues == {"version", "name", "groups"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\nname: [unclosed\n", "m.yaml:3: not valid YAML"),
        ("", "m.yaml: the file is empty"),
        ("- a\n- b\n", "m.yaml:1: a manifest is a mapping"),
    ],
)
def test_unreadable_yaml(text: str, expected: str) -> None:
    with pytest.raises(ManifestError) as caught:
        manifest.loads(text, "m.yaml", {})
    assert str(caught.value).startswith(expected)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file"):
        manifest.load(tmp_path / "absent.yaml")


def test_json_schema_accepts_shorthand_and_describes_expect() -> None:
    schema = manifest.json_schema()
    group = schema["properties"]["groups"]["additionalProperties"]
    assert {"$ref": "#/$defs/Group"} in group["anyOf"]  # a list of checks, or a mapping
    items = schema["$defs"]["Group"]["properties"]["checks"]["items"]
    assert {"$ref": "#/$defs/Check"} in items["anyOf"]
    assert any(option.get("type") == "string" for option in items["anyOf"])
    check = schema["$defs"]["Check"]["properties"]
    assert "json" in check and "expect" in check
    assert schema["required"] == ["version", "name", "groups"]
