"""Malformed pods are refused at inject's boundary, every problem named by its path."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch as reference
import pytest

from tests.injector.podcheck import assert_valid_pod
from vaultinject.injector import SpecError, inject
from vaultinject.spec import Settings

VAULT = "vault.hashicorp.com/"
SETTINGS = Settings(vault_addr="https://vault:8200")
OPTED_IN = {VAULT + "agent-inject": "true", VAULT + "role": "web"}


def a_pod(spec: Any, annotations: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": {**OPTED_IN, **(annotations or {})}},
        "spec": spec,
    }


def problems(pod: Any) -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        inject(pod, SETTINGS)
    return {error.annotation: error.message for error in caught.value.errors}


APP = {"name": "app", "image": "app"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("spec", {"spec": "must be a mapping, not a string"}),
        ({"containers": "app"}, {"spec.containers": "must be a list, not a string"}),
        ({"containers": [APP], "initContainers": 5}, {"spec.initContainers": "must be a list, not a number"}),
        ({"containers": [None]}, {"spec.containers[0]": "must be a mapping, not null"}),
        (
            {"containers": [{**APP, "volumeMounts": ["str"]}]},
            {"spec.containers[0].volumeMounts[0]": "must be a mapping, not a string"},
        ),
        (
            {"containers": [{**APP, "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/x"}]}]},
            {"spec.containers[0].volumeMounts[0].name": "required"},
        ),
        (
            {"containers": [{**APP, "volumeMounts": [{"name": "x", "mountPath": None}]}]},
            {"spec.containers[0].volumeMounts[0].mountPath": "required"},
        ),
        ({"containers": [APP], "volumes": [{"name": None}]}, {"spec.volumes[0].name": "required"}),
        ({"containers": [{"image": "x"}]}, {"spec.containers[0].name": "required"}),
        ({"containers": [{"name": 7}]}, {"spec.containers[0].name": "must be a string, not a number"}),
        (
            {"containers": [{**APP, "securityContext": {"runAsUser": "1000"}}]},
            {"spec.containers[0].securityContext.runAsUser": "must be an integer, not a string"},
        ),
        (
            {"containers": [{**APP, "securityContext": {"runAsUser": True}}]},
            {"spec.containers[0].securityContext.runAsUser": "must be an integer, not a boolean"},
        ),
        (
            {"containers": [APP], "shareProcessNamespace": "yes"},
            {"spec.shareProcessNamespace": "must be a boolean (true or false), not a string"},
        ),
        (
            {"containers": [APP], "volumes": [{"name": "t", "projected": {"sources": [{"serviceAccountToken": 1}]}}]},
            {"spec.volumes[0].projected.sources[0].serviceAccountToken": "must be a mapping, not a number"},
        ),
        (
            {"containers": [{**APP, "env": [{"value": "1"}]}]},
            {"spec.containers[0].env[0].name": "required"},
        ),
    ],
)  # fmt: skip
def test_each_malformed_shape_is_named_by_its_path(spec: Any, expected: dict[str, str]) -> None:
    assert problems(a_pod(spec)) == expected


def test_every_problem_is_reported_not_only_the_first() -> None:
    spec = {
        "containers": [
            {"name": "app", "volumeMounts": [{"name": "a", "mountPath": "/a"}, {"mountPath": 3}]},
            {"volumeMounts": "x"},
        ],
        "volumes": [{"name": None}, "v"],
    }
    assert problems(a_pod(spec)) == {
        "spec.containers[0].volumeMounts[1].name": "required",
        "spec.containers[0].volumeMounts[1].mountPath": "must be a string, not a number",
        "spec.containers[1].name": "required",
        "spec.containers[1].volumeMounts": "must be a list, not a string",
        "spec.volumes[0].name": "required",
        "spec.volumes[1]": "must be a mapping, not a string",
    }


def test_metadata_problems_come_with_the_spec_problems_as_the_pod_cannot_be_decided() -> None:
    pod = {"metadata": {"annotations": {VAULT + "agent-inject": True}}, "spec": {"containers": "app"}}
    assert problems(pod) == {
        VAULT + "agent-inject": 'must be a string; quote it: "true"',
        "spec.containers": "must be a list, not a string",
    }


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        ("pod", {"pod": "must be a mapping (a Kubernetes object), not a string"}),
        ({"metadata": "m"}, {"metadata": "must be a mapping, not a string"}),
        ({"metadata": {"annotations": ["x"]}}, {"metadata.annotations": "must be a mapping of annotation names to strings"}),
        ({"metadata": {"namespace": 5}}, {"metadata.namespace": "must be a string, not a number"}),
        ({"metadata": {}, "status": {"phase": 1}}, {"status.phase": "must be a string, not a number"}),
    ],
)  # fmt: skip
def test_what_decides_injection_is_checked_for_every_pod(pod: Any, expected: dict[str, str]) -> None:
    assert problems(pod) == expected


def test_unquoted_annotations_say_to_quote_them() -> None:
    pod = a_pod([APP], {VAULT + "agent-run-as-user": 1000, "prometheus.io/port": 8080})
    pod["spec"] = {"containers": [APP]}
    assert problems(pod) == {
        VAULT + "agent-run-as-user": 'must be a string; quote it: "1000"',
        "prometheus.io/port": 'must be a string; quote it: "8080"',
    }


def test_annotations_beyond_the_kubernetes_size_limit_are_refused() -> None:
    fixed = sum(len(key) + len(value) for key, value in OPTED_IN.items()) + len("example.com/big")
    at_limit = a_pod({"containers": [APP]}, {"example.com/big": "x" * (256 * 1024 - fixed)})
    assert inject(at_limit, SETTINGS).injected
    over = a_pod({"containers": [APP]}, {"example.com/big": "x" * (256 * 1024 - fixed + 1)})
    assert problems(over) == {"metadata.annotations": "262145 bytes in all; Kubernetes allows 262144"}


def test_a_pod_that_does_not_opt_in_passes_whatever_its_spec() -> None:
    pod = {"metadata": {"annotations": {}}, "spec": {"containers": "app"}}
    result = inject(pod, SETTINGS)
    assert (result.injected, result.patch) == (False, [])


@pytest.mark.parametrize("section", ["spec", "metadata"])
def test_a_null_section_is_absent_and_the_patch_applies(section: str) -> None:
    pod = a_pod({"containers": [APP]})
    if section == "metadata":
        pod = {"metadata": None, "spec": {"containers": [APP]}}
        assert inject(pod, SETTINGS).patch == []
        return
    pod["spec"] = None
    result = inject(pod, SETTINGS)
    assert result.injected
    assert reference.apply_patch(pod, result.patch) == result.pod


def test_a_valid_pod_with_nulls_for_optional_fields_injects_and_its_patch_applies() -> None:
    spec = {
        "containers": [{**APP, "volumeMounts": None, "env": None, "securityContext": None}],
        "initContainers": None,
        "volumes": None,
    }
    pod = a_pod(spec)
    original = copy.deepcopy(pod)
    result = inject(pod, SETTINGS)
    assert pod == original
    assert reference.apply_patch(pod, result.patch) == result.pod
    assert_valid_pod(result.pod)


def test_a_json_patch_that_doubles_the_container_stops_with_an_error() -> None:
    doubling = [{"op": "copy", "from": "/env", "path": "/env/-"} for _ in range(60)]
    pod = a_pod({"containers": [APP]}, {VAULT + "agent-json-patch": json.dumps(doubling)})
    message = problems(pod)[VAULT + "agent-json-patch"]
    assert "the patch adds more than 1048576 characters of JSON" in message
