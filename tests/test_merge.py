"""`crawler merge`: shards into one run, environments into one matrix, and what it refuses."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import samples
from click.testing import CliRunner

from crawler.cli import cli
from crawler.errors import UsageError
from crawler.merge import merge, merged_order
from crawler.reports import FORMATS, matrix
from crawler.results import CheckResult, IdentityStatus, Run, load_run, summarize

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "specs" / "demo.yaml"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def crawl(manifest: Path, out: Path, *args: str) -> Path:
    """`crawler run MANIFEST --format json` into `out`; the run.json written."""
    code, _, err = invoke("run", str(manifest), "--out", str(out), "--format", "json", "-q", *args)
    assert code in (0, 1), err
    return out / "run.json"


def outline(run: Run) -> list[tuple[str, int, str, str, str]]:
    """What must survive sharding and merging: each result's place, identity and verdict."""
    return [(r.group, r.index, r.method + " " + r.path, r.identity, r.cell) for r in run.results]


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo crawled whole, and as shards 1/3, 2/3, 3/3."""
    folder = tmp_path_factory.mktemp("demo")
    runs = {"whole": crawl(DEMO, folder / "whole")}
    for k in (1, 2, 3):
        runs[f"{k}/3"] = crawl(DEMO, folder / f"shard{k}", "--shard", f"{k}/3")
    return runs


def test_three_shards_merge_into_the_unsharded_run(demo_runs: dict[str, Path]) -> None:
    whole = load_run(demo_runs["whole"])
    shards = [load_run(demo_runs[f"{k}/3"]) for k in (1, 2, 3)]
    assert all(0 < len(s.results) < len(whole.results) for s in shards)
    merged = merge(shards)
    assert outline(merged) == outline(whole)
    assert [i.name for i in merged.identities] == [i.name for i in whole.identities]
    assert summarize(merged).counts == summarize(whole).counts
    assert summarize(merged).exit_code == summarize(whole).exit_code == 1
    # Whatever order the shards are given in.
    assert outline(merge(shards[::-1])) == outline(whole)
    assert merged.started_at == min(s.started_at for s in shards)
    assert merged.duration_s == max(s.duration_s for s in shards)
    assert merged.environment is None and merged.name == whole.name


def test_merge_command_writes_the_merged_run(demo_runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "merged.json"
    code, stdout, err = invoke(
        "merge", *(str(demo_runs[f"{k}/3"]) for k in (1, 2, 3)), "-o", str(out)
    )
    assert code == 0, err  # merged: the shards' own exit codes are the gate
    assert f"{out}: 3 runs merged. 69 checks: 53 PASS, 8 FAIL, 0 ERROR, 1 SKIP, 7 STUB" in stdout
    assert outline(load_run(out)) == outline(load_run(demo_runs["whole"]))
    # The merged run renders again like any run.
    code, _, err = invoke("render", str(out), "--out", str(tmp_path / "reports"))
    assert code == 0, err
    assert "Billing (" in (tmp_path / "reports" / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_report_renders_from_a_merged_run(demo_runs: dict[str, Path], name: str) -> None:
    merged = merge([load_run(demo_runs[f"{k}/3"]) for k in (1, 2, 3)])
    whole = load_run(demo_runs["whole"])
    text = FORMATS[name].render(merged)
    assert text.strip()
    if name == "json":
        assert Run.model_validate_json(text) == merged
    if name in ("md", "terminal", "html"):
        for group in whole.groups():
            assert group.replace("&", "&amp;") in text or group in text
        assert "Users (" in text and "FAIL" in text


def test_markdown_of_a_merged_run_matches_the_unsharded_tables(demo_runs: dict[str, Path]) -> None:
    merged = merge([load_run(demo_runs[f"{k}/3"]) for k in (1, 2, 3)])
    whole = load_run(demo_runs["whole"])

    def tallies(run: Run) -> list[str]:
        return [line for line in FORMATS["md"].render(run).splitlines() if "PASS)" in line]

    assert tallies(merged) == tallies(whole)
    assert matrix.build(merged).identities == matrix.build(whole).identities


# --- environments ----------------------------------------------------------------------------

TWO_APPS = """\
version: 1
name: Two apps
groups:
  Health:
    - GET /health -> 200
    - GET /api/health -> 200
environments:
  staging: {app: "tests.apps:wsgi_app"}
  production: {app: "crawler.demo.app:app"}
"""


def test_environments_merge_into_environment_columns(tmp_path: Path) -> None:
    spec = tmp_path / "two.yaml"
    spec.write_text(TWO_APPS, encoding="utf-8")
    staging = crawl(spec, tmp_path / "staging", "--env", "staging")
    production = crawl(spec, tmp_path / "production", "--env", "production")
    out = tmp_path / "merged.json"
    code, _, err = invoke("merge", str(staging), str(production), "-o", str(out))
    assert code == 0, err
    merged = load_run(out)
    assert merged.environment == "staging, production"
    assert matrix.build(merged).identities == ("staging", "production")
    md = FORMATS["md"].render(merged)
    assert "| Method | Path | Expected | staging | production |" in md
    assert "| GET | `/health` | 200 | PASS 200 | FAIL 404 |" in md
    assert "| GET | `/api/health` | 200 | FAIL 404 | PASS 200 |" in md
    assert "staging: app:tests.apps:wsgi_app" in merged.target


def test_environments_with_identities_get_environment_slash_identity_columns(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "envs.yaml"
    spec.write_text(
        # The demo's own environments are replaced by these two.
        re.sub(r"\nenvironments:\n(?:[ #].*\n|\n)*", "\n", DEMO.read_text(encoding="utf-8"))
        + "\nenvironments:\n  staging: {headers: {X-Env: staging}}\n  production: {}\n",
        encoding="utf-8",
    )
    health = ("--only", "group:Health,group:Users", "--skip", "tag:slow")
    runs = [
        crawl(spec, tmp_path / "s1", "--env", "staging", "--shard", "1/2", *health),
        crawl(spec, tmp_path / "p", "--env", "production", *health),
        crawl(spec, tmp_path / "s2", "--env", "staging", "--shard", "2/2", *health),
    ]
    merged = merge([load_run(path) for path in runs])
    columns = matrix.build(merged).identities
    assert columns == (
        "staging/admin",
        "staging/viewer",
        "staging/anonymous",
        "production/admin",
        "production/viewer",
        "production/anonymous",
    )
    production = load_run(runs[1])
    assert len(merged.results) == 2 * len(production.results)
    # Each environment's cells are that environment's results.
    by_column = {(r.group, r.index, r.identity): r.cell for r in merged.results}
    for result in production.results:
        assert by_column[result.group, result.index, f"production/{result.identity}"] == result.cell
        assert (result.group, result.index, f"staging/{result.identity}") in by_column
    md = FORMATS["md"].render(merged)
    assert "| staging/admin | staging/viewer | staging/anonymous | production/admin |" in md


# --- refusals --------------------------------------------------------------------------------


def ok(group: str, index: int, path: str, identity: str = "anonymous") -> CheckResult:
    return samples.result(group, index, path, samples.response(200), "PASS", identity=identity)


def made(results: list[CheckResult], **changes: object) -> Run:
    return samples.run(results).model_copy(update=changes)


def test_runs_of_different_manifests_are_refused() -> None:
    one = made([ok("G", 0, "/a")])
    other = made([ok("G", 1, "/b")], name="Other API")
    with pytest.raises(
        UsageError, match=r"b\.json is a run of 'Other API' and a\.json of 'Demo API'"
    ):
        merge([one, other], ["a.json", "b.json"])


def test_runs_of_different_versions_of_a_manifest_are_refused() -> None:
    one = made([ok("G", 0, "/a")])
    other = made([ok("G", 0, "/b", identity="admin")])
    with pytest.raises(UsageError, match=r"a.json and b.json disagree about groups.G\[0\] "):
        merge([one, other], ["a.json", "b.json"])


def test_overlapping_shards_are_refused() -> None:
    one = made([ok("G", 0, "/a"), ok("G", 1, "/b")])
    two = made([ok("G", 1, "/b"), ok("G", 2, "/c")])
    with pytest.raises(UsageError) as caught:
        merge([one, two], ["1.json", "2.json"])
    assert str(caught.value) == (
        "1.json and 2.json both have groups.G[1] (GET /b) as anonymous: overlapping shards, "
        "or one run given twice. Merge each shard's run once."
    )


def test_the_same_check_in_two_environments_is_no_overlap() -> None:
    one = made([ok("G", 0, "/a")], environment="staging")
    two = made([ok("G", 0, "/a")], environment="production")
    merged = merge([one, two])
    assert [r.identity for r in merged.results] == ["staging", "production"]
    with pytest.raises(UsageError, match="in environment staging: overlapping shards"):
        merge([one, two, one])


def test_runs_with_and_without_an_environment_do_not_mix() -> None:
    one = made([ok("G", 0, "/a")], environment="staging")
    two = made([ok("G", 0, "/a")])
    with pytest.raises(UsageError, match=r"b\.json was crawled without --env"):
        merge([one, two], ["a.json", "b.json"])


def test_nothing_to_merge() -> None:
    with pytest.raises(UsageError, match="Nothing to merge"):
        merge([])


@pytest.mark.parametrize(
    ("make_files", "message"),
    [
        (lambda d: [d / "missing.json"], "missing.json: cannot be read"),
        (lambda d: [d / "a.json", d / "a.json"], "a.json is given twice; merge each run once."),
    ],
)
def test_merge_command_refuses_with_exit_2(
    tmp_path: Path, make_files: Callable[[Path], list[Path]], message: str
) -> None:
    (tmp_path / "a.json").write_text(
        made([ok("G", 0, "/a")]).model_dump_json(by_alias=True), encoding="utf-8"
    )
    out = tmp_path / "merged.json"
    code, _, err = invoke("merge", *map(str, make_files(tmp_path)), "-o", str(out))
    assert code == 2
    assert message in err
    assert not out.exists()


# --- how the merged run is put together -------------------------------------------------------


@pytest.mark.parametrize(
    ("sequences", "expected"),
    [
        ([["a", "b", "c"]], ["a", "b", "c"]),
        ([["a", "c"], ["b", "c"], ["a", "b"]], ["a", "b", "c"]),
        ([["b", "c"], ["a", "b"]], ["a", "b", "c"]),  # a before b, though b was seen first
        ([["c"], ["a"], ["b"]], ["c", "a", "b"]),  # undecided: first seen
        ([["a", "b"], ["b", "a"]], ["a", "b"]),  # contradictory: first seen, no hang
        ([], []),
    ],
)
def test_merged_order(sequences: list[list[str]], expected: list[str]) -> None:
    assert merged_order(sequences) == expected


def test_groups_come_out_in_the_order_the_shards_agree_on() -> None:
    one = made([ok("A", 0, "/a"), ok("C", 0, "/c")])
    two = made([ok("B", 0, "/b"), ok("C", 1, "/c2")])
    three = made([ok("A", 1, "/a2"), ok("B", 1, "/b2")])
    merged = merge([two, three, one])
    assert [(r.group, r.index) for r in merged.results] == [
        ("A", 0),
        ("A", 1),
        ("B", 0),
        ("B", 1),
        ("C", 0),
        ("C", 1),
    ]


def test_a_failed_login_in_any_shard_is_reported() -> None:
    fine = IdentityStatus(name="ops", kind="bearer")
    failed = IdentityStatus(name="ops", kind="bearer", failure="401 Unauthorized")
    one = made([ok("G", 0, "/a", identity="ops")], identities=(fine,))
    two = made([ok("G", 1, "/b", identity="ops")], identities=(failed,), interrupted=True)
    merged = merge([one, two])
    assert merged.identities == (failed,)
    assert merged.interrupted
    assert summarize(merged).exit_code == 130


def test_gone_is_what_no_shard_has() -> None:
    a, b, old = ok("G", 0, "/a"), ok("G", 1, "/b"), ok("G", 2, "/old")
    # Each shard compared with the whole last run: the other shard's result looks gone.
    one = made([a], baseline="last.json", gone=(b, old))
    two = made([b], baseline="last.json", gone=(a, old))
    merged = merge([one, two])
    assert [r.path for r in merged.gone] == ["/old"]
    assert merged.baseline == "last.json"


def test_started_is_the_earliest_and_duration_the_longest() -> None:
    one = made([ok("G", 0, "/a")], duration_s=2.0)
    two = made(
        [ok("G", 1, "/b")], duration_s=5.0, started_at=samples.STARTED - timedelta(seconds=3)
    )
    merged = merge([one, two])
    assert merged.started_at == samples.STARTED - timedelta(seconds=3)
    assert merged.duration_s == 5.0
