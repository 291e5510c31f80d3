"""Discovery documents (`/version`, `/api`, `/apis`, resource lists). OpenAPI is in `openapi`."""

from __future__ import annotations

from typing import Any

from vaultinject.lab.kube.resources import Registry, ResourceType

JSON = dict[str, Any]

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "70d3cc986aa8221cd1dfb1121852688902d3bf53",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T17:59:15Z",
    "goVersion": "go1.23.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(server_address: str) -> JSON:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(name: str, version: str) -> JSON:
    group_version = {"groupVersion": f"{name}/{version}", "version": version}
    return {"name": name, "versions": [group_version], "preferredVersion": group_version}


def api_group_list(registry: Registry) -> JSON:
    groups = [_group(g, v) for g, v in registry.group_versions() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, name: str) -> JSON | None:
    versions = [v for g, v in registry.group_versions() if g == name]
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions[0])}


def _resource_entry(rt: ResourceType) -> JSON:
    entry: JSON = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    return entry


def resource_list(registry: Registry, group: str, version: str) -> JSON | None:
    """The APIResourceList of one group version, subresources included."""
    served = registry.in_group_version(group, version)
    if not served:
        return None
    resources: list[JSON] = []
    for rt in served:
        resources.append(_resource_entry(rt))
        for sub in rt.subresources:
            entry: JSON = {"name": f"{rt.plural}/{sub.name}", "singularName": "", "namespaced": rt.namespaced}
            if sub.group is not None:
                entry["group"], entry["version"] = sub.group, sub.version
            entry["kind"] = sub.kind or rt.kind
            entry["verbs"] = list(sub.verbs)
            resources.append(entry)
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }
