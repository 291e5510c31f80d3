"""Node predicates shared by the scheduler, the node lifecycle, taint eviction and DaemonSet controllers:
Ready, taints and tolerations (`v1helper.TolerationsTolerateTaint`), node selectors and required node
affinity (`nodeaffinity.GetRequiredNodeAffinity`)."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
NO_SCHEDULE, NO_EXECUTE = "NoSchedule", "NoExecute"


def condition(obj: JSON, kind: str) -> JSON | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def ready_status(node: JSON) -> str:
    """The node's Ready condition status: True, False or Unknown (Unknown when never posted)."""
    found = condition(node, "Ready")
    return str(found.get("status", "Unknown")) if found else "Unknown"


def pod_ready(pod: JSON) -> bool:
    found = condition(pod, "Ready")
    return bool(found and found.get("status") == "True")


def taints(node: JSON) -> list[JSON]:
    return [t for t in (node.get("spec") or {}).get("taints") or [] if isinstance(t, dict)]


def tolerates(toleration: JSON, taint: JSON) -> bool:
    """`Toleration.ToleratesTaint`: effect, key (empty key with Exists matches all) and value."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if key and key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated(node_taints: list[JSON], tolerations: list[JSON], effects: tuple[str, ...]) -> JSON | None:
    """The first taint with one of `effects` that no toleration covers."""
    for taint in node_taints:
        if taint.get("effect") in effects and not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def tolerations_of(pod: JSON) -> list[JSON]:
    return [t for t in (pod.get("spec") or {}).get("tolerations") or [] if isinstance(t, dict)]


def _requirement(expression: JSON, values_of: JSON) -> bool:
    key, operator = expression.get("key", ""), expression.get("operator", "")
    values = [str(v) for v in expression.get("values") or []]
    present = key in values_of
    value = str(values_of.get(key, ""))
    if operator == "In":
        return present and value in values
    if operator == "NotIn":
        return not present or value not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(values) == 1:
        try:
            have, want = int(value), int(values[0])
        except ValueError:
            return False
        return have > want if operator == "Gt" else have < want
    return False


def _term_matches(term: JSON, node: JSON) -> bool:
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term matches no objects
    labels = node["metadata"].get("labels") or {}
    names = {"metadata.name": node["metadata"]["name"]}
    return all(_requirement(e, labels) for e in expressions) and all(_requirement(f, names) for f in fields)


def required_terms(pod: JSON) -> list[JSON] | None:
    """The pod's required node affinity terms, or None when it has none."""
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if not isinstance(required, dict):
        return None
    return [t for t in required.get("nodeSelectorTerms") or [] if isinstance(t, dict)]


def matches_node(pod: JSON, node: JSON) -> bool:
    """nodeSelector (every label) and required node affinity (any term)."""
    labels = node["metadata"].get("labels") or {}
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    terms = required_terms(pod)
    return terms is None or any(_term_matches(t, node) for t in terms)


def affinity_node_name(pod: JSON) -> str | None:
    """The node a DaemonSet pod is pinned to through `matchFields` metadata.name In [node]."""
    for term in required_terms(pod) or []:
        for field in term.get("matchFields") or []:
            values = field.get("values") or []
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and len(values) == 1:
                return str(values[0])
    return None


def node_of(pod: JSON) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def is_terminal(pod: JSON) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
