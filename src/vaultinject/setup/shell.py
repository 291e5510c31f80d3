"""The thin shell around `plan`: gather the evidence from Vault and Kubernetes, check the token's
permissions, and apply the steps. Every refusal or failure is a `SetupError` whose message names the
cause and the fix, with every secret this run handled scrubbed out."""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightkube.config.kubeconfig import SingleConfig
from lightkube.models.authorization_v1 import ResourceAttributes, SubjectAccessReviewSpec
from lightkube.resources.authorization_v1 import SubjectAccessReview
from lightkube.resources.core_v1 import Namespace, Pod, Secret, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import ClusterRoleBinding

from vaultinject import kube as k8s
from vaultinject.kube.oidc import signing_keys
from vaultinject.setup import plan as planning
from vaultinject.setup.actions import FromSecret, KubeCreate, Refusal, Step, VaultWrite
from vaultinject.setup.healer_access import HealerAccess, HealerEvidence
from vaultinject.setup.plan import (
    Detection,
    Evidence,
    Need,
    Options,
    Plan,
    Reviewer,
)
from vaultinject.vault.client import VaultClient
from vaultinject.vault.errors import NotFound, PermissionDenied, VaultError

KINDS: dict[str, Any] = {
    "Namespace": Namespace,
    "ServiceAccount": ServiceAccount,
    "Secret": Secret,
    "ClusterRoleBinding": ClusterRoleBinding,
}
TOKEN_WAIT_SECONDS = 15.0


class SetupError(Exception):
    """vault-setup refused or failed; `refusals` holds each cause with its fix."""

    def __init__(self, refusals: list[Refusal]) -> None:
        super().__init__("; ".join(r.cause for r in refusals))
        self.refusals = refusals


class Secrets:
    """Every secret value this run has seen, to scrub from whatever it prints."""

    def __init__(self, *values: str) -> None:
        self.values = {value for value in values if len(value) >= 4}

    def add(self, value: str) -> None:
        if len(value) >= 4:
            self.values.add(value)

    def scrub(self, text: str) -> str:
        for value in sorted(self.values, key=len, reverse=True):
            text = text.replace(value, "[redacted]")
        return text


def _refuse(cause: str, fix: str) -> SetupError:
    return SetupError([Refusal(cause, fix)])


def _kube_failed(what: str, error: k8s.KubeError) -> SetupError:
    return _refuse(
        f"cannot {what}: {error.message}",
        "check the kubeconfig (--kubeconfig, KUBECONFIG) or the in-cluster service account, and that the "
        "API server is reachable",
    )


# -- Vault ---------------------------------------------------------------------------------------


class VaultSide:
    """The Vault calls of vault-setup, each 403 turned into a refusal that names the path and permission."""

    def __init__(self, client: VaultClient) -> None:
        self.client = client
        self.granted: dict[str, list[str]] | None = None

    def version(self) -> str:
        try:
            status = self.client.request("GET", "sys/seal-status", authenticated=False) or {}
        except VaultError as error:
            raise _refuse(f"cannot read Vault's version from sys/seal-status: {error}", error.hint) from None
        if status.get("sealed"):
            raise _refuse(
                f"Vault at {self.client.address} is sealed", "unseal Vault, then run vault-setup again"
            )
        return str(status.get("version") or "")

    def load_capabilities(self, paths: list[str]) -> None:
        """What the token may do on `paths`; unknown (None) if it may not even ask."""
        try:
            body = self.client.write("sys/capabilities-self", {"paths": paths}) or {}
        except VaultError:
            self.granted = None
            return
        data = body.get("data") or body
        self.granted = {path: list(data.get(path) or []) for path in paths}

    def check(self, needs: list[Need]) -> list[Refusal]:
        return [] if self.granted is None else planning.missing(needs, self.granted)

    def read(self, path: str, why: str) -> dict[str, Any] | None:
        """GET a path's `data`; None when there is nothing there."""
        refusals = self.check([Need(path, ("read",), why=f"read {path} ({why})")])
        if refusals:
            raise SetupError(refusals)
        try:
            body = self.client.read(path)
        except NotFound:
            return None
        except PermissionDenied:
            need = Need(path, ("read",), why=f"read {path} ({why})")
            raise SetupError([planning.permission_refusal(need, None, "Vault answered 403: ")]) from None
        except VaultError as error:
            raise _refuse(f"reading {path} failed: {error}", error.hint) from None
        data = body.get("data")
        return data if isinstance(data, dict) else None

    def write(self, action: VaultWrite, body: dict[str, Any]) -> None:
        try:
            self.client.request(action.method, action.path, body)
        except PermissionDenied as error:
            need = Need(action.path, action.capabilities, action.sudo, f"write {action.path}")
            refused_by = f"Vault refused {action.method} {action.path} ({error.status}): "
            raise SetupError([planning.permission_refusal(need, None, refused_by)]) from None
        except VaultError as error:
            raise _refuse(f"{action.method} {action.path} failed: {error}", error.hint) from None


def vault_read_paths(options: Options) -> list[str]:
    mount = options.mount_path
    paths = ["sys/auth", f"sys/auth/{mount}", f"auth/{mount}/config"]
    paths += [f"auth/{mount}/role/{role.name}" for role in options.roles]
    paths += [f"sys/policies/acl/{policy.name}" for policy in options.policies]
    if (access := options.healer) is not None:
        jwt = access.jwt_mount.strip("/")
        paths += [
            f"sys/policies/acl/{access.policy}",
            f"auth/{jwt}/config",
            f"auth/{jwt}/role/{access.healer_role}",
        ]
        paths += [f"auth/{mount}/role/{access.canary_role}"]
    return paths


def _auth_mounts(vault: VaultSide) -> dict[str, str]:
    data = vault.read("sys/auth", "to see whether the Kubernetes auth method is enabled") or {}
    return {path: str(entry.get("type", "")) for path, entry in data.items() if isinstance(entry, dict)}


# -- Kubernetes ----------------------------------------------------------------------------------


async def _vault_pods(kube: k8s.Kube, options: Options) -> tuple[tuple[str, ...] | None, str]:
    key, value = planning.VAULT_POD_LABEL.split("=")
    try:
        pods, _ = await kube.list(Pod, options.vault_namespace, labels={key: value})
    except k8s.Forbidden as error:
        return None, error.message
    except k8s.KubeError as error:
        raise _kube_failed("list the pods of Vault's namespace", error) from None
    names = sorted(
        pod.metadata.name
        for pod in pods
        if pod.metadata is not None
        and pod.metadata.name
        and pod.spec is not None
        and (pod.spec.serviceAccountName or "default") == options.vault_service_account
    )
    return tuple(names), ""


async def can_review(kube: k8s.Kube, namespace: str, service_account: str) -> bool | None:
    """A SubjectAccessReview: may this service account create TokenReviews? None if we may not ask."""
    review = SubjectAccessReview(
        spec=SubjectAccessReviewSpec(
            user=f"system:serviceaccount:{namespace}:{service_account}",
            groups=["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
            resourceAttributes=ResourceAttributes(
                group="authentication.k8s.io", resource="tokenreviews", verb="create"
            ),
        )
    )
    try:
        answer = await kube.create(review)
    except k8s.Forbidden:
        return None
    except k8s.KubeError as error:
        raise _kube_failed("create a SubjectAccessReview", error) from None
    return bool(answer.status and answer.status.allowed)


async def _exists(kube: k8s.Kube, kind: type[Any], name: str, namespace: str | None = None) -> bool:
    try:
        await kube.get(kind, name, namespace)
    except k8s.NotFound:
        return False
    return True


async def _reviewer(kube: k8s.Kube, options: Options) -> Reviewer:
    namespace, account = options.reviewer_namespace, options.reviewer_service_account
    try:
        return Reviewer(
            namespace_exists=await _exists(kube, Namespace, namespace),
            service_account_exists=await _exists(kube, ServiceAccount, account, namespace),
            secret_exists=await _exists(kube, Secret, options.reviewer_secret, namespace),
            binding_exists=await _exists(kube, ClusterRoleBinding, planning.binding_name(namespace, account)),
            can_review=await can_review(kube, namespace, account),
        )
    except k8s.KubeError as error:
        raise _refuse(
            f"cannot look up the reviewer service account {namespace}/{account}: {error.message}",
            "the Kubernetes identity needs get on namespaces, serviceaccounts, secrets and "
            "clusterrolebindings",
        ) from None


def kube_ca_pem(config: SingleConfig) -> str | None:
    """The CA the kubeconfig trusts the API server with, as PEM; None for the system trust store."""
    cluster = config.cluster
    if cluster.certificate_auth_data:
        try:
            return base64.b64decode(cluster.certificate_auth_data).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
    if cluster.certificate_auth:
        path = Path(cluster.certificate_auth)
        if not path.is_absolute() and config.fname is not None:
            path = Path(config.fname).parent / path
        try:
            return path.read_text()
        except OSError:
            return None
    return None


# -- gathering and applying ------------------------------------------------------------------------


async def gather(vault: VaultSide, kube: k8s.Kube, options: Options) -> Evidence:
    """Everything the plan needs to know, read from Vault and the cluster (nothing is written)."""
    version = vault.version()
    vault.load_capabilities(vault_read_paths(options))
    mounts = _auth_mounts(vault)
    mount = options.mount_path
    config = None
    mounted = mounts.get(f"{mount}/") == "kubernetes"
    if mounted:
        config = vault.read(f"auth/{mount}/config", "to keep the fields set on purpose")
    pods, reason = (None, "") if options.vault_in_cluster is not None else await _vault_pods(kube, options)
    detection = Detection(vault.client.address, pods, reason)
    mode, _ = planning.decide_mode(options.vault_in_cluster, detection, options)
    evidence = Evidence(
        vault_version=version,
        detection=detection,
        auth_mounts=mounts,
        config=config,
        kube_server=kube.config.cluster.server,
        kube_ca_pem=kube_ca_pem(kube.config),
        roles={r.name: _role(vault, mount, r.name) if mounted else None for r in options.roles},
        policies={p.name: _policy(vault, p.name) for p in options.policies},
    )
    if options.healer is not None:
        healer = await _healer_evidence(vault, kube, options, mounts)
        evidence = dataclasses.replace(evidence, healer=healer)
    if mode == planning.IN_CLUSTER:
        allowed = await can_review(kube, options.vault_namespace, options.vault_service_account)
        return dataclasses.replace(evidence, vault_can_review=allowed)
    return dataclasses.replace(evidence, reviewer=await _reviewer(kube, options))


async def _healer_evidence(
    vault: VaultSide, kube: k8s.Kube, options: Options, mounts: dict[str, str]
) -> HealerEvidence:
    access = options.healer or HealerAccess()
    mount, jwt = options.mount_path, access.jwt_mount.strip("/")
    mounted = mounts.get(f"{mount}/") == "kubernetes"
    jwt_mounted = mounts.get(f"{jwt}/") == "jwt"
    keys = await signing_keys(kube)
    try:
        namespace_exists = await _exists(kube, Namespace, access.namespace)
        account_exists = namespace_exists and await _exists(
            kube, ServiceAccount, access.canary_service_account, access.namespace
        )
    except k8s.KubeError as error:
        raise _kube_failed(
            f"look up service account {access.namespace}/{access.canary_service_account}", error
        ) from None
    return HealerEvidence(
        issuer=keys.issuer,
        signing_keys=keys.pems,
        keys_error=keys.error,
        policy=_policy(vault, access.policy),
        jwt_config=vault.read(f"auth/{jwt}/config", "to compare the healer's login keys")
        if jwt_mounted
        else None,
        healer_role=_role(vault, jwt, access.healer_role) if jwt_mounted else None,
        canary_role=_role(vault, mount, access.canary_role) if mounted else None,
        namespace_exists=namespace_exists,
        canary_account_exists=account_exists,
        auth_mounts=mounts,
    )


def _role(vault: VaultSide, mount: str, name: str) -> dict[str, Any] | None:
    return vault.read(f"auth/{mount}/role/{name}", f"to compare role {name}")


def _policy(vault: VaultSide, name: str) -> str | None:
    data = vault.read(f"sys/policies/acl/{name}", f"to compare policy {name}")
    return None if data is None else str(data.get("policy", ""))


def check_permissions(vault: VaultSide, plan: Plan) -> Plan:
    """The plan with a refusal for every write the token may not make."""
    needs = planning.write_needs(plan)
    paths = [need.path for need in needs]
    if paths:
        vault.load_capabilities(paths)
    refusals = vault.check(needs)
    if not refusals:
        return plan
    return dataclasses.replace(plan, refusals=(*plan.refusals, *refusals))


async def apply(
    plan: Plan, vault: VaultSide, kube: k8s.Kube, secrets: Secrets, progress: Callable[[str], None]
) -> None:
    """Run every step in order; the first failure stops the run (a second run resumes where it stopped)."""
    total = len(plan.steps)
    for number, step in enumerate(plan.steps, 1):
        progress(f"[{number}/{total}] {step.description} ...")
        await _apply_step(step, vault, kube, secrets)
        progress(f"[{number}/{total}] done")


async def _apply_step(step: Step, vault: VaultSide, kube: k8s.Kube, secrets: Secrets) -> None:
    action = step.action
    if isinstance(action, VaultWrite):
        body = {key: await _resolve(value, kube, secrets) for key, value in action.body.items()}
        vault.write(action, body)
        return
    await _create(action, kube)


async def _create(action: KubeCreate, kube: k8s.Kube) -> None:
    resource = KINDS[action.kind]
    try:
        await kube.create(resource.from_dict(dict(action.body)), action.namespace)
    except k8s.AlreadyExists:
        pass  # made meanwhile: what the step wanted
    except k8s.KubeError as error:
        raise _refuse(
            f"Kubernetes refused to {action.describe()}: {error.message}",
            f"the Kubernetes identity needs create on {action.kind.lower()}s",
        ) from None
    if action.wait_for_token:
        await _token_of(kube, action.namespace or "", action.name, "token")


async def _token_of(kube: k8s.Kube, namespace: str, name: str, key: str) -> str:
    """`data[key]` of a Secret, waiting for the token controller to fill a fresh token Secret."""
    deadline = asyncio.get_running_loop().time() + TOKEN_WAIT_SECONDS
    while True:
        try:
            secret = await kube.get(Secret, name, namespace)
        except k8s.KubeError as error:
            raise _refuse(
                f"cannot read Secret {namespace}/{name}: {error.message}",
                "the Kubernetes identity needs get on secrets in that namespace",
            ) from None
        value = (secret.data or {}).get(key)
        if value:
            return base64.b64decode(value).decode()
        if asyncio.get_running_loop().time() > deadline:
            raise _refuse(
                f"Secret {namespace}/{name} has no {key} after {TOKEN_WAIT_SECONDS:.0f} s",
                "check that the cluster's token controller runs (kube-controller-manager) and that the "
                "Secret's kubernetes.io/service-account.name annotation names an existing service account",
            )
        await asyncio.sleep(0.2)


async def _resolve(value: Any, kube: k8s.Kube, secrets: Secrets) -> Any:
    if not isinstance(value, FromSecret):
        return value
    resolved = await _token_of(kube, value.namespace, value.name, value.key)
    if value.key == "token":
        secrets.add(resolved)
    return resolved
