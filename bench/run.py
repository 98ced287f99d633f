"""The benchmark harness behind `make bench`: times the crawler against loopback servers."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import FrameType

import anyio
import reference
import servers

from crawler import engine
from crawler import manifest as manifest_mod
from crawler.manifest import PlannedCheck
from crawler.results import CheckResult

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.md"
DEMO_MANIFEST = "specs/demo.yaml"
REPS = 3  # repetitions per figure; the median is reported
STARTUP_REPS = 5
OVERALL_LIMIT_S = 600  # a hung server or client must not hang `make bench`
CLI_LIMIT_S = 120
W2_TARGET = 1.2  # W2 within 1.2x the ideal schedule, plus start-up


class BenchError(Exception):
    """A benchmark run that cannot be trusted (a check did not PASS, a command failed)."""


# --- workloads and what is measured --------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """N distinct GET routes `/r/0` .. on one server, at a fixed concurrency."""

    key: str
    title: str
    server: str  # "fast" or "slow"
    routes: int
    concurrency: int

    @property
    def paths(self) -> list[str]:
        return [f"/r/{i}" for i in range(self.routes)]

    @property
    def ideal_s(self) -> float | None:
        """The best possible schedule when every answer takes the server's delay."""
        if self.server != "slow":
            return None
        return self.routes * servers.SLOW_DELAY_S / self.concurrency


WORKLOADS = (
    Workload("W1-64", "W1 throughput: 2000 routes, fast server, C=64", "fast", 2000, 64),
    Workload("W1-16", "W1 throughput: 2000 routes, fast server, C=16", "fast", 2000, 16),
    Workload("W2", "W2 latency-bound: 500 routes, 100 ms server, C=50", "slow", 500, 50),
)


@dataclass
class Figure:
    """Wall times of one client on one workload (one per repetition)."""

    client: str
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def spread(self) -> str:
        return f"{min(self.times):.2f}-{max(self.times):.2f}"


# The reference every ratio is taken against.
REFERENCE = "reference: httpx.AsyncClient + Semaphore"
ENGINE_AIOHTTP = "crawler engine API, transport aiohttp (default)"
ENGINE_HTTPX = "crawler engine API, transport httpx"
CLI = "crawler CLI subprocess (run, aiohttp, --format json -q)"


# --- the clients ---------------------------------------------------------------------------


def manifest_text(workload: Workload) -> str:
    """A manifest of the workload's routes, 100 checks per group, in the one-line form."""
    lines = [
        "version: 1",
        f"name: bench {workload.key}",
        f"defaults: {{timeout: 10, concurrency: {workload.concurrency}}}",
        "groups:",
    ]
    for i, path in enumerate(workload.paths):
        if i % 100 == 0:
            lines.append(f"  g{i // 100:02d}:")
        lines.append(f"    - GET {path} -> 200")
    return "\n".join(lines) + "\n"


def planned_checks(workload: Workload) -> list[PlannedCheck]:
    return manifest_mod.loads(manifest_text(workload), f"<{workload.key}>").planned()


def engine_crawl(
    base_url: str, checks: Sequence[PlannedCheck], concurrency: int, transport: engine.Transport
) -> float:
    """Crawl through the engine API (open_client + crawl); check every result PASSed."""
    settings = engine.Settings(concurrency=concurrency, timeout=10.0, transport=transport)
    target = engine.Target(base_url=base_url)

    async def main() -> list[CheckResult]:
        async with engine.open_client(target, settings) as client:
            return await engine.crawl(checks, client, settings)

    start = time.perf_counter()
    results = anyio.run(main)
    wall = time.perf_counter() - start
    bad = [r for r in results if r.verdict != "PASS"]
    if len(results) != len(checks) or bad:
        first = f"{bad[0].title}: {bad[0].verdict} {bad[0].reason}" if bad else ""
        raise BenchError(
            f"engine ({transport}): {len(results)} results for {len(checks)} checks, "
            f"{len(bad)} not PASS. {first}"
        )
    return wall


def reference_run(name: str, base_url: str, workload: Workload) -> float:
    """One of the reference scripts; check every answer was a 200."""
    paths, c = workload.paths, workload.concurrency
    start = time.perf_counter()
    if name == "aiohttp":
        statuses = asyncio.run(reference.aiohttp_get_all(base_url, paths, c))
    else:
        statuses = asyncio.run(
            reference.httpx_get_all(base_url, paths, c, aiohttp_transport=name == "httpx+aiohttp")
        )
    wall = time.perf_counter() - start
    if len(statuses) != len(paths) or any(status != 200 for status in statuses):
        raise BenchError(f"reference {name}: not every answer was 200 ({set(statuses)})")
    return wall


def crawler_command() -> str:
    script = Path(sys.prefix) / "bin" / "crawler"
    found = str(script) if script.exists() else shutil.which("crawler")
    if found is None:
        raise BenchError("the crawler console script is not installed: run `make install`")
    return found


def timed(command: list[str], what: str) -> float:
    """Wall time of a command run from the project folder; it must exit 0."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=CLI_LIMIT_S)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise BenchError(f"{what}: exit {done.returncode}: {' | '.join(tail)}")
    return wall


def cli_run(base_url: str, manifest: Path, out: Path, concurrency: int, expected: int) -> float:
    """The whole CLI (start-up, crawl, run.json written); check every result PASSed."""
    shutil.rmtree(out, ignore_errors=True)
    command = [crawler_command(), "run", str(manifest), "--base-url", base_url]
    command += ["--out", str(out), "--format", "json", "-q", "--concurrency", str(concurrency)]
    wall = timed(command, f"crawler run {manifest.name}")
    results = json.loads((out / "run.json").read_text(encoding="utf-8"))["results"]
    bad = [r for r in results if r["verdict"] != "PASS"]
    if len(results) != expected or bad:
        raise BenchError(f"CLI {manifest.name}: {len(results)} results, {len(bad)} not PASS")
    return wall


# --- the runs ------------------------------------------------------------------------------


def measure(
    workload: Workload, base_url: str, tmp: Path, reps: int, log: Callable[[str], None]
) -> list[Figure]:
    """Every client on one workload, `reps` rounds, the clients interleaved within a round."""
    checks = planned_checks(workload)
    manifest = tmp / f"{workload.key}.yaml"
    manifest.write_text(manifest_text(workload), encoding="utf-8")
    out = tmp / f"out-{workload.key}"
    c, n = workload.concurrency, workload.routes
    runs: dict[str, Callable[[], float]] = {
        REFERENCE: lambda: reference_run("httpx", base_url, workload),
        ENGINE_AIOHTTP: lambda: engine_crawl(base_url, checks, c, "aiohttp"),
        ENGINE_HTTPX: lambda: engine_crawl(base_url, checks, c, "httpx"),
        CLI: lambda: cli_run(base_url, manifest, out, c, n),
        "reference: httpx + AiohttpTransport + Semaphore": lambda: reference_run(
            "httpx+aiohttp", base_url, workload
        ),
        "reference: plain aiohttp + Semaphore": lambda: reference_run(
            "aiohttp", base_url, workload
        ),
    }
    figures = {name: Figure(name) for name in runs}
    for rep in range(reps):
        for name, run in runs.items():
            gc.collect()
            figures[name].times.append(run())
            log(f"  {workload.key} rep {rep + 1}/{reps} {name}: {figures[name].times[-1]:.3f} s")
    return list(figures.values())


def startup(base_url: str, tmp: Path, log: Callable[[str], None]) -> list[Figure]:
    """W4: wall time of commands that crawl nothing (or one check), median of 5."""
    crawler = crawler_command()
    one = tmp / "one.yaml"
    one.write_text(
        "version: 1\nname: one\ngroups:\n  g:\n    - GET /r/0 -> 200\n", encoding="utf-8"
    )
    commands: dict[str, Callable[[], float]] = {
        "crawler --help": lambda: timed([crawler, "--help"], "crawler --help"),
        f"crawler check {DEMO_MANIFEST}": lambda: timed(
            [crawler, "check", DEMO_MANIFEST], "crawler check"
        ),
        "crawler run, 1 check on the fast server (CLI start-up)": lambda: cli_run(
            base_url, one, tmp / "out-one", 1, 1
        ),
        "python -c pass (interpreter alone)": lambda: timed([sys.executable, "-c", "pass"], "py"),
    }
    figures = []
    for name, run in commands.items():
        figure = Figure(name, [run() for _ in range(STARTUP_REPS)])
        log(f"  W4 {name}: {figure.median:.3f} s")
        figures.append(figure)
    return figures


# --- the report ----------------------------------------------------------------------------


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> list[str]:
    meminfo = Path("/proc/meminfo")
    memory = "unknown"
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    packages = ("httpx", "httpcore", "aiohttp", "httpx-aiohttp", "anyio", "uvicorn", "pydantic")
    return [
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {os.cpu_count()} cores ({cpu}), {memory} memory, {platform.system()} "
        f"{platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
        "- " + ", ".join(f"{p} {_version(p)}" for p in packages),
    ]


def table(workload: Workload, figures: list[Figure]) -> list[str]:
    reference_s = next(f for f in figures if f.client == REFERENCE).median
    ideal = workload.ideal_s
    head = "| client | wall (s, median) | min-max (s) | checks/s | x reference wall |"
    rule = "|---|---:|---:|---:|---:|"
    if ideal is not None:
        head += " x ideal |"
        rule += "---:|"
    rows = [f"### {workload.title}", "", head, rule]
    for f in figures:
        row = (
            f"| {f.client} | {f.median:.3f} | {f.spread} | {workload.routes / f.median:,.0f} "
            f"| {f.median / reference_s:.2f} |"
        )
        if ideal is not None:
            row += f" {f.median / ideal:.2f} |"
        rows.append(row)
    if ideal is not None:
        rows += [
            "",
            f"Ideal schedule: {workload.routes} x 0.1 s / {workload.concurrency} = {ideal:.2f} s.",
        ]
    return rows


def w2_verdict(w2: Workload, figures: list[Figure], cli_startup_s: float | None) -> list[str]:
    ideal = w2.ideal_s
    assert ideal is not None
    by = {f.client: f.median for f in figures}
    engine_s, cli_s = by[ENGINE_AIOHTTP], by[CLI]
    engine_ok = engine_s <= W2_TARGET * ideal
    lines = [
        f"Target: **W2 within {W2_TARGET}x the ideal plus start-up** (default transport).",
        "",
        f"- Engine API (no start-up): {engine_s:.3f} s vs {W2_TARGET * ideal:.2f} s: "
        f"**{'met' if engine_ok else 'NOT met'}** ({engine_s / ideal:.2f}x ideal).",
    ]
    if cli_startup_s is not None:
        limit = W2_TARGET * ideal + cli_startup_s
        cli_ok = cli_s <= limit
        lines.append(
            f"- CLI: {cli_s:.3f} s vs {W2_TARGET * ideal:.2f} s + {cli_startup_s:.3f} s start-up "
            f"(W4 `crawler run` of 1 check) = {limit:.2f} s: **{'met' if cli_ok else 'NOT met'}**."
        )
    return lines


def report(
    tables: dict[Workload, list[Figure]],
    start: list[Figure],
    server_kinds: dict[str, str],
    reps: int,
) -> str:
    lines = ["# Benchmark results (`make bench`)", "", *machine()]
    lines += [f"- {name} server: {kind}, its own process" for name, kind in server_kinds.items()]
    lines += [
        "",
        "All figures were taken in one run on the same machine, the servers on 127.0.0.1 in "
        "separate processes (so with 2 cores, roughly one for the server and one for the "
        "client). Read them as ratios between clients, not as absolute capacities. Each "
        f"workload figure is the **median of {reps} repetitions** (clients interleaved within "
        f"each repetition; min-max shown); W4 is the **median of {STARTUP_REPS}**. "
        f'"x reference wall" is wall time divided by the plain `httpx.AsyncClient` + '
        "`asyncio.Semaphore(C)` script's (bench/reference.py): below 1 is faster. Every check "
        "of every run came back PASS (every reference answer 200), or the bench would have "
        "stopped. Engine API rows time `anyio.run` of `open_client` + `crawl` (manifest "
        "already parsed); CLI rows include interpreter start-up, imports, manifest parsing "
        "and writing run.json. Where the engine's CPU goes: `.venv/bin/python "
        "bench/profile_engine.py` (cProfile of one W1 crawl).",
        "",
    ]
    for workload, figures in tables.items():
        lines += [*table(workload, figures), ""]
    w2 = next((w for w in tables if w.key == "W2"), None)
    cli_startup = next((f.median for f in start if f.client.startswith("crawler run")), None)
    if w2 is not None:
        lines += ["## W2 target", "", *w2_verdict(w2, tables[w2], cli_startup), ""]
    if start:
        lines += [
            "### W4 start-up",
            "",
            "| command | wall (s, median of 5) | min-max (s) |",
            "|---|---:|---:|",
        ]
        lines += [f"| `{f.client}` | {f.median:.3f} | {f.spread} |" for f in start]
        lines.append("")
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise BenchError(f"the bench took longer than {OVERALL_LIMIT_S} s; stopped")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=REPS, help="repetitions per figure")
    parser.add_argument("--only", default="", help="comma-separated: W1-64,W1-16,W2,W4")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write results.md")
    args = parser.parse_args(argv)
    only = {key.strip() for key in args.only.split(",") if key.strip()}
    chosen = [w for w in WORKLOADS if not only or w.key in only]

    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(OVERALL_LIMIT_S)
    began = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - began:6.1f}s]{message}", file=sys.stderr, flush=True)

    tables: dict[Workload, list[Figure]] = {}
    start: list[Figure] = []
    kinds: dict[str, str] = {}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="crawler-bench-") as tmp_name,
            servers.fast_server() as fast,
            servers.slow_server() as slow,
        ):
            tmp = Path(tmp_name)
            kinds = {"fast": fast.kind, "slow": slow.kind}
            urls = {"fast": fast.base_url, "slow": slow.base_url}
            log(f" fast server {fast.base_url} ({fast.kind}); slow {slow.base_url}")
            for workload in chosen:
                tables[workload] = measure(workload, urls[workload.server], tmp, args.reps, log)
            if not only or "W4" in only:
                start = startup(fast.base_url, tmp, log)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        print(
            "bench: figures not written: a run that did not PASS measures nothing.", file=sys.stderr
        )
        return 1
    finally:
        signal.alarm(0)
    text = report(tables, start, kinds, args.reps)
    text += f"\nTotal bench time: {time.perf_counter() - began:.0f} s.\n"
    args.out.write_text(text, encoding="utf-8")
    print(text)
    print(f"written: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
