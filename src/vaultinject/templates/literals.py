"""Go literal syntax: strconv.Unquote, UnquoteChar and the number rules of text/template."""

from __future__ import annotations

import math

_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_HEX_DIGITS = "0123456789abcdefABCDEF"
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_UINT64_MAX = (1 << 64) - 1


class LiteralError(ValueError):
    """A literal Go would reject; the message is Go's."""


def _byte_char(value: int) -> str:
    """A single Go byte inside a string: ASCII as is, high bytes as surrogate escapes."""
    return chr(value) if value < 0x80 else chr(0xDC00 + value)


def unquote_char(text: str, pos: int, quote: str) -> tuple[str, int, int]:
    """strconv.UnquoteChar at ``text[pos]``: (decoded text, rune value, next position)."""
    ch = text[pos]
    if ch == quote and quote in "'\"":
        raise LiteralError("invalid syntax")
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # An invalid UTF-8 byte decodes to U+FFFD.
        return "\ufffd", 0xFFFD, pos + 1
    if ch != "\\":
        return ch, code, pos + 1
    if pos + 1 >= len(text):
        raise LiteralError("invalid syntax")
    esc = text[pos + 1]
    pos += 2
    simple = _SIMPLE.get(esc)
    if simple is not None:
        return simple, ord(simple), pos
    if esc in "xuU":
        size = {"x": 2, "u": 4, "U": 8}[esc]
        digits = text[pos : pos + size]
        if len(digits) < size or any(d not in _HEX_DIGITS for d in digits):
            raise LiteralError("invalid syntax")
        value = int(digits, 16)
        if esc == "x":
            return _byte_char(value), value, pos + size
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise LiteralError("invalid syntax")
        return chr(value), value, pos + size
    if "0" <= esc <= "7":
        digits = text[pos - 1 : pos + 2]
        if len(digits) < 3 or any(not "0" <= d <= "7" for d in digits):
            raise LiteralError("invalid syntax")
        value = int(digits, 8)
        if value > 255:
            raise LiteralError("invalid syntax")
        return _byte_char(value), value, pos + 2
    if esc in "'\"":
        if esc != quote:
            raise LiteralError("invalid syntax")
        return esc, ord(esc), pos
    raise LiteralError("invalid syntax")


def unquote(text: str) -> str:
    """strconv.Unquote for a double-quoted or raw (backquoted) string."""
    if len(text) < 2 or text[0] != text[-1]:
        raise LiteralError("invalid syntax")
    quote, body = text[0], text[1:-1]
    if quote == "`":
        if "`" in body:
            raise LiteralError("invalid syntax")
        return body.replace("\r", "")
    if quote != '"' or "\n" in body:
        raise LiteralError("invalid syntax")
    if "\\" not in body and '"' not in body:
        return "\ufffd".join(_split_invalid(body)) if _has_invalid(body) else body
    out = []
    pos = 0
    while pos < len(body):
        piece, _, pos = unquote_char(body, pos, quote)
        out.append(piece)
    return "".join(out)


def _has_invalid(text: str) -> bool:
    return any(0xDC80 <= ord(ch) <= 0xDCFF for ch in text)


def _split_invalid(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    for ch in text:
        if 0xDC80 <= ord(ch) <= 0xDCFF:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def underscore_ok(text: str) -> bool:
    """strconv's underscoreOK: underscores only between digits (or after a base prefix)."""
    saw = "^"
    i = 0
    if text[:1] in ("-", "+"):
        text = text[1:]
    hexa = False
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in "box":
        i = 2
        saw = "0"
        hexa = text[1].lower() == "x"
    while i < len(text):
        ch = text[i]
        if "0" <= ch <= "9" or (hexa and "a" <= ch.lower() <= "f"):
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
        i += 1
    return saw != "_"


def parse_uint(text: str) -> int | None:
    """strconv.ParseUint(text, 0, 64), or None when Go returns an error."""
    if not text or text[0] in "+-":
        return None
    return _parse_unsigned_base0(text)


def parse_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), or None when Go returns an error."""
    if not text:
        return None
    negative = text[0] == "-"
    body = text[1:] if text[0] in "+-" else text
    magnitude = _parse_unsigned_base0(body) if body else None
    if magnitude is None:
        return None
    value = -magnitude if negative else magnitude
    if not _INT64_MIN <= value <= _INT64_MAX:
        return None
    return value


def _parse_unsigned_base0(text: str) -> int | None:
    original = text
    base = 10
    if text[0] == "0":
        prefix = text[1:2].lower()
        if len(text) >= 3 and prefix in ("b", "o", "x"):
            base = {"b": 2, "o": 8, "x": 16}[prefix]
            text = text[2:]
        else:
            base = 8
            text = text[1:]
    value = 0
    underscores = False
    for ch in text:
        if ch == "_":
            underscores = True
            continue
        digit = _digit_value(ch)
        if digit >= base:
            return None
        value = value * base + digit
    if value > _UINT64_MAX:
        return None
    if underscores and not underscore_ok(original):
        return None
    return value


def _digit_value(ch: str) -> int:
    if "0" <= ch <= "9":
        return ord(ch) - 48
    if "a" <= ch.lower() <= "z":
        return ord(ch.lower()) - 87
    return 99


_FLOAT_CHARS = frozenset("0123456789abcdefABCDEFxXpP.+-_")
_SPECIAL_FLOATS = {"inf": math.inf, "infinity": math.inf, "nan": math.nan}


def go_parse_float(text: str) -> tuple[float | None, str]:
    """strconv.ParseFloat(text, 64): the value, or None and Go's reason (syntax or range)."""
    body = text[1:] if text[:1] in "+-" else text
    special = _SPECIAL_FLOATS.get(body.lower())
    if special is not None:
        return (-special if text[:1] == "-" else special), ""
    value = parse_float(text)
    if value is not None:
        return value, ""
    if text and all(ch in _FLOAT_CHARS for ch in text):
        try:
            if math.isinf(float(text.replace("_", ""))):
                return None, "value out of range"
        except ValueError:
            pass
    return None, "invalid syntax"


def parse_float(text: str) -> float | None:
    """strconv.ParseFloat(text, 64) for finite numbers in Go syntax; None when Go fails."""
    if not text or any(ch not in _FLOAT_CHARS for ch in text):
        return None
    if "_" in text and not underscore_ok(text):
        return None
    cleaned = text.replace("_", "")
    body = cleaned.lstrip("+-")
    if len(cleaned) - len(body) > 1:
        return None
    try:
        if body[:2].lower() == "0x":
            if "p" not in body.lower():
                return None
            value = float.fromhex(cleaned)
        else:
            if not body or not (body[0].isdigit() or body[0] == "."):
                return None
            value = float(cleaned)
    except (ValueError, OverflowError):
        return None
    if math.isinf(value) or math.isnan(value):
        return None
    return value


def parse_complex(text: str) -> complex | None:
    """fmt.Sscan into a complex128, for the ``1+2i`` shapes the lexer produces."""
    try:
        return complex(text.replace("_", "").replace("i", "j"))
    except ValueError:
        return None


def fits_int64(value: float) -> bool:
    """float64(int64(f)) == f on amd64."""
    return -(2.0**63) <= value < 2.0**63 and value == math.floor(value)


def fits_uint64(value: float) -> bool:
    """float64(uint64(f)) == f on amd64, for the values that matter here."""
    return 0 <= value < 2.0**64 and value == math.floor(value)
