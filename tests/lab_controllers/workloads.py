"""Helpers for the workload controller tests: a lab API server running only the named controllers, the
test playing the kubelet (bind, then Running+Ready or Succeeded/Failed through `pods/status`), kubectl."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vaultinject.lab.controllers.settings import ControllerSettings
from vaultinject.lab.kube.clock import rfc3339
from vaultinject.lab.kube.harness import LabKube, in_process_kube, wait_for

JSON = dict[str, Any]
KUBECTL = shutil.which("kubectl")
NS = "work"


@contextmanager
def lab(directory: Path, *controllers: str) -> Iterator[LabKube]:
    settings = ControllerSettings(resync_period=1.0)
    with in_process_kube(directory, controllers=controllers, controller_settings=settings) as kube:
        kube.ensure_namespace(NS)
        kube.ensure_service_account(NS, "default")
        yield kube


def pods(kube: LabKube, selector: str = "", namespace: str = NS) -> list[JSON]:
    query = f"?labelSelector={selector}" if selector else ""
    items: list[JSON] = kube.call("GET", f"/api/v1/namespaces/{namespace}/pods{query}")["items"]
    return items


def live(kube: LabKube, selector: str = "") -> list[JSON]:
    """Pods not being deleted."""
    return [p for p in pods(kube, selector) if not p["metadata"].get("deletionTimestamp")]


def now(kube: LabKube) -> str:
    assert kube.server is not None
    return rfc3339(kube.server.clock.now())


def _container_statuses(pod: JSON, state: JSON, ready: bool) -> list[JSON]:
    return [
        {
            "name": c["name"],
            "image": c["image"],
            "imageID": "",
            "ready": ready,
            "restartCount": 0,
            "started": "running" in state,
            "state": state,
        }
        for c in pod["spec"]["containers"]
    ]


def bind(kube: LabKube, pod: JSON, node: str = "node-1") -> None:
    name = pod["metadata"]["name"]
    if not pod["spec"].get("nodeName"):
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}, "target": {"name": node}}
        kube.call("POST", f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/{name}/binding", body)


def set_status(kube: LabKube, pod: JSON, phase: str, ready: bool, state: JSON) -> JSON:
    bind(kube, pod)
    at = now(kube)
    conditions = [
        {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None, "lastTransitionTime": at}
        for kind, ok in (("Initialized", True), ("Ready", ready), ("ContainersReady", ready))
    ]
    conditions.append(
        {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": at}
    )
    status = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": "127.0.1.1",
        "podIP": "127.244.0.2",
        "startTime": at,
        "containerStatuses": _container_statuses(pod, state, ready),
    }
    path = f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/{pod['metadata']['name']}/status"
    body = json.dumps({"status": status}).encode()
    answer: JSON = kube.call("PATCH", path, body, content_type="application/merge-patch+json")
    return answer


def run(kube: LabKube, pod: JSON, ready: bool = True) -> JSON:
    """What a kubelet reports for a started pod: Running, and Ready when `ready`."""
    return set_status(kube, pod, "Running", ready, {"running": {"startedAt": now(kube)}})


def finish(kube: LabKube, pod: JSON, exit_code: int = 0) -> JSON:
    """What a kubelet reports when the pod's containers exited (restartPolicy Never/OnFailure)."""
    at = now(kube)
    reason = "Completed" if exit_code == 0 else "Error"
    state = {"terminated": {"exitCode": exit_code, "reason": reason, "startedAt": at, "finishedAt": at}}
    return set_status(kube, pod, "Succeeded" if exit_code == 0 else "Failed", False, state)


def run_all(kube: LabKube, selector: str = "") -> int:
    """Make every pending live pod Running and Ready; returns how many were started."""
    started = 0
    for pod in live(kube, selector):
        if (pod.get("status") or {}).get("phase") == "Pending":
            run(kube, pod)
            started += 1
    return started


def events(kube: LabKube, name: str = "") -> list[JSON]:
    items: list[JSON] = kube.call("GET", f"/api/v1/namespaces/{NS}/events")["items"]
    return [e for e in items if not name or e["involvedObject"]["name"] == name]


def messages(kube: LabKube, reason: str, name: str = "") -> list[str]:
    return [e["message"] for e in events(kube, name) if e["reason"] == reason]


def kubectl(
    kube: LabKube, *args: str, check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None, "kubectl 1.32 is expected on PATH"
    result = subprocess.run(
        [KUBECTL, "-n", NS, *args],
        check=False,
        env=kube.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def get(kube: LabKube, path: str) -> JSON:
    answer: JSON = kube.call("GET", path)
    return answer


__all__ = ["NS", "LabKube", "wait_for"]
