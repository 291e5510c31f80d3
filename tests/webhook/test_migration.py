"""Both injectors installed (docs/migrating.md): each namespace is injected by one, and no pod twice.

The Vault Agent Injector stands in as a webhook with its decision rule: skip a pod whose
`agent-inject-status` is `injected`, else add `vault-agent-init` and mark the pod injected.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

from tests.lab_kube import webhook as test_webhooks
from tests.webhook.harness import running_webhook
from tests.webhook.test_on_the_lab_cluster import registration
from vaultinject.lab.kube.harness import LabKube, in_process_kube

STATUS = "vault.hashicorp.com/agent-inject-status"
OPTED_IN = {
    "vault.hashicorp.com/agent-inject": "true",
    "vault.hashicorp.com/role": "app",
    "vault.hashicorp.com/agent-inject-secret-db": "kv/db",
}
NOT_MIGRATED = {
    "matchExpressions": [{"key": "vaultinject.io/inject", "operator": "NotIn", "values": ["enabled"]}]
}


def upstream_injector(review: dict[str, Any]) -> dict[str, Any]:
    pod = review["request"]["object"]
    annotations = pod["metadata"].get("annotations") or {}
    if annotations.get(STATUS) == "injected" or annotations.get("vault.hashicorp.com/agent-inject") != "true":
        return {"allowed": True}
    init = {"name": "vault-agent-init", "image": "hashicorp/vault:2.0.4"}
    patch = [
        {"op": "add", "path": "/metadata/annotations/" + STATUS.replace("/", "~1"), "value": "injected"},
        {
            "op": "add",
            "path": "/spec/initContainers",
            "value": [init, *pod["spec"].get("initContainers", [])],
        },
    ]
    return {"allowed": True, "patch": patch}


class Cluster(NamedTuple):
    kube: LabKube
    upstream: dict[str, Any]  # the stand-in injector's clientConfig


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with (
        in_process_kube(tmp_path_factory.mktemp("kube")) as kube,
        running_webhook(tmp_path_factory.mktemp("ours")) as ours,
        test_webhooks.running_webhook(tmp_path_factory.mktemp("upstream"), upstream_injector) as upstream,
    ):
        config_path = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
        kube.call("POST", config_path, registration(ours))
        client = {"url": upstream.url(), "caBundle": upstream.ca_bundle}
        kube.call(
            "POST",
            config_path,
            test_webhooks.configuration(
                "upstream", client, namespaceSelector=NOT_MIGRATED, failurePolicy="Fail"
            ),
        )
        for namespace, labels in (("migrated", {"vaultinject.io/inject": "enabled"}), ("legacy", {})):
            kube.ensure_namespace(namespace, labels)
            kube.ensure_service_account(namespace, "default")
        yield Cluster(kube, client)


def agents(kube: LabKube, namespace: str, name: str) -> list[str]:
    body = {
        "metadata": {"name": name, "annotations": OPTED_IN},
        "spec": {"containers": [{"name": "app", "image": "app"}]},
    }
    pod = kube.call("POST", f"/api/v1/namespaces/{namespace}/pods", body)
    containers = pod["spec"].get("initContainers", []) + pod["spec"]["containers"]
    return [c["name"] for c in containers if c["name"].startswith("vault-agent")]


def test_each_namespace_is_injected_by_one_injector(cluster: Cluster) -> None:
    # "migrated": ours (a native sidecar); upstream's selector leaves the namespace alone
    assert agents(cluster.kube, "migrated", "a") == ["vault-agent"]
    # "legacy": upstream only (its selector), and ours does not match an unlabelled namespace
    assert agents(cluster.kube, "legacy", "b") == ["vault-agent-init"]


def test_moving_a_namespace_is_a_label(cluster: Cluster) -> None:
    cluster.kube.call(
        "PATCH",
        "/api/v1/namespaces/legacy",
        {"metadata": {"labels": {"vaultinject.io/inject": "enabled"}}},
        content_type="application/merge-patch+json",
    )
    assert agents(cluster.kube, "legacy", "c") == ["vault-agent"]
    cluster.kube.call(
        "PATCH",
        "/api/v1/namespaces/legacy",
        {"metadata": {"labels": {"vaultinject.io/inject": None}}},
        content_type="application/merge-patch+json",
    )


def test_if_both_match_a_pod_is_still_injected_once(cluster: Cluster) -> None:
    """Step 2 forgotten: the second injector called sees `agent-inject-status: injected` and passes."""
    config_path = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
    client = cluster.upstream
    cluster.kube.call(
        "POST", config_path, test_webhooks.configuration("upstream-everywhere", client, failurePolicy="Fail")
    )
    try:
        found = agents(cluster.kube, "migrated", "d")
    finally:
        cluster.kube.call("DELETE", f"{config_path}/upstream-everywhere")
    assert found in (["vault-agent-init"], ["vault-agent"])
