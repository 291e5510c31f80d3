"""The published OpenAPI documents: every served kind has a schema with its group-version-kind in its
group version's v3 document and in v2; every $ref resolves; v2 also comes as gnostic protobuf."""

from __future__ import annotations

from typing import Any

from vaultinject.lab.kube import openapi, schemas
from vaultinject.lab.kube.harness import LabKube
from vaultinject.lab.kube.protobuf import fields
from vaultinject.lab.kube.resources import REGISTRY


def refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["$ref"]} if "$ref" in value else set()
        return found.union(*(refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(refs(v) for v in value))
    return set()


def gvks(schema: Any) -> set[tuple[str, str, str]]:
    return {(g["group"], g["version"], g["kind"]) for g in schema.get("x-kubernetes-group-version-kind", [])}


def test_each_group_version_document_describes_its_kinds(kube: LabKube) -> None:
    index = kube.call("GET", "/openapi/v3")["paths"]
    for group, version in REGISTRY.group_versions():
        path = f"apis/{group}/{version}" if group else f"api/{version}"
        document = kube.call("GET", index[path]["serverRelativeURL"])
        components = document["components"]["schemas"]
        described = set().union(*(gvks(s) for s in components.values()))
        for rt in REGISTRY.in_group_version(group, version):
            assert (group, version, rt.kind) in described, rt.kind
        assert {r.removeprefix("#/components/schemas/") for r in refs(document)} <= set(components)
    authentication = kube.call("GET", index["apis/authentication.k8s.io/v1"]["serverRelativeURL"])
    review = authentication["components"]["schemas"]["io.k8s.api.authentication.v1.TokenReviewSpec"]
    assert review["properties"]["audiences"]["items"] == {"type": "string"}
    core = kube.call("GET", index["api/v1"]["serverRelativeURL"])["components"]["schemas"]
    assert "io.k8s.api.authentication.v1.TokenRequest" in core  # serviceaccounts/token
    assert core["io.k8s.api.core.v1.Container"]["required"] == ["name"]


def test_v2_is_json_or_the_protobuf_client_go_reads(kube: LabKube) -> None:
    definitions = kube.call("GET", "/openapi/v2")["definitions"]
    described = set().union(*(gvks(s) for s in definitions.values()))
    for api_version, kind in schemas.kinds():
        group, _, version = api_version.rpartition("/")
        assert (group, version, kind) in described
    assert {r.removeprefix("#/definitions/") for r in refs(definitions)} <= set(definitions)
    body = openapi.v2_protobuf(REGISTRY)
    top = {number: value for number, _, value in fields(body)}
    assert top[1] == b"2.0"
    definitions_bytes = top[9]
    assert isinstance(definitions_bytes, bytes)
    names = [
        next(v for n, _, v in fields(entry) if n == 1)
        for _, _, entry in fields(definitions_bytes)
        if isinstance(entry, bytes)
    ]
    assert sorted(n.decode() for n in names if isinstance(n, bytes)) == sorted(definitions)
