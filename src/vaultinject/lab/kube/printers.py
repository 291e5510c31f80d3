"""The server-side printers of `kubectl get` (Kubernetes' `pkg/printers/internalversion`, v1.32): each
kind's columns, and the cells of one object's row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vaultinject.lab.kube.clock import parse_time

JSON = dict[str, Any]
Row = Callable[[JSON, float], list[Any]]
NONE = "<none>"


def human_duration(seconds: float) -> str:
    """`duration.HumanDuration`, as kubectl prints ages and durations."""
    total = int(seconds)
    if total < -1:
        return "<invalid>"
    if total < 0:
        return "0s"
    if total < 120:
        return f"{total}s"
    minutes, hours, days = total // 60, total // 3600, total // 86400
    if minutes < 10:
        return _pair(minutes, "m", total % 60, "s")
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return _pair(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return _pair(days, "d", hours % 24, "h")
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return _pair(days // 365, "y", days % 365, "d")
    return f"{days // 365}y"


def _pair(major: int, major_unit: str, minor: int, minor_unit: str) -> str:
    return f"{major}{major_unit}{minor}{minor_unit}" if minor else f"{major}{major_unit}"


def column(name: str, kind: str = "string", priority: int = 0, fmt: str = "") -> JSON:
    return {"name": name, "type": kind, "format": fmt, "description": name, "priority": priority}


def _since(timestamp: str | None, now: float) -> str:
    return human_duration(now - parse_time(timestamp)) if timestamp else "<unknown>"


def _age(obj: JSON, now: float) -> str:
    return _since(obj["metadata"].get("creationTimestamp"), now)


def _spec(obj: JSON) -> JSON:
    return obj.get("spec") or {}


def _status(obj: JSON) -> JSON:
    return obj.get("status") or {}


def _condition(obj: JSON, kind: str) -> JSON | None:
    return next((c for c in _status(obj).get("conditions") or [] if c.get("type") == kind), None)


def _is_true(obj: JSON, kind: str) -> bool:
    return (_condition(obj, kind) or {}).get("status") == "True"


# --- pods (printPod) ---


class _PodCount:
    """What the pod printer accumulates: ready containers, restarts, the newest restart."""

    def __init__(self) -> None:
        self.ready = 0
        self.restarts = 0
        self.last_restart = ""

    def add(self, status: JSON) -> None:
        self.restarts += int(status.get("restartCount") or 0)
        finished = ((status.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or ""
        if finished and (not self.last_restart or parse_time(finished) > parse_time(self.last_restart)):
            self.last_restart = finished


def _exit_text(terminated: JSON, prefix: str = "") -> str:
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


def _init_status(pod: JSON, counts: _PodCount, sidecars: _PodCount) -> str | None:
    """The `Init:...` status while initializing, else None; counts ready sidecars."""
    spec_init = _spec(pod).get("initContainers") or []
    restartable = {c.get("name") for c in spec_init if c.get("restartPolicy") == "Always"}
    for index, status in enumerate(_status(pod).get("initContainerStatuses") or []):
        counts.add(status)
        sidecar = status.get("name") in restartable
        if sidecar:
            sidecars.add(status)
        state = status.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and terminated.get("exitCode", 0) == 0:
            continue
        if sidecar and status.get("started"):
            counts.ready += 1 if status.get("ready") else 0
            continue
        if terminated:
            return _exit_text(terminated, "Init:")
        if waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            return f"Init:{waiting['reason']}"
        return f"Init:{index}/{len(spec_init)}"
    return None


def pod_status(pod: JSON, counts: _PodCount | None = None) -> str:
    """The STATUS column, by printPod's rules."""
    counts = counts or _PodCount()
    status = _status(pod)
    reason = str(status.get("reason") or status.get("phase") or "")
    if (_condition(pod, "PodScheduled") or {}).get("reason") == "SchedulingGated":
        reason = "SchedulingGated"
    sidecars = _PodCount()
    init = _init_status(pod, counts, sidecars)
    if init is not None:
        reason = init
    if init is None or _is_true(pod, "Initialized"):
        counts.restarts, counts.last_restart = sidecars.restarts, sidecars.last_restart
        has_running = False
        for container in reversed(status.get("containerStatuses") or []):
            counts.add(container)
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif terminated:
                reason = _exit_text(terminated)
            elif container.get("ready") and "running" in state:
                has_running = True
                counts.ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _is_true(pod, "Ready") else "NotReady"
    deleting = pod["metadata"].get("deletionTimestamp")
    if deleting and status.get("reason") == "NodeLost":
        return "Unknown"
    if deleting and status.get("phase") not in ("Succeeded", "Failed"):
        return "Terminating"
    return reason


def _pod_row(pod: JSON, now: float) -> list[Any]:
    spec, status = _spec(pod), _status(pod)
    sidecars = sum(1 for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always")
    total = len(spec.get("containers") or []) + sidecars
    counts = _PodCount()
    phase = pod_status(pod, counts)
    restarts = str(counts.restarts)
    if counts.restarts and counts.last_restart:
        restarts += f" ({_since(counts.last_restart, now)} ago)"
    gates = spec.get("readinessGates") or []
    ready_gates = sum(1 for g in gates if _is_true(pod, g.get("conditionType", "")))
    return [
        pod["metadata"]["name"],
        f"{counts.ready}/{total}",
        phase,
        restarts,
        _age(pod, now),
        status.get("podIP") or NONE,
        spec.get("nodeName") or NONE,
        status.get("nominatedNodeName") or NONE,
        f"{ready_gates}/{len(gates)}" if gates else NONE,
    ]


# --- workloads ---


def _template(obj: JSON) -> JSON:
    return _spec(_spec(obj).get("template") or {})


def _containers_and_images(obj: JSON) -> list[str]:
    containers = _template(obj).get("containers") or []
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]


def _selector(obj: JSON) -> str:
    selector = _spec(obj).get("selector") or {}
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = (
            expression.get("key"),
            expression.get("operator"),
            expression.get("values") or [],
        )
        if operator in ("In", "NotIn"):
            terms.append(f"{key} {operator.lower()} ({','.join(values)})")
        else:
            terms.append(str(key) if operator == "Exists" else f"!{key}")
    return ",".join(terms) or NONE


def _deployment_row(obj: JSON, now: float) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    return [
        obj["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(obj, now),
        *_containers_and_images(obj),
        _selector(obj),
    ]


def _replicaset_row(obj: JSON, now: float) -> list[Any]:
    status = _status(obj)
    return [
        obj["metadata"]["name"],
        _spec(obj).get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(obj, now),
        *_containers_and_images(obj),
        _selector(obj),
    ]


def _statefulset_row(obj: JSON, now: float) -> list[Any]:
    return [
        obj["metadata"]["name"],
        f"{_status(obj).get('readyReplicas', 0)}/{_spec(obj).get('replicas', 0)}",
        _age(obj, now),
        *_containers_and_images(obj),
    ]


def _daemonset_row(obj: JSON, now: float) -> list[Any]:
    status = _status(obj)
    node_selector = _template(obj).get("nodeSelector") or {}
    return [
        obj["metadata"]["name"],
        status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0),
        status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0),
        status.get("numberAvailable", 0),
        ",".join(f"{k}={v}" for k, v in sorted(node_selector.items())) or NONE,
        _age(obj, now),
        *_containers_and_images(obj),
        _selector(obj),
    ]


def _job_status(job: JSON) -> str:
    for condition, shown in (("Complete", "Complete"), ("Failed", "Failed")):
        if _is_true(job, condition):
            return shown
    if job["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for condition in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _is_true(job, condition):
            return condition
    return "Running"


def _job_completions(job: JSON) -> str:
    spec, succeeded = _spec(job), _status(job).get("succeeded", 0)
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = spec.get("parallelism") or 0
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def _job_duration(job: JSON, now: float) -> str:
    status = _status(job)
    if not status.get("startTime"):
        return ""
    end = parse_time(status["completionTime"]) if status.get("completionTime") else now
    return human_duration(end - parse_time(status["startTime"]))


def _job_row(obj: JSON, now: float) -> list[Any]:
    return [
        obj["metadata"]["name"],
        _job_status(obj),
        _job_completions(obj),
        _job_duration(obj, now),
        _age(obj, now),
        *_containers_and_images(obj),
        _selector(obj),
    ]


def _cronjob_row(obj: JSON, now: float) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    job_template = (spec.get("jobTemplate") or {}).get("spec") or {}
    return [
        obj["metadata"]["name"],
        spec.get("schedule", ""),
        spec.get("timeZone") or NONE,
        "True" if spec.get("suspend") else "False",
        len(status.get("active") or []),
        _since(status["lastScheduleTime"], now) if status.get("lastScheduleTime") else NONE,
        _age(obj, now),
        *_containers_and_images({"spec": job_template}),
        _selector({"spec": job_template}),
    ]


# --- the rest ---


def _namespace_row(obj: JSON, now: float) -> list[Any]:
    return [obj["metadata"]["name"], _status(obj).get("phase", ""), _age(obj, now)]


def node_status(node: JSON) -> str:
    ready = _condition(node, "Ready") or {}
    shown = "Ready" if ready.get("status") == "True" else "NotReady" if ready else "Unknown"
    return f"{shown},SchedulingDisabled" if _spec(node).get("unschedulable") else shown


def _node_row(node: JSON, now: float) -> list[Any]:
    labels = node["metadata"].get("labels") or {}
    prefix = "node-role.kubernetes.io/"
    roles = ",".join(sorted(k[len(prefix) :] for k in labels if k.startswith(prefix))) or NONE
    status = _status(node)
    info = status.get("nodeInfo") or {}
    addresses = status.get("addresses") or []

    def address(kind: str) -> str:
        return next((a.get("address", "") for a in addresses if a.get("type") == kind), NONE)

    return [
        node["metadata"]["name"],
        node_status(node),
        roles,
        _age(node, now),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _service_ports(service: JSON) -> str:
    ports = []
    for port in _spec(service).get("ports") or []:
        text = str(port.get("port", ""))
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        ports.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(ports) or NONE


def _service_row(obj: JSON, now: float) -> list[Any]:
    spec = _spec(obj)
    kind = spec.get("type", "ClusterIP")
    external = ",".join(spec.get("externalIPs") or []) or (spec.get("externalName") or "")
    if not external:
        external = "<pending>" if kind == "LoadBalancer" else NONE
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items())) or NONE
    return [
        obj["metadata"]["name"],
        kind,
        spec.get("clusterIP") or NONE,
        external,
        _service_ports(obj),
        _age(obj, now),
        selector,
    ]


def _first_three(items: list[str]) -> str:
    """kubectl's list cell: at most three entries, then ` + N more...`."""
    text = ",".join(items[:3])
    return f"{text} + {len(items) - 3} more..." if len(items) > 3 else text


def _endpoints_row(obj: JSON, now: float) -> list[Any]:
    """printEndpoints / formatEndpoints: ready addresses with each port."""
    items = []
    for subset in obj.get("subsets") or []:
        ports = subset.get("ports") or []
        for address in subset.get("addresses") or []:
            items += [f"{address['ip']}:{p['port']}" for p in ports] if ports else [address["ip"]]
    return [obj["metadata"]["name"], _first_three(items) or NONE, _age(obj, now)]


def _endpointslice_row(obj: JSON, now: float) -> list[Any]:
    """printEndpointSlice: address type, ports and endpoint addresses (`<unset>` when empty)."""
    ports = [str(p["port"]) if p.get("port") is not None else "*" for p in obj.get("ports") or []]
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    return [
        obj["metadata"]["name"],
        obj.get("addressType", ""),
        _first_three(ports) or "<unset>",
        _first_three(addresses) or "<unset>",
        _age(obj, now),
    ]


def _lease_row(obj: JSON, now: float) -> list[Any]:
    return [obj["metadata"]["name"], _spec(obj).get("holderIdentity") or NONE, _age(obj, now)]


def _event_row(event: JSON, now: float) -> list[Any]:
    involved = event.get("involvedObject") or event.get("regarding") or {}
    when = event.get("lastTimestamp") or event.get("eventTime") or event["metadata"].get("creationTimestamp")
    target = f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"
    return [
        _since(when, now),
        event.get("type", ""),
        event.get("reason", ""),
        target,
        event.get("message") or event.get("note", ""),
    ]


def _default_row(obj: JSON, now: float) -> list[Any]:
    return [obj["metadata"]["name"], _age(obj, now)]


_NAME = column("Name", fmt="name")
_AGE = column("Age")
_WIDE_WORKLOAD = [
    column("Containers", priority=1),
    column("Images", priority=1),
    column("Selector", priority=1),
]

LAYOUTS: dict[str, tuple[list[JSON], Row]] = {
    "pods": (
        [
            _NAME,
            column("Ready"),
            column("Status"),
            column("Restarts"),
            _AGE,
            column("IP", priority=1),
            column("Node", priority=1),
            column("Nominated Node", priority=1),
            column("Readiness Gates", priority=1),
        ],
        _pod_row,
    ),
    "deployments.apps": (
        [
            _NAME,
            column("Ready"),
            column("Up-to-date", "integer"),
            column("Available", "integer"),
            _AGE,
            *_WIDE_WORKLOAD,
        ],
        _deployment_row,
    ),
    "replicasets.apps": (
        [
            _NAME,
            column("Desired", "integer"),
            column("Current", "integer"),
            column("Ready", "integer"),
            _AGE,
            *_WIDE_WORKLOAD,
        ],
        _replicaset_row,
    ),
    "statefulsets.apps": ([_NAME, column("Ready"), _AGE, *_WIDE_WORKLOAD[:2]], _statefulset_row),
    "daemonsets.apps": (
        [
            _NAME,
            column("Desired", "integer"),
            column("Current", "integer"),
            column("Ready", "integer"),
            column("Up-to-date", "integer"),
            column("Available", "integer"),
            column("Node Selector"),
            _AGE,
            *_WIDE_WORKLOAD,
        ],
        _daemonset_row,
    ),
    "jobs.batch": (
        [_NAME, column("Status"), column("Completions"), column("Duration"), _AGE, *_WIDE_WORKLOAD],
        _job_row,
    ),
    "cronjobs.batch": (
        [
            _NAME,
            column("Schedule"),
            column("Timezone"),
            column("Suspend", "boolean"),
            column("Active", "integer"),
            column("Last Schedule"),
            _AGE,
            *_WIDE_WORKLOAD,
        ],
        _cronjob_row,
    ),
    "namespaces": ([_NAME, column("Status"), _AGE], _namespace_row),
    "nodes": (
        [
            _NAME,
            column("Status"),
            column("Roles"),
            _AGE,
            column("Version"),
            column("Internal-IP", priority=1),
            column("External-IP", priority=1),
            column("OS-Image", priority=1),
            column("Kernel-Version", priority=1),
            column("Container-Runtime", priority=1),
        ],
        _node_row,
    ),
    "services": (
        [
            _NAME,
            column("Type"),
            column("Cluster-IP"),
            column("External-IP"),
            column("Port(s)"),
            _AGE,
            column("Selector", priority=1),
        ],
        _service_row,
    ),
    "endpoints": ([_NAME, column("Endpoints"), _AGE], _endpoints_row),
    "endpointslices.discovery.k8s.io": (
        [_NAME, column("AddressType"), column("Ports"), column("Endpoints"), _AGE],
        _endpointslice_row,
    ),
    "leases.coordination.k8s.io": ([_NAME, column("Holder"), _AGE], _lease_row),
    "events": (
        [column("Last Seen"), column("Type"), column("Reason"), column("Object"), column("Message")],
        _event_row,
    ),
}
DEFAULT: tuple[list[JSON], Row] = ([_NAME, _AGE], _default_row)
