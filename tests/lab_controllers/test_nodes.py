"""Scheduler, node lifecycle, taint eviction, endpoints and simulated nodes, in one in-process server."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vaultinject.lab.controllers.settings import ControllerSettings
from vaultinject.lab.kube.harness import LabKube, in_process_kube, wait_for

JSON = dict[str, Any]
FAST = ControllerSettings(
    node_monitor_grace_period=1.0, node_monitor_period=0.1, node_startup_grace_period=2.0, resync_period=5.0
)


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[LabKube]:
    with in_process_kube(
        tmp_path / "kube",
        controllers=None,
        controller_settings=FAST,
        simulated_nodes=3,
        default_unreachable_toleration_seconds=1,
        default_not_ready_toleration_seconds=1,
    ) as server:
        yield server


def _pod(kube: LabKube, ns: str, name: str) -> JSON:
    return dict(kube.call("GET", f"/api/v1/namespaces/{ns}/pods/{name}"))


def _all_ready(kube: LabKube, ns: str, names: list[str]) -> list[JSON]:
    def pods() -> list[JSON] | None:
        found = [_pod(kube, ns, n) for n in names]
        return found if all(_ready(p) == "True" for p in found) else None

    result = wait_for(pods)
    assert result is not None
    return result


def _ready(pod: JSON) -> str:
    return next((c["status"] for c in pod["status"].get("conditions", []) if c["type"] == "Ready"), "")


def test_pods_spread_run_and_show_in_endpoints(kube: LabKube) -> None:
    kube.ensure_namespace("web")
    kube.call(
        "POST",
        "/api/v1/namespaces/web/services",
        {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}},
    )
    for i in range(3):
        kube.create_pod("web", f"web-{i}", labels={"app": "web"})
    pods = _all_ready(kube, "web", [f"web-{i}" for i in range(3)])
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["sim-0", "sim-1", "sim-2"]
    assert all(p["status"]["podIP"].startswith("127.244.") for p in pods)
    endpoints = wait_for(
        lambda: (e := kube.call("GET", "/api/v1/namespaces/web/endpoints/web")).get("subsets") and e
    )
    assert isinstance(endpoints, dict)
    assert len(endpoints["subsets"][0]["addresses"]) == 3
    slices = wait_for(
        lambda: (
            (items := kube.call("GET", "/apis/discovery.k8s.io/v1/namespaces/web/endpointslices")["items"])
            and len(items[0].get("endpoints") or []) == 3
            and items
        )
    )
    assert isinstance(slices, list)
    assert slices[0]["metadata"]["labels"]["kubernetes.io/service-name"] == "web"
    assert all(e["conditions"]["ready"] for e in slices[0]["endpoints"])
    if shutil.which("kubectl"):
        out = subprocess.run(
            ["kubectl", "get", "endpointslices", "-n", "web", "--no-headers"],
            env=kube.env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert out[0].startswith("web-")
        assert out[1:3] == ["IPv4", "80"]
        assert out[3].count("127.244.") == 3
    events = kube.call("GET", "/api/v1/namespaces/web/events")["items"]
    assert any(
        e["reason"] == "Scheduled"
        and e["message"] == f"Successfully assigned web/web-0 to {pods[0]['spec']['nodeName']}"
        for e in events
    )


def test_nothing_fits_gives_the_schedulers_message(kube: LabKube) -> None:
    kube.ensure_namespace("pick")
    kube.ensure_service_account("pick", "default")
    body = {
        "metadata": {"name": "picky"},
        "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "app", "image": "busybox"}]},
    }
    kube.call("POST", "/api/v1/namespaces/pick/pods", body)

    def condition() -> JSON | None:
        pod = _pod(kube, "pick", "picky")
        return next((c for c in pod["status"].get("conditions", []) if c["type"] == "PodScheduled"), None)

    found = wait_for(condition)
    assert found is not None
    assert found["reason"] == "Unschedulable"
    assert found["message"] == (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes "
        "are available: 3 Preemption is not helpful for scheduling."
    )


def test_a_silent_node_turns_unknown_and_its_pods_are_evicted(kube: LabKube) -> None:
    assert kube.server is not None
    assert kube.server.simulated is not None
    kube.ensure_namespace("drill")
    for i in range(3):
        kube.create_pod("drill", f"p-{i}")
    pods = _all_ready(kube, "drill", [f"p-{i}" for i in range(3)])
    victim = pods[0]
    node = victim["spec"]["nodeName"]
    kube.server.simulated.pause(node)
    started = time.monotonic()

    def unknown() -> JSON | None:
        n = kube.call("GET", f"/api/v1/nodes/{node}")
        ready = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
        return n if ready["status"] == "Unknown" else None

    dead = wait_for(unknown, timeout=10)
    assert dead is not None
    ready = next(c for c in dead["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["reason"], ready["message"]) == (
        "NodeStatusUnknown",
        "Kubelet stopped posting node status.",
    )
    wait_for(
        lambda: (
            {
                (t["key"], t["effect"])
                for t in kube.call("GET", f"/api/v1/nodes/{node}")["spec"].get("taints", [])
            }
            >= {
                ("node.kubernetes.io/unreachable", "NoSchedule"),
                ("node.kubernetes.io/unreachable", "NoExecute"),
            }
        )
    )
    # Evicted after the 1 s default toleration: DisruptionTarget, then Terminating (no kubelet confirms).
    evicted = wait_for(
        lambda: (p := _pod(kube, "drill", "p-0"))["metadata"].get("deletionTimestamp") and p, timeout=10
    )
    assert _ready(evicted) == "False"
    target = next(c for c in evicted["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert target["reason"] == "DeletionByTaintManager"
    assert time.monotonic() - started < 10
    events = kube.call("GET", "/api/v1/namespaces/drill/events")["items"]
    reasons = {(e["reason"], e["message"]) for e in events}
    assert ("NodeNotReady", "Node is not ready") in reasons
    assert ("TaintManagerEviction", "Marking for deletion Pod drill/p-0") in reasons
    default_events = kube.call("GET", "/api/v1/namespaces/default/events")["items"]
    assert any(e["message"] == f"Node {node} status is now: NodeNotReady" for e in default_events)
    if shutil.which("kubectl"):
        out = subprocess.run(
            ["kubectl", "get", "nodes", "--no-headers"],
            env=kube.env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        statuses = {line.split()[0]: line.split()[1] for line in out.splitlines()}
        assert statuses[node] == "NotReady"
        assert sorted(statuses.values()).count("Ready") == 2
        pods_out = subprocess.run(
            ["kubectl", "get", "pods", "-n", "drill", "p-0", "--no-headers"],
            env=kube.env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert pods_out[1:3] == ["1/1", "Terminating"]
    # The other pods stay put.
    assert not _pod(kube, "drill", "p-1")["metadata"].get("deletionTimestamp")


def test_simulated_nodes_take_a_thousand_pods(tmp_path: Path) -> None:
    with in_process_kube(
        tmp_path / "kube", controllers=("default-scheduler",), controller_settings=FAST, simulated_nodes=10
    ) as kube:
        assert kube.server is not None
        kube.ensure_namespace("many")
        kube.ensure_service_account("many", "default")
        cluster = kube.server.cluster
        from vaultinject.lab.controllers.client import Client
        from vaultinject.lab.kube.model import UserInfo

        client = Client(cluster, UserInfo("admin", "", ("system:masters",)))
        started = time.monotonic()
        for i in range(1000):
            client.create(
                "pods",
                "many",
                {"metadata": {"name": f"p-{i}"}, "spec": {"containers": [{"name": "a", "image": "x"}]}},
            )
        created = time.monotonic() - started

        def all_ready() -> bool:
            pods = cluster.store.list_objects("pods", "many")[0]
            return sum(1 for p in pods if _ready(p) == "True") == 1000

        wait_for(all_ready, timeout=120, interval=0.5)
        total = time.monotonic() - started
        logging.getLogger(__name__).warning("1000 pods: created in %.1fs, Ready in %.1fs", created, total)
        assert total < 120


def _taints(kube: LabKube, node: str) -> set[tuple[str, str]]:
    return {
        (t["key"], t["effect"]) for t in kube.call("GET", f"/api/v1/nodes/{node}")["spec"].get("taints", [])
    }


def test_all_nodes_down_is_master_disruption_no_eviction(kube: LabKube) -> None:
    assert kube.server is not None
    assert kube.server.simulated is not None
    kube.ensure_namespace("md")
    kube.create_pod("md", "survivor")
    _all_ready(kube, "md", ["survivor"])
    for name in kube.server.simulated.names:
        kube.server.simulated.pause(name)
    unreachable = ("node.kubernetes.io/unreachable", "NoSchedule")
    wait_for(lambda: all(unreachable in _taints(kube, n) for n in ("sim-0", "sim-1", "sim-2")), timeout=10)
    time.sleep(2.5)  # well past the 1 s toleration
    for name in ("sim-0", "sim-1", "sim-2"):
        assert ("node.kubernetes.io/unreachable", "NoExecute") not in _taints(kube, name)
    assert not _pod(kube, "md", "survivor")["metadata"].get("deletionTimestamp")
    assert _ready(_pod(kube, "md", "survivor")) == "False"


def test_daemonset_runs_one_pod_per_node_and_podgc_removes_orphans(tmp_path: Path) -> None:
    settings = ControllerSettings(
        node_monitor_grace_period=5.0,
        node_monitor_period=0.1,
        pod_gc_orphan_quarantine=0.5,
        resync_period=5.0,
    )
    with in_process_kube(
        tmp_path / "kube", controllers=None, controller_settings=settings, simulated_nodes=3
    ) as kube:
        kube.ensure_namespace("ds")
        kube.ensure_service_account("ds", "default")
        body = {
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{"name": "a", "image": "busybox"}]},
                },
            },
        }
        kube.call("POST", "/apis/apps/v1/namespaces/ds/daemonsets", body)
        path = "/apis/apps/v1/namespaces/ds/daemonsets/agent"
        status = wait_for(
            lambda: (st := kube.call("GET", path).get("status") or {}).get("numberReady") == 3 and st,
            timeout=10,
        )
        assert isinstance(status, dict)
        assert status["desiredNumberScheduled"] == status["currentNumberScheduled"] == 3
        assert status["updatedNumberScheduled"] == status["numberAvailable"] == 3
        pods = kube.call("GET", "/api/v1/namespaces/ds/pods")["items"]
        assert sorted(p["spec"]["nodeName"] for p in pods) == ["sim-0", "sim-1", "sim-2"]
        pinned = pods[0]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert pinned["nodeSelectorTerms"][0]["matchFields"][0]["values"] == [pods[0]["spec"]["nodeName"]]
        keys = {(t["key"], t.get("effect")) for t in pods[0]["spec"]["tolerations"]}
        assert ("node.kubernetes.io/unreachable", "NoExecute") in keys
        assert ("node.kubernetes.io/unschedulable", "NoSchedule") in keys
        # A node deleted for good: PodGC fails and force-deletes its pods after the quarantine; the DaemonSet
        # does not replace them (two nodes left).
        assert kube.server is not None
        assert kube.server.simulated is not None
        kube.server.simulated.pause("sim-2")
        kube.call("DELETE", "/api/v1/nodes/sim-2")
        wait_for(
            lambda: (
                sorted(p["spec"]["nodeName"] for p in kube.call("GET", "/api/v1/namespaces/ds/pods")["items"])
                == ["sim-0", "sim-1"]
            ),
            timeout=10,
        )
        wait_for(lambda: (kube.call("GET", path).get("status") or {}).get("desiredNumberScheduled") == 2)


def test_server_flags_feed_default_tolerations_and_controller_settings(kube: LabKube) -> None:
    from vaultinject.lab.kube import cli

    kube.ensure_namespace("tol")
    pod = kube.create_pod("tol", "p")
    seconds = {t["key"]: t["tolerationSeconds"] for t in pod["spec"]["tolerations"]}
    assert seconds == {"node.kubernetes.io/not-ready": 1, "node.kubernetes.io/unreachable": 1}
    args = cli.parser().parse_args(
        [
            "--data-dir",
            "/x",
            "--node-monitor-grace-period",
            "1m30s",
            "--simulated-nodes",
            "4",
            "--controllers",
            "*",
        ]
    )
    assert args.node_monitor_grace_period == 90.0
    assert args.simulated_nodes == 4
    assert cli._controllers(args.controllers) is None


def test_kubectl_describe_service_lists_its_endpoints(kube: LabKube) -> None:
    if not shutil.which("kubectl"):
        pytest.skip("kubectl is not installed")
    kube.ensure_namespace("d")
    spec = {"selector": {"app": "d"}, "ports": [{"port": 8200, "targetPort": "http"}]}
    kube.call("POST", "/api/v1/namespaces/d/services", {"metadata": {"name": "vault"}, "spec": spec})
    container = {"name": "v", "image": "vault", "ports": [{"name": "http", "containerPort": 8201}]}
    kube.create_pod("d", "vault-0", labels={"app": "d"}, containers=[container])
    ip = _all_ready(kube, "d", ["vault-0"])[0]["status"]["podIP"]

    def described() -> str | None:
        out = subprocess.run(
            ["kubectl", "describe", "svc", "-n", "d", "vault"],
            env=kube.env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out if f"{ip}:8201" in out else None

    assert "Endpoints:" in (wait_for(described) or "")
