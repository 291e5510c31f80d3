"""The protobuf request decoder, on a body captured from `kubectl create configmap`."""

from __future__ import annotations

import pytest

from vaultinject.lab.kube.protobuf import ProtobufError, decode

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


def test_refuses_bodies_it_cannot_decode() -> None:
    with pytest.raises(ProtobufError, match="magic"):
        decode(b'{"kind":"ConfigMap"}')
    pod = b"k8s\x00" + bytes.fromhex("0a09 0a027631 1203506f64".replace(" ", "")) + b"\x12\x00"
    with pytest.raises(ProtobufError, match="does not decode Pod objects from protobuf; send JSON"):
        decode(pod)


def envelope(api_version: bytes, kind: bytes, raw: bytes) -> bytes:
    type_meta = b"\x0a" + bytes([len(api_version)]) + api_version + b"\x12" + bytes([len(kind)]) + kind
    return b"k8s\x00" + b"\x0a" + bytes([len(type_meta)]) + type_meta + b"\x12" + bytes([len(raw)]) + raw


def test_unknown_fields_must_be_zero() -> None:
    metadata = bytes.fromhex("0a040a026331")
    assert decode(envelope(b"v1", b"ConfigMap", metadata + bytes.fromhex("4800")))["metadata"] == {
        "name": "c1"
    }
    with pytest.raises(ProtobufError, match="field 9 of ConfigMap is not understood"):
        decode(envelope(b"v1", b"ConfigMap", metadata + bytes.fromhex("4801")))
