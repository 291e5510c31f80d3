"""The Job controller: completions and parallelism, the tracking finalizer, backoffLimit and
activeDeadlineSeconds, and `kubectl wait --for=condition=complete` as the judge."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab_controllers.workloads import (
    NS,
    LabKube,
    finish,
    get,
    kubectl,
    lab,
    live,
    messages,
    pods,
    wait_for,
)
from vaultinject.lab.controllers.job import TRACKING

JOBS = f"/apis/batch/v1/namespaces/{NS}/jobs"


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[LabKube]:
    with lab(tmp_path / "kube", "job-controller") as server:
        yield server


def _job(name: str, **spec: object) -> dict[str, Any]:
    template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox"}]}}
    return {"metadata": {"name": name}, "spec": {"template": template, **spec}}


def _active(kube: LabKube, name: str) -> list[dict[str, Any]]:
    return [p for p in live(kube, f"job-name={name}") if p["status"]["phase"] in {"Pending", "Running"}]


def _released(kube: LabKube, pod: dict[str, Any]) -> bool:
    current = get(kube, f"/api/v1/namespaces/{NS}/pods/{pod['metadata']['name']}")
    return TRACKING not in (current["metadata"].get("finalizers") or [])


def test_a_job_runs_to_completion_and_kubectl_wait_returns(kube: LabKube) -> None:
    job = kube.call("POST", JOBS, _job("batch", completions=3, parallelism=2))
    wait_for(lambda: len(_active(kube, "batch")) == 2)
    pod = _active(kube, "batch")[0]
    assert pod["metadata"]["finalizers"] == [TRACKING]
    assert pod["metadata"]["labels"]["controller-uid"] == job["metadata"]["uid"]
    assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "batch"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    for _ in range(3):
        pod = wait_for(lambda: _active(kube, "batch"))[0]
        finish(kube, pod, 0)
        wait_for(functools.partial(_released, kube, pod))
    out = kubectl(kube, "wait", "--for=condition=complete", "job/batch", "--timeout=10s").stdout
    assert "job.batch/batch condition met" in out
    status = get(kube, f"{JOBS}/batch")["status"]
    assert status["succeeded"] == 3
    assert "active" not in status  # omitempty, as Kubernetes writes it
    assert status["ready"] == 0
    assert status["terminating"] == 0
    assert status["uncountedTerminatedPods"] == {}
    assert "completionTime" in status
    assert "startTime" in status
    kinds = [(c["type"], c["reason"], c["message"]) for c in status["conditions"]]
    assert kinds == [
        ("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
        ("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
    ]
    assert messages(kube, "Completed", "batch") == ["Job completed"]
    assert len(messages(kube, "SuccessfulCreate", "batch")) == 3
    assert len(list(pods(kube, "job-name=batch"))) == 3


def test_failures_beyond_the_backoff_limit_fail_the_job(kube: LabKube) -> None:
    kube.call("POST", JOBS, _job("flaky", backoffLimit=1))
    for _ in range(2):
        pod = wait_for(lambda: _active(kube, "flaky"))[0]
        finish(kube, pod, 3)
    failed = kubectl(kube, "wait", "--for=condition=failed", "job/flaky", "--timeout=10s")
    assert "condition met" in failed.stdout
    status = get(kube, f"{JOBS}/flaky")["status"]
    assert status["failed"] == 2
    reasons = [(c["type"], c["reason"]) for c in status["conditions"]]
    assert reasons == [("FailureTarget", "BackoffLimitExceeded"), ("Failed", "BackoffLimitExceeded")]
    assert messages(kube, "BackoffLimitExceeded", "flaky") == ["Job has reached the specified backoff limit"]
    assert _active(kube, "flaky") == []


def test_the_active_deadline_ends_a_running_job(kube: LabKube) -> None:
    assert kube.server is not None
    kube.call("POST", JOBS, _job("slow", activeDeadlineSeconds=30))
    wait_for(lambda: _active(kube, "slow"))
    kube.server.clock.advance(31)
    kubectl(kube, "wait", "--for=condition=failed", "job/slow", "--timeout=10s")
    status = get(kube, f"{JOBS}/slow")["status"]
    assert status["conditions"][-1]["reason"] == "DeadlineExceeded"
    assert status["conditions"][-1]["message"] == "Job was active longer than specified deadline"
    wait_for(lambda: pods(kube, "job-name=slow") == [])  # the pod went, its finalizer removed
