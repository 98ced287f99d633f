"""W3 scale: 10,000 and 100,000 checks, in-process and on loopback: wall, peak RSS, reports.

Two kinds of figures, each size in a fresh process (so a peak RSS belongs to one size):

- the whole CLI, as a user runs a huge crawl: `crawler run` of the manifest, concurrency 64,
  writing run.json, report.html and `report.md --summary-only`; its wall time and peak RSS
  (`os.wait4`'s rusage of that child), and the report files' sizes;
- `bench/scale.py`: the same crawl in one process, then every report format rendered from
  the Run, each timed (and the process's peak RSS after each); then, in another process,
  run.json read back (`load_run`, what `crawler render` does first).

"Linear" is read from 10,000 -> 100,000: x10 checks should cost about x10 time (and the
RSS above the interpreter's own about x10 memory), not x100.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import scale

BENCH = Path(__file__).resolve().parent
SIZES = (10_000, 100_000)
LIMIT_S = 240  # one subprocess at most
RSS_TARGET_MB = 300


@dataclass
class CliFigure:
    checks: int
    target: str
    wall_s: float
    peak_rss_mb: float
    files: dict[str, int] = field(default_factory=dict)


@dataclass
class W3:
    cli: list[CliFigure] = field(default_factory=list)
    renders: dict[int, dict[str, object]] = field(default_factory=dict)
    loads: dict[int, dict[str, object]] = field(default_factory=dict)
    baseline_rss_mb: float = 0.0  # `crawler --help`'s peak RSS: the interpreter and imports


def _env() -> dict[str, str]:
    # `--app servers:fast_app` imports the bench's raw ASGI app.
    path = os.pathsep.join(p for p in (str(BENCH), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def _measured(command: list[str], what: str) -> str:
    """Run a child to its end; its stdout. Exit 0, or it is an error."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=_env(), timeout=LIMIT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{what}: not finished within {LIMIT_S} s") from None
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise RuntimeError(f"{what}: exit {done.returncode}: {tail}")
    return done.stdout


def _child_rss(command: list[str], what: str) -> tuple[float, float]:
    """Wall time and peak RSS (MB) of a child whose output is not needed (os.wait4)."""
    start = time.perf_counter()
    child = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(), text=False
    )
    deadline = time.monotonic() + LIMIT_S
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            child.kill()
            os.wait4(child.pid, 0)
            raise RuntimeError(f"{what}: not finished within {LIMIT_S} s")
        time.sleep(0.05)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    child.returncode = code  # reaped here: Popen must not wait for it again
    if code != 0:
        err = child.stderr.read().decode(errors="replace") if child.stderr else ""
        tail = " | ".join(err.strip().splitlines()[-3:])
        raise RuntimeError(f"{what}: exit {code}: {tail}")
    return wall, usage.ru_maxrss / 1024


def cli_run(crawler: str, tmp: Path, checks: int, target: str) -> CliFigure:
    manifest = tmp / f"scale-{checks}.yaml"
    if not manifest.exists():
        manifest.write_text(scale.manifest_text(checks), encoding="utf-8")
    out = tmp / f"out-{checks}-{'app' if target == 'in-process' else 'live'}"
    where = ["--app", "servers:fast_app"] if target == "in-process" else ["--base-url", target]
    command = [crawler, "run", str(manifest), *where, "--out", str(out), "-q"]
    command += ["--concurrency", str(scale.CONCURRENCY), "--format", "json,html,md"]
    command.append("--summary-only")
    wall, rss = _child_rss(command, f"crawler run {checks} checks ({target})")
    files = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    return CliFigure(checks, target, wall, rss, files)


def scale_run(tmp: Path, checks: int) -> tuple[dict[str, object], dict[str, object]]:
    saved = tmp / f"scale-{checks}.json"
    script = [sys.executable, str(BENCH / "scale.py")]
    command = [*script, "--checks", str(checks), "--target", "in-process", "--save", str(saved)]
    rendered = json.loads(_measured(command, f"scale.py {checks}"))
    out = _measured([*script, "--load", str(saved)], f"scale.py --load {checks}")
    saved.unlink()
    return rendered, json.loads(out)


def measure(crawler: str, fast_url: str, tmp: Path, log: Callable[[str], None]) -> W3:
    w3 = W3()
    _, w3.baseline_rss_mb = _child_rss([crawler, "--help"], "crawler --help")
    for checks in SIZES:
        for target in ("in-process", fast_url):
            figure = cli_run(crawler, tmp, checks, target)
            w3.cli.append(figure)
            log(
                f"  W3 CLI {checks} {target}: {figure.wall_s:.1f} s, "
                f"peak RSS {figure.peak_rss_mb:.0f} MB"
            )
        w3.renders[checks], w3.loads[checks] = scale_run(tmp, checks)
        log(f"  W3 scale.py {checks}: {w3.renders[checks]}")
    return w3


# --- the report --------------------------------------------------------------------------------


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def report(w3: W3) -> list[str]:
    small, big = SIZES
    lines = [
        f"### W3 scale: {small:,} and {big:,} checks, concurrency {scale.CONCURRENCY}",
        "",
        "Whole CLI, each run its own process: `crawler run` (manifest of one-line checks, 100 "
        "per group) writing run.json (streamed), report.html (failures first, passing checks "
        "collapsed per group above 2,000 results) and `report.md --summary-only`. Peak RSS is "
        f"the child's own (`wait4`); `crawler --help` alone peaks at {w3.baseline_rss_mb:.0f} "
        "MB (interpreter and imports).",
        "",
        "| checks | target | wall (s) | checks/s | peak RSS (MB) | run.json | report.html "
        "| report.md (summary) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in w3.cli:
        target = "in-process ASGI" if f.target == "in-process" else "loopback (fast server)"
        lines.append(
            f"| {f.checks:,} | {target} | {f.wall_s:.1f} | {f.checks / f.wall_s:,.0f} "
            f"| {f.peak_rss_mb:.0f} | {_mb(f.files.get('run.json', 0))} "
            f"| {_mb(f.files.get('report.html', 0))} | {_mb(f.files.get('report.md', 0))} |"
        )
    lines += [
        "",
        "Every report format rendered from one Run (`bench/scale.py`, in-process target; the "
        "process's peak RSS after each format, cumulative; run.json and report.html streamed "
        "to files):",
        "",
        "| format | "
        + " | ".join(f"{n:,}: render (s) | {n:,}: size | {n:,}: peak RSS (MB)" for n in SIZES)
        + f" | time x ({big:,} / {small:,}) |",
        "|---|" + "---:|" * (3 * len(SIZES) + 1),
    ]
    renders = {n: w3.renders[n] for n in SIZES}
    for name in scale.FORMATS:
        cells = []
        for n in SIZES:
            figures = renders[n]
            seconds = figures["render_s"][name]  # type: ignore[index]
            size = figures["bytes"][name]  # type: ignore[index]
            rss = figures["rss_after_mb"][name]  # type: ignore[index]
            cells.append(f"{seconds:.2f} | {_mb(size)} | {rss:.0f}")
        ratio = _ratio(renders[big]["render_s"][name], renders[small]["render_s"][name])  # type: ignore[index]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio} |")
    for what, key in (("manifest load + validate", "load_s"), ("crawl", "crawl_s")):
        cells = [f"{renders[n][key]:.2f} | - | -" for n in SIZES]
        ratio = _ratio(renders[big][key], renders[small][key])
        lines.append(f"| {what} | " + " | ".join(cells) + f" | {ratio} |")
    cells = [
        f"{w3.loads[n]['load_run_s']:.2f} | - | {w3.loads[n]['peak_rss_mb']:.0f}" for n in SIZES
    ]
    ratio = _ratio(w3.loads[big]["load_run_s"], w3.loads[small]["load_run_s"])
    lines.append(
        "| run.json read back (`load_run`, own process) | " + " | ".join(cells) + f" | {ratio} |"
    )
    lines.append("")
    return lines


def _ratio(big: object, small: object) -> str:
    assert isinstance(big, int | float) and isinstance(small, int | float)
    return f"x{big / small:.1f}" if small else "-"


def peak_at(w3: W3, checks: int) -> float:
    """The highest CLI peak RSS at `checks` (in-process or loopback)."""
    return max(f.peak_rss_mb for f in w3.cli if f.checks == checks)


def growth(w3: W3) -> tuple[float, float, float]:
    """From 10k to 100k checks (CLI, in-process): the wall ratio, the peak-RSS ratio, and
    the memory each further check costs (KB, the slope between the two)."""
    small, big = (
        next(f for f in w3.cli if f.checks == n and f.target == "in-process") for n in SIZES
    )
    slope_kb = (big.peak_rss_mb - small.peak_rss_mb) * 1024 / (big.checks - small.checks)
    return big.wall_s / small.wall_s, big.peak_rss_mb / small.peak_rss_mb, slope_kb


def render_growth(w3: W3) -> tuple[float, str]:
    """The total render time of every format from 10k to 100k, and the per-format ratios."""
    small, big = SIZES
    times = {n: w3.renders[n]["render_s"] for n in SIZES}
    total = sum(times[big].values()) / sum(times[small].values())  # type: ignore[attr-defined]
    each = ", ".join(
        f"{name} x{times[big][name] / max(times[small][name], 1e-3):.1f}"  # type: ignore[index]
        for name in scale.FORMATS
    )
    return total, each
