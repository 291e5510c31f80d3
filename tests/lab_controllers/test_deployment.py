"""ReplicaSet and Deployment controllers, judged by the API and by kubectl 1.32 (rollout status, restart,
scale, history)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab_controllers.workloads import (
    NS,
    LabKube,
    get,
    kubectl,
    lab,
    live,
    messages,
    run_all,
    wait_for,
)
from vaultinject.lab.controllers.deployment import safe_encode, template_hash
from vaultinject.lab.kube.harness import LabKubeError

APPS = f"/apis/apps/v1/namespaces/{NS}"


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[LabKube]:
    with lab(tmp_path / "kube", "replicaset-controller", "deployment-controller") as server:
        yield server


def _template(app: str) -> dict[str, object]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "app", "image": "busybox"}]},
    }


def _deployment(name: str, replicas: int) -> dict[str, object]:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": _template(name),
        },
    }


class _Kubelet:
    """Plays the kubelet on a thread: every pending pod is made Running and Ready."""

    def __init__(self, kube: LabKube) -> None:
        self.kube = kube
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(0.05):
            with contextlib.suppress(LabKubeError):  # a pod deleted between list and status write
                run_all(self.kube)

    def __enter__(self) -> _Kubelet:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


def test_hash_looks_like_kubernetes() -> None:
    value = template_hash({"metadata": {"labels": {"app": "x"}}})
    assert 9 <= len(value) <= 10
    assert set(value) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert safe_encode("0123456789") == "456789bcdf"


def test_replicaset_creates_owned_pods_and_reports_status(kube: LabKube) -> None:
    body = {
        "metadata": {"name": "rs"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "rs"}}, "template": _template("rs")},
    }
    rs = kube.call("POST", f"{APPS}/replicasets", body)
    wait_for(lambda: len(live(kube, "app=rs")) == 3)
    for pod in live(kube, "app=rs"):
        assert pod["metadata"]["name"].startswith("rs-")
        assert pod["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "rs",
                "uid": rs["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    assert len(messages(kube, "SuccessfulCreate", "rs")) == 3
    assert all(m.startswith("Created pod: rs-") for m in messages(kube, "SuccessfulCreate", "rs"))
    run_all(kube, "app=rs")
    status = wait_for(
        lambda: (s := get(kube, f"{APPS}/replicasets/rs")["status"]).get("availableReplicas") == 3 and s
    )
    assert status == {
        "replicas": 3,
        "fullyLabeledReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "observedGeneration": 1,
    }
    # one pod goes: it is replaced
    victim = live(kube, "app=rs")[0]["metadata"]["name"]
    kube.call("DELETE", f"/api/v1/namespaces/{NS}/pods/{victim}")
    wait_for(
        lambda: len(live(kube, "app=rs")) == 3 and victim not in {p["metadata"]["name"] for p in live(kube)}
    )
    # scale down prefers the pod that is not ready
    pending = next(p for p in live(kube, "app=rs") if p["status"]["phase"] == "Pending")["metadata"]["name"]
    kube.call(
        "PATCH",
        f"{APPS}/replicasets/rs",
        b'{"spec":{"replicas":2}}',
        content_type="application/merge-patch+json",
    )
    wait_for(lambda: len(live(kube, "app=rs")) == 2)
    assert pending not in {p["metadata"]["name"] for p in live(kube, "app=rs")}
    assert messages(kube, "SuccessfulDelete", "rs") == [f"Deleted pod: {pending}"]


def test_a_denied_pod_is_a_failed_create_event_with_the_admission_text(kube: LabKube, tmp_path: Path) -> None:
    from tests.lab_kube.webhook import configuration, constant, running_webhook

    denial = {"allowed": False, "status": {"code": 403, "message": "no secrets for you"}}
    with running_webhook(tmp_path, constant(denial)) as hook:
        kube.call(
            "POST",
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            configuration("deny", {"url": hook.url(), "caBundle": hook.ca_bundle}),
        )
        kube.call("POST", f"{APPS}/deployments", _deployment("denied", 1))
        found = wait_for(lambda: messages(kube, "FailedCreate"))
    assert found[0].startswith("Error creating: admission webhook")
    assert found[0].endswith("no secrets for you")
    rs_name = wait_for(lambda: get(kube, f"{APPS}/replicasets")["items"])[0]["metadata"]["name"]
    condition = wait_for(lambda: get(kube, f"{APPS}/replicasets/{rs_name}")["status"].get("conditions"))[0]
    assert (condition["type"], condition["reason"]) == ("ReplicaFailure", "FailedCreate")


def test_rollout_status_restart_scale_and_history_with_kubectl(kube: LabKube) -> None:
    with _Kubelet(kube):
        kube.call("POST", f"{APPS}/deployments", _deployment("web", 3))
        out = kubectl(kube, "rollout", "status", "deployment/web", "--timeout=20s").stdout
        assert 'deployment "web" successfully rolled out' in out
        d = get(kube, f"{APPS}/deployments/web")
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        assert d["status"]["updatedReplicas"] == 3
        assert d["status"]["availableReplicas"] == 3
        conditions = {c["type"]: c for c in d["status"]["conditions"]}
        assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
        assert conditions["Available"]["message"] == "Deployment has minimum availability."
        assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
        (rs,) = get(kube, f"{APPS}/replicasets")["items"]
        pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
        assert rs["metadata"]["name"] == f"web-{pod_hash}"
        assert (
            conditions["Progressing"]["message"]
            == f'ReplicaSet "web-{pod_hash}" has successfully progressed.'
        )
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "3"
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "4"
        assert messages(kube, "ScalingReplicaSet", "web") == [
            f"Scaled up replica set web-{pod_hash} from 0 to 3"
        ]
        first = {p["metadata"]["uid"] for p in live(kube, "app=web")}

        kubectl(kube, "rollout", "restart", "deployment/web")
        kubectl(kube, "rollout", "status", "deployment/web", "--timeout=20s")
        wait_for(lambda: len(live(kube, "app=web")) == 3)
        after = {p["metadata"]["uid"] for p in live(kube, "app=web")}
        assert not first & after
        assert (
            get(kube, f"{APPS}/deployments/web")["metadata"]["annotations"][
                "deployment.kubernetes.io/revision"
            ]
            == "2"
        )
        scaling = messages(kube, "ScalingReplicaSet", "web")
        assert any(m.startswith(f"Scaled down replica set web-{pod_hash} from") for m in scaling)

        kubectl(kube, "scale", "deployment/web", "--replicas=5")
        kubectl(kube, "rollout", "status", "deployment/web", "--timeout=20s")
        wait_for(lambda: len(live(kube, "app=web")) == 5)
        kubectl(kube, "scale", "deployment/web", "--replicas=1")
        wait_for(lambda: len(live(kube, "app=web")) == 1)
        kubectl(kube, "rollout", "status", "deployment/web", "--timeout=20s")

        history = kubectl(kube, "rollout", "history", "deployment/web").stdout
        assert "REVISION" in history
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]


def test_recreate_and_revision_history_limit(kube: LabKube) -> None:
    body = _deployment("re", 2)
    body["spec"]["strategy"] = {"type": "Recreate"}  # type: ignore[index]
    body["spec"]["revisionHistoryLimit"] = 1  # type: ignore[index]
    with _Kubelet(kube):
        kube.call("POST", f"{APPS}/deployments", body)
        kubectl(kube, "rollout", "status", "deployment/re", "--timeout=20s")
        for round_ in range(3):
            kubectl(kube, "set", "env", "deployment/re", f"ROUND={round_}")
            kubectl(kube, "rollout", "status", "deployment/re", "--timeout=20s")
        wait_for(lambda: len(get(kube, f"{APPS}/replicasets")["items"]) == 2)
    revisions = sorted(
        int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
        for r in get(kube, f"{APPS}/replicasets")["items"]
    )
    assert revisions == [3, 4]
