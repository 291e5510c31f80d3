"""The Deployment controller (`pkg/controller/deployment`): one ReplicaSet per pod template, named
`<deployment>-<pod-template-hash>`; RollingUpdate within maxSurge/maxUnavailable or Recreate; scaling;
revision annotations and history cleanup; status and the Available/Progressing conditions that
`kubectl rollout status` reads."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any, ClassVar

from vaultinject.lab.controllers.base import Controller, Key, key_of
from vaultinject.lab.controllers.client import ApiError
from vaultinject.lab.controllers.manager import register
from vaultinject.lab.controllers.replicaset import owner_key, owner_reference
from vaultinject.lab.kube.clock import parse_time, rfc3339
from vaultinject.lab.kube.model import clone
from vaultinject.lab.kube.store import Change

JSON = dict[str, Any]
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
_NOT_COPIED = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "kubernetes.io/change-cause",
}
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: map each character onto consonants and digits (no bad words possible)."""
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in text)


def fnv32a(data: bytes) -> int:
    value = _FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value


def template_hash(template: JSON, collision_count: int = 0) -> str:
    """controller.ComputeHash: FNV-32a of the template (canonical JSON here, Go's spew dump there), plus
    the collision count, as SafeEncodeString of the decimal sum."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    return safe_encode(str(fnv32a(data)))


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        return int(text)
    exact = int(text[:-1]) * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def fenceposts(deployment: JSON) -> tuple[int, int]:
    """deploymentutil.ResolveFenceposts: (maxSurge, maxUnavailable); never both zero."""
    spec = deployment["spec"]
    replicas = int(spec.get("replicas", 1))
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    surge = scaled_value(rolling.get("maxSurge", "25%"), replicas, True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling(deployment: JSON) -> bool:
    kind = (deployment["spec"].get("strategy") or {}).get("type", "RollingUpdate")
    return bool(kind == "RollingUpdate")


def max_unavailable(deployment: JSON) -> int:
    replicas = int(deployment["spec"].get("replicas", 1))
    if not _rolling(deployment) or replicas == 0:
        return 0
    return min(fenceposts(deployment)[1], replicas)


def max_surge(deployment: JSON) -> int:
    return fenceposts(deployment)[0] if _rolling(deployment) else 0


def _spec_replicas(rs: JSON) -> int:
    return int(rs["spec"].get("replicas", 0))


def _status(rs: JSON | None, field: str) -> int:
    return int(((rs or {}).get("status") or {}).get(field, 0)) if rs else 0


def revision(rs: JSON) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _without_hash(template: JSON) -> JSON:
    copy: JSON = clone(template)
    labels = (copy.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH_LABEL, None)
    return copy


def _condition(status: JSON, kind: str) -> JSON | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), None)


def _set_condition(status: JSON, kind: str, state: str, reason: str, message: str, *, now: str) -> None:
    """deploymentutil.SetDeploymentCondition: unchanged when status and reason are; the transition time
    kept while the status is."""
    current = _condition(status, kind)
    if current is not None and current.get("status") == state and current.get("reason") == reason:
        return
    transition = current["lastTransitionTime"] if current and current.get("status") == state else now
    rest = [c for c in status.get("conditions") or [] if c.get("type") != kind]
    condition = {
        "type": kind,
        "status": state,
        "lastUpdateTime": now,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }
    status["conditions"] = [*rest, condition]


def _creation(rs: JSON) -> tuple[str, str]:
    return rs["metadata"].get("creationTimestamp") or "", rs["metadata"]["name"]


@register
class DeploymentController(Controller):
    name = "deployment-controller"
    watches: ClassVar[tuple[str, ...]] = ("deployments.apps", "replicasets.apps", "pods")

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.storage == "replicasets.apps":
            return owner_key(change.obj, "Deployment")
        if change.storage == "pods":
            for namespace, name in owner_key(change.obj, "ReplicaSet"):
                rs = self.client.store.get("replicasets.apps", namespace, name)
                return owner_key(rs, "Deployment") if rs is not None else []
            return []
        return [key_of(change.obj)]

    # --- one sync ---

    def reconcile(self, key: Key) -> float | None:
        d = self.client.get("deployments.apps", *key)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return None
        rss = [
            r for r in self.client.owned("replicasets.apps", d) if not r["metadata"].get("deletionTimestamp")
        ]
        new_rs = self._find_new(d, rss)
        old_rss = sorted((r for r in rss if r is not new_rs), key=_creation)
        status = clone(d.get("status") or {})
        if d["spec"].get("paused"):
            if new_rs is not None and self._is_scaling(d, [new_rs, *old_rss]):
                self._scale_rs(d, new_rs, int(d["spec"].get("replicas", 1)))
            return self._sync_status(d, status, new_rs, old_rss, paused=True)
        if _rolling(d) or new_rs is not None:
            new_rs = self._new_rs(d, new_rs, old_rss, status, create=_rolling(d))
        if _rolling(d):
            assert new_rs is not None
            changed = self._rollout_rolling(d, new_rs, old_rss)
        else:
            changed, new_rs = self._rollout_recreate(d, new_rs, old_rss, status)
        if not changed and new_rs is not None and self._complete(d, new_rs, old_rss):
            self._cleanup(d, old_rss)
        return self._sync_status(d, status, new_rs, old_rss)

    def _find_new(self, d: JSON, rss: list[JSON]) -> JSON | None:
        """The oldest ReplicaSet whose template equals the Deployment's, ignoring the hash label."""
        wanted = _without_hash(d["spec"]["template"])
        matching = sorted((r for r in rss if _without_hash(r["spec"]["template"]) == wanted), key=_creation)
        return matching[0] if matching else None

    def _is_scaling(self, d: JSON, rss: list[JSON]) -> bool:
        wanted = str(d["spec"].get("replicas", 1))
        active = [r for r in rss if _spec_replicas(r) > 0]
        return any((r["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS) != wanted for r in active)

    # --- the new ReplicaSet and the revision ---

    def _new_rs(
        self, d: JSON, existing: JSON | None, old_rss: list[JSON], status: JSON, *, create: bool
    ) -> JSON | None:
        """getNewReplicaSet: bring the new ReplicaSet's revision up to date, or create it."""
        next_revision = str(max((revision(r) for r in old_rss), default=0) + 1)
        now = rfc3339(self.clock.now())
        if existing is not None:
            annotations = dict(existing["metadata"].get("annotations") or {})
            if (
                revision(existing) < int(next_revision)
                and old_rss
                and any(revision(r) > revision(existing) for r in old_rss)
            ):
                history = [h for h in annotations.get(REVISION_HISTORY, "").split(",") if h]
                annotations[REVISION_HISTORY] = ",".join([*history, annotations.get(REVISION, "")])
                annotations[REVISION] = next_revision
            min_ready = d["spec"].get("minReadySeconds") or 0
            if (
                annotations != (existing["metadata"].get("annotations") or {})
                or (existing["spec"].get("minReadySeconds") or 0) != min_ready
            ):
                updated = clone(existing)
                updated["metadata"]["annotations"] = annotations
                updated["spec"]["minReadySeconds"] = min_ready
                existing = self.client.replace("replicasets.apps", updated)
            self._set_revision(d, existing["metadata"]["annotations"].get(REVISION, next_revision))
            if _condition(status, "Progressing") is None and self._has_deadline(d):
                _set_condition(
                    status, "Progressing", "True", "FoundNewReplicaSet",
                    f'Found new replica set "{existing["metadata"]["name"]}"', now=now,
                )  # fmt: skip
            return existing
        if not create:
            return None
        collisions = int(status.get("collisionCount") or 0)
        pod_hash = template_hash(d["spec"]["template"], collisions)
        replicas = self._new_replicas(d, [*old_rss], None)
        body = self._rs_body(d, pod_hash, replicas, next_revision)
        try:
            created = self.client.create("replicasets.apps", d["metadata"]["namespace"], body)
        except ApiError as error:
            if error.code == 409:
                found = self.client.get(
                    "replicasets.apps", d["metadata"]["namespace"], body["metadata"]["name"]
                )
                if found is not None and _without_hash(found["spec"]["template"]) == _without_hash(
                    d["spec"]["template"]
                ):
                    return found
                status["collisionCount"] = collisions + 1
                self._write_status(d, status)
            else:
                message = f'Failed to create new replica set "{body["metadata"]["name"]}": {error.message}'
                if self._has_deadline(d):
                    _set_condition(status, "Progressing", "False", "ReplicaSetCreateError", message, now=now)
                    self._write_status(d, status)
                self.events.warning(d, "FailedCreate", message)
            raise
        if replicas > 0:
            self.events.normal(
                d,
                "ScalingReplicaSet",
                f"Scaled up replica set {created['metadata']['name']} from 0 to {replicas}",
            )
        self._set_revision(d, next_revision)
        if self._has_deadline(d):
            _set_condition(
                status, "Progressing", "True", "NewReplicaSetCreated",
                f'Created new replica set "{created["metadata"]["name"]}"', now=now,
            )  # fmt: skip
        return created

    def _rs_body(self, d: JSON, pod_hash: str, replicas: int, rev: str) -> JSON:
        template = clone(d["spec"]["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = clone(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        annotations = {
            k: v for k, v in (d["metadata"].get("annotations") or {}).items() if k not in _NOT_COPIED
        }
        annotations.update(
            {
                DESIRED_REPLICAS: str(d["spec"].get("replicas", 1)),
                MAX_REPLICAS: str(int(d["spec"].get("replicas", 1)) + max_surge(d)),
                REVISION: rev,
            }
        )
        change_cause = (d["metadata"].get("annotations") or {}).get("kubernetes.io/change-cause")
        if change_cause:
            annotations["kubernetes.io/change-cause"] = change_cause
        spec: JSON = {"replicas": replicas, "selector": selector, "template": template}
        if d["spec"].get("minReadySeconds"):
            spec["minReadySeconds"] = d["spec"]["minReadySeconds"]
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{d['metadata']['name']}-{pod_hash}",
                "labels": dict(template["metadata"]["labels"]),
                "annotations": annotations,
                "ownerReferences": [owner_reference(d)],
            },
            "spec": spec,
        }

    def _set_revision(self, d: JSON, rev: str) -> None:
        """The Deployment carries its newest revision (written with its status upstream)."""
        annotations = d["metadata"].get("annotations") or {}
        if annotations.get(REVISION) == rev:
            return
        patched = self.client.patch(
            "deployments.apps", d["metadata"]["namespace"], d["metadata"]["name"],
            {"metadata": {"annotations": {REVISION: rev}}},
        )  # fmt: skip
        d["metadata"] = patched["metadata"]

    def _has_deadline(self, d: JSON) -> bool:
        deadline = d["spec"].get("progressDeadlineSeconds")
        return deadline is not None and deadline != 2**31 - 1

    # --- scaling ---

    def _new_replicas(self, d: JSON, all_rss: list[JSON], new_rs: JSON | None) -> int:
        """deploymentutil.NewRSNewReplicas."""
        replicas = int(d["spec"].get("replicas", 1))
        if not _rolling(d):
            return replicas
        current = sum(_spec_replicas(r) for r in all_rss)
        new_count = _spec_replicas(new_rs) if new_rs else 0
        max_total = replicas + max_surge(d)
        if current >= max_total:
            return new_count
        return new_count + min(max_total - current, replicas - new_count)

    def _scale_rs(self, d: JSON, rs: JSON, replicas: int) -> JSON:
        """scaleReplicaSet: size and the desired/max annotations, with a ScalingReplicaSet event."""
        wanted = str(d["spec"].get("replicas", 1))
        most = str(int(wanted) + max_surge(d))
        annotations = rs["metadata"].get("annotations") or {}
        old = _spec_replicas(rs)
        if (
            old == replicas
            and annotations.get(DESIRED_REPLICAS) == wanted
            and annotations.get(MAX_REPLICAS) == most
        ):
            return rs
        updated = clone(rs)
        updated["spec"]["replicas"] = replicas
        updated["metadata"].setdefault("annotations", {}).update(
            {DESIRED_REPLICAS: wanted, MAX_REPLICAS: most}
        )
        result = self.client.replace("replicasets.apps", updated)
        if old != replicas:
            direction = "up" if replicas > old else "down"
            self.events.normal(
                d, "ScalingReplicaSet",
                f"Scaled {direction} replica set {rs['metadata']['name']} from {old} to {replicas}",
            )  # fmt: skip
        rs.clear()
        rs.update(result)
        return result

    def _rollout_rolling(self, d: JSON, new_rs: JSON, old_rss: list[JSON]) -> bool:
        replicas = int(d["spec"].get("replicas", 1))
        all_rss = [new_rs, *old_rss]
        if not any(_spec_replicas(r) for r in old_rss) and self._is_scaling(d, all_rss):
            self._scale_rs(d, new_rs, replicas)  # a plain scale: no rollout in progress
            return True
        # reconcileNewReplicaSet
        if _spec_replicas(new_rs) > replicas:
            self._scale_rs(d, new_rs, replicas)
            return True
        if _spec_replicas(new_rs) < replicas:
            count = self._new_replicas(d, all_rss, new_rs)
            if count != _spec_replicas(new_rs):
                self._scale_rs(d, new_rs, count)
                return True
        return self._scale_down_old(d, new_rs, old_rss)

    def _scale_down_old(self, d: JSON, new_rs: JSON, old_rss: list[JSON]) -> bool:
        """reconcileOldReplicaSets: unhealthy old pods first, then as availability allows."""
        old_count = sum(_spec_replicas(r) for r in old_rss)
        if old_count == 0:
            return False
        replicas = int(d["spec"].get("replicas", 1))
        all_count = old_count + _spec_replicas(new_rs)
        min_available = replicas - max_unavailable(d)
        new_unavailable = _spec_replicas(new_rs) - _status(new_rs, "availableReplicas")
        budget = all_count - min_available - new_unavailable
        if budget <= 0:
            return False
        cleaned = 0
        for rs in old_rss:  # cleanupUnhealthyReplicas
            if cleaned >= budget:
                break
            size, available = _spec_replicas(rs), _status(rs, "availableReplicas")
            if size in {0, available}:
                continue
            down = min(budget - cleaned, size - available)
            self._scale_rs(d, rs, size - down)
            cleaned += down
        available_total = sum(_status(r, "availableReplicas") for r in [new_rs, *old_rss])
        scaled = 0
        if available_total > min_available:  # scaleDownOldReplicaSetsForRollingUpdate
            total = available_total - min_available
            for rs in old_rss:
                if scaled >= total:
                    break
                size = _spec_replicas(rs)
                if size == 0:
                    continue
                down = min(size, total - scaled)
                self._scale_rs(d, rs, size - down)
                scaled += down
        return cleaned + scaled > 0

    def _rollout_recreate(
        self, d: JSON, new_rs: JSON | None, old_rss: list[JSON], status: JSON
    ) -> tuple[bool, JSON | None]:
        active_old = [r for r in old_rss if _spec_replicas(r) > 0]
        for rs in active_old:
            self._scale_rs(d, rs, 0)
        if active_old:
            return True, new_rs
        if self._old_pods_running(old_rss):
            return True, new_rs
        if new_rs is None:
            new_rs = self._new_rs(d, None, old_rss, status, create=True)
            return True, new_rs
        if new_rs is not None and _spec_replicas(new_rs) != int(d["spec"].get("replicas", 1)):
            self._scale_rs(d, new_rs, int(d["spec"].get("replicas", 1)))
            return True, new_rs
        return False, new_rs

    def _old_pods_running(self, old_rss: list[JSON]) -> bool:
        if any(_status(r, "replicas") for r in old_rss):
            return True
        for rs in old_rss:
            for pod in self.client.owned("pods", rs):
                if (pod.get("status") or {}).get("phase") not in {"Failed", "Succeeded"}:
                    return True
        return False

    def _complete(self, d: JSON, new_rs: JSON, old_rss: list[JSON]) -> bool:
        replicas = int(d["spec"].get("replicas", 1))
        status = self._calculate(d, {}, new_rs, old_rss)
        return bool(
            status.get("updatedReplicas", 0) == replicas
            and status.get("replicas", 0) == replicas
            and status.get("availableReplicas", 0) == replicas
        )

    def _cleanup(self, d: JSON, old_rss: list[JSON]) -> None:
        """cleanupDeployment: delete the oldest unused ReplicaSets beyond revisionHistoryLimit."""
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        idle = [r for r in old_rss if _spec_replicas(r) == 0 and _status(r, "replicas") == 0]
        idle.sort(key=lambda r: (revision(r), _creation(r)))
        for rs in idle[: max(len(idle) - int(limit), 0)]:
            self.client.delete(
                "replicasets.apps",
                rs["metadata"]["namespace"],
                rs["metadata"]["name"],
                uid=rs["metadata"]["uid"],
            )

    # --- status ---

    def _calculate(self, d: JSON, status: JSON, new_rs: JSON | None, old_rss: list[JSON]) -> JSON:
        all_rss = [r for r in [new_rs, *old_rss] if r is not None]
        available = sum(_status(r, "availableReplicas") for r in all_rss)
        total = sum(_status(r, "replicas") for r in all_rss)
        computed: JSON = {
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": _status(new_rs, "replicas"),
            "readyReplicas": sum(_status(r, "readyReplicas") for r in all_rss),
            "availableReplicas": available,
            "unavailableReplicas": max(total - available, 0),
        }
        result = {k: v for k, v in computed.items() if v}
        if status.get("conditions"):
            result["conditions"] = clone(status["conditions"])
        if status.get("collisionCount"):
            result["collisionCount"] = status["collisionCount"]
        return result

    def _sync_status(
        self, d: JSON, status: JSON, new_rs: JSON | None, old_rss: list[JSON], paused: bool = False
    ) -> float | None:
        """syncRolloutStatus: counts, Available, and Progressing against the progress deadline."""
        replicas = int(d["spec"].get("replicas", 1))
        old_status = d.get("status") or {}
        new = self._calculate(d, status, new_rs, old_rss)
        now_ts = self.clock.now()
        now = rfc3339(now_ts)
        if new.get("availableReplicas", 0) >= replicas - max_unavailable(d):
            _set_condition(
                new,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now=now,
            )
        else:
            _set_condition(
                new,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now=now,
            )
        again: float | None = None
        name = new_rs["metadata"]["name"] if new_rs is not None else ""
        progressing = _condition(new, "Progressing")
        if paused:
            if self._has_deadline(d) and (progressing or {}).get("reason") != "DeploymentPaused":
                _set_condition(
                    new, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now=now
                )
        elif (progressing or {}).get("reason") == "DeploymentPaused":
            _set_condition(
                new, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", now=now
            )
        elif not self._has_deadline(d):
            new["conditions"] = [c for c in new.get("conditions") or [] if c.get("type") != "Progressing"]
        elif not (
            new.get("replicas", 0) == new.get("updatedReplicas", 0)
            and (progressing or {}).get("reason") == "NewReplicaSetAvailable"
        ):
            complete = (
                new.get("updatedReplicas", 0) == replicas
                and new.get("replicas", 0) == replicas
                and new.get("availableReplicas", 0) == replicas
            )
            old_olds = old_status.get("replicas", 0) - old_status.get("updatedReplicas", 0)
            new_olds = new.get("replicas", 0) - new.get("updatedReplicas", 0)
            progressed = (
                new.get("updatedReplicas", 0) > old_status.get("updatedReplicas", 0)
                or new_olds < old_olds
                or new.get("readyReplicas", 0) > old_status.get("readyReplicas", 0)
                or new.get("availableReplicas", 0) > old_status.get("availableReplicas", 0)
            )
            if complete:
                _set_condition(
                    new,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{name}" has successfully progressed.',
                    now=now,
                )
            elif progressed:
                transition = (
                    progressing["lastTransitionTime"]
                    if progressing and progressing["status"] == "True"
                    else now
                )
                rest = [c for c in new.get("conditions") or [] if c.get("type") != "Progressing"]
                condition = {
                    "type": "Progressing",
                    "status": "True",
                    "lastUpdateTime": now,
                    "lastTransitionTime": transition,
                    "reason": "ReplicaSetUpdated",
                    "message": f'ReplicaSet "{name}" is progressing.',
                }
                new["conditions"] = [*rest, condition]
            elif progressing is not None and progressing.get("reason") != "ProgressDeadlineExceeded":
                deadline = parse_time(progressing["lastUpdateTime"]) + int(
                    d["spec"]["progressDeadlineSeconds"]
                )
                if deadline < now_ts:
                    _set_condition(
                        new,
                        "Progressing",
                        "False",
                        "ProgressDeadlineExceeded",
                        f'ReplicaSet "{name}" has timed out progressing.',
                        now=now,
                    )
                else:
                    again = min(deadline - now_ts + 0.5, 5.0)  # requeueStuckDeployment (bounded: clocks move)
        failure = self._replica_failure(new_rs, old_rss)
        if failure is not None:
            _set_condition(new, "ReplicaFailure", "True", failure["reason"], failure["message"], now=now)
        else:
            new["conditions"] = [c for c in new.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        if not new.get("conditions"):
            new.pop("conditions", None)
        if new != old_status:
            self._write_status(d, new)
        return again

    def _replica_failure(self, new_rs: JSON | None, old_rss: list[JSON]) -> JSON | None:
        for rs in [new_rs, *old_rss]:
            if rs is None:
                continue
            found = _condition(rs.get("status") or {}, "ReplicaFailure")
            if found is not None and found.get("status") == "True":
                return found
        return None

    def _write_status(self, d: JSON, status: JSON) -> None:
        current = self.client.get("deployments.apps", d["metadata"]["namespace"], d["metadata"]["name"])
        if current is None:
            return
        if current["metadata"].get("resourceVersion") != d["metadata"].get("resourceVersion"):
            raise ApiError(409, "Conflict", "the deployment changed while it was being synced")
        current["status"] = status
        d["metadata"] = self.client.replace("deployments.apps", current, subresource="status")["metadata"]
