"""Property tests of the manifest loader: whatever text it is given, the outcome is a
`Manifest` or a `ManifestError` located in the file, never any other exception.

Derandomized (same examples on every run) so CI failures reproduce; about 1,500 examples
in all, within a few seconds.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crawler import manifest
from crawler.errors import ManifestError, RunFileError
from crawler.results import load_run

FILE = "m.yaml"
DEMO = yaml.safe_load(Path(__file__).parent.parent.joinpath("specs/demo.yaml").read_text())
SMALL: list[dict[str, Any]] = [
    {"version": 1, "name": "tiny", "base_url": "http://127.0.0.1:1", "groups": {"G": ["GET /"]}},
    {
        "version": 1,
        "name": "long form",
        "app": "pkg.mod:app",
        "defaults": {"timeout": 2},
        "groups": {
            "G": {
                "checks": [
                    {"method": "POST", "path": "/a/{id}", "expect": [200, 201], "safe": True},
                    {"path": "/b", "query": {"q": 1}, "headers": {"X-A": "b"}, "expect": "2xx"},
                ]
            }
        },
    },
    {
        "version": 1,
        "name": "identities",
        "base_url": "${BASE:-http://127.0.0.1:2}",
        "identities": {
            "admin": {"kind": "bearer", "token": "${TOKEN:-t}"},
            "viewer": {"kind": "basic", "username": "u", "password": "p"},
        },
        "groups": {"G": [{"path": "/x", "expect": {"admin": 200, "viewer": 403}}]},
    },
]
VALID = [DEMO, *SMALL]

PROFILE = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def assert_loads_or_located_error(text: str) -> None:
    """The property: a Manifest, or a ManifestError whose every issue is in `m.yaml` and,
    once the document parsed, carries a line >= 1."""
    try:
        loaded = manifest.loads(text, FILE, environ={})
    except ManifestError as exc:
        assert exc.issues, "a ManifestError lists at least one issue"
        parsed = _parses(text)
        for issue in exc.issues:
            assert issue.file == FILE
            assert issue.message
            if issue.line is not None:
                assert issue.line >= 1
            elif parsed:
                # Without a line only where the file as a whole is wrong (empty, too deep).
                assert issue.field == "", f"{issue} has a field but no line"
    else:
        assert isinstance(loaded, manifest.Manifest)


def _parses(text: str) -> bool:
    try:
        yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError):
        return False
    return True


# --- random documents ----------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["${X}", "${X:-d}", "${", "GET /", "/", "2xx", "20O", "POST /a"])
)
keys = st.text(max_size=12) | st.sampled_from(
    ["version", "name", "groups", "checks", "path", "method", "expect", "identities", "kind"]
)
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=5),
    max_leaves=30,
)


@settings(PROFILE, max_examples=400)
@given(st.text(max_size=200))
@example("")
@example("- [")
@example("a: &x [*x]")
@example("version: 1\n" + "[" * 2000)
@example("\ufeff{}")
@example("!!python/object:os.system {}")
def test_any_text(text: str) -> None:
    assert_loads_or_located_error(text)


@settings(PROFILE, max_examples=300)
@given(documents, st.sampled_from(["yaml", "json"]))
def test_any_document(document: Any, syntax: str) -> None:
    if syntax == "json":
        text = json.dumps(document, allow_nan=True)
    else:
        text = yaml.safe_dump(document, allow_unicode=True)
    assert_loads_or_located_error(text)


# --- mutations of valid manifests ----------------------------------------------------------

odd = st.sampled_from(
    [
        "${UNSET}",
        "${UNSET:-x}",
        "${A}${B}",
        "$${X}",
        "\u202e\u0000\ufffd",
        "é" * 3,
        "\U0001f600",
        10**40,
        -(10**40),
        1e308,
        float("inf"),
        None,
        True,
        [],
        {},
        [[[[[[[[[]]]]]]]]],
        {"a": {"b": {"c": {"d": {}}}}},
        "",
        "GET",
        "/",
        0,
    ]
)
replacement = odd | scalars | documents


def _containers(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if isinstance(data, dict | list) and data else []
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else []
    )
    for key, value in items:
        found.extend(_containers(value, (*path, key)))
    return found


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        places = _containers(data)
        if not places:
            break
        container = _at(data, draw(st.sampled_from(places)))
        keys_here = list(container) if isinstance(container, dict) else list(range(len(container)))
        key = draw(st.sampled_from(keys_here))
        action = draw(st.sampled_from(["delete", "replace", "insert", "retype"]))
        if action == "delete":
            del container[key]
        elif action == "replace":
            container[key] = copy.deepcopy(draw(replacement))
        elif action == "retype":
            value = container[key]
            container[key] = (
                [value] if not isinstance(value, list) else {"k": value} if value else str(value)
            )
        elif isinstance(container, dict):
            container[draw(keys)] = copy.deepcopy(draw(replacement))
        else:
            container.insert(key, copy.deepcopy(draw(replacement)))
    return data


@settings(PROFILE, max_examples=500)
@given(mutated(), st.sampled_from(["yaml", "json"]))
def test_mutated_manifests(data: Any, syntax: str) -> None:
    if syntax == "json":
        text = json.dumps(data, allow_nan=True, default=str)
    else:
        text = yaml.safe_dump(data, allow_unicode=True)
    assert_loads_or_located_error(text)


@pytest.mark.parametrize("data", VALID, ids=["demo", "tiny", "long", "identities"])
def test_the_seeds_are_valid(data: Any) -> None:
    # Mutations only mean something if what they start from loads.
    assert isinstance(manifest.loads(yaml.safe_dump(data), FILE, environ={}), manifest.Manifest)


# --- a run.json from a newer crawler -------------------------------------------------------


def test_newer_run_file_names_its_schema(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"schema": "crawler.run/2", "anything": "new"}))
    with pytest.raises(RunFileError) as caught:
        load_run(path)
    assert "written by a newer crawler (crawler.run/2); upgrade crawler to read it" in str(
        caught.value
    )
