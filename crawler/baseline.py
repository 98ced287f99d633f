"""Was -> Now: compare a run with a baseline run (the last one) and name each change.

Pure. Results are matched by group, method, path and identity (and their order among
results sharing those, for the rare duplicate), so editing other checks of the manifest
does not disturb the comparison. The rules, in `change_of`:

- FIXED: was failing (FAIL, ERROR), now passes (PASS, XPASS);
- REGRESSED: was passing (PASS, XPASS), now FAIL or ERROR (an XFAIL is known, not a
  regression);
- NEW: not in the baseline; GONE: only in the baseline (kept on `Run.gone`);
- UNCHANGED: everything else (a SKIP either side learns nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from crawler.results import Change, CheckResult, Run, Verdict

Key = tuple[str, str, str, str, int]

_FAILING: frozenset[Verdict] = frozenset({"FAIL", "ERROR"})
_PASSING: frozenset[Verdict] = frozenset({"PASS", "XPASS", "STUB"})  # a STUB answered as expected


def change_of(was: CheckResult | None, now: CheckResult) -> Change:
    """How `now` differs from `was` (None: the baseline did not have it). See the module."""
    if was is None:
        return "NEW"
    if was.verdict in _FAILING and now.verdict in _PASSING:
        return "FIXED"
    if was.verdict in _PASSING and now.verdict in _FAILING:
        return "REGRESSED"
    return "UNCHANGED"


def _keyed(results: Iterable[CheckResult]) -> Iterator[tuple[Key, CheckResult]]:
    seen: dict[tuple[str, str, str, str], int] = {}
    for result in results:
        occurrence = seen.get(result.key, 0)
        seen[result.key] = occurrence + 1
        yield (*result.key, occurrence), result


def compare(run: Run, baseline: Run, label: str) -> Run:
    """`run` with `was` and `change` on every result, and the baseline's missing ones on
    `gone` (marked GONE); `label` names the baseline (its path)."""
    before = dict(_keyed(baseline.results))
    results = []
    for key, result in _keyed(run.results):
        was = before.pop(key, None)
        results.append(
            result.model_copy(
                update={"was": was.cell if was else None, "change": change_of(was, result)}
            )
        )
    gone = tuple(
        result.model_copy(update={"was": result.cell, "change": "GONE"})
        for result in before.values()
    )
    return run.model_copy(update={"results": tuple(results), "gone": gone, "baseline": label})
