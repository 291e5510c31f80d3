"""Whether a pod gets agents: the upstream decision flow (opt-in, status, phase, system namespaces)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from vaultinject.spec import SpecError, vault_key
from vaultinject.spec.values import parse_bool

INJECT = vault_key("agent-inject")
STATUS = vault_key("agent-inject-status")
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public"})


class Decision(NamedTuple):
    """`inject` is True, or `reason` says why the pod passes untouched."""

    inject: bool
    reason: str


def decide(pod: Mapping[str, Any], namespace: str) -> Decision:
    """Decide as upstream does; raise SpecError when the pod opts in but cannot be injected."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(INJECT)
    if raw is None:
        return Decision(False, f"no {INJECT} annotation")
    try:
        wanted = parse_bool(raw)  # Vault's ParseBool, as upstream: the empty string is false
    except ValueError as exc:
        raise SpecError(INJECT, f"error checking if should inject agent: {exc}") from None
    if not wanted:
        return Decision(False, f"{INJECT} is {raw!r}")
    phase = (pod.get("status") or {}).get("phase")
    if phase and phase != "Pending":
        return Decision(False, f"the pod is {phase}; only Pending pods are injected")
    if annotations.get(STATUS) == "injected":
        return Decision(False, f"already injected ({STATUS}: injected)")
    if namespace in SYSTEM_NAMESPACES:
        raise SpecError(
            INJECT, f"cannot inject into system namespace {namespace}; run the workload elsewhere"
        )
    return Decision(True, "the pod opts in")
