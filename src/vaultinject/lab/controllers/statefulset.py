"""The StatefulSet controller (`pkg/controller/statefulset`): ordinal pods `<set>-<i>` with a stable
name, hostname and claim; OrderedReady (pod i only once 0..i-1 are Running and Ready, scale down in
reverse) or Parallel; a pod deleted is recreated under its name with a new UID once the old object is
gone (a Terminating one holds its slot); RollingUpdate from the highest ordinal, or OnDelete.

Claims contract (the lab has no PersistentVolume machinery): for each `volumeClaimTemplates` entry
`<tmpl>` the claim of pod `<set>-<i>` is `<tmpl>-<set>-<i>`. If the API server serves
`persistentvolumeclaims`, the claim object is created and the pod's volume refers to it. Otherwise the
pod gets volume `{"name": "<tmpl>", "emptyDir": {}}` and annotation
`lab.vaultinject.io/claim-<tmpl>: <tmpl>-<set>-<i>`; the kubelet backs a volume named in such an
annotation with `<data-dir>/claims/<namespace>/<claim>`, which survives the pod.

Not modelled: ControllerRevision objects (the revision hash is computed, not stored, so a partitioned
update recreates pods from the current template), `ordinals.start`, PVC retention policies."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, ClassVar

from vaultinject.lab.controllers.base import Controller, Key, key_of
from vaultinject.lab.controllers.client import ApiError
from vaultinject.lab.controllers.deployment import fnv32a, safe_encode
from vaultinject.lab.controllers.manager import register
from vaultinject.lab.controllers.replicaset import (
    available_in,
    is_running_and_ready,
    is_terminal,
    is_terminating,
    owner_key,
    pod_from_template,
)
from vaultinject.lab.kube.model import clone
from vaultinject.lab.kube.store import Change

JSON = dict[str, Any]
REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
CLAIM_ANNOTATION = "lab.vaultinject.io/claim-"


def revision_name(sts: JSON) -> str:
    """history.HashControllerRevision over the revision's data (the template as a replace patch)."""
    template = clone(sts["spec"]["template"])
    template["$patch"] = "replace"
    data = json.dumps({"spec": {"template": template}}, sort_keys=True, separators=(",", ":")).encode()
    collisions = int((sts.get("status") or {}).get("collisionCount") or 0)
    if collisions:
        data += str(collisions).encode()
    return f"{sts['metadata']['name']}-{safe_encode(str(fnv32a(data)))}"


def ordinal_of(sts: JSON, pod: JSON) -> int | None:
    prefix = f"{sts['metadata']['name']}-"
    name = pod["metadata"]["name"]
    if not name.startswith(prefix) or not name[len(prefix) :].isdigit():
        return None
    return int(name[len(prefix) :])


@register
class StatefulSetController(Controller):
    name = "statefulset-controller"
    watches: ClassVar[tuple[str, ...]] = ("statefulsets.apps", "pods")

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.storage == "pods":
            return owner_key(change.obj, "StatefulSet")
        return [key_of(change.obj)]

    def reconcile(self, key: Key) -> float | None:
        sts = self.client.get("statefulsets.apps", *key)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return None
        update_revision = revision_name(sts)
        status = sts.get("status") or {}
        current_revision = status.get("currentRevision") or update_revision
        replicas = int(sts["spec"].get("replicas", 1))
        ordered = sts["spec"].get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        pods = {o: p for p in self.client.owned("pods", sts) if (o := ordinal_of(sts, p)) is not None}
        self._sync(sts, pods, replicas, ordered, update_revision)
        pods = {o: p for p in self.client.owned("pods", sts) if (o := ordinal_of(sts, p)) is not None}
        return self._status(sts, list(pods.values()), current_revision, update_revision, replicas)

    def _sync(self, sts: JSON, pods: dict[int, JSON], replicas: int, ordered: bool, revision: str) -> None:
        for ordinal in range(replicas):
            pod = pods.get(ordinal)
            if pod is not None and is_terminal(pod) and not is_terminating(pod):
                self._delete(sts, pod)  # replaced on a later sync, once it is gone
                if ordered:
                    return
                continue
            if pod is None:
                self._create(sts, ordinal, revision)
                if ordered:
                    return
                continue
            if ordered and (is_terminating(pod) or not is_running_and_ready(pod)):
                return  # StatefulSet is waiting for Pod to be Running and Ready (or to Terminate)
        condemned = sorted((o for o in pods if o >= replicas), reverse=True)
        for ordinal in condemned:
            pod = pods[ordinal]
            if is_terminating(pod):
                if ordered:
                    return
                continue
            if ordered and any(not is_running_and_ready(p) for o, p in pods.items() if o < ordinal):
                return
            self._delete(sts, pod)
            if ordered:
                return
        if condemned:
            return
        strategy = sts["spec"].get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        live = [pods[o] for o in range(replicas) if o in pods]
        if len(live) < replicas or any(not is_running_and_ready(p) or is_terminating(p) for p in live):
            return  # an update proceeds only from a healthy set
        for ordinal in range(replicas - 1, partition - 1, -1):
            pod = pods[ordinal]
            if (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision:
                self._delete(sts, pod)
                return

    def _claims(self) -> bool:
        return any(r.storage_key == "persistentvolumeclaims" for r in self.cluster.registry.resources)

    def _create(self, sts: JSON, ordinal: int, revision: str) -> None:
        set_name = sts["metadata"]["name"]
        name = f"{set_name}-{ordinal}"
        namespace = sts["metadata"]["namespace"]
        pod = pod_from_template(sts["spec"]["template"], sts, name=name)
        labels = pod["metadata"].setdefault("labels", {})
        labels.update({POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal), REVISION_LABEL: revision})
        spec = pod["spec"]
        spec["hostname"] = name
        if sts["spec"].get("serviceName"):
            spec["subdomain"] = sts["spec"]["serviceName"]
        volumes = list(spec.get("volumes") or [])
        for template in sts["spec"].get("volumeClaimTemplates") or []:
            claim_template = template["metadata"]["name"]
            claim = f"{claim_template}-{name}"
            volumes = [v for v in volumes if v.get("name") != claim_template]
            if self._claims():
                self._ensure_claim(sts, template, claim, name)
                volumes.append({"name": claim_template, "persistentVolumeClaim": {"claimName": claim}})
            else:
                pod["metadata"].setdefault("annotations", {})[CLAIM_ANNOTATION + claim_template] = claim
                volumes.append({"name": claim_template, "emptyDir": {}})
        if volumes:
            spec["volumes"] = volumes
        try:
            self.client.create("pods", namespace, pod)
        except ApiError as error:
            if error.code != 409:
                self.events.warning(
                    sts,
                    "FailedCreate",
                    f"create Pod {name} in StatefulSet {set_name} failed error: {error.message}",
                )
            raise
        self.events.normal(sts, "SuccessfulCreate", f"create Pod {name} in StatefulSet {set_name} successful")

    def _ensure_claim(self, sts: JSON, template: JSON, claim: str, pod_name: str) -> None:
        namespace = sts["metadata"]["namespace"]
        if self.client.get("persistentvolumeclaims", namespace, claim) is not None:
            return
        body = clone(template)
        body["metadata"] = {
            "name": claim,
            "labels": dict(((sts["spec"].get("selector") or {}).get("matchLabels")) or {}),
        }
        self.client.create("persistentvolumeclaims", namespace, body)
        set_name = sts["metadata"]["name"]
        self.events.normal(
            sts, "SuccessfulCreate", f"create Claim {claim} Pod {pod_name} in StatefulSet {set_name} success"
        )

    def _delete(self, sts: JSON, pod: JSON) -> None:
        name = pod["metadata"]["name"]
        self.client.delete("pods", pod["metadata"]["namespace"], name, uid=pod["metadata"]["uid"])
        self.events.normal(
            sts, "SuccessfulDelete", f"delete Pod {name} in StatefulSet {sts['metadata']['name']} successful"
        )

    def _status(self, sts: JSON, pods: list[JSON], current: str, update: str, replicas: int) -> float | None:
        min_ready = int(sts["spec"].get("minReadySeconds") or 0)
        now = self.clock.now()
        created = [p for p in pods if (p.get("status") or {}).get("phase")]
        ready = [p for p in created if is_running_and_ready(p)]
        waits = [w for p in ready if (w := available_in(p, min_ready, now))]
        live = [p for p in created if not is_terminating(p)]
        at = [(p["metadata"].get("labels") or {}).get(REVISION_LABEL) for p in live]
        status: JSON = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(created),
            "readyReplicas": len(ready),
            "currentReplicas": at.count(current),
            "updatedReplicas": at.count(update),
            "currentRevision": current,
            "updateRevision": update,
            "collisionCount": int((sts.get("status") or {}).get("collisionCount") or 0),
            "availableReplicas": len(ready) - len(waits),
        }
        strategy = (sts["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate")
        counts = (status["updatedReplicas"], status["readyReplicas"], status["replicas"])
        if strategy == "RollingUpdate" and counts == (replicas, replicas, replicas):  # completeRollingUpdate
            status["currentRevision"] = update
            status["currentReplicas"] = status["updatedReplicas"]
        keep = {"replicas", "availableReplicas", "collisionCount", "currentRevision", "updateRevision"}
        status = {k: v for k, v in status.items() if v or k in keep}
        if status != (sts.get("status") or {}):
            updated = clone(sts)
            updated["status"] = status
            self.client.replace("statefulsets.apps", updated, subresource="status")
        return min(waits) + 0.05 if waits else None
