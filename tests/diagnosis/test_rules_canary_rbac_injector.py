"""The canary, RBAC and injector rules over recorded evidence, including the runbook failure's texts."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.diagnosis.builders import (
    AT,
    DAY,
    NOW,
    canary,
    healthy,
    login,
    review_invalid,
    review_ok,
    review_refused,
)
from vaultinject.diagnosis.evidence import (
    AuthDelegator,
    Evidence,
    VaultAnswer,
    WebhookCertificate,
    WebhookEndpoints,
)
from vaultinject.diagnosis.findings import Finding, Severity
from vaultinject.diagnosis.rules import Context, Rule
from vaultinject.diagnosis.rules.canary import canary_audience, canary_login
from vaultinject.diagnosis.rules.injector import (
    webhook_ca_bundle,
    webhook_certificate_expiry,
    webhook_endpoints,
)
from vaultinject.diagnosis.rules.rbac import vault_auth_delegator
from vaultinject.diagnosis.settings import Settings

CONTEXT = Context(NOW, Settings())


def one(rule: Rule, evidence: Evidence) -> Finding:
    findings = rule(evidence, CONTEXT)
    assert len(findings) == 1
    return findings[0]


def changed(**fields: Any) -> Evidence:
    return dataclasses.replace(healthy(), **fields)


@pytest.mark.parametrize(
    "rule",
    [
        canary_login,
        canary_audience,
        vault_auth_delegator,
        webhook_endpoints,
        webhook_ca_bundle,
        webhook_certificate_expiry,
    ],
    ids=lambda rule: rule.name,
)
def test_each_rule_is_ok_on_a_healthy_cluster_and_unknown_without_its_evidence(rule: Rule) -> None:
    assert one(rule, healthy()).severity is Severity.OK
    assert one(rule, Evidence()).severity is Severity.UNKNOWN


@pytest.mark.parametrize(
    "message",
    [
        "Unauthorized",
        "service account token has been invalidated",
        "pod UID (6a1c3c0e-2d5e) does not match service account pod ref claim (0b7e8d6a-52a4)",
    ],
)
def test_the_runbook_failure_is_named_and_heal_may_repair_it(message: str) -> None:
    evidence = changed(canary=canary(login(403, "permission denied"), review_refused(message)))
    finding = one(canary_login, evidence)
    assert finding.severity is Severity.BROKEN
    assert finding.classification == "reviewer-token-dead"
    assert "heal may repair this" in finding.cause
    assert finding.command == "vaultinject heal"
    assert {ref.source for ref in finding.evidence} == {
        "POST /v1/auth/kubernetes/login (role vaultinject-canary)",
        "POST tokenreviews (canary token)",
    }


@pytest.mark.parametrize(
    ("answer", "classification"),
    [
        (login(503, "Vault is sealed"), "sealed"),
        (login(429, "rate limit quota exceeded"), "rate-limited"),
        (login(500, "internal error"), "server-error"),
        (VaultAnswer(source="login", at=AT, network_error="connection refused"), "unreachable"),
    ],
)
def test_causes_heal_never_acts_on_say_so(answer: VaultAnswer, classification: str) -> None:
    finding = one(canary_login, changed(canary=canary(answer, review_ok())))
    assert finding.severity is Severity.BROKEN
    assert finding.classification == classification
    assert "heal does not act on this" in finding.cause


def test_a_bare_403_with_vault_unable_to_review_points_at_rbac() -> None:
    denied = AuthDelegator.from_response(
        {"status": {"allowed": False}}, service_account="vault/vault", source="SAR", at=AT
    )
    evidence = changed(canary=canary(login(403, "permission denied"), review_ok()), auth_delegator=denied)
    finding = one(canary_login, evidence)
    assert finding.classification == "reviewer-forbidden"
    assert "SAR" in {ref.source for ref in finding.evidence}


def test_the_canarys_own_token_refused() -> None:
    review = review_invalid("[invalid bearer token, service account token has been invalidated]")
    finding = one(canary_login, changed(canary=canary(login(403, "permission denied"), review)))
    assert finding.classification == "client-token-invalid"


def test_an_unclassified_failure_is_unknown_with_the_answer() -> None:
    finding = one(canary_login, changed(canary=canary(login(403, "something new"), review_ok())))
    assert finding.severity is Severity.UNKNOWN
    assert any("something new" in line for line in finding.details)


def test_the_canarys_audience() -> None:
    wrong = changed(canary=canary(role_audience="vault", token_audiences=("https://kubernetes.default.svc",)))
    assert one(canary_audience, wrong).severity is Severity.BROKEN
    right = changed(canary=canary(role_audience="vault", token_audiences=("vault",)))
    assert one(canary_audience, right).severity is Severity.OK
    from_review = changed(
        canary=canary(review=review_ok(("vault",)), role_audience="vault", token_audiences=None)
    )
    assert one(canary_audience, from_review).severity is Severity.OK
    unknown = changed(canary=canary(role_audience=None))
    assert one(canary_audience, unknown).severity is Severity.UNKNOWN


def test_vault_without_auth_delegator() -> None:
    denied = AuthDelegator.from_response(
        {"status": {"allowed": False, "reason": ""}}, service_account="vault/vault", source="SAR", at=AT
    )
    finding = one(vault_auth_delegator, changed(auth_delegator=denied))
    assert finding.severity is Severity.BROKEN
    assert finding.command == (
        "kubectl create clusterrolebinding vaultinject-auth-delegator-vault-vault "
        "--clusterrole=system:auth-delegator --serviceaccount=vault:vault"
    )
    unknown = AuthDelegator(source="SAR", at=AT, error="subjectaccessreviews is forbidden")
    assert one(vault_auth_delegator, changed(auth_delegator=unknown)).severity is Severity.UNKNOWN


def test_webhook_endpoints() -> None:
    none_ready = WebhookEndpoints(source="ep", at=AT, service="vi/vaultinject", ready=0, not_ready=2)
    finding = one(webhook_endpoints, changed(webhook_endpoints=none_ready))
    assert finding.severity is Severity.BROKEN
    assert finding.command == "kubectl -n vi get pods -l app.kubernetes.io/name=vaultinject"
    assert (
        one(webhook_endpoints, changed(webhook_endpoints=WebhookEndpoints(source="ep", at=AT))).severity
        is Severity.UNKNOWN
    )


def test_ca_bundle_and_certificate_expiry() -> None:
    certificate = healthy().webhook_certificate
    assert certificate is not None
    untrusted = dataclasses.replace(certificate, trusted=False)
    assert one(webhook_ca_bundle, changed(webhook_certificate=untrusted)).severity is Severity.BROKEN
    soon = dataclasses.replace(certificate, not_after=NOW + 6 * DAY)
    warning = one(webhook_certificate_expiry, changed(webhook_certificate=soon))
    assert warning.severity is Severity.WARNING
    assert "6.0 days" in warning.summary
    later = dataclasses.replace(certificate, not_after=NOW + 8 * DAY)
    assert one(webhook_certificate_expiry, changed(webhook_certificate=later)).severity is Severity.OK
    expired = dataclasses.replace(certificate, not_after=NOW - 1)
    broken = one(webhook_certificate_expiry, changed(webhook_certificate=expired))
    assert broken.severity is Severity.BROKEN
    assert broken.command == "kubectl -n vaultinject rollout restart deployment/vaultinject"
    unread = WebhookCertificate(source="tls", at=AT, error="connection refused")
    assert one(webhook_certificate_expiry, changed(webhook_certificate=unread)).severity is Severity.UNKNOWN
