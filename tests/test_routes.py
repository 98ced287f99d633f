"""Route inventory: path normalisation, route lists, OpenAPI/Swagger import, answered checks."""

from __future__ import annotations

import doctest
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawler import routes
from crawler.routes import (
    Inventory,
    InventoryError,
    Route,
    from_openapi,
    from_passed,
    from_route_list,
    load_document,
    load_file,
    looks_like_value,
    module_of,
    normalise,
)


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(routes).failed == 0


# --- normalise -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # every parameter spelling is one placeholder
        ("/api/users/{id}", "/api/users/{}"),
        ("/api/users/{id:int}", "/api/users/{}"),  # Starlette converter
        ("/api/users/:id", "/api/users/{}"),  # Express / Hono
        ("/api/users/:id?", "/api/users/{}"),  # optional
        ("/api/files/:path*", "/api/files/{}"),  # path-to-regexp modifier
        ("/api/users/<int:id>", "/api/users/{}"),  # Flask with converter
        ("/api/users/<id>", "/api/users/{}"),  # Flask
        ("/api/users/[id]", "/api/users/{}"),  # Next.js
        ("/api/docs/[...slug]", "/api/docs/{}"),  # Next.js catch-all
        ("/api/docs/[[...slug]]", "/api/docs/{}"),  # Next.js optional catch-all
        ("/static/*", "/static/{}"),  # wildcard
        ("/api/orgs/:orgId/members/{memberId}", "/api/orgs/{}/members/{}"),
        # query, fragment and slashes
        ("/api/users?limit=10", "/api/users"),
        ("/api/users#top", "/api/users"),
        ("/api/users?x=1#top", "/api/users"),
        ("/api/users/", "/api/users"),
        ("/api//users///", "/api/users"),
        ("/", "/"),
        ("", "/"),
        # literal words are left alone, even with a colon or brackets inside
        ("/api/users/me", "/api/users/me"),
        ("/api/v1/users", "/api/v1/users"),
        ("/api/audit-logs", "/api/audit-logs"),
        ("/api/a:b", "/api/a:b"),
    ],
)
def test_normalise(path: str, expected: str) -> None:
    assert normalise(path) == expected


def test_every_spelling_compares_equal() -> None:
    spellings = [
        "/api/users/{id}",
        "/api/users/:id",
        "/api/users/:id?",
        "/api/users/<int:id>",
        "/api/users/<id>",
        "/api/users/[id]",
        "/api/users/[...id]",
        "/api/users/[[...id]]",
        "/api/users/*",
    ]
    assert {Route.of("GET", p) for p in spellings} == {Route.of("GET", "/api/users/{id}")}


@pytest.mark.parametrize(
    ("segment", "value"),
    [
        ("42", True),
        ("0", True),
        ("3fa85f64-5717-4562-b3fc-2c963f66afa6", True),  # UUID
        ("9f86d081884c7d659a2feaa0c55ad015", True),  # hex digest
        ("rec_001", True),  # prefixed ids
        ("org_42", True),
        ("cus_NffrFeUfNV2Hib", True),
        ("01hq3k5z8x9v7w6t5r4p3n2m1k", True),  # ULID-like token
        ("{}", True),
        ("me", False),
        ("manage", False),
        ("audit-logs", False),
        ("audit_logs", False),
        ("v1", False),
        ("oauth2", False),
        ("abc", False),
    ],
)
def test_looks_like_value(segment: str, value: bool) -> None:
    assert looks_like_value(segment) is value


# --- Route ---------------------------------------------------------------------------------------


def test_route_of_records_the_trailing_slash_and_the_written_path() -> None:
    route = Route.of("get", "/api/items/{item_id}/?expand=1")
    assert (route.method, route.template, route.slash) == ("GET", "/api/items/{}", True)
    assert route.shown == "/api/items/{item_id}"
    assert str(route) == "GET /api/items/{}"
    assert Route.of("GET", "/").slash is False


def test_route_matches_concrete_paths_and_templates() -> None:
    route = Route.of("GET", "/api/users/{id}")
    assert route.matches("GET", "/api/users/42")
    assert route.matches("GET", "/api/users/:user_id")
    assert route.matches("HEAD", "/api/users/42")  # a GET route answers HEAD
    assert not route.matches("POST", "/api/users/42")
    assert not route.matches("GET", "/api/users")
    assert not route.matches("GET", "/api/users/42/notes")
    assert Route.parse("ANY /api/proxy").matches("DELETE", "/api/proxy")


@pytest.mark.parametrize(
    ("line", "method", "template"),
    [
        ("GET /api/users/{id}", "GET", "/api/users/{}"),
        ("get /api/users/:id", "GET", "/api/users/{}"),  # lowercase method
        ("Post /api/users", "POST", "/api/users"),
        ("/api/health", "GET", "/api/health"),  # no method means GET
        ("ANY /api/proxy/*", "*", "/api/proxy/{}"),
        ("all /api/proxy", "*", "/api/proxy"),
        ("DELETE   /api/users/<int:id>   # trailing words are ignored", "DELETE", "/api/users/{}"),
    ],
)
def test_route_parse(line: str, method: str, template: str) -> None:
    route = Route.parse(line)
    assert (route.method, route.template) == (method, template)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("FETCH /api/users", "'FETCH' is not an HTTP method"),
        ("GET api/users", "'api/users' is not a path"),
    ],
)
def test_route_parse_rejects(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Route.parse(line)


# --- route lists ---------------------------------------------------------------------------------

ROUTE_LIST = """\
# the backend's routes, from `flask routes`
GET /api/users
get /api/users/<int:id>     # a comment after a route

POST /api/users
ANY /api/proxy/*
   PATCH /api/users/:id
/api/health
GET /api/items/
"""


def test_route_list_skips_comments_and_blank_lines() -> None:
    inventory = from_route_list(ROUTE_LIST, "routes.txt")
    assert inventory.source == "routes.txt"
    assert [str(r) for r in inventory.routes] == [
        "GET /api/users",
        "GET /api/users/{}",
        "POST /api/users",
        "* /api/proxy/{}",
        "PATCH /api/users/{}",
        "GET /api/health",
        "GET /api/items",
    ]
    assert len(inventory) == 7
    assert inventory.routes[-1].slash


def test_route_list_bad_method_names_file_and_line() -> None:
    text = "GET /api/users\n\n# fine so far\nFETCH /api/users/{id}\n"
    with pytest.raises(InventoryError) as caught:
        from_route_list(text, "backend-routes.txt")
    message = str(caught.value)
    assert message.startswith("backend-routes.txt:4: 'FETCH' is not an HTTP method")
    assert "one route per line, e.g. GET /api/users/{id}" in message


def test_inventory_queries() -> None:
    inventory = from_route_list(ROUTE_LIST)
    assert inventory.serves("GET", "/api/users/42")
    assert inventory.serves("HEAD", "/api/users/42")
    assert inventory.serves("PUT", "/api/proxy/anything")  # ANY
    assert not inventory.serves("DELETE", "/api/users/42")
    assert [str(r) for r in inventory.serving("PATCH", "/api/users/7")] == ["PATCH /api/users/{}"]
    assert inventory.methods_for("/api/users/7") == {"GET", "PATCH"}
    assert inventory.methods_for("/api/users") == {"GET", "POST"}
    assert inventory.methods_for("/api/nothing") == set()
    assert "/api/users/{}" in inventory.templates()


def test_merged_keeps_both_sources_and_drops_duplicates() -> None:
    a = from_route_list("GET /api/users\nGET /api/users/{id}", "openapi.json")
    b = from_route_list("GET /api/users/:id\nGET /api/health", "checks that answered")
    merged = a.merged(b)
    assert merged.source == "openapi.json + checks that answered"
    assert [str(r) for r in merged.routes] == [
        "GET /api/users",
        "GET /api/users/{}",
        "GET /api/health",
    ]
    assert Inventory(()).merged(b).source == "checks that answered"


def test_shown_prefers_openapi_style_names() -> None:
    express_first = from_route_list("GET /api/users/:id\nPATCH /api/users/{user_id}\n")
    assert express_first.shown("/api/users/{}") == "/api/users/{user_id}"
    assert express_first.shown("/api/unknown") == "/api/unknown"  # not served: as given


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("/api/users/:id", "/api/users/{id}"),
        ("/api/users/:id?", "/api/users/{id}"),
        ("/api/users/<int:user_id>/notes", "/api/users/{user_id}/notes"),
        ("/api/users/<name>", "/api/users/{name}"),
        ("/api/docs/[...slug]", "/api/docs/{slug}"),
        ("/api/docs/[[...slug]]", "/api/docs/{slug}"),
        ("/api/users/[id]", "/api/users/{id}"),
        ("/api/users/{id:int}", "/api/users/{id}"),
        ("/static/*", "/static/{}"),
        ("/api/audit-logs/", "/api/audit-logs"),
    ],
)
def test_shown_names_every_parameter_spelling(written: str, shown: str) -> None:
    inventory = from_route_list(f"GET {written}\n")
    assert inventory.shown(normalise(written)) == shown


# --- OpenAPI / Swagger ---------------------------------------------------------------------------

OPENAPI_3 = {
    "openapi": "3.1.0",
    "info": {"title": "Shop", "version": "1"},
    "servers": [{"url": "https://shop.example.com/api/v1/"}, {"url": "/other"}],
    "paths": {
        "/users": {"get": {}, "post": {}, "parameters": [], "summary": "users"},
        "/users/{userId}": {"get": {}, "delete": {}},
        "/health": {"head": {}, "options": {}, "trace": {}},
        "/broken": "not an object",
    },
}

SWAGGER_2 = {
    "swagger": "2.0",
    "info": {"title": "Legacy", "version": "1"},
    "basePath": "/legacy/",
    "paths": {"/orders/{id}": {"get": {}, "put": {}}, "/orders": {"get": {}}},
}


def test_openapi_3_with_a_server_path_prefix() -> None:
    inventory = from_openapi(OPENAPI_3, "openapi.json")
    assert inventory.source == "openapi.json"
    assert sorted(str(r) for r in inventory.routes) == [
        "DELETE /api/v1/users/{}",
        "GET /api/v1/users",
        "GET /api/v1/users/{}",
        "HEAD /api/v1/health",
        "OPTIONS /api/v1/health",
        "POST /api/v1/users",
    ]
    assert inventory.shown("/api/v1/users/{}") == "/api/v1/users/{userId}"


@pytest.mark.parametrize(
    ("servers", "prefix"),
    [
        ([{"url": "/api"}], "/api"),  # a relative server URL
        ([{"url": "http://localhost:8000"}], ""),  # no path
        ([{"url": "{scheme}://host/base"}], ""),  # templated: not a path we can trust
        ([], ""),
    ],
)
def test_openapi_3_server_prefixes(servers: list[dict[str, str]], prefix: str) -> None:
    inventory = from_openapi({"openapi": "3.0.0", "servers": servers, "paths": {"/x": {"get": {}}}})
    assert [r.template for r in inventory.routes] == [f"{prefix}/x"]


def test_swagger_2_with_base_path() -> None:
    inventory = from_openapi(SWAGGER_2, "swagger.json")
    assert sorted(str(r) for r in inventory.routes) == [
        "GET /legacy/orders",
        "GET /legacy/orders/{}",
        "PUT /legacy/orders/{}",
    ]


@pytest.mark.parametrize(
    "document",
    [{"openapi": "3.0.0"}, {"paths": ["/users"]}, {"name": "a manifest", "groups": {}}],
)
def test_a_document_without_paths_is_not_an_inventory(document: dict[str, object]) -> None:
    with pytest.raises(InventoryError, match=r"^doc\.json: not an OpenAPI or Swagger document"):
        from_openapi(document, "doc.json")


def test_load_document_reads_json_and_yaml() -> None:
    assert load_document(json.dumps(SWAGGER_2), "s.json") == SWAGGER_2
    yaml_text = "openapi: 3.0.0\npaths:\n  /users/{id}:\n    get: {}\n"
    assert load_document(yaml_text, "s.yaml")["paths"] == {"/users/{id}": {"get": {}}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "not an OpenAPI document (expected a mapping)"),
        ("just words", "not an OpenAPI document (expected a mapping)"),
        ("a: [unclosed", "neither JSON nor YAML"),
    ],
)
def test_load_document_rejects(text: str, message: str) -> None:
    with pytest.raises(
        InventoryError, match=r"^doc: " + message.replace("(", r"\(").replace(")", r"\)")
    ):
        load_document(text, "doc")


# --- files ---------------------------------------------------------------------------------------


def test_load_file_openapi_json(tmp_path: Path) -> None:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(OPENAPI_3))
    inventory = load_file(path)
    assert inventory.source == str(path)
    assert inventory.serves("GET", "/api/v1/users/7")


def test_load_file_openapi_yaml(tmp_path: Path) -> None:
    path = tmp_path / "openapi.yaml"
    path.write_text(
        "openapi: 3.0.3\nservers:\n  - url: /api\npaths:\n"
        "  /recordings/{id}:\n    get:\n      summary: one recording\n"
    )
    inventory = load_file(path)
    assert [str(r) for r in inventory.routes] == ["GET /api/recordings/{}"]
    assert inventory.shown("/api/recordings/{}") == "/api/recordings/{id}"


def test_load_file_swagger_yml(tmp_path: Path) -> None:
    path = tmp_path / "swagger.yml"
    path.write_text("swagger: '2.0'\nbasePath: /legacy\npaths:\n  /orders:\n    get: {}\n")
    assert [str(r) for r in load_file(path).routes] == ["GET /legacy/orders"]


def test_load_file_route_list(tmp_path: Path) -> None:
    path = tmp_path / "routes.txt"
    path.write_text(ROUTE_LIST)
    inventory = load_file(path)
    assert inventory.source == str(path)
    assert len(inventory) == 7


def test_load_file_route_list_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "routes.txt"
    path.write_text("GET /a\nGIT /b\n")
    with pytest.raises(InventoryError, match=rf"^{path}:2: 'GIT' is not an HTTP method"):
        load_file(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("openapi.json", "[]", "not an OpenAPI document"),
        ("openapi.json", "{not json", "neither JSON nor YAML"),
        ("latin1.txt", b"GET /caf\xe9", "cannot be read"),
    ],
)
def test_load_file_rejects(tmp_path: Path, name: str, content: str | bytes, message: str) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(InventoryError, match=message):
        load_file(path)


def test_load_file_missing(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot be read"):
        load_file(tmp_path / "nope.txt")


def test_a_yaml_or_json_file_must_be_a_document(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text("GET /api/users\n")  # a YAML scalar
    with pytest.raises(InventoryError, match="not an OpenAPI document"):
        load_file(path)
    path.write_text("name: x\ngroups: {}\n")  # a manifest, say
    with pytest.raises(InventoryError, match="not an OpenAPI or Swagger document"):
        load_file(path)
    brace = tmp_path / "routes"  # no suffix, but JSON inside
    brace.write_text('{"swagger": "2.0", "paths": {"/a": {"get": {}}}}')
    assert [str(r) for r in load_file(brace).routes] == ["GET /a"]


# --- checks that answered ------------------------------------------------------------------------


@dataclass
class Answered:
    method: str
    path: str
    status: int | None


def test_from_passed_keeps_routes_that_answered() -> None:
    inventory = from_passed(
        [
            Answered("GET", "/api/health", 200),
            Answered("GET", "/api/billing", 401),  # protected: still a route
            Answered("GET", "/api/admin/users", 403),
            Answered("GET", "/api/legacy", 302),
            Answered("GET", "/api/search?q=x", 422),
            Answered("GET", "/api/missing", 404),
            Answered("GET", "/api/webhooks", 405),
            Answered("GET", "/api/reports/export", 500),  # a server error proves nothing
            Answered("GET", "/api/slow", None),  # no answer
            Answered("GET", "/api/health", 200),  # twice: once in the inventory
        ]
    )
    assert inventory.source == "checks that answered"
    assert [str(r) for r in inventory.routes] == [
        "GET /api/health",
        "GET /api/billing",
        "GET /api/admin/users",
        "GET /api/legacy",
        "GET /api/search",
    ]


def test_from_passed_takes_id_segments_as_parameters() -> None:
    inventory = from_passed(
        [
            Answered("GET", "/api/users/1", 200),
            Answered("GET", "/api/users/2", 200),
            Answered("GET", "/api/recordings/rec_001", 200),
            Answered("GET", "/api/orgs/{org_id}/members", 200),  # a capture placeholder
            Answered("GET", "/api/users/me", 200),
        ]
    )
    assert [str(r) for r in inventory.routes] == [
        "GET /api/users/{}",
        "GET /api/recordings/{}",
        "GET /api/orgs/{}/members",
        "GET /api/users/me",
    ]
    assert inventory.shown("/api/users/{}") == "/api/users/{id}"
    assert inventory.serves("GET", "/api/users/999")


# --- modules -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "module"),
    [
        ("/api/billing/plans/3", "/api/billing"),
        ("/api/billing", "/api/billing"),
        ("/api/v1/billing/plans", "/api/v1/billing"),
        ("/v2/users/7", "/v2/users"),
        ("/users/7", "/users"),
        ("/api/:id/x", "/api"),  # a parameter is not a module
        ("/api", "/api"),
        ("/api/v1", "/api/v1"),
        ("/", "/"),
        ("/api/shopper/scripts/manage?x=1", "/api/shopper"),
    ],
)
def test_module_of(path: str, module: str) -> None:
    assert module_of(path) == module
