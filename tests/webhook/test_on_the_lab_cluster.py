"""The webhook registered with the lab API server: `kubectl apply` of a pod stores what `inject` prints."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.webhook.harness import RunningWebhook, running_webhook
from vaultinject.cli.manifests import pod_ref
from vaultinject.injector import inject
from vaultinject.lab.kube.harness import LabKube, in_process_kube
from vaultinject.spec import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SETTINGS = Settings(vault_addr="https://vault.vault.svc:8200")
ENABLED = {"vaultinject.io/inject": "enabled"}


def registration(webhook: RunningWebhook) -> dict[str, Any]:
    bundle = base64.b64encode(webhook.certificates.ca_file.read_bytes()).decode()
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "vaultinject"},
        "webhooks": [
            {
                "name": "inject.vaultinject.io",
                "clientConfig": {"url": f"{webhook.url}/mutate", "caBundle": bundle},
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["pods"],
                    }
                ],
                "namespaceSelector": {"matchLabels": ENABLED},
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1", "v1beta1"],
                "timeoutSeconds": 10,
                "reinvocationPolicy": "IfNeeded",
            }
        ],
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabKube]:
    with (
        in_process_kube(tmp_path_factory.mktemp("kube")) as kube,
        running_webhook(tmp_path_factory.mktemp("webhook")) as webhook,
    ):
        kube.call(
            "POST",
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            registration(webhook),
        )
        kube.ensure_namespace("injected", ENABLED)
        kube.ensure_namespace("plain")
        for namespace in ("injected", "plain"):
            for pod in example_pods():
                kube.ensure_service_account(namespace, pod["spec"].get("serviceAccountName", "default"))
        yield kube


def kubectl_apply(kube: LabKube, manifest: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "apply", "-f", "-"], input=yaml.safe_dump(manifest), env=kube.env(),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def example_pods() -> list[dict[str, Any]]:
    """Every pod the examples' objects would create, as the API server sees it at admission."""
    pods = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            ref = pod_ref(document, "default")
            if ref is not None:
                pods.append(ref.as_pod())
    return pods


def in_namespace(pod: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {**pod, "metadata": {**pod["metadata"], "namespace": namespace}}


def stored(kube: LabKube, namespace: str, name: str) -> dict[str, Any]:
    """The stored pod's annotations and spec, without what differs by construction: kubectl's record of
    the applied manifest, the random suffix of the service-account token volume, and the order of volumes
    and mounts (at admission the token volume is already there when the webhook adds its own)."""
    pod = kube.call("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
    annotations = dict(pod["metadata"].get("annotations") or {})
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    spec = json.loads(re.sub(r"kube-api-access-[a-z0-9]{5}", "kube-api-access", json.dumps(pod["spec"])))
    spec["volumes"] = sorted(spec.get("volumes", []), key=lambda volume: volume["name"])
    for container in spec.get("initContainers", []) + spec["containers"]:
        container["volumeMounts"] = sorted(container.get("volumeMounts", []), key=lambda m: m["mountPath"])
    return {"annotations": annotations, "spec": spec}


def as_admitted(kube: LabKube, pod: dict[str, Any]) -> dict[str, Any]:
    """The pod as the API server hands it to webhooks: defaulted, its service-account token mounted."""
    result = subprocess.run(
        ["kubectl", "create", "--dry-run=server", "-o", "json", "-f", "-"], input=yaml.safe_dump(pod),
        env=kube.env(), capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    admitted: dict[str, Any] = json.loads(result.stdout)
    for field in ("uid", "resourceVersion", "creationTimestamp"):
        admitted["metadata"].pop(field, None)
    admitted.pop("status", None)
    return admitted


@pytest.mark.parametrize("pod", example_pods(), ids=lambda pod: pod["metadata"]["name"])
def test_admission_stores_what_inject_prints(cluster: LabKube, pod: dict[str, Any]) -> None:
    name = pod["metadata"]["name"]
    admitted = kubectl_apply(cluster, in_namespace(pod, "injected"))
    assert admitted.returncode == 0, admitted.stderr
    # `inject` of the same pod as admission sees it, created where no webhook runs
    offline = inject(as_admitted(cluster, in_namespace(pod, "plain")), SETTINGS, "injected").pod
    created = kubectl_apply(cluster, offline)
    assert created.returncode == 0, created.stderr
    assert stored(cluster, "injected", name) == stored(cluster, "plain", name)


def test_a_bad_annotation_fails_kubectl_apply_naming_it(cluster: LabKube) -> None:
    pod = example_pods()[0]
    annotations = {**pod["metadata"].get("annotations", {}), "vault.hashicorp.com/agent-inject": "true",
                   "vault.hashicorp.com/role": "x", "vault.hashicorp.com/agent-limits-mem": "lots"}  # fmt: skip
    bad = in_namespace(
        {**pod, "metadata": {**pod["metadata"], "name": "bad", "annotations": annotations}}, "injected"
    )
    result = kubectl_apply(cluster, bad)
    assert result.returncode == 1
    assert 'admission webhook "inject.vaultinject.io" denied the request' in result.stderr
    assert "vault.hashicorp.com/agent-limits-mem" in result.stderr


def test_namespaces_not_opted_in_are_untouched(cluster: LabKube) -> None:
    pod = next(
        p
        for p in example_pods()
        if "vault.hashicorp.com/agent-inject" in p["metadata"].get("annotations", {})
    )
    untouched = in_namespace({**pod, "metadata": {**pod["metadata"], "name": "untouched"}}, "plain")
    assert kubectl_apply(cluster, untouched).returncode == 0
    spec = cluster.call("GET", "/api/v1/namespaces/plain/pods/untouched")["spec"]
    names = [c["name"] for c in spec.get("initContainers", []) + spec["containers"]]
    assert not {"vault-agent", "vault-agent-init"} & set(names)
