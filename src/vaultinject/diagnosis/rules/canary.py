"""The canary login, classified by Vault's answer and the API server's review of the same token, and
the canary token's audience against its role's."""

from __future__ import annotations

from collections.abc import Iterator

from vaultinject.diagnosis.classify import Cause, Classification, classify_login, heal_may_act
from vaultinject.diagnosis.evidence import Evidence
from vaultinject.diagnosis.findings import Area, Severity
from vaultinject.diagnosis.rules.base import (
    HEAL_COMMAND,
    SETUP_COMMAND,
    Context,
    Verdict,
    ok,
    refs,
    rule,
    unknown,
)

# What to do about each cause: (fix, command).
FIXES: dict[Cause, tuple[str, str]] = {
    Cause.REVIEWER_TOKEN_DEAD: (
        "rewrite the auth config without a stored reviewer token (heal does it with a narrow policy, and "
        "--dry-run shows the plan); the agents then recover on their next retry",
        HEAL_COMMAND,
    ),
    Cause.CA_MISMATCH: ("rewrite the auth config without a stored CA (or with the cluster's)", HEAL_COMMAND),
    Cause.REVIEWER_FORBIDDEN: (
        "bind Vault's service account to system:auth-delegator (see the rbac finding)",
        "",
    ),
    Cause.KUBERNETES_UNREACHABLE: ("make kubernetes_host reachable from Vault", SETUP_COMMAND),
    Cause.TOKENREVIEW_SIDE: (
        "check the auth-config and rbac findings; a TokenReview of the canary token tells which side failed",
        "",
    ),
    Cause.ROLE_OR_BINDING_MISMATCH: (
        "bind the canary's service account and namespace in its role (vault-setup creates it)",
        SETUP_COMMAND,
    ),
    Cause.AUDIENCE_MISMATCH: ("give the role an audience the tokens carry, or none", SETUP_COMMAND),
    Cause.ISSUER_MISMATCH: ("write the config with disable_iss_validation=true", SETUP_COMMAND),
    Cause.CLIENT_TOKEN_INVALID: (
        "the canary's own token is not valid: mint a fresh one (its pod or service account may be gone)",
        "",
    ),
    Cause.NOT_CONFIGURED: ("write the auth config", SETUP_COMMAND),
    Cause.SEALED: ("unseal Vault; heal never acts on a sealed Vault", "vault operator unseal"),
    Cause.NOT_INITIALIZED: ("initialize Vault", "vault operator init"),
    Cause.UNREACHABLE: ("check Vault's address, its pods and the network path; heal never acts on this", ""),
    Cause.RATE_LIMITED: ("wait, or raise Vault's rate-limit quota; heal never acts on this", ""),
    Cause.SERVER_ERROR: ("read Vault's server log; heal never acts on a 5xx", ""),
}


def fix_for(cause: Cause) -> tuple[str, str]:
    """What to do about a cause, and the command to copy ("" when there is none)."""
    return FIXES.get(cause, ("read the evidence; the cause is not one I can pin down", ""))


def classify_canary(evidence: Evidence) -> Classification | None:
    """Why the canary login failed (or Cause.OK), from every answer gathered; None without a canary."""
    canary = evidence.canary
    if canary is None:
        return None
    delegator = evidence.auth_delegator
    may_review = delegator.allowed if delegator is not None and delegator.known else None
    config = evidence.auth_config
    stored = config.token_reviewer_jwt_set if config is not None and config.known else None
    return classify_login(canary.login, canary.review, vault_may_review=may_review, reviewer_stored=stored)


@rule(Area.CANARY)
def canary_login(evidence: Evidence, _context: Context) -> Iterator[Verdict]:
    canary = evidence.canary
    verdict = classify_canary(evidence)
    if canary is None or verdict is None:
        yield unknown("the canary login: not gathered")
        return
    delegator = evidence.auth_delegator
    refused = delegator is not None and delegator.known and delegator.allowed is False
    observed = refs(canary.login, canary.review, delegator if refused else None)
    if verdict.cause is Cause.OK:
        yield ok(f"the canary login with role {canary.role} succeeds", canary.login, canary.review)
        return
    fix, command = fix_for(verdict.cause)
    severity = Severity.UNKNOWN if verdict.cause is Cause.UNKNOWN else Severity.BROKEN
    acting = "heal may repair this" if heal_may_act(verdict.cause) else "heal does not act on this"
    yield Verdict(
        severity=severity,
        summary=f"the canary login with role {canary.role} fails: {verdict.cause.value}",
        cause=f"{verdict.explanation} ({acting})",
        fix=fix,
        command=command,
        evidence=observed,
        details=(f"answer: {verdict.matched}",) if verdict.matched else (),
        classification=verdict.cause.value,
    )


@rule(Area.CANARY)
def canary_audience(evidence: Evidence, _context: Context) -> Iterator[Verdict]:
    canary = evidence.canary
    if canary is None:
        yield unknown("the canary's audience: not gathered")
        return
    if canary.role_audience is None:
        yield unknown(f"the audience of role {canary.role} is unknown", canary.login)
        return
    if not canary.role_audience:
        yield ok(f"role {canary.role} asks for no audience", canary.login)
        return
    audiences = canary.token_audiences
    if audiences is None and canary.review is not None and canary.review.client_token_valid:
        audiences = canary.review.audiences
    if audiences is None:
        yield unknown(
            f"the canary token's audiences are unknown (role {canary.role} wants {canary.role_audience!r})"
        )
        return
    if canary.role_audience not in audiences:
        yield Verdict(
            severity=Severity.BROKEN,
            summary=f"role {canary.role} wants audience {canary.role_audience!r}; the token carries "
            f"{', '.join(audiences) or 'none'}",
            cause="the login fails with the plugin's audience message",
            fix="mint tokens with that audience (vaultinject.io/token-audience), or drop the role's audience",
            command=SETUP_COMMAND,
            evidence=refs(canary.login, canary.review),
        )
        return
    yield ok(f"the canary token carries role {canary.role}'s audience {canary.role_audience!r}", canary.login)


RULES = (canary_login, canary_audience)
