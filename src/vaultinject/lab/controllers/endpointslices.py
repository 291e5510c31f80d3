"""endpointslice-controller: discovery.k8s.io/v1 EndpointSlices for each Service with a selector,
terminating pods included with their conditions (`podToEndpoint`), at most 100 endpoints a slice, a
placeholder slice when nothing is selected."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from vaultinject.lab.controllers import endpointutil as eu
from vaultinject.lab.controllers import scheduling as s
from vaultinject.lab.controllers.base import Controller, Key
from vaultinject.lab.controllers.manager import register
from vaultinject.lab.kube.store import Change

JSON = dict[str, Any]
STORAGE = "endpointslices.discovery.k8s.io"
SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS = 100
_ZONE = "topology.kubernetes.io/zone"


def endpoint_for(pod: JSON, service: JSON, zone: str | None) -> JSON:
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    serving = s.pod_ready(pod)
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    endpoint: JSON = {
        "addresses": [pod["status"]["podIP"]],
        "conditions": {
            "ready": publish or (serving and not terminating),
            "serving": serving,
            "terminating": terminating,
        },
    }
    if eu.should_set_hostname(pod, service):
        endpoint["hostname"] = pod["spec"]["hostname"]
    endpoint["targetRef"] = {
        "kind": "Pod",
        "namespace": pod["metadata"]["namespace"],
        "name": pod["metadata"]["name"],
        "uid": pod["metadata"]["uid"],
    }
    if s.node_of(pod):
        endpoint["nodeName"] = s.node_of(pod)
    if zone:
        endpoint["zone"] = zone
    return endpoint


def desired_slices(
    service: JSON, pods: list[JSON], zones: dict[str, str]
) -> list[tuple[list[JSON], list[JSON]]]:
    """(ports, endpoints) per slice: pods grouped by their resolved port set, 100 endpoints a slice."""
    spec = service.get("spec") or {}
    groups: dict[tuple[tuple[str, int, str, str], ...], list[JSON]] = {}
    for pod in pods:
        if not eu.should_be_in_endpoints(pod, include_terminating=True):
            continue
        ports = []
        for service_port in spec.get("ports") or []:
            number = eu.find_port(pod, service_port)
            if number is not None:
                ports.append(
                    (
                        service_port.get("name", ""),
                        number,
                        service_port.get("protocol", "TCP"),
                        service_port.get("appProtocol", ""),
                    )
                )
        endpoint = endpoint_for(pod, service, zones.get(s.node_of(pod)))
        groups.setdefault(tuple(ports), []).append(endpoint)
    slices = []
    for ports_key, endpoints in sorted(groups.items()):
        port_list: list[JSON] = [
            {"name": n, "protocol": proto, "port": p, **({"appProtocol": app} if app else {})}
            for n, p, proto, app in ports_key
        ]
        endpoints.sort(key=lambda e: (e["addresses"][0], e["targetRef"]["uid"]))
        for start in range(0, len(endpoints), MAX_ENDPOINTS):
            slices.append((port_list, endpoints[start : start + MAX_ENDPOINTS]))
    return slices or [([], [])]


@register
class EndpointSliceController(Controller):
    name = "endpointslice-controller"
    watches: ClassVar[tuple[str, ...]] = ("services", "pods", STORAGE)

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.storage == STORAGE:
            labels = change.obj["metadata"].get("labels") or {}
            if labels.get(MANAGED_BY) == CONTROLLER_NAME and change.type == "DELETED":
                return [(change.obj["metadata"]["namespace"], labels.get(SERVICE_NAME, ""))]
            return []
        return eu.services_for(self.client, change)

    def _existing(self, namespace: str, name: str) -> list[JSON]:
        selector = f"{SERVICE_NAME}={name},{MANAGED_BY}={CONTROLLER_NAME}"
        return self.client.objects(STORAGE, namespace, selector)

    def reconcile(self, key: Key) -> float | None:
        namespace, name = key
        service = self.client.store.get("services", namespace, name)
        existing = self._existing(namespace, name)
        if service is None or eu.selector_of(service) is None:
            for old in existing:  # the garbage collector would do it through the owner reference too
                self.client.delete(STORAGE, namespace, old["metadata"]["name"])
            return None
        zones = {
            n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(_ZONE, "")
            for n in self.client.store.list_objects("nodes")[0]
        }
        wanted = desired_slices(service, eu.selected_pods(self.client, service), zones)
        labels = {
            **{k: v for k, v in (service["metadata"].get("labels") or {}).items() if k != MANAGED_BY},
            SERVICE_NAME: name,
            MANAGED_BY: CONTROLLER_NAME,
        }
        if (service.get("spec") or {}).get("clusterIP") == "None":
            labels["service.kubernetes.io/headless"] = ""
        existing.sort(key=lambda o: o["metadata"]["name"])
        for index, (ports, endpoints) in enumerate(wanted):
            if index < len(existing):
                current = existing[index]
                if (
                    current.get("ports") == ports
                    and (current.get("endpoints") or []) == endpoints
                    and current["metadata"].get("labels") == labels
                ):
                    continue
                current.update(ports=ports, endpoints=endpoints)
                current["metadata"]["labels"] = labels
                self.client.replace(STORAGE, current)
                continue
            body = {
                "metadata": {
                    "generateName": f"{name}-",
                    "labels": labels,
                    "ownerReferences": [_owner(service)],
                },
                "addressType": "IPv4",
                "endpoints": endpoints,
                "ports": ports,
            }
            self.client.create(STORAGE, namespace, body)
        for extra in existing[len(wanted) :]:
            self.client.delete(STORAGE, namespace, extra["metadata"]["name"])
        return None


def _owner(service: JSON) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "name": service["metadata"]["name"],
        "uid": service["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
