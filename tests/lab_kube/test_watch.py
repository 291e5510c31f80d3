"""Watch: event stream shape, resume, bookmarks, timeouts, 410 Expired, selector transitions."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.lab_kube.conftest import pod_body
from tests.lab_kube.k8s import ApiException, client, watch
from vaultinject.lab.kube.harness import LabKube


def test_client_watch_sees_added_modified_deleted(core: Any, namespace: str) -> None:
    listing = core.list_namespaced_pod(namespace)
    core.create_namespaced_pod(namespace, pod_body("w"))
    core.patch_namespaced_pod("w", namespace, {"metadata": {"labels": {"seen": "yes"}}})
    core.delete_namespaced_pod("w", namespace)
    stream = watch.Watch().stream(
        core.list_namespaced_pod,
        namespace,
        resource_version=listing.metadata.resource_version,
        timeout_seconds=5,
    )
    events = []
    for event in stream:
        events.append((event["type"], event["object"].metadata.name, event["raw_object"]["kind"]))
        if len(events) == 3:
            break
    assert events == [("ADDED", "w", "Pod"), ("MODIFIED", "w", "Pod"), ("DELETED", "w", "Pod")]


def test_watch_without_version_starts_with_the_current_objects(kube: LabKube, namespace: str) -> None:
    kube.call("POST", f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "present"}})
    events = list(kube.watch(f"/api/v1/namespaces/{namespace}/configmaps?watch=true&timeoutSeconds=1"))
    assert {(e["type"], e["object"]["metadata"]["name"]) for e in events} == {
        ("ADDED", "present"),
        ("ADDED", "kube-root-ca.crt"),
    }
    assert events[0]["object"]["apiVersion"] == "v1"


def test_resume_from_a_version_skips_what_came_before(kube: LabKube, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    kube.call("POST", path, {"metadata": {"name": "before"}})
    version = kube.call("GET", path)["metadata"]["resourceVersion"]
    kube.call("POST", path, {"metadata": {"name": "after"}})
    events = list(kube.watch(f"{path}?watch=1&resourceVersion={version}&timeoutSeconds=1"))
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "after")]


def test_timeout_seconds_closes_the_stream(kube: LabKube, namespace: str) -> None:
    version = kube.call("GET", f"/api/v1/namespaces/{namespace}/pods")["metadata"]["resourceVersion"]
    started = time.monotonic()
    events = list(
        kube.watch(
            f"/api/v1/namespaces/{namespace}/pods?watch=true&resourceVersion={version}&timeoutSeconds=1"
        )
    )
    elapsed = time.monotonic() - started
    assert events == []
    assert 0.9 <= elapsed < 4


def test_bookmarks_carry_the_current_version(kube: LabKube, namespace: str) -> None:
    version = kube.call("GET", f"/api/v1/namespaces/{namespace}/pods")["metadata"]["resourceVersion"]
    path = f"/api/v1/namespaces/{namespace}/pods?watch=true&resourceVersion={version}&allowWatchBookmarks=true&timeoutSeconds=2"
    events = list(kube.watch(path))
    assert events
    assert all(e["type"] == "BOOKMARK" for e in events)
    assert events[0]["object"]["kind"] == "Pod"
    assert int(events[-1]["object"]["metadata"]["resourceVersion"]) >= int(version)


def test_no_bookmarks_unless_asked(kube: LabKube, namespace: str) -> None:
    version = kube.call("GET", f"/api/v1/namespaces/{namespace}/pods")["metadata"]["resourceVersion"]
    assert (
        list(
            kube.watch(
                f"/api/v1/namespaces/{namespace}/pods?watch=true&resourceVersion={version}&timeoutSeconds=1"
            )
        )
        == []
    )


def test_send_initial_events_ends_with_an_annotated_bookmark(kube: LabKube, namespace: str) -> None:
    kube.call("POST", f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "c"}})
    path = (
        f"/api/v1/namespaces/{namespace}/configmaps?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"
        "&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"
    )
    events = list(kube.watch(path))
    assert [e["type"] for e in events[:3]] == ["ADDED", "ADDED", "BOOKMARK"]
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_stale_version_gets_one_expired_error_event(private_kube: LabKube) -> None:
    kube = private_kube
    kube.ensure_namespace("w")
    stale = kube.call("GET", "/api/v1/namespaces/w/pods")["metadata"]["resourceVersion"]
    kube.call("POST", "/api/v1/namespaces/w/configmaps", {"metadata": {"name": "c"}})
    assert kube.server is not None
    kube.server.store.compact()
    events = list(kube.watch(f"/api/v1/namespaces/w/pods?watch=true&resourceVersion={stale}"))
    current = kube.server.store.rv
    assert events == [
        {
            "type": "ERROR",
            "object": {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f"too old resource version: {stale} ({current + 1})",
                "reason": "Expired",
                "code": 410,
            },
        }
    ]


def test_client_recovers_from_410_by_relisting(private_kube: LabKube) -> None:
    kube = private_kube
    kube.ensure_namespace("w")
    api = kube.api_client()
    core = client.CoreV1Api(api)
    stale = core.list_namespaced_pod("w").metadata.resource_version
    core.create_namespaced_config_map("w", {"metadata": {"name": "c"}})
    assert kube.server is not None
    kube.server.store.compact()
    with pytest.raises(ApiException) as caught:
        for _ in watch.Watch().stream(core.list_namespaced_pod, "w", resource_version=stale):
            pass
    assert caught.value.status == 410
    assert caught.value.reason.startswith("Expired: too old resource version")
    fresh = core.list_namespaced_pod("w").metadata.resource_version
    core.create_namespaced_pod("w", pod_body("after-410"))
    names = [
        e["object"].metadata.name
        for e in watch.Watch().stream(
            core.list_namespaced_pod, "w", resource_version=fresh, timeout_seconds=1
        )
    ]
    assert names == ["after-410"]
    api.close()


def test_field_selector_turns_transitions_into_added_and_deleted(
    kube: LabKube, core: Any, namespace: str
) -> None:
    core.create_namespaced_pod(namespace, pod_body("p"))
    version = core.list_namespaced_pod(namespace).metadata.resource_version
    core.patch_namespaced_pod_status("p", namespace, {"status": {"phase": "Running"}})
    core.patch_namespaced_pod_status("p", namespace, {"status": {"phase": "Succeeded"}})
    path = (
        f"/api/v1/namespaces/{namespace}/pods?watch=true&resourceVersion={version}"
        "&fieldSelector=status.phase%3DRunning&timeoutSeconds=1"
    )
    events = [(e["type"], e["object"]["status"]["phase"]) for e in kube.watch(path)]
    assert events == [("ADDED", "Running"), ("DELETED", "Succeeded")]


def test_namespace_watch_ignores_other_namespaces(kube: LabKube, namespace: str) -> None:
    other = f"{namespace}-other"
    kube.ensure_namespace(other)
    version = kube.call("GET", "/api/v1/configmaps")["metadata"]["resourceVersion"]
    kube.call("POST", f"/api/v1/namespaces/{other}/configmaps", {"metadata": {"name": "elsewhere"}})
    kube.call("POST", f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "here"}})
    events = list(
        kube.watch(
            f"/api/v1/namespaces/{namespace}/configmaps?watch=1&resourceVersion={version}&timeoutSeconds=1"
        )
    )
    assert [e["object"]["metadata"]["name"] for e in events] == ["here"]
    everywhere = list(kube.watch(f"/api/v1/configmaps?watch=1&resourceVersion={version}&timeoutSeconds=1"))
    assert {e["object"]["metadata"]["name"] for e in everywhere} >= {"here", "elsewhere"}


def test_events_arrive_while_the_stream_is_open(kube: LabKube, namespace: str) -> None:
    version = kube.call("GET", f"/api/v1/namespaces/{namespace}/configmaps")["metadata"]["resourceVersion"]
    received: list[str] = []

    def consume() -> None:
        path = f"/api/v1/namespaces/{namespace}/configmaps?watch=1&resourceVersion={version}&timeoutSeconds=5"
        for event in kube.watch(path):
            received.append(event["object"]["metadata"]["name"])
            if len(received) == 2:
                return

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(0.3)
    kube.call("POST", f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "live-1"}})
    kube.call("POST", f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "live-2"}})
    consumer.join(timeout=5)
    assert received == ["live-1", "live-2"]


def test_invalid_resource_version_is_a_bad_request(kube: LabKube, namespace: str) -> None:
    status, body = kube.request("GET", f"/api/v1/namespaces/{namespace}/pods?watch=true&resourceVersion=abc")
    assert status == 400
    assert body["reason"] == "BadRequest"


def test_watch_can_stream_table_rows_for_kubectl(kube: LabKube, namespace: str) -> None:
    kube.create_pod(namespace, "p")
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    path = f"/api/v1/namespaces/{namespace}/pods?watch=true&timeoutSeconds=1"
    (event,) = list(kube.watch(path, accept=accept))
    table = event["object"]
    assert (event["type"], table["kind"]) == ("ADDED", "Table")
    assert [c["name"] for c in table["columnDefinitions"][:3]] == ["Name", "Ready", "Status"]
    assert table["rows"][0]["cells"][:3] == ["p", "0/1", "Pending"]
    assert table["rows"][0]["object"]["metadata"]["name"] == "p"
