"""Apps never start before their inputs exist: after an init container wrote them, or once a native
sidecar's startup probe saw them. The app exits 3 (and leaves a marker in its log) if it ran early."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.lab_cluster.cluster import Cluster, lab_cluster
from vaultinject.lab.kube.harness import wait_for

APP = {
    "name": "app",
    "image": "busybox",
    "command": [
        "sh",
        "-c",
        "test -f /work/ready || { echo RAN-EARLY; exit 3; }; echo app saw $(cat /work/ready); sleep 1000",
    ],
    "volumeMounts": [{"name": "work", "mountPath": "/work"}],
}
WRITER = "sleep 1.5; echo secret-file > /work/ready"


def _pod(name: str, init: dict[str, Any]) -> dict[str, Any]:
    init = {**init, "image": "busybox", "volumeMounts": [{"name": "work", "mountPath": "/work"}]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "initContainers": [init],
            "containers": [APP],
            "volumes": [{"name": "work", "emptyDir": {"medium": "Memory"}}],
        },
    }


def _statuses_seen(cluster: Cluster, name: str, until: str) -> list[str]:
    seen: list[str] = []

    def reached() -> bool:
        column = cluster.status_column(name)
        if column and (not seen or seen[-1] != column):
            seen.append(column)
        return column == until

    wait_for(reached, timeout=30, interval=0.1)
    return seen


def _assert_app_ran_once_after_its_input(cluster: Cluster, name: str) -> None:
    status = cluster.pod("default", name)["status"]
    (app,) = status["containerStatuses"]
    assert (app["restartCount"], app["lastState"], app["ready"]) == (0, {}, True)
    wait_for(lambda: "app saw" in cluster.kubectl("logs", name, "-c", "app").stdout, timeout=10)
    assert cluster.ok("logs", name, "-c", "app") == "app saw secret-file\n"  # never RAN-EARLY


def test_app_starts_only_after_the_init_container_wrote_its_file(tmp_path: Path) -> None:
    with lab_cluster(tmp_path) as cluster:
        cluster.kube.call(
            "POST",
            "/api/v1/namespaces/default/pods",
            _pod("with-init", {"name": "writer", "command": ["sh", "-c", WRITER]}),
        )
        seen = _statuses_seen(cluster, "with-init", "Running")
        assert "Init:0/1" in seen
        assert seen.index("Init:0/1") < seen.index("Running")
        assert set(seen) <= {"Pending", "Init:0/1", "PodInitializing", "Running"}
        _assert_app_ran_once_after_its_input(cluster, "with-init")
        (writer,) = cluster.pod("default", "with-init")["status"]["initContainerStatuses"]
        assert writer["state"]["terminated"]["reason"] == "Completed"
        assert writer["ready"] is True


def test_app_starts_only_after_the_sidecar_startup_probe_passed(tmp_path: Path) -> None:
    sidecar = {
        "name": "agent",
        "restartPolicy": "Always",
        "command": ["sh", "-c", WRITER + "; sleep 1000"],
        "startupProbe": {
            "exec": {"command": ["test", "-f", "/work/ready"]},
            "periodSeconds": 1,
            "failureThreshold": 30,
        },
    }
    with lab_cluster(tmp_path) as cluster:
        cluster.kube.call("POST", "/api/v1/namespaces/default/pods", _pod("with-sidecar", sidecar))
        seen = _statuses_seen(cluster, "with-sidecar", "Running")
        assert "Init:0/1" in seen
        _assert_app_ran_once_after_its_input(cluster, "with-sidecar")
        pod = cluster.pod("default", "with-sidecar")
        (agent,) = pod["status"]["initContainerStatuses"]
        assert (agent["started"], agent["ready"], "running" in agent["state"]) == (True, True, True)
        started = {c["type"]: c for c in pod["status"]["conditions"]}
        assert started["Initialized"]["status"] == "True"
        assert cluster.ok("get", "pod", "with-sidecar", "--no-headers").split()[1] == "2/2"

        # Deleting the pod stops the app first, then the sidecar; the kubelet then removes the object.
        cluster.ok("delete", "pod", "with-sidecar", "--wait=false")
        assert cluster.status_column("with-sidecar") in ("Terminating", "")
        wait_for(
            lambda: cluster.kube.request("GET", "/api/v1/namespaces/default/pods/with-sidecar")[0] == 404, 20
        )
        events = cluster.ok("get", "events", "--field-selector", "involvedObject.name=with-sidecar")
        assert events.index("Stopping container app") < events.index("Stopping container agent")


def test_the_agents_post_start_hook_starts_the_app_the_moment_its_input_exists(tmp_path: Path) -> None:
    """The native agent's hook (`vaultinject-agent --wait-for-start`, found on the vaultinject image's PATH)
    returns once the started marker exists; the kubelet then runs the startup probe at once and starts the
    app. With only the probe (period 5 s here) the app would start seconds later."""
    marker = "/shared/.vaultinject-started"
    write = f"sleep 1.5; date +%s.%N > /shared/ready; touch {marker}; sleep 1000"
    hook = ["vaultinject-agent", "--wait-for-start", "20", marker]
    mounts = [
        {"name": "work", "mountPath": "/shared"}
    ]  # not /work: the checkout (and its venv) may live there
    agent = {
        "name": "agent",
        "image": "vaultinject",
        "restartPolicy": "Always",
        "command": ["sh", "-c", write],
        "lifecycle": {"postStart": {"exec": {"command": hook}}},
        "startupProbe": {
            "exec": {"command": ["test", "-e", marker]},
            "periodSeconds": 5,
            "failureThreshold": 30,
        },
        "volumeMounts": mounts,
    }
    app = {
        "name": "app",
        "image": "busybox",
        "command": ["sh", "-c", 'echo "$(cat /shared/ready) $(date +%s.%N)"; sleep 1000'],
        "volumeMounts": mounts,
    }
    pod = _pod("hooked", {})
    pod["spec"].update(initContainers=[agent], containers=[app])
    with lab_cluster(tmp_path) as cluster:
        cluster.kube.call("POST", "/api/v1/namespaces/default/pods", pod)
        wait_for(lambda: cluster.kubectl("logs", "hooked", "-c", "app").stdout.strip() != "", timeout=30)
        written, started = map(float, cluster.ok("logs", "hooked", "-c", "app").split())
        events = cluster.ok("get", "events", "--field-selector", "involvedObject.name=hooked")
    assert "FailedPostStartHook" not in events
    assert 0 <= started - written < 1.5
