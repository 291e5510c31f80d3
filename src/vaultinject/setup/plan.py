"""The plan of `vault-setup`, with no I/O: evidence about Vault and the cluster in, numbered steps out.

Each step is a human description, why it is needed, and the exact API write. A plan with refusals must
not be applied; its refusals name the cause and the fix. Values only known at apply time (the reviewer
token of a Secret the plan creates) are `FromSecret` placeholders, so a plan never holds a token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vaultinject.setup.actions import (
    MANAGED,
    FromSecret,
    KubeCreate,
    Refusal,
    Step,
    VaultWrite,
    action_json,
    create_namespace,
    create_service_account,
    differences,
)
from vaultinject.setup.healer_access import HealerAccess, HealerEvidence, healer_steps

MINIMUM_VERSION = (1, 9, 3)
DEFAULT_IN_CLUSTER_HOST = "https://kubernetes.default.svc"
AUTH_DELEGATOR = "system:auth-delegator"
TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
VAULT_POD_LABEL = "app.kubernetes.io/name=vault"
IN_CLUSTER = "in-cluster"
OUTSIDE = "outside-cluster"
# Config fields kept as they are: set on purpose, and a write resets whatever it leaves out.
KEPT_FIELDS = ("pem_keys", "issuer", "disable_iss_validation", "use_annotations_as_alias_metadata")
CONFIG_DEFAULTS: dict[str, Any] = {
    "pem_keys": [],
    "issuer": "",
    "disable_iss_validation": True,
    "use_annotations_as_alias_metadata": False,
}


# -- what the plan does -------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    mode: str
    mode_reason: str
    steps: tuple[Step, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    notes: tuple[str, ...] = ()


# -- what the plan is asked for, and what it knows ----------------------------------------------


@dataclass(frozen=True)
class RoleRequest:
    name: str
    service_accounts: tuple[str, ...]
    namespaces: tuple[str, ...]
    policies: tuple[str, ...] = ()
    ttl: int | None = None  # seconds
    audience: str | None = None


@dataclass(frozen=True)
class PolicyRequest:
    name: str
    text: str
    source: str  # where the text came from, for the plan's why


@dataclass(frozen=True)
class Options:
    mount: str = "kubernetes"
    vault_in_cluster: bool | None = None  # None: detect
    vault_namespace: str = "vault"
    vault_service_account: str = "vault"
    kubernetes_host: str | None = None
    kubernetes_ca_pem: str | None = None  # outside the cluster: the CA Vault trusts the API server with
    grant_auth_delegator: bool = False
    reviewer_namespace: str = "vault"
    reviewer_service_account: str = "vault-token-reviewer"
    roles: tuple[RoleRequest, ...] = ()
    policies: tuple[PolicyRequest, ...] = ()
    healer: HealerAccess | None = field(default_factory=HealerAccess)  # None: --no-healer-access

    @property
    def reviewer_secret(self) -> str:
        return f"{self.reviewer_service_account}-token"

    @property
    def mount_path(self) -> str:
        return self.mount.strip("/")


@dataclass(frozen=True)
class Reviewer:
    """The dedicated reviewer identity of an outside Vault, as found in the cluster."""

    namespace_exists: bool = False
    service_account_exists: bool = False
    secret_exists: bool = False
    binding_exists: bool = False  # our ClusterRoleBinding, by name
    can_review: bool | None = None  # SubjectAccessReview for the service account


@dataclass(frozen=True)
class Detection:
    """What says where Vault runs."""

    vault_address: str
    vault_pods: tuple[str, ...] | None = (
        None  # pods labelled like vault-helm's, as the Vault SA; None: unknown
    )
    pods_unknown_reason: str = ""


@dataclass(frozen=True)
class Evidence:
    vault_version: str
    detection: Detection
    auth_mounts: Mapping[str, str]  # "kubernetes/" -> type
    config: Mapping[str, Any] | None  # GET auth/<mount>/config `data`; None when never written
    vault_can_review: bool | None = None  # SubjectAccessReview for Vault's own service account
    kube_server: str = ""  # the kubeconfig's server (what an outside Vault dials)
    kube_ca_pem: str | None = None  # the kubeconfig's CA
    reviewer: Reviewer = field(default_factory=Reviewer)
    roles: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    policies: Mapping[str, str | None] = field(default_factory=dict)
    healer: HealerEvidence = field(default_factory=HealerEvidence)


# -- planning -----------------------------------------------------------------------------------


def parse_version(text: str) -> tuple[int, int, int] | None:
    """`1.17.5`, `v1.9.3+ent`, `1.15.0-rc1` -> (major, minor, patch); None when not a version."""
    match = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


def decide_mode(vault_in_cluster: bool | None, detection: Detection, options: Options) -> tuple[str, str]:
    """In the cluster or outside it, and why. Without a flag, pods decide, then the address."""
    if vault_in_cluster is not None:
        flag = "--vault-in-cluster" if vault_in_cluster else "--vault-outside-cluster"
        return (IN_CLUSTER if vault_in_cluster else OUTSIDE), f"{flag} was given"
    where = f"{options.vault_namespace}/{options.vault_service_account}"
    if detection.vault_pods:
        pods = ", ".join(detection.vault_pods)
        return IN_CLUSTER, (
            f"pods {pods} ({VAULT_POD_LABEL}) in namespace {options.vault_namespace} run as service "
            f"account {options.vault_service_account}"
        )
    host = address_host(detection.vault_address)
    if re.search(r"\.svc(\.cluster\.local)?\.?$", host):
        return IN_CLUSTER, f"Vault's address {host} is a cluster Service name"
    looked = (
        f"no pod labelled {VAULT_POD_LABEL} runs as {where}"
        if detection.vault_pods is not None
        else f"pods could not be listed ({detection.pods_unknown_reason})"
    )
    return OUTSIDE, (
        f"{looked} and Vault's address {host or '?'} is not a cluster Service name; pass "
        "--vault-in-cluster if Vault does run in this cluster"
    )


def address_host(address: str) -> str:
    match = re.match(r"^[a-z]+://(\[[^]]+\]|[^:/]+)", address.strip(), re.IGNORECASE)
    return match[1].lower() if match else ""


def make_plan(options: Options, evidence: Evidence) -> Plan:
    """Every step needed, in order, or the refusals that stop it."""
    mode, reason = decide_mode(options.vault_in_cluster, evidence.detection, options)
    steps: list[Step] = []
    refusals: list[Refusal] = []
    notes: list[str] = []
    _check_version(mode, evidence.vault_version, refusals, notes)
    _mount_steps(options, evidence, steps, refusals)
    if mode == IN_CLUSTER:
        _in_cluster_steps(options, evidence, steps, refusals, notes)
    else:
        _outside_steps(options, evidence, steps, refusals, notes)
    _policy_steps(options, evidence, steps)
    _role_steps(options, evidence, steps, notes)
    if options.healer is not None:
        access_steps, access_refusals = healer_steps(options.healer, options.mount_path, evidence.healer)
        steps += access_steps
        refusals += access_refusals
    return Plan(mode, reason, tuple(steps), tuple(refusals), tuple(notes))


def _check_version(mode: str, version_text: str, refusals: list[Refusal], notes: list[str]) -> None:
    version = parse_version(version_text)
    minimum = ".".join(map(str, MINIMUM_VERSION))
    if version is None:
        refusals.append(
            Refusal(
                f"Vault reports no version I can read ({version_text!r})",
                f"check that the address is a Vault server; vault-setup needs Vault >= {minimum}",
            )
        )
    elif version < MINIMUM_VERSION and mode == IN_CLUSTER:
        refusals.append(
            Refusal(
                f"Vault {version_text} is older than {minimum}: it reads its own service-account token once, "
                "when the config is written, and stores it, so the config dies with the Vault pod (the "
                "local token reload came with Vault 1.9.3)",
                f"upgrade Vault to {minimum} or later (1.10+ recommended), then run vault-setup again",
            )
        )
    elif version < MINIMUM_VERSION:
        notes.append(
            f"Vault {version_text} is older than {minimum}; that matters only for an in-cluster Vault's "
            "local token reload, not for the stored reviewer token of an outside Vault"
        )


def _mount_steps(options: Options, evidence: Evidence, steps: list[Step], refusals: list[Refusal]) -> None:
    path = options.mount_path
    existing = evidence.auth_mounts.get(f"{path}/")
    if existing is None:
        steps.append(
            Step(
                f"enable the Kubernetes auth method at auth/{path}/",
                "it is not enabled",
                VaultWrite(f"sys/auth/{path}", {"type": "kubernetes"}, sudo=True),
            )
        )
    elif existing != "kubernetes":
        refusals.append(
            Refusal(
                f"auth/{path}/ is a {existing!r} auth method, not kubernetes",
                "choose another mount with --mount, or disable that method first",
            )
        )


def _kept(config: Mapping[str, Any] | None) -> dict[str, Any]:
    current = config or {}
    return {name: current.get(name, CONFIG_DEFAULTS[name]) for name in KEPT_FIELDS}


def _current_host(options: Options, config: Mapping[str, Any] | None, default: str) -> str:
    if options.kubernetes_host:
        return options.kubernetes_host
    return str((config or {}).get("kubernetes_host") or default)


def _in_cluster_steps(
    options: Options, evidence: Evidence, steps: list[Step], refusals: list[Refusal], notes: list[str]
) -> None:
    account = f"{options.vault_namespace}/{options.vault_service_account}"
    _auth_delegator(options, evidence.vault_can_review, account, steps, refusals)
    config = evidence.config
    host = _current_host(options, config, DEFAULT_IN_CLUSTER_HOST)
    intended = in_cluster_config(config, host)
    reasons = _in_cluster_reasons(config, host)
    if not reasons:
        notes.append(
            f"auth/{options.mount_path}/config already has kubernetes_host {host} only: Vault reviews "
            "tokens with its own pod's token, re-read every minute"
        )
        return
    kept = ", ".join(
        f"{name}={intended[name]!r}" for name in KEPT_FIELDS if intended[name] != CONFIG_DEFAULTS[name]
    )
    why = "; ".join(reasons) + (f"; kept as set: {kept}" if kept else "")
    steps.append(
        Step(
            f"write auth/{options.mount_path}/config with kubernetes_host {host} only (no stored reviewer "
            "token, no stored CA)",
            why,
            VaultWrite(f"auth/{options.mount_path}/config", intended),
        )
    )


def in_cluster_config(config: Mapping[str, Any] | None, host: str | None = None) -> dict[str, Any]:
    """The whole config of a Vault in the cluster: `host` (else the current one, else the in-cluster
    Service), no stored reviewer token (absent, which clears one) and no stored CA, Vault's own pod
    token in use, and the fields set on purpose kept as read (a write resets what it leaves out)."""
    current = str((config or {}).get("kubernetes_host") or DEFAULT_IN_CLUSTER_HOST)
    return {
        "kubernetes_host": host or current,
        "kubernetes_ca_cert": "",
        "disable_local_ca_jwt": False,
        **_kept(config),
    }


def _in_cluster_reasons(config: Mapping[str, Any] | None, host: str) -> list[str]:
    if config is None:
        return ["the mount has no config yet"]
    reasons = []
    if config.get("token_reviewer_jwt_set"):
        reasons.append(
            "a reviewer token is stored (token_reviewer_jwt): a pod's bound token dies with its pod, and "
            "then every login fails with 403 permission denied; without it Vault uses its own pod's token, "
            "re-read every minute"
        )
    elif "token_reviewer_jwt_set" not in config:
        reasons.append(
            "this Vault does not say whether a reviewer token is stored (token_reviewer_jwt_set came with "
            "Vault 1.16); writing the config clears any"
        )
    if config.get("kubernetes_ca_cert"):
        reasons.append(
            "a CA is stored (kubernetes_ca_cert): it goes stale when the cluster CA rotates; without it "
            "Vault re-reads its pod's ca.crt every hour"
        )
    if config.get("disable_local_ca_jwt"):
        reasons.append("disable_local_ca_jwt is true, so Vault would not use its own pod's token and CA")
    if config.get("kubernetes_host") != host:
        reasons.append(f"kubernetes_host is {config.get('kubernetes_host')!r}, wanted {host}")
    return reasons


def _auth_delegator(
    options: Options,
    can_review: bool | None,
    account: str,
    steps: list[Step],
    refusals: list[Refusal],
    *,
    create_binding: bool = False,
) -> None:
    """The account must be allowed to create TokenReviews (`system:auth-delegator`)."""
    if can_review:
        return
    namespace, name = account.split("/", 1)
    binding = binding_name(namespace, name)
    if create_binding or options.grant_auth_delegator:
        steps.append(
            Step(
                f"bind service account {account} to ClusterRole {AUTH_DELEGATOR} "
                f"(ClusterRoleBinding {binding})",
                f"{account} may not create tokenreviews.authentication.k8s.io, so Vault's TokenReview calls "
                "would be refused and every login would fail",
                KubeCreate("ClusterRoleBinding", binding, auth_delegator_binding(binding, namespace, name)),
            )
        )
        return
    command = (
        f"kubectl create clusterrolebinding {binding} --clusterrole={AUTH_DELEGATOR} "
        f"--serviceaccount={namespace}:{name}"
    )
    may = f"create tokenreviews.authentication.k8s.io (the {AUTH_DELEGATOR} ClusterRole)"
    if can_review is None:
        refusals.append(
            Refusal(
                f"cannot check whether service account {account} may {may}: this Kubernetes identity may "
                "not create subjectaccessreviews.authorization.k8s.io",
                f"let it create subjectaccessreviews, or make sure of the binding: {command}   (or run "
                "again with --grant-auth-delegator)",
            )
        )
        return
    refusals.append(
        Refusal(
            f"service account {account} is not allowed to {may}: every Vault login would fail with 403 "
            "permission denied",
            f"{command}   (or run again with --grant-auth-delegator)",
        )
    )


def binding_name(namespace: str, service_account: str) -> str:
    return f"vaultinject-auth-delegator-{namespace}-{service_account}"


def auth_delegator_binding(name: str, namespace: str, service_account: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": MANAGED},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": AUTH_DELEGATOR},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }


def _outside_steps(
    options: Options, evidence: Evidence, steps: list[Step], refusals: list[Refusal], notes: list[str]
) -> None:
    reviewer = evidence.reviewer
    namespace, account = options.reviewer_namespace, options.reviewer_service_account
    secret = options.reviewer_secret
    if not reviewer.namespace_exists:
        steps.append(
            Step(
                f"create namespace {namespace}",
                "the reviewer service account lives there",
                create_namespace(namespace),
            )
        )
    if not reviewer.service_account_exists:
        steps.append(
            Step(
                f"create service account {namespace}/{account} for Vault's TokenReview calls",
                "Vault runs outside the cluster, so it has no pod token of its own: it needs a dedicated "
                "reviewer identity",
                create_service_account(namespace, account),
            )
        )
    if not reviewer.binding_exists:
        _auth_delegator(
            options, reviewer.can_review, f"{namespace}/{account}", steps, refusals, create_binding=True
        )
    if not reviewer.secret_exists:
        steps.append(
            Step(
                f"create Secret {namespace}/{secret} ({TOKEN_SECRET_TYPE}) holding a long-lived token of "
                f"{account}",
                "a token bound to a Secret lives until the Secret is deleted; a pod's bound token dies with "
                "its pod (and expires), which is the 403 outage this setup prevents",
                KubeCreate(
                    "Secret",
                    secret,
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "type": TOKEN_SECRET_TYPE,
                        "metadata": {
                            "name": secret,
                            "namespace": namespace,
                            "labels": MANAGED,
                            "annotations": {"kubernetes.io/service-account.name": account},
                        },
                    },
                    namespace,
                    wait_for_token=True,
                ),
            )
        )
    config = evidence.config
    host = _current_host(options, config, evidence.kube_server)
    ca = options.kubernetes_ca_pem or evidence.kube_ca_pem
    ca_value: str | FromSecret = ca if ca else FromSecret(namespace, secret, "ca.crt")
    reasons = _outside_reasons(config, host, ca, reviewer.secret_exists)
    if not reasons:
        notes.append(
            f"auth/{options.mount_path}/config already has a stored reviewer token, kubernetes_host "
            f"{host} and the cluster CA; Vault never returns the token, so vault-setup cannot tell whether "
            f"it is the one of Secret {namespace}/{secret} (delete that Secret and run again to store a "
            "fresh one)"
        )
        return
    intended: dict[str, Any] = {
        "kubernetes_host": host,
        "kubernetes_ca_cert": ca_value,
        "token_reviewer_jwt": FromSecret(namespace, secret, "token"),
        "disable_local_ca_jwt": bool((config or {}).get("disable_local_ca_jwt", False)),
        **_kept(config),
    }
    steps.append(
        Step(
            f"write auth/{options.mount_path}/config with kubernetes_host {host}, the cluster CA and the "
            f"token of Secret {namespace}/{secret} as token_reviewer_jwt",
            "; ".join(reasons),
            VaultWrite(f"auth/{options.mount_path}/config", intended),
        )
    )


def _outside_reasons(
    config: Mapping[str, Any] | None, host: str, ca: str | None, secret_existed: bool
) -> list[str]:
    if config is None:
        return ["the mount has no config yet"]
    reasons = []
    if not secret_existed:
        reasons.append("the reviewer token Secret is new, so Vault does not hold its token yet")
    if not config.get("token_reviewer_jwt_set"):
        reasons.append("no reviewer token is stored, and an outside Vault has no pod token to fall back on")
    if config.get("kubernetes_host") != host:
        reasons.append(f"kubernetes_host is {config.get('kubernetes_host')!r}, wanted {host}")
    if ca and _pem(config.get("kubernetes_ca_cert")) != _pem(ca):
        reasons.append("kubernetes_ca_cert is not the CA of the cluster in the kubeconfig")
    return reasons


def _pem(value: Any) -> str:
    return "\n".join(line.strip() for line in str(value or "").strip().splitlines() if line.strip())


def _policy_steps(options: Options, evidence: Evidence, steps: list[Step]) -> None:
    for policy in options.policies:
        current = evidence.policies.get(policy.name)
        if current is not None and current.strip() == policy.text.strip():
            continue
        state = "does not exist" if current is None else "differs from the requested text"
        steps.append(
            Step(
                f"write policy {policy.name} ({policy.source})",
                f"policy {policy.name} {state}",
                VaultWrite(
                    f"sys/policies/acl/{policy.name}",
                    {"policy": policy.text},
                    method="PUT",
                    capabilities=("create", "update"),
                ),
            )
        )


def _role_steps(options: Options, evidence: Evidence, steps: list[Step], notes: list[str]) -> None:
    for role in options.roles:
        body: dict[str, Any] = {
            "bound_service_account_names": list(role.service_accounts),
            "bound_service_account_namespaces": list(role.namespaces),
            "token_policies": list(role.policies),
        }
        if role.ttl is not None:
            body["token_ttl"] = role.ttl
        if role.audience is not None:
            body["audience"] = role.audience
        current = evidence.roles.get(role.name)
        changes = ["the role does not exist"] if current is None else differences(current, body)
        if not changes:
            continue
        bound = f"{','.join(role.namespaces)}/{','.join(role.service_accounts)}"
        steps.append(
            Step(
                f"write role {role.name} on auth/{options.mount_path}/ for service accounts {bound} with "
                f"policies {','.join(role.policies) or '(default only)'}",
                "; ".join(changes),
                VaultWrite(
                    f"auth/{options.mount_path}/role/{role.name}", body, capabilities=("create", "update")
                ),
            )
        )
        if role.audience is None:
            notes.append(
                f"role {role.name} has no audience: any token of the bound service accounts is accepted; "
                "--audience vault (with vaultinject.io/token-audience: vault on the pods) narrows it"
            )


def read_only_policy(role: str, paths: tuple[str, ...]) -> str:
    """A policy that reads `paths` (Vault API paths, globs allowed) and nothing else."""
    blocks = "".join(f'path "{path}" {{\n  capabilities = ["read"]\n}}\n' for path in paths)
    return f"# vaultinject vault-setup: read-only access for role {role}\n{blocks}"


# -- permissions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    path: str
    capabilities: tuple[str, ...]  # any one suffices
    sudo: bool = False
    why: str = ""

    def describe(self) -> str:
        wanted = " or ".join(self.capabilities) + (" and sudo" if self.sudo else "")
        return f"{wanted} on {self.path}"


def write_needs(plan: Plan) -> list[Need]:
    """The Vault capabilities the plan's writes need."""
    return [
        Need(step.action.path, step.action.capabilities, step.action.sudo, step.description)
        for step in plan.steps
        if isinstance(step.action, VaultWrite)
    ]


def missing(needs: list[Need], granted: Mapping[str, list[str]]) -> list[Refusal]:
    """A refusal per need the token's capabilities (`sys/capabilities-self`) do not meet."""
    refusals = []
    for need in needs:
        have = list(granted.get(need.path, []))
        if "root" in have:
            continue
        if "deny" in have or not set(have) & set(need.capabilities) or (need.sudo and "sudo" not in have):
            refusals.append(permission_refusal(need, have))
    return refusals


def permission_refusal(need: Need, have: list[str] | None, refused_by: str = "") -> Refusal:
    """What the token lacks (`have`: its capabilities on the path, None when unknown) and the fix."""
    shown = "" if have is None else f" (it has: {', '.join(sorted(have)) or 'none'})"
    wanted = json.dumps([need.capabilities[0], *(["sudo"] if need.sudo else [])])
    return Refusal(
        f"{refused_by}the Vault token may not {need.why or 'write ' + need.path}: it needs "
        f"{need.describe()}{shown}",
        f'add to the token\'s policy: path "{need.path}" {{ capabilities = {wanted} }}',
    )


# -- rendering ----------------------------------------------------------------------------------


def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "mode": plan.mode,
        "mode_reason": plan.mode_reason,
        "steps": [
            {"description": s.description, "why": s.why, "action": action_json(s.action)} for s in plan.steps
        ],
        "refusals": [{"cause": r.cause, "fix": r.fix} for r in plan.refusals],
        "notes": list(plan.notes),
    }
