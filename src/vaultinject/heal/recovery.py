"""Which stuck pods heal may recover, and when: pure, so every limit is tested without a cluster.

A pod is recovered by deleting it, so that its controller creates a fresh one whose agent logs in anew.
Only pods vaultinject injected, whose agent holds them back, and that a controller will recreate: a bare
pod would be lost, and a Job's pod deleted counts against the Job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from vaultinject.diagnosis.evidence import PodEvidence
from vaultinject.diagnosis.rules.pods import stuck_agent

RECREATING_CONTROLLERS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"})


@dataclass(frozen=True)
class Candidate:
    """A stuck pod heal may delete, and how its agent is stuck."""

    namespace: str
    name: str
    workload: str
    how: str


@dataclass(frozen=True)
class Skipped:
    """A stuck pod heal leaves alone, and why (printed, so a person can act on it)."""

    namespace: str
    name: str
    why: str


def select(
    pods: Iterable[PodEvidence], now: float, stuck_after: float
) -> tuple[list[Candidate], list[Skipped]]:
    """The stuck pods to recover, and the stuck pods left alone with the reason; others are not listed."""
    candidates: list[Candidate] = []
    skipped: list[Skipped] = []
    for pod in pods:
        stuck = stuck_agent(pod, now, stuck_after)
        if stuck is None:
            continue
        _, how = stuck
        if not pod.ours:
            skipped.append(Skipped(pod.namespace, pod.name, "its agent was not injected by vaultinject"))
        elif pod.owner is None:
            skipped.append(
                Skipped(pod.namespace, pod.name, "a bare pod: no controller would recreate it, so it is left "
                        "for you (delete it and create it again once logins work)")
            )  # fmt: skip
        elif pod.owner.kind not in RECREATING_CONTROLLERS:
            skipped.append(
                Skipped(pod.namespace, pod.name, f"owned by {pod.owner.kind} {pod.owner.name}, which would "
                        "count a deleted pod as a failure")
            )  # fmt: skip
        else:
            candidates.append(Candidate(pod.namespace, pod.name, pod.workload, how))
    return candidates, skipped


def schedule(
    candidates: list[Candidate], rate: float, fraction: Callable[[], float] = lambda: 0.5
) -> list[tuple[float, Candidate]]:
    """When to delete each candidate, in seconds from now: pod i in its own slot of 1/`rate` seconds,
    jittered within the slot's first half, so no second sees more than `rate` (+1) deletions and so new
    logins; `fraction` returns a number in [0, 1) (random in use, fixed in tests)."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    slot = 1 / rate
    return [(index * slot + 0.5 * slot * fraction(), candidate) for index, candidate in enumerate(candidates)]
