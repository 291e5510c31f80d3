"""The Job controller (`pkg/controller/job`, NonIndexed jobs): pods up to `parallelism` until
`completions` succeed; failures counted against `backoffLimit`; `activeDeadlineSeconds`; pods carry the
`batch.kubernetes.io/job-tracking` finalizer until counted (through `status.uncountedTerminatedPods`);
the interim SuccessCriteriaMet/FailureTarget conditions, then Complete/Failed once no pod is left
running, as 1.31+ write them. Not modelled: the pod-failure backoff delay, Indexed jobs, suspend."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from vaultinject.lab.controllers.base import Controller, Key, key_of
from vaultinject.lab.controllers.client import ApiError
from vaultinject.lab.controllers.manager import register
from vaultinject.lab.controllers.replicaset import (
    is_active,
    is_ready,
    is_terminal,
    is_terminating,
    owner_key,
    pod_from_template,
)
from vaultinject.lab.kube.clock import parse_time, rfc3339
from vaultinject.lab.kube.model import clone
from vaultinject.lab.kube.store import Change

JSON = dict[str, Any]
TRACKING = "batch.kubernetes.io/job-tracking"
_SUCCESS = ("CompletionsReached", "Reached expected number of succeeded pods")
_BACKOFF = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
_DEADLINE = ("DeadlineExceeded", "Job was active longer than specified deadline")


def _condition(status: JSON, kind: str) -> JSON | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), None)


def finished(job: JSON) -> bool:
    status = job.get("status") or {}
    return any((_condition(status, kind) or {}).get("status") == "True" for kind in ("Complete", "Failed"))


@register
class JobController(Controller):
    name = "job-controller"
    watches: ClassVar[tuple[str, ...]] = ("jobs.batch", "pods")

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.storage == "pods":
            return owner_key(change.obj, "Job")
        return [key_of(change.obj)]

    def reconcile(self, key: Key) -> float | None:
        job = self.client.get("jobs.batch", *key)
        pods = self._pods(key, job)
        if job is None:
            for pod in pods:  # orphans: nothing will count them any more
                self._release(pod)
            return None
        status = clone(job.get("status") or {})
        now = self.clock.now()
        status.setdefault("startTime", rfc3339(now))
        status = self._count(job, status, pods)
        pods = self.client.owned("pods", job)
        active = [p for p in pods if is_active(p)]
        spec = job["spec"]
        again: float | None = None
        target = _condition(status, "FailureTarget") or _condition(status, "SuccessCriteriaMet")
        if not finished(job) and target is None:
            failure = None
            if int(status.get("failed", 0)) > int(spec.get("backoffLimit", 6)):
                failure = _BACKOFF
            elif spec.get("activeDeadlineSeconds") is not None:
                remaining = parse_time(status["startTime"]) + int(spec["activeDeadlineSeconds"]) - now
                if remaining <= 0:
                    failure = _DEADLINE
                else:
                    again = min(remaining, 1.0)  # the clock may be moved forward by tests
            completions = spec.get("completions")
            succeeded = int(status.get("succeeded", 0))
            if failure is not None:
                self._set(status, "FailureTarget", *failure, now)
                self.events.warning(job, failure[0], failure[1])
            elif (completions is not None and succeeded >= int(completions)) or (
                completions is None and succeeded > 0 and not active
            ):
                self._set(status, "SuccessCriteriaMet", *_SUCCESS, now)
            else:
                wanted = int(spec.get("parallelism", 1))
                if completions is not None:
                    wanted = min(wanted, int(completions) - succeeded)
                self._scale(job, active, wanted)
        target = _condition(status, "FailureTarget") or _condition(status, "SuccessCriteriaMet")
        if target is not None and not finished(job):
            for pod in active:
                self.client.delete("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
            left = [p for p in self.client.owned("pods", job) if not is_terminal(p)]
            if not left and not _uncounted(status):
                kind = "Failed" if target["type"] == "FailureTarget" else "Complete"
                self._set(status, kind, target["reason"], target["message"], now)
                if kind == "Complete":
                    status["completionTime"] = rfc3339(now)
                    self.events.normal(job, "Completed", "Job completed")
            else:
                again = 0.2
        pods = self.client.owned("pods", job)
        status["active"] = sum(1 for p in pods if is_active(p))
        status["ready"] = sum(1 for p in pods if is_active(p) and is_ready(p))
        status["terminating"] = sum(1 for p in pods if is_terminating(p) and not is_terminal(p))
        status = {
            k: v for k, v in status.items() if v or k in {"ready", "terminating", "uncountedTerminatedPods"}
        }
        self._write(job, status)
        return again

    def _pods(self, key: Key, job: JSON | None) -> list[JSON]:
        if job is not None:
            return self.client.owned("pods", job)
        return [
            p
            for p in self.client.objects("pods", key[0], f"batch.kubernetes.io/job-name={key[1]}")
            if TRACKING in (p["metadata"].get("finalizers") or [])
        ]

    def _count(self, job: JSON, status: JSON, pods: list[JSON]) -> JSON:
        """Record newly finished pods as uncounted, drop their finalizers, then add them to the counts."""
        uncounted = status.setdefault("uncountedTerminatedPods", {})
        seen = set(uncounted.get("succeeded") or []) | set(uncounted.get("failed") or [])
        fresh = False
        for pod in pods:
            uid = pod["metadata"]["uid"]
            if TRACKING not in (pod["metadata"].get("finalizers") or []) or uid in seen:
                continue
            phase = (pod.get("status") or {}).get("phase")
            if phase == "Succeeded":
                uncounted.setdefault("succeeded", []).append(uid)
            elif phase == "Failed" or is_terminating(pod):
                uncounted.setdefault("failed", []).append(uid)
            else:
                continue
            fresh = True
        if fresh:
            self._write(job, status)
        for pod in pods:
            if pod["metadata"]["uid"] in (
                set(uncounted.get("succeeded") or []) | set(uncounted.get("failed") or [])
            ):
                self._release(pod)
        for field in ("succeeded", "failed"):
            status[field] = int(status.get(field, 0)) + len(uncounted.get(field) or [])
        status["uncountedTerminatedPods"] = {}
        return status

    def _release(self, pod: JSON) -> None:
        finalizers = pod["metadata"].get("finalizers") or []
        if TRACKING not in finalizers:
            return
        patch = {"metadata": {"finalizers": [f for f in finalizers if f != TRACKING] or None,
                              "resourceVersion": pod["metadata"]["resourceVersion"]}}  # fmt: skip
        try:
            self.client.patch("pods", pod["metadata"]["namespace"], pod["metadata"]["name"], patch)
        except ApiError as error:
            if error.code != 404:
                raise

    def _scale(self, job: JSON, active: list[JSON], wanted: int) -> None:
        if len(active) > wanted:
            for pod in sorted(active, key=lambda p: p["metadata"].get("creationTimestamp") or "")[wanted:]:
                self.client.delete("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
                self.events.normal(job, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
            return
        body = pod_from_template(job["spec"]["template"], job, generate_name=f"{job['metadata']['name']}-")
        body["metadata"]["finalizers"] = [*body["metadata"].get("finalizers", []), TRACKING]
        for _ in range(wanted - len(active)):
            try:
                pod = self.client.create("pods", job["metadata"]["namespace"], clone(body))
            except ApiError as error:
                self.events.warning(job, "FailedCreate", f"Error creating: {error.message}")
                raise
            self.events.normal(job, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")

    def _set(self, status: JSON, kind: str, reason: str, message: str, now: float) -> None:
        if _condition(status, kind) is not None:
            return
        at = rfc3339(now)
        condition = {
            "type": kind,
            "status": "True",
            "lastProbeTime": at,
            "lastTransitionTime": at,
            "reason": reason,
            "message": message,
        }
        status["conditions"] = [*(status.get("conditions") or []), condition]

    def _write(self, job: JSON, status: JSON) -> None:
        if status == job.get("status"):
            return
        updated = clone(job)
        updated["status"] = status
        job["metadata"] = self.client.replace("jobs.batch", updated, subresource="status")["metadata"]
        job["status"] = clone(status)


def _uncounted(status: JSON) -> bool:
    uncounted = status.get("uncountedTerminatedPods") or {}
    return bool(uncounted.get("succeeded") or uncounted.get("failed"))
