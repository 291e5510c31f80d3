"""Shared fixtures: the Go judge, built once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .judge import GoJudge, build_gorender


@pytest.fixture(scope="session")
def go_judge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoJudge]:
    """A running gorender process; the tests using it skip when Go is not installed."""
    workdir: Path = tmp_path_factory.mktemp("gorender")
    binary = build_gorender(workdir)
    if binary is None:
        pytest.skip("Go toolchain not found: install golang-go to run the differential tests against Go")
    judge = GoJudge(binary)
    yield judge
    judge.close()
