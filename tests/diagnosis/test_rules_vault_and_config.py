"""The Vault server and auth config rules, each over recorded evidence with one piece changed."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.diagnosis.builders import AT, CLUSTER_CA, ISSUER, NOW, OTHER_CA, config, health, healthy
from vaultinject.diagnosis.evidence import (
    AuthConfig,
    AuthMount,
    ClusterIdentity,
    Evidence,
    HostReach,
    VaultHealth,
    VaultLeader,
    VaultPlacement,
)
from vaultinject.diagnosis.findings import Finding, Severity
from vaultinject.diagnosis.rules import Context, Rule
from vaultinject.diagnosis.rules.auth_config import (
    REVIEWER_HAZARD,
    auth_config_written,
    auth_mount_present,
    issuer_matches,
    kubernetes_host_reachable,
    stored_ca,
    stored_reviewer_token,
)
from vaultinject.diagnosis.rules.vault_server import (
    parse_version,
    vault_active_node,
    vault_initialized,
    vault_reachable,
    vault_unsealed,
    vault_version,
)
from vaultinject.diagnosis.settings import Settings

CONTEXT = Context(NOW, Settings())
UNREACHABLE = VaultHealth(
    source="GET /v1/sys/health", at=AT, address="https://vault:8200", error="connection refused"
)


def one(rule: Rule, evidence: Evidence) -> Finding:
    findings = rule(evidence, CONTEXT)
    assert len(findings) == 1
    assert findings[0].rule == rule.name
    return findings[0]


def changed(**fields: Any) -> Evidence:
    return dataclasses.replace(healthy(), **fields)


@pytest.mark.parametrize(
    "rule",
    [
        vault_reachable,
        vault_initialized,
        vault_unsealed,
        vault_active_node,
        vault_version,
        auth_mount_present,
        auth_config_written,
        stored_reviewer_token,
        stored_ca,
        kubernetes_host_reachable,
        issuer_matches,
    ],
    ids=lambda rule: rule.name,
)
def test_each_rule_is_ok_on_a_healthy_cluster_and_unknown_without_its_evidence(rule: Rule) -> None:
    assert one(rule, healthy()).severity is Severity.OK
    assert one(rule, Evidence()).severity is Severity.UNKNOWN


def test_vault_unreachable_is_broken_and_the_rest_of_its_checks_unknown() -> None:
    evidence = changed(vault_health=UNREACHABLE)
    finding = one(vault_reachable, evidence)
    assert finding.severity is Severity.BROKEN
    assert "connection refused" in finding.summary
    assert finding.evidence[0].source == "GET /v1/sys/health"
    for rule in (vault_initialized, vault_unsealed, vault_version):
        assert one(rule, evidence).severity is Severity.UNKNOWN


def test_sealed_and_uninitialized() -> None:
    sealed = one(vault_unsealed, changed(vault_health=health(sealed=True)))
    assert sealed.severity is Severity.BROKEN
    assert sealed.command == "vault operator unseal"
    assert "heal never acts" in sealed.fix
    fresh = one(vault_initialized, changed(vault_health=health(initialized=False)))
    assert fresh.severity is Severity.BROKEN


def test_health_without_the_flag_is_unknown() -> None:
    bare = VaultHealth.from_response(200, {}, address="a", source="GET /v1/sys/health", at=AT)
    assert one(vault_unsealed, changed(vault_health=bare)).severity is Severity.UNKNOWN


def test_no_active_node() -> None:
    leader = VaultLeader.from_response(
        {"ha_enabled": True, "is_self": False, "leader_address": ""}, source="GET /v1/sys/leader", at=AT
    )
    finding = one(vault_active_node, changed(vault_leader=leader))
    assert finding.severity is Severity.BROKEN
    single = VaultLeader.from_response({"ha_enabled": False}, source="GET /v1/sys/leader", at=AT)
    assert one(vault_active_node, changed(vault_leader=single)).severity is Severity.OK


def test_version_before_the_token_reload() -> None:
    assert parse_version("v1.9.3+ent") == (1, 9, 3)
    assert parse_version("dev") is None
    old = changed(vault_health=health(version="1.9.2"))
    assert one(vault_version, old).severity is Severity.BROKEN  # in the cluster
    outside = dataclasses.replace(old, placement=VaultPlacement(source="flag", at=AT, in_cluster=False))
    assert one(vault_version, outside).severity is Severity.WARNING
    assert one(vault_version, changed(vault_health=health(version="1.9.3"))).severity is Severity.OK
    assert one(vault_version, changed(vault_health=health(version="banana"))).severity is Severity.UNKNOWN


def test_the_mount_missing_or_of_another_type() -> None:
    absent = AuthMount.from_mounts(
        {"token/": {"type": "token"}}, path="kubernetes", source="GET /v1/sys/auth", at=AT
    )
    finding = one(auth_mount_present, changed(auth_mount=absent))
    assert finding.severity is Severity.BROKEN
    assert finding.command == "vaultinject vault-setup"
    other = AuthMount.from_mounts(
        {"data": {"kubernetes/": {"type": "jwt"}}}, path="kubernetes", source="s", at=AT
    )
    assert one(auth_mount_present, changed(auth_mount=other)).severity is Severity.BROKEN


def test_a_config_never_written() -> None:
    never = AuthConfig.from_response(404, {"errors": []}, source="GET /v1/auth/kubernetes/config", at=AT)
    assert one(auth_config_written, changed(auth_config=never)).severity is Severity.BROKEN
    assert one(stored_reviewer_token, changed(auth_config=never)).severity is Severity.UNKNOWN


def test_a_stored_reviewer_token_in_the_cluster_is_the_hazard() -> None:
    finding = one(stored_reviewer_token, changed(auth_config=config(token_reviewer_jwt_set=True)))
    assert finding.severity is Severity.WARNING
    assert REVIEWER_HAZARD in finding.cause
    assert "breaks when the Vault pod it came from is deleted or rescheduled" in finding.cause
    assert "on EKS it also expires after 90 days" in finding.cause
    assert finding.command == "vaultinject vault-setup"
    assert next(ref.source for ref in finding.evidence) == "GET /v1/auth/kubernetes/config"


def test_a_stored_reviewer_token_outside_the_cluster_is_expected() -> None:
    outside = VaultPlacement(source="--vault-outside-cluster", at=AT, in_cluster=False)
    evidence = changed(auth_config=config(token_reviewer_jwt_set=True), placement=outside)
    assert one(stored_reviewer_token, evidence).severity is Severity.OK


def test_a_stored_reviewer_token_where_vault_runs_is_unknown_is_still_a_warning() -> None:
    unknown_place = VaultPlacement(source="pods", at=AT, error="pods is forbidden")
    evidence = changed(auth_config=config(token_reviewer_jwt_set=True), placement=unknown_place)
    assert one(stored_reviewer_token, evidence).severity is Severity.WARNING


def test_an_older_vault_that_does_not_say_is_unknown() -> None:
    older = config()
    older = dataclasses.replace(older, token_reviewer_jwt_set=None)
    finding = one(stored_reviewer_token, changed(auth_config=older))
    assert finding.severity is Severity.UNKNOWN
    assert "1.16" in finding.summary


def test_the_stored_ca() -> None:
    differs = one(stored_ca, changed(auth_config=config(kubernetes_ca_cert=OTHER_CA)))
    assert differs.severity is Severity.BROKEN
    assert "x509" in differs.cause
    # The same certificate with other line breaks is the same CA; stored in the cluster it goes stale.
    same = CLUSTER_CA.replace("\nAAAA", "AAAA")
    assert one(stored_ca, changed(auth_config=config(kubernetes_ca_cert=same))).severity is Severity.WARNING
    outside = VaultPlacement(source="flag", at=AT, in_cluster=False)
    evidence = changed(auth_config=config(kubernetes_ca_cert=same), placement=outside)
    assert one(stored_ca, evidence).severity is Severity.OK
    no_cluster_ca = ClusterIdentity(source="ConfigMap kube-root-ca.crt", at=AT, ca_pem=None)
    evidence = changed(auth_config=config(kubernetes_ca_cert=OTHER_CA), cluster=no_cluster_ca)
    assert one(stored_ca, evidence).severity is Severity.UNKNOWN


def test_kubernetes_host_reach() -> None:
    down = HostReach(source="s", at=AT, host="https://10.0.0.1:443", reachable=False, detail="i/o timeout")
    finding = one(kubernetes_host_reachable, changed(host_reach=down))
    assert finding.severity is Severity.BROKEN
    assert "i/o timeout" in finding.summary
    unsure = HostReach(source="s", at=AT, host="https://10.0.0.1:443", reachable=None)
    assert one(kubernetes_host_reachable, changed(host_reach=unsure)).severity is Severity.UNKNOWN


def test_the_issuer() -> None:
    strict = config(disable_iss_validation=False, issuer="")
    finding = one(issuer_matches, changed(auth_config=strict))
    assert finding.severity is Severity.BROKEN  # the plugin falls back to kubernetes/serviceaccount
    assert "kubernetes/serviceaccount" in finding.summary
    right = config(disable_iss_validation=False, issuer=ISSUER)
    assert one(issuer_matches, changed(auth_config=right)).severity is Severity.OK
    blind = ClusterIdentity(source="s", at=AT, error="openid-configuration is forbidden")
    assert one(issuer_matches, changed(auth_config=right, cluster=blind)).severity is Severity.UNKNOWN
