"""The healer's and the canary's access, as vault-setup plans it (pure: evidence in, steps out)."""

from __future__ import annotations

from typing import Any

from vaultinject.setup.actions import KubeCreate, VaultWrite
from vaultinject.setup.healer_access import HealerAccess, HealerEvidence, healer_policy, healer_steps

ACCESS = HealerAccess()
KEY = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"
ISSUER = "https://kubernetes.default.svc.cluster.local"


def fresh(**changes: Any) -> HealerEvidence:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "signing_keys": (KEY,),
        "auth_mounts": {"kubernetes/": "kubernetes"},
    }
    return HealerEvidence(**{**values, **changes})


def done() -> HealerEvidence:
    """Everything in place, as Vault returns it after a first run."""
    steps, _ = healer_steps(ACCESS, "kubernetes", fresh())
    bodies = {s.action.path: s.action.body for s in steps if isinstance(s.action, VaultWrite)}
    return fresh(
        policy=healer_policy("kubernetes"),
        jwt_config={**bodies["auth/vaultinject-jwt/config"], "oidc_discovery_url": ""},
        healer_role=bodies["auth/vaultinject-jwt/role/vaultinject-healer"],
        canary_role=bodies["auth/kubernetes/role/vaultinject-canary"],
        namespace_exists=True,
        canary_account_exists=True,
        auth_mounts={"kubernetes/": "kubernetes", "vaultinject-jwt/": "jwt"},
    )


def test_a_fresh_vault_gets_the_policy_the_jwt_login_and_the_canary_in_order() -> None:
    steps, refusals = healer_steps(ACCESS, "kubernetes", fresh())
    assert refusals == []
    targets = [s.action.path if isinstance(s.action, VaultWrite) else s.action.kind for s in steps]
    assert targets == [
        "sys/policies/acl/vaultinject-healer",
        "sys/auth/vaultinject-jwt",
        "auth/vaultinject-jwt/config",
        "auth/vaultinject-jwt/role/vaultinject-healer",
        "Namespace",
        "ServiceAccount",
        "auth/kubernetes/role/vaultinject-canary",
    ]
    role = steps[3].action
    assert isinstance(role, VaultWrite)
    assert role.body["bound_subject"] == "system:serviceaccount:vaultinject:vaultinject-healer"
    assert role.body["token_policies"] == ["vaultinject-healer"]
    canary = steps[-1].action
    assert isinstance(canary, VaultWrite)
    assert canary.body["token_policies"] == []
    assert canary.body["token_no_default_policy"] is True
    assert isinstance(steps[5].action, KubeCreate)
    assert steps[5].action.namespace == "vaultinject"


def test_the_policy_rewrites_only_the_config_and_denies_a_reviewer_token() -> None:
    text = healer_policy("k8s")
    assert 'path "auth/k8s/config"' in text
    assert '"token_reviewer_jwt" = []' in text
    assert "sys/" not in text
    assert "secret" not in text


def test_a_second_run_plans_nothing() -> None:
    assert healer_steps(ACCESS, "kubernetes", done()) == ([], [])


def test_changed_cluster_signing_keys_rewrite_only_the_jwt_config() -> None:
    other = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"
    steps, _ = healer_steps(
        ACCESS, "kubernetes", HealerEvidence(**{**done().__dict__, "signing_keys": (other,)})
    )
    assert [s.action.path for s in steps if isinstance(s.action, VaultWrite)] == [
        "auth/vaultinject-jwt/config"
    ]


def test_unreadable_signing_keys_are_refused_naming_the_permission() -> None:
    steps, refusals = healer_steps(ACCESS, "kubernetes", fresh(signing_keys=(), keys_error="403 Forbidden"))
    assert [r.cause for r in refusals] == [
        "the cluster's service-account signing keys could not be read (403 Forbidden)"
    ]
    assert "system:service-account-issuer-discovery" in refusals[0].fix
    assert not any(isinstance(s.action, VaultWrite) and "jwt" in s.action.path for s in steps)


def test_a_mount_of_another_type_at_the_jwt_path_is_refused() -> None:
    _, refusals = healer_steps(ACCESS, "kubernetes", fresh(auth_mounts={"vaultinject-jwt/": "approle"}))
    assert refusals[0].cause == "auth/vaultinject-jwt/ is a 'approle' auth method, not jwt"
    assert refusals[0].fix == "disable that method first, or pass --no-healer-access"
