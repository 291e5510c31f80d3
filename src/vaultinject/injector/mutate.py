"""Spec + pod to the mutated pod: volumes, mounts, agent containers, the status annotation."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

from vaultinject.injector import names
from vaultinject.injector.containers import AgentContext, init_container, native_container, sidecar_container
from vaultinject.injector.decision import STATUS
from vaultinject.injector.jsonpatch import copy_json
from vaultinject.spec import (
    AGENT_STATE_PATH,
    AGENT_TOKEN_MOUNT_PATH,
    EXTRA_SECRET_PATH,
    PODINFO_PATH,
    TLS_SECRET_PATH,
    InjectionSpec,
    Mode,
    Settings,
    SpecError,
    paths,
    vault_key,
)
from vaultinject.spec.settings import env_name

Json = dict[str, Any]


class TokenSource(NamedTuple):
    """Where the agents find the pod's service-account token."""

    mount: Json  # the agents' volumeMount
    volume: Json | None  # a projected volume to add, when the pod has no token mount of its own
    file: str  # the token file inside the agent containers


def mutate(pod: Mapping[str, Any], spec: InjectionSpec, settings: Settings) -> tuple[Json, list[str]]:
    """Return an injected `pod` and warnings for the operator; raise SpecError if impossible.

    Copy on write: the input is never modified, and the result shares every part injection does not
    change with it (so the patch is computed quickly, by identity, from the final lists).
    """
    warnings = list(spec.warnings)
    metadata = dict(pod.get("metadata") or {})
    annotations = metadata.get("annotations") or {}
    pod_spec = dict(pod.get("spec") or {})
    pod = {**pod, "metadata": metadata, "spec": pod_spec}
    if STATUS in annotations:
        _strip_previous_injection(pod_spec)
    else:
        _check_name_collisions(pod_spec)
    token = _service_account_token(pod_spec, spec)
    context = AgentContext(
        spec=spec,
        mounts=_agent_mounts(pod_spec, spec, token, warnings),
        env=_agent_env(settings, token),
        run_as_user=_run_as_user(pod_spec, spec),
        token_volume=token.mount["name"],
    )
    _set_share_process_namespace(pod_spec, spec)
    pod_spec["volumes"] = (pod_spec.get("volumes") or []) + _volumes(spec, token, settings)
    _mount_secrets(pod_spec, spec, warnings)
    _add_agents(pod_spec, spec, context)
    metadata["annotations"] = {**annotations, STATUS: "injected"}
    return pod, warnings


def _strip_previous_injection(pod_spec: Json) -> None:
    """Re-injection (status other than `injected`, e.g. `update`): remove what an earlier one added."""
    for key in ("initContainers", "containers"):
        kept = [c for c in pod_spec.get(key) or [] if c.get("name") not in names.AGENT_CONTAINERS]
        if key in pod_spec:
            pod_spec[key] = [_without_injected_mounts(container) for container in kept]
    if "volumes" in pod_spec:
        pod_spec["volumes"] = [
            v for v in pod_spec["volumes"] or [] if not names.is_injected_volume(v.get("name", ""))
        ]


def _without_injected_mounts(container: Json) -> Json:
    mounts = [
        m for m in container.get("volumeMounts") or [] if not names.is_injected_volume(m.get("name", ""))
    ]
    return {**container, "volumeMounts": mounts} if "volumeMounts" in container else container


def _check_name_collisions(pod_spec: Json) -> None:
    for key in ("initContainers", "containers"):
        for container in pod_spec.get(key) or []:
            if container.get("name") in names.AGENT_CONTAINERS:
                raise SpecError(
                    vault_key("agent-inject"),
                    f"the pod already has a container named {container['name']}; rename it, or set "
                    f"{STATUS}: update to inject again",
                )
    for volume in pod_spec.get("volumes") or []:
        if names.is_injected_volume(volume.get("name", "")):
            raise SpecError(
                vault_key("agent-inject"),
                f"the pod already has a volume named {volume['name']}, a name the injector uses; rename it",
            )


def _app_containers(pod_spec: Json) -> list[Json]:
    return list(pod_spec.get("containers") or [])


KUBERNETES_TOKEN_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"  # kube-api-access-* or legacy secret


def _service_account_token(pod_spec: Json, spec: InjectionSpec) -> TokenSource:
    """The Kubernetes service-account token the agents log in with.

    Not simply the first mount named like a token: EKS mounts its IRSA and Pod Identity tokens at
    `/var/run/secrets/{,pods.}eks.amazonaws.com/serviceaccount`, for AWS, not Vault (vault-k8s #544, #793).
    """
    volumes = {v.get("name"): v for v in pod_spec.get("volumes") or []}
    wanted = spec.service_account_token_volume
    if wanted:
        return _named_token_volume(pod_spec, volumes, wanted)
    found = _app_token_mount(pod_spec, volumes, spec.token_audience)
    if found is not None:
        mount, file = found
        agent_mount = {"name": mount["name"], "mountPath": mount["mountPath"], "readOnly": True}
        return TokenSource(agent_mount, None, file)
    # No app container mounts a token with the audience the role expects: bring our own.
    mount = {"name": names.TOKEN_VOLUME, "mountPath": AGENT_TOKEN_MOUNT_PATH, "readOnly": True}
    return TokenSource(mount, {"name": names.TOKEN_VOLUME}, paths.join(AGENT_TOKEN_MOUNT_PATH, "token"))


def _app_token_mount(
    pod_spec: Json, volumes: dict[str, Json], audience: str | None
) -> tuple[Json, str] | None:
    """An app container's mount of a Kubernetes token with `audience` (None: the API server's), and its file.

    The standard mount carries the API server's audience; a projected token carries its own.
    """
    mounts = [m for c in _app_containers(pod_spec) for m in c.get("volumeMounts") or []]
    if audience is None:
        for mount in mounts:
            if paths.clean(mount.get("mountPath") or "") == KUBERNETES_TOKEN_MOUNT:
                return mount, paths.join(mount["mountPath"], "token")
    for mount in mounts:
        source = _projected_token(volumes.get(mount.get("name")) or {})
        if source is not None and (source.get("audience") or None) == audience:
            return mount, paths.join(mount["mountPath"], str(source["path"]))
    return None


def _named_token_volume(pod_spec: Json, volumes: dict[str, Json], wanted: str) -> TokenSource:
    annotation = vault_key("agent-service-account-token-volume-name")
    if wanted not in volumes:
        raise SpecError(
            annotation, f"failed to find service account volume {wanted!r}; name a volume of this pod"
        )
    source = _projected_token(volumes[wanted])
    if source is None:
        raise SpecError(
            annotation,
            f"failed to find tokenPath for projected volume {wanted!r}; give it a serviceAccountToken source",
        )
    mount_path = AGENT_TOKEN_MOUNT_PATH
    for container in _app_containers(pod_spec):
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") == wanted:
                mount_path = mount["mountPath"]
                break
    agent_mount = {"name": wanted, "mountPath": mount_path, "readOnly": True}
    return TokenSource(agent_mount, None, paths.join(mount_path, str(source["path"])))


def _projected_token(volume: Json) -> Json | None:
    """The first serviceAccountToken source with a path of a projected volume."""
    for source in (volume.get("projected") or {}).get("sources") or []:
        token = source.get("serviceAccountToken") or {}
        if token.get("path"):
            return dict(token)
    return None


def _run_as_user(pod_spec: Json, spec: InjectionSpec) -> int:
    """The agents' uid: the first app container's when `agent-run-as-same-user` is set."""
    if not spec.security.run_as_same_user:
        return spec.security.run_as_user
    annotation = vault_key("agent-run-as-same-user")
    containers = _app_containers(pod_spec)
    if not containers:
        raise SpecError(annotation, "No containers found in Pod Spec")
    context = containers[0].get("securityContext")
    if context is None:
        raise SpecError(annotation, "No SecurityContext found for Container 0; set its runAsUser")
    uid = context.get("runAsUser")
    if uid is None:
        raise SpecError(annotation, "RunAsUser is nil for Container 0's SecurityContext; set it")
    if uid == 0:
        raise SpecError(
            annotation, "container not allowed to run as root; give container 0 a non-zero runAsUser"
        )
    return int(uid)


def _set_share_process_namespace(pod_spec: Json, spec: InjectionSpec) -> None:
    wanted = spec.share_process_namespace
    if wanted is None:
        return
    if wanted and pod_spec.get("shareProcessNamespace") is False:
        raise SpecError(
            vault_key("agent-share-process-namespace"),
            "shareProcessNamespace explicitly disabled on the pod, refusing to enable it",
        )
    pod_spec["shareProcessNamespace"] = wanted


def _custom_paths(spec: InjectionSpec) -> list[str]:
    """Distinct per-secret directories other than the shared one, in secret order."""
    paths: dict[str, None] = {}
    for secret in spec.secrets:
        if secret.mount_path != spec.secret_volume_path:
            paths.setdefault(secret.mount_path, None)
    return list(paths)


def _secret_mounts(spec: InjectionSpec) -> list[Json]:
    mounts = [{"name": names.SECRETS_VOLUME, "mountPath": spec.secret_volume_path}]
    for index, path in enumerate(_custom_paths(spec)):
        mounts.append({"name": names.CUSTOM_SECRETS_VOLUME.format(index=index), "mountPath": path})
    return mounts


def _volumes(spec: InjectionSpec, token: TokenSource, settings: Settings) -> list[Json]:
    volumes: list[Json] = [
        {"name": names.STATE_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
        {"name": names.PODINFO_VOLUME, "downwardAPI": {"items": [_downward_annotations()]}},
    ]
    volumes += [{"name": mount["name"], "emptyDir": {"medium": "Memory"}} for mount in _secret_mounts(spec)]
    if spec.extra_secret:
        volumes.append({"name": names.EXTRA_SECRET_VOLUME, "secret": {"secretName": spec.extra_secret}})
    if spec.vault.tls_secret:
        volumes.append({"name": names.TLS_SECRET_VOLUME, "secret": {"secretName": spec.vault.tls_secret}})
    if token.volume is not None:
        volumes.append(_token_volume(spec, settings))
    return volumes


def _downward_annotations() -> Json:
    return {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}


def _token_volume(spec: InjectionSpec, settings: Settings) -> Json:
    source: Json = {"path": "token", "expirationSeconds": settings.token_expiration_seconds}
    if spec.token_audience:
        source["audience"] = spec.token_audience
    return {"name": names.TOKEN_VOLUME, "projected": {"sources": [{"serviceAccountToken": source}]}}


def _agent_mounts(pod_spec: Json, spec: InjectionSpec, token: TokenSource, warnings: list[str]) -> list[Json]:
    mounts: list[Json] = [
        token.mount,
        {"name": names.STATE_VOLUME, "mountPath": AGENT_STATE_PATH},
        {"name": names.PODINFO_VOLUME, "mountPath": PODINFO_PATH, "readOnly": True},
        *_secret_mounts(spec),
    ]
    if spec.extra_secret:
        mounts.append({"name": names.EXTRA_SECRET_VOLUME, "mountPath": EXTRA_SECRET_PATH, "readOnly": True})
    _check_distinct_paths(mounts)
    mounts += _copied_mounts(pod_spec, spec, {paths.clean(m["mountPath"]) for m in mounts}, warnings)
    if spec.vault.tls_secret:
        mounts.append({"name": names.TLS_SECRET_VOLUME, "mountPath": TLS_SECRET_PATH, "readOnly": True})
    return mounts


def _check_distinct_paths(mounts: list[Json]) -> None:
    """Two of the agent's own mounts at one path (as the runtime cleans it) would hide one of them."""
    seen: dict[str, str] = {}
    for mount in mounts:
        path = paths.clean(mount["mountPath"])
        other = seen.setdefault(path, mount["name"])
        if other != mount["name"]:
            raise SpecError(
                vault_key("secret-volume-path"),
                f"the agent would mount both {other} and {mount['name']} at {path}; choose another path",
            )


def _copied_mounts(pod_spec: Json, spec: InjectionSpec, taken: set[str], warnings: list[str]) -> list[Json]:
    """`agent-copy-volume-mounts`: a container's mounts, minus service-account tokens and clashes."""
    source = spec.copy_volume_mounts
    if not source:
        return []
    containers = (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or [])
    matches = [c for c in containers if c.get("name") == source]
    if not matches:
        warnings.append(f"{vault_key('agent-copy-volume-mounts')}: the pod has no container {source!r}")
        return []
    copied = []
    for mount in matches[0].get("volumeMounts") or []:
        path = mount.get("mountPath", "")
        if "serviceaccount" in path.lower():
            continue
        if paths.clean(path) in taken:
            warnings.append(f"{vault_key('agent-copy-volume-mounts')}: {path} is the agent's own, not copied")
            continue
        copied.append(copy_json(mount))
    return copied


def _agent_env(settings: Settings, token: TokenSource) -> list[Json]:
    env: list[Json] = [
        _field_env("NAMESPACE", "metadata.namespace"),
        _field_env("POD_NAME", "metadata.name"),
        _field_env("HOST_IP", "status.hostIP"),
        _field_env("POD_IP", "status.podIP"),
    ]
    variables = _agent_environment(settings)
    if token.file != paths.clean(settings.token_path):
        variables[env_name("token_path")] = token.file
    env += [{"name": name, "value": value} for name, value in sorted(variables.items())]
    return env


@functools.lru_cache(maxsize=16)
def _agent_variables(settings: Settings) -> tuple[tuple[str, str], ...]:
    return tuple(settings.agent_environment().items())


def _agent_environment(settings: Settings) -> dict[str, str]:
    """The agents' settings variables; computed once per Settings (the webhook has one for its life)."""
    return dict(_agent_variables(settings))


def _field_env(name: str, field_path: str) -> Json:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}


def _mount_secrets(pod_spec: Json, spec: InjectionSpec, warnings: list[str]) -> None:
    """Secret volumes on the chosen app containers, and on user init containers when an agent runs first."""
    mounts = _secret_mounts(spec)
    wanted = spec.inject_containers
    app = _app_containers(pod_spec)
    if wanted is not None:
        missing = sorted(set(wanted) - {c.get("name") for c in app})
        if missing:
            warnings.append(
                f"{vault_key('agent-inject-containers')}: no container named {', '.join(missing)}; "
                "they get no secrets"
            )
    pod_spec["containers"] = [
        _with_mounts(c, mounts) if wanted is None or c.get("name") in wanted else c for c in app
    ]
    if _has_init_agent(spec) and pod_spec.get("initContainers"):
        pod_spec["initContainers"] = [_with_mounts(c, mounts) for c in pod_spec["initContainers"]]


def _with_mounts(container: Json, mounts: list[Json]) -> Json:
    existing = container.get("volumeMounts") or []
    taken = {paths.clean(m.get("mountPath") or "") for m in existing}
    for mount in mounts:
        if paths.clean(mount["mountPath"]) in taken:
            raise SpecError(
                vault_key("secret-volume-path"),
                f"container {container.get('name')!r} already mounts something at {mount['mountPath']}; "
                "choose another secret-volume-path",
            )
    return {**container, "volumeMounts": existing + [dict(mount) for mount in mounts]}


def _has_init_agent(spec: InjectionSpec) -> bool:
    return spec.mode is not Mode.CLASSIC or spec.pre_populate


def _add_agents(pod_spec: Json, spec: InjectionSpec, context: AgentContext) -> None:
    if spec.mode is Mode.NATIVE:
        _add_init(pod_spec, native_container(context), spec.init_first)
        return
    if _has_init_agent(spec):
        _add_init(pod_spec, init_container(context), spec.init_first)
    if spec.mode is Mode.CLASSIC:
        pod_spec["containers"] = [*_app_containers(pod_spec), sidecar_container(context)]


def _add_init(pod_spec: Json, agent: Json, first: bool) -> None:
    existing = list(pod_spec.get("initContainers") or [])
    pod_spec["initContainers"] = [agent, *existing] if first else [*existing, agent]
