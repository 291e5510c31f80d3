"""Value parsers with Go's accept/reject rules, so annotations mean what they mean upstream.

Each parser raises `ValueError` with a message that says what a valid value looks like; the caller
adds the annotation's name.
"""

from __future__ import annotations

import json
import re

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
BOOL_HINT = "use true or false (Go booleans: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)"


def parse_strict_bool(raw: str) -> bool:
    """Go's `strconv.ParseBool`: the empty string is an error."""
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{raw!r} is not a boolean; {BOOL_HINT}")


def parse_bool(raw: str) -> bool:
    """Vault's `parseutil.ParseBool`: like Go's, but the empty string means false."""
    return False if raw == "" else parse_strict_bool(raw)


_DECIMAL = re.compile(r"[+-]?[0-9]+")
_UNSIGNED = re.compile(r"[0-9]+")


def parse_int(raw: str) -> int:
    """Go's `strconv.ParseInt(raw, 10, 64)`."""
    if not _DECIMAL.fullmatch(raw):
        raise ValueError(f"{raw!r} is not an integer; use decimal digits, e.g. 1000")
    return _in_range(int(raw), raw, INT64_MIN, INT64_MAX)


def parse_uint(raw: str) -> int:
    """Go's `strconv.ParseUint(raw, 10, 64)`: no sign allowed."""
    if not _UNSIGNED.fullmatch(raw):
        raise ValueError(f"{raw!r} is not a non-negative integer; use decimal digits, e.g. 5")
    return _in_range(int(raw), raw, 0, UINT64_MAX)


_BASE_PREFIXES = {"0x": 16, "0o": 8, "0b": 2}
_DIGITS = {16: "0123456789abcdef", 10: "0123456789", 8: "01234567", 2: "01"}


def parse_int_auto(raw: str) -> int:
    """Vault's `parseutil.ParseInt`: base from the prefix (0x, 0o, 0b, 0), the empty string is 0."""
    if raw == "":
        return 0
    sign, body = (-1, raw[1:]) if raw[:1] == "-" else (1, raw[1:] if raw[:1] == "+" else raw)
    lowered = body.lower()
    base, digits = 10, lowered
    if lowered[:2] in _BASE_PREFIXES:
        base, digits = _BASE_PREFIXES[lowered[:2]], lowered[2:]
    elif len(lowered) > 1 and lowered[0] == "0":
        base, digits = 8, lowered[1:]
    if not _underscores_ok(lowered) or not digits.replace("_", ""):
        raise ValueError(f"{raw!r} is not an integer; use digits, e.g. 10 (or 0x0a)")
    if any(ch not in _DIGITS[base] for ch in digits.replace("_", "")):
        raise ValueError(f"{raw!r} is not an integer; use digits, e.g. 10 (or 0x0a)")
    return _in_range(sign * int(digits.replace("_", ""), base), raw, INT64_MIN, INT64_MAX)


def _underscores_ok(body: str) -> bool:
    """Go's rule: `_` only between digits, or between a base prefix and a digit."""
    if "_" not in body:
        return True
    hexadecimal = body[:2] == "0x"
    saw = "0" if body[:2] in _BASE_PREFIXES else "^"
    for ch in body[2:] if body[:2] in _BASE_PREFIXES else body:
        if ch.isdigit() or (hexadecimal and ch in "abcdef"):
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def _in_range(value: int, raw: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ValueError(f"{raw!r} is out of range ({low} to {high})")
    return value


_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_float(raw: str) -> float:
    """A decimal floating-point number as Go's `strconv.ParseFloat` reads it (no inf or NaN)."""
    if not _FLOAT.fullmatch(raw):
        raise ValueError(f"{raw!r} is not a number; use a decimal number, e.g. 0.5")
    return float(raw)


_UNITS_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9}
_UNITS_NS["h"] = 60 * _UNITS_NS["m"]
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")
DURATION_HINT = "use a Go duration such as 30s, 1m30s, 1.5h or 250ms"


def parse_duration_ns(raw: str) -> int:
    """Go's `time.ParseDuration`, returning nanoseconds."""
    sign, body = (-1, raw[1:]) if raw[:1] == "-" else (1, raw[1:] if raw[:1] == "+" else raw)
    if body == "0":
        return 0
    if not body:
        raise ValueError(f"invalid duration {raw!r}; {DURATION_HINT}")
    total, position = 0, 0
    while position < len(body):
        part = _DURATION_PART.match(body, position)
        assert part is not None  # the pattern matches the empty string
        number, unit = part.group(1), part.group(2)
        if number in {"", "."}:
            raise ValueError(f"invalid duration {raw!r}; {DURATION_HINT}")
        if not unit:
            raise ValueError(f"missing unit in duration {raw!r}; {DURATION_HINT}")
        if unit not in _UNITS_NS:
            raise ValueError(f"unknown unit {unit!r} in duration {raw!r}; {DURATION_HINT}")
        whole, _, fraction = number.partition(".")
        scale = _UNITS_NS[unit]
        total += int(whole or "0") * scale
        if fraction:
            total += int(fraction) * scale // 10 ** len(fraction)
        position = part.end()
    value = sign * total
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"invalid duration {raw!r}: out of range")
    return value


def parse_duration(raw: str) -> float:
    """Go's `time.ParseDuration`, in seconds."""
    return parse_duration_ns(raw) / 1e9


def parse_duration_or_seconds(raw: str) -> float:
    """Vault's `parseutil.ParseDurationSecond`: a Go duration, or a bare number of seconds."""
    if _UNSIGNED.fullmatch(raw):
        return float(int(raw))
    try:
        return parse_duration(raw)
    except ValueError:
        raise ValueError(f"invalid duration {raw!r}; {DURATION_HINT}, or a number of seconds") from None


_QUANTITY = re.compile(
    r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?"
)


def parse_quantity(raw: str) -> str:
    """Validate a Kubernetes resource quantity (`resource.ParseQuantity`) and return it unchanged."""
    if not _QUANTITY.fullmatch(raw):
        raise ValueError(
            f"{raw!r} is not a Kubernetes quantity; use a number with an optional suffix "
            "(m, k, M, G, Ki, Mi, Gi, ...), e.g. 250m or 64Mi"
        )
    return raw


_OCTAL = re.compile(r"0?[0-7]{1,4}")


def parse_file_mode(raw: str) -> int:
    """An octal file mode such as 0400 or 640, as consul-template reads `perms`."""
    if not _OCTAL.fullmatch(raw):
        raise ValueError(f"{raw!r} is not an octal file mode; use octal digits, e.g. 0400 or 0640")
    return int(raw, 8)


JSON_PATCH_OPS = {
    "add": ("path", "value"),
    "remove": ("path",),
    "replace": ("path", "value"),
    "move": ("from", "path"),
    "copy": ("from", "path"),
    "test": ("path", "value"),
}


def parse_json_patch(raw: str) -> tuple[dict[str, object], ...]:
    """An RFC 6902 patch document; `null`, `[]` and the empty string are no-ops (empty tuple)."""
    if raw.strip() == "":
        return ()
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at position {exc.pos}); {_PATCH_HINT}") from None
    if document is None or document == "":
        return ()
    if not isinstance(document, list):
        raise ValueError(f"a JSON patch must be a list of operations; {_PATCH_HINT}")
    for index, operation in enumerate(document):
        _check_patch_operation(index, operation)
    return tuple(document)


_PATCH_HINT = 'e.g. [{"op": "add", "path": "/env/-", "value": {"name": "X", "value": "1"}}]'


def _check_patch_operation(index: int, operation: object) -> None:
    if not isinstance(operation, dict):
        raise ValueError(f"operation {index} is not an object; {_PATCH_HINT}")
    op = operation.get("op")
    if op not in JSON_PATCH_OPS:
        raise ValueError(f"operation {index} has op {op!r}; use one of {', '.join(JSON_PATCH_OPS)}")
    for member in JSON_PATCH_OPS[op]:
        if member not in operation:
            raise ValueError(f"operation {index} ({op}) needs {member!r}; {_PATCH_HINT}")
    for member in ("path", "from"):
        pointer = operation.get(member, "")
        if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
            raise ValueError(f"operation {index} has {member} {pointer!r}; a JSON pointer starts with /")


def parse_json_value(raw: str) -> object:
    """A telemetry value: JSON when it parses (`true`, `3`, `["a"]`), otherwise the string itself."""
    try:
        value: object = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    return value


def split_list(raw: str) -> tuple[str, ...]:
    """A comma-separated list, entries trimmed, empty entries dropped."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())
