"""The frontend cross-reference: scanning source for API calls, matching them, the reports,
the emitted manifest, the backend sources and the `crawler xref` command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from servers import closed_port, serve

from crawler import manifest, xref
from crawler.cli import cli
from crawler.demo.app import app as demo_app
from crawler.demo.app import openapi
from crawler.errors import CrawlerError, UsageError
from crawler.results import load_run
from crawler.routes import Inventory, InventoryError, from_openapi, from_route_list
from crawler.xref import CallPattern, FrontendCall, Matched, Mismatched, Scan, scan_source

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "frontend"
DEMO_FRONTEND = ROOT / "crawler" / "demo" / "frontend"
DEMO_SPEC = ROOT / "specs" / "demo.yaml"

FIXTURE_PATTERNS = ("apiGet:GET", "apiPost:POST", "api.get:GET", "api.delete:DELETE", "apiFetch")
DEMO_PATTERNS = ("apiGet:GET", "apiPost:POST")


def patterns(*texts: str) -> list[CallPattern]:
    return [CallPattern.parse(text) for text in texts]


def calls_in(source: str, *pattern_texts: str, file: str = "x.tsx") -> list[tuple[str, str]]:
    return [(c.method, c.path) for c in scan_source(source, file, patterns(*pattern_texts))]


# --- scanning: each call form ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("fetch('/api/a')", [("GET", "/api/a")]),
        ('fetch("/api/a", {method: "POST"})', [("POST", "/api/a")]),
        ("fetch(`/api/a`, {body, method: 'put'})", [("PUT", "/api/a")]),
        ("fetch('/api/a', {method})", [("GET", "/api/a")]),  # not a literal: the default
        ("window.fetch('/api/a')", [("GET", "/api/a")]),
        ("$fetch('/api/a', {method: 'DELETE'})", [("DELETE", "/api/a")]),
        ("ofetch('/api/a')", [("GET", "/api/a")]),
        ("axios.get('/api/a')", [("GET", "/api/a")]),
        ("axios.post('/api/a', body)", [("POST", "/api/a")]),
        ("axios.put('/api/a')", [("PUT", "/api/a")]),
        ("axios.patch('/api/a')", [("PATCH", "/api/a")]),
        ("axios.delete('/api/a')", [("DELETE", "/api/a")]),
        ("axios.get<User[]>('/api/a')", [("GET", "/api/a")]),
        ("axios({url: '/api/a', method: 'post'})", [("POST", "/api/a")]),
        ("axios({'method': 'patch', 'url': '/api/a'})", [("PATCH", "/api/a")]),
        ("axios('/api/a', {method: 'put'})", [("PUT", "/api/a")]),
        ("axios.request({url: '/api/a'})", [("GET", "/api/a")]),
        ("useSWR('/api/a', fetcher)", [("GET", "/api/a")]),
        ("useSWR(['/api/a', id], fetcher)", [("GET", "/api/a")]),
        ("useSWRImmutable('/api/a')", [("GET", "/api/a")]),
        ("ky.get('/api/a').json()", [("GET", "/api/a")]),
        ("ky.post('/api/a', {json})", [("POST", "/api/a")]),
        ("ky('/api/a', {method: 'delete'})", [("DELETE", "/api/a")]),
        ("await fetch(\n  '/api/a',\n  {method: 'POST'}\n)", [("POST", "/api/a")]),
    ],
)
def test_each_call_form_is_found(source: str, expected: list[tuple[str, str]]) -> None:
    assert calls_in(source) == expected


@pytest.mark.parametrize(
    ("argument", "path"),
    [
        ("'/api/users'", "/api/users"),
        ('"/api/users"', "/api/users"),
        ("`/api/users`", "/api/users"),
        ("`/api/calls/${id}/notes`", "/api/calls/{param}/notes"),
        ("`/api/calls/${ids[0]}/notes/${note.id}`", "/api/calls/{param}/notes/{param}"),
        ("`/api/x/${`${a}`}/y`", "/api/x/{param}/y"),  # a template inside an expression
        ("'/api/users/' + id", "/api/users/{param}"),
        ("'/api/users/' + user.id + '/avatar'", "/api/users/{param}/avatar"),
        ("'/api/a' + '/b'", "/api/a/b"),
        ("('/api/users/' + id) as string", "/api/users/{param}"),
        ("`${API_BASE}/api/users`", "/api/users"),
        ("API_BASE + '/api/users'", "/api/users"),
        ("baseURL + `/api/users/${id}`", "/api/users/{param}"),
        ("'/api/users?limit=10'", "/api/users"),
        ("`/api/users?limit=${n}&q=${q}`", "/api/users"),
        ("'/api/users#top'", "/api/users"),
        ("`/api/users${query}`", "/api/users"),  # glued to the end: a query string
        ("`/api/files/${name}.pdf`", "/api/files/{param}"),
        ("'/api/users/'", "/api/users/"),  # the trailing slash is kept: it can be a mismatch
        ("'/api'", "/api"),
        ("id && `/api/r/${id}`", "/api/r/{param}"),
        ("key ?? '/api/default'", "/api/default"),
    ],
)
def test_url_forms_become_path_templates(argument: str, path: str) -> None:
    assert calls_in(f"fetch({argument})") == [("GET", path)]


@pytest.mark.parametrize(
    "argument",
    [
        "'/static/logo.png'",
        "'https://cdn.example.com/x.js'",
        "'http://localhost:8000/api/users'",  # absolute URLs are external
        "'//cdn.example.com/api/x'",
        "'mailto:someone@example.com'",
        "'./api/x'",
        "'api/x'",
        "'/apiary/x'",  # not under /api, segment-wise
        "url",
        "`${API_BASE}${path}`",
        "`${API_BASE}/users`",  # a base before a path that is not under the prefix
        "`/api/${path}`",  # every segment after the prefix unknown: too dynamic
        "`/api/${a}/${b}`",
        "",
    ],
)
def test_non_api_urls_are_ignored(argument: str) -> None:
    assert calls_in(f"fetch({argument})") == []


@pytest.mark.parametrize(
    "source",
    [
        "cache.fetch('/api/a')",  # somebody else's fetch method
        "function fetch(url = '/api/a') {}",  # a declaration
        "// fetch('/api/a')",
        "/* axios.get('/api/a') */",
        "const s = \"fetch('/api/a')\"",
        "const r = /fetch\\('\\/api\\/a'\\)/",
        "router.push('/api/a')",
        "apiGet('/api/a')",  # a wrapper only with --call-pattern
        "fetch",
    ],
)
def test_what_is_not_a_call(source: str) -> None:
    assert calls_in(source) == []


def test_wrappers_and_instances_through_call_patterns() -> None:
    source = """
        apiGet<Plan[]>('/api/plans');
        apiPost('/api/checkout', {plan});
        api.get(`/api/users/${id}`);
        this.api.delete('/api/users/1');
        apiFetch('/api/raw', {method: 'PATCH'});
    """
    found = calls_in(
        source, "apiGet:GET", "apiPost:POST", "api.get:GET", "api.delete:delete", "apiFetch"
    )
    assert found == [
        ("GET", "/api/plans"),
        ("POST", "/api/checkout"),
        ("GET", "/api/users/{param}"),
        ("DELETE", "/api/users/1"),
        ("PATCH", "/api/raw"),
    ]


def test_a_call_pattern_shadows_nothing_built_in() -> None:
    assert calls_in("fetch('/api/a', {method: 'POST'})", "myFetch:GET") == [("POST", "/api/a")]


def test_division_and_jsx_text_do_not_derail_the_tokenizer() -> None:
    source = """
        const half = total / 2; const other = a / b;
        return <p>Don't panic, it's fine</p>;
        fetch('/api/after');
    """
    assert calls_in(source) == [("GET", "/api/after")]


def test_vue_and_svelte_markup_is_not_scanned() -> None:
    vue = "<template><p>fetch('/api/markup')</p></template>\n"
    vue += "<script>\nfetch('/api/code')\n</script>"
    found = scan_source(vue, "A.vue")
    assert [(c.path, c.line) for c in found] == [("/api/code", 3)]
    assert calls_in(vue, file="A.svelte") == [("GET", "/api/code")]


def test_other_prefixes() -> None:
    found = scan_source("fetch('/v2/users'); fetch('/api/x')", "a.ts", prefixes=("/v2",))
    assert [c.path for c in found] == ["/v2/users"]


@pytest.mark.parametrize(
    ("text", "name", "method"),
    [("apiGet:GET", "apiGet", "GET"), ("api.post:post", "api.post", "POST"), ("f", "f", None)],
)
def test_call_pattern_parse(text: str, name: str, method: str | None) -> None:
    assert CallPattern.parse(text) == CallPattern(name, method)


@pytest.mark.parametrize("text", ["apiGet:FETCH", "", ":GET", "api get:GET", "a..b:GET"])
def test_bad_call_patterns_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="--call-pattern"):
        xref.parse_patterns([text])


# --- scanning a folder: the fixture's markers say what must be found, and where ----------------


def _marked(folder: Path) -> list[tuple[str, int, str, str]]:
    """Every `expect: METHOD /path` marker in the source files under `folder`."""
    marked = []
    for path in xref.source_files(folder):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for method, call in re.findall(r"expect: ([A-Z]+) (\S+?)(?=;|\s|\*/|$)", line):
                marked.append((path.relative_to(folder).as_posix(), number, method, call))
    return sorted(marked)


def test_fixture_calls_are_found_exactly_with_file_and_line() -> None:
    found = xref.scan(FIXTURES, patterns(*FIXTURE_PATTERNS))
    got = sorted((c.file, c.line, c.method, c.path) for c in found.calls)
    expected = _marked(FIXTURES)
    assert len(expected) >= 50  # the markers are there to be checked
    assert got == expected
    assert found.files == 6  # .md and .d.ts files are not read


def test_fixture_ignored_file_yields_nothing() -> None:
    found = xref.scan(FIXTURES, patterns(*FIXTURE_PATTERNS))
    assert not [c for c in found.calls if c.file == "src/ignored.js"]


def test_scan_skips_dependency_and_build_folders(tmp_path: Path) -> None:
    for folder in ("node_modules/lib", "dist", "build", ".next/server", "src"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "index.js").write_text("fetch('/api/x')\n")
    found = xref.scan(tmp_path)
    assert [c.where for c in found.calls] == ["src/index.js:1"]
    assert found.files == 1


def test_scan_order_is_by_file_then_line(tmp_path: Path) -> None:
    (tmp_path / "b.ts").write_text("\nfetch('/api/b2')\nfetch('/api/b3')\n")
    (tmp_path / "a.ts").write_text("fetch('/api/a1')\n")
    assert [c.where for c in xref.scan(tmp_path).calls] == ["a.ts:1", "b.ts:2", "b.ts:3"]


# --- matching against an inventory --------------------------------------------------------------

INVENTORY = from_route_list(
    """
    GET /api/users
    GET /api/users/me
    GET /api/users/{id}
    POST /api/users
    GET /api/recordings/{id}
    GET /api/audit-logs
    POST /api/webhooks
    GET /api/shopper/scripts
    GET /api/shopper/scripts/{id}
    """,
    "routes.txt",
)


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("GET", "/api/users", "GET /api/users"),
        ("POST", "/api/users", "POST /api/users"),
        ("GET", "/api/users/me", "GET /api/users/me"),
        ("GET", "/api/users/{param}", "GET /api/users/{id}"),  # an expression is an id
        ("GET", "/api/users/42", "GET /api/users/{id}"),
        ("GET", "/api/recordings/latest", "GET /api/recordings/{id}"),  # a word as the id
        # beside the list route too: a word where an id goes is not an extra segment
        ("GET", "/api/shopper/scripts/manage", "GET /api/shopper/scripts/{id}"),
    ],
)
def test_served_calls_match(method: str, path: str, route: str) -> None:
    assert xref.judge(method, path, INVENTORY) == Matched(route)


@pytest.mark.parametrize(
    ("method", "path", "cause", "suggestion"),
    [
        ("GET", "/api/audit", "renamed", "GET /api/audit-logs"),
        ("GET", "/api/recordings", "no_list_handler", "GET /api/recordings/{id}"),
        ("GET", "/api/webhooks", "wrong_method", "POST /api/webhooks"),
        ("GET", "/api/v1/users", "prefix_skew", "GET /api/users"),
        ("GET", "/api/users/", "trailing_slash", "GET /api/users"),  # served, but not so
        ("GET", "/api/audit-logs/manage", "extra_segment", "GET /api/audit-logs"),
        ("GET", "/api/recordngs/{param}", "near_miss", "GET /api/recordings/{id}"),
        ("POST", "/api/payments/intent", "module_missing", None),
    ],
)
def test_unserved_calls_get_a_cause_and_suggestion(
    method: str, path: str, cause: str, suggestion: str | None
) -> None:
    outcome = xref.judge(method, path, INVENTORY)
    assert isinstance(outcome, Mismatched)
    assert outcome.diagnosis.cause == cause
    if suggestion is None:
        assert outcome.diagnosis.suggestions == ()
    else:
        assert outcome.diagnosis.suggestions[0] == suggestion


def test_a_placeholder_in_a_diagnosis_reads_as_written() -> None:
    outcome = xref.judge("GET", "/api/audit-logs/{param}/extra", INVENTORY)
    assert isinstance(outcome, Mismatched)
    assert "1000000001" not in outcome.diagnosis.detail + "".join(outcome.diagnosis.suggestions)


def call(method: str, path: str, where: str) -> FrontendCall:
    file, line = where.split(":")
    return FrontendCall(method, path, file, int(line), "fetch")


def test_cross_reference_groups_call_sites_and_counts() -> None:
    found = Scan(
        (
            call("GET", "/api/users", "a.ts:1"),
            call("GET", "/api/audit", "a.ts:2"),
            call("GET", "/api/users", "b.ts:7"),
            call("POST", "/api/payments", "b.ts:9"),
        ),
        files=2,
    )
    result = xref.cross_reference(found, INVENTORY, frontend="web")
    assert [(e.method, e.path, e.where) for e in result.entries] == [
        ("GET", "/api/users", "a.ts:1, b.ts:7"),
        ("GET", "/api/audit", "a.ts:2"),
        ("POST", "/api/payments", "b.ts:9"),
    ]
    assert result.summary == "3 calls, 1 match, 2 mismatches across 2 modules"
    assert result.call_sites == 4
    assert result.exit_code == 1
    assert result.backend == "routes.txt"


def test_all_served_exits_0() -> None:
    found = Scan((call("GET", "/api/users", "a.ts:1"),), files=1)
    result = xref.cross_reference(found, INVENTORY)
    assert result.exit_code == 0
    assert result.summary == "1 call, 1 match, 0 mismatches across 0 modules"


# --- the demo: every deliberate mismatch gets its cause, no correct call is flagged --------------

DEMO_MISMATCHES = {
    ("GET", "/api/audit"): ("renamed", "GET /api/audit-logs", "pages/admin.tsx"),
    ("GET", "/api/admin/users/manage"): ("extra_segment", "GET /api/admin/users", "pages/admin"),
    ("GET", "/api/webhooks"): ("wrong_method", "POST /api/webhooks", "pages/admin.tsx"),
    ("GET", "/api/recordings"): ("no_list_handler", "GET /api/recordings/{id}", "pages/rec"),
    ("GET", "/api/recordngs/{param}"): ("near_miss", "GET /api/recordings/{id}", "pages/rec"),
    ("GET", "/api/v1/billing"): ("prefix_skew", "GET /api/billing", "pages/billing.tsx"),
    ("GET", "/api/billing/invoices/"): ("trailing_slash", "GET /api/billing/invoices", "pages/bi"),
    ("POST", "/api/payments/intent"): ("module_missing", None, "pages/billing.tsx"),
}


@pytest.fixture(scope="module")
def demo_xref() -> xref.Xref:
    found = xref.scan(DEMO_FRONTEND, patterns(*DEMO_PATTERNS))
    return xref.cross_reference(found, from_openapi(openapi(), "demo"), frontend="demo")


def test_demo_mismatches_have_the_expected_causes(demo_xref: xref.Xref) -> None:
    got = {}
    for entry in demo_xref.mismatched:
        assert isinstance(entry.outcome, Mismatched)
        diagnosis = entry.outcome.diagnosis
        got[(entry.method, entry.path)] = (
            diagnosis.cause,
            diagnosis.suggestions[0] if diagnosis.suggestions else None,
            entry.calls[0].file,
        )
    assert set(got) == set(DEMO_MISMATCHES)
    for key, (cause, suggestion, file) in DEMO_MISMATCHES.items():
        assert got[key][:2] == (cause, suggestion), key
        assert got[key][2].startswith(file), key


def test_demo_correct_calls_all_match(demo_xref: xref.Xref) -> None:
    matched = {(e.method, e.path): e.outcome for e in demo_xref.matched}
    assert len(matched) == 14
    assert matched[("GET", "/api/recordings/{param}")] == Matched("GET /api/recordings/{id}")
    assert matched[("GET", "/api/users/{param}")] == Matched("GET /api/users/{id}")
    assert matched[("POST", "/api/billing/checkout")] == Matched("POST /api/billing/checkout")
    assert ("GET", "/api/billing/invoices") in matched  # ${API_BASE} and ?limit= dropped
    assert demo_xref.summary == "22 calls, 14 match, 8 mismatches across 8 modules"


def test_demo_static_and_external_calls_are_not_reported(demo_xref: xref.Xref) -> None:
    paths = [e.path for e in demo_xref.entries]
    assert not [p for p in paths if "static" in p or "cdn" in p or "mailto" in p]


def test_demo_every_call_is_served_by_the_running_demo_app_or_not(
    demo_xref: xref.Xref,
) -> None:
    # The inventory is the app's real route table: a call it matches routes in the app.
    from starlette.routing import Match

    for entry in demo_xref.entries:
        path = entry.path.replace("{param}", "1")
        scope = {"type": "http", "path": path, "method": entry.method, "root_path": ""}
        routed = [r for r in demo_app.routes if r.matches(scope)[0] == Match.FULL]
        if isinstance(entry.outcome, Matched):
            assert routed, entry
        elif entry.outcome.diagnosis.cause != "trailing_slash":  # Starlette redirects those
            assert not routed, entry


# --- reports ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(xref.FORMATS))
def test_every_format_renders_demo_and_empty(name: str, demo_xref: xref.Xref) -> None:
    render = xref.FORMATS[name].render
    assert demo_xref.summary in render(demo_xref)
    empty = xref.cross_reference(Scan((), 0), Inventory(()))
    assert "0 calls" in render(empty)


def test_markdown_has_the_design_table(demo_xref: xref.Xref) -> None:
    text = xref.render_markdown(demo_xref)
    assert "**22 calls, 14 match, 8 mismatches across 8 modules**" in text
    assert "| Method | Frontend calls | Backend has | Cause | Where |" in text
    assert (
        "| GET | `/api/audit` | `GET /api/audit-logs` | mounted under another name: "
        "/api/audit-logs | `pages/admin.tsx:24` |"
    ) in text
    assert "| POST | `/api/payments/intent` | nothing |" in text
    assert "## Matched calls" in text
    assert "`pages/billing.tsx:12`, `pages/billing.tsx:70`" in text


def test_json_lists_every_call_site(demo_xref: xref.Xref) -> None:
    document = json.loads(xref.render_json(demo_xref))
    assert document["schema"] == "crawler.xref/1"
    assert document["summary"]["call_sites"] == len(document["calls"]) == 23
    audit = next(c for c in document["calls"] if c["path"] == "/api/audit")
    assert audit == {
        "file": "pages/admin.tsx",
        "line": 24,
        "method": "GET",
        "path": "/api/audit",
        "via": "apiGet",
        "module": "/api/audit",
        "status": "mismatch",
        "cause": "renamed",
        "detail": "mounted under another name: /api/audit-logs",
        "suggestions": ["GET /api/audit-logs"],
    }
    plans = [c for c in document["calls"] if c["path"] == "/api/billing/plans"]
    assert [c["route"] for c in plans] == ["GET /api/billing/plans"] * 2
    assert [(c["file"], c["line"]) for c in document["calls"]] == sorted(
        (c["file"], c["line"]) for c in document["calls"]
    )


def test_html_escapes_what_comes_from_the_source() -> None:
    hostile = "<script>alert(1)</script>"
    found = Scan((FrontendCall("GET", f"/api/{hostile}", f"{hostile}.ts", 1, "fetch"),), 1)
    page = xref.render_html(xref.cross_reference(found, INVENTORY, frontend=hostile))
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "default-src 'none'" in page  # loads nothing, runs nothing


# --- the emitted manifest -----------------------------------------------------------------------


def test_emitted_manifest_validates_with_one_check_per_call(demo_xref: xref.Xref) -> None:
    text = xref.emit_manifest(demo_xref)
    loaded = manifest.loads(text, "frontend.yaml", environ={})
    checks = [c for group in loaded.groups.values() for c in group.checks]
    assert len(checks) == len(demo_xref.entries) == 22
    assert "/api/billing" in loaded.groups and "/api/payments" in loaded.groups
    by_label = {c.label: c for c in checks}
    assert str(by_label["GET /api/billing"].expect) == "200"
    checkout = by_label["POST /api/billing/checkout"]
    assert str(checkout.expect) == "2xx" and not checkout.safe  # the mutation guard applies
    assert "GET /api/recordings/{TODO_id}" in by_label  # named after the backend's parameter
    assert "GET /api/recordngs/{TODO_param}" in by_label  # nothing matched: a plain name
    assert "GET /api/billing/invoices/" in by_label  # the slash the frontend sends
    assert "# xref: renamed: mounted under another name" in text


def test_emitted_placeholders_are_numbered() -> None:
    found = Scan((call("GET", "/api/a/{param}/b/{param}", "a.ts:1"),), 1)
    text = xref.emit_manifest(xref.cross_reference(found, INVENTORY))
    assert '{method: GET, path: "/api/a/{TODO_param}/b/{TODO_param2}", expect: 200}' in text
    manifest.loads(text, environ={})


def test_emitted_manifest_takes_any_path(tmp_path: Path) -> None:
    found = Scan((call("DELETE", '/api/a b/"quoted": #x', "a.ts:1"),), 1)
    loaded = manifest.loads(xref.emit_manifest(xref.cross_reference(found, INVENTORY)))
    (check,) = [c for group in loaded.groups.values() for c in group.checks]
    assert (check.method, check.path, str(check.expect)) == (
        "DELETE",
        '/api/a b/"quoted": #x',
        "2xx",
    )


def test_emitted_manifest_names_the_backend_as_its_inventory(tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(openapi()))
    routes = tmp_path / "routes.txt"
    routes.write_text("GET /api/a\n")
    emitted = tmp_path / "specs" / "frontend.yaml"
    assert xref.backend_reference(str(spec), emitted) == ("openapi", "../openapi.json")
    assert xref.backend_reference(str(routes), emitted) == ("routes", "../routes.txt")
    assert xref.backend_reference("https://x.test/openapi.json", emitted) == (
        "openapi",
        "https://x.test/openapi.json",
    )
    assert xref.backend_reference(str(DEMO_SPEC), emitted) is None  # a manifest keeps its own
    found = Scan((call("GET", "/api/users", "a.ts:1"),), 1)
    text = xref.emit_manifest(xref.cross_reference(found, INVENTORY), inventory=("openapi", "x"))
    loaded = manifest.loads(text, environ={})
    assert loaded.inventory is not None and loaded.inventory.openapi == "x"


# --- where the backend's routes come from -------------------------------------------------------


def test_backend_from_openapi_file(tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(openapi()))
    inventory = xref.load_backend(str(spec))
    assert inventory.serves("GET", "/api/recordings/rec_001")
    assert len(inventory) == len(from_openapi(openapi()))


def test_backend_from_route_list(tmp_path: Path) -> None:
    routes = tmp_path / "routes.txt"
    routes.write_text("GET /api/users/:id\nPOST /api/users\n")
    inventory = xref.load_backend(str(routes))
    assert inventory.serves("GET", "/api/users/7") and inventory.serves("POST", "/api/users")


def test_backend_from_a_manifest_without_inventory_is_its_checks(tmp_path: Path) -> None:
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "version: 1\nname: X\ngroups:\n  G:\n    - GET /api/users/{org_id} -> 200\n"
        "    - GET /api/gone -> 404\n    - path: /api/maybe\n      expect: {a: 404, b: 200}\n"
        "identities:\n  a: {kind: anonymous}\n  b: {kind: anonymous}\n"
    )
    inventory = xref.load_backend(str(spec))
    assert inventory.serves("GET", "/api/users/1")
    assert inventory.serves("GET", "/api/maybe")
    assert not inventory.serves("GET", "/api/gone")  # expected to be absent


def test_backend_from_a_manifest_inventory_fetched_in_process() -> None:
    inventory = xref.load_backend(str(DEMO_SPEC))
    assert len(inventory) == len(from_openapi(openapi()))
    assert "/openapi.json on app:crawler.demo.app:app" in inventory.source


def test_backend_from_a_manifest_inventory_routes_file(tmp_path: Path) -> None:
    (tmp_path / "routes.txt").write_text("GET /api/only\n")
    spec = tmp_path / "m.yaml"
    spec.write_text("version: 1\nname: X\ninventory: {routes: routes.txt}\ngroups: {G: [GET /]}\n")
    assert [str(r) for r in xref.load_backend(str(spec)).routes] == ["GET /api/only"]


def test_backend_from_a_live_url() -> None:
    with serve(demo_app) as base_url:
        inventory = xref.load_backend(f"{base_url}/openapi.json")
    assert len(inventory) == len(from_openapi(openapi()))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("no/such/file.json", "no such file"),
        (f"http://127.0.0.1:{closed_port()}/openapi.json", "could not be read"),
    ],
)
def test_backend_that_cannot_be_read(source: str, message: str) -> None:
    with pytest.raises(CrawlerError, match=message):
        xref.load_backend(source)


def test_backend_yaml_that_is_neither(tmp_path: Path) -> None:
    other = tmp_path / "x.yaml"
    other.write_text("hello: world\n")
    with pytest.raises(InventoryError, match="neither an OpenAPI document"):
        xref.load_backend(str(other))


# --- the command --------------------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["xref", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_demo_exits_1_and_writes_every_report(tmp_path: Path) -> None:
    emitted = tmp_path / "frontend.yaml"
    code, out, err = invoke(
        "--frontend",
        str(DEMO_FRONTEND),
        "--backend",
        str(DEMO_SPEC),
        *("--call-pattern", "apiGet:GET", "--call-pattern", "apiPost:POST"),
        *("--out", str(tmp_path), "--emit-manifest", str(emitted)),
    )
    assert code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "frontend.yaml",
        "xref.html",
        "xref.json",
        "xref.md",
    ]
    assert out.splitlines()[-1] == "22 calls, 14 match, 8 mismatches across 8 modules"
    assert "MISMATCH GET /api/audit: mounted under another name" in out
    assert "(pages/admin.tsx:24)" in out
    assert "reports: " in err
    assert manifest.load(emitted, environ={}).inventory is None  # the backend was a manifest


def test_cli_emitted_manifest_crawls_with_the_backends_inventory(tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(openapi()))
    emitted = tmp_path / "specs" / "frontend.yaml"
    code, _, _ = invoke(
        *("--frontend", str(DEMO_FRONTEND), "--backend", str(spec), "--format", "md"),
        *("--out", str(tmp_path), "--emit-manifest", str(emitted), "-q"),
        *("--call-pattern", "apiGet:GET", "--call-pattern", "apiPost:POST"),
    )
    assert code == 1
    result = CliRunner().invoke(
        cli, ["run", str(emitted), "--app", "crawler.demo.app:app", "-q", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1  # the mismatches answer 404 and 405
    document = json.loads((tmp_path / "run.json").read_text())
    causes = {r["path"]: r["diagnosis"]["cause"] for r in document["results"] if r.get("diagnosis")}
    assert causes["/api/audit"] == "renamed"  # diagnosed against ../openapi.json
    assert causes["/api/webhooks"] == "wrong_method"


def test_cli_exits_0_when_everything_is_served(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "a.ts").write_text("fetch('/api/users'); fetch(`/api/users/${id}`)\n")
    routes = tmp_path / "routes.txt"
    routes.write_text("GET /api/users\nGET /api/users/{id}\n")
    code, out, _ = invoke(
        *("--frontend", str(tmp_path / "web"), "--backend", str(routes)),
        *("--out", str(tmp_path / "out"), "--format", "json", "-q"),
    )
    assert code == 0
    assert out == "2 calls, 2 match, 0 mismatches across 0 modules\n"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["xref.json"]


def test_cli_also_checks_the_backends_own_top_level_paths(tmp_path: Path) -> None:
    (tmp_path / "a.ts").write_text("fetch('/v2/users'); fetch('/health')\n")
    routes = tmp_path / "routes.txt"
    routes.write_text("GET /v2/users\n")
    code, out, _ = invoke(
        *("--frontend", str(tmp_path), "--backend", str(routes), "--out", str(tmp_path), "-q")
    )
    assert (code, out) == (0, "1 call, 1 match, 0 mismatches across 0 modules\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "pdf"], "pdf: choose from md, html, json"),
        (["--call-pattern", "apiGet:FETCH"], "FETCH is not one of"),
        (["--api-prefix", "api"], "a prefix is a path"),
        (["--backend", "missing.yaml"], "no such file"),
    ],
)
def test_cli_bad_usage_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    base = {"--frontend": str(FIXTURES), "--backend": str(DEMO_SPEC), "--out": str(tmp_path)}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    code, out, err = invoke(*[part for pair in base.items() for part in pair])
    assert code == 2
    assert message in err
    assert "Traceback" not in out + err


def test_cli_frontend_must_be_a_folder(tmp_path: Path) -> None:
    code, _, err = invoke("--frontend", str(tmp_path / "nope"), "--backend", str(DEMO_SPEC))
    assert code == 2
    assert "does not exist" in err


def test_live_crawls_the_calls_and_diagnoses_the_404s_the_backend_answers(tmp_path: Path) -> None:
    """`xref --live`: the frontend's calls, sent as the demo's identities to the demo app."""
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "xref",
            "--frontend",
            "crawler/demo/frontend",
            "--backend",
            "specs/demo.yaml",
            "--call-pattern",
            "apiGet:GET",
            "--call-pattern",
            "apiPost:POST",
            "--out",
            str(out),
            "--live",
            "--app",
            "crawler.demo.app:app",
            "--identities-from",
            "specs/demo.yaml",
        ],
    )
    assert result.exit_code == 1, result.output
    run = load_run(out / "live-run.json")
    assert {r.identity for r in run.results} == {"admin", "viewer", "anonymous"}
    causes = {(r.method, r.path): r.diagnosis.cause for r in run.results if r.diagnosis}
    assert causes[("GET", "/api/audit")] == "renamed"
    assert causes[("GET", "/api/recordings")] == "no_list_handler"
    assert causes[("GET", "/api/webhooks")] == "wrong_method"
    assert causes[("GET", "/api/v1/billing")] == "prefix_skew"
    assert "/openapi.json" in (run.inventory or "")  # the backend manifest's inventory
    assert "live: " in result.stdout
    assert (out / "live-mismatches.md").exists() and (out / "xref-live.yaml").exists()


def test_live_needs_a_backend_to_crawl(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "xref",
            "--frontend",
            "crawler/demo/frontend",
            "--backend",
            "specs/demo.yaml",
            "--out",
            str(tmp_path),
            "--live",
        ],
    )
    assert result.exit_code == 2
    assert "--live needs the running backend" in result.stderr
