"""The built-in admission plugins vaultinject depends on: NamespaceLifecycle, ServiceAccount and
DefaultTolerationSeconds.

They run before the mutating webhooks, as in a real API server, so a webhook sees the
`kube-api-access-*` projected token volume and its mounts, and the default tolerations. Like their
Kubernetes counterparts they act on pods only, never on the pod templates of workloads."""

from __future__ import annotations

import secrets
from typing import Any

from vaultinject.lab.kube.resources import ResourceType
from vaultinject.lab.kube.status import GroupResource, forbidden, not_found
from vaultinject.lab.kube.store import Store

JSON = dict[str, Any]
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def random_suffix(length: int = 5) -> str:
    """The random part of a generated name, from the API server's alphabet."""
    return "".join(secrets.choice(_NAME_ALPHABET) for _ in range(length))


def admission_name(obj: JSON) -> str:
    """The name admission errors use before name generation: the name, else generateName, else Unknown."""
    metadata = obj.get("metadata") or {}
    return str(metadata.get("name") or metadata.get("generateName") or "Unknown")


def namespace_lifecycle(store: Store, rt: ResourceType, namespace: str, obj: JSON) -> None:
    """Refuse new objects in a namespace that is missing or being deleted."""
    if not rt.namespaced:
        return
    current = store.get("namespaces", "", namespace)
    if current is None:
        raise not_found(GroupResource("", "namespaces"), namespace)
    if current["metadata"].get("deletionTimestamp"):
        error = forbidden(
            rt.group_resource,
            admission_name(obj),
            f"unable to create new content in namespace {namespace} because it is being terminated",
        )
        assert error.details is not None
        error.details["causes"] = [
            {
                "reason": "NamespaceTerminating",
                "message": f"namespace {namespace} is being terminated",
                "field": "metadata.namespace",
            }
        ]
        raise error


def service_account(store: Store, pod: JSON) -> None:
    """Default the pod's service account, require it to exist, and project its token (automount)."""
    spec = pod.setdefault("spec", {})
    namespace = pod["metadata"].get("namespace", "")
    name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = spec["serviceAccount"] = name
    account = store.get("serviceaccounts", namespace, name)
    if account is None:
        raise forbidden(
            GroupResource("", "pods"),
            admission_name(pod),
            f'error looking up service account {namespace}/{name}: serviceaccount "{name}" not found',
        )
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = account.get("automountServiceAccountToken", True)
    if automount is not False:
        _project_token(spec)


def _mounts_token(container: JSON) -> bool:
    return any(m.get("mountPath") == TOKEN_MOUNT_PATH for m in container.get("volumeMounts") or [])


def _project_token(spec: JSON) -> None:
    containers = [
        c for kind in ("initContainers", "containers") for c in spec.get(kind) or [] if isinstance(c, dict)
    ]
    if all(_mounts_token(c) for c in containers):
        return
    volume_name = f"kube-api-access-{random_suffix()}"
    spec.setdefault("volumes", []).append(
        {
            "name": volume_name,
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {
                        "configMap": {
                            "name": "kube-root-ca.crt",
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                        }
                    },
                    {
                        "downwardAPI": {
                            "items": [
                                {
                                    "path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                }
                            ]
                        }
                    },
                ],
                "defaultMode": 420,
            },
        }
    )
    for container in containers:
        if not _mounts_token(container):
            container.setdefault("volumeMounts", []).append(
                {"name": volume_name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH}
            )


# plugin/pkg/admission/defaulttolerationseconds: --default-not-ready-toleration-seconds and
# --default-unreachable-toleration-seconds, both 300 unless the server is told otherwise.
_DEFAULT_TOLERATION_SECONDS = 300
_NOT_READY = "node.kubernetes.io/not-ready"
_UNREACHABLE = "node.kubernetes.io/unreachable"


def _tolerates(tolerations: list[Any], taint_key: str) -> bool:
    """Whether a toleration covers the NoExecute taint: an empty key or an empty effect covers too."""
    return any(
        isinstance(t, dict)
        and t.get("key") in (taint_key, "", None)
        and t.get("effect") in ("NoExecute", "", None)
        for t in tolerations
    )


def default_toleration_seconds(
    pod: JSON,
    not_ready: int = _DEFAULT_TOLERATION_SECONDS,
    unreachable: int = _DEFAULT_TOLERATION_SECONDS,
) -> None:
    """Let the pod ride out a not-ready or unreachable node (300 s by default), unless it already
    tolerates that."""
    spec = pod.setdefault("spec", {})
    if not isinstance(spec.get("tolerations"), list):
        spec["tolerations"] = []
    tolerations = spec["tolerations"]
    for taint_key, seconds in ((_NOT_READY, not_ready), (_UNREACHABLE, unreachable)):
        if not _tolerates(tolerations, taint_key):
            tolerations.append(
                {
                    "key": taint_key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": seconds,
                }
            )
