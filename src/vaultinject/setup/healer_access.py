"""The access `heal`, the healer and the canary need, planned by `vault-setup` (no I/O).

- Policy `vaultinject-healer`: read and rewrite `auth/<mount>/config` and nothing else, with
  `token_reviewer_jwt` denied, so not even the healer can plant a pod-bound reviewer token.
- A JWT auth mount validated against the cluster's service-account signing keys, with a role for the
  healer's service account: the healer logs in without the Kubernetes auth mount it repairs. The keys are
  stored as PEM (`jwt_validation_pubkeys`), so the login needs no call from Vault to the API server
  either; `doctor` says when the cluster's keys have changed since.
- Role `vaultinject-canary` on the Kubernetes mount, with no policy at all, for canary logins: a login
  that works proves Kubernetes auth works, and its token can do nothing.
- The canary's service account, which the canary logins mint short-lived tokens of.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vaultinject.setup.actions import (
    Refusal,
    Step,
    VaultWrite,
    create_namespace,
    create_service_account,
    differences,
)


@dataclass(frozen=True)
class HealerAccess:
    """Names of what is created; the defaults match `vaultinject install --healer`."""

    namespace: str = "vaultinject"
    healer_service_account: str = "vaultinject-healer"
    canary_service_account: str = "vaultinject-canary"
    policy: str = "vaultinject-healer"
    jwt_mount: str = "vaultinject-jwt"
    healer_role: str = "vaultinject-healer"
    canary_role: str = "vaultinject-canary"
    audience: str = "vaultinject-healer"  # of the healer's login tokens
    token_ttl: int = 600  # seconds: the healer's Vault token lives for one repair at most

    @property
    def healer_subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.healer_service_account}"


@dataclass(frozen=True)
class HealerEvidence:
    """What exists already, as read by the shell."""

    issuer: str = ""  # the cluster's service-account issuer (its OpenID configuration)
    signing_keys: tuple[str, ...] = ()  # the cluster's JWKS as PEM public keys
    keys_error: str = ""  # why they could not be read
    policy: str | None = None  # the current text of the healer policy
    jwt_config: Mapping[str, Any] | None = None  # GET auth/<jwt_mount>/config
    healer_role: Mapping[str, Any] | None = None
    canary_role: Mapping[str, Any] | None = None
    namespace_exists: bool = False
    canary_account_exists: bool = False
    auth_mounts: Mapping[str, str] = field(default_factory=dict)  # "path/" -> type


def healer_policy(mount: str) -> str:
    """Read and rewrite auth/<mount>/config, never with a stored reviewer token."""
    return (
        "# vaultinject healer: repair the Kubernetes auth config; a reviewer token can never be written\n"
        f'path "auth/{mount}/config" {{\n'
        '  capabilities = ["read", "create", "update"]\n'
        '  denied_parameters = {\n    "token_reviewer_jwt" = []\n  }\n'
        "}\n"
        f'path "auth/{mount}/role/*" {{\n  capabilities = ["read"]\n}}\n'
    )


def healer_steps(
    access: HealerAccess, mount: str, evidence: HealerEvidence
) -> tuple[list[Step], list[Refusal]]:
    """The steps that give heal, the healer and the canary their access; refusals when it cannot be done."""
    steps: list[Step] = []
    refusals: list[Refusal] = []
    _policy_step(access, mount, evidence, steps)
    _jwt_steps(access, evidence, steps, refusals)
    _canary_steps(access, mount, evidence, steps)
    return steps, refusals


def _policy_step(access: HealerAccess, mount: str, evidence: HealerEvidence, steps: list[Step]) -> None:
    text = healer_policy(mount)
    if evidence.policy is not None and evidence.policy.strip() == text.strip():
        return
    state = "does not exist" if evidence.policy is None else "differs from what vault-setup writes"
    steps.append(
        Step(
            f"write policy {access.policy}: read and rewrite auth/{mount}/config, token_reviewer_jwt denied",
            f"the healer's policy {state}; with it, no root token is needed to repair Kubernetes auth",
            VaultWrite(
                f"sys/policies/acl/{access.policy}",
                {"policy": text},
                method="PUT",
                capabilities=("create", "update"),
            ),
        )
    )


def _jwt_steps(
    access: HealerAccess, evidence: HealerEvidence, steps: list[Step], refusals: list[Refusal]
) -> None:
    path = access.jwt_mount.strip("/")
    existing = evidence.auth_mounts.get(f"{path}/")
    if existing not in (None, "jwt"):
        refusals.append(
            Refusal(
                f"auth/{path}/ is a {existing!r} auth method, not jwt",
                "disable that method first, or pass --no-healer-access",
            )
        )
        return
    if not evidence.signing_keys:
        refusals.append(
            Refusal(
                "the cluster's service-account signing keys could not be read "
                f"({evidence.keys_error or 'none'})",
                "the Kubernetes identity needs get on /openid/v1/jwks and /.well-known/openid-configuration "
                "(ClusterRole system:service-account-issuer-discovery); or pass --no-healer-access",
            )
        )
        return
    if existing is None:
        steps.append(
            Step(
                f"enable the JWT auth method at auth/{path}/ for the healer",
                "the healer must log in without the Kubernetes auth mount it repairs",
                VaultWrite(f"sys/auth/{path}", {"type": "jwt"}, sudo=True),
            )
        )
    config = {"jwt_validation_pubkeys": list(evidence.signing_keys), "bound_issuer": evidence.issuer}
    if differences(evidence.jwt_config, config):
        steps.append(
            Step(
                f"write auth/{path}/config with the cluster's {len(evidence.signing_keys)} service-account "
                f"signing key(s) and issuer {evidence.issuer or '(none)'}",
                "tokens are checked against keys Vault holds, so the healer's login needs neither the "
                "Kubernetes auth mount nor a call to the API server; run vault-setup again if the cluster's "
                "signing keys change (doctor tells)",
                VaultWrite(f"auth/{path}/config", config),
            )
        )
    role = {
        "role_type": "jwt",
        "user_claim": "sub",
        "bound_subject": access.healer_subject,
        "bound_audiences": [access.audience],
        "token_policies": [access.policy],
        "token_ttl": access.token_ttl,
        "token_max_ttl": access.token_ttl,
    }
    if differences(evidence.healer_role, role):
        steps.append(
            Step(
                f"write role {access.healer_role} on auth/{path}/ for {access.healer_subject} (audience "
                f"{access.audience}) with policy {access.policy}",
                "the healer's only way into Vault: its token can repair the Kubernetes auth config and "
                "nothing else",
                VaultWrite(f"auth/{path}/role/{access.healer_role}", role, capabilities=("create", "update")),
            )
        )


def _canary_steps(access: HealerAccess, mount: str, evidence: HealerEvidence, steps: list[Step]) -> None:
    namespace, account = access.namespace, access.canary_service_account
    if not evidence.namespace_exists:
        steps.append(
            Step(
                f"create namespace {namespace}",
                "the canary's service account lives there",
                create_namespace(namespace),
            )
        )
    if not evidence.canary_account_exists:
        steps.append(
            Step(
                f"create service account {namespace}/{account} for canary logins",
                "doctor and the healer log in as it to test Kubernetes auth end to end",
                create_service_account(namespace, account),
            )
        )
    role = {
        "bound_service_account_names": [account],
        "bound_service_account_namespaces": [namespace],
        "token_policies": [],
        "token_no_default_policy": True,
        "token_ttl": 60,
        "token_max_ttl": 60,
    }
    if differences(evidence.canary_role, role):
        steps.append(
            Step(
                f"write role {access.canary_role} on auth/{mount}/ for {namespace}/{account} with no policy",
                "a canary login proves Kubernetes auth works; its token can do nothing and lives a minute",
                VaultWrite(
                    f"auth/{mount}/role/{access.canary_role}", role, capabilities=("create", "update")
                ),
            )
        )
