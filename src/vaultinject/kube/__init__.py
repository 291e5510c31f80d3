"""The product's Kubernetes access: a thin async layer on lightkube, shared by the webhook and the healer.

- `load_config()` finds the cluster as kubectl and client-go do; `Kube(config)` talks to it with typed
  lightkube objects and raises our `KubeError` family (`NotFound`, `Conflict`, `Gone`, ...).
- `watch()` lists, then watches, resumes, and re-lists on 410 Gone without losing a change.
- `EventRecorder` writes Events, deduplicated with counts as client-go's recorder does.
- `LeaderElector` holds a `coordination.k8s.io/v1` Lease and runs the leader's work only while it is held.
"""

from vaultinject.kube.client import Kube
from vaultinject.kube.config import load_config
from vaultinject.kube.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    KubeConfigError,
    KubeError,
    NotFound,
    Unauthorized,
    Unreachable,
)
from vaultinject.kube.events import EventRecorder
from vaultinject.kube.leader import LeaderElector
from vaultinject.kube.watch import WatchEvent, watch

__all__ = [
    "AlreadyExists",
    "Conflict",
    "EventRecorder",
    "Forbidden",
    "Gone",
    "Invalid",
    "Kube",
    "KubeConfigError",
    "KubeError",
    "LeaderElector",
    "NotFound",
    "Unauthorized",
    "Unreachable",
    "WatchEvent",
    "load_config",
    "watch",
]
