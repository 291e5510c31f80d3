"""Drills against a running Vault: the product's failure (a reviewer token bound to a Vault pod that is
gone, so every login gets 403 until the auth config is fixed), and rate limiting (429, Retry-After)."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.agent.lab import AgentRun, Lab


def dead_reviewer_token(lab: Lab) -> str:
    """The runbook's mistake: a token bound to a Vault pod that then goes away with its node."""
    pod = lab.kube.create_pod("vault", "vault-1", service_account="vault")
    token = lab.kube.mint_token("vault", "vault", pod=pod)
    lab.kube.call("DELETE", "/api/v1/namespaces/vault/pods/vault-1?gracePeriodSeconds=0")
    return token


def test_a_dead_reviewer_token_gives_403_until_the_auth_config_is_fixed(
    lab: Lab, agent: Callable[..., AgentRun]
) -> None:
    client = lab.client
    client.sys.enable_auth_method("kubernetes", path="k8s-drill")
    client.auth.kubernetes.configure(
        kubernetes_host=lab.kube.url, token_reviewer_jwt=dead_reviewer_token(lab), mount_point="k8s-drill"
    )
    client.auth.kubernetes.create_role("app", bound_service_account_names=["app"], bound_service_account_namespaces=["demo"],
                                       policies=["app"], mount_point="k8s-drill")  # fmt: skip
    run = agent(auth_path="auth/k8s-drill", agent_inject_secret_db="secret/data/app/db")
    run.start("init")
    run.wait_for(
        lambda: run.log().count("authentication failed") >= 2, what="403s from the dead reviewer token"
    )
    log = run.log()
    assert "403 permission denied" in log
    assert "cause=permission-denied" in log
    assert "Kubernetes auth configuration is probably broken" in log
    assert not (run.secrets_dir / "db").exists(), "the app must not start without its secrets"
    client.auth.kubernetes.configure(
        kubernetes_host=lab.kube.url, mount_point="k8s-drill"
    )  # the healer's fix
    assert run.process is not None
    assert run.process.wait(timeout=15) == 0, run.log()
    assert "alice" in run.file("db")


def test_429_is_retried_no_sooner_than_retry_after(lab: Lab, agent: Callable[..., AgentRun]) -> None:
    lab.put("limited", value="rate-limited-value")
    quota = {"path": "secret/data/app/limited", "rate": 1, "interval": "3s"}
    lab.client.write_data("sys/quotas/rate-limit/agent-drill", data=quota)
    try:
        lab.client.secrets.kv.v2.read_secret_version(
            "app/limited", raise_on_deleted_version=True
        )  # use the budget up
        run = agent(agent_inject_secret_limited="secret/data/app/limited")
        started = time.monotonic()
        assert run.run("init") == 0, run.log()
        elapsed = time.monotonic() - started
    finally:
        lab.client.delete("sys/quotas/rate-limit/agent-drill")
    assert "cause=rate-limited" in run.log()
    assert "rate limit quota exceeded" in run.log()
    assert elapsed >= 1.0, "the agent must wait for Retry-After, not its 200 ms minimum backoff"
    assert "rate-limited-value" in run.file("limited")
