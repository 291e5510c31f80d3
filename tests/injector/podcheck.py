"""Structural checks the API server would make on an injected pod."""

from __future__ import annotations

from typing import Any


def assert_valid_pod(pod: dict[str, Any]) -> None:
    """Names unique, every mount backed by a volume, no two mounts at one path, sane agent containers."""
    spec = pod["spec"]
    volumes = [v["name"] for v in spec.get("volumes") or []]
    assert len(volumes) == len(set(volumes)), f"duplicate volumes: {volumes}"
    containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
    names = [c["name"] for c in containers]
    assert len(names) == len(set(names)), f"duplicate containers: {names}"
    for container in containers:
        paths = [m["mountPath"] for m in container.get("volumeMounts") or []]
        assert len(paths) == len(set(paths)), f"{container['name']}: duplicate mount paths {paths}"
        for mount in container.get("volumeMounts") or []:
            assert mount["name"] in volumes, f"{container['name']}: mount of missing volume {mount['name']}"
    for container in spec.get("containers") or []:
        assert "restartPolicy" not in container, "restartPolicy is for init containers only"
        assert "startupProbe" not in container or container["name"] != "vault-agent-init"
    for container in spec.get("initContainers") or []:
        if container.get("restartPolicy") != "Always":
            assert "readinessProbe" not in container, container["name"]
            assert "startupProbe" not in container, container["name"]
