"""OpenAPI documents built from the same field tables as the protobuf decoder (`schemas`).

- `/openapi/v3` and its per-group-version documents: paths with the `fieldValidation` parameter (kubectl
  reads it to leave validation to the server) and the schemas of the group version's kinds, which
  `kubectl explain` renders. Every kind's schema carries `x-kubernetes-group-version-kind`.
- `/openapi/v2`: every definition, as JSON or as the gnostic protobuf that client-go asks for. kubectl
  1.32 validates on the client against it for kinds whose v3 paths offer no PATCH (TokenReview and the
  other reviews), and `kubectl explain --output plaintext-openapiv2` reads it. It has no paths: kubectl
  reads v2 paths only for a group version missing from v3.

Documents are built on first request and kept.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from vaultinject.lab.kube import schemas
from vaultinject.lab.kube.discovery import VERSION
from vaultinject.lab.kube.protobuf import length_delimited
from vaultinject.lab.kube.resources import Registry, ResourceType
from vaultinject.lab.kube.schemas import Field

JSON = dict[str, Any]
# What client-go asks for is "...spec.v2@v1.0+protobuf", but Go cannot parse "@" in a Content-Type.
V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_GVK = "x-kubernetes-group-version-kind"
_SCALAR_SCHEMAS: dict[str, JSON] = {
    "string": {"type": "string"},
    "bytes": {"type": "string", "format": "byte"},
    "int32": {"type": "integer", "format": "int32"},
    "int64": {"type": "integer", "format": "int64"},
    "bool": {"type": "boolean"},
    "double": {"type": "number", "format": "double"},
    "float": {"type": "number", "format": "float"},
}
_TYPE_META = {
    "apiVersion": "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject unrecognized values. "
    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
    "kind": "Kind is a string value representing the REST resource this object represents. Servers may infer "
    "this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
}


# --- schemas ---


def _well_known(name: str, v3: bool) -> JSON:
    if name in (schemas.TIME, schemas.MICRO_TIME):
        return {"type": "string", "format": "date-time"}
    if name == schemas.QUANTITY:
        return {"oneOf": [{"type": "string"}, {"type": "number"}]} if v3 else {"type": "string"}
    if name == schemas.INT_OR_STRING:
        return {"type": "string", "format": "int-or-string"}
    if name == schemas.DURATION:
        return {"type": "string"}
    return {"type": "object"}


def _type_schema(type_name: str, prefix: str) -> JSON:
    if type_name in _SCALAR_SCHEMAS:
        return dict(_SCALAR_SCHEMAS[type_name])
    if type_name not in schemas.WELL_KNOWN and schemas.message(type_name).string_list:
        return {"type": "array", "items": {"type": "string"}}
    return {"$ref": prefix + type_name}


def _property(field: Field, prefix: str, v3: bool) -> JSON:
    inner = _type_schema(field.type, prefix)
    if field.repeated:
        schema: JSON = {"type": "array", "items": inner}
    elif field.map:
        schema = {"type": "object", "additionalProperties": inner}
    elif "$ref" in inner and v3:
        schema = {"allOf": [inner]}  # a $ref has no siblings in OpenAPI 3.0, so wrap it to describe it
    else:
        schema = inner
    if field.description:
        schema["description"] = field.description
    return schema


def _add_fields(message: schemas.Message, out: JSON, required: list[str], prefix: str, v3: bool) -> None:
    for field in message.fields:
        if field.inline:
            _add_fields(schemas.message(field.type), out, required, prefix, v3)
            continue
        out[field.name] = _property(field, prefix, v3)
        if field.required:
            required.append(field.name)


def definition(name: str, v3: bool) -> JSON:
    """The schema of one message, in OpenAPI v3 or v2 form (they differ in $ref style and Quantity)."""
    if name in schemas.WELL_KNOWN:
        return _well_known(name, v3)
    message = schemas.message(name)
    prefix = "#/components/schemas/" if v3 else "#/definitions/"
    properties: JSON = {}
    if message.typed:
        properties = {key: {"type": "string", "description": text} for key, text in _TYPE_META.items()}
    required: list[str] = []
    _add_fields(message, properties, required, prefix, v3)
    schema: JSON = {"description": message.description, "type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _references(name: str) -> set[str]:
    """The definitions a schema refers to, inlined messages looked through."""
    if name in schemas.WELL_KNOWN:
        return set()
    out: set[str] = set()
    for field in schemas.message(name).fields:
        if field.type in _SCALAR_SCHEMAS:
            continue
        if field.inline:
            out |= _references(field.type)
        elif field.type in schemas.WELL_KNOWN or not schemas.message(field.type).string_list:
            out.add(field.type)
    return out


def _closure(roots: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    queue = list(roots)
    while queue:
        name = queue.pop(0)
        if name not in seen:
            seen[name] = None
            queue.extend(sorted(_references(name)))
    return sorted(seen)


def _gvk(api_version: str, kind: str) -> JSON:
    group, _, version = api_version.rpartition("/")
    return {"group": group, "kind": kind, "version": version}


def _kinds_by_definition(registry: Registry) -> dict[str, list[JSON]]:
    out: dict[str, list[JSON]] = {}
    for (api_version, kind), name in schemas.kinds().items():
        out.setdefault(name, []).append(_gvk(api_version, kind))
    out[schemas.DELETE_OPTIONS] = [
        {"group": group, "kind": "DeleteOptions", "version": version}
        for group, version in registry.group_versions()
    ]
    return out


def _schemas(registry: Registry, names: list[str], v3: bool) -> JSON:
    gvks = _kinds_by_definition(registry)
    out: JSON = {}
    for name in _closure(names):
        schema = definition(name, v3)
        if name in gvks:
            schema[_GVK] = gvks[name]
        out[name] = schema
    return out


# --- v3 ---


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _parameter(name: str) -> JSON:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _operations(rt: ResourceType, collection: bool) -> JSON:
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    write = [_parameter(p) for p in ("dryRun", "fieldManager", "fieldValidation")]
    methods: tuple[str, ...] = ("get", "post", "delete") if collection else ("get", "put", "patch", "delete")
    actions = {
        "get": "list" if collection else "get",
        "post": "post",
        "put": "put",
        "patch": "patch",
        "delete": "delete",
    }
    if collection and rt.virtual:
        methods = ("post",)
    return {
        method: {
            "operationId": f"{method}{rt.kind}",
            "parameters": write if method in {"post", "put", "patch"} else [],
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": actions[method],
            "x-kubernetes-group-version-kind": gvk,
        }
        for method in methods
    }


def _roots(registry: Registry, group: str, version: str) -> list[str]:
    """The kinds of a group version, with the kinds of its resources' subresources (Scale, Eviction)."""
    api_version = f"{group}/{version}" if group else version
    names = [name for (av, _), name in schemas.kinds().items() if av == api_version]
    for rt in registry.in_group_version(group, version):
        for sub in rt.subresources:
            if sub.kind:
                sub_version = f"{sub.group}/{sub.version}" if sub.group else (sub.version or api_version)
                name = schemas.kind_definition(sub_version, sub.kind)
                if name is not None:
                    names.append(name)
    return [*names, schemas.DELETE_OPTIONS]


@cache
def v3_document(registry: Registry, group: str, version: str) -> JSON | None:
    """The OpenAPI v3 document of one group version, or None if it is not served."""
    served = registry.in_group_version(group, version)
    if not served:
        return None
    prefix = "/" + _gv_path(group, version)
    paths: JSON = {}
    for rt in served:
        base = f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
        paths[base] = _operations(rt, collection=True)
        if not rt.virtual:
            paths[f"{base}/{{name}}"] = _operations(rt, collection=False)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": _schemas(registry, _roots(registry, group, version), v3=True)},
    }


def _hash(document: JSON) -> str:
    return hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest().upper()


@cache
def v3_index(registry: Registry) -> JSON:
    paths = {}
    for group, version in registry.group_versions():
        document = v3_document(registry, group, version)
        assert document is not None
        path = _gv_path(group, version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={_hash(document)}"}
    return {"paths": paths}


# --- v2 ---


@cache
def v2_document(registry: Registry) -> JSON:
    """Every definition the lab serves, in Swagger 2.0 form."""
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
        "paths": {},
        "definitions": _schemas(registry, sorted(set(schemas.kinds().values())), v3=False),
    }


def _named(number: int, name: str, payload: bytes) -> bytes:
    return length_delimited(number, length_delimited(1, name.encode()) + length_delimited(2, payload))


def _gnostic_schema(schema: JSON) -> bytes:
    """A schema as gnostic's openapi_v2.Schema message (github.com/google/gnostic-models)."""
    out = bytearray()
    for key, number in (("$ref", 1), ("format", 2), ("description", 4)):
        if key in schema:
            out += length_delimited(number, schema[key].encode())
    for name in schema.get("required", []):
        out += length_delimited(19, name.encode())
    if "additionalProperties" in schema:
        out += length_delimited(21, length_delimited(1, _gnostic_schema(schema["additionalProperties"])))
    if "type" in schema:
        out += length_delimited(22, length_delimited(1, schema["type"].encode()))
    if "items" in schema:
        out += length_delimited(23, length_delimited(1, _gnostic_schema(schema["items"])))
    if "properties" in schema:
        named = b"".join(_named(1, k, _gnostic_schema(v)) for k, v in schema["properties"].items())
        out += length_delimited(25, named)
    for key, value in schema.items():
        if key.startswith("x-"):
            any_yaml = length_delimited(2, json.dumps(value).encode())  # JSON is YAML, which gnostic keeps
            out += _named(31, key, any_yaml)
    return bytes(out)


@cache
def v2_protobuf(registry: Registry) -> bytes:
    """The v2 document as the gnostic openapi_v2.Document that client-go's OpenAPISchema() unmarshals."""
    document = v2_document(registry)
    info = length_delimited(1, b"Kubernetes") + length_delimited(2, VERSION["gitVersion"].encode())
    definitions = b"".join(
        _named(1, name, _gnostic_schema(schema)) for name, schema in document["definitions"].items()
    )
    return length_delimited(1, b"2.0") + length_delimited(2, info) + length_delimited(9, definitions)
