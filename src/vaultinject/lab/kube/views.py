"""Two API views of one stored kind: events.k8s.io/v1 Events are stored as core v1 Events."""

from __future__ import annotations

from typing import Any

from vaultinject.lab.kube.resources import ResourceType

JSON = dict[str, Any]

# events.k8s.io/v1 field -> core/v1 field
_EVENT_FIELDS = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "reportingInstance": "reportingInstance",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_SHARED = ("eventTime", "series", "action", "reason", "related", "type")


def is_view(rt: ResourceType) -> bool:
    """Whether `rt` is a second view over another kind's storage."""
    return rt.group == "events.k8s.io"


def to_storage(rt: ResourceType, obj: JSON) -> JSON:
    """The stored (core v1) form of an object received through `rt`."""
    if not is_view(rt):
        return obj
    core: JSON = {"apiVersion": "v1", "kind": "Event", "metadata": obj.get("metadata") or {}}
    for view_field, core_field in _EVENT_FIELDS.items():
        if obj.get(view_field) is not None:
            core[core_field] = obj[view_field]
    for name in _SHARED:
        if obj.get(name) is not None:
            core[name] = obj[name]
    if isinstance(core.get("series"), dict):
        core["series"] = {k: v for k, v in core["series"].items() if k in {"count", "lastObservedTime"}}
    return core


def from_storage(rt: ResourceType, obj: JSON) -> JSON:
    """The object as `rt` presents it."""
    if not is_view(rt):
        return obj
    view: JSON = {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": obj.get("metadata") or {}}
    view["eventTime"] = obj.get("eventTime")
    for view_field, core_field in _EVENT_FIELDS.items():
        if obj.get(core_field) not in (None, "", 0, {}):
            view[view_field] = obj[core_field]
    for name in _SHARED:
        if obj.get(name) is not None and name != "eventTime":
            view[name] = obj[name]
    return view
