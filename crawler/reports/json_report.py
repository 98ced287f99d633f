"""The `json` report: the run document itself (`crawler.run/1`), to re-render any report."""

from __future__ import annotations

from crawler.results import Run, dump_run


def render(run: Run) -> str:
    """The run as indented JSON; `results.load_run` reads it back. See `results.dump_run`."""
    return dump_run(run)
