"""Kubernetes protobuf bodies, as kubectl's typed clients send them (`create deployment`, `create token`,
`auth can-i`, `drain` ...), for every kind the lab serves.

The envelope is `k8s\\x00` + runtime.Unknown{typeMeta, raw}; `raw` is the object's message, read with the
field tables in `schemas` (generated from Kubernetes' generated.proto files and Go structs). The JSON is
what Go would marshal from the decoded struct: a zero `omitempty` scalar is left out, a pointer is kept
whatever its value (`replicas: 0`), structs are kept even when empty, and unknown fields are skipped as
Go's generated unmarshalers do. `encode` is the inverse, for tests and tools.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct
from collections.abc import Iterator
from functools import cache
from typing import Any

from vaultinject.lab.kube import schemas
from vaultinject.lab.kube.schemas import Field

JSON = dict[str, Any]
MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5
_WIRE = {"int32": _VARINT, "int64": _VARINT, "bool": _VARINT, "double": _FIXED64, "float": _FIXED32}
_MASK64 = (1 << 64) - 1


class ProtobufError(ValueError):
    """The body is not protobuf this server can decode; the message says why."""


# --- wire format ---


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = 0
    for shift in range(0, 70, 7):
        if position >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & _MASK64, position
    raise ProtobufError("varint longer than 10 bytes")


def _take(data: bytes, position: int, length: int) -> tuple[bytes, int]:
    end = position + length
    if end > len(data):
        raise ProtobufError("truncated field: the body ends inside it")
    return data[position:end], end


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(number, wire type, value) triples: ints for varints, bytes for the other wire types."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("illegal field number 0")
        value: int | bytes
        if wire == _VARINT:
            value, position = _varint(data, position)
        elif wire == _BYTES:
            length, position = _varint(data, position)
            value, position = _take(data, position, length)
        elif wire == _FIXED64:
            value, position = _take(data, position, 8)
        elif wire == _FIXED32:
            value, position = _take(data, position, 4)
        else:
            raise ProtobufError(f"unsupported wire type {wire} for field {number}")
        yield number, wire, value


def _int32(value: int) -> int:
    return ((value & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


# --- decoding ---


def _scalar(kind: str, wire: int, value: int | bytes) -> Any:
    if isinstance(value, int):
        if kind == "int32":
            return _int32(value)
        return _int64(value) if kind == "int64" else bool(value)
    if kind == "string":
        return value.decode("utf-8", "replace")  # as Go's JSON encoder renders invalid UTF-8
    if kind == "bytes":
        return base64.b64encode(value).decode()
    return struct.unpack("<d" if wire == _FIXED64 else "<f", value)[0]


def _packed(data: bytes) -> Iterator[int]:
    """A packed repeated varint field."""
    position = 0
    while position < len(data):
        value, position = _varint(data, position)
        yield value


def _wire_values(field: Field, wire: int, value: int | bytes, where: str) -> list[int | bytes]:
    expected = _WIRE.get(field.type, _BYTES) if not field.map else _BYTES
    if wire == expected:
        return [value]
    if field.repeated and expected == _VARINT and wire == _BYTES and isinstance(value, bytes):
        return list(_packed(value))
    raise ProtobufError(f"{where}.{field.name}: wrong wire type {wire} (want {expected})")


def _time(data: bytes, micro: bool, where: str) -> str | None:
    """metav1.Time (seconds only, as Go reads it) or MicroTime; an empty message is the zero time."""
    if not data:
        return None  # a zero metav1.Time is null in JSON
    seconds = nanos = 0
    for number, _, value in fields(data):
        if number == 1 and isinstance(value, int):
            seconds = _int64(value)
        elif number == 2 and isinstance(value, int) and micro:
            nanos = _int32(value)
    carry, nanos = divmod(nanos, 10**9)  # time.Unix normalises nanoseconds outside [0, 1e9)
    try:
        moment = dt.datetime.fromtimestamp(seconds + carry, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise ProtobufError(f"{where}: time {seconds}s is out of range") from None
    if micro:
        return moment.replace(microsecond=nanos // 1000).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _first_bytes(data: bytes, number: int) -> bytes:
    return next((v for n, _, v in fields(data) if n == number and isinstance(v, bytes)), b"")


def _int_or_string(data: bytes, where: str) -> int | str:
    values = {n: v for n, _, v in fields(data)}
    if values.get(1, 0) not in (0, 1):
        raise ProtobufError(f"{where}: IntOrString type must be 0 (int) or 1 (string)")
    if values.get(1) == 1:
        raw = values.get(3, b"")
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
    number = values.get(2, 0)
    return _int32(number) if isinstance(number, int) else 0


def _well_known(name: str, data: bytes, where: str) -> Any:
    if name in (schemas.TIME, schemas.MICRO_TIME):
        return _time(data, name == schemas.MICRO_TIME, where)
    if name == schemas.QUANTITY:
        return _first_bytes(data, 1).decode("utf-8", "replace")
    if name == schemas.INT_OR_STRING:
        return _int_or_string(data, where)
    raw = _first_bytes(data, 1)  # FieldsV1, RawExtension: JSON inside
    try:
        return json.loads(raw) if raw else {}
    except (ValueError, RecursionError):
        raise ProtobufError(f"{where}: not valid JSON") from None


def _value(field: Field, wire: int, value: int | bytes, where: str) -> Any:
    if field.type in schemas.SCALARS:
        return _scalar(field.type, wire, value)
    assert isinstance(value, bytes)
    if field.type in schemas.WELL_KNOWN:
        return _well_known(field.type, value, f"{where}.{field.name}")
    return decode_message(field.type, value, f"{where}.{field.name}")


@cache
def _entry_value(field: Field) -> Field:
    """The value half of a map field's entries, as a field of its own."""
    return Field(2, field.name, field.type, False, False, False, False, False, False, "")


def _map_entry(field: Field, data: bytes, where: str) -> tuple[str, Any]:
    value_field = _entry_value(field)
    key, value = "", None
    for number, wire, item in fields(data):
        if number == 1 and isinstance(item, bytes):
            key = item.decode("utf-8", "replace")
        elif number == 2:
            (checked,) = _wire_values(value_field, wire, item, where)
            value = _value(value_field, wire, checked, where)
    if value is None:  # an entry without a value holds the zero value
        wire = _WIRE.get(field.type, _BYTES)
        value = _value(value_field, wire, 0 if wire == _VARINT else b"", where)
    return key, value


def _omits_zero(field: Field) -> bool:
    """Go's JSON leaves out a zero scalar tagged omitempty unless it is a pointer; never a struct."""
    return field.omitempty and not field.pointer and field.type in schemas.SCALARS


def _is_zero(value: Any) -> bool:
    return isinstance(value, str | int | float) and not value


def _string_list(data: bytes, where: str) -> list[str]:
    items = []
    for number, _, value in fields(data):
        if number != 1 or not isinstance(value, bytes):
            raise ProtobufError(f"{where}: expected a list of strings")
        items.append(value.decode("utf-8", "replace"))
    return items


def decode_message(name: str, data: bytes, where: str = "") -> Any:
    """One message as the JSON Go would marshal from it."""
    message = schemas.messages().get(name)
    if message is None:
        raise ProtobufError(f"no protobuf schema for {name}")
    where = where or name.rsplit(".", 1)[-1]
    if message.string_list:
        return _string_list(data, where)
    table = message.by_number()
    out: JSON = {}
    for number, wire, raw in fields(data):
        field = table.get(number)
        if field is None:
            continue  # unknown fields are skipped, as Go's generated unmarshalers do
        for value in _wire_values(field, wire, raw, where):
            _store(out, field, wire, value, where)
    return out


def _store(out: JSON, field: Field, wire: int, raw: int | bytes, where: str) -> None:
    if field.map:
        assert isinstance(raw, bytes)
        key, value = _map_entry(field, raw, f"{where}.{field.name}")
        out.setdefault(field.name, {})[key] = value
        return
    value = _value(field, wire, raw, where)
    if field.inline:
        out.update(value)
    elif field.repeated:
        out.setdefault(field.name, []).append(value)
    elif value is None or (_omits_zero(field) and _is_zero(value)):
        out.pop(field.name, None)
    else:
        out[field.name] = value


def _envelope(body: bytes) -> tuple[str, str, bytes]:
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf magic number")
    api_version = kind = ""
    raw = b""
    for number, _, value in fields(body[len(MAGIC) :]):
        if number == 1 and isinstance(value, bytes):
            for n, _, v in fields(value):
                if n == 1 and isinstance(v, bytes):
                    api_version = v.decode("utf-8", "replace")
                elif n == 2 and isinstance(v, bytes):
                    kind = v.decode("utf-8", "replace")
        elif number == 2 and isinstance(value, bytes):
            raw = value
    return api_version, kind, raw


def decode(body: bytes) -> JSON:
    """A whole request body: the runtime.Unknown envelope and the object inside it."""
    api_version, kind, raw = _envelope(body)
    name = schemas.kind_definition(api_version, kind)
    if name is None:
        shown = f"{api_version}, Kind={kind}" if kind else "an untyped object"
        raise ProtobufError(f"the lab server does not serve {shown}")
    obj = decode_message(name, raw, kind)
    return {"apiVersion": api_version, "kind": kind, **obj}


# --- encoding ---


def _varint_bytes(value: int) -> bytes:
    value &= _MASK64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return _varint_bytes(number << 3 | wire)


def length_delimited(number: int, payload: bytes) -> bytes:
    """One length-delimited field: a string, bytes or an embedded message."""
    return key(number, _BYTES) + _varint_bytes(len(payload)) + payload


def varint_field(number: int, value: int) -> bytes:
    return key(number, _VARINT) + _varint_bytes(value)


def _encode_time(text: str, micro: bool) -> bytes:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    seconds = int(moment.replace(microsecond=0).timestamp())
    out = varint_field(1, seconds)
    if micro and moment.microsecond:
        out += varint_field(2, moment.microsecond * 1000)
    return out


def _encode_well_known(name: str, value: Any) -> bytes:
    if name in (schemas.TIME, schemas.MICRO_TIME):
        return _encode_time(value, name == schemas.MICRO_TIME)
    if name == schemas.QUANTITY:
        return length_delimited(1, str(value).encode())
    if name == schemas.INT_OR_STRING:
        if isinstance(value, str):
            return varint_field(1, 1) + length_delimited(3, value.encode())
        return varint_field(1, 0) + varint_field(2, value)
    return length_delimited(1, json.dumps(value).encode())


def _encode_value(field: Field, value: Any) -> bytes:
    number, kind = field.number, field.type
    if kind in ("int32", "int64", "bool"):
        return varint_field(number, int(value))
    if kind == "double":
        return key(number, _FIXED64) + struct.pack("<d", value)
    if kind == "float":
        return key(number, _FIXED32) + struct.pack("<f", value)
    if kind == "string":
        return length_delimited(number, value.encode())
    if kind == "bytes":
        return length_delimited(number, base64.b64decode(value))
    if kind in schemas.WELL_KNOWN:
        return length_delimited(number, _encode_well_known(kind, value))
    return length_delimited(number, encode_message(kind, value))


def _map_entry_bytes(field: Field, entry_key: str, value: Any) -> bytes:
    entry = length_delimited(1, entry_key.encode()) + _encode_value(_entry_value(field), value)
    return length_delimited(field.number, entry)


def encode_message(name: str, obj: Any) -> bytes:
    """The message bytes of a JSON object, fields in number order (as gogo protobuf writes them)."""
    message = schemas.message(name)
    if message.string_list:
        return b"".join(length_delimited(1, item.encode()) for item in obj)
    out = bytearray()
    for field in sorted(message.fields, key=lambda f: f.number):
        if field.inline:
            out += length_delimited(field.number, encode_message(field.type, obj))
            continue
        if field.name not in obj or obj[field.name] is None:
            continue
        value = obj[field.name]
        if field.map:
            for entry_key in sorted(value):
                out += _map_entry_bytes(field, entry_key, value[entry_key])
        elif field.repeated:
            for item in value:
                out += _encode_value(field, item)
        else:
            out += _encode_value(field, value)
    return bytes(out)


def encode(obj: JSON) -> bytes:
    """A whole body, envelope included, for an object of a served kind."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    name = schemas.kind_definition(api_version, kind)
    if name is None:
        raise ProtobufError(f"the lab server does not serve {api_version}, Kind={kind}")
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    type_meta = length_delimited(1, api_version.encode()) + length_delimited(2, kind.encode())
    unknown = length_delimited(1, type_meta) + length_delimited(2, encode_message(name, body))
    return MAGIC + unknown + length_delimited(3, b"") + length_delimited(4, b"")
