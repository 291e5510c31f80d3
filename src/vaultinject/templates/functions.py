"""consul-template's template functions, as Vault Agent exposes them.

Functions that reach Vault or the environment go through the render's
:class:`SecretSource`; nothing here reads files, runs programs or opens sockets.
"""

from __future__ import annotations

import time

from . import timefmt
from .budget import ITEM_BYTES, Budget, indented_size
from .builtins import BUILTINS
from .funcdef import ANY, ANYS, INT, STRING, STRINGS, FuncError, GoFunc, func
from .gofmt import from_go_bytes, go_bytes, go_quote
from .jsonenc import marshal
from .parser import GO_SPACE
from .structured import to_toml, to_yaml
from .values import (
    FLOAT,
    SLICE,
    Int64,
    NilStrList,
    PemEncoded,
    Secret,
    StrList,
    go_kind,
    go_type_name,
)
from .values import (
    INT as INT_KIND,
)
from .values import (
    STRING as STRING_KIND,
)

TYPE_CHECKING = False  # typing is not imported at run time: importing this package must stay cheap.
if TYPE_CHECKING:
    from typing import Any

    from .source import SecretSource


class RenderContext:
    """Per-render state the source-backed functions need: the source, the budget, what was read."""

    __slots__ = ("budget", "read", "source")

    def __init__(self, source: SecretSource, budget: Budget) -> None:
        self.source = source
        self.budget = budget
        self.read: list[object] = []  # Every answer the source gave: secret data, for redaction.

    def remember(self, value: object) -> object:
        """Record an answer of the source and return it."""
        if value is not None:
            self.read.append(value)
        return value


def _kv_params(items: tuple[str, ...]) -> dict[str, str]:
    data: dict[str, str] = {}
    for item in items:
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise FuncError(f"not k=v pair {go_quote(item)}", item)
        data[key.strip(GO_SPACE)] = value.strip(GO_SPACE)
    return data


def _secret(ctx: RenderContext, *args: str) -> object:
    if not args:
        return None
    path, rest = args[0], args[1:]
    params = _kv_params(rest) if rest else None
    return ctx.remember(ctx.source.secret(path, params))


def _secrets(ctx: RenderContext, path: str) -> StrList:
    if not path:
        return NilStrList()
    keys = ctx.source.secrets(path)
    ctx.remember(keys)
    return StrList(keys)


def _pki_cert(ctx: RenderContext, *args: str) -> object:
    if not args:
        return None
    result = ctx.source.pki_cert(args[0], _kv_params(args[1:]))
    if isinstance(result, Secret):
        result = PemEncoded.from_secret(result)
    return ctx.remember(result)


def _env(ctx: RenderContext, name: str) -> str:
    return ctx.source.env(name) or ""


def _env_or_default(ctx: RenderContext, name: str, default: str) -> str:
    """os.LookupEnv, as consul-template: only an unset variable gets the default."""
    value = ctx.source.env(name)
    return default if value is None else value


def _must_env(ctx: RenderContext, name: str) -> str:
    value = ctx.source.env(name)
    if not value:
        raise FuncError(f"required environment variable {name} is empty")
    return value


# Encoders.


def _marshal(name: str, value: object, indent: str | None = None, escape_html: bool = True) -> str:
    try:
        return marshal(value, indent=indent, escape_html=escape_html)
    except FuncError as exc:
        raise FuncError(f"{name}: {exc}") from None


def _json_cost(value: object) -> int:
    """Printable ASCII text takes json_string's fast path; anything else its loop over characters."""
    return 5 if isinstance(value, str) and value.isascii() and value.isprintable() else 700


def _to_json(value: object) -> str:
    return _marshal("toJSON", value).strip(GO_SPACE)


def _to_json_pretty(value: object) -> str:
    return _marshal("toJSONPretty", value, indent="  ").strip(GO_SPACE)


def _to_unescaped_json(value: object) -> str:
    return _marshal("toUnescapedJSON", value, escape_html=False)


def _to_unescaped_json_pretty(value: object) -> str:
    return _marshal("toUnescapedJSONPretty", value, indent="  ", escape_html=False)


def _indented_size(limit: int, value: object) -> int:
    return indented_size(value, limit)


def _to_yaml(value: object) -> str:
    return to_yaml(value).strip(GO_SPACE)


def _to_toml(value: object) -> str:
    return to_toml(value).strip(GO_SPACE)


def _reject_constant(name: str) -> object:
    raise ValueError(name)


def _parse_json(text: str) -> object:
    import json

    if text == "":
        return {}
    try:
        return json.loads(text, parse_int=float, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _json_error(text, exc.pos, exc.msg) from None
    except ValueError as exc:
        shown = repr(exc.args[0][0])
        raise FuncError(f"invalid character {shown} looking for beginning of value", shown) from None


def _parse_json_size(_limit: int, text: str) -> int:
    """Decoded JSON takes an object per value: at most one more than the separators and openers."""
    values = 1 + sum(text.count(mark) for mark in ",:[{")
    return len(text) + values * ITEM_BYTES


def _json_error(text: str, pos: int, msg: str) -> FuncError:
    if pos >= len(text.rstrip()) or msg.startswith("Unterminated string"):
        return FuncError("unexpected end of JSON input")
    shown = _rune(text[pos])
    for prefix, context in _JSON_CONTEXTS:
        if msg.startswith(prefix):
            return FuncError(f"invalid character {shown} {context}", shown)
    return FuncError(f"invalid character {shown} looking for beginning of value", shown)


# Python's json messages and the scanner states Go names in its errors.
_JSON_CONTEXTS = (
    ("Extra data", "after top-level value"),
    ("Expecting property name", "looking for beginning of object key string"),
    ("Expecting ':'", "after object key"),
    ("Expecting ',' delimiter", "after object key:value pair"),
    ("Invalid control character", "in string literal"),
    ("Invalid \\escape", "in string escape code"),
)


def _rune(char: str) -> str:
    from .gofmt import go_quote_rune

    return go_quote_rune(ord(char))


# Base64.


def _b64_decode(name: str, text: str, url_safe: bool) -> str:
    from .b64 import CorruptInput, decode

    try:
        return from_go_bytes(decode(go_bytes(text), url_safe))
    except CorruptInput as exc:
        raise FuncError(f"{name}: {exc}") from None


def _base64_decode(text: str) -> str:
    return _b64_decode("base64Decode", text, url_safe=False)


def _base64_url_decode(text: str) -> str:
    return _b64_decode("base64URLDecode", text, url_safe=True)


def _base64_encode(text: str) -> str:
    import base64

    return base64.b64encode(go_bytes(text)).decode("ascii")


def _base64_url_encode(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(go_bytes(text)).decode("ascii")


# Strings.


def _split(sep: str, text: str) -> StrList:
    text = text.strip(GO_SPACE)
    if text == "":
        return StrList()
    if sep == "":
        return StrList(text)
    return StrList(text.split(sep))


def _split_size(_limit: int, sep: str, text: str) -> int:
    pieces = len(text) if sep == "" else text.count(sep) + 1
    return len(text) + pieces * ITEM_BYTES


def _join(sep: str, items: StrList) -> str:
    return sep.join(items)


def _join_size(limit: int, sep: str, items: StrList) -> int:
    total = len(sep) * max(0, len(items) - 1)
    for item in items:
        total += len(item)
        if total > limit:
            break
    return total


def _trim_space(text: str) -> str:
    return text.strip(GO_SPACE)


def _trim(cutset: str, text: str) -> str:
    return text.strip(cutset) if cutset else text


def _trim_prefix(prefix: str, text: str) -> str:
    return text[len(prefix) :] if prefix and text.startswith(prefix) else text


def _trim_suffix(suffix: str, text: str) -> str:
    return text[: -len(suffix)] if suffix and text.endswith(suffix) else text


def _replace_all(old: str, new: str, text: str) -> str:
    return text.replace(old, new)


def _replace_all_size(_limit: int, old: str, new: str, text: str) -> int:
    count = len(text) + 1 if old == "" else text.count(old)
    return len(text) + count * (len(new) - len(old))


def _simple_case(text: str, upper: bool) -> str:
    """strings.ToUpper/ToLower: one-to-one rune mappings only, as Go's unicode tables."""
    if text.isascii():
        return text.upper() if upper else text.lower()
    out = []
    for char in text:
        mapped = char.upper() if upper else char.lower()
        if char == "\u0130" and not upper:
            mapped = "i"
        out.append(mapped if len(mapped) == 1 else char)
    return "".join(out)


def _to_upper(text: str) -> str:
    return _simple_case(text, upper=True)


def _to_lower(text: str) -> str:
    return _simple_case(text, upper=False)


_MID_WORD = "'.:\u00b7\u2019\u2018\u2024\ufe52\ufe55\uff07\uff0e\uff1a"


def _to_title(text: str) -> str:
    """cases.Title(language.Und, cases.NoLower): upper-case each word's first letter."""
    out = []
    in_word = False
    for index, char in enumerate(text):
        word_char = char.isalnum() or char == "_"
        if word_char:
            if not in_word:
                titled = char.title()
                out.append(titled if len(titled) == 1 else char)
            else:
                out.append(char)
            in_word = True
            continue
        joins = (
            in_word
            and char in _MID_WORD
            and index + 1 < len(text)
            and (text[index + 1].isalnum() or text[index + 1] == "_")
        )
        in_word = joins
        out.append(char)
    return "".join(out)


def _indent(spaces: int, text: str) -> str:
    if spaces < 0:
        raise FuncError("indent value must be a positive integer")
    prefix = " " * spaces
    return "\n".join(prefix + line if line else line for line in text.split("\n"))


def _indent_size(limit: int, spaces: int, text: str) -> int:
    if spaces <= 0:
        return len(text)
    if spaces > limit:
        return spaces  # Any line at all would be too long: do not count them.
    return len(text) + spaces * (text.count("\n") + 1)


# Membership.


def _element_matches(item: object, value: object) -> bool:
    """consul-template's "in" equality: ints with ints, floats with floats, same-typed strings."""
    item_kind, value_kind = go_kind(item), go_kind(value)
    if item_kind == INT_KIND and value_kind == INT_KIND:
        return int(str(item)) == int(str(value))
    if item_kind == FLOAT and value_kind == FLOAT:
        return item == value
    if item_kind == STRING_KIND:
        return go_type_name(item) == go_type_name(value) and str(item) == str(value)
    return False


def _in(container: object, value: object) -> bool:
    kind = go_kind(container)
    if kind == SLICE:
        return any(_element_matches(item, value) for item in container)  # type: ignore[attr-defined]
    if kind == STRING_KIND:
        return go_type_name(value) == go_type_name(container) and str(value) in str(container)
    return False


def _contains(value: object, container: object) -> bool:
    return _in(container, value)


def _contains_some(all_mode: bool, invert: bool) -> Any:
    def check(values: list[object], container: object) -> bool:
        for value in values:
            if _in(container, value) != invert:
                return not all_mode
        return all_mode

    return check


# Parsing scalars.


def _parse_bool(text: str) -> bool:
    if text == "":
        return False
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise FuncError(f"parseBool: strconv.ParseBool: parsing {go_quote(text)}: invalid syntax", text)


def _parse_int(text: str) -> Int64:
    if text == "":
        return Int64(0)
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        raise FuncError(f"parseInt: strconv.ParseInt: parsing {go_quote(text)}: invalid syntax", text)
    value = int(text)
    if not -(1 << 63) <= value < 1 << 63:
        raise FuncError(f"parseInt: strconv.ParseInt: parsing {go_quote(text)}: value out of range", text)
    return Int64(value)


def _parse_float(text: str) -> float:
    from .literals import go_parse_float

    if text == "":
        return 0.0
    value, reason = go_parse_float(text)
    if value is None:
        raise FuncError(f"parseFloat: strconv.ParseFloat: parsing {go_quote(text)}: {reason}", text)
    return value


# Time and hashes.


def _timestamp(*args: str) -> str:
    now = time.time()
    if not args:
        return timefmt.format_utc(now, "2006-01-02T15:04:05Z07:00")
    if len(args) == 1:
        if args[0] == "unix":
            return str(int(now))
        return timefmt.format_utc(now, args[0])
    raise FuncError(f"timestamp: wrong number of arguments, expected 0 or 1, but got {len(args)}")


def _sha256_hex(text: str) -> str:
    import hashlib

    return hashlib.sha256(go_bytes(text)).hexdigest()


def _md5sum(text: str) -> str:
    import hashlib

    return hashlib.md5(go_bytes(text), usedforsecurity=False).hexdigest()


def _ctx(
    name: str, impl: Any, *params: Any, variadic: bool = False, returns_interface: bool = False
) -> GoFunc:
    return GoFunc(
        name, impl, params, variadic=variadic, returns_interface=returns_interface, needs_context=True
    )


CONSUL_TEMPLATE_FUNCS: dict[str, GoFunc] = {
    f.name: f
    for f in (
        _ctx("secret", _secret, STRING, variadic=True, returns_interface=True),
        _ctx("secrets", _secrets, STRING),
        _ctx("pkiCert", _pki_cert, STRING, variadic=True, returns_interface=True),
        _ctx("env", _env, STRING),
        _ctx("envOrDefault", _env_or_default, STRING, STRING),
        _ctx("mustEnv", _must_env, STRING),
        func("toJSON", _to_json, ANY, cost=_json_cost),
        func("toJSONPretty", _to_json_pretty, ANY, estimate=_indented_size, cost=850),
        func("toUnescapedJSON", _to_unescaped_json, ANY, cost=_json_cost),
        func("toUnescapedJSONPretty", _to_unescaped_json_pretty, ANY, estimate=_indented_size, cost=850),
        func("toYAML", _to_yaml, ANY, estimate=_indented_size, cost=350),
        func("toTOML", _to_toml, ANY, estimate=_indented_size, cost=350),
        func("parseJSON", _parse_json, STRING, returns_interface=True, estimate=_parse_json_size, cost=15),
        func("parseBool", _parse_bool, STRING, cost=1400),
        func("parseInt", _parse_int, STRING, cost=1100),
        func("parseFloat", _parse_float, STRING, cost=1100),
        func("base64Encode", _base64_encode, STRING, cost=70),
        func("base64Decode", _base64_decode, STRING, cost=650),
        func("base64URLEncode", _base64_url_encode, STRING, cost=70),
        func("base64URLDecode", _base64_url_decode, STRING, cost=650),
        func("split", _split, STRING, STRING, estimate=_split_size),
        func("join", _join, STRING, STRINGS, estimate=_join_size),
        func("trimSpace", _trim_space, STRING),
        func("trim", _trim, STRING, STRING),
        func("trimPrefix", _trim_prefix, STRING, STRING),
        func("trimSuffix", _trim_suffix, STRING, STRING),
        func("replaceAll", _replace_all, STRING, STRING, STRING, estimate=_replace_all_size),
        func("toLower", _to_lower, STRING, cost=350),
        func("toUpper", _to_upper, STRING, cost=300),
        func("toTitle", _to_title, STRING, cost=1600),
        func("indent", _indent, INT, STRING, estimate=_indent_size),
        func("contains", _contains, ANY, ANY),
        func("in", _in, ANY, ANY),
        func("containsAll", _contains_some(True, True), ANYS, ANY),
        func("containsAny", _contains_some(False, False), ANYS, ANY),
        func("containsNone", _contains_some(True, False), ANYS, ANY),
        func("containsNotAll", _contains_some(False, True), ANYS, ANY),
        func("timestamp", _timestamp, STRING, variadic=True),
        func("sha256Hex", _sha256_hex, STRING, cost=20),
        func("md5sum", _md5sum, STRING, cost=10),
    )
}

#: consul-template functions that would read files, run programs or reach other services.
REFUSED_FUNCS = {
    "plugin": "templates cannot run programs",
    "file": "templates cannot read files",
    "writeToFile": "templates cannot write files",
    "sockaddr": "templates cannot inspect the network",
}

#: Other consul-template functions this engine does not provide (Consul, Nomad, sprig...).
UNSUPPORTED_FUNCS = frozenset(
    [
        "key",
        "keyExists",
        "keyOrDefault",
        "ls",
        "safeLs",
        "tree",
        "safeTree",
        "node",
        "nodes",
        "service",
        "services",
        "connect",
        "caRoots",
        "caLeaf",
        "datacenters",
        "partitions",
        "peerings",
        "exportedServices",
        "importedServices",
        "nomadServices",
        "nomadService",
        "nomadVarList",
        "nomadVarListSafe",
        "nomadVarGet",
        "nomadVarExists",
        "byKey",
        "byTag",
        "byMeta",
        "explode",
        "explodeMap",
        "mergeMap",
        "mergeMapWithOverride",
        "loop",
        "scratch",
        "executeTemplate",
        "regexMatch",
        "regexReplaceAll",
        "parseYAML",
        "parseUint",
        "splitToMap",
        "add",
        "subtract",
        "multiply",
        "divide",
        "modulo",
        "minimum",
        "maximum",
        "hmacSHA256Hex",
        "spew_dump",
        "spew_sdump",
        "spew_printf",
        "spew_sprintf",
    ]
)

ALL_FUNCS: dict[str, GoFunc] = {**BUILTINS, **CONSUL_TEMPLATE_FUNCS}

__all__ = [
    "ALL_FUNCS",
    "CONSUL_TEMPLATE_FUNCS",
    "REFUSED_FUNCS",
    "UNSUPPORTED_FUNCS",
    "RenderContext",
]
