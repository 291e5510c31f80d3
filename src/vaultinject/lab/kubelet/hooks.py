"""Lifecycle hooks (`postStart`, `preStop`) as the kubelet runs them, with its failure texts."""

from __future__ import annotations

import threading
from typing import Any

from vaultinject.lab.kubelet.probes import Result, run_handler
from vaultinject.lab.kubelet.runtime import Container
from vaultinject.lab.kubelet.status import go_list, pod_ref

JSON = dict[str, Any]
HOOK_TIMEOUT = 30.0


def run_hook(
    name: str, spec: JSON, pod: JSON, process: Container, *, pod_ip: str, stop: threading.Event | None = None
) -> str:
    """Run `spec.lifecycle.<name>`; returns "" on success (or no hook), else the kubelet's event message."""
    handler = (spec.get("lifecycle") or {}).get(name)
    if not isinstance(handler, dict):
        return ""
    if "sleep" in handler:
        seconds = float((handler["sleep"] or {}).get("seconds", 0))
        (stop or threading.Event()).wait(seconds)
        return ""
    result: Result = run_handler(handler, spec, process, pod_ip, HOOK_TIMEOUT)
    if result.ok:
        return ""
    where = f'for Container "{spec.get("name", "")}" in Pod "{pod_ref(pod)}"'
    if "exec" in handler:
        command = [str(a) for a in handler["exec"].get("command") or []]
        return (
            f'Exec lifecycle hook ({go_list(command)}) {where} failed - error: {result.output}, message: ""'
        )
    path = (handler.get("httpGet") or {}).get("path", "")
    return f"HTTP lifecycle hook ({path}) {where} failed - error: {result.output}"
