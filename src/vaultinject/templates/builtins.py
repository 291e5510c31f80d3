"""Go text/template's builtin functions (and, or and call's checks live in exec)."""

from __future__ import annotations

from .budget import sum_sizes
from .funcdef import ANY, STRING, VALUE, FuncError, GoFunc, func
from .gofmt import from_go_bytes, go_bytes, go_len, sprint, sprintf, sprintln
from .values import (
    BOOL,
    COMPLEX,
    FLOAT,
    INT,
    INVALID,
    MAP,
    NIL_INTERFACE,
    PTR,
    SLICE,
    STRUCT,
    UINT,
    Byte,
    GoStruct,
    InterfaceValue,
    StrMap,
    TypedNil,
    go_kind,
    go_type_name,
    is_nil_container,
    strip_interface,
)
from .values import (
    STRING as STRING_KIND,
)


def unwrap_interface(value: object) -> object:
    """indirectInterface: a nil interface becomes no value; anything else is its concrete value."""
    value = strip_interface(value)
    return None if value is NIL_INTERFACE else value


def is_true(value: object) -> bool:
    """Go's truth: not the zero value of its type (no value is false)."""
    if value is None or value is NIL_INTERFACE:
        return False
    kind = go_kind(value)
    if kind in (STRING_KIND, MAP, SLICE):
        return len(value) > 0  # type: ignore[arg-type]
    if kind == PTR:
        return not isinstance(value, TypedNil)
    if kind == STRUCT:
        return True
    return bool(value)


def _not(arg: object) -> bool:
    return not is_true(unwrap_interface(arg))


def _length(item: object) -> int:
    item = strip_interface(item)
    if item is NIL_INTERFACE or isinstance(item, TypedNil):
        raise FuncError("len of nil pointer")
    if item is None:
        raise FuncError("reflect: call of reflect.Value.Type on zero Value")
    kind = go_kind(item)
    if kind == STRING_KIND:
        return go_len(item)  # type: ignore[arg-type]
    if kind in (MAP, SLICE):
        return len(item)  # type: ignore[arg-type]
    name = go_type_name(item)
    raise FuncError(f"len of type {name[1:] if kind == PTR else name}")


def _as_int(value: object) -> int:
    assert isinstance(value, int)
    return int(value)


def _index_arg(index: object, cap: int) -> int:
    kind = go_kind(index)
    if kind in (INT, UINT):
        value = _as_int(index)
    elif kind == "invalid":
        raise FuncError("cannot index slice/array with nil")
    else:
        raise FuncError(f"cannot index slice/array with type {go_type_name(index)}")
    if value < 0 or value > cap:
        raise FuncError(f"index out of range: {value}", str(value))
    return value


def _index(item: object, *indexes: object) -> object:
    item = unwrap_interface(item)
    if item is None:
        raise FuncError("index of untyped nil")
    for raw in indexes:
        index = unwrap_interface(raw)
        if isinstance(item, TypedNil):
            raise FuncError("index of nil pointer")
        kind = go_kind(item)
        if kind in (SLICE, STRING_KIND):
            if kind == STRING_KIND:
                data = go_bytes(item)  # type: ignore[arg-type]
                position = _index_arg(index, len(data))
                if position == len(data):
                    raise FuncError("reflect: string index out of range")
                item = Byte(data[position])
            else:
                position = _index_arg(index, len(item))  # type: ignore[arg-type]
                if position == len(item):  # type: ignore[arg-type]
                    raise FuncError("reflect: slice index out of range")
                item = item[position]  # type: ignore[index]
                if type(item) is not str and item is None:
                    item = NIL_INTERFACE
        elif kind == MAP:
            item = _map_index(item, index)  # type: ignore[arg-type]
        else:
            raise FuncError(f"can't index item of type {_deref_type(item)}")
    return item


def _map_index(item: dict[str, object], index: object) -> object:
    string_map = isinstance(item, StrMap)
    if index is None:
        raise FuncError("value is nil; should be of type string")
    if type(index) is not str:
        raise FuncError(f"value has type {go_type_name(index)}; should be string")
    if index in item:
        value = item[index]
        return NIL_INTERFACE if value is None else value
    return "" if string_map else NIL_INTERFACE


def _deref_type(item: object) -> str:
    name = go_type_name(item)
    return name[1:] if isinstance(item, GoStruct) and item.GO_POINTER else name


def _slice(item: object, *indexes: object) -> object:
    item = unwrap_interface(item)
    if item is None:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    kind = go_kind(item)
    if kind == STRING_KIND:
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        data = go_bytes(item)  # type: ignore[arg-type]
        start, end = _slice_bounds(indexes, len(data), len(data))
        return from_go_bytes(data[start:end])
    if kind != SLICE:
        raise FuncError(f"can't slice item of type {_deref_type(item)}")
    sequence: list[object] = item  # type: ignore[assignment]
    start, end = _slice_bounds(indexes, len(sequence), len(sequence))
    if is_nil_container(sequence):
        return sequence
    return type(sequence)(sequence[start:end])


def _slice_bounds(indexes: tuple[object, ...], length: int, cap: int) -> tuple[int, int]:
    bounds = [0, length, cap]
    for position, index in enumerate(indexes):
        if type(index) is InterfaceValue or index is NIL_INTERFACE:
            raise FuncError("cannot index slice/array with type interface {}")
        bounds[position] = _index_arg(index, cap)
    if bounds[0] > bounds[1]:
        raise FuncError(f"invalid slice index: {bounds[0]} > {bounds[1]}", str(bounds[0]), str(bounds[1]))
    if len(indexes) == 3 and bounds[1] > bounds[2]:
        raise FuncError(f"invalid slice index: {bounds[1]} > {bounds[2]}", str(bounds[1]), str(bounds[2]))
    return bounds[0], bounds[1]


def _call(fn: object, *_args: object) -> object:
    fn = unwrap_interface(fn)
    if fn is None:
        raise FuncError("call of nil")
    raise FuncError(f"non-function of type {go_type_name(fn)}")


# Comparisons.

_BASIC_KINDS = {BOOL: BOOL, INT: INT, UINT: UINT, FLOAT: FLOAT, COMPLEX: COMPLEX, STRING_KIND: STRING_KIND}


def _basic_kind(value: object) -> str:
    return _BASIC_KINDS.get(go_kind(value), INVALID)


def _is_nil(value: object) -> bool:
    return value is None or isinstance(value, TypedNil) or is_nil_container(value)


def _comparable(value: object) -> bool:
    kind = go_kind(value)
    if kind in (MAP, SLICE):
        return False
    return not (kind == STRUCT and isinstance(value, GoStruct))


def _eq_one(arg1: object, k1: str, arg: object) -> bool:
    k2 = _basic_kind(arg)
    if k1 != k2:
        if (k1 == INT and k2 == UINT) or (k1 == UINT and k2 == INT):
            return _as_int(arg1) == _as_int(arg)
        if arg1 is not None and arg is not None:
            raise FuncError("incompatible types for comparison")
        return False
    if k1 != INVALID:
        if k1 == STRING_KIND:
            return str(arg1) == str(arg)
        return arg1 == arg
    if go_kind(arg1) != go_kind(arg) and arg1 is not None and arg is not None:
        first, second = sprintf("%s", [arg1]), sprintf("%v", [arg])
        raise FuncError(
            f"non-comparable types {first}: {go_type_name(arg1)}, {go_type_name(arg)}: {second}",
            first,
            second,
        )
    if _is_nil(arg1) or _is_nil(arg):
        return _is_nil(arg) == _is_nil(arg1)
    if not _comparable(arg):
        shown = sprintf("%s", [arg])
        raise FuncError(f"non-comparable type {shown}: {go_type_name(arg)}", shown)
    return arg1 is arg


def _eq(arg1: object, *args: object) -> bool:
    arg1 = unwrap_interface(arg1)
    if not args:
        raise FuncError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    return any(_eq_one(arg1, k1, unwrap_interface(arg)) for arg in args)


def _ne(arg1: object, arg2: object) -> bool:
    return not _eq(arg1, arg2)


def _lt(arg1: object, arg2: object) -> bool:
    arg1 = unwrap_interface(arg1)
    arg2 = unwrap_interface(arg2)
    k1, k2 = _basic_kind(arg1), _basic_kind(arg2)
    if INVALID in (k1, k2):
        raise FuncError("invalid type for comparison")
    if k1 != k2:
        if (k1 == INT and k2 == UINT) or (k1 == UINT and k2 == INT):
            return _as_int(arg1) < _as_int(arg2)
        raise FuncError("incompatible types for comparison")
    if k1 in (BOOL, COMPLEX):
        raise FuncError("invalid type for comparison")
    if k1 == STRING_KIND:
        return go_bytes(str(arg1)) < go_bytes(str(arg2))
    return bool(arg1 < arg2)  # type: ignore[operator]


def _le(arg1: object, arg2: object) -> bool:
    return _lt(arg1, arg2) or _eq(arg1, arg2)


def _gt(arg1: object, arg2: object) -> bool:
    return not _le(arg1, arg2)


def _ge(arg1: object, arg2: object) -> bool:
    return not _lt(arg1, arg2)


# Escapers.


def eval_args(args: tuple[object, ...]) -> str:
    """text/template's evalArgs: Sprint of the arguments, pointers indirected."""
    if len(args) == 1 and type(args[0]) is str:
        return args[0]
    printable = ["<no value>" if arg is None or arg is NIL_INTERFACE else arg for arg in args]
    return sprint(printable, deref_pointers=True)


_HTML_ESCAPES = {"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;"}


def html_escape(text: str) -> str:
    """template.HTMLEscapeString."""
    if not any(ch in text for ch in "'\"&<>\0"):
        return text
    return "".join(_HTML_ESCAPES.get(ch, ch) for ch in text)


_JS_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def js_escape(text: str) -> str:
    """template.JSEscapeString."""
    out = []
    for ch in text:
        code = ord(ch)
        escaped = _JS_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif code < 0x20:
            out.append(f"\\u00{code:02X}")
        elif code < 0x80:
            out.append(ch)
        elif 0xDC80 <= code <= 0xDCFF or not ch.isprintable():
            out.append(f"\\u{0xFFFD if 0xDC80 <= code <= 0xDCFF else code:04X}")
        else:
            out.append(ch)
    return "".join(out)


def url_query_escape(text: str) -> str:
    """url.QueryEscape: unreserved bytes kept, space as +, the rest %XX."""
    out = []
    for byte in go_bytes(text):
        char = chr(byte)
        if char in _URL_UNRESERVED:
            out.append(char)
        elif char == " ":
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


_URL_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def _html(*args: object) -> str:
    return html_escape(eval_args(args))


def _js(*args: object) -> str:
    return js_escape(eval_args(args))


def _urlquery(*args: object) -> str:
    return url_query_escape(eval_args(args))


def _print(*args: object) -> str:
    return sprint(list(args))


def _printf(fmt: str, *args: object) -> str:
    return sprintf(fmt, list(args))


def _println(*args: object) -> str:
    return sprintln(list(args))


def _printed_size(limit: int, *args: object) -> int:
    """Printing functions write their arguments (each maybe many times over, with printf's
    explicit indexes) plus at most a million-wide padding per verb."""
    total = sum_sizes(args, limit)
    fmt = args[0] if args and type(args[0]) is str else ""
    if "%" in fmt:
        verbs = fmt.count("%")
        if "[" in fmt:
            total *= verbs
        total += _widths(fmt)
    return total


def _widths(fmt: str) -> int:
    """The sum of the numbers in a format's verbs: widths and precisions (Go caps each at 10**6)."""
    total = 0
    for verb in fmt.split("%")[1:]:
        run = 0
        for char in verb[:40]:
            if "0" <= char <= "9":
                run = min(run * 10 + ord(char) - 48, 1_000_001)
            elif char in ".+-# *[]":
                total += run
                run = 0
            else:
                break
        total += run
    return total


def _unreachable(*_args: object) -> object:
    raise AssertionError("and/or are evaluated by the executor")


BUILTINS: dict[str, GoFunc] = {
    f.name: f
    for f in (
        func("and", _unreachable, VALUE, VALUE, variadic=True, builtin=True),
        func("or", _unreachable, VALUE, VALUE, variadic=True, builtin=True),
        func("not", _not, VALUE, builtin=True),
        func("call", _call, VALUE, VALUE, variadic=True, builtin=True),
        func("html", _html, ANY, variadic=True, builtin=True, estimate=_printed_size, cost=70),
        func("index", _index, VALUE, VALUE, variadic=True, builtin=True),
        func("slice", _slice, VALUE, VALUE, variadic=True, builtin=True),
        func("js", _js, ANY, variadic=True, builtin=True, estimate=_printed_size, cost=700),
        func("len", _length, VALUE, builtin=True),
        func("print", _print, ANY, variadic=True, builtin=True, estimate=_printed_size, cost=950),
        func("printf", _printf, STRING, ANY, variadic=True, builtin=True, estimate=_printed_size, cost=950),
        func("println", _println, ANY, variadic=True, builtin=True, estimate=_printed_size, cost=950),
        func("urlquery", _urlquery, ANY, variadic=True, builtin=True, estimate=_printed_size, cost=2100),
        func("eq", _eq, VALUE, VALUE, variadic=True, builtin=True),
        func("ge", _ge, VALUE, VALUE, builtin=True),
        func("gt", _gt, VALUE, VALUE, builtin=True),
        func("le", _le, VALUE, VALUE, builtin=True),
        func("lt", _lt, VALUE, VALUE, builtin=True),
        func("ne", _ne, VALUE, VALUE, builtin=True),
    )
}
