"""Vault as a workload of the lab cluster: vault-helm's objects in HA mode, and bringing them up.

`manifests()` is what `lab up --vault` applies and `lab vault-manifests` prints: a StatefulSet `vault`
(image `vaultinject`, its command the lab Vault server) in namespace `vault`, its Services `vault`,
`vault-active`, `vault-standby` and `vault-internal` as vault-helm defines them (publishNotReadyAddresses,
the `vault-active` label selector), its service account with the Role that lets Vault label its own pod,
and the `system:auth-delegator` binding vault-helm creates so Vault may review tokens. Kubernetes auth is
left unconfigured, as in a fresh Vault.

The replicas share one storage directory (the claim `vault-storage`), the lab's stand-in for Raft, which
gives every replica every write at once; each replica keeps its own audit log on its per-ordinal claim
`data-vault-<n>`. The serving certificate (Secret `vault-tls`) comes from a lab CA made for this lab.
"""

from __future__ import annotations

import base64
from typing import Any

JSON = dict[str, Any]

NAMESPACE = "vault"
NAME = "vault"
PORT = 8200
CLUSTER_PORT = 8201
TLS_SECRET = "vault-tls"
STORAGE_CLAIM = "vault-storage"
SELECTOR = {"app.kubernetes.io/name": "vault", "app.kubernetes.io/instance": "vault", "component": "server"}
SERVICES = ("vault", "vault-active", "vault-standby", "vault-internal")
ROLE_SELECTORS = {"vault-active": {"vault-active": "true"}, "vault-standby": {"vault-active": "false"}}


def manifests(replicas: int = 2, auto_unseal: bool = True) -> list[JSON]:
    """Every object of the lab's Vault except its TLS Secret, in the order they are applied."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME)},
        _role(),
        _role_binding(),
        _auth_delegator_binding(),
        *(_service(name) for name in SERVICES),
        _stateful_set(replicas, auto_unseal),
    ]


def tls_secret(cert_pem: bytes, key_pem: bytes, ca_pem: bytes) -> JSON:
    """The serving certificate, its key and the CA that issued it, as vault-helm's TLS guide stores them."""
    data = {"tls.crt": cert_pem, "tls.key": key_pem, "ca.crt": ca_pem}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(TLS_SECRET),
        "type": "kubernetes.io/tls",
        "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
    }


def server_names(cluster_ips: list[str]) -> list[str]:
    """What the serving certificate covers: every Service's DNS names, each replica's, and their IPs."""
    names = ["127.0.0.1", *cluster_ips]
    for service in SERVICES:
        names += [service, f"{service}.{NAMESPACE}", f"{service}.{NAMESPACE}.svc"]
        names.append(f"{service}.{NAMESPACE}.svc.cluster.local")
    names.append(f"*.vault-internal.{NAMESPACE}.svc.cluster.local")
    return names


def _meta(name: str, **labels: str) -> JSON:
    meta: JSON = {"name": name, "namespace": NAMESPACE}
    if labels:
        meta["labels"] = labels
    return meta


def _role() -> JSON:
    # vault-helm's discovery Role: Kubernetes service registration patches the pod's labels.
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch", "list", "update", "patch"]}]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta("vault-discovery-role"),
        "rules": rules,
    }


def _role_binding() -> JSON:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta("vault-discovery-rolebinding"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "vault-discovery-role"},
        "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}],
    }


def _auth_delegator_binding() -> JSON:
    role = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "vault-server-binding"},
        "roleRef": role,
        "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}],
    }


def _service(name: str) -> JSON:
    """vault-helm's Services: `-active` and `-standby` select on the label Vault writes on its pod."""
    role = ROLE_SELECTORS.get(name, {})
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "vault"}
    labels |= role if name == "vault-active" else {}
    spec: JSON = {
        "publishNotReadyAddresses": True,
        "ports": [
            {"name": "https", "port": PORT, "targetPort": PORT},
            {"name": "https-internal", "port": CLUSTER_PORT, "targetPort": CLUSTER_PORT},
        ],
        "selector": SELECTOR | role,
    }
    if name == "vault-internal":
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, **labels), "spec": spec}


def _server_command(auto_unseal: bool) -> list[str]:
    command = [
        "vaultinject", "lab", "vault", "--listen", f"$(POD_IP):{PORT}", "--ha",
        "--tls-cert", "/vault/tls/tls.crt", "--tls-key", "/vault/tls/tls.key",
        "--ca-cert", "/vault/tls/ca.crt", "--data-dir", "/vault/storage",
    ]  # fmt: skip
    return [*command, "--auto-unseal"] if auto_unseal else command


def _stateful_set(replicas: int, auto_unseal: bool) -> JSON:
    env = [
        _field_env("POD_IP", "status.podIP"),
        _field_env("VAULT_K8S_POD_NAME", "metadata.name"),
        _field_env("VAULT_K8S_NAMESPACE", "metadata.namespace"),
        {"name": "VAULT_API_ADDR", "value": f"https://$(POD_IP):{PORT}"},
        {
            "name": "VAULT_CLUSTER_ADDR",
            "value": f"https://$(VAULT_K8S_POD_NAME).vault-internal:{CLUSTER_PORT}",
        },
    ]
    container = {
        "name": "vault",
        "image": "vaultinject",
        "command": _server_command(auto_unseal),
        "env": env,
        "ports": [
            {"name": "https", "containerPort": PORT},
            {"name": "https-internal", "containerPort": CLUSTER_PORT},
        ],
        # vault-helm's readinessProbe.path form: standbys are Ready, sealed or uninitialized nodes are not.
        "readinessProbe": {
            "httpGet": {"path": "/v1/sys/health?standbyok=true", "port": PORT, "scheme": "HTTPS"},
            "periodSeconds": 2,
            "failureThreshold": 2,
            "timeoutSeconds": 3,
        },
        "volumeMounts": [
            {"name": "tls", "mountPath": "/vault/tls", "readOnly": True},
            {"name": "storage", "mountPath": "/vault/storage"},
            {"name": "data", "mountPath": "/vault/data"},
        ],
    }
    pod_spec = {
        "serviceAccountName": NAME,
        "terminationGracePeriodSeconds": 10,
        "containers": [container],
        "volumes": [
            {"name": "tls", "secret": {"secretName": TLS_SECRET, "defaultMode": 0o400}},
            # ReadWriteMany in the lab: the replicas' shared storage, standing in for Raft replication.
            {"name": "storage", "persistentVolumeClaim": {"claimName": STORAGE_CLAIM}},
        ],
    }
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta(NAME, **SELECTOR),
        "spec": {
            "serviceName": "vault-internal",
            "podManagementPolicy": "Parallel",
            "replicas": replicas,
            "updateStrategy": {"type": "OnDelete"},
            "selector": {"matchLabels": SELECTOR},
            "template": {"metadata": {"labels": dict(SELECTOR)}, "spec": pod_spec},
            "volumeClaimTemplates": [claim],
        },
    }


def _field_env(name: str, path: str) -> JSON:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}
