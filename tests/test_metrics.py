"""Prometheus metrics: the text format checked with the official parser, the file, the push."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import samples
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from servers import closed_port, serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crawler import engine, metrics
from crawler.cli import cli
from crawler.results import VERDICTS, Run, tally

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "specs" / "demo.yaml"

Labels = tuple[str, str, str]


def parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Family name -> {sorted label pairs: value}, via prometheus_client's own parser; also
    checks every family is a gauge with a HELP text."""
    families = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge", family.name
        assert family.documentation, family.name
        samples_ = {tuple(sorted(s.labels.items())): s.value for s in family.samples}
        assert len(samples_) == len(family.samples), f"duplicate series in {family.name}"
        families[family.name] = samples_
    return families


def by_check(family: dict[tuple[tuple[str, str], ...], float]) -> dict[Labels, float]:
    """{(group, check, identity): value} of a per-check family."""
    return {
        (d["group"], d["check"], d["identity"]): value
        for d, value in ((dict(k), v) for k, v in family.items())
    }


def test_every_family_is_named_helped_and_typed(sample_run: Run) -> None:
    text = metrics.render(sample_run)
    names = [
        "crawler_run_checks",
        "crawler_run_timestamp_seconds",
        "crawler_run_duration_seconds",
        "crawler_check_success",
        "crawler_check_duration_seconds",
    ]
    for name in names:
        assert f"\n# TYPE {name} gauge\n" in f"\n{text}"
        assert f"\n# HELP {name} " in f"\n{text}"
    assert sorted(parse(text)) == sorted(names)
    assert text.endswith("\n")


def test_success_per_check_and_skip_has_no_series(sample_run: Run) -> None:
    success = by_check(parse(metrics.render(sample_run))["crawler_check_success"])
    assert success == {
        ("Health", "GET /api/health", "anonymous"): 1,
        ("Health", "transcriptions removed", "anonymous"): 1,  # an expected 404
        ("Billing", "GET /api/billing/plans", "anonymous"): 1,
        ("Billing", "GET /api/billing/invoices", "anonymous"): 0,
        ("Billing", "export report", "anonymous"): 0,  # a named check: its name
        ("Users", "GET /api/users", "anonymous"): 0,  # ERROR
        ("Users", f"GET {samples.ODD_PATH}", "anonymous"): 0,
    }  # POST /api/billing/checkout was SKIPped: not sent, no series


def test_duration_only_where_there_was_an_answer(sample_run: Run) -> None:
    duration = by_check(parse(metrics.render(sample_run))["crawler_check_duration_seconds"])
    assert duration[("Health", "GET /api/health", "anonymous")] == pytest.approx(0.0034)
    assert duration[("Billing", "export report", "anonymous")] == pytest.approx(0.0412)
    assert ("Users", "GET /api/users", "anonymous") not in duration  # refused: no answer
    assert ("Billing", "POST /api/billing/checkout", "anonymous") not in duration
    assert len(duration) == 6


def test_run_checks_for_every_verdict_and_the_run_times(sample_run: Run) -> None:
    families = parse(metrics.render(sample_run))
    counts = {dict(k)["verdict"]: v for k, v in families["crawler_run_checks"].items()}
    expected = tally(sample_run.results)
    assert counts == {verdict: expected[verdict] for verdict in VERDICTS}
    assert counts["XFAIL"] == 0  # zeros are series too
    assert families["crawler_run_timestamp_seconds"] == {(): sample_run.started_at.timestamp()}
    assert families["crawler_run_duration_seconds"] == {(): 1.32}


def test_xfail_is_0_and_xpass_is_1() -> None:
    known = samples.run(
        [
            samples.result("Billing", 0, "/a", samples.response(404), "XFAIL"),
            samples.result("Billing", 1, "/b", samples.response(200), "XPASS"),
        ]
    )
    success = by_check(parse(metrics.render(known))["crawler_check_success"])
    assert success == {("Billing", "GET /a", "anonymous"): 0, ("Billing", "GET /b", "anonymous"): 1}


def test_identities_are_a_label(matrix_run: Run) -> None:
    success = by_check(parse(metrics.render(matrix_run))["crawler_check_success"])
    assert success[("Admin", "list users", "admin")] == 1
    assert success[("Admin", "list users", "viewer")] == 0
    assert not [key for key in success if key[2] == "ops"]  # ops could not log in: all SKIP


def test_one_series_for_a_route_checked_twice_as_one_identity() -> None:
    twice = samples.run(
        [
            samples.result("G", 0, "/x", samples.response(200, ms=5), "PASS"),
            samples.result("G", 1, "/x", samples.response(500, ms=9), "FAIL"),
        ]
    )
    families = parse(metrics.render(twice))
    assert by_check(families["crawler_check_success"]) == {("G", "GET /x", "anonymous"): 0}
    assert by_check(families["crawler_check_duration_seconds"]) == {
        ("G", "GET /x", "anonymous"): pytest.approx(0.009)
    }


@pytest.mark.parametrize(
    "group",
    ['Quote " here', "Back\\slash", "New\nline", "Ünïcödé → ✓", "{braces}=,"],
)
def test_label_values_are_escaped(group: str) -> None:
    hostile = samples.run(
        [samples.result(group, 0, '/p"a\\t\nh', samples.response(200), "PASS", identity='i"d')]
    )
    text = metrics.render(hostile)
    series = [line for line in text.splitlines() if line.startswith("crawler_check_success")]
    assert len(series) == 1  # one line: the newline is escaped
    success = by_check(parse(text)["crawler_check_success"])
    assert success == {(group, 'GET /p"a\\t\nh', 'i"d'): 1}


def test_push_url() -> None:
    assert metrics.push_url("http://pg:9091") == "http://pg:9091/metrics/job/crawler"
    assert metrics.push_url("http://pg:9091/") == "http://pg:9091/metrics/job/crawler"


# --- the file and the push, from the command line ---------------------------------------------


@dataclass
class Receiver:
    """A pushgateway stand-in: records each request's method, path, headers and body."""

    status: int = 200
    received: list[tuple[str, str, dict[str, str], str]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def push(request: Request) -> Response:
            body = (await request.body()).decode("utf-8")
            self.received.append((request.method, request.url.path, dict(request.headers), body))
            return Response(status_code=self.status)

        return Starlette(routes=[Route("/{path:path}", push, methods=["PUT", "POST", "GET"])])


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_run_writes_the_metrics_file(tmp_path: Path) -> None:
    prom = tmp_path / "textfile" / "crawler.prom"
    code, _, err = invoke(
        "run", str(DEMO), "--out", str(tmp_path / "out"), "-q", "--format", "json",
        "--metrics-file", str(prom),
    )  # fmt: skip
    assert code == 1  # the demo fails on purpose; metrics change nothing
    assert f"metrics: {prom}" in err
    families = parse(prom.read_text())
    counts = {dict(k)["verdict"]: v for k, v in families["crawler_run_checks"].items()}
    success = by_check(families["crawler_check_success"])
    assert success[("Health", "Liveness", "anonymous")] == 1
    assert success[("Billing", "Another organization's subscription", "viewer")] == 1
    assert sum(counts.values()) == len(success) + counts["SKIP"]  # a series per result
    assert not [p for p in prom.parent.iterdir() if p.name != "crawler.prom"]  # atomic: no temp


def test_run_pushes_the_same_metrics_to_the_pushgateway(tmp_path: Path) -> None:
    receiver = Receiver()
    prom = tmp_path / "crawler.prom"
    with serve(receiver.app()) as base_url:
        code, _, err = invoke(
            "run", str(DEMO), "--out", str(tmp_path / "out"), "-q", "--format", "json",
            "--metrics-file", str(prom), "--pushgateway", base_url + "/",
        )  # fmt: skip
    assert code == 1
    assert "warning" not in err
    [(method, path, headers, body)] = receiver.received
    assert (method, path) == ("PUT", "/metrics/job/crawler")
    assert headers["content-type"] == metrics.CONTENT_TYPE
    assert body == prom.read_text()
    assert "crawler_check_success" in parse(body)


def test_a_refused_pushgateway_is_a_warning_and_the_exit_code_is_unchanged(
    tmp_path: Path,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    code, _, err = invoke(
        "run", str(DEMO), "--out", str(tmp_path), "-q", "--format", "json", "--pushgateway", url
    )
    assert code == 1  # as without --pushgateway: the demo fails some checks on purpose
    assert "warning: --pushgateway: metrics not pushed (connection refused)" in err
    assert "Traceback" not in err


def test_a_pushgateway_that_refuses_the_metrics_is_a_warning(tmp_path: Path) -> None:
    receiver = Receiver(status=400)
    with serve(receiver.app()) as base_url:
        code, _, err = invoke(
            "run", str(DEMO), "--out", str(tmp_path), "-q", "--format", "json",
            "--pushgateway", base_url,
        )  # fmt: skip
    assert code == 1
    assert "warning: --pushgateway: metrics not pushed (answered 400)" in err


def test_push_sends_basic_auth_from_the_url_and_never_prints_it(tmp_path: Path) -> None:
    receiver = Receiver(status=401)
    with serve(receiver.app()) as base_url:
        url = base_url.replace("http://", "http://user:s3cret-pw@")
        code, out, err = invoke(
            "run", str(DEMO), "--out", str(tmp_path), "-q", "--format", "json",
            "--pushgateway", url,
        )  # fmt: skip
    assert code == 1
    [(_, _, headers, _)] = receiver.received
    assert headers["authorization"].startswith("Basic ")
    assert "s3cret-pw" not in out + err


def test_push_text_times_out_within_its_bound() -> None:
    import threading

    release = threading.Event()

    async def hang(request: Request) -> Response:
        import anyio

        await anyio.to_thread.run_sync(release.wait, 5.0)
        return Response()

    app = Starlette(routes=[Route("/metrics/job/crawler", hang, methods=["PUT"])])
    with serve(app) as base_url:
        try:
            problem = engine.push_text(
                metrics.push_url(base_url), "x 1\n", metrics.CONTENT_TYPE, timeout=0.2
            )
        finally:
            release.set()
    assert problem is not None and "0.2 s" in problem


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pushgateway", "ftp://pg:9091"], "--pushgateway: not an http(s) URL"),
        (["--metrics-file", "."], "'.' is a directory"),
    ],
)
def test_bad_metrics_options_exit_2_before_crawling(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    code, _, err = invoke("run", str(DEMO), "--out", str(out), "-q", *args)
    assert code == 2
    assert message in err
    assert not out.exists() or not list(out.iterdir())
