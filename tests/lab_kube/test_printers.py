"""`kubectl get` columns as Kubernetes' printers compute them: printPod's READY/STATUS/RESTARTS rules for
every phase of a pod's life (cluster-fidelity §1), HumanDuration, and the workload kinds' columns."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.lab_kube.test_kubectl import kubectl
from vaultinject.lab.kube.clock import rfc3339
from vaultinject.lab.kube.harness import LabKube
from vaultinject.lab.kube.printers import human_duration, pod_status

JSON = dict[str, Any]
NOW = time.time()
AGO_30S = rfc3339(NOW - 30)


def running(name: str, ready: bool = True, restarts: int = 0, **extra: Any) -> JSON:
    return {
        "name": name,
        "ready": ready,
        "started": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": AGO_30S}},
        "lastState": {},
        **extra,
    }


def waiting(name: str, reason: str, restarts: int = 0, **extra: Any) -> JSON:
    return {
        "name": name,
        "ready": False,
        "started": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason}},
        "lastState": {},
        **extra,
    }


def exited(name: str, code: int, reason: str) -> JSON:
    state = {"terminated": {"exitCode": code, "reason": reason, "finishedAt": AGO_30S}}
    return {
        "name": name,
        "ready": False,
        "started": False,
        "restartCount": 0,
        "state": state,
        "lastState": {},
    }


def crashed_before(status: JSON, finished: str = AGO_30S) -> JSON:
    status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": finished}}
    return status


SIDECAR = {"name": "agent", "image": "vaultinject", "restartPolicy": "Always"}
INIT = {"name": "init", "image": "busybox"}
APP = {"name": "app", "image": "busybox"}


def a_pod(init: list[JSON], status: JSON, deleting: bool = False) -> JSON:
    metadata: JSON = {"name": "p", "creationTimestamp": AGO_30S}
    if deleting:
        metadata["deletionTimestamp"] = rfc3339(NOW)
    return {"metadata": metadata, "spec": {"initContainers": init, "containers": [APP]}, "status": status}


def conditions(**values: bool) -> list[JSON]:
    return [{"type": kind, "status": str(value)} for kind, value in values.items()]


CASES = [
    ("pending", a_pod([], {"phase": "Pending"}), "Pending"),
    (
        "init running",
        a_pod(
            [INIT],
            {
                "phase": "Pending",
                "initContainerStatuses": [running("init", ready=False)],
                "containerStatuses": [waiting("app", "PodInitializing")],
            },
        ),
        "Init:0/1",
    ),
    (
        "init done, app starting",
        a_pod(
            [INIT],
            {
                "phase": "Pending",
                "initContainerStatuses": [exited("init", 0, "Completed")],
                "conditions": conditions(Initialized=True),
                "containerStatuses": [waiting("app", "PodInitializing")],
            },
        ),
        "PodInitializing",
    ),
    (
        "init failed",
        a_pod(
            [INIT],
            {
                "phase": "Pending",
                "initContainerStatuses": [exited("init", 1, "Error")],
                "containerStatuses": [waiting("app", "PodInitializing")],
            },
        ),
        "Init:Error",
    ),
    (
        "init crash loop",
        a_pod(
            [INIT],
            {
                "phase": "Pending",
                "initContainerStatuses": [waiting("init", "CrashLoopBackOff", restarts=2)],
                "containerStatuses": [waiting("app", "PodInitializing")],
            },
        ),
        "Init:CrashLoopBackOff",
    ),
    (
        "running",
        a_pod(
            [],
            {"phase": "Running", "conditions": conditions(Ready=True), "containerStatuses": [running("app")]},
        ),
        "Running",
    ),
    (
        "sealed vault: running, not ready",
        a_pod([], {"phase": "Running", "containerStatuses": [running("app", ready=False)]}),
        "Running",
    ),
    (
        "completed",
        a_pod([], {"phase": "Succeeded", "containerStatuses": [exited("app", 0, "Completed")]}),
        "Completed",
    ),
    (
        "crash loop",
        a_pod(
            [],
            {
                "phase": "Running",
                "containerStatuses": [crashed_before(waiting("app", "CrashLoopBackOff", restarts=3))],
            },
        ),
        "CrashLoopBackOff",
    ),
    (
        "exit code without reason",
        a_pod([], {"phase": "Failed", "containerStatuses": [exited("app", 3, "")]}),
        "ExitCode:3",
    ),
    (
        "terminating",
        a_pod([], {"phase": "Running", "containerStatuses": [running("app")]}, deleting=True),
        "Terminating",
    ),
    (
        "terminal pods do not show Terminating",
        a_pod(
            [], {"phase": "Succeeded", "containerStatuses": [exited("app", 0, "Completed")]}, deleting=True
        ),
        "Completed",
    ),
    (
        "sidecar started, app running",
        a_pod(
            [SIDECAR],
            {
                "phase": "Running",
                "conditions": conditions(Initialized=True, Ready=True),
                "initContainerStatuses": [running("agent")],
                "containerStatuses": [running("app")],
            },
        ),
        "Running",
    ),
    (
        "sidecar not started yet",
        a_pod(
            [SIDECAR],
            {
                "phase": "Pending",
                "initContainerStatuses": [running("agent", ready=False, started=False)],
                "containerStatuses": [waiting("app", "PodInitializing")],
            },
        ),
        "Init:0/1",
    ),
    (
        "sidecar crash looping after initialization",
        a_pod(
            [SIDECAR],
            {
                "phase": "Running",
                "conditions": conditions(Initialized=True),
                "initContainerStatuses": [waiting("agent", "CrashLoopBackOff", restarts=1)],
                "containerStatuses": [running("app")],
            },
        ),
        "Init:CrashLoopBackOff",
    ),
    ("evicted", a_pod([], {"phase": "Failed", "reason": "Evicted"}), "Evicted"),
]


@pytest.mark.parametrize(("pod", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_pod_status_follows_print_pod(pod: JSON, expected: str) -> None:
    assert pod_status(pod) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (125, "2m5s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 60, "3h1m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (50 * 3600, "2d2h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (735 * 86400, "2y5d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration_is_go_s(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def _store_status(kube: LabKube, namespace: str, name: str, spec: JSON, status: JSON) -> None:
    kube.call("POST", f"/api/v1/namespaces/{namespace}/pods", {"metadata": {"name": name}, "spec": spec})
    pod = kube.call("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
    pod["status"] = status
    kube.call("PUT", f"/api/v1/namespaces/{namespace}/pods/{name}/status", pod)


def test_kubectl_prints_ready_sidecars_restarts_and_status(kube: LabKube, namespace: str) -> None:
    recent = rfc3339(time.time() - 30)
    spec = {"initContainers": [SIDECAR], "containers": [APP]}
    _store_status(
        kube,
        namespace,
        "with-sidecar",
        spec,
        {
            "phase": "Running",
            "conditions": conditions(Initialized=True, Ready=True),
            "initContainerStatuses": [running("agent")],
            "containerStatuses": [running("app")],
        },
    )
    _store_status(
        kube,
        namespace,
        "crashing",
        {"containers": [APP]},
        {
            "phase": "Running",
            "containerStatuses": [crashed_before(waiting("app", "CrashLoopBackOff", 3), recent)],
        },
    )
    rows = {
        line.split()[0]: line.split()
        for line in kubectl(kube, "get", "pods", "-n", namespace).stdout.splitlines()[1:]
    }
    assert rows["with-sidecar"][1:4] == ["2/2", "Running", "0"]
    assert rows["crashing"][1:3] == ["0/1", "CrashLoopBackOff"]
    restarts, since, ago = rows["crashing"][3:6]
    assert restarts == "3"
    seconds = re.fullmatch(r"\((\d+)s", since)
    assert seconds is not None
    assert 30 <= int(seconds.group(1)) <= 60  # the last termination was 30 s before the status was stored
    assert ago == "ago)"
    wide = kubectl(kube, "get", "pods", "-n", namespace, "-o", "wide").stdout.splitlines()[0].split()
    assert wide[5:] == ["IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"]


def test_workload_kinds_print_their_own_columns(kube: LabKube, namespace: str) -> None:
    template = {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [APP]}}
    selector = {"matchLabels": {"app": "w"}}
    kube.call(
        "POST",
        f"/apis/apps/v1/namespaces/{namespace}/statefulsets",
        {
            "metadata": {"name": "vault"},
            "spec": {
                "replicas": 3,
                "serviceName": "vault-internal",
                "selector": selector,
                "template": template,
            },
        },
    )
    kube.call(
        "POST",
        f"/apis/batch/v1/namespaces/{namespace}/jobs",
        {
            "metadata": {"name": "once"},
            "spec": {"completions": 2, "template": {"spec": {"containers": [APP], "restartPolicy": "Never"}}},
        },
    )
    kube.call(
        "POST",
        f"/apis/batch/v1/namespaces/{namespace}/cronjobs",
        {
            "metadata": {"name": "nightly"},
            "spec": {
                "schedule": "0 3 * * *",
                "jobTemplate": {
                    "spec": {"template": {"spec": {"containers": [APP], "restartPolicy": "Never"}}}
                },
            },
        },
    )
    kube.call(
        "POST",
        f"/api/v1/namespaces/{namespace}/services",
        {"metadata": {"name": "vault"}, "spec": {"selector": {"app": "w"}, "ports": [{"port": 8200}]}},
    )

    def table(kind: str) -> list[list[str]]:
        return [line.split() for line in kubectl(kube, "get", kind, "-n", namespace).stdout.splitlines()]

    assert table("statefulsets")[0] == ["NAME", "READY", "AGE"]
    assert table("statefulsets")[1][:2] == ["vault", "0/3"]
    assert table("jobs")[0] == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert table("jobs")[1][:3] == ["once", "Running", "0/2"]
    assert table("cronjobs")[0] == [
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST",
        "SCHEDULE",
        "AGE",
    ]
    assert table("cronjobs")[1][:8] == ["nightly", "0", "3", "*", "*", "*", "<none>", "False"]
    services = table("services")
    assert services[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert services[1][0:2] == ["vault", "ClusterIP"]
    assert services[1][3:5] == ["<none>", "8200/TCP"]
