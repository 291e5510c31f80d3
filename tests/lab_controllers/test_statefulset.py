"""The StatefulSet controller: ordinal pods, OrderedReady and Parallel, recreation under the same name
with a new UID only once the old object is gone, claims, rolling update in reverse; kubectl rollout
status as the judge."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab_controllers.workloads import (
    NS,
    LabKube,
    events,
    get,
    kubectl,
    lab,
    live,
    messages,
    pods,
    run,
    wait_for,
)

SETS = f"/apis/apps/v1/namespaces/{NS}/statefulsets"
POD = f"/api/v1/namespaces/{NS}/pods"


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[LabKube]:
    with lab(tmp_path / "kube", "statefulset-controller") as server:
        yield server


def _set(name: str, replicas: int, **spec: Any) -> dict[str, Any]:
    template = {
        "metadata": {"labels": {"app": name}},
        "spec": {"terminationGracePeriodSeconds": 10, "containers": [{"name": "vault", "image": "vault"}]},
    }
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": f"{name}-internal",
            "selector": {"matchLabels": {"app": name}},
            "template": template,
            **spec,
        },
    }


def _names(kube: LabKube, app: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in live(kube, f"app={app}"))


def _pod(kube: LabKube, name: str) -> dict[str, Any]:
    return get(kube, f"{POD}/{name}")


def test_ordered_ready_creates_one_at_a_time_with_identity_and_claims(kube: LabKube) -> None:
    claim = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
    kube.call("POST", SETS, _set("vault", 3, volumeClaimTemplates=[claim]))
    wait_for(lambda: _names(kube, "vault") == ["vault-0"])
    pod = _pod(kube, "vault-0")
    labels = pod["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "vault-0"
    assert labels["apps.kubernetes.io/pod-index"] == "0"
    assert labels["controller-revision-hash"].startswith("vault-")
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("vault-0", "vault-internal")
    assert pod["metadata"]["annotations"]["lab.vaultinject.io/claim-data"] == "data-vault-0"
    assert {"name": "data", "emptyDir": {}} in pod["spec"]["volumes"]
    run(kube, pod, ready=False)
    with pytest.raises(TimeoutError):
        wait_for(lambda: len(_names(kube, "vault")) > 1, timeout=0.5)  # vault-1 waits for vault-0 Ready
    run(kube, _pod(kube, "vault-0"))
    wait_for(lambda: _names(kube, "vault") == ["vault-0", "vault-1"])
    run(kube, _pod(kube, "vault-1"))
    wait_for(lambda: len(_names(kube, "vault")) == 3)
    run(kube, _pod(kube, "vault-2"))
    out = kubectl(kube, "rollout", "status", "statefulset/vault", "--timeout=10s").stdout
    assert "partitioned roll out complete" in out or "roll out complete" in out
    status = get(kube, f"{SETS}/vault")["status"]
    assert status["replicas"] == status["readyReplicas"] == status["availableReplicas"] == 3
    assert status["currentRevision"] == status["updateRevision"] == labels["controller-revision-hash"]
    assert (
        messages(kube, "SuccessfulCreate", "vault")[0] == "create Pod vault-0 in StatefulSet vault successful"
    )


def test_a_deleted_pod_comes_back_with_its_name_and_a_new_uid_after_the_old_one_is_gone(
    kube: LabKube,
) -> None:
    assert kube.server is not None
    kube.call("POST", SETS, _set("db", 2, podManagementPolicy="Parallel"))
    wait_for(lambda: _names(kube, "db") == ["db-0", "db-1"])
    for name in ("db-0", "db-1"):
        run(kube, _pod(kube, name))
    old_uid = _pod(kube, "db-0")["metadata"]["uid"]
    kube.call("DELETE", f"{POD}/db-0")
    terminating = _pod(kube, "db-0")
    assert terminating["metadata"]["deletionTimestamp"]
    with pytest.raises(TimeoutError):  # the Terminating object holds the slot
        wait_for(lambda: _pod(kube, "db-0")["metadata"]["uid"] != old_uid, timeout=0.5)
    kube.server.clock.advance(11)  # the grace period ends; the kubelet stand-in removes the object

    def recreated() -> dict[str, Any]:
        found = [p for p in pods(kube, "app=db") if p["metadata"]["name"] == "db-0"]
        return found[0] if found and found[0]["metadata"]["uid"] != old_uid else {}

    fresh = wait_for(recreated)
    assert fresh["metadata"]["name"] == "db-0"
    assert not fresh["metadata"].get("deletionTimestamp")


def test_scale_down_in_reverse_and_rolling_update_from_the_highest_ordinal(kube: LabKube) -> None:
    assert kube.server is not None
    body = _set("web", 3)
    body["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 0
    kube.call("POST", SETS, body)
    for i in range(3):
        wait_for(functools.partial(lambda n: n in _names(kube, "web"), f"web-{i}"))
        run(kube, _pod(kube, f"web-{i}"))
    kubectl(kube, "rollout", "status", "statefulset/web", "--timeout=10s")
    first = get(kube, f"{SETS}/web")["status"]["updateRevision"]
    kubectl(kube, "set", "env", "statefulset/web", "MODE=2")
    deleted: list[str] = []
    for _ in range(3):
        # the next old pod goes (highest first) and comes back at the new revision
        def replaced() -> str | None:
            for p in live(kube, "app=web"):
                fresh = p["metadata"]["labels"]["controller-revision-hash"] != first
                if fresh and p["status"]["phase"] == "Pending":
                    return str(p["metadata"]["name"])
            return None

        name = str(wait_for(replaced))
        deleted.append(name)
        run(kube, _pod(kube, name))
    assert deleted == ["web-2", "web-1", "web-0"]
    kubectl(kube, "rollout", "status", "statefulset/web", "--timeout=10s")
    status = get(kube, f"{SETS}/web")["status"]
    assert status["currentRevision"] == status["updateRevision"] != first
    kubectl(kube, "scale", "statefulset/web", "--replicas=1")
    wait_for(lambda: _names(kube, "web") == ["web-0"])
    counts = {
        e["message"].split()[2]: e["count"] for e in events(kube, "web") if e["reason"] == "SuccessfulDelete"
    }
    assert counts == {"web-2": 2, "web-1": 2, "web-0": 1}  # the update, then the scale down
