"""Flows: ordered steps that share captured values (create, read, update, delete ...).

A flow runs as each of its identities, one step after the other, while ordinary checks
and other flows run concurrently around it (the same concurrency limit, pace and deadline).
The rules, per flow run:

- Mutation guard, for the whole flow: when any step would be refused by `verdict.guard`
  (a POST, PUT, PATCH or DELETE not marked `safe: true`, without `--allow-mutations`),
  nothing of the flow is sent and every step is SKIP, saying which step and why.
- Each step is a check: sent (`engine.check_step`), judged by its `expect`. A step that
  passes keeps the values its `capture` rules find (JSONPath, header, cookie, form field,
  regex: `auth.capture`, as login steps do); a rule that finds nothing fails the step.
  Captured values fill `{name}` in later steps (path, query, headers, body); they belong to
  this flow run only, never to the identity's session. `secret: true` values are hidden.
- After a step fails (FAIL, ERROR, SKIP, XFAIL: anything but PASS and XPASS), the steps
  after it are SKIP `previous step failed`, except `always: true` steps (cleanup), which
  are still sent when every value they use exists, else SKIP naming the value missing.
- Steps not started by the run's deadline are SKIP `deadline reached`, except cleanup
  (`always: true`) once the flow sent something and its values exist: it still goes out.

Every step is one `CheckResult` (`group` and `flow` the flow's name, `index` the step), so
reports show a flow as one block and count each step once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence

import anyio

from crawler import engine, redact, verdict
from crawler.auth import Session, capture
from crawler.manifest import GENERATED, FlowStep, PlannedCheck, PlannedFlow, request_placeholders
from crawler.redact import Redactor
from crawler.results import CheckResult

PREVIOUS_FAILED = "previous step failed"

OnResult = Callable[[int, CheckResult], None]


def blocked(flow: PlannedFlow, *, allow_mutations: bool) -> str | None:
    """Why none of `flow` may be sent (the mutation guard, for the whole flow), or None."""
    for number, planned in enumerate(flow.steps, start=1):
        if verdict.guard(planned.check, allow_mutations=allow_mutations) is not None:
            check = planned.check
            return (
                f"flow not sent: step {number} ({check.method} {check.path}) is a mutation "
                "not allowed (use --allow-mutations or mark every such step safe: true)"
            )
    return None


def sendable(flows: Sequence[PlannedFlow], *, allow_mutations: bool) -> list[PlannedCheck]:
    """The steps of the flows the guard lets through: what a run will send of them."""
    return [
        step
        for flow in flows
        if blocked(flow, allow_mutations=allow_mutations) is None
        for step in flow.steps
    ]


def steps_of(flows: Sequence[PlannedFlow]) -> list[PlannedCheck]:
    """Every step of `flows`, flow after flow: the order of their results in a run."""
    return [step for flow in flows for step in flow.steps]


def as_step(result: CheckResult, flow: str) -> CheckResult:
    """`result` marked as a step of `flow`."""
    return result if result.flow == flow else result.model_copy(update={"flow": flow})


def _missing(planned: PlannedCheck, known: Mapping[str, str], session: Session) -> str | None:
    """The first placeholder of a step that no value fills yet (None: all are there)."""
    sources = (known, session.captures, planned.values, GENERATED)
    for name in request_placeholders(planned.check):
        if not any(name in source for source in sources):
            return name
    return None


def _rule(planned: PlannedCheck) -> FlowStep:
    check = planned.check
    assert isinstance(check, FlowStep)  # planned by Manifest.planned_flows
    return check


async def run_flow(
    flow: PlannedFlow,
    session: Session,
    settings: engine.Settings,
    redactor: Redactor,
    *,
    on_result: Callable[[int, CheckResult], None],
    limiter: anyio.CapacityLimiter,
    pace: engine.Pace | None = None,
    deadline_at: float | None = None,
) -> None:
    """Run one flow as its identity (see the module); `on_result(step, result)` per step."""
    reason = blocked(flow, allow_mutations=settings.allow_mutations)
    if reason is not None:
        for number, planned in enumerate(flow.steps):
            on_result(number, as_step(engine.not_sent(planned, redactor, reason), flow.name))
        return
    captured: dict[str, str] = {}
    failed = sent = False
    for number, planned in enumerate(flow.steps):
        rule = _rule(planned)
        missing = _missing(planned, captured, session)
        late = deadline_at is not None and time.monotonic() >= deadline_at
        # Rule: cleanup goes out even past the deadline once the flow sent something
        # (it may have created data), when every value it needs was captured.
        cleanup = rule.always and sent and missing is None
        if late and not cleanup:
            result = engine.not_sent(planned, redactor, engine.DEADLINE_REACHED)
        elif failed and not rule.always:
            result = engine.not_sent(planned, redactor, PREVIOUS_FAILED)
        elif failed and missing is not None:
            why = f"{PREVIOUS_FAILED}; cleanup not sent: {{{missing}}} was not captured"
            result = engine.not_sent(planned, redactor, why)
        else:
            found: dict[str, str] = {}
            inspect = functools.partial(_capture, rule, session, found, redactor)
            async with limiter:
                result, _ = await engine.check_step(
                    session, planned, captured, settings, redactor, pace=pace, inspect=inspect
                )
            sent = True
            # Kept even when the step failed: a booking created with the wrong status is
            # still there, and its cleanup needs its id.
            captured.update(found)
        if result.verdict not in ("PASS", "XPASS"):
            failed = True
        on_result(number, as_step(result, flow.name))


def _capture(
    rule: FlowStep,
    session: Session,
    found: dict[str, str],
    redactor: Redactor,
    answer: engine.Answer,
) -> str | None:
    """Put the values `rule` captures from `answer` in `found` (whatever its status, so a
    `secret: true` value is hidden even in a failed step's answer); the first rule that
    finds nothing, as a reason (`capture id found nothing`), else None."""
    if answer.response is None:
        return None
    nothing: str | None = None
    for name, how in rule.capture.items():
        value = capture(how, answer.response, session.client.cookies, answer.text)
        if value is None:
            nothing = nothing or f"capture {name} found nothing"
            continue
        if how.secret:
            redactor.add([value])
        found[name] = value
    return nothing


async def run_flows(
    flows: Sequence[PlannedFlow],
    sessions: Mapping[str, Session],
    settings: engine.Settings,
    redactor: Redactor,
    *,
    on_result: OnResult,
    first: int = 0,
    limiter: anyio.CapacityLimiter,
    pace: engine.Pace | None = None,
    deadline_at: float | None = None,
) -> None:
    """Run every flow concurrently (each one's steps in order). `on_result(position,
    result)` numbers the steps as `steps_of(flows)` lists them, from `first`."""
    # A credential a step sends is hidden in the answers too (as `engine.crawl` does).
    redactor.add(
        value
        for planned in steps_of(flows)
        for value in redact.request_secrets(
            planned.headers,
            planned.check.path,
            planned.check.query,
            planned.check.json_body if planned.check.form is None else planned.check.form,
        )
    )
    async with anyio.create_task_group() as tasks:
        start = first
        for flow in flows:

            def report(step: int, result: CheckResult, at: int = start) -> None:
                on_result(at + step, result)

            tasks.start_soon(
                _run_one,
                flow,
                sessions[flow.identity],
                settings,
                redactor,
                report,
                limiter,
                pace,
                deadline_at,
            )
            start += len(flow.steps)


async def _run_one(
    flow: PlannedFlow,
    session: Session,
    settings: engine.Settings,
    redactor: Redactor,
    report: Callable[[int, CheckResult], None],
    limiter: anyio.CapacityLimiter,
    pace: engine.Pace | None,
    deadline_at: float | None,
) -> None:
    await run_flow(
        flow,
        session,
        settings,
        redactor,
        on_result=report,
        limiter=limiter,
        pace=pace,
        deadline_at=deadline_at,
    )
