"""Request attributes from the URL, as k8s.io/apiserver's RequestInfoFactory derives them."""

from __future__ import annotations

from dataclasses import dataclass

_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
_NAMESPACE_SUBRESOURCES = {"status", "finalize"}


@dataclass(frozen=True)
class RequestInfo:
    """What a URL addresses. Discovery documents (`/api/v1`) are non-resource paths, as in Kubernetes."""

    resource_request: bool
    verb: str
    path: str
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


def parse(method: str, path: str, watch_param: bool) -> RequestInfo:
    parts = [p for p in path.strip("/").split("/") if p]
    non_resource = RequestInfo(False, method.lower(), path)
    if not parts or parts[0] not in {"api", "apis"}:
        return non_resource
    if parts[0] == "api":
        if len(parts) < 3:
            return non_resource
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 4:
            return non_resource
        group, version, rest = parts[1], parts[2], parts[3:]
    verb = _VERBS.get(method, method.lower())
    if rest[0] == "watch":
        verb, rest = "watch", rest[1:]
        if not rest:
            return non_resource
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if not name:
        if verb == "get":
            verb = "watch" if watch_param else "list"
        elif verb == "delete":
            verb = "deletecollection"
    elif verb == "get" and watch_param:
        verb = "watch"
    return RequestInfo(True, verb, path, group, version, resource, subresource, namespace, name)
