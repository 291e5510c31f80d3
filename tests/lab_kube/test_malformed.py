"""Client mistakes are 4xx Status objects, never a 500: wrongly typed fields, broken patches, bad queries."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from vaultinject.lab.kube.harness import LabKube

WRONG_VALUES: list[Any] = ["x", 5, [1], {"a": 1}, True]
FIELDS = {
    "/api/v1/namespaces/{ns}/pods": ["spec", "metadata", "status"],
    "/apis/apps/v1/namespaces/{ns}/deployments": ["spec"],
    "/apis/batch/v1/namespaces/{ns}/cronjobs": ["spec"],
    "/api/v1/namespaces/{ns}/secrets": ["data", "stringData"],
    "/api/v1/namespaces/{ns}/configmaps": ["data"],
    "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations": ["webhooks"],
    "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings": ["roleRef", "subjects"],
    "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles": ["rules"],
    "/apis/events.k8s.io/v1/namespaces/{ns}/events": ["regarding", "series", "eventTime"],
    "/api/v1/namespaces/{ns}/events": ["involvedObject", "firstTimestamp"],
    "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases": ["spec"],
    "/apis/authentication.k8s.io/v1/tokenreviews": ["spec"],
    "/api/v1/namespaces/{ns}/serviceaccounts/default/token": ["spec"],
    "/apis/authorization.k8s.io/v1/subjectaccessreviews": ["spec"],
    "/api/v1/namespaces/{ns}/services": ["spec"],
}
CONTAINER = {"name": "a", "image": "b"}
NESTED: list[tuple[str, dict[str, Any]]] = [
    ("/api/v1/namespaces/{ns}/pods", {"spec": {"containers": "x"}}),
    ("/api/v1/namespaces/{ns}/pods", {"spec": {"containers": [5]}}),
    ("/api/v1/namespaces/{ns}/pods", {"spec": {"containers": [{**CONTAINER, "env": "x"}]}}),
    ("/api/v1/namespaces/{ns}/pods", {"spec": {"containers": [{**CONTAINER, "resources": {"limits": "x"}}]}}),
    (
        "/api/v1/namespaces/{ns}/pods",
        {"spec": {"containers": [CONTAINER], "volumes": [{"name": "v", "projected": "x"}]}},
    ),
    ("/api/v1/namespaces/{ns}/pods", {"metadata": {"labels": {"a": 5}}, "spec": {"containers": [CONTAINER]}}),
    ("/api/v1/namespaces/{ns}/pods", {"metadata": {"name": 5}, "spec": {"containers": [CONTAINER]}}),
    (
        "/api/v1/namespaces/{ns}/pods",
        {"metadata": {"ownerReferences": "x"}, "spec": {"containers": [CONTAINER]}},
    ),
    (
        "/apis/apps/v1/namespaces/{ns}/deployments",
        {"spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}}},
    ),
    ("/api/v1/namespaces/{ns}/serviceaccounts/default/token", {"spec": {"boundObjectRef": "y"}}),
    ("/apis/authentication.k8s.io/v1/tokenreviews", {"spec": {"token": 5}}),
]


def cases() -> list[tuple[str, dict[str, Any]]]:
    flat = [
        (path, {field: value})
        for path, fields in FIELDS.items()
        for field, value in itertools.product(fields, WRONG_VALUES)
    ]
    return flat + NESTED


@pytest.mark.parametrize(("path", "body"), cases())
def test_wrongly_typed_bodies_are_client_errors(
    kube: LabKube, namespace: str, path: str, body: dict[str, Any]
) -> None:
    document = dict(body)
    if isinstance(document.get("metadata", {}), dict):
        document["metadata"] = {"name": "fuzz", **document.get("metadata", {})}
    status, answer = kube.request("POST", path.format(ns=namespace), document)
    assert status < 500, answer
    if status >= 400:
        assert answer["kind"] == "Status"


def test_shape_errors_read_like_the_go_decoder(kube: LabKube, namespace: str) -> None:
    status, answer = kube.request(
        "POST", f"/api/v1/namespaces/{namespace}/pods", {"metadata": {"name": "p"}, "spec": "x"}
    )
    assert status == 400
    assert answer["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field Pod.spec of type object'
    )


@pytest.mark.parametrize(
    ("content_type", "patch"),
    [
        ("application/json-patch+json", [{"op": "add"}]),
        ("application/json-patch+json", [5]),
        ("application/json-patch+json", {"x": 1}),
        ("application/json-patch+json", [{"op": "replace", "path": "", "value": 5}]),
        ("application/json-patch+json", [{"op": "remove", "path": "/metadata"}]),
        ("application/json-patch+json", [{"op": "add", "path": "/metadata/name", "value": "other"}]),
        ("application/merge-patch+json", [1]),
        ("application/merge-patch+json", "x"),
        ("application/merge-patch+json", {"data": "x"}),
        ("application/strategic-merge-patch+json", [1]),
        ("application/strategic-merge-patch+json", {"metadata": "x"}),
        ("application/strategic-merge-patch+json", {"metadata": {"finalizers": "x"}}),
        ("application/strategic-merge-patch+json", {"$patch": "bogus"}),
        ("application/strategic-merge-patch+json", {"metadata": {"ownerReferences": [{"x": 1}]}}),
    ],
)
def test_broken_patches_are_client_errors(
    kube: LabKube, namespace: str, content_type: str, patch: Any
) -> None:
    kube.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "target"}})
    status, answer = kube.request(
        "PATCH", f"/api/v1/namespaces/{namespace}/configmaps/target", patch, content_type=content_type
    )
    assert 400 <= status < 500, answer


@pytest.mark.parametrize(
    "query",
    [
        "?limit=abc",
        "?continue=zzz",
        "?labelSelector=a%20in%20(",
        "?fieldSelector=foo",
        "?watch=true&timeoutSeconds=x",
    ],
)
def test_bad_list_queries_are_client_errors(kube: LabKube, namespace: str, query: str) -> None:
    status, answer = kube.request("GET", f"/api/v1/namespaces/{namespace}/pods{query}")
    assert status == 400, answer


def test_bad_delete_options_are_client_errors(kube: LabKube, namespace: str) -> None:
    kube.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "c"}})
    assert kube.request("DELETE", f"/api/v1/namespaces/{namespace}/configmaps/c", b"{bad")[0] == 400
    assert (
        kube.request("DELETE", f"/api/v1/namespaces/{namespace}/configmaps/c?gracePeriodSeconds=x")[0] == 400
    )
    assert (
        kube.request("DELETE", f"/api/v1/namespaces/{namespace}/configmaps/c?propagationPolicy=Sideways")[0]
        == 422
    )
