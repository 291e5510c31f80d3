"""Injection spec + pod to the mutated pod and an RFC 6902 patch. Pure: no I/O.

Modes: native sidecar (one agent; its startup probe gates the app until the first render), classic
init container + sidecar, and init only (Jobs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from vaultinject.injector import jsonpatch
from vaultinject.injector.decision import Decision, decide
from vaultinject.injector.mutate import mutate
from vaultinject.injector.names import INIT_CONTAINER, SIDECAR
from vaultinject.spec import InjectionSpec, Settings, SpecError, parse

__all__ = ["INIT_CONTAINER", "SIDECAR", "Decision", "Injection", "SpecError", "decide", "inject"]


class Injection(NamedTuple):
    """The outcome for one pod: the mutated pod and its patch, or why it passes untouched."""

    pod: dict[str, Any]
    patch: list[dict[str, Any]]
    spec: InjectionSpec | None
    warnings: tuple[str, ...]
    reason: str

    @property
    def injected(self) -> bool:
        return self.spec is not None


def inject(
    pod: Mapping[str, Any], settings: Settings | None = None, namespace: str | None = None
) -> Injection:
    """Inject `pod` if it opts in; raise `SpecError` if it opts in but cannot be injected.

    `namespace` is the admission request's namespace; by default the pod's own, else `default`.
    """
    settings = settings or Settings()
    namespace = namespace or (pod.get("metadata") or {}).get("namespace") or "default"
    decision = decide(pod, namespace)
    if not decision.inject:
        return Injection(jsonpatch.copy_json(pod), [], None, (), decision.reason)
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    spec = parse(annotations, settings)
    mutated, warnings = mutate(dict(pod), spec, settings)
    return Injection(mutated, jsonpatch.diff(pod, mutated), spec, tuple(warnings), decision.reason)
