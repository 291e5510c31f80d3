"""Which stuck pods heal recovers (vaultinject's, recreated by a controller) and how it paces them."""

from __future__ import annotations

from tests.diagnosis.builders import NOW, pod_json, stamp
from vaultinject.diagnosis.evidence import Owner, PodEvidence
from vaultinject.heal.recovery import Candidate, schedule, select

DEPLOYMENT = {("default", "ReplicaSet", "app-7d9f8c6b5"): Owner("Deployment", "app")}


def pod(name: str, **fields: object) -> PodEvidence:
    return PodEvidence.from_pod(pod_json(name, **fields), owners=DEPLOYMENT)  # type: ignore[arg-type]


def test_only_stuck_pods_injected_by_vaultinject_and_recreated_by_a_controller_are_recovered() -> None:
    finished = {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": stamp(NOW - 500)}}
    pods = [
        pod("stuck-1"),
        pod("stuck-set", owner=("StatefulSet", "db")),
        pod("young", age=30),
        pod("done", agent_state=finished),
        pod("plain", agent=None, opted_in=False),
        pod("theirs", ours=False),
        pod("bare", owner=None),
        pod("job", owner=("Job", "migrate")),
    ]
    candidates, skipped = select(pods, NOW, stuck_after=120)
    assert [(c.name, c.workload) for c in candidates] == [
        ("stuck-1", "Deployment default/app"),
        ("stuck-set", "StatefulSet default/db"),
    ]
    assert {s.name: s.why.split(":")[0] for s in skipped} == {
        "theirs": "its agent was not injected by vaultinject",
        "bare": "a bare pod",
        "job": "owned by Job migrate, which would count a deleted pod as a failure",
    }


def test_deletions_are_paced_to_the_rate_with_jitter_inside_each_slot() -> None:
    candidates = [Candidate("default", f"p{i}", "Deployment default/app", "stuck") for i in range(25)]
    times = [at for at, _ in schedule(candidates, rate=10, fraction=lambda: 0.99)]
    assert times == sorted(times)
    for second in range(3):
        assert sum(second <= at < second + 1 for at in times) <= 10
    assert times[-1] < 2.5
    assert [at for at, _ in schedule(candidates[:2], rate=2, fraction=lambda: 0.0)] == [0.0, 0.5]


def test_a_pod_injected_by_vaultinject_is_told_apart_from_another_injectors() -> None:
    from vaultinject.injector import inject

    annotations = {"vault.hashicorp.com/agent-inject": "true", "vault.hashicorp.com/role": "app",
                   "vault.hashicorp.com/agent-inject-secret-a": "secret/data/a",
                   "vault.hashicorp.com/service": "https://vault:8200"}  # fmt: skip
    for mode in ("native", "classic", "init-only"):
        source = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default",
                         "annotations": {**annotations, "vaultinject.io/mode": mode}},
            "spec": {"containers": [{"name": "app", "image": "app"}]},
        }  # fmt: skip
        assert PodEvidence.from_pod(inject(source).pod).ours, mode
    assert not PodEvidence.from_pod(pod_json("theirs", ours=False)).ours
