"""The pod's shape, checked once where a pod enters injection, as the API server's schema would.

Only the fields injection reads or writes are checked, and every problem is reported with its path
(`spec.containers[0].volumeMounts[1].name: required`). Past this boundary the code trusts the shapes.
`null` is accepted wherever a field is optional: the API server reads it as absent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

import msgspec

from vaultinject.spec import SpecError
from vaultinject.spec.parser import ANNOTATIONS_FIELD, string_annotations
from vaultinject.spec.values import ANNOTATIONS_MAX_BYTES

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

Check = Callable[[Any, str, list[SpecError]], None]


def check(problems: list[SpecError]) -> None:
    """Raise the first problem (holding them all in `.errors`), if there is any."""
    if problems:
        problems[0].errors = tuple(problems)
        raise problems[0]


def decision_problems(pod: object) -> list[SpecError]:
    """Problems in what deciding whether to inject reads: the pod, its metadata and its phase."""
    problems: list[SpecError] = []
    if not isinstance(pod, Mapping):
        return [SpecError("pod", f"must be a mapping (a Kubernetes object), not {_kind(pod)}")]
    _object(pod.get("metadata"), "metadata", problems, _METADATA)
    _object(pod.get("status"), "status", problems, {"phase": _string})
    return problems


def injection_problems(pod: object) -> list[SpecError]:
    """Problems in the pod spec injection reads and writes."""
    problems: list[SpecError] = []
    if isinstance(pod, Mapping) and not _well_formed(pod.get("spec"), _POD_SPEC_TYPE):
        _object(pod.get("spec"), "spec", problems, _POD_SPEC)
    return problems


def _well_formed(value: object, shape: Any) -> bool:
    """The fast path: msgspec accepts exactly what the checkers accept (the same tables build its
    types), in a tenth of the time; only a refused value is walked again to name each problem."""
    try:
        msgspec.convert(value, shape, strict=True)
    except (msgspec.ValidationError, TypeError):
        return False
    return True


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, Mapping) else f"a {type(value).__name__}"


def _wrong(value: object, path: str, expected: str, problems: list[SpecError]) -> None:
    problems.append(SpecError(path, f"must be {expected}, not {_kind(value)}"))


def _object(value: object, path: str, problems: list[SpecError], fields: Mapping[str, Check]) -> None:
    """An optional mapping whose listed fields are checked; `required` fields must be present."""
    if value is None:
        return
    if not isinstance(value, Mapping):
        _wrong(value, path, "a mapping", problems)
        return
    for name, checker in fields.items():
        field = value.get(name)
        if field is not None or checker in _REQUIRED:  # absent optional fields: nothing to check, no path
            checker(field, f"{path}.{name}", problems)


_REQUIRED: set[Check] = set()
_TYPES: dict[Check, Any] = {}
"""The msgspec type of the values each checker accepts (None included where it is optional)."""
_NonEmptyString = Annotated[str, msgspec.Meta(min_length=1)]


def _struct_type(fields: Mapping[str, Check]) -> Any:
    """A msgspec Struct type accepting the mappings `_object(..., fields)` accepts."""
    members = [(name, _TYPES[checker], None) for name, checker in fields.items() if checker not in _REQUIRED]
    required = [(name, _TYPES[checker]) for name, checker in fields.items() if checker in _REQUIRED]
    return msgspec.defstruct("Shape", [*required, *members])


def _required(checker: Check) -> Check:
    def check_required(value: object, path: str, problems: list[SpecError]) -> None:
        if value is None or value == "":
            problems.append(SpecError(path, "required"))
        else:
            checker(value, path, problems)

    assert checker is _string, "only strings can be required"
    _REQUIRED.add(check_required)
    _TYPES[check_required] = _NonEmptyString
    return check_required


def _string(value: object, path: str, problems: list[SpecError]) -> None:
    if value is not None and not isinstance(value, str):
        _wrong(value, path, "a string", problems)


def _boolean(value: object, path: str, problems: list[SpecError]) -> None:
    if value is not None and not isinstance(value, bool):
        _wrong(value, path, "a boolean (true or false)", problems)


def _integer(value: object, path: str, problems: list[SpecError]) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        _wrong(value, path, "an integer", problems)
    elif not INT64_MIN <= value <= INT64_MAX:
        problems.append(SpecError(path, "out of range for a 64-bit integer"))


def _fields(fields: Mapping[str, Check]) -> Check:
    def check_fields(value: object, path: str, problems: list[SpecError]) -> None:
        _object(value, path, problems, fields)

    _TYPES[check_fields] = _struct_type(fields) | None
    return check_fields


def _list_of(fields: Mapping[str, Check]) -> Check:
    """An optional list of mappings (`null` items are refused, as the API server does)."""

    def check_list(value: object, path: str, problems: list[SpecError]) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            _wrong(value, path, "a list", problems)
            return
        for index, each in enumerate(value):
            if each is None:
                _wrong(each, f"{path}[{index}]", "a mapping", problems)
            else:
                _object(each, f"{path}[{index}]", problems, fields)

    _TYPES[check_list] = list[_struct_type(fields)] | None  # type: ignore[misc]
    return check_list


def _annotations(value: object, _path: str, problems: list[SpecError]) -> None:
    """map[string]string, within Kubernetes' total size; errors name the annotation itself."""
    if value is None:
        return
    strings, errors = string_annotations(value)
    problems += errors
    size = sum(len(key.encode()) + len(text.encode()) for key, text in strings.items())
    if size > ANNOTATIONS_MAX_BYTES:
        problems.append(
            SpecError(ANNOTATIONS_FIELD, f"{size} bytes in all; Kubernetes allows {ANNOTATIONS_MAX_BYTES}")
        )


_TYPES.update(
    {
        _string: str | None,
        _boolean: bool | None,
        _integer: Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)] | None,
    }
)
_METADATA: dict[str, Check] = {
    "name": _string,
    "generateName": _string,
    "namespace": _string,
    "annotations": _annotations,
}
_SECURITY_CONTEXT: dict[str, Check] = {
    "runAsUser": _integer,
    "runAsGroup": _integer,
    "runAsNonRoot": _boolean,
}
_VOLUME_MOUNT: dict[str, Check] = {
    "name": _required(_string),
    "mountPath": _required(_string),
    "readOnly": _boolean,
    "subPath": _string,
}
_ENV_VAR: dict[str, Check] = {"name": _required(_string), "value": _string, "valueFrom": _fields({})}
_CONTAINER: dict[str, Check] = {
    "name": _required(_string),
    "image": _string,
    "volumeMounts": _list_of(_VOLUME_MOUNT),
    "env": _list_of(_ENV_VAR),
    "securityContext": _fields(_SECURITY_CONTEXT),
}
_TOKEN_PROJECTION: dict[str, Check] = {"path": _string, "audience": _string, "expirationSeconds": _integer}
_VOLUME: dict[str, Check] = {
    "name": _required(_string),
    "projected": _fields({"sources": _list_of({"serviceAccountToken": _fields(_TOKEN_PROJECTION)})}),
}
_POD_SPEC: dict[str, Check] = {
    "containers": _list_of(_CONTAINER),
    "initContainers": _list_of(_CONTAINER),
    "volumes": _list_of(_VOLUME),
    "shareProcessNamespace": _boolean,
    "serviceAccountName": _string,
    "automountServiceAccountToken": _boolean,
    "securityContext": _fields(_SECURITY_CONTEXT),
}
_POD_SPEC_TYPE = _TYPES[_fields(_POD_SPEC)]
_POD_SPEC_TYPE = _TYPES[_fields(_POD_SPEC)]
