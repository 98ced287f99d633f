"""Status documents: rewrite the blocks between `<!-- crawler:begin NAME -->` markers from a run.

A sprint lead's status document keeps its own prose and layout; crawler owns only what lies
between a pair of markers, each on a line of its own::

    ## Production verification
    <!-- crawler:begin summary -->
    (rewritten by `crawler run ... --update-doc STATUS.md` or `crawler render RUN.json ...`)
    <!-- crawler:end summary -->

Blocks (`BLOCKS`, plus `group:NAME`):

- `summary`: the title line with the overall tally, target and date, the totals table and
  the per-identity and per-group tallies;
- `matrix`: every group's table (the identity matrix when the run has several identities);
- `mismatches`: the 404 mismatch section, or a line saying there are none;
- `changes`: Was -> Now against the baseline, or a line saying the run had none;
- `known`: the known failures, their legend and counts per status (BACKLOG, BLOCKED, ...);
- `group:Billing`: that group's heading and table.

Every other byte of the file is kept: prose, blank lines, line endings (CRLF too), a
byte-order mark. The markers stay, so the next run rewrites the same blocks; the content
between them is written with the line ending of the begin marker's line, framed by a blank
line each side (a table right after a comment line is not a table everywhere). Markers
inside fenced code blocks are text, as are marker-like comments sharing a line with
anything else, so a document can show the markers without having them rewritten.

A problem with the markers (missing file, unknown name, a begin without its end or the
reverse, a duplicate, nested or overlapping blocks, a group the run lacks, no markers at
all) is a `UsageError` naming file and line, raised before any file is written.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from crawler.errors import UsageError
from crawler.files import write_atomic
from crawler.reports import markdown
from crawler.results import Run, group_label

BLOCKS: tuple[str, ...] = ("summary", "matrix", "mismatches", "changes", "known")
GROUP_PREFIX = "group:"

# A marker is a whole line: `<!-- crawler:begin NAME -->` (spaces around are allowed).
_MARKER = re.compile(r"^[ \t]*<!--[ \t]*crawler:(begin|end)\b(.*?)-->[ \t]*$")
_LINE_END = re.compile(r"\r\n|\r|\n")
# CommonMark fences: three or more backticks or tildes, indented at most three spaces.
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")

# The md report's sections that only some runs have (see `markdown.render`): block name ->
# (heading, what the block says when the report has no such section).
_OPTIONAL: dict[str, tuple[str, str]] = {
    "mismatches": (
        "## 404 mismatches",
        "No 404 mismatches: no check that expected a route got a 404 or 405.",
    ),
    "changes": (
        "## Changes since the baseline",
        "No baseline: this run was not compared with an earlier one "
        "(run with `--baseline RUN.json` for Was → Now).",
    ),
    "known": ("## Known failures", "No known failures: no check carries a ticket."),
}


@dataclass(frozen=True)
class Block:
    """A marked block of a document: its name, where its content lies, its line ending.

    `start` is the offset just after the begin marker's line, `end` the offset where the
    end marker's line starts; `line` is the begin marker's line number (from 1).
    """

    name: str
    line: int
    start: int
    end: int
    newline: str


@dataclass(frozen=True)
class Document:
    """A status document as read: its path, its exact text, and its blocks in file order."""

    path: Path
    text: str
    blocks: tuple[Block, ...]


def read(path: Path) -> Document:
    """Read `path` and find its blocks; raise `UsageError` if it cannot be updated."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"--update-doc {path}: no such file; create it with "
            "<!-- crawler:begin NAME --> and <!-- crawler:end NAME --> lines where the "
            "tables go."
        ) from None
    except IsADirectoryError:
        raise UsageError(f"--update-doc {path}: is a folder; name a markdown file.") from None
    except OSError as exc:
        raise UsageError(f"--update-doc {path}: cannot be read ({exc.strerror or exc}).") from None
    except UnicodeDecodeError:
        raise UsageError(f"--update-doc {path}: not UTF-8 text; save it as UTF-8.") from None
    return Document(path, text, parse(text, str(path)))


def parse(text: str, source: str) -> tuple[Block, ...]:
    """The blocks of `text` in order (`source` names it in errors). See the module docstring."""
    blocks: list[Block] = []
    first_seen: dict[str, int] = {}
    opened: tuple[str, int, int, str] | None = None  # name, line, content start, newline
    fence: str | None = None
    for number, start, line, newline in _lines(text):
        if opened is None:  # inside a block, its old content is not read as markdown
            if fence is not None:
                if re.match(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", line):
                    fence = None
                continue
            opening = _FENCE.match(line)
            if opening:
                fence = opening.group(1)
                continue
        marker = _MARKER.match(line)
        if marker is None:
            continue
        kind, name = marker.group(1), marker.group(2).strip()
        tag = f"<!-- crawler:{kind} {name} -->"
        where = f"{source}:{number}"
        if not name:
            raise UsageError(f"{where}: <!-- crawler:{kind} --> names no block; {_CHOOSE}.")
        if kind == "begin":
            if opened is not None:
                raise UsageError(
                    f"{where}: {tag} is inside block {opened[0]} (begun at line {opened[1]}); "
                    f"blocks cannot nest: end {opened[0]} first."
                )
            _check_name(name, where)
            if name in first_seen:
                raise UsageError(
                    f"{where}: block {name} appears twice (first at line {first_seen[name]}); "
                    "keep one of them."
                )
            first_seen[name] = number
            opened = (name, number, start + len(line) + len(newline), newline)
        elif opened is None:
            raise UsageError(f"{where}: {tag} has no <!-- crawler:begin {name} --> before it.")
        elif name != opened[0]:
            raise UsageError(
                f"{where}: {tag} while block {opened[0]} (begun at line {opened[1]}) is open; "
                f"blocks cannot overlap: end {opened[0]} first."
            )
        else:
            blocks.append(Block(opened[0], opened[1], opened[2], start, opened[3]))
            opened = None
    if opened is not None:
        raise UsageError(
            f"{source}:{opened[1]}: <!-- crawler:begin {opened[0]} --> is never ended; add "
            f"<!-- crawler:end {opened[0]} --> on a line of its own after the block."
        )
    if not blocks:
        raise UsageError(
            f"{source}: no <!-- crawler:begin NAME --> ... <!-- crawler:end NAME --> markers "
            f"to update; add a pair, each on a line of its own, where the tables go ({_CHOOSE})."
        )
    return tuple(blocks)


_CHOOSE = f"NAME is one of {', '.join(BLOCKS)} or group:NAME (a group of the run)"


def _check_name(name: str, where: str) -> None:
    if name in BLOCKS or (name.startswith(GROUP_PREFIX) and name[len(GROUP_PREFIX) :].strip()):
        return
    raise UsageError(f"{where}: unknown block {name!r}; {_CHOOSE}.")


def _lines(text: str) -> Iterator[tuple[int, int, str, str]]:
    """Each line as (number from 1, offset, text without its ending, its ending)."""
    position = 0
    number = 0
    for match in _LINE_END.finditer(text):
        number += 1
        yield number, position, text[position : match.start()], match.group()
        position = match.end()
    if position < len(text):
        yield number + 1, position, text[position:], ""


def rewrite(document: Document, run: Run) -> str:
    """The document's text with every block rendered afresh from `run`; nothing else
    changes. Raise `UsageError` for a `group:NAME` the run has no results in."""
    blocks = Blocks(run)
    groups = run.groups()
    for block in document.blocks:
        group = _group_of(block.name)
        if group is not None and group not in groups:
            raise UsageError(
                f"{document.path}:{block.line}: the run has no group {group!r}; its groups "
                f"are {', '.join(groups) or '(none)'}."
            )
    parts: list[str] = []
    position = 0
    for block in document.blocks:
        content = blocks.render(block.name).replace("\n", block.newline)
        parts += [document.text[position : block.start], block.newline, content]
        parts += [block.newline * 2]
        position = block.end
    parts.append(document.text[position:])
    return "".join(parts)


def check(paths: Sequence[Path]) -> list[Document]:
    """Read every document and find its blocks (all of them, before a crawl, so a broken
    document is reported before the work, not after)."""
    return [read(path) for path in paths]


def update(paths: Sequence[Path], run: Run) -> list[Path]:
    """Rewrite the blocks of every document in `paths` from `run`; return those that changed.

    All documents are read and rendered before any is written, so a problem in one leaves
    every file untouched. Each write is atomic and keeps the file's permissions; a file
    whose blocks are already up to date is not written at all.
    """
    rendered = [(document, rewrite(document, run)) for document in check(paths)]
    written = []
    for document, text in rendered:
        if text == document.text:
            continue
        target = document.path.resolve()  # a symlinked document is updated, not replaced
        try:
            mode = target.stat().st_mode & 0o7777
            write_atomic(target, text)
        except OSError as exc:
            raise UsageError(
                f"--update-doc {document.path}: cannot be written ({exc.strerror or exc})."
            ) from None
        with contextlib.suppress(OSError):  # the temporary file was created 0600
            target.chmod(mode)
        written.append(document.path)
    return written


def _group_of(name: str) -> str | None:
    return name[len(GROUP_PREFIX) :].strip() if name.startswith(GROUP_PREFIX) else None


class Blocks:
    """The blocks of one run, as markdown (no trailing newline): sections of the `md` report.

    The report (`markdown.render`) is cut at its `## ` headings, so a block reads exactly as
    the report does: `summary` is what precedes the first heading, `group:NAME` the group's
    section, `matrix` every group's section in order, and `mismatches`, `changes` and
    `known` their sections, or their heading and a line saying there is nothing to show.
    """

    def __init__(self, run: Run) -> None:
        self.run = run

    def render(self, name: str) -> str:
        group = _group_of(name)
        if group is not None:
            return self._group(group)
        if name == "summary":
            return _trim(self._report[0])
        if name == "matrix":
            return "\n\n".join(self._group(group) for group in self.run.groups())
        if name in _OPTIONAL:
            heading, empty = _OPTIONAL[name]
            lines = self._report[1].get(heading)
            return _trim(lines) if lines is not None else f"{heading}\n\n{empty}"
        raise ValueError(f"unknown block {name!r}")  # `parse` lets no other name through

    @cached_property
    def _report(self) -> tuple[list[str], dict[str, list[str]]]:
        """The md report as the lines before its first `## ` heading, and its sections by
        heading line (a section runs to the next `## ` heading)."""
        preamble: list[str] = []
        sections: dict[str, list[str]] = {}
        current = preamble
        for line in markdown.render(self.run).split("\n"):
            if line.startswith("## "):  # escaped text never starts a line with `#`
                current = sections.setdefault(line, [])
            current.append(line)
        return preamble, sections

    def _group(self, group: str) -> str:
        heading = f"## {markdown.text(group_label(group, self.run.groups()[group]))}"
        lines = self._report[1].get(heading)
        if lines is None:  # the report changed its group headings: a bug, said plainly
            raise LookupError(f"the md report has no section {heading!r} for group {group!r}")
        return _trim(lines)


def _trim(lines: list[str]) -> str:
    """The lines as text without leading or trailing blank lines."""
    return "\n".join(lines).strip("\n")
