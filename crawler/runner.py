"""One run from start to finish: sessions, crawl, interruption, inventory, diagnosis -> a Run.

The CLI calls `execute` and prints; this module owns the order of things. It touches the
network only through `engine` (the crawl, fetching an OpenAPI document, and `--probe`'s
safe requests that confirm suggested routes). Ctrl-C and SIGTERM stop the crawl and still
produce a Run of what finished.
"""

from __future__ import annotations

import dataclasses
import functools
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx

from crawler import (
    assertions,
    engine,
    latency,
    mismatch,
    netconfig,
    redact,
    repeat,
    routes,
    stubs,
    verdict,
)
from crawler import flows as flows_
from crawler.auth import MissingCapture, Session, fill
from crawler.engine import ProbeAnswer, Settings, Target
from crawler.errors import CrawlerError, UsageError
from crawler.manifest import Manifest, PlannedCheck, PlannedFlow, url_problem
from crawler.redact import Redactor
from crawler.results import CheckResult, IdentityStatus, Run, RunSettings
from crawler.values import RUN_ID, new_run_id

INTERRUPTED = "not finished: the run was interrupted"
# `--probe` sends at most this many requests per run.
PROBE_LIMIT = 20


@dataclass(frozen=True)
class InventoryPlace:
    """Where the route inventory is: a `file` (read already), a `url`, or a `path` on the
    target (both fetched after the crawl)."""

    kind: str
    location: str
    openapi: bool = True
    inventory: routes.Inventory | None = field(default=None, compare=False, repr=False)
    # How it is shown (in messages, as the run's `inventory`): a URL without its secrets.
    shown: str = field(default="", compare=False)

    @property
    def label(self) -> str:
        """The location as reports and messages show it: never a credential it carries."""
        if self.shown:
            return self.shown
        return self.location if self.kind == "file" else redact.url(self.location)


def inventory_place(
    loaded: Manifest, manifest_path: Path, option: str | None
) -> InventoryPlace | None:
    """Resolve `--inventory` or the manifest's `inventory:` to a place; None when unset.

    Files named in a manifest are relative to the manifest's folder. A file is read here,
    so a missing or malformed one is a usage error (exit 2) found before anything is sent.
    """
    # A URL's credentials, and the manifest's secrets in it (`?key=${API_KEY}`), never show.
    hidden = Redactor(loaded.secrets)
    if option:
        if option.startswith(("http://", "https://")):
            return _url_place(option, hidden)
        return _file_place(Path(option), openapi=None)
    source = loaded.inventory
    if source is None:
        return None
    folder = manifest_path.parent
    if source.routes is not None:
        return _file_place(folder / source.routes, openapi=False)
    spec = str(source.openapi)
    if spec.startswith(("http://", "https://")):
        return _url_place(spec, hidden)
    if spec.startswith("/") and not (folder / spec.lstrip("/")).exists():
        return InventoryPlace("path", spec, shown=hidden.url(spec))
    return _file_place(folder / spec, openapi=True)


def _url_place(url: str, hidden: Redactor) -> InventoryPlace:
    shown = hidden.url(url)
    problem = url_problem(url)
    if problem:
        raise UsageError(f"inventory {shown}: {hidden.text(problem)}.")
    return InventoryPlace("url", url, shown=shown)


def _file_place(path: Path, *, openapi: bool | None) -> InventoryPlace:
    if not path.is_file():
        raise UsageError(
            f"inventory {path}: no such file. Name an OpenAPI/Swagger document or a route "
            "list (one `GET /api/users/{id}` per line), or an http(s) URL."
        )
    return InventoryPlace("file", str(path), openapi is not False, routes.load_file(path))


@dataclass
class Observer:
    """What the caller wants to hear about while the run goes on (progress, problems)."""

    on_result: Callable[[CheckResult], None] = lambda result: None
    on_login_failure: Callable[[str, str], None] = lambda name, message: None
    on_warning: Callable[[str], None] = lambda message: None
    # Before anything is sent: what a run allowed to write will send to a remote host.
    on_mutations: Callable[[str], None] = lambda preview: None


@dataclass
class _State:
    done: dict[int, CheckResult] = field(default_factory=dict)
    statuses: dict[str, IdentityStatus] = field(default_factory=dict)
    document: str | None = None
    inventory: routes.Inventory | None = None
    probed: dict[int, list[tuple[mismatch.Probe, ProbeAnswer]]] = field(default_factory=dict)
    interrupted: bool = False


def _network_secrets(loaded: Manifest, settings: Settings) -> list[str]:
    """Credentials in headers every request carries (`-H 'Authorization: ...'`) and in the
    proxy URL: hidden wherever they might be echoed back."""
    every = [*loaded.defaults.headers.items(), *settings.network.headers]
    found = [value for name, value in every if redact.is_secret_name(name)]
    proxy = settings.network.proxy
    if proxy:
        found += redact.url_secrets(proxy)
    return found


def _proxy_shown(target: Target, settings: Settings) -> str | None:
    """The proxy the crawl went through, as a report may show it (no password)."""
    if target.base_url is None:
        return None
    proxy = netconfig.proxy_for(target.url_without_userinfo, settings.network)
    return netconfig.proxy_label(proxy) if proxy else None


def execute(
    loaded: Manifest,
    manifest_path: Path,
    target: Target,
    settings: Settings,
    *,
    place: InventoryPlace | None = None,
    observer: Observer | None = None,
    probe: int = 0,
    checks: Sequence[PlannedCheck] | None = None,
    flows: Sequence[PlannedFlow] | None = None,
) -> Run:
    """Log in, crawl every check x identity, diagnose the 404s; return the Run.

    `checks` are the planned checks to send (a selection or shard, see `selection.select`);
    by default every check of the manifest. Only the identities they use log in.

    With `probe` > 0, the routes suggested for the 404s are then confirmed on the target
    with at most that many GET, HEAD or OPTIONS requests (see `_probe`). Never raises for
    a network failure; an interrupted run returns what finished, the rest SKIP, with
    `interrupted=True`.

    `flows` are the planned flows to run alongside the checks (by default every flow of
    the manifest; see `crawler.flows`); their steps' results follow the checks'. Every
    request of the run fills `{run_id}` with the same value, recorded as `Run.run_id`.
    """
    checks = list(checks) if checks is not None else loaded.planned(settings.timeout)
    # flows and generated data: the run's id for `{run_id}`, and the flows to run
    run_id = new_run_id()
    with_id: dict[int, Mapping[str, str]] = {}  # one filled copy per distinct vars mapping
    checks = [_with_run_id(planned, run_id, with_id) for planned in checks]
    flows = [
        dataclasses.replace(
            flow, steps=tuple(_with_run_id(step, run_id, with_id) for step in flow.steps)
        )
        for flow in (flows if flows is not None else loaded.planned_flows(settings.timeout))
    ]
    steps = flows_.steps_of(flows)
    inventory_secrets = redact.url_secrets(place.location) if place and place.kind != "file" else []
    redactor = Redactor(
        [*loaded.secrets, *target.secrets, *inventory_secrets, *_network_secrets(loaded, settings)]
    )
    observer = _hiding(observer or Observer(), redactor)
    used = {planned.identity for planned in [*checks, *steps]}
    identities = {name: i for name, i in loaded.identities.items() if name in used}
    state = _State()

    # --repeat: the checks are sent round after round; samples fold per check (repeat.py).
    sampler = repeat.Sampler(len(checks)) if settings.repeat > 1 else None
    sent = repeat.rounds(checks, settings.repeat) if sampler is not None else checks

    def on_result(index: int, result: CheckResult) -> None:
        if sampler is not None:
            sampler.add(index % len(checks), result)
        else:
            state.done[index] = result
        observer.on_result(result)

    def on_step(index: int, result: CheckResult) -> None:  # flows: positions after the checks
        state.done[index] = result
        observer.on_result(result)

    preview = verdict.mutation_preview(
        [*checks, *flows_.sendable(flows, allow_mutations=settings.allow_mutations)],
        allow_mutations=settings.allow_mutations,
        base_url=None if target.in_process else target.url_without_userinfo,
    )
    if preview is not None:
        observer.on_mutations(redactor.text(preview))

    # `--deadline` counts from here, so the time logins take is inside it.
    deadline_at = time.monotonic() + settings.deadline if settings.deadline else None
    pace = engine.Pace(settings)  # one for the crawl and the probes: politeness is per run

    async def main() -> None:
        # Ctrl-C and SIGTERM are handled here, as signals, from before the logins on: the
        # crawl stops, and what finished is kept. (Left to asyncio, a Ctrl-C can be absorbed
        # by a cancel scope and the run would go on.)
        async with anyio.create_task_group() as watchers:
            watchers.start_soon(_watch_signals, watchers.cancel_scope, state)
            try:
                await work()
            finally:
                watchers.cancel_scope.cancel()

    async def work() -> None:
        async with engine.open_sessions(target, settings, identities, redactor) as sessions:
            for name, session in sessions.items():
                state.statuses[name] = IdentityStatus(
                    name=name,
                    kind=session.identity.kind,
                    failure=session.failure,
                    unreachable=session.failure_error is not None,
                )
                if session.failure:
                    observer.on_login_failure(name, session.failure)
            # Body assertions: `schema: {from: openapi}` needs the document before the crawl.
            if any(assertions.uses_openapi(p.check.assert_) for p in [*checks, *steps]):
                state.document = await _document(place, sessions, settings, observer)
                checks[:] = bind_schemas(checks, place, state.document)
                flows[:] = [
                    dataclasses.replace(
                        flow, steps=tuple(bind_schemas(flow.steps, place, state.document))
                    )
                    for flow in flows
                ]
            # flows: run concurrently with the checks, within the same limits
            limiter = anyio.CapacityLimiter(settings.concurrency)
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(
                    functools.partial(
                        flows_.run_flows,
                        flows,
                        sessions,
                        settings,
                        redactor,
                        on_result=on_step,
                        first=len(checks),
                        limiter=limiter,
                        pace=pace,
                        deadline_at=deadline_at,
                    )
                )
                await engine.crawl(
                    sent,
                    sessions,
                    settings,
                    redactor=redactor,
                    on_result=on_result,
                    deadline_at=deadline_at,
                    pace=pace,
                    limiter=limiter,
                    keep=sampler is None,
                )
            if sampler is not None:
                state.done.update(sampler.results())
            if state.document is not None or place is None:
                pass  # read before the crawl already (for `schema: {from: openapi}`), or none
            elif place.kind == "path":
                client = next(iter(sessions.values())).client
                state.document = await _fetch(client, place, place.location, observer)
            elif place.kind == "url":
                # Its own anonymous client: the identities' credentials stay with the target.
                # A user:password@ in the URL is that client's basic auth, not part of the GET.
                own_target = Target(base_url=place.location)
                async with engine.open_client(own_target, settings) as own:
                    location = own_target.url_without_userinfo
                    state.document = await _fetch(own, place, location, observer)
            if probe > 0:
                done = [state.done[index] for index in sorted(state.done)]
                state.inventory = inventory_for(done, place, state.document, observer)
                answered = {i: r for i, r in state.done.items() if i < len(checks)}  # not flows
                state.probed = await _probe(
                    checks, answered, sessions, state.inventory, settings, probe, observer, pace
                )

    started = datetime.now(UTC)
    clock = time.perf_counter()
    interrupted = False
    try:
        _run_unwrapped(main)
    except KeyboardInterrupt:  # before the signal watcher started
        interrupted = True
    if sampler is not None:  # interrupted too: what was sampled
        state.done.update(sampler.results())
    results = engine.fill_unsent([*checks, *steps], state.done, target, INTERRUPTED, redactor)
    results[len(checks) :] = [  # flows: every step's result names its flow
        flows_.as_step(result, step.group)
        for result, step in zip(results[len(checks) :], steps, strict=True)
    ]
    # SLOs: a PASS whose latency breaches its check's `slo:` limits is FAIL (latency.py).
    results = [
        latency.judge_slo(result, planned.slo.limits() if planned.slo else None)
        for result, planned in zip(results, [*checks, *steps], strict=True)
    ]
    run = Run(
        name=loaded.name,
        manifest=str(manifest_path),
        target=redactor.url(target.label),
        in_process=target.in_process,
        started_at=started.replace(microsecond=0),
        duration_s=round(time.perf_counter() - clock, 3),
        interrupted=interrupted or state.interrupted,
        settings=RunSettings(
            concurrency=settings.concurrency,
            timeout=settings.timeout,
            allow_mutations=settings.allow_mutations,
            transport="in-process" if target.in_process else settings.transport,
            insecure=settings.network.insecure and not target.in_process,
            proxy=_proxy_shown(target, settings),
            repeat=settings.repeat,
        ),
        identities=tuple(state.statuses.values()) if loaded.identities else (),
        results=tuple(results),
        run_id=run_id,
        environment=loaded.environment,
    )
    if settings.detect_stubs:  # likely stubs: PASS -> STUB with the rule and its evidence
        run = stubs.detect(run)
    inventory = state.inventory
    if inventory is None:
        # Nothing to diagnose: the routes of (say) 100,000 passing checks need not be built;
        # the inventory is still read (its problems warned about) and named on the run.
        answered = run.results if any(map(mismatch.needs_diagnosis, run.results)) else ()
        inventory = inventory_for(answered, place, state.document, observer)
    return confirm(mismatch.annotate(run, inventory), state.probed, redactor)


def _with_run_id(
    planned: PlannedCheck, run_id: str, shared: dict[int, Mapping[str, str]]
) -> PlannedCheck:
    """`planned` with `{run_id}` among its values. The mapping `Manifest.planned` made for
    this plan (one dict all its checks share) gets the run's id in place: 100,000 checks
    are neither copied nor each given a mapping. A mapping that holds another run's id
    (a plan sent again), or any other mapping, is copied once."""
    values = planned.values
    if isinstance(values, dict) and values.get(RUN_ID, run_id) == run_id:
        values[RUN_ID] = run_id
        return planned
    copied = shared.get(id(values))
    if copied is None:
        copied = shared[id(values)] = {**values, RUN_ID: run_id}
    return dataclasses.replace(planned, values=copied)


def _hiding(observer: Observer, redactor: Redactor) -> Observer:
    """`observer`, with every warning passed through `redactor` first (a problem fetching
    the inventory may name what it was sent)."""
    warn = observer.on_warning
    return dataclasses.replace(observer, on_warning=lambda message: warn(redactor.text(message)))


def inventory_for(
    results: Sequence[CheckResult],
    place: InventoryPlace | None,
    document: str | None,
    observer: Observer,
) -> routes.Inventory:
    """The best inventory available: the declared one (if it could be read) plus the routes
    this run saw answer. A declared one that cannot be read is a warning, not an error."""
    inventory = routes.from_passed(results)
    if place is not None:
        try:
            declared = _declared(place, document)
        except routes.InventoryError as exc:
            observer.on_warning(f"route inventory not used: {exc}")
        else:
            if declared is not None:
                inventory = declared.merged(inventory)
    return inventory


def _declared(place: InventoryPlace, document: str | None) -> routes.Inventory | None:
    if place.kind == "file":
        return place.inventory if place.inventory is not None else routes.load_file(place.location)
    if document is None:
        return None
    return routes.from_openapi(routes.load_document(document, place.label), place.label)


async def _document(
    place: InventoryPlace | None,
    sessions: Mapping[str, Session],
    settings: Settings,
    observer: Observer,
) -> str | None:
    """The OpenAPI document's text, read before the crawl for `schema: {from: openapi}`
    (as it is read after the crawl for the inventory), or None."""
    if place is None or not place.openapi:
        return None
    if place.kind == "file":
        try:
            return Path(place.location).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    if place.kind == "path":
        client = next(iter(sessions.values())).client
        return await _fetch(client, place, place.location, observer)
    own_target = Target(base_url=place.location)
    async with engine.open_client(own_target, settings) as own:
        return await _fetch(own, place, own_target.url_without_userinfo, observer)


def bind_schemas(
    checks: Sequence[PlannedCheck], place: InventoryPlace | None, document: str | None
) -> list[PlannedCheck]:
    """The checks with `schema: {from: openapi}` given their operation's documented
    response schemas (or the reason there are none, which their assertion then reports)."""
    data: dict[str, object] | None = None
    problem = None
    if place is None:
        problem = "no OpenAPI document (set inventory: {openapi: ...})"
    elif not place.openapi:
        problem = f"the inventory {place.label} is a route list, not an OpenAPI document"
    elif document is None:
        problem = f"OpenAPI document {place.label} not read"
    else:
        try:
            data = routes.load_document(document, place.label)
        except routes.InventoryError as exc:
            problem = str(exc)
    bound = []
    for planned in checks:
        spec = planned.check.assert_
        if spec is not None and assertions.uses_openapi(spec):
            spec = assertions.bind(spec, data, planned.check.method, planned.check.path, problem)
            planned = dataclasses.replace(
                planned, check=planned.check.model_copy(update={"assert_": spec})
            )
        bound.append(planned)
    return bound


async def _fetch(
    client: httpx.AsyncClient, place: InventoryPlace, location: str, observer: Observer
) -> str | None:
    text, problem = await engine.fetch_text(client, location)
    if problem:
        observer.on_warning(f"route inventory {place.label} not read: {problem}")
    return text


async def _probe(
    checks: Sequence[PlannedCheck],
    done: Mapping[int, CheckResult],
    sessions: Mapping[str, Session],
    inventory: routes.Inventory,
    settings: Settings,
    limit: int,
    observer: Observer,
    pace: engine.Pace | None = None,
) -> dict[int, list[tuple[mismatch.Probe, ProbeAnswer]]]:
    """Confirm the suggested routes of every mismatch on the target, safely and boundedly.

    Each suggestion becomes a `mismatch.Probe` (GET or HEAD as itself, anything else asked
    about with OPTIONS; parameters filled from the called path, else not probed), sent as
    the identity whose check got the 404, within that check's timeout. The same request is
    sent once however many results suggest it; at most `limit` requests in all, in manifest
    order, and a warning says how many were left out.
    """
    request_of: dict[tuple[str, str, str], int] = {}  # (identity, method, path) -> its index
    requests: list[tuple[httpx.AsyncClient, str, str, float]] = []
    wanted: dict[int, list[tuple[mismatch.Probe, int]]] = {}
    left_out = 0
    for index in sorted(done):
        result = done[index]
        session = sessions.get(result.identity)
        if session is None or session.failure is not None or not mismatch.needs_diagnosis(result):
            continue
        diagnosis = mismatch.diagnose(mismatch.call_of(result), inventory)
        called = _called_path(session, checks[index], result)
        for item in mismatch.probes(result, diagnosis, called):
            key = (result.identity, item.method, item.path)
            if key not in request_of:
                if len(requests) >= limit:
                    left_out += 1
                    continue
                request_of[key] = len(requests)
                requests.append((session.client, item.method, item.path, checks[index].timeout))
            wanted.setdefault(index, []).append((item, request_of[key]))
    if left_out:
        observer.on_warning(
            f"probe: {left_out} suggested route(s) not confirmed: at most {limit} probe "
            "requests per run"
        )
    answers = await engine.probe_all(requests, settings.concurrency, pace)
    return {index: [(item, answers[at]) for item, at in items] for index, items in wanted.items()}


def _called_path(session: Session, planned: PlannedCheck, result: CheckResult) -> str:
    """The concrete path the check's request went to: its placeholders filled."""
    try:
        return fill(planned.check.path, session.captures)
    except MissingCapture:  # not sent then, so never a mismatch; its written path will do
        return result.path


def confirm(
    run: Run, probed: Mapping[int, list[tuple[mismatch.Probe, ProbeAnswer]]], redactor: Redactor
) -> Run:
    """The run with each probed diagnosis's `confirmed` suggestions, and what the probes got
    back said in its detail (`probe: GET /api/audit-logs -> 200 confirmed`)."""
    if not probed:
        return run
    results = list(run.results)
    for index, items in probed.items():
        diagnosis = results[index].diagnosis
        if diagnosis is None:
            continue
        confirmed = [
            item.suggestion
            for item, answer in items
            if answer.status is not None and mismatch.confirms(item, answer.status, answer.allow)
        ]
        said = ", ".join(_said(item, answer) for item, answer in items)
        results[index] = results[index].model_copy(
            update={
                "diagnosis": diagnosis.model_copy(
                    update={
                        "confirmed": tuple(dict.fromkeys(confirmed)),
                        "detail": f"{diagnosis.detail}; probe: {redactor.text(said)}",
                    }
                )
            }
        )
    return run.model_copy(update={"results": tuple(results)})


def _said(item: mismatch.Probe, answer: ProbeAnswer) -> str:
    if answer.status is None:
        return f"{item.label} -> no answer ({answer.problem})"
    allow = f" (Allow: {', '.join(sorted(answer.allow))})" if item.method != item.wanted else ""
    verdict = " confirmed" if mismatch.confirms(item, answer.status, answer.allow) else ""
    return f"{item.label} -> {answer.status}{allow}{verdict}"


def _run_unwrapped(main: Callable[[], Awaitable[None]]) -> None:
    """`anyio.run(main)`, with a crawler error raised inside a task group unwrapped again."""
    try:
        anyio.run(main)
    except* CrawlerError as group:
        raise group.exceptions[0] from None


async def _watch_signals(scope: anyio.CancelScope, state: _State) -> None:
    # Ctrl-C, or SIGTERM as CI sends when it cancels a job: stop, so partial reports are written.
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            state.interrupted = True
            scope.cancel()
            return
