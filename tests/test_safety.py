"""What a user must never meet: secrets in output, tracebacks on bad input, hangs, lost crawls.

Each test reproduces one way it could happen, end to end through the CLI where a user would
meet it, against a loopback server started here.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from servers import MockApp, mock_app, serve

from crawler import manifest, redact
from crawler.cli import cli
from crawler.errors import ManifestError
from crawler.results import load_run

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "specs" / "demo.yaml"


@pytest.fixture
def server() -> Iterator[tuple[str, MockApp]]:
    app = mock_app()
    with serve(app) as url:
        yield url, app


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def every_output(out_dir: Path, terminal: str) -> str:
    return terminal + "".join(p.read_text() for p in sorted(out_dir.iterdir()))


# --- secrets -----------------------------------------------------------------------------------


def test_secrets_in_paths_queries_headers_and_env_never_reach_any_output(
    server: tuple[str, MockApp], tmp_path: Path
) -> None:
    url, _ = server
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "version: 1\nname: Secrets\ngroups:\n  G:\n"
        "    - GET /echo?api_key=QUERYSECRET99&x=1 -> 418\n"
        "    - {path: '/echo/${API_TOKEN}', name: 'token ${API_TOKEN}', expect: 418}\n"
        "    - {path: /echo, query: {access_token: QUERYSECRET77}, expect: 418}\n"
        "    - {path: /echo, headers: {Authorization: Bearer HEADERSECRET55}, expect: 418}\n"
        "    - {path: /echo, headers: {X-Api-Key: APIKEYSECRET33}, expect: 418}\n"
    )
    out = tmp_path / "out"
    code, text = invoke(
        "run",
        str(spec),
        "--base-url",
        url,
        "--out",
        str(out),
        env={"API_TOKEN": "ENVSECRET-123456"},
    )
    assert code == 1  # /echo answers 200, each check expected 418: all FAIL, bodies kept
    everything = every_output(out, text)
    for secret in ("QUERYSECRET99", "ENVSECRET-123456", "QUERYSECRET77", "HEADERSECRET55"):
        assert secret not in everything, secret
    assert "APIKEYSECRET33" not in everything
    assert "[REDACTED]" in everything
    run = load_run(out / "run.json")
    assert all(r.verdict == "FAIL" for r in run.results)  # they were really sent and answered


def test_password_in_base_url_becomes_basic_auth_and_is_hidden(
    server: tuple[str, MockApp], tmp_path: Path
) -> None:
    url, _ = server
    secret_url = url.replace("http://", "http://alice:PW-s3cret-9@")
    spec = tmp_path / "m.yaml"
    spec.write_text("version: 1\nname: Auth\ngroups:\n  G:\n    - GET /echo -> 418\n")
    out = tmp_path / "out"
    code, text = invoke("run", str(spec), "--base-url", secret_url, "--out", str(out))
    assert code == 1
    run = load_run(out / "run.json")
    assert run.results[0].status == 200  # answered (not an ERROR)
    token = base64.b64encode(b"alice:PW-s3cret-9").decode()
    echoed = json.loads(run.results[0].observation.body_excerpt.replace("[REDACTED]", "x"))
    assert echoed["headers"]["authorization"] == "Basic x"  # sent, and hidden in the echo
    everything = every_output(out, text)
    assert "PW-s3cret-9" not in everything and token not in everything


def test_location_header_with_a_token_is_redacted() -> None:
    shown = redact.headers({"Location": "/login?token=SUPERSECRET123&next=/x"})
    assert "SUPERSECRET123" not in shown["Location"]
    assert shown["Location"].startswith("/login?token=")


# --- time --------------------------------------------------------------------------------------


def test_timeout_flag_overrides_the_manifest_default(tmp_path: Path) -> None:
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "version: 1\nname: T\napp: crawler.demo.app:app\ndefaults: {timeout: 30}\n"
        "groups:\n  G:\n    - GET /api/slow -> 200\n"
    )
    code, _ = invoke(
        "run", str(spec), "--out", str(tmp_path), "--format", "json", "--timeout", "0.05"
    )
    assert code == 1
    result = load_run(tmp_path / "run.json").results[0]
    assert result.verdict == "ERROR"
    assert "0.1 s" in result.reason  # the whole-check limit is twice the timeout


def test_a_hung_wsgi_app_cannot_hold_the_crawl(tmp_path: Path) -> None:
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "version: 1\nname: T\napp: tests.apps:slow_wsgi_app\ngroups:\n  G:\n"
        "    - {path: /x, timeout: 0.1}\n"
    )
    start = time.monotonic()
    code, _ = invoke("run", str(spec), "--out", str(tmp_path), "--format", "json", "-q")
    finished_in = time.monotonic() - start
    assert code == 1
    assert load_run(tmp_path / "run.json").results[0].verdict == "ERROR"
    assert finished_in < 2.5  # the app itself takes 3 s: the crawl did not wait for it


# --- bad input: a clear error, exit 2, no traceback ----------------------------------------------


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("groups:\n  ? [a, b]\n  : [/x]\n", "a key must be a plain word"),
        ("groups:\n  G: &a [*a]\n", "an alias refers to itself"),
        (
            "groups:\n  G:\n    - {path: /a, headers: {X-A: 'café'}}\n",
            "character HTTP does not allow",
        ),
        ("groups:\n  G:\n    - {path: /a, headers: {'X A': b}}\n", "is not a header name"),
        ("groups:\n  G:\n    - //evil.example/x\n", "starts with '//'"),
    ],
)
def test_hostile_manifests_give_located_errors(yaml_text: str, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        manifest.loads("version: 1\nname: X\n" + yaml_text, "m.yaml", {})
    assert message in str(caught.value)
    assert str(caught.value).startswith("m.yaml:")


def test_alias_bomb_is_stopped() -> None:
    lines = ["version: 1", "name: X", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 20)]
    with pytest.raises(ManifestError, match="more than 2,000,000 values"):
        manifest.loads("\n".join(lines) + "\n", "bomb.yaml", {})


def test_merge_keys_may_override_and_numeric_group_names_are_names() -> None:
    loaded = manifest.loads(
        "version: 1\nname: X\nx-base: &base {path: /a, expect: 404}\n"
        "groups:\n  2024:\n    - {<<: *base, path: /b}\n",
        "m.yaml",
        {},
    )
    check = loaded.planned()[0]
    assert (check.group, check.check.path, str(check.check.expect)) == ("2024", "/b", "404")


def test_unknown_top_level_key_from_anchor_block_is_reported() -> None:
    # Only `x-` keys are the user's own: `base:` is reported as unknown, with its line.
    with pytest.raises(ManifestError, match=r"m.yaml:3: base: unknown field"):
        manifest.loads(
            "version: 1\nname: X\nbase: &b {path: /a}\ngroups:\n  G:\n    - *b\n", "m.yaml", {}
        )


def test_unwritable_out_folder_is_a_usage_error_before_crawling(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    code, text = invoke("run", str(DEMO), "--out", str(blocker / "sub"))
    assert code == 2
    assert "cannot create the folder" in text and "checks:" not in text


def test_render_of_a_binary_file_is_a_usage_error(tmp_path: Path) -> None:
    binary = tmp_path / "run.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    code, text = invoke("render", str(binary), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "not UTF-8" in text


def test_app_that_fails_on_import_is_a_target_error(tmp_path: Path) -> None:
    code, text = invoke(
        "run", str(DEMO), "--app", "tests.bad_apps.raises_on_import:app", "--out", str(tmp_path)
    )
    assert code == 2
    assert "importing tests.bad_apps.raises_on_import failed: RuntimeError" in text


@pytest.mark.parametrize("url", ["http://[::1", "http://", "http://a:99999", "ftp://x"])
def test_bad_base_urls_are_usage_errors(url: str, tmp_path: Path) -> None:
    code, text = invoke("run", str(DEMO), "--base-url", url, "--out", str(tmp_path))
    assert code == 2
    assert "--base-url" in text and "Traceback" not in text


# --- mutations -----------------------------------------------------------------------------

MUTATIONS = """version: 1
name: Mutations
identities:
  writer:
    kind: login
    steps:
      - GET /echo
      - {method: POST, path: /status/200, form: {user: u, password: p}, expect: 200}
  anonymous: {kind: anonymous}
groups:
  G:
    - GET /status/200
    - POST /status/201 -> 201
    - PUT /status/200
    - PATCH /status/200
    - DELETE /status/204 -> 204
    - HEAD /status/200
    - OPTIONS /status/200
"""


def test_without_opt_in_only_declared_login_steps_may_write(
    server: tuple[str, MockApp], tmp_path: Path
) -> None:
    url, app = server
    spec = tmp_path / "m.yaml"
    spec.write_text(MUTATIONS)
    code, text = invoke("run", str(spec), "--base-url", url, "--out", str(tmp_path / "o"), "-q")
    assert code == 0, text
    sent = list(zip(app.stats.methods, app.stats.paths, strict=True))
    # The checks' mutations never went out, for either identity ...
    checks_sent = [(m, p) for m, p in sent if p != "/echo" and (m, p) != ("POST", "/status/200")]
    assert {m for m, _ in checks_sent} <= {"GET", "HEAD", "OPTIONS"}
    assert len(checks_sent) == 3 * 2  # three safe checks x two identities
    # ... and the login identity sent exactly its declared steps, once.
    assert [x for x in sent if x not in checks_sent] == [("GET", "/echo"), ("POST", "/status/200")]
    assert "will send" not in text  # a loopback target: nothing to announce


def test_a_remote_run_announces_its_mutations_before_sending_anything(
    server: tuple[str, MockApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler import runner, verdict
    from crawler.engine import Settings, Target

    url, app = server
    # The test server is on 127.0.0.1; make the runner treat it as the remote host it stands for.
    monkeypatch.setattr(verdict, "is_loopback", lambda host: False)
    loaded = manifest.loads(MUTATIONS, "m.yaml", environ={})
    heard: list[tuple[str, int]] = []
    observer = runner.Observer(on_mutations=lambda line: heard.append((line, app.stats.requests)))
    run = runner.execute(
        loaded,
        Path("m.yaml"),
        Target(base_url=url),
        Settings(allow_mutations=True),
        observer=observer,
    )
    host = url.removeprefix("http://")
    line = f"will send 2 POST, 2 PUT, 2 PATCH, 2 DELETE to http://{host} (--allow-mutations)"
    assert heard == [(line, 0)]  # said once, before the first request (logins included)
    assert {r.verdict for r in run.results} == {"PASS"}
    # The CLI prints it on stderr.
    spec = tmp_path / "m.yaml"
    spec.write_text(MUTATIONS)
    args = ("run", str(spec), "--base-url", url, "--allow-mutations", "-q")
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "o")])
    assert line in result.stderr


# --- politeness ----------------------------------------------------------------------------


def test_rate_and_per_host_flags_pace_the_run(server: tuple[str, MockApp], tmp_path: Path) -> None:
    url, app = server
    spec = tmp_path / "m.yaml"
    spec.write_text("version: 1\nname: Polite\ngroups:\n  G:\n" + "    - GET /inflight\n" * 10)
    args = ["run", str(spec), "--base-url", url, "--out", str(tmp_path / "o"), "-q"]
    code, text = invoke(*args, "--concurrency", "8", "--rate", "20", "--per-host", "2")
    assert code == 0, text
    assert app.stats.requests == 10
    assert 1 <= app.stats.max_inflight <= 2
    # 10 starts 1/20 s apart span 0.45 s; a lower bound only.
    assert max(app.stats.arrivals) - min(app.stats.arrivals) >= 0.4
