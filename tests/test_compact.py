"""Memory and CPU at scale: compact models, the streamed run.json, an idle politeness pace."""

from __future__ import annotations

import samples

from crawler.compact import compact
from crawler.manifest import loads
from crawler.reports import json_report
from crawler.results import Run


def test_compacted_results_share_field_sets_and_stay_equal() -> None:
    first, second = (
        samples.result("G", i, f"/r/{i}", samples.response(200), "PASS") for i in range(2)
    )
    before = first.model_dump()
    compact(first)
    compact(second)
    assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__
    assert first.observation.__pydantic_fields_set__ is second.observation.__pydantic_fields_set__
    assert first.model_dump() == before
    # A copy with an update gets its own set: the shared one is never written to.
    copied = first.model_copy(update={"flaky": True})
    assert "flaky" in copied.__pydantic_fields_set__
    assert "flaky" not in second.__pydantic_fields_set__


def test_a_compacted_manifest_shares_equal_expectations() -> None:
    loaded = loads("version: 1\nname: x\ngroups:\n  g:\n    - GET /a -> 200\n    - GET /b -> 200\n")
    a, b = loaded.groups["g"].checks
    assert a.expect is b.expect
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__
    assert a.headers == {} and a.query == {}


def test_streamed_json_is_the_same_text(
    sample_run: Run, matrix_run: Run, known_run: Run, baseline_run: Run
) -> None:
    for run in (sample_run, matrix_run, known_run, baseline_run, samples.run([])):
        assert "".join(json_report.chunks(run)) == json_report.render(run)


def test_pace_is_idle_only_when_neither_rate_nor_per_host_can_bind() -> None:
    from crawler.engine import Pace, Settings

    assert Pace(Settings(concurrency=16)).idle
    assert Pace(Settings(concurrency=16, per_host=16)).idle  # the crawl's limit binds first
    assert not Pace(Settings(concurrency=16, per_host=4)).idle
    assert not Pace(Settings(concurrency=16, rate=20)).idle
