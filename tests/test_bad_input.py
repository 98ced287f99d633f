"""Bad input on the command line: every mistake is exit 2 with a message that names it,
before anything is sent, and never a traceback. In-process through click's runner, and a
few through the installed console script as a user meets them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "specs" / "demo.yaml"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Paths the cases below name as `{name}`."""
    (tmp_path / "a-file").write_text("not a folder\n")
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)))
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "not-a-run.json").write_text('{"hello": 1}')
    (tmp_path / "truncated.json").write_text('{"schema": "crawler.run/1", "results": [')
    (tmp_path / "folder.yaml").mkdir()
    return {
        "tmp": str(tmp_path),
        "file": str(tmp_path / "a-file"),
        "latin1": str(tmp_path / "latin1.yaml"),
        "binary": str(tmp_path / "binary.yaml"),
        "empty": str(tmp_path / "empty.yaml"),
        "list": str(tmp_path / "list.yaml"),
        "notrun": str(tmp_path / "not-a-run.json"),
        "truncated": str(tmp_path / "truncated.json"),
        "folder": str(tmp_path / "folder.yaml"),
        "missing": str(tmp_path / "missing.yaml"),
    }


CASES = [
    # Manifests that cannot be read as one.
    (["check", "{missing}"], "{missing}: no such file"),
    (["check", "{folder}"], "is a directory"),
    (["check", "{latin1}"], "{latin1}:1: not UTF-8 (byte 0xe9); save the file as UTF-8"),
    (["check", "{binary}"], "{binary}"),
    (["check", "{empty}"], "{empty}"),
    (["check", "{list}"], "{list}:1"),
    (["run", "{missing}", "--out", "{tmp}/o"], "{missing}: no such file"),
    # Where the reports go: never a crawl whose reports cannot be written.
    (["run", str(DEMO), "--out", "{file}"], "{file}"),
    (["run", str(DEMO), "--out", "{file}/sub"], "cannot create the folder"),
    # Options out of range or malformed.
    (["run", str(DEMO), "--out", "{tmp}/o", "--retries", "9"], "--retries"),
    (["run", str(DEMO), "--out", "{tmp}/o", "--rate", "0"], "--rate"),
    (["run", str(DEMO), "--out", "{tmp}/o", "--deadline", "-1"], "--deadline"),
    (["run", str(DEMO), "--out", "{tmp}/o", "--timeout", "0"], "--timeout"),
    (["run", str(DEMO), "--out", "{tmp}/o", "--per-host", "0"], "--per-host"),
    (["run", str(DEMO), "--out", "{tmp}/o", "--shard", "3/2"], "--shard"),
    (["run", str(DEMO), "--out", "{tmp}/o", "--only", "colour:red"], "--only"),
    (["run", str(DEMO), "--out", "{tmp}/o", "--identity", "nobody"], "nobody"),
    (["run", str(DEMO), "--out", "{tmp}/o", "--env", "mars"], "mars"),
    (["run", str(DEMO), "--out", "{tmp}/o", "--no-such-flag"], "No such option"),
    (["run", str(DEMO), "--out", "{tmp}/o", "--fail-on", "regressions"], "--baseline"),
    # Saved runs that are not runs.
    (["run", str(DEMO), "--out", "{tmp}/o", "--baseline", "{notrun}"], "not a crawler run"),
    (["run", str(DEMO), "--out", "{tmp}/o", "--baseline", "{missing}"], "{missing}"),
    (["render", "{truncated}", "--out", "{tmp}/o"], "{truncated}"),
    (["diff", "{notrun}", "{notrun}"], "not a crawler run"),
    (["merge", "{notrun}", "--output", "{tmp}/o.json"], "not a crawler run"),
    (["no-such-command"], "No such command"),
]


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(a[:2]) for a, _ in CASES])
def test_bad_input_exits_2_with_a_message(
    files: dict[str, str], args: list[str], message: str
) -> None:
    code, text = invoke(*(arg.format(**files) for arg in args))
    assert code == 2, text
    assert message.format(**files) in text
    assert "Traceback" not in text
    assert "crawling" not in text  # nothing was sent


def test_bad_input_through_the_console_script(files: dict[str, str], tmp_path: Path) -> None:
    crawler = str(Path(sys.executable).parent / "crawler")
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("CRAWLER_DEBUG", None)
    for args, message in [
        (["check", files["latin1"]], "not UTF-8"),
        (["run", str(DEMO), "--out", files["file"] + "/sub"], "cannot create the folder"),
        (["run", str(DEMO), "--retries", "nine"], "'nine' is not a valid integer"),
    ]:
        done = subprocess.run(
            [crawler, *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert "Traceback" not in done.stderr
        assert done.stdout == ""


def test_an_unknown_crawler_env_names_the_variable(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["run", str(DEMO), "--out", str(tmp_path)], env={"CRAWLER_ENV": "mars"}
    )
    assert result.exit_code == 2
    assert "CRAWLER_ENV=mars (as --env): --env mars: no such environment" in result.stderr


def test_the_command_line_imports_no_heavy_module_before_a_command_runs() -> None:
    """`crawler --help` and `crawler check` stay fast (bench W4): importing the command line
    loads none of httpx, anyio, jsonschema, jsonpath, jinja2 or rich."""
    heavy = ("httpx", "anyio", "jsonschema", "jsonpath", "jinja2", "rich", "aiohttp")
    code = f"import sys, crawler.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
