"""GitHub Actions: the job's step summary (markdown under GitHub's size limit) and annotations.

In a workflow step GitHub sets `GITHUB_STEP_SUMMARY` to a file whose markdown it shows on
the run's page, and reads `::error title=...::message` lines on stdout as annotations::

    path = summary_path(os.environ)
    if path is not None:
        append_step_summary(run, path)
    if show_annotations:
        print(annotations(run), end="")

`step_summary` and `annotations` are pure; `append_step_summary` is the one writer.
"""

# No `from __future__ import annotations` here: it binds the name `annotations`, which is
# this module's public function (Python 3.11 evaluates these annotations fine without it).

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from crawler.reports import changes, check_name, known, likely_stubs, reason_text, started_text
from crawler.reports.markdown import (
    KNOWN_COLUMNS,
    MISMATCH_COLUMNS,
    NO_CHANGES,
    change_columns,
    change_row,
    changes_legend,
    code,
    flaky_lines,
    gfm_table,
    gone_columns,
    gone_row,
    known_legend,
    known_row,
    mismatch_row,
    stub_lines,
    tally_table,
    text,
)
from crawler.reports.matrix import identity_names, verdict_text
from crawler.reports.mismatches import collect
from crawler.results import (
    CheckResult,
    FailOn,
    Run,
    failures_first,
    shown_verdicts,
    summarize,
    tally,
    title_name,  # environments: titles name it
)

# GitHub shows at most 1 MiB of summary per step and drops the rest; keep a margin.
SUMMARY_LIMIT = 1_000_000
# Room always kept for the note that says what was left out.
_NOTE_ROOM = 400
# A cell holds at most this much text: one huge reason cannot crowd out every other row.
CELL_LIMIT = 300

# Characters a workflow command line must not carry raw (`\r`, `\n` are escaped instead).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def step_summary(run: Run, *, fail_on: FailOn = "any", limit: int = SUMMARY_LIMIT) -> str:
    """Markdown for `$GITHUB_STEP_SUMMARY`, at most `limit` bytes of UTF-8.

    A heading with the gate's outcome (`## ❌ Demo API verification: 13/24 PASS`), the
    summary line, target and date; the totals; per-group tallies; with a baseline, the
    changes (REGRESSED first) and the GONE results; the failures (FAIL and ERROR, with
    their reasons and diagnoses); the 404 mismatches (summary line and one table); the
    known failures (legend with counts per status, and a row per known check).

    Sections come in that order, most important first. When the whole would pass `limit`,
    rows are left out from the point where they stop fitting, and a last line says how many
    (`… trimmed: 2345 more failures not shown; see the HTML report`). Text from the target
    is escaped as in the `md` report, and a cell is cut at `CELL_LIMIT` characters.
    """
    summary = summarize(run, fail_on)
    counts = tally(run.results)
    verdicts = shown_verdicts(run.results)
    total = len(run.results)
    mark = "✅" if summary.exit_code == 0 else "❌"
    head = _head(run, summary.line, counts["PASS"], total, mark)
    head += [
        *gfm_table(("Verdict", "Count"), [(v, str(counts[v])) for v in verdicts], range(1, 2)),
        f"| **Total** | **{total}** |",
        "",
        *flaky_lines(run.results),
    ]
    several = len(identity_names(run)) > 1
    groups = run.groups()
    sections = [
        _Section(
            "groups",
            ["### Groups", ""],
            tally_table("Group", ((g, tally(rs)) for g, rs in groups.items()), verdicts),
            header_rows=2,
        ),
        *_change_sections(run, several=several),
        _failures(run, several=several),
        _mismatches(run),
        _known(run, several=several),
        _stubs(run),  # stub detection
    ]
    return _Budget(limit).fit(head, [s for s in sections if s is not None])


def annotations(run: Run, *, fail_on: FailOn = "any") -> str:
    """GitHub workflow commands, one line each: `::error title=...::message` for every FAIL
    and ERROR, `::warning` for every XPASS (`now passing: close T2-3?`) and flaky result.

    With `fail_on="regressions"` only REGRESSED results are errors (they fail the gate);
    the other failures are warnings. Errors come first, then warnings, failures first
    within each (`failures_first`). Values are escaped as GitHub's toolkit does: in the
    message `%`, `\\r`, `\\n` become `%25`, `%0D`, `%0A`; in the title also `:` and `,`
    (`%3A`, `%2C`), so nothing from the target can end the line or start another command.
    Other control characters are shown as `?`.
    """
    several = len(identity_names(run)) > 1
    errors: list[str] = []
    warnings: list[str] = []
    for result in failures_first(run.results):
        name = check_name(result, several=several)
        if result.verdict in ("FAIL", "ERROR"):
            blocking = fail_on != "regressions" or result.change == "REGRESSED"
            prefix = "REGRESSED " if result.change == "REGRESSED" else ""
            line = _command(
                "error" if blocking else "warning",
                f"{prefix}{result.verdict} {result.group}: {name}",
                reason_text(result) or result.verdict,
            )
            (errors if blocking else warnings).append(line)
        elif result.verdict == "XPASS":
            ticket = result.known.ticket if result.known else "its ticket"
            title = f"XPASS {result.group}: {name}"
            warnings.append(_command("warning", title, f"now passing: close {ticket}?"))
        elif result.verdict == "STUB":  # a warning unless --fail-on stubs
            line = _command(
                "error" if fail_on == "stubs" else "warning",
                f"STUB {result.group}: {name}",
                result.reason,
            )
            (errors if fail_on == "stubs" else warnings).append(line)
        elif result.flaky:
            title = f"FLAKY {result.group}: {name}"
            message = f"failed, then passed on attempt {result.attempts}"
            warnings.append(_command("warning", title, message))
    return "".join(f"{line}\n" for line in (*errors, *warnings))


def append_step_summary(run: Run, path: Path, *, fail_on: FailOn = "any") -> None:
    """Append `step_summary(run)` to `path` (GitHub's `$GITHUB_STEP_SUMMARY`), never
    overwriting what earlier commands of the step wrote there; the summary gets what is left
    of the step's `SUMMARY_LIMIT` after them."""
    existing = path.stat().st_size if path.exists() else 0
    text_ = step_summary(run, fail_on=fail_on, limit=max(SUMMARY_LIMIT - existing, 0))
    with path.open("a", encoding="utf-8", newline="\n") as handle:
        if existing:
            handle.write("\n")  # a blank line: what was there does not run into the heading
        handle.write(text_)


def summary_path(environ: Mapping[str, str]) -> Path | None:
    """The step summary file GitHub named (`GITHUB_STEP_SUMMARY`), or None outside Actions."""
    value = environ.get("GITHUB_STEP_SUMMARY", "")
    return Path(value) if value else None


def _command(level: str, title: str, message: str) -> str:
    """`::error title=FAIL Billing%3A GET /x::expected 200, got 404`."""
    return f"::{level} title={escape_property(title)}::{escape_data(message)}"


def escape_data(value: str) -> str:
    """A workflow command's message: `%` -> `%25`, `\\r` -> `%0D`, `\\n` -> `%0A`."""
    value = _CONTROL.sub("?", value)
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """A workflow command's property (`title=`): as `escape_data`, and `:` -> `%3A`, `,` ->
    `%2C`."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


# --- the step summary -----------------------------------------------------------------------


@dataclass
class _Section:
    """A part of the summary: `lines` always shown with it, then `rows` while they fit (the
    first `header_rows` of them are a table's header, shown with the first row), then
    `after`. `noun` names what was left out (`failures`)."""

    noun: str
    lines: list[str]
    rows: list[str]
    header_rows: int = 0
    after: list[str] = field(default_factory=lambda: [""])


class _Budget:
    """Fits sections into `limit` bytes: see `step_summary`."""

    def __init__(self, limit: int) -> None:
        self.room = limit - _NOTE_ROOM
        self.out: list[str] = []
        self.left_out: dict[str, int] = {}

    def fit(self, head: list[str], sections: Sequence[_Section]) -> str:
        self._take(head, force=True)
        for section in sections:
            self._section(section)
        if self.left_out:
            parts = ", ".join(f"{count} more {noun}" for noun, count in self.left_out.items())
            self.out += [f"_… trimmed: {parts} not shown; see the HTML report._", ""]
        return "\n".join(self.out)

    def _section(self, section: _Section) -> None:
        header, rows = section.rows[: section.header_rows], section.rows[section.header_rows :]
        if not self.left_out and self._take([*section.lines, *header, *rows[:1]]):
            shown = 1 if rows else 0
            for row in rows[1:]:
                if not self._take([row]):
                    break
                shown += 1
            self._take(section.after, force=True)
        else:
            shown = 0
        if len(rows) > shown:
            self.left_out[section.noun] = self.left_out.get(section.noun, 0) + len(rows) - shown

    def _take(self, lines: list[str], *, force: bool = False) -> bool:
        size = sum(len(line.encode("utf-8")) + 1 for line in lines)
        if size > self.room and not force:
            return False
        self.room -= size
        self.out += lines
        return True


def _head(run: Run, line: str, passed: int, total: int, mark: str) -> list[str]:
    return [
        f"## {mark} {text(title_name(run))} verification: {passed}/{total} PASS",
        "",
        f"**{text(line)}**",
        "",
        f"**Target:** {code(run.target, in_table=False)} · **Date:** {started_text(run)} · "
        f"**Manifest:** {code(run.manifest, in_table=False)}",
        "",
        *(line for notice in run.notices() for line in (f"> **Warning:** {notice}", "")),
    ]


def _change_sections(run: Run, *, several: bool) -> list[_Section]:
    found = changes.collect(run)
    if found is None:
        return []
    legend = ["### Changes since the baseline", "", *changes_legend(found)]
    if not found.count:
        return [_Section("changes", [*legend, NO_CHANGES], [])]
    sections = [
        _Section(
            "changes",
            legend,
            _table(change_columns(several=several), found.rows, change_row, several=several),
            header_rows=2,
        )
    ]
    if found.gone:
        sections.append(
            _Section(
                "gone results",
                ["**Gone** (in the baseline, not in this run):", ""],
                _table(gone_columns(several=several), found.gone, gone_row, several=several),
                header_rows=2,
            )
        )
    return sections


def _table(
    header: tuple[str, ...],
    results: Sequence[CheckResult],
    row: Callable[..., tuple[str, ...]],
    *,
    several: bool,
) -> list[str]:
    return gfm_table(header, [_clipped(row(r, several=several)) for r in results])


def _failures(run: Run, *, several: bool) -> _Section | None:
    failed = [r for r in failures_first(run.results) if r.verdict in ("FAIL", "ERROR")]
    if not failed:
        return None
    who = ("Identity",) if several else ()
    header = ("Verdict", "Group", "Check", *who, "Expected", "Got", "Reason")
    rows = [
        _clipped(
            (
                verdict_text(r),
                text(r.group),
                f"{text(r.method)} {code(r.path)}",
                *((text(r.identity),) if several else ()),
                text(r.expect),
                text(r.got),
                text(reason_text(r)),
            )
        )
        for r in failed
    ]
    return _Section("failures", [f"### Failures ({len(failed)})", ""], gfm_table(header, rows), 2)


def _mismatches(run: Run) -> _Section | None:
    found = collect(run)
    if not found.count:
        return None
    several = len(identity_names(run)) > 1
    header = (*MISMATCH_COLUMNS, "Identities") if several else MISMATCH_COLUMNS
    rows = [_clipped(mismatch_row(m, several=several)) for m in found.rows]
    return _Section(
        "404 mismatches",
        ["### 404 mismatches", "", f"**{found.line}**", ""],
        gfm_table(header, rows),
        header_rows=2,
    )


def _known(run: Run, *, several: bool) -> _Section | None:
    found = known.collect(run)
    if not found.rows:
        return None
    rows = [_clipped(known_row(row, several=several)) for row in found.rows]
    return _Section(
        "known failures",
        ["### Known failures", "", *known_legend(found)],
        gfm_table(KNOWN_COLUMNS, rows),
        header_rows=2,
    )


def _stubs(run: Run) -> _Section | None:
    found = likely_stubs.collect(run)
    if not found.rows:
        return None
    table = stub_lines(run, found)[:-1]  # without its blank line: the section adds one
    return _Section("likely stubs", [f"### {found.line}", ""], table, header_rows=2)


def _clipped(cells: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_clip(cell) for cell in cells)


def _clip(cell: str) -> str:
    """At most `CELL_LIMIT` characters, never ending in half an escape (`\\`)."""
    if len(cell) <= CELL_LIMIT:
        return cell
    cut = cell[:CELL_LIMIT].rstrip("\\`")
    return f"{cut}…"
