"""The HTML report: escaping and offline-ness by parsing, then in a real headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
import samples

from crawler.baseline import compare
from crawler.reports import html
from crawler.results import Diagnosis, Known, Run

EXPECTED_CSP_START = "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-"


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def all(self) -> list[Element]:
        found = [self]
        for child in self.children:
            found += child.all()
        return found

    def find(
        self, tag: str | None = None, *, id: str | None = None, cls: str | None = None
    ) -> list[Element]:
        return [
            e
            for e in self.all()
            if (tag is None or e.tag == tag)
            and (id is None or e.attrs.get("id") == id)
            and (cls is None or cls in e.classes)
        ]

    def one(
        self, tag: str | None = None, *, id: str | None = None, cls: str | None = None
    ) -> Element:
        (found,) = self.find(tag, id=id, cls=cls)
        return found

    @property
    def all_text(self) -> str:
        return self.text + "".join(child.all_text for child in self.children)


VOID = {"meta", "link", "br", "img", "input", "hr", "source", "wbr", "area", "base", "col"}


class _TreeBuilder(HTMLParser):
    """A small DOM from Python's own (forgiving, spec-like tokenizing) HTML parser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(Element("#text", {}, data))


def parse(text: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


# --- static checks ----------------------------------------------------------------------


def test_target_text_is_escaped(sample_run: Run) -> None:
    text = html.render(sample_run)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script>alert" not in text
    assert "<b>teapot</b>" not in text
    page = parse(text)
    # Parsed back, the excerpt is exactly the body the target sent: shown, never run.
    bodies = [e.all_text for e in page.find("pre", cls="response-body")]
    assert samples.PAYLOAD in bodies
    # No element from the target: the only script is the report's own, no handlers anywhere.
    scripts = page.find("script")
    assert len(scripts) == 1
    assert scripts[0].attrs == {}
    assert "document.body.dataset.ready" in scripts[0].all_text
    assert not page.find("img")
    for element in page.all():
        assert not any(name.startswith("on") for name in element.attrs), element


@pytest.mark.parametrize("run_name", ["sample_run", "mismatch_run"])
def test_page_loads_nothing_from_the_network(run_name: str, request: pytest.FixtureRequest) -> None:
    page = parse(html.render(request.getfixturevalue(run_name)))
    for element in page.all():
        for name in ("src", "href", "action", "srcset", "poster", "data"):
            value = element.attrs.get(name)
            if value is not None:
                assert value.startswith(("#", "data:")), (element.tag, name, value)
    assert not page.find("link")
    assert not page.find("iframe")


def test_head_declares_charset_viewport_and_a_strict_csp(sample_run: Run) -> None:
    page = parse(html.render(sample_run))
    metas = page.find("meta")
    assert {"charset": "utf-8"} in [m.attrs for m in metas]
    assert any(m.attrs.get("name") == "viewport" for m in metas)
    (csp,) = [m for m in metas if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    policy = csp.attrs["content"] or ""
    assert policy.startswith(EXPECTED_CSP_START)
    assert "img-src data:" in policy
    # The hash in the policy is the report's own script, so that script and nothing else runs.
    script = page.one("script").all_text
    assert html.csp_hash(script) in policy


def test_structure_tests_and_users_can_rely_on(sample_run: Run) -> None:
    page = parse(html.render(sample_run))
    tiles = page.one(id="totals")
    counts = {
        cls: tiles.one(cls=cls).one(cls="count").all_text
        for cls in ("tile-pass", "tile-fail", "tile-error", "tile-skip")
    }
    assert counts == {"tile-pass": "3", "tile-fail": "3", "tile-error": "1", "tile-skip": "1"}
    rows = page.one("table", id="results").one("tbody").find("tr")
    assert [(r.attrs["data-verdict"], r.attrs["data-group"]) for r in rows] == [
        (r.verdict, r.group) for r in sample_run.results
    ]
    assert not any("hidden" in r.attrs for r in rows)  # readable with JS disabled
    assert "hidden" in page.one(id="filters").attrs  # controls appear only with JS
    failures = page.one(id="failures").find(cls="failure")
    assert [f.attrs["data-verdict"] for f in failures] == ["FAIL", "FAIL", "ERROR", "FAIL"]
    invoices = failures[0].all_text
    assert "Authorization" in invoices
    assert "[REDACTED]" in invoices
    assert "curl -sS -i https://api.example.test/api/billing/invoices" in invoices
    assert "HTTP 404 Not Found" in invoices
    assert "connect_refused" in failures[2].all_text
    assert not page.find(id="interrupted")


def test_matrix_structure(matrix_run: Run) -> None:
    page = parse(html.render(matrix_run))
    table = page.one("table", id="results")
    assert "matrix" in table.classes
    header = [th.all_text for th in table.one("thead").find("th")]
    assert header == ["Group", "Method", "Path", "Expected", *samples.IDENTITIES]
    rows = table.one("tbody").find("tr")
    assert len(rows) == 7
    assert not any("hidden" in r.attrs for r in rows)  # readable with JS disabled
    # One coloured cell per result, in manifest order, each with its verdict and identity.
    cells = table.find("td", cls="cell")
    assert [(c.attrs["data-verdict"], c.attrs["data-identity"]) for c in cells] == [
        (r.verdict, r.identity) for r in matrix_run.results
    ]
    assert all(f"v-{c.attrs['data-verdict']}".lower() in c.classes for c in cells)
    assert [c.all_text for c in cells[:4]] == ["PASS 200", "PASS 200", "PASS 200", "SKIP"]
    assert len(table.find("td", cls="cell-none")) == 7 * 4 - len(matrix_run.results)
    checkout = rows[4].find("td")
    assert [td.all_text for td in checkout[3:]] == [
        "admin 200 · viewer 403",
        "SKIP",
        "SKIP",
        "",
        "",
    ]
    # A failed cell links to its details, which name the identity.
    link = rows[3].one("a")
    assert link.all_text == "FAIL 404"
    target = page.one(id=(link.attrs["href"] or "")[1:])
    assert target.attrs["data-identity"] == "admin"
    assert "as admin" in target.one("h3").all_text
    assert "curl -sS -i https://api.example.test/api/billing/invoices" in target.all_text
    assert "# as admin" in target.one("pre", cls="curl").all_text
    reauth = next(c for c in cells if "↻" in c.all_text)
    assert "logged in again" in (reauth.attrs["title"] or "")


def test_matrix_filters_tallies_and_login_failures(matrix_run: Run) -> None:
    page = parse(html.render(matrix_run))
    filters = page.one(id="filters")
    options = filters.one("select", id="identity-filter").find("option")
    assert [o.attrs.get("value") for o in options] == [None, *samples.IDENTITIES]
    assert filters.one("select", id="group-filter")
    identities = page.one("table", id="identities").one("tbody").find("tr")
    assert [r.attrs["data-identity"] for r in identities] == list(samples.IDENTITIES)
    assert [td.all_text for td in identities[1].find("td")] == [
        "viewer",
        "login",
        "5",
        "1",
        "0",
        "1",
        "7",
    ]
    assert "login-failed" in identities[3].classes
    # The login failure is at the top, in the header, before the tallies.
    failures = page.one("header").one(cls="login-failures")
    assert failures.one("li").attrs["data-identity"] == "ops"
    assert samples.OPS_FAILURE in failures.all_text
    groups = page.one("table", id="groups").one("tbody").find("tr")
    assert groups[1].find("td")[-1].all_text == "admin 2/4 · viewer 3/4 · anonymous 2/2 · ops 0/2"
    details = page.one(id="failures").find(cls="failure")
    assert [(f.attrs["data-verdict"], f.attrs["data-identity"]) for f in details] == [
        ("FAIL", "admin"),
        ("FAIL", "viewer"),
        ("ERROR", "admin"),
        ("FAIL", "anonymous"),
    ]


def test_matrix_escapes_identity_names_and_target_text(matrix_run: Run) -> None:
    hostile = "<img src=x onerror=alert(9)>"
    results = tuple(
        r.model_copy(update={"identity": hostile}) if r.identity == "viewer" else r
        for r in matrix_run.results
    )
    identities = tuple(
        i.model_copy(update={"name": hostile}) if i.name == "viewer" else i
        for i in matrix_run.identities
    )
    run = matrix_run.model_copy(update={"results": results, "identities": identities})
    text = html.render(run)
    page = parse(text)
    assert not page.find("img")
    assert hostile in [th.all_text for th in page.one("table", id="results").find("th")]
    for element in page.all():
        assert not any(name.startswith("on") for name in element.attrs), element
    bodies = [e.all_text for e in page.find("pre", cls="response-body")]
    assert samples.PAYLOAD in bodies
    titles = [c.attrs["title"] for c in page.find("td", cls="cell")]
    assert "anonymous: expected 401, got 500 | <b>see `body`</b> · 30 ms" in titles


def test_all_pass_report_has_no_failures(all_pass_run: Run) -> None:
    page = parse(html.render(all_pass_run))
    assert not page.one(id="failures").find(cls="failure")
    assert "No failures." in page.one(id="failures").all_text


def test_interrupted_run_is_marked(sample_run: Run) -> None:
    page = parse(html.render(sample_run.model_copy(update={"interrupted": True})))
    assert "partial" in page.one(id="interrupted").all_text


# --- a real browser ---------------------------------------------------------------------


def dump_dom(path: Path, profile: Path) -> str:
    """The DOM Chromium builds for the file after its scripts ran (no network is used)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; `make browser`)")
    completed = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def test_matrix_in_headless_chromium(matrix_run: Run, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text(html.render(matrix_run), encoding="utf-8")
    page = parse(dump_dom(report, tmp_path / "profile"))

    assert page.one("body").attrs.get("data-ready") == "1"
    assert page.one("title").all_text == "Demo API verification (13/24 PASS)"
    assert not page.find("img")
    filters = page.one(id="filters")
    assert "hidden" not in filters.attrs
    assert len(filters.one("select", id="identity-filter").find("option")) == 5
    assert page.one(id="shown-count").all_text == "7 of 7 shown"
    table = page.one("table", id="results")
    cells = table.find("td", cls="cell")
    assert len(cells) == len(matrix_run.results)
    assert {c.attrs["data-identity"] for c in cells} == set(samples.IDENTITIES)
    assert not any("hidden" in e.attrs for e in table.all())  # every column shown at first
    login = page.one(cls="login-failures")
    assert "ops" in login.all_text
    assert "CredentialsSignin" in login.all_text
    assert len(page.one(id="failures").find(cls="failure")) == 4


# Drives the filters as a user would; allowed by adding its hash to the report's policy.
FILTER_ANONYMOUS_FAILURES = """
var identity = document.getElementById("identity-filter");
identity.value = "anonymous";
identity.dispatchEvent(new Event("change"));
document.querySelector('#filters button[data-filter="FAIL"]').click();
"""


def test_matrix_filters_in_headless_chromium(matrix_run: Run, tmp_path: Path) -> None:
    text = html.render(matrix_run)
    allowed = html.csp_hash(FILTER_ANONYMOUS_FAILURES)
    text = text.replace("script-src ", f"script-src {allowed} ", 1)
    text = text.replace("</body>", f"<script>{FILTER_ANONYMOUS_FAILURES}</script>\n</body>")
    report = tmp_path / "report.html"
    report.write_text(text, encoding="utf-8")
    page = parse(dump_dom(report, tmp_path / "profile"))

    # Only the check where anonymous FAILs is left, and only the anonymous column.
    assert page.one(id="shown-count").all_text == "1 of 7 shown"
    table = page.one("table", id="results")
    visible = [r for r in table.one("tbody").find("tr") if "hidden" not in r.attrs]
    assert [r.find("td")[2].all_text for r in visible] == ["/api/admin/audit"]
    shown = [e for e in table.all() if "data-identity" in e.attrs and "hidden" not in e.attrs]
    assert {e.attrs["data-identity"] for e in shown} == {"anonymous"}
    (cell,) = [
        td
        for td in visible[0].find("td")
        if "data-identity" in td.attrs and "hidden" not in td.attrs
    ]
    assert cell.all_text == "FAIL 500"


def test_report_in_headless_chromium(sample_run: Run, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text(html.render(sample_run), encoding="utf-8")
    page = parse(dump_dom(report, tmp_path / "profile"))

    # The report's own script ran (its hash is allowed) ...
    assert page.one("body").attrs.get("data-ready") == "1"
    assert "hidden" not in page.one(id="filters").attrs
    assert page.one(id="shown-count").all_text == "8 of 8 shown"
    # ... and the target's payloads did not: they would have set the title to 'pwned'.
    assert page.one("title").all_text == "Demo API verification (3/8 PASS)"
    assert not page.find("img")
    assert len(page.find("script")) == 1

    tiles = page.one(id="totals")
    assert tiles.one(cls="tile-pass").one(cls="count").all_text == "3"
    assert tiles.one(cls="tile-fail").one(cls="count").all_text == "3"
    assert tiles.one(cls="tile-error").one(cls="count").all_text == "1"
    assert tiles.one(cls="tile-skip").one(cls="count").all_text == "1"
    failures = page.one(id="failures").find(cls="failure")
    assert len(failures) == 4
    odd = failures[-1].all_text
    assert f"Users · GET {samples.ODD_PATH}" in odd
    assert samples.PAYLOAD in odd


# --- 404 mismatches ---------------------------------------------------------------------


def test_mismatch_section_structure(mismatch_run: Run) -> None:
    page = parse(html.render(mismatch_run))
    section = page.one("section", id="mismatches")
    assert section.one("h2").all_text == "404 mismatches"
    assert (
        section.one(cls="mismatch-summary").all_text
        == "7 404 mismatches across 3 modules; 1 module missing entirely"
    )
    assert samples.INVENTORY in section.all_text
    headings = section.find("h3")
    assert [h.attrs["data-module"] for h in headings] == [
        "/api/shopper",
        "/api/recordings",
        "/api/billing",
    ]
    assert headings[0].all_text == "/api/shopper (3)"
    assert headings[2].all_text == "/api/billing (2) missing entirely"
    tables = section.find("table", cls="mismatches")
    header = [th.all_text for th in tables[0].one("thead").find("th")]
    assert header == ["Method", "Called", "Backend has", "Cause", "Suggestion", "Identities"]
    rows = [tr for table in tables for tr in table.one("tbody").find("tr")]
    assert [r.attrs["data-cause"] for r in rows] == [
        "extra_segment",
        "renamed",
        "wrong_method",
        "no_list_handler",
        "resource_not_found",
        "module_missing",
        "module_missing",
    ]
    listing = [td.all_text for td in rows[3].find("td")]
    assert listing == [
        "GET",
        "/api/recordings",
        "GET /api/recordings/{id} only",
        "no list handler",
        "add a list handler or call GET /api/recordings/{id}",
        "admin, viewer",
    ]
    badge = rows[3].one("span", cls="badge")
    assert "cause-no_list_handler" in badge.classes
    assert badge.attrs["title"] == samples.NO_LIST_HANDLER.detail
    assert [td.all_text for td in rows[5].find("td")][2:5] == [
        "nothing",
        "route missing",
        "add the route or remove the call",
    ]
    # It comes after the tallies, before the results table.
    order = [e.attrs.get("id") for e in page.all() if e.attrs.get("id")]
    assert order.index("groups") < order.index("mismatches") < order.index("results")


def test_mismatch_rows_link_to_failure_details_with_the_diagnosis(mismatch_run: Run) -> None:
    page = parse(html.render(mismatch_run))
    links = [(a.all_text, a.attrs["href"] or "") for a in page.one(id="mismatches").find("a")]
    # One link per result: GET /api/recordings failed for admin and viewer.
    assert [text for text, _ in links] == ["admin"] * 4 + ["viewer"] + ["admin"] * 3
    for identity, href in links:
        details = page.one(id=href.removeprefix("#"))
        assert "failure" in details.classes
        assert details.attrs["data-identity"] == identity
        assert details.one(cls="diagnosis")
    listing = links[3][1]
    diagnosis = page.one(id=listing[1:]).one(cls="diagnosis")
    assert diagnosis.attrs["data-cause"] == "no_list_handler"
    assert [dt.all_text for dt in diagnosis.find("dt")] == [
        "Cause",
        "Detail",
        "Backend has",
        "Suggestion",
    ]
    assert diagnosis.one("dd", cls="detail").all_text == samples.NO_LIST_HANDLER.detail
    assert diagnosis.one("dd", cls="backend-has").all_text == "GET /api/recordings/{id} only"
    assert diagnosis.one(cls="badge").all_text == "no list handler"
    # The matrix cell linking to the same details carries the diagnosis in its tooltip.
    (cell,) = [
        td
        for td in page.one("table", id="results").find("td", cls="cell")
        if any(a.attrs.get("href") == listing for a in td.find("a"))
    ]
    assert cell.attrs["title"] == (
        "admin: expected 200, got 404 — no list handler: only GET /api/recordings/{id} exists"
        " · 4 ms"
    )


def test_one_identity_mismatch_rows_link_to_details_and_notes_carry_the_diagnosis() -> None:
    run = samples.run([samples.one_mismatch("/api/shopper/audit", samples.RENAMED)])
    page = parse(html.render(run))
    section = page.one("section", id="mismatches")
    assert section.one(cls="mismatch-summary").all_text == "1 404 mismatch in 1 module"
    assert "Diagnosed against" not in section.all_text  # the run names no inventory
    assert [th.all_text for th in section.find("th")][-1] == "Failure"
    (link,) = section.find("a")
    assert link.all_text == "details"
    assert page.one(id=(link.attrs["href"] or "")[1:]).one(cls="diagnosis")
    note = page.one("table", id="results").one("td", cls="note").all_text
    assert note.startswith(
        "expected 200, got 404 — mounted under another name: /api/shopper/audit-logs"
    )


def test_runs_without_diagnoses_have_no_mismatch_section(sample_run: Run) -> None:
    page = parse(html.render(sample_run))
    assert not page.find(id="mismatches")
    assert not page.find(cls="diagnosis")


HOSTILE_PATH = "/api/<img src=x onerror=alert(1)>/\"'&<script>alert(2)</script>"


def test_mismatch_section_escapes_a_hostile_path() -> None:
    diagnosis = Diagnosis(
        cause="renamed",
        detail=f"mounted under another name: {HOSTILE_PATH}-logs",
        suggestions=(f"GET {HOSTILE_PATH}-logs",),
        confirmed=(f"GET {HOSTILE_PATH}-logs",),
    )
    result = samples.one_mismatch(HOSTILE_PATH, diagnosis)
    hostile_module = result.model_copy(update={"path": "/<b>x<i>/y", "index": 1})
    text = html.render(samples.run([result, hostile_module]))
    assert "<img" not in text
    assert "<b>x" not in text
    page = parse(text)
    assert not page.find("img")
    assert not page.find("b")
    assert not page.find("i")
    assert len(page.find("script")) == 1
    for element in page.all():
        assert not any(name.startswith("on") for name in element.attrs), element
    section = page.one("section", id="mismatches")
    codes = [c.all_text for c in section.find("code")]
    assert HOSTILE_PATH in codes
    assert f"GET {HOSTILE_PATH}-logs" in codes
    assert "/<b>x<i>" in [h.attrs["data-module"] for h in section.find("h3")]
    badge = section.find("tbody")[0].one(cls="badge")
    assert badge.attrs["title"] == diagnosis.detail
    details = page.one(id="failures").find(cls="diagnosis")
    assert diagnosis.detail in [d.one("dd", cls="detail").all_text for d in details]


def test_mismatches_in_headless_chromium(mismatch_run: Run, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text(html.render(mismatch_run), encoding="utf-8")
    page = parse(dump_dom(report, tmp_path / "profile"))

    assert page.one("body").attrs.get("data-ready") == "1"
    assert page.one(id="shown-count").all_text == "8 of 8 shown"
    section = page.one("section", id="mismatches")
    assert not any("hidden" in e.attrs for e in section.all())  # filters leave it alone
    assert "7 404 mismatches across 3 modules" in section.all_text
    assert len(section.find("tr", cls=None)) == 3 + 7  # a header row per module, and the rows
    for link in section.find("a"):
        assert page.one(id=(link.attrs["href"] or "")[1:]).one(cls="diagnosis")


# --- known failures, flaky results, and changes against a baseline ---------------------------


def test_runs_of_old_get_no_new_styles_or_sections(sample_run: Run, matrix_run: Run) -> None:
    for run in (sample_run, matrix_run):
        text = html.render(run)
        assert "--xfail" not in text
        page = parse(text)
        assert not page.find(id="known")
        assert not page.find(id="changes")
        assert not page.find(cls="tile-flaky")
        assert [t.attrs["data-verdict"] for t in page.one(id="totals").find(cls="tile")] == [
            "PASS",
            "FAIL",
            "ERROR",
            "SKIP",
        ]


def test_known_failures_tiles_and_section(known_run: Run) -> None:
    text = html.render(known_run)
    assert "--xfail: #9a6700" in text  # muted amber
    assert "--xpass: #0969da" in text  # blue
    page = parse(text)
    tiles = page.one(id="totals")
    counts = {
        cls: tiles.one(cls=cls).one(cls="count").all_text
        for cls in ("tile-xfail", "tile-xpass", "tile-flaky")
    }
    assert counts == {"tile-xfail": "4", "tile-xpass": "1", "tile-flaky": "1"}
    assert "FLAKY ⚑" in tiles.one(cls="tile-flaky").all_text
    section = page.one("section", id="known")
    summary = section.one(cls="known-summary")
    assert summary.all_text == "Known failures: 3 BACKLOG · 1 BLOCKED · 0 DEFERRED"
    assert [s.attrs["data-status"] for s in summary.find(cls="known-count")] == [
        "BACKLOG",
        "BLOCKED",
        "DEFERRED",
    ]
    assert section.one("p", cls="now-passing").all_text == "XPASS: 1 now passing: close T2-7?"
    rows = section.one("tbody").find("tr")
    assert [r.attrs["data-ticket"] for r in rows] == ["T2-3", "T2-5", "T2-7", "T2-9"]
    assert [td.all_text for td in rows[0].find("td")] == [
        "T2-3",
        "BACKLOG",
        "GET /api/recordings",
        "admin XFAIL 404 · viewer XFAIL 404",
        "no list handler yet",
    ]
    assert "now-passing" in rows[2].classes
    assert rows[2].one(cls="reason").all_text.endswith("now passing: close T2-7?")
    # Tallies gain the XFAIL and XPASS columns; the filters gain their buttons.
    header = [th.all_text for th in page.one("table", id="groups").find("th")]
    assert header[1:7] == ["PASS", "FAIL", "ERROR", "SKIP", "XFAIL", "XPASS"]
    buttons = [b.attrs["data-filter"] for b in page.one(id="filters").find("button")]
    assert buttons == ["all", "PASS", "FAIL", "ERROR", "SKIP", "XFAIL", "XPASS"]
    # Known failures are not failures: only the real FAIL gets a details article.
    assert [f.attrs["data-verdict"] for f in page.one(id="failures").find(cls="failure")] == [
        "FAIL"
    ]


def test_flaky_and_known_cells_in_the_matrix(known_run: Run) -> None:
    page = parse(html.render(known_run))
    cells = page.one("table", id="results").find("td", cls="cell")
    flaky = [c for c in cells if "flaky" in c.classes]
    assert len(flaky) == 1
    assert flaky[0].all_text == "PASS 200 ⚑"
    assert "flaky: passed on attempt 3" in (flaky[0].attrs["title"] or "")
    assert {c.attrs["data-verdict"] for c in cells} >= {"XFAIL", "XPASS"}
    assert all(f"v-{c.attrs['data-verdict']}".lower() in c.classes for c in cells)
    assert "⚑ flaky: failed, then passed when checked again." in page.all_text


def test_changes_section_and_was_columns(baseline_run: Run) -> None:
    page = parse(html.render(baseline_run))
    section = page.one("section", id="changes")
    summary = section.one(cls="changes-summary").all_text
    assert summary == (
        "Baseline runs/2026-11-23/run.json · 1 REGRESSED, 2 FIXED, 3 NEW, 1 GONE (2 UNCHANGED)"
    )
    changed = section.one("table", id="changed").one("tbody").find("tr")
    assert [r.attrs["data-change"] for r in changed] == [
        "REGRESSED",
        "FIXED",
        "FIXED",
        "NEW",
        "NEW",
        "NEW",
    ]
    assert [td.all_text for td in changed[0].find("td")] == [
        "REGRESSED",
        "Billing",
        "GET",
        "/api/billing/plans",
        "PASS 200",
        "FAIL 500",
    ]
    assert changed[3].one("td", cls="was").all_text == "—"
    (gone,) = section.one("table", id="gone").one("tbody").find("tr")
    assert [td.all_text for td in gone.find("td")] == [
        "GONE",
        "Legacy",
        "GET",
        "/api/v1/status",
        "PASS 200",
    ]
    results = page.one("table", id="results")
    header = [th.all_text for th in results.one("thead").find("th")]
    assert header[5:8] == ["Got", "Was", "Change"]
    rows = results.one("tbody").find("tr")
    assert [r.attrs.get("data-change") for r in rows] == [r.change for r in baseline_run.results]
    assert rows[3].one("td", cls="verdict").all_text == "PASS ⚑"
    order = [e.attrs.get("id") for e in page.all() if e.attrs.get("id")]
    assert order.index("groups") < order.index("changes") < order.index("results")


def test_matrix_cells_carry_their_change(matrix_run: Run) -> None:
    before = matrix_run.model_copy(
        update={"results": tuple(r for r in matrix_run.results if r.identity != "viewer")}
    )
    page = parse(html.render(compare(matrix_run, before, "old.json")))
    viewer = [
        c
        for c in page.one("table", id="results").find("td", cls="cell")
        if c.attrs["data-identity"] == "viewer"
    ]
    assert {c.attrs["data-change"] for c in viewer} == {"NEW"}
    assert "was —: NEW" in (viewer[0].attrs["title"] or "")
    assert "Identity" in [th.all_text for th in page.one("table", id="changed").find("th")]


def test_known_and_changes_escape_hostile_text(known_run: Run) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    ticket = Known(ticket=hostile, status="BLOCKED", reason=f"<script>alert(2)</script>{hostile}")
    results = tuple(
        r.model_copy(update={"known": ticket}) if r.known else r for r in known_run.results
    )
    run = known_run.model_copy(update={"results": results, "baseline": hostile})
    text = html.render(run)
    assert "<img" not in text
    assert "<script>alert" not in text
    page = parse(text)
    assert not page.find("img")
    assert len(page.find("script")) == 1
    assert hostile in [r.attrs["data-ticket"] for r in page.one(id="known").find("tr")[1:]]
    assert page.one("code", cls="baseline").all_text == hostile


def test_known_run_in_headless_chromium(known_run: Run, tmp_path: Path) -> None:
    text = html.render(known_run)
    press_xfail = "document.querySelector('#filters button[data-filter=\"XFAIL\"]').click();"
    text = text.replace("script-src ", f"script-src {html.csp_hash(press_xfail)} ", 1)
    text = text.replace("</body>", f"<script>{press_xfail}</script>\n</body>")
    report = tmp_path / "report.html"
    report.write_text(text, encoding="utf-8")
    page = parse(dump_dom(report, tmp_path / "profile"))

    assert page.one("body").attrs.get("data-ready") == "1"
    # Three checks have an XFAIL cell: /api/recordings, /api/recordings/export, /api/audit.
    assert page.one(id="shown-count").all_text == "3 of 6 shown"
    assert page.one(id="known").one(cls="known-summary").all_text.startswith("Known failures: 3")
