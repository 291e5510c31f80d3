"""Discovery documents (`/version`, `/api`, `/apis`, resource lists) and the slice of OpenAPI v3 that
kubectl reads to learn that the server validates fields itself (so it skips client-side schemas)."""

from __future__ import annotations

import hashlib
import json
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


# --- OpenAPI v3 (paths and operations only, no schemas) ---


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _parameter(name: str) -> JSON:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _operations(rt: ResourceType, collection: bool) -> JSON:
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    write = [_parameter(p) for p in ("dryRun", "fieldManager", "fieldValidation")]
    methods: tuple[str, ...] = ("get", "post", "delete") if collection else ("get", "put", "patch", "delete")
    actions = {
        "get": "list" if collection else "get",
        "post": "post",
        "put": "put",
        "patch": "patch",
        "delete": "delete",
    }
    if collection and rt.verbs == ("create",):
        methods = ("post",)
    return {
        method: {
            "operationId": f"{method}{rt.kind}",
            "parameters": write if method in {"post", "put", "patch"} else [],
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": actions[method],
            "x-kubernetes-group-version-kind": gvk,
        }
        for method in methods
    }


def openapi_document(registry: Registry, group: str, version: str) -> JSON | None:
    served = registry.in_group_version(group, version)
    if not served:
        return None
    prefix = "/" + _gv_path(group, version)
    paths: JSON = {}
    for rt in served:
        base = f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
        paths[base] = _operations(rt, collection=True)
        if not rt.virtual:
            paths[f"{base}/{{name}}"] = _operations(rt, collection=False)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }


def openapi_hash(document: JSON) -> str:
    return hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest().upper()


def openapi_index(registry: Registry) -> JSON:
    paths = {}
    for group, version in registry.group_versions():
        document = openapi_document(registry, group, version)
        assert document is not None
        path = _gv_path(group, version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={openapi_hash(document)}"}
    return {"paths": paths}
