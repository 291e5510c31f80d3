"""The lab's address plan, all inside 127.0.0.0/8 (pure functions, no I/O).

- Service ClusterIPs: 127.96.0.0/16; the `kubernetes` Service is 127.96.0.1.
- Node `i` (0-based, registration order): podCIDR 127.244.<i>.0/24, InternalIP 127.0.<i+1>.1.
- Pod IPs: the lowest free address of the node's podCIDR from `.2` up; released ones are reused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
SERVICE_CIDR = ipaddress.IPv4Network("127.96.0.0/16")
KUBERNETES_SERVICE_IP = "127.96.0.1"
MAX_NODES = 255  # 127.0.<i+1>.1 must stay a valid octet


class AddressError(ValueError):
    """An address outside the plan, or a range with nothing left."""


def is_loopback(address: str) -> bool:
    """True for a dotted IPv4 address inside 127.0.0.0/8."""
    try:
        return ipaddress.IPv4Address(address) in LOOPBACK
    except ValueError:
        return False


def in_service_range(address: str) -> bool:
    try:
        return ipaddress.IPv4Address(address) in SERVICE_CIDR
    except ValueError:
        return False


def service_range_error() -> str:
    """The API server's detail text for a requested clusterIP outside the service range."""
    return f"provided IP is not in the valid range. The range of valid IPs is {SERVICE_CIDR}"


def next_cluster_ip(used: Iterable[str]) -> str:
    """The lowest free ClusterIP; .0 (network), .1 (`kubernetes`) and .255.255 (broadcast) are never given."""
    taken = {str(ip) for ip in used}
    for host in SERVICE_CIDR.hosts():
        candidate = str(host)
        if candidate != KUBERNETES_SERVICE_IP and candidate not in taken:
            return candidate
    raise AddressError(f"range is full: no free ClusterIP in {SERVICE_CIDR}")


def _check_index(index: int) -> None:
    if not 0 <= index < MAX_NODES:
        raise AddressError(f"node index {index} is outside 0..{MAX_NODES - 1}")


def node_pod_cidr(index: int) -> str:
    _check_index(index)
    return f"127.244.{index}.0/24"


def node_internal_ip(index: int) -> str:
    _check_index(index)
    return f"127.0.{index + 1}.1"


def next_pod_ip(pod_cidr: str, used: Iterable[str]) -> str:
    """The lowest free pod address of `pod_cidr` from `.2` (`.1` is the node's gateway by convention)."""
    network = ipaddress.IPv4Network(pod_cidr)
    if not network.subnet_of(LOOPBACK):
        raise AddressError(f"podCIDR {pod_cidr} is outside {LOOPBACK}")
    taken = {str(ip) for ip in used}
    for host in network.hosts():
        if int(host) - int(network.network_address) < 2:
            continue
        if str(host) not in taken:
            return str(host)
    raise AddressError(f"no free pod IP in {pod_cidr}")


class PodAddresses:
    """A node's pod IP pool: `allocate(uid)` is stable per pod UID, `release(uid)` frees it for reuse."""

    def __init__(self, pod_cidr: str) -> None:
        self.pod_cidr = pod_cidr
        self._by_uid: dict[str, str] = {}

    def allocate(self, uid: str) -> str:
        if uid not in self._by_uid:
            self._by_uid[uid] = next_pod_ip(self.pod_cidr, self._by_uid.values())
        return self._by_uid[uid]

    def restore(self, uid: str, address: str) -> None:
        """Take back an address a pod already has (a kubelet restart reading status.podIP)."""
        if ipaddress.IPv4Address(address) not in ipaddress.IPv4Network(self.pod_cidr):
            raise AddressError(f"{address} is outside {self.pod_cidr}")
        self._by_uid[uid] = address

    def release(self, uid: str) -> None:
        self._by_uid.pop(uid, None)
