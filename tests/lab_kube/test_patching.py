"""JSON patch, merge patch and strategic merge patch: the algorithms, and the API as clients send them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.lab_kube.conftest import pod_body
from tests.lab_kube.k8s import ApiException, client, status_of
from vaultinject.lab.kube.harness import LabKube
from vaultinject.lab.kube.patching import (
    MalformedPatch,
    PatchError,
    json_patch,
    merge_patch,
    merge_schema,
    strategic_merge,
)

POD = merge_schema("pods")


def containers(*names: str, **fields: Any) -> list[dict[str, Any]]:
    return [{"name": name, "image": f"{name}:1", **fields} for name in names]


# --- JSON patch (RFC 6902) ---


def test_json_patch_operations() -> None:
    document = {"a": {"b": [1, 2]}, "c": "x"}
    result = json_patch(
        document,
        [
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "add", "path": "/a/b/0", "value": 0},
            {"op": "replace", "path": "/c", "value": "y"},
            {"op": "copy", "from": "/c", "path": "/d"},
            {"op": "move", "from": "/d", "path": "/e"},
            {"op": "remove", "path": "/a/b/1"},
            {"op": "add", "path": "/f~1g", "value": True},
            {"op": "test", "path": "/e", "value": "y"},
        ],
    )
    assert result == {"a": {"b": [0, 2, 3]}, "c": "y", "e": "y", "f/g": True}
    assert document == {"a": {"b": [1, 2]}, "c": "x"}


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "test", "path": "/a", "value": 2},
        {"op": "test", "path": "/t", "value": 1},  # true is not 1
        {"op": "replace", "path": "/list/1", "value": 1},
        {"op": "replace", "path": "/no/parent", "value": 1},
        {"op": "remove", "path": "/missing"},
        {"op": "add", "path": "/no/parent", "value": 1},
        {"op": "add", "path": "/list/5", "value": 1},
    ],
)
def test_json_patch_failures(operation: dict[str, Any]) -> None:
    with pytest.raises(PatchError):
        json_patch({"a": 1, "t": True, "list": [0]}, [operation])


def test_json_patch_replace_sets_a_missing_object_member() -> None:
    # evanphx/json-patch v4, which the API server uses, and Vault's pod labels (`replace` of a new label).
    document = {"metadata": {"labels": {"app": "vault"}}}
    result = json_patch(
        document, [{"op": "replace", "path": "/metadata/labels/vault-active", "value": "true"}]
    )
    assert result == {"metadata": {"labels": {"app": "vault", "vault-active": "true"}}}


def test_json_patch_must_be_a_list_of_operations() -> None:
    with pytest.raises(MalformedPatch):
        json_patch({}, {"op": "add"})


# --- merge patch (RFC 7386) ---


def test_merge_patch_replaces_lists_and_deletes_nulls() -> None:
    target = {"a": {"b": 1, "c": 2}, "list": [1, 2], "keep": True}
    assert merge_patch(target, {"a": {"b": None, "d": 3}, "list": [9]}) == {
        "a": {"c": 2, "d": 3},
        "list": [9],
        "keep": True,
    }


# --- strategic merge ---


def test_containers_merge_by_name_in_go_order() -> None:
    original = {"spec": {"containers": containers("app", "log")}}
    patch = {
        "spec": {"containers": [{"name": "log", "image": "log:2"}, {"name": "agent", "image": "agent:1"}]}
    }
    merged = strategic_merge(original, patch, POD)
    # strategicpatch.mergeSortedSlice: server-only items keep their place before later patch items.
    assert [(c["name"], c["image"]) for c in merged["spec"]["containers"]] == [
        ("app", "app:1"),
        ("log", "log:2"),
        ("agent", "agent:1"),
    ]
    only_new = strategic_merge(
        original, {"spec": {"containers": [{"name": "agent", "image": "agent:1"}]}}, POD
    )
    assert [c["name"] for c in only_new["spec"]["containers"]] == ["agent", "app", "log"]


def test_env_volume_mounts_and_volumes_merge_by_their_keys() -> None:
    original = {
        "spec": {
            "volumes": [{"name": "data", "emptyDir": {}}],
            "containers": [
                {
                    "name": "app",
                    "env": [{"name": "A", "value": "1"}],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
        }
    }
    patch = {
        "spec": {
            "volumes": [{"name": "secrets", "emptyDir": {"medium": "Memory"}}],
            "containers": [
                {
                    "name": "app",
                    "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}],
                    "volumeMounts": [{"name": "secrets", "mountPath": "/vault/secrets"}],
                }
            ],
        }
    }
    spec = strategic_merge(original, patch, POD)["spec"]
    assert [v["name"] for v in spec["volumes"]] == ["secrets", "data"]
    app = spec["containers"][0]
    assert {e["name"]: e["value"] for e in app["env"]} == {"A": "2", "B": "3"}
    assert [m["mountPath"] for m in app["volumeMounts"]] == ["/vault/secrets", "/data"]


def test_unkeyed_lists_are_replaced() -> None:
    original = {"spec": {"containers": [{"name": "app", "args": ["a", "b"]}]}}
    merged = strategic_merge(original, {"spec": {"containers": [{"name": "app", "args": ["c"]}]}}, POD)
    assert merged["spec"]["containers"][0]["args"] == ["c"]


def test_patch_directives() -> None:
    original = {"metadata": {"finalizers": ["a"]}, "spec": {"containers": containers("app", "old")}}
    patch = {
        "metadata": {"finalizers": ["b"], "$deleteFromPrimitiveList/finalizers": ["a"]},
        "spec": {"containers": [{"name": "old", "$patch": "delete"}]},
    }
    merged = strategic_merge(original, patch, POD)
    assert merged["metadata"]["finalizers"] == ["b"]
    assert [c["name"] for c in merged["spec"]["containers"]] == ["app"]
    replaced = strategic_merge(
        original, {"spec": {"containers": [{"name": "x"}, {"$patch": "replace"}]}}, POD
    )
    assert replaced["spec"]["containers"] == [{"name": "x"}]
    whole = strategic_merge({"spec": {"a": 1, "b": 2}}, {"spec": {"$patch": "replace", "c": 3}}, POD)
    assert whole == {"spec": {"c": 3}}


def test_retain_keys_and_set_element_order() -> None:
    original: dict[str, Any] = {
        "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}
    }
    patch: dict[str, Any] = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert strategic_merge(original, patch, merge_schema("deployments.apps")) == {
        "spec": {"strategy": {"type": "Recreate"}}
    }
    original = {"spec": {"containers": containers("a", "b")}}
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "b", "image": "b:2"}, {"name": "a", "image": "a:2"}],
        }
    }
    assert [c["name"] for c in strategic_merge(original, patch, POD)["spec"]["containers"]] == ["b", "a"]


def test_null_deletes_and_maps_merge() -> None:
    original = {"metadata": {"labels": {"a": "1", "b": "2"}}}
    assert strategic_merge(original, {"metadata": {"labels": {"a": None, "c": "3"}}}, POD) == {
        "metadata": {"labels": {"b": "2", "c": "3"}}
    }


# --- through the API ---


def test_client_dict_patch_is_a_strategic_merge(core: Any, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod_body("p"))
    patched = core.patch_namespaced_pod(
        "p", namespace, {"spec": {"containers": [{"name": "app", "image": "busybox:2"}]}}
    )
    assert [(c.name, c.image) for c in patched.spec.containers] == [("app", "busybox:2")]
    assert patched.spec.containers[0].volume_mounts  # merged, not replaced


def test_client_list_patch_is_a_json_patch_and_a_failed_test_is_422(core: Any, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    patched = core.patch_namespaced_config_map(
        "c", namespace, [{"op": "add", "path": "/data/b", "value": "2"}]
    )
    assert patched.data == {"a": "1", "b": "2"}
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("c", namespace, [{"op": "test", "path": "/data/a", "value": "9"}])
    assert caught.value.status == 422
    assert (
        status_of(caught.value)["message"] == "the server rejected our request due to an error in our request"
    )


def test_pod_label_replace_of_a_new_key_is_accepted(core: Any, namespace: str) -> None:
    """What Vault's Kubernetes service registration sends for a pod that already has labels."""
    core.create_namespaced_pod(namespace, pod_body("vault-0", labels={"app": "vault"}))
    patched = core.patch_namespaced_pod(
        "vault-0",
        namespace,
        [
            {"op": "replace", "path": "/metadata/labels/vault-active", "value": "false"},
            {"op": "replace", "path": "/metadata/labels/app", "value": "vault"},
        ],
    )
    assert patched.metadata.labels == {"app": "vault", "vault-active": "false"}


def test_merge_patch_content_type(apps: Any, namespace: str) -> None:
    labels = {"app": "web"}
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": "a", "env": [{"name": "A", "value": "1"}]}]},
    }
    apps.create_namespaced_deployment(
        namespace,
        {"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": labels}, "template": template}},
    )
    patch = {
        "metadata": {"labels": {"a": "b"}},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "b"}]}}},
    }
    patched = apps.patch_namespaced_deployment(
        "web", namespace, patch, _content_type="application/merge-patch+json"
    )
    assert patched.metadata.labels == {"a": "b"}
    assert patched.spec.template.spec.containers[0].image == "b"
    assert patched.spec.template.spec.containers[0].env is None  # a merge patch replaces the whole list


def test_webhook_ca_bundle_patch_merges_by_webhook_name(api_client: Any) -> None:
    admission = client.AdmissionregistrationV1Api(api_client)
    hook = {
        "clientConfig": {"url": "https://127.0.0.1:1/m"},
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    admission.create_mutating_webhook_configuration(
        {
            "metadata": {"name": "patch-merge"},
            "webhooks": [{"name": "a.example.com", **hook}, {"name": "b.example.com", **hook}],
        }
    )
    patched = admission.patch_mutating_webhook_configuration(
        "patch-merge", {"webhooks": [{"name": "b.example.com", "clientConfig": {"caBundle": "Y2E="}}]}
    )
    assert [(w.name, w.client_config.ca_bundle) for w in patched.webhooks] == [
        ("a.example.com", None),
        ("b.example.com", "Y2E="),
    ]
    assert patched.webhooks[1].client_config.url == "https://127.0.0.1:1/m"
    admission.delete_mutating_webhook_configuration("patch-merge")


def test_patch_with_a_stale_resource_version_conflicts(core: Any, namespace: str) -> None:
    created = core.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}})
    core.patch_namespaced_config_map("c", namespace, {"data": {"a": "1"}})
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "c",
            namespace,
            {"metadata": {"resourceVersion": created.metadata.resource_version}, "data": {"a": "2"}},
        )
    assert caught.value.status == 409


def test_unknown_patch_type_is_415(kube: LabKube, namespace: str) -> None:
    kube.call("POST", f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "c"}})
    status, body = kube.request(
        "PATCH", f"/api/v1/namespaces/{namespace}/configmaps/c", {"data": {}}, content_type="text/plain"
    )
    assert status == 415
    assert body["reason"] == "UnsupportedMediaType"


def test_server_side_apply_creates_then_merges(kube: LabKube, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/applied?fieldManager=healer"
    manifest = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n"
    status, created = kube.request("PATCH", path, manifest, content_type="application/apply-patch+yaml")
    assert (status, created["data"]) == (201, {"a": "1"})
    status, merged = kube.request(
        "PATCH", path, b"data:\n  b: '2'\n", content_type="application/apply-patch+yaml"
    )
    assert (status, merged["data"]) == (200, {"a": "1", "b": "2"})
    status, body = kube.request(
        "PATCH", path.split("?", maxsplit=1)[0], b"data: {}\n", content_type="application/apply-patch+yaml"
    )
    assert status == 422
    assert (
        body["message"]
        == 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    )


def test_rollout_restart_is_a_template_annotation_patch(apps: Any, namespace: str) -> None:
    labels = {"app": "web"}
    apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": "nginx"}]},
                },
            },
        },
    )
    restart = {
        "spec": {
            "template": {
                "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:00Z"}}
            }
        }
    }
    patched = apps.patch_namespaced_deployment("web", namespace, restart)
    assert patched.spec.template.metadata.annotations == {
        "kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:00Z"
    }
    assert patched.spec.template.metadata.labels == labels
    assert patched.metadata.generation == 2
