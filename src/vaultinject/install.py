"""The manifests that install the webhook: `vaultinject install` prints them for `kubectl apply -f -`.

Pure: options in, Kubernetes objects out. Every permission carries the reason it is needed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from vaultinject.spec.settings import DEFAULT_IMAGE

Json = dict[str, Any]
NAME = "vaultinject"
SECRET = "vaultinject-webhook-tls"
PORT = 8443
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "webhook"}
INJECT_LABEL = "vaultinject.io/inject"
TIMEOUT_SECONDS = 10  # the API server waits this long; the webhook decides within 8 s (--deadline)


class InstallOptions(NamedTuple):
    namespace: str = NAME
    image: str = DEFAULT_IMAGE
    replicas: int = 2
    vault_addr: str = "https://vault.vault.svc:8200"
    tls: str = "auto"  # or "files": a Secret `vaultinject-webhook-tls` from cert-manager or any issuer
    opt_out: bool = False  # inject in every namespace not labelled disabled, instead of only enabled ones
    vault_cacert_pem: str = ""  # the CA bundle agents trust for Vault (empty: the system's)


class Rule(NamedTuple):
    why: str
    rule: Json


def manifests(options: InstallOptions) -> list[tuple[Json, list[str]]]:
    """Every object, each with the comments to print before its RBAC rules (in order)."""
    namespace_rules = _namespace_rules(options)
    cluster_rules = _cluster_rules(options)
    objects: list[tuple[Json, list[str]]] = [
        (_namespace(options), []),
        (_object("v1", "ServiceAccount", options, automountServiceAccountToken=True), []),
    ]
    if namespace_rules:
        objects += [
            (
                _object(
                    "rbac.authorization.k8s.io/v1", "Role", options, rules=[r.rule for r in namespace_rules]
                ),
                [r.why for r in namespace_rules],
            ),
            (_binding("RoleBinding", "Role", options), []),
        ]
    if cluster_rules:
        objects += [
            (
                _cluster_role(cluster_rules),
                [r.why for r in cluster_rules],
            ),
            (_binding("ClusterRoleBinding", "ClusterRole", options), []),
        ]
    objects += [
        (_deployment(options), []),
        (_disruption_budget(options), []),
        (_service(options), []),
        (_webhook_configuration(options), []),
    ]
    return objects


def _namespace_rules(options: InstallOptions) -> list[Rule]:
    if options.tls != "auto":
        return []
    return [
        Rule(
            "create the Secret holding the webhook's CA and serving certificate (create cannot name it)",
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
        ),
        Rule(
            "read and renew that Secret, and no other",
            {
                "apiGroups": [""],
                "resources": ["secrets"],
                "resourceNames": [SECRET],
                "verbs": ["get", "update"],
            },
        ),
        Rule(
            "create the Lease that elects the one replica that renews certificates",
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        ),
        Rule(
            "hold and renew that Lease, and no other",
            {
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "resourceNames": [f"{SECRET}-leader"],
                "verbs": ["get", "update"],
            },
        ),
    ]


def _cluster_rules(options: InstallOptions) -> list[Rule]:
    if options.tls != "auto":
        return []
    return [
        Rule(
            "publish the CA bundle to our own webhook configuration, and no other",
            {
                "apiGroups": ["admissionregistration.k8s.io"],
                "resources": ["mutatingwebhookconfigurations"],
                "resourceNames": [NAME],
                "verbs": ["get", "update"],
            },
        ),
    ]


def _meta(options: InstallOptions, name: str = NAME) -> Json:
    return {"name": name, "namespace": options.namespace, "labels": dict(LABELS)}


def _object(api_version: str, kind: str, options: InstallOptions, **fields: Any) -> Json:
    return {"apiVersion": api_version, "kind": kind, "metadata": _meta(options), **fields}


def _cluster_object(kind: str, **fields: Any) -> Json:
    metadata = {"name": NAME, "labels": dict(LABELS)}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": metadata, **fields}


def _cluster_role(rules: list[Rule]) -> Json:
    role = _cluster_object("ClusterRole", rules=[r.rule for r in rules])
    role["metadata"]["annotations"] = _skips(CLUSTER_ROLE_SKIPS)
    return role


def _namespace(options: InstallOptions) -> Json:
    labels = {
        **LABELS,
        INJECT_LABEL: "disabled",  # the webhook never injects its own pods
        "pod-security.kubernetes.io/enforce": "restricted",
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": options.namespace, "labels": labels},
    }


def _binding(kind: str, role_kind: str, options: InstallOptions) -> Json:
    subject = {"kind": "ServiceAccount", "name": NAME, "namespace": options.namespace}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": _meta(options) if kind == "RoleBinding" else {"name": NAME, "labels": dict(LABELS)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": NAME},
        "subjects": [subject],
    }


def _args(options: InstallOptions) -> list[str]:
    # The pod's own IP, where the API server, the Service and the kubelet's probes reach the webhook.
    args = ["webhook", "--listen", f"$(POD_IP):{PORT}", "--tls", options.tls]
    if options.tls == "files":
        certs = "/etc/vaultinject/tls"
        args += [
            "--tls-cert-file",
            f"{certs}/tls.crt",
            "--tls-key-file",
            f"{certs}/tls.key",
            "--tls-ca-file",
            f"{certs}/ca.crt",
        ]
    else:
        args += ["--tls-hosts", ",".join(_service_names(options))]
    return args


def _service_names(options: InstallOptions) -> list[str]:
    base = f"{NAME}.{options.namespace}"
    return [f"{base}.svc", base, f"{base}.svc.cluster.local"]


# Checks of checkov's Kubernetes framework this install fails on purpose, each with the reason.
DEPLOYMENT_SKIPS = {
    "CKV_K8S_11": "no CPU limit: it would throttle TLS handshakes at admission peaks; CPU is requested",
    "CKV_K8S_15": "IfNotPresent: a registry outage must not stop webhook pods restarting (pods wait on them)",
    "CKV_K8S_38": "the token is needed: the webhook reads the cluster version, and with automatic TLS its "
    "Secret, Lease and webhook configuration",
    "CKV_K8S_43": "the default image is a release tag; pass --image repository@sha256:... to pin a digest",
    "CKV2_K8S_6": "the API server's source addresses differ per cluster: add a NetworkPolicy for yours",
}
CLUSTER_ROLE_SKIPS = {
    "CKV_K8S_155": "automatic TLS must write its CA bundle into the webhook configuration; the rule names "
    "only vaultinject's own configuration",
}


def _skips(checks: dict[str, str]) -> Json:
    return {f"checkov.io/skip{i}": f"{check}={why}" for i, (check, why) in enumerate(checks.items(), 1)}


def _deployment(options: InstallOptions) -> Json:
    probe: Json = {"httpGet": {"path": "/readyz", "port": "https", "scheme": "HTTPS"}, "periodSeconds": 5}
    env = [
        {"name": "VAULTINJECT_VAULT_ADDR", "value": options.vault_addr},
        *(
            [{"name": "VAULTINJECT_VAULT_CACERT_BYTES", "value": options.vault_cacert_pem}]
            if options.vault_cacert_pem
            else []
        ),
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]
    container: Json = {
        "name": "webhook",
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "args": _args(options),
        "env": env,
        "ports": [{"name": "https", "containerPort": PORT}],
        "readinessProbe": {**probe, "failureThreshold": 2},
        "livenessProbe": {
            **probe,
            "httpGet": {**probe["httpGet"], "path": "/healthz"},
            "failureThreshold": 3,
        },
        "startupProbe": {**probe, "periodSeconds": 2, "failureThreshold": 30},
        # measured by bench/webhook.py: 60 MiB resident under load, 4,000 distinct reviews/s from one process
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # the only writable path: ssl loads key material from files, for the moment of loading it
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
    }
    volumes: list[Json] = [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}]
    if options.tls == "files":
        container["volumeMounts"].append(
            {"name": "tls", "mountPath": "/etc/vaultinject/tls", "readOnly": True}
        )
        volumes.append({"name": "tls", "secret": {"secretName": SECRET, "defaultMode": 0o440}})
    spread = {
        "weight": 100,
        "podAffinityTerm": {
            "topologyKey": "kubernetes.io/hostname",
            "labelSelector": {"matchLabels": dict(LABELS)},
        },
    }
    pod_spec = {
        "serviceAccountName": NAME,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [spread]}},
        "containers": [container],
        "volumes": volumes,
    }
    spec = {
        "replicas": options.replicas,
        "selector": {"matchLabels": dict(LABELS)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {"metadata": {"labels": dict(LABELS)}, "spec": pod_spec},
    }
    metadata = {**_meta(options), "annotations": _skips(DEPLOYMENT_SKIPS)}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}


def _disruption_budget(options: InstallOptions) -> Json:
    spec = {"maxUnavailable": 1, "selector": {"matchLabels": dict(LABELS)}}
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(options),
        "spec": spec,
    }


def _service(options: InstallOptions) -> Json:
    spec = {"selector": dict(LABELS), "ports": [{"name": "https", "port": 443, "targetPort": "https"}]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(options), "spec": spec}


def _webhook_configuration(options: InstallOptions) -> Json:
    never = {
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": sorted({options.namespace, "kube-system"}),
    }
    selector: Json
    if options.opt_out:
        selector = {
            "matchExpressions": [never, {"key": INJECT_LABEL, "operator": "NotIn", "values": ["disabled"]}]
        }
    else:
        selector = {"matchLabels": {INJECT_LABEL: "enabled"}, "matchExpressions": [never]}
    webhook = {
        "name": "inject.vaultinject.io",
        "clientConfig": {
            "service": {"name": NAME, "namespace": options.namespace, "path": "/mutate", "port": 443}
        },
        "rules": [
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["pods"],
                "scope": "Namespaced",
            }
        ],
        "namespaceSelector": selector,
        "failurePolicy": "Fail",
        "matchPolicy": "Equivalent",
        "sideEffects": "None",
        "reinvocationPolicy": "IfNeeded",
        "timeoutSeconds": TIMEOUT_SECONDS,
        "admissionReviewVersions": ["v1", "v1beta1"],
    }
    metadata: Json = {"name": NAME, "labels": dict(LABELS)}
    if options.tls == "files":  # cert-manager's CA injector fills caBundle from the Certificate's CA
        metadata["annotations"] = {"cert-manager.io/inject-ca-from": f"{options.namespace}/{NAME}"}
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": metadata,
        "webhooks": [webhook],
    }
