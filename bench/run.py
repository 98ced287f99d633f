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
import peers
import reference
import servers
import w3 as w3_mod

from crawler import engine
from crawler import manifest as manifest_mod
from crawler.manifest import PlannedCheck
from crawler.results import CheckResult

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.md"
DEMO_MANIFEST = "specs/demo.yaml"
REPS = 3  # repetitions per figure; the median is reported
STARTUP_REPS = 5
OVERALL_LIMIT_S = 900  # a hung server or client must not hang `make bench`
CLI_LIMIT_S = 120
# The targets (issue 8), each stated in results.md with its measured ratio.
W2_TARGET = 1.15  # W2 within 1.15x the ideal schedule, plus start-up
W1_TARGET = 0.8  # W1 checks/s at least 0.8x the plain httpx reference's
HELP_TARGET_S = 0.3  # `crawler --help`
RSS_TARGET_MB = w3_mod.RSS_TARGET_MB  # W3: 100,000 checks
LINEAR_LIMIT = 15.0  # W3: x10 checks may cost at most x15 (time, memory above the baseline)


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


def run_peers(
    chosen: list[Workload], urls: dict[str, str], tmp: Path, log: Callable[[str], None]
) -> dict[str, list[peers.PeerRun]]:
    """Every peer once on W1 (C=64) and W2; a peer that cannot run is a row saying why."""
    found: dict[str, list[peers.PeerRun]] = {}
    for workload in chosen:
        if workload.key not in ("W1-64", "W2"):
            continue
        items = found.setdefault(workload.key, [])
        for name in peers.PEER_NAMES:
            folder = tmp / "peers" / workload.key / name.replace(" ", "-")
            item = peers.run_peer(
                name, folder, urls[workload.server], workload.paths, workload.concurrency
            )
            items.append(item)
            shown = f"{item.wall_s:.3f} s" if item.wall_s is not None else item.note
            log(f"  peers {workload.key} {name}: {shown}")
    return found


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


def peers_table(
    runs: dict[str, list[peers.PeerRun]], tables: dict[Workload, list[Figure]]
) -> list[str]:
    """Each peer on W1 (C=64) and W2, once, next to the crawler CLI's median."""
    by_key = {w.key: (w, figures) for w, figures in tables.items()}
    lines = [
        "### Peers on W1 and W2 (same servers, equivalent generated tests, one run each)",
        "",
        "Installed into bench/.peers/ (git-ignored): Tavern with pip in its own venv, Newman "
        "and Step CI with npm. Each run includes the tool's start-up, like the crawler CLI "
        "row it is compared with. A peer that could not be installed or run says why.",
        "",
        "| peer | workload | wall (s) | checks/s | x crawler CLI wall | how it sends |",
        "|---|---|---:|---:|---:|---|",
    ]
    for key, items in runs.items():
        workload, figures = by_key[key]
        cli = next(f.median for f in figures if f.client == CLI)
        lines.append(
            f"| crawler CLI (median of {len(figures[0].times)}) | {key} | {cli:.3f} "
            f"| {workload.routes / cli:,.0f} | 1.00 | concurrently, C={workload.concurrency} |"
        )
        for item in items:
            if item.wall_s is None:
                lines.append(f"| {item.peer} | {key} | - | - | - | {item.note} |")
                continue
            lines.append(
                f"| {item.peer} | {key} | {item.wall_s:.3f} | {workload.routes / item.wall_s:,.0f} "
                f"| {item.wall_s / cli:.2f} | {item.note} |"
            )
    return [*lines, ""]


def targets(
    tables: dict[Workload, list[Figure]], start: list[Figure], w3: w3_mod.W3 | None
) -> list[str]:
    """The issue's targets, each with its measured ratio and whether it is met."""
    rows: list[tuple[str, str, str, bool]] = []

    def medians(key: str) -> dict[str, float] | None:
        found = next((fs for w, fs in tables.items() if w.key == key), None)
        return {f.client: f.median for f in found} if found else None

    startup = {f.client: f.median for f in start}
    cli_start = next((v for k, v in startup.items() if k.startswith("crawler run")), None)
    w2 = medians("W2")
    if w2 is not None:
        ideal = 500 * servers.SLOW_DELAY_S / 50
        engine_s, cli_s = w2[ENGINE_AIOHTTP], w2[CLI]
        rows.append(
            (
                f"W2 engine wall <= {W2_TARGET} x ideal ({ideal:.2f} s)",
                f"{engine_s:.3f} s",
                f"{engine_s / ideal:.2f} x ideal",
                engine_s <= W2_TARGET * ideal,
            )
        )
        if cli_start is not None:
            limit = W2_TARGET * ideal + cli_start
            rows.append(
                (
                    f"W2 CLI wall <= {W2_TARGET} x ideal + start-up ({cli_start:.3f} s) "
                    f"= {limit:.2f} s",
                    f"{cli_s:.3f} s",
                    f"{cli_s / limit:.2f} x limit",
                    cli_s <= limit,
                )
            )
    w1 = medians("W1-64")
    if w1 is not None:
        for client in (ENGINE_AIOHTTP, CLI):
            ratio = w1[REFERENCE] / w1[client]  # checks/s ratio = inverse wall ratio
            rows.append(
                (
                    f"W1 (C=64) checks/s >= {W1_TARGET} x plain httpx reference: {client}",
                    f"{2000 / w1[client]:,.0f}/s vs {2000 / w1[REFERENCE]:,.0f}/s",
                    f"{ratio:.2f} x reference",
                    ratio >= W1_TARGET,
                )
            )
    if "crawler --help" in startup:
        help_s = startup["crawler --help"]
        rows.append(
            (
                f"`crawler --help` <= {HELP_TARGET_S} s",
                f"{help_s:.3f} s",
                f"{help_s / HELP_TARGET_S:.2f} x target",
                help_s <= HELP_TARGET_S,
            )
        )
    if w3 is not None:
        peak = w3_mod.peak_at(w3, 100_000)
        rows.append(
            (
                f"W3 peak RSS <= {RSS_TARGET_MB} MB for 100,000 checks (CLI, worst target)",
                f"{peak:.0f} MB",
                f"{peak / RSS_TARGET_MB:.2f} x target",
                peak <= RSS_TARGET_MB,
            )
        )
        wall_x, rss_x, slope_kb = w3_mod.growth(w3)
        rows.append(
            (
                f"W3 linear: 10k -> 100k checks (x10), CLI wall at most x{LINEAR_LIMIT:g}",
                f"x{wall_x:.1f}",
                f"{wall_x / 10:.2f} x linear",
                wall_x <= LINEAR_LIMIT,
            )
        )
        rows.append(
            (
                "W3 linear: 10k -> 100k checks (x10), CLI peak RSS at most x10",
                f"x{rss_x:.1f} ({slope_kb:.1f} KB per further check)",
                f"{rss_x / 10:.2f} x linear",
                rss_x <= 10,
            )
        )
        total_x, each = w3_mod.render_growth(w3)
        rows.append(
            (
                f"W3 rendering linear: 10k -> 100k checks, all formats' render time at most "
                f"x{LINEAR_LIMIT:g}",
                f"x{total_x:.1f} ({each})",
                f"{total_x / 10:.2f} x linear",
                total_x <= LINEAR_LIMIT,
            )
        )
    lines = ["## Targets", "", "| target | measured | ratio | met |", "|---|---:|---:|---|"]
    lines += [f"| {t} | {m} | {r} | {'**met**' if ok else '**NOT met**'} |" for t, m, r, ok in rows]
    return [*lines, ""]


def report(
    tables: dict[Workload, list[Figure]],
    start: list[Figure],
    server_kinds: dict[str, str],
    reps: int,
    peer_runs: dict[str, list[peers.PeerRun]] | None = None,
    w3: w3_mod.W3 | None = None,
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
    lines += targets(tables, start, w3)
    for workload, figures in tables.items():
        lines += [*table(workload, figures), ""]
    if peer_runs:
        lines += peers_table(peer_runs, tables)
    if start:
        lines += [
            "### W4 start-up",
            "",
            "| command | wall (s, median of 5) | min-max (s) |",
            "|---|---:|---:|",
        ]
        lines += [f"| `{f.client}` | {f.median:.3f} | {f.spread} |" for f in start]
        lines.append("")
    if w3 is not None:
        lines += w3_mod.report(w3)
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise BenchError(f"the bench took longer than {OVERALL_LIMIT_S} s; stopped")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=REPS, help="repetitions per figure")
    parser.add_argument("--only", default="", help="comma-separated: W1-64,W1-16,W2,W4,W3,peers")
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
    peer_runs: dict[str, list[peers.PeerRun]] = {}
    w3: w3_mod.W3 | None = None
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
            if not only or "peers" in only:
                peer_runs = run_peers(chosen, urls, tmp, log)
            if not only or "W3" in only:
                w3 = w3_mod.measure(crawler_command(), fast.base_url, tmp, log)
    except (BenchError, RuntimeError) as error:
        print(f"bench: {error}", file=sys.stderr)
        print(
            "bench: figures not written: a run that did not PASS measures nothing.", file=sys.stderr
        )
        return 1
    finally:
        signal.alarm(0)
    text = report(tables, start, kinds, args.reps, peer_runs, w3)
    text += f"\nTotal bench time: {time.perf_counter() - began:.0f} s.\n"
    args.out.write_text(text, encoding="utf-8")
    print(text)
    print(f"written: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
