"""The `md` report: the sprint verification table, per group with `Billing (17/17 PASS)` tallies."""

from __future__ import annotations

import re

from crawler.reports import duration_text, ms_text, note_text, started_text
from crawler.results import VERDICTS, CheckResult, Run, group_label, tally

# Characters that would end a table cell, start a link, raw HTML or inline code, or escape
# (`>` is harmless once `<` is escaped, and "302 -> /login" reads better unescaped):
# backslash-escaped (CommonMark lets any ASCII punctuation be escaped).
_MARKDOWN_SPECIAL = re.compile(r"([\\`|<\[\]*])")
_NEWLINES = re.compile(r"\r\n|\r|\n")

_RESULT_COLUMNS = ("Verdict", "Method", "Path", "Expected", "Got", "ms", "Note")


def render(run: Run) -> str:
    """The markdown report: title with the overall tally, target/date/duration, totals,
    per-group tallies, then one table per group (rows in manifest order).

    Text from the target or the manifest (paths, reasons, names) is escaped so it can
    neither break a table nor inject links or HTML.
    """
    counts = tally(run.results)
    total = len(run.results)
    lines = [f"# {text(run.name)} verification ({counts['PASS']}/{total} PASS)", ""]
    if run.interrupted:
        lines += [
            "> **Interrupted:** the run was stopped before every check finished; "
            "these results are partial.",
            "",
        ]
    lines += [
        f"**Target:** {code(run.target, in_table=False)} · **Date:** {started_text(run)} · "
        f"**Duration:** {duration_text(run)}",
        "",
        *_table(("Verdict", "Count"), [(v, str(counts[v])) for v in VERDICTS], range(1, 2)),
        f"| **Total** | **{total}** |",
        "",
    ]
    groups = run.groups()
    tallies = []
    for group, results in groups.items():
        group_counts = tally(results)
        tallies.append((text(group), *(str(group_counts[v]) for v in VERDICTS), str(len(results))))
    lines += [*_table(("Group", *VERDICTS, "Total"), tallies, range(1, len(VERDICTS) + 2)), ""]
    for group, results in groups.items():
        lines += [f"## {text(group_label(group, results))}", ""]
        lines += [*_table(_RESULT_COLUMNS, [_row(r) for r in results], range(5, 6)), ""]
    return "\n".join(lines)


def _row(result: CheckResult) -> tuple[str, ...]:
    return (
        result.verdict,
        result.method,
        code(result.path),
        text(result.expect),
        text(result.got),
        ms_text(result),
        text(note_text(result)),
    )


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], right: range) -> list[str]:
    """A GFM table whose columns numbered in `right` are right-aligned."""
    rule = tuple("---:" if i in right else "---" for i in range(len(header)))
    return [_line(header), _line(rule), *(_line(row) for row in rows)]


def _line(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cells) + " |"


def text(value: str) -> str:
    """Plain text safe in a table cell or heading: one line, markdown punctuation escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _NEWLINES.sub(" ", value))


def code(value: str, *, in_table: bool = True) -> str:
    """Inline code of any text: a fence longer than any run of backticks inside it.

    Backslashes do not escape inside code, so a backtick is handled by the fence; in a
    table cell `\\|` still stands for a literal pipe (GFM), outside one it is left as is.
    """
    value = _NEWLINES.sub(" ", value)
    if in_table:
        value = value.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    if value.startswith("`") or value.endswith("`") or (value[:1] == value[-1:] == " "):
        value = f" {value} "  # CommonMark strips one space each side of such content
    return f"{fence}{value}{fence}"
