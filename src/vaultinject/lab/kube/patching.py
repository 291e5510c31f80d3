"""The three patch flavours: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch.

Strategic merge follows k8s.io/apimachinery/pkg/util/strategicpatch: lists with a patch merge key are merged
element by element, `$patch`, `$retainKeys`, `$setElementOrder/` and `$deleteFromPrimitiveList/` directives
are honoured, other lists are replaced.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]


class PatchError(ValueError):
    """A well-formed patch that cannot be applied to the object (422 for JSON patch)."""


class MalformedPatch(ValueError):
    """A patch body that is not a patch at all (400)."""


# --- JSON patch ---


def json_patch(document: Any, operations: Any) -> Any:
    """Apply an RFC 6902 operation list to a copy of `document`."""
    if not isinstance(operations, list):
        raise MalformedPatch("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    result = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or not isinstance(operation.get("op"), str):
            raise MalformedPatch("json patch operation is missing 'op'")
        result = _apply_operation(result, operation)
    return result


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise MalformedPatch("json patch operation is missing 'path'")
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(document: Any, parts: list[str], op: str, path: str) -> Any:
    current = document
    for part in parts[:-1]:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise PatchError(f"{op} operation does not apply: doc is missing path: {path!r}")
    return current


def _index(container: list[Any], part: str, op: str, path: str, allow_end: bool) -> int:
    if part == "-" and allow_end:
        return len(container)
    if not part.isdigit():
        raise PatchError(f"{op} operation does not apply: invalid array index {part!r} in {path!r}")
    index = int(part)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f"{op} operation does not apply: index out of bounds in {path!r}")
    return index


def _get_at(document: Any, path: Any, op: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return document
    parent = _parent(document, parts, op, path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, op, path, allow_end=False)]
    raise PatchError(f"{op} operation does not apply: doc is missing key: {path}")


def _add(document: Any, path: Any, value: Any, op: str = "add") -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(document, parts, op, path)
    if isinstance(parent, dict):
        parent[parts[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, parts[-1], op, path, allow_end=True), value)
    else:
        raise PatchError(f"{op} operation does not apply: doc is missing path: {path!r}")
    return document


def _remove(document: Any, path: Any, op: str = "remove") -> tuple[Any, Any]:
    parts = _pointer(path)
    if not parts:
        raise PatchError(f"{op} operation does not apply: cannot remove the root")
    parent = _parent(document, parts, op, path)
    if isinstance(parent, dict) and parts[-1] in parent:
        return document, parent.pop(parts[-1])
    if isinstance(parent, list):
        return document, parent.pop(_index(parent, parts[-1], op, path, allow_end=False))
    raise PatchError(f"{op} operation does not apply: doc is missing key: {path}")


def _replace(document: Any, path: Any, value: Any) -> Any:
    """`replace` as the API server applies it (evanphx/json-patch v4): an object member that does not exist
    yet is set rather than refused (Vault's pod labelling relies on it); array indices must exist."""
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(document, parts, "replace", path)
    if isinstance(parent, dict):
        parent[parts[-1]] = value
        return document
    document, _ = _remove(document, path, "replace")
    return _add(document, path, value, "replace")


def _apply_operation(document: Any, operation: JSON) -> Any:
    op, path = operation["op"], operation.get("path")
    if op in {"add", "replace", "test"} and "value" not in operation:
        raise MalformedPatch(f"json patch {op} operation is missing 'value'")
    value = copy.deepcopy(operation.get("value"))
    if op == "add":
        return _add(document, path, value)
    if op == "remove":
        return _remove(document, path)[0]
    if op == "replace":
        return _replace(document, path, value)
    if op in {"move", "copy"}:
        source = operation.get("from")
        moved = copy.deepcopy(_get_at(document, source, op))
        if op == "move":
            document, _ = _remove(document, source, op)
        return _add(document, path, moved, op)
    if op == "test":
        if not json_equal(_get_at(document, path, op), value):
            raise PatchError(f"testing value {path} failed: test failed")
        return document
    raise MalformedPatch(f"Unexpected kind: {op}")


def json_equal(left: Any, right: Any) -> bool:
    """JSON equality: `true` is not `1`, key order does not matter."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    return bool(type(left) is type(right) or (_number(left) and _number(right))) and left == right


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- JSON merge patch ---


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, `null` deletes, everything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- strategic merge patch ---


@dataclass(frozen=True)
class ListRule:
    """How a list field merges: by `merge_key`, or (None) as a set of primitives."""

    merge_key: str | None


MergeSchema = Mapping[tuple[str, ...], ListRule]


def strategic_merge(original: JSON, patch: Any, schema: MergeSchema) -> JSON:
    """Apply a strategic merge patch; list fields not in `schema` are replaced, as for atomic lists."""
    if not isinstance(patch, dict):
        raise MalformedPatch("the strategic merge patch must be a JSON object")
    merged = _merge_map(copy.deepcopy(original), patch, (), schema)
    return merged if merged is not None else {}


_DIRECTIVE = "$patch"
_RETAIN = "$retainKeys"
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


def _merge_map(original: JSON, patch: JSON, path: tuple[str, ...], schema: MergeSchema) -> JSON | None:
    directive = patch.get(_DIRECTIVE)
    if directive == "replace":
        replaced: JSON = _strip(patch, path, schema)
        return replaced
    if directive == "delete":
        return None
    if directive not in {None, "merge"}:
        raise PatchError(f"Unknown patch type: {directive}")
    retain = patch.get(_RETAIN)
    if isinstance(retain, list):
        original = {k: v for k, v in original.items() if k in retain}
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in {_DIRECTIVE, _RETAIN}:
            continue
        if key.startswith(_ORDER):
            orders[key[len(_ORDER) :]] = value
        elif key.startswith(_DELETE_PRIMITIVE):
            field_name = key[len(_DELETE_PRIMITIVE) :]
            remaining = [v for v in original.get(field_name) or [] if v not in value]
            original[field_name] = remaining
        elif value is None:
            original.pop(key, None)
        else:
            _merge_field(original, key, value, (*path, key), schema=schema, orders=orders)
    for key, order in orders.items():
        if isinstance(original.get(key), list):
            rule = schema.get((*path, key))
            original[key] = _apply_order(original[key], order, rule.merge_key if rule else None)
    return original


def _merge_field(
    original: JSON,
    key: str,
    value: Any,
    path: tuple[str, ...],
    *,
    schema: MergeSchema,
    orders: dict[str, list[Any]],
) -> None:
    current = original.get(key)
    if isinstance(value, dict) and isinstance(current, dict):
        merged = _merge_map(current, value, path, schema)
        if merged is None:
            original.pop(key, None)
        else:
            original[key] = merged
    elif isinstance(value, list) and isinstance(current, list) and path in schema:
        original[key] = _merge_list(current, value, path, schema, orders.get(key))
    else:
        stripped = _strip(value, path, schema)
        if stripped is None:
            original.pop(key, None)
        else:
            original[key] = stripped


def _strip(value: Any, path: tuple[str, ...], schema: MergeSchema) -> Any:
    """A patch value with no original to merge into: drop directives and `$patch: delete` items."""
    if isinstance(value, dict):
        if value.get(_DIRECTIVE) == "delete":
            return None
        return {
            k: _strip(v, (*path, k), schema)
            for k, v in value.items()
            if not k.startswith("$") and v is not None
        }
    if isinstance(value, list):
        items = [_strip(item, path, schema) for item in value if not _is_directive_item(item)]
        return [item for item in items if item is not None]
    return value


def _is_directive_item(item: Any) -> bool:
    return isinstance(item, dict) and set(item) == {_DIRECTIVE}


def _merge_list(
    original: list[Any], patch: list[Any], path: tuple[str, ...], schema: MergeSchema, order: list[Any] | None
) -> list[Any]:
    if any(isinstance(item, dict) and item.get(_DIRECTIVE) == "replace" for item in patch):
        return [_strip(item, path, schema) for item in patch if not _is_directive_item(item)]
    key = schema[path].merge_key
    if key is None:
        merged = list(original) + [v for v in patch if v not in original]
        return _apply_order(merged, order, None) if order else merged
    return _merge_keyed_list(original, patch, key, path, schema=schema, order=order)


def _merge_keyed_list(
    original: list[Any],
    patch: list[Any],
    key: str,
    path: tuple[str, ...],
    *,
    schema: MergeSchema,
    order: list[Any] | None,
) -> list[Any]:
    deleted = {
        _key_of(item, key) for item in patch if isinstance(item, dict) and item.get(_DIRECTIVE) == "delete"
    }
    by_key = {_key_of(item, key): item for item in original if isinstance(item, dict)}
    patched: list[Any] = []
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"map merge key {key!r} expected a list of maps")
        item_key = _key_of(item, key)
        if item_key in deleted:
            continue
        existing = by_key.get(item_key)
        merged = (
            _merge_map(existing, item, path, schema) if existing is not None else _strip(item, path, schema)
        )
        if merged is not None:
            patched.append(merged)
    patched_keys = {_key_of(item, key) for item in patched}
    server_only = [
        item
        for item in original
        if _key_of(item, key) not in patched_keys and _key_of(item, key) not in deleted
    ]
    if order:
        patched = _apply_order(patched, order, key)
    return _merge_sorted(server_only, patched, original, key)


def _key_of(item: Any, key: str) -> Any:
    if not isinstance(item, dict) or key not in item:
        raise PatchError(f"map: {item} does not contain declared merge key: {key}")
    return item[key]


def _position(items: list[Any], item: Any, key: str | None) -> int:
    target = item.get(key) if key and isinstance(item, dict) else item
    for index, candidate in enumerate(items):
        value = candidate.get(key) if key and isinstance(candidate, dict) else candidate
        if value == target:
            return index
    return -1


def _apply_order(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    known = [item for item in items if _position(order, item, key) >= 0]
    unknown = [item for item in items if _position(order, item, key) < 0]
    return sorted(known, key=lambda item: _position(order, item, key)) + unknown


def _merge_sorted(server_only: list[Any], patched: list[Any], server: list[Any], key: str) -> list[Any]:
    """strategicpatch.mergeSortedSlice: interleave, keeping each list's order; new items go first."""
    result: list[Any] = []
    left, right = 0, 0
    while left < len(server_only) or right < len(patched):
        if left >= len(server_only):
            result.append(patched[right])
            right += 1
        elif right >= len(patched):
            result.append(server_only[left])
            left += 1
        else:
            left_at = _position(server, server_only[left], key)
            right_at = _position(server, patched[right], key)
            if left_at >= 0 and right_at >= 0 and left_at < right_at:
                result.append(server_only[left])
                left += 1
            else:
                result.append(patched[right])
                right += 1
    return result


# --- merge keys of the built-in kinds ---

_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_CONTAINER_FIELDS = {
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "resizePolicy": "resourceName",
}
_POD_SPEC: dict[tuple[str, ...], ListRule] = {
    ("volumes",): ListRule("name"),
    ("imagePullSecrets",): ListRule("name"),
    ("hostAliases",): ListRule("ip"),
    ("topologySpreadConstraints",): ListRule("topologyKey"),
    ("resourceClaims",): ListRule("name"),
    ("schedulingGates",): ListRule("name"),
}
for _list in _CONTAINER_LISTS:
    _POD_SPEC[(_list,)] = ListRule("name")
    for _field, _key in _CONTAINER_FIELDS.items():
        _POD_SPEC[(_list, _field)] = ListRule(_key)

_METADATA: dict[tuple[str, ...], ListRule] = {
    ("metadata", "ownerReferences"): ListRule("uid"),
    ("metadata", "finalizers"): ListRule(None),
}
_CONDITIONS: dict[tuple[str, ...], ListRule] = {("status", "conditions"): ListRule("type")}


def _under(
    prefix: tuple[str, ...], rules: Mapping[tuple[str, ...], ListRule]
) -> dict[tuple[str, ...], ListRule]:
    return {prefix + path: rule for path, rule in rules.items()}


_TEMPLATE = _under(("spec", "template", "spec"), _POD_SPEC)
_SCHEMAS: dict[str, dict[tuple[str, ...], ListRule]] = {
    "pods": {
        **_under(("spec",), _POD_SPEC),
        **_CONDITIONS,
        ("status", "podIPs"): ListRule("ip"),
        ("status", "hostIPs"): ListRule("ip"),
    },
    "deployments.apps": {**_TEMPLATE, **_CONDITIONS},
    "replicasets.apps": {**_TEMPLATE, **_CONDITIONS},
    "statefulsets.apps": {**_TEMPLATE, **_CONDITIONS},
    "daemonsets.apps": {**_TEMPLATE, **_CONDITIONS},
    "jobs.batch": {**_TEMPLATE, **_CONDITIONS},
    "cronjobs.batch": _under(("spec", "jobTemplate", "spec", "template", "spec"), _POD_SPEC),
    "nodes": {
        **_CONDITIONS,
        ("status", "addresses"): ListRule("type"),
        ("spec", "podCIDRs"): ListRule(None),
    },
    "namespaces": dict(_CONDITIONS),
    "poddisruptionbudgets.policy": dict(_CONDITIONS),
    "services": {("spec", "ports"): ListRule("port")},
    "serviceaccounts": {("secrets",): ListRule("name"), ("imagePullSecrets",): ListRule("name")},
    "mutatingwebhookconfigurations.admissionregistration.k8s.io": {("webhooks",): ListRule("name")},
    "validatingwebhookconfigurations.admissionregistration.k8s.io": {("webhooks",): ListRule("name")},
}


def merge_schema(storage_key: str) -> MergeSchema:
    """The list merge rules of a built-in kind, metadata included."""
    return {**_METADATA, **_SCHEMAS.get(storage_key, {})}
