"""Shared pytest fixtures. Builders live in plain modules (`samples.py`); keep this file thin."""

from __future__ import annotations

import pytest
import samples

from crawler import engine
from crawler.results import Run


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio, the loop crawler runs on."""
    return "asyncio"


@pytest.fixture(params=engine.TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> engine.Transport:
    """Each live-target test runs over both transports: aiohttp's and httpx's own."""
    value: engine.Transport = request.param
    return value


@pytest.fixture
def sample_run() -> Run:
    """Every verdict across three groups, with hostile text from the target (see samples)."""
    return samples.sample_run()


@pytest.fixture
def all_pass_run() -> Run:
    """Every check PASS."""
    return samples.all_pass_run()


@pytest.fixture
def matrix_run() -> Run:
    """Run as admin, viewer and anonymous; ops could not log in; one re-authenticated cell."""
    return samples.matrix_run()


@pytest.fixture
def mismatch_run() -> Run:
    """404/405 mismatches as admin and viewer: three modules, /api/billing missing entirely."""
    return samples.mismatch_run()


@pytest.fixture
def known_run() -> Run:
    """Known failures as admin and viewer: 3 BACKLOG, 1 BLOCKED (now passing), a flaky PASS."""
    return samples.known_run()


@pytest.fixture
def baseline_run() -> Run:
    """Compared with a baseline: 1 REGRESSED, 2 FIXED, 3 NEW, 1 GONE, 2 UNCHANGED."""
    return samples.baseline_run()
