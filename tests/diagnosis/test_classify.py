"""Classifying failed logins: Vault's answer with the API server's TokenReview of the same token, and
agent log lines (HashiCorp Vault Agent's and ours), over the exact texts of auth-failure.md §2."""

from __future__ import annotations

import io

import pytest

from tests.diagnosis.builders import AT, login, review_invalid, review_ok, review_refused
from vaultinject.agent.logs import Logger
from vaultinject.diagnosis.classify import (
    REVIEWER_UNAUTHORIZED,
    Cause,
    classify_log,
    classify_login,
    heal_may_act,
)
from vaultinject.diagnosis.evidence import TokenReviewAnswer, VaultAnswer

# The runbook failure behind Vault's bare 403: what the API server says about the stored reviewer token.
INVALIDATED = "service account token has been invalidated"
POD_UID = (
    "pod UID (6a1c3c0e-2d5e-4c1b-9a39-1f7b2b1e7d01) does not match service account pod ref claim "
    "(0b7e8d6a-52a4-4c4f-8d77-3c8f0f9e2a10)"
)

# auth-failure.md §2.1: HashiCorp Vault Agent's block, from hashicorp/vault #13873.
HASHICORP_BLOCK = [
    "[INFO]  auth.handler: starting auth handler",
    "[INFO]  auth.handler: authenticating",
    "[ERROR] auth.handler: error authenticating:",
    "  error=",
    "  | Error making API request.",
    "  |",
    "  | URL: PUT http://vault.vault.svc:8200/v1/auth/kubernetes/login",
    "  | Code: 403. Errors:",
    "  |",
    "  | * permission denied",
    "   backoff=13.95s",
]


@pytest.mark.parametrize(
    ("status", "errors", "cause"),
    [
        (403, [f"lookup failed: {REVIEWER_UNAUTHORIZED}"], Cause.REVIEWER_TOKEN_DEAD),
        (403, [REVIEWER_UNAUTHORIZED], Cause.REVIEWER_TOKEN_DEAD),
        (403, ["service account name not authorized"], Cause.ROLE_OR_BINDING_MISMATCH),
        (403, ["namespace not authorized"], Cause.ROLE_OR_BINDING_MISMATCH),
        (
            403,
            ['namespace not authorized err="namespaces \\"x\\" is forbidden"'],
            Cause.ROLE_OR_BINDING_MISMATCH,
        ),
        (400, ['invalid role name "vaultinject-canary"'], Cause.ROLE_OR_BINDING_MISMATCH),
        (400, ["missing role"], Cause.ROLE_OR_BINDING_MISMATCH),
        (
            403,
            [
                "lookup failed: service account jwt valid for audience(s) [vault], but wanted [https://kubernetes.default.svc]"
            ],
            Cause.AUDIENCE_MISMATCH,
        ),
        (403, ["invalid issuer (iss) claim"], Cause.ISSUER_MISMATCH),
        (
            403,
            ["lookup failed: [invalid bearer token, service account token has been invalidated]"],
            Cause.CLIENT_TOKEN_INVALID,
        ),
        (
            403,
            ["lookup failed: [invalid bearer token, Token has been invalidated]"],
            Cause.CLIENT_TOKEN_INVALID,
        ),
        (403, ["lookup failed: service account jwt not valid"], Cause.CLIENT_TOKEN_INVALID),
        (403, ["JWT namepaces did not match"], Cause.CLIENT_TOKEN_INVALID),
        (
            403,
            [
                'Post "https://10.0.0.1:443/apis/authentication.k8s.io/v1/tokenreviews": x509: certificate signed by unknown authority'
            ],
            Cause.CA_MISMATCH,
        ),
        (
            403,
            [
                'tokenreviews.authentication.k8s.io is forbidden: User "system:serviceaccount:vault:vault" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope'
            ],
            Cause.REVIEWER_FORBIDDEN,
        ),
        (
            403,
            [
                'Post "https://10.0.0.1:443/apis/authentication.k8s.io/v1/tokenreviews": dial tcp 10.0.0.1:443: i/o timeout'
            ],
            Cause.KUBERNETES_UNREACHABLE,
        ),
        (500, ["could not load backend configuration"], Cause.NOT_CONFIGURED),
        (503, ["Vault is sealed"], Cause.SEALED),
        (501, ["Vault is not initialized"], Cause.NOT_INITIALIZED),
        (429, ['request path "auth/kubernetes/login": rate limit quota exceeded'], Cause.RATE_LIMITED),
        (500, ["local node not active but active cluster node not found"], Cause.SERVER_ERROR),
        (502, [], Cause.SERVER_ERROR),
        (403, ["some text no plugin writes"], Cause.UNKNOWN),
        (200, [], Cause.OK),
    ],
)
def test_vault_texts_classify_without_a_review(status: int, errors: list[str], cause: Cause) -> None:
    assert classify_login(login(status, *errors)).cause is cause


def test_the_runbook_failure_is_a_dead_reviewer_token() -> None:
    """Vault's bare 403 with the API server refusing the review's bearer (401)."""
    for message in ("Unauthorized", INVALIDATED, POD_UID):
        verdict = classify_login(login(403, "permission denied"), review_refused(message))
        assert verdict.cause is Cause.REVIEWER_TOKEN_DEAD
        assert "403" in verdict.matched
        assert "401" in verdict.matched


def test_a_bare_403_with_the_client_token_accepted_is_a_dead_reviewer_token() -> None:
    assert classify_login(login(403, "permission denied"), review_ok()).cause is Cause.REVIEWER_TOKEN_DEAD


def test_a_bare_403_with_vault_not_allowed_to_review_is_rbac() -> None:
    verdict = classify_login(login(403, "permission denied"), review_ok(), vault_may_review=False)
    assert verdict.cause is Cause.REVIEWER_FORBIDDEN


@pytest.mark.parametrize("error", [INVALIDATED, POD_UID, "service account token has expired"])
def test_a_bare_403_with_the_client_token_refused_is_the_clients_token(error: str) -> None:
    verdict = classify_login(
        login(403, "permission denied"), review_invalid(f"[invalid bearer token, {error}]")
    )
    assert verdict.cause is Cause.CLIENT_TOKEN_INVALID
    assert error in verdict.explanation


def test_a_bare_403_without_a_review_is_only_known_to_be_tokenreview_side() -> None:
    assert classify_login(login(403, "permission denied")).cause is Cause.TOKENREVIEW_SIDE
    failed = TokenReviewAnswer(source="POST tokenreviews", at=AT, error="connection refused")
    assert classify_login(login(403, "permission denied"), failed).cause is Cause.TOKENREVIEW_SIDE
    forbidden = TokenReviewAnswer.from_response(
        403, {"message": "forbidden"}, source="POST tokenreviews", at=AT
    )
    assert classify_login(login(403, "permission denied"), forbidden).cause is Cause.TOKENREVIEW_SIDE


def test_no_answer_from_vault_is_unreachable_and_an_untried_login_unknown() -> None:
    refused = VaultAnswer(source="login", at=AT, network_error="connection refused")
    assert classify_login(refused).cause is Cause.UNREACHABLE
    untried = VaultAnswer(source="login", at=AT, error="cannot mint the canary token")
    assert classify_login(untried).cause is Cause.UNKNOWN


def test_sealed_wins_over_a_review() -> None:
    assert classify_login(login(503, "Vault is sealed"), review_refused()).cause is Cause.SEALED


def test_heal_acts_only_on_what_rewriting_the_config_repairs() -> None:
    assert {cause for cause in Cause if heal_may_act(cause)} == {Cause.REVIEWER_TOKEN_DEAD, Cause.CA_MISMATCH}
    for never in (
        Cause.SEALED,
        Cause.SERVER_ERROR,
        Cause.RATE_LIMITED,
        Cause.UNREACHABLE,
        Cause.KUBERNETES_UNREACHABLE,
        Cause.TOKENREVIEW_SIDE,
        Cause.UNKNOWN,
    ):
        assert not heal_may_act(never)


# -- agent logs ---------------------------------------------------------------------------------


def test_hashicorp_agents_block_is_one_entry_with_its_code_and_errors() -> None:
    verdict = classify_log(HASHICORP_BLOCK)
    assert verdict is not None
    assert verdict.classification.cause is Cause.TOKENREVIEW_SIDE
    assert "Code: 403. Errors:" in verdict.line
    assert "* permission denied" in verdict.line
    assert "\n" not in verdict.line


def test_hashicorp_agents_block_with_the_canary_review_names_the_cause() -> None:
    verdict = classify_log(HASHICORP_BLOCK, review_refused(INVALIDATED))
    assert verdict is not None
    assert verdict.classification.cause is Cause.REVIEWER_TOKEN_DEAD


def test_hashicorp_agents_json_format_and_its_other_codes() -> None:
    line = (
        '{"@level":"error","@message":"error authenticating","@module":"auth.handler","@timestamp":'
        '"2026-12-08T02:00:00.000000Z","backoff":"1.5s","error":"Error making API request.\\n\\nURL: PUT '
        'https://vault:8200/v1/auth/kubernetes/login\\nCode: 503. Errors:\\n\\n* Vault is sealed"}'
    )
    verdict = classify_log([line])
    assert verdict is not None
    assert verdict.classification.cause is Cause.SEALED
    dial = (
        '2026-12-08T02:00:00.000Z [ERROR] auth.handler: error authenticating: error="Put '
        '\\"https://vault:8200/v1/auth/kubernetes/login\\": dial tcp 10.0.0.9:8200: connect: connection refused" '
        "backoff=2.1s"
    )
    verdict = classify_log([dial])
    assert verdict is not None
    assert verdict.classification.cause is Cause.UNREACHABLE


def _our_lines(log_format: str, *errors: tuple[str, str]) -> list[str]:
    """Lines as our agent's `_login_failed` writes them, through its own logger."""
    stream = io.StringIO()
    logger = Logger("info", log_format, stream)
    logger.info("starting", mode="init")
    for error, cause in errors:
        logger.error(
            "authentication failed", backoff="1.0s", error=error, cause=cause, hint="run `vaultinject doctor`"
        )
    return stream.getvalue().splitlines()


@pytest.mark.parametrize("log_format", ["standard", "json"])
@pytest.mark.parametrize(
    ("error", "agent_cause", "cause"),
    [
        ("PUT auth/kubernetes/login: 403 permission denied", "permission-denied", Cause.TOKENREVIEW_SIDE),
        (
            f"PUT auth/kubernetes/login: 403 lookup failed: {REVIEWER_UNAUTHORIZED}",
            "permission-denied",
            Cause.REVIEWER_TOKEN_DEAD,
        ),
        (
            "PUT auth/kubernetes/login: 403 service account name not authorized",
            "permission-denied",
            Cause.ROLE_OR_BINDING_MISMATCH,
        ),
        (
            'PUT auth/kubernetes/login: 400 invalid role name "app"',
            "invalid-request",
            Cause.ROLE_OR_BINDING_MISMATCH,
        ),
        ("PUT auth/kubernetes/login: 503 Vault is sealed", "sealed", Cause.SEALED),
        ("PUT auth/kubernetes/login: 429 rate limit quota exceeded", "rate-limited", Cause.RATE_LIMITED),
        ("PUT auth/kubernetes/login: 500 internal error", "server-error", Cause.SERVER_ERROR),
        (
            "PUT auth/kubernetes/login: cannot reach https://vault:8200: connection refused",
            "unreachable",
            Cause.UNREACHABLE,
        ),
        (
            "PUT auth/kubernetes/login: cannot reach https://vault:8200: timed out",
            "unreachable",
            Cause.UNREACHABLE,
        ),
        ("PUT auth/kubernetes/login: TLS failed: CERTIFICATE_VERIFY_FAILED", "tls", Cause.UNREACHABLE),
    ],
)
def test_our_agents_lines_classify(log_format: str, error: str, agent_cause: str, cause: Cause) -> None:
    verdict = classify_log(_our_lines(log_format, (error, agent_cause)))
    assert verdict is not None
    assert verdict.classification.cause is cause
    assert "authentication failed" in verdict.line


def test_the_last_failed_login_is_the_one_classified() -> None:
    lines = _our_lines(
        "standard",
        ("PUT auth/kubernetes/login: 503 Vault is sealed", "sealed"),
        ("PUT auth/kubernetes/login: 403 permission denied", "permission-denied"),
    )
    verdict = classify_log([*lines, "2026-12-08T02:00:09.000Z [INFO]  agent: retrying"])
    assert verdict is not None
    assert verdict.classification.cause is Cause.TOKENREVIEW_SIDE


def test_a_log_without_a_failed_login_has_no_verdict() -> None:
    assert classify_log(_our_lines("standard")) is None
    assert classify_log([]) is None
    assert classify_log(["not a log line", "{broken json"]) is None


def test_a_bare_403_with_no_stored_reviewer_token_is_not_blamed_on_one() -> None:
    verdict = classify_login(login(403, "permission denied"), review_ok(), reviewer_stored=False)
    assert verdict.cause is Cause.TOKENREVIEW_SIDE
    assert not heal_may_act(verdict.cause)
    stored = classify_login(login(403, "permission denied"), review_ok(), reviewer_stored=True)
    assert stored.cause is Cause.REVIEWER_TOKEN_DEAD


def test_hashicorp_agents_quoted_single_line_form_keeps_its_errors() -> None:
    line = (
        '2026-12-08T02:00:00.000Z [ERROR] auth.handler: error authenticating: error="Error making API '
        "request.\\n\\nURL: PUT https://vault:8200/v1/auth/kubernetes/login\\nCode: 403. Errors:\\n\\n* "
        'service account name not authorized\\n" backoff=1.2s'
    )
    verdict = classify_log([line])
    assert verdict is not None
    assert verdict.classification.cause is Cause.ROLE_OR_BINDING_MISMATCH
