"""Request bodies for both lab servers: framing, one size cap, and JSON and YAML decoding with limits.

Framing follows Go's net/http (both real servers are Go): `Content-Length` is one non-negative decimal;
`Transfer-Encoding: chunked` wins over it; chunk sizes are hex with at most 16 digits; lines are at most
4096 bytes. One cap counts the body's bytes whichever framing carries them. Every violation is a
`BodyError` (400, or 413 past the cap) that the server renders in its own envelope, then closes the
connection, because the rest of the stream can no longer be framed.

Decoding is bounded the same way for every endpoint: nesting deeper than `MAX_DEPTH`, `NaN`/`Infinity`
and numbers outside float64 are refused as Go's decoders refuse them, and YAML aliases are counted with
go-yaml's rule (`document contains excessive aliasing`), so a few hundred bytes cannot expand into
gigabytes. YAML is reduced to JSON values, as sigs.k8s.io/yaml does.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import socket
from email.message import Message
from io import BufferedIOBase
from typing import Any

import yaml

MAX_DEPTH = 100
MAX_LINE = 4096
_MAX_TRAILERS = 64
_FLOAT64_MAX = 1.7976931348623157e308
_MAX_INT_DIGITS = 400  # longer integers are far outside float64; never hand them to int()
# A string, or an unterminated one up to the end: always matching keeps the scan linear.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
# Escaped backslashes are consumed in pairs: the `u` after an escaped backslash is text, not an escape.
_ESCAPE = re.compile(
    r"\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
)
_HEX = re.compile(rb"[0-9a-fA-F]{1,16}")
_DECIMAL = re.compile(r"[0-9]{1,19}")


class BodyError(Exception):
    """A body that cannot be framed or is too large: `status` is 400 or 413."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class JSONError(ValueError):
    """A JSON document refused by the limits or by Go's grammar; the text reads like Go's decoder."""


class YAMLError(yaml.YAMLError):
    """A YAML document refused by the limits; the text reads like go-yaml's."""


# --- framing ----------------------------------------------------------------------------------------


def read_body(rfile: BufferedIOBase, headers: Message, limit: int) -> bytes:
    """The request body, framed by `Transfer-Encoding: chunked` or `Content-Length`, at most `limit` bytes."""
    encodings = headers.get_all("Transfer-Encoding") or []
    if encodings:
        if len(encodings) != 1 or encodings[0].strip().lower() != "chunked":
            raise BodyError(400, f"unsupported transfer encoding: {', '.join(encodings)!r}")
        return _read_chunked(rfile, limit)
    length = content_length(headers)
    if length > limit:
        raise BodyError(413, "request body too large")
    body = rfile.read(length) if length else b""
    if len(body) != length:
        raise BodyError(400, "unexpected EOF: the body is shorter than its Content-Length")
    return body


def content_length(headers: Message) -> int:
    """The one `Content-Length` value (0 when absent); 400 for a negative, non-decimal or repeated one."""
    values = {value.strip() for value in headers.get_all("Content-Length") or []}
    if not values:
        return 0
    if len(values) > 1:
        raise BodyError(400, "http: message cannot contain multiple Content-Length headers")
    text = values.pop()
    if not _DECIMAL.fullmatch(text) or int(text) >= 2**63:
        raise BodyError(400, f'bad Content-Length "{text}": must be a non-negative decimal number of bytes')
    return int(text)


def _read_chunked(rfile: BufferedIOBase, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size = _chunk_size(_read_line(rfile))
        if size == 0:
            _skip_trailers(rfile)
            return b"".join(chunks)
        total += size
        if total > limit:
            raise BodyError(413, "request body too large")
        chunk = rfile.read(size)
        if len(chunk) != size:
            raise BodyError(400, "unexpected EOF in a chunk")
        chunks.append(chunk)
        if _read_line(rfile) != b"":
            raise BodyError(400, "malformed chunked encoding: a chunk is longer than its size")


def _chunk_size(line: bytes) -> int:
    digits = line.split(b";", 1)[0].strip(b" \t")
    if not digits:
        raise BodyError(400, "empty hex number for chunk length")
    if not _HEX.fullmatch(digits):
        shown = digits[:40].decode("latin-1")
        reason = "http chunk length too large" if len(digits) > 16 else "invalid byte in chunk length"
        raise BodyError(400, f"{reason}: {shown!r} is not a hexadecimal chunk size")
    return int(digits, 16)


def _read_line(rfile: BufferedIOBase) -> bytes:
    """One CRLF- (or LF-) terminated line without its terminator; 400 on EOF or past MAX_LINE."""
    line = rfile.readline(MAX_LINE + 1)
    if not line.endswith(b"\n"):
        reason = "header line too long" if len(line) > MAX_LINE else "unexpected EOF in chunked body"
        raise BodyError(400, reason)
    return line.rstrip(b"\r\n")


def _skip_trailers(rfile: BufferedIOBase) -> None:
    for _ in range(_MAX_TRAILERS):
        if _read_line(rfile) == b"":
            return
    raise BodyError(400, "too many trailer lines")


def discard_input(connection: socket.socket, rfile: BufferedIOBase, budget: int = 1 << 20) -> None:
    """After an error that ends the connection: read (a bounded amount of) what the client is still
    sending, so closing does not reset the connection before the client has read the answer."""
    try:
        connection.settimeout(0.2)
        while budget > 0:
            data = rfile.read1(min(budget, 65536))
            if not data:
                return
            budget -= len(data)
    except (OSError, ValueError):
        return


# --- JSON --------------------------------------------------------------------------------------------


def decode_json(body: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """A JSON document as Go's encoding/json reads it into `interface{}`, within the lab's limits.

    Invalid UTF-8 becomes U+FFFD (as in Go). Raises `JSONError` (a ValueError) for what Go refuses and
    for nesting deeper than `max_depth`; other syntax errors are json.JSONDecodeError (also ValueError).
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    check_json_depth(text, max_depth)
    if _SURROGATE.search(text):
        text = _ESCAPE.sub(_replace_lone_surrogate, text)
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_float, parse_int=_int)
    except RecursionError:
        raise JSONError(f"exceeded max depth of {max_depth}") from None


def _replace_lone_surrogate(match: re.Match[str]) -> str:
    """Go decodes an unpaired UTF-16 surrogate escape as U+FFFD; Python would keep it and fail later."""
    escape = match[0]
    return "\\ufffd" if escape.startswith("\\u") and len(escape) == 6 else escape


def check_json_depth(text: str, max_depth: int) -> None:
    """Refuse arrays and objects nested deeper than `max_depth` (brackets inside strings do not count)."""
    if text.count("[") + text.count("{") <= max_depth:
        return
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    steps = (1 if char in "[{" else -1 for char in brackets)
    if max(itertools.accumulate(steps), default=0) > max_depth:
        raise JSONError(f"exceeded max depth of {max_depth}: nest arrays and objects at most that deep")


def _refuse_constant(name: str) -> Any:
    if name.startswith("-"):
        raise JSONError("invalid character 'I' in numeric literal")
    raise JSONError(f"invalid character '{name[0]}' looking for beginning of value")


def _out_of_range(text: str) -> JSONError:
    shown = text if len(text) <= 40 else f"{text[:20]}...{text[-10:]}"
    return JSONError(f"json: cannot unmarshal number {shown} into Go value of type float64")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _out_of_range(text)
    return value


def _int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS or math.isinf(float(text)):
        raise _out_of_range(text)
    return int(text)


# --- YAML --------------------------------------------------------------------------------------------


def decode_yaml(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """One YAML document reduced to JSON values (sigs.k8s.io/yaml), within the lab's limits.

    Raises yaml.YAMLError: for bad syntax, nesting deeper than `max_depth`, an alias cycle, excessive
    aliasing (go-yaml's ratio), and values JSON cannot carry (`.inf`, `.nan`).
    """
    loader = _Loader(text, max_depth)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_aliases(node, loader)
        return _to_json(loader.construct_document(node))
    except RecursionError:
        raise YAMLError(f"exceeded max depth of {max_depth}") from None
    finally:
        loader.dispose()


class _Loader(yaml.SafeLoader):
    """SafeLoader that bounds nesting, records aliases, and keeps YAML timestamps as strings (go-yaml v2)."""

    def __init__(self, text: str, max_depth: int) -> None:
        super().__init__(text)
        self.max_depth = max_depth
        self.depth = 0
        self.composed = 0
        self.aliases = 0
        self.alias_names: dict[int, str] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if event.anchor in self.anchors:
                self.alias_names[id(self.anchors[event.anchor])] = str(event.anchor)
        else:
            self.composed += 1
        self.depth += 1
        try:
            if self.depth > self.max_depth:
                raise YAMLError(
                    f"exceeded max depth of {self.max_depth}: nest sequences and mappings at most that deep"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_yaml_timestamp(self, node: Any) -> Any:
        return self.construct_scalar(node)

    def construct_yaml_int(self, node: Any) -> Any:
        text = str(self.construct_scalar(node))
        if len(text) > _MAX_INT_DIGITS:
            return text  # go-yaml resolves a number it cannot parse as a string
        value = super().construct_yaml_int(node)
        return text if abs(value) > _FLOAT64_MAX else value

    def construct_yaml_float(self, node: Any) -> Any:
        text = str(self.construct_scalar(node))
        value = super().construct_yaml_float(node)
        if math.isfinite(value):
            return value
        if text.lower().lstrip("+-") in {".inf", ".nan"}:
            shown = "NaN" if math.isnan(value) else ("-Inf" if value < 0 else "+Inf")
            raise YAMLError(f"json: unsupported value: {shown}")
        return text


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)


def _allowed_alias_ratio(decodes: int) -> float:
    """go-yaml's `allowedAliasRatio`: 99% of decodes may come from aliases below 400k, 10% above 4M."""
    low, high = 400_000, 4_000_000
    if decodes <= low:
        return 0.99
    if decodes >= high:
        return 0.10
    return 0.99 - 0.89 * (decodes - low) / (high - low)


def _check_aliases(root: Any, loader: _Loader) -> None:
    """Refuse alias cycles and documents whose expansion is mostly aliases (go-yaml's rule)."""
    expanded = _expanded_sizes(root, loader)
    # go-yaml counts a decode per node visited, the alias node itself included, and an aliased
    # decode per node visited inside an alias expansion.
    decodes = expanded[id(root)] + loader.aliases
    aliased = expanded[id(root)] - loader.composed
    if aliased > 100 and decodes > 1000 and aliased / decodes > _allowed_alias_ratio(decodes):
        raise YAMLError("document contains excessive aliasing: expand the aliases or use fewer of them")


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _expanded_sizes(root: Any, loader: _Loader) -> dict[int, int]:
    """Nodes each node expands to with every alias replaced by its target; iterative, cycles refused."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            name = loader.alias_names.get(key, "")
            raise YAMLError(f"anchor '{name}' value contains itself")
        open_nodes.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_nodes:
                name = loader.alias_names.get(id(child), "")
                raise YAMLError(f"anchor '{name}' value contains itself")
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes


def _to_json(value: Any) -> Any:
    """YAML values as JSON values: string keys, lists for sets and pairs, text for binary."""
    if isinstance(value, dict):
        return {_key(key): _to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_json(item) for item in value]
    if isinstance(value, set):
        return {_key(key): None for key in value}
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bytes):
        return key.decode("utf-8", errors="replace")
    if isinstance(key, tuple):
        raise YAMLError("invalid map key: a sequence cannot be a mapping key")
    return json.dumps(key)
