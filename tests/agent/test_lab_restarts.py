"""Drills that stop and start Vault: down at start, sealed, and readiness following a lease that
expires while Vault is away."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from tests.agent.lab import SHORT_CREDS_TEMPLATE, AgentRun, Lab, lab_environment, short_lived_credentials


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab whose Vault keeps its state on disk, so it can be stopped and started again."""
    with lab_environment(tmp_path_factory.mktemp("lab"), persistent=True) as environment:
        yield environment


def test_vault_down_at_start_then_up(lab: Lab, agent: Callable[..., AgentRun]) -> None:
    run = agent(agent_inject_secret_db="secret/data/app/db")
    lab.vault.stop()
    try:
        run.start("init")
        run.wait_for(lambda: "cause=unreachable" in run.log(), what="the connection errors")
    finally:
        lab.vault.restart()
    assert run.process is not None
    assert run.process.wait(timeout=20) == 0, run.log()
    assert "connection refused" in run.log()
    assert "alice" in run.file("db")


def test_vault_sealed_then_unsealed(lab: Lab, agent: Callable[..., AgentRun]) -> None:
    run = agent(agent_inject_secret_db="secret/data/app/db")
    lab.client.sys.seal()
    try:
        run.start("init")
        run.wait_for(lambda: "cause=sealed" in run.log(), what="the sealed errors")
    finally:
        lab.vault.restart()  # a restarted pod auto-unseals
    assert run.process is not None
    assert run.process.wait(timeout=20) == 0, run.log()
    assert "alice" in run.file("db")


@pytest.mark.slow
def test_readiness_follows_a_lease_that_expires_while_vault_is_away(
    lab: Lab, agent: Callable[..., AgentRun]
) -> None:
    short_lived_credentials(lab, ttl="3s", max_ttl="1h")
    run = agent(role="short", agent_inject_secret_creds="database/creds/short",
                agent_inject_template_creds=SHORT_CREDS_TEMPLATE)  # fmt: skip
    ready = run.state_dir / ".vaultinject-ready"
    run.start("native", VAULTINJECT_NOT_READY_AFTER="1s")
    run.wait_for(ready.exists, what="readiness")
    lab.vault.stop()
    try:
        run.wait_for(lambda: not ready.exists(), timeout=15, what="NotReady once the lease is gone")
    finally:
        lab.vault.restart()
    run.wait_for(ready.exists, timeout=20, what="Ready again once Vault is back")
    assert "not ready: a secret is missing, expired or failing" in run.log()


def test_sigterm_stops_an_init_agent_still_waiting_for_vault_with_a_failure_code(
    lab: Lab, agent: Callable[..., AgentRun]
) -> None:
    run = agent(agent_inject_secret_db="secret/data/app/db")
    lab.vault.stop()
    try:
        run.start("init")
        run.wait_for(lambda: "cause=unreachable" in run.log(), what="the connection errors")
        stopped_at = time.monotonic()
        assert run.stop() == 143, run.log()
        assert time.monotonic() - stopped_at < 1.0
    finally:
        lab.vault.restart()
    assert not (run.secrets_dir / "db").exists()
