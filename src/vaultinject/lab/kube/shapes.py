"""JSON type checks for the fields the server reads, standing in for Go's typed decoding: a wrong type is a
400 `<Kind> in version "v1" cannot be handled as a <Kind>: json: cannot unmarshal ...`, never a crash."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vaultinject.lab.kube.resources import ResourceType
from vaultinject.lab.kube.status import ApiError, bad_request

JSON = dict[str, Any]
# type codes: obj, str, int, bool, list (of anything), list:obj, list:str, map:str (string values)
Rules = dict[str, str]

_METADATA: Rules = {
    "metadata": "obj",
    "metadata.name": "str",
    "metadata.generateName": "str",
    "metadata.namespace": "str",
    "metadata.resourceVersion": "str",
    "metadata.labels": "map:str",
    "metadata.annotations": "map:str",
    "metadata.finalizers": "list:str",
    "metadata.ownerReferences": "list:obj",
    "metadata.ownerReferences[].uid": "str",
}


def _containers(prefix: str) -> Rules:
    rules: Rules = {}
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        base = f"{prefix}.{kind}"
        rules.update(
            {
                base: "list:obj",
                f"{base}[].name": "str",
                f"{base}[].image": "str",
                f"{base}[].env": "list:obj",
                f"{base}[].env[].valueFrom": "obj",
                f"{base}[].env[].valueFrom.fieldRef": "obj",
                f"{base}[].ports": "list:obj",
                f"{base}[].volumeMounts": "list:obj",
                f"{base}[].resources": "obj",
                f"{base}[].resources.limits": "obj",
                f"{base}[].resources.requests": "obj",
                f"{base}[].readinessProbe": "obj",
                f"{base}[].livenessProbe": "obj",
                f"{base}[].startupProbe": "obj",
                f"{base}[].command": "list:str",
                f"{base}[].args": "list:str",
            }
        )
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            rules[f"{base}[].{probe}.httpGet"] = "obj"
    return rules


def _pod_spec(prefix: str) -> Rules:
    volumes = f"{prefix}.volumes"
    return {
        prefix: "obj",
        **_containers(prefix),
        volumes: "list:obj",
        f"{volumes}[].name": "str",
        **{
            f"{volumes}[].{source}": "obj"
            for source in ("secret", "configMap", "projected", "downwardAPI", "emptyDir")
        },
        f"{volumes}[].projected.sources": "list:obj",
        f"{volumes}[].projected.sources[].serviceAccountToken": "obj",
        f"{volumes}[].projected.sources[].downwardAPI": "obj",
        f"{volumes}[].projected.sources[].downwardAPI.items": "list:obj",
        f"{volumes}[].projected.sources[].downwardAPI.items[].fieldRef": "obj",
        f"{volumes}[].downwardAPI.items": "list:obj",
        f"{volumes}[].downwardAPI.items[].fieldRef": "obj",
        f"{prefix}.tolerations": "list:obj",
        f"{prefix}.serviceAccountName": "str",
        f"{prefix}.nodeName": "str",
        f"{prefix}.restartPolicy": "str",
        f"{prefix}.nodeSelector": "map:str",
    }


def _selector(prefix: str) -> Rules:
    return {
        prefix: "obj",
        f"{prefix}.matchLabels": "map:str",
        f"{prefix}.matchExpressions": "list:obj",
        f"{prefix}.matchExpressions[].values": "list:str",
    }


def _workload(template: str = "spec.template") -> Rules:
    return {
        "spec": "obj",
        **_selector("spec.selector"),
        template: "obj",
        f"{template}.metadata": "obj",
        f"{template}.metadata.labels": "map:str",
        f"{template}.metadata.annotations": "map:str",
        **_pod_spec(f"{template}.spec"),
        "spec.strategy": "obj",
        "spec.updateStrategy": "obj",
        "spec.replicas": "int",
    }


_STATUS_LISTS: Rules = {
    "status": "obj",
    "status.conditions": "list:obj",
    "status.containerStatuses": "list:obj",
    "status.initContainerStatuses": "list:obj",
    "status.podIPs": "list:obj",
}
_WEBHOOKS: Rules = {
    "webhooks": "list:obj",
    "webhooks[].rules": "list:obj",
    "webhooks[].rules[].operations": "list:str",
    "webhooks[].rules[].apiGroups": "list:str",
    "webhooks[].rules[].apiVersions": "list:str",
    "webhooks[].rules[].resources": "list:str",
    "webhooks[].clientConfig": "obj",
    "webhooks[].clientConfig.service": "obj",
    "webhooks[].clientConfig.url": "str",
    "webhooks[].clientConfig.caBundle": "str",
    **_selector("webhooks[].namespaceSelector"),
    **_selector("webhooks[].objectSelector"),
    "webhooks[].name": "str",
    "webhooks[].admissionReviewVersions": "list:str",
}
_RULES: Rules = {
    "rules": "list:obj",
    **{
        f"rules[].{k}": "list:str"
        for k in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")
    },
}
_BINDING: Rules = {
    "roleRef": "obj",
    "roleRef.name": "str",
    "roleRef.kind": "str",
    "subjects": "list:obj",
    "subjects[].name": "str",
    "subjects[].kind": "str",
    "subjects[].namespace": "str",
}
_EVENT: Rules = {
    "involvedObject": "obj",
    "involvedObject.namespace": "str",
    "regarding": "obj",
    "related": "obj",
    "source": "obj",
    "deprecatedSource": "obj",
    "series": "obj",
    "note": "str",
    "message": "str",
    "reason": "str",
    "type": "str",
    "action": "str",
    "reportingController": "str",
    "reportingInstance": "str",
    "reportingComponent": "str",
}
_REVIEW: Rules = {
    "spec": "obj",
    "spec.token": "str",
    "spec.audiences": "list:str",
    "spec.user": "str",
    "spec.groups": "list:str",
    "spec.extra": "obj",
    "spec.resourceAttributes": "obj",
    "spec.nonResourceAttributes": "obj",
}
_BY_KIND: dict[str, Rules] = {
    "pods": {**_pod_spec("spec"), **_STATUS_LISTS},
    "deployments.apps": _workload(),
    "replicasets.apps": _workload(),
    "statefulsets.apps": _workload(),
    "daemonsets.apps": _workload(),
    "jobs.batch": _workload(),
    "cronjobs.batch": {
        "spec": "obj",
        "spec.schedule": "str",
        "spec.jobTemplate": "obj",
        "spec.jobTemplate.spec": "obj",
        **_workload("spec.jobTemplate.spec.template"),
    },
    "secrets": {"data": "map:str", "stringData": "map:str", "type": "str"},
    "configmaps": {"data": "map:str", "binaryData": "map:str"},
    "services": {
        "spec": "obj",
        "spec.ports": "list:obj",
        "spec.clusterIP": "str",
        "spec.selector": "map:str",
    },
    "endpoints": {"subsets": "list:obj", "subsets[].addresses": "list:obj", "subsets[].ports": "list:obj"},
    "nodes": {"spec": "obj", **_STATUS_LISTS, "status.addresses": "list:obj"},
    "namespaces": {"spec": "obj", "spec.finalizers": "list:str", "status": "obj"},
    "events": _EVENT,
    "leases.coordination.k8s.io": {
        "spec": "obj",
        "spec.holderIdentity": "str",
        "spec.leaseDurationSeconds": "int",
    },
    "mutatingwebhookconfigurations.admissionregistration.k8s.io": _WEBHOOKS,
    "validatingwebhookconfigurations.admissionregistration.k8s.io": _WEBHOOKS,
    "roles.rbac.authorization.k8s.io": _RULES,
    "clusterroles.rbac.authorization.k8s.io": {
        **_RULES,
        "aggregationRule": "obj",
        "aggregationRule.clusterRoleSelectors": "list:obj",
    },
    "rolebindings.rbac.authorization.k8s.io": _BINDING,
    "clusterrolebindings.rbac.authorization.k8s.io": _BINDING,
    "serviceaccounts": {"secrets": "list:obj", "imagePullSecrets": "list:obj"},
    "tokenreviews.authentication.k8s.io": _REVIEW,
    "subjectaccessreviews.authorization.k8s.io": _REVIEW,
    "selfsubjectaccessreviews.authorization.k8s.io": _REVIEW,
    "localsubjectaccessreviews.authorization.k8s.io": _REVIEW,
    "poddisruptionbudgets.policy": {"spec": "obj"},
}
TOKEN_REQUEST: Rules = {
    "spec": "obj",
    "spec.audiences": "list:str",
    "spec.expirationSeconds": "int",
    "spec.boundObjectRef": "obj",
    "spec.boundObjectRef.name": "str",
    "spec.boundObjectRef.uid": "str",
}
EVICTION: Rules = {
    "deleteOptions": "obj",
    "deleteOptions.gracePeriodSeconds": "int",
    "deleteOptions.preconditions": "obj",
    "deleteOptions.propagationPolicy": "str",
}
BINDING: Rules = {"target": "obj", "target.name": "str"}

_JSON_TYPE = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}
_GO_TYPE = {
    "obj": "object",
    "str": "string",
    "int": "int64",
    "bool": "bool",
    "list": "[]interface {}",
    "list:obj": "[]object",
    "list:str": "[]string",
    "map:str": "map[string]string",
}


def _matches(code: str, value: Any) -> bool:
    if value is None:
        return True  # null is the zero value of every Go type
    base, _, item = code.partition(":")
    if base == "obj":
        return isinstance(value, dict)
    if base == "str":
        return isinstance(value, str)
    if base == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if base == "bool":
        return isinstance(value, bool)
    if base == "map":
        return isinstance(value, dict) and all(isinstance(v, str) or v is None for v in value.values())
    if not isinstance(value, list):
        return False
    if item == "obj":
        return all(isinstance(v, dict) for v in value)
    return item != "str" or all(isinstance(v, str) for v in value)


def _found(obj: Any, parts: list[str], path: str = "") -> Iterator[tuple[str, Any]]:
    if not parts:
        yield path, obj
        return
    head, rest = parts[0], parts[1:]
    many = head.endswith("[]")
    name = head.removesuffix("[]")
    if not isinstance(obj, dict) or name not in obj:
        return
    value, here = obj[name], f"{path}.{name}" if path else name
    if not many:
        yield from _found(value, rest, here)
    elif isinstance(value, list):
        for element in value:
            yield from _found(element, rest, here)


def check_rules(kind: str, version: str, obj: Any, rules: Rules) -> None:
    """Raise the decoder's 400 for the first field whose JSON type does not fit."""
    for rule in sorted(rules, key=lambda r: r.count(".") + r.count("[]")):
        for path, value in _found(obj, rule.split(".")):
            if not _matches(rules[rule], value):
                raise bad_request(
                    f'{kind} in version "{version}" cannot be handled as a {kind}: json: cannot unmarshal '
                    f"{_JSON_TYPE.get(type(value), 'value')} into Go struct field {kind}.{path} of type "
                    f"{_GO_TYPE[rules[rule]]}"
                )


def check(rt: ResourceType, obj: Any) -> None:
    """The shape checks of `rt`'s kind (metadata included)."""
    check_rules(rt.kind, rt.version, obj, {**_METADATA, **_BY_KIND.get(rt.storage_key, {})})


def malformed(rt: ResourceType, error: Exception) -> ApiError:
    """The 400 for a shape the checks above did not anticipate (the server must not answer 500)."""
    return bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {error}')
