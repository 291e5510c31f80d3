"""`meta.k8s.io/v1` Tables, which `kubectl get` asks for to print its columns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vaultinject.lab.kube.clock import parse_time
from vaultinject.lab.kube.resources import ResourceType

JSON = dict[str, Any]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def human_age(seconds: float) -> str:
    """duration.HumanDuration, as kubectl prints ages."""
    total = int(seconds)
    if total < 0:
        return "0s"
    if total < 120:
        return f"{total}s"
    minutes = total // 60
    if minutes < 10:
        return f"{minutes}m{total % 60}s" if total % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


def _column(name: str, kind: str = "string", priority: int = 0, fmt: str = "") -> JSON:
    return {"name": name, "type": kind, "format": fmt, "description": name, "priority": priority}


def _age(obj: JSON, now: float) -> str:
    created = obj["metadata"].get("creationTimestamp")
    return human_age(now - parse_time(created)) if created else "<unknown>"


def _pod_status(pod: JSON) -> str:
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status") or {}
    for entry in status.get("containerStatuses") or []:
        waiting = (entry.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return str(waiting["reason"])
    return str(status.get("reason") or status.get("phase") or "Unknown")


def _pod_row(pod: JSON, now: float) -> list[Any]:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    node = (pod.get("spec") or {}).get("nodeName") or "<none>"
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        _pod_status(pod),
        restarts,
        _age(pod, now),
        status.get("podIP") or "<none>",
        node,
    ]


def _deployment_row(obj: JSON, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [
        obj["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(obj, now),
    ]


def _namespace_row(obj: JSON, now: float) -> list[Any]:
    return [obj["metadata"]["name"], (obj.get("status") or {}).get("phase", ""), _age(obj, now)]


def _node_status(node: JSON) -> str:
    ready = next(
        (c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None
    )
    # printNode: anything but True (False or Unknown) is NotReady; no Ready condition at all is Unknown.
    status = "Unknown" if ready is None else "Ready" if ready.get("status") == "True" else "NotReady"
    return f"{status},SchedulingDisabled" if (node.get("spec") or {}).get("unschedulable") else status


def _node_row(node: JSON, now: float) -> list[Any]:
    labels = node["metadata"].get("labels") or {}
    prefix = "node-role.kubernetes.io/"
    roles = ",".join(sorted(k[len(prefix) :] for k in labels if k.startswith(prefix))) or "<none>"
    version = ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
    return [node["metadata"]["name"], _node_status(node), roles, _age(node, now), version]


def _event_row(event: JSON, now: float) -> list[Any]:
    involved = event.get("involvedObject") or event.get("regarding") or {}
    when = event.get("lastTimestamp") or event.get("eventTime") or event["metadata"].get("creationTimestamp")
    last_seen = human_age(now - parse_time(when)) if when else "<unknown>"
    target = f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"
    return [
        last_seen,
        event.get("type", ""),
        event.get("reason", ""),
        target,
        event.get("message") or event.get("note", ""),
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
    return [obj["metadata"]["name"], _first_three(items) or "<none>", _age(obj, now)]


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


def _default_row(obj: JSON, now: float) -> list[Any]:
    return [obj["metadata"]["name"], _age(obj, now)]


_LAYOUTS: dict[str, tuple[list[JSON], Callable[[JSON, float], list[Any]]]] = {
    "pods": (
        [
            _column("Name", fmt="name"),
            _column("Ready"),
            _column("Status"),
            _column("Restarts", "integer"),
            _column("Age"),
            _column("IP", priority=1),
            _column("Node", priority=1),
        ],
        _pod_row,
    ),
    "deployments.apps": (
        [
            _column("Name", fmt="name"),
            _column("Ready"),
            _column("Up-to-date", "integer"),
            _column("Available", "integer"),
            _column("Age"),
        ],
        _deployment_row,
    ),
    "namespaces": ([_column("Name", fmt="name"), _column("Status"), _column("Age")], _namespace_row),
    "nodes": (
        [
            _column("Name", fmt="name"),
            _column("Status"),
            _column("Roles"),
            _column("Age"),
            _column("Version"),
        ],
        _node_row,
    ),
    "endpoints": ([_column("Name", fmt="name"), _column("Endpoints"), _column("Age")], _endpoints_row),
    "endpointslices.discovery.k8s.io": (
        [
            _column("Name", fmt="name"),
            _column("AddressType"),
            _column("Ports"),
            _column("Endpoints"),
            _column("Age"),
        ],
        _endpointslice_row,
    ),
    "events": (
        [_column("Last Seen"), _column("Type"), _column("Reason"), _column("Object"), _column("Message")],
        _event_row,
    ),
}
_DEFAULT = ([_column("Name", fmt="name"), _column("Age")], _default_row)


def to_table(
    rt: ResourceType, objects: list[JSON], resource_version: str, include_object: str, now: float
) -> JSON:
    """A Table of `objects`; `include_object` is None, Metadata (default) or Object."""
    columns, row_of = _LAYOUTS.get(rt.storage_key, _DEFAULT)
    rows = []
    for obj in objects:
        row: JSON = {"cells": row_of(obj, now)}
        if include_object == "Object":
            row["object"] = {"apiVersion": rt.api_version, "kind": rt.kind, **obj}
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    }
