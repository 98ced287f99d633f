"""Flows and environments through the command line: `--env` / `CRAWLER_ENV`, `only_env`,
`vars`, a flow as its own block in every report, and a flow run by the installed script."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from bookings import BookingsApp
from click.testing import CliRunner
from servers import serve

from crawler import manifest
from crawler.cli import cli
from crawler.results import load_run

# Two environments on the same loopback server: `staging` allows the writing flow.
ENVIRONMENTS = """\
version: 1
name: Bookings
base_url: http://127.0.0.1:9
vars: {{room: Blue}}
environments:
  staging:
    base_url: {base_url}
    vars: {{room: Staging-Room}}
  production:
    base_url: {base_url}
groups:
  Health:
    - GET /bookings -> 200
    - {{path: /bookings, query: {{room: "{{room}}"}}, name: by room}}
    - {{path: /bookings, query: {{only: staging}}, only_env: [staging]}}
flows:
  Bookings CRUD:
    only_env: [staging]
    steps:
      - {{method: POST, path: /bookings, json: {{room: "{{room}}"}}, expect: 201, safe: true,
         capture: {{id: $.id}}}}
      - {{path: "/bookings/{{id}}"}}
      - {{method: PUT, path: "/bookings/{{id}}", json: {{room: x}}, expect: 409, safe: true}}
      - {{path: "/bookings/{{id}}"}}
      - {{method: DELETE, path: "/bookings/{{id}}", expect: 204, safe: true, always: true}}
      - {{path: "/bookings/{{id}}", expect: 404}}
"""


def write(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "bookings.yaml"
    path.write_text(ENVIRONMENTS.format(base_url=base_url), encoding="utf-8")
    return path


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_environment_vars_override_and_only_env_limits_what_is_planned() -> None:
    loaded = manifest.loads(ENVIRONMENTS.format(base_url="http://127.0.0.1:8"))
    assert [p.check.query for p in loaded.planned()] == [{}, {"room": "{room}"}]
    assert loaded.planned_flows() == []  # only_env: not planned without --env
    staging = loaded.for_environment("staging")
    assert staging.environment == "staging"
    assert staging.values == {"room": "Staging-Room"}
    assert len(staging.planned()) == 3
    assert [f.name for f in staging.planned_flows()] == ["Bookings CRUD"]
    production = loaded.for_environment("production")
    assert production.values == {"room": "Blue"}
    assert (len(production.planned()), production.planned_flows()) == (2, [])


def test_env_option_runs_the_environment_and_names_it(tmp_path: Path) -> None:
    app = BookingsApp()
    with serve(app) as base_url:
        spec = write(tmp_path, base_url)
        code, _, err = invoke(
            "run", str(spec), "--env", "staging", "--out", str(tmp_path), "-q",
            "--format", "md,html,json,junit",
        )  # fmt: skip
    assert code == 1, err  # the flow's update step expects 409 on purpose
    run = load_run(tmp_path / "run.json")
    assert run.environment == "staging"
    assert run.target == base_url
    assert "GET /bookings?room=Staging-Room" in app.requests
    assert "GET /bookings?only=staging" in app.requests
    flow = [r for r in run.results if r.flow == "Bookings CRUD"]
    assert [r.verdict for r in flow] == ["PASS", "PASS", "FAIL", "SKIP", "PASS", "SKIP"]
    assert app.store == {}  # the cleanup ran after the failed update
    # Every report shows the flow as its own block, and names the environment.
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# Bookings · staging verification (6/9 PASS)")
    assert "## Flow Bookings CRUD (3/6 PASS)" in md
    assert md.index("## Health") < md.index("## Flow Bookings CRUD")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Bookings · staging verification" in html
    assert "Flow Bookings CRUD (3/6 PASS)" in html
    suites = ET.parse(tmp_path / "junit.xml").getroot()
    assert suites.get("name") == "Bookings · staging"
    flow_suite = [s for s in suites if s.get("name") == "Bookings CRUD"]
    assert len(flow_suite) == 1
    assert (flow_suite[0].get("tests"), flow_suite[0].get("failures")) == ("6", "1")
    assert flow_suite[0].get("skipped") == "2"


def test_crawler_env_variable_picks_the_environment(tmp_path: Path) -> None:
    app = BookingsApp()
    with serve(app) as base_url:
        spec = write(tmp_path, base_url)
        code, _, err = invoke(
            "run", str(spec), "--out", str(tmp_path), "-q", env={"CRAWLER_ENV": "production"}
        )
    assert code == 0, err
    run = load_run(tmp_path / "run.json")
    assert run.environment == "production"
    assert len(run.results) == 2  # only_env [staging]: neither the check nor the flow
    assert not any(r.startswith(("POST", "DELETE")) for r in app.requests)
    assert "GET /bookings?room=Blue" in app.requests


def test_unknown_environment_from_the_variable_is_a_usage_error(tmp_path: Path) -> None:
    spec = write(tmp_path, "http://127.0.0.1:9")
    code, _, err = invoke("run", str(spec), "--out", str(tmp_path), env={"CRAWLER_ENV": "qa"})
    assert code == 2
    assert "--env qa: no such environment; the manifest defines staging, production." in err


def test_only_a_flow_selected_is_enough_to_run(tmp_path: Path) -> None:
    app = BookingsApp()
    with serve(app) as base_url:
        spec = write(tmp_path, base_url)
        code, _, err = invoke(
            "run", str(spec), "--env", "staging", "--only", "group:Bookings*",
            "--out", str(tmp_path), "-q",
        )  # fmt: skip
    assert code == 1, err
    run = load_run(tmp_path / "run.json")
    assert {r.group for r in run.results} == {"Bookings CRUD"}
    assert len(run.results) == 6  # the flow whole, never part of it


def test_check_lists_flows_with_their_steps(tmp_path: Path) -> None:
    spec = write(tmp_path, "http://127.0.0.1:9")
    code, out, _ = invoke("check", str(spec))
    assert code == 0
    assert "Flow Bookings CRUD (6 steps, as anonymous)  [only in staging]" in out
    assert "captures id" in out
    assert "[always]" in out


def test_schema_describes_flows_vars_and_only_env() -> None:
    code, out, _ = invoke("schema")
    schema = json.loads(out)
    assert code == 0
    assert {"flows", "vars"} <= set(schema["properties"])
    step = schema["$defs"]["FlowStep"]["properties"]
    assert {"capture", "always", "expect", "safe"} <= set(step)
    assert "vars" in schema["$defs"]["Environment"]["properties"]
    assert "only_env" in schema["$defs"]["Check"]["properties"]
    # A step may be one line, and a flow a plain list of steps, as a check and a group.
    items = schema["$defs"]["Flow"]["properties"]["steps"]["items"]["anyOf"]
    assert {"$ref": "#/$defs/FlowStep"} in items
    assert any(item.get("type") == "string" for item in items)
    forms = schema["properties"]["flows"]["additionalProperties"]["anyOf"]
    assert [form.get("type") for form in forms] == [None, "array"]


@pytest.mark.parametrize("env_name", ["staging"])
def test_installed_script_runs_a_flow(tmp_path: Path, env_name: str) -> None:
    """As a user runs it: the flow's steps in the terminal summary, the store left empty."""
    app = BookingsApp()
    with serve(app) as base_url:
        spec = write(tmp_path, base_url)
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "crawler"), "run", str(spec), "--out",
             str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "NO_COLOR": "1", "CRAWLER_ENV": env_name},
            cwd=tmp_path,
            check=False,
        )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "Flow Bookings CRUD (3/6 PASS)" in proc.stdout
    assert "previous step failed" in proc.stdout
    assert app.store == {}


def test_readme_flows_and_environments_examples_are_valid() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Flows")
    environments_at = readme.index("## Environments", start)
    section = readme[start : readme.index("\n## ", environments_at + 1)]
    flows, environments = re.findall(r"```yaml\n(.*?)```", section, re.S)
    head = "version: 1\nname: x\n"
    loaded = manifest.loads(
        head + "base_url: http://127.0.0.1:9\nidentities: {admin: {kind: bearer, token: t}}\n"
        "environments: {staging: {}}\ngroups: {H: [GET /h]}\n" + flows
    )
    assert [len(f.steps) for f in loaded.for_environment("staging").planned_flows()] == [6]
    loaded = manifest.loads(head + environments, environ={"STAGING_ADMIN_TOKEN": "s"})
    assert loaded.for_environment("staging").values == {"room": "Orion-staging"}
    assert len(loaded.for_environment("production").planned()) == 1
