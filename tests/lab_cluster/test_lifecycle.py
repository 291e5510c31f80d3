"""The kubelet's container lifecycle on real processes: probes, hooks, termination, deadlines, config
errors, volumes and security context, as `kubectl` and the pod status show them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab_cluster.cluster import Cluster, lab_cluster
from vaultinject.lab.kube.harness import wait_for
from vaultinject.lab.kubelet import cgroups


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with lab_cluster(tmp_path_factory.mktemp("lifecycle")) as running:
        yield running


def _run(cluster: Cluster, name: str, spec: dict[str, Any], labels: dict[str, str] | None = None) -> None:
    spec.setdefault("terminationGracePeriodSeconds", 1)
    metadata: dict[str, Any] = {"name": name, "labels": labels or {"test": name}}
    cluster.kube.call("POST", "/api/v1/namespaces/default/pods", {"metadata": metadata, "spec": spec})


def _container(command: str, **fields: Any) -> dict[str, Any]:
    return {"name": "app", "image": "busybox", "command": ["sh", "-c", command], **fields}


def _status(cluster: Cluster, name: str) -> dict[str, Any]:
    status: dict[str, Any] = cluster.pod("default", name).get("status") or {}
    return status


def _app(cluster: Cluster, name: str) -> dict[str, Any]:
    statuses = _status(cluster, name).get("containerStatuses") or [{}]
    return dict(statuses[0])


def _events(cluster: Cluster, name: str) -> str:
    return cluster.ok("get", "events", "--field-selector", f"involvedObject.name={name}")


def _logs(cluster: Cluster, name: str) -> str:
    return cluster.kubectl("logs", name).stdout


def test_a_failing_liveness_probe_restarts_the_container(cluster: Cluster) -> None:
    probe = {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 2}
    _run(cluster, "liveness", {"containers": [_container("echo up; sleep 1000", livenessProbe=probe)]})
    wait_for(lambda: _app(cluster, "liveness").get("restartCount", 0) >= 1, timeout=30, interval=0.2)
    events = _events(cluster, "liveness")
    assert "Container app failed liveness probe, will be restarted" in events
    assert "Liveness probe failed:" in events
    assert _app(cluster, "liveness")["lastState"]["terminated"]["exitCode"] == 143  # SIGTERM


def test_readiness_drives_the_pod_conditions_and_the_service_endpoints(cluster: Cluster) -> None:
    probe = {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1}
    service = {
        "metadata": {"name": "ready-svc"},
        "spec": {"selector": {"test": "readiness"}, "ports": [{"port": 80}]},
    }
    cluster.kube.call("POST", "/api/v1/namespaces/default/services", service)
    _run(
        cluster,
        "readiness",
        {"containers": [_container("sleep 2; touch /tmp/ready; sleep 1000", readinessProbe=probe)]},
    )
    wait_for(lambda: _app(cluster, "readiness").get("started"), timeout=20, interval=0.1)
    conditions = {c["type"]: c for c in _status(cluster, "readiness")["conditions"]}
    assert conditions["Ready"]["status"] == "False"
    assert conditions["ContainersReady"]["message"] == "containers with unready status: [app]"
    assert cluster.ok("get", "pod", "readiness", "--no-headers").split()[1:3] == ["0/1", "Running"]
    endpoints = cluster.kube.call("GET", "/api/v1/namespaces/default/endpoints/ready-svc")
    assert "addresses" not in (endpoints.get("subsets") or [{}])[0]
    cluster.ok("wait", "--for=condition=Ready", "pod/readiness", "--timeout=30s")
    ip = _status(cluster, "readiness")["podIP"]

    def published() -> bool:
        subsets = cluster.kube.call("GET", "/api/v1/namespaces/default/endpoints/ready-svc").get("subsets")
        return bool(subsets) and [a["ip"] for a in subsets[0].get("addresses") or []] == [ip]

    wait_for(published, timeout=10)


def test_termination_runs_pre_stop_then_sigterm_then_sigkill_after_the_grace(
    cluster: Cluster, tmp_path: Path
) -> None:
    lifecycle = {"preStop": {"exec": {"command": ["sh", "-c", "echo pre-stop ran > /out/hook"]}}}
    spec = {
        "terminationGracePeriodSeconds": 2,
        "containers": [
            _container(
                "trap '' TERM; echo ignoring TERM; while true; do sleep 0.1; done",
                lifecycle=lifecycle,
                volumeMounts=[{"name": "out", "mountPath": "/out"}],
            )
        ],
        "volumes": [{"name": "out", "hostPath": {"path": str(tmp_path), "type": "Directory"}}],
    }
    _run(cluster, "stubborn", spec)
    wait_for(lambda: "ignoring TERM" in _logs(cluster, "stubborn"), timeout=20, interval=0.1)
    started = time.monotonic()
    cluster.ok("delete", "pod", "stubborn", "--wait=false")
    wait_for(lambda: cluster.status_column("stubborn") == "", timeout=20, interval=0.1)
    elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 10, elapsed  # the 2 s grace ran out before the SIGKILL
    assert (tmp_path / "hook").read_text() == "pre-stop ran\n"
    assert "Stopping container app" in _events(cluster, "stubborn")


def test_active_deadline_fails_the_pod(cluster: Cluster) -> None:
    _run(cluster, "deadline", {"activeDeadlineSeconds": 2, "containers": [_container("sleep 1000")]})
    wait_for(lambda: _status(cluster, "deadline").get("phase") == "Failed", timeout=20, interval=0.2)
    status = _status(cluster, "deadline")
    assert (status["reason"], status["message"]) == (
        "DeadlineExceeded",
        "Pod was active on the node longer than the specified deadline",
    )
    assert _app(cluster, "deadline")["state"]["terminated"]["exitCode"] == 143  # SIGTERM within the grace


def test_a_missing_secret_is_create_container_config_error_until_it_exists(cluster: Cluster) -> None:
    env = [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]
    _run(
        cluster,
        "config-error",
        {"containers": [_container("echo got ${#PASSWORD} chars; sleep 1000", env=env)]},
    )
    wait_for(lambda: cluster.status_column("config-error") == "CreateContainerConfigError", 20, 0.1)
    waiting = _app(cluster, "config-error")["state"]["waiting"]
    assert waiting == {"reason": "CreateContainerConfigError", "message": 'secret "db" not found'}
    secret = {"metadata": {"name": "db"}, "stringData": {"password": "hunter22"}}
    cluster.kube.call("POST", "/api/v1/namespaces/default/secrets", secret)
    wait_for(lambda: "got 8 chars" in _logs(cluster, "config-error"), timeout=30, interval=0.2)


def test_a_failing_post_start_hook_kills_the_container(cluster: Cluster) -> None:
    lifecycle = {"postStart": {"exec": {"command": ["sh", "-c", "exit 7"]}}}
    _run(
        cluster,
        "post-start",
        {"restartPolicy": "Never", "containers": [_container("sleep 1000", lifecycle=lifecycle)]},
    )
    wait_for(lambda: _status(cluster, "post-start").get("phase") == "Failed", timeout=20, interval=0.2)
    events = _events(cluster, "post-start")
    assert "FailedPostStartHook" in events
    assert "Exec lifecycle hook ([sh -c exit 7]) for Container" in events


def test_init_failure_with_restart_policy_never_fails_the_pod(cluster: Cluster) -> None:
    spec = {
        "restartPolicy": "Never",
        "initContainers": [{"name": "check", "image": "busybox", "command": ["sh", "-c", "exit 2"]}],
        "containers": [_container("echo never")],
    }
    _run(cluster, "init-fails", spec)
    wait_for(lambda: _status(cluster, "init-fails").get("phase") == "Failed", timeout=20, interval=0.2)
    assert cluster.status_column("init-fails") == "Init:Error"
    assert _app(cluster, "init-fails")["state"] == {"waiting": {"reason": "PodInitializing"}}


def test_volumes_modes_read_only_mounts_and_the_user(cluster: Cluster) -> None:
    cluster.kube.call(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "settings"}, "data": {"a": "1", "b": "2"}},
    )
    script = (
        "id -u; id -g; stat -c %a:%g /cfg/..data/renamed; ls /cfg; cat /cfg/renamed; echo; "
        "touch /cfg/x 2>/dev/null || echo cfg read-only; "
        "df -k /scratch | tail -1 | awk '{print $2}'; "
        "cat /info/labels; echo; sleep 1000"
    )
    spec = {
        "securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000},
        "containers": [
            _container(
                script,
                volumeMounts=[
                    {"name": "cfg", "mountPath": "/cfg"},
                    {"name": "scratch", "mountPath": "/scratch"},
                    {"name": "info", "mountPath": "/info", "readOnly": True},
                ],
            )
        ],
        "volumes": [
            {
                "name": "cfg",
                "configMap": {
                    "name": "settings",
                    "defaultMode": 0o640,
                    "items": [{"key": "b", "path": "renamed"}],
                },
            },
            {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}},
            {
                "name": "info",
                "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]},
            },
        ],
    }
    _run(cluster, "volumes", spec, labels={"tier": "web"})
    wait_for(lambda: 'tier="web"' in _logs(cluster, "volumes"), timeout=20, interval=0.1)
    lines = _logs(cluster, "volumes").splitlines()
    assert lines[:6] == ["1000", "3000", "640:2000", "renamed", "2", "cfg read-only"]
    assert int(lines[6]) == 8 * 1024
    assert lines[7] == 'tier="web"'


def test_logs_tail_and_timestamps(cluster: Cluster) -> None:
    _run(
        cluster,
        "chatty",
        {
            "containers": [
                _container("for i in 1 2 3; do echo line $i; done; sleep 0.2; echo oops >&2; sleep 1000")
            ]
        },
    )
    wait_for(lambda: "oops" in _logs(cluster, "chatty"), timeout=20, interval=0.1)
    assert cluster.ok("logs", "chatty") == "line 1\nline 2\nline 3\noops\n"
    assert cluster.ok("logs", "chatty", "--tail=2") == "line 3\noops\n"
    stamped = cluster.ok("logs", "chatty", "--tail=1", "--timestamps")
    assert stamped.endswith(" oops\n")
    assert stamped[:4].isdigit()
    assert json.loads(cluster.ok("get", "pod", "chatty", "-o", "json"))["status"]["containerStatuses"][0][
        "ready"
    ]


def test_downward_api_files_follow_label_and_annotation_changes(cluster: Cluster) -> None:
    watch = 'old=""; while true; do new="$(cat /info/*)"; [ "$new" != "$old" ] && echo "$new"; old="$new"; sleep 0.2; done'
    items = [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "notes", "fieldRef": {"fieldPath": "metadata.annotations"}},
    ]
    spec = {
        "containers": [_container(watch, volumeMounts=[{"name": "info", "mountPath": "/info"}])],
        "volumes": [{"name": "info", "downwardAPI": {"items": items}}],
    }
    _run(cluster, "downward", spec, labels={"tier": "web"})
    wait_for(lambda: 'tier="web"' in _logs(cluster, "downward"), timeout=20, interval=0.1)
    cluster.ok("label", "pod", "downward", "tier=db", "--overwrite")
    cluster.ok("annotate", "pod", "downward", "owner=ops")
    wait_for(lambda: 'tier="db"' in _logs(cluster, "downward"), timeout=20, interval=0.2)
    wait_for(lambda: 'owner="ops"' in _logs(cluster, "downward"), timeout=20, interval=0.2)
    assert _app(cluster, "downward")["restartCount"] == 0


@pytest.mark.skipif(cgroups.parent() is None, reason="no writable memory cgroup on this machine")
def test_a_container_over_its_memory_limit_is_oom_killed(cluster: Cluster) -> None:
    grow = "python3 -c 'import time; b = bytearray(256 * 1024 * 1024); time.sleep(30)'"
    limits = {"limits": {"memory": "48Mi"}}
    _run(cluster, "hungry", {"restartPolicy": "Never", "containers": [_container(grow, resources=limits)]})
    wait_for(lambda: "terminated" in _app(cluster, "hungry").get("state", {}), timeout=30, interval=0.2)
    terminated = _app(cluster, "hungry")["state"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == ("OOMKilled", 137)
    assert cluster.status_column("hungry") == "OOMKilled"
    assert _status(cluster, "hungry")["phase"] == "Failed"
    parent = cgroups.parent()
    assert parent is not None
    assert not list(parent[0].glob("vaultinject-*"))  # the container's cgroup went with it
