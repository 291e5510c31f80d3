"""Request parameter coercion in the style of Vault's `framework.FieldData`.

Bad input is a 400 naming the field, never a traceback.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from vaultinject.lab import httpbody
from vaultinject.lab.vault.durations import parse_duration
from vaultinject.lab.vault.envelope import VaultError

_DECIMAL = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_INT64_MAX = 2**63 - 1
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def conversion_error(name: str, value: object, reason: str) -> VaultError:
    return VaultError(400, f'error converting input {value} for field "{name}": {reason}')


def parse_go_bool(value: object) -> bool:
    """Go's `strconv.ParseBool`, which also accepts JSON booleans and 0/1."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    raise ValueError(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def has(data: Mapping[str, Any], name: str) -> bool:
    return name in data and data[name] is not None


def string(data: Mapping[str, Any], name: str, default: str = "") -> str:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise conversion_error(name, value, "expected a string")


def boolean(data: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = data.get(name)
    if value is None:
        return default
    try:
        return parse_go_bool(value)
    except ValueError as error:
        raise conversion_error(name, value, str(error)) from None


def integer(data: Mapping[str, Any], name: str, default: int = 0) -> int:
    """An int64 (`TypeInt`): a JSON integer, an integral float or a decimal string."""
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        raise conversion_error(name, value, "expected an integer")
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        text = value.strip()
        number = int(text) if len(text) <= 20 else _INT64_MAX + 1
    if number is None:
        raise conversion_error(name, value, "expected an integer")
    if not -_INT64_MAX - 1 <= number <= _INT64_MAX:
        raise conversion_error(name, value, f'strconv.ParseInt: parsing "{value}": value out of range')
    return number


def number(data: Mapping[str, Any], name: str, default: float = 0.0) -> float:
    """A finite float64 (`TypeFloat`): a JSON number or a decimal string."""
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise conversion_error(name, value, "expected a number")
    text = str(value).strip()
    if isinstance(value, str) and not _FLOAT.fullmatch(text):
        raise conversion_error(name, value, f'strconv.ParseFloat: parsing "{value}": invalid syntax')
    result = float(text) if isinstance(value, str) else float(value)
    if not math.isfinite(result):
        raise conversion_error(name, value, f'strconv.ParseFloat: parsing "{value}": value out of range')
    return result


def duration(data: Mapping[str, Any], name: str, default: int = 0) -> int:
    value = data.get(name)
    if value is None:
        return default
    try:
        return parse_duration(value)
    except ValueError as error:
        raise conversion_error(name, value, str(error)) from None


def string_list(data: Mapping[str, Any], name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated string or a list (`TypeCommaStringSlice`), trimmed, empty items dropped."""
    value = data.get(name)
    if value is None:
        return list(default or [])
    if isinstance(value, str):
        items: list[object] = list(value.split(","))
    elif isinstance(value, list):
        items = list(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        items = [value]
    else:
        raise conversion_error(name, value, "expected a list of strings or a comma-separated string")
    result: list[str] = []
    for item in items:
        if isinstance(item, dict | list) or item is None:
            raise conversion_error(name, value, "expected a list of strings")
        text = str(item).strip()
        if text:
            result.append(text)
    return result


def mapping(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A JSON object, or a string holding one (`TypeMap`)."""
    value = data.get(name)
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = httpbody.decode_json(value)
        except ValueError:
            raise conversion_error(name, value, "expected a JSON object") from None
    if not isinstance(value, dict):
        raise conversion_error(name, value, "expected a map")
    return dict(value)


def string_map(data: Mapping[str, Any], name: str) -> dict[str, str]:
    """A map of strings to strings (`TypeKVPairs`)."""
    result: dict[str, str] = {}
    for key, item in mapping(data, name).items():
        if isinstance(item, dict | list) or item is None:
            raise conversion_error(name, item, "expected string values")
        result[str(key)] = item if isinstance(item, str) else json.dumps(item)
    return result


def parse_policies(value: object) -> list[str]:
    """`policyutil.ParsePolicies`: split, trim, lower-case, de-duplicate, sort."""
    if value is None:
        return []
    if isinstance(value, str):
        raw: list[object] = list(value.split(","))
    elif isinstance(value, list):
        raw = list(value)
    else:
        raise conversion_error("policies", value, "expected a list of strings")
    names = {str(item).strip().lower() for item in raw if str(item).strip()}
    return sorted(names)


def sanitize_policies(policies: list[str], add_default: bool) -> list[str]:
    """`policyutil.SanitizePolicies`: add `default` unless root is present, de-duplicate, sort."""
    names = {name.strip().lower() for name in policies if name.strip()}
    if "root" in names:
        return ["root"]
    if add_default:
        names.add("default")
    return sorted(names)
