"""The command line, in-process with click's CliRunner and once as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.results import load_run

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "specs" / "demo.yaml"


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_check_lists_demo_checks_per_group() -> None:
    code, out, _ = invoke("check", str(DEMO))
    assert code == 0
    assert "valid" in out.splitlines()[0]
    assert "\nBilling (" in out
    assert "POST /api/billing/checkout" in out
    assert "[not sent without --allow-mutations]" in out


def test_check_reports_bad_status_with_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nname: X\ngroups:\n  Billing:\n    - GET /a -> 200\n    - GET /b -> 20O\n"
    )
    code, out, err = invoke("check", str(bad))
    assert code == 2
    assert f'{bad}:6: groups.Billing[1].expect: "20O" is not a status' in err
    assert "Traceback" not in out + err


def test_run_demo_in_process_writes_reports(tmp_path: Path) -> None:
    code, out, _ = invoke("run", str(DEMO), "--out", str(tmp_path), "-q")
    assert code == 1  # the demo fails some checks on purpose
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.md", "run.json"]
    run = load_run(tmp_path / "run.json")
    assert run.in_process and run.target == "app:crawler.demo.app:app"
    assert out.rstrip().splitlines()[-1].startswith(f"{len(run.results)} checks: ")
    verdicts = {(r.method, r.path): r.verdict for r in run.results}
    assert verdicts[("GET", "/api/health")] == "PASS"
    assert verdicts[("GET", "/api/recordings")] == "FAIL"
    assert verdicts[("POST", "/api/billing/checkout")] in {"SKIP", "PASS"}
    assert "## Billing (" in (tmp_path / "report.md").read_text()


def test_run_with_allow_mutations_sends_the_post(tmp_path: Path) -> None:
    invoke("run", str(DEMO), "--out", str(tmp_path), "-q", "--format", "json", "--allow-mutations")
    run = load_run(tmp_path / "run.json")
    assert not [r for r in run.results if r.verdict == "SKIP"]


def test_closed_port_gives_error_rows_and_exit_1(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    code, out, err = invoke(
        "run", str(DEMO), "--base-url", url, "--out", str(tmp_path), "--format", "json", "-q"
    )
    assert code == 1
    run = load_run(tmp_path / "run.json")
    sent = [r for r in run.results if r.verdict != "SKIP"]
    assert sent and all(r.verdict == "ERROR" for r in sent)
    # Anonymous checks and those of identities whose login got no answer: the same cause.
    assert all("connection refused" in r.reason for r in sent), {r.reason for r in sent}
    assert {r.identity for r in sent} == {"admin", "viewer", "anonymous"}
    assert "ERROR" in out and "Traceback" not in out + err


def test_render_rerenders_a_saved_run(tmp_path: Path) -> None:
    invoke("run", str(DEMO), "--out", str(tmp_path / "a"), "--format", "json", "-q")
    code, _, _ = invoke("render", str(tmp_path / "a" / "run.json"), "--out", str(tmp_path / "b"))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["report.html", "report.md"]


def test_render_rejects_a_file_that_is_not_a_run(tmp_path: Path) -> None:
    bogus = tmp_path / "run.json"
    bogus.write_text('{"hello": 1}')
    code, _, err = invoke("render", str(bogus), "--out", str(tmp_path))
    assert code == 2
    assert "not a crawler run" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "pdf"], "pdf: choose from md, html, json"),
        (["--base-url", "ftp://x"], "use an http:// or https:// URL"),
        (["--base-url", "http://a", "--app", "m:app"], "not both"),
        (["--app", "no_such_module_xyz:app"], "cannot import no_such_module_xyz"),
        (["--concurrency", "0"], "--concurrency"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    code, out, err = invoke("run", str(DEMO), "--out", str(tmp_path), *args)
    assert code == 2
    assert message in out + err


def test_schema_is_json_schema() -> None:
    code, out, _ = invoke("schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["title"] == "crawler manifest"
    assert "Check" in schema["$defs"]


def test_subprocess_closed_port_no_traceback(tmp_path: Path) -> None:
    """The installed console script, as a user runs it: ERROR rows, exit 1, plain lines."""
    url = f"http://127.0.0.1:{closed_port()}"
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "crawler"),
            "run",
            str(DEMO),
            "--base-url",
            url,
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "connection refused" in proc.stdout
    assert "\x1b[" not in proc.stdout  # no colour codes in a pipe
    assert proc.stdout.rstrip().splitlines()[-1].endswith(" s")
    assert (tmp_path / "report.html").exists()


def test_subprocess_invalid_manifest_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: X\ngroups:\n  G:\n    - {path: /a, expect: '20O'}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "check", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert f"{bad}:5: groups.G[0].expect" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_writes_partial_reports_and_exits_130(tmp_path: Path, signum: int) -> None:
    """Ctrl-C (or CI's SIGTERM) mid-crawl: what finished is kept, the rest is SKIP."""
    manifest = tmp_path / "slow.yaml"
    checks = "\n".join(["    - GET /api/health -> 200"] + ["    - GET /api/slow -> 200"] * 40)
    manifest.write_text(
        "version: 1\nname: Slow\napp: crawler.demo.app:app\ndefaults: {concurrency: 1}\n"
        f"groups:\n  G:\n{checks}\n"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler",
            "run",
            str(manifest),
            "--out",
            str(tmp_path / "out"),
            "--format",
            "json,md",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until two checks have finished, then press Ctrl-C
        if line.startswith("[ 2/41]"):
            proc.send_signal(signum)
            break
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "(interrupted)" in out
    assert "Traceback" not in out + err
    run = load_run(tmp_path / "out" / "run.json")
    assert run.interrupted
    assert len(run.results) == 41
    assert run.results[0].verdict == "PASS"
    skipped = [r for r in run.results if r.verdict == "SKIP"]
    assert skipped and all(r.reason == "not finished: the run was interrupted" for r in skipped)


def test_on_a_terminal_shows_progress_and_colour_unless_no_color(tmp_path: Path) -> None:
    """Under a pseudo-terminal: rich progress and colour; NO_COLOR turns colour off."""

    def run_in_pty(extra_env: dict[str, str]) -> tuple[int, str]:
        primary, secondary = os.openpty()
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | extra_env
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "run", str(DEMO), "--out", str(tmp_path)],
            stdout=secondary,
            stderr=secondary,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
        )
        os.close(secondary)
        chunks = []
        while True:
            try:
                data = os.read(primary, 65536)
            except OSError:  # the terminal closes when the process ends
                break
            if not data:
                break
            chunks.append(data)
        os.close(primary)
        return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")

    code, coloured = run_in_pty({"TERM": "xterm-256color"})
    assert code == 1
    assert "\x1b[" in coloured
    assert "checks: " in coloured and "Traceback" not in coloured
    code, plain = run_in_pty({"TERM": "xterm-256color", "NO_COLOR": "1"})
    assert code == 1
    summary = [line for line in plain.splitlines() if "checks: " in line][-1]
    assert "\x1b[3" not in summary  # no colour codes on the summary line


def test_reports_get_ordinary_file_permissions(tmp_path: Path) -> None:
    """Reports are CI artifacts others read: not the 0600 of a temporary file."""
    invoke("run", str(DEMO), "--out", str(tmp_path), "-q", "--format", "json")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "run.json").stat().st_mode & 0o777 == 0o666 & ~umask
