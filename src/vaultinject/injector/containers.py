"""The agent containers: command, environment, mounts, resources, security context and probes."""

from __future__ import annotations

from typing import Any, NamedTuple

from vaultinject.injector import jsonpatch
from vaultinject.injector.names import INIT_CONTAINER, SIDECAR
from vaultinject.spec import READY_FILE, STARTED_FILE, InjectionSpec, SpecError, vault_key

AGENT_COMMAND = ["vaultinject-agent"]  # the console script of `python -m vaultinject.agent`


class AgentContext(NamedTuple):
    """What every agent container shares, resolved from the spec and the pod."""

    spec: InjectionSpec
    mounts: list[dict[str, Any]]
    env: list[dict[str, Any]]
    run_as_user: int


def init_container(context: AgentContext) -> dict[str, Any]:
    """`vault-agent-init`: renders every secret once, then exits so the app can start."""
    container = _base(INIT_CONTAINER, "init", context)
    return _patched(container, context.spec.init_json_patch, "agent-init-json-patch")


def sidecar_container(context: AgentContext) -> dict[str, Any]:
    """Classic `vault-agent`: resumes from the init container's state, keeps secrets fresh."""
    container = _base(SIDECAR, "sidecar", context)
    container["readinessProbe"] = _marker_probe(READY_FILE, period=5, failures=2)
    return _patched(container, context.spec.agent_json_patch, "agent-json-patch")


def native_container(context: AgentContext) -> dict[str, Any]:
    """Native `vault-agent`: an init container that keeps running; its startup probe gates the app."""
    container = _base(SIDECAR, "native", context)
    container["restartPolicy"] = "Always"
    container["startupProbe"] = _marker_probe(STARTED_FILE, period=1, failures=300)
    container["readinessProbe"] = _marker_probe(READY_FILE, period=5, failures=2)
    return _patched(container, context.spec.agent_json_patch, "agent-json-patch")


def _base(name: str, mode: str, context: AgentContext) -> dict[str, Any]:
    spec = context.spec
    container: dict[str, Any] = {
        "name": name,
        "image": spec.image,
        "command": list(AGENT_COMMAND),
        "args": ["--mode", mode],
        "env": list(context.env),  # entries are shared, never modified in place
        "resources": _resources(spec),
        "volumeMounts": [dict(mount) for mount in context.mounts],
        # `kubectl describe` shows the agent's last log lines when it fails.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if spec.security.set_security_context:
        container["securityContext"] = _security_context(context.run_as_user, spec.security.run_as_group)
    return container


def _resources(spec: InjectionSpec) -> dict[str, dict[str, str]]:
    resources = {"requests": dict(spec.resources.requests), "limits": dict(spec.resources.limits)}
    return {kind: values for kind, values in resources.items() if values}


def _security_context(uid: int, gid: int) -> dict[str, Any]:
    """The Pod Security Standards "restricted" profile (runAsNonRoot is false only for uid or gid 0)."""
    return {
        "runAsUser": uid,
        "runAsGroup": gid,
        "runAsNonRoot": uid != 0 and gid != 0,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _marker_probe(marker: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "exec": {"command": ["test", "-e", marker]},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 1,
    }


def _patched(container: dict[str, Any], patch: tuple[Any, ...], annotation: str) -> dict[str, Any]:
    if not patch:
        return container
    try:
        patched = jsonpatch.apply(container, patch)
    except jsonpatch.PatchError as exc:
        raise SpecError(
            vault_key(annotation), f"cannot be applied to the {container['name']} container: {exc}"
        ) from None
    if not isinstance(patched, dict) or not isinstance(patched.get("name"), str):
        raise SpecError(vault_key(annotation), "must leave a container object with a name")
    return patched
