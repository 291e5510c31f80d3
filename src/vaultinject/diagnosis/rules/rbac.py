"""Kubernetes RBAC: Vault's service account may create tokenreviews (`system:auth-delegator`)."""

from __future__ import annotations

from collections.abc import Iterator

from vaultinject.diagnosis.evidence import Evidence
from vaultinject.diagnosis.findings import Area, Severity
from vaultinject.diagnosis.rules.base import Context, Verdict, missing, ok, refs, rule, unknown

AUTH_DELEGATOR = "system:auth-delegator"


def binding_command(service_account: str) -> str:
    """The kubectl command that grants a namespace/name service account system:auth-delegator."""
    namespace, _, name = service_account.partition("/")
    return (
        f"kubectl create clusterrolebinding vaultinject-auth-delegator-{namespace}-{name} "
        f"--clusterrole={AUTH_DELEGATOR} --serviceaccount={namespace}:{name}"
    )


@rule(Area.RBAC)
def vault_auth_delegator(evidence: Evidence, _context: Context) -> Iterator[Verdict]:
    check = evidence.auth_delegator
    if check is None or check.error is not None:
        yield missing(f"whether Vault may create tokenreviews ({AUTH_DELEGATOR})", check)
    elif check.allowed is None:
        yield unknown(f"whether {check.service_account} may create tokenreviews is unknown", check)
    elif not check.allowed:
        yield Verdict(
            severity=Severity.BROKEN,
            summary=f"service account {check.service_account} may not create tokenreviews ({AUTH_DELEGATOR})",
            cause="the API server refuses Vault's TokenReview calls with 403, so every login fails with 403 "
            "permission denied",
            fix=f"bind it to the {AUTH_DELEGATOR} ClusterRole",
            command=binding_command(check.service_account),
            evidence=refs(check),
        )
    else:
        yield ok(f"service account {check.service_account} may create tokenreviews", check)


RULES = (vault_auth_delegator,)
