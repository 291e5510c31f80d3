"""Go's fmt package for the value model: Sprint, Sprintf, Sprintln and ``%v`` of any value.

Go strings are bytes; here a Go string is a ``str`` whose UTF-8 encoding (with
``surrogateescape`` for invalid bytes) is that byte string.
"""

from __future__ import annotations

import math

from .values import (
    BOOL,
    COMPLEX,
    FLOAT,
    INT,
    INTERFACE,
    MAP,
    NIL_INTERFACE,
    PTR,
    SLICE,
    STRING,
    STRUCT,
    UINT,
    GoStruct,
    JSONNumber,
    TypedNil,
    go_kind,
    go_type_name,
    is_nil_container,
)

_FAKE_POINTER = 0xC000010000  # Go prints real addresses here; any fixed value is as good.
_LOWER = "0123456789abcdefx"
_UPPER = "0123456789ABCDEFX"
_MAX_INT64 = (1 << 63) - 1


def go_bytes(text: str) -> bytes:
    """The Go byte string a Python string stands for."""
    return text.encode("utf-8", "surrogateescape")


def from_go_bytes(data: bytes) -> str:
    """The Python string standing for a Go byte string."""
    return data.decode("utf-8", "surrogateescape")


def go_len(text: str) -> int:
    """len(s) in Go: the number of bytes."""
    return len(text) if text.isascii() else len(go_bytes(text))


# --- strconv quoting -------------------------------------------------------------------


def _escaped_rune(code: int, quote: str, ascii_only: bool) -> str:
    ch = chr(code)
    if ch in (quote, "\\"):
        return "\\" + ch
    if ascii_only:
        if code < 0x80 and ch.isprintable():
            return ch
    elif ch.isprintable():
        return ch
    simple = _SIMPLE_ESCAPES.get(ch)
    if simple is not None:
        return simple
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return "\\ufffd"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


_SIMPLE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(text: str, ascii_only: bool = False, quote: str = '"') -> str:
    """strconv.Quote (or QuoteToASCII): a double-quoted Go string literal."""
    out = [quote]
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # An invalid byte, kept by surrogateescape.
            out.append(f"\\x{code - 0xDC00:02x}")
        elif " " <= ch <= "~" and ch not in (quote, "\\"):
            out.append(ch)
        else:
            out.append(_escaped_rune(code, quote, ascii_only))
    out.append(quote)
    return "".join(out)


def go_quote_rune(code: int, ascii_only: bool = False) -> str:
    """strconv.QuoteRune: a single-quoted Go rune literal."""
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        code = 0xFFFD
    return "'" + _escaped_rune(code, "'", ascii_only) + "'"


def can_backquote(text: str) -> bool:
    """strconv.CanBackquote: no backquote, no control character but tab, valid UTF-8."""
    for ch in text:
        code = ord(ch)
        if ch == "`" or code == 0xFEFF or 0xD800 <= code <= 0xDFFF:
            return False
        if (code < 0x20 and ch != "\t") or code == 0x7F:
            return False
    return True


# --- strconv float formatting ------------------------------------------------------------


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits and decimal point position of a positive float."""
    if value == 0:
        return "", 0
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, frac = mantissa.partition(".")
    all_digits = whole + frac
    stripped = all_digits.lstrip("0")
    leading = len(all_digits) - len(stripped)
    point = len(whole) + (int(exponent) if exponent else 0) - leading
    return stripped.rstrip("0"), point


def _fixed_digits(value: float, count: int) -> tuple[str, int]:
    """``count`` correctly rounded significant digits of a positive float."""
    if value == 0:
        return "", 0
    mantissa, _, exponent = f"{value:.{count - 1}e}".partition("e")
    return mantissa.replace(".", "").rstrip("0"), int(exponent) + 1


def _fmt_e(digits: str, point: int, prec: int, letter: str) -> str:
    first = digits[0] if digits else "0"
    out = first
    if prec > 0:
        out += "." + digits[1 : prec + 1].ljust(prec, "0")
    exp = point - 1 if digits else 0
    sign = "-" if exp < 0 else "+"
    exp = abs(exp)
    return f"{out}{letter}{sign}{exp:02d}"


def _fmt_f(digits: str, point: int, prec: int) -> str:
    out = digits[:point].ljust(point, "0") if point > 0 else "0"
    if prec > 0:
        frac = "".join(digits[point + i] if 0 <= point + i < len(digits) else "0" for i in range(prec))
        out += "." + frac
    return out


def _float_bits(value: float) -> int:
    import struct

    bits: int = struct.unpack(">Q", struct.pack(">d", value))[0]
    return bits


def _float_parts(value: float) -> tuple[str, int, int]:
    """Sign, unbiased binary exponent and 53-bit mantissa of a float (denormals as Go takes them)."""
    bits = _float_bits(value)
    exp = (bits >> 52) & 0x7FF
    mant = bits & ((1 << 52) - 1)
    if exp == 0:
        exp = 1
    else:
        mant |= 1 << 52
    return ("-" if bits >> 63 else ""), exp - 1023, mant


def _fmt_b(value: float) -> str:
    neg, exp, mant = _float_parts(value)
    exp -= 52
    return f"{neg}{mant}p{'+' if exp >= 0 else ''}{exp}"


def _fmt_x(value: float, prec: int, letter: str) -> str:
    neg, exp, mant = _float_parts(value)
    if mant == 0:
        exp = 0
    mant <<= 60 - 52
    while mant != 0 and mant & (1 << 60) == 0:
        mant <<= 1
        exp -= 1
    if 0 <= prec < 15:
        shift = prec * 4
        extra = (mant << shift) & ((1 << 60) - 1)
        mant >>= 60 - shift
        if extra | (mant & 1) > 1 << 59:
            mant += 1
        mant <<= 60 - shift
        if mant & (1 << 61):
            mant >>= 1
            exp += 1
    hexdigits = "0123456789ABCDEF" if letter == "X" else "0123456789abcdef"
    out = f"{neg}0{letter}{(mant >> 60) & 1}"
    mant = (mant << 4) & ((1 << 64) - 1)
    if prec < 0 and mant != 0:
        out += "."
        while mant != 0:
            out += hexdigits[(mant >> 60) & 15]
            mant = (mant << 4) & ((1 << 64) - 1)
    elif prec > 0:
        out += "."
        for _ in range(prec):
            out += hexdigits[(mant >> 60) & 15]
            mant = (mant << 4) & ((1 << 64) - 1)
    sign = "-" if exp < 0 else "+"
    return f"{out}{'P' if letter == 'X' else 'p'}{sign}{abs(exp):02d}"


def format_float(value: float, fmt: str, prec: int) -> str:
    """strconv.FormatFloat(value, fmt, prec, 64)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if fmt == "b":
        return _fmt_b(value)
    if fmt in ("x", "X"):
        return _fmt_x(value, prec, fmt)
    neg = "-" if math.copysign(1.0, value) < 0 else ""
    value = abs(value)
    if fmt == "f" and prec >= 0:
        return neg + f"{value:.{prec}f}"
    shortest = prec < 0
    if shortest:
        digits, point = _shortest_digits(value)
        if fmt in ("e", "E"):
            prec = max(len(digits) - 1, 0)
        elif fmt == "f":
            prec = max(len(digits) - point, 0)
        else:
            prec = len(digits)
    else:
        if fmt in ("g", "G") and prec == 0:
            prec = 1
        count = prec + 1 if fmt in ("e", "E") else prec
        digits, point = _fixed_digits(value, count)
    if fmt in ("e", "E"):
        return neg + _fmt_e(digits, point, prec, fmt)
    if fmt == "f":
        return neg + _fmt_f(digits, point, prec)
    eprec = prec
    if eprec > len(digits) and len(digits) >= point:
        eprec = len(digits)
    if shortest:
        eprec = 6
    exp = point - 1
    if exp < -4 or exp >= eprec:
        prec = min(prec, len(digits))
        return neg + _fmt_e(digits, point, prec - 1, "e" if fmt == "g" else "E")
    if prec > point:
        prec = len(digits)
    return neg + _fmt_f(digits, point, max(prec - point, 0))


# --- fmt ---------------------------------------------------------------------------------


class _Printer:
    """One fmt call: an output buffer and the flags of the verb being printed."""

    __slots__ = (
        "buf",
        "erroring",
        "minus",
        "plus",
        "plus_v",
        "prec",
        "prec_present",
        "sharp",
        "sharp_v",
        "space",
        "wid",
        "wid_present",
        "zero",
    )

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.erroring = False
        self.clear_flags()

    def clear_flags(self) -> None:
        self.wid_present = self.prec_present = False
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.plus_v = self.sharp_v = False
        self.wid = self.prec = 0

    # Padding.
    def write_padding(self, count: int) -> None:
        if count > 0:
            self.buf.append(("0" if self.zero else " ") * count)

    def pad(self, text: str) -> None:
        if not self.wid_present or self.wid == 0:
            self.buf.append(text)
            return
        width = self.wid - _rune_count(text)
        if not self.minus:
            self.write_padding(width)
            self.buf.append(text)
        else:
            self.buf.append(text)
            self.write_padding(width)

    # Scalars.
    def fmt_boolean(self, value: bool) -> None:
        self.pad("true" if value else "false")

    def fmt_integer(self, value: int, base: int, signed: bool, verb: str, digits: str) -> None:
        negative = signed and value < 0
        magnitude = -value if negative else value
        if not signed and value < 0:
            magnitude = value & 0xFFFFFFFFFFFFFFFF
        prec = 0
        if self.prec_present:
            prec = self.prec
            if prec == 0 and magnitude == 0:
                old_zero = self.zero
                self.zero = False
                self.write_padding(self.wid)
                self.zero = old_zero
                return
        elif self.zero and self.wid_present:
            prec = self.wid
            if negative or self.plus or self.space:
                prec -= 1
        text = _to_base(magnitude, base, digits).rjust(prec, "0")
        if self.sharp:
            if base == 2:
                text = "0b" + text
            elif base == 8:
                if text[0] != "0":
                    text = "0" + text
            elif base == 16:
                text = "0" + digits[16] + text
        if verb == "O":
            text = "0o" + text
        if negative:
            text = "-" + text
        elif self.plus:
            text = "+" + text
        elif self.space:
            text = " " + text
        old_zero = self.zero
        self.zero = False
        self.pad(text)
        self.zero = old_zero

    def fmt_unicode(self, value: int) -> None:
        prec = 4
        if self.prec_present and self.prec > 4:
            prec = self.prec
        text = "U+" + f"{value:X}".rjust(prec, "0")
        if self.sharp and value <= 0x10FFFF and chr(value).isprintable():
            text += " '" + chr(value) + "'"
        old_zero = self.zero
        self.zero = False
        self.pad(text)
        self.zero = old_zero

    def fmt_c(self, value: int) -> None:
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            value = 0xFFFD
        self.pad(chr(value))

    def fmt_qc(self, value: int) -> None:
        if value > 0x10FFFF:
            value = 0xFFFD
        self.pad(go_quote_rune(value, ascii_only=self.plus))

    def truncate(self, text: str) -> str:
        if self.prec_present:
            return text[: self.prec]
        return text

    def fmt_s(self, text: str) -> None:
        self.pad(self.truncate(text))

    def fmt_sx(self, text: str, digits: str) -> None:
        data = go_bytes(text)
        length = len(data)
        if self.prec_present and self.prec < length:
            length = self.prec
        width = 2 * length
        if width > 0:
            if self.space:
                if self.sharp:
                    width *= 2
                width += length - 1
            elif self.sharp:
                width += 2
        else:
            if self.wid_present:
                self.write_padding(self.wid)
            return
        if self.wid_present and self.wid > width and not self.minus:
            self.write_padding(self.wid - width)
        out = []
        if self.sharp:
            out.append("0" + digits[16])
        for i in range(length):
            if self.space and i > 0:
                out.append(" ")
                if self.sharp:
                    out.append("0" + digits[16])
            byte = data[i]
            out.append(digits[byte >> 4] + digits[byte & 0xF])
        self.buf.append("".join(out))
        if self.wid_present and self.wid > width and self.minus:
            self.write_padding(self.wid - width)

    def fmt_q(self, text: str) -> None:
        text = self.truncate(text)
        if self.sharp and can_backquote(text):
            self.pad("`" + text + "`")
            return
        self.pad(go_quote(text, ascii_only=self.plus))

    def fmt_float_digits(self, value: float, verb: str, prec: int) -> None:
        if self.prec_present:
            prec = self.prec
        num = format_float(value, verb, prec)
        if num[0] not in "+-":
            num = "+" + num
        if self.space and num[0] == "+" and not self.plus:
            num = " " + num[1:]
        if num[1] in "IN":
            old_zero = self.zero
            self.zero = False
            if num[1] == "N" and not self.space and not self.plus:
                num = num[1:]
            self.pad(num)
            self.zero = old_zero
            return
        if self.sharp and verb != "b":
            num = _sharp_float(num, verb, prec)
        if self.plus or num[0] != "+":
            if self.zero and self.wid_present and self.wid > len(num):
                self.buf.append(num[0])
                self.write_padding(self.wid - len(num))
                self.buf.append(num[1:])
                return
            self.pad(num)
            return
        self.pad(num[1:])

    # Verbs by kind.
    def bad_verb(self, verb: str, value: object, has_value: bool = True) -> None:
        self.erroring = True
        self.buf.append("%!" + verb + "(")
        if has_value and value is not None:
            self.buf.append(go_type_name(value) + "=")
            self.print_arg(value, "v")
        else:
            self.buf.append("<nil>")
        self.buf.append(")")
        self.erroring = False

    def fmt_bool(self, value: bool, verb: str) -> None:
        if verb in ("t", "v"):
            self.fmt_boolean(value)
        else:
            self.bad_verb(verb, value)

    def fmt_int(self, value: int, signed: bool, verb: str, original: object) -> None:
        if verb == "v":
            if self.sharp_v and not signed:
                self._fmt_0x64(value, True)
            else:
                self.fmt_integer(value, 10, signed, verb, _LOWER)
        elif verb == "d":
            self.fmt_integer(value, 10, signed, verb, _LOWER)
        elif verb == "b":
            self.fmt_integer(value, 2, signed, verb, _LOWER)
        elif verb in ("o", "O"):
            self.fmt_integer(value, 8, signed, verb, _LOWER)
        elif verb == "x":
            self.fmt_integer(value, 16, signed, verb, _LOWER)
        elif verb == "X":
            self.fmt_integer(value, 16, signed, verb, _UPPER)
        elif verb == "c":
            self.fmt_c(value if value >= 0 else 0xFFFD)
        elif verb == "q":
            self.fmt_qc(value if value >= 0 else 0xFFFD)
        elif verb == "U":
            self.fmt_unicode(value & 0xFFFFFFFFFFFFFFFF)
        else:
            self.bad_verb(verb, original)

    def _fmt_0x64(self, value: int, leading0x: bool) -> None:
        sharp = self.sharp
        self.sharp = leading0x
        self.fmt_integer(value, 16, False, "v", _LOWER)
        self.sharp = sharp

    def fmt_float(self, value: float, verb: str) -> None:
        if verb == "v":
            self.fmt_float_digits(value, "g", -1)
        elif verb in ("b", "g", "G", "x", "X"):
            self.fmt_float_digits(value, verb, -1)
        elif verb in ("f", "e", "E"):
            self.fmt_float_digits(value, verb, 6)
        elif verb == "F":
            self.fmt_float_digits(value, "f", 6)
        else:
            self.bad_verb(verb, value)

    def fmt_complex(self, value: complex, verb: str) -> None:
        if verb not in "vbgGxXfFeE":
            self.bad_verb(verb, value)
            return
        old_plus = self.plus
        self.buf.append("(")
        self.fmt_float(value.real, verb)
        self.plus = True
        self.fmt_float(value.imag, verb)
        self.buf.append("i)")
        self.plus = old_plus

    def fmt_string(self, value: str, verb: str) -> None:
        if verb == "v":
            if self.sharp_v:
                self.fmt_q(value)
            else:
                self.fmt_s(value)
        elif verb == "s":
            self.fmt_s(value)
        elif verb == "x":
            self.fmt_sx(value, _LOWER)
        elif verb == "X":
            self.fmt_sx(value, _UPPER)
        elif verb == "q":
            self.fmt_q(value)
        else:
            self.bad_verb(verb, value)

    def fmt_pointer(self, value: object, verb: str) -> None:
        address = 0 if isinstance(value, TypedNil) else _FAKE_POINTER
        if verb == "v":
            if self.sharp_v:
                self.buf.append("(" + go_type_name(value) + ")(")
                if address == 0:
                    self.buf.append("nil")
                else:
                    self._fmt_0x64(address, True)
                self.buf.append(")")
            elif address == 0:
                self.pad("<nil>")
            else:
                self._fmt_0x64(address, not self.sharp)
        elif verb == "p":
            self._fmt_0x64(address, not self.sharp)
        elif verb in ("b", "o", "d", "x", "X"):
            self.fmt_int(address, False, verb, value)
        else:
            self.bad_verb(verb, value)

    # Arguments.
    def print_arg(self, arg: object, verb: str) -> None:
        """printArg: format one operand (already unwrapped from interface{})."""
        if arg is None or arg is NIL_INTERFACE:
            if verb in ("T", "v"):
                self.pad("<nil>")
            else:
                self.bad_verb(verb, None, has_value=False)
            return
        if verb == "T":
            self.fmt_s(go_type_name(arg))
            return
        if verb == "p":
            kind = go_kind(arg)
            if kind in (MAP, SLICE, PTR):
                self.fmt_pointer(arg, "p")
            else:
                self.bad_verb(verb, arg)
            return
        if type(arg) is JSONNumber and not self.sharp_v and verb in "vsxXq":
            self.fmt_string(str(arg), verb)  # json.Number is a fmt.Stringer.
            return
        self.print_value(arg, verb, 0)

    def print_value(self, value: object, verb: str, depth: int) -> None:
        """printValue: format a value by its kind, recursing into containers."""
        if depth > 0 and type(value) is JSONNumber and not self.sharp_v and verb in "vsxXq":
            self.fmt_string(str(value), verb)
            return
        kind = go_kind(value)
        if kind == STRING:
            self.fmt_string(value, verb)  # type: ignore[arg-type]
        elif kind == INT:
            self.fmt_int(value, True, verb, value)  # type: ignore[arg-type]
        elif kind == BOOL:
            self.fmt_bool(value, verb)  # type: ignore[arg-type]
        elif kind == FLOAT:
            self.fmt_float(value, verb)  # type: ignore[arg-type]
        elif kind == UINT:
            self.fmt_int(value, False, verb, value)  # type: ignore[arg-type]
        elif kind == COMPLEX:
            self.fmt_complex(value, verb)  # type: ignore[arg-type]
        elif kind == MAP:
            self._print_map(value, verb, depth)  # type: ignore[arg-type]
        elif kind == SLICE:
            self._print_slice(value, verb, depth)  # type: ignore[arg-type]
        elif kind == STRUCT:
            self._print_struct(value, verb, depth)  # type: ignore[arg-type]
        elif kind == PTR:
            if depth == 0 and isinstance(value, GoStruct):
                self.buf.append("&")
                self._print_struct(value, verb, depth + 1)
            else:
                self.fmt_pointer(value, verb)
        elif kind == INTERFACE or value is None:
            if depth == 0 and value is None:
                self.buf.append("<invalid reflect.Value>")
            elif self.sharp_v:
                self.buf.append("interface {}(nil)")
            else:
                self.buf.append("<nil>")
        else:
            self.buf.append("?" + go_type_name(value) + "?")

    def _print_element(self, value: object, verb: str, depth: int) -> None:
        """An element of an interface{} container: nil prints as <nil> whatever the verb."""
        if value is None:
            self.buf.append("interface {}(nil)" if self.sharp_v else "<nil>")
        else:
            self.print_value(value, verb, depth + 1)

    def _print_map(self, value: dict[str, object], verb: str, depth: int) -> None:
        generic = not isinstance(value, dict) or type(value).__name__ in ("dict", "NilMap")
        if self.sharp_v:
            self.buf.append(go_type_name(value))
            if is_nil_container(value):
                self.buf.append("(nil)")
                return
            self.buf.append("{")
        else:
            self.buf.append("map[")
        for index, key in enumerate(sorted(value, key=go_bytes)):
            if index:
                self.buf.append(", " if self.sharp_v else " ")
            self.print_value(key, verb, depth + 1)
            self.buf.append(":")
            if generic:
                self._print_element(value[key], verb, depth)
            else:
                self.print_value(value[key], verb, depth + 1)
        self.buf.append("}" if self.sharp_v else "]")

    def _print_slice(self, value: list[object], verb: str, depth: int) -> None:
        generic = type(value) is list
        if self.sharp_v:
            self.buf.append(go_type_name(value))
            if is_nil_container(value):
                self.buf.append("(nil)")
                return
            self.buf.append("{")
        else:
            self.buf.append("[")
        for index, item in enumerate(value):
            if index:
                self.buf.append(", " if self.sharp_v else " ")
            if generic:
                self._print_element(item, verb, depth)
            else:
                self.print_value(item, verb, depth + 1)
        self.buf.append("}" if self.sharp_v else "]")

    def _print_struct(self, value: GoStruct, verb: str, depth: int) -> None:
        if self.sharp_v:
            self.buf.append(value.GO_TYPE)
        self.buf.append("{")
        for index, name in enumerate(value.GO_FIELDS):
            if index:
                self.buf.append(", " if self.sharp_v else " ")
            if self.plus_v or self.sharp_v:
                self.buf.append(name + ":")
            self.print_value(value.go_field(name), verb, depth + 1)
        self.buf.append("}")

    # Entry points.
    def do_print(self, args: list[object], deref_pointers: bool = False) -> None:
        prev_string = False
        for index, arg in enumerate(args):
            is_string = go_kind(arg) == STRING
            if index > 0 and not is_string and not prev_string:
                self.buf.append(" ")
            if deref_pointers and isinstance(arg, GoStruct) and arg.GO_POINTER:
                self._print_struct(arg, "v", 0)
            else:
                self.print_arg(arg, "v")
            prev_string = is_string

    def do_println(self, args: list[object]) -> None:
        for index, arg in enumerate(args):
            if index > 0:
                self.buf.append(" ")
            self.print_arg(arg, "v")
        self.buf.append("\n")

    def do_printf(self, fmt: str, args: list[object]) -> None:
        _Printf(self, fmt, args).run()


def _sharp_float(num: str, verb: str, prec: int) -> str:
    digits = 0
    if verb in ("v", "g", "G", "x"):
        digits = prec if prec != -1 else 6
    tail = ""
    body = num
    has_point = False
    saw_nonzero = False
    for index in range(1, len(num)):
        ch = num[index]
        if ch == ".":
            has_point = True
        elif ch in "pP" or (ch in "eE" and verb not in ("x", "X")):
            tail = num[index:]
            body = num[:index]
            break
        else:
            if ch != "0":
                saw_nonzero = True
            if saw_nonzero:
                digits -= 1
    if not has_point:
        if len(body) == 2 and body[1] == "0":
            digits -= 1
        body += "."
    if digits > 0:
        body += "0" * digits
    return body + tail


def _to_base(value: int, base: int, digits: str) -> str:
    if value == 0:
        return "0"
    out = []
    while value:
        value, rem = divmod(value, base)
        out.append(digits[rem])
    return "".join(reversed(out))


def _rune_count(text: str) -> int:
    return len(text)


class _Printf:
    """The doPrintf loop: verbs, flags, widths, precisions and argument indexes."""

    def __init__(self, printer: _Printer, fmt: str, args: list[object]) -> None:
        self.p = printer
        self.fmt = fmt
        self.args = args
        self.arg_num = 0
        self.reordered = False
        self.good_arg_num = True

    def run(self) -> None:
        p, fmt, end = self.p, self.fmt, len(self.fmt)
        i = 0
        after_index = False
        while i < end:
            self.good_arg_num = True
            start = i
            while i < end and fmt[i] != "%":
                i += 1
            if i > start:
                p.buf.append(fmt[start:i])
            if i >= end:
                break
            i += 1
            p.clear_flags()
            i, done = self._simple_flags(i)
            if done:
                continue
            i, after_index = self._arg_number(i)
            if i < end and fmt[i] == "*":
                i += 1
                p.wid, p.wid_present = self._int_from_arg()
                if not p.wid_present:
                    p.buf.append("%!(BADWIDTH)")
                if p.wid < 0:
                    p.wid = -p.wid
                    p.minus = True
                    p.zero = False
                after_index = False
            else:
                p.wid, p.wid_present, i = _parse_num(fmt, i, end)
                if after_index and p.wid_present:
                    self.good_arg_num = False
            if i + 1 < end and fmt[i] == ".":
                i += 1
                if after_index:
                    self.good_arg_num = False
                i, after_index = self._arg_number(i)
                if i < end and fmt[i] == "*":
                    i += 1
                    p.prec, p.prec_present = self._int_from_arg()
                    if p.prec < 0:
                        p.prec = 0
                        p.prec_present = False
                    if not p.prec_present:
                        p.buf.append("%!(BADPREC)")
                    after_index = False
                else:
                    p.prec, p.prec_present, i = _parse_num(fmt, i, end)
                    if not p.prec_present:
                        p.prec = 0
                        p.prec_present = True
            if not after_index:
                i, after_index = self._arg_number(i)
            if i >= end:
                p.buf.append("%!(NOVERB)")
                break
            verb = fmt[i]
            i += 1
            self._print_verb(verb)
        self._extra_args()

    def _simple_flags(self, i: int) -> tuple[int, bool]:
        p, fmt, end = self.p, self.fmt, len(self.fmt)
        while i < end:
            ch = fmt[i]
            if ch == "#":
                p.sharp = True
            elif ch == "0":
                p.zero = not p.minus
            elif ch == "+":
                p.plus = True
            elif ch == "-":
                p.minus = True
                p.zero = False
            elif ch == " ":
                p.space = True
            else:
                if "a" <= ch <= "z" and self.arg_num < len(self.args):
                    if ch == "v":
                        p.sharp_v, p.sharp = p.sharp, False
                        p.plus_v, p.plus = p.plus, False
                    p.print_arg(self.args[self.arg_num], ch)
                    self.arg_num += 1
                    return i + 1, True
                return i, False
            i += 1
        return i, False

    def _print_verb(self, verb: str) -> None:
        p = self.p
        if verb == "%":
            p.buf.append("%")
        elif not self.good_arg_num:
            p.buf.append("%!" + verb + "(BADINDEX)")
        elif self.arg_num >= len(self.args):
            p.buf.append("%!" + verb + "(MISSING)")
        else:
            if verb == "v":
                p.sharp_v, p.sharp = p.sharp, False
                p.plus_v, p.plus = p.plus, False
            p.print_arg(self.args[self.arg_num], verb)
            self.arg_num += 1

    def _arg_number(self, i: int) -> tuple[int, bool]:
        fmt = self.fmt
        if len(fmt) <= i or fmt[i] != "[":
            return i, False
        self.reordered = True
        index, width, ok = _parse_arg_number(fmt[i:])
        if ok and 0 <= index < len(self.args):
            self.arg_num = index
            return i + width, True
        self.good_arg_num = False
        return i + width, ok

    def _int_from_arg(self) -> tuple[int, bool]:
        num, is_int = 0, False
        if self.arg_num < len(self.args):
            arg = self.args[self.arg_num]
            if go_kind(arg) in (INT, UINT) and isinstance(arg, int) and -_MAX_INT64 - 1 <= arg <= _MAX_INT64:
                num, is_int = int(arg), True
            self.arg_num += 1
            if num > 1_000_000 or num < -1_000_000:
                num, is_int = 0, False
        return num, is_int

    def _extra_args(self) -> None:
        p = self.p
        if self.reordered or self.arg_num >= len(self.args):
            return
        p.clear_flags()
        p.buf.append("%!(EXTRA ")
        for index, arg in enumerate(self.args[self.arg_num :]):
            if index:
                p.buf.append(", ")
            if arg is None:
                p.buf.append("<nil>")
            else:
                p.buf.append(go_type_name(arg) + "=")
                p.print_arg(arg, "v")
        p.buf.append(")")


def _parse_num(text: str, start: int, end: int) -> tuple[int, bool, int]:
    num, is_num, index = 0, False, start
    while index < end and "0" <= text[index] <= "9":
        if num > 1_000_000 or num < -1_000_000:
            return 0, False, end
        num = num * 10 + ord(text[index]) - 48
        is_num = True
        index += 1
    return num, is_num, index


def _parse_arg_number(text: str) -> tuple[int, int, bool]:
    if len(text) < 3:
        return 0, 1, False
    for index in range(1, len(text)):
        if text[index] == "]":
            width, ok, new_index = _parse_num(text, 1, index)
            if not ok or new_index != index:
                return 0, index + 1, False
            return width - 1, index + 1, True
    return 0, 1, False


def sprint(args: list[object], deref_pointers: bool = False) -> str:
    """fmt.Sprint (with pointers to structs printed as the struct, as evalArgs does)."""
    printer = _Printer()
    printer.do_print(args, deref_pointers)
    return "".join(printer.buf)


def sprintln(args: list[object]) -> str:
    """fmt.Sprintln."""
    printer = _Printer()
    printer.do_println(args)
    return "".join(printer.buf)


def sprintf(fmt: str, args: list[object]) -> str:
    """fmt.Sprintf."""
    printer = _Printer()
    printer.do_printf(fmt, args)
    return "".join(printer.buf)


def format_value(value: object) -> str:
    """fmt.Sprint of one value, the way a template prints an action's result."""
    kind = type(value)
    if kind is str or kind is JSONNumber:
        return value  # type: ignore[return-value]
    if value is None:
        return "<no value>"
    if kind is int:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if isinstance(value, GoStruct) and value.GO_POINTER:
        return sprint([value], deref_pointers=True)  # Templates print what a pointer points to.
    printer = _Printer()
    printer.print_arg(value, "v")
    return "".join(printer.buf)
