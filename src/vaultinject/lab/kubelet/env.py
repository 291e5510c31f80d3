"""A container's environment as the kubelet builds it (`makeEnvironmentVariables`), with its error texts."""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from typing import Any, Protocol

JSON = dict[str, Any]
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")  # validation.IsEnvVarName


class ApiReader(Protocol):
    def get_json(self, path: str) -> JSON | None: ...  # None on 404
    def post_json(self, path: str, body: JSON) -> JSON: ...


class ConfigError(Exception):
    """What the kubelet reports as CreateContainerConfigError's message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- $(VAR) expansion, as k8s.io/kubernetes/third_party/forked/golang/expansion ---


def _read_name(text: str) -> tuple[str, bool, int]:
    if text[0] == "$":
        return "$", False, 1
    if text[0] == "(":
        for i in range(1, len(text)):
            if text[i] == ")":
                return text[1:i], True, i + 1
        return "$(", False, 1
    return "$" + text[0], False, 1


def expand_with(text: str, mapping: Callable[[str], str]) -> str:
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_var, advance = _read_name(text[cursor + 1 :])
            out.append(mapping(read) if is_var else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def mapping_for(*contexts: Mapping[str, str]) -> Callable[[str], str]:
    def lookup(name: str) -> str:
        for context in contexts:
            if name in context:
                return context[name]
        return f"$({name})"

    return lookup


def expand(text: str, env: Mapping[str, str]) -> str:
    """Expand `$(VAR)` from `env`; `$$` is a literal `$`; unknown references stay as written."""
    return expand_with(text, mapping_for(env))


def expand_args(args: Iterable[str], env: Mapping[str, str]) -> list[str]:
    return [expand(a, env) for a in args]


# --- Service links (pkg/kubelet/envvars) ---


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def service_env(
    services: Iterable[JSON], namespace: str | None = None, enable_service_links: bool = True
) -> dict[str, str]:
    """`<SVC>_SERVICE_HOST`, `_SERVICE_PORT[_<NAME>]` and the docker link `_PORT...` variables.

    With `namespace`, only that namespace's Services count, plus `kubernetes` in `default` (always, as the
    kubelet adds the master service even when `enableServiceLinks` is false).
    """
    env: dict[str, str] = {}
    for svc in services:
        meta = svc.get("metadata", {})
        spec = svc.get("spec", {})
        ip = spec.get("clusterIP")
        if not ip or ip == "None":
            continue
        is_master = meta.get("name") == "kubernetes" and meta.get("namespace") == "default"
        if (
            namespace is not None
            and not is_master
            and (meta.get("namespace") != namespace or not enable_service_links)
        ):
            continue
        name = _env_name(meta["name"])
        ports = spec.get("ports") or []
        if not ports:
            continue
        env[f"{name}_SERVICE_HOST"] = ip
        env[f"{name}_SERVICE_PORT"] = str(ports[0]["port"])
        for port in ports:
            if port.get("name"):
                env[f"{name}_SERVICE_PORT_{_env_name(port['name'])}"] = str(port["port"])
        for i, port in enumerate(ports):
            protocol = port.get("protocol") or "TCP"
            url = f"{protocol.lower()}://{ip}:{port['port']}"
            if i == 0:
                env[f"{name}_PORT"] = url
            prefix = f"{name}_PORT_{port['port']}_{protocol.upper()}"
            env[prefix] = url
            env[f"{prefix}_PROTO"] = protocol.lower()
            env[f"{prefix}_PORT"] = str(port["port"])
            env[f"{prefix}_ADDR"] = ip
    return env


# --- Quantities and fields ---

_SUFFIXES: dict[str, Fraction | int] = {
    "": 1, "m": Fraction(1, 1000), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?)$")


def quantity(text: str) -> Fraction:
    """A resource.Quantity's value (`500m`, `1Gi`, `1e3`)."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"quantities must match the regular expression: {text!r}")
    number = Fraction(match.group(1))
    if match.group(2):
        return number * Fraction(10) ** int(match.group(2)[1:])
    return number * _SUFFIXES[match.group(3) or ""]


def memory_limit(container: JSON) -> int | None:
    """`resources.limits.memory` in bytes; None when unset or not a quantity (validation's concern)."""
    raw = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    try:
        return int(quantity(raw)) if raw is not None else None
    except (ValueError, TypeError):
        return None


def format_map(values: Mapping[str, str]) -> str:
    """Labels/annotations as the downward API writes them: sorted `key="escaped"` lines."""
    return "\n".join(f"{k}={_go_quote(values[k])}" for k in sorted(values))


def _go_quote(value: str) -> str:
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")


def field_value(pod: JSON, path: str) -> str:
    """A `fieldRef.fieldPath` of the pod (`podFieldSelectorRuntimeValue` + `ExtractFieldPathAsString`)."""
    meta = pod.get("metadata", {})
    spec = pod.get("spec", {})
    status = pod.get("status", {})
    match = _SUBSCRIPT.match(path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": status.get("hostIP", ""),
        "status.podIP": status.get("podIP", ""),
        "status.hostIPs": ",".join(i["ip"] for i in status.get("hostIPs") or []),
        "status.podIPs": ",".join(i["ip"] for i in status.get("podIPs") or []),
    }
    if path in simple:
        return str(simple[path])
    if path in ("metadata.labels", "metadata.annotations"):
        return format_map(meta.get(path.split(".")[1]) or {})
    raise ConfigError(f"unsupported fieldPath: {path}")


def resource_value(container: JSON, ref: JSON, allocatable: Mapping[str, str]) -> str:
    """A `resourceFieldRef` (limits default to the node's allocatable), rounded up by `divisor`."""
    resource = ref["resource"]
    kind, _, name = resource.partition(".")
    resources = container.get("resources") or {}
    raw = (resources.get(kind) or {}).get(name)
    if raw is None and kind == "limits":
        raw = allocatable.get(name)
    if raw is None and kind == "requests":
        raw = (resources.get("limits") or {}).get(name, "0")
    if raw is None:
        raw = "0"
    divisor = quantity(ref.get("divisor") or "1")
    if divisor == 0:
        divisor = Fraction(1)
    return str(math.ceil(quantity(raw) / divisor))


# --- Secrets and ConfigMaps ---


class _Objects:
    """Per-call cache of the Secrets and ConfigMaps one container reads."""

    def __init__(self, api: ApiReader, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.cache: dict[tuple[str, str], JSON | None] = {}

    def get(self, kind: str, name: str) -> JSON | None:
        key = (kind, name)
        if key not in self.cache:
            plural = "secrets" if kind == "secret" else "configmaps"
            self.cache[key] = self.api.get_json(f"/api/v1/namespaces/{self.namespace}/{plural}/{name}")
        return self.cache[key]

    def data(self, kind: str, name: str, optional: bool) -> dict[str, str] | None:
        obj = self.get(kind, name)
        if obj is None:
            if optional:
                return None
            raise ConfigError(f'{kind} "{name}" not found')
        if kind == "secret":
            return {
                k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("data") or {}).items()
            }
        return dict(obj.get("data") or {})


def container_env(
    pod: JSON,
    container: JSON,
    api: ApiReader,
    service_env: Mapping[str, str],
    *,
    allocatable: Mapping[str, str] | None = None,
    invalid_keys: list[str] | None = None,
) -> dict[str, str]:
    """The container's final environment (in declaration order, then remaining Service variables).

    Raises ConfigError with the kubelet's text. `invalid_keys` (if given) collects skipped envFrom keys.
    """
    namespace = pod.get("metadata", {}).get("namespace", "default")
    objects = _Objects(api, namespace)
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            ref, kind = source["configMapRef"], "configmap"
        else:
            ref, kind = source["secretRef"], "secret"
        data = objects.data(kind, ref["name"], bool(ref.get("optional")))
        for key, value in (data or {}).items():
            name = prefix + key
            if not ENV_NAME.match(name):
                if invalid_keys is not None:
                    invalid_keys.append(name)
                continue
            env[name] = value
    lookup = mapping_for(env, service_env)
    for var in container.get("env") or []:
        name = var["name"]
        value = var.get("value", "")
        source = var.get("valueFrom")
        if value:
            env[name] = expand_with(value, lookup)
            continue
        if not source:
            env[name] = ""
            continue
        resolved = _value_from(pod, container, source, objects, allocatable or {})
        if resolved is not None:
            env[name] = resolved
    for key, value in service_env.items():
        env.setdefault(key, value)
    return env


def _value_from(
    pod: JSON, container: JSON, source: JSON, objects: _Objects, allocatable: Mapping[str, str]
) -> str | None:
    if "fieldRef" in source:
        return field_value(pod, source["fieldRef"]["fieldPath"])
    if "resourceFieldRef" in source:
        return resource_value(container, source["resourceFieldRef"], allocatable)
    if "configMapKeyRef" in source:
        ref, kind, title = source["configMapKeyRef"], "configmap", "ConfigMap"
    else:
        ref, kind, title = source["secretKeyRef"], "secret", "Secret"
    optional = bool(ref.get("optional"))
    data = objects.data(kind, ref["name"], optional)
    if data is None:
        return None
    if ref["key"] not in data:
        if optional:
            return None
        raise ConfigError(f"couldn't find key {ref['key']} in {title} {objects.namespace}/{ref['name']}")
    return data[ref["key"]]
