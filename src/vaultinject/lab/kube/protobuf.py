"""Decode the Kubernetes protobuf request bodies kubectl's typed clients send (`create namespace`,
`create token`, `auth can-i`, `drain` ...), for the kinds listed in SCHEMAS.

The envelope is `k8s\\x00` + runtime.Unknown{typeMeta, raw}; `raw` is the object's message, decoded
here with field tables transcribed from the generated.proto files. Empty strings are dropped (Go's JSON
would omit them); numbers and booleans are kept, since presence matters for pointer fields.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


class ProtobufError(ValueError):
    """The body is not protobuf this server can decode; the message says why."""


@dataclass(frozen=True)
class Field:
    name: str
    # string, bytes, int, bool, time, quantity, intorstr, map, map-bytes, map-quantity, or a message name;
    # int0/bool0 are non-pointer `omitempty` fields, left out when zero as Go's JSON would
    kind: str
    repeated: bool = False


def _f(name: str, kind: str = "string", repeated: bool = False) -> Field:
    return Field(name, kind, repeated)


def _strings(*names: str) -> dict[int, Field]:
    return {number: _f(name) for number, name in enumerate(names, start=1) if name}


_META = {
    "ObjectMeta": {
        **_strings("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion"),
        7: _f("generation", "int0"),
        8: _f("creationTimestamp", "time"),
        9: _f("deletionTimestamp", "time"),
        10: _f("deletionGracePeriodSeconds", "int"),
        11: _f("labels", "map"),
        12: _f("annotations", "map"),
        13: _f("ownerReferences", "OwnerReference", True),
        14: _f("finalizers", repeated=True),
    },
    "OwnerReference": {
        1: _f("kind"),
        3: _f("name"),
        4: _f("uid"),
        5: _f("apiVersion"),
        6: _f("controller", "bool"),
        7: _f("blockOwnerDeletion", "bool"),
    },
    "DeleteOptions": {
        1: _f("gracePeriodSeconds", "int"),
        2: _f("preconditions", "Preconditions"),
        3: _f("orphanDependents", "bool"),
        4: _f("propagationPolicy"),
        5: _f("dryRun", repeated=True),
    },
    "Preconditions": _strings("uid", "resourceVersion"),
    "LabelSelector": {
        1: _f("matchLabels", "map"),
        2: _f("matchExpressions", "LabelSelectorRequirement", True),
    },
    "LabelSelectorRequirement": {1: _f("key"), 2: _f("operator"), 3: _f("values", repeated=True)},
    "Empty": {},
}
_CORE = {
    "Namespace": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "NamespaceSpec"), 3: _f("status", "Empty")},
    "NamespaceSpec": {1: _f("finalizers", repeated=True)},
    "ConfigMap": {
        1: _f("metadata", "ObjectMeta"),
        2: _f("data", "map"),
        3: _f("binaryData", "map-bytes"),
        4: _f("immutable", "bool"),
    },
    "Secret": {
        1: _f("metadata", "ObjectMeta"),
        2: _f("data", "map-bytes"),
        3: _f("type"),
        4: _f("stringData", "map"),
        5: _f("immutable", "bool"),
    },
    "ServiceAccount": {
        1: _f("metadata", "ObjectMeta"),
        2: _f("secrets", "ObjectReference", True),
        3: _f("imagePullSecrets", "LocalObjectReference", True),
        4: _f("automountServiceAccountToken", "bool"),
    },
    "ObjectReference": _strings(
        "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"
    ),
    "LocalObjectReference": _strings("name"),
    "PodTemplateSpec": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "PodSpec")},
    "PodSpec": {
        1: _f("volumes", "Volume", True),
        2: _f("containers", "Container", True),
        3: _f("restartPolicy"),
        4: _f("terminationGracePeriodSeconds", "int"),
        5: _f("activeDeadlineSeconds", "int"),
        6: _f("dnsPolicy"),
        7: _f("nodeSelector", "map"),
        8: _f("serviceAccountName"),
        9: _f("serviceAccount"),
        10: _f("nodeName"),
        11: _f("hostNetwork", "bool0"),
        12: _f("hostPID", "bool0"),
        13: _f("hostIPC", "bool0"),
        14: _f("securityContext", "Empty"),
        15: _f("imagePullSecrets", "LocalObjectReference", True),
        16: _f("hostname"),
        17: _f("subdomain"),
        19: _f("schedulerName"),
        20: _f("initContainers", "Container", True),
        21: _f("automountServiceAccountToken", "bool"),
        22: _f("tolerations", "Toleration", True),
    },
    "Container": {
        1: _f("name"),
        2: _f("image"),
        3: _f("command", repeated=True),
        4: _f("args", repeated=True),
        5: _f("workingDir"),
        6: _f("ports", "ContainerPort", True),
        7: _f("env", "EnvVar", True),
        8: _f("resources", "ResourceRequirements"),
        9: _f("volumeMounts", "VolumeMount", True),
        13: _f("terminationMessagePath"),
        14: _f("imagePullPolicy"),
        16: _f("stdin", "bool0"),
        17: _f("stdinOnce", "bool0"),
        18: _f("tty", "bool0"),
        20: _f("terminationMessagePolicy"),
        24: _f("restartPolicy"),
    },
    "ContainerPort": {
        1: _f("name"),
        2: _f("hostPort", "int0"),
        3: _f("containerPort", "int"),
        4: _f("protocol"),
        5: _f("hostIP"),
    },
    "EnvVar": {1: _f("name"), 2: _f("value")},
    "ResourceRequirements": {1: _f("limits", "map-quantity"), 2: _f("requests", "map-quantity")},
    "VolumeMount": {
        1: _f("name"),
        2: _f("readOnly", "bool0"),
        3: _f("mountPath"),
        4: _f("subPath"),
        5: _f("mountPropagation"),
        6: _f("subPathExpr"),
    },
    "Volume": {1: _f("name"), 2: _f("volumeSource", "VolumeSource")},
    "VolumeSource": {2: _f("emptyDir", "EmptyDirVolumeSource")},
    "EmptyDirVolumeSource": {1: _f("medium"), 2: _f("sizeLimit", "quantity")},
    "Toleration": {
        1: _f("key"),
        2: _f("operator"),
        3: _f("value"),
        4: _f("effect"),
        5: _f("tolerationSeconds", "int"),
    },
}
_WORKLOADS = {
    "Deployment": {
        1: _f("metadata", "ObjectMeta"),
        2: _f("spec", "DeploymentSpec"),
        3: _f("status", "Empty"),
    },
    "DeploymentSpec": {
        1: _f("replicas", "int"),
        2: _f("selector", "LabelSelector"),
        3: _f("template", "PodTemplateSpec"),
        4: _f("strategy", "DeploymentStrategy"),
        5: _f("minReadySeconds", "int0"),
        6: _f("revisionHistoryLimit", "int"),
        7: _f("paused", "bool0"),
        9: _f("progressDeadlineSeconds", "int"),
    },
    "DeploymentStrategy": {1: _f("type"), 2: _f("rollingUpdate", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: _f("maxUnavailable", "intorstr"), 2: _f("maxSurge", "intorstr")},
    "Job": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "JobSpec"), 3: _f("status", "Empty")},
    "JobSpec": {
        1: _f("parallelism", "int"),
        2: _f("completions", "int"),
        3: _f("activeDeadlineSeconds", "int"),
        4: _f("selector", "LabelSelector"),
        5: _f("manualSelector", "bool"),
        6: _f("template", "PodTemplateSpec"),
        7: _f("backoffLimit", "int"),
        8: _f("ttlSecondsAfterFinished", "int"),
        9: _f("completionMode"),
        10: _f("suspend", "bool"),
    },
    "CronJob": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "CronJobSpec"), 3: _f("status", "Empty")},
    "CronJobSpec": {
        1: _f("schedule"),
        2: _f("startingDeadlineSeconds", "int"),
        3: _f("concurrencyPolicy"),
        4: _f("suspend", "bool"),
        5: _f("jobTemplate", "JobTemplateSpec"),
        6: _f("successfulJobsHistoryLimit", "int"),
        7: _f("failedJobsHistoryLimit", "int"),
        8: _f("timeZone"),
    },
    "JobTemplateSpec": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "JobSpec")},
}
_AUTH = {
    "TokenRequest": {
        1: _f("metadata", "ObjectMeta"),
        2: _f("spec", "TokenRequestSpec"),
        3: _f("status", "Empty"),
    },
    "TokenRequestSpec": {
        1: _f("audiences", repeated=True),
        2: _f("boundObjectRef", "BoundObjectReference"),
        4: _f("expirationSeconds", "int"),
    },
    "BoundObjectReference": _strings("kind", "apiVersion", "name", "uid"),
    "SelfSubjectReview": {1: _f("metadata", "ObjectMeta"), 2: _f("status", "Empty")},
    "SelfSubjectAccessReview": {
        1: _f("metadata", "ObjectMeta"),
        2: _f("spec", "SelfSubjectAccessReviewSpec"),
        3: _f("status", "Empty"),
    },
    "SelfSubjectAccessReviewSpec": {
        1: _f("resourceAttributes", "ResourceAttributes"),
        2: _f("nonResourceAttributes", "NonResourceAttributes"),
    },
    "ResourceAttributes": _strings(
        "namespace", "verb", "group", "version", "resource", "subresource", "name"
    ),
    "NonResourceAttributes": _strings("path", "verb"),
    "Eviction": {1: _f("metadata", "ObjectMeta"), 2: _f("deleteOptions", "DeleteOptions")},
}
_RBAC = {
    "Role": {1: _f("metadata", "ObjectMeta"), 2: _f("rules", "PolicyRule", True)},
    "ClusterRole": {
        1: _f("metadata", "ObjectMeta"),
        2: _f("rules", "PolicyRule", True),
        3: _f("aggregationRule", "AggregationRule"),
    },
    "AggregationRule": {1: _f("clusterRoleSelectors", "LabelSelector", True)},
    "PolicyRule": {
        1: _f("verbs", repeated=True),
        2: _f("apiGroups", repeated=True),
        3: _f("resources", repeated=True),
        4: _f("resourceNames", repeated=True),
        5: _f("nonResourceURLs", repeated=True),
    },
    "RoleBinding": {
        1: _f("metadata", "ObjectMeta"),
        2: _f("subjects", "Subject", True),
        3: _f("roleRef", "RoleRef"),
    },
    "ClusterRoleBinding": {
        1: _f("metadata", "ObjectMeta"),
        2: _f("subjects", "Subject", True),
        3: _f("roleRef", "RoleRef"),
    },
    "Subject": _strings("kind", "apiGroup", "name", "namespace"),
    "RoleRef": _strings("apiGroup", "kind", "name"),
}
SCHEMAS: dict[str, dict[int, Field]] = {**_META, **_CORE, **_WORKLOADS, **_AUTH, **_RBAC}
_INLINED = {"volumeSource"}  # Go embeds VolumeSource, so its fields sit on the Volume in JSON
_TOP_LEVEL = {
    "Namespace",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "Deployment",
    "Job",
    "CronJob",
    "TokenRequest",
    "SelfSubjectReview",
    "SelfSubjectAccessReview",
    "Eviction",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "DeleteOptions",
}


# --- wire format ---


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if position >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(number, wire type, value) triples: ints for varints, bytes for length-delimited."""
    position = 0
    out: list[tuple[int, int, Any]] = []
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position : position + length], position + length
        elif wire == 1:
            value, position = data[position : position + 8], position + 8
        elif wire == 5:
            value, position = data[position : position + 4], position + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _time(data: bytes) -> str:
    seconds = next((_signed(v) for n, _, v in _fields(data) if n == 1), 0)
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entries(data: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for number, _, item in _fields(data):
        if number == 1:
            key = item.decode()
        elif number == 2:
            value = item
    return key, value


def _quantity(data: bytes) -> str:
    return next((v.decode() for n, _, v in _fields(data) if n == 1), "")


def _int_or_string(data: bytes) -> int | str:
    values = {n: v for n, _, v in _fields(data)}
    return values[3].decode() if values.get(1) == 1 else _signed(int(values.get(2, 0)))


def _scalar(kind: str, value: Any) -> Any:
    if kind == "string":
        return value.decode()
    if kind == "bytes":
        return base64.b64encode(value).decode()
    if kind in {"int", "int0"}:
        return _signed(value)
    if kind in {"bool", "bool0"}:
        return bool(value)
    if kind == "time":
        return _time(value)
    if kind == "quantity":
        return _quantity(value)
    if kind == "intorstr":
        return _int_or_string(value)
    return decode_message(kind, value)


def _map_value(kind: str, raw: bytes) -> str:
    if kind == "map-bytes":
        return base64.b64encode(raw).decode()
    if kind == "map-quantity":
        return _quantity(raw)
    return raw.decode()


def _is_zero(value: Any) -> bool:
    return value in (0, b"")


def decode_message(message: str, data: bytes) -> JSON:
    """One message as the JSON object Go would marshal. Unknown fields must hold zero values: gogo
    protobuf writes every non-pointer field, so an unset field of a kind not transcribed here is harmless,
    but a set one is refused rather than silently dropped."""
    schema = SCHEMAS.get(message)
    if schema is None:
        raise ProtobufError(f"no protobuf schema for {message}")
    out: JSON = {}
    for number, _, value in _fields(data):
        field = schema.get(number)
        if field is None:
            if message == "Empty" or _is_zero(value):
                continue
            raise ProtobufError(f"field {number} of {message} is not understood by the lab server; send JSON")
        if field.kind.startswith("map"):
            key, raw = _entries(value)
            out.setdefault(field.name, {})[key] = _map_value(field.kind, raw)
            continue
        if (field.kind == "time" or field.kind.endswith("0")) and not value:
            continue  # a zero metav1.Time is null in JSON; zero omitempty scalars are left out
        decoded = _scalar(field.kind, value)
        if field.name in _INLINED:
            out.update(decoded)
        elif field.repeated:
            out.setdefault(field.name, []).append(decoded)
        elif decoded != "" or field.kind != "string":
            out[field.name] = decoded
    return out


def decode(body: bytes) -> JSON:
    """A whole request body: the runtime.Unknown envelope and the object inside it."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf magic number")
    type_meta: JSON = {}
    raw = b""
    for number, _, value in _fields(body[len(MAGIC) :]):
        if number == 1:
            type_meta = {
                ("apiVersion" if n == 1 else "kind"): v.decode() for n, _, v in _fields(value) if n in (1, 2)
            }
        elif number == 2:
            raw = value
    kind = type_meta.get("kind", "")
    if kind not in _TOP_LEVEL:
        raise ProtobufError(
            f"the lab server does not decode {kind or 'untyped'} objects from protobuf; send JSON"
        )
    obj = decode_message(kind, raw)
    return {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind, **obj}
