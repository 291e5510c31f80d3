"""Go's encoding/json Marshal and MarshalIndent for the value model (what toJSON emits)."""

from __future__ import annotations

import math

from .funcdef import FuncError
from .gofmt import format_float
from .values import NIL_INTERFACE, GoStruct, JSONNumber, TypedNil, is_nil_container

_HEX = "0123456789abcdef"
_SHORT = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_HTML = ("<", ">", "&")


def go_json_float(value: float) -> str:
    """A float64 as encoding/json writes it (ES6 number formatting)."""
    magnitude = abs(value)
    fmt = "f"
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        fmt = "e"
    text = format_float(value, fmt, -1)
    if fmt == "e" and len(text) >= 4 and text[-4] == "e" and text[-3] == "-" and text[-2] == "0":
        text = text[:-2] + text[-1]
    return text


def json_string(text: str, escape_html: bool = True) -> str:
    """A JSON string literal as encoding/json writes it."""
    if text.isascii() and text.isprintable():
        return _json_printable_ascii(text, escape_html)
    out = ['"']
    for ch in text:
        code = ord(ch)
        if code < 0x80:
            short = _SHORT.get(ch)
            if short is not None:
                out.append(short)
            elif code < 0x20 or (escape_html and ch in _HTML):
                out.append("\\u00" + _HEX[code >> 4] + _HEX[code & 0xF])
            else:
                out.append(ch)
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")  # An invalid UTF-8 byte.
        elif code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _json_printable_ascii(text: str, escape_html: bool) -> str:
    """json_string of printable ASCII, where only backslash, quote and HTML characters change."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    if escape_html:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return '"' + text + '"'


def is_valid_number(text: str) -> bool:
    """encoding/json's isValidNumber: the JSON number grammar."""
    i, n = 0, len(text)
    if i < n and text[i] == "-":
        i += 1
    if i >= n:
        return False
    if text[i] == "0":
        i += 1
    elif "1" <= text[i] <= "9":
        while i < n and "0" <= text[i] <= "9":
            i += 1
    else:
        return False
    if i + 1 < n and text[i] == "." and "0" <= text[i + 1] <= "9":
        i += 2
        while i < n and "0" <= text[i] <= "9":
            i += 1
    if i + 1 < n and text[i] in "eE":
        i += 1
        if text[i] in "+-":
            i += 1
            if i >= n:
                return False
        if i >= n or not "0" <= text[i] <= "9":
            return False
        while i < n and "0" <= text[i] <= "9":
            i += 1
    return i == n


class _Encoder:
    def __init__(self, escape_html: bool, indent: str | None) -> None:
        self.escape_html = escape_html
        self.indent = indent
        self.out: list[str] = []

    def newline(self, depth: int) -> None:
        if self.indent is not None:
            self.out.append("\n" + self.indent * depth)

    def encode(self, value: object, depth: int = 0) -> None:
        if depth > 1000:
            raise FuncError("json: unsupported value: encountered a cycle")
        if value is None or value is NIL_INTERFACE or isinstance(value, TypedNil) or is_nil_container(value):
            self.out.append("null")
        elif isinstance(value, str):
            self._encode_string(value)
        elif isinstance(value, bool):
            self.out.append("true" if value else "false")
        elif isinstance(value, int):
            self.out.append(str(int(value)))
        elif isinstance(value, float):
            if math.isnan(value) or math.isinf(value):
                raise FuncError(f"json: unsupported value: {format_float(value, 'g', -1)}")
            self.out.append(go_json_float(value))
        elif isinstance(value, dict):
            self._encode_object([(str(k), v) for k, v in sorted(value.items(), key=_key_bytes)], depth)
        elif isinstance(value, list):
            self._encode_array(value, depth)
        elif isinstance(value, GoStruct):
            self._encode_object([(name, value.go_field(name)) for name in value.GO_FIELDS], depth)
        elif isinstance(value, complex):
            raise FuncError("json: unsupported type: complex128")
        else:
            raise FuncError(f"json: unsupported type: {type(value).__name__}")

    def _encode_string(self, value: str) -> None:
        if type(value) is JSONNumber:
            number = str.__str__(value) or "0"
            if not is_valid_number(number):
                raise FuncError(f"json: invalid number literal {json_string(number, False)}")
            self.out.append(number)
        else:
            self.out.append(json_string(value, self.escape_html))

    def _encode_object(self, items: list[tuple[str, object]], depth: int) -> None:
        self.out.append("{")
        for index, (key, item) in enumerate(items):
            if index:
                self.out.append(",")
            self.newline(depth + 1)
            self.out.append(json_string(key, self.escape_html))
            self.out.append(": " if self.indent is not None else ":")
            self.encode(item, depth + 1)
        if items:
            self.newline(depth)
        self.out.append("}")

    def _encode_array(self, items: list[object], depth: int) -> None:
        self.out.append("[")
        for index, item in enumerate(items):
            if index:
                self.out.append(",")
            self.newline(depth + 1)
            self.encode(item, depth + 1)
        if items:
            self.newline(depth)
        self.out.append("]")


def _key_bytes(item: tuple[object, object]) -> bytes:
    return str(item[0]).encode("utf-8", "surrogateescape")


def marshal(value: object, indent: str | None = None, escape_html: bool = True) -> str:
    """json.Marshal (or MarshalIndent with prefix "" and ``indent``)."""
    encoder = _Encoder(escape_html, indent)
    encoder.encode(value)
    return "".join(encoder.out)
