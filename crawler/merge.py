"""Joining saved runs: the shards of one manifest into one run, environments into one matrix.

`merge(runs)` is pure; `crawler merge RUN.json... -o merged.json` reads, merges and writes::

    merged = merge([load_run(p) for p in paths], [str(p) for p in paths])

The rules:

- Only runs of one manifest merge: the same `name`, and wherever two runs have a result
  for the same check (group, index) it is the same method, path and name. Otherwise the
  runs come from different manifests (or versions of one) and `UsageError` says which.
- No result twice: the same check as the same identity in the same environment in two
  runs means overlapping shards (or one run given twice): refused.
- Results come out in manifest order: groups in the order the runs agree on (each run's
  results are in manifest order), then the check's index, then the environment (in the
  order first given), then the identity (in manifest order).
- Shards of one environment (or runs without `--env`) become one run of that environment.
  Runs of several environments become an **environment matrix**: each result's identity
  is renamed to its column, `staging` when the manifest has one identity, else
  `staging/admin`, so every report's identity matrix shows environments as columns; the
  run's identities are renamed alike. Runs with and without `--env` do not mix.
- `started_at` is the earliest start; `duration_s` the longest run's, since shards run side
  by side in a CI matrix (the gate waited about that long); `interrupted` if any was; the
  settings are the first run's; the target each distinct one (`staging: https://...`).
- An identity that could not log in in one shard is reported as failed.
- Compared with a baseline (`--baseline`), results keep their change; GONE results are
  those some run lists as gone and no run has (shards compared with a whole baseline each
  list the other shards' results as gone).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from itertools import pairwise
from typing import TypeVar

from crawler import stubs
from crawler.errors import UsageError
from crawler.results import CheckResult, IdentityStatus, Run

T = TypeVar("T", bound=Hashable)


def merge(runs: Sequence[Run], labels: Sequence[str] | None = None) -> Run:
    """One run from `runs` (shards and/or environments of one manifest). See the module.

    `labels` name the runs in error messages (their paths); default `run 1`, `run 2` ...
    Raises `UsageError` when the runs cannot be merged, saying why.
    """
    if not runs:
        raise UsageError("Nothing to merge: name the run.json files of the shards.")
    names = list(labels) if labels is not None else [f"run {n}" for n in range(1, len(runs) + 1)]
    _same_manifest(runs, names)
    environments = _environments(runs, names)
    _no_overlap(runs, names)
    group_rank = _rank(merged_order([list(run.groups()) for run in runs]))
    order = merged_order([_identity_names(run) for run in runs])
    identity_rank = _rank(order)
    env_rank = _rank(environments)
    matrix = len(environments) > 1

    def column(environment: str | None, identity: str) -> str:
        if not matrix:
            return identity
        return f"{environment}/{identity}" if len(order) > 1 else str(environment)

    def renamed(environment: str | None, result: CheckResult) -> CheckResult:
        if not matrix:
            return result
        return result.model_copy(update={"identity": column(environment, result.identity)})

    def place(item: tuple[str | None, CheckResult]) -> tuple[int, int, int, int]:
        environment, result = item
        return (
            group_rank[result.group],
            result.index,
            env_rank[environment],
            identity_rank[result.identity],
        )

    placed = sorted(
        ((run.environment, result) for run in runs for result in run.results), key=place
    )
    results = tuple(renamed(environment, result) for environment, result in placed)
    statuses = _statuses(runs, environments, order)
    first = runs[0]
    merged = Run(
        name=first.name,
        manifest=first.manifest,
        target=_targets(runs, matrix),
        in_process=all(run.in_process for run in runs),
        environment=", ".join(str(env) for env in environments) if environments[0] else None,
        started_at=min(run.started_at for run in runs),
        duration_s=max(run.duration_s for run in runs),
        interrupted=any(run.interrupted for run in runs),
        settings=first.settings,
        identities=tuple(
            status.model_copy(update={"name": column(env, status.name)}) for env, status in statuses
        ),
        inventory=next((run.inventory for run in runs if run.inventory), None),
        baseline=next((run.baseline for run in runs if run.baseline), None),
        gone=tuple(renamed(env, result) for env, result in _gone(runs)),
        results=results,
    )
    # Stub detection compares results: run it again over them all (a shard saw only some).
    return stubs.detect(merged)


def merged_order(sequences: Iterable[Sequence[T]]) -> list[T]:
    """One order consistent with every sequence given (each a subsequence of it), the way
    shards' group lists come from one manifest: `[[a, c], [b, c], [a, b]]` -> `[a, b, c]`.

    Where the sequences do not decide (two items never seen together), first appearance
    wins; a contradiction (`[a, b]`, `[b, a]`) is resolved by first appearance too.
    """
    seen: dict[T, int] = {}
    after: dict[T, set[T]] = {}
    before_count: dict[T, int] = {}
    for sequence in sequences:
        for item in sequence:
            seen.setdefault(item, len(seen))
            after.setdefault(item, set())
            before_count.setdefault(item, 0)
        for earlier, later in pairwise(sequence):
            if later not in after[earlier]:
                after[earlier].add(later)
                before_count[later] += 1
    order: list[T] = []
    waiting = dict(seen)
    while waiting:
        ready = [item for item in waiting if before_count[item] == 0]
        # A cycle means the runs disagree: take the earliest seen and carry on.
        item = min(ready or waiting, key=seen.__getitem__)
        del waiting[item]
        order.append(item)
        for later in after[item]:
            before_count[later] -= 1
    return order


def _rank(items: Sequence[T]) -> dict[T, int]:
    return {item: position for position, item in enumerate(items)}


def _identity_names(run: Run) -> list[str]:
    """The run's identities in manifest order (those that logged in, then any other)."""
    names = dict.fromkeys(status.name for status in run.identities)
    names.update(dict.fromkeys(result.identity for result in run.results))
    return list(names)


def _same_manifest(runs: Sequence[Run], labels: Sequence[str]) -> None:
    first = runs[0]
    for run, label in zip(runs, labels, strict=True):
        if run.name != first.name:
            raise UsageError(
                f"{label} is a run of {run.name!r} and {labels[0]} of {first.name!r}: only "
                "runs of one manifest can be merged."
            )
    checks: dict[tuple[str, int], tuple[str, tuple[str, str, str | None]]] = {}
    for run, label in zip(runs, labels, strict=True):
        for result in run.results:
            what = (result.method, result.path, result.name)
            where, seen = checks.setdefault((result.group, result.index), (label, what))
            if seen != what:
                raise UsageError(
                    f"{where} and {label} disagree about groups.{result.group}[{result.index}] "
                    f"({_label(seen)} vs {_label(what)}): they are runs of different versions "
                    "of the manifest. Crawl every shard from the same manifest."
                )


def _label(what: tuple[str, str, str | None]) -> str:
    method, path, name = what
    return f"{method} {path}" + (f" {name!r}" if name else "")


def _environments(runs: Sequence[Run], labels: Sequence[str]) -> list[str | None]:
    """The distinct environments in the order given; runs with and without one do not mix."""
    environments = list(dict.fromkeys(run.environment for run in runs))
    if len(environments) > 1 and None in environments:
        without = labels[next(n for n, run in enumerate(runs) if run.environment is None)]
        named = next(env for env in environments if env is not None)
        raise UsageError(
            f"{without} was crawled without --env, other runs in environment {named}: "
            "an environment matrix needs every run made with --env NAME."
        )
    return environments


def _no_overlap(runs: Sequence[Run], labels: Sequence[str]) -> None:
    owner: dict[tuple[str | None, str, int, str], int] = {}
    for number, run in enumerate(runs):
        for result in run.results:
            key = (run.environment, result.group, result.index, result.identity)
            first = owner.setdefault(key, number)
            if first == number:
                continue
            if labels[first] == labels[number]:
                raise UsageError(f"{labels[number]} is given twice; merge each run once.")
            where = f" in environment {run.environment}" if run.environment else ""
            raise UsageError(
                f"{labels[first]} and {labels[number]} both have "
                f"groups.{result.group}[{result.index}] ({result.method} {result.path}) as "
                f"{result.identity}{where}: overlapping shards, or one run given twice. "
                "Merge each shard's run once."
            )


def _statuses(
    runs: Sequence[Run], environments: Sequence[str | None], order: Sequence[str]
) -> list[tuple[str | None, IdentityStatus]]:
    """Each environment's identities, in column order; a failed login in any shard wins."""
    found: dict[tuple[str | None, str], IdentityStatus] = {}
    for run in runs:
        for status in run.identities:
            key = (run.environment, status.name)
            known = found.get(key)
            if known is None or (known.failure is None and status.failure is not None):
                found[key] = status
    return [
        (env, found[env, name]) for env in environments for name in order if (env, name) in found
    ]


def _targets(runs: Sequence[Run], matrix: bool) -> str:
    if matrix:
        labels = (f"{run.environment}: {run.target}" for run in runs)
    else:
        labels = (run.target for run in runs)
    return ", ".join(dict.fromkeys(labels))


def _gone(runs: Sequence[Run]) -> list[tuple[str | None, CheckResult]]:
    """Results some run lists as gone and no run of that environment has (see the module)."""
    present = {
        (run.environment, *result.key, result.name) for run in runs for result in run.results
    }
    gone: dict[tuple[str | None, str, str, str, str, str | None], CheckResult] = {}
    for run in runs:
        for result in run.gone:
            key = (run.environment, *result.key, result.name)
            if key not in present:
                gone.setdefault(key, result)
    return [(key[0], result) for key, result in gone.items()]
