"""Workloads on real kubelet processes, judged by kubectl: a Deployment rolls out, logs, restarts and
scales; a Job completes; a crashing container backs off with growing delays."""

from __future__ import annotations

from pathlib import Path

from tests.lab_cluster.cluster import Cluster, lab_cluster
from vaultinject.lab.kube.harness import wait_for

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: app
        image: busybox:1.36
        command: ["sh", "-c", "echo serving as $POD_NAME; trap 'exit 0' TERM; while true; do sleep 0.2; done"]
        env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        readinessProbe:
          exec: {command: ["true"]}
          periodSeconds: 1
"""


def _names(cluster: Cluster, selector: str) -> set[str]:
    return {
        p["metadata"]["name"] for p in cluster.pods(selector) if not p["metadata"].get("deletionTimestamp")
    }


def test_deployment_rolls_out_logs_restarts_and_scales(tmp_path: Path) -> None:
    with lab_cluster(tmp_path, nodes=2) as cluster:
        cluster.apply(DEPLOYMENT)
        assert "successfully rolled out" in cluster.ok("rollout", "status", "deployment/web", "--timeout=60s")
        first = _names(cluster, "app=web")
        assert len(first) == 2
        pod = sorted(first)[0]
        wait_for(lambda: f"serving as {pod}" in cluster.kubectl("logs", pod).stdout, timeout=10)
        nodes = {p["spec"]["nodeName"] for p in cluster.pods("app=web")}
        assert nodes == {"node-1", "node-2"}  # spread across the nodes

        cluster.ok("rollout", "restart", "deployment/web")
        assert "successfully rolled out" in cluster.ok("rollout", "status", "deployment/web", "--timeout=90s")
        wait_for(lambda: len(_names(cluster, "app=web")) == 2 and not _names(cluster, "app=web") & first, 60)
        wait_for(lambda: not {p["metadata"]["name"] for p in cluster.pods("app=web")} & first, timeout=30)

        cluster.ok("scale", "deployment/web", "--replicas=3")
        cluster.ok("rollout", "status", "deployment/web", "--timeout=60s")
        ready = cluster.ok("get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}")
        assert ready == "3"
        cluster.ok("scale", "deployment/web", "--replicas=1")
        wait_for(lambda: len(cluster.pods("app=web")) == 1, timeout=30, interval=0.2)
        table = cluster.ok("get", "pods", "-l", "app=web", "--no-headers").split()
        assert table[1:3] == ["1/1", "Running"]


JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: busybox
        command: ["sh", "-c", "echo job output; sleep 0.5"]
"""


def test_job_completes(tmp_path: Path) -> None:
    with lab_cluster(tmp_path) as cluster:
        cluster.apply(JOB)
        cluster.ok("wait", "--for=condition=complete", "job/once", "--timeout=60s")
        (pod,) = cluster.pods("job-name=once")
        name = pod["metadata"]["name"]
        assert cluster.status_column(name) == "Completed"
        assert cluster.ok("logs", name) == "job output\n"
        status = cluster.pod("default", name)["status"]
        terminated = status["containerStatuses"][0]["state"]["terminated"]
        assert (status["phase"], terminated["exitCode"], terminated["reason"]) == (
            "Succeeded",
            0,
            "Completed",
        )


CRASHER = """
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "echo attempt; exit 1"]
"""


def test_crashing_container_backs_off_with_doubling_delays(tmp_path: Path) -> None:
    # The cluster's kubelets run with --crash-loop-backoff 1 (Kubernetes: 10s), so the doubling is quick.
    with lab_cluster(tmp_path) as cluster:
        cluster.apply(CRASHER)
        seen: list[str] = []

        def back_offs() -> bool:
            status = (cluster.pod("default", "crasher").get("status") or {}).get("containerStatuses") or []
            waiting = (status[0]["state"].get("waiting") or {}) if status else {}
            message = waiting.get("message", "")
            if waiting.get("reason") == "CrashLoopBackOff" and (not seen or seen[-1] != message):
                seen.append(message)
            return len(seen) >= 3

        wait_for(back_offs, timeout=40, interval=0.1)
        uid = cluster.pod("default", "crasher")["metadata"]["uid"]
        suffix = f"restarting failed container=app pod=crasher_default({uid})"
        assert seen[:3] == [f"back-off {s} {suffix}" for s in ("1s", "2s", "4s")]
        assert cluster.status_column("crasher") == "CrashLoopBackOff"
        status = cluster.pod("default", "crasher")["status"]["containerStatuses"][0]
        assert status["restartCount"] >= 3
        assert status["lastState"]["terminated"]["exitCode"] == 1
        assert cluster.ok("logs", "crasher", "--previous") == "attempt\n"
        events = cluster.ok("get", "events", "--field-selector", "involvedObject.name=crasher")
        assert "Back-off restarting failed container app in pod crasher_default" in events


UNSTARTABLE = """
apiVersion: v1
kind: Pod
metadata: {name: unstartable}
spec:
  containers:
  - name: app
    image: busybox
    command: ["/no/such/program"]
"""


def test_a_container_that_cannot_start_is_retried_with_back_off_and_the_pod_keeps_running(
    tmp_path: Path,
) -> None:
    """A StartError is a failed run: with restartPolicy Always the pod is not Failed (its ReplicaSet
    would replace it, again and again), the container backs off and is tried again."""
    with lab_cluster(tmp_path) as cluster:
        cluster.apply(UNSTARTABLE)

        def retried() -> bool:
            status = cluster.pod("default", "unstartable").get("status") or {}
            statuses = status.get("containerStatuses") or [{}]
            return bool(statuses[0].get("restartCount", 0) >= 2)

        wait_for(retried, timeout=30, interval=0.1)
        pod = cluster.pod("default", "unstartable")
        status = pod["status"]["containerStatuses"][0]
        assert pod["status"]["phase"] == "Running"
        assert status["lastState"]["terminated"]["reason"] == "StartError"
        assert "/no/such/program" in status["lastState"]["terminated"]["message"]
        assert cluster.status_column("unstartable") in {"CrashLoopBackOff", "StartError"}
