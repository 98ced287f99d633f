"""Which planned checks a run sends: `--only` / `--skip` selectors, `--identity`, `--shard k/n`.

Pure functions over `Manifest.planned()`; nothing here reads files or touches the network::

    chosen = Selection(
        only=parse_selectors(["group:Billing,tag:smoke"], "--only"),
        skip=parse_selectors(["tag:slow"], "--skip"),
        identities=("admin",),
        shard=Shard.parse("2/4"),
    )
    checks = select(manifest.planned(), chosen, manifest.identity_names)

The rules, applied to each planned check (a check as one identity):

- `--only`: kept when it matches *any* selector, whether they were written comma-separated
  in one option or in several `--only` options (no `--only`: every check);
- `--skip`: then dropped when it matches any selector;
- `--identity`: then kept only when sent as one of the names given;
- `--shard k/n`: then kept only when its shard is k (see `shard_of`). A check's shard
  depends on nothing but the check and n, so the order of these steps does not matter.

Selector kinds (`KIND:PATTERN`; globs use `*`, `?` and `[...]`, matched case-sensitively):
`group:` the group's name, `tag:` one of the check's tags, `method:` the HTTP method
(exact, any case), `path:` the path as written in the manifest (`path:/api/billing*`),
`name:` the check's name.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal, assert_never, get_args

from crawler.errors import UsageError
from crawler.manifest import PlannedCheck, PlannedFlow

Kind = Literal["group", "tag", "method", "path", "name"]
KINDS: tuple[Kind, ...] = get_args(Kind)


@dataclass(frozen=True)
class Selector:
    """One `KIND:PATTERN`, e.g. `Selector("tag", "smoke")`; see the module for the kinds."""

    kind: Kind
    pattern: str

    def matches(self, planned: PlannedCheck) -> bool:
        check = planned.check
        match self.kind:
            case "group":
                return fnmatchcase(planned.group, self.pattern)
            case "tag":
                return any(fnmatchcase(tag, self.pattern) for tag in check.tags)
            case "method":
                return check.method == self.pattern.upper()
            case "path":
                return fnmatchcase(check.path, self.pattern)
            case "name":
                return check.name is not None and fnmatchcase(check.name, self.pattern)
            case _:
                assert_never(self.kind)

    def __str__(self) -> str:
        return f"{self.kind}:{self.pattern}"


def _kind(text: str, option: str, item: str) -> Kind:
    for kind in KINDS:
        if kind == text:
            return kind
    raise UsageError(
        f"{option} {item}: unknown selector kind {text!r}; use one of "
        f"{', '.join(f'{k}:' for k in KINDS)} (e.g. {option} group:Billing,tag:smoke)."
    )


def parse_selectors(values: Iterable[str], option: str) -> tuple[Selector, ...]:
    """`["group:Billing,tag:smoke", "method:GET"]` -> three selectors (commas and repeated
    options alike: any of them matches). Raises `UsageError` naming `option` for a selector
    that is not `KIND:PATTERN` or whose kind is unknown."""
    selectors = []
    for value in values:
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            kind, colon, pattern = item.partition(":")
            if not colon or not pattern.strip():
                raise UsageError(
                    f"{option} {item}: a selector is KIND:PATTERN, e.g. group:Billing or "
                    f"path:/api/billing*; kinds: {', '.join(KINDS)}."
                )
            selectors.append(Selector(_kind(kind.strip(), option, item), pattern.strip()))
    return tuple(selectors)


_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard `number` of `count` (1-based, as CI matrices count): `Shard.parse("2/4")`."""

    number: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`"2/4"` -> `Shard(2, 4)`; raises `UsageError` unless it is K/N with 1 <= K <= N."""
        match = _SHARD.match(text)
        if match is None or not 1 <= int(match[1]) <= int(match[2]):
            raise UsageError(
                f"--shard {text}: write K/N with 1 <= K <= N, e.g. --shard 2/4 for the second "
                "of four shards."
            )
        return cls(int(match[1]), int(match[2]))

    def holds(self, planned: PlannedCheck) -> bool:
        return shard_of(planned, self.count) == self.number

    def __str__(self) -> str:
        return f"{self.number}/{self.count}"


def shard_key(planned: PlannedCheck) -> str:
    """What a check's shard is computed from: what the check is (group, method, path, query,
    name) and who it is sent as, never where it is in the manifest, so adding, removing or
    moving other checks leaves it in its shard."""
    check = planned.check
    query = json.dumps(check.query, sort_keys=True)
    parts = (planned.group, check.method, check.path, query, check.name or "", planned.identity)
    return "\x1f".join(parts)


def shard_of(planned: PlannedCheck, count: int) -> int:
    """The shard (1..count) of a planned check: sha1 of its `shard_key`, modulo `count`.

    Each check x identity is placed on its own, so one check's identities may land in
    different shards (finer balance); a shard logs in only as the identities it sends as,
    and `crawler merge` puts the check's row back together. Two checks written exactly
    alike share a shard.
    """
    digest = hashlib.sha1(shard_key(planned).encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


@dataclass(frozen=True)
class Selection:
    """What to send of the planned checks; the default selects everything. See the module."""

    only: tuple[Selector, ...] = ()
    skip: tuple[Selector, ...] = ()
    identities: tuple[str, ...] = ()
    shard: Shard | None = None

    def keeps(self, planned: PlannedCheck) -> bool:
        if self.only and not any(s.matches(planned) for s in self.only):
            return False
        if any(s.matches(planned) for s in self.skip):
            return False
        if self.identities and planned.identity not in self.identities:
            return False
        return self.shard is None or self.shard.holds(planned)


def select(
    planned: Sequence[PlannedCheck],
    selection: Selection,
    defined: Sequence[str],
    *,
    allow_empty: bool = False,  # flows: when flows were selected, no check may be left
) -> list[PlannedCheck]:
    """The planned checks `selection` keeps, in manifest order.

    `defined` are the manifest's identity names. Raises `UsageError` (exit 2) for an
    `--identity` that is not one of them, and when nothing is left to send (unless
    `allow_empty`: flows are left to send).
    """
    unknown = [name for name in selection.identities if name not in defined]
    if unknown:
        raise UsageError(
            f"--identity {unknown[0]}: no such identity; the manifest defines {', '.join(defined)}."
        )
    kept = [item for item in planned if selection.keeps(item)]
    if kept or allow_empty:
        return kept
    if selection.shard is not None:
        unsharded = Selection(selection.only, selection.skip, selection.identities)
        if any(unsharded.keeps(item) for item in planned):
            raise UsageError(
                f"--shard {selection.shard}: nothing selected; this shard holds none of the "
                "selected checks. Use fewer shards."
            )
    raise UsageError(
        "nothing selected: no check matches "
        f"{_describe(selection)}; `crawler check MANIFEST` lists the groups, paths and tags."
    )


def _describe(selection: Selection) -> str:
    parts = []
    if selection.only:
        parts.append("--only " + ",".join(map(str, selection.only)))
    if selection.skip:
        parts.append("--skip " + ",".join(map(str, selection.skip)))
    if selection.identities:
        parts.append("--identity " + ",".join(selection.identities))
    return " ".join(parts) or "the selection"


# --- flows ---------------------------------------------------------------------------------


def select_flows(flows: Sequence[PlannedFlow], selection: Selection) -> list[PlannedFlow]:
    """The planned flows `selection` keeps, whole (a flow is never cut into pieces).

    Rule: a flow, as one identity, is kept when `--identity` names that identity, any of
    its steps matches `--only` (selectors see the flow's name as `group:`), none matches
    `--skip`, and `--shard` holds its first step (a flow's steps stay in one shard).
    """
    kept = []
    for flow in flows:
        if selection.identities and flow.identity not in selection.identities:
            continue
        if selection.only and not any(s.matches(p) for p in flow.steps for s in selection.only):
            continue
        if any(s.matches(p) for p in flow.steps for s in selection.skip):
            continue
        if selection.shard is not None and not selection.shard.holds(flow.steps[0]):
            continue
        kept.append(flow)
    return kept
