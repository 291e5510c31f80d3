"""A pod's volumes on the node: materialised under `<pod_dir>/volumes/<name>` as the kubelet's plugins do.

Secret and projected volumes live on a tmpfs (as in Kubernetes); files are written with the atomic writer;
service-account tokens are requested from the API server and renewed as the kubelet's token manager does.
"""

from __future__ import annotations

import base64
import os
import random
import stat
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultinject.lab.kube.clock import parse_time
from vaultinject.lab.kubelet import atomic
from vaultinject.lab.kubelet.atomic import FileProjection
from vaultinject.lab.kubelet.env import (
    ApiReader,
    ConfigError,
    field_value,
    quantity,
    resource_value,
)
from vaultinject.lab.kubelet.runtime import Mount, unmount_all

JSON = dict[str, Any]
CLAIM_ANNOTATION = "lab.vaultinject.io/claim-"
READ_ONLY_KINDS = ("secret", "configMap", "projected", "downwardAPI")
MAX_TTL = 24 * 3600.0
MAX_JITTER = 10.0


class VolumeError(Exception):
    """A volume could not be set up; `message` is the kubelet's text (e.g. `secret "x" not found`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.volume = ""  # the failing volume's name, once known


@dataclass
class Token:
    token: str
    expiration: float
    expiration_seconds: int


def requires_refresh(tok: Token, now: float, jitter: float | None = None) -> bool:
    """The kubelet token manager's `requiresRefresh`: past 80% of the TTL (or 24h) minus up to 10s jitter."""
    jitter = random.random() * MAX_JITTER if jitter is None else jitter  # noqa: S311 - jitter, not a secret
    issued = tok.expiration - tok.expiration_seconds
    if now < issued:
        return True  # the clock went backwards
    if now > issued + MAX_TTL - jitter:
        return True
    return now > tok.expiration - tok.expiration_seconds * 20 // 100 - jitter


@dataclass
class PodVolumes:
    """Set up, refresh and tear down the volumes of one pod."""

    pod: JSON
    api: ApiReader
    pod_dir: Path
    clock: Callable[[], float] = time.time
    claims_root: Path | None = None
    allocatable: Mapping[str, str] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    _tmpfs: list[Path] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return str(self.pod["metadata"].get("namespace", "default"))

    def _volumes(self) -> list[JSON]:
        return list(self.pod.get("spec", {}).get("volumes") or [])

    def _fs_group(self) -> int | None:
        group = (self.pod.get("spec", {}).get("securityContext") or {}).get("fsGroup")
        return None if group is None else int(group)

    def setup(self) -> dict[str, Path]:
        """Materialise every volume; returns volume name -> host directory (or file for hostPath files)."""
        for volume in self._volumes():
            try:
                self.paths[volume["name"]] = self._setup_one(volume)
            except VolumeError as error:
                error.volume = str(volume["name"])
                raise
        return dict(self.paths)

    def refresh(self) -> None:
        """Rewrite changed Secret/ConfigMap/downward API contents and renew tokens that need it."""
        for volume in self._volumes():
            if any(kind in volume for kind in READ_ONLY_KINDS) and volume["name"] in self.paths:
                self._write(volume, self.paths[volume["name"]])

    def teardown(self) -> None:
        """Unmount this pod's volume tmpfs mounts and delete its volume directories (claims survive)."""
        base = self.pod_dir / "volumes"
        if base.exists():
            unmount_all(base)
            for path in sorted(base.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if path.is_dir() and not path.is_symlink():
                    path.rmdir()
                else:
                    path.unlink()
            base.rmdir()
        self._tmpfs.clear()
        self.paths.clear()

    def read_only(self, name: str) -> bool:
        return any(v["name"] == name and any(kind in v for kind in READ_ONLY_KINDS) for v in self._volumes())

    def mounts_for(self, container: JSON) -> list[Mount]:
        return mounts_for(
            container, self.paths, {v["name"] for v in self._volumes() if self.read_only(v["name"])}
        )

    # --- plugins ---

    def _dir(self, name: str, tmpfs: bool, size: int | None = None) -> Path:
        path = self.pod_dir / "volumes" / name
        path.mkdir(parents=True, exist_ok=True)
        if tmpfs and path not in self._tmpfs:
            options = "mode=0777" + (f",size={size}" if size else "")
            subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
            self._tmpfs.append(path)
        return path

    def _setup_one(self, volume: JSON) -> Path:
        name = volume["name"]
        claim = (self.pod["metadata"].get("annotations") or {}).get(CLAIM_ANNOTATION + name)
        if claim is None and "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
        if claim is not None:
            root = self.claims_root or self.pod_dir.parent / "claims"
            claim_dir: Path = root / self.namespace / str(claim)
            claim_dir.mkdir(parents=True, exist_ok=True)
            return claim_dir
        if "hostPath" in volume:
            return host_path(volume["hostPath"])
        if "emptyDir" in volume:
            spec = volume["emptyDir"] or {}
            memory = spec.get("medium") == "Memory"
            size = int(quantity(spec["sizeLimit"])) if memory and spec.get("sizeLimit") else None
            return self._dir(name, memory, size)
        if any(kind in volume for kind in READ_ONLY_KINDS):
            path = self._dir(name, "secret" in volume or "projected" in volume)
            self._write(volume, path)
            return path
        raise VolumeError(f"volume {name}: unsupported volume type")

    def _write(self, volume: JSON, path: Path) -> None:
        payload = self._payload(volume)
        group = self._fs_group()
        if group is not None:
            payload = {k: FileProjection(v.data, v.mode, v.fs_user, group) for k, v in payload.items()}
        atomic.write(path, payload)

    def _payload(self, volume: JSON) -> dict[str, FileProjection]:
        if "secret" in volume:
            spec = volume["secret"]
            return self._object("secret", spec.get("secretName", ""), spec, spec.get("defaultMode", 0o644))
        if "configMap" in volume:
            spec = volume["configMap"]
            return self._object("configmap", spec["name"], spec, spec.get("defaultMode", 0o644))
        if "downwardAPI" in volume:
            spec = volume["downwardAPI"]
            return self._downward(spec.get("items") or [], spec.get("defaultMode", 0o644))
        spec = volume["projected"]
        mode = spec.get("defaultMode", 0o644)
        payload: dict[str, FileProjection] = {}
        for source in spec.get("sources") or []:
            if "secret" in source:
                payload.update(self._object("secret", source["secret"]["name"], source["secret"], mode))
            elif "configMap" in source:
                payload.update(
                    self._object("configmap", source["configMap"]["name"], source["configMap"], mode)
                )
            elif "downwardAPI" in source:
                payload.update(self._downward(source["downwardAPI"].get("items") or [], mode))
            elif "serviceAccountToken" in source:
                tok = source["serviceAccountToken"]
                payload[tok["path"]] = FileProjection(self._token(tok).encode(), mode)
        return payload

    def _object(self, kind: str, name: str, spec: JSON, mode: int) -> dict[str, FileProjection]:
        plural = "secrets" if kind == "secret" else "configmaps"
        obj = self.api.get_json(f"/api/v1/namespaces/{self.namespace}/{plural}/{name}")
        optional = bool(spec.get("optional"))
        if obj is None:
            if optional:
                return {}
            raise VolumeError(f'{kind} "{name}" not found')
        data: dict[str, bytes] = {}
        if kind == "secret":
            data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        else:
            data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
            data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        items = spec.get("items")
        if not items:
            return {k: FileProjection(v, mode) for k, v in data.items()}
        out: dict[str, FileProjection] = {}
        for item in items:
            if item["key"] not in data:
                if optional:
                    continue
                what = (
                    "secret references non-existent secret key"
                    if kind == "secret"
                    else ("configmap references non-existent config key")
                )
                raise VolumeError(f"{what}: {item['key']}")
            out[item["path"]] = FileProjection(data[item["key"]], item.get("mode", mode))
        return out

    def _downward(self, items: list[JSON], mode: int) -> dict[str, FileProjection]:
        out: dict[str, FileProjection] = {}
        for item in items:
            try:
                if "fieldRef" in item:
                    value = field_value(self.pod, item["fieldRef"]["fieldPath"])
                else:
                    ref = item["resourceFieldRef"]
                    containers = self.pod.get("spec", {}).get("containers") or []
                    container: JSON = next(
                        (c for c in containers if c["name"] == ref.get("containerName")), {}
                    )
                    value = resource_value(container, ref, self.allocatable)
            except ConfigError as err:
                raise VolumeError(err.message) from err
            out[item["path"]] = FileProjection(value.encode(), item.get("mode", mode))
        return out

    def _token(self, source: JSON) -> str:
        key = f"{source.get('audience', '')}/{source.get('expirationSeconds', 3600)}/{source['path']}"
        current = self.tokens.get(key)
        now = self.clock()
        if current is not None and not requires_refresh(current, now):
            return current.token
        meta = self.pod["metadata"]
        sa = self.pod.get("spec", {}).get("serviceAccountName") or "default"
        body: JSON = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [source["audience"]] if source.get("audience") else [],
                "expirationSeconds": int(source.get("expirationSeconds", 3600)),
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": meta["name"],
                    "uid": meta["uid"],
                },
            },
        }
        try:
            answer = self.api.post_json(
                f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{sa}/token", body
            )
        except Exception as exc:  # a failed refresh keeps the old token until it expires, as the kubelet does
            if current is not None and now < current.expiration:
                return current.token
            if current is not None:
                raise VolumeError(f"token {key} expired and refresh failed: {exc}") from exc
            raise VolumeError(f"failed to fetch token: {exc}") from exc
        status = answer.get("status", {})
        seconds = int(answer.get("spec", {}).get("expirationSeconds", body["spec"]["expirationSeconds"]))
        self.tokens[key] = Token(status["token"], parse_time(status["expirationTimestamp"]), seconds)
        return self.tokens[key].token


_HOST_TYPES = {
    "Directory": (stat.S_ISDIR, "is not a directory"),
    "File": (stat.S_ISREG, "is not a file"),
    "Socket": (stat.S_ISSOCK, "is not a socket file"),
    "CharDevice": (stat.S_ISCHR, "is not a character device"),
    "BlockDevice": (stat.S_ISBLK, "is not a block device"),
}


def host_path(spec: JSON) -> Path:
    """A hostPath volume: the host path as given, created or checked per its `type`."""
    path = Path(spec["path"])
    kind = spec.get("type") or ""
    if kind == "DirectoryOrCreate":
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
        kind = "Directory"
    elif kind == "FileOrCreate":
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.touch(mode=0o644)
        kind = "File"
    if kind in _HOST_TYPES:
        check, text = _HOST_TYPES[kind]
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            raise VolumeError(f"hostPath type check failed: {path} {text}") from None
        if not check(mode):
            raise VolumeError(f"hostPath type check failed: {path} {text}")
    return path


def mounts_for(
    container: JSON, volumes: Mapping[str, Path], read_only_volumes: set[str] | frozenset[str] = frozenset()
) -> list[Mount]:
    """The container's `volumeMounts` as Mounts (a subPath resolved in the volume, created if absent)."""
    mounts: list[Mount] = []
    for vm in container.get("volumeMounts") or []:
        name = vm["name"]
        if name not in volumes:
            raise VolumeError(
                f"cannot find volume {name!r} to mount into container {container.get('name')!r}"
            )
        source = volumes[name]
        sub = vm.get("subPath")
        if sub:
            if sub.startswith("/") or ".." in sub.split("/"):
                raise VolumeError(f"invalid subPath {sub!r}")
            source = source / sub
            if not os.path.lexists(source):
                source.mkdir(parents=True)
        read_only = bool(vm.get("readOnly")) or name in read_only_volumes
        mounts.append(Mount(source=source, target=vm["mountPath"], read_only=read_only))
    return mounts
