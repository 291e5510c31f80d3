"""What heal may do: repair only what a config rewrite repairs, on a Vault in the cluster; recover pods
when logins work; refuse, naming what a person should do, for everything else."""

from __future__ import annotations

import dataclasses

import pytest

from tests.diagnosis.builders import AT, canary, config, health, healthy, login, review_refused
from vaultinject.diagnosis.classify import Cause
from vaultinject.diagnosis.evidence import Canary, VaultAnswer, VaultHealth, VaultPlacement
from vaultinject.heal.decide import Action, decide

RUNBOOK = dataclasses.replace(
    healthy(),
    auth_config=config(token_reviewer_jwt_set=True),
    canary=canary(login(403, "permission denied"), review_refused()),
)


def test_the_runbook_failure_is_repaired() -> None:
    decision = decide(RUNBOOK)
    assert (decision.action, decision.cause) == (Action.REPAIR, Cause.REVIEWER_TOKEN_DEAD)
    assert decision.repairs_config


def test_working_logins_leave_the_config_alone_and_only_recover_pods() -> None:
    decision = decide(healthy())
    assert (decision.action, decision.repairs_config) == (Action.RECOVER, False)


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({"vault_health": health(sealed=True)}, Cause.SEALED),
        (
            {"vault_health": VaultHealth(source="GET /v1/sys/health", at=AT, error="connection refused")},
            Cause.UNREACHABLE,
        ),
        ({"vault_health": None}, Cause.UNREACHABLE),
        (
            {"vault_health": VaultHealth.from_response(500, {}, address="x", source="s", at=AT)},
            Cause.SERVER_ERROR,
        ),
        ({"canary": canary(login(429, "rate limit quota exceeded"))}, Cause.RATE_LIMITED),
        (
            {"canary": canary(VaultAnswer(source="login", at=AT, network_error="connection refused"))},
            Cause.UNREACHABLE,
        ),
        ({"canary": canary(login(500, "internal error"))}, Cause.SERVER_ERROR),
        (
            {"canary": canary(login(403, "service account name not authorized"))},
            Cause.ROLE_OR_BINDING_MISMATCH,
        ),
        ({"canary": None}, Cause.UNKNOWN),
    ],
)
def test_what_needs_a_person_is_refused_with_what_to_do(change: dict[str, object], cause: Cause) -> None:
    decision = decide(dataclasses.replace(RUNBOOK, **change))  # type: ignore[arg-type]
    assert (decision.action, decision.cause) == (Action.REFUSE, cause)
    assert decision.fix
    assert not decision.repairs_config


@pytest.mark.parametrize("in_cluster", [False, None])
def test_a_vault_not_known_to_run_in_the_cluster_is_not_given_a_local_token_config(
    in_cluster: bool | None,
) -> None:
    placement = VaultPlacement(source="pods", at=AT, in_cluster=in_cluster)
    decision = decide(dataclasses.replace(RUNBOOK, placement=placement))
    assert decision.action is Action.REFUSE
    assert "vault-setup" in decision.fix


def test_a_bare_403_whose_cause_cannot_be_pinned_down_is_refused() -> None:
    bare = Canary(role="vaultinject-canary", login=login(403, "permission denied"), review=None)
    evidence = dataclasses.replace(RUNBOOK, canary=bare)
    assert decide(evidence).cause is Cause.TOKENREVIEW_SIDE
    assert decide(evidence).action is Action.REFUSE
