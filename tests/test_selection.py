"""Selection (`--only`, `--skip`, `--identity`), shards (`--shard k/n`) and `--env`."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler import manifest
from crawler.cli import cli
from crawler.errors import ManifestError, UsageError
from crawler.manifest import Manifest, PlannedCheck
from crawler.results import load_run
from crawler.selection import (
    KINDS,
    Selection,
    Selector,
    Shard,
    parse_selectors,
    select,
    shard_key,
    shard_of,
)

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "specs" / "demo.yaml"

SHOP = """\
version: 1
name: Shop
base_url: https://api.example.test
identities:
  admin: {kind: bearer, token: t-admin}
  viewer: {kind: bearer, token: t-viewer}
groups:
  Health:
    identities: [viewer]
    checks:
      - {method: GET, path: /api/health, tags: [smoke]}
      - {method: GET, path: /api/slow, tags: [slow]}
  Billing:
    - {method: GET, path: /api/billing, tags: [smoke, billing]}
    - {method: GET, path: /api/billing/plans, name: Plans}
    - {method: POST, path: /api/billing/checkout, tags: [slow]}
  Users:
    - {method: GET, path: /api/users, identities: [admin]}
"""


def loaded(text: str = SHOP) -> Manifest:
    return manifest.loads(text)


def labels(checks: list[PlannedCheck]) -> list[str]:
    return [f"{c.check.method} {c.check.path} {c.identity}" for c in checks]


def chosen(
    only: tuple[str, ...] = (),
    skip: tuple[str, ...] = (),
    identities: tuple[str, ...] = (),
    text: str = SHOP,
) -> list[str]:
    m = loaded(text)
    selection = Selection(
        only=parse_selectors(only, "--only"),
        skip=parse_selectors(skip, "--skip"),
        identities=identities,
    )
    return labels(select(m.planned(), selection, m.identity_names))


@pytest.mark.parametrize(
    ("only", "skip", "identities", "expected"),
    [
        # No selection: every check x identity, in manifest order.
        (
            (),
            (),
            (),
            [
                "GET /api/health viewer",
                "GET /api/slow viewer",
                "GET /api/billing admin",
                "GET /api/billing viewer",
                "GET /api/billing/plans admin",
                "GET /api/billing/plans viewer",
                "POST /api/billing/checkout admin",
                "POST /api/billing/checkout viewer",
                "GET /api/users admin",
            ],
        ),
        # Commas are OR: the Health group or the billing tag (Health runs as viewer only).
        (
            ("group:Health,tag:billing",),
            (),
            ("admin",),
            ["GET /api/billing admin"],
        ),
        # Repeated --only options are OR too, the same as commas.
        (
            ("tag:smoke", "name:Plans"),
            (),
            ("viewer",),
            ["GET /api/health viewer", "GET /api/billing viewer", "GET /api/billing/plans viewer"],
        ),
        # --skip removes from what --only kept.
        (
            ("group:Billing",),
            ("tag:slow",),
            ("admin",),
            ["GET /api/billing admin", "GET /api/billing/plans admin"],
        ),
        # --skip alone removes from everything.
        (
            (),
            ("tag:slow", "group:Billing"),
            (),
            ["GET /api/health viewer", "GET /api/users admin"],
        ),
        # method: is exact and case-insensitive.
        (
            ("method:post",),
            (),
            (),
            ["POST /api/billing/checkout admin", "POST /api/billing/checkout viewer"],
        ),
        # path: is a glob over the path as written; `*` crosses slashes.
        (
            ("path:/api/billing*",),
            ("method:POST",),
            ("viewer",),
            ["GET /api/billing viewer", "GET /api/billing/plans viewer"],
        ),
        (
            ("path:/api/billing/*",),
            ("method:POST",),
            ("viewer",),
            ["GET /api/billing/plans viewer"],
        ),
        # group: globs too, case-sensitively.
        (
            ("group:B*",),
            (),
            ("admin",),
            [
                "GET /api/billing admin",
                "GET /api/billing/plans admin",
                "POST /api/billing/checkout admin",
            ],
        ),
        (("group:billing",), (), (), []),
        # --identity keeps only the checks sent as those identities.
        (
            (),
            (),
            ("admin",),
            [
                "GET /api/billing admin",
                "GET /api/billing/plans admin",
                "POST /api/billing/checkout admin",
                "GET /api/users admin",
            ],
        ),
        # tag: matches any of a check's tags.
        (("tag:billing",), (), (), ["GET /api/billing admin", "GET /api/billing viewer"]),
    ],
)
def test_selection(
    only: tuple[str, ...], skip: tuple[str, ...], identities: tuple[str, ...], expected: list[str]
) -> None:
    if not expected:
        with pytest.raises(UsageError, match="nothing selected"):
            chosen(only, skip, identities)
    else:
        assert chosen(only, skip, identities) == expected


def test_selectors_parse_commas_and_repeats_alike() -> None:
    assert parse_selectors(["group:Billing, tag:smoke", "path:/a*"], "--only") == (
        Selector("group", "Billing"),
        Selector("tag", "smoke"),
        Selector("path", "/a*"),
    )
    assert parse_selectors([], "--only") == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("colour:red", "unknown selector kind 'colour'; use one of group:, tag:, method:"),
        ("Billing", "a selector is KIND:PATTERN"),
        ("group:", "a selector is KIND:PATTERN"),
        ("tag:smoke,status:200", "--only status:200: unknown selector kind"),
    ],
)
def test_bad_selectors_are_usage_errors(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_selectors([value], "--only")


def test_every_kind_is_documented_in_the_error() -> None:
    with pytest.raises(UsageError) as caught:
        parse_selectors(["x:y"], "--skip")
    assert all(f"{kind}:" in str(caught.value) for kind in KINDS)


def test_unknown_identity_lists_the_defined_ones() -> None:
    with pytest.raises(UsageError, match=r"--identity ops: no such identity; .* admin, viewer\."):
        chosen(identities=("ops",))


def test_nothing_selected_names_the_selection() -> None:
    with pytest.raises(UsageError, match="nothing selected: no check matches --only tag:nope"):
        chosen(only=("tag:nope",))


# --- shards ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shard"),
    [("1/1", Shard(1, 1)), ("2/4", Shard(2, 4)), (" 4 / 4 ", Shard(4, 4))],
)
def test_shard_parses(text: str, shard: Shard) -> None:
    assert Shard.parse(text) == shard


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "2/0", "a/b", "-1/2", "1/2/3", ""])
def test_bad_shards_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="write K/N with 1 <= K <= N"):
        Shard.parse(text)


def _sharded(planned: list[PlannedCheck], count: int) -> list[list[PlannedCheck]]:
    return [[p for p in planned if Shard(k, count).holds(p)] for k in range(1, count + 1)]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_shards_partition_the_checks(count: int) -> None:
    planned = manifest.load(DEMO).planned()
    keys = [(p.group, p.index, p.identity) for shard in _sharded(planned, count) for p in shard]
    assert len(set(keys)) == len(keys)  # disjoint ...
    assert sorted(keys) == sorted((p.group, p.index, p.identity) for p in planned)  # ... whole
    for shard in _sharded(planned, count):  # each in manifest order
        assert shard == [p for p in planned if p in shard]


def test_shards_are_roughly_balanced_on_the_demo() -> None:
    sizes = [len(s) for s in _sharded(manifest.load(DEMO).planned(), 3)]
    assert min(sizes) >= 10, sizes  # 56 requests: no shard starves


ADDED = """\
  Audit:
    - GET /api/audit -> 200
"""


def test_adding_checks_elsewhere_moves_no_check_between_shards() -> None:
    before = loaded()
    # A new group, and a new check at the top of Billing (shifting the others' index).
    text = SHOP.replace("  Billing:\n", "  Billing:\n    - {method: GET, path: /api/billing/new}\n")
    after = loaded(text + ADDED)
    assert len(after.planned()) == len(before.planned()) + 4  # two checks x two identities
    for count in (2, 3, 4, 5):
        was = {shard_key(p): shard_of(p, count) for p in before.planned()}
        now = {shard_key(p): shard_of(p, count) for p in after.planned()}
        assert {key: now[key] for key in was} == was


def test_shard_key_is_what_the_check_is_not_where() -> None:
    first = loaded().planned()[2]  # GET /api/billing as admin
    assert shard_key(first) == "\x1f".join(("Billing", "GET", "/api/billing", "{}", "", "admin"))


def test_a_shard_and_a_selection_combine() -> None:
    m = loaded()
    smoke = Selection(only=parse_selectors(["tag:smoke"], "--only"))
    parts = [
        labels(select(m.planned(), Selection(smoke.only, shard=Shard(k, 2)), m.identity_names))
        for k in (1, 2)
        if any(Shard(k, 2).holds(p) and smoke.keeps(p) for p in m.planned())
    ]
    assert sorted(itertools.chain(*parts)) == sorted(
        labels(select(m.planned(), smoke, m.identity_names))
    )


def test_an_empty_shard_says_so() -> None:
    m = loaded()
    planned = m.planned()
    count = 40  # more shards than the 9 requests: some are empty
    empty = next(
        k for k in range(1, count + 1) if not any(Shard(k, count).holds(p) for p in planned)
    )
    with pytest.raises(UsageError, match=f"--shard {empty}/{count}: nothing selected; .* fewer"):
        select(planned, Selection(shard=Shard(empty, count)), m.identity_names)


# --- environments ---------------------------------------------------------------------------

ENVIRONMENTS = """\
environments:
  staging:
    base_url: https://staging.example.test/
  production:
    base_url: https://api.example.test
    headers: {X-Env: production}
    identities:
      admin: {kind: bearer, token: prod-admin-token}
"""


def with_envs(text: str = ENVIRONMENTS) -> Manifest:
    return manifest.loads(SHOP.replace("groups:\n", text + "groups:\n"))


def test_environment_replaces_target_headers_and_identities() -> None:
    m = with_envs()
    staging = m.for_environment("staging")
    assert staging.base_url == "https://staging.example.test"
    assert staging.identities == m.identities
    production = m.for_environment("production")
    assert production.base_url == "https://api.example.test"
    assert production.defaults.headers == {"X-Env": "production"}
    assert production.identities["admin"].token == "prod-admin-token"
    assert production.identities["viewer"].token == "t-viewer"
    assert production.planned()[0].headers == {"X-Env": "production"}
    # The checks are the same everywhere: that is what lets the runs merge.
    assert labels(production.planned()) == labels(m.planned())


def test_environment_without_a_target_keeps_the_manifests() -> None:
    m = with_envs("environments:\n  local: {headers: {X-Env: local}}\n")
    assert m.for_environment("local").base_url == m.base_url


def test_an_environment_may_name_an_app() -> None:
    m = with_envs("environments:\n  demo: {app: crawler.demo.app:app}\n")
    picked = m.for_environment("demo")
    assert (picked.app, picked.base_url) == ("crawler.demo.app:app", None)


def test_every_environments_credentials_are_secrets() -> None:
    assert "prod-admin-token" in with_envs().secrets


@pytest.mark.parametrize(
    ("name", "message"),
    [("prod", "--env prod: no such environment; the manifest defines staging, production.")],
)
def test_unknown_environment_lists_the_names(name: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        with_envs().for_environment(name)
    assert str(caught.value) == message


def test_no_environments_at_all() -> None:
    with pytest.raises(UsageError, match="the manifest defines no environments"):
        loaded().for_environment("staging")


STAGING_ADMIN = "environments:\n  staging:\n    identities:\n      admin:"


@pytest.mark.parametrize(
    ("environments", "field", "message"),
    [
        (
            "environments:\n  staging: {base_url: ftp://x}\n",
            "environments.staging.base_url",
            "not an http(s) URL",
        ),
        (
            "environments:\n  staging: {base_url: https://x.test, app: a.b:c}\n",
            "environments.staging",
            "set base_url or app, not both",
        ),
        (
            "environments:\n  staging: {colour: red}\n",
            "environments.staging.colour",
            "unknown field; allowed here: base_url, app, headers, identities",
        ),
        (
            "environments:\n  staging:\n    identities:\n      ops: {kind: bearer, token: x}\n",
            "environments.staging.identities.ops",
            "unknown identity ops",
        ),
        (
            f"{STAGING_ADMIN} {{kind: bearer, token: t, x: 1}}\n",
            "environments.staging.identities.admin.x",
            "unknown field; allowed here: kind, token",
        ),
        (
            f"{STAGING_ADMIN} {{kind: bearer, token: {{s: hunter2-secret}}}}\n",
            "environments.staging.identities.admin.token",
            "the value (not shown: a credential)",
        ),
    ],
)
def test_bad_environments_are_manifest_errors(environments: str, field: str, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        with_envs(environments)
    issue = caught.value.issues[0]
    assert (issue.field, issue.line is not None) == (field, True)
    assert message in issue.message
    assert "hunter2" not in str(caught.value)


# --- the command line ------------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--only", "colour:red"), "--only colour:red: unknown selector kind 'colour'"),
        (("--skip", "slow"), "--skip slow: a selector is KIND:PATTERN"),
        (
            ("--identity", "ops"),
            "--identity ops: no such identity; the manifest defines admin, viewer, anonymous.",
        ),
        (("--shard", "4/3"), "--shard 4/3: write K/N with 1 <= K <= N"),
        (("--env", "qa"), "--env qa: no such environment; the manifest defines local, staging."),
        (("--only", "group:Nope"), "nothing selected: no check matches --only group:Nope"),
    ],
)
def test_run_refuses_bad_selections_with_exit_2(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    code, _, err = invoke("run", str(DEMO), "--out", str(tmp_path), "-q", *args)
    assert code == 2
    assert f"error: {message}" in err
    assert not list(tmp_path.iterdir())  # nothing crawled, nothing written


def test_run_sends_only_the_selection(tmp_path: Path) -> None:
    code, _, _ = invoke(
        "run",
        str(DEMO),
        "--out",
        str(tmp_path),
        "--format",
        "json",
        "-q",
        "--only",
        "tag:smoke,group:Health",
        "--skip",
        "tag:slow",
        "--identity",
        "admin,anonymous",
    )
    run = load_run(tmp_path / "run.json")
    got = {(r.group, r.path, r.identity) for r in run.results}
    assert got == {
        ("Health", "/api/health", "anonymous"),
        ("Health", "/openapi.json", "anonymous"),
        ("Health", "/api/legacy", "anonymous"),  # FAIL on purpose
        ("Health", "/api/audio/transcriptions", "anonymous"),
        ("Health", "/api/organizations", "anonymous"),
        ("Billing", "/api/billing/invoices", "admin"),
        ("Billing", "/api/billing/invoices", "anonymous"),
        ("Users", "/api/users/me", "admin"),
        ("Users", "/api/users/me", "anonymous"),
    }
    assert code == 1
    # Only the identities sent as logged in: the viewer is not on the run.
    assert [i.name for i in run.identities] == ["admin", "anonymous"]


def test_run_records_the_environment(tmp_path: Path) -> None:
    spec = tmp_path / "envs.yaml"
    spec.write_text(
        # The demo's own environments are replaced by these two.
        re.sub(r"\nenvironments:\n(?:[ #].*\n|\n)*", "\n", DEMO.read_text(encoding="utf-8"))
        + "\nenvironments:\n  staging: {headers: {X-Env: staging}}\n  production: {}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, _, err = invoke(
        "run",
        str(spec),
        "--out",
        str(out),
        "--format",
        "json",
        "-q",
        "--env",
        "staging",
        "--only",
        "group:Health",
        "--skip",
        "tag:slow",
    )
    assert code == 1, err
    run = load_run(out / "run.json")
    assert run.environment == "staging"
    assert run.results[0].request.headers["X-Env"] == "staging"
    code, _, err = invoke("run", str(spec), "--out", str(out), "--env", "prod", "-q")
    assert code == 2
    assert "--env prod: no such environment; the manifest defines staging, production." in err
