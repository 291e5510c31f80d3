"""`review()`: the webhook's decision for every kind of AdmissionReview, judged against `inject`."""

from __future__ import annotations

import base64
import json
from typing import Any

import jsonpatch as reference
import pytest

from tests.pods import OPTED_IN, VAULT, pod
from tests.webhook.reviews import admission_review
from vaultinject.injector import inject
from vaultinject.spec import Settings
from vaultinject.webhook import BadReview, review

SETTINGS = Settings(vault_addr="https://vault:8200")


def decide(document: Any) -> tuple[Any, dict[str, Any]]:
    decision = review(json.dumps(document).encode(), SETTINGS)
    answer = json.loads(decision.body)
    return decision, answer


@pytest.mark.parametrize("api_version", ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"])
def test_an_opted_in_pod_gets_the_patch_inject_computes(api_version: str) -> None:
    obj = pod(**OPTED_IN)
    decision, answer = decide(admission_review(obj, uid="abc", api_version=api_version))
    assert (answer["apiVersion"], answer["kind"]) == (api_version, "AdmissionReview")
    response = answer["response"]
    assert (response["uid"], response["allowed"], response["patchType"]) == ("abc", True, "JSONPatch")
    patch = json.loads(base64.b64decode(response["patch"]))
    assert reference.apply_patch(obj, patch) == inject(obj, SETTINGS, "shop").pod
    assert (decision.result, decision.mode, decision.namespace, decision.pod) == (
        "injected",
        "native",
        "shop",
        "web",
    )


def test_a_pod_from_a_template_has_no_name_yet() -> None:
    decision, answer = decide(admission_review(pod(None, **OPTED_IN)))
    assert answer["response"]["allowed"] is True
    assert "patch" in answer["response"]
    assert decision.pod == "web-*"


@pytest.mark.parametrize(
    ("obj", "namespace", "reason"),
    [
        (pod(), "shop", "no vault.hashicorp.com/agent-inject annotation"),
        (pod(agent_inject="false"), "shop", "false"),
        (pod(**OPTED_IN, agent_inject_status="injected"), "shop", "already injected"),
    ],
)
def test_pods_that_are_not_injected_pass_untouched(obj: dict[str, Any], namespace: str, reason: str) -> None:
    decision, answer = decide(admission_review(obj, namespace=namespace))
    assert answer["response"] == {"uid": "uid-1", "allowed": True}
    assert decision.result == "skipped"
    assert reason in decision.reason


@pytest.mark.parametrize(
    ("annotations", "namespace", "named"),
    [
        (
            {"agent_run_as_user": "root", "agent_limits_mem": "lots"},
            "shop",
            ["agent-run-as-user", "agent-limits-mem"],
        ),
        (
            {"agent_inject_template_db": "{{ .x", "agent_inject_template_b": "{{ end }}"},
            "shop",
            ["agent-inject-template-db", "agent-inject-template-b"],
        ),
        ({}, "kube-system", ["agent-inject"]),
        (
            {"agent_limits_mem": "lots", "agent_inject_template_b": "{{ end }}"},
            "shop",
            ["agent-limits-mem", "agent-inject-template-b"],
        ),
    ],
)
def test_every_bad_annotation_is_named_in_one_refusal(
    annotations: dict[str, str], namespace: str, named: list[str]
) -> None:
    obj = pod(**OPTED_IN, **annotations, agent_inject_secret_b="kv/b")
    decision, answer = decide(admission_review(obj, namespace=namespace))
    response = answer["response"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 400
    for name in named:
        assert VAULT + name in response["status"]["message"]
    assert set(decision.rejected) == {VAULT + name for name in named}


def test_warnings_and_dry_run_and_other_operations() -> None:
    obj = pod(**OPTED_IN, agent_revoke_grace="5")
    decision, answer = decide(admission_review(obj, dryRun=True))
    assert answer["response"]["warnings"]
    assert any("agent-revoke-grace" in w for w in answer["response"]["warnings"])
    assert decision.dry_run is True
    decision, answer = decide(admission_review(obj, operation="UPDATE"))
    assert answer["response"] == {"uid": "uid-1", "allowed": True}
    assert decision.result == "skipped"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"kind": "Pod", "apiVersion": "v1"}', "expected kind AdmissionReview"),
        (b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}', "no request object"),
        (json.dumps(admission_review(pod(), uid="")).encode(), "request.uid"),
        (
            json.dumps(
                admission_review(pod(), kind={"group": "apps", "version": "v1", "kind": "Deployment"})
            ).encode(),
            "core Pod kind",
        ),
        (json.dumps(admission_review("a pod")).encode(), "request.object"),
        (json.dumps(admission_review(pod(), namespace=5)).encode(), "request.namespace"),
        (b"[" * 100000, "not JSON"),
    ],
)
def test_what_is_not_an_admission_review_for_a_pod_is_named(body: bytes, message: str) -> None:
    with pytest.raises(BadReview, match=message):
        review(body, SETTINGS)


def test_a_pod_nested_too_deeply_is_a_bad_review_not_a_crash() -> None:
    """The pod is kept as raw bytes past the envelope; its depth is still bounded, as a 400."""
    document = admission_review(pod(**OPTED_IN))
    deep = "[" * 5000 + "]" * 5000
    text = json.dumps(document).replace('"metadata": {', f'"metadata": {{"x": {deep}, ', 1)
    with pytest.raises(BadReview, match="recursion"):
        review(text.encode(), SETTINGS)


def test_a_pod_of_the_wrong_type_names_request_object() -> None:
    document = admission_review(pod(**OPTED_IN))
    for wrong in ("a string", 42, None, ["a", "list"]):
        document["request"]["object"] = wrong
        with pytest.raises(BadReview, match=r"request\.object must be the Pod"):
            review(json.dumps(document).encode(), SETTINGS)
