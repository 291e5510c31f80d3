"""Stuck and never-injected pods, from Pod objects as the API server returns them."""

from __future__ import annotations

import dataclasses
from typing import Any

from tests.diagnosis.builders import (
    AT,
    NOW,
    agent_log,
    canary,
    healthy,
    login,
    pod_json,
    pods,
    review_refused,
    running_pod,
    stamp,
)
from tests.diagnosis.test_classify import HASHICORP_BLOCK
from vaultinject.diagnosis.evidence import AgentLog, Evidence, Owner, PodEvidence, Pods
from vaultinject.diagnosis.findings import Finding, Severity
from vaultinject.diagnosis.rules import Context
from vaultinject.diagnosis.rules.pods import SHOWN_PODS, never_injected, stuck_agent, stuck_pods
from vaultinject.diagnosis.settings import Settings

CONTEXT = Context(NOW, Settings(stuck_after=120))
OURS_403 = (
    '2026-12-08T02:00:00.000Z [ERROR] agent: authentication failed backoff=30.0s error="PUT '
    'auth/kubernetes/login: 403 permission denied" cause=permission-denied hint="run `vaultinject doctor`"'
)
DEPLOYMENT = {("default", "ReplicaSet", "app-7d9f8c6b5"): Owner("Deployment", "app")}


def stuck(name: str, *, log: tuple[str, ...] = (OURS_403,), **fields: Any) -> PodEvidence:
    return PodEvidence.from_pod(pod_json(name, **fields), owners=DEPLOYMENT, log=agent_log(*log, pod=name))


def with_pods(*items: PodEvidence, **fields: Any) -> Evidence:
    return dataclasses.replace(healthy(), pods=pods(*items), **fields)


def findings(evidence: Evidence) -> tuple[Finding, ...]:
    return stuck_pods(evidence, CONTEXT)


def test_pod_objects_read_as_the_rules_need() -> None:
    classic = PodEvidence.from_pod(pod_json("a", restarts=2), owners=DEPLOYMENT)
    assert (classic.opted_in, classic.injected, classic.owner) == (True, True, Owner("Deployment", "app"))
    (agent,) = classic.agents
    assert (agent.name, agent.kind, agent.state, agent.restart_count) == (
        "vault-agent-init",
        "init",
        "running",
        2,
    )
    assert agent.since == NOW - 599
    native = PodEvidence.from_pod(pod_json("b", agent="native", started=False))
    assert native.agents[0].kind == "native"
    assert not native.agents[0].finished
    bare = PodEvidence.from_pod(pod_json("c", owner=None, opted_in=False, agent=None))
    assert (bare.owner, bare.opted_in, bare.injected, bare.workload) == (
        None,
        False,
        False,
        "bare pod default/c",
    )
    odd = PodEvidence.from_pod({"metadata": {"annotations": {"vault.hashicorp.com/agent-inject": "maybe"}}})
    assert (odd.opted_in, odd.created_at, odd.agents) == (False, None, ())


def test_a_healthy_cluster_has_no_stuck_pod() -> None:
    (finding,) = findings(healthy())
    assert finding.severity is Severity.OK
    assert "2 injected pods" in finding.summary


def test_stuck_pods_are_grouped_by_workload_with_their_last_classified_login_error() -> None:
    evidence = with_pods(stuck("app-1"), stuck("app-2"), running_pod("app-3"))
    (finding,) = findings(evidence)
    assert finding.severity is Severity.BROKEN
    assert finding.summary == "2 pod(s) of Deployment default/app stuck in the Vault agent for over 120 s"
    assert finding.classification == "tokenreview-side"
    assert len(finding.details) == 2
    assert finding.details[0].startswith("default/app-1: vault-agent-init still running 600 s after")
    assert "403 permission denied" in finding.details[0]
    assert finding.command == "vaultinject heal"
    sources = [ref.source for ref in finding.evidence]
    assert sources[0] == "pods in all namespaces"
    assert "GET pods/app-1/log?container=vault-agent-init&tailLines=20" in sources


def test_the_canarys_cause_is_named_beside_the_pods() -> None:
    evidence = with_pods(
        stuck("app-1", log=tuple(HASHICORP_BLOCK)),
        canary=canary(
            login(403, "permission denied"), review_refused("service account token has been invalidated")
        ),
    )
    (finding,) = findings(evidence)
    assert "the canary login fails too (reviewer-token-dead)" in finding.cause
    assert "Code: 403. Errors:" in finding.details[0]


def test_young_pods_finished_agents_and_other_pods_are_not_stuck() -> None:
    young = stuck("young", age=60)
    done = running_pod("done")
    started = stuck("native", agent="native", started=True)
    plain = PodEvidence.from_pod(pod_json("plain", opted_in=False, agent=None))
    finished = dataclasses.replace(stuck("gone"), phase="Succeeded")
    (finding,) = findings(with_pods(young, done, started, plain, finished))
    assert finding.severity is Severity.OK


def test_the_shapes_of_stuck() -> None:
    native = stuck("n", agent="native", started=False)
    crash = stuck(
        "c",
        agent_state={"waiting": {"reason": "CrashLoopBackOff"}},
        restarts=5,
    )
    failed = stuck(
        "f", agent_state={"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": stamp(NOW - 5)}}
    )
    hows = [found[1] for pod in (native, crash, failed) if (found := stuck_agent(pod, NOW, 120)) is not None]
    assert hows == [
        "vault-agent (native sidecar) running, not started 600 s after the pod was created",
        "vault-agent-init crash looping (CrashLoopBackOff, 5 restarts)",
        "vault-agent-init exited 1 (Error)",
    ]


def test_bare_pods_are_their_own_group_and_never_handed_to_heal() -> None:
    (finding,) = findings(with_pods(stuck("lonely", owner=None, log=())))
    assert finding.summary.startswith("1 pod(s) of bare pod default/lonely")
    assert finding.command == ""
    assert "never restarts it" in finding.fix
    assert "no failed login in its agent's log" in finding.details[0]
    assert finding.classification == "unknown"


def test_many_stuck_pods_are_listed_up_to_a_limit() -> None:
    many = [stuck(f"app-{i}") for i in range(SHOWN_PODS + 5)]
    (finding,) = findings(with_pods(*many))
    assert len(finding.details) == SHOWN_PODS + 1
    assert finding.details[-1] == "... and 5 more"


def test_pods_that_opted_in_but_were_never_injected() -> None:
    missed = PodEvidence.from_pod(pod_json("app-1", agent=None), owners=DEPLOYMENT)
    bare = PodEvidence.from_pod(pod_json("solo", agent=None, owner=None))
    job = PodEvidence.from_pod(pod_json("batch-x", agent=None, owner=("Job", "batch")))
    found = {f.summary: f for f in never_injected(with_pods(missed, bare, job), CONTEXT)}
    assert set(found) == {
        "1 pod(s) of Deployment default/app opt in but have no Vault agent",
        "1 pod(s) of bare pod default/solo opt in but have no Vault agent",
        "1 pod(s) of Job default/batch opt in but have no Vault agent",
    }
    deployment = found["1 pod(s) of Deployment default/app opt in but have no Vault agent"]
    assert deployment.severity is Severity.BROKEN
    assert deployment.command == "kubectl -n default rollout restart deployment/app"
    assert found["1 pod(s) of Job default/batch opt in but have no Vault agent"].command == (
        "kubectl -n default delete pod batch-x"
    )
    assert found["1 pod(s) of bare pod default/solo opt in but have no Vault agent"].command == ""
    (ok,) = never_injected(healthy(), CONTEXT)
    assert ok.severity is Severity.OK


def test_pods_that_could_not_be_listed_are_unknown() -> None:
    evidence = dataclasses.replace(
        healthy(), pods=Pods(source="pods in all namespaces", at=AT, error="forbidden")
    )
    for rule in (stuck_pods, never_injected):
        (finding,) = rule(evidence, CONTEXT)
        assert finding.severity is Severity.UNKNOWN
        assert "forbidden" in finding.summary


def test_pods_not_yet_at_their_agent_are_not_the_agents_failure() -> None:
    unscheduled = stuck("pending", agent_state={"unknown": {}})  # a status with no state yet
    queued = stuck("queued", agent_state={"waiting": {"reason": "PodInitializing"}})
    terminating = dataclasses.replace(stuck("leaving"), terminating=True)
    pulling = stuck("pull", agent_state={"waiting": {"reason": "ImagePullBackOff"}})
    (finding,) = findings(with_pods(unscheduled, queued, terminating, pulling))
    assert finding.summary.startswith("1 pod(s)")
    assert finding.details[0].startswith("default/pull: vault-agent-init waiting (ImagePullBackOff)")


def test_a_stuck_pod_whose_log_could_not_be_read_says_so() -> None:
    unread = dataclasses.replace(
        stuck("app-1"), log=AgentLog(source="GET pods/app-1/log", at=AT, error="pods/log is forbidden")
    )
    unfetched = dataclasses.replace(stuck("app-2"), log=None)
    (finding,) = findings(with_pods(unread, unfetched))
    assert finding.details[0].endswith("its agent's log could not be read (pods/log is forbidden)")
    assert finding.details[1].endswith("its agent's log was not read")
