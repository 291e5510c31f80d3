"""The per-pod hosts file: what the kubelet writes (`managedHostsFileContent`), plus the lab's stand-in for
cluster DNS, one line per Service ClusterIP and per headless-Service pod record (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

JSON = dict[str, Any]
CLUSTER_DOMAIN = "cluster.local"
_HEADER = "# Kubernetes-managed hosts file.\n"
_LOCALHOST = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)


def _pod_line(pod: JSON) -> str:
    spec, meta = pod.get("spec") or {}, pod["metadata"]
    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        return ""
    hostname = spec.get("hostname") or meta["name"]
    subdomain = spec.get("subdomain")
    if subdomain:
        fqdn = f"{hostname}.{subdomain}.{meta.get('namespace', 'default')}.svc.{CLUSTER_DOMAIN}"
        return f"{ip}\t{fqdn}\t{hostname}\n"
    return f"{ip}\t{hostname}\n"


def _aliases(pod: JSON) -> str:
    aliases = (pod.get("spec") or {}).get("hostAliases") or []
    if not aliases:
        return ""
    lines = "".join(f"{a.get('ip', '')}\t{chr(9).join(a.get('hostnames') or [])}\n" for a in aliases)
    return "\n# Entries added by HostAliases.\n" + lines


def service_names(service: JSON, pod_namespace: str) -> list[str]:
    """The names one Service answers to from a pod of `pod_namespace` (short names only there)."""
    name, namespace = service["metadata"]["name"], service["metadata"].get("namespace", "default")
    names = [f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.{CLUSTER_DOMAIN}"]
    if namespace == pod_namespace:
        names = [name, f"{name}.{namespace}", *names]
    return names


def _service_key(service: JSON) -> tuple[str, str]:
    return service["metadata"].get("namespace", ""), service["metadata"]["name"]


def _service_lines(services: Iterable[JSON], pod_namespace: str) -> list[str]:
    lines = []
    for service in sorted(services, key=_service_key):
        ip = (service.get("spec") or {}).get("clusterIP")
        if ip and ip != "None":
            lines.append(f"{ip}\t{' '.join(service_names(service, pod_namespace))}\n")
    return lines


def _headless_lines(services: Iterable[JSON], pods: Iterable[JSON]) -> list[str]:
    """`<hostname>.<svc>.<ns>.svc.cluster.local` for pods whose subdomain names a headless Service."""
    headless = {
        (s["metadata"].get("namespace", "default"), s["metadata"]["name"])
        for s in services
        if (s.get("spec") or {}).get("clusterIP") == "None"
    }
    lines = []
    for pod in pods:
        spec, meta = pod.get("spec") or {}, pod["metadata"]
        namespace, ip = meta.get("namespace", "default"), (pod.get("status") or {}).get("podIP")
        subdomain = spec.get("subdomain")
        if ip and subdomain and (namespace, subdomain) in headless:
            hostname = spec.get("hostname") or meta["name"]
            lines.append(f"{ip}\t{hostname}.{subdomain}.{namespace}.svc.{CLUSTER_DOMAIN}\n")
    return sorted(lines)


def hosts_file(pod: JSON, services: Iterable[JSON] = (), pods: Iterable[JSON] = ()) -> str:
    """The hosts file of `pod` (its status.podIP set), given every Service and every pod of the cluster."""
    services = list(services)
    text = _HEADER + _LOCALHOST + _pod_line(pod) + _aliases(pod)
    extra = _service_lines(services, pod["metadata"].get("namespace", "default"))
    extra += _headless_lines(services, pods)
    if extra:
        text += "\n# Services (the lab's stand-in for cluster DNS).\n" + "".join(extra)
    return text
