"""One run from start to finish: sessions, crawl, interruption, inventory, diagnosis -> a Run.

The CLI calls `execute` and prints; this module owns the order of things. It touches the
network only through `engine` (the crawl, and fetching an OpenAPI document from the target).
Ctrl-C and SIGTERM stop the crawl and still produce a Run of what finished.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx

from crawler import engine, mismatch, routes
from crawler.engine import Settings, Target
from crawler.errors import UsageError
from crawler.manifest import Manifest
from crawler.redact import Redactor
from crawler.results import CheckResult, IdentityStatus, Run, RunSettings

INTERRUPTED = "not finished: the run was interrupted"


@dataclass(frozen=True)
class InventoryPlace:
    """Where the route inventory is: a `file`, a `url`, or a `path` on the target."""

    kind: str
    location: str
    openapi: bool = True

    @property
    def label(self) -> str:
        return self.location


def inventory_place(
    loaded: Manifest, manifest_path: Path, option: str | None
) -> InventoryPlace | None:
    """Resolve `--inventory` or the manifest's `inventory:` to a place; None when unset.

    Files named in a manifest are relative to the manifest's folder. A missing file is a
    usage error, found before anything is sent.
    """
    if option:
        if option.startswith(("http://", "https://")):
            return InventoryPlace("url", option)
        return _file_place(Path(option), openapi=None)
    source = loaded.inventory
    if source is None:
        return None
    folder = manifest_path.parent
    if source.routes is not None:
        return _file_place(folder / source.routes, openapi=False)
    spec = str(source.openapi)
    if spec.startswith(("http://", "https://")):
        return InventoryPlace("url", spec)
    if spec.startswith("/") and not (folder / spec.lstrip("/")).exists():
        return InventoryPlace("path", spec)
    return _file_place(folder / spec, openapi=True)


def _file_place(path: Path, *, openapi: bool | None) -> InventoryPlace:
    if not path.is_file():
        raise UsageError(f"inventory {path}: no such file.")
    return InventoryPlace("file", str(path), openapi is not False)


@dataclass
class Observer:
    """What the caller wants to hear about while the run goes on (progress, problems)."""

    on_result: Callable[[CheckResult], None] = lambda result: None
    on_login_failure: Callable[[str, str], None] = lambda name, message: None
    on_warning: Callable[[str], None] = lambda message: None


@dataclass
class _State:
    done: dict[int, CheckResult] = field(default_factory=dict)
    statuses: dict[str, IdentityStatus] = field(default_factory=dict)
    document: str | None = None
    terminated: bool = False


def execute(
    loaded: Manifest,
    manifest_path: Path,
    target: Target,
    settings: Settings,
    *,
    place: InventoryPlace | None = None,
    observer: Observer | None = None,
) -> Run:
    """Log in, crawl every check x identity, diagnose the 404s; return the Run.

    Never raises for a network failure; an interrupted run returns what finished, the rest
    SKIP, with `interrupted=True`.
    """
    observer = observer or Observer()
    checks = loaded.planned(settings.timeout)
    redactor = Redactor([*loaded.secrets, *target.secrets])
    used = {planned.identity for planned in checks}
    identities = {name: i for name, i in loaded.identities.items() if name in used}
    state = _State()

    def on_result(index: int, result: CheckResult) -> None:
        state.done[index] = result
        observer.on_result(result)

    async def main() -> None:
        # The sessions first, outside the task group, so a bad target raises its own error.
        async with (
            engine.open_sessions(target, settings, identities, redactor) as sessions,
            anyio.create_task_group() as tasks,
        ):
            for name, session in sessions.items():
                state.statuses[name] = IdentityStatus(
                    name=name,
                    kind=session.identity.kind,
                    failure=session.failure,
                    unreachable=session.failure_error is not None,
                )
                if session.failure:
                    observer.on_login_failure(name, session.failure)
            tasks.start_soon(_watch_sigterm, tasks.cancel_scope, state)
            await engine.crawl(checks, sessions, settings, redactor=redactor, on_result=on_result)
            if place is not None and place.kind in ("path", "url"):
                client = next(iter(sessions.values())).client
                state.document = await _fetch(client, place, observer)
            tasks.cancel_scope.cancel()  # done: stop watching

    started = datetime.now(UTC)
    clock = time.perf_counter()
    interrupted = False
    try:
        anyio.run(main)
    except KeyboardInterrupt:
        interrupted = True
    results = engine.fill_unsent(checks, state.done, target, INTERRUPTED, redactor)
    run = Run(
        name=loaded.name,
        manifest=str(manifest_path),
        target=redactor.url(target.label),
        in_process=target.in_process,
        started_at=started.replace(microsecond=0),
        duration_s=round(time.perf_counter() - clock, 3),
        interrupted=interrupted or state.terminated,
        settings=RunSettings(
            concurrency=settings.concurrency,
            timeout=settings.timeout,
            allow_mutations=settings.allow_mutations,
            transport="in-process" if target.in_process else settings.transport,
        ),
        identities=tuple(state.statuses.values()) if loaded.identities else (),
        results=tuple(results),
    )
    return diagnose(run, place, state.document, observer)


def diagnose(
    run: Run, place: InventoryPlace | None, document: str | None, observer: Observer
) -> Run:
    """Put a diagnosis on every 404/405 mismatch, against the best inventory available:
    the declared one (if it could be read) plus the routes this run saw answer."""
    inventory = routes.from_passed(run.results)
    if place is not None:
        try:
            declared = _declared(place, document)
        except routes.InventoryError as exc:
            observer.on_warning(f"route inventory not used: {exc}")
        else:
            if declared is not None:
                inventory = declared.merged(inventory)
    return mismatch.annotate(run, inventory)


def _declared(place: InventoryPlace, document: str | None) -> routes.Inventory | None:
    if place.kind == "file":
        return routes.load_file(place.location)
    if document is None:
        return None
    return routes.from_openapi(routes.load_document(document, place.label), place.label)


async def _fetch(
    client: httpx.AsyncClient, place: InventoryPlace, observer: Observer
) -> str | None:
    text, problem = await engine.fetch_text(client, place.location)
    if problem:
        observer.on_warning(f"route inventory {place.location} not read: {problem}")
    return text


async def _watch_sigterm(scope: anyio.CancelScope, state: _State) -> None:
    # CI cancels a job with SIGTERM: stop like Ctrl-C, so the partial reports are written.
    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        async for _ in signals:
            state.terminated = True
            scope.cancel()
            return
