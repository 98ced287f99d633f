"""Flows: ordered steps with captures, cleanup after a failure, the mutation guard for a
whole flow, generated values, against a real loopback bookings API with in-memory storage."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from bookings import BookingsApp
from servers import serve

from crawler import flows, manifest, runner
from crawler.engine import Settings, Target
from crawler.errors import ManifestError
from crawler.flows import PREVIOUS_FAILED, sendable
from crawler.results import CheckResult, Run, load_run
from crawler.verdict import mutation_preview

CRUD = """\
version: 1
name: Bookings
base_url: {base_url}
vars: {{room: Blue}}
groups:
  Health:
    - GET /bookings -> 200
flows:
  Bookings CRUD:
    - name: create
      method: POST
      path: /bookings
      json: {{room: "{{room}}", note: "{{run_id}}"}}
      expect: 201
      safe: true
      capture: {{id: $.id}}
    - name: read
      path: /bookings/{{id}}
    - name: update
      method: PUT
      path: /bookings/{{id}}
      json: {{room: Green}}
      expect: {update_expect}
      safe: true
    - name: read again
      path: /bookings/{{id}}
    - name: delete
      method: DELETE
      path: /bookings/{{id}}
      expect: 204
      safe: true
      always: true
    - name: gone
      path: /bookings/{{id}}
      expect: 404
"""


def execute(text: str, *, allow_mutations: bool = False, env: str | None = None) -> Run:
    loaded = manifest.loads(text)
    if env is not None:
        loaded = loaded.for_environment(env)
    target = Target(base_url=loaded.base_url)
    settings = Settings(transport="httpx", allow_mutations=allow_mutations, timeout=5)
    return runner.execute(loaded, Path("flows.yaml"), target, settings)


def steps(run: Run, flow: str = "Bookings CRUD") -> list[CheckResult]:
    return [r for r in run.results if r.flow == flow]


def verdicts(results: list[CheckResult]) -> list[tuple[str | None, str, str]]:
    return [(r.name, r.verdict, r.reason) for r in results]


def test_crud_flow_creates_reads_updates_deletes_and_leaves_nothing() -> None:
    app = BookingsApp()
    with serve(app) as base_url:
        run = execute(CRUD.format(base_url=base_url, update_expect=200))
    flow = steps(run)
    assert [(r.name, r.verdict) for r in flow] == [
        ("create", "PASS"),
        ("read", "PASS"),
        ("update", "PASS"),
        ("read again", "PASS"),
        ("delete", "PASS"),
        ("gone", "PASS"),
    ]
    assert [(r.group, r.index) for r in flow] == [("Bookings CRUD", i) for i in range(6)]
    # Every step used the id the API returned; the store is empty again.
    assert app.requests.count("DELETE /bookings/101") == 1
    assert [r.request.url for r in flow][1:] == [f"{base_url}/bookings/101"] * 5
    assert app.store == {}
    # The flow is one group of the run, after the checks; totals count each step.
    assert list(run.groups()) == ["Health", "Bookings CRUD"]
    assert len(run.results) == 7
    # vars and {run_id} filled the body; the run records its id.
    assert run.run_id is not None
    assert re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{6}", run.run_id)
    assert flow[0].request.body == f'{{"room":"Blue","note":"{run.run_id}"}}'


def test_failed_step_skips_the_rest_but_cleanup_still_runs() -> None:
    app = BookingsApp()
    with serve(app) as base_url:
        run = execute(CRUD.format(base_url=base_url, update_expect=409))
    assert verdicts(steps(run)) == [
        ("create", "PASS", ""),
        ("read", "PASS", ""),
        ("update", "FAIL", "expected 409, got 200"),
        ("read again", "SKIP", PREVIOUS_FAILED),
        ("delete", "PASS", ""),
        ("gone", "SKIP", PREVIOUS_FAILED),
    ]
    assert "DELETE /bookings/101" in app.requests
    assert app.store == {}  # nothing left behind
    assert app.requests.count("GET /bookings/101") == 1  # only `read`: the rest were skipped


def test_cleanup_whose_value_was_never_captured_is_skipped_with_the_reason() -> None:
    text = """\
version: 1
name: Bookings
base_url: {base_url}
groups:
  Health: [GET /bookings -> 200]
flows:
  Bookings CRUD:
    - {{method: POST, path: /bookingz, json: {{room: x}}, expect: 201, safe: true,
       capture: {{id: $.id}}}}
    - {{method: DELETE, path: "/bookings/{{id}}", expect: 204, safe: true, always: true}}
"""
    app = BookingsApp()
    with serve(app) as base_url:
        run = execute(text.format(base_url=base_url))
    assert verdicts(steps(run)) == [
        (None, "FAIL", "expected 201, got 404"),
        (None, "SKIP", f"{PREVIOUS_FAILED}; cleanup not sent: {{id}} was not captured"),
    ]
    assert not any(r.startswith("DELETE") for r in app.requests)


def test_a_step_that_failed_but_created_something_is_still_cleaned_up() -> None:
    """Created with another status than expected (201, not 200): the step FAILs, yet the
    id it answered is kept, so the cleanup deletes what it made."""
    text = """\
version: 1
name: Bookings
base_url: {base_url}
groups:
  Health: [GET /bookings -> 200]
flows:
  Bookings CRUD:
    - {{method: POST, path: /bookings, json: {{room: x}}, expect: 200, safe: true,
       capture: {{id: $.id}}}}
    - {{method: DELETE, path: "/bookings/{{id}}", expect: 204, safe: true, always: true}}
"""
    app = BookingsApp()
    with serve(app) as base_url:
        run = execute(text.format(base_url=base_url))
    assert verdicts(steps(run)) == [(None, "FAIL", "expected 200, got 201"), (None, "PASS", "")]
    assert app.store == {}


def test_a_secret_capture_is_hidden_even_when_its_step_fails(tmp_path: Path) -> None:
    """The step answers with the token but not the status expected: the answer is kept
    (it failed), and the secret it carries must be hidden in it and in every report."""
    text = """\
version: 1
name: Bookings
base_url: {base_url}
groups:
  Health: [GET /bookings -> 200]
flows:
  Secret:
    - {{method: POST, path: /bookings, json: {{room: SECRET-ROOM-7f1c}}, expect: 200,
       safe: true, capture: {{id: $.id, room: {{json: $.room, secret: true}}}}}}
    - {{method: DELETE, path: "/bookings/{{id}}", expect: 204, safe: true, always: true}}
"""
    app = BookingsApp()
    with serve(app) as base_url:
        run = execute(text.format(base_url=base_url))
    first = steps(run, "Secret")[0]
    assert first.verdict == "FAIL"
    assert "SECRET-ROOM-7f1c" not in run.model_dump_json()
    assert "[REDACTED]" in first.observation.model_dump_json()
    assert app.store == {}


def test_cleanup_still_runs_after_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deadline passes during the flow: the steps after it are not started, but the
    cleanup of what the flow created still goes out (its id was captured). The flows'
    clock jumps past the deadline once the first step was started: no waiting."""
    text = """\
version: 1
name: Bookings
base_url: {base_url}
groups:
  Health: [GET /bookings -> 200]
flows:
  Bookings CRUD:
    - {{method: POST, path: /bookings, json: {{room: x}}, expect: 201, safe: true,
       capture: {{id: $.id}}}}
    - {{path: "/bookings/{{id}}"}}
    - {{method: DELETE, path: "/bookings/{{id}}", expect: 204, safe: true, always: true}}
"""

    class Clock:
        reads = 0

        def monotonic(self) -> float:
            self.reads += 1
            return time.monotonic() + (0 if self.reads == 1 else 3600)

    monkeypatch.setattr(flows, "time", Clock())
    app = BookingsApp()
    with serve(app) as base_url:
        loaded = manifest.loads(text.format(base_url=base_url))
        settings = Settings(transport="httpx", timeout=5, deadline=600)
        run = runner.execute(loaded, Path("flows.yaml"), Target(base_url=base_url), settings)
    assert verdicts(steps(run)) == [
        (None, "PASS", ""),
        (None, "SKIP", "deadline reached"),
        (None, "PASS", ""),
    ]
    assert app.store == {}


def test_capture_that_finds_nothing_fails_the_step() -> None:
    text = """\
version: 1
name: Bookings
base_url: {base_url}
groups:
  Health: [GET /bookings -> 200]
flows:
  Bookings CRUD:
    - {{method: POST, path: /bookings, json: {{room: x}}, expect: 201, safe: true,
       capture: {{id: $.id, owner: $.owner}}}}
    - {{path: "/bookings/{{id}}"}}
    - {{method: DELETE, path: "/bookings/{{id}}", expect: 204, safe: true, always: true}}
"""
    app = BookingsApp()
    with serve(app) as base_url:
        run = execute(text.format(base_url=base_url))
    assert verdicts(steps(run)) == [
        (None, "FAIL", "capture owner found nothing"),
        (None, "SKIP", PREVIOUS_FAILED),
        (None, "PASS", ""),  # `id` was captured before `owner` failed: cleaned up
    ]
    assert app.store == {}


ETAG = """\
version: 1
name: Bookings
base_url: {base_url}
groups:
  Health: [GET /bookings -> 200]
flows:
  Conditional GET:
    - {{method: POST, path: /bookings, json: {{room: x}}, expect: 201, safe: true,
       capture: {{id: $.id}}}}
    - path: "/bookings/{{id}}"
      capture: {{etag: {{header: ETag}}}}
    - path: "/bookings/{{id}}"
      headers: {{If-None-Match: "{{etag}}"}}
      expect: 304
    - {{method: DELETE, path: "/bookings/{{id}}", expect: 204, safe: true, always: true}}
"""


def test_etag_capture_feeds_a_conditional_get_that_answers_304() -> None:
    app = BookingsApp()
    with serve(app) as base_url:
        run = execute(ETAG.format(base_url=base_url))
    flow = steps(run, "Conditional GET")
    assert [r.cell for r in flow] == ["PASS 201", "PASS 200", "PASS 304", "PASS 204"]
    assert app.headers[3]["if-none-match"] == '"101-v1"'
    assert flow[2].request.headers["If-None-Match"] == '"101-v1"'
    assert app.store == {}


def test_unsafe_mutation_skips_the_whole_flow_and_sends_nothing_of_it() -> None:
    text = CRUD.replace("      safe: true\n      capture", "      capture")
    app = BookingsApp()
    with serve(app) as base_url:
        run = execute(text.format(base_url=base_url, update_expect=200))
    flow = steps(run)
    assert {r.verdict for r in flow} == {"SKIP"}
    assert flow[0].reason.startswith("flow not sent: step 1 (POST /bookings) is a mutation")
    assert app.requests == ["GET /bookings"]  # the ordinary check only
    # --allow-mutations lets it run.
    app = BookingsApp()
    with serve(app) as base_url:
        run = execute(text.format(base_url=base_url, update_expect=200), allow_mutations=True)
    assert {r.verdict for r in steps(run)} == {"PASS"}
    assert app.store == {}


def test_generated_values_are_the_same_within_a_step_and_fresh_across_steps() -> None:
    text = """\
version: 1
name: Bookings
base_url: {base_url}
groups:
  Health: [GET /bookings -> 200]
flows:
  Generated:
    - path: /bookings
      query: {{a: "{{uuid}}", b: "{{uuid}}", n: "{{random_int}}", t: "{{timestamp}}"}}
    - path: /bookings
      query: {{a: "{{uuid}}", r: "{{run_id}}"}}
"""
    app = BookingsApp()
    with serve(app) as base_url:
        run = execute(text.format(base_url=base_url))
    first, second = [r for r in app.requests if "?" in r]
    found = dict(part.split("=") for part in first.split("?")[1].split("&"))
    assert found["a"] == found["b"]
    assert re.fullmatch(r"[0-9a-f-]{36}", found["a"])
    assert found["n"].isdigit() and found["t"].isdigit()
    again = dict(part.split("=") for part in second.split("?")[1].split("&"))
    assert again["a"] != found["a"]
    assert again["r"] == run.run_id


def test_flows_run_as_each_identity_with_their_own_captures() -> None:
    text = """\
version: 1
name: Bookings
base_url: {base_url}
identities:
  alice: {{kind: bearer, token: token-alice-1234}}
  bob: {{kind: bearer, token: token-bob-5678}}
groups:
  Health: [GET /bookings -> 200]
flows:
  Mine:
    - {{method: POST, path: /bookings, json: {{room: x}}, expect: 201, safe: true,
       capture: {{id: $.id}}}}
    - {{method: DELETE, path: "/bookings/{{id}}", expect: 204, safe: true}}
"""
    app = BookingsApp()
    with serve(app) as base_url:
        run = execute(text.format(base_url=base_url))
    flow = steps(run, "Mine")
    assert [(r.identity, r.verdict) for r in flow] == [
        ("alice", "PASS"),
        ("alice", "PASS"),
        ("bob", "PASS"),
        ("bob", "PASS"),
    ]
    deleted = sorted(r for r in app.requests if r.startswith("DELETE"))
    assert deleted == ["DELETE /bookings/101", "DELETE /bookings/102"]
    assert app.store == {}


def test_secret_captures_are_hidden_in_the_run(tmp_path: Path) -> None:
    text = ETAG.replace(
        "capture: {{etag: {{header: ETag}}}}", "capture: {{etag: {{header: ETag, secret: true}}}}"
    )
    app = BookingsApp()
    with serve(app) as base_url:
        run = execute(text.format(base_url=base_url))
    flow = steps(run, "Conditional GET")
    assert [r.verdict for r in flow] == ["PASS"] * 4
    assert '"101-v1"' not in run.model_dump_json()


def test_a_run_without_flow_fields_still_loads(tmp_path: Path) -> None:
    app = BookingsApp()
    with serve(app) as base_url:
        run = execute(CRUD.format(base_url=base_url, update_expect=200))
    data = run.model_dump_json(by_alias=True, exclude={"run_id"})
    old = re.sub(r',\s*"flow":\s*(null|"[^"]*")', "", data)
    assert '"flow"' not in old
    path = tmp_path / "run.json"
    path.write_text(old, encoding="utf-8")
    loaded = load_run(path)
    assert loaded.run_id is None
    assert {r.flow for r in loaded.results} == {None}


@pytest.mark.parametrize(
    ("flows", "field", "message"),
    [
        (
            "  F:\n    - {path: /a, capture: {id: $.id}}\n    - {path: '/b/{idd}'}\n",
            "flows.F[1]",
            "uses {idd}, which no earlier step captures",
        ),
        (
            "  F:\n    - {path: '/b/{id}'}\n    - {path: /a, capture: {id: $.id}}\n",
            "flows.F[0]",
            "uses {id}, which no earlier step captures",
        ),
        ("  F:\n    - {path: /a, identities: [admin]}\n", "flows.F[0].identities", "a step runs"),
        ("  F:\n    - {path: /a, colour: red}\n", "flows.F[0].colour", "allowed here: method"),
        ("  F:\n    identities: [ops]\n    steps: [GET /a]\n", "flows.F.identities", "unknown"),
        ("  F:\n    only_env: [prod]\n    steps: [GET /a]\n", "flows.F.only_env", "unknown env"),
        ("  Health: [GET /a]\n", "flows.Health", "has the name of a group"),
        ("  F: []\n", "flows.F", "a flow needs at least one step"),
        ("  F:\n    - {path: /a, capture: {id: nope}}\n", "flows.F[0].capture.id", "JSONPath"),
    ],
)
def test_bad_flows_are_located_manifest_errors(flows: str, field: str, message: str) -> None:
    text = (
        "version: 1\nname: x\nbase_url: http://127.0.0.1:9\n"
        "identities:\n  admin: {kind: bearer, token: t}\n"
        "groups:\n  Health: [GET /h]\nflows:\n" + flows
    )
    with pytest.raises(ManifestError) as caught:
        manifest.loads(text, "m.yaml")
    issue = caught.value.issues[0]
    assert (issue.field, issue.line is not None) == (field, True)
    assert message in issue.message


def test_flows_and_checks_share_one_concurrency_limit_without_deadlock() -> None:
    loaded_text = CRUD.replace("    - GET /bookings -> 200\n", "    - GET /bookings -> 200\n" * 5)
    app = BookingsApp()
    with serve(app) as base_url:
        loaded = manifest.loads(loaded_text.format(base_url=base_url, update_expect=200))
        settings = Settings(transport="httpx", concurrency=1, timeout=5)
        run = runner.execute(loaded, Path("f.yaml"), Target(base_url=base_url), settings)
    assert [r.verdict for r in run.results] == ["PASS"] * 11
    assert app.store == {}


def test_steps_not_started_by_the_deadline_are_skipped() -> None:
    app = BookingsApp()
    with serve(app) as base_url:
        loaded = manifest.loads(CRUD.format(base_url=base_url, update_expect=200))
        settings = Settings(transport="httpx", timeout=5, deadline=1e-9)
        run = runner.execute(loaded, Path("f.yaml"), Target(base_url=base_url), settings)
    assert {(r.verdict, r.reason) for r in steps(run)} == {("SKIP", "deadline reached")}
    assert app.requests == []


def test_only_flows_the_guard_lets_through_count_as_mutations_to_preview() -> None:
    loaded = manifest.loads(CRUD.format(base_url="https://api.example.test", update_expect=200))
    planned = loaded.planned_flows()
    assert len(sendable(planned, allow_mutations=False)) == 6  # every write step is safe
    unsafe = CRUD.replace("      safe: true\n      capture", "      capture")
    blocked_flows = manifest.loads(unsafe.format(base_url="https://x.test", update_expect=200))
    assert sendable(blocked_flows.planned_flows(), allow_mutations=False) == []
    assert len(sendable(blocked_flows.planned_flows(), allow_mutations=True)) == 6
    steps_sent = sendable(planned, allow_mutations=False)
    preview = mutation_preview(steps_sent, allow_mutations=False, base_url="https://x.test")
    assert (
        preview == "will send 1 POST, 1 PUT, 1 DELETE to https://x.test (checks marked safe: true)"
    )


def test_a_step_body_assertion_fails_the_step_and_cleanup_still_runs() -> None:
    """Body assertions work on flow steps as on checks: `read` asserts the room the flow
    created; a wrong expectation fails it with the path, expected and actual value, the
    steps after it are skipped, and the cleanup still deletes the booking."""
    app = BookingsApp()
    text = CRUD.replace(
        "    - name: read\n      path: /bookings/{{id}}\n",
        "    - name: read\n      path: /bookings/{{id}}\n"
        '      assert: {{json: {{"$.room": {{equals: "{room}"}}}}}}\n',
    )
    with serve(app) as base_url:
        passing = execute(text.format(base_url=base_url, update_expect=200, room="{room}"))
        failing = execute(text.format(base_url=base_url, update_expect=200, room="Red"))
    assert [r.verdict for r in steps(passing)] == ["PASS"] * 6
    assert verdicts(steps(failing)) == [
        ("create", "PASS", ""),
        ("read", "FAIL", '$.room: expected "Red", got "Blue"'),
        ("update", "SKIP", PREVIOUS_FAILED),
        ("read again", "SKIP", PREVIOUS_FAILED),
        ("delete", "PASS", ""),
        ("gone", "SKIP", PREVIOUS_FAILED),
    ]
    assert app.store == {}


def test_repeat_samples_the_checks_and_runs_each_flow_once() -> None:
    """`--repeat 3`: the ordinary check is sent three times and folded into one result with
    three latency samples; the flow runs once (its steps are not load samples), whole."""
    app = BookingsApp()
    with serve(app) as base_url:
        loaded = manifest.loads(CRUD.format(base_url=base_url, update_expect=200))
        settings = Settings(transport="httpx", timeout=5, repeat=3)
        run = runner.execute(loaded, Path("flows.yaml"), Target(base_url=base_url), settings)
    health, *flow = run.results
    assert (health.group, health.verdict, len(health.samples_ms)) == ("Health", "PASS", 3)
    assert [r.verdict for r in flow] == ["PASS"] * 6
    assert all(r.flow == "Bookings CRUD" for r in flow)
    assert app.requests.count("GET /bookings") == 3
    assert app.requests.count("POST /bookings") == 1
    assert app.store == {}
