"""The protobuf request decoder: a body captured from kubectl, Go's JSON rules, every served kind, and
properties (encode/decode round trips for generated objects of each kind; arbitrary bytes only ever give
the decoder's own error, which the server answers with 400)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.budget import examples
from vaultinject.lab.kube import schemas
from vaultinject.lab.kube.harness import LabKube
from vaultinject.lab.kube.protobuf import (
    MAGIC,
    ProtobufError,
    decode,
    decode_message,
    encode,
    length_delimited,
    varint_field,
)
from vaultinject.lab.kube.resources import REGISTRY

JSON = dict[str, Any]
CONFIGMAP = bytes.fromhex(
    "6b3873000a0f0a027631120943 6f6e6669674d6170".replace(" ", "")
    + "12230a190a0263311200 1a0764656661756c74 22002a00320038004200".replace(" ", "")
    + "12060a0161120162"
    "1a002200"
)


def test_decodes_a_kubectl_configmap() -> None:
    assert decode(CONFIGMAP) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c1", "namespace": "default"},
        "data": {"a": "b"},
    }


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = length_delimited(1, api_version.encode()) + length_delimited(2, kind.encode())
    return MAGIC + length_delimited(1, type_meta) + length_delimited(2, raw)


def test_every_served_kind_has_a_table_and_every_field_type_is_known() -> None:
    for rt in REGISTRY.resources:
        assert schemas.kind_definition(rt.api_version, rt.kind) is not None, rt.kind
        for sub in rt.subresources:
            if sub.kind:
                api_version = f"{sub.group}/{sub.version}" if sub.group else rt.api_version
                assert schemas.kind_definition(api_version, sub.kind) is not None, sub.kind
    known = schemas.SCALARS | schemas.WELL_KNOWN | set(schemas.messages())
    for message in schemas.messages().values():
        for field in message.fields:
            assert field.type in known, f"{message.name}.{field.name}: {field.type}"


def test_pointer_zeros_are_kept_and_omitempty_zeros_dropped() -> None:
    spec = varint_field(1, 0) + varint_field(5, 0) + varint_field(7, 0)  # replicas, minReadySeconds, paused
    body = envelope("apps/v1", "Deployment", length_delimited(1, b"") + length_delimited(2, spec))
    assert decode(body) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {},
        "spec": {"replicas": 0},
    }


def test_unknown_fields_are_skipped_as_go_does() -> None:
    metadata = length_delimited(1, length_delimited(1, b"c1"))
    unknown = varint_field(99, 7) + length_delimited(98, b"whatever")
    assert decode(envelope("v1", "ConfigMap", metadata + unknown)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c1"},
    }


def test_inlined_sources_int_or_string_and_packed_numbers() -> None:
    volume = length_delimited(1, b"data") + length_delimited(2, length_delimited(2, b""))  # emptyDir
    port = length_delimited(1, b"http") + length_delimited(2, b"TCP") + varint_field(3, 80)
    target = varint_field(1, 1) + length_delimited(3, b"web")
    service = length_delimited(2, length_delimited(1, port + length_delimited(4, target)))
    assert decode(envelope("v1", "Service", service))["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "web"}
    ]
    groups = length_delimited(4, bytes([1, 2, 0x96, 0x01]))  # supplementalGroups, packed
    pod_spec = length_delimited(1, volume) + length_delimited(14, groups)
    decoded = decode(envelope("v1", "Pod", length_delimited(2, pod_spec)))
    assert decoded["spec"]["volumes"] == [{"name": "data", "emptyDir": {}}]
    assert decoded["spec"]["securityContext"] == {"supplementalGroups": [1, 2, 150]}


def test_times_as_go_reads_them() -> None:
    def lease(renew: bytes, acquire: bytes) -> Any:
        spec = length_delimited(3, acquire) + length_delimited(4, renew)
        return decode(envelope("coordination.k8s.io/v1", "Lease", length_delimited(2, spec)))["spec"]

    micro = varint_field(1, 1714557600) + varint_field(2, 123456789)
    assert lease(micro, b"") == {"renewTime": "2024-05-01T10:00:00.123456Z"}  # empty: the zero time, null
    epoch = varint_field(1, 0)
    assert lease(epoch, epoch) == {
        "acquireTime": "1970-01-01T00:00:00.000000Z",
        "renewTime": "1970-01-01T00:00:00.000000Z",
    }
    created = length_delimited(8, varint_field(1, 1714557600) + varint_field(2, 999))  # Time drops nanos
    metadata = decode(envelope("v1", "ConfigMap", length_delimited(1, created)))["metadata"]
    assert metadata == {"creationTimestamp": "2024-05-01T10:00:00Z"}
    with pytest.raises(ProtobufError, match="out of range"):
        lease(varint_field(1, 10**15), b"")


def test_refuses_what_it_cannot_decode_with_the_reason() -> None:
    with pytest.raises(ProtobufError, match="magic"):
        decode(b'{"kind":"ConfigMap"}')
    with pytest.raises(ProtobufError, match=r"does not serve networking\.k8s\.io/v1, Kind=Ingress"):
        decode(envelope("networking.k8s.io/v1", "Ingress", b""))
    with pytest.raises(ProtobufError, match=r"ConfigMap.metadata: wrong wire type 0 \(want 2\)"):
        decode(envelope("v1", "ConfigMap", varint_field(1, 3)))
    bad_port = length_delimited(4, varint_field(1, 7))
    with pytest.raises(ProtobufError, match="IntOrString type must be 0"):
        decode(envelope("v1", "Service", length_delimited(2, length_delimited(1, bad_port))))
    with pytest.raises(ProtobufError, match="truncated"):
        decode(envelope("v1", "ConfigMap", b"\x0a\x05ab"))


def test_a_malformed_body_gets_400_not_500(kube: LabKube) -> None:
    body = envelope("v1", "ConfigMap", b"\x0a\x7f")
    status, answer = kube.request(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        body,
        content_type="application/vnd.kubernetes.protobuf",
    )
    assert status == 400
    assert answer["kind"] == "Status"
    assert answer["message"].startswith("the object provided is unrecognized (must be of type ConfigMap)")


# --- properties ---

_MAX_DEPTH = 4
_TEXT = st.text(st.characters(codec="utf-8"), max_size=6)
_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "string": _TEXT,
    "bytes": st.binary(max_size=6).map(lambda b: base64.b64encode(b).decode()),
    "int32": st.integers(-(2**31), 2**31 - 1),
    "int64": st.integers(-(2**63), 2**63 - 1),
    "bool": st.booleans(),
    "double": st.floats(allow_nan=False),
    "float": st.floats(allow_nan=False, width=32),
}
_MOMENTS = st.datetimes(dt.datetime(1971, 1, 1), dt.datetime(2200, 1, 1))


def _well_known(name: str) -> st.SearchStrategy[Any]:
    if name == schemas.TIME:
        return _MOMENTS.map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if name == schemas.MICRO_TIME:
        return _MOMENTS.map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    if name == schemas.QUANTITY:
        return st.from_regex(r"[0-9]{1,4}(m|Mi|Gi)?", fullmatch=True)
    if name == schemas.INT_OR_STRING:
        return st.one_of(st.integers(-(2**31), 2**31 - 1), _TEXT)
    return st.dictionaries(st.sampled_from(["f:a", "f:b", "."]), st.just({}), max_size=2)


def _value(type_name: str, depth: int, nonzero: bool) -> st.SearchStrategy[Any]:
    if type_name in _SCALARS:
        return _SCALARS[type_name].filter(bool) if nonzero else _SCALARS[type_name]
    if type_name in schemas.WELL_KNOWN:
        return _well_known(type_name)
    return message_strategy(type_name, depth + 1)


def _fields(message: schemas.Message, depth: int) -> dict[str, st.SearchStrategy[Any]]:
    out: dict[str, st.SearchStrategy[Any]] = {}
    for field in message.fields:
        if field.inline:
            out.update(_fields(schemas.message(field.type), depth))
            continue
        nested = field.type not in _SCALARS and field.type not in schemas.WELL_KNOWN
        if nested and depth >= _MAX_DEPTH:
            continue
        # a zero omitempty scalar is never in Go's JSON, so it cannot come back from the decoder
        nonzero = field.omitempty and not field.pointer
        if field.repeated:
            out[field.name] = st.lists(_value(field.type, depth, False), min_size=1, max_size=2)
        elif field.map:
            out[field.name] = st.dictionaries(_TEXT, _value(field.type, depth, False), min_size=1, max_size=2)
        else:
            out[field.name] = _value(field.type, depth, nonzero)
    return out


@cache
def message_strategy(name: str, depth: int = 0) -> st.SearchStrategy[Any]:
    """JSON objects of one message, as Go would marshal them."""
    message = schemas.message(name)
    if message.string_list:
        return st.lists(_TEXT, max_size=3)
    return st.fixed_dictionaries({}, optional=_fields(message, depth))


_KINDS = sorted({**schemas.kinds(), ("v1", "DeleteOptions"): schemas.DELETE_OPTIONS}.items())


@st.composite
def served_objects(draw: st.DrawFn) -> JSON:
    (api_version, kind), name = draw(st.sampled_from(_KINDS))
    return {"apiVersion": api_version, "kind": kind, **draw(message_strategy(name))}


@settings(max_examples=examples(150), deadline=None)
@given(served_objects())
def test_encoding_then_decoding_gives_the_object_back(obj: JSON) -> None:
    assert decode(encode(obj)) == obj


@settings(max_examples=examples(300), deadline=None)
@given(st.sampled_from(sorted(schemas.messages())), st.binary(max_size=300))
def test_arbitrary_bytes_give_only_the_decoders_error(name: str, data: bytes) -> None:
    for attempt in (lambda: decode_message(name, data), lambda: decode(MAGIC + data)):
        with contextlib.suppress(ProtobufError):
            json.dumps(attempt())  # whatever decodes can be answered as JSON


@settings(max_examples=examples(150), deadline=None)
@given(served_objects(), st.data())
def test_corrupted_bodies_give_only_the_decoders_error(obj: JSON, data: st.DataObject) -> None:
    body = bytearray(encode(obj))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(len(MAGIC), len(body) - 1))
        body[position] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ProtobufError):
        json.dumps(decode(bytes(body)))
