"""Body assertions: each kind judged on realistic answers, bad specs as located errors,
the OpenAPI schema binding, and the engine turning a failed assertion into FAIL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from crawler import assertions, engine, manifest
from crawler.assertions import Answer, Assertions, bind, evaluate, response_schemas
from crawler.errors import ManifestError
from crawler.manifest import PlannedCheck

INVOICES = {
    "invoices": [{"id": "inv_0001", "amount_cents": 1900}, {"id": "inv_0002", "amount_cents": 0}],
    "total": 2,
    "orgId": "org_42",
    "owner": {"id": 7, "email": "ada@acme.io"},
}
JSON_HEADERS = {"content-type": "application/json; charset=utf-8"}


def answer(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Answer(status, JSON_HEADERS if headers is None else headers, data, len(data))


def spec(data: dict[str, Any]) -> Assertions:
    return Assertions.model_validate(data)


def failures(data: dict[str, Any], body: Any = INVOICES, **kwargs: Any) -> list[str]:
    return [str(f) for f in evaluate(spec(data), answer(body), **kwargs)]


# --- json conditions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({"$.invoices": {"type": "array", "len": "> 0"}}, []),
        ({"$.invoices": {"len": 2}}, []),
        ({"$.invoices": {"len": "== 3"}}, ["$.invoices: expected len == 3, got 2"]),
        ({"$.invoices": {"len": ">= 1"}}, []),
        (
            {"$.owner": {"type": "array"}},
            ['$.owner: expected type array, got object {"id": 7, "email": "ada@acme.io"}'],
        ),
        ({"$.total": {"type": "number", "equals": 2}}, []),
        ({"$.total": {"equals": 3}}, ["$.total: expected 3, got 2"]),
        ({"$.invoices[*].id": {"matches": "^inv_\\d{4}$"}}, []),
        (
            {"$.invoices[*].amount_cents": {"matches": "^[1-9]"}},
            ["$.invoices[*].amount_cents: expected to match ^[1-9], got 0"],
        ),
        ({"$.owner.email": {"exists": True}}, []),
        ({"$.owner.phone": {"exists": True}}, ["$.owner.phone: expected to exist, got no match"]),
        ({"$.owner.phone": {"exists": False}}, []),
        (
            {"$.owner.email": {"exists": False}},
            ['$.owner.email: expected no match, got "ada@acme.io"'],
        ),
        ({"$.owner": {"type": "object", "len": 2}}, []),
        ({"$.total": {"len": "> 0"}}, ["$.total: expected len > 0, got number 2"]),
        ({"$.missing": {"type": "null"}}, ["$.missing: expected to exist, got no match"]),
    ],
)
def test_json_conditions(conditions: dict[str, Any], expected: list[str]) -> None:
    assert failures({"json": conditions}) == expected


def test_an_empty_list_fails_len_with_the_path_expected_and_actual() -> None:
    body = {"items": [], "total": 0}
    assert failures({"json": {"$.items": {"type": "array", "len": "> 0"}}}, body) == [
        "$.items: expected len > 0, got 0"
    ]


def test_types_are_json_types_and_true_is_not_one() -> None:
    body = {"flag": True, "count": 1, "none": None, "name": "x"}
    assert failures({"json": {"$.flag": {"type": "bool", "equals": True}}}, body) == []
    assert failures({"json": {"$.count": {"equals": True}}}, body) == [
        "$.count: expected true, got 1"
    ]
    assert (
        failures({"json": {"$.none": {"type": "null"}, "$.name": {"type": "string"}}}, body) == []
    )


def test_equals_fills_captured_values_as_the_request_does() -> None:
    values = {"org_id": "org_42", "user_id": "7"}

    def fill(text: str) -> str | None:
        from crawler.auth import MissingCapture
        from crawler.auth import fill as fill_

        try:
            return fill_(text, values)
        except MissingCapture:
            return None

    conditions = {"$.orgId": {"equals": "{org_id}"}, "$.owner.id": {"equals": "{user_id}"}}
    assert failures({"json": conditions}, fill=fill) == []
    other = {**INVOICES, "orgId": "org_7"}
    assert failures({"json": {"$.orgId": {"equals": "{org_id}"}}}, other, fill=fill) == [
        '$.orgId: expected "org_42", got "org_7"'
    ]
    assert failures({"json": {"$.orgId": {"equals": "{nope}"}}}, fill=fill) == [
        '$.orgId: expected "{nope}", got no captured value to compare with'
    ]


def test_long_actual_values_are_cut() -> None:
    body = {"text": "x" * 500}
    (failure,) = failures({"json": {"$.text": {"equals": "y"}}}, body)
    assert len(failure) < 100 and failure.endswith("…")


# --- text, headers, size -----------------------------------------------------------------------


def test_contains_and_not_contains() -> None:
    assert failures({"contains": "inv_0001", "not_contains": ["lorem ipsum", "TODO"]}) == []
    assert failures({"contains": ["inv_0001", "inv_0099"]}) == [
        'body: expected to contain "inv_0099", got no such text'
    ]
    assert failures({"not_contains": "acme"}) == [
        'body: expected not to contain "acme", got it does'
    ]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"content-type": "^application/json"}, []),
        ({"Content-Type": "^application/json"}, []),  # names are case-insensitive
        (
            {"content-type": "application/json"},
            [
                "header content-type: expected application/json, "
                'got "application/json; charset=utf-8"'
            ],
        ),
        (
            {"content-type": "^text/html"},
            ['header content-type: expected ^text/html, got "application/json; charset=utf-8"'],
        ),
        ({"x-request-id": "^\\w+$"}, ["header x-request-id: expected ^\\w+$, got no such header"]),
    ],
)
def test_headers_exact_or_regex(headers: dict[str, str], expected: list[str]) -> None:
    assert failures({"headers": headers}) == expected


def test_max_bytes_counts_the_body_and_a_cut_body_is_over() -> None:
    size = len(json.dumps(INVOICES))
    assert failures({"max_bytes": size}) == []
    assert failures({"max_bytes": size - 1}) == [
        f"body: expected at most {size - 1} bytes, got {size} bytes"
    ]
    # The engine reads one byte more than max_bytes (up to 16 MiB): cut there, it is over.
    cut = Answer(200, JSON_HEADERS, b"x" * 1001, 1001, truncated=True)
    assert [str(f) for f in evaluate(spec({"max_bytes": 1000}), cut)] == [
        "body: expected at most 1000 bytes, got more than 1001 bytes"
    ]
    # Cut before the limit (a limit over 16 MiB): not known to break it, not judged.
    early = Answer(200, JSON_HEADERS, b"x" * 100, 100, truncated=True)
    assert evaluate(spec({"max_bytes": 1000}), early) == []


def test_a_body_cut_at_the_cap_is_said_so_not_called_invalid_json() -> None:
    body = json.dumps({"items": list(range(1000))}).encode()[:500]
    cut = Answer(200, JSON_HEADERS, body, 500, truncated=True)
    (failure,) = evaluate(spec({"json": {"$.items": {"len": "> 0"}}}), cut)
    assert str(failure) == (
        "$.items: expected a whole JSON body, got a body cut at 500 bytes (over the cap): "
        "not evaluated"
    )


def test_a_body_that_is_not_json_says_what_it_is() -> None:
    html = Answer(200, {"Content-Type": "text/html"}, b"<!doctype html><p>hi", 20)
    assert [str(f) for f in evaluate(spec({"json": {"$.a": {"exists": True}}}), html)] == [
        "$.a: expected a JSON body, got text/html that is not JSON"
    ]


# --- schema ------------------------------------------------------------------------------------

INVOICE_SCHEMA = {
    "type": "object",
    "required": ["invoices", "total"],
    "properties": {
        "invoices": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "string"}, "amount_cents": {"type": "integer"}},
            },
        },
        "total": {"type": "integer"},
    },
}


def test_inline_schema() -> None:
    assert failures({"schema": INVOICE_SCHEMA}) == []
    bad = {**INVOICES, "invoices": [{"id": 1}]}
    assert failures({"schema": INVOICE_SCHEMA}, bad) == [
        "schema at $.invoices[0].id: expected type \"string\", got 1 is not of type 'string'"
    ]


OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "paths": {
        "/api/invoices/{id}": {
            "get": {
                "responses": {
                    "200": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Invoice"}}
                        }
                    },
                    "404": {"$ref": "#/components/responses/NotFound"},
                }
            }
        }
    },
    "components": {
        "schemas": {
            "Invoice": {
                "type": "object",
                "required": ["id", "paid_at"],
                "properties": {
                    "id": {"type": "string"},
                    "paid_at": {"type": "string", "nullable": True},
                    "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                },
            },
            "Line": {
                "type": "object",
                "required": ["cents"],
                "properties": {"cents": {"type": "integer"}},
            },
            "Error": {"type": "object", "required": ["detail"]},
        },
        "responses": {
            "NotFound": {
                "description": "Not found",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        },
    },
}


def from_openapi(path: str = "/api/invoices/7") -> Assertions:
    return bind(spec({"schema": {"from": "openapi"}}), OPENAPI, "GET", path)


def test_schema_from_openapi_resolves_refs_and_nullable() -> None:
    bound = from_openapi()
    good = {"id": "inv_7", "paid_at": None, "lines": [{"cents": 100}]}
    assert evaluate(bound, answer(good)) == []
    bad = {"id": "inv_7", "paid_at": None, "lines": [{"cents": "100"}]}
    (failure,) = evaluate(bound, answer(bad))
    assert failure.where == "schema at $.lines[0].cents"
    assert "'100' is not of type 'integer'" in failure.got
    # The 404's schema is a $ref to a shared response.
    assert evaluate(bound, answer({"detail": "no"}, status=404)) == []
    assert [f.where for f in evaluate(bound, answer({"x": 1}, status=404))] == ["schema at $"]


def test_schema_from_openapi_without_the_operation_or_the_status_fails_clearly() -> None:
    assert [str(f) for f in evaluate(from_openapi("/api/nothing"), answer({}))] == [
        "schema: expected the documented response schema, got the OpenAPI document has no "
        "operation GET /api/nothing"
    ]
    assert [str(f) for f in evaluate(from_openapi(), answer({}, status=201))] == [
        "schema: expected a documented JSON schema for 201, got none in the OpenAPI document"
    ]
    unbound = spec({"schema": {"from": "openapi"}})
    assert [str(f) for f in evaluate(unbound, answer({}))] == [
        "schema: expected the documented response schema, got no OpenAPI document (set "
        "inventory: {openapi: ...})"
    ]


def test_swagger_2_response_schemas() -> None:
    document = {
        "swagger": "2.0",
        "paths": {
            "/pets": {"get": {"responses": {"200": {"schema": {"$ref": "#/definitions/Pets"}}}}}
        },
        "definitions": {"Pets": {"type": "array", "items": {"type": "string"}}},
    }
    found = response_schemas(document, "GET", "/pets")
    assert isinstance(found, dict) and set(found) == {"200"}
    bound = bind(spec({"schema": {"from": "openapi"}}), document, "GET", "/pets")
    assert evaluate(bound, answer(["rex"])) == []
    assert len(evaluate(bound, answer([1]))) == 1


# --- where assertions apply --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected_2xx", "status", "applies"),
    [(True, 200, True), (True, 401, False), (True, 404, False), (False, 422, True)],
)
def test_assertions_judge_the_data_not_an_expected_denial(
    expected_2xx: bool, status: int, applies: bool
) -> None:
    assert assertions.applies(expected_2xx, status) is applies


# --- the manifest ------------------------------------------------------------------------------

MANIFEST = """\
version: 1
name: t
base_url: http://127.0.0.1:9
groups:
  G:
    - path: /api/x
      assert:
{block}
"""


def load_assert(block: str) -> manifest.Manifest:
    indented = "\n".join(f"        {line}" for line in block.splitlines())
    return manifest.loads(MANIFEST.format(block=indented), "m.yaml")


def test_the_manifest_reads_every_kind() -> None:
    loaded = load_assert(
        'json: {"$.items": {type: array, len: "> 0"}, "$.orgId": {equals: "{org_id}"}}\n'
        "contains: items\n"
        "not_contains: [TODO]\n"
        "headers: {content-type: ^application/json}\n"
        "max_bytes: 1000\n"
        "schema: {type: object}\n"
    )
    check = loaded.groups["G"].checks[0]
    assert check.assert_ is not None
    assert set(check.assert_.json_) == {"$.items", "$.orgId"}
    assert check.assert_.contains == ("items",)
    assert check.assert_.schema_ is not None and check.assert_.schema_.inline == {"type": "object"}


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            'json: {"$.items[": {exists: true}}',
            'm.yaml:8: groups.G[0].assert.json: "$.items[" is not a valid JSONPath',
        ),
        (
            'json: {"items": {exists: true}}',
            'm.yaml:8: groups.G[0].assert.json: "items" is not a JSONPath; start it with $',
        ),
        (
            'json: {"$.a": {len: "about 3"}}',
            'm.yaml:8: groups.G[0].assert.json.$.a.len: "about 3" is not a length condition',
        ),
        (
            'json: {"$.a": {matches: "("}}',
            'm.yaml:8: groups.G[0].assert.json.$.a.matches: regex "(" does not compile',
        ),
        ('json: {"$.a": {type: list}}', "m.yaml:8: groups.G[0].assert.json.$.a.type:"),
        (
            'json: {"$.a": {colour: red}}',
            "m.yaml:8: groups.G[0].assert.json.$.a.colour: unknown field; "
            "allowed here: exists, equals, type, len, matches",
        ),
        ('json: {"$.a": {}}', "m.yaml:8: groups.G[0].assert.json.$.a: an empty condition"),
        (
            "headers: {content-type: ^(json}",
            'm.yaml:8: groups.G[0].assert.headers: regex "^(json" does not compile',
        ),
        ("schema: {type: nope}", "m.yaml:8: groups.G[0].assert.schema: not a valid JSON Schema"),
        (
            "schema: {from: swagger}",
            'm.yaml:8: groups.G[0].assert.schema: schema from "swagger": '
            "the only source is openapi",
        ),
        ("max_bytes: 0", "m.yaml:8: groups.G[0].assert.max_bytes:"),
        (
            "colour: red",
            "m.yaml:8: groups.G[0].assert.colour: unknown field; "
            "allowed here: json, contains, not_contains, headers, max_bytes, schema",
        ),
    ],
)
def test_bad_assertions_are_located_errors(block: str, message: str) -> None:
    with pytest.raises(ManifestError) as raised:
        load_assert(block)
    assert str(raised.value).startswith(message), str(raised.value)


# --- through the engine ------------------------------------------------------------------------


def planned(check: dict[str, Any], identity: str = "anonymous") -> PlannedCheck:
    loaded = manifest.loads(
        json.dumps({"version": 1, "name": "t", "base_url": "http://t", "groups": {"G": [check]}})
    )
    return loaded.planned()[0]


async def crawl_one(
    check: dict[str, Any], body: bytes, headers: dict[str, str] | None = None, status: int = 200
) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers or JSON_HEADERS)

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="http://t"
    ) as client:
        (result,) = await engine.crawl([planned(check)], client, engine.Settings())
    return result


@pytest.mark.anyio
async def test_a_failed_assertion_is_a_fail_with_every_failure_listed() -> None:
    check = {
        "path": "/api/items",
        "assert": {
            "json": {"$.items": {"type": "array", "len": "> 0"}, "$.total": {"equals": 1}},
            "headers": {"content-type": "^application/json"},
        },
    }
    result = await crawl_one(check, b'{"items": [], "total": 0}')
    assert result.verdict == "FAIL"
    assert result.reason == "$.items: expected len > 0, got 0"
    assert result.assertions == ("$.items: expected len > 0, got 0", "$.total: expected 1, got 0")
    assert result.observation.body_excerpt == '{"items": [], "total": 0}'  # kept: it failed
    passing = await crawl_one(check, b'{"items": [1], "total": 1}')
    assert passing.verdict == "PASS" and passing.assertions == ()
    assert passing.observation.body_excerpt == ""  # a pass keeps no body


@pytest.mark.anyio
async def test_assertions_read_the_whole_body_not_the_excerpt() -> None:
    items = [{"id": n, "name": "x" * 50} for n in range(400)]  # ~25 KB, over the 8 KB excerpt
    check = {"path": "/api/items", "assert": {"json": {"$.items": {"len": 400}}}}
    result = await crawl_one(check, json.dumps({"items": items}).encode())
    assert result.verdict == "PASS", result.reason


@pytest.mark.anyio
async def test_an_expected_denial_is_not_asserted_on() -> None:
    check = {
        "path": "/api/items",
        "expect": "200|401",
        "assert": {"json": {"$.items": {"exists": True}}},
    }
    result = await crawl_one(check, b'{"detail": "sign in"}', status=401)
    assert result.verdict == "PASS"


@pytest.mark.anyio
async def test_a_known_failure_on_an_assertion_is_xfail() -> None:
    check = {
        "path": "/api/items",
        "known": {"ticket": "T-9"},
        "assert": {"json": {"$.items": {"len": "> 0"}}},
    }
    result = await crawl_one(check, b'{"items": []}')
    assert result.verdict == "XFAIL"
    assert result.reason.startswith("$.items: expected len > 0, got 0 (known: T-9")


@pytest.mark.anyio
async def test_secrets_in_a_failed_assertion_are_redacted() -> None:
    check = {"path": "/api/me", "assert": {"json": {"$.token": {"equals": "x"}}}}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"token": "s3cr3t-value"})

    from crawler.redact import Redactor

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="http://t"
    ) as client:
        (result,) = await engine.crawl(
            [planned(check)], client, engine.Settings(), redactor=Redactor(["s3cr3t-value"])
        )
    assert result.verdict == "FAIL"
    assert "s3cr3t-value" not in result.reason and "s3cr3t-value" not in str(result.assertions)


def test_old_runs_load_without_the_new_fields(tmp_path: Path) -> None:
    from crawler.results import load_run

    old = {
        "schema": "crawler.run/1",
        "name": "old",
        "manifest": "m.yaml",
        "target": "http://t",
        "started_at": "2026-01-01T00:00:00Z",
        "duration_s": 0.1,
        "settings": {
            "concurrency": 1,
            "timeout": 1,
            "allow_mutations": False,
            "transport": "httpx",
        },
        "results": [
            {
                "group": "G",
                "index": 0,
                "method": "GET",
                "path": "/x",
                "expect": "200",
                "request": {"method": "GET", "url": "http://t/x"},
                "observation": {"kind": "response", "status": 200, "elapsed_ms": 1},
                "verdict": "PASS",
                "reason": "",
            }
        ],
    }
    path = tmp_path / "run.json"
    path.write_text(json.dumps(old))
    run = load_run(path)
    assert run.results[0].stub is None and run.results[0].assertions == ()


def test_the_manifest_json_schema_accepts_the_demo_assertions() -> None:
    """Editors validate manifests with `crawler schema`: the demo's `assert:` blocks pass it,
    and `schema: {from: ...}` other than openapi does not."""
    import yaml
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(manifest.json_schema())
    data = yaml.safe_load((Path(__file__).parent.parent / "specs" / "demo.yaml").read_text())
    data = {key: value for key, value in data.items() if not key.startswith("x-")}
    assert list(validator.iter_errors(data)) == []
    check = {"path": "/x", "assert": {"schema": {"from": "swagger"}}}
    bad = {"version": 1, "name": "t", "groups": {"G": [check]}}
    assert list(validator.iter_errors(bad)) != []


def test_the_operation_with_the_fewest_parameters_serves_a_path_under_the_base_path() -> None:
    def ok(schema_type: str) -> dict[str, Any]:
        content = {"application/json": {"schema": {"type": schema_type}}}
        return {"get": {"responses": {"200": {"content": content}}}}

    document = {
        "openapi": "3.1.0",
        "servers": [{"url": "https://api.example.test/api"}],
        "paths": {"/users/{id}": ok("object"), "/users/me": ok("array")},
    }
    me = response_schemas(document, "GET", "/api/users/me")
    one = response_schemas(document, "GET", "/api/users/7")
    assert isinstance(me, dict) and me["200"]["allOf"] == [{"type": "array"}]
    assert isinstance(one, dict) and one["200"]["allOf"] == [{"type": "object"}]
    assert response_schemas(document, "POST", "/api/users/7") == (
        "the OpenAPI document has no operation POST /api/users/7"
    )


def run_manifest(tmp_path: Path, text: str) -> Any:
    from crawler import runner

    path = tmp_path / "m.yaml"
    path.write_text(text)
    loaded = manifest.load(path, environ={})
    assert loaded.app is not None
    return runner.execute(
        loaded,
        path,
        engine.Target(app=loaded.app),
        engine.Settings(),
        place=runner.inventory_place(loaded, path, None),
    )


SCHEMA_CHECKS = """\
version: 1
name: schemas
app: crawler.demo.app:app
{inventory}
groups:
  G:
    - {{path: /api/billing/plans, assert: {{schema: {{from: openapi}}}}}}
    - {{path: /api/health, assert: {{schema: {{from: openapi}}}}}}
"""


def test_the_runner_reads_the_document_before_the_crawl_for_openapi_schemas(
    tmp_path: Path,
) -> None:
    run = run_manifest(
        tmp_path, SCHEMA_CHECKS.format(inventory="inventory: {openapi: /openapi.json}")
    )
    plans, health = run.results
    assert plans.verdict == "PASS", plans.reason
    assert health.verdict == "FAIL"
    assert health.reason == (
        "schema: expected a documented JSON schema for 200, got none in the OpenAPI document"
    )
    assert run.inventory is not None  # the document served the 404 diagnosis too


def test_without_an_openapi_inventory_the_schema_assertion_says_so(tmp_path: Path) -> None:
    run = run_manifest(tmp_path, SCHEMA_CHECKS.format(inventory=""))
    assert {r.reason for r in run.results} == {
        "schema: expected the documented response schema, got no OpenAPI document "
        "(set inventory: {openapi: ...})"
    }


def test_schema_from_openapi_with_other_keys_is_a_located_error() -> None:
    text = (
        "version: 1\nname: x\ngroups:\n  G:\n"
        "    - {path: /a, assert: {schema: {from: openapi, type: string}}}\n"
    )
    with pytest.raises(ManifestError) as caught:
        manifest.loads(text, "m.yaml")
    assert "m.yaml:5" in str(caught.value)
    assert "{from: openapi} takes nothing else (found type)" in str(caught.value)
