"""Peers on W1 and W2: Tavern (PyPI), Newman and Step CI (npm), each with equivalent tests.

Installed on first use into bench/.peers/ (git-ignored): Tavern into its own venv with pip,
Newman and Step CI with `npm install --prefix bench/.peers`. For each workload the same
routes become the peer's own test file (one GET per route, status 200 asserted), written to
a temporary folder, and the peer runs it against the bench's servers once, within
`RUN_LIMIT_S`. A peer that cannot be installed or run is a row that says why, never a crash.

How each peer sends (its own model, not ours): Tavern and Newman run their tests one after
another (no concurrency option); Step CI runs its tests concurrently, here limited to the
workload's concurrency (`config.concurrency`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

PEERS = Path(__file__).resolve().parent / ".peers"
INSTALL_LIMIT_S = 300
RUN_LIMIT_S = 120
NODE_PACKAGES = ("newman", "stepci")
# Tavern 3.7 imports a pytest internal that pytest 9 removed.
TAVERN_REQUIREMENTS = ("tavern", "pytest<9")


@dataclass(frozen=True)
class PeerRun:
    """One peer on one workload: its wall time, or why there is none."""

    peer: str
    wall_s: float | None
    note: str


class PeerError(Exception):
    """A peer that could not be installed or run; the message is the row's reason."""


def _run(command: list[str], limit: float, cwd: Path | None = None) -> float:
    env = {**os.environ, "STEPCI_DISABLE_ANALYTICS": "1", "NO_COLOR": "1"}
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=limit, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise PeerError(f"did not finish within {limit:g} s") from None
    except OSError as exc:
        raise PeerError(f"cannot start {command[0]}: {exc.strerror or exc}") from None
    wall = time.perf_counter() - start
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-2:])[:200]
        raise PeerError(f"exit {done.returncode}: {tail}")
    return wall


# --- installing -------------------------------------------------------------------------------


def tavern() -> Path:
    """The Tavern venv's python (Tavern installed with pip on first use)."""
    venv = PEERS / "tavern"
    python = venv / "bin" / "python"
    marker = venv / f".installed {' '.join(TAVERN_REQUIREMENTS)}"
    if not marker.exists():
        PEERS.mkdir(exist_ok=True)
        _run([sys.executable, "-m", "venv", str(venv)], INSTALL_LIMIT_S)
        _run(
            [str(python), "-m", "pip", "install", "--quiet", *TAVERN_REQUIREMENTS], INSTALL_LIMIT_S
        )
        marker.touch()
    return python


def node_tool(name: str) -> Path:
    """`newman` or `stepci` from bench/.peers/node_modules (npm-installed on first use)."""
    tool = PEERS / "node_modules" / ".bin" / name
    if not tool.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise PeerError("npm is not installed")
        PEERS.mkdir(exist_ok=True)
        command = [npm, "install", "--prefix", str(PEERS), "--no-audit", "--no-fund"]
        _run([*command, *NODE_PACKAGES], INSTALL_LIMIT_S)
    if not tool.exists():
        raise PeerError(f"npm installed no {name}")
    return tool


# --- equivalent test files ----------------------------------------------------------------------


def tavern_file(folder: Path, base_url: str, paths: Sequence[str]) -> Path:
    """One Tavern test per route (a YAML document each), in a `test_*.tavern.yaml` file."""
    docs = [
        f"test_name: get {path}\nstages:\n  - name: get\n"
        f"    request: {{url: '{base_url}{path}', method: GET}}\n"
        "    response: {status_code: 200}\n"
        for path in paths
    ]
    file = folder / "test_bench.tavern.yaml"
    file.write_text("---\n" + "---\n".join(docs), encoding="utf-8")
    return file


def newman_file(folder: Path, base_url: str, paths: Sequence[str]) -> Path:
    """A Postman collection (v2.1): one GET per route with a status-200 test."""
    test = "pm.test('200', function () { pm.response.to.have.status(200); });"
    items = [
        {
            "name": f"GET {path}",
            "request": {"method": "GET", "url": f"{base_url}{path}"},
            "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": [test]}}],
        }
        for path in paths
    ]
    collection = {
        "info": {
            "name": "bench",
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "item": items,
    }
    file = folder / "bench.postman_collection.json"
    file.write_text(json.dumps(collection), encoding="utf-8")
    return file


def stepci_file(folder: Path, base_url: str, paths: Sequence[str], concurrency: int) -> Path:
    """A Step CI workflow: one test per route (GET, status 200), `concurrency` at once."""
    tests = {
        f"r{i}": {"steps": [{"http": {"url": f"{base_url}{path}", "method": "GET"}}]}
        for i, path in enumerate(paths)
    }
    for test in tests.values():
        test["steps"][0]["http"]["check"] = {"status": 200}  # type: ignore[index]
    workflow = {
        "version": "1.1",
        "name": "bench",
        "config": {"concurrency": concurrency},
        "tests": tests,
    }
    file = folder / "workflow.yml"
    file.write_text(json.dumps(workflow), encoding="utf-8")  # JSON is YAML
    return file


# --- running ----------------------------------------------------------------------------------


def run_peer(
    name: str, folder: Path, base_url: str, paths: Sequence[str], concurrency: int
) -> PeerRun:
    """Install (if needed) and run one peer on one workload; never raises."""
    folder.mkdir(parents=True, exist_ok=True)
    runs: dict[str, Callable[[], tuple[float, str]]] = {
        "Tavern": lambda: (
            _run(
                [
                    *(str(tavern()), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"),
                    str(tavern_file(folder, base_url, paths)),
                ],
                RUN_LIMIT_S,
                cwd=folder,
            ),
            "pytest plugin; tests run one after another",
        ),
        "Newman": lambda: (
            _run(
                [
                    *(str(node_tool("newman")), "run", str(newman_file(folder, base_url, paths))),
                    *("--reporters", "cli", "--bail"),
                ],
                RUN_LIMIT_S,
            ),
            "requests one after another (no concurrency option)",
        ),
        "Step CI": lambda: (
            _run(
                [
                    str(node_tool("stepci")),
                    "run",
                    str(stepci_file(folder, base_url, paths, concurrency)),
                ],
                RUN_LIMIT_S,
                cwd=folder,
            ),
            f"tests concurrently, config.concurrency {concurrency}",
        ),
    }
    try:
        wall, note = runs[name]()
    except PeerError as error:
        return PeerRun(name, None, f"skipped: {error}")
    return PeerRun(name, wall, note)


PEER_NAMES = ("Tavern", "Newman", "Step CI")
