"""Fixtures for agent tests against the lab: one lab per module, every agent's log checked for secrets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.agent.forms import leaks, string_forms
from tests.agent.lab import AgentRun, Lab, lab_environment


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_environment(tmp_path_factory.mktemp("lab")) as environment:
        yield environment


@pytest.fixture
def agent(lab: Lab, tmp_path: Path) -> Iterator[Callable[..., AgentRun]]:
    """Make agents; at teardown kill them and assert no secret value, in any encoding, reached their
    logs."""
    runs: list[AgentRun] = []

    def make(**annotations: str) -> AgentRun:
        run = lab.agent(tmp_path / f"pod-{len(runs)}", **annotations)
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.kill()
    secrets = (
        set(lab.secrets)
        | {lab.app_token_file.read_text()}
        | {token for run in runs for token in run.tokens()}
    )
    logs = [run.log() for run in runs]
    leaked = {
        form for log in logs for secret in secrets for form in leaks({secret, *string_forms(secret)}, log)
    }
    assert not leaked, f"secret values or tokens (or an encoding of one) in agent logs: {sorted(leaked)}"
