"""The official Python client against the lab: object semantics, Status errors, selectors, pagination."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from tests.lab_kube.conftest import pod_body
from tests.lab_kube.k8s import ApiException, client, status_of
from vaultinject.lab.kube.harness import LabKube


def test_discovery_lists_core_and_group_resources(api_client: Any) -> None:
    core_resources = {r.name: r for r in client.CoreV1Api(api_client).get_api_resources().resources}
    assert {
        "pods",
        "pods/status",
        "pods/log",
        "pods/eviction",
        "serviceaccounts/token",
        "nodes/status",
    } <= set(core_resources)
    assert core_resources["pods"].short_names == ["po"]
    assert core_resources["serviceaccounts/token"].group == "authentication.k8s.io"
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert {"apps", "batch", "coordination.k8s.io", "events.k8s.io", "rbac.authorization.k8s.io"} <= groups
    assert client.VersionApi(api_client).get_code().git_version.startswith("v1.32")


def test_created_pod_gets_server_fields_and_defaults(core: Any, namespace: str) -> None:
    pod = core.create_namespaced_pod(namespace, pod_body("web"))
    assert re.fullmatch(r"[0-9a-f-]{36}", pod.metadata.uid)
    assert pod.metadata.creation_timestamp is not None
    assert int(pod.metadata.resource_version) > 0
    assert pod.status.phase == "Pending"
    assert pod.spec.service_account_name == "default"
    assert pod.spec.restart_policy == "Always"
    assert pod.spec.containers[0].termination_message_path == "/dev/termination-log"
    token_mounts = [
        m for m in pod.spec.containers[0].volume_mounts if m.mount_path.endswith("serviceaccount")
    ]
    assert token_mounts
    assert token_mounts[0].name.startswith("kube-api-access-")


def test_generate_name_appends_five_random_characters(core: Any, namespace: str) -> None:
    first = core.create_namespaced_pod(namespace, pod_body(generate_name="worker-"))
    second = core.create_namespaced_pod(namespace, pod_body(generate_name="worker-"))
    assert re.fullmatch(r"worker-[bcdfghjklmnpqrstvwxz2456789]{5}", first.metadata.name)
    assert first.metadata.name != second.metadata.name


def test_missing_object_is_a_404_status(core: Any, namespace: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod("nope", namespace)
    assert caught.value.status == 404
    assert status_of(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "pods"},
        "code": 404,
    }


def test_grouped_not_found_names_the_group(apps: Any, namespace: str) -> None:
    with pytest.raises(ApiException) as caught:
        apps.read_namespaced_deployment("nope", namespace)
    assert status_of(caught.value)["message"] == 'deployments.apps "nope" not found'
    assert status_of(caught.value)["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}


def test_duplicate_create_is_already_exists(core: Any, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}})
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}})
    assert caught.value.status == 409
    assert status_of(caught.value)["reason"] == "AlreadyExists"
    assert status_of(caught.value)["message"] == 'configmaps "c" already exists'


def test_stale_resource_version_is_a_conflict(core: Any, namespace: str) -> None:
    created = core.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    created.data = {"a": "2"}
    core.replace_namespaced_config_map("c", namespace, created)
    created.data = {"a": "3"}
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("c", namespace, created)
    assert caught.value.status == 409
    assert status_of(caught.value)["reason"] == "Conflict"
    assert status_of(caught.value)["message"] == (
        'Operation cannot be fulfilled on configmaps "c": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def test_every_write_changes_the_resource_version_but_a_no_op_does_not(core: Any, namespace: str) -> None:
    created = core.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    same = core.replace_namespaced_config_map("c", namespace, created)
    assert same.metadata.resource_version == created.metadata.resource_version
    changed = core.patch_namespaced_config_map("c", namespace, {"data": {"a": "2"}})
    assert int(changed.metadata.resource_version) > int(created.metadata.resource_version)


def test_generation_counts_spec_changes_only(apps: Any, namespace: str) -> None:
    deployment = apps.create_namespaced_deployment(namespace, deployment_body("web"))
    assert deployment.metadata.generation == 1
    labelled = apps.patch_namespaced_deployment("web", namespace, {"metadata": {"labels": {"x": "y"}}})
    assert labelled.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("web", namespace, {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2


def test_invalid_pod_lists_each_field_error(core: Any, namespace: str) -> None:
    body = {
        "metadata": {"name": "bad"},
        "spec": {"containers": [{"name": "app"}, {"name": "app", "image": "x"}]},
    }
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod(namespace, body)
    status = status_of(caught.value)
    assert caught.value.status == 422
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        'Pod "bad" is invalid: [spec.containers[0].image: Required value, '
        'spec.containers[1].name: Duplicate value: "app"]'
    )
    assert status["details"]["kind"] == "Pod"
    assert {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.containers[0].image",
    } in (status["details"]["causes"])


def test_object_without_name_is_invalid(core: Any, namespace: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(namespace, {"metadata": {}})
    assert status_of(caught.value)["message"] == (
        'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'
    )


def test_create_in_missing_namespace_is_not_found(core: Any) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("does-not-exist", {"metadata": {"name": "c"}})
    assert status_of(caught.value)["message"] == 'namespaces "does-not-exist" not found'


def test_pod_with_unknown_service_account_is_forbidden(core: Any, namespace: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod(namespace, pod_body("p", serviceAccountName="ghost"))
    assert caught.value.status == 403
    assert status_of(caught.value)["message"] == (
        f'pods "p" is forbidden: error looking up service account {namespace}/ghost: serviceaccount "ghost" not found'
    )


def test_pod_spec_is_immutable_except_images(core: Any, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod_body("p"))
    image = core.patch_namespaced_pod(
        "p", namespace, {"spec": {"containers": [{"name": "app", "image": "busybox:2"}]}}
    )
    assert image.spec.containers[0].image == "busybox:2"
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod("p", namespace, {"spec": {"restartPolicy": "Never"}})
    assert caught.value.status == 422
    assert (
        "pod updates may not change fields other than `spec.containers[*].image`"
        in status_of(caught.value)["message"]
    )


def test_status_subresource_writes_status_only(core: Any, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod_body("p"))
    patched = core.patch_namespaced_pod_status(
        "p",
        namespace,
        {"status": {"phase": "Running", "podIP": "10.0.0.7"}, "metadata": {"labels": {"a": "b"}}},
    )
    assert patched.status.phase == "Running"
    assert not (patched.metadata.labels or {}).get("a")
    ignored = core.patch_namespaced_pod("p", namespace, {"status": {"phase": "Failed"}})
    assert ignored.status.phase == "Running"


def test_label_and_field_selectors(core: Any, namespace: str) -> None:
    core.create_namespaced_pod(
        namespace, pod_body("a", labels={"app": "web", "tier": "front"}, nodeName="n1")
    )
    core.create_namespaced_pod(namespace, pod_body("b", labels={"app": "web"}))
    core.create_namespaced_pod(namespace, pod_body("c", labels={"app": "db"}))

    def names(**selectors: str) -> list[str]:
        return [p.metadata.name for p in core.list_namespaced_pod(namespace, **selectors).items]

    assert names(label_selector="app=web") == ["a", "b"]
    assert names(label_selector="app in (web,db),!tier") == ["b", "c"]
    assert names(label_selector="tier") == ["a"]
    assert names(field_selector="spec.nodeName=n1") == ["a"]
    assert names(field_selector="metadata.name!=a,status.phase=Pending") == ["b", "c"]
    with pytest.raises(ApiException) as caught:
        names(field_selector="spec.image=x")
    assert caught.value.status == 400
    assert status_of(caught.value)["message"] == "field label not supported: spec.image"


def test_pagination_with_limit_and_continue(core: Any, namespace: str) -> None:
    for index in range(5):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"c{index}"}})
    seen, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_config_map(namespace, limit=2, _continue=token)
        seen += [c.metadata.name for c in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count == 6 - len(seen)  # kube-root-ca.crt is listed too
    assert seen == ["c0", "c1", "c2", "c3", "c4", "kube-root-ca.crt"]
    assert pages == 3


def test_list_items_carry_no_kind_but_the_list_has_its_resource_version(
    kube: LabKube, namespace: str
) -> None:
    listing = kube.call("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts")
    assert listing["kind"] == "ServiceAccountList"
    assert int(listing["metadata"]["resourceVersion"]) > 0
    assert listing["items"]
    assert "kind" not in listing["items"][0]


def test_secret_string_data_is_stored_base64_in_data(core: Any, namespace: str) -> None:
    secret = core.create_namespaced_secret(
        namespace, {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}}
    )
    assert secret.type == "Opaque"
    assert base64.b64decode(secret.data["password"]) == b"hunter2"
    assert secret.string_data is None


def test_bad_base64_in_secret_data_is_a_bad_request(kube: LabKube, namespace: str) -> None:
    status, body = kube.request(
        "POST", f"/api/v1/namespaces/{namespace}/secrets", {"metadata": {"name": "s"}, "data": {"k": "no!"}}
    )
    assert status == 400
    assert body["message"].startswith(
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data'
    )


def test_every_namespace_gets_default_service_account_and_root_ca(
    core: Any, namespace: str, kube: LabKube
) -> None:
    assert core.read_namespaced_service_account("default", namespace).metadata.uid
    ca = core.read_namespaced_config_map("kube-root-ca.crt", namespace).data["ca.crt"]
    assert ca == kube.ca_file.read_text()


def test_nodes_and_node_status(core: Any) -> None:
    node = core.create_node(
        {"metadata": {"name": "node-crud", "labels": {"kubernetes.io/hostname": "node-crud"}}}
    )
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "lastHeartbeatTime": "2024-05-01T10:00:00Z",
        "lastTransitionTime": "2024-05-01T10:00:00+00:00",
    }
    updated = core.patch_node_status("node-crud", {"status": {"conditions": [ready]}})
    assert updated.status.conditions[0].type == "Ready"
    raw = core.read_node("node-crud", _preload_content=False)
    assert json.loads(raw.data)["status"]["conditions"][0]["lastTransitionTime"] == "2024-05-01T10:00:00Z"
    assert core.read_node("node-crud").metadata.uid == node.metadata.uid
    core.delete_node("node-crud")


def test_lease_compare_and_swap(api_client: Any, namespace: str) -> None:
    leases = client.CoordinationV1Api(api_client)
    spec = {
        "holderIdentity": "a",
        "leaseDurationSeconds": 15,
        "acquireTime": "2024-05-01T10:00:00.123456Z",
        "renewTime": "2024-05-01T10:00:00.123456Z",
    }
    lease = leases.create_namespaced_lease(namespace, {"metadata": {"name": "leader"}, "spec": spec})
    with pytest.raises(ApiException) as raced:
        leases.create_namespaced_lease(namespace, {"metadata": {"name": "leader"}, "spec": spec})
    assert raced.value.status == 409
    lease.spec.holder_identity = "b"
    taken = leases.replace_namespaced_lease("leader", namespace, lease)
    assert taken.spec.holder_identity == "b"
    lease.spec.holder_identity = "c"
    with pytest.raises(ApiException) as lost:
        leases.replace_namespaced_lease("leader", namespace, lease)
    assert status_of(lost.value)["reason"] == "Conflict"
    raw = json.loads(leases.read_namespaced_lease("leader", namespace, _preload_content=False).data)
    assert raw["spec"]["renewTime"] == "2024-05-01T10:00:00.123456Z"


def test_timestamps_without_a_zone_are_refused(kube: LabKube, namespace: str) -> None:
    body = {"metadata": {"name": "l"}, "spec": {"renewTime": "2024-05-01T10:00:00.123456"}}
    status, answer = kube.request("POST", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases", body)
    assert status == 400
    assert "cannot be handled as a Lease: parsing time" in answer["message"]


def test_core_events_and_events_v1_share_storage(api_client: Any, namespace: str) -> None:
    core, events = client.CoreV1Api(api_client), client.EventsV1Api(api_client)
    involved = {"kind": "Pod", "namespace": namespace, "name": "app-0", "uid": "u1", "apiVersion": "v1"}
    core.create_namespaced_event(
        namespace,
        {
            "metadata": {"generateName": "app-0."},
            "involvedObject": involved,
            "reason": "Injected",
            "message": "agent added",
            "type": "Normal",
            "source": {"component": "vaultinject"},
            "firstTimestamp": "2024-05-01T10:00:00Z",
            "lastTimestamp": "2024-05-01T10:00:00Z",
            "count": 1,
        },
    )
    events.create_namespaced_event(
        namespace,
        {
            "metadata": {"name": "healed"},
            "eventTime": "2024-05-01T10:00:01.000001Z",
            "reportingController": "vaultinject.io/healer",
            "reportingInstance": "healer-0",
            "action": "Repair",
            "reason": "AuthConfigRewritten",
            "note": "done",
            "type": "Normal",
            "regarding": involved,
        },
    )
    core_view = {e.reason: e for e in core.list_namespaced_event(namespace).items}
    assert core_view["AuthConfigRewritten"].message == "done"
    assert core_view["AuthConfigRewritten"].involved_object.name == "app-0"
    # A legacy event has `eventTime: null` in the events.k8s.io view, as on a real server; the client's model
    # refuses that, so this list is read raw.
    raw = json.loads(events.list_namespaced_event(namespace, _preload_content=False).data)
    new_view = {e["reason"]: e for e in raw["items"]}
    assert new_view["Injected"]["note"] == "agent added"
    assert new_view["Injected"]["deprecatedCount"] == 1
    assert new_view["Injected"]["eventTime"] is None
    assert new_view["AuthConfigRewritten"]["regarding"]["name"] == "app-0"


def test_events_v1_validation_is_strict(api_client: Any, namespace: str) -> None:
    events = client.EventsV1Api(api_client)
    with pytest.raises(ApiException) as caught:
        events.create_namespaced_event(
            namespace,
            {
                "metadata": {"name": "e"},
                "type": "Info",
                "reason": "R",
                "eventTime": "2024-05-01T10:00:01.000001Z",
            },
        )
    status = status_of(caught.value)
    assert caught.value.status == 422
    fields = {c["field"] for c in status["details"]["causes"]}
    assert fields == {"type", "reportingController", "reportingInstance", "action"}


def deployment_body(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    labels = labels or {"app": name}
    return {
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            },
        },
    }


def test_workloads_store_with_defaults(api_client: Any, namespace: str) -> None:
    apps, batch = client.AppsV1Api(api_client), client.BatchV1Api(api_client)
    deployment = apps.create_namespaced_deployment(namespace, deployment_body("d"))
    assert deployment.spec.replicas == 1
    assert deployment.spec.strategy.rolling_update.max_surge == "25%"
    assert apps.create_namespaced_replica_set(namespace, deployment_body("r")).spec.replicas == 1
    stateful = apps.create_namespaced_stateful_set(
        namespace, {**deployment_body("s"), "spec": {**deployment_body("s")["spec"], "serviceName": "s"}}
    )
    assert stateful.spec.pod_management_policy == "OrderedReady"
    assert (
        apps.create_namespaced_daemon_set(namespace, deployment_body("ds")).spec.update_strategy.type
        == "RollingUpdate"
    )
    job = batch.create_namespaced_job(
        namespace,
        {
            "metadata": {"name": "j"},
            "spec": {
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
                }
            },
        },
    )
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": job.metadata.uid}
    cron = batch.create_namespaced_cron_job(
        namespace,
        {
            "metadata": {"name": "cj"},
            "spec": {
                "schedule": "*/5 * * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "restartPolicy": "OnFailure",
                                "containers": [{"name": "c", "image": "busybox"}],
                            }
                        }
                    }
                },
            },
        },
    )
    assert cron.spec.concurrency_policy == "Allow"


def test_deployment_selector_must_match_template(apps: Any, namespace: str) -> None:
    body = deployment_body("d")
    body["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(ApiException) as caught:
        apps.create_namespaced_deployment(namespace, body)
    assert status_of(caught.value)["message"] == (
        'Deployment.apps "d" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"other"}: `selector` does not match template `labels`'
    )


def test_scale_subresource(apps: Any, namespace: str) -> None:
    apps.create_namespaced_deployment(namespace, deployment_body("d"))
    scale = apps.read_namespaced_deployment_scale("d", namespace)
    assert scale.spec.replicas == 1
    assert scale.status.selector == "app=d"
    apps.patch_namespaced_deployment_scale("d", namespace, {"spec": {"replicas": 4}})
    assert apps.read_namespaced_deployment("d", namespace).spec.replicas == 4


def test_mutating_webhook_configuration_defaults_and_validation(api_client: Any, kube: LabKube) -> None:
    admission = client.AdmissionregistrationV1Api(api_client)
    webhook = {
        "name": "inject.vaultinject.io",
        "clientConfig": {"service": {"namespace": "ns", "name": "svc", "path": "/mutate"}},
        "rules": [
            {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    created = admission.create_mutating_webhook_configuration(
        {"metadata": {"name": "crud-defaults"}, "webhooks": [webhook]}
    )
    hook = created.webhooks[0]
    assert (hook.failure_policy, hook.match_policy, hook.timeout_seconds) == ("Fail", "Equivalent", 10)
    assert hook.client_config.service.port == 443
    assert hook.rules[0].scope == "*"
    admission.delete_mutating_webhook_configuration("crud-defaults")
    # The client's models refuse a missing sideEffects before sending, so this one goes raw.
    unnamed = {k: v for k, v in webhook.items() if k != "sideEffects"}
    status, body = kube.request(
        "POST",
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
        {"metadata": {"name": "crud-bad"}, "webhooks": [{**unnamed, "name": "short"}]},
    )
    assert status == 422
    fields = {c["field"] for c in body["details"]["causes"]}
    assert fields == {"webhooks[0].name", "webhooks[0].sideEffects"}


def test_rbac_kinds_round_trip(api_client: Any, namespace: str) -> None:
    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.create_namespaced_role(
        namespace,
        {"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    )
    binding = rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "rb"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}],
        },
    )
    assert binding.role_ref.name == "r"
    with pytest.raises(ApiException) as caught:
        rbac.patch_namespaced_role_binding("rb", namespace, {"roleRef": {"name": "other"}})
    assert "cannot change roleRef" in status_of(caught.value)["message"]
    assert "cluster-admin" in {r.metadata.name for r in rbac.list_cluster_role().items}


def test_dry_run_create_does_not_persist(core: Any, namespace: str) -> None:
    created = core.create_namespaced_config_map(namespace, {"metadata": {"name": "dry"}}, dry_run="All")
    assert created.metadata.uid
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("dry", namespace)
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "dry"}}, dry_run="Some")
    assert caught.value.status == 422
    assert 'dryRun: Unsupported value: "Some": supported values: "All"' in status_of(caught.value)["message"]


def test_self_subject_review_names_the_caller(api_client: Any) -> None:
    review = client.AuthenticationV1Api(api_client).create_self_subject_review({})
    assert review.status.user_info.username == "kubernetes-admin"
    assert "system:masters" in review.status.user_info.groups


def test_unknown_path_is_a_404_status_and_bad_json_a_400(kube: LabKube, namespace: str) -> None:
    status, body = kube.request("GET", "/api/v1/widgets")
    assert (status, body["reason"]) == (404, "NotFound")
    status, body = kube.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", b"{not json")
    assert status == 400
    assert body["reason"] == "BadRequest"
