"""Opted-in pods: stuck in their agent (grouped by workload, each with its agent's last classified
login error), or never injected at all."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from vaultinject.diagnosis.classify import Cause, classify_log, classify_login
from vaultinject.diagnosis.evidence import AgentContainer, Evidence, PodEvidence, Pods
from vaultinject.diagnosis.findings import Area, Severity
from vaultinject.diagnosis.rules.base import HEAL_COMMAND, Context, Verdict, missing, ok, refs, rule

SHOWN_PODS = 10  # pods listed per workload; the rest are counted
SHOWN_LOGS = 5  # log references per workload
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
RESTARTABLE = frozenset({"Deployment", "StatefulSet", "DaemonSet"})


def stuck_agent(pod: PodEvidence, now: float, after: float) -> tuple[AgentContainer, str] | None:
    """The agent holding an opted-in, injected pod back for over `after` seconds, and how; else None."""
    if not (pod.opted_in and pod.injected) or pod.phase in TERMINAL_PHASES or pod.terminating:
        return None
    if pod.created_at is None or now - pod.created_at <= after:
        return None
    age = now - pod.created_at
    for agent in pod.agents:
        if agent.kind == "sidecar" or agent.finished:
            continue
        # An agent not yet started (no status, or queued behind another init container) is not the
        # agent's failure: the pod may be unscheduled or pulling images.
        if agent.state == "running" or agent.failing:
            return agent, _how(agent, age)
    return None


def _how(agent: AgentContainer, age: float) -> str:
    label = f"{agent.name} (native sidecar)" if agent.kind == "native" else agent.name
    restarts = f", {agent.restart_count} restarts" if agent.restart_count else ""
    if agent.crash_looping:
        return f"{label} crash looping ({agent.reason or agent.state}{restarts})"
    if agent.state == "running":
        verb = "running, not started" if agent.kind == "native" else "still running"
        return f"{label} {verb} {age:.0f} s after the pod was created{restarts}"
    if agent.state == "terminated":
        return f"{label} exited {agent.exit_code} ({agent.reason or 'Error'}){restarts}"
    return f"{label} {agent.state} ({agent.reason or 'no status yet'}) {age:.0f} s after the pod was created"


def _groups(pods: Iterable[PodEvidence]) -> dict[str, list[PodEvidence]]:
    groups: dict[str, list[PodEvidence]] = {}
    for pod in pods:
        groups.setdefault(pod.workload, []).append(pod)
    return groups


def _listed(lines: list[str]) -> tuple[str, ...]:
    shown = lines[:SHOWN_PODS]
    if len(lines) > SHOWN_PODS:
        shown.append(f"... and {len(lines) - SHOWN_PODS} more")
    return tuple(shown)


def _pods(evidence: Evidence, what: str) -> Pods | Verdict:
    pods = evidence.pods
    if pods is None or pods.error is not None:
        return missing(what, pods)
    return pods


@rule(Area.PODS)
def stuck_pods(evidence: Evidence, context: Context) -> Iterator[Verdict]:
    pods = _pods(evidence, "stuck pods")
    if isinstance(pods, Verdict):
        yield pods
        return
    after = context.settings.stuck_after
    stuck = {pod: found for pod in pods.items if (found := stuck_agent(pod, context.now, after)) is not None}
    if not stuck:
        opted = sum(pod.opted_in and pod.injected for pod in pods.items)
        yield ok(
            f"no opted-in pod is stuck in its agent for over {after:.0f} s ({opted} injected pods)", pods
        )
        return
    canary = _canary_cause(evidence)
    for workload, members in _groups(stuck).items():
        yield _stuck_workload(workload, members, stuck=stuck, pods=pods, canary=canary, after=after)


def _canary_cause(evidence: Evidence) -> Cause | None:
    """The canary's classified failure, which applies to every login through the same mount."""
    canary = evidence.canary
    if canary is None:
        return None
    verdict = classify_login(canary.login, canary.review)
    return None if verdict.cause in (Cause.OK, Cause.UNKNOWN) else verdict.cause


def _no_verdict(pod: PodEvidence) -> str:
    if pod.log is None:
        return "its agent's log was not read"
    if pod.log.error is not None:
        return f"its agent's log could not be read ({pod.log.error})"
    return "no failed login in its agent's log"


def _stuck_workload(
    workload: str,
    members: list[PodEvidence],
    *,
    stuck: dict[PodEvidence, tuple[AgentContainer, str]],
    pods: Pods,
    canary: Cause | None,
    after: float,
) -> Verdict:
    causes: Counter[str] = Counter()
    lines = []
    for pod in members:
        how = stuck[pod][1]
        verdict = classify_log(pod.log.lines) if pod.log is not None and pod.log.known else None
        if verdict is None:
            causes["unknown"] += 1
            lines.append(f"{pod.namespace}/{pod.name}: {how}; {_no_verdict(pod)}")
        else:
            causes[verdict.classification.cause.value] += 1
            lines.append(
                f"{pod.namespace}/{pod.name}: {how}; last login error "
                f"({verdict.classification.cause.value}): {verdict.line}"
            )
    classification = causes.most_common(1)[0][0] if len(causes) == 1 else "mixed"
    bare = members[0].owner is None
    cause = f"the agents' last login errors: {', '.join(f'{c} x{n}' for c, n in causes.most_common())}"
    if canary is not None:
        cause += f"; the canary login fails too ({canary.value}): see the canary finding"
    if bare:
        fix = "fix the cause first; a bare pod has no controller, so heal never restarts it: recreate it"
        command = ""
    else:
        fix = (
            "fix the cause first: the agents then log in on their next retry (ours back off at most 30 s); "
            "heal restarts the pods still stuck after a grace period"
        )
        command = HEAL_COMMAND
    logs = [pod.log for pod in members if pod.log is not None][:SHOWN_LOGS]
    return Verdict(
        severity=Severity.BROKEN,
        summary=f"{len(members)} pod(s) of {workload} stuck in the Vault agent for over {after:.0f} s",
        cause=cause,
        fix=fix,
        command=command,
        evidence=refs(pods, *logs),
        details=_listed(lines),
        classification=classification,
    )


@rule(Area.PODS)
def never_injected(evidence: Evidence, _context: Context) -> Iterator[Verdict]:
    pods = _pods(evidence, "opted-in pods without agents")
    if isinstance(pods, Verdict):
        yield pods
        return
    missed = [
        pod for pod in pods.items if pod.opted_in and not pod.injected and pod.phase not in TERMINAL_PHASES
    ]
    if not missed:
        yield ok("every opted-in pod was injected", pods)
        return
    for workload, members in _groups(missed).items():
        first = members[0]
        names = [f"{pod.namespace}/{pod.name}" for pod in members]
        if first.owner is None:
            fix, command = "recreate it once the webhook is healthy (it has no controller)", ""
        elif first.owner.kind in RESTARTABLE:
            fix = "restart the workload once the webhook is healthy"
            command = (
                f"kubectl -n {first.namespace} rollout restart {first.owner.kind.lower()}/{first.owner.name}"
            )
        else:
            fix = "delete the pods once the webhook is healthy; their controller recreates them"
            command = f"kubectl -n {first.namespace} delete pod " + " ".join(pod.name for pod in members)
        yield Verdict(
            severity=Severity.BROKEN,
            summary=f"{len(members)} pod(s) of {workload} opt in but have no Vault agent",
            cause="they were created while the webhook was down or bypassed (failurePolicy Ignore), so they "
            "run without their secrets",
            fix=fix,
            command=command,
            evidence=refs(pods),
            details=_listed(names),
        )


RULES = (stuck_pods, never_injected)
