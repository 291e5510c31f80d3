"""The timing flags of kube-controller-manager and kube-apiserver that the lab's controllers honour."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ControllerSettings:
    """Defaults are Kubernetes' own (v1.32); drills set them short."""

    node_monitor_grace_period: float = 50.0
    node_monitor_period: float = 5.0
    node_startup_grace_period: float = 60.0
    default_not_ready_toleration_seconds: int = 300
    default_unreachable_toleration_seconds: int = 300
    pod_gc_orphan_quarantine: float = 40.0
    resync_period: float = 30.0
