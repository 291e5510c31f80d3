"""The field tables of every kind the lab serves, one source for the protobuf decoder and the OpenAPI
documents. `schemas.json` is generated from Kubernetes' generated.proto files and Go structs by
`tools/gen_kube_schemas.py`, and is read on first use so the server's start-up does not pay for it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_DATA = Path(__file__).with_name("schemas.json")

TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
MICRO_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"
DURATION = "io.k8s.apimachinery.pkg.apis.meta.v1.Duration"
FIELDS_V1 = "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
# Messages whose JSON form is a string, a number or a raw object rather than their fields.
WELL_KNOWN = frozenset({TIME, MICRO_TIME, DURATION, FIELDS_V1, QUANTITY, INT_OR_STRING, RAW_EXTENSION})
SCALARS = frozenset({"string", "int32", "int64", "bool", "bytes", "double", "float"})


@dataclass(frozen=True)
class Field:
    """One field: `type` is a scalar name or a message's definition name."""

    number: int
    name: str
    type: str
    repeated: bool
    map: bool
    pointer: bool
    omitempty: bool
    inline: bool
    required: bool
    description: str


@dataclass(frozen=True)
class Message:
    name: str
    description: str
    fields: tuple[Field, ...]
    typed: bool  # embeds TypeMeta: apiVersion and kind sit beside the fields in JSON
    string_list: bool  # a named []string (ExtraValue): JSON is the list of its items

    def by_number(self) -> dict[int, Field]:
        return _numbers(self)


def _field(row: list[Any]) -> Field:
    number, name, type_text, flags, description = row
    kind = type_text[:2]
    return Field(
        number,
        name,
        type_text[2:] if kind in ("[]", "{}") else type_text,
        kind == "[]",
        kind == "{}",
        "p" in flags,
        "o" in flags,
        "i" in flags,
        "q" in flags,
        description,
    )


@cache
def _load() -> tuple[dict[str, Message], dict[tuple[str, str], str]]:
    data = json.loads(_DATA.read_text())
    messages = {
        name: Message(
            name,
            entry["d"],
            tuple(_field(row) for row in entry["f"]),
            bool(entry.get("t")),
            bool(entry.get("a")),
        )
        for name, entry in data["messages"].items()
    }
    kinds: dict[tuple[str, str], str] = {}
    for definition, gvks in data["kinds"].items():
        for gvk in gvks:
            group, version, kind = gvk.split("/")
            if group == "*":
                continue  # DeleteOptions, in every group version
            kinds[(f"{group}/{version}" if group else version, kind)] = definition
    return messages, kinds


@cache
def _numbers(message: Message) -> dict[int, Field]:
    return {f.number: f for f in message.fields}


def messages() -> dict[str, Message]:
    """Every message, by OpenAPI definition name (`io.k8s.api.core.v1.Pod`)."""
    return _load()[0]


def message(name: str) -> Message:
    return _load()[0][name]


def kind_definition(api_version: str, kind: str) -> str | None:
    """The definition of a served kind; DeleteOptions is accepted in every group version."""
    if kind == "DeleteOptions":
        return DELETE_OPTIONS
    return _load()[1].get((api_version, kind))


def kinds() -> dict[tuple[str, str], str]:
    """(apiVersion, kind) -> definition name, for every kind the lab decodes."""
    return dict(_load()[1])
