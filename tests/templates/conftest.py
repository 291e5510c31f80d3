"""Shared fixtures: the Go judge, built once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .judge import GoJudge, build_gorender

_judges: list[GoJudge] = []


@pytest.fixture(scope="session")
def go_judge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoJudge]:
    """A running gorender process; the tests using it skip when Go is not installed."""
    workdir: Path = tmp_path_factory.mktemp("gorender")
    binary = build_gorender(workdir)
    if binary is None:
        pytest.skip("Go toolchain not found: install golang-go to run the differential tests against Go")
    judge = GoJudge(binary)
    _judges.append(judge)
    yield judge
    judge.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many cases Go's text/template judged in this session."""
    total = sum(judge.cases_run for judge in _judges)
    if total:
        terminalreporter.write_line(f"templates: {total} cases rendered by Go's text/template and compared")
