"""Properties over arbitrary annotations: a SpecError or a valid pod, an exact patch, idempotence."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch as reference
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.budget import examples
from tests.injector.podcheck import assert_valid_pod
from tests.injector.strategies import annotation_maps, json_values, pod_like
from vaultinject.injector import SpecError, inject, shapes
from vaultinject.spec import Settings

VAULT = "vault.hashicorp.com/"
SETTINGS = Settings(vault_addr="https://vault:8200")


def a_pod(annotations: dict[str, str], with_init: bool, with_token: bool) -> dict[str, Any]:
    mounts = (
        [{"name": "sa", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}] if with_token else []
    )
    spec: dict[str, Any] = {
        "containers": [
            {"name": "app", "image": "app", "volumeMounts": list(mounts)},
            {"name": "x", "image": "x"},
        ],
        "volumes": [{"name": "sa", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]
        if with_token
        else [],
    }
    if with_init:
        spec["initContainers"] = [{"name": "init", "image": "busybox"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": annotations},
        "spec": spec,
    }


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(annotation_maps, st.booleans(), st.booleans())
def test_any_annotations_give_a_spec_error_or_a_valid_pod_with_an_exact_patch(
    annotations: dict[str, str], with_init: bool, with_token: bool
) -> None:
    pod = a_pod(annotations, with_init, with_token)
    original = copy.deepcopy(pod)
    try:
        result = inject(pod, SETTINGS)
    except SpecError as caught:
        error: SpecError | None = caught
    else:
        error = None
    assert pod == original, "inject must never modify its input"
    event("rejected" if error else "injected")
    if error is not None:
        assert error.annotation.startswith((VAULT, "vaultinject.io/"))
        assert error.message
        return
    assert reference.apply_patch(pod, result.patch) == result.pod
    if result.injected:
        assert_valid_pod(result.pod)
        again = inject(result.pod, SETTINGS)
        assert (again.injected, again.patch, again.pod) == (False, [], result.pod)


# Properties over malformed pods: arbitrary pod-like structures, and valid pods with one field replaced by
# a value of any type. Each gives a SpecError naming the field, or an injection whose patch applies.


def paths_in(document: Any) -> list[tuple[Any, ...]]:
    """Every path to a value inside `document` (dict keys and list indexes)."""
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        children = (
            value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        )
        for key, child in children:
            found.append((*path, key))
            stack.append(((*path, key), child))
    return found


@st.composite
def mutated_pods(draw: st.DrawFn) -> dict[str, Any]:
    """A valid, injectable pod with one value anywhere in it replaced by any JSON value."""
    pod = a_pod(draw(annotation_maps), draw(st.booleans()), draw(st.booleans()))
    pod["spec"]["containers"][0]["securityContext"] = {"runAsUser": 1000}
    path = draw(st.sampled_from(paths_in(pod)))
    parent = pod
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = draw(json_values)
    return pod


def check_any_pod(pod: Any) -> None:
    """A SpecError with a name and a message, or an injection whose patch applies; never another error."""
    original = copy.deepcopy(pod)
    try:
        result = inject(pod, SETTINGS)
    except SpecError as caught:
        error: SpecError | None = caught
    else:
        error = None
    assert pod == original, "inject must never modify its input"
    event("rejected" if error else "injected" if result.injected else "passed")
    if error is not None:
        assert all(each.annotation and each.message for each in error.errors)
        return
    assert reference.apply_patch(pod, result.patch) == result.pod
    if result.injected and _valid(pod):
        assert_valid_pod(result.pod)


def _valid(pod: dict[str, Any]) -> bool:
    try:
        assert_valid_pod({**pod, "spec": pod.get("spec") or {}})
    except (AssertionError, KeyError, TypeError):
        return False
    return True


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pod_like)
def test_any_pod_like_structure_gives_a_clear_error_or_an_injection_that_applies(pod: Any) -> None:
    check_any_pod(pod)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_pods())
def test_a_valid_pod_with_any_field_of_a_wrong_type_gives_a_clear_error_or_an_injection(pod: Any) -> None:
    check_any_pod(pod)


@settings(max_examples=examples(600), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pod_like)
def test_the_fast_shape_check_accepts_exactly_what_the_named_checks_accept(pod: dict[str, Any]) -> None:
    """msgspec's pass over the spec must agree with the checkers that name problems, on any shape."""
    spec = pod.get("spec")
    named: list[SpecError] = []
    shapes._object(spec, "spec", named, shapes._POD_SPEC)
    fast = shapes._well_formed(spec, shapes._POD_SPEC_TYPE)
    event(f"well formed: {fast}")
    assert fast == (not named), [str(each) for each in named]


@pytest.mark.parametrize(
    "spec",
    [
        {"securityContext": {"runAsUser": True}},
        {"securityContext": {"runAsUser": 1.0}},
        {"securityContext": {"runAsUser": 1 << 63}},
        {"securityContext": {"runAsUser": -(1 << 63)}},
        {"containers": [{"name": ""}]},
        {"containers": [None]},
        {"containers": [{"name": "a", "env": [{"name": "X", "valueFrom": "s"}]}]},
        {"containers": [{"name": "a", "volumeMounts": [{"name": "v", "mountPath": None}]}]},
        {"volumes": [{"name": "v", "projected": {"sources": [{"serviceAccountToken": {"path": 3}}]}}]},
        {"containers": [{"name": "a", "unknown": object()}]},
    ],
)
def test_the_fast_shape_check_agrees_at_the_edges(spec: dict[str, Any]) -> None:
    named: list[SpecError] = []
    shapes._object(spec, "spec", named, shapes._POD_SPEC)
    assert shapes._well_formed(spec, shapes._POD_SPEC_TYPE) == (not named)
