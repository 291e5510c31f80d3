"""`diagnose`: every rule, the report's status, exit code and JSON, a failing rule, and no secret in
any finding."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.diagnosis.builders import (
    AT,
    NOW,
    agent_log,
    canary,
    config,
    healthy,
    login,
    pod_json,
    pods,
    review_invalid,
    review_refused,
)
from vaultinject.diagnosis import Area, Report, Severity, diagnose
from vaultinject.diagnosis.evidence import (
    Evidence,
    HostReach,
    PodEvidence,
    VaultAnswer,
    VaultHealth,
)
from vaultinject.diagnosis.findings import SCHEMA, Finding, scrub
from vaultinject.diagnosis.rules import ALL_RULES, Context, Rule
from vaultinject.diagnosis.rules.base import Verdict, rule

RUNBOOK_LOG = (
    '2026-12-08T02:00:00.000Z [ERROR] agent: authentication failed backoff=30.0s error="PUT '
    'auth/kubernetes/login: 403 permission denied" cause=permission-denied hint="x"'
)


def test_a_healthy_cluster_is_all_ok_and_exits_0() -> None:
    report = diagnose(healthy(), NOW)
    assert [f.severity for f in report.findings] == [Severity.OK] * len(ALL_RULES)
    assert (report.status, report.exit_code) == (Severity.OK, 0)
    assert {f.rule for f in report.findings} == {r.name for r in ALL_RULES}


def test_before_the_failure_the_hazard_is_a_warning_and_exits_1() -> None:
    report = diagnose(dataclasses.replace(healthy(), auth_config=config(token_reviewer_jwt_set=True)), NOW)
    (hazard,) = [f for f in report.findings if f.severity is not Severity.OK]
    assert hazard.rule == "stored_reviewer_token"
    assert (report.status, report.exit_code) == (Severity.WARNING, 1)


def test_after_the_failure_the_dead_reviewer_token_and_the_stuck_pods_exit_2() -> None:
    stuck = PodEvidence.from_pod(pod_json("app-1"), log=agent_log(RUNBOOK_LOG))
    evidence = dataclasses.replace(
        healthy(),
        auth_config=config(token_reviewer_jwt_set=True),
        canary=canary(
            login(403, "permission denied"), review_refused("service account token has been invalidated")
        ),
        pods=pods(stuck),
    )
    report = diagnose(evidence, NOW)
    assert report.exit_code == 2
    broken = {f.rule: f for f in report.findings if f.severity is Severity.BROKEN}
    assert set(broken) == {"canary_login", "stuck_pods"}
    assert broken["canary_login"].classification == "reviewer-token-dead"
    assert [f.rule for f in report.in_area(Area.CANARY)] == ["canary_login", "canary_audience"]


def test_unknown_counts_as_a_warning() -> None:
    report = diagnose(Evidence(), NOW)
    assert {f.severity for f in report.findings} == {Severity.UNKNOWN}
    assert (report.status, report.exit_code) == (Severity.WARNING, 1)


@rule(Area.VAULT)
def exploding(evidence: Evidence, _context: Context) -> Iterator[Verdict]:
    raise KeyError("kubernetes_host")
    yield  # pragma: no cover


def test_a_rule_that_raises_is_an_unknown_finding_naming_it() -> None:
    report = diagnose(healthy(), NOW, rules=(exploding, *ALL_RULES))
    first = report.findings[0]
    assert (first.rule, first.severity, first.area) == ("exploding", Severity.UNKNOWN, Area.VAULT)
    assert "exploding failed (KeyError)" in first.summary
    assert len(report.findings) == len(ALL_RULES) + 1
    assert report.exit_code == 1


def test_the_json_form_is_stable_and_versioned() -> None:
    report = diagnose(dataclasses.replace(healthy(), auth_config=config(token_reviewer_jwt_set=True)), NOW)
    document = json.loads(json.dumps(report.to_json()))
    assert list(document) == ["schema", "generated_at", "status", "exit_code", "counts", "findings"]
    assert (document["schema"], document["generated_at"], document["status"], document["exit_code"]) == (
        SCHEMA,
        NOW,
        "warning",
        1,
    )
    assert document["counts"] == {"ok": len(ALL_RULES) - 1, "warning": 1, "broken": 0, "unknown": 0}
    hazard = next(f for f in document["findings"] if f["severity"] == "warning")
    assert list(hazard) == [
        "rule",
        "area",
        "severity",
        "summary",
        "cause",
        "fix",
        "command",
        "evidence",
        "details",
        "classification",
    ]
    assert hazard["area"] == "auth-config"
    assert hazard["evidence"][0] == {"source": "GET /v1/auth/kubernetes/config", "at": AT}


# -- no secret in any finding -------------------------------------------------------------------

_B64URL = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=12, max_size=60
)
JWTS = st.builds(lambda h, p, s: f"eyJ{h}.eyJ{p}.{s}", _B64URL, _B64URL, _B64URL)
VAULT_TOKENS = st.builds(lambda body: f"hvs.{body}", _B64URL)


def _evidence_quoting(secret: str) -> Evidence:
    """Every text field a rule may quote carries the secret."""
    quoted = f"token {secret} refused"
    stuck = PodEvidence.from_pod(
        pod_json("app-1"),
        log=agent_log(
            f'2026-12-08T02:00:00.000Z [ERROR] agent: authentication failed error="PUT auth/kubernetes/login: '
            f'403 {quoted}" cause=permission-denied',
            "[ERROR] auth.handler: error authenticating:",
            "  | Code: 403. Errors:",
            f"  | * {quoted}",
        ),
    )
    return dataclasses.replace(
        healthy(),
        vault_health=VaultHealth(
            source="GET /v1/sys/health", at=AT, address="https://vault:8200", error=quoted
        ),
        auth_config=dataclasses.replace(config(), error=None, kubernetes_host=f"https://{secret}"),
        host_reach=HostReach(source="s", at=AT, host="h", reachable=False, detail=quoted),
        canary=canary(
            VaultAnswer(source=f"login Bearer {secret}", at=AT, status=403, errors=(quoted,)),
            review_invalid(quoted),
        ),
        pods=pods(stuck),
    )


@settings(max_examples=40, deadline=None)
@given(secret=st.one_of(JWTS, VAULT_TOKENS))
def test_no_finding_ever_carries_a_token_from_the_evidence(secret: str) -> None:
    report = diagnose(_evidence_quoting(secret), NOW)
    text = json.dumps(report.to_json())
    assert secret not in text
    assert secret[:20] not in text
    assert "[redacted]" in text


def test_a_rule_that_raises_with_a_secret_in_its_message_does_not_leak_it() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlLXZhbHVl"

    @rule(Area.CANARY)
    def leaky(evidence: Evidence, _context: Context) -> Iterator[Verdict]:
        raise ValueError(f"bad token {jwt}")
        yield  # pragma: no cover

    report = diagnose(healthy(), NOW, rules=(leaky,))
    assert jwt not in json.dumps(report.to_json())


def test_scrub_leaves_ordinary_texts_alone() -> None:
    for text in (
        "the API server refuses the review's bearer token (401)",
        "https://vault-0.vault-internal.vault.svc.cluster.local:8200",
        "lookup failed: service account unauthorized; this could mean it has been deleted or recreated with a new token",
        "kubectl create clusterrolebinding vaultinject-auth-delegator-vault-vault --clusterrole=system:auth-delegator",
    ):
        assert scrub(text) == text
    assert scrub("X-Vault-Token: hvs.CAESIJ1abcdefghijk") == "X-Vault-Token: [redacted]"


def test_findings_are_frozen_and_reports_count_them() -> None:
    finding = Finding(rule="r", area=Area.PODS, severity=Severity.BROKEN, summary="s")
    report = Report((finding,), NOW)
    assert report.counts["broken"] == 1
    assert report.exit_code == 2
    assert isinstance(exploding, Rule)
