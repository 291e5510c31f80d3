"""core/v1 Events as client-go's recorder writes them, for every lab component (controllers in the API
server process, kubelets over HTTPS): the body, its name, and the key under which repeats are counted."""

from __future__ import annotations

from typing import Any

from vaultinject.lab.kube.clock import micro_time, rfc3339

JSON = dict[str, Any]
NORMAL = "Normal"
WARNING = "Warning"


def reference(obj: JSON, field_path: str = "") -> JSON:
    """An `involvedObject` reference to `obj`, as `ref.GetReference` builds it."""
    metadata = obj.get("metadata") or {}
    ref: JSON = {
        "kind": obj.get("kind", ""),
        "apiVersion": obj.get("apiVersion", ""),
        "name": metadata.get("name", ""),
        "uid": metadata.get("uid", ""),
        "resourceVersion": metadata.get("resourceVersion", ""),
    }
    if metadata.get("namespace"):
        ref["namespace"] = metadata["namespace"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


def correlation_key(
    ref: JSON, event_type: str, reason: str, message: str, *, component: str, host: str
) -> tuple[str, ...]:
    """Two events with the same key are one Event whose `count` grows (client-go's EventCorrelator)."""
    return (
        component,
        host,
        ref.get("kind", ""),
        ref.get("namespace", ""),
        ref.get("name", ""),
        ref.get("uid", ""),
        ref.get("fieldPath", ""),
        event_type,
        reason,
        message,
    )


def event_body(
    ref: JSON, event_type: str, reason: str, message: str, *, component: str, host: str, now: float
) -> JSON:
    """A new Event named `<object>.<nanoseconds in hex>`, in the object's namespace (`default` for
    cluster-scoped objects, as the recorder does)."""
    source: JSON = {"component": component}
    if host:
        source["host"] = host
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{ref.get('name', '')}.{int(now * 1e9):x}",
            "namespace": ref.get("namespace") or "default",
        },
        "involvedObject": ref,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": rfc3339(now),
        "lastTimestamp": rfc3339(now),
        "count": 1,
        "type": event_type,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host,
    }


def repeat_patch(count: int, now: float) -> JSON:
    """The merge patch that records one more occurrence of an existing Event."""
    return {"count": count, "lastTimestamp": rfc3339(now)}


__all__ = ["NORMAL", "WARNING", "correlation_key", "event_body", "micro_time", "reference", "repeat_patch"]
