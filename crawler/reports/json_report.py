"""The `json` report: the run document itself (`crawler.run/1`), to re-render any report."""

from __future__ import annotations

from collections.abc import Iterator

from crawler.results import Run, dump_run


def render(run: Run) -> str:
    """The run as indented JSON; `results.load_run` reads it back. See `results.dump_run`."""
    return dump_run(run)


# --- streamed, for huge runs ------------------------------------------------------------------


def chunks(run: Run) -> Iterator[str]:
    """`render(run)` piece by piece, the same text: the run without its results, then each
    result dumped on its own. Written this way a run of 100,000 checks never holds its
    whole ~90 MB document in memory (`cli` writes run.json so)."""
    frame = dump_run(run.model_copy(update={"results": ()}))
    empty = '\n  "results": []'  # the fields after it (`run_id` ...) follow as they are
    at = frame.find(empty)
    if not run.results or at < 0:  # not the shape expected: dump it whole
        yield dump_run(run)
        return
    yield frame[:at] + '\n  "results": [\n'
    last = len(run.results) - 1
    for position, result in enumerate(run.results):
        text = result.model_dump_json(by_alias=True, indent=2)
        yield "    " + text.replace("\n", "\n    ") + (",\n" if position < last else "\n")
    yield "  ]" + frame[at + len(empty) :]
