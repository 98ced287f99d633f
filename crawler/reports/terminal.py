"""The `terminal` report: what is not PASS, failures first, with curl lines; summary line last."""

from __future__ import annotations

import io
import re

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from crawler.reports.curl import curl_command
from crawler.results import CheckResult, Run, Verdict, failures_first, group_label, summarize

STYLES: dict[Verdict, str] = {
    "PASS": "bold green",
    "FAIL": "bold red",
    "ERROR": "bold dark_orange",
    "SKIP": "dim",
}

# Control characters (ESC, BEL, ...) from the target could drive the user's terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_WHITESPACE = re.compile(r"\r\n|[\r\n\t]")


def render(run: Run, *, color: bool = False, width: int = 100) -> str:
    """The end-of-run summary as text, ANSI-coloured only when `color` is True.

    1. a table of every result that is not PASS, failures first (`failures_first`),
       numbered; columns Verdict, Group, Check, Expected, Got, Reason;
    2. for each FAIL and ERROR, its `curl` reproduction under the same number;
    3. per-group tallies (`Billing (17/17 PASS)`);
    4. last, `summarize(run).line`.

    Nothing from the target is read as rich markup, and control characters are shown
    as `?`, so a response cannot restyle or drive the terminal.
    """
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
    )
    if run.interrupted:
        console.print(Text("Interrupted: these results are partial.", style="bold red"))
    shown = [r for r in failures_first(run.results) if r.verdict != "PASS"]
    if shown:
        console.print(_table(shown))
        _print_curl_lines(console, run, shown)
    elif run.results:
        console.print(Text(f"All {len(run.results)} checks passed.", style=STYLES["PASS"]))
    else:
        console.print(Text("No checks were run."))
    _print_tallies(console, run, width)
    console.print(_plain(summarize(run).line), soft_wrap=True)
    # Rich pads every cell to the column width; trailing blanks only make diffs noisy.
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def _table(results: list[CheckResult]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Group", overflow="fold", max_width=20)
    table.add_column("Check", overflow="fold", min_width=12)
    table.add_column("Expected", overflow="fold", max_width=12)
    table.add_column("Got", overflow="fold", max_width=16)
    table.add_column("Reason", overflow="fold", min_width=12)
    for number, result in enumerate(results, 1):
        table.add_row(
            Text(str(number)),
            Text(result.verdict, style=STYLES[result.verdict]),
            _plain(result.group),
            _plain(result.title),
            _plain(result.expect),
            _plain(result.got),
            _plain(result.reason),
        )
    return table


def _print_curl_lines(console: Console, run: Run, shown: list[CheckResult]) -> None:
    failed = [(n, r) for n, r in enumerate(shown, 1) if r.verdict in ("FAIL", "ERROR")]
    if not failed:
        return
    console.print()
    console.print(Text("Reproduce:", style="bold"))
    for number, result in failed:
        # soft_wrap: one physical line, so it copies and pastes as one command.
        console.print(_plain(f"{number:>3}  {curl_command(run, result)}"), soft_wrap=True)
    console.print()


def _print_tallies(console: Console, run: Run, width: int) -> None:
    labels = [group_label(group, results) for group, results in run.groups().items()]
    line = ""
    for label in labels:
        if line and len(line) + 3 + len(label) > width:
            console.print(_plain(line), soft_wrap=True)
            line = ""
        line = f"{line}   {label}" if line else label
    if line:
        console.print(_plain(line), soft_wrap=True)


def _plain(value: str) -> Text:
    return Text(_CONTROL.sub("?", _WHITESPACE.sub(" ", value)))
