"""`meta.k8s.io/v1` Tables, which `kubectl get` asks for to print its columns (see printers.py)."""

from __future__ import annotations

from typing import Any

from vaultinject.lab.kube.printers import DEFAULT, LAYOUTS
from vaultinject.lab.kube.resources import ResourceType

JSON = dict[str, Any]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def to_table(
    rt: ResourceType, objects: list[JSON], resource_version: str, include_object: str, now: float
) -> JSON:
    """A Table of `objects`; `include_object` is None, Metadata (default) or Object."""
    columns, row_of = LAYOUTS.get(rt.storage_key, DEFAULT)
    rows = []
    for obj in objects:
        row: JSON = {"cells": row_of(obj, now)}
        if include_object == "Object":
            row["object"] = {"apiVersion": rt.api_version, "kind": rt.kind, **obj}
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    }
