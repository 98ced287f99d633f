"""What flow steps and body assertions read of an answer: the whole body up to 1 MiB (not
only the 64 KiB kept of other checks), the headers as sent (not as redacted for reports),
bodies too deeply nested to parse, and `schema: {from: openapi}` on a flow step."""

from __future__ import annotations

import json
from pathlib import Path

from servers import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crawler import engine, manifest, runner
from crawler.results import Run

ITEMS = [{"id": f"item_{n:06d}", "name": f"Item number {n}"} for n in range(6000)]  # ~300 KB


async def big(request: Request) -> Response:
    return JSONResponse({"items": ITEMS, "total": len(ITEMS)})


async def deep(request: Request) -> Response:
    return Response("[" * 30000 + "]" * 30000, media_type="application/json")


async def session(request: Request) -> Response:
    answer = JSONResponse({"ok": True})
    answer.set_cookie("sid", "s3cr3t-session-value-1", httponly=True)
    answer.headers["X-Csrf-Token"] = ""
    return answer


APP = Starlette(routes=[Route("/big", big), Route("/deep", deep), Route("/session", session)])


def crawl(text: str) -> Run:
    with serve(APP) as base_url:
        loaded = manifest.loads(text.replace("BASE", base_url))
        settings = engine.Settings(transport="httpx", timeout=5)
        return runner.execute(loaded, Path("m.yaml"), engine.Target(base_url=base_url), settings)


def test_assertions_and_captures_read_a_300_kb_body_whole() -> None:
    run = crawl(
        """
version: 1
name: big
base_url: BASE
groups:
  Big:
    - path: /big
      assert:
        json: {"$.items": {len: "== 6000"}, "$.items[-1:].id": {equals: item_005999}}
        contains: Item number 5999
        max_bytes: 10000000
flows:
  Read:
    - {path: /big, capture: {last: "$.items[-1:].id"}}
    - {path: "/big?after={last}"}
"""
    )
    assert [(r.verdict, r.reason) for r in run.results] == [("PASS", "")] * 3
    assert run.results[-1].request.url.endswith("/big?after=item_005999")


def test_header_assertions_judge_the_headers_as_sent_not_as_redacted() -> None:
    run = crawl(
        """
version: 1
name: headers
base_url: BASE
groups:
  Session:
    - {path: /session, assert: {headers: {set-cookie: "^sid=.*HttpOnly"}}}
    - {path: /session, assert: {headers: {x-csrf-token: "^.+"}}}
"""
    )
    first, second = run.results
    assert (first.verdict, first.reason) == ("PASS", "")
    assert second.verdict == "FAIL"
    assert second.reason.startswith("header x-csrf-token: expected ^.+")
    assert "s3cr3t-session-value-1" not in run.model_dump_json()


def test_a_body_nested_too_deep_to_parse_is_not_json_not_a_crash() -> None:
    run = crawl(
        """
version: 1
name: deep
base_url: BASE
groups:
  Deep:
    - {path: /deep, assert: {json: {"$": {type: array}}}}
flows:
  Deep flow:
    - {path: /deep, capture: {x: "$[0]"}}
    - {path: "/deep?x={x}"}
"""
    )
    check, step, after = run.results
    assert check.verdict == "FAIL" and "that is not JSON" in check.reason
    assert (step.verdict, step.reason) == ("FAIL", "capture x found nothing")
    assert after.verdict == "SKIP"


def test_schema_from_openapi_on_a_flow_step(tmp_path: Path) -> None:
    spec = tmp_path / "m.yaml"
    spec.write_text(
        json.dumps(
            {
                "version": 1,
                "name": "schema",
                "app": "crawler.demo.app:app",
                "inventory": {"openapi": "/openapi.json"},
                "groups": {
                    "Plans": [
                        {"path": "/api/billing/plans", "assert": {"schema": {"from": "openapi"}}}
                    ]
                },
                "flows": {
                    "Plans flow": [
                        {"path": "/api/billing/plans", "assert": {"schema": {"from": "openapi"}}}
                    ]
                },
            }
        )
    )
    loaded = manifest.load(spec)
    place = runner.inventory_place(loaded, spec, None)
    run = runner.execute(
        loaded, spec, engine.Target(app=loaded.app), engine.Settings(), place=place
    )
    assert [(r.flow, r.verdict, r.reason) for r in run.results] == [
        (None, "PASS", ""),
        ("Plans flow", "PASS", ""),
    ]
