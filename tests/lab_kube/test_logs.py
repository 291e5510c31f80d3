"""The pod `log` subresource, fed from the kubelet's log layout, through the official client."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.lab_kube.k8s import ApiException, status_of, watch
from vaultinject.lab.kube.harness import LabKube

TWO_CONTAINERS = [{"name": "vault-agent-init", "image": "vault"}, {"name": "app", "image": "app"}]


def test_read_log_with_tail_and_timestamps(core: Any, kube: LabKube, namespace: str) -> None:
    pod = kube.create_pod(namespace, "app-0", node_name="node-1")
    for line in ("one", "two", "three"):
        kube.write_pod_log(pod, "app", line)
    assert core.read_namespaced_pod_log("app-0", namespace) == "one\ntwo\nthree\n"
    assert core.read_namespaced_pod_log("app-0", namespace, tail_lines=2) == "two\nthree\n"
    stamped = core.read_namespaced_pod_log("app-0", namespace, timestamps=True).splitlines()
    assert stamped[0].endswith("Z one")
    assert core.read_namespaced_pod_log("app-0", namespace, limit_bytes=6) == "one\ntw"


def test_previous_instance_and_its_absence(core: Any, kube: LabKube, namespace: str) -> None:
    pod = kube.create_pod(namespace, "crashy", node_name="node-1")
    kube.write_pod_log(pod, "app", "first run", restart_count=0)
    kube.write_pod_log(pod, "app", "second run", restart_count=1)
    assert core.read_namespaced_pod_log("crashy", namespace) == "second run\n"
    assert core.read_namespaced_pod_log("crashy", namespace, previous=True) == "first run\n"
    other = kube.create_pod(namespace, "fresh", node_name="node-1")
    kube.write_pod_log(other, "app", "only run")
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log("fresh", namespace, previous=True)
    assert (
        status_of(caught.value)["message"] == 'previous terminated container "app" in pod "fresh" not found'
    )


def test_container_must_be_named_when_there_are_several(core: Any, kube: LabKube, namespace: str) -> None:
    kube.create_pod(namespace, "two", node_name="node-1", containers=TWO_CONTAINERS)
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log("two", namespace)
    assert caught.value.status == 400
    assert status_of(caught.value)["message"] == (
        "a container name must be specified for pod two, choose one of: [vault-agent-init app]"
    )
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log("two", namespace, container="nope")
    assert status_of(caught.value)["message"] == "container nope is not valid for pod two"


def test_waiting_container_reports_its_reason(core: Any, kube: LabKube, namespace: str) -> None:
    kube.create_pod(namespace, "init", node_name="node-1", containers=TWO_CONTAINERS)
    waiting = {
        "name": "app",
        "state": {"waiting": {"reason": "PodInitializing"}},
        "ready": False,
        "restartCount": 0,
        "image": "app",
        "imageID": "",
    }
    core.patch_namespaced_pod_status("init", namespace, {"status": {"containerStatuses": [waiting]}})
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log("init", namespace, container="app")
    assert (
        status_of(caught.value)["message"]
        == 'container "app" in pod "init" is waiting to start: PodInitializing'
    )


def test_follow_streams_new_lines_until_the_container_ends(core: Any, kube: LabKube, namespace: str) -> None:
    pod = kube.create_pod(namespace, "tail", node_name="node-1")
    kube.write_pod_log(pod, "app", "started")

    def feed() -> None:
        time.sleep(0.3)
        kube.write_pod_log(pod, "app", "renewed lease")
        time.sleep(0.3)
        terminated = {
            "name": "app",
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
            "ready": False,
            "restartCount": 0,
            "image": "busybox",
            "imageID": "",
        }
        core.patch_namespaced_pod_status("tail", namespace, {"status": {"containerStatuses": [terminated]}})

    feeder = threading.Thread(target=feed)
    feeder.start()
    lines = list(watch.Watch().stream(core.read_namespaced_pod_log, "tail", namespace, follow=True))
    feeder.join()
    assert lines == ["started", "renewed lease"]


def test_unscheduled_pod_has_an_empty_log(core: Any, kube: LabKube, namespace: str) -> None:
    kube.create_pod(namespace, "pending")
    assert core.read_namespaced_pod_log("pending", namespace) == ""
