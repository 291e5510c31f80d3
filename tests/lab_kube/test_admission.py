"""Mutating admission through real HTTPS webhooks: patches, failure policies, selectors, denials."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab_kube.conftest import pod_body
from tests.lab_kube.webhook import Webhook, add_label, allow, configuration, constant, running_webhook
from vaultinject.lab.kube.harness import LabKube

CONFIGS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


@pytest.fixture
def admission_kube(tmp_path: Path) -> Iterator[LabKube]:
    """Webhooks apply to every write, so each test registers them on a server of its own."""
    from vaultinject.lab.kube.harness import in_process_kube

    with in_process_kube(tmp_path / "kube") as kube:
        kube.ensure_namespace("demo", labels={"inject": "yes"})
        kube.ensure_namespace("plain")
        yield kube


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def create_pod(kube: LabKube, namespace: str, body: dict[str, Any]) -> tuple[int, Any]:
    return kube.request("POST", f"/api/v1/namespaces/{namespace}/pods", body)


def test_created_pod_comes_back_mutated(admission_kube: LabKube, tmp_path: Path) -> None:
    kube = admission_kube
    with running_webhook(tmp_path, add_label("injected", "true")) as hook:
        kube.call("POST", CONFIGS, configuration("inject", {"url": hook.url(), "caBundle": hook.ca_bundle}))
        status, pod = create_pod(kube, "demo", pod_body(generate_name="app-"))
        assert status == 201
        assert pod["metadata"]["labels"] == {"injected": "true"}
        assert kube.call("GET", f"/api/v1/namespaces/demo/pods/{pod['metadata']['name']}")["metadata"][
            "labels"
        ] == {"injected": "true"}
        (review,) = hook.reviews
    request = review["request"]
    assert review["path"] == "/mutate?timeout=10s"
    assert (review["apiVersion"], review["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    assert request["kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    assert (request["operation"], request["namespace"], request["name"]) == ("CREATE", "demo", "")
    assert request["userInfo"]["username"] == "kubernetes-admin"
    assert request["options"] == {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
    assert request["dryRun"] is False
    assert request["oldObject"] is None
    volumes = [v["name"] for v in request["object"]["spec"]["volumes"]]
    assert volumes[0].startswith("kube-api-access-")  # the ServiceAccount plugin ran before the webhook


def test_unreachable_webhook_with_fail_rejects_the_create(admission_kube: LabKube) -> None:
    port = free_port()
    admission_kube.call("POST", CONFIGS, configuration("down", {"url": f"https://127.0.0.1:{port}/mutate"}))
    status, body = create_pod(admission_kube, "demo", pod_body("p"))
    message = (
        'failed calling webhook "down.lab.vaultinject.io": failed to call webhook: '
        f'Post "https://127.0.0.1:{port}/mutate?timeout=10s": dial tcp 127.0.0.1:{port}: connect: connection refused'
    )
    assert (status, body) == (
        500,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f"Internal error occurred: {message}",
            "reason": "InternalError",
            "details": {"causes": [{"message": message}]},
            "code": 500,
        },
    )
    assert admission_kube.request("GET", "/api/v1/namespaces/demo/pods/p")[0] == 404


def test_unreachable_webhook_with_ignore_admits_unmutated(admission_kube: LabKube) -> None:
    config = configuration("down", {"url": f"https://127.0.0.1:{free_port()}/mutate"}, failurePolicy="Ignore")
    admission_kube.call("POST", CONFIGS, config)
    status, pod = create_pod(admission_kube, "demo", pod_body("p"))
    assert status == 201
    assert pod["metadata"].get("labels", {}) == {}


def test_certificate_is_verified_against_the_ca_bundle(admission_kube: LabKube, tmp_path: Path) -> None:
    with running_webhook(tmp_path, add_label("injected", "true")) as hook:
        stranger = Webhook().ca_bundle
        admission_kube.call(
            "POST", CONFIGS, configuration("untrusted", {"url": hook.url(), "caBundle": stranger})
        )
        status, body = create_pod(admission_kube, "demo", pod_body("p"))
        assert status == 500
        assert body["message"].endswith(
            "tls: failed to verify certificate: x509: certificate signed by unknown authority"
        )
        assert hook.reviews == []


def test_service_reference_is_resolved_and_its_dns_name_verified(
    admission_kube: LabKube, tmp_path: Path
) -> None:
    kube = admission_kube
    with running_webhook(tmp_path, add_label("via", "service"), hosts=("injector.vault.svc",)) as hook:
        kube.ensure_namespace("vault")
        kube.call(
            "POST",
            "/api/v1/namespaces/vault/services",
            {
                "metadata": {"name": "injector"},
                "spec": {"ports": [{"name": "https", "port": 443, "targetPort": hook.port}]},
            },
        )
        subsets = [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": hook.port}]}]
        kube.call(
            "POST",
            "/api/v1/namespaces/vault/endpoints",
            {"metadata": {"name": "injector"}, "subsets": subsets},
        )
        client_config = {
            "service": {"namespace": "vault", "name": "injector", "path": "/mutate"},
            "caBundle": hook.ca_bundle,
        }
        kube.call("POST", CONFIGS, configuration("svc", client_config))
        status, pod = create_pod(kube, "demo", pod_body("p"))
        assert status == 201
        assert pod["metadata"]["labels"] == {"via": "service"}


def test_missing_service_follows_the_failure_policy(admission_kube: LabKube) -> None:
    client_config = {"service": {"namespace": "vault", "name": "gone", "path": "/mutate"}}
    admission_kube.call("POST", CONFIGS, configuration("gone", client_config))
    status, body = create_pod(admission_kube, "demo", pod_body("p"))
    assert status == 500
    assert body["message"].endswith(
        'failed to call webhook: Post "https://gone.vault.svc:443/mutate?timeout=10s": service "gone" not found'
    )


def test_denial_reaches_the_client_as_the_api_server_reports_it(
    admission_kube: LabKube, tmp_path: Path
) -> None:
    def deny(review: dict[str, Any]) -> dict[str, Any]:
        return {
            "allowed": False,
            "status": {"code": 403, "reason": "Forbidden", "message": "annotation x is invalid"},
        }

    with running_webhook(tmp_path, deny) as hook:
        admission_kube.call(
            "POST", CONFIGS, configuration("deny", {"url": hook.url(), "caBundle": hook.ca_bundle})
        )
        status, body = create_pod(admission_kube, "demo", pod_body("p"))
    assert (status, body) == (
        403,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'admission webhook "deny.lab.vaultinject.io" denied the request: '
            "annotation x is invalid",
            "reason": "Forbidden",
            "code": 403,
        },
    )


def test_denial_without_status_is_a_400_without_explanation(admission_kube: LabKube, tmp_path: Path) -> None:
    with running_webhook(tmp_path, constant({"allowed": False})) as hook:
        admission_kube.call(
            "POST", CONFIGS, configuration("mute", {"url": hook.url(), "caBundle": hook.ca_bundle})
        )
        status, body = create_pod(admission_kube, "demo", pod_body("p"))
    assert status == 400
    assert (
        body["message"]
        == 'admission webhook "mute.lab.vaultinject.io" denied the request without explanation'
    )


def test_slow_webhook_times_out_after_timeout_seconds(admission_kube: LabKube, tmp_path: Path) -> None:
    with running_webhook(tmp_path, delay=3) as hook:
        config = configuration("slow", {"url": hook.url(), "caBundle": hook.ca_bundle}, timeoutSeconds=1)
        admission_kube.call("POST", CONFIGS, config)
        started = time.monotonic()
        status, body = create_pod(admission_kube, "demo", pod_body("p"))
        elapsed = time.monotonic() - started
    assert status == 500
    assert body["message"].endswith(f'Post "{hook.url()}?timeout=1s": context deadline exceeded')
    assert 0.9 < elapsed < 5


def test_selectors_and_rules_decide_which_writes_are_sent(admission_kube: LabKube, tmp_path: Path) -> None:
    kube = admission_kube
    with running_webhook(tmp_path, add_label("injected", "true")) as hook:
        kube.call(
            "POST",
            CONFIGS,
            configuration(
                "selective",
                {"url": hook.url(), "caBundle": hook.ca_bundle},
                namespaceSelector={"matchLabels": {"inject": "yes"}},
                objectSelector={"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]},
            ),
        )
        assert create_pod(kube, "plain", pod_body("a"))[1]["metadata"].get("labels", {}) == {}
        assert create_pod(kube, "demo", pod_body("b", labels={"skip": "1"}))[1]["metadata"]["labels"] == {
            "skip": "1"
        }
        assert create_pod(kube, "demo", pod_body("c"))[1]["metadata"]["labels"] == {"injected": "true"}
        kube.call("POST", "/api/v1/namespaces/demo/configmaps", {"metadata": {"name": "not-a-pod"}})
        kube.call(
            "PATCH",
            "/api/v1/namespaces/demo/pods/c",
            {"metadata": {"annotations": {"a": "b"}}},
            content_type="application/merge-patch+json",
        )
        assert [r["request"]["name"] for r in hook.reviews] == ["c"]


def test_update_rules_receive_the_old_object(admission_kube: LabKube, tmp_path: Path) -> None:
    kube = admission_kube
    with running_webhook(tmp_path) as hook:
        rules = [{"operations": ["UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]
        kube.call(
            "POST",
            CONFIGS,
            configuration("updates", {"url": hook.url(), "caBundle": hook.ca_bundle}, rules=rules),
        )
        create_pod(kube, "demo", pod_body("p"))
        assert hook.reviews == []
        kube.call(
            "PATCH",
            "/api/v1/namespaces/demo/pods/p",
            {"metadata": {"labels": {"v": "2"}}},
            content_type="application/strategic-merge-patch+json",
        )
        (review,) = hook.reviews
    request = review["request"]
    assert request["operation"] == "UPDATE"
    assert request["options"]["kind"] == "PatchOptions"
    assert request["object"]["metadata"]["labels"] == {"v": "2"}
    assert request["oldObject"]["metadata"].get("labels", {}) == {}


def test_dry_run_is_passed_to_the_webhook_and_nothing_is_stored(
    admission_kube: LabKube, tmp_path: Path
) -> None:
    with running_webhook(tmp_path, add_label("injected", "true")) as hook:
        admission_kube.call(
            "POST", CONFIGS, configuration("dry", {"url": hook.url(), "caBundle": hook.ca_bundle})
        )
        status, pod = admission_kube.request("POST", "/api/v1/namespaces/demo/pods?dryRun=All", pod_body("p"))
        assert status == 201
        assert pod["metadata"]["labels"] == {"injected": "true"}
        assert hook.reviews[0]["request"]["dryRun"] is True
    assert admission_kube.request("GET", "/api/v1/namespaces/demo/pods/p")[0] == 404


def test_invalid_webhook_response_counts_as_a_call_failure(admission_kube: LabKube, tmp_path: Path) -> None:
    with running_webhook(tmp_path, constant({"allowed": True, "uid": "someone-else"})) as hook:
        admission_kube.call(
            "POST", CONFIGS, configuration("liar", {"url": hook.url(), "caBundle": hook.ca_bundle})
        )
        status, body = create_pod(admission_kube, "demo", pod_body("p"))
    assert status == 500
    assert 'received invalid webhook response: expected response.uid="' in body["message"]
    assert body["message"].endswith('got "someone-else"')


def test_webhook_warnings_become_warning_headers(admission_kube: LabKube, tmp_path: Path) -> None:
    with running_webhook(tmp_path, constant({"allowed": True, "warnings": ["agent image is old"]})) as hook:
        admission_kube.call(
            "POST", CONFIGS, configuration("warn", {"url": hook.url(), "caBundle": hook.ca_bundle})
        )
        host, port = admission_kube.url.removeprefix("https://").split(":")
        connection = http.client.HTTPSConnection(host, int(port), context=admission_kube.ssl_context())
        connection.request(
            "POST",
            "/api/v1/namespaces/demo/pods",
            json.dumps(pod_body("p")),
            {"Authorization": f"Bearer {admission_kube.admin_token}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        response.read()
        connection.close()
    assert response.status == 201
    assert response.getheader("Warning") == '299 - "agent image is old"'


def test_webhook_configurations_are_never_sent_to_webhooks(admission_kube: LabKube, tmp_path: Path) -> None:
    with running_webhook(tmp_path, allow) as hook:
        rules = [{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}]
        admission_kube.call(
            "POST",
            CONFIGS,
            configuration("all", {"url": hook.url(), "caBundle": hook.ca_bundle}, rules=rules),
        )
        admission_kube.call(
            "POST", CONFIGS, configuration("second", {"url": hook.url(), "caBundle": hook.ca_bundle})
        )
        assert hook.reviews == []
        admission_kube.call("POST", "/api/v1/namespaces/demo/configmaps", {"metadata": {"name": "c"}})
        assert [r["request"]["kind"]["kind"] for r in hook.reviews] == ["ConfigMap"]


def test_validating_webhooks_run_after_mutation_and_can_deny(admission_kube: LabKube, tmp_path: Path) -> None:
    def require_injection(review: dict[str, Any]) -> dict[str, Any]:
        labels = review["request"]["object"]["metadata"].get("labels") or {}
        if labels.get("injected") == "true":
            return {"allowed": True}
        return {"allowed": False, "status": {"message": "pod was not injected"}}

    with (
        running_webhook(tmp_path / "m", add_label("injected", "true")) as mutator,
        running_webhook(tmp_path / "v", require_injection) as validator,
    ):
        validating = configuration(
            "check", {"url": validator.url("/validate"), "caBundle": validator.ca_bundle}
        )
        validating["kind"] = "ValidatingWebhookConfiguration"
        admission_kube.call(
            "POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", validating
        )
        status, body = create_pod(admission_kube, "demo", pod_body("before"))
        assert (status, body["message"]) == (
            400,
            'admission webhook "check.lab.vaultinject.io" denied the request: pod was not injected',
        )
        admission_kube.call(
            "POST", CONFIGS, configuration("inject", {"url": mutator.url(), "caBundle": mutator.ca_bundle})
        )
        status, pod = create_pod(admission_kube, "demo", pod_body("after"))
        assert status == 201
        assert pod["metadata"]["labels"] == {"injected": "true"}
        assert [r["path"] for r in validator.reviews] == ["/validate?timeout=10s"] * 2
