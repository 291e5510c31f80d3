"""The agent containers: command, environment, mounts, resources, security context and probes."""

from __future__ import annotations

from typing import Any, NamedTuple

from vaultinject.injector import jsonpatch
from vaultinject.injector.names import INIT_CONTAINER, SIDECAR, is_injected_volume
from vaultinject.spec import READY_FILE, STARTED_FILE, InjectionSpec, SpecError, paths, vault_key

AGENT_COMMAND = ["vaultinject-agent"]  # the console script of `python -m vaultinject.agent`
# The native agent's postStart hook holds the app until the first render is complete: the kubelet starts the
# next container only after a sidecar's postStart returns, so the app starts then, not at the next startup
# probe (1 s period). Past this many seconds the hook returns and the startup probe gates (a failing hook
# would get the agent killed).
START_HOOK_SECONDS = 20


class AgentContext(NamedTuple):
    """What every agent container shares, resolved from the spec and the pod."""

    spec: InjectionSpec
    mounts: list[dict[str, Any]]
    env: list[dict[str, Any]]
    run_as_user: int
    token_volume: str  # the volume holding the service-account token the agents log in with


def init_container(context: AgentContext) -> dict[str, Any]:
    """`vault-agent-init`: renders every secret once, then exits so the app can start."""
    container = _base(INIT_CONTAINER, "init", context)
    return _patched(container, context, context.spec.init_json_patch, "agent-init-json-patch")


def sidecar_container(context: AgentContext) -> dict[str, Any]:
    """Classic `vault-agent`: resumes from the init container's state, keeps secrets fresh."""
    container = _base(SIDECAR, "sidecar", context)
    container["readinessProbe"] = _marker_probe(READY_FILE, period=5, failures=2)
    return _patched(container, context, context.spec.agent_json_patch, "agent-json-patch")


def native_container(context: AgentContext) -> dict[str, Any]:
    """Native `vault-agent`: an init container that keeps running; its startup probe gates the app."""
    container = _base(SIDECAR, "native", context)
    container["restartPolicy"] = "Always"
    container["startupProbe"] = _marker_probe(STARTED_FILE, period=1, failures=300)
    container["readinessProbe"] = _marker_probe(READY_FILE, period=5, failures=2)
    hook = [*AGENT_COMMAND, "--wait-for-start", str(START_HOOK_SECONDS), STARTED_FILE]
    container["lifecycle"] = {"postStart": {"exec": {"command": hook}}}
    return _patched(container, context, context.spec.agent_json_patch, "agent-json-patch")


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


def _patched(
    container: dict[str, Any], context: AgentContext, patch: tuple[Any, ...], annotation: str
) -> dict[str, Any]:
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
    before = _relied_on(container, context.token_volume)
    after = _relied_on(patched, context.token_volume)
    changed = next((field for field in before if before[field] != after.get(field)), None)
    if changed is not None:
        index, operation = _first_change(container, patch, changed, context.token_volume)
        touched = operation.get("path")
        if "from" in operation:
            touched = f"{operation['from']} to {touched}"
        raise SpecError(
            vault_key(annotation),
            f"operation {index} ({operation.get('op')} {touched}) changes the {container['name']} "
            f"container's {changed}, which the injection relies on; patch other fields (resources, "
            "securityContext, env of your own, extra volumeMounts)",
        )
    return patched


def _relied_on(container: Any, token_volume: str) -> dict[str, Any]:
    """What injection, the probes and the agent rely on in an agent container, by field label.

    Its name (re-injection, the pod's other checks), command and args (the agent's mode),
    restartPolicy (a native sidecar keeps running; an init agent must exit), the probes' commands and
    the postStart hook (the markers that gate the app), its mounts of the injector's volumes and of
    the token (as the runtime cleans their paths, so nothing shadows them), and the environment the
    agent reads.
    """
    if not isinstance(container, dict):
        return {}
    fields: dict[str, Any] = {key: container.get(key) for key in ("name", "command", "args", "restartPolicy")}
    for probe in ("startupProbe", "readinessProbe"):
        value = container.get(probe)
        fields[f"{probe} command"] = value.get("exec") if isinstance(value, dict) else value
    lifecycle = container.get("lifecycle")
    fields["postStart hook"] = lifecycle.get("postStart") if isinstance(lifecycle, dict) else lifecycle
    mounts = [m for m in container.get("volumeMounts") or [] if isinstance(m, dict)]
    for mount in mounts:
        name = mount.get("name")
        if isinstance(name, str) and (name == token_volume or is_injected_volume(name)):
            fields[f"volume mount {name}"] = _mounts_of(mounts, name, _clean(mount.get("mountPath")))
    for variable in container.get("env") or []:
        if isinstance(variable, dict) and isinstance(variable.get("name"), str):
            fields[f"env {variable['name']}"] = variable  # the last of a name wins, as in Kubernetes
    return fields


def _mounts_of(mounts: list[dict[str, Any]], name: str, path: str) -> list[Any]:
    """Every mount of volume `name` or at `path`, paths cleaned."""
    found = [
        {**m, "mountPath": _clean(m.get("mountPath"))}
        for m in mounts
        if m.get("name") == name or _clean(m.get("mountPath")) == path
    ]
    return sorted(found, key=repr)


def _clean(path: Any) -> Any:
    return paths.clean(path) if isinstance(path, str) else path


def _first_change(
    container: dict[str, Any], patch: tuple[Any, ...], field: str, token_volume: str
) -> tuple[int, Any]:
    """The operation after which `field` last went from intact to changed."""
    original = _relied_on(container, token_volume).get(field)
    current: Any = container
    culprit = (len(patch) - 1, patch[-1])
    intact = True
    for index, operation in enumerate(patch):
        current = jsonpatch.apply(current, [operation])
        now_intact = _relied_on(current, token_volume).get(field) == original
        if intact and not now_intact:
            culprit = (index, operation)
        intact = now_intact
    return culprit
