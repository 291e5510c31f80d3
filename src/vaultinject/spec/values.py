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
    raise ValueError(f"{shown(raw)} is not a boolean; {BOOL_HINT}")


def parse_bool(raw: str) -> bool:
    """Vault's `parseutil.ParseBool`: like Go's, but the empty string means false."""
    return False if raw == "" else parse_strict_bool(raw)


_DECIMAL = re.compile(r"[+-]?[0-9]+")
_UNSIGNED = re.compile(r"[0-9]+")


def parse_int(raw: str) -> int:
    """Go's `strconv.ParseInt(raw, 10, 64)`."""
    if not _DECIMAL.fullmatch(raw):
        raise ValueError(f"{shown(raw)} is not an integer; use decimal digits, e.g. 1000")
    sign = -1 if raw[0] == "-" else 1
    return _in_range(sign * _digits_value(raw.lstrip("+-"), 10, raw), raw, INT64_MIN, INT64_MAX)


def parse_uint(raw: str) -> int:
    """Go's `strconv.ParseUint(raw, 10, 64)`: no sign allowed."""
    if not _UNSIGNED.fullmatch(raw):
        raise ValueError(f"{shown(raw)} is not a non-negative integer; use decimal digits, e.g. 5")
    return _in_range(_digits_value(raw, 10, raw), raw, 0, UINT64_MAX)


# No 64-bit number has more significant digits than this (in base 2); longer input is out of range
# before Python converts it (its int-from-string limit would raise a bare ValueError).
_MAX_SIGNIFICANT_DIGITS = 64


def _digits_value(digits: str, base: int, raw: str) -> int:
    """`int(digits, base)` for digits already checked, out of range when too long for 64 bits."""
    significant = digits.lstrip("0") or "0"
    if len(significant) > _MAX_SIGNIFICANT_DIGITS:
        raise ValueError(f"{shown(raw)} is out of range (more than 64 bits)")
    return int(significant, base)


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
    digits = digits.replace("_", "")
    if not _underscores_ok(lowered) or not digits or any(ch not in _DIGITS[base] for ch in digits):
        raise ValueError(f"{shown(raw)} is not an integer; use digits, e.g. 10 (or 0x0a)")
    return _in_range(sign * _digits_value(digits, base, raw), raw, INT64_MIN, INT64_MAX)


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
        raise ValueError(f"{shown(raw)} is out of range ({low} to {high})")
    return value


_SHOWN_CHARS = 40


def shown(raw: str) -> str:
    """`raw` quoted for an error message, shortened when long (a 5000-digit number helps nobody)."""
    if len(raw) <= _SHOWN_CHARS:
        return repr(raw)
    return f"{raw[:_SHOWN_CHARS]!r}... ({len(raw)} characters)"


_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_float(raw: str) -> float:
    """A decimal floating-point number as Go's `strconv.ParseFloat` reads it (no inf or NaN)."""
    if not _FLOAT.fullmatch(raw):
        raise ValueError(f"{shown(raw)} is not a number; use a decimal number, e.g. 0.5")
    value = float(raw)
    if value in (_INFINITY, -_INFINITY):
        raise ValueError(f"{shown(raw)} is out of range for a 64-bit float")
    return value


_INFINITY = float("inf")


_UNITS_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9}
_UNITS_NS["h"] = 60 * _UNITS_NS["m"]
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")
DURATION_HINT = "use a Go duration such as 30s, 1m30s, 1.5h or 250ms"
# Nanoseconds are exact to 13 fraction digits of an hour; Go drops digits past its precision too.
_FRACTION_DIGITS = 18


def parse_duration_ns(raw: str) -> int:
    """Go's `time.ParseDuration`, returning nanoseconds."""
    sign, body = (-1, raw[1:]) if raw[:1] == "-" else (1, raw[1:] if raw[:1] == "+" else raw)
    if body == "0":
        return 0
    if not body:
        raise ValueError(f"invalid duration {shown(raw)}; {DURATION_HINT}")
    total, position = 0, 0
    while position < len(body):
        part = _DURATION_PART.match(body, position)
        assert part is not None  # the pattern matches the empty string
        number, unit = part.group(1), part.group(2)
        if number in {"", "."}:
            raise ValueError(f"invalid duration {shown(raw)}; {DURATION_HINT}")
        if not unit:
            raise ValueError(f"missing unit in duration {shown(raw)}; {DURATION_HINT}")
        if unit not in _UNITS_NS:
            raise ValueError(f"unknown unit {shown(unit)} in duration {shown(raw)}; {DURATION_HINT}")
        total += _duration_part_ns(number, _UNITS_NS[unit], raw)
        if total > -INT64_MIN:
            raise ValueError(f"invalid duration {shown(raw)}: out of range")
        position = part.end()
    value = sign * total
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"invalid duration {shown(raw)}: out of range")
    return value


def _duration_part_ns(number: str, scale: int, raw: str) -> int:
    """One `<number><unit>` of a duration, in nanoseconds; too many digits is out of range, as in Go."""
    whole, _, fraction = number.partition(".")
    whole = whole.lstrip("0")
    if len(whole) > len(str(INT64_MAX)):
        raise ValueError(f"invalid duration {shown(raw)}: out of range")
    fraction = fraction[:_FRACTION_DIGITS]
    nanoseconds = int(whole or "0") * scale
    if fraction:
        nanoseconds += int(fraction) * scale // 10 ** len(fraction)
    return nanoseconds


def parse_duration(raw: str) -> float:
    """Go's `time.ParseDuration`, in seconds."""
    return parse_duration_ns(raw) / 1e9


def parse_duration_or_seconds(raw: str) -> float:
    """Vault's `parseutil.ParseDurationSecond`: a Go duration, or a bare number of seconds."""
    if _UNSIGNED.fullmatch(raw):
        significant = raw.lstrip("0") or "0"
        if len(significant) > len(str(INT64_MAX)) or int(significant) > INT64_MAX // 10**9:
            raise ValueError(f"invalid duration {shown(raw)}: out of range")
        return float(int(significant))
    try:
        return parse_duration(raw)
    except ValueError:
        raise ValueError(f"invalid duration {shown(raw)}; {DURATION_HINT}, or a number of seconds") from None


_QUANTITY = re.compile(
    r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?"
)


def parse_quantity(raw: str) -> str:
    """Validate a Kubernetes resource quantity (`resource.ParseQuantity`) and return it unchanged."""
    if not _QUANTITY.fullmatch(raw):
        raise ValueError(
            f"{shown(raw)} is not a Kubernetes quantity; use a number with an optional suffix "
            "(m, k, M, G, Ki, Mi, Gi, ...), e.g. 250m or 64Mi"
        )
    return raw


_OCTAL = re.compile(r"0?[0-7]{1,4}")


def parse_file_mode(raw: str) -> int:
    """An octal file mode such as 0400 or 640, as consul-template reads `perms`."""
    if not _OCTAL.fullmatch(raw):
        raise ValueError(f"{shown(raw)} is not an octal file mode; use octal digits, e.g. 0400 or 0640")
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
        document = decode_json(raw)
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
    if not isinstance(op, str) or op not in JSON_PATCH_OPS:
        text = shown(op) if isinstance(op, str) else json.dumps(op)[:_SHOWN_CHARS]
        raise ValueError(f"operation {index} has op {text}; use one of {', '.join(JSON_PATCH_OPS)}")
    for member in JSON_PATCH_OPS[op]:
        if member not in operation:
            raise ValueError(f"operation {index} ({op}) needs {member!r}; {_PATCH_HINT}")
    for member in ("path", "from"):
        pointer = operation.get(member, "")
        if not isinstance(pointer, str):
            text = json.dumps(pointer)[:_SHOWN_CHARS]
            raise ValueError(f"operation {index} has {member} {text}; a JSON pointer is a string")
        if pointer and not pointer.startswith("/"):
            raise ValueError(f"operation {index} has {member} {shown(pointer)}; a JSON pointer starts with /")


def parse_json_value(raw: str) -> object:
    """A telemetry value: JSON when it parses (`true`, `3`, `["a"]`), otherwise the string itself."""
    try:
        return decode_json(raw)
    except json.JSONDecodeError:
        return raw


class JSONLimitError(ValueError):
    """Valid JSON that is too large, too deep or holds a number too long to be one."""


ANNOTATIONS_MAX_BYTES = 256 * 1024  # Kubernetes' limit on all of an object's annotations together
JSON_MAX_DEPTH = 100  # far deeper than any container patch, far below Python's recursion limit
JSON_MAX_INTEGER_DIGITS = 100  # beyond any 64-bit number (or Go's float64), below Python's int limit
# Strings (skipped whole, so brackets in them do not count) and the brackets that nest.
_JSON_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[{\]}]')


def decode_json(text: str, max_chars: int = ANNOTATIONS_MAX_BYTES, max_depth: int = JSON_MAX_DEPTH) -> object:
    """`json.loads`, bounded: `JSONLimitError` rather than a RecursionError or a bare ValueError.

    Every JSON annotation goes through here. Raises `json.JSONDecodeError` for text that is not JSON,
    and rejects NaN and Infinity, which are not JSON either.
    """
    if len(text) > max_chars:
        raise JSONLimitError(f"{len(text)} characters of JSON, more than the {max_chars} allowed")
    _check_depth(text, max_depth)
    return json.loads(text, parse_int=_json_integer, parse_float=_json_float, parse_constant=_json_constant)


def _check_depth(text: str, max_depth: int) -> None:
    depth = 0
    for match in _JSON_STRUCTURE.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                raise JSONLimitError(f"JSON nested more than {max_depth} levels deep")
        elif token in "]}":
            depth -= 1


def _json_integer(digits: str) -> int:
    if len(digits.lstrip("-")) > JSON_MAX_INTEGER_DIGITS:
        raise JSONLimitError(
            f"a JSON number of {len(digits)} digits is out of range (at most {JSON_MAX_INTEGER_DIGITS})"
        )
    return int(digits)


def _json_float(text: str) -> float:
    value = float(text)
    if value in (_INFINITY, -_INFINITY):
        raise JSONLimitError(f"the JSON number {shown(text)} is out of range for a 64-bit float")
    return value


def _json_constant(name: str) -> object:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def string_hint(value: object) -> str:
    """Why a value that is not a string is refused, and how to write it as one.

    YAML reads `1000` and `true` as a number and a boolean; the API server refuses either as an annotation.
    """
    if isinstance(value, list | dict):
        kind = "list" if isinstance(value, list) else "mapping"
        return f"must be a string, not a {kind}; write it as one quoted string of JSON, e.g. '[...]'"
    text = _string_form(value)
    if text is None:
        return "must be a string; quote it"
    return f"must be a string; quote it: {json.dumps(text)}"


def string_stand_in(value: object) -> str:
    """The string a non-string value most likely meant (`1000` for 1000), or "" when there is none."""
    if isinstance(value, list | dict):
        return ""
    return _string_form(value) or ""


def _string_form(value: object) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        text = str(value)
    except ValueError:  # an integer longer than Python will print
        return None
    return text if len(text) <= _SHOWN_CHARS else None


def split_list(raw: str) -> tuple[str, ...]:
    """A comma-separated list, entries trimmed, empty entries dropped."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())
