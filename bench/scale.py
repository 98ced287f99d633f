"""W3 scale: one crawl of N checks in this process, then every report rendered; prints JSON.

Run once per size in a fresh subprocess (`run.py` does), so the peak RSS it reports
(`resource.getrusage`, the high-water mark of this process) belongs to that size alone:

    python bench/scale.py --checks 100000 --target in-process
    python bench/scale.py --checks 100000 --target http://127.0.0.1:8080

Phases timed: building and validating the manifest (the one-line form, 100 checks per
group), the crawl (`runner.execute`, as `crawler run` does, concurrency 64), then each
report format rendered from the Run (run.json and report.html streamed to files, as
`crawler run` writes them). Every check must PASS, or the figures are not printed.
`--load RUN.json` (its own subprocess) times reading a saved run back, what `crawler
render` does first.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from crawler import manifest as manifest_mod
from crawler import runner
from crawler.cli import _rendered, _settle
from crawler.engine import Settings, Target
from crawler.files import write_atomic
from crawler.reports import html, json_report
from crawler.results import load_run

CONCURRENCY = 64
FORMATS = ("json", "md", "md --summary-only", "html", "junit", "terminal")


def manifest_text(checks: int) -> str:
    lines = ["version: 1", f"name: scale {checks}", "groups:"]
    for i in range(checks):
        if i % 100 == 0:
            lines.append(f"  g{i // 100:04d}:")
        lines.append(f"    - GET /r/{i} -> 200")
    return "\n".join(lines) + "\n"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def render(run: runner.Run, name: str) -> str:
    if name == "md --summary-only":
        return _rendered(run, "md", summary_only=True)
    if name == "terminal":
        from crawler.reports import terminal

        return terminal.render(run)
    return _rendered(run, name, summary_only=False)


def load(path: Path) -> int:
    """`--load RUN.json`: read a saved run back (what `crawler render` does first)."""
    start = time.perf_counter()
    run = load_run(path)
    figures = {
        "checks": len(run.results),
        "load_run_s": round(time.perf_counter() - start, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    print(json.dumps(figures))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=0)
    parser.add_argument("--target", default="in-process", help="in-process, or a base URL")
    parser.add_argument("--save", type=Path, help="write run.json here (for --load)")
    parser.add_argument("--load", type=Path, help="only read this run.json back")
    args = parser.parse_args()
    if args.load is not None:
        return load(args.load)
    figures: dict[str, object] = {"checks": args.checks, "target": args.target}

    start = time.perf_counter()
    loaded = manifest_mod.loads(manifest_text(args.checks), f"<scale {args.checks}>")
    figures["load_s"] = round(time.perf_counter() - start, 3)

    in_process = args.target == "in-process"
    sys.path.insert(0, str(Path(__file__).parent))  # servers:fast_app for the in-process target
    target = Target(app="servers:fast_app") if in_process else Target(base_url=args.target)
    settings = Settings(concurrency=CONCURRENCY, timeout=30.0)
    start = time.perf_counter()
    run = runner.execute(loaded, Path("scale.yaml"), target, settings)
    figures["crawl_s"] = round(time.perf_counter() - start, 3)
    _settle()  # as `crawler run` does before it renders
    figures["rss_after_crawl_mb"] = round(peak_rss_mb(), 1)
    bad = [r for r in run.results if r.verdict != "PASS"]
    if len(run.results) != args.checks or bad:
        first = f"{bad[0].title}: {bad[0].verdict} {bad[0].reason}" if bad else ""
        print(f"scale: {len(bad)} of {len(run.results)} not PASS. {first}", file=sys.stderr)
        return 1

    renders: dict[str, float] = {}
    sizes: dict[str, int] = {}
    peaks: dict[str, float] = {}  # the process's peak RSS after each format (cumulative)
    with tempfile.TemporaryDirectory(prefix="crawler-scale-") as tmp:
        for name in FORMATS:
            start = time.perf_counter()
            if name == "json":  # as `crawler run` writes it: streamed to the file
                path = args.save or Path(tmp) / "run.json"
                write_atomic(path, json_report.chunks(run))
                size = path.stat().st_size
            elif name == "html":  # streamed too
                path = Path(tmp) / "report.html"
                write_atomic(path, html.stream(run))
                size = path.stat().st_size
            else:
                size = len(render(run, name).encode("utf-8"))
            renders[name] = round(time.perf_counter() - start, 3)
            sizes[name] = size
            peaks[name] = round(peak_rss_mb(), 1)
    figures["render_s"] = renders
    figures["bytes"] = sizes
    figures["rss_after_mb"] = peaks
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
