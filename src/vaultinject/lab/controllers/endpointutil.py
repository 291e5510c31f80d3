"""What the endpoint and EndpointSlice controllers share (`k8s.io/endpointslice/utils.go`,
`pkg/api/v1/pod.FindPort`): which pods a Service selects, which belong in its endpoints, their ports."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vaultinject.lab.controllers import scheduling as s
from vaultinject.lab.controllers.base import Key, key_of
from vaultinject.lab.controllers.client import Client
from vaultinject.lab.kube.store import Change

JSON = dict[str, Any]


def selector_of(service: JSON) -> dict[str, str] | None:
    """The Service's selector; None (not managed) when it has none."""
    selector = (service.get("spec") or {}).get("selector")
    return dict(selector) if selector else None


def selected_pods(client: Client, service: JSON) -> list[JSON]:
    selector = selector_of(service)
    if selector is None:
        return []
    namespace = service["metadata"]["namespace"]
    pods = client.store.list_objects("pods", namespace)[0]
    return [
        p for p in pods if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
    ]


def should_be_in_endpoints(pod: JSON, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: no terminal pods, no pods without an IP, terminating ones only if asked."""
    if s.is_terminal(pod) or not (pod.get("status") or {}).get("podIP"):
        return False
    return include_terminating or not pod["metadata"].get("deletionTimestamp")


def find_port(pod: JSON, service_port: JSON) -> int | None:
    """FindPort: a numeric targetPort as is; a named one from the pod's container ports (same protocol)."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def should_set_hostname(pod: JSON, service: JSON) -> bool:
    spec = pod.get("spec") or {}
    return bool(spec.get("hostname")) and spec.get("subdomain") == service["metadata"]["name"]


def services_for(client: Client, change: Change) -> Iterable[Key]:
    """The Services a changed pod (old or new labels) or Service concerns."""
    if change.storage == "services":
        return [key_of(change.obj)]
    if change.storage != "pods":
        return []
    namespace = change.obj["metadata"]["namespace"]
    label_sets = [change.obj["metadata"].get("labels") or {}]
    if change.prev is not None:
        label_sets.append(change.prev["metadata"].get("labels") or {})
    keys = []
    for service in client.store.list_objects("services", namespace)[0]:
        selector = selector_of(service)
        if selector and any(all(ls.get(k) == v for k, v in selector.items()) for ls in label_sets):
            keys.append(key_of(service))
    return keys
