"""The exception hierarchy: every error a user can cause, each with an actionable message.

    CrawlerError                 base; `str(err)` is a full sentence that says what to do next
    ├── ManifestError            the manifest cannot be read or is invalid (exit 2)
    │                            carries a list of `ManifestIssue(file, line, field, message)`
    ├── UsageError               the command line asks for something impossible (exit 2)
    ├── TargetError              the target (`app:` or `base_url`) cannot be used (exit 2)
    └── RunFileError             a saved run (run.json) cannot be read (exit 2)

The CLI catches `CrawlerError` at its boundary only, prints the message and exits with
`exit_code`. Network failures are never exceptions: they are data on a result.
"""

from __future__ import annotations

from dataclasses import dataclass


class CrawlerError(Exception):
    """Base of every error crawler reports to its user."""

    exit_code = 2


@dataclass(frozen=True)
class ManifestIssue:
    """One problem in a manifest, located by file, line (1-based) and field path."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ManifestError(CrawlerError):
    """The manifest cannot be read or does not validate; lists every problem found."""

    def __init__(self, issues: list[ManifestIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


class UsageError(CrawlerError):
    """The command line asks for something that cannot be done."""


class TargetError(CrawlerError):
    """The crawl target cannot be used (an `app:` that does not import, a bad base URL)."""


class RunFileError(CrawlerError):
    """A saved run file cannot be read back."""
