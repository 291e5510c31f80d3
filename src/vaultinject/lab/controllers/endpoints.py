"""endpoint-controller (`endpoint.Controller.syncService`): the v1 Endpoints of each Service with a
selector, ready pods in `addresses`, the others in `notReadyAddresses` (all ready with
publishNotReadyAddresses)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from vaultinject.lab.controllers import endpointutil as eu
from vaultinject.lab.controllers import scheduling as s
from vaultinject.lab.controllers.base import Controller, Key
from vaultinject.lab.controllers.manager import register
from vaultinject.lab.kube.store import Change

JSON = dict[str, Any]


def _address(pod: JSON, service: JSON) -> JSON:
    metadata = pod["metadata"]
    address: JSON = {"ip": pod["status"]["podIP"]}
    if eu.should_set_hostname(pod, service):
        address["hostname"] = pod["spec"]["hostname"]
    if s.node_of(pod):
        address["nodeName"] = s.node_of(pod)
    address["targetRef"] = {
        "kind": "Pod",
        "namespace": metadata["namespace"],
        "name": metadata["name"],
        "uid": metadata["uid"],
    }
    return address


def subsets_for(service: JSON, pods: list[JSON]) -> list[JSON]:
    """One subset per distinct port set, addresses sorted by IP (RepackSubsets)."""
    spec = service.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[tuple[tuple[str, int, str], ...], JSON] = {}
    for pod in pods:
        if not eu.should_be_in_endpoints(pod, publish):
            continue
        ports: list[tuple[str, int, str]] = []
        for service_port in spec.get("ports") or []:
            number = eu.find_port(pod, service_port)
            if number is not None:
                ports.append((service_port.get("name", ""), number, service_port.get("protocol", "TCP")))
        if spec.get("ports") and not ports:
            continue
        subset = groups.setdefault(tuple(sorted(ports)), {"addresses": [], "notReadyAddresses": []})
        kind = "addresses" if publish or s.pod_ready(pod) else "notReadyAddresses"
        subset[kind].append(_address(pod, service))
    subsets = []
    for ports_key, subset in sorted(groups.items()):
        out: JSON = {}
        for kind in ("addresses", "notReadyAddresses"):
            if subset[kind]:
                out[kind] = sorted(subset[kind], key=lambda a: (a["ip"], a["targetRef"]["uid"]))
        if ports_key:
            out["ports"] = [
                {**({"name": n} if n else {}), "port": p, "protocol": proto} for n, p, proto in ports_key
            ]
        subsets.append(out)
    return subsets


@register
class EndpointController(Controller):
    name = "endpoint-controller"
    watches: ClassVar[tuple[str, ...]] = ("services", "pods")

    def keys_for(self, change: Change) -> Iterable[Key]:
        return eu.services_for(self.client, change)

    def reconcile(self, key: Key) -> float | None:
        namespace, name = key
        service = self.client.store.get("services", namespace, name)
        current = self.client.get("endpoints", namespace, name)
        if service is None:
            if current is not None:
                self.client.delete("endpoints", namespace, name)
            return None
        if eu.selector_of(service) is None:
            return None
        subsets = subsets_for(service, eu.selected_pods(self.client, service))
        labels = dict(service["metadata"].get("labels") or {})
        if (service.get("spec") or {}).get("clusterIP") == "None":
            labels["service.kubernetes.io/headless"] = ""
        if current is None:
            body: JSON = {"metadata": {"name": name, "labels": labels}}
            if subsets:
                body["subsets"] = subsets
            self.client.create("endpoints", namespace, body)
            return None
        if (current.get("subsets") or []) == subsets and (current["metadata"].get("labels") or {}) == labels:
            return None
        current["metadata"]["labels"] = labels
        current["subsets"] = subsets
        if not subsets:
            current.pop("subsets")
        self.client.replace("endpoints", current)
        return None
