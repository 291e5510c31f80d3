"""The evidence types fill from Vault's and the API server's JSON; a recorded runbook failure, read
the way a gatherer reads it, diagnoses as the runbook failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vaultinject.diagnosis import Severity, diagnose
from vaultinject.diagnosis.evidence import (
    AgentLog,
    AuthConfig,
    AuthDelegator,
    AuthMount,
    Canary,
    Evidence,
    Owner,
    PodEvidence,
    Pods,
    TokenReviewAnswer,
    VaultAnswer,
    VaultHealth,
    VaultLeader,
    VaultPlacement,
    parse_time,
)

FIXTURE = Path(__file__).parent / "fixtures" / "runbook-after-node-loss.json"


def _from_fixture(recorded: dict[str, Any]) -> Evidence:
    at = float(recorded["at"])
    owners = {
        (key.split("/")[0], "ReplicaSet", key.split("/")[1]): Owner("Deployment", name)
        for key, name in recorded["replicasets"].items()
    }
    items = []
    for pod in recorded["pods"]:
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        log = AgentLog(
            source=f"GET pods/{key}/log?container=vault-agent-init", at=at, lines=tuple(recorded["logs"][key])
        )
        items.append(PodEvidence.from_pod(pod, owners=owners, log=log))
    health = recorded["sys/health"]
    config = recorded["auth/kubernetes/config"]
    return Evidence(
        vault_health=VaultHealth.from_response(
            health["status"],
            health["body"],
            address="https://vault.vault.svc:8200",
            source="GET /v1/sys/health",
            at=at,
        ),
        vault_leader=VaultLeader.from_response(recorded["sys/leader"], source="GET /v1/sys/leader", at=at),
        placement=VaultPlacement(source="pods app.kubernetes.io/name=vault", at=at, in_cluster=True),
        auth_mount=AuthMount.from_mounts(
            recorded["sys/auth"], path="kubernetes", source="GET /v1/sys/auth", at=at
        ),
        auth_config=AuthConfig.from_response(
            config["status"], config["body"], source="GET /v1/auth/kubernetes/config", at=at
        ),
        canary=Canary(
            role="vaultinject-canary",
            login=VaultAnswer.from_response(
                recorded["canary login"]["status"],
                recorded["canary login"]["body"],
                source="canary login",
                at=at,
            ),
            review=TokenReviewAnswer.from_response(
                recorded["canary tokenreview"]["status"],
                recorded["canary tokenreview"]["body"],
                source="POST tokenreviews",
                at=at,
            ),
        ),
        auth_delegator=AuthDelegator.from_response(
            recorded["subjectaccessreview"], service_account="vault/vault", source="SAR", at=at
        ),
        pods=Pods(source="pods in all namespaces", at=at, items=tuple(items)),
    )


def test_the_recorded_runbook_failure() -> None:
    recorded = json.loads(FIXTURE.read_text())
    evidence = _from_fixture(recorded)
    assert evidence.auth_config is not None
    assert evidence.auth_config.token_reviewer_jwt_set is True
    assert evidence.canary is not None
    assert evidence.canary.review is not None
    assert (evidence.canary.review.status, evidence.canary.review.message) == (401, "Unauthorized")
    report = diagnose(evidence, float(recorded["at"]))
    by_rule = {f.rule: f for f in report.findings}
    assert by_rule["stored_reviewer_token"].severity is Severity.WARNING
    assert by_rule["canary_login"].classification == "reviewer-token-dead"
    stuck = by_rule["stuck_pods"]
    assert stuck.summary == "1 pod(s) of Deployment shop/orders stuck in the Vault agent for over 120 s"
    assert "* permission denied" in stuck.details[0]
    assert "the canary login fails too (reviewer-token-dead)" in stuck.cause
    assert report.exit_code == 2
    # Pieces the fixture does not hold were not gathered: unknown, never guessed.
    assert by_rule["webhook_endpoints"].severity is Severity.UNKNOWN


def test_answers_missing_fields_stay_unknown() -> None:
    health = VaultHealth.from_response(429, {"standby": True}, address="a", source="s", at=0)
    assert (health.reachable, health.standby, health.sealed, health.version) == (True, True, None, None)
    config = AuthConfig.from_response(200, {"data": {"kubernetes_host": "https://h"}}, source="s", at=0)
    assert (config.written, config.token_reviewer_jwt_set, config.kubernetes_ca_cert) == (True, None, None)
    assert AuthConfig.from_response(404, None, source="s", at=0).written is False
    review = TokenReviewAnswer.from_response(201, {"status": {"authenticated": True}}, source="s", at=0)
    assert review.client_token_valid is True
    refused = TokenReviewAnswer.from_response(401, {"message": "Unauthorized"}, source="s", at=0)
    assert refused.client_token_valid is None
    assert VaultLeader.from_response({}, source="s", at=0).active_present is None
    assert parse_time("2027-01-15T07:50:00Z") == 1799999400.0
    assert parse_time("yesterday") is None
