"""What heal may do about what the evidence shows (pure).

heal rewrites the Kubernetes auth config only for the causes that rewrite repairs: a dead stored reviewer
token and a stale stored CA (`diagnosis.classify.heal_may_act`), and only for a Vault in the cluster,
which has a pod token of its own to fall back on. When the canary logs in, the config is left alone and
only pods still stuck are recovered. Everything else (Vault sealed, unreachable, failing, rate limited; a
role or a client token at fault; a cause nobody can pin down) needs a person, and heal says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vaultinject.diagnosis.classify import Cause, heal_may_act
from vaultinject.diagnosis.evidence import Evidence
from vaultinject.diagnosis.rules.canary import classify_canary, fix_for


class Action(StrEnum):
    REPAIR = "repair"  # rewrite the config, verify with the canary, then recover stuck pods
    RECOVER = "recover"  # logins work: recover only the pods still stuck
    REFUSE = "refuse"  # a person must act


@dataclass(frozen=True)
class Decision:
    action: Action
    cause: Cause
    reason: str  # why, for a person
    fix: str = ""  # for a refusal: what the person should do

    @property
    def repairs_config(self) -> bool:
        return self.action is Action.REPAIR


def decide(evidence: Evidence) -> Decision:
    """The one thing heal does next, and why."""
    refusal = _vault_refusal(evidence)
    if refusal is not None:
        return refusal
    verdict = classify_canary(evidence)
    if verdict is None:
        return Decision(
            Action.REFUSE,
            Cause.UNKNOWN,
            "no canary login was made, so heal cannot tell whether Kubernetes auth is broken",
            "run `vaultinject vault-setup` (it creates the canary's role and service account), then "
            "`vaultinject doctor`",
        )
    if verdict.cause is Cause.OK:
        return Decision(Action.RECOVER, Cause.OK, "the canary logs in: the config is left as it is")
    if not heal_may_act(verdict.cause):
        fix, command = fix_for(verdict.cause)
        return Decision(
            Action.REFUSE,
            verdict.cause,
            f"the canary login fails: {verdict.cause.value} ({verdict.explanation}); rewriting the config "
            "would not repair that",
            f"{fix} ({command})" if command else fix,
        )
    placement = evidence.placement
    if placement is None or placement.in_cluster is not True:
        where = (
            "runs outside the cluster"
            if placement and placement.in_cluster is False
            else "may not run in the cluster"
        )
        return Decision(
            Action.REFUSE,
            verdict.cause,
            f"the canary login fails: {verdict.cause.value}, but Vault {where}, so it has no pod token of "
            "its own to review logins with",
            "run `vaultinject vault-setup`: outside the cluster it stores a reviewer token bound to a "
            "Secret, which no pod's loss can kill",
        )
    return Decision(
        Action.REPAIR,
        verdict.cause,
        f"the canary login fails: {verdict.cause.value} ({verdict.explanation})",
    )


def _vault_refusal(evidence: Evidence) -> Decision | None:
    health = evidence.vault_health
    if health is None or health.error is not None or health.status is None:
        detail = health.error if health is not None and health.error else "not read"
        return Decision(
            Action.REFUSE,
            Cause.UNREACHABLE,
            f"Vault did not answer sys/health ({detail}): heal acts only on a Vault that answers",
            "check that Vault's pods run and that its address (VAULT_ADDR) is reachable from here",
        )
    if health.sealed:
        return Decision(
            Action.REFUSE,
            Cause.SEALED,
            "Vault is sealed: logins fail until it is unsealed, and no config rewrite changes that",
            "unseal Vault (`vault operator unseal`, or check its auto-unseal)",
        )
    if health.initialized is False:
        return Decision(Action.REFUSE, Cause.NOT_INITIALIZED, "Vault is not initialized", "initialize Vault")
    if health.status >= 500 and health.status not in (501, 503):
        return Decision(
            Action.REFUSE,
            Cause.SERVER_ERROR,
            f"Vault's sys/health answered {health.status}: Vault itself is failing",
            "read Vault's logs",
        )
    return None
