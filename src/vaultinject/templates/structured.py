"""toYAML and toTOML: the output of gopkg.in/yaml.v2 and BurntSushi/toml for secret data.

Both cover what Vault data holds (maps with string keys, lists, strings, numbers,
booleans, null); the rarer corners of those libraries are not reproduced.
"""

from __future__ import annotations

import math

from .funcdef import FuncError
from .gofmt import format_float
from .jsonenc import json_string
from .literals import parse_float
from .values import NIL_INTERFACE, GoStruct, JSONNumber, TypedNil, is_nil_container

# --- YAML ---------------------------------------------------------------------------------

_YAML_RESERVED = frozenset(
    [
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
        "null",
        "Null",
        "NULL",
        "~",
        ".inf",
        ".Inf",
        ".INF",
        "-.inf",
        "-.Inf",
        "-.INF",
        "+.inf",
        "+.Inf",
        "+.INF",
        ".nan",
        ".NaN",
        ".NAN",
    ]
)
_YAML_INDICATORS = "-?:,[]{}#&*!|>'\"%@`"


def _yaml_natural_key(key: str) -> list[tuple[int, object]]:
    """yaml.v2 sorts keys naturally: digit runs compare as numbers, non-letters first."""
    parts: list[tuple[int, object]] = []
    index = 0
    while index < len(key):
        char = key[index]
        if char.isdigit():
            end = index
            while end < len(key) and key[end].isdigit():
                end += 1
            parts.append((0, (int(key[index:end]), end - index)))
            index = end
        else:
            parts.append((2 if char.isalpha() else 1, char))
            index += 1
    return parts


def _looks_numeric(text: str) -> bool:
    body = text.replace("_", "")
    if body[:1] in "+-":
        body = body[1:]
    if not body:
        return False
    if body.lower().startswith(("0x", "0o", "0b")):
        return True
    return parse_float(body) is not None or (body.count(":") > 0 and body.replace(":", "").isdigit())


def _yaml_resolves_to_non_string(text: str) -> bool:
    """yaml.v2 quotes (double) strings a YAML 1.1 reader would take for another type."""
    return text == "" or text in _YAML_RESERVED or _looks_numeric(text)


def _yaml_plain_ok(text: str) -> bool:
    if text[0] in _YAML_INDICATORS or text[0] == " " or text[-1] in " :":
        return False
    if ": " in text or " #" in text or "\t" in text:
        return False
    return all(char.isprintable() and char != "\ufeff" for char in text)


def _yaml_string(text: str, indent: int) -> str:
    if "\n" in text and all(char.isprintable() or char == "\n" for char in text):
        chomp = "-" if not text.endswith("\n") else ("+" if text.endswith("\n\n") else "")
        body = text[:-1] if text.endswith("\n") and chomp == "" else text
        pad = " " * (indent + 2)
        lines = body.split("\n") if chomp != "+" else text[:-1].split("\n")
        first_pad = "2" if lines and lines[0].startswith(" ") else ""
        return "|" + first_pad + chomp + "".join("\n" + (pad + line if line else "") for line in lines)
    if _yaml_resolves_to_non_string(text):
        return json_string(text, escape_html=False)
    if _yaml_plain_ok(text):
        return text
    if all(char.isprintable() for char in text):
        return "'" + text.replace("'", "''") + "'"
    return json_string(text, escape_html=False)


def _yaml_scalar(value: object, indent: int) -> str | None:
    if value is None or value is NIL_INTERFACE or isinstance(value, TypedNil):
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if type(value) is JSONNumber:
        number = str.__str__(value)
        if number.lstrip("-").isdigit():
            return number
        parsed = parse_float(number)
        return _yaml_float(parsed) if parsed is not None else _yaml_string(number, indent)
    if isinstance(value, str):
        return _yaml_string(value, indent)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _yaml_float(value)
    return None


def _yaml_float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return format_float(value, "g", -1)


def _yaml_items(value: object) -> list[tuple[str, object]] | None:
    if isinstance(value, dict):
        return sorted(((str(k), v) for k, v in value.items()), key=lambda kv: _yaml_natural_key(kv[0]))
    if isinstance(value, GoStruct):
        return [(name.lower(), value.go_field(name)) for name in value.GO_FIELDS]
    return None


def _yaml_node(value: object, indent: int, lines: list[str], prefix: str) -> None:
    """Emit ``value`` after ``prefix`` (a key or list dash already placed)."""
    scalar = _yaml_scalar(value, indent)
    if scalar is not None:
        lines.append(prefix + scalar)
        return
    items = _yaml_items(value)
    pad = " " * indent
    if items is not None:
        if not items:
            lines.append(prefix + "{}")
            return
        if prefix.strip() and not prefix.endswith("- "):
            lines.append(prefix.rstrip())
            first_prefix = pad + "  "
            child_indent = indent + 2
        else:
            first_prefix = prefix
            child_indent = len(prefix)
        for position, (key, item) in enumerate(items):
            line_prefix = first_prefix if position == 0 else " " * child_indent
            _yaml_entry(_yaml_key(key), item, child_indent, lines, line_prefix)
        return
    if isinstance(value, list):
        if not value or is_nil_container(value):
            lines.append(prefix + "[]")
            return
        if prefix.strip() and not prefix.endswith("- "):
            lines.append(prefix.rstrip())
            child_indent = indent
            first_prefix = pad
        else:
            child_indent = len(prefix)
            first_prefix = prefix
        for position, item in enumerate(value):
            line_prefix = (first_prefix if position == 0 else " " * child_indent) + "- "
            _yaml_node(item, child_indent + 2, lines, line_prefix)
        return
    raise FuncError(f"toYAML: cannot marshal type: {type(value).__name__}")


def _yaml_entry(key: str, value: object, indent: int, lines: list[str], prefix: str) -> None:
    if isinstance(value, list) and value and not is_nil_container(value):
        lines.append(prefix + key + ":")
        for item in value:
            _yaml_node(item, indent + 2, lines, " " * indent + "- ")
        return
    _yaml_node(value, indent, lines, prefix + key + ": ")


def _yaml_key(key: str) -> str:
    return _yaml_string(key, 0) if "\n" not in key else json_string(key, escape_html=False)


def to_yaml(value: object) -> str:
    """yaml.Marshal of the value."""
    lines: list[str] = []
    _yaml_node(value, 0, lines, "")
    return "\n".join(lines) + "\n"


# --- TOML ---------------------------------------------------------------------------------


def _toml_key(key: str) -> str:
    if key and all(char.isascii() and (char.isalnum() or char in "_-") for char in key):
        return key
    return _toml_string(key)


_TOML_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def _toml_string(text: str) -> str:
    out = ['"']
    for char in text:
        escaped = _TOML_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _toml_float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = format_float(value, "f", -1)
    return text if "." in text else text + ".0"


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if type(value) is JSONNumber:
        number = str.__str__(value)
        if number.lstrip("-").isdigit():
            return number
        parsed = parse_float(number)
        return _toml_float(parsed) if parsed is not None else _toml_string(number)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _toml_float(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value if not _toml_is_null(item)) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in sorted(value.items()))
        return "{" + inner + "}"
    raise FuncError(f"toTOML: unsupported type {type(value).__name__}")


def _toml_is_null(value: object) -> bool:
    return value is None or value is NIL_INTERFACE or isinstance(value, TypedNil)


def _is_table(value: object) -> bool:
    return isinstance(value, dict)


def _is_table_array(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def _toml_table(table: dict[str, object], path: list[str], lines: list[str]) -> None:
    pad = "  " * len(path)
    keys = sorted(table)
    for key in keys:
        item = table[key]
        if _toml_is_null(item) or _is_table(item) or _is_table_array(item):
            continue
        lines.append(f"{pad}{_toml_key(key)} = {_toml_value(item)}")
    for key in keys:
        item = table[key]
        child = [*path, _toml_key(key)]
        child_pad = "  " * (len(child) - 1)
        if _is_table(item):
            if len(child) == 1 and lines:
                lines.append("")  # BurntSushi separates top-level tables only.
            lines.append(f"{child_pad}[{'.'.join(child)}]")
            _toml_table(item, child, lines)  # type: ignore[arg-type]
        elif _is_table_array(item):
            for entry in item:  # type: ignore[attr-defined]
                if lines:
                    lines.append("")
                lines.append(f"{child_pad}[[{'.'.join(child)}]]")
                _toml_table(entry, child, lines)


def to_toml(value: object) -> str:
    """toml.NewEncoder(...).Encode of the value."""
    if not isinstance(value, dict):
        raise FuncError("toTOML: toml: top-level values must be Go maps or structs")
    lines: list[str] = []
    _toml_table(value, [], lines)
    return "\n".join(lines) + "\n"
