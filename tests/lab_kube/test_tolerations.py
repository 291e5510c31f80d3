"""DefaultTolerationSeconds: pods get the not-ready and unreachable tolerations at admission; the pod
templates of workloads do not (the plugin acts on pods only)."""

from __future__ import annotations

from typing import Any

from tests.lab_kube.conftest import pod_body
from vaultinject.lab.kube.harness import LabKube

NOT_READY = {
    "key": "node.kubernetes.io/not-ready",
    "operator": "Exists",
    "effect": "NoExecute",
    "tolerationSeconds": 300,
}
UNREACHABLE = {**NOT_READY, "key": "node.kubernetes.io/unreachable"}


def create_pod(kube: LabKube, namespace: str, name: str, tolerations: list[Any] | None = None) -> Any:
    body = pod_body(name)
    if tolerations is not None:
        body["spec"]["tolerations"] = tolerations
    return kube.call("POST", f"/api/v1/namespaces/{namespace}/pods", body)


def test_pods_get_both_default_tolerations(kube: LabKube, namespace: str) -> None:
    assert create_pod(kube, namespace, "plain")["spec"]["tolerations"] == [NOT_READY, UNREACHABLE]
    own = {"key": "dedicated", "operator": "Equal", "value": "vault", "effect": "NoSchedule"}
    assert create_pod(kube, namespace, "own", [own])["spec"]["tolerations"] == [own, NOT_READY, UNREACHABLE]


def test_a_covering_toleration_is_left_alone(kube: LabKube, namespace: str) -> None:
    everything = {"operator": "Exists"}
    assert create_pod(kube, namespace, "all", [everything])["spec"]["tolerations"] == [everything]
    short = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 30}
    assert create_pod(kube, namespace, "short", [short])["spec"]["tolerations"] == [short, NOT_READY]


def test_an_update_keeps_them(kube: LabKube, namespace: str) -> None:
    pod = create_pod(kube, namespace, "kept")
    pod["metadata"]["labels"] = {"changed": "yes"}
    path = f"/api/v1/namespaces/{namespace}/pods/kept"
    assert kube.call("PUT", path, pod)["spec"]["tolerations"] == [NOT_READY, UNREACHABLE]


def test_workload_templates_get_none(kube: LabKube, namespace: str) -> None:
    template: dict[str, Any] = {"metadata": {"labels": {"app": "w"}}, "spec": pod_body()["spec"]}
    workload = {"selector": {"matchLabels": {"app": "w"}}, "template": template}
    job = {"template": {**template, "spec": {**template["spec"], "restartPolicy": "Never"}}}
    for path, spec in (
        ("apis/apps/v1/namespaces/{}/deployments", workload),
        ("apis/apps/v1/namespaces/{}/statefulsets", workload),
        ("apis/apps/v1/namespaces/{}/daemonsets", workload),
        ("apis/batch/v1/namespaces/{}/jobs", job),
    ):
        created = kube.call("POST", "/" + path.format(namespace), {"metadata": {"name": "w"}, "spec": spec})
        assert "tolerations" not in created["spec"]["template"]["spec"], path
