"""Pod status from container records, checked against the kubelet's rules (cluster-fidelity §2)."""

from __future__ import annotations

from typing import Any

from vaultinject.lab.kubelet.status import (
    ContainerRecord,
    PodRecord,
    Termination,
    crash_loop_message,
    image_id,
    normalized_image,
    pod_status,
)

T0 = "2026-12-02T08:00:00Z"
T1 = "2026-12-02T08:00:05Z"
CID = "a" * 64


def pod(**spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "app", "image": "busybox"}])
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1"}, "spec": spec, "status": {}}


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c.get("reason", ""), c.get("message", "")) for c in status["conditions"]}


def running(name: str, ready: bool = True, started: bool = True, restarts: int = 0) -> ContainerRecord:
    return ContainerRecord(name, CID, running_since=T0, started=started, ready=ready, restart_count=restarts)


def test_nothing_created_is_pending_container_creating() -> None:
    status = pod_status(pod(), PodRecord(), T0)
    assert status["phase"] == "Pending"
    (app,) = status["containerStatuses"]
    assert app["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert app["lastState"] == {}
    assert app["started"] is False
    assert app["ready"] is False
    assert app["image"] == "docker.io/library/busybox:latest"
    assert [c["type"] for c in status["conditions"]] == [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]
    assert conditions(status)["Ready"] == (
        "False",
        "ContainersNotReady",
        "containers with unready status: [app]",
    )
    assert conditions(status)["PodReadyToStartContainers"][0] == "False"


def test_running_and_ready() -> None:
    record = PodRecord(sandbox_ready=True, pod_ip="127.244.0.2", host_ip="127.0.1.1", start_time=T0)
    record.containers["app"] = running("app")
    status = pod_status(pod(), record, T1)
    assert status["phase"] == "Running"
    assert all(c["status"] == "True" for c in status["conditions"])
    app = status["containerStatuses"][0]
    assert app["containerID"] == f"containerd://{CID}"
    assert app["imageID"].startswith("docker.io/library/busybox@sha256:")
    assert status["podIPs"] == [{"ip": "127.244.0.2"}]
    assert status["hostIP"] == "127.0.1.1"


def test_unready_running_container_keeps_running_phase() -> None:
    record = PodRecord(sandbox_ready=True)
    record.containers["app"] = running("app", ready=False)
    status = pod_status(pod(), record, T1)
    assert status["phase"] == "Running"
    assert conditions(status)["ContainersReady"] == (
        "False",
        "ContainersNotReady",
        "containers with unready status: [app]",
    )


def test_init_container_running_holds_pod_initializing() -> None:
    spec = {"initContainers": [{"name": "init", "image": "busybox"}]}
    record = PodRecord(sandbox_ready=True)
    record.containers["init"] = running("init")
    status = pod_status(pod(**spec), record, T0)
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert status["initContainerStatuses"][0]["ready"] is False
    assert conditions(status)["Initialized"] == (
        "False",
        "ContainersNotInitialized",
        "containers with incomplete status: [init]",
    )


def test_completed_init_container_is_ready_not_started() -> None:
    spec = {"initContainers": [{"name": "init", "image": "busybox"}]}
    record = PodRecord(sandbox_ready=True)
    record.containers["init"] = ContainerRecord("init", CID, terminated=Termination(0, T0, T1, CID))
    record.containers["app"] = running("app")
    status = pod_status(pod(**spec), record, T1)
    init = status["initContainerStatuses"][0]
    assert init["state"]["terminated"]["reason"] == "Completed"
    assert init["ready"] is True
    assert init["started"] is False
    assert status["phase"] == "Running"
    assert conditions(status)["Initialized"][0] == "True"


def test_failed_init_under_never_is_failed() -> None:
    spec = {"restartPolicy": "Never", "initContainers": [{"name": "init", "image": "busybox"}]}
    record = PodRecord(sandbox_ready=True)
    record.containers["init"] = ContainerRecord("init", CID, terminated=Termination(1, T0, T1, CID))
    status = pod_status(pod(**spec), record, T1)
    assert status["phase"] == "Failed"
    assert status["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Error"
    assert conditions(status)["ContainersReady"][1] == "PodFailed"


def test_sidecar_not_started_keeps_pending_then_initialized() -> None:
    spec = {"initContainers": [{"name": "side", "image": "busybox", "restartPolicy": "Always"}]}
    record = PodRecord(sandbox_ready=True)
    record.containers["side"] = running("side", ready=False, started=False)
    status = pod_status(pod(**spec), record, T0)
    assert status["phase"] == "Pending"
    assert conditions(status)["Initialized"][2] == "containers with incomplete status: [side]"
    record.containers["side"] = running("side")
    record.containers["app"] = running("app")
    status = pod_status({**pod(**spec), "status": status}, record, T1)
    assert status["phase"] == "Running"
    assert conditions(status)["ContainersReady"][0] == "True"
    # A sidecar crash-looping after initialization: Initialized stays True, the pod stays Running.
    record.containers["side"] = ContainerRecord(
        "side",
        CID,
        waiting_reason="CrashLoopBackOff",
        waiting_message="m",
        last_termination=Termination(1, T0, T1, CID),
        restart_count=1,
    )
    status = pod_status({**pod(**spec), "status": status}, record, T1)
    assert status["phase"] == "Running"
    assert conditions(status)["Initialized"][0] == "True"
    assert conditions(status)["ContainersReady"][2] == "containers with unready status: [side]"


def test_crash_loop_back_off_status_and_message() -> None:
    body = pod()
    record = PodRecord(sandbox_ready=True)
    record.containers["app"] = ContainerRecord(
        "app",
        CID,
        waiting_reason="CrashLoopBackOff",
        waiting_message=crash_loop_message(body, "app", 40),
        last_termination=Termination(2, T0, T1, CID),
        restart_count=3,
    )
    status = pod_status(body, record, T1)
    app = status["containerStatuses"][0]
    assert app["state"]["waiting"] == {
        "reason": "CrashLoopBackOff",
        "message": "back-off 40s restarting failed container=app pod=p_ns(u-1)",
    }
    assert app["lastState"]["terminated"]["exitCode"] == 2
    assert app["restartCount"] == 3
    assert status["phase"] == "Running"
    assert crash_loop_message(body, "app", 80).startswith("back-off 1m20s ")
    assert crash_loop_message(body, "app", 300).startswith("back-off 5m0s ")


def test_completed_under_never_and_sticky_terminal_phase() -> None:
    body = pod(restartPolicy="Never")
    record = PodRecord(sandbox_ready=True)
    record.containers["app"] = ContainerRecord("app", CID, terminated=Termination(0, T0, T1, CID))
    status = pod_status(body, record, T1)
    assert status["phase"] == "Succeeded"
    assert conditions(status)["Ready"] == ("False", "PodCompleted", "")
    record.containers["app"] = running("app")
    assert pod_status({**body, "status": status}, record, T1)["phase"] == "Succeeded"


def test_config_error_and_sorted_statuses() -> None:
    body = pod(containers=[{"name": "b", "image": "x"}, {"name": "a", "image": "hashicorp/vault:1.15"}])
    record = PodRecord(sandbox_ready=True)
    record.containers["a"] = ContainerRecord(
        "a", waiting_reason="CreateContainerConfigError", waiting_message='secret "db" not found'
    )
    status = pod_status(body, record, T0)
    assert [s["name"] for s in status["containerStatuses"]] == ["a", "b"]
    assert status["containerStatuses"][0]["state"]["waiting"]["message"] == 'secret "db" not found'
    assert status["containerStatuses"][0]["image"] == "docker.io/hashicorp/vault:1.15"


def test_transition_time_moves_only_on_flip() -> None:
    record = PodRecord(sandbox_ready=True)
    record.containers["app"] = running("app", ready=False)
    first = pod_status(pod(), record, T0)
    second = pod_status({**pod(), "status": first}, record, T1)
    by_type = {c["type"]: c["lastTransitionTime"] for c in second["conditions"]}
    assert by_type["Ready"] == T0
    assert by_type["PodScheduled"] == T0
    record.containers["app"] = running("app")
    third = pod_status({**pod(), "status": second}, record, T1)
    assert {c["type"]: c["lastTransitionTime"] for c in third["conditions"]}["Ready"] == T1


def test_image_names() -> None:
    assert normalized_image("quay.io/x/y") == "quay.io/x/y:latest"
    assert image_id("busybox:1.36").startswith("docker.io/library/busybox@sha256:")
