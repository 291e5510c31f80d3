"""Label selectors (string and `LabelSelector` forms) and per-kind field selectors."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]


class SelectorError(ValueError):
    """A selector that does not parse; the message is what the API server reports."""


_KEY = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_EXISTS = re.compile(rf"^\s*(?P<key>{_KEY})\s*$")
_NOT_EXISTS = re.compile(rf"^\s*!\s*(?P<key>{_KEY})\s*$")
_EQUALITY = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})\s*$")
_SET = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*$")
_COMPARE = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>[<>])\s*(?P<value>-?\d+)\s*$")


@dataclass(frozen=True)
class Requirement:
    """One label requirement: `key` with an operator (In, NotIn, Exists, DoesNotExist, Gt, Lt)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key, "")
        if self.operator == "In":
            return present and value in self.values
        if self.operator == "NotIn":
            return not present or value not in self.values
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if not present or not re.fullmatch(r"-?\d+", value):
            return False
        bound = int(self.values[0])
        return int(value) > bound if self.operator == "Gt" else int(value) < bound


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        """Parse `a=b,c!=d,e in (f,g),!h` (the `labelSelector` query parameter)."""
        return cls(tuple(_parse_requirement(part) for part in _split_top_level(text) if part.strip()))

    @classmethod
    def from_json(cls, selector: JSON | None) -> LabelSelector:
        """A `metav1.LabelSelector` (`matchLabels` and `matchExpressions`)."""
        if not selector:
            return cls()
        requirements = [
            Requirement(k, "In", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()
        ]
        for expression in selector.get("matchExpressions") or []:
            operator = expression.get("operator", "")
            if operator not in {"In", "NotIn", "Exists", "DoesNotExist"}:
                raise SelectorError(f'"{operator}" is not a valid label selector operator')
            values = tuple(expression.get("values") or ())
            if operator in {"In", "NotIn"} and not values:
                raise SelectorError("for 'in', 'notin' operators, values set can't be empty")
            requirements.append(Requirement(expression.get("key", ""), operator, values))
        return cls(tuple(requirements))


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _parse_requirement(text: str) -> Requirement:
    if match := _NOT_EXISTS.match(text):
        return Requirement(match["key"], "DoesNotExist")
    if match := _SET.match(text):
        values = tuple(v.strip() for v in match["values"].split(","))
        if any(not re.fullmatch(_VALUE, v) for v in values):
            raise SelectorError(f"unable to parse requirement: invalid label value in {text.strip()!r}")
        return Requirement(match["key"], "In" if match["op"] == "in" else "NotIn", values)
    if match := _EQUALITY.match(text):
        return Requirement(match["key"], "NotIn" if match["op"] == "!=" else "In", (match["value"],))
    if match := _COMPARE.match(text):
        return Requirement(match["key"], "Gt" if match["op"] == ">" else "Lt", (match["value"],))
    if match := _EXISTS.match(text):
        return Requirement(match["key"], "Exists")
    raise SelectorError(f"unable to parse requirement: {text.strip()!r} is not a valid label requirement")


# --- field selectors ---


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    negate: bool

    def matches(self, fields: Mapping[str, str]) -> bool:
        return (fields.get(self.field, "") == self.value) != self.negate


@dataclass(frozen=True)
class FieldSelector:
    """`metadata.name=x,status.phase!=Running`; only the fields a kind supports are accepted."""

    requirements: tuple[FieldRequirement, ...] = ()

    @classmethod
    def parse(cls, text: str, supported: frozenset[str]) -> FieldSelector:
        requirements = []
        for part in _split_unescaped(text, ","):
            if not part.strip():
                continue
            requirement = _parse_field_requirement(part)
            if requirement.field not in supported:
                raise SelectorError(f"field label not supported: {requirement.field}")
            requirements.append(requirement)
        return cls(tuple(requirements))

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def exact_name(self) -> str | None:
        """The name the selector pins with `metadata.name=`, if any."""
        for r in self.requirements:
            if r.field == "metadata.name" and not r.negate:
                return r.value
        return None


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _parse_field_requirement(text: str) -> FieldRequirement:
    for operator, negate in (("!=", True), ("==", False), ("=", False)):
        index = _find_unescaped(text, operator)
        if index >= 0:
            return FieldRequirement(text[:index].strip(), _unescape(text[index + len(operator) :]), negate)
    raise SelectorError(f"invalid selector: '{text}'; can't understand '{text}'")


def _find_unescaped(text: str, operator: str) -> int:
    index = 0
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text.startswith(operator, index):
            return index
        index += 1
    return -1


def _get(obj: JSON, path: str) -> Any:
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pod_fields(obj: JSON) -> dict[str, str]:
    fields = {
        path: _text(_get(obj, path))
        for path in (
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        )
    }
    fields["spec.hostNetwork"] = _text(bool(_get(obj, "spec.hostNetwork")))
    fields["status.podIPs"] = _text(((_get(obj, "status.podIPs") or [{}])[0] or {}).get("ip"))
    return fields


def _event_fields(obj: JSON) -> dict[str, str]:
    fields = {
        f"involvedObject.{k}": _text((obj.get("involvedObject") or {}).get(k))
        for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    }
    fields.update({k: _text(obj.get(k)) for k in ("reason", "reportingComponent", "type")})
    fields["source"] = _text((obj.get("source") or {}).get("component"))
    return fields


_KIND_FIELDS: dict[str, Callable[[JSON], dict[str, str]]] = {
    "pods": _pod_fields,
    "events": _event_fields,
    "secrets": lambda o: {"type": _text(o.get("type"))},
    "namespaces": lambda o: {"status.phase": _text(_get(o, "status.phase"))},
    "nodes": lambda o: {"spec.unschedulable": _text(bool(_get(o, "spec.unschedulable")))},
    "replicasets.apps": lambda o: {"status.replicas": _text(_get(o, "status.replicas") or 0)},
    "jobs.batch": lambda o: {"status.successful": _text(_get(o, "status.successful") or 0)},
}
_EXTRA_NAMES: dict[str, frozenset[str]] = {
    "pods": frozenset(_pod_fields({})),
    "events": frozenset(_event_fields({})),
    "secrets": frozenset({"type"}),
    "namespaces": frozenset({"status.phase"}),
    "nodes": frozenset({"spec.unschedulable"}),
    "replicasets.apps": frozenset({"status.replicas"}),
    "jobs.batch": frozenset({"status.successful"}),
}
_COMMON = frozenset({"metadata.name", "metadata.namespace"})


def supported_fields(storage_key: str) -> frozenset[str]:
    """The field labels a resource's list and watch accept."""
    return _COMMON | _EXTRA_NAMES.get(storage_key, frozenset())


def field_set(storage_key: str, obj: JSON) -> dict[str, str]:
    """The values of every supported field label of `obj`."""
    metadata = obj.get("metadata") or {}
    fields = {"metadata.name": metadata.get("name", ""), "metadata.namespace": metadata.get("namespace", "")}
    extractor = _KIND_FIELDS.get(storage_key)
    if extractor is not None:
        fields.update(extractor(obj))
    return fields
