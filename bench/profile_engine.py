"""Profiles one W1 crawl (engine API, aiohttp, C=64) with cProfile: where the engine's CPU goes."""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

import run
import servers

import crawler

CRAWLER_DIR = str(Path(crawler.__file__).resolve().parent)


def _label(key: tuple[str, int, str]) -> str:
    file, line, name = key
    if file.startswith(CRAWLER_DIR):
        file = "crawler" + file.removeprefix(CRAWLER_DIR)
    elif "site-packages/" in file:
        file = file.split("site-packages/", 1)[1]
    return f"{file}:{line}({name})"


def top(stats: pstats.Stats, *, own: bool, sort: int, limit: int) -> list[str]:
    """The `limit` heaviest entries (`own`: crawler's code only), sorted by column `sort`."""
    rows = []
    for key, (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if own and not key[0].startswith(CRAWLER_DIR):
            continue
        rows.append((calls, tottime, cumtime, _label(key)))
    rows.sort(key=lambda row: row[sort], reverse=True)
    lines = [f"{'calls':>8} {'tottime':>8} {'cumtime':>8}  function"]
    lines += [f"{c:>8} {t:>8.3f} {cu:>8.3f}  {label}" for c, t, cu, label in rows[:limit]]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transport", choices=("aiohttp", "httpx"), default="aiohttp")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--dump", type=Path, help="also save the raw stats (for snakeviz etc.)")
    args = parser.parse_args()
    workload = run.Workload("W1", "profile", "fast", 2000, args.concurrency)
    checks = run.planned_checks(workload)
    with servers.fast_server() as fast:
        unprofiled = run.engine_crawl(fast.base_url, checks, args.concurrency, args.transport)
        profiler = cProfile.Profile()
        profiler.enable()
        profiled = run.engine_crawl(fast.base_url, checks, args.concurrency, args.transport)
        profiler.disable()
    if args.dump:
        profiler.dump_stats(args.dump)
    stats = pstats.Stats(profiler)
    total = max(cum for _cc, _n, _t, cum, _c in stats.stats.values())  # type: ignore[attr-defined]
    print(
        f"W1 {len(checks)} checks, C={args.concurrency}, transport {args.transport}, "
        f"server {fast.kind}"
    )
    print(
        f"wall: {unprofiled:.3f} s unprofiled, {profiled:.3f} s under cProfile "
        f"(profiled total {total:.3f} s)\n"
    )
    print(f"Top {args.limit} by cumulative time, crawler's own code:")
    print("\n".join(top(stats, own=True, sort=2, limit=args.limit)))
    print(f"\nTop {args.limit} by own time (tottime), everything:")
    print("\n".join(top(stats, own=False, sort=1, limit=args.limit)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
