"""Pod status as Kubernetes' kubelet computes it, from the worker's container records (pure).

Follows `k8s:pkg/kubelet/kubelet_pods.go` (`getPhase`, `convertToAPIContainerStatuses`),
`k8s:pkg/kubelet/status/generate.go` (conditions) and the prober manager's `started`/`ready` rules.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class Termination:
    """One finished run of a container."""

    exit_code: int
    started_at: str
    finished_at: str
    container_id: str  # 64 hex
    reason: str = ""  # empty: Completed for exit 0, Error otherwise
    message: str = ""

    def to_json(self) -> JSON:
        reason = self.reason or ("Completed" if self.exit_code == 0 else "Error")
        body: JSON = {
            "exitCode": self.exit_code,
            "reason": reason,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "containerID": container_uri(self.container_id),
        }
        if self.message:
            body["message"] = self.message
        return body


@dataclass
class ContainerRecord:
    """What the worker knows about one container of the pod.

    Exactly one of `running_since`, `terminated` or `waiting_reason` describes the current state; with none
    the container has not been created yet (the default waiting state applies)."""

    name: str
    container_id: str = ""  # the newest container's 64-hex id
    running_since: str | None = None
    terminated: Termination | None = None  # current state: exited and not (yet) restarted
    last_termination: Termination | None = None  # the run before the current one
    waiting_reason: str = ""  # e.g. CrashLoopBackOff, CreateContainerConfigError
    waiting_message: str = ""
    restart_count: int = 0
    started: bool = False  # startup probe passed (or none) while running
    ready: bool = False  # readiness probe passed (or none) while running


@dataclass
class PodRecord:
    """The worker's view of one pod: sandbox, addresses and container records."""

    sandbox_ready: bool = False
    host_ip: str = ""
    pod_ip: str = ""
    start_time: str = ""
    containers: dict[str, ContainerRecord] = field(default_factory=dict)
    terminal: bool = False  # the pod is being killed for good (deleted or deadline exceeded)
    reason: str = ""  # e.g. DeadlineExceeded
    message: str = ""
    forced_phase: str = ""  # e.g. Failed on activeDeadlineSeconds


def container_uri(container_id: str) -> str:
    return f"containerd://{container_id}" if container_id else ""


def normalized_image(image: str) -> str:
    """`busybox` -> `docker.io/library/busybox:latest`, as containerd reports a short image name."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and not digest:
        name += ":latest"
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    return f"{name}@{digest}" if digest else name


def image_id(image: str) -> str:
    """The CRI ImageRef: repository `@sha256:` digest (stable per image; nothing is pulled here)."""
    normalized = normalized_image(image)
    repository = normalized.split("@", 1)[0]
    if ":" in repository.rsplit("/", 1)[-1]:
        repository = repository.rsplit(":", 1)[0]
    digest = hashlib.sha256(normalized.encode()).hexdigest()
    return f"{repository}@sha256:{digest}"


def is_sidecar(container: JSON) -> bool:
    return container.get("restartPolicy") == "Always"


def go_list(names: list[str]) -> str:
    """Go's `%s` of a []string: `[a b]`."""
    return "[" + " ".join(names) + "]"


# --- container statuses ---


def _container_status(container: JSON, record: ContainerRecord | None, default_waiting: str) -> JSON:
    status: JSON = {
        "name": container["name"],
        "state": {},
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": normalized_image(str(container.get("image", ""))),
        "imageID": "",
        "started": False,
    }
    if record is None:
        status["state"] = {"waiting": {"reason": default_waiting}}
        return status
    status["restartCount"] = record.restart_count
    if record.container_id:
        status["containerID"] = container_uri(record.container_id)
        status["imageID"] = image_id(str(container.get("image", "")))
    if record.last_termination is not None:
        status["lastState"] = {"terminated": record.last_termination.to_json()}
    if record.running_since is not None:
        status["state"] = {"running": {"startedAt": record.running_since}}
        status["started"] = record.started
        status["ready"] = record.started and record.ready
    elif record.terminated is not None:
        status["state"] = {"terminated": record.terminated.to_json()}
    else:
        waiting: JSON = {"reason": record.waiting_reason or default_waiting}
        if record.waiting_message:
            waiting["message"] = record.waiting_message
        status["state"] = {"waiting": waiting}
    return status


def container_statuses(spec: JSON, record: PodRecord) -> tuple[list[JSON], list[JSON]]:
    """(initContainerStatuses in spec order, containerStatuses sorted by name)."""
    init_specs = list(spec.get("initContainers") or [])
    default_waiting = "PodInitializing" if init_specs else "ContainerCreating"
    init: list[JSON] = []
    for container in init_specs:
        status = _container_status(container, record.containers.get(container["name"]), default_waiting)
        terminated = status["state"].get("terminated")
        if not is_sidecar(container):
            # Regular init containers are ready exactly when they exited 0; `started` only while running.
            status["ready"] = terminated is not None and terminated["exitCode"] == 0
        init.append(status)
    main = [
        _container_status(c, record.containers.get(c["name"]), default_waiting)
        for c in spec.get("containers") or []
    ]
    main.sort(key=lambda s: str(s["name"]))
    return init, main


# --- phase ---


def _state(status: JSON | None) -> str:
    if status is None:
        return "unknown"
    state = status.get("state") or {}
    for key in ("running", "terminated", "waiting"):
        if key in state:
            return key
    return "unknown"


def _last_terminated(status: JSON) -> JSON | None:
    terminated = (status.get("lastState") or {}).get("terminated")
    return terminated if isinstance(terminated, dict) else None


def has_regular_container_started(spec: JSON, statuses: dict[str, JSON]) -> bool:
    """Any main container running or exited (the pod has been initialized before)."""
    for container in spec.get("containers") or []:
        status = statuses.get(container["name"])
        if status is not None and _state(status) in ("running", "terminated"):
            return True
        if status is not None and _last_terminated(status) is not None:
            return True
    return False


def get_phase(spec: JSON, statuses: dict[str, JSON], terminal: bool, initialized: bool) -> str:
    """`getPhase`, sidecars included."""
    pending_regular_init = failed_init = pending_sidecars = 0
    unknown = running = waiting = stopped = succeeded = 0
    for container in spec.get("initContainers") or []:
        status = statuses.get(container["name"])
        state = _state(status)
        if is_sidecar(container):
            if status is None:
                unknown += 1
            elif state == "running":
                if not status.get("started"):
                    pending_sidecars += 1
                running += 1
            elif state == "waiting" and _last_terminated(status) is None:
                pending_sidecars += 1
                waiting += 1
            elif state == "unknown":
                pending_sidecars += 1
                unknown += 1
            continue
        if status is None or state in ("running", "unknown"):
            pending_regular_init += 1
        elif state == "terminated":
            if status["state"]["terminated"]["exitCode"] != 0:
                failed_init += 1
        else:
            last = _last_terminated(status)
            if last is None:
                pending_regular_init += 1
            elif last["exitCode"] != 0:
                failed_init += 1
    for container in spec.get("containers") or []:
        status = statuses.get(container["name"])
        state = _state(status)
        if status is None or state == "unknown":
            unknown += 1
        elif state == "running":
            running += 1
        elif state == "terminated":
            stopped += 1
            if status["state"]["terminated"]["exitCode"] == 0:
                succeeded += 1
        elif _last_terminated(status) is not None:
            stopped += 1
        else:
            waiting += 1
    policy = spec.get("restartPolicy") or "Always"
    if failed_init > 0 and policy == "Never":
        return "Failed"
    if pending_regular_init > 0 or (pending_sidecars > 0 and not initialized):
        return "Pending"
    if waiting > 0:
        return "Pending"
    if running > 0 and unknown == 0:
        return "Running"
    if running == 0 and stopped > 0 and unknown == 0:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


# --- conditions ---


def _condition(kind: str, ok: bool, reason: str = "", message: str = "") -> JSON:
    condition: JSON = {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None}
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def initialized_condition(spec: JSON, statuses: dict[str, JSON], phase: str) -> JSON:
    init_specs = spec.get("initContainers") or []
    if not init_specs:
        return _condition("Initialized", True)
    unknown: list[str] = []
    incomplete: list[str] = []
    for container in init_specs:
        status = statuses.get(container["name"])
        if status is None:
            unknown.append(container["name"])
        elif is_sidecar(container):
            if not status.get("started"):
                incomplete.append(container["name"])
        elif not status.get("ready"):
            incomplete.append(container["name"])
    if phase == "Succeeded" and not unknown:
        return _condition("Initialized", True, "PodCompleted")
    if has_regular_container_started(spec, statuses):
        return _condition("Initialized", True)
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {go_list(unknown)}")
    if incomplete:
        messages.append(f"containers with incomplete status: {go_list(incomplete)}")
    if messages:
        return _condition("Initialized", False, "ContainersNotInitialized", ", ".join(messages))
    return _condition("Initialized", True)


def containers_ready_condition(spec: JSON, statuses: dict[str, JSON], phase: str) -> JSON:
    unknown: list[str] = []
    unready: list[str] = []
    watched = [c for c in spec.get("initContainers") or [] if is_sidecar(c)] + list(
        spec.get("containers") or []
    )
    for container in watched:
        status = statuses.get(container["name"])
        if status is None:
            unknown.append(container["name"])
        elif not status.get("ready"):
            unready.append(container["name"])
    if phase == "Succeeded" and not unknown:
        return _condition("ContainersReady", False, "PodCompleted")
    if phase == "Failed":
        return _condition("ContainersReady", False, "PodFailed")
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {go_list(unknown)}")
    if unready:
        messages.append(f"containers with unready status: {go_list(unready)}")
    if messages:
        return _condition("ContainersReady", False, "ContainersNotReady", ", ".join(messages))
    return _condition("ContainersReady", True)


def ready_condition(spec: JSON, containers_ready: JSON, conditions: list[JSON]) -> JSON:
    if containers_ready["status"] != "True":
        return _condition(
            "Ready", False, containers_ready.get("reason", ""), containers_ready.get("message", "")
        )
    by_type = {c.get("type"): c for c in conditions}
    missing: list[str] = []
    for gate in spec.get("readinessGates") or []:
        kind = gate.get("conditionType", "")
        condition = by_type.get(kind)
        if condition is None:
            missing.append(f'corresponding condition of pod readiness gate "{kind}" does not exist.')
        elif condition.get("status") != "True":
            missing.append(
                f'the status of pod readiness gate "{kind}" is not "True", but {condition.get("status")}'
            )
    if missing:
        return _condition("Ready", False, "ReadinessGatesNotReady", ", ".join(missing))
    return _condition("Ready", True)


OWN_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def _with_transition_times(conditions: list[JSON], previous: list[JSON], now: str) -> list[JSON]:
    """`lastTransitionTime` moves only when a condition's status flips."""
    before = {c.get("type"): c for c in previous}
    for condition in conditions:
        old = before.get(condition["type"])
        if old is not None and old.get("status") == condition["status"] and old.get("lastTransitionTime"):
            condition["lastTransitionTime"] = old["lastTransitionTime"]
        elif "lastTransitionTime" not in condition:
            condition["lastTransitionTime"] = now
    return conditions


# --- the whole status ---


def pod_status(pod: JSON, record: PodRecord, now: str) -> JSON:
    """The `status` the kubelet writes for `pod` (its current status is the previous one)."""
    spec = pod.get("spec") or {}
    previous: JSON = pod.get("status") or {}
    init, main = container_statuses(spec, record)
    statuses = {s["name"]: s for s in init + main}
    initialized = has_regular_container_started(spec, statuses)
    phase = record.forced_phase or get_phase(spec, statuses, record.terminal, initialized)
    if previous.get("phase") in TERMINAL_PHASES:
        phase = str(previous["phase"])  # terminal phases are sticky
    foreign = [c for c in previous.get("conditions") or [] if c.get("type") not in OWN_CONDITIONS]
    containers_ready = containers_ready_condition(spec, statuses, phase)
    conditions = [
        *foreign,
        _condition("PodReadyToStartContainers", record.sandbox_ready),
        initialized_condition(spec, statuses, phase),
        ready_condition(spec, containers_ready, foreign),
        containers_ready,
        _condition("PodScheduled", True),
    ]
    status: JSON = {
        "phase": phase,
        "conditions": _with_transition_times(conditions, list(previous.get("conditions") or []), now),
    }
    reason = record.reason or (previous.get("reason", "") if previous.get("phase") == phase else "")
    message = record.message or (previous.get("message", "") if previous.get("phase") == phase else "")
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    if record.host_ip:
        status["hostIP"] = record.host_ip
        status["hostIPs"] = [{"ip": record.host_ip}]
    if record.pod_ip:
        status["podIP"] = record.pod_ip
        status["podIPs"] = [{"ip": record.pod_ip}]
    if record.start_time:
        status["startTime"] = record.start_time
    if init:
        status["initContainerStatuses"] = init
    status["containerStatuses"] = main
    if previous.get("qosClass"):
        status["qosClass"] = previous["qosClass"]
    return status


def backoff_text(seconds: float) -> str:
    """Go's `time.Duration.String()` for whole seconds: `10s`, `1m20s`, `5m0s`."""
    total = int(seconds)
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def pod_ref(pod: JSON) -> str:
    """`format.Pod`: `name_namespace(uid)`."""
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('name', '')}_{metadata.get('namespace', '')}({metadata.get('uid', '')})"


def crash_loop_message(pod: JSON, container: str, seconds: float) -> str:
    return f"back-off {backoff_text(seconds)} restarting failed container={container} pod={pod_ref(pod)}"
