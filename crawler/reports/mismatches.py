"""The 404-mismatch model the reports share: diagnosed results, one row per route, by module.

A mismatch is a check that expected a route and got 404 or 405, diagnosed by
`crawler.mismatch` (`CheckResult.diagnosis`). `collect(run)` folds those results into rows,
one per route (`method + path`) however many identities hit it, grouped by module
(`routes.module_of`)::

    found = collect(run)
    found.line                    # "7 404 mismatches across 3 modules; 1 module missing entirely"
    found.modules[0].heading      # "/api/shopper (3)"
    row = found.modules[0].rows[0]
    row.label, row.suggestion     # "path mismatch: extra segment", "call GET /api/shopper/scripts"
    row.identities                # ("admin", "viewer")

Modules and rows come in manifest order (the first result of each), so reports diff cleanly.
Pure and deterministic: no I/O, no jinja2, no rich.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import assert_never

from crawler.reports import diagnosis_of
from crawler.reports.matrix import Cell
from crawler.results import Cause, Diagnosis, Run
from crawler.routes import module_of


def cause_label(cause: Cause) -> str:
    """A few words a sprint lead reads in the Cause column; `diagnosis.detail` says more."""
    match cause:
        case "wrong_method":
            return "wrong method"
        case "trailing_slash":
            return "trailing slash"
        case "resource_not_found":
            return "route exists; resource not found"
        case "prefix_skew":
            return "prefix or version skew"
        case "no_list_handler":
            return "no list handler"
        case "extra_segment":
            return "path mismatch: extra segment"
        case "missing_segment":
            return "path mismatch: missing segment"
        case "param_shape":
            return "literal vs parameter"
        case "renamed":
            return "mounted under another name"
        case "near_miss":
            return "near-miss spelling"
        case "module_missing":
            return "route missing"
        case "unknown":
            return "not served"
        case _:
            assert_never(cause)


# Said when the backend serves nothing like the call: the fix is on one side or the other.
ADD_OR_REMOVE = "add the route or remove the call"


def suggestion(diagnosis: Diagnosis) -> str:
    """One short, actionable sentence: `call GET /api/audit-logs`, `use POST`, ..."""
    routes = diagnosis.suggestions
    either = " or ".join(routes)
    cause = diagnosis.cause
    match cause:
        case "wrong_method":
            methods = " or ".join(dict.fromkeys(route.split(" ", 1)[0] for route in routes))
            return f"use {methods}" if methods else "use a method the backend serves"
        case "no_list_handler":
            return f"add a list handler or call {either}" if routes else "add a list handler"
        case "resource_not_found":
            return "check the id or the test data"
        case "module_missing" | "unknown":
            return ADD_OR_REMOVE
        case (
            "trailing_slash"
            | "prefix_skew"
            | "extra_segment"
            | "missing_segment"
            | "param_shape"
            | "renamed"
            | "near_miss"
        ):
            return f"call {either}" if routes else ADD_OR_REMOVE
        case _:
            assert_never(cause)


@dataclass(frozen=True)
class Mismatch:
    """One route the caller expected and the backend does not serve, and why.

    `cells` are the results it stands for (one per identity that hit it, `position` in
    `run.results`), so a report can link each to its failure details.
    """

    method: str
    path: str
    diagnosis: Diagnosis
    cells: tuple[Cell, ...]

    @property
    def module(self) -> str:
        return module_of(self.path)

    @property
    def identities(self) -> tuple[str, ...]:
        """Who got the 404/405, in run order."""
        return tuple(dict.fromkeys(cell.result.identity for cell in self.cells))

    @property
    def cause(self) -> Cause:
        return self.diagnosis.cause

    @property
    def label(self) -> str:
        return cause_label(self.diagnosis.cause)

    @property
    def detail(self) -> str:
        return self.diagnosis.detail

    @property
    def routes(self) -> tuple[str, ...]:
        """The routes the backend does serve instead (`GET /api/audit-logs`)."""
        return self.diagnosis.suggestions

    @property
    def suggestion(self) -> str:
        return suggestion(self.diagnosis)

    @property
    def only(self) -> bool:
        """The routes are all there is (`GET /api/recordings/{id}` only): no list handler."""
        return self.cause == "no_list_handler" and bool(self.routes)

    @property
    def nothing(self) -> str:
        """What the Backend has column says when there are no routes to name."""
        return "the route itself" if self.cause == "resource_not_found" else "nothing"

    def confirmed(self, route: str) -> bool:
        """Whether `--probe` saw the suggested `route` answer on the target."""
        return route in self.diagnosis.confirmed

    def backend_has(self, route: Callable[[str], str] = str) -> str:
        """`GET /api/audit-logs (confirmed)`, `GET /api/recordings/{id} only`, `nothing`;
        each route passed through `route` (e.g. a code span)."""
        if not self.routes:
            return self.nothing
        listed = ", ".join(
            route(r) + (" (confirmed)" if self.confirmed(r) else "") for r in self.routes
        )
        return f"{listed} only" if self.only else listed


@dataclass(frozen=True)
class Module:
    """The mismatches under one module (`/api/billing`), in manifest order."""

    name: str
    rows: tuple[Mismatch, ...]

    @property
    def heading(self) -> str:
        """`/api/billing (3)`."""
        return f"{self.name} ({len(self.rows)})"

    @property
    def missing(self) -> bool:
        """Missing entirely: nothing at all is served under it."""
        return all(row.cause == "module_missing" for row in self.rows)


@dataclass(frozen=True)
class Mismatches:
    """Every mismatch of a run, by module. Empty when the run has no diagnoses."""

    modules: tuple[Module, ...]

    @property
    def rows(self) -> list[Mismatch]:
        return [row for module in self.modules for row in module.rows]

    @property
    def count(self) -> int:
        return sum(len(module.rows) for module in self.modules)

    @property
    def missing(self) -> list[Module]:
        """The modules missing entirely."""
        return [module for module in self.modules if module.missing]

    @property
    def line(self) -> str:
        """`12 404 mismatches across 5 modules; 2 modules missing entirely`."""
        return summary_line(self.count, len(self.modules), len(self.missing))


def summary_line(mismatches: int, modules: int, missing: int) -> str:
    """`12 404 mismatches across 5 modules; 2 modules missing entirely`.

    `3 404 mismatches in 1 module` (one module: "in"); `no 404 mismatches` for none; the
    "missing entirely" part only when some module is.
    """
    if not mismatches:
        return "no 404 mismatches"
    line = f"{_count(mismatches, '404 mismatch', '404 mismatches')} "
    line += "in 1 module" if modules == 1 else f"across {modules} modules"
    if missing:
        line += f"; {_count(missing, 'module', 'modules')} missing entirely"
    return line


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def collect(run: Run) -> Mismatches:
    """The run's mismatches. See the module docstring.

    A row is one `method + path` with one diagnosis: the identities that got the same
    answer share it. If identities of one route were diagnosed differently (a 405 for one,
    a 404 for another) each diagnosis gets its row, so no cause is hidden.
    """
    rows: dict[tuple[str, str, Diagnosis], list[Cell]] = {}
    for position, result in enumerate(run.results):
        diagnosis = diagnosis_of(result)
        if diagnosis is not None:
            key = (result.method, result.path, diagnosis)
            rows.setdefault(key, []).append(Cell(position, result))
    modules: dict[str, list[Mismatch]] = {}
    for (method, path, diagnosis), cells in rows.items():
        row = Mismatch(method, path, diagnosis, tuple(cells))
        modules.setdefault(row.module, []).append(row)
    return Mismatches(tuple(Module(name, tuple(items)) for name, items in modules.items()))
