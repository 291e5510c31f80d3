"""RFC 6902 JSON Patch: compute a patch from two documents, and apply one.

`diff` builds the patch the webhook returns from the final lists, so it never replaces a list it added
to earlier (the upstream injector's volume bug). `apply` runs the user's `agent-json-patch`
annotations against the generated agent containers.
"""

from __future__ import annotations

import json
from typing import Any

Patch = list[dict[str, Any]]


class PatchError(ValueError):
    """A patch operation that cannot be applied; the message names the operation."""


def escape(token: str) -> str:
    """A JSON pointer reference token (RFC 6901)."""
    if "~" in token or "/" in token:
        return token.replace("~", "~0").replace("/", "~1")
    return token


def pointer(*tokens: str | int) -> str:
    """A JSON pointer from path tokens."""
    return "".join(f"/{escape(str(token))}" for token in tokens)


def copy_json(document: Any) -> Any:
    """A deep copy of a JSON document (the C-accelerated round trip is faster than `copy.deepcopy`)."""
    return json.loads(json.dumps(document))


def diff(old: Any, new: Any, path: str = "") -> Patch:
    """A patch that turns `old` into `new`: element-wise where a list only gained items, in place."""
    if old is new:
        return []
    if type(old) is type(new) and old == new and _strictly_equal(old, new):
        return []  # most of a pod is untouched: compare it in C rather than walk it
    if _same_kind(old, new) and isinstance(old, dict):
        return _diff_objects(old, new, path)
    if _same_kind(old, new) and isinstance(old, list):
        return _diff_lists(old, new, path)
    if _same_kind(old, new) and old == new:
        return []
    return [{"op": "replace", "path": path, "value": new}]


def _strictly_equal(old: Any, new: Any) -> bool:
    """Python's == treats True as 1; JSON does not."""
    return not isinstance(old, dict | list) or json.dumps(old) == json.dumps(new)


def _same_kind(old: Any, new: Any) -> bool:
    return type(old) is type(new) or (
        isinstance(old, int | float)
        and isinstance(new, int | float)
        and not isinstance(old, bool)
        and not isinstance(new, bool)
    )


def _diff_objects(old: dict[str, Any], new: dict[str, Any], path: str) -> Patch:
    ops: Patch = [{"op": "remove", "path": f"{path}/{escape(key)}"} for key in old if key not in new]
    for key, value in new.items():
        if key not in old:
            ops.append({"op": "add", "path": f"{path}/{escape(key)}", "value": value})
        else:
            ops += diff(old[key], value, f"{path}/{escape(key)}")
    return ops


def _diff_lists(old: list[Any], new: list[Any], path: str) -> Patch:
    matches = _align(old, new)
    if matches is None:
        return [] if old == new else [{"op": "replace", "path": path, "value": new}]
    ops: Patch = []
    for old_index, new_index in enumerate(matches):
        ops += diff(old[old_index], new[new_index], f"{path}/{old_index}")
    matched = set(matches)
    length = len(old)
    for new_index, item in enumerate(new):
        if new_index not in matched:
            target = "-" if new_index == length else str(new_index)
            ops.append({"op": "add", "path": f"{path}/{target}", "value": item})
            length += 1
    return ops


def _align(old: list[Any], new: list[Any]) -> list[int] | None:
    """For each old item, its index in `new`, if `new` keeps every old item in order; else None."""
    matches: list[int] = []
    cursor = 0
    for item in old:
        identity = _identity(item)
        while cursor < len(new) and _identity(new[cursor]) != identity:
            cursor += 1
        if cursor == len(new):
            return None
        matches.append(cursor)
        cursor += 1
    return matches


def _identity(item: Any) -> Any:
    """Named objects (containers, volumes, mounts, env) keep their identity when their content changes."""
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return ("name", item["name"], item.get("mountPath"))
    return ("value", json.dumps(item, sort_keys=True))


# What a patch may add to a document, in JSON characters: a container is a few KiB, and a whole Pod
# object is at most 1.5 MiB (etcd's limit); `copy` ops that double the document stop here, not at OOM.
MAX_ADDED_CHARS = 1 << 20


class _Growth:
    """Copies values into the document, counting the characters added against `MAX_ADDED_CHARS`."""

    def __init__(self) -> None:
        self.added = 0

    def copy(self, value: Any) -> Any:
        text = json.dumps(value)
        self.added += len(text)
        if self.added > MAX_ADDED_CHARS:
            raise ValueError(f"the patch adds more than {MAX_ADDED_CHARS} characters of JSON")
        return json.loads(text)


def apply(document: Any, patch: list[dict[str, Any]] | tuple[Any, ...]) -> Any:
    """Apply `patch` to a copy of `document` and return it; raise PatchError naming the failing op."""
    result = copy_json(document)
    growth = _Growth()
    for index, operation in enumerate(patch):
        try:
            result = _apply_one(result, operation, growth)
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise PatchError(
                f"operation {index} ({operation.get('op')} {operation.get('path')}): {exc}"
            ) from None
    return result


def _apply_one(document: Any, operation: dict[str, Any], growth: _Growth) -> Any:
    op, path = operation["op"], operation["path"]
    if op == "add":
        return _add(document, path, growth.copy(operation["value"]))
    if op == "remove":
        return _remove(document, path)[0]
    if op == "replace":
        if path == "":
            return growth.copy(operation["value"])
        _resolve(document, path)
        return _add(_remove(document, path)[0], path, growth.copy(operation["value"]))
    if op == "move":
        if path.startswith(operation["from"] + "/"):
            raise ValueError("cannot move a value into one of its own children")
        document, value = _remove(document, operation["from"])
        return _add(document, path, value)
    if op == "copy":
        return _add(document, path, growth.copy(_resolve(document, operation["from"])))
    if op == "test":
        if _resolve(document, path) != operation["value"]:
            raise ValueError("test failed: the value differs")
        return document
    raise ValueError(f"unknown op {op!r}")


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"{path!r} is not a JSON pointer")
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (token.startswith("0") and token != "0"):
        raise ValueError(f"{token!r} is not an array index")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise IndexError(f"index {index} is out of range")
    return index


def _parent(document: Any, path: str) -> tuple[Any, str]:
    tokens = _tokens(path)
    if not tokens:
        raise ValueError("the root has no parent")
    parent = document
    for token in tokens[:-1]:
        parent = parent[_index(parent, token, allow_end=False)] if isinstance(parent, list) else parent[token]
    return parent, tokens[-1]


def _resolve(document: Any, path: str) -> Any:
    value = document
    for token in _tokens(path):
        value = value[_index(value, token, allow_end=False)] if isinstance(value, list) else value[token]
    return value


def _add(document: Any, path: str, value: Any) -> Any:
    if path == "":
        return value
    parent, token = _parent(document, path)
    if isinstance(parent, list):
        parent.insert(_index(parent, token, allow_end=True), value)
    elif isinstance(parent, dict):
        parent[token] = value
    else:
        raise TypeError(f"cannot add into a {type(parent).__name__}")
    return document


def _remove(document: Any, path: str) -> tuple[Any, Any]:
    parent, token = _parent(document, path)
    if isinstance(parent, list):
        return document, parent.pop(_index(parent, token, allow_end=False))
    if isinstance(parent, dict):
        return document, parent.pop(token)
    raise TypeError(f"cannot remove from a {type(parent).__name__}")
