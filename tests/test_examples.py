"""The CI examples stay true: valid YAML, and every crawler flag and format they use exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from crawler.cli import cli
from crawler.reports import FILE_FORMATS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_ci_example_uses_real_flags_and_formats(name: str) -> None:
    text = (EXAMPLES / name).read_text()
    assert isinstance(yaml.safe_load(text), dict)
    run_help = CliRunner().invoke(cli, ["run", "--help"], terminal_width=200).stdout
    commands = [line for line in text.splitlines() if "crawler run " in line]
    assert commands, "the example should run crawler"
    for flag in re.findall(r"(--[a-z-]+)", " ".join(commands)):
        assert flag in run_help, f"{name} uses {flag}, which crawler run does not have"
    for formats in re.findall(r"--format ([\w,]+)", text):
        assert set(formats.split(",")) <= set(FILE_FORMATS), formats
